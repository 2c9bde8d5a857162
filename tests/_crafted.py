"""Crafted recordings: a real small wot session file and mutated copies of it, each with valid
chunks but hostile values (stream headers, time stamps, session records, chunk fields, a gzip
bomb), for the reader and the offline loop to survive (tests/test_crafted.py).

:func:`base_recording` records a short session the way the live engine does: a
:class:`~wot_biofeedback.recorder.SessionRecorder` gets the raw samples (with a 10-s pause in the
ECG), clock offsets and a boundary chunk every half second, the engine's feature stream and a
marker, and the session records the :class:`~wot_biofeedback.clock.SessionClock` emits while it
places the samples (origin, stream starts, the ECG's gap), plus a lost/resume pair of the EDA.
:func:`write_case` parses that file into its chunks, lets one case of :data:`CASES` edit them
(with the writer's own encoders, :mod:`wot_biofeedback.sources.xdf`) and writes the copy.

Run as a script (``python tests/_crafted.py DIR``) it writes every case into ``DIR``.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from _synth import breathing, ecg_like, scr_like
from wot_biofeedback.clock import SessionClock
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.recorder import SessionRecorder, stream_header
from wot_biofeedback.session_log import (
    End,
    EngineStart,
    Lost,
    Marker,
    Origin,
    Resume,
    SessionEvent,
    StreamStart,
)
from wot_biofeedback.sources import xdf

DURATION_S = 60.0
ORIGIN = 5000.0  # LSL time of session time 0
RATES = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}
PAUSE_S = (30.0, 40.0)  # the ECG sends nothing here: the session clock records a gap
FLUSH_S = 0.5
FEATURES = ("hr_bpm", "rmssd_ms", "scl_us", "resp_rate_bpm", "arousal")
BOMB_BYTES = 10 << 30  # the gzip bomb's zeros (10 GiB), never written out uncompressed


# the base recording ----------------------------------------------------------------------------
def _signals(duration_s: float) -> dict[str, np.ndarray]:
    ecg, _ = ecg_like(RATES["ecg"], duration_s, 66.0, seed=11)
    return {
        "ecg": ecg,
        "eda": scr_like(RATES["eda"], duration_s, np.arange(4.0, duration_s, 13.0), 0.4),
        "resp": breathing(RATES["resp"], duration_s, 12.0, seed=11),
    }


def base_recording(path: str | Path, duration_s: float = DURATION_S) -> Path:
    """A wot session file of ``duration_s`` seconds (at least 60), recorded as the live engine
    records (see the module docstring); returns its path."""
    path = Path(path)
    cfg = EngineConfig()
    cfg.calibration.duration_s = 30.0
    sr = SessionRecorder(path, {"client": "crafted", "scenario": "base"}, fsync=False)
    at = ORIGIN

    def event(e: SessionEvent) -> None:
        sr.event(e, at)

    sources = {}
    for m, fs in RATES.items():
        hdr = ElementTree.fromstring(
            stream_header(m.upper(), m.upper(), 1, fs, "float32", f"crafted-{m}",
                          [(m.upper(), "uS" if m == "eda" else "mV")])
        )  # fmt: skip
        wot = ElementTree.SubElement(hdr.find("desc"), "wot")  # type: ignore[arg-type]
        for k, v in (("modality", m), ("channel", "0"), ("scale", "1.0")):
            ElementTree.SubElement(wot, k).text = v
        sr.add_stream(m, ElementTree.tostring(hdr, encoding="unicode"))
        sources[m] = {"name": m.upper(), "fs": fs, "channel": 0, "scale": 1.0}
    sr.add_stream(
        "wot-features",
        stream_header("wot-features", "Features", len(FEATURES), 4.0, "float32", "crafted-f",
                      [(f, "") for f in FEATURES]),
        local=True,
    )  # fmt: skip
    sr.add_strings("wot-markers")
    event(EngineStart(parameters=cfg.to_dict(), sources=sources))
    clock = SessionClock(RATES, (), event)
    clock.set_origin(ORIGIN)
    x = _signals(duration_s)
    pos = dict.fromkeys(RATES, 0)
    t, nf = 0.0, 0
    while t < duration_s:
        t += FLUSH_S
        at = ORIGIN + t
        sr.writer.boundary()
        if round(t / FLUSH_S) % 10 == 1:
            for key in (*RATES, "wot-features", "wot-markers", "wot-session"):
                sr.clock_offset(key, at, 0.0)
        for m, fs in RATES.items():
            stop = min(len(x[m]), round(t * fs))
            idx = np.arange(pos[m], stop)
            if m == "ecg":  # the strap is off during the pause: those samples never come
                idx = idx[(idx < PAUSE_S[0] * fs) | (idx >= PAUSE_S[1] * fs)]
            pos[m] = stop
            if idx.size:
                ts = ORIGIN + idx / fs
                sr.samples(m, ts, x[m][idx])
                clock.place(m, ts, x[m][idx])
        frames = np.arange(nf, round(t * 4.0))
        if frames.size:
            vals = np.column_stack([np.full(frames.size, 60.0 + k) for k in range(len(FEATURES))])
            sr.samples("wot-features", ORIGIN + frames / 4.0, vals)
            nf = int(frames[-1]) + 1
        if t == 20.0:
            sr.strings("wot-markers", [at], ["breathing exercise"])
            event(Marker(20.0, "breathing exercise"))
        if t == 45.0:  # the live engine gave the EDA up for a while (a replayed decision)
            event(Lost("eda", 180, delivered=176))
        if t == 50.0:
            event(Resume("eda", 200))
    event(End(frames=nf, session_s=duration_s, gaps_filled_s=dict(clock.gaps_filled)))
    sr.stop()
    if sr.error:
        raise OSError(sr.error)
    return path


# the chunks of a file --------------------------------------------------------------------------
class Chunks:
    """An XDF file as its list of chunks ``[tag, content]``, to be edited and written back."""

    def __init__(self, raw: bytes) -> None:
        assert raw[:4] == xdf.MAGIC
        self.items: list[list[Any]] = []
        buf, pos = memoryview(raw), 4
        while pos < len(raw):
            length, pos = xdf.read_varlen(buf, pos)
            (tag,) = struct.unpack_from("<H", buf, pos)
            self.items.append([tag, bytes(buf[pos + 2 : pos + length])])
            pos += length
        self.tail = b""  # raw bytes appended after the last chunk

    def to_bytes(self) -> bytes:
        return xdf.MAGIC + b"".join(xdf.chunk(t, c) for t, c in self.items) + self.tail

    # streams
    def sid(self, name: str) -> int:
        for tag, c in self.items:
            if (
                tag == xdf.TAG_STREAM_HEADER
                and ElementTree.fromstring(c[4:]).findtext("name") == name
            ):
                return int(struct.unpack_from("<I", c)[0])
        raise KeyError(name)

    def header_index(self, sid: int) -> int:
        return next(
            i for i, (t, c) in enumerate(self.items)
            if t == xdf.TAG_STREAM_HEADER and struct.unpack_from("<I", c)[0] == sid
        )  # fmt: skip

    def header(self, sid: int) -> ElementTree.Element:
        return ElementTree.fromstring(self.items[self.header_index(sid)][1][4:])

    def set_header(self, sid: int, el: ElementTree.Element | bytes) -> None:
        body = el if isinstance(el, bytes) else ElementTree.tostring(el, encoding="utf-8")
        self.items[self.header_index(sid)][1] = struct.pack("<I", sid) + body

    def edit_header(self, name: str, path: str, text: str) -> None:
        sid = self.sid(name)
        el = self.header(sid)
        node = el.find(path)
        assert node is not None, path
        node.text = text
        self.set_header(sid, el)

    def samples(self, sid: int) -> list[int]:
        """Indices of the stream's samples chunks."""
        return [
            i for i, (t, c) in enumerate(self.items)
            if t == xdf.TAG_SAMPLES and struct.unpack_from("<I", c)[0] == sid
        ]  # fmt: skip

    def numeric(self, i: int, nch: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Time stamps and values of the recorder's numeric samples chunk ``i`` (float32)."""
        c = self.items[i][1]
        n, pos = xdf.read_varlen(memoryview(c), 4)
        dt = np.dtype([("flag", "u1"), ("t", "<f8"), ("v", "<f4", (nch,))])
        rec = np.frombuffer(c, dtype=dt, count=n, offset=pos)
        return rec["t"].copy(), rec["v"].copy()

    def set_numeric(
        self, i: int, ts: np.ndarray, values: np.ndarray, sid: int | None = None
    ) -> None:
        own = struct.unpack_from("<I", self.items[i][1])[0] if sid is None else sid
        body = xdf.numeric_samples(own, ts, values, "float32")
        _, pos = xdf.read_varlen(memoryview(body), 0)
        self.items[i][1] = body[pos + 2 :]

    # session records
    def records(self) -> list[tuple[int, float, str]]:
        """``(chunk index, time stamp, text)`` of every ``wot-session`` record."""
        sid = self.sid(xdf.SESSION_STREAM)
        out = []
        for i in self.samples(sid):
            c = memoryview(self.items[i][1])
            n, pos = xdf.read_varlen(c, 4)
            for _ in range(n):
                assert c[pos] == 8
                (t,) = struct.unpack_from("<d", c, pos + 1)
                ln, pos = xdf.read_varlen(c, pos + 9)
                out.append((i, t, bytes(c[pos : pos + ln]).decode()))
                pos += ln
        return out

    def _set_record(self, i: int, t: float, text: str) -> None:
        sid = struct.unpack_from("<I", self.items[i][1])[0]
        body = xdf.string_samples(sid, np.array([t]), [text])
        _, pos = xdf.read_varlen(memoryview(body), 0)
        self.items[i][1] = body[pos + 2 :]

    def edit_record(
        self, event: str, change: Callable[[dict[str, Any]], Any], modality: str | None = None
    ) -> None:
        """Edit the first record of kind ``event`` (of ``modality``): ``change(record)`` edits the
        dict in place, or returns the record's new text."""
        for i, t, text in self.records():
            rec = json.loads(text)
            if rec.get("event") == event and modality in (None, rec.get("modality")):
                new = change(rec)
                self._set_record(i, t, new if isinstance(new, str) else json.dumps(rec))
                return
        raise KeyError(event)

    def add_record(self, text: str, after: str = "origin") -> None:
        """A new record right after the first record of kind ``after``."""
        for i, t, old in self.records():
            if json.loads(old).get("event") == after:
                sid = struct.unpack_from("<I", self.items[i][1])[0]
                body = xdf.string_samples(sid, np.array([t]), [text])
                _, pos = xdf.read_varlen(memoryview(body), 0)
                self.items.insert(i + 1, [xdf.TAG_SAMPLES, body[pos + 2 :]])
                return
        raise KeyError(after)


def raw_chunk(length: int, tag: int, content: bytes) -> bytes:
    """A chunk with a length field of ``length`` (8 bytes wide), whatever the content is."""
    return b"\x08" + struct.pack("<Q", length) + struct.pack("<H", tag) + content


# the cases -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One crafted file.

    ``expect``: "ok" (``wot analyze`` exits 0, and a note of the summary matches ``says``) or
    "error" (exit 2, one ``wot: error:`` line that matches ``says``). ``beats``: what the
    R-peaks found must be against the original's: "same" (nothing moved: a repaired header, a
    record left out), "near" (each within a sample of an original one: samples skipped, none
    moved), "prefix" (the first ones: the file cut short), "none" (no ECG: refused), or None
    (not checked).
    """

    name: str
    what: str
    edit: Callable[[Chunks], None] | None
    expect: str = "ok"
    says: str | None = None
    beats: str | None = "same"
    suffix: str = ".xdf"
    build: Callable[[Path, Path], None] | None = None  # writes the file itself (base, out)


def _rate(value: str) -> Callable[[Chunks], None]:
    def edit(c: Chunks) -> None:
        c.edit_header("ECG", "nominal_srate", value)
        c.edit_record("engine", lambda r: r["sources"]["ecg"].__setitem__("fs", float(value)))

    return edit


def _header(path: str, value: str, name: str = "ECG") -> Callable[[Chunks], None]:
    return lambda c: c.edit_header(name, path, value)


def _record(
    event: str, key: str, value: Any, modality: str | None = None
) -> Callable[[Chunks], None]:
    return lambda c: c.edit_record(event, lambda r: r.__setitem__(key, value), modality)


def _ecg_chunk(c: Chunks, k: int = 40) -> int:
    return c.samples(c.sid("ECG"))[k]


def _stamps(change: Callable[[np.ndarray], np.ndarray], first_only: bool = False):
    def edit(c: Chunks) -> None:
        for n, i in enumerate(c.samples(c.sid("ECG"))):
            ts, v = c.numeric(i)
            c.set_numeric(i, change(ts), v)
            if first_only and n == 0:
                return

    return edit


def _first_stamp(value: float) -> Callable[[Chunks], None]:
    def set_first(ts: np.ndarray) -> np.ndarray:
        ts[0] = value
        return ts

    return _stamps(set_first, first_only=True)


def _flip_sid(target: str | int) -> Callable[[Chunks], None]:
    def edit(c: Chunks) -> None:
        i = _ecg_chunk(c)
        sid = target if isinstance(target, int) else c.sid(target)
        c.items[i][1] = struct.pack("<I", sid) + c.items[i][1][4:]

    return edit


def _count(c: Chunks) -> None:
    i = _ecg_chunk(c)
    body = c.items[i][1]
    _, pos = xdf.read_varlen(memoryview(body), 4)
    c.items[i][1] = body[:4] + b"\x08" + struct.pack("<Q", 1 << 40) + body[pos:]


def _length(last: bool) -> Callable[[Chunks], None]:
    def edit(c: Chunks) -> None:
        i = len(c.items) - 1 if last else _ecg_chunk(c)
        tag, content = c.items[i]
        raw = raw_chunk(1 << 62, tag, content)
        if last:
            del c.items[i]
            c.tail = raw
        else:  # the rest of the file goes into the tail, after the damaged chunk
            rest = b"".join(xdf.chunk(t, b) for t, b in c.items[i + 1 :])
            del c.items[i:]
            c.tail = raw + rest

    return edit


def _varlen_width(c: Chunks) -> None:
    i = _ecg_chunk(c)
    rest = b"".join(xdf.chunk(t, b) for t, b in c.items[i + 1 :])
    tag, content = c.items[i]
    del c.items[i:]
    c.tail = (
        b"\x03" + struct.pack("<I", len(content) + 2)[:3] + struct.pack("<H", tag) + content + rest
    )


def _deep(c: Chunks) -> None:
    c.add_record(
        '{"event": "marker", "time_s": 1.0, "text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )


def _big_string(c: Chunks) -> None:
    c.add_record(json.dumps({"event": "marker", "time_s": 2.0, "text": "x" * (50 << 20)}))


def _laughs(text: str) -> str:
    """Entity declarations whose last, ``&a9;``, expands to ``text`` 10^9 times."""
    return f'<!ENTITY a0 "{text}">' + "".join(
        f'<!ENTITY a{k} "{f"&a{k - 1};" * 10}">' for k in range(1, 10)
    )


def _entities(c: Chunks) -> None:
    sid = c.sid("ECG")
    body = ElementTree.tostring(c.header(sid), encoding="unicode")
    ents = _laughs("ECGECGECGECG")
    doc = f'<?xml version="1.0"?><!DOCTYPE info [{ents}]>' + body.replace(
        "<name>ECG</name>", "<name>ECG</name><note>&a9;</note>"
    )
    c.set_header(sid, doc.encode())


def _file_entities(c: Chunks) -> None:
    body = c.items[0][1].decode()
    ents = _laughs("XDFXDFXDF")
    c.items[0][1] = (
        f'<?xml version="1.0"?><!DOCTYPE info [{ents}]>'
        + re.sub(r"^<\?xml[^>]*\?>", "", body).replace("<version>", "<x>&a9;</x><version>", 1)
    ).encode()


def _huge_attribute(c: Chunks) -> None:
    sid = c.sid("ECG")
    body = ElementTree.tostring(c.header(sid), encoding="unicode")
    c.set_header(sid, body.replace("<info>", f'<info pad="{"p" * (50 << 20)}">', 1).encode())


def _duplicate_header(c: Chunks) -> None:
    sid = c.sid("ECG")
    i = _ecg_chunk(c)
    c.items.insert(i, list(c.items[c.header_index(sid)]))


def _session_numeric(c: Chunks) -> None:
    c.edit_header(xdf.SESSION_STREAM, "channel_format", "float32")


def _foreign(edit: Callable[[Chunks], None] | None = None) -> Callable[[Chunks], None]:
    """The same streams in a file that does not say it is wot's (LabRecorder's layout): read
    with pyxdf, placed by the session clock."""

    def run(c: Chunks) -> None:
        c.items[0][1] = b'<?xml version="1.0"?><info><version>1.0</version></info>'
        sid = c.sid(xdf.SESSION_STREAM)
        c.items = [
            it for it in c.items if not (it[0] != 1 and struct.unpack_from("<I", it[1])[0] == sid)
        ]
        if edit is not None:
            edit(c)

    return run


def _bomb(base: Path, out: Path) -> None:
    """``out`` (``.xdfz``): the base recording, then :data:`BOMB_BYTES` zeros, gzipped. The
    zeros are one compressed block repeated (a full flush makes each copy independent), so
    writing it takes well under a second and the file is about 10 MB."""
    block = 1 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(base.read_bytes()) + co.flush(zlib.Z_FULL_FLUSH)
    seg = co.compress(bytes(block)) + co.flush(zlib.Z_FULL_FLUSH)
    end = co.flush(zlib.Z_FINISH)
    n = BOMB_BYTES // block
    crc = _crc_combine(
        zlib.crc32(base.read_bytes()), _crc_repeat(zlib.crc32(bytes(block)), block, n), block * n
    )
    size = base.stat().st_size + block * n
    with open(out, "wb") as fh:
        fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head)
        for _ in range(n):
            fh.write(seg)
        fh.write(end + struct.pack("<II", crc, size & 0xFFFFFFFF))


def _rr_damaged(base: Path, out: Path) -> None:
    """A session of RR intervals (a chest strap's beat-to-beat stream, with its skin-contact
    channel), one interval stamped 1e12 and the last NaN."""
    sr = SessionRecorder(out, {"client": "crafted", "scenario": "rr"}, fsync=False)
    hdr = ElementTree.fromstring(
        stream_header("RR", "RR", 2, 0.0, "float32", "crafted-rr", [("rr", "ms"), ("contact", "")])
    )
    wot = ElementTree.SubElement(hdr.find("desc"), "wot")  # type: ignore[arg-type]
    for k, v in (("modality", "rr"), ("channel", "0"), ("scale", "1.0"), ("contact_channel", "1")):
        ElementTree.SubElement(wot, k).text = v
    sr.add_stream("rr", ElementTree.tostring(hdr, encoding="unicode"))
    sr.event(EngineStart(parameters=EngineConfig().to_dict(), sources={"rr": {"fs": 1.0}}), ORIGIN)
    sr.event(Origin(ORIGIN), ORIGIN)
    sr.event(StreamStart("rr", 0.0, 0), ORIGIN)
    rr = 800.0 + 50.0 * np.sin(np.arange(120) / 5.0)
    t = ORIGIN + np.cumsum(rr) / 1000.0
    t[60], t[-1] = 1e12, math.nan
    for k in range(0, rr.size, 10):
        sr.writer.boundary()
        sr.samples("rr", t[k : k + 10], np.column_stack([rr, np.ones_like(rr)])[k : k + 10])
    sr.event(End(session_s=float(t[-2] - ORIGIN)), ORIGIN)
    sr.stop()


def _gz(base: Path, out: Path) -> None:
    out.write_bytes(gzip.compress(base.read_bytes(), 6))


def _gz_members(base: Path, out: Path) -> None:
    """Two gzip members, split inside a chunk, then zero padding (as tape tools leave)."""
    data = base.read_bytes()
    half = len(data) // 2
    out.write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]) + bytes(512))


def _gz_cut(base: Path, out: Path) -> None:
    data = gzip.compress(base.read_bytes(), 6)
    out.write_bytes(data[: len(data) // 2])


def _truncate(base: Path, out: Path) -> None:
    data = base.read_bytes()
    out.write_bytes(data[: int(len(data) * 0.6) + 3])


# crc32 of concatenations (zlib's crc32_combine, which Python does not expose)
def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def _crc_combine(crc1: int, crc2: int, len2: int) -> int:
    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _crc_repeat(crc: int, size: int, n: int) -> int:
    """crc32 of ``n`` copies of a ``size``-byte block whose crc32 is ``crc``."""
    out, have, run, run_len = 0, 0, crc, size
    while n:
        if n & 1:
            out = _crc_combine(out, run, run_len) if have else run
            have += run_len
        run = _crc_combine(run, run, run_len)
        run_len *= 2
        n >>= 1
    return out


def _gap(n: Any = None, after: Any = None) -> Callable[[Chunks], None]:
    def change(r: dict[str, Any]) -> None:
        if n is not None:
            r["n"] = n
        if after is not None:
            r["after"] = after

    return lambda c: c.edit_record("gap", change, "ecg")


def _engine(change: Callable[[dict[str, Any]], Any]) -> Callable[[Chunks], None]:
    return lambda c: c.edit_record("engine", change)


def _damage(edit: Callable[[Chunks], None]) -> Callable[[Chunks], None]:
    """``edit``, and one ECG samples chunk of the file flipped to an unknown stream id, so the
    reader has damage to work around (the time stamps then decide where samples go)."""

    def run(c: Chunks) -> None:
        edit(c)
        _flip_sid(999)(c)

    return run


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        # stream headers
        Case("rate_0", "ECG nominal rate 0 (header and engine record)", _rate("0"),
             says=r"ecg: stream 'ECG' has rate 0 Hz, outside the 50-10000 Hz", beats="none"),
        Case("rate_nan", "ECG nominal rate NaN", _rate("nan"),
             says=r"ecg: stream 'ECG' has rate nan Hz", beats="none"),
        Case("rate_inf", "ECG nominal rate inf", _rate("inf"),
             says=r"ecg: stream 'ECG' has rate inf Hz", beats="none"),
        Case("rate_negative", "ECG nominal rate -1", _rate("-1"),
             says=r"ecg: stream 'ECG' has rate -1 Hz", beats="none"),
        Case("rate_1e12", "ECG nominal rate 1e12", _rate("1e12"),
             says=r"ecg: stream 'ECG' has rate 1e\+12 Hz", beats="none"),
        Case("header_rate_0", "ECG header rate 0, the engine record's intact",
             _header("nominal_srate", "0")),
        Case("engine_fs_text", "the engine record's ECG rate is a word",
             _engine(lambda r: r["sources"]["ecg"].__setitem__("fs", "fast")),
             says=r"sources\.ecg\.fs 'fast' is not a rate .* its header's is used"),
        Case("channel_count_0", "ECG channel_count 0", _header("channel_count", "0"),
             says=r"ECG\): its header says channel_count 0, but its samples chunks hold 1 "),
        Case("channel_count_3", "ECG channel_count 1 -> 3 (a bit flip)",
             _header("channel_count", "3"),
             says=r"ECG\): its header says channel_count 3, but its samples chunks hold 1 "),
        Case("channel_count_1e9", "ECG channel_count 1e9",
             _header("channel_count", "1000000000"),
             says=r"ECG\): its header says channel_count 1000000000, but .* hold 1 "),
        Case("channel_count_text", "ECG channel_count 'one'", _header("channel_count", "one"),
             says=r"ECG\): its header says channel_count 'one', but .* hold 1 "),
        Case("channel_format_unknown", "ECG channel_format float128",
             _header("channel_format", "float128"),
             says=r"ECG\): its header says channel_format 'float128', but .* of float32"),
        Case("channel_format_double", "ECG channel_format float32 -> double64",
             _header("channel_format", "double64"),
             says=r"ECG\): its header says channel_format 'double64', but .* of float32"),
        Case("channel_format_string", "ECG declared a string stream",
             _header("channel_format", "string"),
             says=r"ECG\): its header says channel_format 'string', but .* of float32"),
        Case("wot_channel_out_of_range", "desc/wot/channel 7 of a 1-channel ECG",
             _header("desc/wot/channel", "7"),
             says=r"ecg: stream 'ECG' has 1 channel\(s\); the recorded channel 7", beats="none"),
        Case("wot_scale_nan", "desc/wot/scale nan", _header("desc/wot/scale", "nan"),
             says=r"ecg: stream 'ECG' has scale 'nan'", beats="none"),
        Case("header_entities", "ECG stream header: nested entities (a billion laughs)",
             _entities, says=r"stream 2 \(its header at byte \d+ is unreadable", beats="none"),
        Case("file_header_entities", "file header: nested entities", _file_entities,
             says=r"the file header at byte 4 is unreadable"),
        Case("header_huge_attribute", "ECG stream header with a 50 MB attribute",
             _huge_attribute),
        Case("duplicate_header", "the ECG header repeated in mid-file", _duplicate_header,
             says=r"a second header of stream 2 \(ECG\) at byte \d+: ignored"),
        Case("session_stream_numeric", "the wot-session stream declared float32",
             _session_numeric,
             says=r"wot-session\): its header says channel_format 'float32', .* of string"),
        # time stamps
        Case("first_stamp_1e12", "first ECG time stamp 1e12", _first_stamp(1e12)),
        Case("first_stamp_nan", "first ECG time stamp NaN", _first_stamp(math.nan)),
        Case("first_stamp_neg", "first ECG time stamp -1e12", _first_stamp(-1e12)),
        Case("stamps_decreasing", "ECG time stamps decreasing in every chunk",
             _stamps(lambda ts: ts[::-1].copy())),
        Case("stamps_nan_damaged", "ECG time stamps all NaN, and a chunk lost",
             _damage(_stamps(lambda ts: ts * math.nan)),
             says=r"ecg: 1 implausible time stamp jump\(s\) ignored", beats=None),
        Case("stamps_1e12_damaged", "ECG time stamps +1e12 from 30 s on, and a chunk lost",
             _damage(lambda c: [c.set_numeric(i, c.numeric(i)[0] + 1e12, c.numeric(i)[1])
                                for i in c.samples(c.sid("ECG"))[60:]]),
             says=r"ecg: 0\.5 s of samples lost to the damage", beats="near"),
        Case("clock_offset_1e12", "an ECG clock offset of 1e12 s, and a chunk lost",
             _damage(lambda c: c.items.__setitem__(
                 next(i for i, (t, b) in enumerate(c.items)
                      if t == xdf.TAG_CLOCK_OFFSET
                      and struct.unpack_from("<I", b)[0] == c.sid("ECG")),
                 [xdf.TAG_CLOCK_OFFSET, struct.pack("<Idd", c.sid("ECG"), ORIGIN, 1e12)])),
             says=r"ecg: 0\.5 s of samples lost to the damage", beats="near"),
        Case("origin_1e12", "the origin record at LSL time 1e12",
             _record("origin", "lsl_time", 1e12),
             says=r"the origin record \(LSL time 1e\+12\) is more than a day"),
        Case("origin_nan", "the origin record at NaN", _record("origin", "lsl_time", math.nan),
             says=r"'origin': lsl_time nan is not finite"),
        Case("start_t0_1e12", "the ECG starts at session time 1e12",
             _record("stream_start", "t0", 1e12, "ecg"),
             says=r"'stream_start': t0 1000000000000\.0 is not a session time"),
        Case("start_t0_nan", "the ECG starts at session time NaN",
             _record("stream_start", "t0", math.nan, "ecg"),
             says=r"'stream_start': t0 nan is not finite"),
        Case("start_t0_negative", "the ECG starts at session time -3600",
             _record("stream_start", "t0", -3600.0, "ecg"),
             says=r"'stream_start': t0 -3600\.0 is not a session time"),
        # session records
        Case("gap_huge", "an ECG gap of 3e8 samples", _gap(n=300_000_000),
             says=r"ecg: a gap record of 300000000 samples .* not filled"),
        Case("gap_negative", "an ECG gap of -2500 samples", _gap(n=-2500),
             says=r"'gap': n -2500 is negative"),
        Case("gap_after_negative", "an ECG gap after -7 samples", _gap(after=-7),
             says=r"'gap': after -7 is negative"),
        Case("gap_after_huge", "an ECG gap after 1e12 samples", _gap(after=10**12),
             says=r"ecg: a gap record after sample 1000000000000 of"),
        Case("gap_n_text", "an ECG gap of 'many' samples", _gap(n="many"),
             says=r"'gap': n 'many' is not a whole number"),
        Case("drop_negative", "the ECG's start record drops -5000 samples (20 s)",
             _record("stream_start", "drop", -5000, "ecg"),
             says=r"'stream_start': drop -5000 is negative"),
        Case("drop_huge", "the ECG's start record drops 1e12 samples",
             _record("stream_start", "drop", 10**12, "ecg"),
             says=r"ecg: its start record drops 1000000000000 samples"),
        Case("lost_delivered_negative", "EDA lost with delivered -100",
             _record("lost", "delivered", -100), says=r"'lost': delivered -100 is negative"),
        Case("lost_frame_negative", "EDA lost at frame -5", _record("lost", "frame", -5),
             says=r"'lost': frame -5 is negative"),
        Case("lost_delivered_huge", "EDA lost with delivered 1e18",
             _record("lost", "delivered", 10**18),
             says=r"'lost': delivered 1000000000000000000 is beyond"),
        Case("resume_negative", "EDA resumed at frame -1", _record("resume", "frame", -1),
             says=r"'resume': frame -1 is negative"),
        Case("record_missing_keys", "gap and stream_start records without their fields",
             lambda c: (c.add_record('{"event": "gap", "v": 2}'),
                        c.add_record('{"event": "stream_start", "v": 2}')),
             says=r"'stream_start' is incomplete"),
        Case("engine_sources_text", "the engine record's sources are a string",
             _engine(lambda r: r.__setitem__("sources", "ecg")),
             says=r"'engine': sources 'ecg' is not a JSON object"),
        Case("engine_source_number", "the engine record's ECG source is a number",
             _engine(lambda r: r["sources"].__setitem__("ecg", 5)),
             says=r"'engine': sources\.ecg '5' is not a JSON object"),
        Case("engine_parameters_list", "the engine record's parameters are a list",
             _engine(lambda r: r.__setitem__("parameters", [1, 2])),
             says=r"'engine': parameters \[1, 2\] is not a JSON object: left out"),
        Case("engine_baseline_text", "the engine record's baseline is a string",
             _engine(lambda r: r.__setitem__("baseline", "high")),
             says=r"'engine': baseline 'high' is not a JSON object: left out"),
        Case("engine_window_bad", "the engine record's baseline window is [5, 'x']",
             _engine(lambda r: r.__setitem__("baseline_window", [5, "x"])),
             says=r"'engine': baseline_window \[5, 'x'\] is not \[start, end\]: left out"),
        Case("engine_subject_number", "the engine record's subject is 7",
             _engine(lambda r: r.__setitem__("subject", 7)), expect="error",
             says=r"engine_subject_number\.xdf: .*engine record .*subject 7 is not a subject"),
        Case("engine_subject_path", "the engine record's subject is '../../x'",
             _engine(lambda r: r.__setitem__("subject", "../../x")), expect="error",
             says=r"engine_subject_path\.xdf: .*engine record .*subject '\.\./\.\./x'"),
        Case("calibrate_nan", "a calibrate-now record from NaN to inf",
             lambda c: c.add_record('{"event": "calibrate", "start_s": NaN, "end_s": Infinity}'),
             says=r"'calibrate': start_s nan is not finite"),
        Case("marker_time_text", "a marker at time 'soon'", _record("marker", "time_s", "soon"),
             says=r"'marker': time_s 'soon' is not a number"),
        Case("end_wrong_types", "the end record's gaps_filled_s a string",
             _record("end", "gaps_filled_s", "lots"),
             says=r"'end': gaps_filled_s 'lots' is not a JSON object: left out"),
        Case("json_deep", "a session record nested 100,000 deep", _deep,
             says=r"JSON nested too deeply"),
        Case("json_50mb", "a session record with a 50 MB string", _big_string,
             says=r"52428846 characters long \(the limit is 1048576\)"),
        # chunks
        Case("sid_same_width", "an ECG samples chunk labelled as the EDA stream",
             _flip_sid("EDA"), beats="near",
             says=r"labelled stream 3 \(EDA\) holds samples at 250 Hz that fill a hole in "
                  r"stream 2 \(ECG\)"),
        Case("sid_other_width", "an ECG samples chunk labelled as the feature stream",
             _flip_sid("wot-features"), beats="near",
             says=r"stream 5 \(wot-features\): 1 samples chunk\(s\) that do not fit it"),
        Case("sid_unknown", "an ECG samples chunk labelled as stream 999", _flip_sid(999),
             says=r"1 samples chunk\(s\) of stream 999 \(which has no header\)", beats="near"),
        Case("sid_session", "an ECG samples chunk labelled as the wot-session stream",
             _flip_sid(xdf.SESSION_STREAM), beats="near",
             says=r"stream 1 \(wot-session\): 1 samples chunk\(s\) that do not fit it"),
        Case("count_terabytes", "an ECG samples chunk claiming 2^40 samples", _count,
             says=r"1099511627776 samples cannot fit", beats="near"),
        Case("length_2_62", "a chunk length field of 2^62 in mid-file", _length(False),
             says=r"chunk length 4611686018427387904 runs past", beats="near"),
        Case("length_2_62_last", "the last chunk's length field 2^62", _length(True),
             says=r"the file ends inside a chunk .* cut short"),
        Case("varlen_width", "a length field of width 3", _varlen_width,
             says=r"invalid variable-length integer width 3", beats="near"),
        Case("truncated", "the file cut at 60 %", None, build=_truncate,
             says=r"the file ends inside a chunk .* cut short", beats="prefix"),
        Case("xdfz", "the base recording gzipped (.xdfz)", None, suffix=".xdfz", build=_gz),
        Case("xdfz_members", "a .xdfz of two gzip members and zero padding", None,
             suffix=".xdfz", build=_gz_members),
        Case("xdfz_cut", "a .xdfz cut in half", None, suffix=".xdfz", build=_gz_cut,
             says=r"the compressed data end after \d+ bytes, before their end marker",
             beats="prefix"),
        Case("gzip_bomb", "10 GiB of zeros after the recording, gzipped (about 10 MB)", None,
             suffix=".xdfz", build=_bomb, expect="error",
             says=r"gzip_bomb\.xdfz: decompresses to more than 256 MiB"),
        Case("rr_stamps", "RR intervals, one stamped 1e12 and the last NaN", None,
             build=_rr_damaged, beats=None,
             says=r"rr: 2 value\(s\) whose time stamp is not finite, goes back in time or lies"),
        # LabRecorder's layout (no session records): read with pyxdf
        Case("foreign", "the same streams without the session records", _foreign()),
        Case("foreign_first_stamp_1e12", "LabRecorder layout, first ECG time stamp 1e12",
             _foreign(_first_stamp(1e12)),
             says=r"ecg: 1 sample\(s\) of stream 'ECG' whose time stamp is not finite or a day"),
        Case("foreign_rate_nan", "LabRecorder layout, ECG nominal rate NaN",
             _foreign(_header("nominal_srate", "nan")),
             says=r"stream 'ECG' \(ECG\): nominal rate nan Hz is not a rate", beats="none"),
        # the 0.5 s of samples skipped are not a gap to the session clock (no more than its
        # tolerance, as live): what follows comes half a second early, as it would live
        Case("foreign_count_terabytes", "LabRecorder layout, a chunk claiming 2^40 samples",
             _foreign(_count), says=r"1099511627776 samples cannot fit", beats=None),
        Case("foreign_channel_count_3", "LabRecorder layout, ECG channel_count 3",
             _foreign(_header("channel_count", "3")),
             says=r"ECG\): its header says channel_count 3, but"),
    )
}  # fmt: skip


def late_recording(base: Path, out: Path, t0_s: float = 23 * 3600.0) -> Path:
    """A valid but slow file: the base recording with every stream starting ``t0_s`` into the
    session (the frames before are made too, with no data: seconds of work for a small file)."""
    chunks = Chunks(Path(base).read_bytes())
    for m in RATES:
        chunks.edit_record("stream_start", lambda r: r.__setitem__("t0", t0_s), m)
    out.write_bytes(chunks.to_bytes())
    return out


def write_case(name: str, base: Path, folder: Path) -> Path:
    """Write case ``name`` of :data:`CASES`, made from the recording ``base``, into ``folder``;
    returns its path (``folder/NAME.xdf``, or ``.xdfz``)."""
    case = CASES[name]
    out = Path(folder) / f"{name}{case.suffix}"
    if case.build is not None:
        case.build(Path(base), out)
        return out
    chunks = Chunks(Path(base).read_bytes())
    assert case.edit is not None
    case.edit(chunks)
    out.write_bytes(chunks.to_bytes())
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    b = (
        base_recording(folder / "base.xdf")
        if not (folder / "base.xdf").exists()
        else folder / "base.xdf"
    )
    for n in CASES if len(sys.argv) < 3 else sys.argv[2:]:
        print(write_case(n, b, folder))
