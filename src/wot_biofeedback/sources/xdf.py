"""The XDF file format (Extensible Data Format, the lab-streaming layer's recording format).

Chunk layout, from the specification (github.com/sccn/xdf/wiki/Specifications)::

    file    = "XDF:" chunk*
    chunk   = varlen(length) tag:uint16 content        (length counts tag + content)
    varlen  = n:uint8 (1, 4 or 8) value:uint<n*8>       (little-endian)
    tags    1 FileHeader (XML) | 2 StreamHeader (id:uint32, XML) | 3 Samples (id:uint32,
            varlen(count), samples) | 4 ClockOffset (id:uint32, collection time:f64,
            offset:f64) | 5 Boundary (16-byte UUID) | 6 StreamFooter (id:uint32, XML)
    sample  = 0 (time stamp deduced) | 8 time:f64, then the values: one little-endian number
              per channel, or per channel varlen(bytes) bytes for strings

This module holds the constants and encoders shared by the recorder
(:mod:`wot_biofeedback.recorder`) and a fast reader, :func:`read_xdf`. pyxdf parses numeric
samples one at a time in Python (about a second per million samples); the reader here decodes a
chunk whose samples all carry a time stamp with one structured ``numpy.frombuffer``, which is
what the recorder writes, and falls back to the sample loop otherwise. It is tolerant: a chunk
it cannot parse is reported with its byte offset and skipped to the next boundary chunk; a file
cut short (a crash, a full disk) keeps every complete chunk.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

SESSION_STREAM = "wot-session"
"""The stream of a wot recording that holds its session records (JSON)."""
MAGIC = b"XDF:"
BOUNDARY_UUID = bytes(
    [0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4]
)
TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6
VALUE_TYPES = {
    "float32": "<f4",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
}
"""XDF channel formats and their little-endian numpy types (``string`` is the other one)."""


# encoding ------------------------------------------------------------------------------------
def varlen(n: int) -> bytes:
    """A variable-length integer: the narrowest of 1, 4 or 8 bytes that holds ``n``."""
    if n < 0x100:
        return bytes((1, n))
    if n < 0x1_0000_0000:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def chunk(tag: int, content: bytes) -> bytes:
    """One whole chunk: length, tag, content."""
    return varlen(len(content) + 2) + struct.pack("<H", tag) + content


def numeric_samples(stream_id: int, timestamps: np.ndarray, values: np.ndarray, fmt: str) -> bytes:
    """A Samples chunk of ``values`` (``(n, channels)``) with a time stamp on every sample."""
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    n, nch = values.shape
    rec = np.empty(n, dtype=_sample_dtype(VALUE_TYPES[fmt], nch))
    rec["flag"] = 8
    rec["t"] = timestamps
    rec["v"] = values
    return chunk(TAG_SAMPLES, struct.pack("<I", stream_id) + varlen(n) + rec.tobytes())


def string_samples(stream_id: int, timestamps: np.ndarray, values: list[str]) -> bytes:
    """A Samples chunk of one-channel string samples, each with its time stamp."""
    parts = [struct.pack("<I", stream_id), varlen(len(values))]
    for t, v in zip(np.asarray(timestamps, dtype=np.float64).tolist(), values, strict=True):
        b = v.encode("utf-8")
        parts.append(b"\x08" + struct.pack("<d", t) + varlen(len(b)) + b)
    return chunk(TAG_SAMPLES, b"".join(parts))


def clock_offset(stream_id: int, collection_time: float, offset: float) -> bytes:
    return chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", stream_id, collection_time, offset))


def boundary() -> bytes:
    return chunk(TAG_BOUNDARY, BOUNDARY_UUID)


def _sample_dtype(value_type: str, nch: int) -> np.dtype:
    # packed (no alignment padding): 1 flag byte, 8 time bytes, then the values
    return np.dtype([("flag", "u1"), ("t", "<f8"), ("v", value_type, (nch,))])


# reading -------------------------------------------------------------------------------------
@dataclass
class XdfStream:
    """One stream of an XDF file, as recorded (time stamps on the recording stream's clock)."""

    stream_id: int
    header: ElementTree.Element
    time_stamps: np.ndarray
    time_series: Any  # (n, channels) array, or a list of strings (one channel) per sample
    clock_times: np.ndarray
    clock_values: np.ndarray
    offset_index: np.ndarray  # per sample: index of the last clock offset written before it
    footer: ElementTree.Element | None = None
    breaks: list[int] = field(default_factory=list)
    """Sample indices before which a damaged stretch was skipped (samples may be missing)."""

    def text(self, path: str, default: str = "") -> str:
        """Text of a header element, e.g. ``name``, ``type``, ``desc/wot/modality``."""
        el = self.header.find(path)
        return el.text if el is not None and el.text is not None else default

    @property
    def name(self) -> str:
        return self.text("name")

    @property
    def type(self) -> str:
        return self.text("type")

    @property
    def fmt(self) -> str:
        return self.text("channel_format", "float32")

    @property
    def nominal_srate(self) -> float:
        try:
            return float(self.text("nominal_srate", "0"))
        except ValueError:
            return 0.0

    @property
    def channel_count(self) -> int:
        try:
            return int(self.text("channel_count", "1"))
        except ValueError:
            return 1

    def labels(self) -> list[str]:
        return [c.findtext("label", "") for c in self.header.findall("desc/channels/channel")]

    def units(self) -> list[str]:
        return [c.findtext("unit", "") for c in self.header.findall("desc/channels/channel")]

    def corrected_stamps(self) -> np.ndarray:
        """Time stamps plus the clock offset written last before each sample (exact for the
        recorder's own files, where an offset chunk precedes the samples it applies to)."""
        if self.clock_values.size == 0:
            return self.time_stamps.copy()
        off = np.where(
            self.offset_index >= 0, self.clock_values[np.maximum(self.offset_index, 0)], 0.0
        )
        return self.time_stamps + off


@dataclass
class XdfFile:
    path: str
    header: ElementTree.Element | None
    streams: list[XdfStream] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # damage found, with byte offsets

    def by_name(self, name: str) -> XdfStream | None:
        return next((s for s in self.streams if s.name == name), None)


class _Acc:
    def __init__(self, sid: int, header: ElementTree.Element) -> None:
        self.sid = sid
        self.header = header
        fmt = header.findtext("channel_format", "float32")
        self.fmt = fmt
        try:
            self.nch = int(header.findtext("channel_count", "1"))
        except ValueError:
            self.nch = 1
        try:
            rate = float(header.findtext("nominal_srate", "0"))
        except ValueError:
            rate = 0.0
        self.tdiff = 1.0 / rate if rate > 0 else 0.0
        self.last_t = 0.0
        self.stamps: list[np.ndarray] = []
        self.values: list[Any] = []
        self.offidx: list[np.ndarray] = []
        self.clock_t: list[float] = []
        self.clock_v: list[float] = []
        self.footer: ElementTree.Element | None = None
        self.breaks: list[int] = []
        self.count = 0


def read_varlen(buf: memoryview, pos: int) -> tuple[int, int]:
    nb = buf[pos]
    if nb == 1:
        return buf[pos + 1], pos + 2
    if nb == 4:
        return struct.unpack_from("<I", buf, pos + 1)[0], pos + 5
    if nb == 8:
        return struct.unpack_from("<Q", buf, pos + 1)[0], pos + 9
    raise ValueError(f"invalid variable-length integer width {nb}")


def _samples(acc: _Acc, buf: memoryview, pos: int, end: int) -> int:
    n, pos = read_varlen(buf, pos)
    vt = VALUE_TYPES.get(acc.fmt)
    # a damaged count must not allocate gigabytes: each sample takes at least its flag byte
    # and its values (strings: a flag and a length byte)
    least = 1 + (np.dtype(vt).itemsize * acc.nch if vt is not None else 2 * acc.nch)
    if n * least > end - pos:
        raise ValueError(f"{n} samples cannot fit in a chunk of {end - pos} bytes")
    if vt is not None:
        dt = _sample_dtype(vt, acc.nch)
        if pos + n * dt.itemsize == end and n:
            rec = np.frombuffer(buf, dtype=dt, count=n, offset=pos)
            if np.all(rec["flag"] == 8):  # the recorder's layout: one decode for the chunk
                acc.stamps.append(rec["t"].astype(np.float64))
                acc.values.append(np.array(rec["v"], dtype=np.dtype(vt).newbyteorder("=")))
                acc.last_t = float(rec["t"][-1])
                return n
    stamps = np.empty(n)
    vals: Any = [] if vt is None else np.empty((n, acc.nch), dtype=np.dtype(vt).newbyteorder("="))
    size = 0 if vt is None else np.dtype(vt).itemsize * acc.nch
    for k in range(n):
        flag = buf[pos]
        pos += 1
        if flag == 8:
            stamps[k] = struct.unpack_from("<d", buf, pos)[0]
            pos += 8
        elif flag == 0:
            stamps[k] = acc.last_t + acc.tdiff
        else:
            raise ValueError(f"invalid time stamp flag {flag}")
        acc.last_t = stamps[k]
        if vt is None:
            row = []
            for _ in range(acc.nch):
                ln, pos = read_varlen(buf, pos)
                row.append(bytes(buf[pos : pos + ln]).decode("utf-8", "replace"))
                pos += ln
            vals.append(row[0] if acc.nch == 1 else row)
        else:
            vals[k] = np.frombuffer(buf, dtype=vt, count=acc.nch, offset=pos)
            pos += size
        if pos > end:
            raise ValueError("samples run past the end of their chunk")
    if pos != end:
        raise ValueError(f"{n} samples end {end - pos} bytes before their chunk does")
    acc.stamps.append(stamps)
    acc.values.append(vals)
    return n


def read_xdf(path: str | Path) -> XdfFile:
    """Read every chunk of an XDF file (``.xdfz``: gzip) into :class:`XdfFile`.

    Never raises on damage after the magic bytes: a chunk that cannot be parsed is named in
    :attr:`XdfFile.problems` (with its byte offset) and reading resumes after the next boundary
    chunk; a file cut short keeps every complete chunk. Raises ``OSError`` when the file cannot
    be read and ``ValueError`` when it is not XDF at all.
    """
    p = Path(path)
    raw = gzip.decompress(p.read_bytes()) if p.suffix.lower() == ".xdfz" else p.read_bytes()
    if raw[:4] != MAGIC:
        raise ValueError(f"{p.name}: not an XDF file (no 'XDF:' magic bytes)")
    buf = memoryview(raw)
    out = XdfFile(str(p), None)
    accs: dict[int, _Acc] = {}
    order: list[int] = []
    pos = 4
    size = len(raw)
    while pos < size:
        start = pos
        try:
            length, pos = read_varlen(buf, pos)
            end = pos + length
            if length < 2:
                raise ValueError(f"chunk length {length}")
            if end > size:
                if raw.find(BOUNDARY_UUID, start + 1) >= 0:
                    # a damaged length: there is more file after it, so resynchronise
                    raise ValueError(f"chunk length {length} runs past the end of the file")
                out.problems.append(
                    f"the file ends inside a chunk at byte {start} ({size - start} of "
                    f"{end - start} bytes): cut short, everything before it is kept"
                )
                break
            (tag,) = struct.unpack_from("<H", buf, pos)
            pos += 2
            if tag == TAG_FILE_HEADER:
                out.header = ElementTree.fromstring(bytes(buf[pos:end]))
            elif tag in (TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET, TAG_STREAM_FOOTER):
                (sid,) = struct.unpack_from("<I", buf, pos)
                pos += 4
                if tag == TAG_STREAM_HEADER:
                    accs[sid] = _Acc(sid, ElementTree.fromstring(bytes(buf[pos:end])))
                    order.append(sid)
                elif sid not in accs:
                    # a chunk of a stream whose header was lost: its length is still good
                    out.problems.append(
                        f"a chunk of stream {sid} at byte {start}, whose header is missing: skipped"
                    )
                elif tag == TAG_SAMPLES:
                    acc = accs[sid]
                    n = _samples(acc, buf, pos, end)
                    acc.offidx.append(np.full(n, len(acc.clock_v) - 1, dtype=np.int64))
                    acc.count += n
                elif tag == TAG_CLOCK_OFFSET:
                    ct, cv = struct.unpack_from("<dd", buf, pos)
                    accs[sid].clock_t.append(ct)
                    accs[sid].clock_v.append(cv)
                else:
                    accs[sid].footer = ElementTree.fromstring(bytes(buf[pos:end]))
            elif tag != TAG_BOUNDARY:
                out.problems.append(f"unknown chunk tag {tag} at byte {start}: skipped")
            pos = end
        except (ValueError, struct.error, IndexError, ElementTree.ParseError) as exc:
            for a in accs.values():  # any stream may have lost samples here
                if not a.breaks or a.breaks[-1] != a.count:
                    a.breaks.append(a.count)
            nxt = raw.find(BOUNDARY_UUID, start + 1)
            where = f"a damaged chunk at byte {start} ({exc})"
            if nxt < 0:
                out.problems.append(f"{where}; no boundary chunk after it: the rest is lost")
                break
            pos = nxt + len(BOUNDARY_UUID)
            out.problems.append(f"{where}: skipped {pos - start} bytes to the next boundary")
    for sid in order:
        a = accs[sid]
        if a.fmt == "string":
            series: Any = [v for part in a.values for v in part]
        else:
            dtype = VALUE_TYPES.get(a.fmt, "<f4")
            series = (
                np.concatenate(a.values)
                if a.values
                else np.zeros((0, a.nch), dtype=np.dtype(dtype).newbyteorder("="))
            )
        out.streams.append(
            XdfStream(
                sid,
                a.header,
                np.concatenate(a.stamps) if a.stamps else np.zeros(0),
                series,
                np.asarray(a.clock_t, dtype=np.float64),
                np.asarray(a.clock_v, dtype=np.float64),
                np.concatenate(a.offidx) if a.offidx else np.zeros(0, dtype=np.int64),
                a.footer,
                a.breaks,
            )
        )
    return out
