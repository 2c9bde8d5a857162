"""What ``wot analyze`` and ``wot report`` share: their options in the core's terms, the
printing of an analysis, and a folder of recordings (the cohort)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..analysis import AnalysisOptions, MessageKind
from ..errors import InputError
from ._args import channels, check_profile_args, parse_window


def options(args: argparse.Namespace) -> AnalysisOptions:
    """The analysis options of ``args`` (validated: a bad one is reported before reading)."""
    check_profile_args(args)
    return AnalysisOptions(
        channels=channels(args),
        fs=args.fs,
        eda_unit=args.eda_unit,
        config=args.config,
        baseline=parse_window(args.baseline),
        markers=args.markers,
        profile=args.profile,
        profile_baseline=bool(args.profile_baseline),
        skip_bad_lines=bool(args.skip_bad_lines),
        subject=args.subject,
        subjects=tuple(
            x.strip() for x in (getattr(args, "subjects", None) or "").split(",") if x.strip()
        ),
    )


def say(kind: MessageKind, text: str) -> None:
    """Print a message of :func:`~wot_biofeedback.analysis.analyze_path`."""
    if kind == "warning":
        print(f"wot: warning: {text}", file=sys.stderr)
    elif kind == "note":
        print(f"  note: {text}")
    elif kind == "info":
        print(f"  {text}")
    else:
        print(text)


def note_single(args: argparse.Namespace) -> None:
    """Options that only a folder of recordings uses are reported, never silently dropped."""
    from ..cohort import FILE_TIMEOUT_S

    extra = [o for o, v in (("--workers", args.workers), ("--scheduler", args.scheduler)) if v]
    if args.file_timeout != FILE_TIMEOUT_S:
        extra.append("--file-timeout")
    if extra:
        print(f"wot: note: {' and '.join(extra)} apply to a folder of recordings; one session "
              "runs here", file=sys.stderr)  # fmt: skip


def run_folder(args: argparse.Namespace, report: bool) -> int:
    """``wot analyze|report FOLDER --out DIR``: every recording in the folder, one row each in
    ``DIR/cohort.csv`` (errors in its ``error`` column), on local cores or a Dask cluster."""
    if getattr(args, "subjects", None):
        raise InputError("--subjects analyses several people of one file, not a folder")
    from ..cohort import find_recordings, run_cohort
    from ..report import write_index

    if args.out is None:
        raise InputError("a folder of recordings needs --out DIR for the cohort table")
    if args.profile:
        raise InputError("--profile takes one session, not a folder")
    if args.profile_baseline:
        raise InputError("--profile-baseline takes one session, not a folder")
    # never take the outputs or the markers table for recordings
    skip = [Path(args.out)] + ([Path(args.markers)] if args.markers else [])
    paths = find_recordings(args.input, exclude=skip)
    if not paths:
        raise InputError(f"{args.input}: no recordings (.xdf, .csv, .edf, .bdf, .hea) found")
    opts = {
        "channels": channels(args),
        "fs": args.fs,
        "eda_unit": args.eda_unit,
        "config": args.config,
        "baseline": parse_window(args.baseline),
        "markers": str(Path(args.markers).resolve()) if args.markers else None,
        "report": report,
        "skip_bad_lines": bool(args.skip_bad_lines),
    }
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else (
        "1 process" if args.workers == 1 else f"{args.workers or os.cpu_count()} local processes"
    )  # fmt: skip
    print(f"{len(paths)} recording(s) in {args.input} on {where}")
    t = time.perf_counter()
    rows = run_cohort(
        paths, args.out, opts, workers=args.workers, scheduler=args.scheduler,
        progress=not args.no_progress, file_timeout=args.file_timeout,
    )  # fmt: skip
    bad = [r for r in rows if r.get("status") != "ok"]
    for r in bad:
        print(f"  error: {r.get('session')}: {r.get('error')}", file=sys.stderr)
    out = Path(args.out)
    msg = f"cohort table {out / 'cohort.csv'}, index {write_index(rows, out)}"
    print(
        f"{len(rows) - len(bad)} of {len(rows)} analysed in {time.perf_counter() - t:.1f} s; {msg}"
    )
    if len(bad) == len(rows):
        print("wot: error: no recording in the folder could be analysed", file=sys.stderr)
        return 2
    return 0
