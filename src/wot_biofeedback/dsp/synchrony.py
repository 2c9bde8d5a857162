"""Physiological synchrony of two people: windowed lagged cross-correlation with peak picking,
tested against pseudo-pairs from the session's own past.

Method
------
Two series on one clock at the frame rate (heart rate, skin conductance level or breathing
rate of person A and person B) are compared every ``step_s`` over the last ``window_s``
(windowed cross-correlation, Boker et al. 2002), causally: at lag ``k >= 0`` (B leads A by
``k`` samples) A's last window is paired with B's window ``k`` samples earlier; at ``k < 0``
B's last window with A's window ``|k|`` samples earlier; ``|k|`` up to ``max_lag_s``. Each
pair's correlation is a *partial* correlation given time, i.e. both windows are linearly
detrended first: slow drifts that two people share by chance (two warming rooms, two sensors
settling) are left out, as the literature advises (Behrens et al. 2020). Pairs with fewer than
``min_valid`` (80 %) of their samples present in both series are not scored. The peak (the
highest correlation over the lags; synchrony is in-phase) gives ``r``, its lag (s; > 0: B
leads) and its Fisher z.

Significance. Real physiology is autocorrelated, so even two people who never met correlate
strongly in some windows ("pseudo-synchrony"; Ramseyer & Tschacher 2010; Moulder et al.
2018). Each window's peak is therefore compared with the peaks of pseudo-pairs built from the
same two series: A's window against B's from ``d`` seconds earlier, and B's against A's from
``d`` earlier, for ``d`` = ``shift_s``, ``shift_s + shift_step_s``, ... (time-shifted
surrogates: each person's own dynamics kept, the pairing in time broken), up to
``n_surrogates`` and only as far back as the session goes, so it runs on the fly from the
session's own history. ``p`` is ``(1 + #pseudo-peaks >= r) / (1 + n)``; the pseudo-pairs are
drawn in a fixed order and no more once ``stop_after`` of them reach the peak (``p`` is then
``stop_after / n``: Besag & Clifford's sequential Monte Carlo p, which saves most of the work
in windows that are plainly not in sync). With fewer than ``min_surrogates`` pseudo-pairs (the
first 140 s; skin conductance 200 s) ``p`` is NaN and nothing is claimed. ``significant``:
``p <= alpha``.

The shifts are 6 s apart: pseudo-pairs 1 s apart are nearly the same draw, and with them the
test called about 10 % of the heart-rate windows of uncoupled simulated pairs significant
(nominal 5 %); 6 s apart, 3-5 % (``benchmarks/validate_synchrony.py``, 20-min uncoupled
dyads). The peak is searched at every second lag
and refined beside the best (the cross-correlation of frame-rate series is smooth at one
sample); the pseudo-pairs are searched the same way, so the test stays fair.

Defaults: a 30-s window (Behrens et al. 2020 found shorter windows separate synchrony from
pseudo-synchrony better; 60-s windows found more of the simulated coupling here but called
7.3 % of the heart-rate windows of one real unrelated pair significant), except for the
skin-conductance level, whose window is 60 s (``signal_window_s``): the level is slow (its
estimate rises with a 20-s time constant, so that responses stay phasic), and a 30-s window
holds about one of its excursions. On the simulated dyads 60-s windows found the coupling in
94 % of the coupled windows where 30-s windows found 82 %; on 16 pairs of real recordings of
people who never met they called 4.0 % of the windows significant (30 s: 3.9 %; one pair
10.9 %, 4.3 % with 30-s windows; ``benchmarks/validate_synchrony.py``). A step of 5 s
(live; analyses often step by half a window), lags up to 10 s (physiological responses to a
partner take seconds; the co-regulation literature reports lags of 2-8 s), pseudo-pairs
shifted by 45 s and more (past the window and its lags; for a signal with a longer window of
its own, by as much more: 75 s for skin conductance), at most 100 of them (50 shifts, both
directions), alpha 0.05.

The batch function :func:`synchrony` and the streaming :class:`SynchronyStream` run the same
kernel on the same windows: their output is identical for any chunking.

References
----------
Boker SM, Xu M, Rotondo JL, King K (2002). Windowed cross-correlation and peak picking for the
analysis of variability in the association between behavioral time series. Psychol Methods
7(3):338-355.
Ramseyer F, Tschacher W (2010). Nonverbal synchrony or random coincidence? How to tell the
difference. In: Development of Multimodal Interfaces, LNCS 5967, 182-196.
Moulder RG, Boker SM, Ramseyer F, Tschacher W (2018). Determining synchrony between
behavioral time series: an application of surrogate data generation for establishing falsifiable
null-hypotheses. Psychol Methods 23(4):757-773.
Behrens F, Moulder RG, Boker SM, Kret ME (2020). Quantifying physiological synchrony through
windowed cross-correlation analysis: statistical and theoretical considerations. bioRxiv
2020.08.27.269746.
Tschacher W, Meier D (2020). Physiological synchrony in psychotherapy sessions. Psychother
Res 30(5):558-573.
Besag J, Clifford P (1991). Sequential Monte Carlo p-values. Biometrika 78(2):301-304.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..modalities import ROLES, SYNC_SIGNALS
from ._numba import njit

_FEATURE = {"cardiac": "hr_bpm", "electrodermal": "scl_us", "respiratory": "resp_rate_bpm"}
SIGNALS = {SYNC_SIGNALS[role]: feature for role, feature in _FEATURE.items()}
"""The signals compared (``hr``, ``eda``, ``resp``), and the frame feature each is taken from:
heart rate, skin conductance level, breathing rate."""
QUALITY = {SYNC_SIGNALS[role]: ROLES[role].quality for role in _FEATURE}
"""The frame's quality of each signal's channel; below ``min_quality`` a sample counts as
missing."""


@dataclass(frozen=True)
class SyncParams:
    """Window, step, lags and the surrogate test (see the module text)."""

    window_s: float = 30.0
    step_s: float = 5.0
    max_lag_s: float = 10.0
    shift_s: float = 45.0
    shift_step_s: float = 6.0
    n_surrogates: int = 100
    min_surrogates: int = 19
    stop_after: int = 5
    alpha: float = 0.05
    min_valid: float = 0.8
    min_quality: float = 0.5
    signal_window_s: tuple[tuple[str, float], ...] = ((SYNC_SIGNALS["electrodermal"], 60.0),)
    """Signals with a window of their own instead of ``window_s``, as (signal, s) pairs:
    the skin-conductance level, a slow signal, 60 s (see the module text)."""

    def __post_init__(self) -> None:
        for key in ("window_s", "step_s", "shift_s", "shift_step_s"):
            v = getattr(self, key)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"synchrony {key} {v!r} must be a positive number of seconds")
        if not (math.isfinite(self.max_lag_s) and 0 <= self.max_lag_s < self.window_s):
            raise ValueError(f"synchrony max_lag_s {self.max_lag_s!r} must be 0 <= lag < window")
        if self.stop_after < 1:
            raise ValueError("synchrony stop_after must be >= 1")
        if not 1 <= self.min_surrogates <= self.n_surrogates <= 10_000:
            raise ValueError("synchrony needs 1 <= min_surrogates <= n_surrogates <= 10000")
        if not 0 < self.alpha < 1:
            raise ValueError(f"synchrony alpha {self.alpha!r} must be in (0, 1)")
        if not 0 < self.min_valid <= 1:
            raise ValueError(f"synchrony min_valid {self.min_valid!r} must be in (0, 1]")
        if not 0 <= self.min_quality <= 1:
            raise ValueError(f"synchrony min_quality {self.min_quality!r} must be in [0, 1]")
        own = self.signal_window_s
        pairs = own.items() if isinstance(own, dict) else own  # a dict or JSON's lists too
        try:
            norm = tuple((str(g), float(w)) for g, w in pairs)
        except (TypeError, ValueError):
            raise ValueError(
                "synchrony signal_window_s must be (signal, seconds) pairs, e.g. "
                f"(('eda', 60.0),), not {own!r:.60}"
            ) from None
        for name, w in norm:
            if name not in SIGNALS:
                raise ValueError(f"synchrony signal_window_s: {name!r} is not one of "
                                 f"{', '.join(SIGNALS)}")  # fmt: skip
            if not (math.isfinite(w) and self.max_lag_s < w):
                raise ValueError(f"synchrony window of {name} ({w!r} s, signal_window_s) must "
                                 f"be longer than max_lag_s ({self.max_lag_s:g} s)")  # fmt: skip
        if len({g for g, _w in norm}) < len(norm):
            raise ValueError("synchrony signal_window_s names a signal twice")
        object.__setattr__(self, "signal_window_s", norm)  # hashable, whatever was given

    def for_signal(self, signal: str) -> SyncParams:
        """These parameters for ``signal``: its own window (``signal_window_s``), if it has
        one, and the pseudo-pairs' first shift moved by as much, so that they clear the
        window and its lags by the same margin."""
        w = dict(self.signal_window_s).get(signal)
        if w is None or w == self.window_s:
            return self
        return replace(self, window_s=w, shift_s=max(self.shift_s + w - self.window_s, 1e-9))

    def windows(self) -> dict[str, float]:
        """Each signal's window, s."""
        return {g: self.for_signal(g).window_s for g in SIGNALS}

    def samples(self, fs: float) -> tuple[int, int, int, int]:
        """Window, step, maximum lag and first shift in samples at ``fs`` Hz."""
        return (
            max(4, round(self.window_s * fs)),
            max(1, round(self.step_s * fs)),
            round(self.max_lag_s * fs),
            max(1, round(self.shift_s * fs)),
        )

    def history(self, fs: float) -> int:
        """Samples of the past a window and all its pseudo-pairs need."""
        w, _s, lag, shift = self.samples(fs)
        n_shifts = (self.n_surrogates + 1) // 2  # each shift gives two pseudo-pairs
        return w + lag + shift + (n_shifts - 1) * max(1, round(self.shift_step_s * fs)) + 1


