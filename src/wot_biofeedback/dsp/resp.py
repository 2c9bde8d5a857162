"""Causal breath detection on a respiration belt (or any inhale-up respiration signal).

Algorithm (:func:`_resp_breaths`, one pass, sample by sample, state carried across chunks)

1. **Decimation.** From 50 Hz up, the input is averaged in blocks of ``D = floor(fs / 25)``
   samples, so everything after runs at 25-50 Hz whatever the input rate: a 10 Hz wearable and
   a 2048 Hz lab amplifier give the same breaths, and at high rates a sample costs one addition.
   The block mean nulls mains hum at multiples of ``fs / D``; the band-pass removes what aliases.
2. **Detection signal.** A causal Butterworth band-pass, 0.05-1 Hz (2nd order per corner;
   3-60 breaths/min), removes baseline drift (belt slips, posture) and cardiac oscillation.
3. **Breath extrema with adaptive hysteresis.** Troughs and peaks alternate: a trough is
   confirmed once the band-passed signal has risen from its running minimum by ``h``, a peak
   once it has fallen from its running maximum by ``h``. ``h`` is 0.3 of a depth scale: the
   smaller of (a) the median of the last 10 half-cycle excursions and (b) the peak-to-peak size
   implied by the running mean of ``|band-passed|`` (time constant 8 s), but not below 0.05 of
   the largest recent excursion (forgotten with a 300 s time constant). An excursion counts
   for both at most 5 running medians deep (``DEPTH_MAX_MEDIANS``), so one huge artifact and
   the band-pass's ringing after it cannot lift the floor above every breath. Cycles shallower than
   0.3 of the typical breath (cardiac, speech or swallowing wiggles) are thereby merged into
   their neighbours: the causal form of NeuroKit2's rule that drops extrema closer than 0.3 x
   the median amplitude (Khodadad et al. 2018) and of the Q3-relative threshold of Schäfer &
   Kratky (2008). (b) lets ``h`` follow a sudden drop of depth within seconds, (a) keeps a
   motion artifact from raising it, and the floor keeps sensor noise on a flatline from being
   counted as breathing for minutes. An onset less than 1.2 s (50/min) after the previous one
   is not a new breath.
4. **Timing.** The band-pass moves extrema by a frequency-dependent amount (its high-pass
   leads by ~0.3 s at 12/min and ~1 s at 6/min, its low-pass lags), so each confirmed extremum
   is located again on a nearly linear-phase signal: the block means low-passed at 1.5 Hz
   (2nd-order Butterworth, group delay 0.15 s, flat below 0.5 Hz and subtracted) minus their
   0.03 Hz low-pass (which removes the slope of baseline drift with < 3 % effect at breathing
   rates). The peak is the maximum of that signal since the previous onset. The onset is
   where the signal leaves its minimum since the previous peak: with ``a`` and ``c`` the last
   samples within 0.05 and 0.2 of the depth scale above the minimum, the onset is ``2a - c``
   (exact for a rounded, parabolic trough; the end of the pause for a flat expiratory pause
   followed by a sharp rise), and never before the minimum. Depth is measured on the
   band-passed signal (peak minus preceding trough, input units), free of drift.
5. **Gaps.** NaN samples are gaps: the last finite value is held, detection is suppressed
   during the gap and 3 s after it, and the first onset after a gap (or after the start) is
   flagged so that no breath interval is taken across it.

Per breath (onset to next onset): rate ``60 / interval`` and the inspiration:expiration ratio
``I:E = (peak - onset) / (next onset - peak)`` (:func:`breath_cycles`).

Algorithmic delay: an onset is reported once the band-passed signal has risen by ``h`` from
its trough, about a third of the inspiration plus the band-pass delay; on real belts the
report comes a median 0.6-0.75 s after the onset (``RESP_DELAY_S``), and peaks likewise after
the inspiration peak. The reported *positions* are those of step 4, not of the report.

Validation (``benchmarks/validate_resp.py``): breathing rate in 60-s windows within a median
0.2-0.5 breaths/min of NeuroKit2's ``rsp_process`` on its example recordings and on PhysioNet
drivedb drive05; breath onsets vs the simulator's truth F1 >= 0.95 within ±1 s with sensor noise
and 15 % injected artifacts. Against breaths marked by hand (``benchmarks/validate_breaths.py``,
BIDMC, 53 ICU records of thoracic impedance at 125 Hz, two annotators who marked inspiration
peaks): peaks F1 0.968 / 0.980 against annotator 1 / 2 (per-record median 0.996), where
annotator 2 scores 0.978 against annotator 1; rate from onsets a median 0.12 breaths/min from
annotator 1's in 60-s windows; the same at 25-2048 Hz.

References
----------
Schäfer A, Kratky KW (2008). Estimation of breathing rate from respiratory sinus arrhythmia:
comparison of various methods. Ann Biomed Eng 36(3):476-485 (count-advanced peak/trough logic
with a threshold relative to the third quartile of the excursions).
Khodadad D, Nordebo S, Müller B, et al. (2018). Optimized breath detection algorithm in
electrical impedance tomography. Physiol Meas 39(9):094001 (band-pass, zero crossings,
removal of extrema below 0.3 x median amplitude; NeuroKit2's default ``rsp_findpeaks``).
Makowski D et al. (2021). NeuroKit2: a Python toolbox for neurophysiological signal
processing. Behav Res Methods 53:1689-1696.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import as_signal, check_rate
from ._kernels import (
    I_BAD_UNTIL,
    I_N,
    I_START_N,
    I_STARTED,
    S_VALID_EMA,
    GlitchGate,
    ingest,
    start_filter,
)
from ._numba import njit, njit_exact
from .events import EventLog, bisect_left, bisect_right, clip01, finite_median, sample_at
from .filters import _sos_step, butter_sos, sos_zi_unit
from .framing import FRAME_RATE_HZ, Channel

RESP_DELAY_S = 0.7
"""Typical time from an inspiration onset to its report, s (median on real belts 0.6-0.75 s)."""
WORK_RATE_HZ = 25.0
"""Inputs at twice this rate or faster are block-averaged down to 25-50 Hz before detection."""
BAND_HZ = (0.05, 1.0)
"""Band-pass of the detection signal, Hz."""
LOCATE_LP_HZ = 1.5
"""Low-pass of the signal on which extrema are located, Hz."""
TREND_LP_HZ = 0.03
"""Low-pass whose output (the drift) is subtracted from the located signal, Hz."""

# float state (slots 0-1 shared with _kernels)
_EXT_V, _ENV, _TROUGH_V, _BSUM, _Y, _DREF, _PEAK_V, _DMED = range(2, 10)
_N_FST = 10
# int state (slots 0-3 shared with _kernels)
_STATE, _LAST_ONSET, _BCNT, _NB, _REF_B, _N_DEP, _SKIP_PEAK, _GAP, _LAST_EVT = range(4, 13)
_N_IST = 13
_N, _STARTED, _BAD_UNTIL, _START_N, _VALID_EMA = I_N, I_STARTED, I_BAD_UNTIL, I_START_N, S_VALID_EMA
# parameters
(
    _P_HYST,
    _P_ENV_ALPHA,
    _P_MIN_BREATH_N,
    _P_SETTLE_N,
    _P_VALID_ALPHA,
    _P_DEC,
    _P_OFFSET,
    _P_ENV_P2P,
    _P_FLOOR,
    _P_DREF_DECAY,
    _P_KNEE,
) = range(11)
_N_PRM = 11
N_DEPTHS = 10
"""Half-cycle excursions remembered for the running depth median."""
DEPTH_MAX_MEDIANS = 5.0
"""A half-cycle excursion counts for the depth median and the floor as at most this many
running medians deep (a sigh is two to four; a rail or a knock on the belt far more)."""


@njit
def _median_small(vals: np.ndarray, n: int, scratch: np.ndarray) -> float:
    # insertion sort of at most N_DEPTHS values
    for i in range(n):
        v = vals[i]
        j = i - 1
        while j >= 0 and scratch[j] > v:
            scratch[j + 1] = scratch[j]
            j -= 1
        scratch[j + 1] = v
    if n % 2 == 1:
        return scratch[n // 2]
    return 0.5 * (scratch[n // 2 - 1] + scratch[n // 2])


@njit
def _push_depth(
    d: float, fst: np.ndarray, ist: np.ndarray, deps: np.ndarray, scratch: np.ndarray
) -> None:
    # remember one half-cycle excursion, at most DEPTH_MAX_MEDIANS running medians deep: an
    # artifact (a rail, a knock on the belt) and the band-pass's ringing after it must not
    # take over the median, nor raise the floor above every breath for the next half hour,
    # while a real change of depth (a belt refastened) is followed within a dozen breaths
    if ist[_N_DEP] > 0:
        d = min(d, DEPTH_MAX_MEDIANS * fst[_DMED])
    deps[ist[_N_DEP] % N_DEPTHS] = d
    ist[_N_DEP] += 1
    fst[_DMED] = _median_small(deps, min(ist[_N_DEP], N_DEPTHS), scratch)
    # the slowly forgotten reference depth of the floor follows it up
    fst[_DREF] = max(fst[_DREF], d)


@njit
def _locate(ring: np.ndarray, b_lo: int, b_hi: int, sign: float) -> int:
    # block number in [b_lo, b_hi] where sign * ring is largest (the first one on ties)
    r = ring.shape[0]
    best_b = b_hi
    best = -math.inf
    for bb in range(b_lo, b_hi + 1):
        v = sign * ring[bb % r]
        if v > best:
            best = v
            best_b = bb
    return best_b


@njit
def _last_below(ring: np.ndarray, b_lo: int, b_hi: int, level: float) -> int:
    # the last block in [b_lo, b_hi] at or below level
    r = ring.shape[0]
    for bb in range(b_hi, b_lo - 1, -1):
        if ring[bb % r] <= level:
            return bb
    return b_lo


@njit
def _locate_onset(ring: np.ndarray, b_lo: int, b_hi: int, eps: float) -> int:
    # Inspiration starts where the signal leaves its trough. Blocks a and c are where it last
    # sits within eps and 4 eps of the minimum; a parabolic rise (a rounded trough) puts the
    # start at 2a - c, a sharp knee after an expiratory pause at about a. Never before the
    # minimum itself.
    r = ring.shape[0]
    lo = ring[b_lo % r]
    b_min = b_lo
    for bb in range(b_lo + 1, b_hi + 1):
        v = ring[bb % r]
        if v < lo:
            lo = v
            b_min = bb
    a = _last_below(ring, b_lo, b_hi, lo + eps)
    c = _last_below(ring, b_lo, b_hi, lo + 4.0 * eps)
    return max(b_min, min(a, 2 * a - c))


@njit
def _resp_breaths(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    sos_lp: np.ndarray,
    zi_lp: np.ndarray,
    zi_lp_unit: np.ndarray,
    sos_tr: np.ndarray,
    zi_tr: np.ndarray,
    zi_tr_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    ring: np.ndarray,
    deps: np.ndarray,
    scratch: np.ndarray,
    out_bp: np.ndarray,
    out_valid: np.ndarray,
    out_onset: np.ndarray,
    out_peak: np.ndarray,
    out_depth: np.ndarray,
    out_conf: np.ndarray,
    out_gap: np.ndarray,
) -> int:
    n_out = 0
    dec = int(prm[_P_DEC])
    n_ring = ring.shape[0]
    for i in range(x.shape[0]):
        n = ist[_N]
        v, valid = ingest(x[i], fst, ist, prm[_P_VALID_ALPHA], int(prm[_P_SETTLE_N]))
        out_valid[i] = fst[_VALID_EMA]
        if ist[_STARTED] == 0:
            if not valid:
                out_bp[i] = math.nan
                ist[_N] = n + 1
                continue
            start_filter(v, zi_lp, zi_lp_unit, ist)
            start_filter(v, zi_tr, zi_tr_unit, ist)
            start_filter(v, zi, zi_unit, ist)
            ist[_STATE] = 0
            ist[_GAP] = 1
            fst[_EXT_V] = 0.0
            fst[_Y] = 0.0
            ist[_REF_B] = -1
        fst[_BSUM] += v
        ist[_BCNT] += 1
        if ist[_BCNT] >= dec:
            xb = fst[_BSUM] / dec
            fst[_BSUM] = 0.0
            ist[_BCNT] = 0
            b = ist[_NB]
            ist[_NB] = b + 1
            y = _sos_step(sos, zi, xb)
            # located signal: nearly linear phase at breathing rates, the drift's slope removed
            ring[b % n_ring] = _sos_step(sos_lp, zi_lp, xb) - _sos_step(sos_tr, zi_tr, xb)
            fst[_Y] = y
            fst[_ENV] += prm[_P_ENV_ALPHA] * (abs(y) - fst[_ENV])
            fst[_DREF] *= prm[_P_DREF_DECAY]
            if n < ist[_BAD_UNTIL]:
                # gap or settling after it: start over, seeking a trough
                ist[_STATE] = 0
                ist[_GAP] = 1
                fst[_EXT_V] = y
                ist[_REF_B] = b
            else:
                scale = prm[_P_ENV_P2P] * fst[_ENV]
                if ist[_N_DEP] > 0:
                    scale = min(scale, fst[_DMED])
                # not below the floor, nor below the rounding noise of a constant input
                scale = max(scale, prm[_P_FLOOR] * fst[_DREF], 1e-9 * abs(xb))
                h = prm[_P_HYST] * scale
                b_lo = max(ist[_REF_B] + 1, b - n_ring + 1)
                if ist[_STATE] == 0:
                    if y < fst[_EXT_V]:
                        fst[_EXT_V] = y
                    elif y > fst[_EXT_V] + h and h > 0.0:
                        if ist[_GAP] == 0:
                            _push_depth(fst[_PEAK_V] - fst[_EXT_V], fst, ist, deps, scratch)
                        rb = _locate_onset(ring, b_lo, b, prm[_P_KNEE] * scale)
                        idx = n - (b - rb) * dec - int(prm[_P_OFFSET])
                        idx = max(idx, ist[_LAST_EVT] + 1, 0)
                        last = ist[_LAST_ONSET]
                        if last < 0 or idx - last >= int(prm[_P_MIN_BREATH_N]):
                            ist[_LAST_ONSET] = idx
                            ist[_LAST_EVT] = idx
                            out_onset[n_out] = idx
                            out_peak[n_out] = -1
                            out_depth[n_out] = math.nan
                            out_conf[n_out] = n
                            out_gap[n_out] = ist[_GAP]
                            n_out += 1
                            ist[_GAP] = 0
                            ist[_SKIP_PEAK] = 0
                        else:
                            ist[_SKIP_PEAK] = 1
                        ist[_STATE] = 1
                        fst[_TROUGH_V] = fst[_EXT_V]
                        fst[_EXT_V] = y
                        ist[_REF_B] = rb
                else:
                    if y > fst[_EXT_V]:
                        fst[_EXT_V] = y
                    elif y < fst[_EXT_V] - h and h > 0.0:
                        rb = _locate(ring, b_lo, b, 1.0)
                        idx = n - (b - rb) * dec - int(prm[_P_OFFSET])
                        idx = max(idx, ist[_LAST_EVT] + 1, 0)
                        depth = fst[_EXT_V] - fst[_TROUGH_V]
                        _push_depth(depth, fst, ist, deps, scratch)
                        fst[_PEAK_V] = fst[_EXT_V]
                        if ist[_SKIP_PEAK] == 0 and ist[_GAP] == 0:
                            ist[_LAST_EVT] = idx
                            out_onset[n_out] = -1
                            out_peak[n_out] = idx
                            out_depth[n_out] = depth
                            out_conf[n_out] = n
                            out_gap[n_out] = 0
                            n_out += 1
                        ist[_STATE] = 0
                        fst[_EXT_V] = y
                        ist[_REF_B] = rb
        out_bp[i] = fst[_Y] if valid else math.nan
        ist[_N] = n + 1
    return n_out


def _lp_group_delay_s(sos: np.ndarray, fs: float) -> float:
    """Group delay of a low-pass at 0.2 Hz (flat below ~0.5 Hz for these corners), s."""
    w = 2.0 * np.pi * np.array([0.19, 0.21]) / fs
    z = np.exp(-1j * w)
    h = np.ones(2, dtype=np.complex128)
    for s in sos:
        h *= (s[0] + s[1] * z + s[2] * z * z) / (s[3] + s[4] * z + s[5] * z * z)
    ph = np.unwrap(np.angle(h))
    return float(-(ph[1] - ph[0]) / (w[1] - w[0]) / fs)


class RespBreathDetector:
    """Streaming breath detector (algorithm, delay and references in the module docstring).

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (2-10 000; inputs above 50 Hz are block-averaged internally).

    Notes
    -----
    ``update(chunk)`` returns event arrays ``(onset_idx, peak_idx, depth)`` ordered by the
    sample at which each event was confirmed: each event is either an inspiration onset
    (a trough; ``peak_idx == -1``, ``depth`` NaN) or an inspiration peak with its depth (peak
    minus preceding trough of the band-passed signal, input units; ``onset_idx == -1``).
    Indices count samples from the first sample given to the detector. After each call:

    * ``confirm_index``: sample at which each returned event was confirmed (reported);
    * ``after_gap``: per returned event, True for the first onset after the start or after a
      gap (no breath interval may be taken to the onset before it);
    * ``filtered``: the band-passed signal per input sample (held between internal blocks when
      decimating; NaN on missing samples);
    * ``valid_fraction``: running share of finite samples (time constant 2 s) per input sample.
    """

    delay_s: float = RESP_DELAY_S

    def __init__(self, fs: float) -> None:
        self.fs = check_rate(fs, "RESP sampling rate", 2.0, 10_000.0)
        dec = max(1, int(self.fs // WORK_RATE_HZ))
        fw = self.fs / dec
        self.decimation = dec
        self._sos = butter_sos("bandpass", BAND_HZ, fw, order=2)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._sos_lp = butter_sos("lowpass", LOCATE_LP_HZ, fw, order=2)
        self._zi_lp_unit = sos_zi_unit(self._sos_lp)
        self._zi_lp = np.zeros_like(self._zi_lp_unit)
        self._sos_tr = butter_sos("lowpass", TREND_LP_HZ, fw, order=2)
        self._zi_tr_unit = sos_zi_unit(self._sos_tr)
        self._zi_tr = np.zeros_like(self._zi_tr_unit)
        # the located extremum is at a block centre, one low-pass delay before the ring sample
        offset = (dec - 1) / 2.0 + _lp_group_delay_s(self._sos_lp, fw) * self.fs
        self._fst = np.zeros(_N_FST)
        self._fst[_VALID_EMA] = 1.0
        self._ist = np.zeros(_N_IST, dtype=np.int64)
        self._ist[_LAST_ONSET] = -1
        self._ist[_LAST_EVT] = -1
        self._ist[_REF_B] = -1
        self._prm = np.zeros(_N_PRM)
        self._prm[_P_HYST] = 0.3  # of the depth scale (Khodadad 2018: 0.3 x median)
        self._prm[_P_ENV_ALPHA] = 1.0 - math.exp(-1.0 / (8.0 * fw))  # tau 8 s, per block
        self._prm[_P_MIN_BREATH_N] = round(1.2 * self.fs)  # shortest breath (50/min)
        self._prm[_P_SETTLE_N] = round(3.0 * self.fs)  # settle after a gap
        self._prm[_P_VALID_ALPHA] = 1.0 - math.exp(-1.0 / (2.0 * self.fs))
        self._prm[_P_DEC] = dec
        self._prm[_P_OFFSET] = round(offset)
        self._prm[_P_ENV_P2P] = math.pi  # mean |sine| -> peak-to-peak
        self._prm[_P_FLOOR] = 0.05
        self._prm[_P_DREF_DECAY] = math.exp(-1.0 / (300.0 * fw))
        self._prm[_P_KNEE] = 0.05
        self._ring = np.zeros(math.ceil(30.0 * fw) + 2)  # 30 s of the located signal
        self._deps = np.zeros(N_DEPTHS)
        self._scratch = np.zeros(N_DEPTHS)
        self.filtered = np.empty(0)
        self.valid_fraction = np.empty(0)
        self.confirm_index = np.empty(0, dtype=np.int64)
        self.after_gap = np.empty(0, dtype=bool)

    @property
    def n_samples(self) -> int:
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Process one chunk; return ``(onset_idx, peak_idx, depth)`` of the events it confirmed."""
        x = as_signal(chunk, "RESP chunk")
        cap = x.size // max(1, int(self._prm[_P_DEC])) + 2
        onset = np.empty(cap, dtype=np.int64)
        peak = np.empty(cap, dtype=np.int64)
        depth = np.empty(cap)
        conf = np.empty(cap, dtype=np.int64)
        gap = np.empty(cap, dtype=np.int64)
        bp = np.empty(x.size)
        valid = np.empty(x.size)
        k = _resp_breaths(
            x, self._sos, self._zi, self._zi_unit, self._sos_lp, self._zi_lp, self._zi_lp_unit,
            self._sos_tr, self._zi_tr, self._zi_tr_unit,
            self._fst, self._ist, self._prm, self._ring, self._deps, self._scratch,
            bp, valid, onset, peak, depth, conf, gap,
        )  # fmt: skip
        self.filtered = bp
        self.valid_fraction = valid
        self.confirm_index = conf[:k]
        self.after_gap = gap[:k] != 0
        return onset[:k], peak[:k], depth[:k]


