"""Filter and window designs from ``scipy.signal``, remembered on disk.

Every channel designs its filters (Butterworth sections, their steady states, group delays,
spectral windows) with ``scipy.signal`` when it is made. The designs take microseconds; importing
``scipy.signal`` takes about half a second (its functions are wrapped, docstrings parsed, when
the package loads), which was a sixth of a whole ``wot analyze`` of one hour and most of the
engine's import time (issue 20).

A design is a pure function of its parameters, so it is remembered like the numba kernels are:
the first time a design is asked for, it is made by ``scipy.signal`` and its float64 bits are
stored in ``designs.json`` in the cache folder; later processes read it back and never import
``scipy.signal``. The stored values are the very bits scipy returned, so the results are the same
bit for bit (``tests/test_designs.py`` compares them with scipy's). Every key holds the scipy
and numpy versions and a hash of the designing function's code, so an upgrade or an edit
designs again. (The file is this machine's: copied to another CPU, a window made with numpy's
cosines there could differ in the last bit from the one stored.)

The cache folder is numba's (:func:`~wot_biofeedback.dsp._numba.cache_dir`: ``$NUMBA_CACHE_DIR``
where set, else ``__pycache__`` beside this file) when it can be written, otherwise
``~/.cache/wot-biofeedback``. A missing, unreadable or damaged file is no error: the designs are
made again (and the file written again where it can be).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import marshal
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..atomic import write_text
from ._numba import cache_dir

F = TypeVar("F", bound=Callable[..., Any])

FILE_NAME = "designs.json"
MAX_ENTRIES = 2000
"""A file with more designs than this is started afresh (every rate seen makes new ones)."""

_lock = threading.RLock()
_memory: dict[str, Any] | None = None  # key -> stored entry, read once per process
_folder: Path | None = None
_version = ""


def cache_folder() -> Path | None:
    """Where ``designs.json`` lives (the first folder that can be written), or None."""
    candidates = [cache_dir()]  # beside numba's compiled kernels
    with contextlib.suppress(RuntimeError):  # no home folder (a container's user without one)
        candidates.append(Path.home() / ".cache" / "wot-biofeedback")
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


def _versions() -> str:
    """What a design may depend on besides its parameters: scipy and numpy (windows are made
    with numpy's cosines)."""
    import scipy  # the package alone is cheap; scipy.signal is what costs

    return f"scipy {scipy.__version__} numpy {np.__version__}"


def _key_part(v: Any) -> str:
    if isinstance(v, np.ndarray):
        a = np.ascontiguousarray(v)
        digest = hashlib.sha1(a.tobytes()).hexdigest()
        return f"array({a.dtype.str},{a.shape},{digest})"
    if isinstance(v, (tuple, list)):
        return "(" + ",".join(_key_part(x) for x in v) + ")"
    if isinstance(v, (float, np.floating)):
        return float(v).hex()  # exact: 0.1 and 0.1000000001 are different designs
    if isinstance(v, (bool, int, str, np.integer)) or v is None:
        return repr(v)
    raise TypeError(f"cannot remember a design by a {type(v).__name__}")


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, float):
        return {"float": value.hex()}
    a = np.ascontiguousarray(value, dtype=np.float64)
    return {"shape": list(a.shape), "f8": base64.b64encode(a.tobytes()).decode("ascii")}


def _decode(entry: dict[str, Any]) -> Any:
    if "float" in entry:
        return float.fromhex(entry["float"])
    a = np.frombuffer(base64.b64decode(entry["f8"]), dtype=np.float64)
    return a.reshape(entry["shape"]).copy()  # writable, owned


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _entries() -> dict[str, Any]:
    global _memory, _folder, _version
    if _memory is None:
        _version = _versions()
        _folder = cache_folder()
        _memory = _read(_folder / FILE_NAME) if _folder is not None else {}
    return _memory


def _store(key: str, entry: dict[str, Any]) -> None:
    """Add ``key`` to the file (re-read first, so that other processes' designs are kept)."""
    if _folder is None:
        return
    path = _folder / FILE_NAME
    doc = _read(path)
    if len(doc) >= MAX_ENTRIES:
        doc = {}
    doc[key] = entry
    # a read-only or full disk: the design is remembered for this process only
    with contextlib.suppress(OSError):
        write_text(path, json.dumps(doc, separators=(",", ":")))


def remembered(fn: F) -> F:
    """Remember ``fn``'s result (a float or a float64 array) by its arguments, across processes.

    ``fn`` must be a pure function of its arguments and of the scipy version. An exception it
    raises is not remembered. The caller gets its own copy of an array.
    """
    # the function's own code is part of the key, so an edited design is made again
    code = hashlib.sha1(marshal.dumps(fn.__code__)).hexdigest()[:12]
    name = f"{fn.__module__}.{fn.__qualname__}@{code}"

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        parts = [name, *(_key_part(a) for a in args)]
        with _lock:
            entries = _entries()
            key = "|".join([*parts, _version])
            entry = entries.get(key)
            if entry is not None:
                try:
                    return _decode(entry)
                except (KeyError, TypeError, ValueError):
                    pass  # a damaged entry: design it again
            value = fn(*args)
            entry = _encode(value)
            entries[key] = entry
            _store(key, entry)
        return _decode(entry)

    return wrapper  # type: ignore[return-value]
