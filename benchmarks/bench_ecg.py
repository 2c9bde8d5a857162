"""R-peak detection accuracy and speed: wot-biofeedback against NeuroKit2 on MIT-BIH 100 and 105.

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/bench_ecg.py [--methods neurokit,pantompkins1985,...] [--repeat 5]

Accuracy: lead MLII (channel 0) of MIT-BIH records 100 (clean) and 105 (heavy noise), at the
native 360 Hz and resampled to 128 Hz (``scipy.signal.resample_poly(x, 16, 45)``; reference
sample indices scaled by 128/360). Detections are matched one to one to the reference beat
symbols ``NLRBAaJSVrFejnE/fQ?`` of the ``.atr`` annotations within 150 ms. NeuroKit2 runs
``nk.ecg_peaks`` on the raw signal and on ``nk.ecg_clean`` output, default method unless
``--methods`` names others. NeuroKit2 sees the whole record at once (not causal, no delay
bound); wot is causal and reports every beat at most 0.3 s after its R-peak.

Speed: ``ecg_peaks`` on record 105 (30 min) at 360 Hz and resampled to 250 Hz, best of
``--repeat``, as multiples of real time; and the cost of one 32-sample ``update`` of a
running ``EcgPeakDetector`` (median and 99th percentile over 20,000 chunks). One thread.

Data: ``WOT_DATA_DIR`` (default ``../shared/data``) must hold ``mitdb/100`` and ``mitdb/105``
(PhysioNet: ``wfdb.rdrecord('105', pn_dir='mitdb')``). Cite Goldberger et al. 2000 (PhysioNet),
Moody & Mark 2001 (MIT-BIH) and Makowski et al. 2021 (NeuroKit2) with these figures.
"""

from __future__ import annotations

import os

THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402

from wot_biofeedback.dsp.ecg import EcgPeakDetector, ecg_peaks  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import CARDIAC, emit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BEAT_SYMBOLS = list("NLRBAaJSVrFejnE/fQ?")
TOL_S = 0.15


def data_dir() -> Path:
    return Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))


def load(record: str, fs: float) -> tuple[np.ndarray, np.ndarray]:
    import wfdb

    path = str(data_dir() / "mitdb" / record)
    x = wfdb.rdrecord(path, channels=[0]).p_signal[:, 0].astype(np.float64)
    ann = wfdb.rdann(path, "atr")
    ref = ann.sample[np.isin(ann.symbol, BEAT_SYMBOLS)].astype(np.int64)
    if fs == 128.0:
        return resample_poly(x, 16, 45), np.round(ref * 128.0 / 360.0).astype(np.int64)
    return x, ref


def score(det: np.ndarray, ref: np.ndarray, fs: float) -> tuple[int, int, int]:
    """One-to-one matching within 150 ms; returns (TP, FP, FN)."""
    det = np.sort(np.asarray(det, dtype=np.int64))
    tol = TOL_S * fs
    i = j = tp = 0
    while i < ref.size and j < det.size:
        if abs(det[j] - ref[i]) <= tol:
            tp += 1
            i += 1
            j += 1
        elif det[j] < ref[i]:
            j += 1
        else:
            i += 1
    return tp, det.size - tp, ref.size - tp


def row(name: str, record: str, fs: float, tp: int, fp: int, fn: int) -> str:
    se = tp / max(1, tp + fn)
    ppv = tp / max(1, tp + fp)
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return (
        f"{record:>6}  {fs:>5g}  {name:<36} {tp:>5} {fp:>4} {fn:>4}  {se:.4f}  {ppv:.4f}  {f1:.4f}"
    )


def report(
    record: str, fs: float, ours: tuple[int, int, int], methods: list[str], theirs: list[str]
) -> None:
    """Report row (benchmarks/_report.py): F1 against the annotations, NeuroKit2's beside it."""
    tp, fp, fn = ours
    note = f"TP {tp}, FP {fp}, FN {fn}; causal, every beat reported <= 0.3 s after its R-peak"
    if fs != 360.0:
        note += "; resampled from 360 Hz (resample_poly 16/45)"
    tool = f"NeuroKit2 ecg_peaks ({', '.join(methods)}; raw / ecg_clean, whole record)"
    emit(
        CARDIAC,
        f"mitdb {record} at {fs:g} Hz",
        "F1 vs annotations, 150 ms",
        f"{2 * tp / max(1, 2 * tp + fp + fn):.4f}",
        tool if methods else "annotations (MIT-BIH)",
        "; ".join(theirs),
        note,
    )


