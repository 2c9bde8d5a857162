"""``wot assess``: the client's window from one rest -> mild stressor -> recovery recording, or
(``--resonance``) their resonance breathing rate from a paced-breathing recording."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import InputError
from ._args import CONFIG_HELP, channel_args, channels, parse_window


def add_parser(sub: Any) -> None:
    w = sub.add_parser(
        "assess",
        help="estimate the client's window from one rest -> mild stressor -> recovery recording, "
        "or with --resonance their resonance breathing rate from a paced protocol",
    )
    w.add_argument("input", metavar="FILE", help="the recording (CSV, WFDB, XDF, EDF/BDF)")
    for k, what in (("rest", "at least 60 s"), ("stressor", "30 s+"), ("recovery", "60 s+")):
        w.add_argument(
            f"--{k}", default=None, help=f"START:END seconds ({what}; the window assessment)"
        )
    w.add_argument(
        "--resonance", action="store_true",
        help="resonance-frequency assessment: score each paced step (heart-rate peak to trough, "
        "LF power, phase, peak sharpness) and choose the rate",
    )  # fmt: skip
    w.add_argument(
        "--steps", default=None, metavar="R@A:B,...",
        help="--resonance: the paced steps, breaths/min @ START:END seconds (default: a CSV's "
        "pacer_bpm column, or 'pacer RATE' / 'pacer off' markers)",
    )  # fmt: skip
    w.add_argument(
        "--settle-s", type=float, default=None, metavar="S",
        help="--resonance: seconds left out at the start of each step (default 20)",
    )  # fmt: skip
    w.add_argument(
        "--markers", default=None, metavar="CSV",
        help="annotations (time_s, text), e.g. the pacer steps as 'pacer 6.5'",
    )  # fmt: skip
    channel_args(w)
    w.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    w.add_argument(
        "--recovered-s",
        type=float,
        default=60.0,
        help="a response the client recovers from within this many seconds is inside the window",
    )
    w.add_argument("--out", default=None, help="write the assessment as JSON")
    w.add_argument(
        "--profile", default=None,
        help="save the window (or with --resonance the rate, which the pacer then uses) into "
        "this client profile",
    )  # fmt: skip
    w.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.resonance:
        return _resonance(args)
    from ..assessment import assess
    from ..config import load_config
    from ..profiles import apply_window, load_profile, save_window
    from ..sources.files import read_recording

    missing = [f"--{k}" for k in ("rest", "stressor", "recovery") if getattr(args, k) is None]
    if missing:
        raise InputError(
            f"the window assessment needs {', '.join(missing)} START:END (or give --resonance "
            "for the resonance-frequency assessment)"
        )
    if args.steps or args.settle_s is not None or args.markers:
        raise InputError("--steps, --settle-s and --markers belong to --resonance")
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
    _reasoning_and_json(args, out)
    if args.profile and prof is not None:
        # the window replaces the one in the profile as it is now; sessions saved meanwhile stay
        path = save_window(args.profile, prof, w, out)
        print(f"  profile {args.profile}: window saved to {path}")
    return 0


def _resonance(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..profiles import load_profile, save_resonance
    from ..resonance import (
        SETTLE_S,
        assess_recording,
        check_settle,
        csv_pacer_steps,
        parse_steps,
        steps_from_markers,
    )
    from ..sources.files import read_markers, read_recording

    given = [f"--{k}" for k in ("rest", "stressor", "recovery") if getattr(args, k) is not None]
    if given:
        raise InputError(f"{', '.join(given)} belong to the window assessment, not --resonance")
    settle = SETTLE_S if args.settle_s is None else args.settle_s
    check_settle(settle)  # the options, before the file is read
    steps = parse_steps(args.steps) if args.steps else None
    cfg = load_config(args.config)
    prof = load_profile(args.profile, cfg) if args.profile else None
    rec = read_recording(
        args.input, channels(args), args.fs, args.eda_unit, skip_bad_lines=args.skip_bad_lines
    )
    if args.markers:
        rec.markers = sorted(rec.markers + read_markers(args.markers), key=lambda m: m[0])
    if steps is None and rec.csv_info is not None:
        steps = csv_pacer_steps(args.input, args.skip_bad_lines)
    if steps is None:
        steps = steps_from_markers(rec.markers, rec.duration_s)
    out = assess_recording(rec, cfg, steps, settle)
    rate = out["resonance_rate_bpm"]
    print("resonance rate: " + (f"{rate:g} breaths/min" if rate is not None else "none found"))
    print("  rate/min  peak-trough bpm  LF power bpm²  LF peak/min  phase°  sharpness  score")
    for s in out["steps"]:
        score = "-" if s["score"] is None else f"{s['score']:.3f}"
        print(
            f"  {s['rate_bpm']:8g}  {s['peak_trough_bpm']:15.1f}  {s['lf_power_bpm2']:13.1f}  "
            f"{s['lf_peak_bpm']:11.2f}  {s['phase_deg']:6.0f}  {s['sharpness']:9.2f}  {score:>5s}"
        )
    _reasoning_and_json(args, out)
    if args.profile and prof is not None:
        if rate is None:
            print(f"  profile {args.profile}: unchanged (no rate found)")
        else:
            path = save_resonance(args.profile, prof, out)
            print(f"  profile {args.profile}: pacer rate {rate:g}/min saved to {path}")
    return 0


def _reasoning_and_json(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """The assessment's reasoning, and ``--out`` written (whole or not at all)."""
    from ..atomic import write_json

    for line in out["reasoning"]:
        print(f"  {line}")
    if args.out:
        write_json(args.out, out)
        print(f"  written to {args.out}")