def breath_cycles(
    onset: np.ndarray, peak: np.ndarray, fs: float, after_gap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rate and I:E ratio of the breath ending at each onset.

    Parameters
    ----------
    onset, peak : numpy.ndarray
        Increasing sample indices of inspiration onsets and peaks.
    fs : float
        Sampling rate, Hz.
    after_gap : numpy.ndarray of bool, optional
        Per onset, True where no interval may be taken to the previous onset.

    Returns
    -------
    rate_bpm, ie_ratio : numpy.ndarray
        Per onset ``k``: ``60 / (onset[k] - onset[k-1])`` in breaths/min, and the breath's
        inspiration:expiration ratio ``(peak - onset[k-1]) / (onset[k] - peak)`` with the first
        peak between the two onsets (NaN for the first onset, after a gap, or without a peak).
    """
    on = np.asarray(onset, dtype=np.int64)
    pk = np.asarray(peak, dtype=np.int64)
    rate = np.full(on.size, np.nan)
    ie = np.full(on.size, np.nan)
    if on.size < 2:
        return rate, ie
    ok = np.ones(on.size - 1, dtype=bool)
    if after_gap is not None:
        ok &= ~np.asarray(after_gap, dtype=bool)[1:]
    d = np.diff(on).astype(np.float64)
    rate[1:] = np.where(ok & (d > 0), 60.0 * fs / np.where(d > 0, d, 1.0), np.nan)
    j = np.searchsorted(pk, on[:-1], side="right")
    has = j < pk.size
    p = pk[np.minimum(j, max(pk.size - 1, 0))] if pk.size else np.zeros(j.size, np.int64)
    has &= (p > on[:-1]) & (p < on[1:]) & ok
    with np.errstate(divide="ignore", invalid="ignore"):
        ie[1:] = np.where(has, (p - on[:-1]) / np.maximum(on[1:] - p, 1), np.nan)
    return rate, ie


def rsp_breaths(signal: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Detect breaths in a whole respiration record (identical to the streaming detector).

    Parameters
    ----------
    signal : numpy.ndarray
        Respiration, inhalation up, any units; NaN marks missing samples.
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    dict
        ``onset``: inspiration-onset sample indices; ``peak``: inspiration-peak indices;
        ``depth``: peak minus preceding trough (band-passed, signal units), one per peak;
        ``onset_confirm`` / ``peak_confirm``: sample at which each was reported (causal);
        ``rate_bpm`` and ``ie_ratio``: per onset, rate (breaths/min) and I:E ratio of the breath
        that ends at that onset (NaN for the first onset, after a gap, or without a peak).
    """
    det = RespBreathDetector(fs)
    onset, peak, depth = det.update(signal)
    conf = det.confirm_index
    is_on = onset >= 0
    on, pk = onset[is_on], peak[~is_on]
    rate, ie = breath_cycles(on, pk, det.fs, det.after_gap[is_on])
    return {
        "onset": on,
        "peak": pk,
        "depth": depth[~is_on],
        "onset_confirm": conf[is_on],
        "peak_confirm": conf[~is_on],
        "rate_bpm": rate,
        "ie_ratio": ie,
    }


@njit_exact
def _resp_frames(
    t: np.ndarray,
    n_k: np.ndarray,
    n_before: int,
    valid: np.ndarray,
    on_time: np.ndarray,
    on_confirm: np.ndarray,
    on_ie: np.ndarray,
    on_sums: np.ndarray,
    pk_time: np.ndarray,
    pk_confirm: np.ndarray,
    pk_sums: np.ndarray,
    rate_win: float,
    cv_win: float,
    ramp: np.ndarray,
    ref_alpha: np.ndarray,
    depth_ref: np.ndarray,
    out: np.ndarray,
) -> None:
    """The breathing features of frames at times ``t`` (own samples ``n_k``) into ``out``
    (rate, depth, CV, I:E, quality; see :class:`RespChannel`), one frame after another.

    ``on_sums`` holds the onsets' running sums (columns: intervals counted, their sum,
    successive differences counted, their sum of squares, motion intervals), ``pk_sums`` the
    peaks' (depths counted, their sum), one row longer than its log (:meth:`EventLog.cums`).
    ``depth_ref[0]`` is the depth reference's state (ln), carried from frame to frame.
    """
    n_on = on_time.size
    for j in range(t.size):
        tj = t[j]
        hi = bisect_right(on_confirm, n_k[j])
        lo = min(bisect_left(on_time, tj - rate_win), hi)
        # slow breathing (the 6/min pacer) holds only two or three onsets in 30 s: reach back
        # to the last three onsets, up to 60 s, so the rate never blinks out
        lo60 = min(bisect_left(on_time, tj - 2.0 * rate_win), hi)
        lo = min(lo, max(hi - 3, lo60))
        lod = min(lo + 1, hi)  # an interval belongs to its later onset
        n_i = on_sums[hi, 0] - on_sums[lod, 0]
        mean_ibi = (on_sums[hi, 1] - on_sums[lod, 1]) / n_i if n_i > 0 else math.nan
        rate = 60.0 / mean_ibi if n_i >= 2 else math.nan
        ie = finite_median(on_ie, lod, hi)
        lo6d = min(min(bisect_left(on_time, tj - cv_win), hi) + 1, hi)
        n6 = on_sums[hi, 0] - on_sums[lo6d, 0]
        m6 = (on_sums[hi, 1] - on_sums[lo6d, 1]) / n6 if n6 > 0 else math.nan
        nd = on_sums[hi, 2] - on_sums[lo6d, 2]
        msd = (on_sums[hi, 3] - on_sums[lo6d, 3]) / nd if nd > 0 else math.nan
        cv = math.nan
        if nd >= 2:
            cv = math.sqrt((0.0 if msd < 0.0 else msd) / 2.0) / m6
        phi = bisect_right(pk_confirm, n_k[j])
        plo = min(bisect_left(pk_time, tj - rate_win), phi)
        n_p = pk_sums[phi, 0] - pk_sums[plo, 0]
        depth = (pk_sums[phi, 1] - pk_sums[plo, 1]) / n_p if n_p > 0 else math.nan
        n_w = float(hi - lod)
        moving = (on_sums[hi, 4] - on_sums[lod, 4]) / n_w if n_w > 0 else 0.0
        valid_j = sample_at(valid, n_k[j], n_before)
        valid_j = 0.0 if math.isnan(valid_j) else valid_j
        last_on = on_time[hi - 1] if n_on > 0 and hi > 0 else -math.inf
        reach = 2.5 * (6.0 if math.isnan(mean_ibi) else mean_ibi)
        present = (tj - last_on) <= (15.0 if reach < 15.0 else reach)
        # breathing depth against the session's own: 0 below the ramp, 1 above
        factor = 0.0
        if math.isfinite(depth) and depth > 0.0:
            ld = math.log(depth)
            if math.isnan(depth_ref[0]):
                depth_ref[0] = ld
            ratio = math.exp(ld - depth_ref[0])
            factor = clip01((ratio - ramp[0]) / (ramp[1] - ramp[0]))
            alpha = ref_alpha[0] if ratio >= ramp[1] else ref_alpha[1]
            depth_ref[0] += alpha * (ld - depth_ref[0])
        q = clip01(valid_j * (1.0 if present else 0.0) * factor * (1.0 - 2.0 * moving))
        out[0, j] = rate
        out[1, j] = depth
        out[2, j] = cv
        out[3, j] = ie
        out[4, j] = q + 0.0  # no -0.0


class RespChannel(Channel):
    """Respiration → breaths → rate, depth, variability and I:E frames.

    Features (per frame, from breaths confirmed by the frame's sample):

    ``resp_rate_bpm``  1/min  60 / mean inspiration-onset interval in the last 30 s (at least the
                              last two intervals, reaching back up to 60 s)
    ``resp_depth``     a.u.   mean inspiration depth (band-passed peak - trough) in the last 30 s
    ``resp_cv``        1      coefficient of variation of breath intervals in the last 60 s,
                              from successive differences: sqrt(mean(d^2) / 2) / mean interval,
                              d the change from one interval to the next (the plain CV for
                              independent intervals, but not inflated when the rate changes
                              within the window; cf. RMSSD of breath intervals, NeuroKit2
                              ``rsp_rrv``)
    ``resp_ie_ratio``  1      median inspiration:expiration duration ratio of the breaths that
                              ended in the last 30 s (NaN without one)
    ``quality_resp``   0-1    valid-sample share x breathing present (an onset within
                              max(15 s, 2.5 mean intervals)) x depth against the session's
                              own x (1 - 2 x the share of motion breaths in the last 30 s)

    No interval, and so no rate, CV or I:E, is taken across a gap in the signal.

    **Motion.** A breath (peak) deeper than ``MOTION_RATIO`` (2) times the median of the last 15
    ordinary breaths, with an inspiration shorter than ``MOTION_SLOW_RATIO`` (1.5) times
    theirs, is a belt pulled by a body movement, not a breath. (A deep breath with a long
    inspiration is a slow deep breath: following the 6/min pacer, or a sigh, by definition at
    least twice a tidal breath; Vlemincx et al. 2013.) The interval that contains it gives no
    rate, CV or I:E, its depth is left out, and the share of such intervals in the last 30 s
    lowers ``quality_resp`` (twice that share is taken off). An interval shorter than
    ``SHORT_RATIO`` (0.5) times the median of the last 15 ordinary ones (a breath split by a
    movement, speech or a cough) gives no rate, CV or I:E either, without lowering the
    quality; ``SHORT_ACCEPT_N`` (4) in a row are a real change of rate and become the new
    reference. When
    ``MOTION_ACCEPT_N`` (10) deep breaths follow in a row, the belt was re-tensioned: that depth
    becomes the new normal.
    """

    modality = "resp"
    feature_names = ("resp_rate_bpm", "resp_depth", "resp_cv", "resp_ie_ratio", "quality_resp")
    event_names = (
        "breath_onset_time",
        "breath_peak_time",
        "breath_depth",
        "breath_onset_confirm",
        "breath_peak_confirm",
        "breath_ie_ratio",
    )
    RATE_WIN_S = 30.0
    CV_WIN_S = 60.0
    KEEP_S = 90.0
    MAX_IBI_S = 20.0
    MOTION_RATIO = 2.0
    MOTION_SLOW_RATIO = 1.5
    SHORT_RATIO = 0.5
    SHORT_ACCEPT_N = 4
    MOTION_REF_N = 15
    MOTION_ACCEPT_N = 10

    def __init__(self, fs: float, t0: float = 0.0, frame_rate: float = FRAME_RATE_HZ) -> None:
        super().__init__(fs, t0, frame_rate)
        self.detector = RespBreathDetector(self.fs)
        self.delay_s = self.detector.delay_s
        self._gate = GlitchGate(self.fs)  # corrupt samples become gaps before the detector
        # the window sums' columns, in the order _resp_frames reads them
        self._onsets = EventLog(
            "ibi", "ibi_ok", "ie", "motion", "d2", "d2_ok",
            summed=("ibi_ok", "ibi", "d2_ok", "d2", "motion"),
        )  # fmt: skip
        self._prev_ibi = math.nan  # the last interval, for successive differences
        # per peak: counted (its depth is finite: not a motion breath) and its depth (0 if not)
        self._peaks = EventLog("depth_n", "depth_z", summed=("depth_n", "depth_z"))
        self._last_onset_t = math.nan
        self._last_peak_t = math.nan
        self._ref_depths: list[float] = []  # the last ordinary breath depths (motion reference)
        self._ref_insp: list[float] = []  # and their inspiration times, s
        self._ref_ibi: list[float] = []  # the last ordinary breath intervals, s
        self._short_run: list[float] = []  # consecutive too-short intervals
        self._deep_run: list[float] = []  # consecutive motion-deep breaths
        self._motion_since_onset = False
        self._valid = np.empty(0)
        self._depth_ref = np.full(1, math.nan)  # ln of the reference depth
        self._ref_alpha = np.array(
            [1.0 - math.exp(-1.0 / (tau * frame_rate)) for tau in self.DEPTH_REF_TAU_S]
        )
        self._ramp = np.array(self.DEPTH_RAMP, dtype=np.float64)

    @property
    def issue(self) -> str:
        """What the user is told about the signal ('' when all is well)."""
        return self._gate.issue

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        # (one 1e30 blinded the belt for minutes)
        onset, peak, depth = self.detector.update(self._gate.apply(x, n_before + x.size))
        conf = self.detector.confirm_index
        gap = self.detector.after_gap
        self._valid = self.detector.valid_fraction
        if not onset.size:  # no breath event (most small chunks)
            return {
                name: np.empty(0, dtype=np.int64 if name.endswith("_confirm") else np.float64)
                for name in self.event_names
            }
        is_on = onset >= 0
        ot = self.sample_time(onset[is_on])
        pt = self.sample_time(peak[~is_on])
        ibi = np.full(ot.size, np.nan)
        ie = np.full(ot.size, np.nan)
        motion = np.zeros(ot.size)
        pdepth = np.asarray(depth, dtype=np.float64).copy()
        k = 0
        for j in range(onset.size):  # events in confirmation order: a breath closes at an onset
            if is_on[j]:
                t = float(ot[k])
                if not gap[j]:
                    ibi[k] = t - self._last_onset_t
                    if self._last_peak_t > self._last_onset_t:
                        ie[k] = (self._last_peak_t - self._last_onset_t) / (t - self._last_peak_t)
                else:
                    self._last_peak_t = math.nan
                if self._motion_since_onset:
                    motion[k] = 1.0
                    ibi[k] = np.nan
                elif math.isfinite(ibi[k]) and self._is_short(float(ibi[k])):
                    ibi[k] = np.nan  # a split breath (movement, speech, cough)
                self._motion_since_onset = False
                self._last_onset_t = t
                k += 1
            else:
                self._last_peak_t = float(self.sample_time(peak[j]))
                insp = self._last_peak_t - self._last_onset_t  # NaN before the first onset
                if self._is_motion(float(depth[j]), insp):
                    self._motion_since_onset = True
                    pdepth[j] = np.nan
        ibi_ok = np.isfinite(ibi) & (ibi <= self.MAX_IBI_S)
        ie = np.where(ibi_ok, ie, np.nan)
        # successive differences between consecutive valid intervals (a gap, motion or an
        # over-long interval breaks the chain)
        d2 = np.zeros(ot.size)
        d2_ok = np.zeros(ot.size, dtype=bool)
        prev = self._prev_ibi
        for k2 in range(ot.size):
            if ibi_ok[k2]:
                if math.isfinite(prev):
                    d2[k2] = (ibi[k2] - prev) ** 2
                    d2_ok[k2] = True
                prev = float(ibi[k2])
            else:
                prev = math.nan
        self._prev_ibi = prev
        self._onsets.append(
            time=ot,
            confirm=conf[is_on],
            ibi=np.where(ibi_ok, ibi, 0.0),
            ibi_ok=ibi_ok,
            ie=ie,
            motion=motion,
            d2=d2,
            d2_ok=d2_ok,
        )
        pd = pdepth[~is_on]
        self._peaks.append(
            time=pt, confirm=conf[~is_on], depth_n=np.isfinite(pd), depth_z=np.nan_to_num(pd)
        )
        return {
            "breath_onset_time": ot,
            "breath_peak_time": pt,
            "breath_depth": depth[~is_on],
            "breath_onset_confirm": conf[is_on],
            "breath_peak_confirm": conf[~is_on],
            "breath_ie_ratio": ie,
        }

    def _is_short(self, ibi: float) -> bool:
        """An interval under half the recent ordinary ones is a breath split by a movement,
        speech or a cough; ``MOTION_ACCEPT_N`` such in a row are a real change of rate."""
        ref = self._ref_ibi
        if ibi > self.MAX_IBI_S:
            return False
        if len(ref) >= 5 and ibi < self.SHORT_RATIO * float(np.median(ref)):
            self._short_run.append(ibi)
            if len(self._short_run) < self.SHORT_ACCEPT_N:
                return True
            ref[:] = self._short_run
            self._short_run.clear()
            return False
        self._short_run.clear()
        ref.append(ibi)
        if len(ref) > self.MOTION_REF_N:
            del ref[0]
        return False

    def _is_motion(self, d: float, insp_s: float) -> bool:
        """One breath (depth, inspiration time) against the recent ordinary ones.

        Deep *and* quick: a deep breath with a long inspiration is a slow deep breath (the
        6/min pacer, a sigh), not a movement. Kept in event order, so chunking cannot change it.
        """
        ref, ref_t = self._ref_depths, self._ref_insp
        if not math.isfinite(d):
            return False
        deep = len(ref) >= 5 and d > self.MOTION_RATIO * float(np.median(ref))
        slow = (
            math.isfinite(insp_s)
            and len(ref_t) >= 5
            and insp_s >= self.MOTION_SLOW_RATIO * float(np.median(ref_t))
        )
        if deep and not slow:
            self._deep_run.append(d)
            if len(self._deep_run) < self.MOTION_ACCEPT_N:
                return True
            # a lasting new depth (belt re-tensioned, posture): it becomes the reference
            ref[:] = self._deep_run[-self.MOTION_REF_N :]
            self._deep_run.clear()
            return False
        self._deep_run.clear()
        ref.append(d)
        if len(ref) > self.MOTION_REF_N:
            del ref[0]
        if math.isfinite(insp_s) and insp_s > 0:
            ref_t.append(insp_s)
            if len(ref_t) > self.MOTION_REF_N:
                del ref_t[0]
        return False

    # breathing depth against the session's own: a belt that slipped off or was unplugged
    # shows sensor noise, which the detector would count as fast, shallow breaths
    DEPTH_REF_TAU_S = (600.0, 3600.0)  # time constant while breathing / while too shallow
    DEPTH_RAMP = (0.05, 0.15)  # depth / reference: quality factor 0 below, 1 above

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        on, pk = self._onsets, self._peaks
        out = np.empty((5, t.size))
        _resp_frames(
            t, n_k, n_before, self._valid,
            on.col("time"), on.col("confirm"), on.col("ie"), on.cums(),
            pk.col("time"), pk.col("confirm"), pk.cums(),
            self.RATE_WIN_S, self.CV_WIN_S, self._ramp, self._ref_alpha, self._depth_ref, out,
        )  # fmt: skip
        if len(on) > 256:
            on.trim_before(float(t[-1]) - self.KEEP_S)
        if len(pk) > 256:
            pk.trim_before(float(t[-1]) - self.KEEP_S)
        return dict(zip(self.feature_names, out, strict=True))
