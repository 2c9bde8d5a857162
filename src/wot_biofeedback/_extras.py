"""Optional parts of the install (``pip install "wot-biofeedback[EXTRA]"``).

A headless worker installs no Qt and no matplotlib: the core (analysis, cohort, engine, terminal
view) never imports them at module import time, and the commands that need them say which
extra to install in one line instead of a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from .errors import MissingExtraError

# extra -> the top-level modules it brings
EXTRAS = {"ui": ("PySide6", "pyqtgraph"), "report": ("matplotlib",)}


def install_hint(extra: str) -> str:
    return f'pip install "wot-biofeedback[{extra}]"'


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that are not installed (found without importing them)."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` naming the extra when a module of it is missing."""
    gone = missing(extra)
    if gone:
        are = "is" if len(gone) == 1 else "are"
        raise MissingExtraError(
            f"{what} needs {' and '.join(gone)}, which {are} not installed: {install_hint(extra)}"
        )


def window_available() -> bool:
    """True when the Qt views import; otherwise say once, on stderr, why the terminal view
    is shown instead and which extra brings the window."""
    try:
        importlib.import_module(".ui", __package__)
    except ImportError as exc:  # not installed, or Qt cannot load (e.g. a missing libEGL)
        print(
            f"wot: note: no Qt window ({exc}), showing the terminal view; for the window: "
            f"{install_hint('ui')}",
            file=sys.stderr,
        )
        return False
    return True
