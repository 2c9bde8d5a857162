"""How many 3-modality clients one process serves on one core, in real time (issue 20).

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/bench_scale.py [--seconds 30] [--clients N,N,...]

The process is pinned to one core (``os.sched_setaffinity``) and every library runs one
thread (the thread-count variables are set before numpy is imported). Each client is a
simulated session (``calm``, its own seed; ECG 250 Hz, EDA 32 Hz, RESP 50 Hz) and a subject of
one multi-subject session core (``Session``), run by the engine's own loop (``run.run``) as
the live engine runs it: a read every 20 ms, each giving every stream the samples now
due (the recordings in memory stand in for the LSL inlets: no LSL, no recording, no views).
Calibration is 10 s, so most of the run is classified (state engine and cues at work).

1. **Cost**: ``--cost-clients`` clients flat out (no pacing) for ``--seconds`` of session in
   20-ms reads: CPU time per client per session second, and the estimate one core / that.
2. **Real time**: for each ``--clients`` count (default: 0.5, 0.8 and 1.0 times the estimate),
   ``--seconds`` of session paced at real time. Each frame's lateness is the wall time at which
   the loop produced it less the wall time its last sample was due (frame time after the
   start). A count is served when no frame after the first 2 s (the start's one-off costs,
   shown apart) is later than one frame period (0.25 s).

Prints ``clients per core: N`` (the largest count served).
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from wot_simulators import SimConfig, load_scenario, simulate_session  # noqa: E402

from wot_biofeedback.config import EngineConfig  # noqa: E402
from wot_biofeedback.dsp import warm_up  # noqa: E402
from wot_biofeedback.run import run  # noqa: E402
from wot_biofeedback.session import Session  # noqa: E402
from wot_biofeedback.sources.files import Recording, RecordingSource, Signal  # noqa: E402

PERIOD_S = 0.02
CALIBRATION_S = 10.0
STARTUP_S = 2.0  # the first frames carry the start's one-off costs: reported apart
RATES = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}
HOLD = True  # --no-hold: every chunk through its channel at once (the engine before 2026-12-06)


class PacedRecordings(RecordingSource):
    """The recordings as live streams: the run loop paces its reads (``live``), and each read
    gives every sample due by now (an inlet gives what has arrived: a late read catches up)."""

    live = True
    started = 0.0

    def read(self):  # RecordingSource.read
        self.chunk_s = max(time.perf_counter() - self.started - self._t, 1e-9)
        return super().read()


class Lateness:
    """A sink: how late each frame came, against the wall clock of its data."""

    def __init__(self) -> None:
        self.start = float("nan")
        self.late: list[float] = []
        self.times: list[float] = []

    def consume(self, out, session) -> None:  # the run loop's sink protocol
        now = time.perf_counter()
        for frames in out.frames.values():
            self.late.extend(now - (self.start + f.time_s) for f in frames)
            self.times.extend(f.time_s for f in frames)


def _clients(n: int, seconds: float) -> dict[str, Recording]:
    scen = load_scenario("calm")
    recs = {}
    for i in range(n):
        sess = simulate_session(scen, SimConfig(seed=1000 + i), seconds + 1.0)
        recs[f"c{i:03d}"] = Recording(
            f"c{i}", {m: Signal(sess.signal(m), RATES[m], m) for m in RATES}
        )
    return recs


def _session(recs: dict[str, Recording]) -> Session:
    cfg = EngineConfig()
    cfg.calibration.duration_s = CALIBRATION_S  # most of the run classified, cues on
    session = Session({sid: dict(RATES) for sid in recs}, cfg)
    for subj in session.subjects.values():
        subj.pipeline.hold = HOLD  # as the live engine does (Pipeline.hold)
    return session


def cost(n: int, seconds: float) -> float:
    """CPU s per client per session s, flat out in 20-ms reads."""
    recs = _clients(n, seconds)
    session = _session(recs)
    cpu0 = time.process_time()
    run(RecordingSource(recs, PERIOD_S), session, [])
    return (time.process_time() - cpu0) / (n * (seconds + 1.0))


def real_time(n: int, seconds: float) -> dict:
    recs = _clients(n, seconds)
    session = _session(recs)
    sink = Lateness()
    src = PacedRecordings(recs, PERIOD_S)
    sink.start = src.started = time.perf_counter()
    cpu0 = time.process_time()
    stats = run(src, session, [sink], period_s=PERIOD_S)
    wall = time.perf_counter() - sink.start
    late, t = np.asarray(sink.late), np.asarray(sink.times)
    after = late[t >= STARTUP_S]
    return {
        "frames": late.size,
        "p50": float(np.percentile(late, 50)),
        "p99": float(np.percentile(after, 99)),
        "max": float(after.max()),
        "first": float(late[t < STARTUP_S].max()),
        "worst_at": float(t[int(np.argmax(late))]),
        "cpu": (time.process_time() - cpu0) / wall,
        "overruns": stats.overruns,
        "steps": stats.steps,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--cost-clients", type=int, default=10)
    ap.add_argument("--clients", default=None, help="counts for part 2, e.g. 5,10,15")
    ap.add_argument(
        "--no-hold", action="store_true",
        help="push every chunk of the slow signals at once (as before Pipeline.hold)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    global HOLD
    HOLD = not args.no_hold
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print("wot-biofeedback scale benchmark (benchmarks/bench_scale.py)")
    print(f"machine : {platform.platform()}; pinned to 1 of {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, numpy {np.__version__}")  # fmt: skip
    warm_up(tuple(RATES))
    c = cost(args.cost_clients, args.seconds)
    est = 1.0 / c
    print(f"\n1. Cost: {args.cost_clients} clients, {args.seconds:g} s of session flat out in "
          f"{PERIOD_S * 1000:g}-ms reads: {c * 100:.2f} % of a core per client "
          f"({c * 1000:.1f} ms of CPU per client per session second): about {est:.0f} "
          "clients per core")  # fmt: skip
    counts = (
        [int(x) for x in args.clients.split(",")]
        if args.clients
        else sorted({max(1, round(f * est)) for f in (0.5, 0.8, 1.0)})
    )
    print(f"\n2. Real time, {args.seconds:g} s of session, a read every {PERIOD_S * 1000:g} ms")
    print(f"{'clients':>7} {'frames':>7} {'late p50':>9} {'p99':>7} {'max':>7} "
          f"{'first 2 s':>10} {'worst at':>9} {'CPU':>6} {'overruns':>9}")  # fmt: skip
    served = 0
    for n in counts:
        r = real_time(n, args.seconds)
        ok = r["max"] <= 0.25
        served = max(served, n) if ok else served
        print(f"{n:7d} {r['frames']:7d} {r['p50'] * 1000:7.0f} ms {r['p99'] * 1000:5.0f} ms "
              f"{r['max'] * 1000:5.0f} ms {r['first'] * 1000:7.0f} ms {r['worst_at']:7.2f} s "
              f"{100 * r['cpu']:5.0f}% {r['overruns']:5d}/{r['steps']}"
              f"{'' if ok else '  late'}")  # fmt: skip
    print("\n(late: a frame's production less the wall time its last sample was due, which "
          "includes up to a read period and half a sample of waiting; p99 and max: the frames "
          f"after the first {STARTUP_S:g} s, whose worst is shown apart; worst at: the session "
          "time of the latest frame of all; served: no frame after the first "
          f"{STARTUP_S:g} s later than one frame period, 250 ms)")  # fmt: skip
    print(f"clients per core: {served}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
