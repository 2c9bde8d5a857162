"""Reference computations shared by the tests and the validation scripts in ``benchmarks/``
(which put this folder on ``sys.path``, as ``fault_campaign.py`` does): one definition of how a
figure is measured, so a test's assertion and the report's number come from the same code."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def refine_peaks(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Sub-sample R-peak positions by a parabola through the raw ECG (reference only)."""
    idx = idx[(idx > 0) & (idx < x.size - 1)]
    a, b, c = x[idx - 1], x[idx], x[idx + 1]
    den = a - 2 * b + c
    off = np.divide(0.5 * (a - c), den, out=np.zeros_like(den), where=np.abs(den) > 0)
    return idx + np.clip(off, -0.5, 0.5)


def ppg_agreement(r: np.ndarray, p: np.ndarray, start_s: float = 4.0) -> dict[str, float]:
    """Pulses ``p`` against R-peaks ``r`` (s): matched share of clean beats, |PP − RR|."""
    rr = np.diff(r)
    med = np.array([np.median(rr[max(0, i - 10) : i + 11]) for i in range(rr.size)])
    clean = (rr > 0.33) & (rr < 1.5) & (np.abs(rr / med - 1) < 0.2)
    clean &= (r[:-1] > start_s) & (r[:-1] < r[-1] - 1.0)
    owner = np.searchsorted(r + 0.1, p, side="right") - 1
    n_in = np.bincount(owner[owner >= 0], minlength=r.size)
    first = np.full(r.size, np.nan)
    first[owner[::-1][owner[::-1] >= 0]] = p[::-1][owner[::-1] >= 0]
    ptt = first - r
    med_ptt = np.nanmedian(ptt[n_in == 1])
    good = (n_in == 1) & (np.abs(ptt - med_ptt) < 0.1)
    k = np.where(clean & good[:-1] & good[1:])[0]
    diff_ms = np.abs((first[k + 1] - first[k]) - (r[k + 1] - r[k])) * 1000
    return {
        "matched": float(good[:-1][clean].mean()),
        "n": int(clean.sum()),
        "ptt_ms": float(med_ptt * 1000),
        "med_ms": float(np.median(diff_ms)),
        "p95_ms": float(np.percentile(diff_ms, 95)),
        "rmssd_rr": float(np.sqrt(np.mean(np.diff(r[k + 1] - r[k]) ** 2)) * 1000),
        "rmssd_pp": float(np.sqrt(np.mean(np.diff(first[k + 1] - first[k]) ** 2)) * 1000),
    }


def sinus_beats(rng: np.random.Generator, n: int = 600, mean_ms: float = 850.0) -> np.ndarray:
    """Beat times (s) of a sinus rhythm with respiratory and slow variability."""
    k = np.arange(n)
    rr = (
        mean_ms
        + 35.0 * np.sin(2 * np.pi * k / 4.3)
        + 25.0 * np.sin(2 * np.pi * k / 37.0)
        + rng.normal(0, 6.0, n)
    )
    return np.cumsum(rr) / 1000.0


def with_artifacts(t: np.ndarray) -> np.ndarray:
    """Beat times ``t`` with three injected artifacts: beat 100 premature by 0.30 s (an ectopic
    beat with its compensatory pause), beat 250 missed, and an extra beat 0.28 s after beat 399
    (a T wave counted)."""
    beats = list(t)
    beats[100] -= 0.30
    del beats[250]
    beats.insert(400, beats[399] + 0.28)
    return np.array(beats)


def event_f1(det: np.ndarray, truth: np.ndarray, tol: float = 1.0) -> float:
    """F1 of detected vs true event times, one-to-one matches within ``tol`` s."""
    used = np.zeros(truth.size, dtype=bool)
    tp = 0
    for d in np.sort(det):
        cand = np.flatnonzero(~used & (np.abs(truth - d) <= tol))
        if cand.size:
            used[cand[np.argmin(np.abs(truth[cand] - d))]] = True
            tp += 1
    return 2 * tp / max(1, det.size + truth.size)


def window_rate_errors(det: np.ndarray, truth: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """|rate(det) - rate(truth)| in breaths/min over consecutive 60-s windows."""
    out = []
    for a in np.arange(t0, t1 - 59.0, 60.0):
        d = det[(det >= a) & (det < a + 60)]
        t = truth[(truth >= a) & (truth < a + 60)]
        rd = 60.0 / np.mean(np.diff(d)) if d.size > 1 else 0.0
        out.append(abs(rd - 60.0 / np.mean(np.diff(t))))
    return np.asarray(out)


def nsr001_reference_nn(rec: Path) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """nsr001 NN series as the reference was built: times at 1/125 s, normal beats only,
    intervals >20 % from the running mean of the last 5 accepted ones removed."""
    import wfdb

    ann = wfdb.rdann(str(rec), "ecg")
    sym = np.asarray(ann.symbol)
    beat = np.isin(sym, list("NLRBAaJSVrFejnE/fQ?"))
    tb = ann.sample[beat] / 125.0  # the reference's Fs quirk (annotations are at 128 Hz)
    sb = sym[beat]
    rr = np.diff(tb) * 1000.0
    ok = (sb[1:] == "N") & (sb[:-1] == "N") & (rr < 2000.0)
    keep = np.zeros(rr.size, dtype=bool)
    hist: list[float] = []
    for i in np.flatnonzero(ok):
        if hist:
            mu = float(np.mean(hist[-5:]))
            if abs(rr[i] - mu) > 0.2 * mu:
                continue
        keep[i] = True
        hist.append(float(rr[i]))
    non_normal = ann.sample[sym != "N"] / 125.0  # ectopic beats and noise marks
    return tb[0], tb[1:][keep], rr[keep], non_normal


def match_events(ours: np.ndarray, ref: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matches within ``tol``, nearest pairs first: (index in ours, index in ref)."""
    cand = []
    j = np.searchsorted(ours, ref)
    for i, r in enumerate(ref):
        for k in (j[i] - 1, j[i]):
            if 0 <= k < ours.size and abs(ours[k] - r) <= tol:
                cand.append((abs(ours[k] - r), int(k), i))
    used_o: set[int] = set()
    used_r: set[int] = set()
    pairs = []
    for _, k, i in sorted(cand):
        if k not in used_o and i not in used_r:
            used_o.add(k)
            used_r.add(i)
            pairs.append((k, i))
    pairs.sort()
    return (
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
    )
