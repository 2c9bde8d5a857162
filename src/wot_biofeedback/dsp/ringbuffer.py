"""A ring buffer with a monotonic write index and per-reader cursors.

Writers never move data (no ``np.roll``); readers keep their own cursor and can peek at the
latest window without consuming it, or consume what is new since their last read.
"""

from __future__ import annotations

import threading

import numpy as np

from ._numba import njit


@njit
def _ring_write(buf: np.ndarray, write_idx: int, x: np.ndarray) -> None:
    n = buf.shape[0]
    for i in range(x.shape[0]):
        buf[(write_idx + i) % n] = x[i]


@njit
def _ring_read(buf: np.ndarray, start: int, stop: int, out: np.ndarray) -> None:
    n = buf.shape[0]
    for i in range(stop - start):
        out[i] = buf[(start + i) % n]


class RingBuffer:
    """Fixed-capacity float64 ring buffer, safe for one writer and many readers (threads).

    Parameters
    ----------
    capacity : int
        Number of samples kept.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._buf = np.full(int(capacity), np.nan)
        self._write = 0  # total samples ever written (monotonic)
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return int(self._buf.shape[0])

    @property
    def write_index(self) -> int:
        """Total number of samples ever written."""
        return self._write

    def write(self, x: np.ndarray) -> None:
        """Append samples; the oldest are overwritten when full."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        if x.size > self.capacity:
            skipped = x.size - self.capacity
            x = x[-self.capacity :]
        else:
            skipped = 0
        with self._lock:
            _ring_write(self._buf, (self._write + skipped) % self.capacity, x)
            self._write += skipped + x.size

    def peek(self, n: int) -> tuple[np.ndarray, int]:
        """Return the latest ``n`` samples (fewer if not yet written) and the index of the first."""
        with self._lock:
            stop = self._write
            start = max(0, stop - min(int(n), self.capacity))
            out = np.empty(stop - start)
            _ring_read(self._buf, start, stop, out)
        return out, start

    def read_since(self, cursor: int) -> tuple[np.ndarray, int]:
        """Return samples written since ``cursor`` and the new cursor.

        Samples already overwritten are skipped (the returned data starts at the oldest kept).
        """
        with self._lock:
            stop = self._write
            start = max(int(cursor), stop - self.capacity)
            out = np.empty(max(0, stop - start))
            _ring_read(self._buf, start, stop, out)
        return out, stop
