"""What one live client costs: the engine on real LSL streams, with its recorder and outlets.

Run on demand (prints a table, asserts nothing)::

    .venv/bin/python benchmarks/bench_live_cost.py [--seconds 40] [--warm 10]

A simulated client is published by ``wot simulate --loop`` in a process of its own (its CPU is
not counted): ECG 250 Hz, EDA 32 Hz, RESP 50 Hz over loopback LSL. In this process, for each
configuration in turn, an :class:`~wot_biofeedback.engine.Engine` is made on new inlets (as
``wot run`` makes it: a read every 20 ms), runs ``--warm`` s, and then its CPU is measured over
``--seconds`` s of wall clock with ``time.process_time`` (every thread of the process: the
engine's loop, the recorder's flushing thread, liblsl's own threads). No view runs (issue 20,
target 2: "engine, recorder and outlets, no UI").

Configurations: the engine as ``wot run`` runs it (recorder to a temporary XDF with fsync every
0.5 s, the ``wot-*`` outlets); the same with every chunk of the slow signals processed at once
(``Pipeline.hold`` off: the engine before 2026-12-06); the engine alone; with outlets only; with
the recorder only.

Then the floor under any of them, on new inlets of the same streams: the three inlets open and
never read (liblsl's own threads receiving), and a thread reading them every 20 ms with the
engine's own pull (``LslSource.pull``) and doing nothing with what it gets.

Prints ``live cost per client: N %`` (the first configuration).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

TYPES = {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}
CONFIGS = [
    ("engine + recorder + outlets (as wot run)", True, True, True),
    ("  the same, slow signals not held (before)", False, True, True),
    ("engine alone", True, False, False),
    ("engine + outlets", True, False, True),
    ("engine + recorder", True, True, False),
]

FLOORS = [
    ("floor: the three inlets open, never read", False),
    ("floor: read every 20 ms, nothing done", True),
]


def measure(
    sid: str, hold: bool, record: bool, outlets: bool, warm: float, seconds: float
) -> float:
    """Share of one core the engine process used over ``seconds``."""
    from wot_biofeedback.engine import Engine
    from wot_biofeedback.recorder import SessionRecorder
    from wot_biofeedback.sources.lsl import open_sources

    sources = open_sources(TYPES, source_id=sid, timeout=10.0)
    tmp = Path(tempfile.mkdtemp(prefix="wot-live-cost-"))
    recorder = SessionRecorder(tmp / "session.xdf") if record else None
    outlet_id = f"{sid}-engine-{uuid.uuid4().hex[:6]}" if outlets else None
    engine = Engine(sources, outlets_source_id=outlet_id, recorder=recorder)
    for subj in engine.session.subjects.values():
        subj.pipeline.hold = hold
    engine.start()
    try:
        time.sleep(warm)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        frames = engine.frames_total
    finally:
        engine.stop()
    if frames < seconds * 4 * 0.9:
        sys.exit(f"the engine made only {frames} frames: is the simulator publishing?")
    return cpu / wall


def floor(sid: str, read: bool, warm: float, seconds: float) -> float:
    """Share of one core for the three inlets alone: open, or read every 20 ms and dropped."""
    import threading

    from wot_biofeedback.sources.lsl import open_sources

    sources = open_sources(TYPES, source_id=sid, timeout=10.0)
    stop = threading.Event()
    got = [0]

    def reader() -> None:
        while not stop.wait(0.02):
            for src in sources.values():
                got[0] += len(src.pull().data)

    thread = threading.Thread(target=reader, daemon=True) if read else None
    try:
        if thread is not None:
            thread.start()
        time.sleep(warm)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=2.0)
        for src in sources.values():
            src.close()
    if read and got[0] < seconds * 300:
        sys.exit(f"the floor's reader got only {got[0]} samples: is the simulator publishing?")
    return cpu / wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--warm", type=float, default=10.0)
    args = ap.parse_args(argv)
    sid = f"bench-live-cost-{os.getpid()}"
    wot = str(Path(sys.executable).parent / "wot")
    sim = subprocess.Popen(
        [wot, "simulate", "--source-id", sid, "--loop", "--scenario", "calm"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        from wot_biofeedback.dsp import warm_up

        warm_up(tuple(TYPES))
        for label, hold, record, outlets in CONFIGS:
            share = measure(sid, hold, record, outlets, args.warm, args.seconds)
            rows.append((label, share))
            print(f"  {label}: {100 * share:.2f} % of a core", file=sys.stderr)
        for label, read in FLOORS:
            share = floor(sid, read, args.warm, args.seconds)
            rows.append((label, share))
            print(f"  {label}: {100 * share:.2f} % of a core", file=sys.stderr)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    print("wot-biofeedback live cost benchmark (benchmarks/bench_live_cost.py)")
    print(
        f"machine : {platform.platform()}; {os.cpu_count()} cores; Python "
        f"{platform.python_version()}; simulator in its own process"
    )
    print(
        f"method  : {args.warm:g} s warm-up, then process CPU over {args.seconds:g} s of wall clock"
    )
    print()
    print(f"{'configuration':<46} {'% of a core':>12}")
    print("-" * 59)
    for label, share in rows:
        print(f"{label:<46} {100 * share:12.2f}")
    print()
    print(f"live cost per client: {100 * rows[0][1]:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
