"""Stop signals for a live session: SIGTERM and SIGHUP end it as Ctrl-C does (what ``wot run``
and ``wot demo`` share; handlers are installed only in the CLI's main thread, and restored)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Signals that end a live session as Ctrl-C does (a service manager's stop, a closed
terminal); SIGHUP does not exist on Windows."""


class StopSignal(BaseException):
    """A stop signal arrived (:data:`STOP_SIGNALS`): ends the terminal view as Ctrl-C does.
    A ``BaseException``, like ``KeyboardInterrupt``, so no ``except Exception`` swallows it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@contextmanager
def stop_signals() -> Iterator[dict[str, Any]]:
    """While the session runs, SIGTERM and SIGHUP raise :class:`StopSignal` once in the main
    thread; set ``state["stopping"]`` once the session is ending, and later signals are
    ignored (the recording and its report are being finished). The previous handlers are
    restored on exit. Off the main thread (where Python cannot handle signals) nothing changes."""
    state: dict[str, Any] = {"stopping": False, "fired": ""}

    def handle(signum: int, _frame: FrameType | None) -> None:
        if state["stopping"] or state["fired"]:
            return
        state["fired"] = signal.Signals(signum).name
        raise StopSignal(state["fired"])

    saved: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            saved[sig] = signal.signal(sig, handle)
    try:
        yield state
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
