"""``wot sys-info``: the versions, libraries and folders this installation uses (for a bug
report, or to find the recordings)."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .. import __version__

CORE = ("numpy", "scipy", "numba", "pylsl", "pyxdf", "wfdb", "edfio")
"""Distributions the engine needs."""
OPTIONAL = {
    "PySide6-Essentials": "window, [ui]",
    "pyqtgraph": "window, [ui]",
    "matplotlib": "reports, [report]",
    "neurokit2": "reference in the tests",
}
"""Distributions of the extras, and what each is for."""


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "sys-info",
        help="versions, libraries and folders of this installation (for a bug report)",
        description="Versions, libraries and folders of this installation (for a bug report).",
    )
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for section, rows in sys_info().items():
        print(section)
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"  {k + ':':<{width + 1}} {v}")
    return 0


def sys_info() -> dict[str, list[tuple[str, str]]]:
    """``{section: [(name, value), ...]}``: nothing is started (no window, no stream)."""
    import wot_biofeedback

    return {
        "System": [
            ("wot-biofeedback", f"{__version__} ({Path(wot_biofeedback.__file__).parent})"),
            ("Python", f"{platform.python_version()} ({sys.executable})"),
            ("OS", platform.platform()),
            ("CPUs", f"{os.cpu_count()} ({platform.machine() or 'unknown machine'})"),
        ],
        "Libraries": [(d, _version(d)) for d in CORE]
        + [(d, _version(d, why)) for d, why in OPTIONAL.items()],
        "Lab Streaming Layer": _lsl(),
        "Qt": _qt(),
        "Folders": _folders(),
    }


def _version(dist: str, why: str = "") -> str:
    try:
        v = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        v = "not installed"
    return f"{v} ({why})" if why else v


def _lsl() -> list[tuple[str, str]]:
    from ._console import LSL_CONFIG, lsl_user_config

    try:
        import pylsl
        from pylsl import lib as lsl_lib
    except (ImportError, RuntimeError, OSError) as exc:  # liblsl cannot load here
        return [("liblsl", f"cannot load: {type(exc).__name__}: {exc}")]
    v = pylsl.library_version()
    path = getattr(getattr(lsl_lib, "lib", None), "_name", "unknown")
    cfg = lsl_user_config()
    ours = cfg is not None and Path(cfg) == Path(__file__).with_name(LSL_CONFIG)
    return [
        ("liblsl", f"{v // 100}.{v % 100} ({pylsl.library_info()})"),
        ("library", str(path)),
        ("configuration", f"{cfg} (wot's: errors only)" if ours else cfg or "liblsl's defaults"),
    ]


def _qt() -> list[tuple[str, str]]:
    from ._live import has_display

    try:
        from PySide6 import QtCore
    except ImportError as exc:
        return [("Qt", f"not available ({exc}): the terminal view is shown")]
    if os.environ.get("QT_QPA_PLATFORM"):
        where = f"{os.environ['QT_QPA_PLATFORM']} (QT_QPA_PLATFORM)"
    elif not has_display():
        where = "none: no display, so wot run/demo show the terminal view"
    elif sys.platform.startswith("linux"):
        where = ("wayland" if os.environ.get("WAYLAND_DISPLAY") else "xcb") + " (likely)"
    else:
        where = {"darwin": "cocoa", "win32": "windows"}.get(sys.platform, "the system's")
    return [("Qt", QtCore.qVersion()), ("platform", where)]


def _folders() -> list[tuple[str, str]]:
    from ..dsp import cache_dir, compiled_before
    from ..profiles import profile_dir
    from ..recorder import default_record_dir

    def env(name: str) -> str:
        return f" (${name})" if os.environ.get(name) else ""

    rec = default_record_dir()
    found = sorted(rec.glob("*.xdf")) if rec.is_dir() else []
    mb = sum(p.stat().st_size for p in found) / 1e6
    numba = cache_dir()
    state = "kernels compiled" if compiled_before() else "empty: the first session compiles"
    if not os.access(numba if numba.exists() else numba.parent, os.W_OK):
        state += "; not writable, so numba uses its user-wide cache"
    rows = [
        ("recordings", f"{rec}{env('WOT_RECORD_DIR')}: {len(found)} sessions, {mb:.1f} MB "
                       "(wot run/demo --no-record: none)"),
        ("profiles", f"{profile_dir()}{env('WOT_PROFILE_DIR')}"),
        ("numba cache", f"{numba}{env('NUMBA_CACHE_DIR')} ({state})"),
        ("filter designs", _designs_row()),
    ]  # fmt: skip
    if os.environ.get("WOT_DATA_DIR"):
        rows.append(("real data", f"{os.environ['WOT_DATA_DIR']} ($WOT_DATA_DIR, tests)"))
    return rows


def _designs_row() -> str:
    """Where the scipy.signal filter designs are remembered, and how many there are."""
    from ..dsp._designs import FILE_NAME, _read, cache_folder

    folder = cache_folder()
    if folder is None:
        return "no folder can be written: designed again in every process"
    return f"{folder / FILE_NAME} ({len(_read(folder / FILE_NAME))} designs)"
