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
whose length cannot be parsed is reported with its byte offset and skipped to the next boundary
chunk, one whose content cannot be is skipped alone; a file cut short (a crash, a full disk)
keeps every complete chunk. It is bounded: no count, channel number or size in the file is
believed that its bytes cannot hold (see :func:`read_xdf` and the limits below), so a damaged or
hostile file costs memory and time in proportion to its size.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from ..errors import InputError
from . import spill
from .spill import DiskArray, searchsorted, spill_bytes

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
    """One stream of an XDF file, as recorded (time stamps on the recording stream's clock).

    A numeric stream's ``time_stamps`` and ``time_series`` are numpy arrays, or, where the
    file's numbers pass :func:`~wot_biofeedback.sources.spill.spill_bytes`, each a
    :class:`~wot_biofeedback.sources.spill.DiskArray` (float64) read a slice at a time.
    """

    stream_id: int
    header: ElementTree.Element
    time_stamps: Any  # (n,) float64 array (in memory or spilled)
    time_series: Any  # (n, channels) array (in memory or spilled), or a list of strings
    clock_times: np.ndarray
    clock_values: np.ndarray
    offset_runs: tuple[np.ndarray, np.ndarray]
    """The clock offset written last before each sample, as runs: ``(first sample of each
    run, index of its offset in clock_values or -1)``; the first run starts at sample 0."""
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

    @property
    def spilled(self) -> bool:
        """Whether the samples are on disk (:class:`~wot_biofeedback.sources.spill.DiskArray`)."""
        return isinstance(self.time_stamps, DiskArray)

    def labels(self) -> list[str]:
        return [c.findtext("label", "") for c in self.header.findall("desc/channels/channel")]

    def units(self) -> list[str]:
        return [c.findtext("unit", "") for c in self.header.findall("desc/channels/channel")]

    def offsets_of(self, a: int, b: int) -> np.ndarray:
        """The clock offset index (-1: none) of samples ``a`` to ``b``."""
        starts, ids = self.offset_runs
        first = max(0, int(np.searchsorted(starts, a, side="right")) - 1)
        last = int(np.searchsorted(starts, b, side="left"))
        edges = np.clip(np.append(starts[first:last], b), a, b)
        return np.repeat(ids[first:last], np.diff(edges))

    @property
    def offset_index(self) -> np.ndarray:
        """Per sample, the index of the last clock offset before it (-1: none)."""
        return self.offsets_of(0, len(self.time_stamps))

    def corrected_stamps(self) -> np.ndarray:
        """Time stamps plus the clock offset written last before each sample (exact for the
        recorder's own files, where an offset chunk precedes the samples it applies to); in
        memory (a spilled stream's too)."""
        out = np.array(self.time_stamps, dtype=np.float64)
        for a in range(0, len(out), spill.BLOCK_ROWS):
            out[a : a + spill.BLOCK_ROWS] += self._offsets(a, len(out[a : a + spill.BLOCK_ROWS]))
        return out

    def _offsets(self, a: int, n: int) -> np.ndarray | float:
        """The clock offset of samples ``a`` to ``a + n`` (0 where none was written)."""
        if not self.clock_values.size:
            return 0.0
        table = np.concatenate(([0.0], self.clock_values))  # [0]: before any offset
        return table[self.offsets_of(a, a + n) + 1]

    def take_series(self) -> Any:
        """The samples, handed over: the stream keeps its time stamps only (``time_series``
        is None after), so a long stream's samples are not held twice while the caller
        converts them."""
        out, self.time_series = self.time_series, None
        return out

    def apply_clock_offsets(self) -> Any:
        """Correct :attr:`time_stamps` in place (no second copy of a long stream's time
        stamps, a block at a time) and return them; the stream then has no clock offsets left
        to apply, so :meth:`corrected_stamps` gives the same after as before."""
        if self.clock_values.size:
            ts = self.time_stamps
            if not isinstance(ts, DiskArray):
                ts = self.time_stamps = np.asarray(ts, dtype=np.float64)
            for a in range(0, len(ts), spill.BLOCK_ROWS):
                block = ts[a : a + spill.BLOCK_ROWS]
                block += self._offsets(a, len(block))  # a view in memory: written in place
                if isinstance(ts, DiskArray):
                    ts.write(a, block)
            self.clock_times = self.clock_values = np.zeros(0)
            self.offset_runs = (np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int32))
        return self.time_stamps

    def corrected_stamp(self, i: int) -> float:
        """One sample's corrected time stamp (:meth:`corrected_stamps` without the others)."""
        k = int(self.offsets_of(i, i + 1)[0]) if self.clock_values.size else -1
        return float(self.time_stamps[i]) + (float(self.clock_values[k]) if k >= 0 else 0.0)


@dataclass
class XdfFile:
    path: str
    header: ElementTree.Element | None
    streams: list[XdfStream] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # damage found, with byte offsets

    def by_name(self, name: str) -> XdfStream | None:
        return next((s for s in self.streams if s.name == name), None)


