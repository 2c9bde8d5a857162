"""Validation helpers used at the edges (CLI, file readers, public wrappers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import InputError


def check_value(value: Any, allowed: Iterable[Any], name: str) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise naming the bad value."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise InputError(
            f"invalid {name} {value!r}; expected one of {', '.join(map(repr, allowed))}"
        )
    return value


def check_rate(
    fs: Any, name: str = "sampling rate", lo: float = 1.0, hi: float = 10_000.0
) -> float:
    """Return ``fs`` as a float in ``[lo, hi]`` Hz, else raise naming the bad value."""
    try:
        f = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in Hz, got {fs!r}") from None
    if not np.isfinite(f) or not lo <= f <= hi:
        raise InputError(f"{name} {f!r} Hz is outside the supported range {lo:g}-{hi:g} Hz")
    return f


def as_1d_float(x: Any, name: str = "signal") -> np.ndarray:
    """Return ``x`` as a contiguous 1-D float64 array, else raise naming the problem."""
    try:
        arr = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric, got {type(x).__name__}") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def as_signal(x: Any, name: str = "signal") -> np.ndarray:
    """Like :func:`as_1d_float`, with ±inf turned into NaN (a missing sample).

    Detectors treat NaN as a gap; an infinite value would poison every filter state after it.
    """
    arr = as_1d_float(x, name)
    if arr.size and not np.isfinite(arr).all():
        arr = np.where(np.isinf(arr), np.nan, arr)
    return arr
