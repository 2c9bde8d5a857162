"""The session log: every decision the engine takes about a session, as typed events.

A live session writes these to its recording (the ``wot-session`` string stream, one JSON object
per record); the reader of that recording turns them back into the same dataclasses and replays
them, so an offline analysis takes exactly the decisions the live engine took (where each stream
starts on the session clock, which samples were dropped before time 0, where gaps were filled,
when a stream was given up on and when it came back, "calibrate now", markers).

This module is the only place that writes or reads the records (:func:`encode`,
:func:`decode`). Each record carries the schema version ``"v"``; records without it are from
schema 1 (wot-biofeedback up to 0.1.0, one subject, no ``delivered`` on ``lost``), and are read
with the same classes, their missing fields defaulted.

Schema history
--------------
1. The first recordings (no ``"v"`` field).
2. ``"v": 2``; every event names its ``subject`` (``client`` when absent); ``lost`` records
   ``delivered`` (the frames the stream had delivered when it was given up on), so an offline
   analysis masks exactly the frames the live engine fused without it. Later additions, which
   older readers ignore: ``engine`` records ``unusable`` (streams left out because they cannot
   run, and why); ``end`` records the ``traceback`` of an engine failure.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

SCHEMA_VERSION = 2
DEFAULT_SUBJECT = "client"


@dataclass(frozen=True)
class SessionEvent:
    """Base class: one record of the session log."""

    kind: ClassVar[str] = ""
    subject: str = field(default=DEFAULT_SUBJECT, kw_only=True)


@dataclass(frozen=True)
class SessionInfo(SessionEvent):
    """Who and what the session is (client, scenario, command, software, host, start time)."""

    kind: ClassVar[str] = "session"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineStart(SessionEvent):
    """The engine's parameters, calibration window, starting baseline and input streams."""

    kind: ClassVar[str] = "engine"
    parameters: dict[str, Any] | None = None
    baseline_window: tuple[float, float] | None = None
    baseline: dict[str, Any] | None = None
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    unusable: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Streams found but left out because they cannot run (name, type, source_id, fs, reason)."""


@dataclass(frozen=True)
class Origin(SessionEvent):
    """Session time 0 on the sources' clock (LSL time live; the file's clock offline), s."""

    kind: ClassVar[str] = "origin"
    lsl_time: float


@dataclass(frozen=True)
class StreamStart(SessionEvent):
    """Where a stream's first kept sample sits on the session clock (``t0``, s) and how many
    samples before session time 0 were dropped."""

    kind: ClassVar[str] = "stream_start"
    modality: str
    t0: float
    drop: int = 0


@dataclass(frozen=True)
class Gap(SessionEvent):
    """A stream paused: ``n`` missing samples (NaN) go before the sample that followed
    ``after`` samples received (counted after the drop); ``t`` is that sample's time stamp."""

    kind: ClassVar[str] = "gap"
    modality: str
    after: int
    n: int
    t: float = math.nan


@dataclass(frozen=True)
class Lost(SessionEvent):
    """The engine gave a silent stream up: fusion went on without it from frame ``frame``; it
    had delivered frames up to ``delivered`` (exclusive), so frames from there until it came
    back were fused without its data."""

    kind: ClassVar[str] = "lost"
    modality: str
    frame: int
    delivered: int | None = None  # schema 1 did not record it


@dataclass(frozen=True)
class Resume(SessionEvent):
    """A lost stream delivered again: fusion waits for it from frame ``frame`` on."""

    kind: ClassVar[str] = "resume"
    modality: str
    frame: int


@dataclass(frozen=True)
class Calibrate(SessionEvent):
    """ "Calibrate now": a new baseline over session seconds ``[start_s, end_s)``."""

    kind: ClassVar[str] = "calibrate"
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Mute(SessionEvent):
    kind: ClassVar[str] = "mute"
    muted: bool
    time_s: float = math.nan


@dataclass(frozen=True)
class Marker(SessionEvent):
    """A therapist's note (or the engine's own ``[engine] …`` note) at session time ``time_s``."""

    kind: ClassVar[str] = "marker"
    time_s: float
    text: str


