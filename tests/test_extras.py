"""Without the optional extras (``ui``: Qt/pyqtgraph, ``report``: matplotlib) the core still
imports and runs, and what needs an extra says which one in one line."""

from __future__ import annotations

import json
import subprocess
import sys

# run in a fresh interpreter where the optional modules cannot be imported, as after a plain
# `pip install wot-biofeedback`
BLOCK = "import sys\nfor m in ('PySide6', 'pyqtgraph', 'matplotlib'): sys.modules[m] = None\n"


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args], capture_output=True, text=True, timeout=120
    )


def test_core_imports_no_optional_module():
    code = (
        "import sys, wot_biofeedback, wot_biofeedback.offline, wot_biofeedback.cohort, "
        "wot_biofeedback.cli, wot_biofeedback.report, wot_biofeedback.terminal\n"
        "print([m for m in ('PySide6', 'pyqtgraph', 'matplotlib') if sys.modules.get(m)])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_report_without_matplotlib_names_the_extra(tmp_path):
    r = _run(
        "from wot_biofeedback.cli import main; sys.exit(main(sys.argv[1:]))",
        "report", str(tmp_path / "session.csv"),
    )  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "wot-biofeedback[report]"' in lines[0], r.stderr


def test_window_falls_back_to_terminal_without_qt():
    r = _run("from wot_biofeedback._extras import window_available; print(window_available())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "wot-biofeedback[ui]"' in lines[0], r.stderr


def test_cohort_index_without_matplotlib_has_the_table(tmp_path):
    rows = [{"session": "a", "status": "ok", "fraction_within": 0.5, "duration_s": 60.0}]
    code = (
        "import json\nfrom wot_biofeedback.report import write_index\n"
        "print(write_index(json.loads(sys.argv[1]), sys.argv[2]))"
    )
    r = _run(code, json.dumps(rows), str(tmp_path))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<table" in page and "<img" not in page
    assert not (tmp_path / "cohort.png").exists()
