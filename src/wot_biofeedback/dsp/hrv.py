"""Beat-interval handling and time-domain heart-rate variability.

Interval screening (first version): an RR interval is accepted when it lies in 300-2000 ms
(30-200 bpm) and within 25 % of the median of the previous seven accepted intervals, the
classic percentage filter (Malik et al. 1989). Three consecutive rejected intervals that agree
with one another (within 15 %) are taken as a genuine change of rhythm and accepted, so the
filter cannot lock out a new heart rate. Rejected intervals are flagged ``corrected`` and left
out of every HRV feature.

References
----------
Malik M et al. (1989). Heart rate variability in relation to prognosis after myocardial
infarction: selection of optimal processing techniques. Eur Heart J 10(12).
Task Force of the ESC and NASPE (1996). Heart rate variability: standards of measurement.
Circulation 93(5).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np

from .._checks import as_1d_float

RR_MIN_MS = 300.0
RR_MAX_MS = 2000.0


class RRScreen:
    """Streaming RR-interval screen (percentage filter with rhythm-change recovery)."""

    def __init__(self, tolerance: float = 0.25, history: int = 7) -> None:
        self.tolerance = tolerance
        self._ref: deque[float] = deque(maxlen=history)
        self._rejected: list[float] = []

    def screen(self, rr_ms: float) -> bool:
        """Return True when ``rr_ms`` is accepted."""
        if not np.isfinite(rr_ms) or not RR_MIN_MS <= rr_ms <= RR_MAX_MS:
            self._rejected.clear()
            return False
        if len(self._ref) < 3:
            self._ref.append(rr_ms)
            return True
        ref = float(np.median(self._ref))
        if abs(rr_ms - ref) <= self.tolerance * ref:
            self._ref.append(rr_ms)
            self._rejected.clear()
            return True
        self._rejected.append(rr_ms)
        if len(self._rejected) >= 3:
            r = np.asarray(self._rejected[-3:])
            if r.max() - r.min() <= 0.15 * r.mean():
                self._ref.clear()
                self._ref.extend(r.tolist())
                self._rejected.clear()
                return True
        return False


def rr_screen(rr_ms: np.ndarray) -> np.ndarray:
    """Batch form of :class:`RRScreen`: boolean mask of accepted intervals."""
    rr = as_1d_float(rr_ms, "rr_ms")
    s = RRScreen()
    return np.array([s.screen(float(v)) for v in rr], dtype=bool)


def hrv_time(rr_ms: np.ndarray) -> Mapping[str, float]:
    """Time-domain HRV of a series of normal-to-normal intervals.

    Parameters
    ----------
    rr_ms : array
        NN intervals, ms (already screened).

    Returns
    -------
    dict
        ``mean_nn_ms``: mean NN interval, ms; ``mean_hr_bpm``: mean of 60000/NN, bpm;
        ``sdnn_ms``: standard deviation of NN (ddof=1), ms; ``rmssd_ms``: root mean square of
        successive differences, ms; ``pnn50``: percentage of successive differences > 50 ms, %.
    """
    rr = as_1d_float(rr_ms, "rr_ms")
    rr = rr[np.isfinite(rr)]
    out = dict.fromkeys(("mean_nn_ms", "mean_hr_bpm", "sdnn_ms", "rmssd_ms", "pnn50"), np.nan)
    if rr.size >= 1:
        out["mean_nn_ms"] = float(rr.mean())
        out["mean_hr_bpm"] = float(np.mean(60000.0 / rr))
    if rr.size >= 2:
        d = np.diff(rr)
        out["sdnn_ms"] = float(rr.std(ddof=1))
        out["rmssd_ms"] = float(np.sqrt(np.mean(d**2)))
        out["pnn50"] = float(100.0 * np.mean(np.abs(d) > 50.0))
    return out
