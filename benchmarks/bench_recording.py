"""Session files: writing a wot XDF recording and analysing it end to end.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_recording.py [--minutes 60] [--repeat 3]

The data: the simulator's full-session scenario repeated to ``--minutes`` (ECG 250 Hz, EDA
32 Hz, RESP 50 Hz), written as a wot session file the way the live recorder lays it out (the
three raw streams interleaved in 0.5-s chunks, with the session records that ``wot analyze``
uses: ``wot_biofeedback.recorder.write_recording_xdf``). Rows, each the best of ``--repeat``:

* write XDF: encoding every chunk and writing the file (no fsync);
* read (wot reader): ``read_recording`` of the file alone (the fast XDF reader plus rebuilding
  the signals from the session records);
* read (pyxdf): ``pyxdf.load_xdf`` of the same file with its defaults, for reference;
* pipeline in memory: ``run_recording`` on the signals as read;
* ``wot analyze`` end to end: ``cli.main(["analyze", FILE, "--out", DIR])``: reading, the
  pipeline, and writing every output file (fresh DIR each run).

Single-threaded (the thread-count variables are set to 1 before numpy is imported).
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyxdf  # noqa: E402
from wot_simulators import SimConfig, simulate_session  # noqa: E402

from bench_analyze import (  # noqa: E402
    SEED,
    Timing,
    build_scenario,
    cpu_model,
    fmt_table,
    make_recording,
    timed,
    xrt,
)
from wot_biofeedback import __version__, cli  # noqa: E402
from wot_biofeedback.offline import run_recording  # noqa: E402
from wot_biofeedback.recorder import write_recording_xdf  # noqa: E402
from wot_biofeedback.sources.files import read_recording  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="data length, min (default 60)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best is shown")
    args = ap.parse_args(argv)
    if not args.minutes >= 1.0:
        ap.error("--minutes must be at least 1")
    if args.repeat < 1:
        ap.error(f"--repeat {args.repeat} must be at least 1")
    logging.getLogger("pyxdf.pyxdf").setLevel(logging.ERROR)
    duration = args.minutes * 60.0
    print(f"simulating {args.minutes:g} min (full-session repeated, seed {SEED}) ...")
    sess = simulate_session(build_scenario(args.minutes), SimConfig(seed=SEED))
    rec = make_recording(sess)
    n_samples = sum(len(s.data) for s in rec.signals.values())
    run_recording(make_recording(sess, 60.0))  # compile or load the numba kernels
    t_write, t_read, t_pyxdf, t_pipe, t_e2e = (Timing() for _ in range(5))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for i in range(args.repeat):
            path = d / f"session-{i}.xdf"
            dt, _ = timed(lambda p=path: write_recording_xdf(rec, p))
            t_write.add(dt)
        path = d / "session-0.xdf"
        size_mb = path.stat().st_size / 1e6
        for i in range(args.repeat):
            dt, r = timed(lambda: read_recording(path))
            t_read.add(dt)
            dt, _ = timed(lambda r=r: run_recording(r))
            t_pipe.add(dt)
            out = d / f"out-{i}"
            with contextlib.redirect_stdout(io.StringIO()):
                dt, code = timed(lambda o=out: cli.main(["analyze", str(path), "--out", str(o)]))
            assert code == 0
            t_e2e.add(dt)
        for _ in range(min(args.repeat, 2)):
            dt, _ = timed(lambda: pyxdf.load_xdf(str(path)))
            t_pyxdf.add(dt)
        states = np.loadtxt(d / "out-0" / "states.csv", delimiter=",", skiprows=1, dtype=str)
    print()
    print(
        f"wot-biofeedback {__version__}, Python {platform.python_version()}, numpy "
        f"{np.__version__}, pyxdf {pyxdf.__version__}; {cpu_model()}, {os.cpu_count()} cores "
        "(one used)"
    )
    print(f"data: {args.minutes:g} min, 3 modalities, {n_samples:,} samples; file {size_mb:.1f} MB")
    print()
    rows = [
        ["write XDF (recorder layout)", f"{t_write.best:.3f}", xrt(duration, t_write.best),
         f"{size_mb / t_write.best:,.0f} MB/s"],
        ["read (wot reader)", f"{t_read.best:.3f}", xrt(duration, t_read.best),
         f"{n_samples / t_read.best / 1e6:.1f} M samples/s"],
        ["read (pyxdf.load_xdf, reference)", f"{t_pyxdf.best:.3f}", xrt(duration, t_pyxdf.best),
         f"{n_samples / t_pyxdf.best / 1e6:.1f} M samples/s"],
        ["pipeline in memory", f"{t_pipe.best:.3f}", xrt(duration, t_pipe.best), ""],
        ["wot analyze end to end", f"{t_e2e.best:.3f}", xrt(duration, t_e2e.best),
         "read + pipeline + all outputs"],
    ]  # fmt: skip
    print(fmt_table(["step", "best s", "x real time", "note"], rows, {1, 2}))
    zones = {z: float(np.mean(states[:, 1] == z)) for z in ("hyper", "within", "hypo", "unknown")}
    print()
    print("zones of the analysis: " + ", ".join(f"{z} {v:.0%}" for z, v in zones.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
