"""``wot simulate``: a simulated session as LSL streams, or as a CSV file."""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..errors import InputError
from ._args import scenario_args


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "simulate", help="publish a simulated session as LSL streams, or write a CSV"
    )
    scenario_args(s)
    s.add_argument(
        "--duration", type=float, default=None, metavar="S",
        help="S seconds of session: the scenario cut short or its last segment extended (default: "
        "the scenario's length)",
    )  # fmt: skip
    s.add_argument("--speed", type=float, default=1.0, help="session seconds per wall-clock second")
    s.add_argument("--loop", action="store_true", help="start the session again at its end")
    s.add_argument("--ecg-fs", type=float, default=250.0, metavar="HZ", help="ECG rate, Hz")
    s.add_argument("--eda-fs", type=float, default=32.0, metavar="HZ", help="EDA rate, Hz")
    s.add_argument("--resp-fs", type=float, default=50.0, metavar="HZ", help="RESP rate, Hz")
    s.add_argument(
        "--acc", action="store_true", help="also publish a 3-axis chest accelerometer (ACC, g)"
    )
    s.add_argument("--acc-fs", type=float, default=50.0, metavar="HZ", help="ACC rate, Hz")
    s.add_argument("--no-resp", action="store_true", help="do not publish the RESP belt")
    s.add_argument(
        "--noise", type=float, default=1.0,
        help="scale of the sensor noise (0: none; physiological variability stays)",
    )  # fmt: skip
    s.add_argument(
        "--artifacts", type=float, default=0.0, help="fraction of time with artifacts (0-0.5)"
    )
    s.add_argument(
        "--resonance-rate", type=float, default=None, metavar="R",
        help="the simulated client's own resonance breathing rate, breaths/min (3-10): heart "
        "rate oscillates most when they breathe at it (with --scenario resonance, the paced "
        "protocol; the CSV gets a pacer_bpm column)",
    )  # fmt: skip
    s.add_argument(
        "--dyad", action="store_true",
        help="a client and a therapist whose physiology is coupled as --coupling says (with "
        "--out: columns client_ecg ... therapist_resp and the truth client_zone, "
        "therapist_zone, leader, lag_s; without: published as LSL streams, each person's "
        "under source_id ID-client / ID-therapist); the client follows --scenario, the "
        "therapist --therapist-scenario",
    )  # fmt: skip
    s.add_argument(
        "--coupling", default=None, metavar="SCRIPT",
        help="--dyad: MODE[@LAG]:SECONDS[*STRENGTH],... with MODE none, client-follows, "
        "therapist-follows or mutual (default: none:120,client-follows@3:180,none:120,"
        "therapist-follows@5:180,mutual:120)",
    )  # fmt: skip
    s.add_argument(
        "--therapist-scenario", default="calm", metavar="NAME",
        help="--dyad: the therapist's scenario (default calm)",
    )  # fmt: skip
    s.add_argument("--name", default="wot-sim", help="stream name prefix")
    s.add_argument(
        "--source-id", default="wot-sim", metavar="ID",
        help="source_id prefix: ID-ecg/-eda/-resp/-acc/-truth (for wot run --source-id ID)",
    )  # fmt: skip
    s.add_argument("--out", default=None, help="write FILE.csv (time_s,ecg,eda,resp,zone) instead")
    s.add_argument("--fs", type=float, default=250.0, help="common rate of the CSV, Hz")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wot_simulators import SimConfig, load_scenario, publish, simulate_session, simulate_to_csv
    from wot_simulators.publisher import STREAMS

    if args.acc and not (math.isfinite(args.acc_fs) and args.acc_fs > 0):
        raise InputError(f"--acc-fs {args.acc_fs!r} must be a positive rate in Hz")
    if args.dyad or args.coupling:
        return _dyad(args)

    try:
        scen = load_scenario(args.scenario)
        SimConfig(resonance_bpm=args.resonance_rate)  # checks the rate before any work
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.out:
        sess = simulate_to_csv(
            scen, args.seed, args.out, fs=args.fs, duration_s=args.duration,
            noise=args.noise, artifacts=args.artifacts, resonance_bpm=args.resonance_rate,
        )  # fmt: skip
        print(
            f"wrote {args.out}: {sess.duration_s:.0f} s of {scen.name} "
            f"(seed {args.seed}) at {args.fs:g} Hz"
        )
        return 0
    if not args.speed > 0:
        raise InputError(f"--speed {args.speed!r} must be > 0")
    cfg = SimConfig(
        args.ecg_fs, args.eda_fs, args.resp_fs, args.seed, args.noise, args.artifacts,
        args.resonance_rate,
    )  # fmt: skip
    sess = simulate_session(scen, cfg, args.duration)
    skip = {"resp"} if args.no_resp else set()
    skip |= set() if args.acc else {"acc"}
    streams = tuple(m for m in STREAMS if m not in skip)
    names = "/".join(m.upper() for m in streams)
    print(
        f"publishing {scen.name} (seed {args.seed}, {sess.duration_s:.0f} s, "
        f"speed {args.speed:g}x) "
        f"as LSL streams {args.name}-{names}/truth, source_id {args.source_id}; Ctrl-C stops"
    )
    publish(
        sess, source_id=args.source_id, name_prefix=args.name, speed=args.speed, loop=args.loop,
        streams=streams, acc_fs=args.acc_fs,
    )  # fmt: skip
    return 0


