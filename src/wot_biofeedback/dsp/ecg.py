"""Causal ECG R-peak detection.

The detector follows the energy-envelope scheme of Pan & Tompkins (1985): a 5-20 Hz band-pass,
a rectified moving-window integral, and an adaptive threshold between a running signal-peak
level and a running noise level, with a refractory period and a T-wave check. It differs where
real-time use needs it:

* everything is causal and carried sample by sample, so any chunking gives the same beats;
* the R-peak is placed at the extremum of the *raw* signal inside the QRS search window (not at
  the delayed filtered peak), so RR intervals are not blurred by filter delay;
* polarity is learnt from the beats (inverted leads work);
* a detection needs the envelope to exceed ``noise_ratio`` times the running inter-beat noise
  level, so flatlines, gaps and pure noise never produce beats;
* NaN samples are gaps: the filter holds the last value and detection is suppressed until the
  filter has settled after the gap.

Algorithmic delay: a beat is reported at most :data:`ECG_DELAY_S` after its R-peak.

References
----------
Pan J, Tompkins WJ (1985). A real-time QRS detection algorithm. IEEE Trans Biomed Eng 32(3).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import as_1d_float, check_rate
from ._kernels import I_BAD_UNTIL, I_N, I_START_N, I_STARTED, S_VALID_EMA, ingest, start_filter
from ._numba import njit
from .filters import _sos_step, butter_sos, sos_zi_unit

ECG_DELAY_S = 0.3
"""Upper bound of the time between an R-peak and its report, s."""

# float state slots
_SPK, _NPK, _CAND_MAX, _LAST_BEAT_E, _LEARN_MAX, _MA_SUM, _POLARITY = range(2, 9)
# int state slots
_STATE, _CAND_IDX, _LAST_BEAT, _CAND_START = range(4, 8)
_N, _STARTED, _BAD_UNTIL, _START_N, _VALID_EMA = I_N, I_STARTED, I_BAD_UNTIL, I_START_N, S_VALID_EMA
# parameter slots
(
    _P_MA_N,
    _P_REFRACT_N,
    _P_LEARN_N,
    _P_SEARCH_N,
    _P_END_N,
    _P_TWAVE_N,
    _P_DECAY_START_N,
    _P_DECAY,
    _P_THR_FRAC,
    _P_NOISE_RATIO,
    _P_SETTLE_N,
    _P_NPK_ALPHA,
    _P_VALID_ALPHA,
) = range(13)


@njit
def _ecg_detect(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    raw_ring: np.ndarray,
    abs_ring: np.ndarray,
    out_peak: np.ndarray,
    out_conf: np.ndarray,
    out_valid: np.ndarray,
) -> int:
    ring_n = raw_ring.shape[0]
    ma_n = int(prm[_P_MA_N])
    n_out = 0
    for i in range(x.shape[0]):
        n = ist[_N]
        v, valid = ingest(x[i], fst, ist, prm[_P_VALID_ALPHA], int(prm[_P_SETTLE_N]))
        out_valid[i] = fst[_VALID_EMA]
        if ist[_STARTED] == 0:
            if not valid:
                raw_ring[n % ring_n] = 0.0
                abs_ring[n % ring_n] = 0.0
                ist[_N] = n + 1
                continue
            start_filter(v, zi, zi_unit, ist)
        bp = _sos_step(sos, zi, v)
        a = abs(bp)
        old = abs_ring[(n - ma_n) % ring_n] if n - ma_n >= ist[_START_N] else 0.0
        abs_ring[n % ring_n] = a
        raw_ring[n % ring_n] = v
        fst[_MA_SUM] += a - old
        if n % 4096 == 0:
            # re-sum exactly now and then so float round-off never accumulates
            s_exact = 0.0
            for j in range(max(ist[_START_N], n - ma_n + 1), n + 1):
                s_exact += abs_ring[j % ring_n]
            fst[_MA_SUM] = s_exact
        e = fst[_MA_SUM] / ma_n
        state = ist[_STATE]
        if state == 0:
            if e > fst[_LEARN_MAX]:
                fst[_LEARN_MAX] = e
            fst[_NPK] += prm[_P_NPK_ALPHA] * (e - fst[_NPK])
            if n - ist[_START_N] >= int(prm[_P_LEARN_N]):
                fst[_SPK] = fst[_LEARN_MAX]
                ist[_STATE] = 1
        elif state == 1:
            if n - ist[_LAST_BEAT] > int(prm[_P_DECAY_START_N]):
                fst[_SPK] *= prm[_P_DECAY]
            thr = fst[_NPK] + prm[_P_THR_FRAC] * (fst[_SPK] - fst[_NPK])
            if (
                n >= ist[_BAD_UNTIL]
                and e > thr
                and e > prm[_P_NOISE_RATIO] * fst[_NPK]
                and n - ist[_LAST_BEAT] > int(prm[_P_REFRACT_N])
            ):
                ist[_STATE] = 2
                fst[_CAND_MAX] = e
                ist[_CAND_IDX] = n
                ist[_CAND_START] = n
            else:
                fst[_NPK] += prm[_P_NPK_ALPHA] * (e - fst[_NPK])
        else:
            if n < ist[_BAD_UNTIL]:
                ist[_STATE] = 1
            elif e > fst[_CAND_MAX]:
                fst[_CAND_MAX] = e
                ist[_CAND_IDX] = n
            elif e < 0.5 * fst[_CAND_MAX] or n - ist[_CAND_IDX] >= int(prm[_P_END_N]):
                ist[_STATE] = 1
                lo = ist[_CAND_START] - int(prm[_P_SEARCH_N])
                lo = max(lo, n - ring_n + 1, ist[_START_N], ist[_LAST_BEAT] + 1)
                base = raw_ring[lo % ring_n]
                pos_v = -1.0e300
                neg_v = -1.0e300
                pos_i = lo
                neg_i = lo
                for j in range(lo, n + 1):
                    d = raw_ring[j % ring_n] - base
                    if d > pos_v:
                        pos_v = d
                        pos_i = j
                    if -d > neg_v:
                        neg_v = -d
                        neg_i = j
                pol = fst[_POLARITY]
                # prefer the learnt polarity unless the other extremum clearly dominates
                if pol > 0.5:
                    use_pos = pos_v >= 0.6 * neg_v
                elif pol < -0.5:
                    use_pos = pos_v > 1.66 * neg_v
                else:
                    use_pos = pos_v >= neg_v
                peak = pos_i if use_pos else neg_i
                fst[_POLARITY] += 0.2 * ((1.0 if use_pos else -1.0) - pol)
                since = peak - ist[_LAST_BEAT]
                is_t_wave = (
                    since < int(prm[_P_TWAVE_N]) and fst[_CAND_MAX] < 0.5 * fst[_LAST_BEAT_E]
                )
                if since > int(prm[_P_REFRACT_N]) and not is_t_wave:
                    out_peak[n_out] = peak
                    out_conf[n_out] = n
                    n_out += 1
                    fst[_SPK] = 0.125 * fst[_CAND_MAX] + 0.875 * fst[_SPK]
                    fst[_LAST_BEAT_E] = fst[_CAND_MAX]
                    ist[_LAST_BEAT] = peak
        ist[_N] = n + 1
    return n_out


class EcgPeakDetector:
    """Streaming R-peak detector.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (100-1000 Hz supported; 128-130 Hz wearables included).

    Notes
    -----
    ``update(chunk)`` returns the absolute sample indices of the R-peaks confirmed in this chunk.
    Each peak is reported at most :data:`ECG_DELAY_S` s after it occurred. ``confirm_index``
    holds the sample index at which each returned peak was confirmed.
    """

    delay_s: float = ECG_DELAY_S

    def __init__(self, fs: float) -> None:
        self.fs = check_rate(fs, "ECG sampling rate", 50.0, 10_000.0)
        self._sos = butter_sos("bandpass", (5.0, 20.0), self.fs, order=2)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._fst = np.zeros(9)
        self._fst[_VALID_EMA] = 1.0
        self._ist = np.zeros(8, dtype=np.int64)
        self._ist[_LAST_BEAT] = -(10**12)
        fs_ = self.fs
        self._prm = np.array(
            [
                max(2, round(0.1 * fs_)),  # moving-window integral, samples
                round(0.2 * fs_),  # refractory, samples
                round(2.0 * fs_),  # learning period, samples
                round(0.15 * fs_),  # search before the threshold crossing, samples
                round(0.12 * fs_),  # wait after envelope maximum, samples
                round(0.36 * fs_),  # T-wave window, samples
                round(2.0 * fs_),  # start decaying the peak level after no beat, samples
                math.exp(-1.0 / (3.0 * fs_)),  # peak level decay per sample (tau 3 s)
                0.3,  # threshold fraction between noise and signal level
                3.0,  # envelope must exceed this many times the noise level
                round(0.5 * fs_),  # settle time after a gap, samples
                1.0 - math.exp(-1.0 / (1.0 * fs_)),  # noise-level EMA (tau 1 s)
                1.0 - math.exp(-1.0 / (2.0 * fs_)),  # valid-fraction EMA (tau 2 s)
            ]
        )
        ring = 1 << math.ceil(math.log2(max(16, 1.0 * fs_)))
        self._raw_ring = np.zeros(ring)
        self._abs_ring = np.zeros(ring)
        self.confirm_index = np.empty(0, dtype=np.int64)
        self.valid_fraction = np.empty(0)

    @property
    def n_samples(self) -> int:
        """Samples processed so far."""
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Process one chunk; return absolute sample indices of newly confirmed R-peaks."""
        x = as_1d_float(chunk, "ECG chunk")
        cap = x.size // max(1, int(self._prm[_P_REFRACT_N])) + 2
        peaks = np.empty(cap, dtype=np.int64)
        conf = np.empty(cap, dtype=np.int64)
        valid = np.empty(x.size)
        k = _ecg_detect(
            x,
            self._sos,
            self._zi,
            self._zi_unit,
            self._fst,
            self._ist,
            self._prm,
            self._raw_ring,
            self._abs_ring,
            peaks,
            conf,
            valid,
        )
        self.confirm_index = conf[:k]
        self.valid_fraction = valid
        return peaks[:k]


def ecg_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Detect R-peaks in a whole ECG record (causal; identical to the streaming detector).

    Parameters
    ----------
    signal : array
        ECG, any unit and polarity; NaN marks missing samples.
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    ndarray of int64
        Sample indices of the R-peaks, placed at the raw-signal extremum.
    """
    return EcgPeakDetector(fs).update(signal)
