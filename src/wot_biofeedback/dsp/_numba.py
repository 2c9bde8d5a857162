"""The one place where numba options live.

Kernels are compiled with on-disk caching so that a second start of the engine does not pay the
compilation cost. ``fastmath`` leaves out ``nnan``/``ninf`` (NaNs mark gaps and must survive) and
``reassoc`` (re-association would make results depend on how a signal was chunked).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

NUMBA_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": {"nsz", "arcp", "contract", "afn"},
}


def njit(fn: F) -> F:
    """Compile ``fn`` with the project's numba options."""
    return numba.njit(**NUMBA_OPTIONS)(fn)


def njit_exact(fn: F) -> F:
    """Compile ``fn`` with caching and without ``fastmath``: for glue kernels whose arithmetic
    must give numpy's bits (``arcp`` would turn ``x / fs`` into ``x * (1 / fs)``)."""
    return numba.njit(**{**NUMBA_OPTIONS, "fastmath": False})(fn)


def cache_dir() -> Path:
    """Where numba keeps this package's compiled kernels: ``NUMBA_CACHE_DIR`` where set, else
    the ``__pycache__`` beside these modules (numba's first choice; where this folder is not
    writable numba falls back to its user-wide cache, which :func:`compiled_before` does not
    look into)."""
    custom = str(getattr(numba.config, "CACHE_DIR", "") or "")
    return Path(custom) if custom else Path(__file__).resolve().parent / "__pycache__"
