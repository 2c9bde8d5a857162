"""CSV recordings, read as a data tool reads them.

* **Layout.** The separator is found from the header and the first data line: ``,``, ``;`` or
  tab, whichever splits both into the same number of fields. With ``;`` or tab, numbers written
  with a decimal comma (``0,004``, as European spreadsheet exports write them) are read as such.
  A UTF-8 byte order mark (Excel's "CSV UTF-8") is skipped; a file that is not UTF-8 is read as
  Windows-1252 (Excel's other CSV export), and the notes say so.
* **One pass, the columns used.** The file is read in chunks of lines. A chunk whose lines all
  have the header's number of fields goes through numpy's C parser, keeping only the columns
  asked for; any other chunk is read line by line, so a bad line (too few or too many fields, a
  value that is not a number) is named by its line number and what is wrong, or, with
  ``skip_bad_lines``, skipped and counted.
* **Time.** A time column is used, not just its rate (:func:`place_by_time`): times must be
  finite and increase; the rate is one over the mean step between rows, of the steps within
  half a step of the median (jitter and rounding average out, a missing row or a pause does
  not count); the samples are placed on the session clock by
  :class:`~wot_biofeedback.clock.SessionClock`, as the live engine and the XDF reader place a
  stream's, so a pause in the time stamps becomes a gap (NaN) rather than a shift of everything
  after it. A jump longer than the data's own span or a day, or gaps adding up to more, is an
  error rather than a fill, so memory stays bounded by the file.
"""

from __future__ import annotations

import bisect
import csv
import math
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_rate
from ..clock import GAP_MIN_S, GAP_MIN_SAMPLES, MAX_FILL_S, SessionClock
from ..errors import InputError
from ..session_log import Gap
from .spill import Columns, blocks

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
"""Separators recognised, with the name the notes give them."""
CHUNK_BYTES = 1 << 22
"""About this many bytes of lines are parsed at once."""
SKIP_HINT = "fix the line, or skip bad lines with --skip-bad-lines"
KEEP = 100
"""Bad lines and gaps listed one by one in ``summary.json`` (all are counted)."""
_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d+,\d*|,\d+)(?:[eE][+-]?\d+)?")


@dataclass
class CsvLayout:
    """How a CSV file is written: found from its header and first lines (:func:`sniff_csv`)."""

    path: Path
    names: list[str]
    separator: str = ","
    decimal_comma: bool = False
    encoding: str = "utf-8-sig"
    text: dict[int, tuple[int, str]] = field(default_factory=dict)
    """Columns whose first value is text, not a number: ``{column: (line, value)}``."""
    one_column: bool = False
    """The header names one column (no separator to find)."""

    def notes(self) -> list[str]:
        """What was detected that a plain comma-separated UTF-8 file would not need."""
        out = []
        if self.one_column and self.decimal_comma:
            out.append("read as one column of numbers with decimal commas (0,5 = 0.5)")
        elif self.separator != "," or self.decimal_comma:
            what = f"{SEPARATORS[self.separator]}-separated"
            out.append(
                f"read as {what} values with decimal commas (0,5 = 0.5)"
                if self.decimal_comma
                else f"read as {what} values"
            )
        if self.encoding != "utf-8-sig":
            out.append("not UTF-8 text: read as Windows-1252 (Excel's CSV export)")
        return out


@dataclass
class CsvColumns:
    """The columns read from a CSV file (:func:`read_csv_columns`)."""

    layout: CsvLayout
    columns: dict[int, Any]
    """``{header index: values}``, float64, one value per row (NaN where a cell was empty):
    numpy arrays, or :class:`~wot_biofeedback.sources.spill.DiskArray` for a file too large to
    hold in memory."""
    rows: int
    skipped: int = 0
    """Bad lines skipped (``skip_bad_lines``)."""
    skipped_lines: list[tuple[int, str]] = field(default_factory=list)
    """The first :data:`KEEP` of them: ``(line, what was wrong)``."""
    _starts: list[int] = field(default_factory=list)  # rows where lines stop running on
    _lines: list[int] = field(default_factory=list)  # ... and the line of each such row

    def line_of(self, row: int) -> int:
        """The file's line (1-based, the header is line 1) of data row ``row`` (0-based)."""
        k = bisect.bisect_right(self._starts, row) - 1
        return self._lines[k] + row - self._starts[k]

    def _mark(self, row: int, line: int) -> None:
        if not self._starts or self.line_of(row) != line:
            self._starts.append(row)
            self._lines.append(line)


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


