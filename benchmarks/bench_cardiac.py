"""Cardiac path speed: streaming ECG → beats → corrected NN → HRV frames, against NeuroKit2.

Run on demand (prints a table, asserts nothing)::

    .venv/bin/python benchmarks/bench_cardiac.py [--minutes 60]

What is timed, in one process, after a warm-up run of every path:

* ``wot EcgChannel``: the whole cardiac channel (sample quality, R-peak detector, causal
  Lipponen-Tarvainen correction, and every 0.25-s frame of HR, RMSSD, SDNN, pNN50, Lomb LF/HF
  over 300 s, coherence over 64 s, corrected share, quality), fed in 1-s chunks;
* the same fed in 32-sample chunks (the cost of one small live chunk);
* ``NeuroKit2``: ``ecg_clean`` and ``ecg_peaks(correct_artifacts=True)`` plus ``hrv_time``
  and ``hrv_frequency`` (default Welch; Lomb timed on 15 min and scaled, it needs astropy and
  is slow) on 5-min windows every 30 s — the comparable offline path, which gives one HRV
  value per 30 s where wot gives four per second, with Lomb and Welch and coherence.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from wot_simulators import SimConfig, load_scenario, simulate_session

from wot_biofeedback.dsp.cardiac import EcgChannel

FS = 250.0


def _wot(x: np.ndarray, chunk: int) -> float:
    ch = EcgChannel(FS)
    t = time.perf_counter()
    for i in range(0, x.size, chunk):
        ch.update(x[i : i + chunk])
    return time.perf_counter() - t


def _wot_chunk_us(x: np.ndarray, n_chunks: int = 20000) -> tuple[float, float, float]:
    ch = EcgChannel(FS)
    ch.update(x[: int(400 * FS)])  # a running session with full windows
    costs = []
    base = int(400 * FS)
    for k in range(n_chunks):
        c = x[base + 32 * k : base + 32 * (k + 1)]
        t = time.perf_counter()
        ch.update(c)
        costs.append(time.perf_counter() - t)
    us = np.array(costs) * 1e6
    return float(np.mean(us)), float(np.median(us)), float(np.percentile(us, 99))


def _neurokit(x: np.ndarray, psd_method: str = "welch") -> tuple[float, float]:
    """Seconds for R-peaks with artifact correction, and for the windowed HRV."""
    import neurokit2 as nk

    t = time.perf_counter()
    clean = nk.ecg_clean(x, sampling_rate=int(FS))
    _, info = nk.ecg_peaks(clean, sampling_rate=int(FS), correct_artifacts=True)
    peaks = np.asarray(info["ECG_R_Peaks"])
    t_peaks = time.perf_counter() - t
    t = time.perf_counter()
    win, step = int(300 * FS), int(30 * FS)
    for start in range(0, x.size - win + 1, step):
        p = peaks[(peaks >= start) & (peaks < start + win)]
        nk.hrv_time(p, sampling_rate=int(FS))
        nk.hrv_frequency(p, sampling_rate=int(FS), psd_method=psd_method)
    return t_peaks, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    dur = args.minutes * 60.0
    sess = simulate_session(load_scenario("full-session"), SimConfig(seed=1), duration_s=dur)
    x = sess.ecg
    print(f"simulated ECG: {dur / 60:g} min at {FS:g} Hz ({x.size} samples)")
    _wot(x[: int(600 * FS)], 250)  # warm-up: compile / load the numba caches
    _wot_chunk_us(x, 100)
    warnings.simplefilter("ignore")
    _neurokit(x[: int(400 * FS)])
    _neurokit(x[: int(400 * FS)], "lomb")
    rows = []
    t1 = min(_wot(x, int(FS)) for _ in range(args.repeat))
    rows.append(("wot EcgChannel, 1-s chunks", t1, dur / t1))
    t10 = min(_wot(x, int(10 * FS)) for _ in range(args.repeat))
    rows.append(("wot EcgChannel, 10-s chunks", t10, dur / t10))
    pk, hw = _neurokit(x, "welch")
    tnk = pk + hw
    rows.append(("NeuroKit2 ecg_peaks(correct_artifacts)", pk, dur / pk))
    rows.append(("  + hrv_time, hrv_frequency(welch) 5-min/30 s", tnk, dur / tnk))
    _, hl = _neurokit(x[: int(900 * FS)], "lomb")
    n_win = (x.size - int(300 * FS)) // int(30 * FS) + 1
    n_win_l = (int(900 * FS) - int(300 * FS)) // int(30 * FS) + 1
    tl = pk + hl * n_win / n_win_l
    rows.append(("  (same with hrv_frequency(lomb), scaled)", tl, dur / tl))
    print(f"\n{'path':<46}{'time s':>10}{'x real time':>14}")
    for name, t, rt in rows:
        print(f"{name:<46}{t:>10.3f}{rt:>14,.0f}")
    print(f"\nwot (1-s chunks) is {tnk / t1:,.1f}x faster than the NeuroKit2 Welch path, "
          f"{tl / t1:,.1f}x than its Lomb path")  # fmt: skip
    mean, med, p99 = _wot_chunk_us(x)
    print(f"32-sample chunk (0.128 s) through the full cardiac path: mean {mean:.1f} µs, "
          f"median {med:.1f} µs, 99th percentile {p99:.1f} µs")  # fmt: skip
    print("(20,000 consecutive chunks of a running session, one core)")


if __name__ == "__main__":
    main()
