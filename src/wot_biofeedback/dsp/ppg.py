"""Causal PPG pulse detection for pulse-rate variability.

Fiducial point
--------------
Each pulse is timed at its **point of maximum upslope**: the peak of the first derivative of the
low-passed PPG (the "maximum slope" or d/dt-max point; it is also where the tangent of the
intersecting-tangents foot is drawn). Points on the steep systolic upstroke time inter-beat
intervals better than the systolic apex, which is rounded and moved by wave reflection, or the
foot, which sits in a shallow, noise- and baseline-sensitive trough. Peralta et al. (2019)
compared apex, foot, middle-amplitude, maximum-derivative and intersecting-tangents points
against ECG RR intervals and recommend upstroke points, the middle-amplitude point first. The
maximum derivative suits a causal detector best: it is the feature that triggers detection,
needs neither the foot nor the following apex (so it is known about 0.1 s after it happens),
and on the NeuroKit2 resting record it agrees with the ECG as well as an off-line,
zero-phase middle-amplitude point (median |PP - RR| 3.6 vs 3.5 ms at 100 Hz, 3.5 vs 3.7 ms at
25 Hz). Its time is refined by a parabola through the three slope samples around the maximum
and corrected for the low-pass filter's group delay, so that intervals are not quantised to the
sample period at wearable rates (25-64 Hz, 16-40 ms per sample).

Detection
---------
The detector is in the family of slope-based onset detectors for pulsatile waveforms (Zong et
al. 2003; its PPG adaptation ``qppg`` is one of the two best open PPG beat detectors in the
benchmark of Charlton et al. 2022), rewritten as a causal sample-by-sample kernel:

* a 4th-order Butterworth low-pass (8 Hz, or 0.45·fs at low rates) and a central difference give
  the slope; the derivative removes baseline and respiratory drift without a high-pass filter;
* a rising lobe of the slope becomes a candidate when it exceeds an adaptive threshold between
  the noise level and a learnt upslope amplitude (Pan-Tompkins style), and is judged when the
  slope has fallen to half its maximum;
* **pulse shape**: the upstroke must be steeper than the steepest downslope since the previous
  pulse (looking back 1-1.5 s at most). A PPG rises faster than it decays; noise is symmetric,
  and a dicrotic wave rises less steeply than the systolic decay before it. A candidate within
  0.5 s of the last pulse with less than half its slope is also rejected as a dicrotic wave;
* **noise gate**: the noise level is the mean positive slope outside pulse-shaped upstrokes,
  taken as the median over the last five 0.5-s blocks. A PPG decays in diastole, so this level is
  tiny next to an upstroke, while noise rises as often as it falls: an upstroke must exceed
  :data:`_NOISE_RATIO` times the level, so flatlines and pure noise give no pulses. Upstrokes
  are kept out of the level by their shape, not by the decision, so a level raised by a motion
  burst always falls back below the pulses (no lock-out); after a burst detection resumes within
  about 3 s;
* a refractory period of 0.25 s (240 bpm) separates pulses;
* NaN samples are gaps: the filter holds the last value and detection is suppressed until it has
  settled. A run of :data:`_FLAT_S` s of identical samples is treated as a gap too, which catches
  saturated or clipped sensors and repeated packets. A pulse is reported only once the signal
  stayed valid for 0.2 s after it, so the step into a saturated segment is not a pulse.

Polarity: the signal must rise with blood volume (NeuroKit2 and most wearables' BVP outputs);
invert raw light-intensity signals first. An inverted PPG gives (almost) no pulses rather than
wrong ones, because its steep edge falls.

Algorithmic delay: a pulse is reported at most :data:`PPG_DELAY_S` after its fiducial point
(0.2-0.3 s in practice).

References
----------
Zong W, Heldt T, Moody GB, Mark RG (2003). An open-source algorithm to detect onset of arterial
blood pressure pulses. Computers in Cardiology 30:259-262.
Peralta E, Lázaro J, Bailón R, Marozas V, Gil E (2019). Optimal fiducial points for pulse rate
variability analysis from forehead and finger photoplethysmographic signals. Physiol Meas 40(2).
doi:10.1088/1361-6579/ab009b
Charlton PH, Kotzen K, Mejía-Mejía E, et al. (2022). Detecting beats in the photoplethysmogram:
benchmarking open-source algorithms. Physiol Meas 43(8):085007. doi:10.1088/1361-6579/ac826d
Pan J, Tompkins WJ (1985). A real-time QRS detection algorithm. IEEE Trans Biomed Eng 32(3).
Makowski D, Pham T, Lau ZJ, et al. (2021). NeuroKit2: a Python toolbox for neurophysiological
signal processing. Behav Res Methods 53:1689-1696 (source of the resting record quoted above).
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import as_signal, check_rate
from ._designs import remembered
from ._kernels import I_BAD_UNTIL, I_N, I_START_N, I_STARTED, S_VALID_EMA, ingest, start_filter
from ._numba import njit
from .filters import _sos_step, butter_sos, sos_zi_unit

PPG_DELAY_S = 0.4
"""Upper bound of the time between a pulse's fiducial point and its report, s."""

