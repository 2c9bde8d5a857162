"""The thread lifecycle shared by the LSL publishers (simulator and replay).

A subclass opens its outlets in :meth:`PublisherThread._open` and publishes in
:meth:`PublisherThread._publish` (returning when a single pass is out, or when
:attr:`PublisherThread._stop` is set). The base class starts the daemon thread, waits for
consumers when asked, stops on an Event and joins with a timeout, re-raises a thread error once,
and serves as a context manager.
"""

from __future__ import annotations

import math
import threading
from types import TracebackType
from typing import Any

import pylsl

QUIET_S = 1.0
"""With ``wait_for_consumers``: once the wanted outlets have consumers, how long no new consumer
may come before publishing starts, s."""


class StartClock:
    """One LSL time of data time 0 for several publishers (the people of a dyad): the first to
    begin publishing fixes it and the others begin at the same time, catching up at once on
    what they are late with. Without it each person's data clock starts when their own
    consumers came: people whose streams a consumer opened a second apart would be a second
    apart in time, which reads as one leading the other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t0 = math.nan

    def t0(self) -> float:
        """The shared LSL time of data time 0 (fixed on the first call)."""
        with self._lock:
            if math.isnan(self._t0):
                self._t0 = pylsl.local_clock()
            return self._t0


class PublisherThread:
    """Start/stop plumbing of a publisher; see the module docstring."""

    _kind = "publisher"  # for messages

    def _init_thread(
        self, wait_for_consumers: float, quiet_s: float = QUIET_S,
        start_clock: StartClock | None = None,
    ) -> None:  # fmt: skip
        if not (math.isfinite(quiet_s) and quiet_s >= 0):
            raise ValueError(f"quiet_s {quiet_s!r} must be >= 0 s")
        self.start_clock = start_clock
        self.wait_for_consumers = float(wait_for_consumers)
        self.quiet_s = float(quiet_s)
        self.error: BaseException | None = None
        self.t0_lsl = math.nan  # pylsl.local_clock() when publishing begins: LSL time of 0
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._position = 0.0
        self._reraised = False

    # to implement ----------------------------------------------------------------------------
    def _open(self) -> tuple[list[Any], list[Any]]:
        """Open the outlets; return those a start must wait for, and all of them."""
        raise NotImplementedError

    def _publish(self) -> None:
        raise NotImplementedError

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the outlets and start publishing in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__}.start() may only be called once")
        self._wanted, self._outlet_list = self._open()
        if self.wait_for_consumers <= 0:
            self.t0_lsl = self._now_t0()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (join up to ``timeout`` s), close the outlets, re-raise a thread error.

        Raises
        ------
        BaseException
            Whatever made the publishing thread fail (raised once).
        RuntimeError
            When the thread did not end within ``timeout``.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"{self._kind} thread did not stop within {timeout:g} s")
        self._close_outlets()  # dropping the last reference destroys the outlets
        self._wanted, self._outlet_list = [], []
        if self.error is not None and not self._reraised:
            self._reraised = True
            raise self.error

    def _close_outlets(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # state ----------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once a single pass is out (``loop=False``) or the thread failed."""
        return self._finished.is_set()

    @property
    def position_s(self) -> float:
        """Data (playback) time published so far, s (keeps growing across loops)."""
        return self._position

    @property
    def running(self) -> bool:
        """True while the publishing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until finished (or ``timeout`` s); True when finished."""
        return self._finished.wait(timeout)

    # thread ---------------------------------------------------------------------------------
    def _wait_for_consumers(self) -> None:
        """Until every wanted outlet has a consumer and then either every outlet has one or no
        new consumer has come for ``quiet_s`` (default ``QUIET_S``; a live engine takes the
        signals, not the markers), at most ``wait_for_consumers`` s."""
        now = pylsl.local_clock()
        give_up = now + self.wait_for_consumers
        count, since = -1, now
        while now < give_up and not self._stop.wait(0.005):
            now = pylsl.local_clock()
            n = sum(bool(o.have_consumers()) for o in self._outlet_list)
            if n != count:
                count, since = n, now
            if all(o.have_consumers() for o in self._wanted) and (
                n == len(self._outlet_list) or now - since >= self.quiet_s
            ):
                return

    def _now_t0(self) -> float:
        """The LSL time of data time 0: now, or the shared clock's."""
        return self.start_clock.t0() if self.start_clock is not None else pylsl.local_clock()

    def _run(self) -> None:
        try:
            if self.wait_for_consumers > 0:
                self._wait_for_consumers()
                self.t0_lsl = self._now_t0()
            self._publish()
        except BaseException as exc:  # the thread must never die silently
            self.error = exc
        finally:
            self._finished.set()
