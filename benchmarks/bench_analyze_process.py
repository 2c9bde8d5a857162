"""``wot analyze`` of one hour as a whole process, against NeuroKit2's comparable path.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_analyze_process.py [--repeat 5] [--nk-repeat 2] [--csv FILE]

Each run is a new process started from the shell, as a user would start it, timed from before
the start to after the exit (``time.perf_counter`` around ``subprocess.run``): the imports, the
numba kernels loaded from their cache, reading the CSV, the analysis and writing every file.

* The input: one hour of ``wot simulate --fs 250`` (``full-session`` repeated, seed 1): ECG, EDA
  and RESP at 250 Hz in one CSV of 39 MB (or ``--csv``).
* ``wot analyze INPUT --out DIR``, run once untimed first (so the numba cache and the filter
  designs are on disk: issue 20 asks for a warm cache), then ``--repeat`` times. Every run's
  output files must be identical byte for byte (checked here, and printed).
* NeuroKit2's comparable path, in a child process of this script (``--nk-child``): the CSV read
  with ``numpy.loadtxt``, ``ecg_clean`` + ``ecg_peaks(correct_artifacts=True)``, ``hrv_time`` and
  ``hrv_frequency`` on 5-minute windows every 30 s, ``eda_process`` and ``rsp_process``, all at
  the file's 250 Hz. Also, for reference, the same with ``ecg_process`` (which adds wave
  delineation and quality, most of its time) in place of ``ecg_clean`` + ``ecg_peaks``.
* ``wot --help`` and ``wot analyze --help``: the start-up alone.
* The floor under any ``wot analyze``, as whole processes too: Python doing nothing; Python
  importing numpy and numba and calling one kernel numba loads from its on-disk cache (numba
  sets up its compiler context on the first call of any kernel, cached or not); and ``wot
  analyze`` of the hour's first minute (every import, every kernel loaded, one minute of work).
  Set against a tenth of NeuroKit2's time (issue 20's target 1), they say how much of that
  budget is left for the hour's work.

Nothing is pinned to one core: both sides run as a user would run them on this machine.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOUR_S = 3600
HRV_WINDOW_S = 300
HRV_STEP_S = 30


def nk_child(csv: str, full: bool) -> None:
    """NeuroKit2's comparable path on ``csv`` (run in its own process)."""
    import warnings

    import neurokit2 as nk
    import numpy as np

    warnings.simplefilter("ignore")
    data = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=(0, 1, 2, 3))
    fs = round(1.0 / float(np.median(np.diff(data[:200, 0]))))
    ecg, eda, resp = data[:, 1], data[:, 2], data[:, 3]
    if full:
        _, info = nk.ecg_process(ecg, sampling_rate=fs)
    else:
        clean = nk.ecg_clean(ecg, sampling_rate=fs)
        _, info = nk.ecg_peaks(clean, sampling_rate=fs, correct_artifacts=True)
    peaks = np.asarray(info["ECG_R_Peaks"])
    win, step = HRV_WINDOW_S * fs, HRV_STEP_S * fs
    for a in range(0, max(len(ecg) - win, 0) + 1, step):
        p = peaks[(peaks >= a) & (peaks < a + win)] - a
        nk.hrv_time(p, sampling_rate=fs)
        nk.hrv_frequency(p, sampling_rate=fs)
    nk.eda_process(eda, sampling_rate=fs)
    nk.rsp_process(resp, sampling_rate=fs)
    print(len(peaks))


FLOOR_KERNEL = """
import numba
import numpy as np


@numba.njit(cache=True)
def total(x):
    return x.sum()


total(np.ones(3))
"""


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return dt, done.stdout


