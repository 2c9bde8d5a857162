"""Growing, trimmable columnar logs of detected events, and windowed statistics over them.

A feature at frame time ``t`` may only use events *confirmed* by the sample at ``t`` (their
confirmation index), which keeps streaming output identical to batch output for any chunking.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import njit_exact


class EventLog:
    """Columnar append-only log ordered by confirmation index.

    Columns are ``time`` (s), ``confirm`` (sample index, int64) and any float columns named at
    construction; of those named in ``summed`` the running sum is kept as rows come, for window
    sums (:meth:`cums`). Old rows can be trimmed to bound memory in long
    sessions.
    """

    def __init__(self, *columns: str, summed: tuple[str, ...] = ()) -> None:
        self._names = ("time", "confirm", *columns)
        unknown = [c for c in summed if c not in columns]
        if unknown:
            raise ValueError(f"summed columns {unknown} are not columns of the log {columns}")
        self._cap = 64
        self._n = 0
        self._cols: dict[str, np.ndarray] = {
            name: np.empty(self._cap, dtype=np.int64 if name == "confirm" else np.float64)
            for name in self._names
        }
        # window sums: per summed column (a column each, in ``summed`` order), the running sum
        # from the first row ever logged (trimmed or not), one more than the rows now: ``[0]``
        # is the total of the rows trimmed. Rows first, so that the rows in use are always one
        # C-contiguous block (a kernel compiled for one array layout is never given another)
        self._summed = tuple(summed)
        self._cum = np.zeros((self._cap + 1, len(summed)))

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
            grown = np.zeros((self._cap + 1, len(self._summed)))
            grown[: self._n + 1] = self._cum[: self._n + 1]
            self._cum = grown
        n = self._n
        for name in self._names:
            self._cols[name][n : n + k] = cols[name]
        for i, name in enumerate(self._summed):
            # in order, from the total so far: the running sum over every row ever logged
            head = np.concatenate((self._cum[n : n + 1, i], self._cols[name][n : n + k]))
            self._cum[n : n + k + 1, i] = np.cumsum(head)
        self._n += k

    def col(self, name: str) -> np.ndarray:
        """View of one column (valid until the next append/trim)."""
        return self._cols[name][: self._n]

    def trim_before(self, time_s: float) -> None:
        """Drop rows whose time is before ``time_s``.

        The running sums (:meth:`cums`) carry the dropped rows on, so a window's sum, a
        difference of one running sum from the first row ever logged, does not depend on when
        the log was trimmed (and so on how a signal was chunked)."""
        k = int(np.searchsorted(self.col("time"), time_s, side="left"))
        if k <= 0:
            return
        for arr in self._cols.values():
            arr[: self._n - k] = arr[k : self._n]
        self._cum[: self._n - k + 1] = self._cum[k : self._n + 1]
        self._n -= k

    def cums(self) -> np.ndarray:
        """The running sums of the summed columns, a column each in ``summed`` order
        (C-contiguous view, valid until the next append/trim): ``[i, s]`` is the sum of column
        ``s`` over every row ever logged before row ``i`` of the log now, added in order."""
        return self._cum[: self._n + 1]


# the same searches and statistics for the frame kernels (numba, one call per update) -----------


@njit_exact
def bisect_left(a: np.ndarray, x: float) -> int:
    """``np.searchsorted(a, x, side="left")`` for sorted ``a``."""
    lo, hi = 0, a.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit_exact
def bisect_right(a: np.ndarray, x: float) -> int:
    """``np.searchsorted(a, x, side="right")`` for sorted ``a``."""
    lo, hi = 0, a.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit_exact
def sample_at(per_sample: np.ndarray, n: int, n_before: int) -> float:
    """``per_sample`` (this chunk's, from sample ``n_before``) at sample ``n``; NaN outside."""
    i = n - n_before
    return per_sample[i] if 0 <= i < per_sample.size else math.nan


@njit_exact
def clip01(x: float) -> float:
    """``x`` clipped to [0, 1], NaN kept: ``np.clip(x, 0.0, 1.0)`` and Python's
    ``min(1.0, max(0.0, x))`` for any number but -0.0 (which gives 0.0 here)."""
    if math.isnan(x):
        return x
    x = x if x > 0.0 else 0.0
    return x if x < 1.0 else 1.0


@njit_exact
def finite_median(values: np.ndarray, lo: int, hi: int) -> float:
    """``np.median`` of the finite ``values[lo:hi]`` (NaN when there are none)."""
    seg = np.empty(max(hi - lo, 0))
    m = 0
    for i in range(lo, hi):
        if math.isfinite(values[i]):
            seg[m] = values[i]
            m += 1
    if m == 0:
        return math.nan
    seg = np.sort(seg[:m])
    if m % 2:
        return seg[m // 2]
    return (seg[m // 2 - 1] + seg[m // 2]) / 2.0
