"""The validation report: the row collector and the page writer (benchmarks/validate_all.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import _report  # noqa: E402
import validate_all  # noqa: E402


@pytest.fixture(autouse=True)
def _empty_report():
    _report.clear()
    yield
    _report.clear()


def test_emit_collects_rows_in_order():
    _report.set_script("validate_x")
    _report.emit(_report.CARDIAC, "mitdb 100", "Se / PPV", "1.0000 / 1.0000", "NK2", "0.99 / 1")
    _report.set_script("")
    _report.emit(_report.STATE, "sim", "agreement", "99.0", "truth (simulator)")
    rows = _report.rows()
    assert [r.record for r in rows] == ["mitdb 100", "sim"]
    assert rows[0].script == "validate_x" and rows[1].script == ""
    assert rows[1].ref == "" and rows[1].note == ""
    rows.clear()  # a copy
    assert len(_report.rows()) == 2
    _report.clear()
    assert _report.rows() == []


def test_render_writes_one_table_per_section(tmp_path):
    _report.set_script("validate_ectopy")
    _report.emit(
        _report.CARDIAC,
        "mitdb 105",
        "Se / PPV vs annotations, 150 ms",
        "0.9957 / 0.9926",
        "NeuroKit2 ecg_peaks",
        "0.9926 / 0.9930",
        "2,572 beats",
    )
    _report.set_script("validate_resp")
    _report.emit(_report.EDA_RESP, "drive05", "rate", "16.9", "NK2", "16.8", "median |Δ| 0.37")
    runs = [
        validate_all.Run("validate_ectopy", ("--mitdb", "/x"), wall_s=12.3, rows=1),
        validate_all.Run(
            "validate_resp", (), wall_s=4.0, rows=1, skipped=["missing, skipped: /d/resp.txt"]
        ),
        validate_all.Run("validate_replay", (), error="FileNotFoundError: drive05"),
    ]
    page = validate_all.render(_report.rows(), runs, {"date": "2026-12-06", "data": "/d"})
    out = tmp_path / "validation.md"
    out.write_text(page, encoding="utf-8")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Validation"
    assert any("do not edit by hand" in ln for ln in lines)
    # every section heading is there (other pages link to the anchors), rows or not
    for section in _report.SECTIONS:
        assert f"## {section}" in lines
    head = "| record | measure | ours | reference tool | reference value | note |"
    assert lines.count(head) == 2
    row = "| mitdb 105 | Se / PPV vs annotations, 150 ms | 0.9957 / 0.9926 | NeuroKit2 ecg_peaks "
    assert any(ln.startswith(row) for ln in lines)
    # a pipe inside a cell is escaped, the table keeps six columns
    resp = next(ln for ln in lines if ln.startswith("| drive05 "))
    assert "median \\|Δ\\| 0.37" in resp
    assert resp.replace("\\|", "").count("|") == 7
    # the section lists its scripts; empty sections say so
    assert "`benchmarks/validate_ectopy.py`." in lines
    assert lines.count("No figures in this run (see [Skipped](#skipped)).") == 3
    # runs and skips
    assert "## Runs" in lines and "## Skipped" in lines
    assert any(ln.startswith("| `validate_ectopy.py` | --mitdb /x | 12 | 1 | ok |") for ln in lines)
    assert any("`validate_resp.py`: missing, skipped: /d/resp.txt" in ln for ln in lines)
    assert any("`validate_replay.py` failed: FileNotFoundError: drive05" in ln for ln in lines)


def test_empty_cells_and_line_breaks():
    assert validate_all.cell("") == "–"
    assert validate_all.cell("a\nb  c") == "a b c"
    assert validate_all.cell("x | y") == "x \\| y"


def test_run_script_skips_loudly_without_data(tmp_path, monkeypatch):
    monkeypatch.setenv("WOT_DATA_DIR", str(tmp_path / "none"))
    run = validate_all.run_script("bench_ecg", [], tmp_path / "logs")
    assert run.error == ""
    assert run.rows == 0
    assert run.skipped and "skipped:" in run.skipped[0]
    assert (tmp_path / "logs" / "bench_ecg.txt").read_text().startswith("skipped:")


def test_every_script_is_known():
    for name, _argv, _why in validate_all.SCRIPTS:
        assert (BENCH / f"{name}.py").exists()