# kernels --------------------------------------------------------------------------------------
@njit
def _pcorr(x: np.ndarray, xa: int, y: np.ndarray, ya: int, w: int, min_n: int) -> float:
    """Correlation of ``x[xa:xa+w]`` and ``y[ya:ya+w]`` given time (both detrended), over the
    samples present in both; NaN with fewer than ``min_n`` of them or no variance left."""
    n = 0
    st = sx = sy = stt = sxx = syy = sxt = syt = sxy = 0.0
    for i in range(w):
        a = x[xa + i]
        b = y[ya + i]
        if a == a and b == b:
            t = float(i)
            n += 1
            st += t
            sx += a
            sy += b
            stt += t * t
            sxx += a * a
            syy += b * b
            sxt += a * t
            syt += b * t
            sxy += a * b
    if n < min_n or n < 4:
        return np.nan
    return _from_sums(float(n), st, stt, sx, sy, sxx, syy, sxt, syt, sxy)


@njit
def _from_sums(
    n: float, st: float, stt: float, sx: float, sy: float, sxx: float, syy: float,
    sxt: float, syt: float, sxy: float,
) -> float:  # fmt: skip
    """The correlation of x and y given time t from their sums over ``n`` samples; NaN for a
    (nearly) flat window."""
    ctt = stt - st * st / n
    if ctt <= 0.0:
        return np.nan
    cxx = sxx - sx * sx / n
    cyy = syy - sy * sy / n
    cxt = sxt - sx * st / n
    cyt = syt - sy * st / n
    cxy = sxy - sx * sy / n
    # residual (co)variances after regressing out time
    rxx = cxx - cxt * cxt / ctt
    ryy = cyy - cyt * cyt / ctt
    rxy = cxy - cxt * cyt / ctt
    # a (nearly) flat window: what is left is rounding of the raw sums, not a signal
    if rxx <= 1e-10 * max(sxx, 1e-300) or ryy <= 1e-10 * max(syy, 1e-300):
        return np.nan
    r = rxy / math.sqrt(rxx * ryy)
    return min(1.0, max(-1.0, r))


