"""Co-regulation: the physiological synchrony of the people of one session (issue 21).

For each pair of subjects and each signal, the series of both people on the session's frame
grid (``fs`` = the frame rate) go through :func:`wot_biofeedback.dsp.synchrony.synchrony`:

* ``hr``: beat-to-beat heart rate, each NN interval's rate at the middle of the interval,
  linear between beats (the IBI series synchrony studies use; the frames' ``hr_bpm`` is a
  10-s mean, too smooth to show who follows whom by a few seconds); missing across a gap of
  more than 3 s or where the cardiac channel's quality is below 0.5;
* ``eda``: the frames' tonic skin-conductance level ``scl_us`` (its quality gates it);
* ``resp``: the breath-to-breath breathing rate, each breath's at the middle of its cycle
  (missing across 15 s without a breath).

Everything is taken from what the session core produced (frames and events), so a recording
analysed offline gives the values the live session had. A window's ``leader`` is the subject
whose series leads at the peak (``lag_s`` > 0: the second of the pair leads), ``none`` at lag
0; its ``significant`` comes from the surrogate test (see the synchrony module) and a window
without enough data, or without enough past for the test, has ``p`` NaN: nothing is claimed.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from .dsp.synchrony import QUALITY, SIGNALS, SyncParams, SyncResult, event_grid, prepare, synchrony
from .modalities import ROLES, cardiac
from .offline import AnalysisResult

HR_MAX_GAP_S = 3.0
BREATH_MAX_GAP_S = 15.0
SYNC_COLUMNS = ("time_s", "signal", "r", "lag_s", "leader", "p", "significant")


def subject_series(
    res: AnalysisResult, fs: float, n: int, params: SyncParams
) -> dict[str, np.ndarray]:
    """One person's ``hr``, ``eda`` and ``resp`` series on the frame grid (``n`` points)."""
    frames = res.frames
    k = np.rint(frames.times() * fs).astype(np.int64) if len(frames) else np.zeros(0, np.int64)
    keep = (k >= 0) & (k < n)

    def on_grid(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        out[k[keep]] = values[keep]
        return out

    def quality(name: str) -> np.ndarray:
        return on_grid(frames.column(QUALITY[name]))

    out: dict[str, np.ndarray] = {}
    source = next((m for m in cardiac() if res.event(m, "nn_time").size), None)
    hr = np.full(n, np.nan)
    if source is not None:
        t, ms = res.event(source, "nn_time"), res.event(source, "nn_ms")
        good = np.isfinite(ms) & (ms > 0)
        hr = event_grid(t[good] - ms[good] / 2000.0, 60000.0 / ms[good], fs, n, HR_MAX_GAP_S)
    out["hr"] = prepare(hr, quality("hr"), params)
    out["eda"] = prepare(on_grid(frames.column(SIGNALS["eda"])), quality("eda"), params)
    role = ROLES["respiratory"]
    onsets = res.event(role.key, role.event_time)
    rate = np.full(n, np.nan)
    if onsets.size >= 3:
        on = np.sort(onsets)
        rate = event_grid((on[1:] + on[:-1]) / 2.0, 60.0 / np.diff(on), fs, n, BREATH_MAX_GAP_S)
    out["resp"] = prepare(rate, quality("resp"), params)
    return out


def pair_synchrony(
    a: AnalysisResult, b: AnalysisResult, fs: float, params: SyncParams | None = None
) -> dict[str, SyncResult]:
    """Synchrony of two people's results, per signal (lag > 0: ``b`` leads)."""
    params = params or SyncParams()
    n = 1 + int(max(
        (float(r.frames.times()[-1]) for r in (a, b) if len(r.frames)), default=-1.0
    ) * fs + 0.5)  # fmt: skip
    if n <= 0:
        return {s: SyncResult.empty() for s in SIGNALS}
    sa, sb = subject_series(a, fs, n, params), subject_series(b, fs, n, params)
    return {s: synchrony(sa[s], sb[s], fs, params) for s in SIGNALS}


def leader_of(lag_s: np.ndarray, a: str, b: str) -> np.ndarray:
    """The subject that leads at each lag (> 0: ``b``; < 0: ``a``; 0: ``none``)."""
    lag = np.asarray(lag_s)
    return np.where(lag > 0, b, np.where(lag < 0, a, "none"))


def rows(results: Mapping[str, SyncResult], a: str, b: str) -> list[list[Any]]:
    """``synchrony.csv`` rows of one pair (windows with a correlation), in time order."""
    out: list[list[Any]] = []
    for sig, r in results.items():
        lead = leader_of(r.lag_s, a, b)
        for i in np.flatnonzero(np.isfinite(r.r)):
            p = float(r.p[i])
            out.append([
                f"{r.time_s[i]:.2f}", sig, f"{r.r[i]:.4f}", f"{r.lag_s[i]:.2f}", str(lead[i]),
                f"{p:.4f}" if p == p else "", int(r.significant[i]),
            ])  # fmt: skip
    out.sort(key=lambda x: (float(x[0]), list(SIGNALS).index(x[1])))
    return out


def summarize(results: Mapping[str, SyncResult], a: str, b: str) -> dict[str, Any]:
    """Per signal: windows, tested (with a p), significant share, median r and lag of the
    significant ones, and who led them."""
    out: dict[str, Any] = {"pair": [a, b], "signals": {}}
    for sig, r in results.items():
        tested = np.isfinite(r.p)
        sig_w = r.significant
        lead = leader_of(r.lag_s[sig_w], a, b)
        out["signals"][sig] = {
            "windows": int(np.isfinite(r.r).sum()),
            "tested": int(tested.sum()),
            "significant": int(sig_w.sum()),
            "significant_share": round(float(sig_w.sum() / tested.sum()), 4) if tested.any()
            else None,
            "median_r": _median(r.r[sig_w]),
            "median_lag_s": _median(r.lag_s[sig_w]),
            "led_by": {who: int((lead == who).sum()) for who in (a, b, "none")},
        }  # fmt: skip
    return out


def _median(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return round(float(np.median(x)), 4) if x.size else None


def session_synchrony(
    results: Mapping[str, AnalysisResult], fs: float, params: SyncParams | None = None
) -> tuple[list[list[Any]], dict[str, Any]]:
    """Every pair of a session's subjects (in the order given): the ``synchrony.csv`` rows and
    the ``coregulation`` block of ``summary.json``."""
    params = params or SyncParams()
    all_rows: list[list[Any]] = []
    pairs = []
    for a, b in combinations(list(results), 2):
        got = pair_synchrony(results[a], results[b], fs, params)
        pair_rows = rows(got, a, b)
        if len(results) > 2:  # several pairs: say whose window each row is
            pair_rows = [[*r, f"{a}-{b}"] for r in pair_rows]
        all_rows += pair_rows
        pairs.append(summarize(got, a, b))
    block = {
        "method": "windowed lagged cross-correlation, peak picked, against time-shifted "
        "pseudo-pairs (see wot_biofeedback.dsp.synchrony)",
        "params": {k: getattr(params, k) for k in params.__dataclass_fields__},
        "fs": fs,
        "pairs": pairs,
    }
    return all_rows, block
