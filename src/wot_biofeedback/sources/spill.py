"""Signals too large to hold in memory, kept on disk and read a slice at a time.

A day of a 1000-Hz CSV is 86 million rows: 0.7 GB for each column as float64. An offline
analysis reads a recording front to back, ``chunk_s`` seconds at a time
(:class:`~wot_biofeedback.sources.files.RecordingSource`), so it never needs a whole signal at
once. :class:`Columns` collects a CSV file's columns as a reader parses them, in memory while
they are small and in temporary files once they pass :data:`SPILL_BYTES`
(:class:`FilledColumns` does the same for signals whose lengths a file's header gives: EDF,
BDF, WFDB); what they give back is a numpy array, or a :class:`DiskArray` that behaves like
one for what the analysis does with a signal: ``len``, ``shape``, slices (a numpy array each),
``* factor`` (a scaled view); :func:`blocks` reads either a block at a time.

The temporary file has no name (:func:`tempfile.TemporaryFile`, in ``TMPDIR``): it is gone when
the array is, or when the process ends, however it ends. The numbers written and read back are
the same float64 values, so a spilled recording gives the same analysis as one in memory.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import InputError

SPILL_BYTES = 256 << 20
"""The columns a reader keeps in memory, bytes in all; past this they go to temporary files.
The environment variable ``WOT_SPILL_MB`` sets it (0: always spill)."""
BLOCK_ROWS = 1 << 20
"""Rows per block when a whole column is checked or placed a block at a time (8 MiB of
float64 a column)."""
_ITEM = 8  # float64


def spill_bytes() -> int:
    """:data:`SPILL_BYTES`, or ``WOT_SPILL_MB`` megabytes where that is set."""
    v = os.environ.get("WOT_SPILL_MB", "").strip()
    if not v:
        return SPILL_BYTES
    try:
        mb = float(v)
        if mb >= 0:
            return int(mb * (1 << 20))
    except (ValueError, OverflowError):  # not a number, or inf
        pass
    warnings.warn(  # NaN and negative numbers land here too
        f"WOT_SPILL_MB={v!r} is not a number of megabytes (0 or more): the default, "
        f"{SPILL_BYTES >> 20}, is used",
        stacklevel=2,
    )
    return SPILL_BYTES


class DiskArray:
    """A float64 array (1-D, or 2-D with ``width`` columns) in a temporary file.

    Parameters
    ----------
    width : int
        0 for a 1-D array; else the number of columns of a 2-D one.
    """

    def __init__(self, width: int = 0) -> None:
        self.width = int(width)
        # open for as long as the array lives (closed with it): no context manager here
        self._file: io.BufferedRandom = tempfile.TemporaryFile(prefix="wot-spill-")  # noqa: SIM115
        self._closer = weakref.finalize(self, self._file.close)  # gone with the array
        self._rows = 0
        self._start = 0  # a view's first row in its owner's file
        self._scale = 1.0
        self._owner: DiskArray | None = (
            None  # a view (scaled, or of some rows) reads its owner's file
        )

    @property
    def _row_bytes(self) -> int:
        return _ITEM * max(1, self.width)

    def append(self, values: np.ndarray) -> None:
        """Add rows at the end (a view cannot be appended to)."""
        if self._owner is not None:
            raise ValueError("a view of a spilled signal is read-only")
        self._put(self._rows, values)
        self._rows += len(values)  # (a shape that does not fit was refused by _put)

    def write(self, at: int, values: np.ndarray) -> None:
        """Overwrite rows from row ``at`` on, in place (within the array; a view of rows
        writes into the array it is a view of, a scaled view cannot be written)."""
        if self._scale != 1.0:
            raise ValueError("a scaled view of a spilled signal is read-only")
        if not 0 <= at <= self._rows - len(values):
            raise IndexError(f"rows {at}-{at + len(values)} of {self._rows}")
        self._put(at, values)

    def _put(self, at: int, values: np.ndarray) -> None:
        a = np.ascontiguousarray(values, dtype=np.float64)
        if a.shape[1:] != ((self.width,) if self.width else ()):
            raise ValueError(
                f"rows of shape {a.shape[1:]} do not fit an array of "
                + (f"{self.width} columns" if self.width else "one dimension")
            )
        if not a.size:
            return
        try:
            self._file.seek((self._start + at) * self._row_bytes)
            self._file.write(a.data.cast("B"))
        except OSError as exc:  # e.g. no space left: the temporary folder's fault, not the input's
            raise InputError(
                f"no room for a large file's signals in the temporary folder "
                f"{tempfile.gettempdir()} ({exc.strerror or exc}); set TMPDIR to a folder with "
                "room (a day at 1000 Hz needs about 0.7 GB a column)"
            ) from None

    # numpy-like ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._rows

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._rows, self.width) if self.width else (self._rows,)

    @property
    def ndim(self) -> int:
        return 2 if self.width else 1

    @property
    def size(self) -> int:
        return self._rows * max(1, self.width)

    @property
    def nbytes(self) -> int:
        return self.size * _ITEM

    dtype = np.dtype(np.float64)

    def _read(self, a: int, b: int) -> np.ndarray:
        n = max(0, b - a)
        out = np.empty((n, self.width) if self.width else n, dtype=np.float64)
        if n:
            f = (self._owner if self._owner is not None else self)._file
            f.seek((self._start + a) * self._row_bytes)
            got = f.readinto(out.data.cast("B"))
            if got != out.nbytes:
                raise OSError(f"temporary signal file: read {got} of {out.nbytes} bytes")
        if self._scale != 1.0:
            out *= self._scale
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            a, b, step = key.indices(self._rows)
            if step > 0:
                got = self._read(a, max(a, b))
                return got if step == 1 else got[::step].copy()
            return self._read(b + 1, max(b + 1, a + 1))[::-1][::-step].copy()
        if isinstance(key, (int, np.integer)):
            k = int(key) + self._rows if key < 0 else int(key)
            if not 0 <= k < self._rows:
                raise IndexError(f"index {key} of {self._rows}")
            return self._read(k, k + 1)[0]
        raise TypeError(f"a spilled signal is read by slices, not {type(key).__name__}")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole array in memory (what spilling avoids: for small uses and tests)."""
        out = self._read(0, self._rows)
        return out if dtype is None else out.astype(dtype)

    def _view(self, start: int, rows: int, scale: float, width: int) -> DiskArray:
        view = DiskArray.__new__(DiskArray)
        view.width, view._rows, view._start = width, rows, self._start + start
        view._file = self._file
        view._owner = self._owner if self._owner is not None else self
        view._scale = scale
        return view

    def __mul__(self, factor: float) -> DiskArray:
        return self._view(0, self._rows, self._scale * float(factor), self.width)

    __rmul__ = __mul__

    def view(self, a: int = 0, b: int | None = None, flat: bool = False) -> DiskArray:
        """Rows ``a`` to ``b`` as an array of their own, read from this one's file (no copy);
        ``flat``: a one-column array as a 1-D one."""
        a, b, _ = slice(a, b).indices(self._rows)
        if flat and self.width != 1:
            raise ValueError(f"an array of {self.width} columns is not one column")
        return self._view(a, max(0, b - a), self._scale, 0 if flat else self.width)

    def close(self) -> None:
        """Give the disk space back now (else when the array is garbage collected)."""
        if self._owner is None:
            self._closer()


