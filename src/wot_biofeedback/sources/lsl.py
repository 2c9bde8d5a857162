"""LSL inlets: resolve streams by type (and optionally name/source_id), pull chunks.

Timestamps are clock-corrected by liblsl (``proc_clocksync``), so streams from other machines
line up on this machine's LSL clock.

EDA is delivered in µS: the unit comes from ``--eda-unit`` (``eda_unit``) or else from the
stream's channel metadata (``desc/channels/channel/unit``, as LabRecorder and mne-lsl write it);
without either it is assumed to be µS, and a level outside 0.05-100 µS over the first 10 s is
reported (:attr:`LslSource.note`, and a log warning). ACC (a chest accelerometer) delivers its
first three channels as ``(n, 3)`` chunks.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pylsl
from pylsl.util import LostError, handle_error
from pylsl.util import TimeoutError as LslTimeoutError

from ..clock import Chunk
from ..errors import InputError, StreamNotFoundError
from ..modalities import MODALITIES
from ..session_log import DEFAULT_SUBJECT
from .base import Batch
from .files import is_resistance_unit, parse_eda_unit

CLOCK_OFFSET_S = 5.0
"""How often the clock correction is read for a recording, s (LabRecorder's interval)."""
EDA_CHECK_S = 10.0
"""Seconds of EDA whose median level is checked for plausibility (0.05-100 µS)."""
RATE_CHECK_S = 30.0
"""Seconds of a sampled stream over which its real rate is compared with the declared one."""
RATE_TOLERANCE = 0.01
"""A real rate further than this share from the declared one is reported: the engine counts
samples at the declared rate, so every rate and time it derives is off by as much."""

log = logging.getLogger("wot_biofeedback.sources.lsl")


def list_streams(timeout: float = 2.0) -> list[pylsl.StreamInfo]:
    """All LSL streams visible on the network within ``timeout`` seconds."""
    return list(pylsl.resolve_streams(wait_time=timeout))


def describe(info: pylsl.StreamInfo) -> str:
    rate = info.nominal_srate()
    rate_s = f"{rate:g} Hz" if rate > 0 else "irregular"
    return (
        f"{info.name():24s} type={info.type():9s} ch={info.channel_count():<3d} {rate_s:>10s} "
        f"source_id={info.source_id()} host={info.hostname()}"
    )


_NUMERIC_FORMATS = {
    pylsl.cf_float32: np.float32,
    pylsl.cf_double64: np.float64,
    pylsl.cf_int8: np.int8,
    pylsl.cf_int16: np.int16,
    pylsl.cf_int32: np.int32,
    pylsl.cf_int64: np.int64,
}
"""The numpy type liblsl writes for each numeric channel format."""


def _direct_pull(inlet: Any, dest: np.ndarray, ts: np.ndarray) -> Callable[[], int] | None:
    """A pull of whatever has arrived into ``dest`` (samples) and ``ts`` (time stamps),
    returning the number of samples: liblsl's chunk pull for the stream's format, called
    with arguments made once. pylsl's ``pull_chunk`` makes them (and a time-stamp list) on
    every call, which was most of a live read's pull cost. None where this pylsl does not
    expose the inlet's handle and pull function (then pylsl's own pull is used)."""
    fn, obj = getattr(inlet, "do_pull_chunk", None), getattr(inlet, "obj", None)
    if fn is None or obj is None or getattr(inlet, "np_dtype", None) != dest.dtype:
        return None
    if not (dest.flags.c_contiguous and ts.flags.c_contiguous and ts.size >= dest.shape[0]):
        return None
    err = ctypes.c_int()
    width = dest.shape[1]
    args = (
        obj,
        ctypes.c_void_p(dest.ctypes.data),
        ctypes.c_void_p(ts.ctypes.data),
        ctypes.c_size_t(dest.size),
        ctypes.c_size_t(dest.shape[0]),
        ctypes.c_double(0.0),
        ctypes.byref(err),
    )

    def pull() -> int:
        n = fn(*args)
        if err.value:
            handle_error(err)  # LostError, TimeoutError, ... as pylsl raises them
        return int(n) // width

    return pull


def _int64_pulls() -> bool:
    """Whether pylsl can pull int64 here: on Windows and 32-bit systems its int64 pull is a
    Python stub that raises NotImplementedError (a ctypes function has ``argtypes``)."""
    pull = getattr(getattr(pylsl, "lib", None), "pull_chunk_int64", None)
    return pull is None or hasattr(pull, "argtypes")


def _format_name(fmt: int) -> str:
    names = {pylsl.cf_string: "string", pylsl.cf_undefined: "undefined"}
    return names.get(fmt, str(fmt))


SETTLE_S = 0.5
"""Once every stream asked for is found, how long :func:`open_sources` listens on (counted
from its start) for other streams that would fit as well, s."""
_SUBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Want:
    """What a stream must be to be taken: its type and, where given, its name and source_id
    (compared exactly, never built into a query)."""

    stype: str
    name: str | None = None
    source_id: str | None = None

    def fits(self, info: pylsl.StreamInfo) -> bool:
        return (
            info.type() == self.stype
            and (not self.name or info.name() == self.name)
            and (not self.source_id or info.source_id() == self.source_id)
        )

    def text(self, subject: str | None = None) -> str:
        return (
            f"type {self.stype!r}"
            + (f", name {self.name!r}" if self.name else "")
            + (f", source_id {self.source_id!r}" if self.source_id else "")
            + (f", subject {subject!r}" if subject else "")
        )


def find_streams(
    wants: dict[str, Want], timeout: float, settle: float = 0.0, subject: str | None = None
) -> tuple[dict[str, list[pylsl.StreamInfo]], list[pylsl.StreamInfo]]:
    """Every visible stream that fits each of ``wants``, listening until each has one and
    ``settle`` s have passed, or ``timeout`` s; and every stream seen. The streams are listed
    by liblsl's resolver and compared here, so the user's text (a type given on the command
    line) is never part of a query. ``subject``: only streams whose ``desc/subject`` names it
    (answered by the streams themselves: a resolved stream carries no ``desc``)."""
    pred = None
    if subject is not None:
        if not _SUBJECT.fullmatch(subject):  # it goes into a query: letters, digits, _ and -
            raise InputError(f"subject id {subject!r}: use a letter, then letters, digits, _ or -")
        pred = f"desc/subject='{subject}'"
    resolver = pylsl.ContinuousResolver(pred=pred) if pred else pylsl.ContinuousResolver()
    start = time.monotonic()
    while True:
        seen = resolver.results()
        found = {k: [i for i in seen if w.fits(i)] for k, w in wants.items()}
        waited = time.monotonic() - start
        if waited >= timeout or (all(found.values()) and waited >= settle):
            return found, seen
        time.sleep(0.02)


def resolve(
    stype: str,
    name: str | None = None,
    source_id: str | None = None,
    timeout: float = 5.0,
    subject: str | None = None,
) -> pylsl.StreamInfo:
    """Find one stream of type ``stype`` (and ``name``/``source_id`` when given, and whose
    ``desc/subject`` is ``subject`` when given); see :func:`find_streams`.

    Raises
    ------
    StreamNotFoundError
        With the list of the streams that were visible.
    """
    want = Want(stype, name, source_id)
    found, seen = find_streams({"x": want}, timeout, subject=subject)
    if found["x"]:
        return found["x"][0]
    raise StreamNotFoundError(_not_found(want, subject, timeout, seen))


def _not_found(
    want: Want, subject: str | None, timeout: float, seen: list[pylsl.StreamInfo]
) -> str:
    visible = "; ".join(f"{s.name()} ({s.type()})" for s in seen) or "none"
    return f"no LSL stream with {want.text(subject)} found within {timeout:g} s; visible: {visible}"


def origin(info: pylsl.StreamInfo) -> tuple[str, str]:
    """Where a stream comes from: its host and its source_id without the last ``-part`` (a
    driver or simulator publishes ``ID-ecg``, ``ID-eda``, … under one prefix ``ID``)."""
    sid = info.source_id()
    return info.hostname(), sid.rsplit("-", 1)[0] if "-" in sid else sid


def _which(info: pylsl.StreamInfo) -> str:
    sid = info.source_id() or "(none)"
    return f"{info.name()} (source_id {sid}, host {info.hostname()})"


def choose_streams(
    found: dict[str, list[pylsl.StreamInfo]],
    allow_mixed: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> dict[str, pylsl.StreamInfo]:
    """One stream per modality from the candidates ``found`` (modalities without any are left
    out), all from one :func:`origin` where there is a choice: the origin that has the most of
    the modalities (this machine's first, then in order of name). A modality with several
    candidates is reported to ``on_warning`` (each with its name, source_id and host).

    Raises
    ------
    InputError
        The streams taken come from different origins (another client's sensors, another
        machine) and ``allow_mixed`` is false: the message lists them and how to choose.
    """
    warn = on_warning or (lambda msg: log.warning("%s", msg))
    here = socket.gethostname()
    cover: dict[tuple[str, str], set[str]] = {}
    for m, infos in found.items():
        for info in infos:
            cover.setdefault(origin(info), set()).add(m)
    if not cover:
        return {}

    def rank(o: tuple[str, str]) -> tuple[int, bool, tuple[str, str]]:
        return -len(cover[o]), o[0] != here, o

    chosen: dict[str, pylsl.StreamInfo] = {}
    for m, infos in found.items():
        if not infos:
            continue
        ordered = sorted(infos, key=lambda i: (rank(origin(i)), i.name(), i.source_id()))
        chosen[m] = ordered[0]
        if len(infos) > 1:
            warn(
                f"{len(infos)} {m.upper()} streams found: {', '.join(map(_which, ordered))}; "
                f"using {chosen[m].name()} (choose one with --source-id PREFIX)"
            )
    origins = {origin(i) for i in chosen.values()}
    if len(origins) > 1 and not allow_mixed:
        used = ", ".join(f"{m.upper()} {_which(i)}" for m, i in chosen.items())
        raise InputError(
            f"the streams found come from different sources ({used}); choose one source with "
            "--source-id PREFIX, or use them together with --allow-mixed-sources"
        )
    return chosen


def channel_labels(info: pylsl.StreamInfo) -> list[str]:
    """Channel labels from the stream's ``<channels>`` metadata ('' where not given)."""
    labels = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label").strip())
        ch = ch.next_sibling()
    return labels


def channel_index(info: pylsl.StreamInfo, choice: str) -> int:
    """A channel given by 0-based index or by label (case-insensitive)."""
    text = choice.strip()
    if text.isdigit():
        return int(text)
    labels = [lab.lower() for lab in channel_labels(info)]
    if text.lower() in labels:
        return labels.index(text.lower())
    raise StreamNotFoundError(
        f"stream {info.name()!r} has no channel {choice!r}; its channels: "
        f"{', '.join(channel_labels(info)) or 'no labels, ' + str(info.channel_count())}"
    )


def contact_channel(info: pylsl.StreamInfo) -> int | None:
    """Index of a channel labelled ``contact`` (sensor-contact status), or None."""
    labels = [lab.lower() for lab in channel_labels(info)]
    return labels.index("contact") if "contact" in labels else None


def channel_units(info: pylsl.StreamInfo) -> list[str]:
    """Units from the stream's ``<channels>`` metadata ('' where not given)."""
    units = []
    ch = info.desc().child("channels").child("channel")
    for _ in range(info.channel_count()):
        units.append(ch.child_value("unit") if not ch.empty() else "")
        ch = ch.next_sibling() if not ch.empty() else ch
    return units


def eda_unit_factor(unit: str) -> tuple[float, str]:
    """Factor from an EDA stream's metadata unit to µS, and a note ('' when all is well).

    Accepts what devices and recorders write: ``uS``, ``µS``, ``μS``, ``microsiemens``,
    ``nS``, ``mS``, ``S`` (any case). An empty unit is taken as µS; an unknown one too, with a
    note that names it.
    """
    u = unit.strip()
    if not u:
        return 1.0, ""
    try:
        return parse_eda_unit(u), ""
    except InputError:
        return 1.0, f"unknown EDA unit {unit!r} in the stream metadata; assuming µS (--eda-unit)"


@dataclass
class PullResult:
    data: np.ndarray
    timestamps: np.ndarray  # clock-corrected (this machine's LSL clock)
    raw: np.ndarray | None = None  # every channel as received, (n, channels) float32
    clock_offset: float = 0.0  # liblsl's correction included in ``timestamps``, s
    raw_timestamps: np.ndarray | None = None  # of the ``raw`` rows, where not ``timestamps``


class LslSource:
    """One regularly sampled LSL stream feeding one modality.

    Parameters
    ----------
    modality : str
        ``ecg``, ``ppg``, ``rr``, ``eda``, ``resp`` or ``acc``.
    info : pylsl.StreamInfo
        A resolved stream.
    channel : int
        Channel index to use (``acc``: the first of three, x, y, z).
    eda_unit : str, optional
        Unit of an EDA stream (``uS``, ``nS``, ``mS``, ``S``, ``raw:SCALE``); overrides the
        stream's metadata. EDA samples are scaled to µS.
    strict : bool
        A stream that cannot feed ``modality`` (an irregular rate for a sampled signal, too
        few channels) raises :class:`StreamNotFoundError`; with ``strict=False`` it is kept,
        delivers nothing, and :attr:`problem` says why (the engine reports it and runs on
        with the other streams).

    Attributes
    ----------
    scale : float
        Factor applied to the samples (EDA unit to µS; 1 otherwise).
    note : str
        A problem with the stream found while running (e.g. an implausible EDA level), '' if
        none.
    problem : str
        Why the stream cannot feed its modality at all ('' if it can; see ``strict``).
    """

    def __init__(
        self,
        modality: str,
        info: pylsl.StreamInfo,
        channel: int | str = 0,
        eda_unit: str | None = None,
        strict: bool = True,
    ) -> None:
        # a bad --eda-unit is the user's error: say so before connecting
        forced = parse_eda_unit(eda_unit) if eda_unit and modality == "eda" else None
        self.modality = modality
        self.inlet = pylsl.StreamInlet(
            info, max_buflen=360, max_chunklen=0, processing_flags=pylsl.proc_clocksync
        )
        self.info = self.inlet.info(timeout=5.0)
        # connect now, so that nothing pushed after this point is missed
        self.inlet.open_stream(timeout=5.0)
        # and learn the clock offset now: liblsl's clock sync otherwise measures it in the
        # first pull that brings data, which then blocks the engine's read loop for about
        # 0.64 s per stream (measured here on loopback; see benchmarks/README.md, start-up)
        with contextlib.suppress(LslTimeoutError, LostError):  # else: asked at the first pull
            self.inlet.time_correction(timeout=2.0)
        self.first_wall = math.nan  # time.monotonic() of the first sample received
        self.fs = float(self.info.nominal_srate())
        # an RR stream is irregular by nature (one value per beat); nominally 1 value/s
        self.irregular = self.fs <= 0
        self.problem = ""
        fmt = self.info.channel_format()
        native = _NUMERIC_FORMATS.get(fmt)
        if native is None:
            self.problem = (
                f"stream {self.info.name()!r} sends text (channel format "
                f"{_format_name(fmt)}); {modality} needs numbers"
            )
        elif fmt == pylsl.cf_int64 and not _int64_pulls():
            self.problem = (
                f"stream {self.info.name()!r} sends int64 values, which pylsl cannot read on "
                "this platform (Windows or 32-bit); send int32 or float instead"
            )
        elif self.irregular and modality != "rr":
            self.problem = (
                f"stream {self.info.name()!r} has an irregular rate; "
                f"{modality} needs a sampled signal"
            )
        if modality == "rr":
            self.fs = 1.0
        width = MODALITIES[modality].width
        if isinstance(channel, str):  # a label or an index, e.g. from --ecg-channel
            channel = channel_index(self.info, channel)
        if not self.problem and not 0 <= channel <= self.info.channel_count() - width:
            need = f"channels {channel}-{channel + 2}" if width == 3 else f"channel {channel}"
            self.problem = (
                f"stream {self.info.name()!r} has {self.info.channel_count()} channels; "
                f"{modality} needs {need}"
            )
        if not self.problem and modality == "eda" and forced is None:
            unit = (channel_units(self.info) or [""])[channel]
            if is_resistance_unit(unit):
                self.problem = (
                    f"stream {self.info.name()!r} sends skin resistance ({unit.strip()}); EDA "
                    "needs conductance: set the device to send µS (µS = 1000 / kOhm), choose "
                    "a conductance channel (--eda-channel), or give --eda-unit if mislabelled"
                )
        if self.problem:
            if strict:
                self.inlet.close_stream()
                raise StreamNotFoundError(self.problem)
            # kept, to be reported as a stream that cannot run; it delivers nothing
            self.inlet.close_stream()
            channel = 0
        self.channel = channel
        self.width = width
        self.unit = (channel_units(self.info) or [""])[channel]
        self.name = self.info.name()
        self.scale = 1.0
        self.note = ""
        self.unit_source = f"{self.unit}" if self.unit else "unit not stated"
        self._eda_check: list[np.ndarray] | None = None
        if modality == "eda" and not self.problem:  # (a refused stream is read as nothing)
            if forced is not None:
                self.scale = forced
                self.unit_source = f"--eda-unit {eda_unit}"
            else:
                self.scale, self.note = eda_unit_factor(self.unit)
                if self.note:
                    log.warning("%s: %s", self.name, self.note)
                self.unit_source = f"{self.unit!r} in metadata" if self.unit else "assumed µS"
            self._eda_check = []  # a wrong or mislabelled unit shows in the level: check it
            self.unit = "uS"
        self.n_samples = 0
        # the real rate against the declared one (see _check_rate)
        self._lag_ref = self._prev_lag = 0.0
        self._rate_steps: deque[tuple[int, float]] = deque()
        self._rate_n = 0
        self._rate_every = max(1, round(5.0 * self.fs))  # samples between two checks
        self._rate_note = ""
        self.last_wall = float("nan")  # time.monotonic() of the last sample received
        self.first_timestamp = float("nan")
        shape = (max(1024, int(self.fs * 4)), self.info.channel_count())
        self._buf = np.empty(shape, dtype=np.float32)
        # liblsl writes the stream's own type (int16 counts, float64, ...): pulled into a
        # buffer of that type, then taken as float32 like the rest (what is recorded and what
        # the engine processes are the same values); a float32 stream is pulled in place
        self._native = self._buf
        if native is not None and native != np.float32:
            self._native = np.empty(shape, dtype=native)
        self._ts = np.empty(self._buf.shape[0])
        # (None: pylsl's own pull; not a bound method kept on self, which would make a cycle
        # that keeps the inlet open until the garbage collector runs)
        self._pull = _direct_pull(self.inlet, self._native, self._ts)
        self.clock_offset = 0.0
        self.clock_measured = float("nan")  # local_clock() when clock_offset was read
        self.new_offsets: list[tuple[float, float]] = []  # (time, offset) not yet recorded
        self.record = False  # keep raw chunks and clock offsets for a session recording
        # an RR stream may say whether the strap touches the skin (a channel labelled
        # "contact": 1 yes, 0 no, -1 not reported); intervals without contact are not trusted
        self.contact_channel = contact_channel(self.info) if modality == "rr" else None
        self.contact = True

    def header_xml(self, subject: str = DEFAULT_SUBJECT) -> str:
        """The stream's header as liblsl gives it, with what a recording of it needs: values
        are stored as the engine receives them (float32), and ``desc/wot`` names the
        modality, the channel used and the scale to µS (EDA)."""
        root = ElementTree.fromstring(self.info.as_xml())
        fmt = root.find("channel_format")
        original = fmt.text if fmt is not None else ""
        if fmt is not None:
            fmt.text = "float32"
        desc = root.find("desc")
        if desc is None:
            desc = ElementTree.SubElement(root, "desc")
        wot = ElementTree.SubElement(desc, "wot")
        items = [
            ("modality", self.modality),
            ("subject", subject),
            ("channel", str(self.channel)),
            ("scale", repr(self.scale)),
            ("unit_source", self.unit_source),
            ("original_format", original or ""),
        ]
        if self.contact_channel is not None:
            items.append(("contact_channel", str(self.contact_channel)))
        for k, v in items:
            ElementTree.SubElement(wot, k).text = v
        return ElementTree.tostring(root, encoding="unicode")

    def _pylsl_pull(self) -> int:
        """pylsl's own pull into the buffers (where :func:`_direct_pull` cannot be set up)."""
        _, stamps = self.inlet.pull_chunk(
            timeout=0.0, max_samples=self._buf.shape[0], dest_obj=self._native
        )
        k = len(stamps) if stamps is not None else 0
        self._ts[:k] = stamps
        return k

    def _update_clock_offset(self) -> None:
        now = pylsl.local_clock()
        if now - self.clock_measured < CLOCK_OFFSET_S:
            return
        try:
            off = float(self.inlet.time_correction(timeout=0.0))
        except Exception:  # not measured yet: keep the last value
            return
        self.clock_measured = now
        self.clock_offset = off
        # the collection time on the sender's clock, as LabRecorder writes it (its own clock
        # less the offset): pyxdf matches time stamps to clock offsets by it
        self.new_offsets.append((now - off, off))

    def pull(self) -> PullResult:
        """Pull whatever has arrived, without blocking."""
        if self.problem:  # closed: it cannot feed its modality
            return PullResult(np.empty(0), np.empty(0))
        try:
            k = self._pull() if self._pull is not None else self._pylsl_pull()
        except (LostError, LslTimeoutError) as exc:
            # the outlet vanished while liblsl was (re)connecting: nothing this time; the
            # engine sees the silence (lagging, then lost) and liblsl recovers the stream
            # when its source comes back
            log.info("%s: %s (waiting for it to come back)", self.name, exc)
            return PullResult(np.empty(0), np.empty(0))
        if k == 0:
            return PullResult(np.empty(0), np.empty(0))
        if self._native is not self._buf:
            self._buf[:k] = self._native[:k]
        ts = self._ts[:k].copy()
        raw = None
        if self.record:
            self._update_clock_offset()
            raw = self._buf[:k].copy()
        if self.width == 1:
            data = self._buf[:k, self.channel].astype(np.float64)
        else:
            data = self._buf[:k, self.channel : self.channel + self.width].astype(np.float64)
        if self.scale != 1.0:
            data *= self.scale
        raw_ts = None
        if self.contact_channel is not None:
            # intervals sent without skin contact are not data: left out, so a strap without
            # contact is a silent stream (lagging, then lost) while the others go on; the
            # recording keeps them (with their status), and its analysis leaves them out too
            contact = self._buf[:k, self.contact_channel]
            self._note_contact(float(contact[-1]))
            keep = contact != 0
            if not keep.all():
                raw_ts, data, ts = ts, data[keep], ts[keep]
                k = int(keep.sum())
                if k == 0:
                    return PullResult(data, ts, raw, self.clock_offset, raw_ts)
        if self._eda_check is not None:
            self._check_eda_level(data)
        if not self.irregular and self._rate_every:
            try:
                self._check_rate(ts)
            except Exception:  # a diagnostic must never stop the session: it stops itself
                log.exception("%s: the rate check failed and is off for this stream", self.name)
                self._rate_every = 0
        if self.n_samples == 0:
            self.first_timestamp = float(ts[0])
        self.n_samples += k
        self.last_wall = time.monotonic()
        if math.isnan(self.first_wall):
            self.first_wall = self.last_wall
        return PullResult(data, ts, raw, self.clock_offset, raw_ts)

    def _say(self, msg: str) -> None:
        """Add ``msg`` to :attr:`note` (problems are joined by "; ") and to the log."""
        self.note = f"{self.note}; {msg}" if self.note else msg
        log.warning("%s: %s", self.name, msg)

    def _unsay(self, msg: str) -> None:
        """Take ``msg`` (one that :meth:`_say` added) out of :attr:`note` again."""
        self.note = "; ".join(p for p in self.note.split("; ") if p != msg)

    def _note_contact(self, last: float) -> None:
        msg = "the sensor reports no skin contact: moisten the strap's electrodes"
        if last == 0.0 and self.contact:
            self.contact = False
            self._say(msg)
        elif last != 0.0 and not self.contact:
            self.contact = True
            self._unsay(msg)

    def _check_rate(self, ts: np.ndarray) -> None:
        """Compare the rate the stream really sends with the one it declares.

        A chunk's *lag* is its last time stamp less the time its count gives it at the
        declared rate. At the right rate it stays put (jitter aside); a pause moves it once;
        at a wrong rate it grows with every chunk, by ``declared / real - 1`` per second of
        samples. The weighted median of that growth over the last :data:`RATE_CHECK_S` s of
        samples is the rate error (a pause or a late packet is one chunk, outvoted); beyond
        :data:`RATE_TOLERANCE` it is reported in :attr:`note`, and the note goes when the
        rate is right again."""
        k, n0 = len(ts), self.n_samples
        if n0 == 0:
            self._lag_ref = float(ts[0])
        lag = float(ts[-1]) - (self._lag_ref + (n0 + k - 1) / self.fs)
        if n0 > 0:
            self._rate_steps.append((k, (lag - self._prev_lag) * self.fs / k))
            self._rate_n += k
            while self._rate_n - self._rate_steps[0][0] >= RATE_CHECK_S * self.fs:
                self._rate_n -= self._rate_steps.popleft()[0]
        self._prev_lag = lag
        if (
            n0 + k < RATE_CHECK_S * self.fs
            # a backlog's first chunk can hold 30 s of a slow stream: a median of a few growths
            # says nothing
            or len(self._rate_steps) < 8
            or (n0 + k) // self._rate_every == n0 // self._rate_every
        ):
            return  # too little data yet, or checked within the last few seconds
        w = np.array([c for c, _ in self._rate_steps], dtype=np.float64)
        v = np.array([g for _, g in self._rate_steps])
        order = np.argsort(v)
        cum = np.cumsum(w[order])
        err = float(v[order][np.searchsorted(cum, 0.5 * cum[-1])])
        msg = ""
        if abs(err) > RATE_TOLERANCE and 1.0 + err > 0.0:
            real = self.fs / (1.0 + err)
            said = f"{real:.0f}" if real >= 100.0 else f"{real:.3g}"
            # short: it is shown in the console's status row (the log says what to do)
            msg = f"declares {self.fs:g} Hz, sends {said}/s: rates {100.0 * abs(err):.0f} % off"
        if msg != self._rate_note:  # said once, not every few seconds
            if self._rate_note:
                self._unsay(self._rate_note)
            if msg:
                self._say(msg)
                log.warning("%s: every rate and time derived from it is off by as much; "
                            "correct the device's rate or its LSL header", self.name)  # fmt: skip
            self._rate_note = msg

    def _check_eda_level(self, data: np.ndarray) -> None:
        """Once ``EDA_CHECK_S`` of EDA with skin contact has arrived, report an implausible
        median level. Zero, negative and missing samples (a band streaming before it touches
        the skin) are lost contact, not a unit problem, and do not count."""
        assert self._eda_check is not None
        x = data[np.isfinite(data) & (data > 0.0)]
        if x.size:
            self._eda_check.append(x.copy())
        if sum(v.size for v in self._eda_check) < EDA_CHECK_S * self.fs:
            return
        x = np.concatenate(self._eda_check)
        self._eda_check = None
        med = float(np.median(x))
        if not 0.05 <= med <= 100.0:
            msg = (
                f"EDA median {med:.4g} µS over its first {EDA_CHECK_S:g} s of contact is outside "
                "the plausible 0.05-100 µS; check the unit "
                "(wot run --eda-unit uS|nS|mS|S|raw:SCALE)"
            )
            self._say(msg)

    def close(self) -> None:
        self.inlet.close_stream()


def open_sources(
    types: dict[str, str],
    source_id: str | None = None,
    timeout: float = 5.0,
    eda_unit: str | None = None,
    channels: dict[str, str | None] | None = None,
    on_missing: Callable[[str], None] | None = None,
    subject: str | None = None,
    on_warning: Callable[[str], None] | None = None,
    allow_mixed: bool = False,
    settle: float = SETTLE_S,
) -> dict[str, LslSource]:
    """An inlet per modality of ``types`` (``{"ecg": "ECG", "eda": "EDA", ...}``), found by
    stream type, and by source_id ``SOURCE_ID-<modality>`` when ``source_id`` is given. A
    ``subject``'s streams are those whose ``desc/subject`` names it (any source_id), or, with a
    ``source_id``, those with source_id ``SOURCE_ID-<modality>`` (one source_id per person).

    Every type is looked for at once: a missing one (no belt, no EDA band) costs one
    ``timeout``, not one each; once all are found, :data:`SETTLE_S` is waited for other
    streams that fit as well. Where several do, :func:`choose_streams` takes one set from one
    source and warns (``on_warning``); streams from different sources (another client's
    sensors, another machine) are refused unless ``allow_mixed``. A missing stream is left out
    and reported to ``on_missing`` (default: a log warning); a chest accelerometer (``acc``) is
    used only without a RESP stream, and stands in for it. ``channels`` picks a channel per
    modality (0-based index or label, default 0; a channel asked for that the stream does not
    have is an error); ``eda_unit`` as :class:`LslSource`. A stream that cannot feed its
    modality (an irregular rate, too few channels) is opened with ``strict=False``: the engine
    reports it (:attr:`LslSource.problem`) and runs on the others. ``settle``: how long to
    listen for other streams that fit (0 where none can, e.g. a source_id made for this run).

    Raises
    ------
    StreamNotFoundError
        None of the streams was found (the message lists what was looked for and seen).
    InputError
        The streams found come from different sources and ``allow_mixed`` is false.
    """
    wants = {
        m: Want(stype, None, f"{source_id}-{m}" if source_id else None)
        for m, stype in types.items()
    }
    by_desc = subject if not source_id else None
    found, seen = find_streams(wants, timeout, min(settle, timeout), by_desc)
    if found.get("resp"):
        found.pop("acc", None)  # breathing comes from the belt; an accelerometer is not needed
    chosen = choose_streams({m: v for m, v in found.items() if v}, allow_mixed, on_warning)
    missing: dict[str, str] = {}
    opening: list[str] = []
    for m in types:  # in the order asked
        if m == "acc" and "resp" in chosen:
            continue
        if chosen.get(m) is None:
            missing[m] = _not_found(wants[m], by_desc, timeout, seen)
            continue
        opening.append(m)
        if m == "acc":
            missing.pop("resp", None)  # the accelerometer stands in for the belt

    def connect(m: str) -> LslSource:
        chan = (channels or {}).get(m)
        return LslSource(
            m, chosen[m], eda_unit=eda_unit, channel=0 if chan is None else chan,
            strict=chan is not None,
        )  # fmt: skip

    # connected side by side: each waits on its outlet (its header, the connection, the
    # clock offset: about 0.7 s), so three streams take the time of one
    with ThreadPoolExecutor(max_workers=max(1, len(opening))) as pool:
        jobs = [pool.submit(connect, m) for m in opening]
    failed = [e for e in (j.exception() for j in jobs) if e is not None]
    if failed:  # the others are closed, so they hold no outlet as its consumer
        for j in jobs:
            if j.exception() is None:
                j.result().close()
        raise failed[0]
    sources = {m: j.result() for m, j in zip(opening, jobs, strict=True)}
    if not sources:
        raise StreamNotFoundError("; ".join(missing.values()))
    for msg in missing.values():
        if on_missing is None:
            log.warning("%s (continuing without it)", msg)
        else:
            on_missing(msg)
    return sources


def stream_state(
    src: LslSource, stall_s: float, now: float, others_since: float = math.nan
) -> tuple[str, float]:
    """``(state, seconds since its last sample)`` of a stream: ``waiting`` (nothing yet),
    ``ok``, ``lagging`` (silent ``stall_s``), ``lost`` (silent 3× that). An RR stream delivers
    one value per beat: it is allowed three times as long (slow heart rates).

    A stream that has sent nothing (a band paired but not streaming) is ``waiting`` until its
    person's other streams have been delivering for as long (``others_since``: the wall time
    of their first sample, :func:`first_deliveries`), then ``lost`` like one that stopped (the
    seconds counted from then): the frames must not wait for it for ever."""
    if src.n_samples == 0 and math.isnan(others_since):  # nobody of them delivers yet
        return "waiting", math.inf
    stall = stall_s * (3.0 if src.irregular else 1.0)
    if src.n_samples == 0:
        waited = now - others_since
        return ("lost", waited) if waited >= 3 * stall else ("waiting", math.inf)
    since = now - src.last_wall
    return ("ok" if since < stall else "lagging" if since < 3 * stall else "lost"), since


def first_deliveries(streams: Mapping[tuple[str, str], LslSource]) -> dict[str, float]:
    """Per subject, the wall time (``time.monotonic``) of the first sample any of their
    streams delivered (NaN while none has)."""
    out: dict[str, float] = {}
    for (sid, _m), src in streams.items():
        # a source that does not keep the time (a test's stand-in) counts as not yet
        t, cur = getattr(src, "first_wall", math.nan), out.get(sid, math.nan)
        if math.isnan(cur) or t < cur:  # a NaN t never replaces a time
            out[sid] = t
    return out


class LslStreams:
    """LSL inlets as a :class:`~wot_biofeedback.sources.base.Source` for the run loop:
    ``{(subject, modality): LslSource}``. Each read pulls every inlet without blocking and
    reports the streams silent long enough to be lost."""

    live = True

    def __init__(self, streams: dict[tuple[str, str], LslSource], stall_s: float = 1.0) -> None:
        self.streams = streams
        self.stall_s = stall_s
        self.read_at = math.nan
        """The wall time (``time.monotonic``) the last read judged the streams at: whoever
        says a stream is lost must judge it at this time too, or a silence crossing the limit
        in between is lost to one and not to the other."""

    def read(self) -> Batch:
        batch = Batch()
        for (sid, m), src in self.streams.items():
            got = src.pull()
            if got.data.size or (got.raw is not None and len(got.raw)):
                batch.chunks.append(Chunk(sid, m, got.data, got.timestamps, raw=got))
        now = self.read_at = time.monotonic()
        first = first_deliveries(self.streams)
        batch.lost = [
            (sid, m)
            for (sid, m), src in self.streams.items()
            if stream_state(src, self.stall_s, now, first[sid])[0] == "lost"
        ]
        return batch

    def decisions(self) -> dict[str, dict[str, Any]]:
        return {}

    def close(self) -> None:
        for src in self.streams.values():
            src.close()