def same_outputs(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    _match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def row(label: str, times: list[float], note: str = "") -> str:
    med = statistics.median(times)
    return f"{label:<52} {med:8.2f} {min(times):8.2f} {max(times):8.2f} {len(times):5d}  {note}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed wot runs (default 5)")
    ap.add_argument("--nk-repeat", type=int, default=2, help="NeuroKit2 runs (default 2)")
    ap.add_argument("--csv", help="analyse this CSV instead of a simulated hour")
    ap.add_argument("--no-full", action="store_true", help="skip the ecg_process reference")
    ap.add_argument("--nk-child", nargs=2, metavar=("CSV", "FULL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.nk_child:
        nk_child(args.nk_child[0], args.nk_child[1] == "1")
        return 0

    bindir = Path(sys.executable).parent
    wot = str(bindir / "wot")
    tmp = Path(tempfile.mkdtemp(prefix="wot-bench-process-"))
    csv = Path(args.csv) if args.csv else tmp / "hour.csv"
    if not args.csv:
        sim = [wot, "simulate", "--duration", str(HOUR_S), "--fs", "250", "--out", str(csv)]
        timed(sim)
    size_mb = csv.stat().st_size / 1e6

    rows: list[str] = []
    helps = [timed([wot, "--help"])[0] for _ in range(args.repeat)]
    rows.append(row("wot --help", helps))
    helps = [timed([wot, "analyze", "--help"])[0] for _ in range(args.repeat)]
    rows.append(row("wot analyze --help", helps))

    # the floor: Python alone, Python + numpy + numba + one cached kernel, a minute's analysis
    def many(cmd: list[str]) -> list[float]:
        return [timed(cmd)[0] for _ in range(args.repeat)]

    kernel = tmp / "floor_kernel.py"
    kernel.write_text(FLOOR_KERNEL)
    timed([sys.executable, str(kernel)])  # compiled and cached once, untimed
    minute = tmp / "minute.csv"
    with csv.open() as src, minute.open("w") as dst:
        head = [src.readline() for _ in range(3)]  # the header and two rows: the rate
        step = float(head[2].split(",")[0]) - float(head[1].split(",")[0])
        dst.writelines(head)
        for _ in range(round(60.0 / step) - 2):  # the first minute
            dst.write(src.readline())
    mins = [wot, "analyze", str(minute), "--out", str(tmp / "minute-out")]
    timed(mins)
    floors = [
        ("floor: python -c pass", many([sys.executable, "-c", "pass"])),
        ("floor: numpy + numba, one cached kernel", many([sys.executable, str(kernel)])),
        ("floor: wot analyze of the first minute", many(mins)),
    ]
    rows.extend(row(label, times) for label, times in floors)

    first, _ = timed([wot, "analyze", str(csv), "--out", str(tmp / "out0")])
    runs = []
    for i in range(args.repeat):
        out = tmp / f"out{i + 1}"
        runs.append(timed([wot, "analyze", str(csv), "--out", str(out)])[0])
    identical = all(same_outputs(tmp / "out1", tmp / f"out{i + 1}") for i in range(args.repeat))
    identical = identical and same_outputs(tmp / "out0", tmp / "out1")
    rows.append(row("wot analyze (warm cache)", runs))

    me = [sys.executable, str(Path(__file__).resolve()), "--nk-child", str(csv)]
    nk_runs, peaks = [], ""
    for _ in range(args.nk_repeat):
        dt, peaks = timed([*me, "0"])
        nk_runs.append(dt)
    if nk_runs:
        rows.append(
            row("NeuroKit2 comparable path (ecg_peaks)", nk_runs, f"{peaks.strip()} R-peaks")
        )
    full_runs: list[float] = []
    if not args.no_full:
        dt, peaks = timed([*me, "1"])
        full_runs.append(dt)
        note = f"{peaks.strip()} R-peaks"
        rows.append(row("  reference: with ecg_process instead", full_runs, note))

    import numba
    import numpy as np
    import scipy

    try:
        import neurokit2 as nk

        nk_version = nk.__version__
    except ImportError:
        nk_version = "not installed"
    print("wot analyze as a whole process (benchmarks/bench_analyze_process.py)")
    print(f"machine : {platform.platform()}; {os.cpu_count()} cores")
    print(
        f"software: Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, numba {numba.__version__}, neurokit2 {nk_version}"
    )
    print(f"input   : {csv.name}, {size_mb:.1f} MB (ECG, EDA, RESP at 250 Hz)")
    print(f"first wot analyze (caches as found): {first:.2f} s")
    print()
    print(f"{'process':<52} {'median':>8} {'min':>8} {'max':>8} {'runs':>5}")
    print("-" * 86)
    print("\n".join(rows))
    print()
    wot_med = statistics.median(runs)
    if nk_runs:
        print(f"NeuroKit2 / wot analyze (medians): {statistics.median(nk_runs) / wot_med:.1f}x")
    if full_runs:
        print(f"with ecg_process / wot analyze:   {full_runs[0] / wot_med:.1f}x")
    if nk_runs:
        budget = statistics.median(nk_runs) / 10.0
        print(f"10x NeuroKit2 (target 1) allows:   {budget:.2f} s for the whole process")
        for label, times in floors[1:]:
            left = budget - statistics.median(times)
            print(f"  left after {label.removeprefix('floor: ')}: {left:+.2f} s")
    print(f"wot outputs identical across runs: {'yes' if identical else 'NO'}")
    print(f"wot analyze whole process: {wot_med:.2f} s")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
