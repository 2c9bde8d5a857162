"""``wot report``: the HTML report of a session (a recording or an analysis folder), of a
client's history, or of a folder of recordings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._extras import require
from ..analysis import analyze_path
from ..errors import InputError
from ..modalities import FILE_MODALITIES
from ._analysis import note_single, options, run_folder, say
from ._args import analysis_args, channel_args


def add_parser(sub: Any) -> None:
    rp2 = sub.add_parser(
        "report",
        help="HTML session report (from a recording or an analysis folder), a client's history, "
        "or a cohort",
    )
    rp2.add_argument(
        "input", nargs="?", default=None, metavar="SESSION",
        help="a recording, a wot analyze output folder, or a folder of recordings",
    )  # fmt: skip
    rp2.add_argument(
        "--out", default=None,
        help="output folder (default: the analysis folder, or NAME-report beside a recording)",
    )  # fmt: skip
    rp2.add_argument(
        "--client", default=None, metavar="ID", help="trends across this client's sessions"
    )
    channel_args(rp2)
    analysis_args(rp2)
    rp2.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require("report", "wot report")
    from ..report import write_report

    if args.client:
        return _client(args)
    if not args.input:
        raise InputError(
            "give a SESSION (recording, analysis folder or folder of recordings) or --client ID"
        )
    src = Path(args.input)
    if src.is_dir() and not (src / "summary.json").exists():
        return run_folder(args, report=True)
    note_single(args)
    if src.is_dir():
        given = [
            f"--{k.replace('_', '-')}"
            for k in (*FILE_MODALITIES, "fs", "eda_unit", "baseline", "config", "markers",
                      "profile", "skip_bad_lines")
            if getattr(args, k)
        ] + (["--profile-baseline"] if args.profile_baseline else [])  # fmt: skip
        if given:
            raise InputError(
                f"{src} is already analysed, so {', '.join(given)} cannot change it; run "
                "wot report on the recording itself (or wot analyze again) instead"
            )
        page = write_report(src, args.out or src)
    else:
        out = Path(args.out) if args.out else src.with_name(src.stem + "-report")
        done = analyze_path(args.input, out, options(args), on_message=say)
        if done.subjects:  # a session of several people: a report each
            for sub in done.subjects.values():
                print(f"report ({sub.recording.subject}): {write_report(sub.out, sub.out)}")
            return 0
        page = write_report(done.out, done.out)
    print(f"report: {page}")
    return 0


def _client(args: argparse.Namespace) -> int:
    """``wot report --client ID``: trends across the client's sessions."""
    from ..config import load_config
    from ..profiles import load_profile, profile_path
    from ..report import write_client_report

    if args.input:
        raise InputError("give either SESSION or --client ID, not both")
    if not profile_path(args.client).exists():
        raise InputError(
            f"no profile for client {args.client!r} in {profile_path(args.client).parent}"
        )
    prof = load_profile(args.client, load_config(args.config))
    page = write_client_report(prof, args.out or f"{args.client}-history")
    print(f"client history of {args.client} ({len(prof['sessions'])} sessions): {page}")
    return 0
