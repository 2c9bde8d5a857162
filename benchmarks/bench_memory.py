"""The live engine's memory, threads and descriptors over a long session (a soak): by default
a simulated 4-hour session at 20x; ``--hours 8 --every 1`` is the 8-hour soak.

Each reading has the resident memory, the process's threads and its open file descriptors:
threads and descriptors must come back to the same count (a leak of either ends a long session
as surely as memory does).

The simulator publishes real LSL streams (ECG 250 Hz, EDA 32 Hz, RESP 50 Hz); the engine runs
as ``wot run`` runs it (recording to a temporary XDF file, LSL outlets on, a view polling a
snapshot every 0.5 s). The process's resident memory (``VmRSS``) is read every ``--every``
session minutes; growth is counted from the end of the warm-up (``--warmup`` session minutes,
by which time the engine's fixed-size buffers are full, the frame buffer included) to the end.
The simulated signals are made before the first reading (about 40 MB for 4 h) and do not count.

    .venv/bin/python benchmarks/bench_memory.py [--hours 4] [--speed 20] [--warmup 35]

Prints one row per reading and a summary line; exits 1 when the growth after warm-up exceeds
``--limit-mb`` (20 MB) or the threads or descriptors grew after it, so a run on demand says
plainly whether the target holds.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.recorder import SessionRecorder
from wot_biofeedback.sources.lsl import LslSource, resolve


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def threads() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def descriptors() -> int:
    try:
        return len(list(Path("/proc/self/fd").iterdir()))
    except OSError:
        return -1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=4.0, help="session length, h (default 4)")
    ap.add_argument("--speed", type=float, default=20.0, help="playback speed (default 20)")
    ap.add_argument("--every", type=float, default=10.0, help="reading interval, session min")
    ap.add_argument("--warmup", type=float, default=35.0, help="warm-up, session min (35)")
    ap.add_argument("--limit-mb", type=float, default=20.0, help="allowed growth, MB (20)")
    args = ap.parse_args(argv)
    dur = args.hours * 3600.0
    sid = f"wot-bench-mem-{uuid.uuid4().hex[:8]}"
    t_sim = time.perf_counter()
    sess = simulate_session(load_scenario("full-session"), SimConfig(seed=1), dur)
    t_sim = time.perf_counter() - t_sim
    gc.collect()
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; {args.hours:g} h session at {args.speed:g}x "
          f"(simulated in {t_sim:.1f} s); RSS before the engine {rss_mb():.1f} MB")  # fmt: skip
    rows: list[tuple[float, float, int, float, int, int, int]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorPublisher(
            sess, source_id=sid, name_prefix=sid, speed=args.speed, wait_for_consumers=30.0
        ) as pub,
    ):
        sources = {
            m: LslSource(m, resolve(m.upper(), source_id=f"{sid}-{m}", timeout=10.0))
            for m in ("ecg", "eda", "resp")
        }
        rec = SessionRecorder(Path(tmp) / "long.xdf", {"client": "bench"})
        engine = Engine(sources, EngineConfig(), outlets_source_id=sid, recorder=rec)
        start = time.monotonic()
        next_read = 0.0
        with engine:
            while True:
                snap = engine.snapshot()  # as a view polls it
                if snap.session_s >= next_read * 60.0:
                    gc.collect()
                    rows.append((snap.session_s / 60.0, rss_mb(), snap.n_frames,
                                 time.monotonic() - start, snap.overruns, threads(),
                                 descriptors()))  # fmt: skip
                    r = rows[-1]
                    print(f"{r[0]:8.1f} min  RSS {r[1]:8.1f} MB  frames {r[2]:7d}  "
                          f"wall {r[3]:7.1f} s  overruns {r[4]}  threads {r[5]}  fds {r[6]}",
                          flush=True)  # fmt: skip
                    next_read += args.every
                if snap.session_s >= dur - 2.0 or pub.finished:
                    break
                time.sleep(0.5)
        size = rec.writer.size / 1e6
    base = [r for r in rows if r[0] >= args.warmup]
    if len(base) < 2:
        print("too short a run to measure growth after the warm-up")
        return 2
    growth = base[-1][1] - base[0][1]
    peak = max(r[1] for r in base) - base[0][1]
    more_threads = max(r[5] for r in base) - base[0][5]
    more_fds = max(r[6] for r in base) - base[0][6]
    print(
        f"\nRSS after warm-up ({base[0][0]:.0f} min): {base[0][1]:.1f} MB; at the end "
        f"({base[-1][0]:.0f} min): {base[-1][1]:.1f} MB; growth {growth:+.1f} MB "
        f"(peak {peak:+.1f} MB); limit {args.limit_mb:g} MB; recording {size:.0f} MB; "
        f"threads {base[0][5]} -> at most {base[0][5] + more_threads}, "
        f"descriptors {base[0][6]} -> at most {base[0][6] + more_fds}"
    )
    return 0 if growth <= args.limit_mb and more_threads <= 0 and more_fds <= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
