"""Beat-interval artifact correction and time-domain heart-rate variability.

Artifact correction follows Lipponen & Tarvainen (2019), the method behind Kubios' automatic
correction, made causal with a look-ahead of two beats:

* ``dRR`` (successive differences) and ``mRR`` (deviation from the median of the 11 intervals
  ``i-8 .. i+2``; negative deviations doubled) are normalised by time-varying thresholds
  ``alpha x QD`` (quartile deviation over the last 91 values, ``alpha = 5.2``). The paper's
  windows are centred; here they end at the look-ahead, which is what a live engine can know.
* The decision rules are the paper's (Figure 1 there; constants ``c1 = 0.13``, ``c2 = 0.17``):
  an interval is *ectopic* when ``dRR`` and its neighbours form the short-long (or long-short)
  pattern; *missed* when a long interval is about twice the local median; *extra* when a short
  interval plus the next one make up about one median interval; otherwise *long/short* when its
  ``dRR`` or ``mRR`` is out of range.
* Corrections: ectopic and long/short intervals are replaced by the local median; a missed beat
  splits its interval in two (one virtual beat inserted half-way); an extra beat is removed and
  its interval merged into the next. Every row that was changed carries its artifact class.
* Intervals that span a signal gap, or that remain outside 250-2500 ms after correction, are
  *excluded*: they get no NN value and break the successive-difference chain.

Each input beat's row is final (``nn_ms`` and ``kind``) once two further beats have arrived, or
at :meth:`RRCorrector.flush`. Streaming output equals the batch function for any chunking.

References
----------
Lipponen JA, Tarvainen MP (2019). A robust algorithm for heart rate variability time series
artefact correction using novel beat classification. J Med Eng Technol 43(3):173-181.
Task Force of the ESC and NASPE (1996). Heart rate variability: standards of measurement.
Circulation 93(5).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..checks import as_1d_float
from ..errors import InputError
from ._numba import njit

RR_MIN_MS = 250.0
RR_MAX_MS = 2500.0

# artifact classes (``kind`` codes) and their names in rr.csv
NORMAL, ECTOPIC, MISSED, EXTRA, LONGSHORT, EXCLUDED = range(6)
KIND_NAMES = ("normal", "ectopic", "missed", "extra", "longshort", "excluded")

_RING = 128  # raw-interval history kept (>= 91 + look-ahead); a power of two
_LOOKAHEAD = 2
_WIN_QD = 91
_WIN_MED = 11

# int state slots: beats received, rows decided, last beat index decided, a merge is pending
_I_NB, _I_ND, _I_MERGE = 0, 1, 2
# parameter slots
_P_ALPHA, _P_C1, _P_C2, _P_MIN_TH, _P_MIN_MS, _P_MAX_MS = range(6)


@njit
def _select(s: np.ndarray, lo: int, hi: int, k: int) -> float:
    """Reorder ``s[lo:hi]`` so that ``s[k]`` holds its k-th smallest value, nothing larger
    before it and nothing smaller after it (Hoare's quickselect); returns ``s[k]``. The value
    is the one a full sort would put there, in O(n) on average."""
    while hi - lo > 1:
        a, b, c = s[lo], s[(lo + hi - 1) // 2], s[hi - 1]
        if a > b:
            a, b = b, a
        pivot = max(a, min(b, c))  # the median of the three
        i, j = lo, hi - 1
        while i <= j:
            while s[i] < pivot:
                i += 1
            while s[j] > pivot:
                j -= 1
            if i <= j:
                s[i], s[j] = s[j], s[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            break  # s[j+1:i] all equal the pivot
    return s[k]


@njit
def _min_from(s: np.ndarray, lo: int, hi: int) -> float:
    """The smallest of ``s[lo:hi]`` (after :func:`_select` of ``lo - 1``: the next order
    statistic)."""
    v = s[lo]
    for j in range(lo + 1, hi):
        if s[j] < v:
            v = s[j]
    return v


@njit
def _quantile_pair(s: np.ndarray, n: int, p: float, lo_from: int) -> tuple[float, int]:
    """The p-quantile of ``s[:n]`` with linear interpolation between the order statistics at
    ``floor(p (n - 1))`` and the next (``np.quantile``'s default), found by selection;
    ``s[:lo_from]`` must hold the ``lo_from`` smallest values already. Returns the quantile
    and the index of its lower order statistic (nothing before it is larger)."""
    pos = p * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    v_lo = _select(s, lo_from, n, lo)
    v_hi = _min_from(s, hi, n) if hi > lo else v_lo
    return v_lo + (pos - lo) * (v_hi - v_lo), lo


@njit
def _qd(vals: np.ndarray, n: int, scratch: np.ndarray) -> float:
    """Quartile deviation (Q3 - Q1) / 2 of ``vals[:n]`` (linear interpolation), by selection
    rather than sorting: the same order statistics, so the same value to the bit, at a
    fraction of the cost (two of these per beat were the corrector's main cost)."""
    if n <= 0:
        return 0.0
    for k in range(n):
        scratch[k] = vals[k]
    q1, k1 = _quantile_pair(scratch, n, 0.25, 0)
    # the upper quartile's order statistic is at or after k1: select it among what follows
    q3, _ = _quantile_pair(scratch, n, 0.75, min(k1 + 1, math.floor(0.75 * (n - 1))))
    return 0.5 * (q3 - q1)


@njit
def _median(vals: np.ndarray, n: int, scratch: np.ndarray) -> float:
    if n <= 0:
        return math.nan
    for k in range(n):
        scratch[k] = vals[k]
    if n % 2 == 1:
        return _select(scratch, 0, n, n // 2)
    lo = _select(scratch, 0, n, n // 2 - 1)
    return 0.5 * (lo + _min_from(scratch, n // 2, n))


@njit
def _dnorm(r_rr: np.ndarray, j: int, nb: int, th: float) -> float:
    """Normalised dRR of interval ``j`` (0 where it or its predecessor is unknown)."""
    ring = r_rr.shape[0]
    if j < 1 or j >= nb or j - 1 < nb - ring:
        return 0.0
    a = r_rr[j % ring]
    b = r_rr[(j - 1) % ring]
    if math.isnan(a) or math.isnan(b):
        return 0.0
    return (a - b) / th


@njit
def _decide(
    ist: np.ndarray,
    prm: np.ndarray,
    r_t: np.ndarray,
    r_rr: np.ndarray,
    r_gap: np.ndarray,
    r_conf: np.ndarray,
    r_m: np.ndarray,
    r_kind: np.ndarray,
    i: int,
    conf: int,
    out_t: np.ndarray,
    out_rr: np.ndarray,
    out_nn: np.ndarray,
    out_kind: np.ndarray,
    out_conf: np.ndarray,
    n_out: int,
    scratch: np.ndarray,
    buf: np.ndarray,
) -> int:
    """Decide the row of beat ``i`` (its interval ends at beat ``i``); return the new n_out."""
    nb = ist[_I_NB]
    mask = r_t.shape[0] - 1  # the rings' length is a power of two: j & mask == j % length
    k = i & mask
    rr = r_rr[k]
    t = r_t[k]
    kind = NORMAL
    nn = rr
    if ist[_I_MERGE] == 1:  # the previous beat was extra: this interval absorbed it
        ist[_I_MERGE] = 0
        kind = EXTRA
    if math.isnan(rr) or r_gap[k] != 0:
        r_m[k] = math.nan
        out_t[n_out] = t
        out_rr[n_out] = rr
        out_nn[n_out] = math.nan
        out_kind[n_out] = EXCLUDED
        out_conf[n_out] = conf
        r_kind[k] = EXCLUDED
        return n_out + 1
    # median of the 11 intervals i-8 .. i+2 (what is known), raw values
    m = 0
    for j in range(max(0, i - _WIN_MED + 1 + _LOOKAHEAD), min(nb, i + _LOOKAHEAD + 1)):
        v = r_rr[j & mask]
        if not math.isnan(v):
            buf[m] = v
            m += 1
    med = _median(buf, m, scratch)
    mrr = rr - med
    if mrr < 0:
        mrr *= 2.0
    r_m[k] = mrr
    # thresholds: alpha x quartile deviation of |dRR| and |mRR| over the last 91 intervals
    # (raw values, as in the paper: quartiles stay put while fewer than ~25 % are artifacts;
    # excluding flagged intervals instead would truncate the distribution and feed back)
    lo = max(1, i + _LOOKAHEAD + 1 - _WIN_QD)
    m = 0
    for j in range(lo, min(nb, i + _LOOKAHEAD + 1)):
        a = r_rr[j & mask]
        b = r_rr[(j - 1) & mask]
        if not (math.isnan(a) or math.isnan(b)):
            buf[m] = abs(a - b)
            m += 1
    n_hist = m
    warm = 0.15 * med if n_hist < 16 else 0.0
    th1 = max(prm[_P_ALPHA] * _qd(buf, m, scratch), prm[_P_MIN_TH], warm)
    m = 0
    for j in range(max(0, i + 1 - _WIN_QD), i + 1):
        v = r_m[j & mask]
        if not math.isnan(v):
            buf[m] = abs(v)
            m += 1
    th2 = max(prm[_P_ALPHA] * _qd(buf, m, scratch), prm[_P_MIN_TH], warm)
    # normalised dRR at i-1 .. i+2 (0 where undefined)
    dm1 = _dnorm(r_rr, i - 1, nb, th1)
    d0 = _dnorm(r_rr, i, nb, th1)
    dp1 = _dnorm(r_rr, i + 1, nb, th1)
    dp2 = _dnorm(r_rr, i + 2, nb, th1)
    mn = mrr / th2
    c1 = prm[_P_C1]
    c2 = prm[_P_C2]
    if abs(d0) > 1.0 or abs(mn) > 3.0:
        s12 = max(dm1, dp1) if d0 > 0 else min(dm1, dp1)
        s22 = min(dp1, dp2) if d0 >= 0 else max(dp1, dp2)
        ectopic = (d0 > 1.0 and s12 < -c1 * d0 - c2) or (d0 < -1.0 and s12 > -c1 * d0 + c2)
        if ectopic:
            kind = ECTOPIC
            nn = med
        else:
            eq3 = d0 > 1.0 and s22 < -1.0
            eq4 = abs(mn) > 3.0
            eq5 = d0 < -1.0 and s22 > 1.0
            if eq3 or eq4 or eq5:
                nxt = r_rr[(i + 1) & mask] if i + 1 < nb else math.nan
                if eq5 and not math.isnan(nxt) and abs(rr + nxt - med) < th2:
                    # extra beat: drop this beat, merge its interval into the next one
                    r_rr[(i + 1) & mask] = rr + nxt
                    ist[_I_MERGE] = 1
                    out_t[n_out] = t
                    out_rr[n_out] = rr
                    out_nn[n_out] = math.nan
                    out_kind[n_out] = EXTRA
                    out_conf[n_out] = conf
                    r_kind[k] = EXTRA
                    return n_out + 1
                if eq3 and abs(0.5 * rr - med) < th2:
                    # missed beat: insert a virtual beat half-way
                    half = 0.5 * rr
                    out_t[n_out] = t - half / 1000.0
                    out_rr[n_out] = math.nan
                    out_nn[n_out] = half
                    out_kind[n_out] = MISSED
                    out_conf[n_out] = conf
                    n_out += 1
                    kind = MISSED
                    nn = half
                else:
                    kind = LONGSHORT
                    nn = med
    if not (prm[_P_MIN_MS] <= nn <= prm[_P_MAX_MS]):
        kind = EXCLUDED
        nn = math.nan
    out_t[n_out] = t
    out_rr[n_out] = rr
    out_nn[n_out] = nn
    out_kind[n_out] = kind
    out_conf[n_out] = conf
    r_kind[k] = kind
    return n_out + 1


@njit
def _rr_correct(
    t_in: np.ndarray,
    gap_in: np.ndarray,
    conf_in: np.ndarray,
    flush: bool,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    r_t: np.ndarray,
    r_rr: np.ndarray,
    r_gap: np.ndarray,
    r_conf: np.ndarray,
    r_m: np.ndarray,
    r_kind: np.ndarray,
    scratch: np.ndarray,
    buf: np.ndarray,
    out_t: np.ndarray,
    out_rr: np.ndarray,
    out_nn: np.ndarray,
    out_kind: np.ndarray,
    out_conf: np.ndarray,
) -> int:
    ring = r_t.shape[0]
    n_out = 0
    for q in range(t_in.shape[0]):
        nb = ist[_I_NB]
        k = nb % ring
        r_t[k] = t_in[q]
        r_rr[k] = (t_in[q] - fst[0]) * 1000.0 if nb > 0 else math.nan
        r_gap[k] = gap_in[q]
        r_conf[k] = conf_in[q]
        r_m[k] = math.nan
        r_kind[k] = -1
        fst[0] = t_in[q]
        ist[_I_NB] = nb + 1
        i = nb - _LOOKAHEAD
        if i >= 0:
            n_out = _decide(
                ist, prm, r_t, r_rr, r_gap, r_conf, r_m, r_kind, i, conf_in[q],
                out_t, out_rr, out_nn, out_kind, out_conf, n_out, scratch, buf,
            )  # fmt: skip
            ist[_I_ND] = i + 1
    if flush:
        conf = r_conf[(ist[_I_NB] - 1) % ring] if ist[_I_NB] > 0 else 0
        for i in range(ist[_I_ND], ist[_I_NB]):
            n_out = _decide(
                ist, prm, r_t, r_rr, r_gap, r_conf, r_m, r_kind, i, conf,
                out_t, out_rr, out_nn, out_kind, out_conf, n_out, scratch, buf,
            )  # fmt: skip
        ist[_I_ND] = ist[_I_NB]
    return n_out


class RRCorrector:
    """Streaming beat-interval artifact correction (causal Lipponen & Tarvainen, 2019).

    Parameters
    ----------
    alpha : float
        Threshold factor on the quartile deviation (5.2 in the paper).
    min_threshold_ms : float
        Floor of both thresholds, ms, so a very regular rhythm (or coarse timestamps) does not
        turn every small change into an artifact.
    rr_range_ms : (float, float)
        Physiological range; corrected intervals outside it are excluded.

    Notes
    -----
    :meth:`update` takes beat times (s), a flag per beat saying the signal had a gap since the
    previous beat, and a confirmation key per beat (e.g. the sample index at which the beat was
    confirmed). It returns the rows decided by this call as a dict of arrays: ``time_s``
    (beat time), ``rr_ms`` (detected interval, NaN for an inserted beat), ``nn_ms`` (the value
    to use, NaN when excluded or removed), ``kind`` (see :data:`KIND_NAMES`) and ``confirm``
    (the key of the beat whose arrival made the row final).
    """

    lookahead_beats = _LOOKAHEAD

    def __init__(
        self,
        alpha: float = 5.2,
        min_threshold_ms: float = 15.0,
        rr_range_ms: tuple[float, float] = (RR_MIN_MS, RR_MAX_MS),
    ) -> None:
        self._prm = np.array(
            [alpha, 0.13, 0.17, min_threshold_ms, float(rr_range_ms[0]), float(rr_range_ms[1])]
        )
        self._fst = np.zeros(1)
        self._ist = np.zeros(3, dtype=np.int64)
        self._r_t = np.zeros(_RING)
        self._r_rr = np.full(_RING, np.nan)
        self._r_gap = np.zeros(_RING, dtype=np.int64)
        self._r_conf = np.zeros(_RING, dtype=np.int64)
        self._r_m = np.full(_RING, np.nan)
        self._r_kind = np.full(_RING, -1, dtype=np.int64)
        self._scratch = np.empty(_RING)
        self._buf = np.empty(_RING)

    def update(
        self,
        times_s: np.ndarray,
        gap: np.ndarray | None = None,
        confirm: np.ndarray | None = None,
        flush: bool = False,
    ) -> dict[str, np.ndarray]:
        """Add beats; return the rows that became final."""
        t = as_1d_float(times_s, "beat times")
        g = np.zeros(t.size, dtype=np.int64) if gap is None else np.asarray(gap, dtype=np.int64)
        c = np.arange(t.size, dtype=np.int64) if confirm is None else np.asarray(confirm, np.int64)
        if g.shape != t.shape or c.shape != t.shape:
            raise InputError(
                f"{t.size} beat times need as many gap flags and confirmations "
                f"(got {g.size} and {c.size})"
            )
        if t.size and not (np.isfinite(t).all() and np.all(np.diff(t) > 0)):
            raise InputError("beat times must be finite and strictly increasing")
        if t.size and self._ist[_I_NB] > 0 and not t[0] > self._fst[0]:
            raise InputError(
                f"beat time {t[0]:.4f} s is not after the previous beat ({self._fst[0]:.4f} s)"
            )
        return self._run(t, g, c, flush)

    def _run(
        self, t: np.ndarray, g: np.ndarray, c: np.ndarray, flush: bool = False
    ) -> dict[str, np.ndarray]:
        """:meth:`update` for input already checked (float64 times, int64 flags and keys)."""
        cap = 2 * (t.size + _LOOKAHEAD + 1)
        out_t = np.empty(cap)
        out_rr = np.empty(cap)
        out_nn = np.empty(cap)
        out_kind = np.empty(cap, dtype=np.int64)
        out_conf = np.empty(cap, dtype=np.int64)
        k = _rr_correct(
            t, g, c, flush, self._fst, self._ist, self._prm,
            self._r_t, self._r_rr, self._r_gap, self._r_conf, self._r_m, self._r_kind,
            self._scratch, self._buf, out_t, out_rr, out_nn, out_kind, out_conf,
        )  # fmt: skip
        return {
            "time_s": out_t[:k],
            "rr_ms": out_rr[:k],
            "nn_ms": out_nn[:k],
            "kind": out_kind[:k],
            "confirm": out_conf[:k],
        }

    def flush(self) -> dict[str, np.ndarray]:
        """Decide the beats still waiting for look-ahead (end of a record)."""
        return self.update(np.empty(0), flush=True)


def rr_correct(
    rr_ms: np.ndarray | None = None, *, times_s: np.ndarray | None = None, **options: float
) -> dict[str, np.ndarray]:
    """Batch artifact correction of a beat series (same code as :class:`RRCorrector`).

    Parameters
    ----------
    rr_ms : array, optional
        Intervals, ms; beat times are their cumulative sum (first beat at ``rr_ms[0]``).
    times_s : array, optional
        Beat times, s (instead of ``rr_ms``).
    **options
        Passed to :class:`RRCorrector`.

    Returns
    -------
    dict
        Rows as described in :class:`RRCorrector` (the first beat has no interval and is
        ``excluded``).
    """
    if (rr_ms is None) == (times_s is None):
        raise InputError("give exactly one of rr_ms or times_s")
    if times_s is None:
        rr = as_1d_float(rr_ms, "rr_ms")
        # a NaN or non-positive interval is a gap: its duration is unknown, so the interval
        # after it is excluded and the times continue from the next valid one
        ok = np.isfinite(rr) & (rr > 0)
        t = np.concatenate(([0.0], np.cumsum(np.where(ok, rr, 0.0))[ok] / 1000.0))
        gap = np.zeros(t.size, dtype=np.int64)
        gap[1:] = np.concatenate(([False], ~ok[:-1]))[ok]
    else:
        t = as_1d_float(times_s, "times_s")
        gap = None
    return RRCorrector(**options).update(t, gap, flush=True)  # type: ignore[arg-type]


def hrv_time(rr_ms: np.ndarray) -> Mapping[str, float]:
    """Time-domain HRV of a series of normal-to-normal intervals.

    Parameters
    ----------
    rr_ms : array
        NN intervals, ms (already corrected). NaN marks an excluded interval: it is left out,
        and so are the successive differences it takes part in.

    Returns
    -------
    dict
        ``mean_nn_ms``: mean NN interval, ms; ``mean_hr_bpm``: mean of 60000/NN, bpm;
        ``sdnn_ms``: standard deviation of NN (ddof=1), ms; ``rmssd_ms``: root mean square of
        successive differences, ms; ``pnn50``: percentage of successive differences > 50 ms, %.
    """
    rr = as_1d_float(rr_ms, "rr_ms")
    d = np.diff(rr)
    d = d[np.isfinite(d)]
    rr = rr[np.isfinite(rr)]
    out = dict.fromkeys(("mean_nn_ms", "mean_hr_bpm", "sdnn_ms", "rmssd_ms", "pnn50"), np.nan)
    if rr.size >= 1:
        out["mean_nn_ms"] = float(rr.mean())
        out["mean_hr_bpm"] = float(np.mean(60000.0 / rr))
    if rr.size >= 2:
        out["sdnn_ms"] = float(rr.std(ddof=1))
    if d.size >= 1:
        out["rmssd_ms"] = float(np.sqrt(np.mean(d**2)))
        out["pnn50"] = float(100.0 * np.mean(np.abs(d) > 50.0))
    return out
