"""wot-biofeedback: a real-time window-of-tolerance biofeedback engine.

The engine fuses ECG/HRV, skin conductance and respiration into an arousal index relative to
a client's own baseline, and classifies it as ``hyper``, ``within`` or ``hypo`` (or ``unknown``
when the signals cannot be trusted).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wot-biofeedback")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
