"""Cohort analysis: one folder of sessions serially, on a local process pool and on a Dask
LocalCluster.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_cohort.py [--sessions 12] [--workers 2]

The data: ``--sessions`` full-length simulated sessions (the shipped scenarios full-session,
stress-and-recovery, shutdown and calm in turn, 600-900 s each, seeds 1, 2, ...), written into
a temporary folder alternately as CSV (all signals at 250 Hz) and as wot session XDF (ECG
250 Hz, EDA 32 Hz, RESP 50 Hz). Rows, one run each:

* serial: ``run_cohort(..., workers=1)`` in this process (numba kernels loaded beforehand);
* local pool: ``run_cohort(..., workers=N)``: N spawned processes, their start-up (imports,
  loading the cached numba kernels) included;
* Dask LocalCluster: ``run_cohort(..., scheduler=ADDRESS)`` on a LocalCluster of N worker
  processes with one thread each, started beforehand (a cluster outlives one cohort); the
  workers load their kernels on their first session, inside the timing.

"identical" compares each run's ``cohort.csv`` with the serial one byte for byte. Every
process is single-threaded (the thread-count variables are set to 1 before numpy is imported,
and are inherited by the workers).
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from wot_simulators import SimConfig, load_scenario, simulate_session, write_csv  # noqa: E402

from bench_analyze import cpu_model, fmt_table  # noqa: E402
from wot_biofeedback import __version__  # noqa: E402
from wot_biofeedback.cohort import find_recordings, run_cohort  # noqa: E402
from wot_biofeedback.offline import run_recording  # noqa: E402
from wot_biofeedback.recorder import write_recording_xdf  # noqa: E402
from wot_biofeedback.sources.files import Recording, Signal  # noqa: E402

SCENARIOS = ("full-session", "stress-and-recovery", "shutdown", "calm")


def build_folder(folder: Path, n: int) -> float:
    """Write ``n`` simulated sessions into ``folder``; returns their total length, s."""
    total = 0.0
    for i in range(n):
        name = SCENARIOS[i % len(SCENARIOS)]
        scen, seed = load_scenario(name), i + 1
        if i % 2 == 0:
            sess = simulate_session(scen, SimConfig(ecg_fs=250.0, eda_fs=250.0, resp_fs=250.0,
                                                    seed=seed))  # fmt: skip
            write_csv(sess, folder / f"{i:02d}-{name}-{seed}.csv")
        else:
            sess = simulate_session(scen, SimConfig(seed=seed))
            signals = {m: Signal(sess.signal(m), sess.fs(m), m) for m in ("ecg", "eda", "resp")}
            write_recording_xdf(Recording("simulated", signals), folder / f"{i:02d}-{name}.xdf")
        total += sess.duration_s
    return total


def warm_up() -> None:
    """Load (or compile) the numba kernels in this process, outside the timings."""
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=0), 60.0)
    run_recording(Recording("warm-up", {m: Signal(sess.signal(m), sess.fs(m), m)
                                        for m in ("ecg", "eda", "resp")}))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sessions", type=int, default=12, help="number of sessions (default 12)")
    ap.add_argument("--workers", type=int, default=2, help="pool and cluster workers (default 2)")
    ap.add_argument(
        "--report", action="store_true",
        help="write each session's HTML report too (what `wot report FOLDER` does)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.sessions < 1:
        ap.error(f"--sessions {args.sessions} must be at least 1")
    if args.workers < 2:
        ap.error(f"--workers {args.workers} must be at least 2")
    from distributed import LocalCluster

    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        data = d / "recordings"
        data.mkdir()
        print(f"simulating {args.sessions} sessions into {data} ...")
        total_s = build_folder(data, args.sessions)
        size_mb = sum(p.stat().st_size for p in data.iterdir()) / 1e6
        paths = find_recordings(data)
        opts = {"report": args.report}

        t = time.perf_counter()
        rows = run_cohort(paths, d / "serial", opts, workers=1, progress=False)
        t_serial = time.perf_counter() - t
        expected = (d / "serial" / "cohort.csv").read_bytes()

        t = time.perf_counter()
        run_cohort(paths, d / "pool", opts, workers=args.workers, progress=False)
        t_pool = time.perf_counter() - t
        same_pool = (d / "pool" / "cohort.csv").read_bytes() == expected

        t = time.perf_counter()
        with LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            t_start = time.perf_counter() - t
            t = time.perf_counter()
            run_cohort(paths, d / "dask", opts, scheduler=cluster.scheduler_address, progress=False)
            t_dask = time.perf_counter() - t
        same_dask = (d / "dask" / "cohort.csv").read_bytes() == expected

    import distributed

    print()
    print(
        f"wot-biofeedback {__version__}, Python {platform.python_version()}, numpy "
        f"{np.__version__}, distributed {distributed.__version__}; {cpu_model()}, "
        f"{os.cpu_count()} cores"
    )
    n_ok = sum(r["status"] == "ok" for r in rows)
    print(
        f"data: {args.sessions} sessions ({n_ok} analysed ok), {total_s / 60:.0f} min in all, "
        f"{size_mb:.0f} MB of CSV and XDF; "
        + ("analysis + HTML report per session" if args.report else "analysis only")
    )
    print()
    yes = {True: "yes", False: "NO"}
    table = [
        ["serial (workers=1)", f"{t_serial:.2f}", "1.00", "yes", "in this process"],
        [f"local pool (workers={args.workers})", f"{t_pool:.2f}", f"{t_serial / t_pool:.2f}",
         yes[same_pool], "spawned processes, start-up included"],
        [f"Dask LocalCluster ({args.workers} workers)", f"{t_dask:.2f}",
         f"{t_serial / t_dask:.2f}", yes[same_dask],
         f"cluster started beforehand in {t_start:.2f} s"],
    ]  # fmt: skip
    print(fmt_table(["mode", "wall s", "speed-up", "identical", "note"], table, {1, 2}))
    return 0 if same_pool and same_dask else 1


if __name__ == "__main__":
    sys.exit(main())
