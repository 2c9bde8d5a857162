"""Cost of the frequency-domain HRV kernels, and batch HRV against NeuroKit2.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_hrv_freq.py [--repeat 5]

Rows (best of ``--repeat``, ``time.perf_counter``, after a warm-up call of every kernel):

* ``lomb_add`` per beat: inside one njit loop over 20,000 beats (what a caller's own kernel pays)
  and per call from Python (dispatch included);
* ``lomb_psd`` + ``band_powers`` per evaluation on the default 240-bin grid, the same two ways;
* the projected cardiac-channel cost for one hour: 2 × 4,500 ``lomb_add`` + 14,400 evaluations;
* ``StreamingWelch`` per completed segment (resampling + one periodogram), for nfft 4096 and
  1024, and ``welch_periodogram`` alone;
* batch ``hrv_frequency`` (lomb, welch) against ``nk.hrv_frequency`` on one 5-min window of
  pyhrv's sample NN series (NeuroKit2 and, for its Lomb, astropy needed; the shared data folder
  is used when present, else a synthetic series).

The thread-count variables are set to 1 before numpy is imported.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from wot_biofeedback.dsp import hrv_freq as H  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@numba.njit(cache=False)
def _eval_loop(acc, tot, omega, freqs, psd, bands, n):
    for _ in range(n):
        H.lomb_psd(acc, tot, omega, psd)
        H.band_powers(freqs, psd, bands)


def nn_series() -> tuple[np.ndarray, str]:
    d = Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))
    f = d / "pyhrv" / "SampleNNISeriesLong.npy"
    if f.is_file():
        return np.load(f).astype(float), "pyhrv SampleNNISeriesLong.npy"
    rng = np.random.default_rng(1)
    y = 800.0 + 50.0 * rng.standard_normal(4700)
    return y, "synthetic (shared data not found)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rep = max(1, args.repeat)

    print("frequency-domain HRV benchmark (benchmarks/bench_hrv_freq.py)")
    print(
        f"machine : {platform.platform()}; {os.cpu_count()} cores; Python "
        f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
    )
    t0 = time.perf_counter()
    H.warm_up()
    print(f"warm-up : {time.perf_counter() - t0:.2f} s (compile or load every kernel)")
    nn, src = nn_series()
    t = np.cumsum(nn) / 1000.0
    print(f"data    : {src}, {nn.size} beats, {t[-1]:.0f} s; timings best of {rep}\n")

    rows: list[tuple[str, float, str]] = []
    freqs, omega = H.lomb_grid()
    nf = freqs.size

    # lomb_add per beat.
    rng = np.random.default_rng(0)
    yb = 800.0 + 50.0 * rng.standard_normal(20_000)
    tb = np.cumsum(yb) / 1000.0 + 5.0e4
    acc = np.zeros((nf, H.LOMB_NSUM))
    tot = np.zeros(3)
    H.lomb_add_many(acc, tot, omega, tb[:10], yb[:10], 1.0)
    dt = best(lambda: H.lomb_add_many(acc, tot, omega, tb, yb, 1.0), rep)
    add_us = dt / tb.size * 1e6
    rows.append((f"lomb_add per beat, njit loop ({nf} bins)", add_us, "us"))
    n_py = 2000
    dt = best(lambda: [H.lomb_add(acc, tot, omega, tb[i], yb[i], 1.0) for i in range(n_py)], rep)
    rows.append(("lomb_add per call from Python", dt / n_py * 1e6, "us"))

    # lomb_psd + band_powers per evaluation (a 300-s window of the real series).
    sel = t < 300.0
    acc[:] = 0.0
    tot[:] = 0.0
    H.lomb_add_many(acc, tot, omega, t[sel], nn[sel], 1.0)
    psd = np.empty(nf)
    bands = np.empty(H.N_BAND_OUT)
    _eval_loop(acc, tot, omega, freqs, psd, bands, 1)
    n_eval = 20_000
    dt = best(lambda: _eval_loop(acc, tot, omega, freqs, psd, bands, n_eval), rep)
    eval_us = dt / n_eval * 1e6
    rows.append(("lomb_psd + band_powers per evaluation, njit loop", eval_us, "us"))

    def py_eval() -> None:
        for _ in range(n_py):
            H.lomb_psd(acc, tot, omega, psd)
            H.band_powers(freqs, psd, bands)

    dt = best(py_eval, rep)
    rows.append(("lomb_psd + band_powers per call from Python", dt / n_py * 1e6, "us"))
    hour_ms = (2 * 4500 * add_us + 14_400 * eval_us) / 1e3
    rows.append(("cardiac hour: 9,000 lomb_add + 14,400 evaluations", hour_ms, "ms"))
    rows.append(("  = x real time (Lomb part alone)", 3600.0 / (hour_ms / 1e3), "x"))

    # Streaming Welch per segment.
    for nfft in (4096, 1024):

        def feed(nfft: int = nfft) -> None:
            H.StreamingWelch(nfft=nfft).add(t, nn)

        dt = best(feed, rep)
        w1 = H.StreamingWelch(nfft=nfft)
        w1.add(t, nn)
        nseg = w1.segment_starts.size
        rows.append(
            (f"StreamingWelch per segment, nfft {nfft} ({nseg} segments)", dt / nseg * 1e6, "us")
        )
        st = H.welch_state(nfft=nfft)
        x = 800.0 + 50.0 * rng.standard_normal(st.win.size)
        out = np.empty(H.welch_freqs(nfft).size)
        scale = float(st.wf[H.WF_SCALE])
        args_p = (x, st.win, st.cos_tab, st.sin_tab, scale, st.work, out)
        H.welch_periodogram(*args_p)
        n_p = 200

        def periodograms(args_p: tuple = args_p, n_p: int = n_p) -> None:
            for _ in range(n_p):
                H.welch_periodogram(*args_p)

        dt = best(periodograms, rep)
        rows.append(
            (f"  welch_periodogram alone, nfft {nfft} ({out.size} bins)", dt / n_p * 1e6, "us")
        )

    # Batch on a 5-min window, ours vs NeuroKit2.
    y5 = nn[sel]
    peaks = np.concatenate([[0], np.cumsum(y5)]).astype(int)
    t5 = peaks[1:] / 1000.0
    y5 = np.diff(peaks).astype(float)
    dt = best(lambda: H.hrv_frequency(y5, "lomb", t5), rep)
    rows.append((f"hrv_frequency lomb, 5-min window ({y5.size} beats)", dt * 1e3, "ms"))
    dt = best(lambda: H.hrv_frequency(y5, "welch", t5), rep)
    rows.append(("hrv_frequency welch, 5-min window", dt * 1e3, "ms"))
    try:
        import neurokit2 as nk
    except ImportError:
        nk = None
        print("(neurokit2 not installed: NeuroKit2 rows skipped; pip install -e '.[bench]')")
    if nk is not None:
        calls: list[tuple[str, dict[str, object]]] = [("welch (default)", {})]
        try:
            import astropy  # noqa: F401

            calls += [
                ("lomb", {"psd_method": "lomb"}),
                (
                    "lomb, interpolation_rate=None",
                    {"psd_method": "lomb", "interpolation_rate": None},
                ),
            ]
        except ImportError:
            print("(astropy not installed: NeuroKit2 Lomb rows skipped)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for label, kw in calls:
                nk.hrv_frequency(peaks, sampling_rate=1000, **kw)
                dt = best(lambda kw=kw: nk.hrv_frequency(peaks, sampling_rate=1000, **kw), rep)
                rows.append((f"nk.hrv_frequency {label}, same window", dt * 1e3, "ms"))

    width = max(len(r[0]) for r in rows)
    print(f"{'what':{width}s}  {'time':>10s}  unit")
    print(f"{'-' * width}  {'-' * 10}  ----")
    for name, val, unit in rows:
        print(
            f"{name:{width}s}  {val:10.3f}  {unit}"
            if unit != "x"
            else f"{name:{width}s}  {val:10,.0f}  x"
        )


if __name__ == "__main__":
    main()