@njit
def _seg_stats(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Room for every window start ``s``'s sums of ``x[s:s+w]`` (:func:`_seg_at`): samples
    present (-1: not summed yet), their sum, sum of squares and sum of ``i * x[s+i]``. They
    are summed when a correlation first needs them: the sequential test stops early in
    most windows, so most starts are never needed."""
    m = max(0, x.size - w + 1)
    return np.full(m, -1, np.int64), np.zeros(m), np.zeros(m), np.zeros(m)


@njit
def _seg_at(
    x: np.ndarray, w: int, s: int,
    st: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> int:  # fmt: skip
    """The samples present in ``x[s:s+w]``, its sums summed into ``st`` first if need be
    (each start by its own loop: the same values whatever the array's origin, so a
    stream's buffer and a whole record agree to the bit)."""
    cnt = st[0]
    if cnt[s] < 0:
        c = 0
        a = b = d = 0.0
        for i in range(w):
            v = x[s + i]
            if v == v:
                c += 1
                a += v
                b += v * v
                d += v * i
        cnt[s] = c
        st[1][s] = a
        st[2][s] = b
        st[3][s] = d
    return cnt[s]


@njit
def _pcorr_full(
    x: np.ndarray, xa: int, y: np.ndarray, ya: int, w: int, min_n: int,
    xs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ys: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> float:  # fmt: skip
    """:func:`_pcorr`, from the windows' sums (:func:`_seg_at`) where both are complete
    (only the cross-product is summed here), else the masked loop."""
    if _seg_at(x, w, xa, xs) < w or _seg_at(y, w, ya, ys) < w:
        return _pcorr(x, xa, y, ya, w, min_n)
    n = float(w)
    st = n * (n - 1.0) / 2.0
    stt = (n - 1.0) * n * (2.0 * n - 1.0) / 6.0
    sx, sxx, sxt = xs[1][xa], xs[2][xa], xs[3][xa]
    sy, syy, syt = ys[1][ya], ys[2][ya], ys[3][ya]
    sxy = 0.0
    for i in range(w):
        sxy += x[xa + i] * y[ya + i]
    return _from_sums(n, st, stt, sx, sy, sxx, syy, sxt, syt, sxy)


@njit
def _peak(
    x: np.ndarray, xe: int, y: np.ndarray, ye: int, w: int, lag: int, min_n: int,
    xs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ys: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[float, int]:  # fmt: skip
    """The highest correlation over lags ``-lag..lag`` of A's window ending at ``xe`` and B's
    ending at ``ye`` (k >= 0: B's window k earlier; k < 0: A's |k| earlier), and its lag."""
    # every second lag, then the two beside the best: the cross-correlation of series at the
    # frame rate is smooth at one sample (half the work of every lag)
    best = np.nan
    best_k = 0
    for k in range(-lag, lag + 1, 2):
        r = _at_lag(x, xe, y, ye, w, k, min_n, xs, ys)
        if r == r and (best != best or r > best or (r == best and abs(k) < abs(best_k))):
            best = r
            best_k = k
    if best == best:
        c = best_k
        for k in (c - 1, c + 1):
            if -lag <= k <= lag:
                r = _at_lag(x, xe, y, ye, w, k, min_n, xs, ys)
                if r == r and (r > best or (r == best and abs(k) < abs(best_k))):
                    best = r
                    best_k = k
    return best, best_k


@njit
def _at_lag(
    x: np.ndarray, xe: int, y: np.ndarray, ye: int, w: int, k: int, min_n: int,
    xs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ys: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> float:  # fmt: skip
    if k >= 0:
        xa, ya = xe - w, ye - w - k
    else:
        xa, ya = xe - w + k, ye - w
    if xa < 0 or ya < 0:
        return np.nan
    return _pcorr_full(x, xa, y, ya, w, min_n, xs, ys)


@njit
def _sync_at(
    x: np.ndarray, y: np.ndarray, ends: np.ndarray, w: int, lag: int, shifts: np.ndarray,
    min_n: int, min_sur: int, stop_after: int, r_out: np.ndarray, k_out: np.ndarray,
    p_out: np.ndarray, n_out: np.ndarray,
) -> None:  # fmt: skip
    """For each window end (exclusive index into ``x``/``y``): the peak, its lag, and its p
    against the time-shifted pseudo-pairs that fit in the past (drawn in a fixed order, and
    no more once ``stop_after`` of them reach the peak: Besag & Clifford's sequential p)."""
    xs = _seg_stats(x, w)
    ys = _seg_stats(y, w)
    for j in range(ends.size):
        e = ends[j]
        r_out[j] = np.nan
        k_out[j] = 0
        p_out[j] = np.nan
        n_out[j] = 0
        # the present windows (zero lag) must hold enough samples to say anything
        if e - w < 0:
            continue
        r0 = _pcorr_full(x, e - w, y, e - w, w, min_n, xs, ys)
        if r0 != r0:
            continue
        r, k = _peak(x, e, y, e, w, lag, min_n, xs, ys)
        if r != r:
            continue
        r_out[j] = r
        k_out[j] = k
        # the pseudo-pairs the past holds: too few, and nothing is claimed (whether or not
        # the sequential rule would stop before drawing them all)
        avail = 0
        for d in shifts:
            if e - d - w - lag >= 0:
                avail += 2
        if avail < min_sur:
            continue
        n = 0
        above = 0
        for d in shifts:
            if e - d - w - lag < 0 or above >= stop_after:
                break
            for side in range(2):
                if above >= stop_after:
                    break
                if side == 0:
                    rs, _ = _peak(x, e, y, e - d, w, lag, min_n, xs, ys)
                else:
                    rs, _ = _peak(x, e - d, y, e, w, lag, min_n, xs, ys)
                if rs == rs:
                    n += 1
                    if rs >= r:
                        above += 1
        n_out[j] = n
        if above >= stop_after:
            p_out[j] = above / n  # stopped early: Besag & Clifford (1991)
        else:
            p_out[j] = (1.0 + above) / (1.0 + n)


# batch and streaming ---------------------------------------------------------------------------
@dataclass
class SyncResult:
    """Windows of one signal of one pair: end time (s), peak r, lag (s; > 0: B leads), Fisher z,
    p (NaN: too little past for the test), pseudo-pairs used, significant."""

    time_s: np.ndarray
    r: np.ndarray
    lag_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    n_surrogates: np.ndarray
    significant: np.ndarray

    @classmethod
    def empty(cls) -> SyncResult:
        z = np.zeros(0)
        return cls(z, z, z, z, z, np.zeros(0, np.int64), np.zeros(0, bool))

    def __len__(self) -> int:
        return int(self.time_s.size)

    @staticmethod
    def concat(parts: list[SyncResult]) -> SyncResult:
        if not parts:
            return SyncResult.empty()
        return SyncResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in (
            "time_s", "r", "lag_s", "z", "p", "n_surrogates", "significant")))  # fmt: skip


def _shifts(params: SyncParams, fs: float) -> np.ndarray:
    _w, _s, _lag, shift = params.samples(fs)
    n_shifts = (params.n_surrogates + 1) // 2
    gap = max(1, round(params.shift_step_s * fs))
    return (shift + np.arange(n_shifts) * gap).astype(np.int64)


def _run(x: np.ndarray, y: np.ndarray, ends: np.ndarray, t_end: np.ndarray, fs: float,
         params: SyncParams) -> SyncResult:  # fmt: skip
    w, _s, lag, _shift = params.samples(fs)
    m = ends.size
    r, k, p = np.empty(m), np.empty(m, np.int64), np.empty(m)
    n = np.empty(m, np.int64)
    min_n = math.ceil(params.min_valid * w)
    _sync_at(x, y, ends.astype(np.int64), w, lag, _shifts(params, fs), min_n,
             params.min_surrogates, params.stop_after, r, k, p, n)  # fmt: skip
    # the pseudo-pairs are drawn in pairs (both directions): at most n_surrogates of them
    sig = np.isfinite(p) & (p <= params.alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    return SyncResult(t_end, r, k / fs, z, p, n, sig)


def prepare(values: np.ndarray, quality: np.ndarray | None, params: SyncParams) -> np.ndarray:
    """A signal's series with NaN where its channel's quality is below ``min_quality``."""
    v = np.asarray(values, dtype=np.float64).copy()
    if quality is not None:
        q = np.asarray(quality, dtype=np.float64)
        v[~(q >= params.min_quality)] = np.nan
    return v


def synchrony(
    a: np.ndarray,
    b: np.ndarray,
    fs: float,
    params: SyncParams | None = None,
    t0: float = 0.0,
) -> SyncResult:
    """Synchrony of series ``a`` and ``b`` (same clock, ``fs`` Hz, sample ``i`` at
    ``t0 + i / fs``; NaN: missing), every ``step_s`` (windows ending at whole multiples of the
    step after the first full window): see the module text. Lag > 0: ``b`` leads."""
    params = params or SyncParams()
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("synchrony needs two 1-D series of the same length")
    w, step, _lag, _shift = params.samples(fs)
    ends = np.arange(step, a.size + 1, step)
    ends = ends[ends >= w]
    return _run(a, b, ends, t0 + ends / fs, fs, params)


class SynchronyStream:
    """:func:`synchrony` on series that arrive in chunks; the same windows, the same values.

    Keeps :meth:`SyncParams.history` samples of each series (6-7 minutes at 4 Hz, the
    pseudo-pairs' reach): memory is flat however long the session.
    """

    def __init__(self, fs: float, params: SyncParams | None = None, t0: float = 0.0) -> None:
        self.fs = float(fs)
        self.params = params or SyncParams()
        self.t0 = float(t0)
        self._keep = self.params.history(self.fs)
        self._a = np.zeros(0)
        self._b = np.zeros(0)
        self._n_before = 0  # samples dropped from the front
        self._next_end = self.params.samples(self.fs)[1]

    @property
    def n(self) -> int:
        """Samples of both series seen so far."""
        return self._n_before + self._a.size

    def update(self, a: np.ndarray, b: np.ndarray) -> SyncResult:
        """The next samples of both series (same length); the windows they complete."""
        a = np.asarray(a, dtype=np.float64).ravel()
        b = np.asarray(b, dtype=np.float64).ravel()
        if a.size != b.size:
            raise ValueError("synchrony stream: give both series' samples together")
        self._a = np.concatenate((self._a, a))
        self._b = np.concatenate((self._b, b))
        w, step, _lag, _shift = self.params.samples(self.fs)
        total = self.n
        ends = []
        while self._next_end <= total:
            if self._next_end >= w:
                ends.append(self._next_end)
            self._next_end += step
        out = SyncResult.empty()
        if ends:
            e = np.asarray(ends, dtype=np.int64)
            out = _run(self._a, self._b, e - self._n_before, self.t0 + e / self.fs, self.fs,
                       self.params)  # fmt: skip
        drop = self._a.size - self._keep
        if drop > 0:
            self._a, self._b = self._a[drop:], self._b[drop:]
            self._n_before += drop
        return out


# the signals together ---------------------------------------------------------------------------
@dataclass
class SyncIndex:
    """The combined synchrony of a pair's signals per window end (:func:`combine`): index,
    p, significant, signals tested, confidence, lag (s; > 0: B leads)."""

    time_s: np.ndarray
    index: np.ndarray
    p: np.ndarray
    significant: np.ndarray
    tested: np.ndarray
    confidence: np.ndarray
    lag_s: np.ndarray

    def __len__(self) -> int:
        return int(self.time_s.size)


def combine_at(
    z: list[float], p: list[float], lag: list[float], n_signals: int, alpha: float
) -> tuple[float, float, bool, int, float, float]:
    """One window end, its tested signals' Fisher z, p and lag (in :data:`SIGNALS` order):
    the index (the mean z back to a correlation), Simes' p (valid for tests that depend on
    each other positively, as signals of the same two people do), significant, the number
    tested, the confidence (the share of the ``n_signals`` tested) and the median lag of
    the signals in sync (NaN without one). Nothing tested: index and p NaN, not significant,
    confidence 0 (``unknown``)."""
    k = len(p)
    if k == 0:
        return math.nan, math.nan, False, 0, 0.0, math.nan
    index = math.tanh(sum(z) / k)
    order = sorted(p)
    simes = min(1.0, min(k * order[i] / (i + 1) for i in range(k)))
    on = [lag[i] for i in range(k) if p[i] <= alpha]
    return (index, simes, simes <= alpha, k, k / n_signals,
            float(np.median(on)) if on else math.nan)  # fmt: skip


def combine(results: dict[str, SyncResult], alpha: float = 0.05) -> SyncIndex:
    """The signals of a pair (:func:`synchrony` of each: windows of their own lengths,
    ending at the same times) as one synchrony index per window end: see :func:`combine_at`.
    A signal counts where its window was tested (a ``p``): a channel of poor quality, too
    little data or too little past leaves it out, so a bad channel can lower the confidence
    but never make the pair "in sync"; with no signal tested the window is unknown."""
    names = [g for g in SIGNALS if g in results] + [g for g in results if g not in SIGNALS]
    times = np.unique(np.concatenate([results[g].time_s for g in names])) if names else (
        np.zeros(0))  # fmt: skip
    m = times.size
    out = SyncIndex(times, np.full(m, np.nan), np.full(m, np.nan), np.zeros(m, bool),
                    np.zeros(m, np.int64), np.zeros(m), np.full(m, np.nan))  # fmt: skip
    at = {g: dict(zip(results[g].time_s.tolist(), range(len(results[g])), strict=True))
          for g in names}  # fmt: skip
    for j, t in enumerate(times.tolist()):
        z, p, lag = [], [], []
        for g in names:
            i = at[g].get(t)
            r = results[g]
            if i is not None and r.p[i] == r.p[i]:
                z.append(float(r.z[i]))
                p.append(float(r.p[i]))
                lag.append(float(r.lag_s[i]))
        got = combine_at(z, p, lag, len(names), alpha)
        (out.index[j], out.p[j], out.significant[j], out.tested[j], out.confidence[j],
         out.lag_s[j]) = got  # fmt: skip
    return out


# event series on the frame grid ----------------------------------------------------------------
def event_grid(
    t: np.ndarray, v: np.ndarray, fs: float, n: int, max_gap_s: float = 3.0, k0: int = 0
) -> np.ndarray:
    """An event series (``v`` at times ``t``, s: each beat's heart rate at the middle of its
    interval, each breath's rate) on the grid ``k / fs`` for ``k0 <= k < n``: linear between
    neighbouring events, NaN before the first, after the last, and where two neighbours lie
    more than ``max_gap_s`` apart (a gap, rejected beats). Non-finite values are left out."""
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    grid = np.arange(k0, n) / fs
    out = np.full(grid.size, np.nan)
    if t.size < 2:
        return out
    j = np.searchsorted(t, grid, side="right")  # first event after each grid point
    inside = (j > 0) & (j < t.size)
    jj = j[inside]
    t0, t1 = t[jj - 1], t[jj]
    close = t1 - t0 <= max_gap_s
    w = (grid[inside] - t0) / np.where(t1 > t0, t1 - t0, 1.0)
    vals = v[jj - 1] + w * (v[jj] - v[jj - 1])
    out[np.flatnonzero(inside)[close]] = vals[close]
    return out


class EventGrid:
    """:func:`event_grid` as events arrive (in time order): each grid point is given once an
    event after it has come, so the values never change afterwards and equal the batch
    function's for any chunking."""

    def __init__(self, fs: float, max_gap_s: float = 3.0) -> None:
        self.fs = float(fs)
        self.max_gap_s = float(max_gap_s)
        self._t = np.zeros(0)
        self._v = np.zeros(0)
        self.n = 0  # grid points given so far

    def skip(self, n: int) -> np.ndarray:
        """Give the grid points up to ``n`` as missing without waiting for an event after
        them: for points far past the newest event (further than ``max_gap_s``), which
        :func:`event_grid` makes missing whatever comes later."""
        if n <= self.n:
            return np.zeros(0)
        out = np.full(n - self.n, np.nan)
        self.n = n
        return out

    def update(self, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        """New events; the grid values they make final (from point :attr:`n` on)."""
        t = np.asarray(t, dtype=np.float64).ravel()
        v = np.asarray(v, dtype=np.float64).ravel()
        ok = np.isfinite(t) & np.isfinite(v)
        if ok.any():
            self._t = np.concatenate((self._t, t[ok]))
            self._v = np.concatenate((self._v, v[ok]))
        if self._t.size == 0:
            return np.zeros(0)
        # every grid point before the newest event is final
        last = self._t[-1]
        upto = max(self.n, math.ceil(last * self.fs - 1e-9))
        if upto <= self.n:
            return np.zeros(0)
        out = event_grid(self._t, self._v, self.fs, upto, self.max_gap_s, self.n)
        self.n = upto
        # keep the events from the one before the next grid point on
        keep = max(0, int(np.searchsorted(self._t, self.n / self.fs, side="right")) - 1)
        self._t, self._v = self._t[keep:], self._v[keep:]
        return out
