"""What a view reads from the live engine: :class:`Snapshot` and :class:`StreamStatus`.

The engine makes them (:meth:`wot_biofeedback.engine.Engine.snapshot`); the views (``ui/``, the
terminal view) only read them. Keeping the types here lets a view import them without
importing the engine (and with it pylsl and the pipeline): views sit above the engine and never
import it.

**History by cursor.** The engine numbers the rows of its frame history (one row per feature
frame; the row number is a monotonic count of the rows written, like
:class:`~wot_biofeedback.dsp.ringbuffer.RingBuffer`'s write index). A view keeps its own copy
of the history and asks only for what is new: ``engine.snapshot(history_since=cursor)`` returns
the rows written since ``cursor`` (``0``: every row the engine still keeps, up to 4 h), and
``snap.history_cursor`` is the cursor to pass next time. Rows the engine no longer keeps are
skipped: ``snap.history_start`` is the number of the first row returned, past ``cursor`` when
some were lost. Without a cursor (``history_since=None``) ``history`` holds the last
:data:`HISTORY_WINDOW_S` of rows.

This module imports no Qt, no pylsl and nothing of the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .cues import Cue

__all__ = ["HISTORY_WINDOW_S", "Snapshot", "SnapshotSource", "StreamStatus"]

HISTORY_WINDOW_S = 600.0
"""The history a snapshot taken without a cursor holds, s of session."""


@dataclass(frozen=True)
class StreamStatus:
    """Status of one input stream as seen by the engine."""

    modality: str
    name: str
    fs: float
    unit: str
    state: str  # "waiting", "ok", "lagging", "lost"; "unusable": it cannot run (see note)
    since_last_s: float
    n_samples: int
    note: str = ""  # a problem found in the stream, e.g. an implausible EDA level


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of what the engine knows now; safe to read from any thread.

    ``history`` holds the frame-history rows ``history_start`` to ``history_cursor`` (not
    included), one array per series (``time_s``, ``arousal``, ``zone_code``, features); see
    the module docstring. ``history_cursor`` is None for a snapshot made by hand (tests, a
    stand-in engine): its ``history`` is then a window complete in itself.
    """

    session_s: float
    zone: str
    arousal: float
    confidence: float
    explanation: str
    drivers: list[tuple[str, float, str]]
    features: dict[str, float]
    calibrating: bool
    message: str
    window: tuple[float, float]
    cue: Cue | None
    history: dict[str, np.ndarray]
    raw: dict[str, tuple[np.ndarray, np.ndarray]]
    marks: dict[str, np.ndarray]
    streams: dict[str, StreamStatus]
    n_frames: int
    overruns: int
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    history_start: int = 0  # row number of history's first row
    history_cursor: int | None = None  # rows written so far: the next history_since

    @property
    def all_lost(self) -> bool:
        """Every stream that runs is lost (one that cannot run, state ``unusable``, never
        counts): the engine makes no frames, so the last zone is stale."""
        running = [s.state for s in self.streams.values() if s.state != "unusable"]
        return bool(running) and all(s == "lost" for s in running)

    @property
    def all_silent(self) -> bool:
        """Every stream that runs is lost or has sent nothing yet: no frame can come, so the
        session time stands still."""
        running = [s.state for s in self.streams.values() if s.state != "unusable"]
        return bool(running) and all(s in ("lost", "waiting") for s in running)


class SnapshotSource(Protocol):
    """What a view polls (``wot_biofeedback.engine.Engine`` is one)."""

    def snapshot(self, history_since: int | None = None) -> Snapshot: ...


def sync_words(pair: dict[str, dict[str, Any]]) -> str:
    """The pair's newest synchrony in words: which signals are in sync, who leads by how
    much, which are still collecting (a window but no test yet: skin conductance's window is
    twice as long as the others'); or that it is too early to say."""
    tested = {s: v for s, v in pair.items() if v.get("p") == v.get("p")}  # p not NaN
    if not tested:
        return "synchrony: collecting (about 2 min of both people first)"
    # a window without a test yet, as new as the tested ones (one that stopped before its
    # first test, e.g. an electrode off, is not collecting)
    newest = max(float(v.get("time_s", math.nan)) for v in tested.values())
    waiting = [
        s.upper()
        for s, v in pair.items()
        if s not in tested and float(v.get("time_s", -math.inf)) >= newest - 30.0
    ]
    more = f"; {', '.join(waiting)} collecting" if waiting else ""
    on = {s: v for s, v in tested.items() if v["significant"]}
    if not on:
        return "not in sync (" + ", ".join(s.upper() for s in tested) + ")" + more
    lead = {v["leader"] for v in on.values()}
    lags = [abs(v["lag_s"]) for v in on.values()]
    who = next(iter(lead)) if len(lead) == 1 else "mixed"
    how = (
        "together, no lead" if who == "none"
        else f"{who} leading by {float(np.median(lags)):.0f} s" if who != "mixed"
        else "leaders differ"
    )  # fmt: skip
    return f"in sync: {', '.join(s.upper() for s in on)} ({how})" + more


def index_words(ix: dict[str, Any]) -> str:
    """The pair's newest combined synchrony (a ``synchrony_index.csv`` row as a dict) in
    words: in sync or not over the signals tested, its index and how many signals it rests
    on; unknown when none could be tested (bad channels)."""
    n = int(ix.get("tested") or 0)
    if not n:
        return "together: unknown (no signal usable)"
    # the signals' p combined (Simes): one signal just under 0.05 among three is not enough
    state = "in sync" if int(ix.get("significant") or 0) else "not significant"
    return f"together: {state}, index {float(ix['index']):.2f} ({n} of 3 signals)"


def coregulation_words(co: dict[str, Any]) -> str:
    """The client's returns so far, how many in sync, and what the last one was."""
    n, k = int(co.get("returns") or 0), int(co.get("returns_in_sync") or 0)
    text = f"returns in sync: {k} of {n}"
    last = co.get("last")
    if last:  # "[coregulation] client back from hyper 3:32-6:24: in sync with ..."
        text += " (last: " + str(last).rsplit(": ", 1)[-1] + ")"
    return text
