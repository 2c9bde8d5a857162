"""Causal breath detection on a respiration belt (or any inhale-up respiration signal).

The signal is band-passed (0.05-1 Hz, covering 3-60 breaths/min) and breaths are found as
alternating troughs and peaks with an adaptive hysteresis: an extremum is confirmed once the
signal has moved back from it by a fraction of the running breath amplitude. This is robust to
changes in depth and baseline (the band-pass removes drift; the hysteresis scales with depth)
and never needs the whole recording. The trough before a rise is the inspiration onset.

Algorithmic delay: an extremum is confirmed once the signal has moved back by the hysteresis,
typically a quarter of a breath cycle.

References
----------
Schäfer A, Kratky KW (2008). Estimation of breathing rate from respiratory sinus arrhythmia:
comparison of various methods. Ann Biomed Eng 36(3) (count-advanced peak/trough logic).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import as_signal, check_rate
from ._kernels import I_BAD_UNTIL, I_N, I_START_N, I_STARTED, S_VALID_EMA, ingest, start_filter
from ._numba import njit
from .filters import _sos_step, butter_sos, sos_zi_unit

_EXT_V, _AMP, _TROUGH_V = range(2, 5)
_STATE, _EXT_I, _LAST_ONSET = range(4, 7)
_N, _STARTED, _BAD_UNTIL, _START_N, _VALID_EMA = I_N, I_STARTED, I_BAD_UNTIL, I_START_N, S_VALID_EMA
_P_HYST, _P_AMP_ALPHA, _P_MIN_BREATH_N, _P_SETTLE_N, _P_VALID_ALPHA = range(5)


@njit
def _resp_breaths(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    out_bp: np.ndarray,
    out_valid: np.ndarray,
    out_onset: np.ndarray,
    out_peak: np.ndarray,
    out_depth: np.ndarray,
    out_conf: np.ndarray,
) -> int:
    n_out = 0
    for i in range(x.shape[0]):
        n = ist[_N]
        v, valid = ingest(x[i], fst, ist, prm[_P_VALID_ALPHA], int(prm[_P_SETTLE_N]))
        out_valid[i] = fst[_VALID_EMA]
        if ist[_STARTED] == 0:
            if not valid:
                out_bp[i] = math.nan
                ist[_N] = n + 1
                continue
            start_filter(v, zi, zi_unit, ist)
            ist[_STATE] = 0
            fst[_EXT_V] = 0.0
        y = _sos_step(sos, zi, v)
        out_bp[i] = y if valid else math.nan
        # running breath amplitude (mean |y|), floor avoids a zero hysteresis on flatlines
        fst[_AMP] += prm[_P_AMP_ALPHA] * (abs(y) - fst[_AMP])
        if n < ist[_BAD_UNTIL]:
            ist[_STATE] = 0
            fst[_EXT_V] = y
            ist[_EXT_I] = n
            ist[_N] = n + 1
            continue
        h = prm[_P_HYST] * fst[_AMP]
        if ist[_STATE] == 0:
            # seeking a trough
            if y < fst[_EXT_V]:
                fst[_EXT_V] = y
                ist[_EXT_I] = n
            elif y > fst[_EXT_V] + h and h > 0.0:
                fst[_TROUGH_V] = fst[_EXT_V]
                onset = ist[_EXT_I]
                if onset - ist[_LAST_ONSET] >= int(prm[_P_MIN_BREATH_N]) or ist[_LAST_ONSET] < 0:
                    ist[_LAST_ONSET] = onset
                    out_onset[n_out] = onset
                    out_peak[n_out] = -1
                    out_depth[n_out] = math.nan
                    out_conf[n_out] = n
                    n_out += 1
                ist[_STATE] = 1
                fst[_EXT_V] = y
                ist[_EXT_I] = n
        else:
            if y > fst[_EXT_V]:
                fst[_EXT_V] = y
                ist[_EXT_I] = n
            elif y < fst[_EXT_V] - h and h > 0.0:
                # peak confirmed: report its index and depth against the preceding trough
                out_onset[n_out] = -1
                out_peak[n_out] = ist[_EXT_I]
                out_depth[n_out] = fst[_EXT_V] - fst[_TROUGH_V]
                out_conf[n_out] = n
                n_out += 1
                ist[_STATE] = 0
                fst[_EXT_V] = y
                ist[_EXT_I] = n
        ist[_N] = n + 1
    return n_out


class RespBreathDetector:
    """Streaming breath detector.

    ``update(chunk)`` returns event arrays ``(onset_idx, peak_idx, depth)``: each event is either
    an inspiration onset (``peak_idx == -1``) or an inspiration peak with its depth (peak minus
    preceding trough, signal units; ``onset_idx == -1``). ``confirm_index`` gives the sample at
    which each event was confirmed.
    """

    def __init__(self, fs: float) -> None:
        self.fs = check_rate(fs, "RESP sampling rate", 2.0, 10_000.0)
        self._sos = butter_sos("bandpass", (0.05, 1.0), self.fs, order=2)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._fst = np.zeros(5)
        self._fst[_VALID_EMA] = 1.0
        self._ist = np.zeros(7, dtype=np.int64)
        self._ist[_LAST_ONSET] = -1
        self._prm = np.array(
            [
                0.5,  # hysteresis as a fraction of mean |signal| (~0.35 of half the swing)
                1.0 - math.exp(-1.0 / (8.0 * self.fs)),  # amplitude EMA, tau 8 s
                round(1.2 * self.fs),  # shortest breath (50/min), samples
                round(3.0 * self.fs),  # settle after a gap, samples
                1.0 - math.exp(-1.0 / (2.0 * self.fs)),
            ]
        )
        self.filtered = np.empty(0)
        self.valid_fraction = np.empty(0)
        self.confirm_index = np.empty(0, dtype=np.int64)

    @property
    def n_samples(self) -> int:
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = as_signal(chunk, "RESP chunk")
        cap = x.size + 2
        onset = np.empty(cap, dtype=np.int64)
        peak = np.empty(cap, dtype=np.int64)
        depth = np.empty(cap)
        conf = np.empty(cap, dtype=np.int64)
        bp = np.empty(x.size)
        valid = np.empty(x.size)
        k = _resp_breaths(
            x, self._sos, self._zi, self._zi_unit, self._fst, self._ist, self._prm,
            bp, valid, onset, peak, depth, conf,
        )  # fmt: skip
        self.filtered = bp
        self.valid_fraction = valid
        self.confirm_index = conf[:k]
        return onset[:k], peak[:k], depth[:k]


def rsp_breaths(signal: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Detect breaths in a whole respiration record (identical to the streaming detector).

    Returns
    -------
    dict
        ``onset`` (inspiration-onset sample indices), ``peak`` (inspiration-peak indices) and
        ``depth`` (peak minus preceding trough, signal units, one per peak).
    """
    det = RespBreathDetector(fs)
    onset, peak, depth = det.update(signal)
    return {"onset": onset[onset >= 0], "peak": peak[peak >= 0], "depth": depth[peak >= 0]}
