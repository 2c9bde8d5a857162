"""Causal skin-conductance processing: low-pass, skin-conductance level and SCR detection.

SCRs are found trough-to-peak on the low-passed signal (Boucsein 2012, ch. 2.3; the classic
trough-to-peak method), causally and with *absolute* thresholds in µS, never relative to a
whole-recording maximum (which cannot run live):

* a rise starts when the conductance climbs above the running trough;
* the peak is confirmed once the signal has fallen back by ``max(drop_us, 10 % of the rise)``;
* the response counts when its amplitude is >= ``min_amplitude_us`` and its steepest slope is
  >= ``min_slope_us_s`` (slow tonic climbs are not SCRs); a rise that lasts longer than
  ``max_rise_s`` is re-anchored, because SCR rise times are 0.5-4 s (Dawson et al. 2007).

Algorithmic delay: an SCR is reported when its peak is confirmed, typically 0.3-1 s after the
peak; ``delay_s`` bounds the low-pass and slope-estimator delay.

References
----------
Boucsein W (2012). Electrodermal Activity, 2nd ed. Springer.
Dawson ME, Schell AM, Filion DL (2007). The electrodermal system. Handbook of Psychophysiology.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import as_signal, check_rate
from ._kernels import I_BAD_UNTIL, I_N, I_START_N, I_STARTED, S_VALID_EMA, ingest, start_filter
from ._numba import njit
from .filters import _sos_step, butter_sos, sos_zi_unit

# float state
_TROUGH_V, _PEAK_V, _MAX_SLOPE = range(2, 5)
# int state
_STATE, _TROUGH_I, _PEAK_I = range(4, 7)
_N, _STARTED, _BAD_UNTIL, _START_N, _VALID_EMA = I_N, I_STARTED, I_BAD_UNTIL, I_START_N, S_VALID_EMA
# params
_P_MIN_AMP, _P_MIN_SLOPE, _P_DROP, _P_MAX_RISE_N, _P_SLOPE_N, _P_SETTLE_N, _P_VALID_ALPHA = range(7)


@njit
def _eda_scr(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    ring: np.ndarray,
    out_lp: np.ndarray,
    out_valid: np.ndarray,
    out_onset: np.ndarray,
    out_peak: np.ndarray,
    out_amp: np.ndarray,
    out_conf: np.ndarray,
) -> int:
    ring_n = ring.shape[0]
    slope_n = int(prm[_P_SLOPE_N])
    n_out = 0
    for i in range(x.shape[0]):
        n = ist[_N]
        v, valid = ingest(x[i], fst, ist, prm[_P_VALID_ALPHA], int(prm[_P_SETTLE_N]))
        out_valid[i] = fst[_VALID_EMA]
        if ist[_STARTED] == 0:
            if not valid:
                out_lp[i] = math.nan
                ring[n % ring_n] = math.nan
                ist[_N] = n + 1
                continue
            start_filter(v, zi, zi_unit, ist)
            fst[_TROUGH_V] = v
            ist[_TROUGH_I] = n
        y = _sos_step(sos, zi, v)
        ring[n % ring_n] = y
        out_lp[i] = y if valid else math.nan
        if n < ist[_BAD_UNTIL]:
            # a gap: start afresh from here once the signal is back
            ist[_STATE] = 0
            fst[_TROUGH_V] = y
            ist[_TROUGH_I] = n
            ist[_N] = n + 1
            continue
        slope = 0.0
        if n - slope_n >= ist[_START_N]:
            slope = (y - ring[(n - slope_n) % ring_n]) / slope_n
        if ist[_STATE] == 0:
            if y <= fst[_TROUGH_V]:
                fst[_TROUGH_V] = y
                ist[_TROUGH_I] = n
            elif slope > 0.0:
                ist[_STATE] = 1
                fst[_PEAK_V] = y
                ist[_PEAK_I] = n
                fst[_MAX_SLOPE] = slope
        elif y < fst[_TROUGH_V]:
            # the "rise" fizzled out below its start: keep looking for the trough
            ist[_STATE] = 0
            fst[_TROUGH_V] = y
            ist[_TROUGH_I] = n
        else:
            if y >= fst[_PEAK_V]:
                fst[_PEAK_V] = y
                ist[_PEAK_I] = n
                if slope > fst[_MAX_SLOPE]:
                    fst[_MAX_SLOPE] = slope
                if n - ist[_TROUGH_I] > int(prm[_P_MAX_RISE_N]):
                    # too slow to be one SCR: move the trough half a window forward along the
                    # climb and take the steepest slope over what remains (amortised O(1))
                    j = n - int(prm[_P_MAX_RISE_N]) // 2
                    fst[_TROUGH_V] = ring[j % ring_n]
                    ist[_TROUGH_I] = j
                    ms = 0.0
                    for k in range(j + slope_n, n + 1):
                        sk = (ring[k % ring_n] - ring[(k - slope_n) % ring_n]) / slope_n
                        if sk > ms:
                            ms = sk
                    fst[_MAX_SLOPE] = ms
            else:
                rise = fst[_PEAK_V] - fst[_TROUGH_V]
                if fst[_PEAK_V] - y >= max(prm[_P_DROP], 0.1 * rise):
                    if rise >= prm[_P_MIN_AMP] and fst[_MAX_SLOPE] >= prm[_P_MIN_SLOPE]:
                        out_onset[n_out] = ist[_TROUGH_I]
                        out_peak[n_out] = ist[_PEAK_I]
                        out_amp[n_out] = rise
                        out_conf[n_out] = n
                        n_out += 1
                    ist[_STATE] = 0
                    fst[_TROUGH_V] = y
                    ist[_TROUGH_I] = n
        ist[_N] = n + 1
    return n_out


class EdaScrDetector:
    """Streaming skin-conductance low-pass and SCR detector.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (4-1000 Hz).
    min_amplitude_us : float
        Smallest SCR amplitude counted, µS (absolute; default 0.02 µS).
    min_slope_us_s : float
        Smallest peak rising slope of an SCR, µS/s.

    Notes
    -----
    ``update(chunk)`` returns ``(onset_idx, peak_idx, amplitude_us)`` arrays for the SCRs
    confirmed in the chunk, and leaves the low-passed conductance of the chunk in ``lowpass``.
    """

    def __init__(
        self, fs: float, min_amplitude_us: float = 0.02, min_slope_us_s: float = 0.04
    ) -> None:
        self.fs = check_rate(fs, "EDA sampling rate", 1.0, 10_000.0)
        if not 0.0 < min_amplitude_us < 5.0:
            raise ValueError(f"min_amplitude_us {min_amplitude_us!r} must be in (0, 5) µS")
        self._sos = butter_sos("lowpass", 1.0, self.fs, order=2)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._fst = np.zeros(5)
        self._fst[_VALID_EMA] = 1.0
        self._ist = np.zeros(7, dtype=np.int64)
        slope_n = max(1, round(0.25 * self.fs))
        self._prm = np.array(
            [
                float(min_amplitude_us),
                float(min_slope_us_s) / self.fs,  # µS per sample
                0.005,  # µS fall that confirms a peak (at least)
                round(5.0 * self.fs),  # longest rise, samples
                slope_n,
                round(1.0 * self.fs),  # settle after a gap, samples
                1.0 - math.exp(-1.0 / (2.0 * self.fs)),
            ]
        )
        ring = 1 << math.ceil(math.log2(max(16, 8.0 * self.fs)))
        self._ring = np.zeros(ring)
        self.delay_s = 0.25 + 1.0 / (2 * math.pi * min(1.0, 0.45 * self.fs))
        self.lowpass = np.empty(0)
        self.valid_fraction = np.empty(0)
        self.confirm_index = np.empty(0, dtype=np.int64)

    @property
    def n_samples(self) -> int:
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Process one chunk of conductance (µS); return (onset_idx, peak_idx, amplitude_us)."""
        x = as_signal(chunk, "EDA chunk")
        cap = x.size // 2 + 2
        onset = np.empty(cap, dtype=np.int64)
        peak = np.empty(cap, dtype=np.int64)
        amp = np.empty(cap)
        conf = np.empty(cap, dtype=np.int64)
        lp = np.empty(x.size)
        valid = np.empty(x.size)
        k = _eda_scr(
            x, self._sos, self._zi, self._zi_unit, self._fst, self._ist, self._prm,
            self._ring, lp, valid, onset, peak, amp, conf,
        )  # fmt: skip
        self.lowpass = lp
        self.valid_fraction = valid
        self.confirm_index = conf[:k]
        return onset[:k], peak[:k], amp[:k]


def eda_scr(signal: np.ndarray, fs: float, min_amplitude_us: float = 0.02) -> dict[str, np.ndarray]:
    """Detect SCRs in a whole skin-conductance record (identical to the streaming detector).

    Parameters
    ----------
    signal : array
        Skin conductance, µS; NaN marks missing samples.
    fs : float
        Sampling rate, Hz.
    min_amplitude_us : float
        Smallest amplitude counted, µS.

    Returns
    -------
    dict
        ``onset``, ``peak`` (sample indices), ``amplitude_us`` (µS) and ``lowpass`` (the
        low-passed conductance, µS).
    """
    det = EdaScrDetector(fs, min_amplitude_us)
    onset, peak, amp = det.update(signal)
    return {"onset": onset, "peak": peak, "amplitude_us": amp, "lowpass": det.lowpass}
