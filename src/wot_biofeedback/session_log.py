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

Reading is defensive: a record longer than :data:`MAX_RECORD_CHARS`, nested too deeply for the
JSON parser, or whose fields have the wrong type or an impossible value (a negative count, a
time that is not finite, a session time beyond :data:`MAX_SESSION_S`) is rejected, with the
reason, and never applied (:meth:`SessionLog.parse` keeps the reasons).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

SCHEMA_VERSION = 2
DEFAULT_SUBJECT = "client"
SUBJECT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
"""A subject id: a letter, then letters, digits, ``_`` or ``-`` (at most 32)."""
MAX_RECORD_CHARS = 1 << 20
"""Longest session record read, characters (the engine's longest, its parameters, are a few
kB; a therapist's note is far shorter)."""
MAX_SESSION_S = 24 * 3600.0
"""Latest session time a record may name (a stream start, a calibration, a marker), s."""
MAX_COUNT = 1 << 40
"""Largest sample or frame count a record may name (a day at 10 kHz is below 2^30)."""


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


def from_record(record: dict[str, Any], dropped: list[str] | None = None) -> SessionEvent:
    """The event of one record (any schema version); an unknown kind gives
    :class:`UnknownEvent`; a known kind with missing required fields, or with a value no
    engine writes (:data:`_RULES`), raises ``ValueError`` naming it. With ``dropped``, a bad
    value of a field the event can do without (:data:`OPTIONAL`: the engine record's
    parameters, baseline, an end record's counts) is left out instead, and said there."""
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
    for name in list(body):
        why = _problem(cls.kind, name, body[name])
        if why is None:
            continue
        msg = f"session record {kind!r}: {name} {_short(body[name])} {why}"
        if dropped is None or (cls.kind, name) not in OPTIONAL:
            raise ValueError(msg)
        dropped.append(f"{msg}: left out")
        del body[name]
    if cls is EngineStart and body.get("baseline_window") is not None:
        a, b = body["baseline_window"]
        body["baseline_window"] = (float(a), float(b))
    try:
        event = cls(**body)
    except TypeError as exc:
        raise ValueError(f"session record {kind!r} is incomplete: {exc}") from None
    if isinstance(event, Calibrate) and not event.start_s < event.end_s:
        raise ValueError(
            f"session record {kind!r}: end_s {event.end_s!r} is not after start_s {event.start_s!r}"
        )
    return event


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _as_float(v: int | float) -> float | None:
    """``v`` as a float; None for a whole number beyond a float's range (JSON has no limit on
    its digits: ``float(10**400)`` raises ``OverflowError``)."""
    try:
        return float(v)
    except OverflowError:
        return None


def _problem(kind: str, name: str, v: Any) -> str | None:
    """Why field ``name`` of a ``kind`` record cannot hold ``v`` (:data:`_RULES`), or None:
    a negative count would move samples, a huge one allocate the world, a time that is not
    finite place a stream nowhere."""
    if name == "subject":
        ok = isinstance(v, str) and SUBJECT_ID.fullmatch(v)
        return None if ok else "is not a subject id (a letter, then letters, digits, _ or -)"
    rule = _RULES.get((kind, name))
    if rule is None:
        return None
    if rule == "count" or (rule == "count?" and v is not None):
        if not isinstance(v, int) or isinstance(v, bool):
            return "is not a whole number"
        if v < 0:
            return "is negative"
        if v > MAX_COUNT:
            return f"is beyond {MAX_COUNT}"
    elif rule in ("time", "finite", "number"):
        if not _is_number(v):
            return "is not a number"
        f = _as_float(v)
        if f is None:
            return "is beyond the range of a number"
        if rule != "number" and not math.isfinite(f):
            return "is not finite"
        if rule == "time" and not -1e-6 <= f <= MAX_SESSION_S:
            return f"is not a session time (0 to {MAX_SESSION_S:g} s)"
    elif rule == "text" and not isinstance(v, str):
        return "is not text"
    elif rule in ("dict", "dict?") and not (isinstance(v, dict) or (rule == "dict?" and v is None)):
        return "is not a JSON object"
    elif rule == "bool" and not isinstance(v, bool):
        return "is not true or false"
    elif rule == "window" and v is not None:
        if not (isinstance(v, list | tuple) and len(v) == 2 and all(map(_is_number, v))):
            return "is not [start, end]"
        a, b = _as_float(v[0]), _as_float(v[1])
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b) and 0 <= a < b):
            return "is not a window 0 <= start < end"
    return None


