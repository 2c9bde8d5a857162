"""Rows for the validation report (``benchmarks/validate_all.py`` → ``docs/validation.md``).

A validation script calls :func:`emit` next to a figure it prints; run on its own it prints as
before and the rows are simply kept in this module's list. ``validate_all.py`` clears the list,
runs each script's ``main()``, and writes :func:`rows` as one table per section. Values are
strings, formatted by the script the way it prints them.

Sections are the headings of ``docs/validation.md`` (other pages link to their anchors).
"""

from __future__ import annotations

from dataclasses import dataclass

CARDIAC = "Cardiac channel and live engine"
EDA_RESP = "Skin conductance and breathing"
STATE = "The state engine"
RECORDING = "Recording and crash safety"
REPLAY = "Replay"
SECTIONS = (CARDIAC, EDA_RESP, STATE, RECORDING, REPLAY)


@dataclass(frozen=True)
class Row:
    """One line of the report: our figure beside the reference it is checked against.

    ``tool`` names the reference (``NeuroKit2 ecg_peaks``, ``truth (simulator)``, ``annotations
    (MIT-BIH)``, ``offline wot analyze``); ``ref`` is its value for the same measure, or ``""``
    when the reference is the truth the measure is scored against.
    """

    section: str
    record: str
    measure: str
    ours: str
    tool: str
    ref: str = ""
    note: str = ""
    script: str = ""


_ROWS: list[Row] = []
_SCRIPT = [""]  # the script being run by validate_all (for the skip list and logs)


def emit(
    section: str,
    record: str,
    measure: str,
    ours: str,
    tool: str,
    ref: str = "",
    note: str = "",
) -> None:
    """Keep one report row (nothing is printed)."""
    _ROWS.append(Row(section, record, measure, ours, tool, ref, note, _SCRIPT[0]))


def rows() -> list[Row]:
    return list(_ROWS)


def clear() -> None:
    _ROWS.clear()


def set_script(name: str) -> None:
    """Tag the rows emitted from now on with ``name`` (validate_all.py)."""
    _SCRIPT[0] = name
