"""What the synchrony of one pair costs, beside the session it belongs to (issue 21).

Run on demand (prints a table, asserts nothing)::

    .venv/bin/python benchmarks/bench_synchrony.py [--minutes 12] [--repeat 3]

One simulated dyad (``wot_simulators.dyad``, the default coupling script repeated to
``--minutes``) is written as ``wot simulate --dyad`` writes it and read back per person. Timed,
as CPU time of this process (best of ``--repeat``; the numba kernels compiled first):

1. the session core of both people in 1-s chunks (``offline.run_subjects(chunk_s=1)``: the
   pipelines, fusion and state engine, what a live session runs per chunk, without LSL,
   recording or views);
2. the live synchrony of the pair (``coregulation.LiveSynchrony``: event grids, the three
   signals' windows with their surrogate tests, and the co-regulation episodes), fed the
   results of (1) one second at a time, as the live engine feeds it;
3. the same synchrony offline, on the whole session at once (``session_synchrony``).

The share (2) / (1) bounds what synchrony adds to a live session's CPU from above: a live
session also pulls LSL streams, records and publishes, which (1) leaves out.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from wot_simulators import SimConfig
from wot_simulators.dyad import DEFAULT_SCRIPT, parse_script, simulate_dyad, write_dyad_csv

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.coregulation import LiveSynchrony, session_synchrony
from wot_biofeedback.dsp import warm_up
from wot_biofeedback.offline import run_subjects
from wot_biofeedback.sources.files import read_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

SECTION = "Co-regulation (synchrony)"
PEOPLE = ("client", "therapist")


def _script(minutes: float) -> str:
    """The default script, repeated (and cut) to ``minutes``."""
    parts = parse_script(DEFAULT_SCRIPT)
    out, total = [], 0.0
    while total < minutes * 60.0 - 1e-9:
        for c in parts:
            d = min(c.duration_s, minutes * 60.0 - total)
            if d <= 0:
                break
            lag = f"@{c.lag_s:g}" if c.lag_s else ""
            out.append(f"{c.mode}{lag}:{d:g}")
            total += d
    return ",".join(out)


def _feed(res: dict, fs: float) -> float:
    """CPU seconds of :class:`LiveSynchrony` fed ``res`` a second of session at a time."""
    live = LiveSynchrony(list(PEOPLE), fs)
    frames = {p: list(res[p].frames) for p in PEOPLE}
    times = {p: np.array([f.time_s for f in frames[p]]) for p in PEOPLE}
    ev = {}
    for p in PEOPLE:
        nn_t, nn_ms = res[p].event("ecg", "nn_time"), res[p].event("ecg", "nn_ms")
        on = res[p].event("resp", "breath_onset_time")
        ev[p] = (nn_t, nn_ms, on)
    end = max(float(t[-1]) for t in times.values())
    steps = []
    for k in range(math.ceil(end) + 1):
        lo, hi = float(k), float(k + 1)
        piece = {}
        for p in PEOPLE:
            a, b = np.searchsorted(times[p], [lo, hi])
            nn_t, nn_ms, on = ev[p]
            i, j = np.searchsorted(nn_t, [lo, hi])
            u, v = np.searchsorted(on, [lo, hi])
            piece[p] = (
                frames[p][a:b],
                {"ecg": {"nn_time": [nn_t[i:j]], "nn_ms": [nn_ms[i:j]]},
                 "resp": {"breath_onset_time": [on[u:v]]}},
            )  # fmt: skip
        steps.append(piece)
    t0 = time.process_time()
    for piece in steps:
        for p, (fr, e) in piece.items():
            live.add(p, fr, e)
        live.step()
    live.finish()
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    fs = EngineConfig().frame_rate_hz
    print(f"machine: {platform.machine()}, {platform.python_version()}, "
          f"{platform.platform()}")  # fmt: skip
    warm_up(("ecg", "eda", "resp"), True)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "dyad.csv"
        d = simulate_dyad(_script(args.minutes), config=SimConfig(ecg_fs=250, eda_fs=250,
                                                                  resp_fs=250, seed=1))  # fmt: skip
        write_dyad_csv(d, f)
        recs = {p: read_recording(f, subject=p) for p in PEOPLE}
    core, sync, batch = [], [], []
    res: dict = {}
    for _ in range(args.repeat):
        t0 = time.process_time()
        res, _s = run_subjects(recs, chunk_s=1.0)
        core.append(time.process_time() - t0)
        sync.append(_feed(res, fs))
        t0 = time.process_time()
        session_synchrony(res, fs)
        batch.append(time.process_time() - t0)
    hours = d.duration_s / 3600.0
    c, s, b = min(core), min(sync), min(batch)
    print(f"\ndyad of {d.duration_s / 60:.0f} min (client and therapist, ECG, EDA, RESP at 250 Hz),"
          f" best of {args.repeat}, CPU s")  # fmt: skip
    print(f"{'part':58s} {'CPU s':>8s} {'s per h':>8s} {'% core':>7s}")
    for name, v in (
        ("session core, both people, 1-s chunks (run_subjects)", c),
        ("live synchrony + episodes, 1-s steps (LiveSynchrony)", s),
        ("offline synchrony, whole session (session_synchrony)", b),
    ):
        print(f"{name:58s} {v:8.3f} {v / hours:8.1f} {100 * v / d.duration_s:6.3f}%")
    share = 100 * s / c
    print(f"\nsynchrony adds {share:.1f} % to the session core's CPU (an upper bound of its share "
          "of a live session's)")  # fmt: skip
    _report.emit(SECTION, "cost of one pair's live synchrony", "added to the session core's CPU",
                 f"{share:.1f} %", "target", "< 10 %",
                 f"{s / hours:.1f} CPU s per hour of session; core {c / hours:.1f} s/h "
                 "(bench_synchrony.py)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