# limits --------------------------------------------------------------------------------------
MAX_CHANNELS = 1 << 16
"""Most channels a stream header may declare (EEG caps have a few hundred)."""
XDFZ_RATIO = 20
"""A ``.xdfz`` file may decompress to this many times its own size (a recording's time stamps
and samples compress two to five times), ..."""
XDFZ_MIN_BYTES = 256 << 20
"""... but at least to this many bytes (256 MiB) ..."""
XDFZ_MAX_BYTES = 8 << 30
"""... and never to more than this (8 GiB): beyond, it is refused as damaged or hostile (a gzip
bomb), before it is decompressed any further."""
SPILL_MIN_STREAM = 64 << 10
"""A stream whose numbers take less than this (64 KiB) is never decoded to disk."""
_PREFERRED = {4: "float32", 8: "double64", 2: "int16", 1: "int8"}
"""The format a sample width of this many bytes per value is taken for when a damaged header
does not say (the recorder writes float32)."""


class DecompressionLimitError(ValueError):
    """A ``.xdfz`` file decompresses to more than :func:`xdfz_limit` allows."""


def xdfz_limit(compressed_bytes: int) -> int:
    """Most bytes a ``.xdfz`` file of ``compressed_bytes`` may decompress to."""
    return int(min(XDFZ_MAX_BYTES, max(XDFZ_MIN_BYTES, XDFZ_RATIO * compressed_bytes)))


def _size(n: float) -> str:
    for unit, k in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << k:
            return f"{n / (1 << k):.3g} {unit}"
    return f"{int(n)} bytes"


def gunzip(path: str | Path, limit: int | None = None) -> tuple[bytearray, str | None]:
    """The decompressed bytes of a gzip file, decompressed a block at a time and checked against
    ``limit`` (default :func:`xdfz_limit` of its size) as they come, and a note when the
    compressed data end early or break (what came before them is kept), else None.

    Raises
    ------
    DecompressionLimitError
        It decompresses to more than ``limit`` bytes (nothing beyond is decompressed).
    OSError
        It cannot be read, or is not gzip at all.
    """
    out = bytearray()
    note = _gunzip(path, limit, out.extend)
    return out, note


def _gunzip(path: str | Path, limit: int | None, write: Callable[[bytes], Any]) -> str | None:
    """:func:`gunzip`, its bytes handed to ``write`` a block at a time as they come."""
    p = Path(path)
    size = p.stat().st_size
    cap = xdfz_limit(size) if limit is None else int(limit)
    total = 0
    note = None

    def add(piece: bytes) -> None:
        nonlocal total
        if total + len(piece) > cap:
            raise DecompressionLimitError(
                f"{p.name}: decompresses to more than {_size(cap)}, the limit for a .xdfz file "
                f"of {_size(size)} ({XDFZ_RATIO} times its size, at least "
                f"{_size(XDFZ_MIN_BYTES)}, at most {_size(XDFZ_MAX_BYTES)}): damaged or "
                "hostile (a gzip bomb), not read"
            )
        total += len(piece)
        write(piece)

    d = zlib.decompressobj(31)  # gzip
    fed = False  # the current member has had input
    pending = b""
    with open(p, "rb") as fh:
        while True:
            data = pending or fh.read(1 << 16)
            if not data:
                break
            if not fed and not data.strip(b"\0"):
                break  # zero padding after the last member
            fed = True
            try:
                # at most a block of output per call, whatever one input block expands to
                add(d.decompress(data, 1 << 20))
                pending = d.unconsumed_tail
                while not pending and not d.eof:  # output held back from input taken
                    more = d.decompress(b"", 1 << 20)
                    if not more:
                        break
                    add(more)
            except zlib.error as exc:
                if not total:
                    raise OSError(f"not readable as gzip ({exc})") from None
                note = f"the compressed data break after {total} bytes ({exc})"
                fed = False
                break
            if d.eof:  # a gzip file may hold several members, one after the other
                pending = d.unused_data
                d = zlib.decompressobj(31)
                fed = False
    if fed and not d.eof:
        if not total:
            raise OSError("not readable as gzip (it ends before any data)")
        note = f"the compressed data end after {total} bytes, before their end marker"
    if note is not None:
        note += ": cut short, everything before is kept"
    return note


@dataclass
class _Piece:
    """A samples chunk, decoded once the stream's layout is known."""

    start: int  # byte offset of the chunk
    pos: int  # its first sample
    end: int
    n: int
    offset: int  # index of the last clock offset before it


@dataclass
class _Decoded:
    start: int
    stamps: Any  # a view of the stream's array (in memory or spilled), or its own array
    values: Any
    offset: int
    at: int = -1  # where its samples sit in the stream's arrays (numbers: one array a stream)
    first: float = math.nan  # its first and last time stamps
    last: float = math.nan


