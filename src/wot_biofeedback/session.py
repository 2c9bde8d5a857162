"""A session: one or more people (subjects), each with their own streams, clock placement,
pipeline (DSP → state → cues), baseline and decisions, on one shared session clock.

Every way in (live LSL streams, a replayed file, an offline analysis) hands its data here as
:class:`Chunk` objects and gets frames and events back; :func:`wot_biofeedback.run.run` is the
loop that does so. The subject ``client`` is the default, so a one-person session needs no
names; a therapist, a second client or a group member is just another subject id.

A chunk either carries the time stamps it came with (live, foreign files: the subject's
:class:`~wot_biofeedback.clock.SessionClock` places it) or is already placed (a wot recording
replays the placement its session log records). Giving a silent stream up (live) and taking it
back, "calibrate now", and replaying those decisions from a recording, are here too, so there
is one owner of each decision whatever the way in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import modalities
from .clock import Chunk, SessionClock
from .config import EngineConfig
from .pipeline import Frame, Pipeline, PipelineOutput
from .session_log import DEFAULT_SUBJECT, SUBJECT_ID, Calibrate, Lost, Resume, SessionEvent
from .state import Baseline


def check_subject(subject: str) -> str:
    """``subject`` if it is a valid id; ``ValueError`` naming the rule otherwise."""
    if not isinstance(subject, str) or not SUBJECT_ID.fullmatch(subject):
        raise ValueError(
            f"subject id {subject!r}: use a letter, then letters, digits, _ or - (max 32)"
        )
    return subject


@dataclass
class StepOutput:
    """What one step of the session produced, per subject."""

    frames: dict[str, list[Frame]] = field(default_factory=dict)
    events: dict[str, dict[str, dict[str, list[np.ndarray]]]] = field(default_factory=dict)
    placed: list[tuple[Chunk, np.ndarray, float, np.ndarray | None]] = field(default_factory=list)
    """(chunk, placed data, t0, placed stamps) of every chunk fed in the step."""

    def add(self, subject: str, out: PipelineOutput) -> None:
        if out.frames:
            self.frames.setdefault(subject, []).extend(out.frames)
        ev = self.events.setdefault(subject, {})
        for key, d in out.events.items():
            dst = ev.setdefault(key, {})
            for k, v in d.items():
                dst.setdefault(k, []).append(v)

    @property
    def n_frames(self) -> int:
        return sum(len(f) for f in self.frames.values())


class Subject:
    """One person of a session: their streams' clock, pipeline, baseline, state and cues."""

    def __init__(
        self,
        subject: str,
        rates: dict[str, float],
        config: EngineConfig,
        baseline_window: tuple[float, float] | None,
        baseline: Baseline | None,
        emit: Callable[[SessionEvent], None],
    ) -> None:
        self.id = check_subject(subject)
        self.rates = dict(rates)
        self.emit = emit
        self.pipeline = Pipeline(rates, config, baseline_window)
        if baseline is not None:
            self.pipeline.state.set_baseline(baseline)
        irregular = [m for m in rates if modalities.get(m).irregular]
        self.clock = SessionClock(rates, irregular, emit, subject)

    def push(self, chunk: Chunk) -> tuple[PipelineOutput, np.ndarray, float, np.ndarray | None]:
        pipe = self.pipeline
        m = chunk.modality
        if m in pipe.ended:
            # a stream given up on delivers again: wait for it from the next frame on, before
            # its samples are fused (the frames fused without it are exactly those from its
            # last delivered frame to here, as the session log says)
            pipe.resume(m)
            self.emit(Resume(m, pipe.next_frame, subject=self.id))
        if chunk.t0 is not None:  # placed already (a recording replays its placement)
            data, t0, stamps = chunk.data, chunk.t0, chunk.stamps
        else:
            assert chunk.timestamps is not None
            placed = self.clock.place(m, chunk.timestamps, chunk.data)
            if placed is None:
                return PipelineOutput(), chunk.data[:0], 0.0, None
            data, t0, stamps = placed.data, placed.t0, placed.stamps
        return pipe.push(m, data, t0, stamps), data, t0, stamps

    def give_up(self, modality: str) -> None:
        """Fuse past a silent stream (live): its frames go out empty until it delivers again."""
        pipe = self.pipeline
        if modality in pipe.ended or modality not in pipe.rates:
            return
        ch = pipe.channels.get(modality)
        nxt = pipe.next_frame
        self.emit(Lost(modality, nxt, max(nxt, ch.next_frame) if ch else nxt, subject=self.id))
        pipe.end(modality)


