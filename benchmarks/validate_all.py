"""Every validation in one report: runs the validation scripts, writes ``docs/validation.md``.

Run on demand (about 4 minutes on 2 cores)::

    .venv/bin/python benchmarks/validate_all.py [--only validate_eda,bench_ecg]
                                                [--mitdb DIR] [--bidmc DIR]
                                                [--paced DIR] [--out docs/validation.md]
                                                [--check] [--logs benchmarks/logs]

Each script in :data:`SCRIPTS` is imported from ``benchmarks/`` and its ``main()`` run in this
process with the arguments listed there (its defaults, except where a default takes more than a
few minutes; the page says which). Its printed output goes to ``--logs``/``<script>.txt``; the
figures it reports come from its :func:`_report.emit` calls, made next to the lines it prints.
The page is one table per section (record, measure, ours, reference tool, reference value,
note), the runs (arguments, wall time, rows), and what was skipped: every line a script printed
with "skip" in it (a missing data file) and every script that failed. ``--mitdb DIR`` is passed
on to ``validate_ectopy.py`` (more MIT-BIH records than ``$WOT_DATA_DIR/mitdb`` holds), and
``--bidmc DIR`` to ``validate_breaths.py`` (the BIDMC records, when not in ``$WOT_DATA_DIR``),
and ``--paced DIR`` to ``validate_resonance_real.py`` (a real paced-breathing test, RR).
``--check`` prints the page instead of writing it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import io
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _report  # noqa: E402

# (script, arguments, why they differ from the script's defaults)
SCRIPTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("validate_ectopy", ("--seeds", "3"), "3 seeds of the synthetic set, as benchmarks/README.md"),
    ("bench_ecg", (), ""),
    ("validate_cardiac", (), ""),
    ("validate_eda", (), ""),
    ("validate_resp", (), ""),
    ("validate_breaths", (), ""),
    ("validate_scr_noise", (), ""),
    ("validate_state", (), ""),
    ("validate_extras", (), ""),
    ("validate_resonance", (), ""),
    ("validate_resonance_real", (), ""),
    ("validate_synchrony", (), ""),
    ("validate_cue_learning", (), ""),
    (
        "validate_recording",
        ("--trials", "1"),
        "one kill at speed 1 instead of two: each costs a minute of wall clock",
    ),
    (
        "validate_replay",
        ("--speed", "40", "--duration", "1200"),
        "the first 1,200 s of drive05 at 40x, as the test suite does; the whole record at "
        "10x, the default, takes 8.5 min",
    ),
)

# short method notes per section: prose only, the figures are in the tables
SECTION_NOTES = {
    _report.CARDIAC: (
        "R-peaks are matched one to one to the reference beats within 150 ms. wot's detector is "
        "causal (every beat reported at most 0.3 s after its R-peak); NeuroKit2 sees the whole "
        "record at once. Beats in the last 0.3 s of a record are not scored by "
        "`validate_ectopy.py`; `bench_ecg.py` scores them (hence FN 1 on record 100)."
    ),
    _report.EDA_RESP: (
        "Ledalab's file is in raw device units and our SCR thresholds are absolute (µS), so it "
        "is scored at several assumed levels; NeuroKit2's `eda_process` uses a threshold "
        "relative to the largest SCR. drive05's GSR is uncalibrated and read as µS. Breathing "
        "rates are compared in 60-s windows every 30 s."
    ),
    _report.STATE: (
        "Simulator agreement: frames after the 120-s calibration, leaving out 30 s after each "
        "scripted transition; the offline pipeline decides as live does (no retrospective "
        "scoring). drive05: baseline 5 min inside Rest1 at several positions; Rest excludes the "
        "baseline window itself. Resonance assessment: simulated clients with a resonance rate "
        "of their own go through the paced protocol as a CSV and are assessed as `wot assess "
        "--resonance` does; no real paced-breathing recording with a known rate was available."
    ),
    _report.RECORDING: (
        "`wot demo --headless --record X.xdf` killed with SIGKILL; pyxdf loads the file and "
        "`wot analyze X.xdf` is compared frame by frame with the live zones stored in it."
    ),
    _report.REPLAY: (
        "drive05 (ECG, foot GSR, RESP) published over LSL on loopback and consumed by the live "
        "engine, against `wot analyze` of the same record, after the calibration."
    ),
}

TESTED = (
    "The test suite asserts further checks without printing a table here: synthetic ECG with "
    "frequent PVCs, wander and noise bursts (`tests/test_ecg_accuracy.py`); bad input on every "
    "channel (`tests/test_cardiac.py`, `tests/test_eda.py`, `tests/test_resp.py`, "
    "`tests/test_acc.py`, `tests/test_live.py`); the live RR stream against the offline path "
    "(`tests/test_cardiac.py`); and the zones end to end live over LSL "
    "(`tests/test_acceptance.py`)."
)

README = "https://github.com/wot-biofeedback/wot-biofeedback/blob/main/benchmarks/README.md"


@dataclass
class Run:
    """One script's run: arguments, wall time, rows, skip lines, failure."""

    name: str
    argv: tuple[str, ...]
    why: str = ""
    wall_s: float = 0.0
    rows: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str = ""