class _Acc:
    def __init__(self, sid: int, header: ElementTree.Element, start: int) -> None:
        self.sid = sid
        self.header = header
        self.start = start
        self.name = header.findtext("name", "") or "?"
        self.fmt = header.findtext("channel_format", "float32") or ""
        self.nch_text = header.findtext("channel_count", "1") or ""
        try:
            nch: int | None = int(self.nch_text)
        except ValueError:
            nch = None
        self.nch = nch if nch is not None and 1 <= nch <= MAX_CHANNELS else None
        try:
            self.rate = float(header.findtext("nominal_srate", "0") or "0")
        except ValueError:
            self.rate = math.nan
        self.pieces: list[_Piece | None] = []  # None: a damaged stretch (samples may be lost)
        self.clock_t: list[float] = []
        self.clock_v: list[float] = []
        self.footer: ElementTree.Element | None = None

    def label(self) -> str:
        return f"stream {self.sid} ({self.name})"

    def brk(self) -> None:
        if self.pieces and self.pieces[-1] is None:
            return
        self.pieces.append(None)


def read_varlen(buf: memoryview, pos: int) -> tuple[int, int]:
    nb = buf[pos]
    if nb == 1:
        return buf[pos + 1], pos + 2
    if nb == 4:
        return struct.unpack_from("<I", buf, pos + 1)[0], pos + 5
    if nb == 8:
        return struct.unpack_from("<Q", buf, pos + 1)[0], pos + 9
    raise ValueError(f"invalid variable-length integer width {nb}")


def _decode(
    buf: memoryview,
    pc: _Piece,
    fmt: str,
    nch: int,
    tdiff: float,
    last_t: float,
    into: tuple[np.ndarray, np.ndarray] | None = None,
    sink: tuple[DiskArray, DiskArray] | None = None,
) -> tuple[Any, Any, float]:
    """Time stamps and values of one samples chunk read as ``nch`` channels of ``fmt``, and
    the last time stamp; ``ValueError`` where they do not fit the chunk. Numbers are written
    ``into`` the given arrays (``pc.n`` rows each) where given, or appended to the ``sink``
    a block of :data:`~.spill.BLOCK_ROWS` at a time (then only the last time stamp is
    returned: a chunk of a day's samples is never whole in memory)."""
    n, pos, end = pc.n, pc.pos, pc.end
    vt = VALUE_TYPES.get(fmt)
    if vt is None and fmt != "string":
        raise ValueError(f"unknown channel_format {fmt!r}")
    # a damaged count must not allocate gigabytes: each sample takes at least its flag byte
    # and its values (strings: a flag and a length byte)
    least = 1 + (np.dtype(vt).itemsize * nch if vt is not None else 2 * nch)
    if n * least > end - pos:
        raise ValueError(f"{n} samples cannot fit in a chunk of {end - pos} bytes")
    if vt is not None:
        dt = _sample_dtype(vt, nch)
        if pos + n * dt.itemsize == end and n:
            rec = np.frombuffer(buf, dtype=dt, count=n, offset=pos)
            step = spill.BLOCK_ROWS
            if sink is not None and all(
                np.all(rec["flag"][a : a + step] == 8) for a in range(0, n, step)
            ):
                for a in range(0, n, step):
                    sink[0].append(rec["t"][a : a + step])
                    sink[1].append(rec["v"][a : a + step])
                return None, None, float(rec["t"][-1])
            if sink is None and np.all(rec["flag"] == 8):  # the recorder's layout: at once
                if into is not None:
                    into[0][:] = rec["t"]
                    into[1][:] = rec["v"]
                    return into[0], into[1], float(into[0][-1])
                stamps = rec["t"].astype(np.float64)
                vals = np.array(rec["v"], dtype=np.dtype(vt).newbyteorder("="))
                return stamps, vals, float(stamps[-1])
    rows = min(n, spill.BLOCK_ROWS) if sink is not None else n  # (to the sink: a block at a time)
    stamps = into[0] if into is not None else np.empty(rows)
    out: Any = (
        []
        if vt is None
        else into[1]
        if into is not None
        else np.empty((rows, nch), dtype=np.dtype(vt).newbyteorder("="))
    )
    size = 0 if vt is None else np.dtype(vt).itemsize * nch
    for i in range(n):
        k = i % rows if rows else i
        if sink is not None and k == 0 and i:
            sink[0].append(stamps)
            sink[1].append(out)
        if pos >= end:
            raise ValueError("samples run past the end of their chunk")
        flag = buf[pos]
        pos += 1
        if flag == 8:
            stamps[k] = struct.unpack_from("<d", buf, pos)[0]
            pos += 8
        elif flag == 0:
            stamps[k] = last_t + tdiff
        else:
            raise ValueError(f"invalid time stamp flag {flag}")
        last_t = stamps[k]
        if vt is None:
            row = []
            for _ in range(nch):
                ln, pos = read_varlen(buf, pos)
                if pos + ln > end:
                    raise ValueError("a string runs past the end of its chunk")
                row.append(bytes(buf[pos : pos + ln]).decode("utf-8", "replace"))
                pos += ln
            out.append(row[0] if nch == 1 else row)
        else:
            if pos + size > end:
                raise ValueError("samples run past the end of their chunk")
            out[k] = np.frombuffer(buf, dtype=vt, count=nch, offset=pos)
            pos += size
    if pos != end:
        raise ValueError(f"{n} samples end {end - pos} bytes before their chunk does")
    if sink is not None:
        left = n - (n - 1) // rows * rows if n else 0  # samples in the last block
        sink[0].append(stamps[:left])
        sink[1].append(out[:left])
        return None, None, last_t
    return stamps, out, last_t


