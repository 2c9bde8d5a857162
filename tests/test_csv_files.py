"""CSV like a data tool: what wot writes is safe in a spreadsheet, and what it reads (time
column, separators, decimal commas, a byte order mark, bad lines) is read as a data tool would.

Every case is a real file written to ``tmp_path``, run through ``wot analyze`` in-process and
through the reader underneath."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import pytest

from wot_biofeedback.cli import main
from wot_biofeedback.csvtext import escape_cell, unescape_cell, write_csv

FORMULAS = ["=SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\rx", "'quoted"]


def _rows(p: Path) -> list[list[str]]:
    with open(p, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# writing: no cell a spreadsheet would run --------------------------------------------------
@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_gets_a_quote_and_comes_back_as_it_was(text):
    cell = escape_cell(text)
    assert cell == "'" + text
    assert unescape_cell(cell) == text


@pytest.mark.parametrize("value", ["-0.5", "+1e3", "-.25", "12", "", "plain text", "a=b"])
def test_numbers_and_harmless_text_stay_as_they_are(value):
    assert escape_cell(value) == value
    assert unescape_cell(value) == value


def test_write_csv_escapes_text_cells_and_quotes_line_breaks(tmp_path):
    p = write_csv(
        tmp_path / "t.csv",
        ["time_s", "text", "n"],
        [[1.5, t, -2] for t in FORMULAS] + [[None, "", -0.5], [2.0, 'a, "b"\nc', 3]],
    )
    rows = _rows(p)
    assert rows[0] == ["time_s", "text", "n"]
    assert [r[1] for r in rows[1 : 1 + len(FORMULAS)]] == ["'" + t for t in FORMULAS]
    assert rows[1][0] == "1.5" and rows[1][2] == "-2"  # numbers untouched
    assert rows[-2] == ["", "", "-0.5"] and rows[-1] == ["2.0", 'a, "b"\nc', "3"]
    assert [unescape_cell(r[1]) for r in rows[1:]] == [*FORMULAS, "", 'a, "b"\nc']
    assert not list(tmp_path.glob(".*.tmp"))  # written in place of a temporary file


def test_cohort_table_escapes_session_names_and_errors(tmp_path):
    from wot_biofeedback.cohort import COLUMNS, write_cohort_csv

    row = dict.fromkeys(COLUMNS)
    row.update(session="=cmd", input="=cmd.csv", status="error", error="-bad: @x", duration_s=-1.5)
    rows = _rows(write_cohort_csv([row], tmp_path / "cohort.csv"))
    got = dict(zip(rows[0], rows[1], strict=True))
    assert got["session"] == "'=cmd" and got["input"] == "'=cmd.csv"
    assert got["error"] == "'-bad: @x" and got["duration_s"] == "-1.5"


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory) -> Path:
    """120 s of simulated session, ``time_s,ecg,eda,resp,zone`` at 250 Hz."""
    from wot_simulators import load_scenario, simulate_to_csv

    p = tmp_path_factory.mktemp("sim") / "sim.csv"
    simulate_to_csv(load_scenario("full-session"), 1, p, fs=250.0, duration_s=120.0)
    return p


def test_marker_text_round_trips_through_markers_csv_and_the_report(sim_csv, tmp_path, capsys):
    """A marker typed as a formula is escaped in markers.csv and shown as typed in the report,
    in summary.json, and when the markers.csv is read back as --markers."""
    from wot_biofeedback.report import load_session
    from wot_biofeedback.sources.files import read_markers

    texts = ["=SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "'quoted", "-5", "calm"]
    marks = tmp_path / "m.csv"
    with open(marks, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "text"])
        w.writerows([10 + 10 * i, t] for i, t in enumerate(texts))
    out = tmp_path / "o"
    assert main(["analyze", str(sim_csv), "--out", str(out), "--markers", str(marks)]) == 0
    written = [r[1] for r in _rows(out / "markers.csv")[1:]]
    assert written == ["'=SUM(A1)", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)", "''quoted",
                       "-5", "calm"]  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [m["text"] for m in summary["markers"]] == texts  # JSON needs no escaping
    assert [t for _t, t in load_session(out).markers] == texts
    assert [t for _t, t in read_markers(out / "markers.csv")] == texts
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert html.escape("=SUM(A1)") in page and html.escape("'=SUM(A1)") not in page
