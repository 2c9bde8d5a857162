"""``wot assess``: the client's window from one rest -> mild stressor -> recovery recording."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._args import CONFIG_HELP, channel_args, channels, parse_window


def add_parser(sub: Any) -> None:
    w = sub.add_parser(
        "assess",
        help="estimate the client's window from one rest -> mild stressor -> recovery recording",
    )
    w.add_argument("input", metavar="FILE", help="the recording (CSV, WFDB, XDF, EDF/BDF)")
    for k, what in (("rest", "at least 60 s"), ("stressor", "30 s+"), ("recovery", "60 s+")):
        w.add_argument(f"--{k}", required=True, help=f"START:END seconds ({what})")
    channel_args(w)
    w.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    w.add_argument(
        "--recovered-s",
        type=float,
        default=60.0,
        help="a response the client recovers from within this many seconds is inside the window",
    )
    w.add_argument("--out", default=None, help="write the assessment as JSON")
    w.add_argument("--profile", default=None, help="save the window into this client profile")
    w.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..assessment import assess
    from ..atomic import write_json
    from ..config import load_config
    from ..profiles import apply_window, load_profile, save_window
    from ..sources.files import read_recording

    cfg = load_config(args.config)
    prof = load_profile(args.profile, cfg) if args.profile else None
    if prof is not None:
        for note in prof.notes:
            print(f"wot: note: {note}", file=sys.stderr)
        apply_window(prof, cfg)  # the client's current window is the starting point
    periods = [parse_window(getattr(args, k), f"--{k}") for k in ("rest", "stressor", "recovery")]
    rest, stressor, recovery = (p for p in periods if p is not None)
    rec = read_recording(
        args.input, channels(args), args.fs, args.eda_unit, skip_bad_lines=args.skip_bad_lines
    )
    out = assess(rec, rest, stressor, recovery, cfg, args.recovered_s)
    out["input"] = str(args.input)
    w = out["window"]
    print(f"window of tolerance (baseline z): lower {w['lower']:+.2f}, upper {w['upper']:+.2f}")
    for line in out["reasoning"]:
        print(f"  {line}")
    if args.out:
        write_json(args.out, out)  # whole or not at all
        print(f"  written to {args.out}")
    if args.profile and prof is not None:
        # the window replaces the one in the profile as it is now; sessions saved meanwhile stay
        path = save_window(args.profile, prof, w, out)
        print(f"  profile {args.profile}: window saved to {path}")
    return 0