def _decode_all(
    buf: memoryview,
    acc: _Acc,
    fmt: str,
    nch: int,
    mapped: _Mapped | None = None,
    spill: bool = False,
) -> tuple[list[_Decoded | None], list[tuple[int, str]], int]:
    """Every piece of ``acc`` read as ``nch`` x ``fmt``: the decoded pieces (None: a break),
    the pieces that do not fit ``(byte, why)``, and how many do. ``spill``: numbers go to a
    pair of :class:`~wot_biofeedback.sources.spill.DiskArray` (float64) a chunk at a time."""
    tdiff = 1.0 / acc.rate if math.isfinite(acc.rate) and acc.rate > 0 else 0.0
    got: list[_Decoded | None] = []
    failed: list[tuple[int, str]] = []
    fit, last_t = 0, 0.0
    # numbers are decoded straight into one pair of arrays for the stream (not a small pair a
    # chunk, whose memory the allocator would keep after they are joined)
    # (sized from the chunks whose count their bytes can hold: a damaged count or channel
    # count must not allocate beyond what the file holds; _decode refuses the others)
    into = None
    disk: tuple[DiskArray, DiskArray] | None = None

    def room(pc: _Piece) -> bool:
        return pc.n * (1 + np.dtype(VALUE_TYPES[fmt]).itemsize * nch) <= pc.end - pc.pos

    if fmt in VALUE_TYPES and spill:
        pass  # (its temporary files made with its first samples: none for an empty stream)
    elif fmt in VALUE_TYPES:
        total = sum(pc.n for pc in acc.pieces if pc is not None and room(pc))
        into = (
            np.empty(total),
            np.empty((total, nch), dtype=np.dtype(VALUE_TYPES[fmt]).newbyteorder("=")),
        )
    at = 0
    if mapped is not None:
        mapped.again()
    for pc in acc.pieces:
        if pc is None:
            got.append(None)
            continue
        if mapped is not None:
            mapped.passed(pc.start)
        if pc.n == 0:
            continue
        here = at
        part = None
        if into is not None and room(pc):
            at += pc.n
            part = (into[0][here:at], into[1][here:at])
        if spill and fmt in VALUE_TYPES:
            disk = disk or (DiskArray(), DiskArray(nch))
            here = len(disk[0])  # (a chunk that fails part way leaves rows no piece refers to)
        try:
            stamps, vals, last = _decode(buf, pc, fmt, nch, tdiff, last_t, part, disk)
        except (ValueError, struct.error, IndexError) as exc:
            failed.append((pc.start, str(exc)))
            got.append(None)  # its samples are lost: a break
            continue
        last_t = last
        fit += 1
        kept: tuple[Any, Any] = (stamps, vals)
        if disk is not None:  # on disk: views of what the chunk appended
            kept = (disk[0].view(here, here + pc.n), disk[1].view(here, here + pc.n))
        first = float(kept[0][0])
        got.append(_Decoded(pc.start, *kept, pc.offset, here, first, last))
    return got, failed, fit