def _dyad(args: argparse.Namespace) -> int:
    """``wot simulate --dyad``: ``--out FILE.csv``, or published as LSL streams."""
    from wot_simulators import SimConfig
    from wot_simulators.dyad import DEFAULT_SCRIPT, PEOPLE, simulate_dyad, write_dyad_csv

    if not args.dyad:
        raise InputError("--coupling belongs to --dyad")
    if args.resonance_rate is not None or args.duration is not None:
        raise InputError("--dyad takes its length from --coupling (no --duration, no "
                         "--resonance-rate)")  # fmt: skip
    if not args.out and not args.speed > 0:
        raise InputError(f"--speed {args.speed!r} must be > 0")
    rates = (args.fs,) * 3 if args.out else (args.ecg_fs, args.eda_fs, args.resp_fs)
    try:
        cfg = SimConfig(*rates, args.seed, args.noise, args.artifacts)
        dyad = simulate_dyad(
            args.coupling or DEFAULT_SCRIPT, args.scenario, args.therapist_scenario, cfg
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not args.out:  # published: each person's streams under their own source_id
        from wot_simulators import publish_people
        from wot_simulators.publisher import STREAMS

        skip = ({"resp"} if args.no_resp else set()) | (set() if args.acc else {"acc"})
        streams = tuple(m for m in STREAMS if m not in skip)
        ids = " and ".join(f"{args.source_id}-{p}" for p in PEOPLE)
        print(f"publishing a dyad (client {args.scenario}, therapist {args.therapist_scenario};"
              f" seed {args.seed}, {dyad.duration_s:.0f} s, speed {args.speed:g}x) as LSL "
              f"streams {args.name}-client-... and {args.name}-therapist-..., source_id {ids} "
              f"(wot run --subject client={args.source_id}-client --subject "
              f"therapist={args.source_id}-therapist); Ctrl-C stops")  # fmt: skip
        publish_people({p: dyad.session(p) for p in PEOPLE}, source_id=args.source_id,
                       name_prefix=args.name, speed=args.speed, loop=args.loop,
                       streams=streams, acc_fs=args.acc_fs)  # fmt: skip
        return 0
    write_dyad_csv(dyad, args.out)
    script = ", ".join(
        f"{c.mode}" + (f" by {c.lag_s:g} s" if c.lag_s else "") + f" {c.duration_s:g} s"
        for c in dyad.script
    )
    print(
        f"wrote {args.out}: {dyad.duration_s:.0f} s of a dyad (client {args.scenario}, "
        f"therapist {args.therapist_scenario}; seed {args.seed}) at {args.fs:g} Hz: {script}"
    )
    return 0