def _number(v: str, decimal_comma: bool) -> float | None:
    """``v`` as a number; None when it is not one (an empty cell is NaN)."""
    v = v.strip()
    if not v:
        return math.nan
    try:
        return float(v.replace(",", ".") if decimal_comma else v)
    except ValueError:
        return None


def _decimal_comma_column(lines: list[str]) -> bool:
    """Every line a number (or empty), and at least one written with a decimal comma."""
    vals = [ln.strip() for ln in lines if ln.strip()]
    return any(_DECIMAL_COMMA.fullmatch(v) for v in vals) and all(
        _DECIMAL_COMMA.fullmatch(v) or _number(v, False) is not None for v in vals
    )


def sniff_csv(p: Path) -> CsvLayout:
    """The header, separator, decimal mark, text encoding and text columns of a CSV file.

    Raises
    ------
    InputError
        The file is missing, unreadable, empty or has no data rows.
    """
    if not p.exists():
        raise InputError(f"file not found: {p}")
    try:
        with open(p, "rb") as fh:
            head = fh.read(1 << 16)
            if len(head) == 1 << 16:  # complete lines only
                head = head[: head.rfind(b"\n") + 1] or head
    except OSError as exc:
        raise InputError(f"{p.name}: cannot read a CSV header ({exc})") from None
    try:
        text, encoding = head.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{p.name}: the file is empty (expected a CSV header line)")
    header = lines[0]
    body = [(i, ln) for i, ln in enumerate(lines[1:], start=2) if ln.strip()][:50]
    if not body:
        raise InputError(f"{p.name}: no data rows after the header")
    sep = next(
        (
            d
            for d in ("\t", ";", ",")
            if len(_split(header, d)) > 1 and len(_split(body[0][1], d)) == len(_split(header, d))
        ),
        None,
    )
    one_column = all(len(_split(header, d)) == 1 for d in SEPARATORS)
    if sep is None and one_column and _decimal_comma_column([ln for _i, ln in body]):
        # one column, so no separator at all: "5,2515" under it is a number with a decimal
        # comma (two fields under a header of one could not be read anyway)
        sep = ";"
    if sep is None:  # no data line agrees: the one that splits the header most (comma first)
        sep = max((",", ";", "\t"), key=lambda d: len(_split(header, d)))
    names = [h.strip() for h in _split(header, sep)]
    rows = [(i, _split(ln, sep)) for i, ln in body]
    decimal_comma = sep != "," and any(
        _DECIMAL_COMMA.fullmatch(v.strip()) for _i, r in rows for v in r
    )
    layout = CsvLayout(p, names, sep, decimal_comma, encoding, one_column=one_column)
    first = next(((i, r) for i, r in rows if len(r) == len(names)), None)
    if first is not None:
        i, r = first
        layout.text = {c: (i, v) for c, v in enumerate(r) if _number(v, decimal_comma) is None}
    return layout