def _candidates(buf: memoryview, acc: _Acc) -> list[tuple[str, int]]:
    """Layouts ``(channel_format, channel_count)`` a stream's samples chunks may have, from
    their byte counts, most likely first (for a header that does not fit them)."""
    widths: dict[int, int] = {}
    for pc in acc.pieces:
        if pc is not None and pc.n and (pc.end - pc.pos) % pc.n == 0:
            w = (pc.end - pc.pos) // pc.n
            if buf[pc.pos] == 8:
                widths[w] = widths.get(w, 0) + pc.n
    out: list[tuple[str, int]] = []
    for w in sorted(widths, key=lambda k: -widths[k]):
        per = w - 9  # value bytes of a sample with its time stamp
        if acc.fmt in VALUE_TYPES and per % np.dtype(VALUE_TYPES[acc.fmt]).itemsize == 0:
            out.append((acc.fmt, per // np.dtype(VALUE_TYPES[acc.fmt]).itemsize))
        if acc.nch is not None and per % acc.nch == 0 and per // acc.nch in _PREFERRED:
            out.append((_PREFERRED[per // acc.nch], acc.nch))
        if per % 4 == 0:
            out.append(("float32", per // 4))
    out.append(("string", 1))
    seen: list[tuple[str, int]] = []
    for c in out:
        if c not in seen and 1 <= c[1] <= MAX_CHANNELS and c != (acc.fmt, acc.nch):
            seen.append(c)
    return seen


def _read_stream(
    buf: memoryview,
    acc: _Acc,
    problems: list[str],
    skipped: list[int],
    mapped: _Mapped | None = None,
    spill: bool = False,
) -> tuple[str, int, list[_Decoded | None]]:
    """Decode a stream's samples chunks with the layout its header gives, or, where that does
    not fit most of them (a damaged channel_count or channel_format), with the layout their
    byte counts give; chunks that fit neither are skipped (named in ``problems``)."""
    total = sum(1 for pc in acc.pieces if pc is not None and pc.n)
    header_ok = acc.nch is not None and (acc.fmt in VALUE_TYPES or acc.fmt == "string")
    best: tuple[str, int, list[_Decoded | None], list[tuple[int, str]], int] | None = None
    if header_ok:
        assert acc.nch is not None
        got, failed, fit = _decode_all(buf, acc, acc.fmt, acc.nch, mapped, spill)
        best = (acc.fmt, acc.nch, got, failed, fit)
    if total and (best is None or 2 * best[4] < total):
        for fmt, nch in _candidates(buf, acc):
            got, failed, fit = _decode_all(buf, acc, fmt, nch, mapped, spill)
            if fit and (best is None or fit > best[4]):
                best = (fmt, nch, got, failed, fit)
            if 2 * fit >= total:
                break
        if best is not None and (best[0], best[1]) != (acc.fmt, acc.nch):
            said = []
            if best[0] != acc.fmt:
                said.append(f"channel_format {acc.fmt!r}")
            if best[1] != acc.nch:
                try:
                    said.append(f"channel_count {int(acc.nch_text)}")
                except ValueError:
                    said.append(f"channel_count {acc.nch_text!r}")
            problems.append(
                f"{acc.label()}: its header says {' and '.join(said)}, but its samples chunks "
                f"hold {best[1]} channel(s) of {best[0]}: read as such (a damaged header)"
            )
    if best is None:
        if total:
            problems.append(
                f"{acc.label()}: its header (channel_format {acc.fmt!r}, channel_count "
                f"{acc.nch_text!r}) fits none of its samples chunks, nor does any other layout: "
                "its samples are skipped"
            )
        nch = acc.nch or 1
        fmt = acc.fmt if acc.fmt in VALUE_TYPES or acc.fmt == "string" else "float32"
        return fmt, nch, [None] if total else []
    fmt, nch, got, failed, _ = best
    skipped.extend(b for b, _why in failed)  # samples of some stream are missing there
    if failed:
        problems.append(
            f"{acc.label()}: {len(failed)} samples chunk(s) that do not fit it ({nch} x {fmt}), "
            f"first at byte {failed[0][0]} ({failed[0][1]}): skipped"
        )
    return fmt, nch, got


def _numbers_bytes(acc: _Acc) -> int:
    """What a numeric stream's samples take in memory once decoded (by its header; 0 for
    text): its time stamps and its values."""
    if acc.fmt not in VALUE_TYPES or acc.nch is None:
        return 0
    per = 8 + np.dtype(VALUE_TYPES[acc.fmt]).itemsize * acc.nch
    return per * sum(pc.n for pc in acc.pieces if pc is not None and pc.n <= pc.end - pc.pos)


def _base(a: Any) -> Any:
    """The array ``a`` is a view of (in memory or spilled), else None."""
    return a._owner if isinstance(a, DiskArray) else a.base


def _whole(parts: list[_Decoded]) -> bool:
    """The pieces are views that tile their stream's arrays, in order, with none left out."""
    st, va = _base(parts[0].stamps), _base(parts[0].values)
    if st is None or va is None:
        return False
    at = 0
    for d in parts:
        if _base(d.stamps) is not st or _base(d.values) is not va or d.at != at:
            return False
        at += len(d.stamps)
    return at == len(st) == len(va)


def _joined(parts: list[Any], width: int | None = None) -> Any:
    """Pieces of a stream's arrays, moved together (in memory; spilled pieces into a new
    :class:`~wot_biofeedback.sources.spill.DiskArray`, a piece at a time)."""
    if parts and isinstance(parts[0], DiskArray):
        out = DiskArray(parts[0].width)
        for a in parts:
            out.append(a[:])
        return out
    if not parts:
        return np.zeros(0) if width is None else np.zeros((0, width))
    return np.concatenate(parts)


def _stamps_of(got: list[_Decoded | None]) -> Any:
    """A stream's time stamps, in order (its decoded array itself where nothing is left out:
    no copy)."""
    parts = [d for d in got if d is not None]
    base = _base(parts[0].stamps) if parts else None
    if base is not None and _whole(parts):
        return base
    return _joined([d.stamps for d in parts])


def _misrouted(
    streams: dict[int, tuple[_Acc, str, int, list[_Decoded | None]]],
    problems: list[str],
    skipped: list[int],
) -> None:
    """Samples chunks whose stream id was damaged into that of another stream of the same
    layout: their samples come at a rate far from the stream's own, at the rate of another
    stream, and fill a hole in that stream's time stamps. They are dropped, and their byte
    offsets added to ``skipped``."""
    stamps = {
        sid: _stamps_of(got) for sid, (_a, fmt, _n, got) in streams.items() if fmt != "string"
    }
    for sid, (acc, fmt, nch, got) in streams.items():
        if fmt == "string" or not (math.isfinite(acc.rate) and acc.rate > 0):
            continue
        for i, d in enumerate(got):
            if d is None or len(d.stamps) < 3:
                continue
            t0, t1 = d.first, d.last
            span = t1 - t0
            if not (math.isfinite(span) and span > 0):
                continue
            rate = (len(d.stamps) - 1) / span
            if 0.5 <= rate / acc.rate <= 2.0:
                continue
            for oid, (other, ofmt, onch, _og) in streams.items():
                ts = stamps.get(oid)
                if (
                    oid == sid or (ofmt, onch) != (fmt, nch) or ts is None
                    or not (math.isfinite(other.rate) and 0.8 <= rate / other.rate <= 1.25)
                ):  # fmt: skip
                    continue
                k = searchsorted(ts, t0)
                if (
                    k == searchsorted(ts, t1, side="right")
                    and 0 < k < len(ts)
                    and (float(ts[k]) - float(ts[k - 1]) >= span)
                ):
                    problems.append(
                        f"a samples chunk at byte {d.start} labelled {acc.label()} holds samples "
                        f"at {rate:.4g} Hz that fill a hole in {other.label()}: skipped (a "
                        "damaged stream id)"
                    )
                    got[i] = None
                    skipped.append(d.start)
                    break


class _Mapped:
    """A file's bytes, mapped rather than read (``.xdfz``: decompressed into an unnamed
    temporary file first, a block at a time), so a large recording is not held in memory: the
    pages already gone through are handed back (:meth:`passed`) and come back from the disk
    cache if they are read again."""

    STEP = 64 << 20  # bytes gone through between hand-backs

    def __init__(self, p: Path) -> None:
        self.notes: list[str] = []
        if p.suffix.lower() == ".xdfz":
            fh: Any = tempfile.TemporaryFile(prefix="wot-xdfz-")  # noqa: SIM115 (mapped below)

            def write(piece: bytes) -> None:
                try:
                    fh.write(piece)
                except OSError as exc:  # the temporary folder's fault, not the file's
                    raise InputError(
                        f"{p.name}: no room to decompress it in the temporary folder "
                        f"{tempfile.gettempdir()} ({exc.strerror or exc}); set TMPDIR to a "
                        "folder with room"
                    ) from None

            try:
                note = _gunzip(p, None, write)
                fh.flush()
            except BaseException:
                fh.close()
                raise
            if note:
                self.notes.append(note)
        else:
            fh = open(p, "rb")  # noqa: SIM115 (the mapping outlives it; closed below)
        with fh:
            self.size = os.fstat(fh.fileno()).st_size
            self.map: mmap.mmap | None = (
                mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else None
            )
        self.raw: Any = self.map if self.map is not None else b""
        self._done = 0
        self._advise = self.map is not None and hasattr(mmap, "MADV_DONTNEED")

    def passed(self, pos: int) -> None:
        """The bytes before ``pos`` are not needed for now: give their pages back."""
        if self._advise and pos - self._done >= self.STEP:
            assert self.map is not None
            upto = pos // mmap.PAGESIZE * mmap.PAGESIZE
            if upto:
                self.map.madvise(mmap.MADV_DONTNEED, 0, upto)
            self._done = pos

    def again(self) -> None:
        """A new pass over the file starts (from its beginning)."""
        self._done = 0

    def close(self, view: memoryview | None = None) -> None:
        try:
            if view is not None:
                view.release()
            if self.map is not None:
                self.map.close()
        except BufferError:  # a view of it is still alive somewhere: closed when collected
            pass


def read_xdf(path: str | Path) -> XdfFile:
    """Read every chunk of an XDF file (``.xdfz``: gzip, see :func:`gunzip`) into
    :class:`XdfFile`.

    Never raises on damage after the magic bytes: a chunk that cannot be parsed is named in
    :attr:`XdfFile.problems` (with its byte offset) and reading resumes after the next boundary
    chunk; a file cut short keeps every complete chunk. Values that no chunk can hold are not
    believed: a samples chunk whose count cannot fit it, or that does not fit its stream's
    layout, is skipped; a stream header whose channel count or format does not fit its samples
    chunks is repaired from their byte counts; a samples chunk of a stream without a header,
    or whose stream id was damaged into another stream's, is skipped and counted. Wherever
    samples are skipped, :attr:`XdfStream.breaks` says so. Raises ``OSError`` when the file
    cannot be read and ``ValueError`` when it is not XDF at all
    (:class:`DecompressionLimitError`: a ``.xdfz`` file that decompresses to too much).
    """
    p = Path(path)
    mapped = _Mapped(p)
    buf = memoryview(mapped.raw)
    try:
        return _read_mapped(p, mapped, buf)
    finally:
        mapped.close(buf)


def _read_mapped(p: Path, mapped: _Mapped, buf: memoryview) -> XdfFile:
    raw = mapped.raw
    if raw[:4] != MAGIC:
        raise ValueError(f"{p.name}: not an XDF file (no 'XDF:' magic bytes)")
    out = XdfFile(str(p), None, problems=list(mapped.notes))
    accs: dict[int, _Acc] = {}
    order: list[int] = []
    orphans: dict[int, list[int]] = {}  # stream id: [samples chunks, first byte]
    lost: dict[int, str] = {}  # stream id: why its header could not be read
    skipped: list[int] = []  # byte offsets of samples chunks left out (whose stream lost them)
    pos = 4
    size = len(raw)
    mapped.again()
    while pos < size:
        start = pos
        mapped.passed(start)
        try:
            if buf[pos] in (1, 4, 8) and pos + 1 + buf[pos] > size:
                # cut inside the chunk's own length field
                out.problems.append(
                    f"the file ends inside a chunk at byte {start} ({size - start} byte(s) of "
                    "its length field): cut short, everything before it is kept"
                )
                break
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
                try:
                    out.header = ElementTree.fromstring(bytes(buf[pos:end]))
                except ElementTree.ParseError as exc:
                    out.problems.append(f"the file header at byte {start} is unreadable ({exc})")
            elif tag in (TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET, TAG_STREAM_FOOTER):
                (sid,) = struct.unpack_from("<I", buf, pos)
                pos += 4
                if pos > end:
                    raise ValueError(f"a chunk of {length} bytes has no room for its stream id")
                if tag == TAG_STREAM_HEADER:
                    if sid in accs:
                        out.problems.append(
                            f"a second header of {accs[sid].label()} at byte {start}: ignored, "
                            "the first is kept"
                        )
                    else:
                        try:
                            el = ElementTree.fromstring(bytes(buf[pos:end]))
                        except ElementTree.ParseError as exc:
                            why = f"its header at byte {start} is unreadable ({exc})"
                            lost.setdefault(sid, why)
                        else:
                            accs[sid] = _Acc(sid, el, start)
                            order.append(sid)
                            lost.pop(sid, None)
                elif sid not in accs:
                    # a chunk of a stream whose header was lost (or whose stream id is damaged):
                    # its length is still good; the samples it held are missing somewhere
                    if tag == TAG_SAMPLES:
                        orphans.setdefault(sid, [0, start])[0] += 1
                        skipped.append(start)
                elif tag == TAG_SAMPLES:
                    acc = accs[sid]
                    n, at = read_varlen(buf, pos)
                    if n > end - at:  # each sample takes at least two bytes
                        out.problems.append(
                            f"a samples chunk of {acc.label()} at byte {start}: {n} samples "
                            f"cannot fit in a chunk of {end - at} bytes: skipped"
                        )
                        skipped.append(start)
                    else:
                        acc.pieces.append(_Piece(start, at, end, n, len(acc.clock_v) - 1))
                elif tag == TAG_CLOCK_OFFSET:
                    if end - pos < 16:
                        raise ValueError(f"a clock offset chunk of {length} bytes")
                    ct, cv = struct.unpack_from("<dd", buf, pos)
                    accs[sid].clock_t.append(ct)
                    accs[sid].clock_v.append(cv)
                else:
                    try:
                        accs[sid].footer = ElementTree.fromstring(bytes(buf[pos:end]))
                    except ElementTree.ParseError as exc:
                        out.problems.append(
                            f"the footer of {accs[sid].label()} at byte {start} is unreadable "
                            f"({exc}): ignored"
                        )
            elif tag != TAG_BOUNDARY:
                out.problems.append(f"unknown chunk tag {tag} at byte {start}: skipped")
            pos = end
        except (ValueError, struct.error, IndexError) as exc:
            for a in accs.values():  # any stream may have lost samples here
                a.brk()
            nxt = raw.find(BOUNDARY_UUID, start + 1)
            where = f"a damaged chunk at byte {start} ({exc})"
            if nxt < 0:
                out.problems.append(f"{where}; no boundary chunk after it: the rest is lost")
                break
            pos = nxt + len(BOUNDARY_UUID)
            out.problems.append(f"{where}: skipped {pos - start} bytes to the next boundary")
    for sid, (k, first) in orphans.items():
        why = lost.get(sid, "which has no header")
        out.problems.append(
            f"{k} samples chunk(s) of stream {sid} ({why}), the first at byte {first}: skipped"
        )
    for sid, why in lost.items():
        if sid not in orphans:
            out.problems.append(f"stream {sid}: {why}; it is left out")
    # where a file's numbers would pass the spill limit in memory, its largest streams are
    # decoded to disk until the rest fit; a small one stays in memory (two temporary files a
    # stream: a file of a thousand small streams must not run out of file descriptors)
    nbytes = {sid: _numbers_bytes(accs[sid]) for sid in order}
    held, to_disk = sum(nbytes.values()), set()
    for sid in sorted(order, key=lambda k: -nbytes[k]):
        if held <= spill_bytes() or nbytes[sid] < SPILL_MIN_STREAM:
            break
        to_disk.add(sid)
        held -= nbytes[sid]
    streams = {
        sid: (
            accs[sid],
            *_read_stream(buf, accs[sid], out.problems, skipped, mapped, sid in to_disk),
        )
        for sid in order
    }
    _misrouted(streams, out.problems, skipped)
    for sid in order:
        a, fmt, nch, got = streams.pop(sid)  # the pieces are let go as they are copied
        parts: list[Any] = [d for d in got if d is not None]
        breaks: set[int] = set()
        count = 0
        for d in got:
            if d is None:
                breaks.add(count)
            else:
                count += len(d.stamps)
        # a samples chunk skipped anywhere may have been this stream's (its id damaged)
        cum = np.cumsum([0] + [len(d.stamps) for d in parts])
        lost_at = np.searchsorted([d.start for d in parts], sorted(set(skipped)))
        breaks.update(int(cum[k]) for k in lost_at)
        del got
        sizes = [len(d.stamps) for d in parts]
        # the clock offset before each sample, as runs (not an index as long as the stream)
        firsts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
        ids = np.array([d.offset for d in parts], dtype=np.int32)
        new = np.ones(len(ids), dtype=bool)
        new[1:] = ids[1:] != ids[:-1]
        runs = (
            (firsts[new], ids[new])
            if len(ids)
            else (np.zeros(1, np.int64), np.full(1, -1, np.int32))
        )
        series: Any
        if fmt == "string":
            stamps = np.concatenate([d.stamps for d in parts]) if parts else np.zeros(0)
            series = [v for d in parts for v in d.values]
        elif parts and _whole(parts):  # every chunk read, in order: the arrays as decoded
            stamps, series = _base(parts[0].stamps), _base(parts[0].values)
        elif parts and isinstance(parts[0].stamps, DiskArray):  # spilled, chunks left out
            stamps = _joined([d.stamps for d in parts])
            series = _joined([d.values for d in parts])
        else:  # chunks left out: the samples read, moved together
            stamps = np.empty(sum(sizes))
            series = np.empty((len(stamps), nch), np.dtype(VALUE_TYPES[fmt]).newbyteorder("="))
            k = 0
            for d, n in zip(parts, sizes, strict=True):
                stamps[k : k + n] = d.stamps
                series[k : k + n] = d.values
                k += n
        del parts
        if (fmt, str(nch)) != (a.fmt, a.nch_text):  # the layout read, for every reader after
            for tag, val in (("channel_format", fmt), ("channel_count", str(nch))):
                node = a.header.find(tag)
                if node is None:
                    node = ElementTree.SubElement(a.header, tag)
                node.text = val
        out.streams.append(
            XdfStream(
                sid,
                a.header,
                stamps,
                series,
                np.asarray(a.clock_t, dtype=np.float64),
                np.asarray(a.clock_v, dtype=np.float64),
                runs,
                a.footer,
                sorted(breaks),
            )
        )
    return out


def encode_xdf(xf: XdfFile) -> bytes:
    """An XDF file of what :func:`read_xdf` made of one: each stream's header (as repaired),
    its samples (those it kept, every one with its time stamp), its clock offsets where they
    came among them, and its footer. Other readers (pyxdf) read a damaged file through it, so
    they never see the values :func:`read_xdf` did not believe."""
    info = xf.header
    if info is None:
        info = ElementTree.Element("info")
        ElementTree.SubElement(info, "version").text = "1.0"
    out = [MAGIC, chunk(TAG_FILE_HEADER, ElementTree.tostring(info, encoding="utf-8"))]
    for st in xf.streams:
        sid = struct.pack("<I", st.stream_id)
        out.append(chunk(TAG_STREAM_HEADER, sid + ElementTree.tostring(st.header, "utf-8")))
        idx = st.offset_index
        stamps = np.asarray(st.time_stamps)  # (a spilled stream: read into memory, for pyxdf)
        series = st.time_series if st.fmt == "string" else np.asarray(st.time_series)
        for k in range(-1, len(st.clock_values)):
            sel = np.flatnonzero(idx == k)
            if sel.size:
                ts = stamps[sel]
                if st.fmt == "string":
                    rows = [series[i] for i in sel.tolist()]
                    out.append(_strings_chunk(st.stream_id, ts, rows))
                else:
                    out.append(numeric_samples(st.stream_id, ts, series[sel], st.fmt))
            if k + 1 < len(st.clock_values):
                out.append(
                    clock_offset(st.stream_id, st.clock_times[k + 1], st.clock_values[k + 1])
                )
        if st.footer is not None:
            out.append(chunk(TAG_STREAM_FOOTER, sid + ElementTree.tostring(st.footer, "utf-8")))
    return b"".join(out)


def _strings_chunk(stream_id: int, timestamps: np.ndarray, rows: list[Any]) -> bytes:
    parts = [struct.pack("<I", stream_id), varlen(len(rows))]
    for t, row in zip(np.asarray(timestamps, dtype=np.float64).tolist(), rows, strict=True):
        parts.append(b"\x08" + struct.pack("<d", t))
        for v in row if isinstance(row, list) else [row]:
            b = str(v).encode("utf-8")
            parts.append(varlen(len(b)) + b)
    return chunk(TAG_SAMPLES, b"".join(parts))
