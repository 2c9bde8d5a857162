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
        # window sums: per quantity, the running total of the rows trimmed so far (summed in
        # order, as the running sum over every row would), and its values over the rows now
        self._base: dict[str, float] = {}
        self._summed: dict[str, np.ndarray] = {}

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
        """Drop rows whose time is before ``time_s``.

        The running totals of :meth:`window_sum` carry the dropped rows on, so its sums do not
        depend on when the log was trimmed (and so on how a signal was chunked)."""
        k = int(np.searchsorted(self.col("time"), time_s, side="left"))
        if k <= 0:
            return
        for key, values in self._summed.items():
            if values.size != self._n:
                raise AssertionError(f"window sum {key!r} is over {values.size} of {self._n} rows")
            head = np.concatenate(([self._base.get(key, 0.0)], values[:k]))
            self._base[key] = float(np.cumsum(head)[-1])
        self._summed.clear()
        for arr in self._cols.values():
            arr[: self._n - k] = arr[k : self._n]
        self._n -= k

    def window_sum(
        self, key: str, values: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> np.ndarray:
        """Sum of ``values[lo:hi]`` for each range, ``values`` one per row of the log (NaNs
        zeroed by the caller), named ``key`` for the running total.

        The sums are differences of one running sum from the first row ever logged, trimmed
        or not, so they are the same to the bit for any chunking; with nothing trimmed they
        are those of ``np.cumsum`` over the rows."""
        self._summed[key] = values
        cs = np.cumsum(np.concatenate(([self._base.get(key, 0.0)], values)))
        return cs[hi] - cs[lo]


def window_bounds(
    log: EventLog, frame_t: np.ndarray, frame_n: np.ndarray, win_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Row ranges ``[lo, hi)`` of events known at each frame and inside ``[t - win_s, t]``."""
    hi = np.searchsorted(log.col("confirm"), frame_n, side="right")
    lo = np.searchsorted(log.col("time"), frame_t - win_s, side="left")
    return np.minimum(lo, hi), hi
