"""``wot replay``: a recording published as LSL streams with its own timing."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ._args import channel_args, channels


def add_parser(sub: Any) -> None:
    rp = sub.add_parser(
        "replay",
        help="publish a recording (XDF, CSV, WFDB, EDF/BDF) as LSL streams with its own timing",
    )
    rp.add_argument("input", metavar="FILE", help="the recording (XDF, CSV, WFDB, EDF/BDF)")
    rp.add_argument(
        "--speed", type=float, default=1.0, help="recording seconds per wall-clock second"
    )
    rp.add_argument(
        "--loop", action="store_true", help="start again at the end (timestamps keep growing)"
    )
    rp.add_argument(
        "--start", type=float, default=0.0, metavar="S", help="skip the first S s of recording"
    )
    rp.add_argument(
        "--duration", type=float, default=None, metavar="S", help="play S s of recording"
    )
    rp.add_argument(
        "--source-id",
        default="wot-replay",
        metavar="ID",
        help="source_id prefix: ID-ecg/-eda/-resp/... (for wot run --source-id ID), ID-K others",
    )
    rp.add_argument(
        "--name-prefix", default=None, help="stream name prefix (default: file name; XDF: none)"
    )
    channel_args(rp, xdf=False)
    rp.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="hold the start until the signal streams (ID-ecg, ID-eda, ...) have consumers "
        "(e.g. wot run) and no new consumer came for 1 s, at most S s",
    )
    rp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wot_simulators import ReplayPublisher, load_replay, play

    if not args.speed > 0:
        raise InputError(f"--speed {args.speed!r} must be > 0")
    if args.duration is not None and not args.duration > 0:
        raise InputError(f"--duration {args.duration!r} must be > 0 s")
    streams, notes = load_replay(
        args.input, channels(args), args.fs, args.eda_unit, args.source_id, args.name_prefix,
        skip_bad_lines=args.skip_bad_lines,
    )  # fmt: skip
    pub = ReplayPublisher(
        streams, speed=args.speed, loop=args.loop, start_s=args.start,
        duration_s=args.duration, wait_for_consumers=args.wait,
    )  # fmt: skip
    print(
        f"replaying {args.input} ({pub.length_s:.1f} s): {pub.span_s:.1f} s from {args.start:g} s "
        f"at {args.speed:g}x{', looped' if args.loop else ''}; Ctrl-C stops"
    )
    for st, n in zip(streams, pub.samples_per_pass, strict=True):
        rate = f"{st.fs:g} Hz" if st.fs > 0 else "irregular"
        print(f"  {st.name}  type={st.type or '-'}  {rate}  source_id={st.source_id}  {n} samples")
    for note in notes:
        print(f"  note: {note}")
    play(pub)
    print(f"replayed {pub.position_s:.1f} s of recording")
    return 0