_LOWPASS_HZ = 8.0
_LOWPASS_ORDER = 4
_NOISE_RATIO = 20.0
"""An upstroke's slope must exceed this many times the noise level."""
_ASYM = 1.0
"""An upstroke's slope must exceed this many times the steepest downslope since the last pulse."""
_FLAT_S = 0.15
"""Identical samples lasting this long, s, are a saturated or stuck sensor."""
_BLOCK_S = 0.5
_N_BLOCKS = 5  # the noise level is the median over this many blocks
_N_NEG_BLOCKS = 2  # the steepest downslope looks back over the current and this many blocks

# detector states
_LEARN, _ARMED, _CAND, _PULSE_TAIL, _OTHER_TAIL = range(5)

# float state slots
(
    _SPK,
    _NPK,
    _CAND_MAX,
    _LAST_AMP,
    _LEARN_MAX,
    _LEARN_TOP1,
    _LEARN_TOP2,
    _Y1,
    _Y2,
    _LAST_RAW,
    _PEND_FRAC,
    _BLK_POS,
    _BLK_NEG,
    _NEG_SINCE,
    _BUF_POS,
) = range(2, 17)
_N_FLOAT = 17
# int state slots
(
    _STATE,
    _CAND_IDX,
    _CAND_START,
    _LAST_PULSE,
    _FLAT_RUN,
    _PEND,
    _PEND_IDX,
    _BLK_POS_N,
    _BLK_N,
    _BUF_N,
    _BLK_I,
    _BLK_INIT,
    _ACCEPTED,
) = range(4, 17)
_N_INT = 17
_N, _STARTED, _BAD_UNTIL, _START_N, _VALID_EMA = I_N, I_STARTED, I_BAD_UNTIL, I_START_N, S_VALID_EMA
# parameter slots
(
    _P_FS,
    _P_GD,
    _P_REFRACT_N,
    _P_LEARN_N,
    _P_END_N,
    _P_MAX_N,
    _P_HOLD_N,
    _P_DICROTIC_N,
    _P_FLAT_N,
    _P_DECAY_START_N,
    _P_DECAY,
    _P_THR_FRAC,
    _P_NOISE_RATIO,
    _P_ASYM,
    _P_SETTLE_N,
    _P_BLOCK_N,
    _P_NEG_BLOCKS,
    _P_VALID_ALPHA,
) = range(18)
# rows of the block-level rings
_R_POS, _R_NEG = range(2)


