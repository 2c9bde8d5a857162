"""The one place where numba options live.

Kernels are compiled with on-disk caching so that a second start of the engine does not pay the
compilation cost. ``fastmath`` leaves out ``nnan``/``ninf`` (NaNs mark gaps and must survive),
``reassoc`` (re-association would make results depend on how a signal was chunked) and
``contract``: free to fuse a multiply and an add into one rounding, LLVM fused differently in
the machine code it wrote to the cache than in the code it compiled into the running process,
so a kernel loaded from the cache gave other last bits (the Welch periodograms did) than the
same kernel compiled afresh, and a live session and the offline analysis of its recording could
differ with the state of the cache (``tests/test_kernel_cache.py``).

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
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba

from ..atomic import write_text

F = TypeVar("F", bound=Callable[..., Any])

NUMBA_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": {"nsz", "arcp", "afn"},
}


def njit(fn: F) -> F:
    """Compile ``fn`` with the project's numba options."""
    return numba.njit(**NUMBA_OPTIONS)(fn)


def njit_exact(fn: F) -> F:
    """Compile ``fn`` with caching and without ``fastmath``: for glue kernels whose arithmetic
    must give numpy's bits (``arcp`` would turn ``x / fs`` into ``x * (1 / fs)``)."""
    return numba.njit(**{**NUMBA_OPTIONS, "fastmath": False})(fn)


PACKAGE_DIR = Path(os.path.dirname(os.path.abspath(__file__)))
"""This package's folder, as numba names it (``abspath``, not ``resolve``)."""


def _custom_dir() -> str:
    """``NUMBA_CACHE_DIR`` as numba read it ('' when unset)."""
    return str(getattr(numba.config, "CACHE_DIR", "") or "")


def cache_dir() -> Path:
    """numba's cache folder for this package's files: ``NUMBA_CACHE_DIR`` where set, else the
    ``__pycache__`` beside these modules (the designs are kept there too; the kernels
    themselves are in :func:`kernel_folders`)."""
    custom = _custom_dir()
    return Path(custom) if custom else PACKAGE_DIR / "__pycache__"


STAMP_NAME = "wot-dsp-sources.sha256"
"""The file in each of :func:`kernel_folders` holding the hash of the sources its kernels
were made from."""


def sources_hash(src: Path) -> str:
    """SHA-256 of the package's ``*.py`` files (names and contents, in name order)."""
    h = hashlib.sha256()
    for p in sorted(src.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def kernel_folders(src: Path) -> list[Path]:
    """Where numba keeps the kernels of the modules in ``src``: ``NUMBA_CACHE_DIR``'s folder
    for them where that is set, else the ``__pycache__`` beside them and numba's user-wide
    fallback (used where that one cannot be written). Inside ``NUMBA_CACHE_DIR`` numba gives
    each source folder a folder of its own, named after it and the SHA-1 of its path (as
    ``numba.core.caching._CacheLocator.get_suitable_cache_subpath`` does)."""
    folder = os.path.abspath(str(src))
    own = f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"
    custom = _custom_dir()
    if custom:
        return [Path(custom) / own]
    from numba.misc.appdirs import AppDirs

    return [Path(folder) / "__pycache__",
            Path(AppDirs(appname="numba", appauthor=False).user_cache_dir) / own]  # fmt: skip


def kernel_stems(src: Path) -> tuple[str, ...]:
    """How numba's files of the modules in ``src`` begin (``module.kernel-…``)."""
    return tuple(p.stem + "." for p in src.glob("*.py"))


def drop_stale_kernels(src: Path, folders: list[Path]) -> list[Path]:
    """In each of ``folders`` that holds kernels of the modules in ``src`` made from other
    sources than today's (its hash file says so, or there is none), delete those kernels
    (``*.nbi``, ``*.nbc`` named ``module.kernel-…``; nothing else, nothing in subfolders),
    then write today's hash; the files deleted. Should a deletion fail, the hash is not
    written, so the next start tries again; the first folder, not made yet, is made with
    today's hash; a folder that cannot be read or written is left as it is (numba compiles
    where it cannot load)."""
    now = sources_hash(src)
    stems = kernel_stems(src)
    gone: list[Path] = []
    for i, folder in enumerate(folders):
        stamp = folder / STAMP_NAME
        try:
            if not folder.is_dir():
                if i == 0:
                    # the first folder not made yet (a new NUMBA_CACHE_DIR): it will hold
                    # today's kernels only, so it gets today's hash now, or its first kernels
                    # would be taken for stale ones at the next start (a fallback folder is
                    # not made: numba may never use it)
                    folder.mkdir(parents=True, exist_ok=True)
                    write_text(stamp, now + "\n")
                continue
            try:
                before = stamp.read_text(encoding="ascii").strip()
            except (OSError, ValueError):  # none yet, or damaged: other sources
                before = ""
            if before == now:
                continue
            old = [p for p in folder.glob("*.nb[ic]") if p.name.startswith(stems)]
            for p in old:
                p.unlink(missing_ok=True)
            gone += old
            write_text(stamp, now + "\n")  # whole or not at all: a reader never sees half
        except OSError:  # a folder that cannot be read or written
            continue
    return gone


drop_stale_kernels(PACKAGE_DIR, kernel_folders(PACKAGE_DIR))
