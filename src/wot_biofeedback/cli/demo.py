"""``wot demo``: a simulated client and the engine, in a window or the terminal."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import uuid
from typing import Any

from .._extras import require
from ..config import EngineConfig
from ..errors import InputError
from ._args import CONFIG_HELP, record_args, resonance_args, scenario_args, view_args
from ._coreg import dyad_of, say_synchrony
from ._dsp import prepare_and_open
from ._live import (
    check_duration,
    live_session,
    open_people,
    record_path,
    run_engine,
    say_outcome,
)
from ._resonance import check_out, say_resonance


def add_parser(sub: Any) -> None:
    d = sub.add_parser("demo", help="simulated client + engine, in a window or the terminal")
    scenario_args(d)
    d.add_argument(
        "--duration", type=float, default=None, metavar="S",
        help="stop after S seconds of session (at --speed 10, S/10 s of wall clock); default: "
        "the whole scenario (with --screenshot: 300)",
    )  # fmt: skip
    d.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="playback speed; 10 compresses the 15-min full session into 90 s; 1 = real time",
    )
    d.add_argument(
        "--calibration", type=float, default=None, metavar="S",
        help="baseline length, session seconds (default: the configuration's, "
        f"{EngineConfig().calibration.duration_s:g} s)",
    )  # fmt: skip
    view_args(d)
    d.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    d.add_argument(
        "--screenshot",
        default=None,
        metavar="DIR",
        help="run offscreen for --duration S seconds of simulated session (default 300), then "
        "write DIR/therapist.png and DIR/client.png and exit",
    )
    d.add_argument(
        "--subjects",
        default=None,
        metavar="ID[:SCENARIO],...",
        help="simulate several people at once, e.g. client,therapist:calm (each its own "
        "streams, seed and zones, recorded in one file; the views show the first); a person "
        "without :SCENARIO follows --scenario (default: one person, 'client')",
    )
    d.add_argument(
        "--resonance-rate", type=float, default=None, metavar="R",
        help="the simulated client's own resonance breathing rate, breaths/min (3-10); with "
        "--scenario resonance the engine runs the protocol live on the scenario's paced steps "
        "and finds it",
    )  # fmt: skip
    resonance_args(d, demo=True)
    d.add_argument(
        "--dyad", action="store_true",
        help="a client (--scenario) and a therapist (calm) whose physiology is coupled as "
        "--coupling says: their synchrony is measured live and recorded",
    )  # fmt: skip
    d.add_argument("--coupling", default=None, metavar="SCRIPT", help="--dyad: see wot simulate")
    record_args(d)
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import wot_simulators
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session
    from wot_simulators.physiology import MODALITIES as SIMULATED

    from ..config import load_config
    from ..modalities import lsl_types
    from ..resonance import PacedStep

    try:
        scen = load_scenario(args.scenario)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    cfg = load_config(args.config)
    if args.calibration is not None:
        if not (math.isfinite(args.calibration) and 0 < args.calibration <= 86400):
            raise InputError(f"--calibration {args.calibration:g} must be 0 < S <= 86400 seconds")
        cfg.calibration.duration_s = args.calibration
    check_duration(args)
    if args.record:  # a bad --record is said before anything starts
        record_path(args, "demo")
    try:
        SimConfig(resonance_bpm=args.resonance_rate)  # a bad rate is said before any work
    except ValueError as exc:
        raise InputError(f"--resonance-rate: {exc}") from None
    dyad = dyad_of(args, scen)
    people = dyad.scenarios() if dyad is not None else _people(args.subjects, scen)
    # a paced scenario (resonance) of the first person: the engine runs the protocol on its
    # steps, live
    first = next(iter(people.values()))
    steps = [
        PacedStep(float(seg.pacer_bpm), float(a), float(b))
        for a, b, seg in first.segment_bounds()
        if seg.pacer_bpm is not None
    ] or None
    if args.resonance_out and steps is None:
        raise InputError(
            f"--resonance-out: scenario {first.name} paces no breathing (try resonance)"
        )
    check_out(args.resonance_out, "--resonance-out")
    sid = f"wot-demo-{uuid.uuid4().hex[:8]}"
    # the simulator plays --duration and 2 s more, no further: the view ends within those 2 s
    # of session however late its once-a-second look comes on a busy machine (at --speed 20 a
    # late look would otherwise be 20 s of session)
    until_s = None if args.duration is None else args.duration + 2.0
    pubs, sims = [], {}
    clock = wot_simulators.StartClock()  # people on one data clock, whenever their inlets open
    tags = {w: sid if len(people) == 1 else f"{sid}-{w}" for w in people}
    for i, (who, person_scen) in enumerate(people.items()):
        sims[who] = dyad.session(who) if dyad is not None else simulate_session(
            person_scen, SimConfig(seed=args.seed + i, resonance_bpm=args.resonance_rate)
        )  # fmt: skip
        pubs.append(SimulatorPublisher(sims[who], source_id=tags[who], name_prefix=tags[who],
                                       speed=args.speed, subject=who, until_s=until_s,
                                       wait_for_consumers=30.0, quiet_s=0.0,
                                       start_clock=clock))  # fmt: skip
    sess = next(iter(sims.values()))
    types = {m: lsl_types()[m] for m in SIMULATED}

    def start_and_open() -> Any:
        # after the signal processing is ready (a cold numba cache first compiles for ~25 s),
        # the simulators start, each clock once the engine's inlets connect (nothing missed;
        # the people side by side, so their clocks start together); the source_id is this
        # run's own, so no other stream can fit and none is waited for
        for p in pubs:
            p.start()
        found = open_people(types, tags, 10.0, settle=0.0)
        return found if len(people) > 1 else next(iter(found.values()))

    try:
        sources: Any = prepare_and_open(SIMULATED, start_and_open)
        meta = {
            "command": "demo",
            "client": "simulated",
            "scenario": scen.name,
            "seed": args.seed,
            "speed": args.speed,
        }
        if len(people) > 1:
            meta["subjects"] = {w: s.name for w, s in people.items()}
        if args.resonance_rate is not None:
            meta["resonance_rate_bpm"] = args.resonance_rate
        live = live_session(
            args, sources, cfg, "demo", meta, outlets_source_id=f"{sid}-engine", resonance=steps
        )

        def truth(t: float) -> str:
            return str(sess.zone_at(np.array([t]))[0])

        title = f"wot demo | scenario {scen.name} (seed {args.seed}) at {args.speed:g}x"
        if args.screenshot:
            return _screenshots(live, args, truth, sess.duration_s)
        seen = {"t": -math.inf, "wall": math.nan}  # the newest frame, and when it came

        def finished(snap: Any) -> bool:
            # every person's script played, and the engine has the session's end, or no new
            # frame came for 2 s (less than a stream takes to count as lost: the end of the
            # scenario is never reported as lost signals)
            if snap.session_s > seen["t"]:
                seen.update(t=snap.session_s, wall=time.monotonic())
            if not all(p.finished for p in pubs):
                return False
            end_s = min(sess.duration_s, until_s if until_s is not None else math.inf)
            return snap.session_s >= end_s - 1.0 or time.monotonic() - seen["wall"] > 2.0

        over = "the simulated session is over"
        code, _summary = run_engine(live, args, truth, title, finished, over)
        say_resonance(live.engine, args)
        say_synchrony(live.engine)
        return code
    finally:
        for p in pubs:
            p.stop()


def _people(text: str | None, scen: Any) -> dict[str, Any]:
    """``--subjects client,therapist:calm`` → ``{id: Scenario}`` (default: one client)."""
    from wot_simulators import load_scenario

    from ..session import check_subject

    if not text:
        return {"client": scen}
    people: dict[str, Any] = {}
    for item in text.split(","):
        who, _, name = item.strip().partition(":")
        try:
            check_subject(who)
            people[who] = load_scenario(name) if name else scen
        except ValueError as exc:
            raise InputError(f"--subjects {text!r}: {exc}") from None
    if len(people) != len(text.split(",")):
        raise InputError(f"--subjects {text!r}: each person once")
    return people


def _screenshots(live: Any, args: argparse.Namespace, truth: Any, total_s: float) -> int:
    """``wot demo --screenshot DIR --duration S``: S seconds of simulated session, offscreen,
    then both views as PNGs."""
    require("ui", "wot demo --screenshot")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ..ui import take_screenshots

    until_s = min(args.duration if args.duration is not None else 300.0, total_s - 1.0)
    engine = live.engine
    live.report = False  # pictures of the views: no session report
    live.start()
    try:
        paths, reached = take_screenshots(
            engine,
            args.screenshot,
            lambda snap: snap.session_s >= until_s,
            timeout_s=until_s / args.speed + 60.0,
            truth=truth,
        )
        snap = engine.snapshot()
    finally:
        say_outcome(live.stop())
    print(f"screenshots at session {snap.session_s:.0f} s ({snap.zone}): {', '.join(paths)}")
    if snap.error or not reached:
        why = f"engine error {snap.error}" if snap.error else f"session never reached {until_s:g} s"
        print(f"wot: error: screenshots taken early: {why}", file=sys.stderr)
        return 2
    return 0
