"""The one place where numba options live.

Kernels are compiled with on-disk caching so that a second start of the engine does not pay the
compilation cost. ``fastmath`` leaves out ``nnan``/``ninf`` (NaNs mark gaps and must survive) and
``reassoc`` (re-association would make results depend on how a signal was chunked).

numba checks a cached kernel against its own source file only, but a kernel compiles the
kernels it calls into itself (the cardiac channel's one-call kernel holds the R-peak detector,
the RR correction and the spectra of three other modules). After a change to one of those
files alone (an edit, a ``git pull``) the cache would go on running the old code without a
word. So on import the package's sources are hashed, and when the hash is not the one the
cache was made from, its compiled kernels are dropped (:func:`drop_stale_kernels`): the next
start compiles afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba

from ..atomic import write_text

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


STAMP_NAME = "wot-dsp-sources.sha256"
"""The file in :func:`cache_dir` holding the hash of the sources its kernels were made from."""


def sources_hash(src: Path) -> str:
    """SHA-256 of the package's ``*.py`` files (names and contents, in name order)."""
    h = hashlib.sha256()
    for p in sorted(src.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def drop_stale_kernels(src: Path, cache: Path) -> list[Path]:
    """Delete the compiled kernels (``*.nbi``, ``*.nbc``) under ``cache`` when the sources in
    ``src`` are not those the cache was made from; the files deleted. The hash is written
    first, so that processes starting together delete at most once. A cache that cannot be
    read or written is left as it is (numba falls back to compiling)."""
    stamp = cache / STAMP_NAME
    try:
        now = sources_hash(src)
        before = stamp.read_text(encoding="ascii").strip() if stamp.is_file() else ""
        if before == now:
            return []
        cache.mkdir(parents=True, exist_ok=True)
        write_text(stamp, now + "\n")  # whole or not at all: a reader never sees half
        stems = tuple(p.stem + "." for p in src.glob("*.py"))  # numba names them module.kernel-…
        gone = [p for p in cache.rglob("*.nb[ic]") if p.is_file() and p.name.startswith(stems)]
        for p in gone:
            p.unlink(missing_ok=True)
        return gone
    except OSError:
        return []


drop_stale_kernels(Path(__file__).resolve().parent, cache_dir())
