"""``wot analyze``: offline analysis of a recording, or of a folder of them (cohort table)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..analysis import analyze_path
from ._analysis import note_single, options, run_folder, say
from ._args import analysis_args


def add_parser(sub: Any) -> None:
    a = sub.add_parser(
        "analyze",
        help="offline analysis of a recording (CSV, WFDB, XDF, EDF/BDF) or a folder of them",
    )
    a.add_argument("input", help="a recording, or a folder of recordings (cohort table)")
    a.add_argument("--out", required=True)
    a.add_argument("--ecg", default=None, help="ECG signal name or 0-based index")
    a.add_argument(
        "--ppg", default=None, help="PPG signal name or index (instead of ECG: pulse-rate HRV)"
    )
    a.add_argument("--eda", default=None)
    a.add_argument("--resp", default=None)
    a.add_argument("--fs", type=float, default=None, help="sampling rate for CSV without time_s")
    a.add_argument("--eda-unit", default=None, help="uS (default), nS, mS, S or raw:SCALE")
    analysis_args(a)
    a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if Path(args.input).is_dir():
        return run_folder(args, report=False)
    note_single(args)
    analyze_path(args.input, args.out, options(args), on_message=say)
    return 0