def read_csv_columns(
    layout: CsvLayout,
    cols: list[int],
    required: tuple[int, ...] = (),
    skip_bad_lines: bool = False,
    keep_place: bool = False,
) -> CsvColumns:
    """Read the columns ``cols`` of every data row, in one pass.

    Parameters
    ----------
    layout : CsvLayout
        From :func:`sniff_csv`.
    cols : list of int
        Header indices of the columns to read (numbers; an empty cell is NaN).
    required : tuple of int
        Columns that may not be empty (the time column): an empty cell makes a bad line.
    skip_bad_lines : bool
        Skip and count bad lines (wrong number of fields, a value that is not a number)
        instead of raising at the first.
    keep_place : bool
        A skipped line becomes a row of NaN (a file without a time column: the row's place is
        its sample's time), instead of no row.

    Raises
    ------
    InputError
        A bad line (without ``skip_bad_lines``), naming its line number and what is wrong, or
        no data rows.
    """
    p, names, sep = layout.path, layout.names, layout.separator
    want = sorted(set(cols))
    out = CsvColumns(layout, {}, 0)
    # one contiguous row per column, sized from the file's length and its first lines (grown
    # if they were short), or, for a file larger than memory should hold, a temporary file
    # per column (spill.Columns): no list of chunks to join at the end, no second copy
    store: Columns | None = None

    def add(arr: np.ndarray) -> None:
        assert store is not None
        store.add(arr)
        out.rows = store.rows

    seps = len(names) - 1

    def bad(line: int, why: str) -> None:
        if not skip_bad_lines:
            raise InputError(f"{p.name}, line {line}: {why}; {SKIP_HINT}")
        out.skipped += 1
        if len(out.skipped_lines) < KEEP:
            out.skipped_lines.append((line, why))

    def careful(lines: list[str], before: int) -> None:
        """Line by line: each bad line named, or skipped."""
        vals = array("d")
        rows = 0
        reader = csv.reader(lines, delimiter=sep)
        for r in reader:
            line = before + reader.line_num
            if not r or (len(r) == 1 and not r[0].strip()):
                continue  # a blank line
            if len(r) != len(names):
                bad(line, f"{len(r)} field(s) where the header has {len(names)}")
            else:
                got = []
                for c in want:
                    v = _number(r[c], layout.decimal_comma)
                    if v is None or (c in required and math.isnan(v) and not r[c].strip()):
                        what = "empty" if v is not None else f"{r[c].strip()!r}, not a number"
                        bad(line, f"column {names[c]!r} is {what}")
                        break
                    got.append(v)
                else:
                    out._mark(out.rows + rows, line)
                    vals.extend(got)
                    rows += 1
                    continue
            if keep_place:
                out._mark(out.rows + rows, line)
                vals.extend([math.nan] * len(want))
                rows += 1
        if rows:
            add(np.frombuffer(vals, dtype=np.float64).reshape(rows, len(want)))

    try:
        size = p.stat().st_size
        with open(p, encoding=layout.encoding, errors="replace", newline="") as fh:
            fh.readline()  # the header
            before = 1  # lines read
            while lines := fh.readlines(CHUNK_BYTES):
                if store is None:
                    per_line = max(1.0, sum(map(len, lines)) / len(lines))
                    store = Columns(len(want), int(size / per_line * 1.02) + 64)
                plain = (
                    sum(ln.count(sep) == seps for ln in lines) == len(lines)
                    and not any('"' in ln for ln in lines)
                    and (seps > 0 or all(ln.strip() for ln in lines))
                )
                arr = None
                if plain:
                    src = [ln.replace(",", ".") for ln in lines] if layout.decimal_comma else lines
                    try:  # an empty cell fails here too: read line by line, as NaN or bad
                        arr = np.loadtxt(
                            src, delimiter=sep, usecols=want, ndmin=2, comments=None,
                            dtype=np.float64, encoding=None,
                        )  # fmt: skip
                    except ValueError:
                        arr = None
                if arr is not None and len(arr) == len(lines):
                    out._mark(out.rows, before + 1)
                    add(arr)
                else:
                    careful(lines, before)
                before += len(lines)
    except OSError as exc:
        raise InputError(f"{p.name}: cannot read ({exc})") from None
    if out.rows == 0:
        skipped = f" ({out.skipped} bad line(s) skipped)" if out.skipped else ""
        raise InputError(f"{p.name}: no data rows{skipped}")
    assert store is not None
    out.columns = dict(zip(want, store.finish(), strict=True))
    return out


@dataclass
class TimePlacement:
    """How a time column placed the rows (:func:`place_by_time`)."""

    rate: float
    """Sampling rate, Hz: one over the mean step between rows (steps within half a step of the
    median)."""
    gaps: list[tuple[float, float, int]] = field(default_factory=list)
    """Each gap: (start s, length s, line of the row after it), on the session clock."""

    @property
    def gap_s(self) -> float:
        return sum(g[1] for g in self.gaps)


