"""One run loop for every way in: live LSL streams, a replayed file, an offline analysis.

``run(source, session, sinks)`` reads the source, lets the :class:`~.session.Session` place,
fuse and decide, and hands each step's output to the sinks (the live engine's snapshot, the LSL
outlets, the session recorder, an offline collector). A live source is paced: the loop sleeps
to the next deadline (never accumulating drift) and counts overruns. A file source is read flat
out. Since the decisions live in the session and the source only supplies data, a recording
analysed offline takes exactly the steps the live session took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .frames import FrameTable
from .session import Session, StepOutput
from .sources.base import Batch, Source


class Sink(Protocol):
    """Receives each step's output."""

    def consume(self, out: StepOutput, session: Session) -> None: ...


@dataclass
class RunStats:
    """Counters of a run, updated as it goes (safe to read from another thread)."""

    steps: int = 0
    overruns: int = 0
    frames: int = 0


def run(
    source: Source,
    session: Session,
    sinks: Iterable[Sink] = (),
    *,
    period_s: float = 0.02,
    stop: threading.Event | None = None,
    stats: RunStats | None = None,
    before_step: Callable[[], None] | None = None,
    on_read: Callable[[Batch], None] | None = None,
    after_step: Callable[[StepOutput], None] | None = None,
    finish_on_stop: bool = False,
) -> RunStats:
    """Run ``source`` through ``session`` into ``sinks`` until the source is done (files) or
    ``stop`` is set (live). ``before_step``, ``on_read`` (the batch as read, before the session
    sees it: the live engine records raw samples there, so a step that fails cannot lose them)
    and ``after_step`` run on the loop's thread each step.

    At the end of the input the session is finished (the frames some stream delivered, and
    the events kept back for look-ahead, go to the sinks); with ``finish_on_stop`` also when
    ``stop`` ends the run, on this thread, so a live session's outputs end as the offline
    analysis of its recording does."""
    stats = stats if stats is not None else RunStats()
    sinks = list(sinks)
    session.replay(source.decisions())
    paced = bool(getattr(source, "live", False))
    next_t = time.monotonic()
    while stop is None or not stop.is_set():
        if before_step is not None:
            before_step()
        batch = source.read()
        if on_read is not None:
            on_read(batch)
        out = session.step(batch.chunks, batch.lost, batch.ended)
        stats.steps += 1
        stats.frames += out.n_frames
        for s in sinks:
            s.consume(out, session)
        if after_step is not None:
            after_step(out)
        if batch.done:
            _finish(session, sinks, stats)
            return stats
        if paced:
            next_t += period_s
            delay = next_t - time.monotonic()
            if delay > 0:
                if stop is not None:
                    stop.wait(delay)
                else:
                    time.sleep(delay)
            else:
                stats.overruns += 1
                next_t = time.monotonic()
    if finish_on_stop:
        _finish(session, sinks, stats)
    return stats


def _finish(session: Session, sinks: list[Sink], stats: RunStats) -> None:
    last = session.finish()
    stats.frames += last.n_frames
    for s in sinks:
        s.consume(last, session)


@dataclass
class Collected:
    """Everything one subject's run produced (offline)."""

    frames: FrameTable = field(default_factory=FrameTable)
    """Every frame, kept as columns (a day of 4-Hz frames in about 140 MB)."""
    events: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)


class Collector:
    """A sink that keeps every frame and event, per subject (offline analysis)."""

    def __init__(self) -> None:
        self.subjects: dict[str, Collected] = {}

    def consume(self, out: StepOutput, session: Session) -> None:
        for sid in session.subjects:
            got = self.subjects.setdefault(sid, Collected())
            got.frames.extend(out.frames.get(sid, []))
            for key, d in out.events.get(sid, {}).items():
                dst = got.events.setdefault(key, {})
                for k, parts in d.items():
                    dst.setdefault(k, []).extend(parts)
