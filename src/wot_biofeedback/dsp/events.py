"""Growing, trimmable columnar logs of detected events, and windowed statistics over them.

A feature at frame time ``t`` may only use events *confirmed* by the sample at ``t`` (their
confirmation index), which keeps streaming output identical to batch output for any chunking.
"""

from __future__ import annotations

import numpy as np


class EventLog:
    """Columnar append-only log ordered by confirmation index.

    Columns are ``time`` (s), ``confirm`` (sample index, int64) and any float columns named at
    construction. Old rows can be trimmed to bound memory in long sessions.
    """

    def __init__(self, *columns: str) -> None:
        self._names = ("time", "confirm", *columns)
        self._cap = 64
        self._n = 0
        self._cols: dict[str, np.ndarray] = {
            name: np.empty(self._cap, dtype=np.int64 if name == "confirm" else np.float64)
            for name in self._names
        }

    def __len__(self) -> int:
        return self._n

    def append(self, **cols: np.ndarray) -> None:
        """Append rows; every column must be given with the same length."""
        k = len(cols["time"])
        if k == 0:
            return
        if self._n + k > self._cap:
            while self._n + k > self._cap:
                self._cap *= 2
            for name, arr in self._cols.items():
                new = np.empty(self._cap, dtype=arr.dtype)
                new[: self._n] = arr[: self._n]
                self._cols[name] = new
        for name in self._names:
            self._cols[name][self._n : self._n + k] = cols[name]
        self._n += k

    def col(self, name: str) -> np.ndarray:
        """View of one column (valid until the next append/trim)."""
        return self._cols[name][: self._n]

    def trim_before(self, time_s: float) -> None:
        """Drop rows whose time is before ``time_s``."""
        k = int(np.searchsorted(self.col("time"), time_s, side="left"))
        if k <= 0:
            return
        for arr in self._cols.values():
            arr[: self._n - k] = arr[k : self._n]
        self._n -= k


def window_bounds(
    log: EventLog, frame_t: np.ndarray, frame_n: np.ndarray, win_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Row ranges ``[lo, hi)`` of events known at each frame and inside ``[t - win_s, t]``."""
    hi = np.searchsorted(log.col("confirm"), frame_n, side="right")
    lo = np.searchsorted(log.col("time"), frame_t - win_s, side="left")
    return np.minimum(lo, hi), hi


def window_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of ``values[lo:hi]`` for each range (NaNs must be zeroed by the caller)."""
    cs = np.concatenate(([0.0], np.cumsum(values)))
    return cs[hi] - cs[lo]
