"""Crash-safe session recording to one XDF file.

No maintained Python library writes XDF (pyxdf reads only; LabRecorder and liesl need the C++
LabRecorder), so :class:`XdfWriter` implements the format from its specification
(:mod:`wot_biofeedback.sources.xdf`); the tests read every file it writes back with pyxdf.

Crash safety
------------
The file is append-only. Chunks are built whole in memory and a background thread writes what
has gathered every ``flush_s`` (0.5 s by default) with one ``write`` and an ``fsync``, so an
abrupt end (``kill -9``, power loss) loses at most the last half second and never leaves half a
chunk behind a successful write. A boundary chunk before every write lets readers resynchronise
after a damaged stretch, losing at most one flush. When a write fails (disk full, device gone),
the file is cut back to its last complete chunk, recording stops with a message that says so,
and the engine runs on: what was recorded stays readable.

What a session file holds
-------------------------
* every raw input stream with its LSL stream header and channel metadata, values as the engine
  received them (float32), time stamps on the sender's clock and ``ClockOffset`` chunks with
  liblsl's clock correction (as LabRecorder writes them: XDF readers add the offsets back);
* the engine's ``wot-features`` (numeric, one channel per feature), ``wot-state`` (JSON per zone
  change), ``wot-cues``, ``wot-markers`` (therapist notes) and ``wot-events`` (each R-peak, SCR
  and breath as it was detected);
* ``wot-session``: JSON records of the session (software, parameters, client, calibration) and of
  every decision the engine took about sample placement (where each stream starts on the
  session clock, samples dropped before it, gaps filled), so that ``wot analyze`` feeds the
  pipeline exactly what the live engine fed it;
* stream footers (first/last time stamp, sample count, clock offsets) when the session ends.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from . import __version__
from .errors import InputError
from .modalities import lsl_types
from .session_log import (
    End,
    EngineStart,
    Marker,
    Origin,
    SessionEvent,
    SessionInfo,
    StreamStart,
    encode,
)
from .sources import xdf

FLUSH_S = 0.5
CLOCK_OFFSET_S = 5.0
SESSION_STREAM = xdf.SESSION_STREAM


def default_record_dir() -> Path:
    """``$WOT_RECORD_DIR`` if set, else ``sessions`` in the user data directory."""
    env = os.environ.get("WOT_RECORD_DIR")
    if env:
        return Path(env)
    from .profiles import profile_dir

    return profile_dir().parent / "sessions"


def default_record_path(prefix: str = "session") -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return default_record_dir() / f"{prefix}-{stamp}-{uuid.uuid4().hex[:4]}.xdf"


@dataclass
class _Stats:
    name: str
    first: float = float("nan")
    last: float = float("nan")
    count: int = 0
    offsets: list[tuple[float, float]] = field(default_factory=list)


def stream_header(
    name: str,
    stype: str,
    channel_count: int,
    nominal_srate: float,
    channel_format: str,
    source_id: str,
    channels: list[tuple[str, str]] | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    """Stream header XML in the layout liblsl writes (``info`` with ``desc/channels``)."""
    info = ElementTree.Element("info")
    for tag, val in (
        ("name", name),
        ("type", stype),
        ("channel_count", str(channel_count)),
        ("nominal_srate", repr(float(nominal_srate))),
        ("channel_format", channel_format),
        ("source_id", source_id),
        ("version", "1.1"),
        ("created_at", repr(time.monotonic())),
        ("uid", str(uuid.uuid4())),
        ("hostname", socket.gethostname()),
    ):
        ElementTree.SubElement(info, tag).text = val
    desc = ElementTree.SubElement(info, "desc")
    if channels:
        chans = ElementTree.SubElement(desc, "channels")
        for label, unit in channels:
            c = ElementTree.SubElement(chans, "channel")
            ElementTree.SubElement(c, "label").text = label
            ElementTree.SubElement(c, "unit").text = unit
    for k, v in (extra or {}).items():
        ElementTree.SubElement(desc, k).text = v
    return ElementTree.tostring(info, encoding="unicode")


class XdfWriter:
    """Append-only XDF writer; chunks are buffered whole and written by :meth:`flush`.

    Parameters
    ----------
    path : path
        A new file (an existing one is never overwritten).
    header : dict
        Extra file-header elements (text), e.g. ``{"wot_session": json}``.
    fsync : bool
        Force each flush to the disk (survives power loss, not only a killed process).

    Attributes
    ----------
    size : int
        Bytes on disk (complete chunks only).
    error : str or None
        Why writing stopped, if it did.
    """

    def __init__(
        self, path: str | os.PathLike[str], header: dict[str, str] | None = None, fsync: bool = True
    ) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise InputError(
                f"{self.path} already exists; a recording never overwrites another file"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644
            )
        except OSError as exc:
            raise InputError(f"cannot create the recording {self.path}: {exc.strerror}") from None
        self.fsync = fsync
        self.size = 0
        self.error: str | None = None
        self._lock = threading.Lock()  # the in-memory buffer
        self._io = threading.Lock()  # the file: one writer at a time, in order
        self._buf = bytearray()
        self._next_id = 1
        self._stats: dict[int, _Stats] = {}
        info = ElementTree.Element("info")
        ElementTree.SubElement(info, "version").text = "1.0"
        ElementTree.SubElement(info, "datetime").text = _dt.datetime.now().astimezone().isoformat()
        for k, v in (header or {}).items():
            ElementTree.SubElement(info, k).text = v
        self._buf += xdf.MAGIC + xdf.chunk(
            xdf.TAG_FILE_HEADER, ElementTree.tostring(info, encoding="utf-8")
        )
        self.flush()
        if self.error:  # a disk already full: say so before the session starts
            with contextlib.suppress(OSError):
                self.path.unlink()  # nothing of value in it, and a retry must not be refused
            raise InputError(f"cannot write the recording {self.path}: {self.error}")
        if fsync:  # the new file's directory entry survives a power cut too
            with contextlib.suppress(OSError):
                dfd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)

    # chunks -------------------------------------------------------------------------------
    def add_stream(self, header_xml: str, name: str) -> int:
        with self._lock:
            sid = self._next_id
            self._next_id += 1
            self._stats[sid] = _Stats(name)
            self._buf += xdf.chunk(
                xdf.TAG_STREAM_HEADER, sid.to_bytes(4, "little") + header_xml.encode("utf-8")
            )
        return sid

    def _note(self, sid: int, ts: np.ndarray) -> None:
        st = self._stats[sid]
        if st.count == 0:
            st.first = float(ts[0])
        st.last = float(ts[-1])
        st.count += len(ts)

    def samples(self, sid: int, timestamps: np.ndarray, values: np.ndarray, fmt: str) -> None:
        if len(timestamps) == 0 or self.error:
            return
        block = xdf.numeric_samples(sid, timestamps, values, fmt)
        with self._lock:
            self._note(sid, timestamps)
            self._buf += block

    def strings(self, sid: int, timestamps: np.ndarray, values: list[str]) -> None:
        if len(values) == 0 or self.error:
            return
        block = xdf.string_samples(sid, timestamps, values)
        with self._lock:
            self._note(sid, np.asarray(timestamps))
            self._buf += block

    def clock_offset(self, sid: int, collection_time: float, offset: float) -> None:
        with self._lock:
            self._stats[sid].offsets.append((collection_time, offset))
            self._buf += xdf.clock_offset(sid, collection_time, offset)

    def boundary(self) -> None:
        with self._lock:
            self._buf += xdf.boundary()

    def footers(self) -> None:
        with self._lock:
            for sid, st in self._stats.items():
                info = ElementTree.Element("info")
                for tag, v in (
                    ("first_timestamp", st.first if st.count else 0.0),
                    ("last_timestamp", st.last if st.count else 0.0),
                    ("sample_count", st.count),
                ):
                    ElementTree.SubElement(info, tag).text = repr(v)
                offs = ElementTree.SubElement(info, "clock_offsets")
                for t, v in st.offsets:
                    o = ElementTree.SubElement(offs, "offset")
                    ElementTree.SubElement(o, "time").text = repr(t)
                    ElementTree.SubElement(o, "value").text = repr(v)
                self._buf += xdf.chunk(
                    xdf.TAG_STREAM_FOOTER,
                    sid.to_bytes(4, "little") + ElementTree.tostring(info, encoding="utf-8"),
                )

    # disk ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what has gathered. On failure the file is cut back to its last complete
        chunk, :attr:`error` says why, and later data is dropped (the engine keeps running)."""
        with self._io:
            with self._lock:
                data, self._buf = bytes(self._buf), bytearray()
            if not data or self._fd is None or self.error:
                return
            view = memoryview(data)
            try:
                while view:
                    k = os.write(self._fd, view)
                    view = view[k:]
                if self.fsync:
                    os.fsync(self._fd)
                self.size += len(data)
            except OSError as exc:
                self.error = f"{exc.strerror or exc} (errno {exc.errno})"
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self.size)  # no half chunk at the end
                self._close_fd()

    def close(self) -> None:
        """Write the stream footers and close the file (after any flush in progress)."""
        if self._fd is None:
            return
        if not self.error:
            self.footers()
            self.flush()
        with self._io:
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class SessionRecorder:
    """Records one engine session into an XDF file from a background flushing thread.

    The engine calls :meth:`raw`, :meth:`frames`, :meth:`strings`, :meth:`event` from its
    worker; they encode chunks into memory and return. Every problem is caught and reported
    through :attr:`error` and :meth:`status`: recording never stops the engine.

    Parameters
    ----------
    path : path
        The new XDF file.
    metadata : dict
        Session metadata (client, profile, parameters...), stored as JSON in the file header
        and as the first ``wot-session`` record.
    flush_s : float
        Longest time data waits in memory, s.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        metadata: dict[str, Any] | None = None,
        flush_s: float = FLUSH_S,
        fsync: bool = True,
    ) -> None:
        self.metadata = {
            "software": f"wot-biofeedback {__version__}",
            "python": platform.python_version(),
            "host": socket.gethostname(),
            "started": _dt.datetime.now().astimezone().isoformat(),
            **(metadata or {}),
        }
        meta = json.dumps(self.metadata, default=str)
        self.writer = XdfWriter(path, {"wot_session": meta}, fsync=fsync)
        self.path = self.writer.path
        self.flush_s = flush_s
        self._ids: dict[str, int] = {}
        self._fmt: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.internal_error: str | None = None
        self._local: list[str] = []
        self._last_offsets = -math.inf
        self.add_strings(SESSION_STREAM, "wot-session")
        self.event(SessionInfo(self.metadata))

    # streams ------------------------------------------------------------------------------
    def add_stream(
        self, key: str, header_xml: str, fmt: str = "float32", local: bool = False
    ) -> None:
        """Declare a stream. ``local``: its time stamps are this machine's LSL clock (the
        engine's own streams); the recorder writes their (zero) clock offsets itself."""
        self._ids[key] = self.writer.add_stream(header_xml, key)
        self._fmt[key] = fmt
        if local:
            self._local.append(key)

    def add_strings(self, key: str, stype: str = "Markers", name: str | None = None) -> None:
        hdr = stream_header(name or key, stype, 1, 0.0, "string", f"{key}-{uuid.uuid4().hex[:8]}")
        self.add_stream(key, hdr, "string", local=True)

    # data (from the engine's worker) ------------------------------------------------------
    def samples(self, key: str, timestamps: np.ndarray, values: np.ndarray) -> None:
        try:
            self.writer.samples(self._ids[key], timestamps, values, self._fmt[key])
        except Exception as exc:  # a bug must not take the session down: report it
            self.report(exc)

    def strings(self, key: str, timestamps: np.ndarray | list[float], values: list[str]) -> None:
        try:
            self.writer.strings(self._ids[key], np.asarray(timestamps, dtype=np.float64), values)
        except Exception as exc:
            self.report(exc)

    def clock_offset(self, key: str, collection_time: float, offset: float) -> None:
        try:
            self.writer.clock_offset(self._ids[key], collection_time, offset)
        except Exception as exc:
            self.report(exc)

    def event(self, event: SessionEvent, timestamp: float | None = None) -> None:
        """One record of the session log (a placement decision, a calibration, the end), written
        by :func:`wot_biofeedback.session_log.encode`."""
        if timestamp is None:
            import pylsl

            timestamp = pylsl.local_clock()
        self.strings(SESSION_STREAM, [timestamp], [encode(event)])

    def report(self, exc: BaseException) -> None:
        """Keep the first unexpected error of a recording step (shown by :meth:`status`)."""
        if self.internal_error is None:
            self.internal_error = f"{type(exc).__name__}: {exc}"

    # thread -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wot-recorder", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        import pylsl

        deadline = time.monotonic()
        while True:
            # on deadlines, so a slow fsync does not stretch the interval
            deadline += self.flush_s
            if self._stop.wait(max(0.0, deadline - time.monotonic())):
                return
            try:
                now = time.monotonic()
                if now - self._last_offsets >= CLOCK_OFFSET_S:
                    # LabRecorder measures every stream's offset; ours are on this clock
                    t = pylsl.local_clock()
                    for key in list(self._local):
                        self.clock_offset(key, t, 0.0)
                    self._last_offsets = now
                # a boundary before every write: damage costs a reader at most one flush
                self.writer.boundary()
                self.writer.flush()
            except Exception as exc:  # never stop flushing silently: report it
                self.report(exc)
            deadline = max(deadline, time.monotonic() - self.flush_s)

    def stop(self, timeout: float = 5.0, end: End | None = None) -> None:
        """Write the end record and footers, flush, close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if end is not None:
            self.event(end)
        self.writer.close()

    def discard(self) -> None:
        """Close and delete a recording that never got its session (the engine failed to
        start): an empty stub is no use and would look like a crashed session."""
        self.stop()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> SessionRecorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def error(self) -> str | None:
        return self.writer.error or self.internal_error

    def status(self) -> dict[str, Any]:
        """Path, bytes on disk and the error that stopped recording (None while all is well)."""
        err = self.error
        msg = None
        if self.writer.error:
            msg = (
                f"recording stopped: {self.writer.error}; {self.path} keeps the "
                f"{self.writer.size / 1e6:.1f} MB recorded before it"
            )
        elif err:
            msg = f"recording problem: {err} (recording to {self.path})"
        return {"path": str(self.path), "bytes": self.writer.size, "error": msg}


RAW_TYPES = lsl_types()


def write_recording_xdf(
    rec: Any,
    path: str | os.PathLike[str],
    config: Any = None,
    chunk_s: float = FLUSH_S,
    origin: float = 0.0,
    markers: list[tuple[float, str]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a :class:`~wot_biofeedback.sources.files.Recording` as a wot session file, laid
    out as the live recorder lays it out (raw streams interleaved in ``chunk_s`` chunks, the
    session records that ``wot analyze`` uses). For benchmarks and tests, and to turn any
    recording into XDF that LSL tools can read."""
    from .config import EngineConfig

    config = config or EngineConfig()
    meta = {"command": "write_recording_xdf", "source": rec.path, **(metadata or {})}
    sr = SessionRecorder(path, meta, fsync=False)
    marks = sorted(markers if markers is not None else rec.markers)
    if marks:
        from .outlets import marker_header

        sr.add_stream(
            "wot-markers", marker_header("wot-markers", "wot-rec-markers"), "string", True
        )
    sources = {}
    for m, sig in rec.signals.items():
        labels = ["x", "y", "z"] if sig.data.ndim == 2 else [sig.name]
        hdr = ElementTree.fromstring(
            stream_header(
                sig.name, RAW_TYPES[m], len(labels), sig.fs, "float32", f"{m}-{uuid.uuid4().hex}",
                [(lab, sig.unit) for lab in labels],
            )
        )  # fmt: skip
        wot = ElementTree.SubElement(hdr.find("desc"), "wot")  # type: ignore[arg-type]
        for k, v in (("modality", m), ("channel", "0"), ("scale", "1.0")):
            ElementTree.SubElement(wot, k).text = v
        sr.add_stream(m, ElementTree.tostring(hdr, encoding="unicode"))
        sources[m] = {"name": sig.name, "fs": sig.fs, "channel": 0, "scale": 1.0, "unit": sig.unit}
    sr.event(EngineStart(parameters=config.to_dict(), sources=sources), origin)
    sr.event(Origin(origin), origin)
    for m, sig in rec.signals.items():
        sr.event(StreamStart(m, sig.t0, 0), origin)
    end = max(sig.t0 + len(sig.data) / sig.fs for sig in rec.signals.values())
    pos = dict.fromkeys(rec.signals, 0)
    t = 0.0
    while t < end:
        t += chunk_s
        for m, sig in rec.signals.items():
            stop = min(len(sig.data), max(0, round((t - sig.t0) * sig.fs)))
            if stop > pos[m]:
                idx = np.arange(pos[m], stop)
                sr.samples(m, origin + sig.t0 + idx / sig.fs, sig.data[pos[m] : stop])
                pos[m] = stop
        while marks and (marks[0][0] < t or t >= end):
            tm, text = marks.pop(0)
            sr.strings("wot-markers", [origin + tm], [text])
            sr.event(Marker(tm, text), origin + tm)
        if len(sr.writer._buf) > 1 << 22:
            sr.writer.flush()
    sr.stop(end=End(session_s=end))
    if sr.error:
        raise OSError(sr.error)
    return sr.path
