"""``wot analyze``: offline analysis of a recording, or of a folder of them (cohort table)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..analysis import analyze_path
from ._analysis import note_single, options, run_folder, say
from ._args import analysis_args, channel_args


def add_parser(sub: Any) -> None:
    a = sub.add_parser(
        "analyze",
        help="offline analysis of a recording (CSV, WFDB, XDF, EDF/BDF) or a folder of them",
    )
    a.add_argument("input", help="a recording, or a folder of recordings (cohort table)")
    a.add_argument(
        "--out", required=True, metavar="DIR",
        help="output folder: the CSV files and summary.json (a folder of recordings: one "
        "folder each and the cohort table cohort.csv)",
    )  # fmt: skip
    channel_args(a)
    analysis_args(a)
    a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if Path(args.input).is_dir():
        return run_folder(args, report=False)
    note_single(args)
    analyze_path(args.input, args.out, options(args), on_message=say)
    return 0