def data_dir() -> Path:
    return Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))


def run_script(name: str, argv: Sequence[str], log_dir: Path | None, why: str = "") -> Run:
    """Import ``benchmarks/<name>.py`` and run its ``main()`` with ``argv``; keep its output."""
    run = Run(name, tuple(argv), why)
    before = len(_report.rows())
    _report.set_script(name)
    out = io.StringIO()
    env = dict(os.environ)
    old_argv = sys.argv
    sys.argv = [str(HERE / f"{name}.py"), *argv]
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            code = importlib.import_module(name).main()
        if code not in (None, 0):
            run.error = f"main() returned {code}"
    except (Exception, SystemExit) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        out.write("\n" + traceback.format_exc())
    finally:
        run.wall_s = time.perf_counter() - t0
        sys.argv = old_argv
        os.environ.clear()
        os.environ.update(env)  # a script may set NUMBA_CACHE_DIR or thread counts
        _report.set_script("")
    text = out.getvalue()
    run.rows = len(_report.rows()) - before
    run.skipped = [ln.strip() for ln in text.splitlines() if "skip" in ln.lower()]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{name}.txt").write_text(text, encoding="utf-8")
    return run


def cell(text: str) -> str:
    """A markdown table cell: pipes escaped, no line breaks, a dash when empty."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|") if text else "–"


def table(head: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in body]
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import numpy as np

    try:
        import neurokit2 as nk

        nk_version = nk.__version__
    except ImportError:
        nk_version = "not installed"
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.platform()}; Python "
        f"{platform.python_version()}, numpy {np.__version__}, neurokit2 {nk_version}"
    )


def render(
    rows: Sequence[_report.Row],
    runs: Sequence[Run],
    meta: dict[str, str],
) -> str:
    """The page: header, one table per section, the runs, what was skipped."""
    lines = [
        "# Validation",
        "",
        "<!-- Generated by benchmarks/validate_all.py; do not edit by hand. -->",
        "",
        f"Generated by `benchmarks/validate_all.py` on {meta.get('date', '?')}; do not edit "
        "by hand, re-run it (`.venv/bin/python benchmarks/validate_all.py`, "
        f"{meta.get('total', '?')} here).",
        "",
        f"* machine: {meta.get('machine', '?')}",
        f"* data: `WOT_DATA_DIR` = `{meta.get('data', '?')}`",
    ]
    if meta.get("mitdb"):
        lines.append(
            f"* more MIT-BIH records from `{meta['mitdb']}` (`--mitdb`): a local copy of the "
            "PhysioNet files, not `WOT_DATA_DIR`; the rows from there say so"
        )
    if meta.get("bidmc"):
        lines.append(
            f"* BIDMC records from `{meta['bidmc']}` (`--bidmc`): a local copy of the PhysioNet "
            "CSV files, not `WOT_DATA_DIR`"
        )
    if meta.get("paced"):
        lines.append(
            f"* a real paced-breathing test from `{meta['paced']}` (`--paced`): RR files of "
            "GitHub tsu-nera/satoru (no licence: not in this project)"
        )
    if meta.get("only"):
        lines.append(f"* partial run: only {meta['only']}")
    lines += [
        "",
        "Each figure comes from the script named in its section, printed the same way in its "
        f"own output; the method and the full output of each script are in [benchmarks/README.md]"
        f"({README}). In the reference columns, a tool's value is its figure for the same measure "
        "on the same data; where the reference is the truth itself (simulator truth, MIT-BIH "
        "annotations), the value is left empty.",
    ]
    by_section: dict[str, list[_report.Row]] = {}
    for r in rows:
        by_section.setdefault(r.section, []).append(r)
    # every section keeps its heading (other pages link to its anchor), rows or not
    order = [*_report.SECTIONS, *(s for s in by_section if s not in _report.SECTIONS)]
    for section in order:
        rs = by_section.get(section, [])
        scripts = sorted({r.script for r in rs if r.script})
        lines += ["", f"## {section}", ""]
        if scripts:
            lines.append(", ".join(f"`benchmarks/{s}.py`" for s in scripts) + ".")
            lines.append("")
        if section in SECTION_NOTES:
            lines += [SECTION_NOTES[section], ""]
        if not rs:
            lines.append("No figures in this run (see [Skipped](#skipped)).")
            continue
        lines += table(
            ("record", "measure", "ours", "reference tool", "reference value", "note"),
            [(r.record, r.measure, r.ours, r.tool, r.ref, r.note) for r in rs],
        )
    if runs:
        lines += ["", "## Runs", ""]
        lines += table(
            ("script", "arguments", "wall s", "rows", "status"),
            [
                (
                    f"`{r.name}.py`",
                    (" ".join(r.argv) or "defaults") + (f" ({r.why})" if r.why else ""),
                    f"{r.wall_s:.0f}",
                    str(r.rows),
                    "failed" if r.error else ("partly skipped" if r.skipped else "ok"),
                )
                for r in runs
            ],
        )
    skipped = [(r.name, s) for r in runs for s in r.skipped]
    failed = [(r.name, r.error) for r in runs if r.error]
    lines += ["", "## Skipped", ""]
    if skipped or failed:
        lines += [f"* `{n}.py` failed: {cell(e)} (its log has the traceback)" for n, e in failed]
        lines += [f"* `{n}.py`: {cell(s)}" for n, s in skipped]
    else:
        lines.append("Nothing: every script found its data and ran to the end.")
    lines += ["", "## Checked by the test suite", "", TESTED, ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated scripts (validate_eda,...)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation.md")
    ap.add_argument("--check", action="store_true", help="print the page, do not write it")
    ap.add_argument(
        "--mitdb",
        action="append",
        default=[],
        metavar="DIR",
        help="more MIT-BIH records for validate_ectopy.py",
    )
    ap.add_argument(
        "--bidmc", default="", metavar="DIR", help="BIDMC records for validate_breaths.py"
    )
    ap.add_argument(
        "--paced", default="", metavar="DIR",
        help="real paced-breathing RR files for validate_resonance_real.py",
    )  # fmt: skip
    ap.add_argument("--logs", type=Path, default=HERE / "logs", help="each script's output")
    args = ap.parse_args()
    names = [n.strip().removesuffix(".py") for n in args.only.split(",") if n.strip()]
    known = [s[0] for s in SCRIPTS]
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown script(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    _report.clear()
    runs = []
    t0 = time.perf_counter()
    for name, argv, why in SCRIPTS:
        if names and name not in names:
            continue
        if name == "validate_ectopy":
            argv = (*argv, *(a for d in args.mitdb for a in ("--mitdb", d)))
        if name == "validate_breaths" and args.bidmc:
            argv = (*argv, "--bidmc", args.bidmc)
        if name == "validate_resonance_real" and args.paced:
            argv = (*argv, "--rr-dir", args.paced)
        print(f"{name} {' '.join(argv)}".rstrip() + " ...", file=sys.stderr, flush=True)
        run = run_script(name, argv, args.logs, why)
        state = f"FAILED ({run.error})" if run.error else "ok"
        print(
            f"  {run.wall_s:.0f} s, {run.rows} rows, {state}"
            + "".join(f"\n  {s}" for s in run.skipped),
            file=sys.stderr,
            flush=True,
        )
        runs.append(run)
    total = time.perf_counter() - t0
    meta = {
        "date": datetime.date.today().isoformat(),
        "total": f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s",
        "machine": machine(),
        "data": str(data_dir()),
        "mitdb": ", ".join(args.mitdb),
        "bidmc": args.bidmc,
        "paced": args.paced,
        "only": ", ".join(names),
    }
    page = render(_report.rows(), runs, meta)
    if args.check:
        print(page)
    else:
        args.out.write_text(page, encoding="utf-8")
        print(f"wrote {args.out} ({total:.0f} s)", file=sys.stderr)
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