@njit
def _median(v: np.ndarray) -> float:
    w = v.copy()
    for j in range(1, w.shape[0]):
        key = w[j]
        k = j - 1
        while k >= 0 and w[k] > key:
            w[k + 1] = w[k]
            k -= 1
        w[k + 1] = key
    m = w.shape[0]
    return w[m // 2] if m % 2 == 1 else 0.5 * (w[m // 2 - 1] + w[m // 2])


@njit
def _ppg_detect(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    rings: np.ndarray,
    d_ring: np.ndarray,
    out_idx: np.ndarray,
    out_frac: np.ndarray,
    out_conf: np.ndarray,
    out_valid: np.ndarray,
) -> int:
    ring_n = d_ring.shape[0]
    n_blk = rings.shape[1]
    n_neg = int(prm[_P_NEG_BLOCKS])
    half_fs = 0.5 * prm[_P_FS]
    refract_n = int(prm[_P_REFRACT_N])
    block_n = int(prm[_P_BLOCK_N])
    n_out = 0
    for i in range(x.shape[0]):
        n = ist[_N]
        raw = x[i]
        # a run of identical samples is a saturated or stuck sensor: treat it as a gap
        if raw == fst[_LAST_RAW]:
            ist[_FLAT_RUN] += 1
        else:
            ist[_FLAT_RUN] = 0
            fst[_LAST_RAW] = raw
        if ist[_FLAT_RUN] + 1 >= int(prm[_P_FLAT_N]):
            raw = math.nan
        v, valid = ingest(raw, fst, ist, prm[_P_VALID_ALPHA], int(prm[_P_SETTLE_N]))
        out_valid[i] = fst[_VALID_EMA]
        if not valid:
            ist[_PEND] = 0  # a pulse is only reported if the signal stays valid after it
        if ist[_STARTED] == 0:
            if not valid:
                d_ring[n % ring_n] = 0.0
                ist[_N] = n + 1
                continue
            start_filter(v, zi, zi_unit, ist)
            fst[_Y1] = v
            fst[_Y2] = v
        y = _sos_step(sos, zi, v)
        # central difference: the slope at sample c = n - 1
        d = (y - fst[_Y2]) * half_fs
        fst[_Y2] = fst[_Y1]
        fst[_Y1] = y
        c = n - 1
        d_ring[c % ring_n] = d
        dpos = d if d > 0.0 else 0.0
        good = n >= ist[_BAD_UNTIL]
        if good:
            ist[_BLK_N] += 1
            fst[_BLK_NEG] = max(fst[_BLK_NEG], -d)
            fst[_NEG_SINCE] = max(fst[_NEG_SINCE], -d)
        fold = False  # whether this sample goes into the noise level now
        state = ist[_STATE]
        if state == _LEARN:
            fst[_LEARN_MAX] = max(fst[_LEARN_MAX], d)
            fold = good
        elif state == _ARMED:
            if n - ist[_LAST_PULSE] > int(prm[_P_DECAY_START_N]):
                fst[_SPK] *= prm[_P_DECAY]
            thr = fst[_NPK] + prm[_P_THR_FRAC] * (fst[_SPK] - fst[_NPK])
            if good and d > 0.0:
                # hold each rising lobe back from the noise level until it is classified
                if ist[_BUF_N] == 0:
                    fst[_BUF_POS] = 0.0
                fst[_BUF_POS] += dpos
                ist[_BUF_N] += 1
                if d > thr:
                    ist[_STATE] = _CAND
                    fst[_CAND_MAX] = d
                    ist[_CAND_IDX] = c
                    ist[_CAND_START] = n
            elif good:
                if ist[_BUF_N] > 0:  # a lobe that stayed below the threshold
                    fst[_BLK_POS] += fst[_BUF_POS]
                    ist[_BLK_POS_N] += ist[_BUF_N]
                    ist[_BUF_N] = 0
                fold = True
            else:
                ist[_BUF_N] = 0
        elif state == _CAND:
            fst[_BUF_POS] += dpos
            ist[_BUF_N] += 1
            if not good:
                ist[_STATE] = _ARMED
                ist[_BUF_N] = 0
            elif d > fst[_CAND_MAX]:
                fst[_CAND_MAX] = d
                ist[_CAND_IDX] = c
            elif (
                d < 0.5 * fst[_CAND_MAX]
                or c - ist[_CAND_IDX] >= int(prm[_P_END_N])
                or n - ist[_CAND_START] >= int(prm[_P_MAX_N])
            ):
                amp = fst[_CAND_MAX]
                # steepest downslope since the last pulse, looking back over the current and
                # the past n_neg blocks at most
                neg = fst[_BLK_NEG]
                for j in range(n_neg):
                    neg = max(neg, rings[_R_NEG, (ist[_BLK_I] - 1 - j) % n_blk])
                neg = min(neg, fst[_NEG_SINCE])
                # pulse-shaped upstrokes never feed the noise level, whatever it says, so a
                # level raised by an artefact always falls back below the pulses
                shaped = amp > prm[_P_ASYM] * neg
                ist[_ACCEPTED] = 0
                if shaped:
                    ist[_STATE] = _PULSE_TAIL
                    ist[_BUF_N] = 0
                else:
                    ist[_STATE] = _OTHER_TAIL
                k = ist[_CAND_IDX]
                # parabola through the slope samples around the maximum
                sa = d_ring[(k - 1) % ring_n]
                sb = d_ring[k % ring_n]
                sc = d_ring[(k + 1) % ring_n]
                den = sa - 2.0 * sb + sc
                off = 0.5 * (sa - sc) / den if den < 0.0 else 0.0
                off = min(0.5, max(-0.5, off))
                t = k + off - prm[_P_GD]
                idx = math.floor(t + 0.5)
                since = idx - ist[_LAST_PULSE]
                dicrotic = since < int(prm[_P_DICROTIC_N]) and amp < 0.5 * fst[_LAST_AMP]
                if (
                    shaped
                    and amp > prm[_P_NOISE_RATIO] * fst[_NPK]
                    and since > refract_n
                    and not dicrotic
                ):
                    if ist[_PEND] == 1:  # defensive: never drop a pulse
                        out_idx[n_out] = ist[_PEND_IDX]
                        out_frac[n_out] = fst[_PEND_FRAC]
                        out_conf[n_out] = n
                        n_out += 1
                    ist[_PEND] = 1
                    ist[_PEND_IDX] = idx
                    fst[_PEND_FRAC] = t - idx
                    # the learnt amplitude follows pulses but not motion spikes
                    fst[_SPK] += 0.125 * (min(amp, 2.0 * fst[_SPK]) - fst[_SPK])
                    fst[_LAST_AMP] = amp
                    ist[_LAST_PULSE] = idx
                    ist[_ACCEPTED] = 1
        elif state == _PULSE_TAIL:
            # rest of a pulse-shaped upstroke: kept out of the noise level
            if d <= 0.0 or n - ist[_CAND_START] >= 2 * int(prm[_P_MAX_N]):
                ist[_STATE] = _ARMED
                if ist[_ACCEPTED] == 1:
                    fst[_NEG_SINCE] = 0.0
        else:
            # rest of a lobe that was not pulse-shaped: noise, folded in when it ends, unless
            # it rises again above its first maximum (a noisy upstroke)
            if good:
                fst[_BUF_POS] += dpos
                ist[_BUF_N] += 1
            if good and d > fst[_CAND_MAX]:
                ist[_STATE] = _CAND
                fst[_CAND_MAX] = d
                ist[_CAND_IDX] = c
                ist[_CAND_START] = n
            elif not good or d <= 0.0:
                if good:
                    fst[_BLK_POS] += fst[_BUF_POS]
                    ist[_BLK_POS_N] += ist[_BUF_N]
                ist[_BUF_N] = 0
                ist[_STATE] = _ARMED
        if fold:
            fst[_BLK_POS] += dpos
            ist[_BLK_POS_N] += 1
        if (n - ist[_START_N]) % block_n == block_n - 1:
            # close a level block; one mostly made of gaps or upstrokes leaves the levels alone
            enough = block_n // 4 + 1
            if ist[_BLK_N] >= enough:
                b = ist[_BLK_I] % n_blk
                rings[_R_NEG, b] = fst[_BLK_NEG]
                if ist[_BLK_POS_N] >= enough:
                    level = fst[_BLK_POS] / ist[_BLK_POS_N]
                    if ist[_BLK_INIT] == 0:
                        rings[_R_POS, :] = level
                        ist[_BLK_INIT] = 1
                    rings[_R_POS, b] = level
                    fst[_NPK] = _median(rings[_R_POS])
                ist[_BLK_I] += 1
            if fst[_LEARN_MAX] > fst[_LEARN_TOP1]:
                fst[_LEARN_TOP2] = fst[_LEARN_TOP1]
                fst[_LEARN_TOP1] = fst[_LEARN_MAX]
            elif fst[_LEARN_MAX] > fst[_LEARN_TOP2]:
                fst[_LEARN_TOP2] = fst[_LEARN_MAX]
            fst[_LEARN_MAX] = 0.0
            fst[_BLK_POS] = 0.0
            fst[_BLK_NEG] = 0.0
            ist[_BLK_POS_N] = 0
            ist[_BLK_N] = 0
        if ist[_STATE] == _LEARN and n - ist[_START_N] >= int(prm[_P_LEARN_N]):
            # second-largest block maximum: a start-up transient does not set the amplitude
            fst[_SPK] = fst[_LEARN_TOP2] if fst[_LEARN_TOP2] > 0.0 else fst[_LEARN_TOP1]
            # the learning blocks include the upstrokes: start the noise level below them
            cap = 0.5 * fst[_SPK] / prm[_P_NOISE_RATIO]
            for j in range(n_blk):
                rings[_R_POS, j] = min(rings[_R_POS, j], cap)
            fst[_NPK] = _median(rings[_R_POS])
            ist[_STATE] = _ARMED
        if ist[_PEND] == 1 and n >= ist[_PEND_IDX] + int(prm[_P_HOLD_N]):
            out_idx[n_out] = ist[_PEND_IDX]
            out_frac[n_out] = fst[_PEND_FRAC]
            out_conf[n_out] = n
            n_out += 1
            ist[_PEND] = 0
        ist[_N] = n + 1
    return n_out


@remembered
def _lowpass_delay(sos: np.ndarray, fs: float) -> float:
    # group delay at 2 Hz (the bulk of the upstroke's content), samples
    from scipy import signal

    b, a = signal.sos2tf(sos)
    _, gd = signal.group_delay((b, a), w=[2.0], fs=fs)
    return float(gd[0])


class PpgPulseDetector:
    """Streaming PPG pulse detector (fiducial: point of maximum upslope).

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (20-1000 Hz: wearables at 25-64 Hz, lab devices at 100-1000 Hz).

    Notes
    -----
    ``update(chunk)`` returns the absolute sample indices of the pulses confirmed in this chunk,
    each rounded to the nearest sample. A pulse is reported at most :data:`PPG_DELAY_S` s after
    its fiducial point; the first 2 s after the first valid sample are used to learn the
    amplitude. After each call:

    * ``confirm_index`` holds the sample index at which each returned pulse was confirmed;
    * ``fraction`` holds the sub-sample part of each returned pulse time, in samples (within
      ±0.5): ``(index + fraction) / fs`` is the pulse time in s. Use it for intervals at low
      rates, where whole samples quantise intervals by 16-40 ms;
    * ``valid_fraction`` holds, per input sample, the running share of valid samples (time
      constant 2 s; NaN and stuck samples are invalid).

    Pulse times include no filter delay: the low-pass group delay is subtracted.
    """

    delay_s: float = PPG_DELAY_S

    def __init__(self, fs: float) -> None:
        self.fs = check_rate(fs, "PPG sampling rate", 20.0, 1000.0)
        fs_ = self.fs
        block_n = max(4, round(_BLOCK_S * fs_))
        flat_n = max(4, round(_FLAT_S * fs_))
        self._sos = butter_sos("lowpass", _LOWPASS_HZ, fs_, order=_LOWPASS_ORDER)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._fst = np.zeros(_N_FLOAT)
        self._fst[_VALID_EMA] = 1.0
        self._fst[_LAST_RAW] = math.nan
        self._ist = np.zeros(_N_INT, dtype=np.int64)
        self._ist[_LAST_PULSE] = -(10**12)
        self._prm = np.array(
            [
                fs_,
                _lowpass_delay(self._sos, fs_),  # low-pass group delay, samples
                round(0.25 * fs_),  # refractory (240 bpm), samples
                4 * block_n,  # learning period (four level blocks, about 2 s), samples
                max(2, round(0.15 * fs_)),  # longest wait after the slope maximum, samples
                max(3, round(0.25 * fs_)),  # longest candidate upstroke, samples
                max(flat_n + 1, round(0.2 * fs_)),  # valid signal needed after a pulse
                round(0.5 * fs_),  # dicrotic-wave window, samples
                flat_n,  # identical samples that make a flat run
                round(2.0 * fs_),  # start decaying the amplitude after no pulse, samples
                math.exp(-1.0 / (3.0 * fs_)),  # amplitude decay per sample (tau 3 s)
                0.3,  # threshold fraction between noise level and amplitude
                _NOISE_RATIO,
                _ASYM,
                round(0.5 * fs_),  # settle time after a gap, samples
                block_n,  # level block, samples
                _N_NEG_BLOCKS,
                1.0 - math.exp(-1.0 / (2.0 * fs_)),  # valid-fraction EMA (tau 2 s)
            ]
        )
        self._rings = np.zeros((2, _N_BLOCKS))
        ring = 1 << math.ceil(math.log2(max(16, 1.0 * fs_)))
        self._d_ring = np.zeros(ring)
        self.confirm_index = np.empty(0, dtype=np.int64)
        self.fraction = np.empty(0)
        self.valid_fraction = np.empty(0)

    @property
    def n_samples(self) -> int:
        """Samples processed so far."""
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Process one chunk; return absolute sample indices of newly confirmed pulses."""
        x = as_signal(chunk, "PPG chunk")
        cap = 2 * x.size + 2  # at most one pulse per sample; generous so the kernel never overruns
        idx = np.empty(cap, dtype=np.int64)
        frac = np.empty(cap)
        conf = np.empty(cap, dtype=np.int64)
        valid = np.empty(x.size)
        k = _ppg_detect(
            x,
            self._sos,
            self._zi,
            self._zi_unit,
            self._fst,
            self._ist,
            self._prm,
            self._rings,
            self._d_ring,
            idx,
            frac,
            conf,
            valid,
        )
        self.confirm_index = conf[:k]
        self.fraction = frac[:k]
        self.valid_fraction = valid
        return idx[:k]


def ppg_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Detect pulses in a whole PPG record (causal; identical to the streaming detector).

    Parameters
    ----------
    signal : array
        PPG rising with blood volume, any unit; NaN marks missing samples.
    fs : float
        Sampling rate, Hz (20-1000 Hz).

    Returns
    -------
    ndarray of int64
        Sample indices of the pulses at their point of maximum upslope, rounded to the nearest
        sample (:class:`PpgPulseDetector` also gives the sub-sample ``fraction``).
    """
    return PpgPulseDetector(fs).update(signal)


def warm_up() -> None:
    """Compile (or load from the cache) the detector kernel before the first live chunk."""
    t = np.arange(200) / 25.0
    x = np.sin(2.0 * np.pi * 1.2 * t)
    x[50] = np.nan
    PpgPulseDetector(25.0).update(x)