@dataclass(frozen=True)
class End(SessionEvent):
    """The session ended normally (its absence means the recording was cut short)."""

    kind: ClassVar[str] = "end"
    frames: int = 0
    session_s: float = 0.0
    overruns: int = 0
    gaps_filled_s: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UnknownEvent(SessionEvent):
    """A record of a kind this version does not know (a newer writer): kept, not interpreted."""

    kind: ClassVar[str] = "unknown"
    record: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[SessionEvent]] = {
    c.kind: c
    for c in (
        SessionInfo,
        EngineStart,
        Origin,
        StreamStart,
        Gap,
        Lost,
        Resume,
        Calibrate,
        Mute,
        Marker,
        End,
    )
}


def _default(o: Any) -> Any:
    if isinstance(o, np.floating | np.integer):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def to_record(event: SessionEvent) -> dict[str, Any]:
    """The JSON-ready record of ``event`` (``event``: its kind, ``v``: the schema version)."""
    if isinstance(event, UnknownEvent):
        return dict(event.record)
    body = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    if isinstance(event, SessionInfo):  # its metadata at the top level, as schema 1 had it
        body = {**body.pop("metadata"), "subject": body["subject"]}
    if isinstance(event, End):
        body = {**body.pop("extra"), **body}
    return {**body, "event": event.kind, "v": SCHEMA_VERSION}


def encode(event: SessionEvent) -> str:
    """One ``wot-session`` record as written into a recording."""
    return json.dumps(to_record(event), default=_default)


def from_record(record: dict[str, Any]) -> SessionEvent:
    """The event of one record (any schema version); an unknown kind gives
    :class:`UnknownEvent`, a known kind with missing required fields raises ``ValueError``."""
    kind = record.get("event")
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        return UnknownEvent(record=dict(record), subject=str(record.get("subject", "client")))
    names = {f.name for f in dataclasses.fields(cls)}
    body = {k: v for k, v in record.items() if k in names}
    rest = {k: v for k, v in record.items() if k not in names and k not in ("event", "v")}
    if cls is SessionInfo:
        body["metadata"] = rest
    elif cls is End:
        body["extra"] = rest
    if cls is EngineStart and body.get("baseline_window") is not None:
        a, b = body["baseline_window"]
        body["baseline_window"] = (float(a), float(b))
    try:
        return cls(**body)
    except TypeError as exc:
        raise ValueError(f"session record {kind!r} is incomplete: {exc}") from None


def decode(text: str) -> SessionEvent:
    """The event of one ``wot-session`` record; ``ValueError`` if it is not a readable one."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a session record: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("not a session record: not a JSON object")
    return from_record(record)


def schema_version(record_text: str) -> int:
    """The schema version of one record (1 where it names none)."""
    try:
        return int(json.loads(record_text).get("v", 1))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 1


@dataclass
class SessionLog:
    """The events of one recording, read back in order, with the ones that could not be read
    counted."""

    events: list[SessionEvent] = field(default_factory=list)
    unreadable: int = 0
    versions: set[int] = field(default_factory=set)

    @classmethod
    def parse(cls, texts: list[str]) -> SessionLog:
        log = cls()
        for text in texts:
            try:
                log.events.append(decode(text))
            except ValueError:
                log.unreadable += 1
                continue
            log.versions.add(schema_version(text))
        return log

    def of(self, kind: type[Any], subject: str | None = None) -> list[Any]:
        """The events of one kind (of one subject, where given), in order."""
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (subject is None or e.subject == subject)
        ]

    def first(self, kind: type[Any], subject: str | None = None) -> Any:
        found = self.of(kind, subject)
        return found[0] if found else None

    @property
    def subjects(self) -> list[str]:
        """The subjects whose engine records are in the log, in order of appearance."""
        seen: list[str] = []
        for e in self.of(EngineStart):
            if e.subject not in seen:
                seen.append(e.subject)
        return seen