def _steps(t: Any) -> Iterator[tuple[int, np.ndarray]]:
    """``(i, np.diff(t)[i : i + len(block)])`` a block at a time: each row's step from the row
    before (the first block one shorter)."""
    prev = None
    k = 0
    for b in blocks(t):
        d = np.diff(b if prev is None else np.concatenate(([prev], b)))
        yield k, d
        k += len(d)
        prev = b[-1]


def _positive(t: Any) -> Iterator[np.ndarray]:
    with np.errstate(invalid="ignore"):
        for _k, d in _steps(t):
            yield d[(d > 0) & np.isfinite(d)]


def _select(values: Callable[[], Iterator[np.ndarray]], ks: list[int]) -> list[float]:
    """The ``ks``-th smallest (0-based) of positive, finite float64 values, exactly, in four
    passes over them and memory for 65,536 counts: such values sort as their IEEE 754 bit
    patterns do, so each pass counts 16 more bits of the ones that share the bits found."""
    prefix, rank = [0] * len(ks), list(ks)
    for shift in (48, 32, 16, 0):
        counts: dict[int, np.ndarray] = {}
        for v in values():
            bits = v.view(np.uint64)
            for p in set(prefix):
                sel = bits if shift == 48 else bits[(bits >> np.uint64(shift + 16)) == p]
                idx = ((sel >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.intp)
                counts[p] = counts.get(p, 0) + np.bincount(idx, minlength=1 << 16)
        for j, p in enumerate(prefix):
            cum = np.cumsum(counts[p])
            b = int(np.searchsorted(cum, rank[j] + 1))
            rank[j] -= int(cum[b - 1]) if b else 0
            prefix[j] = (p << 16) | b
    return [float(np.array(p, dtype=np.uint64).view(np.float64)) for p in prefix]


def place_by_time(table: CsvColumns, time_col: int, fs: float | None = None) -> TimePlacement:
    """Check the time column and place the other columns on the session clock by it (in
    ``table.columns``, replaced by the placed columns: NaN over each gap).

    The column is gone through a block of rows at a time (:data:`~.spill.BLOCK_ROWS`), so a
    day of 1000-Hz rows needs no more memory than a few minutes of them; the median step is
    found exactly (:func:`_select`), not estimated.

    Raises
    ------
    InputError
        A time that is not finite, not after the previous row's, or that jumps by more than
        the data's own span or a day (naming the row and its line); gaps adding up to more
        than that; a rate that disagrees with ``fs`` by more than 1 %.
    """
    p, col = table.layout.path.name, table.layout.names[time_col]
    t = table.columns[time_col]
    n = len(t)

    def row(i: int) -> str:
        return f"row {i + 1} (line {table.line_of(i)})"

    def where(i: int) -> str:
        return f"{p}, {row(i)}"

    if n < 2:
        raise InputError(f"{p}: one data row; {col} needs at least two to give a rate")
    first_bad = first_back = n
    n_pos, max_dt = 0, -math.inf
    off = 0
    for b in blocks(t):
        finite = np.isfinite(b)
        if not finite.all():
            first_bad = off + int(np.argmin(finite))
            break
        off += len(b)
    for k, d in _steps(t):
        with np.errstate(invalid="ignore"):
            back = np.flatnonzero(d <= 0)
            ok = (d > 0) & np.isfinite(d)
        if first_back == n and back.size:
            first_back = k + int(back[0]) + 1
        n_pos += int(np.count_nonzero(ok))
        if ok.any():
            max_dt = max(max_dt, float(np.max(d[ok])))
    # the median positive step, as np.median gives it (the mean of the two middle ones)
    if n_pos:
        mid = _select(lambda: _positive(t), sorted({(n_pos - 1) // 2, n_pos // 2}))
        step = (mid[0] + mid[-1]) / 2 if n_pos % 2 == 0 else mid[0]
    else:
        step = math.nan
    # the mean of the steps within half a step of the median: jitter and rounding of the time
    # stamps average out (256 Hz written to the ms: steps of 3 and 4 ms), while a missing row
    # (a step of two) or a pause does not count. The bounds are in (both, as floats: time
    # stamps rounded to the ms step exactly onto them), so what is kept stays symmetric
    lo, hi = 0.5 * step * (1 - 1e-6), 1.5 * step * (1 + 1e-6)
    sums, n_regular = [], 0
    for v in _positive(t):
        regular = v[(v >= lo) & (v <= hi)]
        sums.append(float(np.sum(regular)))
        n_regular += regular.size
    rate = 1.0 / (math.fsum(sums) / n_regular) if n_regular else math.nan
    rate = float(f"{rate:.9g}")  # a mean of decimal steps: 249.99999999997 is 250
    span = n / rate if math.isfinite(rate) else math.nan
    limit = min(MAX_FILL_S, span) if math.isfinite(span) else MAX_FILL_S
    longer = f"the {span:.6g} s the data covers" if span < MAX_FILL_S else "a day (24 h)"
    first_jump = n
    if math.isfinite(rate):
        for k, d in _steps(t):
            with np.errstate(invalid="ignore"):
                jump = np.flatnonzero(d - 1.0 / rate > limit)
            if jump.size:
                first_jump = k + int(jump[0]) + 1
                break
    i = min(first_bad, first_back, first_jump)
    if i < n:
        if i == first_bad:
            raise InputError(f"{where(i)}: {col} is {float(t[i])!r}, not a finite time")
        ti, tp = float(t[i]), float(t[i - 1])
        if ti - tp <= 0:
            raise InputError(
                f"{where(i)}: {col} {ti:.9g} is not after the previous row's {tp:.9g} "
                "(times must increase: rows out of order or repeated?)"
            )
        raise InputError(
            f"{where(i)}: {col} jumps by {ti - tp:.6g} s (from {tp:.9g} to "
            f"{ti:.9g}), longer than {longer}: not filled as a gap (check {col}, or split "
            "the file there)"
        )
    if not math.isfinite(rate):
        raise InputError(f"{p}: {col} gives no sampling rate (no two rows close in time)")
    if fs is not None and abs(fs - rate) > 0.01 * rate:
        raise InputError(f"{p}: --fs {fs:g} Hz disagrees with {col} ({rate:.6g} Hz)")
    try:
        rate = check_rate(rate, f"{p}: the sampling rate from {col}")
    except InputError as exc:  # e.g. milliseconds in a column named for seconds
        raise InputError(f"{exc} (is {col} in seconds?)") from None
    # where the clock puts gaps, decided on the time stamps alone (no samples: no memory). It
    # fills before a sample whose lag (time stamp minus its count's time) exceeds the recent
    # lags by its tolerance; a lag grows by at most the step beyond one sample, so where no
    # step exceeds the tolerance by a sample there is nothing to ask it. The clock's decisions
    # do not depend on how its input is chunked (clock.SessionClock): a block at a time
    events: list[Any] = []
    if max_dt - 1.0 / rate > max(GAP_MIN_S, GAP_MIN_SAMPLES / rate):
        clock = SessionClock({"csv": rate}, irregular=(), emit=events.append)
        clock.set_origin(float(t[0]))
        for b in blocks(t):
            clock.place("csv", b, np.empty((len(b), 0)))
    gaps = [e for e in events if isinstance(e, Gap)]
    total = sum(g.n for g in gaps) / rate
    if total > limit:
        raise InputError(
            f"{p}: the gaps in {col} add up to {total:.6g} s, more than {longer}: not filled "
            f"(the first before {row(gaps[0].after)})"
        )
    got = TimePlacement(rate)
    t_first = float(t[0])
    for g in gaps:
        at = g.t - t_first
        got.gaps.append((round(at - g.n / rate, 6), round(g.n / rate, 6), table.line_of(g.after)))
    others = [c for c in table.columns if c != time_col]
    if gaps and others:
        # placed as the live engine places a stream (the clock's rule), the columns side by
        # side, a block at a time, into new columns (in memory, or spilled as the file was)
        clock = SessionClock({"csv": rate}, irregular=())
        clock.set_origin(t_first)
        fill = sum(g.n for g in gaps)
        placed = Columns(len(others), n + fill)
        cols = [blocks(table.columns[c]) for c in others]
        for b in blocks(t):
            data = np.column_stack([next(it) for it in cols])
            put = clock.place("csv", b, data)
            if put is not None:
                placed.add(put.data)
        for c, v in zip(others, placed.finish(), strict=True):
            table.columns[c] = v
    return got