class Session:
    """The subjects of one session and the decisions about them.

    Parameters
    ----------
    streams : dict
        ``{subject: {modality: sampling rate, Hz}}``; or ``{modality: rate}`` for a one-person
        session (subject ``client``).
    config : EngineConfig or dict of them
        One for everyone, or one per subject.
    baseline_window : (start_s, end_s), optional
        Calibration window, session seconds (every subject).
    baseline : Baseline or dict of them, optional
        A ready baseline (e.g. a client profile's), which skips calibration.
    emit : callable, optional
        Receives every decision as a session-log event (the recorder writes them).
    """

    def __init__(
        self,
        streams: dict[str, dict[str, float]] | dict[str, float],
        config: EngineConfig | dict[str, EngineConfig] | None = None,
        baseline_window: tuple[float, float] | None = None,
        baseline: Baseline | dict[str, Baseline] | None = None,
        emit: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        by_subject: dict[str, dict[str, float]] = {}
        for k, v in streams.items():
            if isinstance(v, dict):
                if not v:
                    raise ValueError(f"subject {k!r} has no streams")
                by_subject.setdefault(k, {}).update(v)
            else:  # a one-person session given as {modality: rate}
                by_subject.setdefault(DEFAULT_SUBJECT, {})[k] = float(v)
        if not by_subject:
            raise ValueError("a session needs at least one subject with one stream")
        self.emit: Callable[[SessionEvent], None] = emit or (lambda _e: None)
        self.subjects: dict[str, Subject] = {}
        first = next(iter(by_subject))
        for sid, rates in by_subject.items():
            cfg = config.get(sid) if isinstance(config, dict) else config
            # one baseline (a client profile's) is the first person's, never everyone's
            base = (
                baseline.get(sid)
                if isinstance(baseline, dict)
                else (baseline if sid == first else None)
            )
            self.subjects[sid] = Subject(
                sid, rates, cfg or EngineConfig(), baseline_window, base, self._emit
            )
        self.origin = math.nan

    def _emit(self, event: SessionEvent) -> None:
        self.emit(event)

    @property
    def first(self) -> Subject:
        """The first subject (the one views show while there is one view)."""
        return next(iter(self.subjects.values()))

    def set_origin(self, t: float) -> None:
        """Session time 0 on the sources' clock, the same for every subject."""
        if math.isnan(self.origin):
            self.origin = float(t)
            for s in self.subjects.values():
                s.clock.set_origin(self.origin)

    def subject(self, sid: str) -> Subject:
        try:
            return self.subjects[sid]
        except KeyError:
            raise ValueError(
                f"unknown subject {sid!r}; the session has {', '.join(self.subjects)}"
            ) from None

    # one step -------------------------------------------------------------------------------
    def step(
        self,
        chunks: list[Chunk],
        lost: list[tuple[str, str]] | None = None,
        ended: list[tuple[str, str]] | None = None,
    ) -> StepOutput:
        """Feed ``chunks``; give up the ``lost`` streams (``(subject, modality)``, live) where
        their subject has another stream still delivering; stop waiting for the ``ended`` ones
        (a file's stream at its end); fuse what is ready."""
        out = StepOutput()
        firsts = [
            float(c.timestamps[0])
            for c in chunks
            if c.t0 is None and c.timestamps is not None and len(c.timestamps)
        ]
        if firsts:
            # session time 0: the earliest sample of the first step that brought any
            self.set_origin(min(firsts))
        for c in chunks:
            if len(c.data) == 0:
                continue
            subj = self.subject(c.subject)
            got, data, t0, stamps = subj.push(c)
            out.add(subj.id, got)
            out.placed.append((c, data, t0, stamps))
        by_subject: dict[str, list[str]] = {}
        for sid, m in lost or ():
            by_subject.setdefault(sid, []).append(m)
        for sid, ms in by_subject.items():
            subj = self.subject(sid)
            if len(set(ms) & set(subj.rates)) < len(subj.rates):  # someone is still delivering
                for m in ms:
                    subj.give_up(m)
        for sid, m in ended or ():
            self.end(sid, m)
        for subj in self.subjects.values():
            out.add(subj.id, PipelineOutput(frames=subj.pipeline.fuse_ready()))
        return out

    def end(self, subject: str, modality: str) -> None:
        """A file's stream ended: fusion no longer waits for it."""
        self.subject(subject).pipeline.end(modality)

    def finish(self) -> StepOutput:
        """End of input: fuse every frame some stream delivered, and the events the channels
        kept back for look-ahead."""
        out = StepOutput()
        for subj in self.subjects.values():
            frames = subj.pipeline.flush()
            out.add(subj.id, PipelineOutput(frames=frames, events=subj.pipeline.finish_events()))
        return out

    # decisions ------------------------------------------------------------------------------
    def calibrate(self, start_s: float, end_s: float, subject: str | None = None) -> None:
        """ "Calibrate now": a new baseline over ``[start_s, end_s)`` for one subject (all
        where None), from the first frame at or after ``start_s``."""
        for subj in self.subjects.values():
            if subject is None or subj.id == subject:
                subj.pipeline.schedule_recalibration(start_s, end_s)
                self.emit(Calibrate(start_s, end_s, subject=subj.id))

    def replay(self, decisions: dict[str, dict[str, Any]]) -> None:
        """Take the decisions a recording's session log holds, per subject: ``calibrations``
        [(start_s, end_s)] and ``masks`` {modality: [(first frame, stop or None)]} (the frames
        the live engine fused without a stream it had given up)."""
        for sid, d in decisions.items():
            if sid not in self.subjects:
                continue
            pipe = self.subjects[sid].pipeline
            for start, end in d.get("calibrations", []):
                pipe.schedule_recalibration(start, end)
            for m, spans in d.get("masks", {}).items():
                for first, stop in spans:
                    if m in pipe.rates:
                        pipe.mask(m, first, stop)
