"""A view's own copy of the engine's frame history, brought up to date by cursor.

The engine hands each snapshot only the history rows written since the view's cursor (see
:mod:`wot_biofeedback.snapshot`); the view appends them here and draws from these arrays. No
Qt in it: plain numpy, tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..snapshot import Snapshot

__all__ = ["ViewHistory"]


class ViewHistory:
    """Frame-history series kept by a view: ``time_s`` and any others, one row per frame.

    The rows live in one preallocated float64 array (a row of it per series). Appending writes
    after the last row; when the array is full, the rows more than ``span_s`` of session older
    than the newest are dropped and the rest moved to the front, and the array doubles when
    that frees less than half of it. Every row is so copied a bounded number of times
    (amortised O(1) per row, never a whole-buffer ``np.roll`` per draw), memory stays bounded
    by ``span_s``, and each series is one contiguous view for ``setData``.

    A view drawing from these arrays must set its curves' data again after :meth:`update`
    returned True (rows may have moved).

    Parameters
    ----------
    keys : iterable of str
        The series kept; must include ``time_s``. Series a snapshot lacks are NaN.
    span_s : float
        Session seconds kept behind the newest row (the engine keeps 4 h).
    rows : int
        Initial capacity, rows.
    """

    def __init__(self, keys: Iterable[str], span_s: float, rows: int = 4096) -> None:
        self.keys = tuple(keys)
        if "time_s" not in self.keys:
            raise ValueError(f"keys must include 'time_s', got {self.keys}")
        if not span_s > 0:
            raise ValueError(f"span_s must be > 0, got {span_s}")
        self.span_s = float(span_s)
        self._row = {k: i for i, k in enumerate(self.keys)}
        self._buf = np.full((len(self.keys), max(16, int(rows))), np.nan)
        self._i0 = 0  # the kept rows are self._buf[:, _i0 : _i0 + _n]
        self._n = 0
        self.cursor = 0
        """The engine's row count this copy has reached: ``history_since`` of the next
        snapshot."""

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: str) -> np.ndarray:
        """The kept rows of ``key``, oldest first (a view into the buffer, not a copy)."""
        return self._buf[self._row[key], self._i0 : self._i0 + self._n]

    @property
    def capacity(self) -> int:
        return int(self._buf.shape[1])

    def index_at(self, t_s: float) -> int:
        """Index of the last row at or before session time ``t_s`` (0 when none is), so a
        window drawn from there reaches back to ``t_s``."""
        i = int(np.searchsorted(self["time_s"], t_s, side="right"))
        return max(0, i - 1)

    def clear(self) -> None:
        self._i0 = self._n = 0
        self.cursor = 0

    def update(self, snap: Snapshot) -> bool:
        """Take the rows of ``snap`` this copy does not have; True when the rows changed."""
        if snap.history_cursor is None:
            # a snapshot made by hand: its history is a window complete in itself
            self.clear()
            self._append(snap.history, 0)
            return True
        if snap.history_cursor < self.cursor:
            # another engine, or a restarted one: start again from its first kept row
            self.clear()
            return True
        # rows the engine no longer kept are skipped (history_start > cursor): a gap in time
        skip = max(0, self.cursor - snap.history_start)
        self.cursor = snap.history_cursor
        return self._append(snap.history, skip) > 0

    def _append(self, h: dict[str, np.ndarray], skip: int) -> int:
        t = h.get("time_s")
        k = 0 if t is None else max(0, len(t) - skip)
        if k == 0 or t is None:
            return 0
        if self._i0 + self._n + k > self.capacity:
            self._make_room(k, float(t[-1]))
        j = self._i0 + self._n
        for key, r in self._row.items():
            v = h.get(key)
            self._buf[r, j : j + k] = np.nan if v is None else v[skip:]
        self._n += k
        return k

    def _make_room(self, k: int, newest: float) -> None:
        """Drop the rows older than ``span_s`` before ``newest``, move the rest to the front,
        and grow when they fill more than half of the buffer."""
        drop = int(np.searchsorted(self["time_s"], newest - self.span_s, side="left"))
        keep = self._n - drop
        kept = self._buf[:, self._i0 + drop : self._i0 + self._n]
        cap = self.capacity
        while keep + k > cap // 2:
            cap *= 2
        if cap != self.capacity:
            grown = np.full((len(self.keys), cap), np.nan)
            grown[:, :keep] = kept
            self._buf = grown
        else:
            self._buf[:, :keep] = kept  # numpy copies overlapping ranges correctly
        self._i0, self._n = 0, keep