def neurokit_peaks(x: np.ndarray, fs: float, method: str, clean: bool) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig = nk.ecg_clean(x, sampling_rate=int(fs)) if clean else x
        _, info = nk.ecg_peaks(sig, sampling_rate=int(fs), method=method)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def speed(x: np.ndarray, fs: float, repeat: int) -> tuple[float, float, float]:
    ecg_peaks(x[: int(10 * fs)], fs)  # compile or load the kernel from the cache
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        ecg_peaks(x, fs)
        best = min(best, time.perf_counter() - t)
    det = EcgPeakDetector(fs)
    det.update(x[: int(60 * fs)])
    base = int(60 * fs)
    n_chunks = min(20_000, (x.size - base) // 32)
    costs = np.empty(n_chunks)
    for k in range(n_chunks):
        c = x[base + 32 * k : base + 32 * (k + 1)]
        t = time.perf_counter()
        det.update(c)
        costs[k] = time.perf_counter() - t
    return x.size / fs / best, float(np.median(costs) * 1e6), float(np.percentile(costs, 99) * 1e6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", default="neurokit", help="NeuroKit2 methods, comma-separated")
    ap.add_argument("--repeat", type=int, default=5, help="speed runs (best is kept)")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    try:
        import neurokit2 as nk

        nk_version = nk.__version__
    except ImportError:
        nk_version = "not installed"
        methods = []

    if not (data_dir() / "mitdb" / "105.hea").exists():
        print(f"skipped: {data_dir() / 'mitdb'} has no records 100 and 105 (set WOT_DATA_DIR)")
        return
    print("wot-biofeedback R-peak benchmark (benchmarks/bench_ecg.py)")
    print(f"machine : {platform.platform()}; {os.cpu_count()} cores")
    print(
        f"software: Python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, numba {numba.__version__}, neurokit2 {nk_version}"
    )
    print(f"threads : {', '.join(f'{v}=1' for v in THREAD_VARS)}")
    print("scoring : MIT-BIH MLII, beats NLRBAaJSVrFejnE/fQ?, one-to-one within 150 ms\n")

    print(
        f"{'record':>6}  {'fs':>5}  {'detector':<36} {'TP':>5} {'FP':>4} {'FN':>4}  "
        f"{'Se':<6}  {'PPV':<6}  {'F1':<6}"
    )
    print("-" * 92)
    for record in ("100", "105"):
        for fs in (360.0, 128.0):
            x, ref = load(record, fs)
            ours = score(ecg_peaks(x, fs), ref, fs)
            print(row("wot ecg_peaks (causal, <= 0.3 s)", record, fs, *ours))
            theirs: list[str] = []
            for m in methods:
                f1s = []
                for clean in (False, True):
                    try:
                        p = neurokit_peaks(x, fs, m, clean)
                    except Exception as exc:  # a NeuroKit2 method may fail on a record
                        print(f"{record:>6}  {fs:>5g}  NeuroKit2 {m} failed: {exc!r:.40}")
                        f1s.append("failed")
                        continue
                    name = f"NeuroKit2 {m} {'cleaned' if clean else 'raw'}"
                    tp, fp, fn = score(p, ref, fs)
                    print(row(name, record, fs, tp, fp, fn))
                    f1s.append(f"{2 * tp / max(1, 2 * tp + fp + fn):.4f}")
                theirs.append(" / ".join(f1s))
            report(record, fs, ours, methods, theirs)
        print()

    x360, _ = load("105", 360.0)
    x250 = resample_poly(x360, 25, 36)
    print(
        f"{'speed (record 105, 30 min)':<30} {'x real time':>12} {'us/32 samples':>14} {'p99':>8}"
    )
    print("-" * 68)
    for fs, x in ((250.0, x250), (360.0, x360)):
        rt, med, p99 = speed(x, fs, args.repeat)
        print(
            f"{'ecg_peaks @ ' + format(fs, 'g') + ' Hz':<30} {rt:>12,.0f} {med:>14.2f} {p99:>8.2f}"
        )
    det = EcgPeakDetector(360.0)
    p = det.update(x360)
    lag = (det.confirm_index - p) / 360.0
    print(f"\nreport delay on 105 @ 360 Hz: {lag.min():.3f}-{lag.max():.3f} s (bound 0.3 s)")


if __name__ == "__main__":
    main()