OPTIONAL = frozenset(
    {
        ("engine", "parameters"),
        ("engine", "baseline"),
        ("engine", "baseline_window"),
        ("end", "frames"),
        ("end", "session_s"),
        ("end", "overruns"),
        ("end", "gaps_filled_s"),
    }
)
"""Fields a record is read without when their value is bad (the defaults stand in): the
engine's parameters and baseline (the analysis then uses its own), an end record's totals."""


_RULES: dict[tuple[str, str], str] = {
    ("origin", "lsl_time"): "finite",
    ("stream_start", "modality"): "text",
    ("stream_start", "t0"): "time",
    ("stream_start", "drop"): "count",
    ("gap", "modality"): "text",
    ("gap", "after"): "count",
    ("gap", "n"): "count",
    ("gap", "t"): "number",
    ("lost", "modality"): "text",
    ("lost", "frame"): "count",
    ("lost", "delivered"): "count?",
    ("resume", "modality"): "text",
    ("resume", "frame"): "count",
    ("calibrate", "start_s"): "time",
    ("calibrate", "end_s"): "time",
    ("mute", "muted"): "bool",
    ("mute", "time_s"): "number",
    ("marker", "time_s"): "time",
    ("marker", "text"): "text",
    ("engine", "parameters"): "dict?",
    ("engine", "baseline"): "dict?",
    ("engine", "baseline_window"): "window",
    ("end", "frames"): "count",
    ("end", "session_s"): "finite",
    ("end", "overruns"): "count",
    ("end", "gaps_filled_s"): "dict",
}
"""What each field of a record must hold: ``count`` a whole number 0..MAX_COUNT (``count?``: or
null), ``time`` a session time, ``finite`` a finite number, ``number`` any number (NaN where the
writer leaves it unknown), ``text``, ``bool``, ``dict`` a JSON object (``dict?``: or null).
The engine record's ``sources`` are checked by their reader, entry by entry."""


def decode(text: str, dropped: list[str] | None = None) -> SessionEvent:
    """The event of one ``wot-session`` record; ``ValueError`` if it is not a readable one
    (not text, longer than :data:`MAX_RECORD_CHARS`, not JSON, nested too deeply, or failing
    the checks of :func:`from_record`)."""
    if not isinstance(text, str):
        raise ValueError(f"not a session record: {type(text).__name__}, not text")
    if len(text) > MAX_RECORD_CHARS:
        raise ValueError(
            f"not a session record: {len(text)} characters long (the limit is {MAX_RECORD_CHARS})"
        )
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a session record: {exc}") from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise ValueError("not a session record: JSON nested too deeply") from None
    if not isinstance(record, dict):
        raise ValueError("not a session record: not a JSON object")
    return from_record(record, dropped)


def _what(text: Any) -> tuple[str, str | None]:
    """The kind and modality a rejected record names, where it can be read that far."""
    if not isinstance(text, str) or len(text) > MAX_RECORD_CHARS:
        return "", None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return "", None
    if not isinstance(record, dict):
        return "", None
    kind, m = record.get("event"), record.get("modality")
    return (str(kind) if isinstance(kind, str) else ""), (m if isinstance(m, str) else None)


def schema_version(record_text: str) -> int:
    """The schema version of one record (1 where it names none)."""
    try:
        return int(json.loads(record_text).get("v", 1))
    except (AttributeError, TypeError, ValueError, OverflowError, RecursionError):
        return 1


@dataclass
class SessionLog:
    """The events of one recording, read back in order, with the ones that could not be read
    counted."""

    events: list[SessionEvent] = field(default_factory=list)
    unreadable: int = 0
    versions: set[int] = field(default_factory=set)
    rejected: list[tuple[int, str, str | None, str]] = field(default_factory=list)
    """The records left out: ``(index, kind, modality, why)``; kind and modality are "" and
    None where the record did not say (or could not be read far enough to say)."""
    dropped: list[str] = field(default_factory=list)
    """Bad values of fields a record was read without (:data:`OPTIONAL`), with the reason."""

    @classmethod
    def parse(cls, texts: list[Any]) -> SessionLog:
        log = cls()
        for i, text in enumerate(texts):
            try:
                log.events.append(decode(text, log.dropped))
            except ValueError as exc:
                log.unreadable += 1
                log.rejected.append((i, *_what(text), str(exc)))
                continue
            log.versions.add(schema_version(text))
        return log

    def rejected_of(self, modality: str, kinds: tuple[str, ...]) -> list[str]:
        """Why records of these kinds of ``modality`` were left out, counting those whose kind
        or modality could not be read (they may have been of it)."""
        return [
            why for _i, k, m, why in self.rejected if k in (*kinds, "") and m in (None, modality)
        ]

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