class Stacked:
    """Columns read side by side, as one 2-D signal (a chest accelerometer's x, y, z)."""

    def __init__(self, columns: list[Any]) -> None:
        self.columns = columns
        self.width = len(columns)

    def __len__(self) -> int:
        return len(self.columns[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.width)

    ndim = 2
    dtype = np.dtype(np.float64)

    def __getitem__(self, key: slice) -> np.ndarray:
        return np.column_stack([c[key] for c in self.columns])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.column_stack([np.asarray(c) for c in self.columns])
        return out if dtype is None else out.astype(dtype)

    def __mul__(self, factor: float) -> Stacked:
        return Stacked([c * factor for c in self.columns])

    __rmul__ = __mul__


def stack(columns: list[Any]) -> Any:
    """``np.column_stack`` of columns in memory; a :class:`Stacked` view of spilled ones."""
    if all(isinstance(c, np.ndarray) for c in columns):
        return np.column_stack(columns)
    return Stacked(columns)


def blocks(a: Any, rows: int | None = None) -> Iterator[np.ndarray]:
    """An array (in memory or spilled) a block of ``rows`` (default :data:`BLOCK_ROWS`) at a
    time."""
    rows = rows or BLOCK_ROWS
    for k in range(0, len(a), rows):
        yield a[k : k + rows]


def searchsorted(a: Any, x: float, side: str = "left") -> int:
    """``np.searchsorted(a, x, side)`` of an array in memory or spilled: for a spilled one,
    numpy's own binary search, one value read at a time (NaN sorting last, as numpy's), so the
    answer is numpy's even where ``a`` is not sorted."""
    if isinstance(a, np.ndarray):
        return int(np.searchsorted(a, x, side=side))  # type: ignore[call-overload]

    def lt(u: float, v: float) -> bool:  # numpy's order: NaN after every number
        return u < v or (v != v and u == u)

    x = float(x)
    lo, hi = 0, len(a)
    while lo < hi:
        mid = lo + ((hi - lo) >> 1)
        v = float(a[mid])
        if lt(v, x) if side == "left" else not lt(x, v):
            lo = mid + 1
        else:
            hi = mid
    return lo


def finite_range(a: Any) -> tuple[float, float, bool]:
    """The smallest and largest finite value of ``a`` (in memory or spilled, a block at a
    time: no mask as long as it), and whether every value is finite; ``(inf, -inf, ...)``
    when none is."""
    lo, hi, every = np.inf, -np.inf, True
    for b in blocks(a):
        good = np.isfinite(b)
        every = every and bool(good.all())
        hi = max(hi, float(np.max(b, where=good, initial=-np.inf)))
        lo = min(lo, float(np.min(b, where=good, initial=np.inf)))
    return lo, hi, every


def median(a: Any, most: int = 1 << 22, finite: bool = False) -> float:
    """The median of the values of ``a`` that are not NaN (NaN when there are none; as
    ``np.nanmedian``, so an infinite value counts; ``finite``: of the finite values only):
    exact for an array in memory; for a spilled one, the median of every k-th value, at most
    ``most`` of them (a plausibility check needs no more, and reads no more than that into
    memory)."""
    if isinstance(a, np.ndarray):
        v = a
    else:
        k = max(1, -(-len(a) // most))
        parts = [b[::k].copy() for b in blocks(a, k * (BLOCK_ROWS // k or 1))]  # not views
        v = np.concatenate(parts) if parts else np.empty(0)
    v = v[np.isfinite(v)] if finite else v[~np.isnan(v)]
    return float(np.median(v)) if v.size else float("nan")


class Columns:
    """Columns of float64 values collected as a reader parses them: in memory (one
    contiguous row per column, grown as needed) until they pass ``limit`` bytes in all, then
    each in a :class:`DiskArray`.

    Parameters
    ----------
    n : int
        Number of columns.
    expect_rows : int
        Rows expected (e.g. from the file's size): the memory is sized for them at once, or,
        when they would pass ``limit``, the columns go to disk from the start.
    limit : int, optional
        Bytes in memory (default :func:`spill_bytes`).
    """

    def __init__(self, n: int, expect_rows: int = 0, limit: int | None = None) -> None:
        self.n = n
        self.rows = 0
        self.limit = spill_bytes() if limit is None else limit
        self._disk: list[DiskArray] | None = None
        self._store = np.empty((n, 0))
        if expect_rows * n * _ITEM > self.limit:
            self._disk = [DiskArray() for _ in range(n)]
        else:
            self._store = np.empty((n, expect_rows))

    @property
    def spilled(self) -> bool:
        return self._disk is not None

    def add(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape ``(k, n)``)."""
        need = self.rows + len(rows)
        if self._disk is None and need * self.n * _ITEM > self.limit:
            self._disk = [DiskArray() for _ in range(self.n)]
            for j, d in enumerate(self._disk):
                d.append(self._store[j, : self.rows])
            self._store = np.empty((self.n, 0))
        if self._disk is not None:
            for j, d in enumerate(self._disk):
                d.append(rows[:, j])
        else:
            if need > self._store.shape[1]:
                grown = np.empty((self.n, max(need, int(self._store.shape[1] * 1.5))))
                grown[:, : self.rows] = self._store[:, : self.rows]
                self._store = grown
            self._store[:, self.rows : need] = rows.T
        self.rows = need

    def finish(self) -> list[Any]:
        """The columns: numpy arrays, or :class:`DiskArray` once spilled."""
        if self._disk is not None:
            return list(self._disk)
        store = self._store
        if store.shape[1] > self.rows * 1.05:  # sized for more rows than came: give them back
            store = store[:, : self.rows].copy()
        return [store[j, : self.rows] for j in range(self.n)]


class FilledColumns:
    """Columns whose lengths are known before they are read (a file's signals, each at its own
    rate), filled front to back a block at a time: in memory when they add up to ``limit``
    bytes or less, else each in a :class:`DiskArray` (the rule of :class:`Columns`).

    Parameters
    ----------
    lengths : list of int
        Values each column will hold.
    limit : int, optional
        Bytes in memory (default :func:`spill_bytes`).
    """

    def __init__(self, lengths: list[int], limit: int | None = None) -> None:
        self.lengths = [int(n) for n in lengths]
        limit = spill_bytes() if limit is None else limit
        self.spilled = sum(self.lengths) * _ITEM > limit
        self._cols: list[Any] = [DiskArray() if self.spilled else np.empty(n) for n in self.lengths]
        self._at = [0] * len(self.lengths)

    def add(self, j: int, values: np.ndarray) -> None:
        """Append ``values`` to column ``j``."""
        a = self._at[j]
        b = a + len(values)
        if b > self.lengths[j]:
            raise ValueError(f"column {j}: {b} values, {self.lengths[j]} expected")
        col = self._cols[j]
        if isinstance(col, DiskArray):
            col.append(values)
        else:
            col[a:b] = values
        self._at[j] = b

    def finish(self) -> list[Any]:
        """The columns: numpy arrays, or :class:`DiskArray` when spilled (a column given fewer
        values than its length ends where they end)."""
        return [
            c if isinstance(c, DiskArray) or n == len(c) else c[:n].copy()
            for c, n in zip(self._cols, self._at, strict=True)
        ]
