"""Text cells of the CSV files wot writes, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken for a
formula by Excel, LibreOffice and Google Sheets (CSV or formula injection): a marker typed as
``=HYPERLINK(...)`` would run when a therapist opens ``markers.csv``. As the OWASP guidance on
CSV injection says, such a text cell is written with a ``'`` before it (which the spreadsheet
shows as text); a cell that already starts with ``'`` gets one more, so :func:`unescape_cell`
gives back exactly the text that was written. Numbers (``-0.5``, ``+1e3``) are not text and
stay as they are. Every CSV file with free text goes through :func:`write_csv`, and every
reader of those files through :func:`unescape_cell`.

Reference: OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def escape_cell(value: Any) -> str:
    """``value`` as a CSV cell: text that a spreadsheet would run as a formula (or that starts
    with ``'``) gets a ``'`` in front; numbers, and text that is a plain number, stay as they
    are. None is an empty cell."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return repr(value) if isinstance(value, float) else str(value)
    if value[:1] in (*FORMULA_START, "'") and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def unescape_cell(text: str) -> str:
    """The text :func:`escape_cell` was given (its ``'`` taken off again)."""
    if len(text) > 1 and text[0] == "'" and text[1] in (*FORMULA_START, "'"):
        return text[1:]
    return text


def write_csv(
    path: str | os.PathLike[str],
    header: Iterable[str],
    rows: Iterable[Iterable[Any]],
) -> Path:
    """Write ``header`` and ``rows`` to ``path`` as UTF-8 CSV (``\\n`` line ends), every cell
    through :func:`escape_cell`, atomically: the file appears whole or not at all.

    Cells are quoted only where they must be: a comma, a quote or a line break (``\\n`` or
    ``\\r``; Python's ``csv.writer`` leaves a lone ``\\r`` unquoted with ``\\n`` line ends) inside.
    """
    return _write_text(path, header, map(_line, rows))


def write_csv_blocks(
    path: str | os.PathLike[str],
    header: Iterable[str],
    blocks: Iterable[Sequence[Sequence[str]]],
) -> Path:
    """:func:`write_csv` for rows given block by block, column by column, as finished cells.

    Each block is a list of two or more columns of equal length (a row of one empty cell would
    be a blank line, which :func:`write_csv` writes as ``""``). Cells are written as they are,
    so each must be a number formatted as text, empty, or made by :func:`cell` (text); a long
    table of numbers is written several times faster than row by row.
    """
    lines = ("".join(",".join(r) + "\n" for r in zip(*cols, strict=True)) for cols in blocks)
    return _write_text(path, header, lines)


def _write_text(path: str | os.PathLike[str], header: Iterable[str], text: Iterable[str]) -> Path:
    """The header line, then each piece of ``text``, into ``path`` atomically."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            fh.write(_line(header))
            for piece in text:
                fh.write(piece)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def cell(value: Any) -> str:
    """``value`` as it is written into a CSV file: :func:`escape_cell`, then quoted where it
    holds a comma, a quote or a line break."""
    c = escape_cell(value)
    if _QUOTE.search(c):
        c = '"' + c.replace('"', '""') + '"'
    return c


def _line(cells: Iterable[Any]) -> str:
    out = [cell(v) for v in cells]
    if out == [""]:
        out = ['""']  # a lone empty cell, not a blank line (which readers skip)
    return ",".join(out) + "\n"


_QUOTE = re.compile(r'[,"\r\n]')
