"""Skin conductance + respiration speed: wot streaming channels against NeuroKit2.

Run on demand (prints a table, asserts nothing)::

    .venv/bin/python benchmarks/bench_eda_resp.py [--minutes 60] [--repeat 3]

Data: a simulated session (``full-session`` scenario repeated to ``--minutes``, realistic noise,
5 % artifacts) rendered at each rate pair below. Timed, in one process, after a warm-up run of
every path, best of ``--repeat``:

* ``wot detectors``: ``eda_scr`` + ``rsp_breaths`` on the whole record (the numba kernels:
  flags, low-pass, driver, tonic/phasic, SCRs, half recovery; band-pass, breaths);
* ``wot streaming detectors``: ``EdaScrDetector`` + ``RespBreathDetector`` fed 1-s and 10-s
  chunks (the same kernels plus the per-call cost of a live update);
* ``wot channels + frames``: ``EdaChannel`` + ``RespChannel`` fed 1-, 10- and 60-s chunks
  (live, replay, ``wot analyze``), producing
  every 0.25-s frame (SCL, slope, drift-aware SCL, SCR rate/amplitude, quality; rate, depth,
  CV, I:E, quality) and all events: what the live engine runs;
* ``NeuroKit2``: ``eda_process`` + ``rsp_process`` on the whole record (offline, zero-phase;
  one pass, no frames).

"× real time" is record duration / processing time on one core.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from wot_simulators import SimConfig, load_scenario, simulate_session

from wot_biofeedback.dsp.channels import EdaChannel
from wot_biofeedback.dsp.eda import EdaScrDetector, eda_scr
from wot_biofeedback.dsp.resp import RespBreathDetector, RespChannel, rsp_breaths

RATES = [(4.0, 25.0), (32.0, 50.0), (100.0, 100.0), (1000.0, 1000.0)]


def _best(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _detectors(eda: np.ndarray, resp: np.ndarray, fe: float, fr: float, chunk_s: float) -> None:
    de, dr = EdaScrDetector(fe), RespBreathDetector(fr)
    ne, nr = int(chunk_s * fe), int(chunk_s * fr)
    for k in range(eda.size // ne + 1):
        de.update(eda[k * ne : (k + 1) * ne])
        dr.update(resp[k * nr : (k + 1) * nr])


def _channels(
    eda: np.ndarray, resp: np.ndarray, fe: float, fr: float, chunk_s: float = 1.0
) -> None:
    ce, cr = EdaChannel(fe), RespChannel(fr)
    ne, nr = int(chunk_s * fe), int(chunk_s * fr)
    for k in range(eda.size // ne + 1):
        ce.update(eda[k * ne : (k + 1) * ne])
        cr.update(resp[k * nr : (k + 1) * nr])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-nk", action="store_true", help="skip NeuroKit2")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    dur = args.minutes * 60.0
    print(f"record: {args.minutes:g} min simulated session; best of {args.repeat}; one core")
    print("| EDA / RESP rate | path | time s | × real time |")
    print("|---|---|---|---|")
    for fe, fr in RATES:
        _one_rate(fe, fr, dur, args.repeat, not args.no_nk)


def _one_rate(fe: float, fr: float, dur: float, repeat: int, with_nk: bool) -> None:
    import neurokit2 as nk

    s = simulate_session(
        load_scenario("full-session"),
        SimConfig(eda_fs=fe, resp_fs=fr, ecg_fs=100.0, seed=1, noise=1.0, artifacts=0.05),
        duration_s=dur,
    )
    eda, resp = s.eda, s.resp
    # warm-up (compiles or loads the numba cache)
    eda_scr(eda[: int(60 * fe)], fe)
    rsp_breaths(resp[: int(60 * fr)], fr)
    _channels(eda[: int(60 * fe)], resp[: int(60 * fr)], fe, fr)
    label = f"{fe:g} / {fr:g} Hz"
    t = _best(lambda: (eda_scr(eda, fe), rsp_breaths(resp, fr)), repeat)
    print(f"| {label} | wot detectors, whole record | {t:.3f} | {dur / t:,.0f} |")
    for c in (1.0, 10.0):
        t = _best(lambda c=c: _detectors(eda, resp, fe, fr, c), repeat)
        print(f"| {label} | wot streaming detectors, {c:g}-s chunks | {t:.3f} | {dur / t:,.0f} |")
    for c in (1.0, 10.0, 60.0):
        t = _best(lambda c=c: _channels(eda, resp, fe, fr, c), repeat)
        print(f"| {label} | wot channels + frames, {c:g}-s chunks | {t:.3f} | {dur / t:,.0f} |")
    if not with_nk or fe < 10:
        return  # NK2's EDA filter needs a lab rate
    n = min(eda.size, int(15 * 60 * fe))  # NK2 on 15 min, scaled
    e15, r15 = eda[:n], resp[: int(n / fe * fr)]
    t = _best(
        lambda: (nk.eda_process(e15, sampling_rate=fe), nk.rsp_process(r15, sampling_rate=fr)), 1
    )
    print(f"| {label} | NeuroKit2 eda_process + rsp_process (15 min) | {t:.3f} | "
          f"{(n / fe) / t:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
