"""Recorded files → per-modality signals for the same pipeline that runs live.

Supported now: CSV with a header (a ``time_s`` column, or ``--fs``; read by :mod:`.csvfile`),
WFDB records (PhysioNet; multi-rate records such as drivedb are read with ``smooth_frames=False``
so each signal keeps its own rate), XDF (LabRecorder's: read by :mod:`.xdf`, its time stamps
synchronised and dejittered as pyxdf does it, a block at a time, by :mod:`.xdfsync`; wot's own
recordings rebuilt from their session records) and EDF/BDF (read with edfio).

Channel selection: each modality can be named (CSV column, WFDB signal name, case-insensitive)
or given as a 0-based index. Without a choice, names are matched against common spellings
(``ECG``/lead names, ``EDA``/``GSR``, ``RESP``/``RSP``). A CSV without a respiration column but
with three accelerometer columns (``acc_x, acc_y, acc_z``, ``accX``..., ``ax, ay, az``) gives the
``acc`` modality, an ``(n, 3)`` signal from which breathing is derived.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import math
import os
import re
import reprlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_rate
from ..clock import GAP_MIN_S, GAP_MIN_SAMPLES, MAX_FILL_S, Chunk, SessionClock
from ..csvtext import unescape_cell
from ..errors import InputError, SignalQualityWarning
from ..modalities import FILE_MODALITIES, MODALITIES
from ..session_log import (
    DEFAULT_SUBJECT,
    Calibrate,
    End,
    EngineStart,
    Gap,
    Lost,
    Marker,
    Origin,
    Resume,
    SessionInfo,
    SessionLog,
    StreamStart,
)
from . import spill
from .base import Batch
from .csvfile import KEEP, place_by_time, read_csv_columns, sniff_csv
from .spill import DiskArray
from .xdf import (
    SESSION_STREAM,
    VALUE_TYPES,
    DecompressionLimitError,
    XdfFile,
    XdfStream,
    encode_xdf,
    read_varlen,
    read_xdf,
)
from .xdfsync import SyncOptions, synchronize

MODALITY_PATTERNS: dict[str, tuple[str, ...]] = {
    m: MODALITIES[m].file_patterns for m in FILE_MODALITIES
}

ACC_AXIS_PATTERN = (
    r"^(?:acc|accel|accelerometer|imu[ _.-]?acc|a)[ _.-]?({})"  # acc_x, accX, ax, ...
    r"(?:[ _.-]?\(?(?:g|mg|m/s\^?2|m/s²)\)?)?$"  # ... optionally with a unit: acc_x (g)
)
"""Accelerometer column names, ``{}`` standing for the axis letter (x, y or z)."""

EDA_UNITS = {
    "us": 1.0,
    "µs": 1.0,  # micro sign
    "μs": 1.0,  # Greek mu
    "microsiemens": 1.0,
    "ns": 1e-3,
    "nanosiemens": 1e-3,
    "ms": 1e3,
    "millisiemens": 1e3,
    "s": 1e6,
    "siemens": 1e6,
    # the mho is the siemens by its older name (still on some GSR amplifiers' labels)
    "umho": 1.0,
    "µmho": 1.0,
    "μmho": 1.0,
    "micromho": 1.0,
    "nmho": 1e-3,
    "mmho": 1e3,
    "mho": 1e6,
}


@dataclass
class Signal:
    """One signal of a recording."""

    data: Any
    """The samples: a numpy array, or for a file too large to hold in memory a
    :class:`~wot_biofeedback.sources.spill.DiskArray` read a slice at a time (``len``,
    ``shape``, slices and ``* factor`` work on both)."""
    fs: float
    name: str
    unit: str = ""
    t0: float = 0.0  # session seconds of the first sample
    times: np.ndarray | None = None
    """Session seconds of each value of an irregular signal (RR intervals: the closing beat);
    None for a sampled signal."""

    @property
    def duration_s(self) -> float:
        if self.times is not None:
            return float(self.times[-1]) - self.t0 if len(self.times) else 0.0
        return self.data.shape[0] / self.fs


@dataclass
class Recording:
    """Signals chosen per modality from one file."""

    path: str
    signals: dict[str, Signal] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    session: dict[str, Any] | None = None
    """For a session recorded by wot: its metadata, parameters, baseline and calibrations
    (:func:`_read_wot_xdf`); None for other files."""
    markers: list[tuple[float, str]] = field(default_factory=list)
    """Annotations ``(time_s, text)`` on the recording's clock: a wot session's therapist
    markers, an XDF file's string streams, or a ``--markers`` file."""
    subject: str = DEFAULT_SUBJECT
    """The person these signals are of."""
    subjects: list[str] = field(default_factory=lambda: [DEFAULT_SUBJECT])
    """Every subject the file holds (a wot recording of a session with several people)."""
    csv_info: dict[str, Any] | None = None
    """For a CSV file: how it was read (separator, decimal mark, rate, bad lines skipped, time
    gaps), as ``summary.json`` gives it under ``input.csv``; None for other files."""

    @property
    def duration_s(self) -> float:
        return max((s.t0 + s.duration_s for s in self.signals.values()), default=0.0)


def _of_subject(name: str, subject: str | None) -> str | None:
    """``name`` without a ``SUBJECT_`` (or ``SUBJECT-``, ``SUBJECT.``, ``SUBJECT:``,
    ``SUBJECT/``, ``SUBJECT ``) prefix, or None where it is not one of that subject's; the
    name itself when no subject is asked for."""
    if subject is None:
        return name
    m = re.match(rf"\s*{re.escape(subject)}[_\-.:/ ](.+)", name, re.IGNORECASE)
    return m.group(1) if m else None


of_subject = _of_subject  # public: which of a file's names are a person's (wot analyze --subjects)


def _for_subject(rec: Recording, subject: str | None) -> Recording:
    if subject is not None:
        rec.subject = subject
        rec.subjects = [subject]
    return rec


def _pick(
    names: list[str],
    modality: str,
    choice: str | None,
    where: str,
    subject: str | None = None,
    skip: set[int] | None = None,
) -> int | None:
    """The index of ``modality``'s signal among ``names``: the one named by ``choice`` (a name
    or a 0-based index), else the first whose name fits the modality's patterns; with a
    ``subject``, only names prefixed by it (``therapist_ecg``) are looked at; the indices in
    ``skip`` (a CSV file's text columns) are never found by their name."""
    lower = [n.strip().lower() for n in names]
    if choice is not None:
        if re.fullmatch(r"\d+", choice.strip()):
            idx = int(choice)
            if idx >= len(names):
                raise InputError(
                    f"{modality} channel index {idx} is out of range; {where} has {len(names)} "
                    f"channels: {', '.join(names)}"
                )
            return idx
        c = choice.strip().lower()
        if c in lower:
            return lower.index(c)
        raise InputError(
            f"{modality} channel {choice!r} not found in {where}; available: {', '.join(names)}"
        )
    own = [None if i in (skip or ()) else _of_subject(n, subject) for i, n in enumerate(lower)]
    for pat in MODALITY_PATTERNS[modality]:
        for i, n in enumerate(own):
            if n is not None and re.search(pat, n):
                return i
    return None


def is_resistance_unit(unit: str) -> bool:
    """``unit`` is one of resistance (ohm, kOhm, kΩ, MΩ, ...): skin resistance, not the
    conductance EDA needs (it is not a factor away: µS = 1000 / kOhm)."""
    u = unit.strip().lower().replace("\u2126", "\u03c9")  # the ohm sign as omega
    return re.fullmatch(r"(?:k|kilo?|m|mega?)?\s*(?:ohms?|\u03c9)", u) is not None


def parse_eda_unit(unit: str) -> float:
    """Factor that converts ``unit`` to µS (``uS``, ``nS``, ``mS``, ``S`` or ``raw:SCALE``)."""
    u = unit.strip()
    if u.lower().startswith("raw:"):
        try:
            scale = float(u.split(":", 1)[1])
        except ValueError:
            raise InputError(f"bad EDA unit {unit!r}; use raw:SCALE with a number") from None
        if not (np.isfinite(scale) and scale > 0):
            raise InputError(f"bad EDA unit {unit!r}; the raw:SCALE factor must be > 0")
        return scale
    f = EDA_UNITS.get(u.lower())
    if f is None and is_resistance_unit(u):
        raise InputError(
            f"EDA unit {unit!r} is one of skin resistance, which is not a factor away from "
            "conductance (µS = 1000 / kOhm): convert the signal to µS first"
        )
    if f is None:
        raise InputError(f"unknown EDA unit {unit!r}; use uS, nS, mS, S or raw:SCALE")
    return f


def _open_xdf(p: Path) -> XdfFile:
    """:func:`read_xdf`, its failures as one-line :class:`InputError` naming the file."""
    try:
        return read_xdf(p)
    except DecompressionLimitError as exc:
        raise InputError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{p.name}: not a readable XDF file ({exc})") from None


def read_recording(
    path: str | os.PathLike[str],
    channels: dict[str, str | None] | None = None,
    fs: float | None = None,
    eda_unit: str | None = None,
    subject: str | None = None,
    skip_bad_lines: bool = False,
) -> Recording:
    """Read a recording and choose one signal per modality (of one subject).

    Parameters
    ----------
    path : path
        CSV file, or WFDB record (with or without ``.hea``).
    channels : dict
        Optional ``{"ecg": name_or_index, "eda": ..., "resp": ...}``.
    fs : float, optional
        Sampling rate for CSV files without a ``time_s`` column, Hz.
    eda_unit : str, optional
        Unit of the EDA signal (default µS).
    subject : str, optional
        The person whose signals to read (a wot recording's subject, or a prefix of the
        file's signal names).
    skip_bad_lines : bool
        CSV: skip and count malformed lines instead of stopping at the first.

    Raises
    ------
    InputError
        Missing or unreadable file, unknown channel, no usable signal.
    """
    channels = dict(channels or {})
    # validate options before touching the file, so a bad one is reported whatever the input
    factor = parse_eda_unit(eda_unit) if eda_unit else 1.0
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a directory; give a CSV file or a WFDB record path")
    suffix = p.suffix.lower()
    if suffix in (".edf", ".bdf"):
        rec = _read_edf(p, channels, subject)
    elif suffix in (".xdf", ".xdfz"):
        rec = _read_xdf(p, channels, factor if eda_unit else None, subject)
    elif suffix in (".csv", ".txt", ".tsv"):
        rec = _read_csv(p, channels, fs, subject, skip_bad_lines)
    elif suffix in (".hea", ".dat", "") or p.with_suffix(".hea").exists():
        rec = _read_wfdb(p.with_suffix("") if suffix in (".hea", ".dat") else p, channels, subject)
    else:
        raise InputError(f"{p.name}: unknown file type {suffix!r} (expected .csv or a WFDB record)")
    if skip_bad_lines and rec.csv_info is None:
        rec.notes.append("--skip-bad-lines is for CSV files; this one is read as it is")
    if "eda" in rec.signals and rec.session is None:  # a wot recording is in µS already
        sig = rec.signals["eda"]
        sig.data = sig.data * factor
        sig.unit = "uS"
        med = spill.median(sig.data)  # a day of samples: not all read into memory at once
        if np.isfinite(med) and not 0.05 <= med <= 100.0:
            msg = (
                f"EDA median {med:.4g} is outside the plausible 0.05-100 µS; "
                "check --eda-unit (quality will be flagged)"
            )
            rec.notes.append(msg)
            warnings.warn(msg, SignalQualityWarning, stacklevel=2)
    if not rec.signals:
        whose = (
            f" of subject {subject!r} (names starting {subject}_, {subject}-, ...)"
            if subject and rec.session is None
            else ""
        )
        raise InputError(
            f"{p.name}: no ECG, EDA or RESP signal found{whose}; name them with --ecg/--eda/--resp"
        )
    return rec


def _read_csv(
    p: Path,
    channels: dict[str, str | None],
    fs: float | None,
    subject: str | None = None,
    skip_bad_lines: bool = False,
) -> Recording:
    """A CSV file (:mod:`~wot_biofeedback.sources.csvfile`): only the columns chosen are read;
    a ``time_s`` column places the rows on the session clock (gaps stay gaps), else ``fs``."""
    layout = sniff_csv(p)
    names = layout.names
    lower = [n.lower() for n in names]
    tcol = lower.index("time_s") if "time_s" in lower else None
    if tcol is None and fs is None:
        raise InputError(f"{p.name}: no time_s column; give the sampling rate with --fs")
    if tcol is None:
        rate = check_rate(fs, "CSV sampling rate")  # before reading the file
    if tcol is not None and tcol in layout.text:
        line, v = layout.text[tcol]
        raise InputError(f"{p.name}, line {line}: time_s is {v!r}; it must be seconds (a number)")
    rec = _for_subject(Recording(str(p)), subject)
    rec.notes.extend(layout.notes())
    picked: dict[str, int] = {}
    for m in _modalities(channels):
        idx = _pick(names, m, channels.get(m), p.name, subject, skip=set(layout.text))
        if idx is not None and idx in layout.text:
            line, v = layout.text[idx]
            raise InputError(
                f"{p.name}: column {names[idx]!r} (--{m}) holds text ({v!r} on line {line}), "
                "not a signal"
            )
        if idx is not None:
            picked[m] = idx
    own = [_of_subject(n, subject) or "" for n in names]
    acc = _acc_columns(own, set(layout.text))
    if acc and "resp" in picked:
        label = ",".join(names[i] for i in acc)
        rec.notes.append(f"accelerometer columns {label} not used: the RESP belt gives breathing")
        acc = None
    if not picked and not acc:
        return rec  # no signal to read: read_recording says so, naming the options
    used = sorted({*picked.values(), *(acc or ())} | ({tcol} if tcol is not None else set()))
    table = read_csv_columns(
        layout,
        used,
        required=(tcol,) if tcol is not None else (),
        skip_bad_lines=skip_bad_lines,
        keep_place=tcol is None,
    )
    info: dict[str, Any] = {
        "separator": layout.separator,
        "decimal_mark": "," if layout.decimal_comma else ".",
        "encoding": "utf-8" if layout.encoding == "utf-8-sig" else layout.encoding,
        "rows": table.rows,
        "skipped_lines": table.skipped,
        "skipped_line_list": [{"line": n, "problem": why} for n, why in table.skipped_lines],
    }
    if table.skipped:
        shown = "; ".join(f"line {n}: {why}" for n, why in table.skipped_lines[:3])
        more = f"; and {table.skipped - 3} more" if table.skipped > 3 else ""
        rec.notes.append(
            f"{table.skipped} bad line(s) skipped ({shown}{more})"
            + (", each left as a missing sample (NaN) so what follows keeps its time"
               if tcol is None else "")
        )  # fmt: skip
    if tcol is not None:
        placed = place_by_time(table, tcol, fs)
        rate = placed.rate
        info["time_column"] = names[tcol]
        info["gaps"] = len(placed.gaps)
        info["gap_s"] = round(placed.gap_s, 6)
        info["gap_list"] = [
            {"start_s": a, "length_s": n, "line": line} for a, n, line in placed.gaps[:KEEP]
        ]
        if placed.gaps:
            a, n, line = max(placed.gaps, key=lambda g: g[1])
            where = f"{n:.1f} s from {a:.1f} s, before line {line}"
            rec.notes.append(
                f"time_s: a gap ({where}) is left empty (NaN), so what follows keeps its time"
                if len(placed.gaps) == 1
                else f"time_s: {len(placed.gaps)} gaps, {placed.gap_s:.1f} s in all, are left "
                f"empty (NaN), so what follows keeps its time; the longest: {where}"
            )
    info["rate_hz"] = rate
    rec.csv_info = info
    for m, idx in picked.items():
        rec.signals[m] = Signal(table.columns[idx], rate, names[idx])
    _one_cardiac(rec, channels)
    if acc:
        label = ",".join(names[i] for i in acc)
        rec.signals["acc"] = Signal(spill.stack([table.columns[i] for i in acc]), rate, label)
        rec.notes.append(f"breathing derived from the chest accelerometer columns {label}")
    return rec


def _acc_columns(names: list[str], skip: set[int]) -> list[int] | None:
    """The three accelerometer columns (x, y, z) among ``names``, or None."""
    lower = [n.strip().lower() for n in names]
    idx = []
    for axis in "xyz":
        pat = ACC_AXIS_PATTERN.format(axis)
        hit = [i for i, n in enumerate(lower) if i not in skip and re.fullmatch(pat, n)]
        if not hit:
            return None
        idx.append(hit[0])
    return idx


class _EdfHeaderOnly(io.BufferedReader):
    """An EDF/BDF file opened for edfio to parse its header only: a read of "the rest" (the
    data records) gives nothing, so edfio neither maps nor reads them; the header's bytes are
    kept (:attr:`seen`) for the data record layout."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__(raw)
        self.seen = bytearray()

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return b""
        got = super().read(size)
        self.seen += got
        return got


@dataclass
class _EdfLayout:
    """Where an EDF/BDF file's signals are (:func:`_edf_layout`)."""

    signals: list[Any]
    """edfio's ordinary signals (the annotation signals left out), in the file's order."""
    starts: list[int]
    """Where each of them begins in a data record, in samples."""
    record: int
    """Samples in a data record, of every signal (annotation signals included)."""
    width: int
    """Bytes a sample: 2 (EDF) or 3 (BDF)."""
    offset: int
    """Bytes before the first data record (the header's own count, as edfio reads it)."""
    records: int
    """Complete data records in the file."""
    notes: list[str]


def _edf_layout(p: Path) -> _EdfLayout:
    """An EDF/BDF file's header, parsed by edfio (labels, rates, ranges), and where each
    signal's samples are: nothing of the data records is read."""
    import edfio

    bdf = p.suffix.lower() == ".bdf"
    with _EdfHeaderOnly(io.FileIO(p)) as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "0 data records": edfio was given the header only
        edf = edfio.read_bdf(fh) if bdf else edfio.read_edf(fh)
        head = bytes(fh.seen)
    signals: list[Any] = list(edf.signals)
    # the data record holds every signal, annotation signals too (which edfio's public
    # signals leave out): their labels and sizes are read from the header edfio parsed
    ns = (len(head) - 256) // 256
    annotations = "BDF Annotations" if bdf else "EDF Annotations"
    labels = [head[256 + 16 * i : 272 + 16 * i].decode("ascii", "replace").rstrip()
              for i in range(ns)]  # fmt: skip
    at = 256 + ns * 216  # "samples per data record": after label ... prefiltering
    sizes = [int(head[at + 8 * i : at + 8 * i + 8].decode("ascii", "replace")) for i in range(ns)]
    ordinary = [i for i in range(ns) if labels[i] != annotations]
    if [sizes[i] for i in ordinary] != [s.samples_per_data_record for s in signals]:
        raise ValueError("the signal headers do not match edfio's reading of them")
    width = 3 if bdf else 2
    record = sum(sizes)
    offset = edf.bytes_in_header_record
    data = p.stat().st_size - offset
    if data < 0:
        raise ValueError(f"the header says it is {offset} bytes, the file is {offset + data}")
    records = data // (record * width)  # a record of no samples: edfio failed on it already
    notes = []
    if data > records * record * width:
        notes.append(
            f"the last data record is incomplete ({data - records * record * width} of "
            f"{record * width} bytes): left out"
        )
    said = int(head[236:244].decode("ascii", "replace"))  # edfio's reading checked it
    if said != records:
        notes.append(
            f"the header gives {said} data records, the file holds {records}: {records} read"
        )
    starts = [sum(sizes[:i]) for i in ordinary]
    return _EdfLayout(signals, starts, record, width, offset, records, notes)


def _edf_calibration(sig: Any) -> tuple[tuple[float, float] | None, str]:
    """``(gain, offset)`` from an EDF signal's ranges, as edfio computes them (physical value
    ``(digital + offset) * gain``), or None for a signal edfio leaves uncalibrated, with a note
    saying why."""
    try:
        dmin, dmax = sig.digital_min, sig.digital_max
        pmin, pmax = sig.physical_min, sig.physical_max
    except ValueError:  # a range that is not a number (edfio: uncalibrated, silently)
        return None, f"{sig.label.strip()!r}: its ranges are not numbers: read uncalibrated"
    try:
        gain = (pmax - pmin) / (dmax - dmin)
        offset = pmax / gain - dmax
    except ZeroDivisionError:
        which, value = ("digital", dmin) if dmax == dmin else ("physical", pmin)
        return None, (
            f"{sig.label.strip()!r}: {which} minimum equals maximum ({value}): read "
            "uncalibrated (digital values)"
        )
    return (gain, offset), ""


def _read_edf_signals(
    p: Path, lay: _EdfLayout, chosen: list[tuple[int, tuple[float, float] | None, float]]
) -> list[Any]:
    """The chosen signals ``(index, calibration, factor)`` of an EDF/BDF file, read a block of
    data records at a time (plain reads, no mapping) and calibrated as edfio calibrates them
    (then times ``factor`` where it is not 1): the same float64 values as edfio's
    ``signal.data``, in memory or, past :func:`~.spill.spill_bytes`, in temporary files."""
    per = [lay.signals[i].samples_per_data_record for i, _, _ in chosen]
    cols = spill.FilledColumns([lay.records * n for n in per])
    row = lay.record * lay.width
    step = max(1, spill.BLOCK_ROWS // max(1, lay.record))  # data records a block
    buf = bytearray(min(step, lay.records) * row)
    with open(p, "rb", buffering=0) as fh:
        for r0 in range(0, lay.records, step):
            k = min(step, lay.records - r0)
            view = memoryview(buf)[: k * row]
            fh.seek(lay.offset + r0 * row)
            got = 0
            while got < len(view):
                n = fh.readinto(view[got:])
                if not n:
                    raise OSError(f"the file ended at byte {lay.offset + r0 * row + got}")
                got += n
            if lay.width == 2:
                records = np.frombuffer(view, dtype="<i2").reshape(k, lay.record)
            else:
                records = np.frombuffer(view, dtype=np.uint8).reshape(k, 3 * lay.record)
            for j, (i, cal, factor) in enumerate(chosen):
                a = lay.starts[i]
                if lay.width == 2:
                    digital = records[:, a : a + per[j]].reshape(-1)
                else:  # 24-bit little-endian two's complement, to int32 as edfio does
                    b = records[:, 3 * a : 3 * (a + per[j])].reshape(-1, 3).astype(np.int32)
                    digital = b[:, 0] + (b[:, 1] << 8) + (b[:, 2] << 16)
                    digital[digital >= 1 << 23] -= 1 << 24
                values = digital.astype(np.float64) if cal is None else (digital + cal[1]) * cal[0]
                cols.add(j, values if factor == 1.0 else values * factor)
    return cols.finish()


def _read_edf(p: Path, channels: dict[str, str | None], subject: str | None = None) -> Recording:
    """EDF/EDF+ or BDF/BDF+: physical values, each signal at its own rate.

    Signals are chosen by label (``--ecg "ECG I"``) or 0-based index, else by the usual
    patterns; the EDF+ annotation signal is never a candidate. A physical dimension of ``nS``
    or ``mS`` on the EDA signal is converted to µS (``uS``, ``µS``, none: taken as µS).

    The header is parsed by edfio; the chosen signals' samples are then read a block of data
    records at a time (:func:`_read_edf_signals`), into memory, or into temporary files when
    they would pass :func:`~.spill.spill_bytes`. An incomplete last record, a header whose
    record count is not the file's, and a signal edfio leaves uncalibrated are notes.
    """
    if not p.exists():
        raise InputError(f"file not found: {p}")
    kind = p.suffix[1:].upper()
    try:
        lay = _edf_layout(p)
    except Exception as exc:  # edfio raises several kinds on a damaged header
        why = f"{type(exc).__name__}: {exc}"
        raise InputError(f"{p.name}: not a readable {kind} file ({why})") from None
    labels = [s.label.strip() for s in lay.signals]
    rec = _for_subject(Recording(str(p)), subject)
    rec.notes.extend(lay.notes)
    chosen: dict[str, tuple[int, tuple[float, float] | None, float]] = {}
    units: dict[str, str] = {}
    rates: dict[str, float] = {}
    for m in _modalities(channels):
        idx = _pick(labels, m, channels.get(m), p.name, subject)
        if idx is None or idx in {i for i, _, _ in chosen.values()}:
            continue
        sig = lay.signals[idx]
        rates[m] = check_rate(float(sig.sampling_frequency), m)
        cal, why = _edf_calibration(sig)
        if why:
            rec.notes.append(why)
        unit = sig.physical_dimension.strip()
        factor = 1.0
        if m == "eda" and unit.lower() in ("ns", "ms"):
            factor = EDA_UNITS[unit.lower()]
            rec.notes.append(f"EDA {labels[idx]!r} converted from {unit} to µS")
            unit = "uS"
        chosen[m] = (idx, cal, factor)
        units[m] = unit
    try:
        data = _read_edf_signals(p, lay, list(chosen.values()))
    except OSError as exc:
        raise InputError(f"{p.name}: not a readable {kind} file ({exc})") from None
    for (m, (idx, _, _)), values in zip(chosen.items(), data, strict=True):
        rec.signals[m] = Signal(values, rates[m], labels[idx], units[m])
    _one_cardiac(rec, channels)
    return rec


def _read_xdf(
    p: Path,
    channels: dict[str, str | None],
    eda_factor: float | None = None,
    subject: str | None = None,
) -> Recording:
    """An XDF recording: a wot session (:func:`_read_wot_xdf`), or LabRecorder's (or any XDF
    writer's), read by :func:`~wot_biofeedback.sources.xdf.read_xdf` (bounded; past the spill
    limit its numbers are on disk).

    Timestamps are synchronised with the recorded clock offsets, clock resets handled and
    jitter removed as pyxdf's ``load_xdf`` does (:func:`~.xdfsync.synchronize`, a block at a
    time, checked against pyxdf in the tests); a pause longer than the session clock's gap
    rule breaks the jitter fit and becomes a gap, as live. A modality is
    chosen by stream name or type (``--ecg NAME``), else by the usual patterns on name and
    type; a numeric stream with a nominal rate is used, its first channel (or the channel whose
    label matches). Each signal starts at its first timestamp relative to the earliest chosen
    stream. String (marker) streams and empty streams are listed in the notes, never an error
    unless a chosen stream is empty.
    """

    if not p.exists():
        raise InputError(f"file not found: {p}")
    xf = _open_xdf(p)
    if is_wot_recording(p) and xf.by_name(SESSION_STREAM) is not None:
        return _read_wot_xdf(xf, channels, eda_factor, subject)
    if not xf.streams:
        raise InputError(f"{p.name}: no streams in the file (empty, or not XDF)")
    rec = _for_subject(Recording(str(p)), subject)
    # damage the reader worked around (it skips to the next boundary chunk)
    rec.notes.extend(f"damaged file: {m}" for m in xf.problems)
    numeric: list[tuple[str, str, float, int, XdfStream]] = []
    marker_streams = []
    for st in xf.streams:
        name, typ, fmt = st.name, st.type, st.fmt
        rate = st.nominal_srate
        n = len(st.time_stamps)
        if fmt == "string":
            marker_streams.append(st)
            rec.notes.append(f"stream {name!r} ({typ or 'no type'}): markers, not used as a signal")
            continue
        if not math.isfinite(rate):
            rec.notes.append(
                f"stream {name!r} ({typ or 'no type'}): nominal rate {rate:g} Hz is not a rate, "
                "not used"
            )
            continue
        if rate <= 0:
            rec.notes.append(f"stream {name!r} ({typ or 'no type'}): irregular, not used")
            continue
        numeric.append((name, typ, rate, n, st))
    chosen: dict[str, tuple[str, str, float, int, XdfStream]] = {}
    for m in _modalities(channels):
        want = channels.get(m)
        if want is not None:
            hit = [x for x in numeric if want.strip().lower() in (x[0].lower(), x[1].lower())]
            if not hit:
                avail = ", ".join(f"{x[0]} ({x[1]})" for x in numeric) or "none"
                raise InputError(
                    f"{m} stream {want!r} not found by name or type in {p.name}; "
                    f"numeric streams: {avail}"
                )
            chosen[m] = hit[0]
            continue
        for pat in MODALITY_PATTERNS[m]:
            hit = [
                x for x in numeric if x not in chosen.values()
                and (own := _of_subject(x[0].lower(), subject)) is not None
                and (re.search(pat, x[1].lower()) or re.search(pat, own))
            ]  # fmt: skip
            if hit:
                chosen[m] = hit[0]
                break
    for m, (name, _typ, _rate, n, _st) in list(chosen.items()):
        if n == 0:
            if channels.get(m) is not None:
                raise InputError(f"{p.name}: the {m} stream {name!r} holds no samples")
            rec.notes.append(f"stream {name!r} holds no samples: no {m}")
            del chosen[m]
    for x in numeric:
        if x[3] == 0 and x not in chosen.values():
            rec.notes.append(f"stream {x[0]!r} holds no samples")
    if not chosen:
        listed = "; ".join(
            f"{st.name!r} ({st.type or 'no type'}, {len(st.time_stamps)} samples)"
            for st in xf.streams
        )
        raise InputError(
            f"{p.name}: no ECG, PPG, EDA or RESP stream (streams: {listed or 'none'}); "
            "name one with --ecg/--ppg/--eda/--resp (stream name or type)"
        )
    refused = []
    for m, (name, _typ, rate, _n, _st) in list(chosen.items()):
        lo, hi = MODALITIES[m].fs_range
        if not lo <= rate <= hi:
            why = f"stream {name!r} has rate {rate:g} Hz, outside the {lo:g}-{hi:g} Hz {m} supports"
            if channels.get(m) is not None:
                raise InputError(f"{p.name}: the {m} {why}")
            refused.append(why)
            rec.notes.append(f"{why}: no {m}")
            del chosen[m]
    if not chosen:
        raise InputError(f"{p.name}: no usable ECG, PPG, EDA or RESP stream ({'; '.join(refused)})")
    # time stamps synchronised and dejittered as pyxdf does (xdfsync), a block at a time; a
    # pause longer than the session clock's gap rule is a break (pyxdf's default fits one line
    # across any pause shorter than max(1 s, 500 samples), handing the missing stretch's time
    # to the samples around it: a shift), as in ``wot replay``
    opt = SyncOptions(
        jitter_break_threshold_seconds=GAP_MIN_S, jitter_break_threshold_samples=GAP_MIN_SAMPLES
    )
    series: dict[str, tuple[Any, Any]] = {}
    names: dict[str, str] = {}
    # each stream synchronised once, whichever modalities take a channel of it
    synced: dict[int, tuple[Any, Any, int]] = {}  # stream id: time stamps, samples, kept
    for m, (name, _typ, _rate, _n, st) in chosen.items():
        labels = st.labels()
        col = next(
            (i for i, lab in enumerate(labels) for pat in MODALITY_PATTERNS[m]
             if re.search(pat, lab.lower())),
            0,
        )  # fmt: skip
        nch = st.channel_count
        col = col if col < nch else 0
        if nch > 1:
            rec.notes.append(f"{m}: channel {col} of stream {name!r} ({nch} channels) used")
        if st.stream_id not in synced:
            ts = st.time_stamps
            if not isinstance(ts, DiskArray):
                ts = np.asarray(ts, dtype=np.float64)  # (the reader's own: changed in place)
            keep = synchronize(st, ts, opt, rec.notes)
            synced[st.stream_id] = (ts, st.take_series(), keep)
        ts, raw, keep = synced[st.stream_id]
        if isinstance(raw, DiskArray):
            data: Any = _spilled_channels(raw, col, 1)
        else:
            data = np.asarray(raw)[:, col].astype(np.float64)
        del raw
        if keep < len(ts):
            ts, data = _head(ts, keep), _head(data, keep)
        # a damaged time stamp (not finite, or a day away from the stream's others) cannot
        # place its sample, nor may it place the stream: the sample is left out
        ts, data, dropped = _plausible(ts, data)
        if dropped:
            rec.notes.append(
                f"{m}: {dropped} sample(s) of stream {name!r} whose time stamp is not "
                "finite or a day away from the others left out"
            )
        if len(ts) == 0:
            rec.notes.append(f"stream {name!r} holds no samples with a usable time stamp: no {m}")
            continue
        series[m] = (ts, data)
        names[m] = name
    synced.clear()
    if not series:
        raise InputError(f"{p.name}: no stream with usable time stamps")
    t_first = min(float(ts[0]) for ts, _ in series.values())
    if subject is not None:
        # one person of several: time zero is the file's (its earliest sample of any numeric
        # stream), as for the others, so their signals keep their places relative to each
        # other (what their synchrony's lags are)
        used = {x[4].stream_id for x in chosen.values()}
        for _name, _typ, _rate, n, st in numeric:
            if n and st.stream_id not in used and not isinstance(st.time_stamps, DiskArray):
                ts = np.array(st.time_stamps, dtype=np.float64)
                keep = synchronize(st, ts, opt, [])
                first = ts[:keep][np.isfinite(ts[:keep])]
                if first.size:
                    t_first = min(t_first, float(first[0]))
    # placed on the session clock as the live engine places the same streams (a replay of
    # this file into ``wot run`` gives the same session): pauses become gaps, not a shift
    rates = {m: check_rate(chosen[m][2], m) for m in series}
    clock = SessionClock(rates)
    clock.set_origin(t_first)
    for m, (ts, data) in series.items():
        got = _place(clock, m, ts, data)
        if got is None:
            continue
        placed, t0 = got
        if not t0 <= MAX_FILL_S:
            rec.notes.append(
                f"stream {names[m]!r} starts {t0:g} s after the others (more than a day): no {m}"
            )
            continue
        rec.signals[m] = Signal(placed, rates[m], names[m], "", t0)
        if clock.gaps_filled.get(m):
            rec.notes.append(
                f"{m}: {clock.gaps_filled[m]:.1f} s of pauses in the stream are left as gaps, "
                "so what follows keeps its place in time"
            )
    for st in marker_streams:  # (the same break rule: a text stream may declare a rate)
        ts = np.array(st.time_stamps, dtype=np.float64)
        keep = synchronize(st, ts, opt, rec.notes)
        for t, val in zip(ts[:keep].tolist(), st.time_series[:keep], strict=False):
            text = str(val[0] if isinstance(val, list | tuple) and val else val)
            rec.markers.append((t - t_first, text))
    rec.markers.sort(key=lambda m: m[0])
    _one_cardiac(rec, channels)
    return rec


def _head(a: Any, n: int) -> Any:
    """The first ``n`` rows (a view, in memory or spilled)."""
    return a.view(0, n) if isinstance(a, DiskArray) else a[:n]


def _plausible(ts: Any, data: Any) -> tuple[Any, Any, int]:
    """The samples whose time stamp is finite and within a day of the stream's median one,
    and how many are not (spilled: into new spilled arrays, a block at a time)."""
    med = spill.median(ts, finite=True)  # (spilled: of a sample; a day is a coarse bound)
    if not math.isfinite(med):
        return ts[:0], data[:0], len(ts)

    def ok(b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.isfinite(b) & (np.abs(b - med) <= MAX_FILL_S)

    bad = sum(int((~ok(b)).sum()) for b in spill.blocks(ts))
    if not bad:
        return ts, data, 0
    if not isinstance(ts, DiskArray):
        good = ok(ts)
        return ts[good], data[good], bad
    out_t, out_d = DiskArray(), DiskArray(data.width)
    for k in range(0, len(ts), spill.BLOCK_ROWS):
        bt, bd = ts[k : k + spill.BLOCK_ROWS], data[k : k + spill.BLOCK_ROWS]
        good = ok(bt)
        out_t.append(bt[good])
        out_d.append(bd[good])
    return out_t, out_d, bad


def is_wot_recording(path: str | os.PathLike[str]) -> bool:
    """Whether an XDF file was recorded by wot (its file header holds the session record);
    reads only the first chunk."""
    p = Path(path)
    try:
        opener = gzip.open if p.suffix.lower() == ".xdfz" else open
        with opener(p, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError):
        return False
    if head[:4] != b"XDF:":
        return False
    try:
        length, pos = read_varlen(memoryview(head), 4)
    except (ValueError, IndexError):
        return False
    return b"<wot_session>" in head[pos : pos + length]


class _Collect(logging.Handler):
    """Keeps the messages of a library logger, to be reported as notes."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage().strip()
        if msg not in self.messages:
            self.messages.append(msg)


def load_pyxdf(
    p: Path, level: int = logging.ERROR, **options: Any
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """``pyxdf.load_xdf(p, **options)`` with its log messages (at ``level`` and above) and its
    warnings returned as notes rather than printed: (streams, log messages, warnings).

    The file is read by :func:`~wot_biofeedback.sources.xdf.read_xdf` first (bounded: a
    ``.xdfz`` file's size after decompression is limited, no count or channel number is
    believed that the chunks cannot hold). Where it found damage, pyxdf reads what it made of
    the file (:func:`~wot_biofeedback.sources.xdf.encode_xdf`), so pyxdf never allocates for
    a damaged count; the damage is among the log messages.

    Raises
    ------
    InputError
        The file cannot be read (pyxdf raises many kinds on a damaged one).
    """
    import pyxdf

    xf = _open_xdf(p)
    damage = list(xf.problems)
    source: Any = io.BytesIO(encode_xdf(xf)) if damage else str(p)
    del xf
    log = logging.getLogger("pyxdf.pyxdf")
    was = log.level, log.propagate, log.disabled
    collect = _Collect(level)
    log.addHandler(collect)
    log.setLevel(level)
    log.propagate, log.disabled = False, False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            streams, _header = pyxdf.load_xdf(source, verbose=False, **options)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise InputError(f"{p.name}: not a readable XDF file ({why})") from None
    finally:
        log.removeHandler(collect)
        log.setLevel(was[0])
        log.propagate, log.disabled = was[1], was[2]
    return streams, [*damage, *collect.messages], [str(w.message) for w in caught]


def _read_wot_xdf(
    xf: XdfFile,
    channels: dict[str, str | None],
    eda_factor: float | None,
    subject: str | None = None,
) -> Recording:
    """A session recorded by wot: the pipeline gets exactly what the live engine fed it.

    The raw streams hold every sample as received; the ``wot-session`` records say where each
    stream started on the session clock, how many samples were dropped before session time 0,
    and where gaps were filled, so the signals are rebuilt sample for sample (the channel used,
    scaled as live). A stream can be chosen by name or type (``--ecg NAME``); by default the
    recording's own streams are used. Its parameters, baseline and calibrations are returned in
    :attr:`Recording.session`.

    Nothing in the file is believed that cannot be: a record with an impossible value is left
    out (:mod:`~wot_biofeedback.session_log`), and a stream whose placement records were left
    out is placed from its time stamps by the session clock's own rule, as live; a gap longer
    than the stream's own time stamps span (or than a day) is not filled; a stream whose rate
    is outside what its modality supports, or whose recorded channel or scale cannot be, is
    not used. Each is said in a note.
    """
    name = Path(xf.path).name
    sess = xf.by_name(SESSION_STREAM)
    assert sess is not None
    if sess.fmt != "string":
        raise InputError(
            f"{name}: its {SESSION_STREAM} stream holds {sess.fmt} samples, not text: its "
            "session records cannot be read"
        )
    log = SessionLog.parse(list(sess.time_series))
    subjects = log.subjects or [DEFAULT_SUBJECT]
    sid = subject or subjects[0]
    if sid not in subjects:
        raise InputError(f"{name}: no subject {sid!r}; the recording has {', '.join(subjects)}")
    engine = log.first(EngineStart, sid)
    if engine is None:
        whys = [w for _i, k, _m, w in log.rejected if k in ("engine", "")]
        raise InputError(
            f"{name}: a wot recording without a readable engine record ({whys[0]})"
            if whys
            else f"{name}: a wot recording without its engine record (cut short at start)"
        )
    rec = Recording(xf.path, subject=sid, subjects=subjects)
    rec.notes.extend(f"damaged file: {m}" for m in xf.problems)
    if log.rejected:
        rec.notes.append(_rejected_note(log))
    rec.notes.extend(log.dropped[:5])
    sources = _engine_sources(engine, rec.notes)
    raw = {
        s.text("desc/wot/modality"): s
        for s in xf.streams
        if s.text("desc/wot/modality") in MODALITIES
        and s.text("desc/wot/subject", DEFAULT_SUBJECT) == sid
    }
    starts: dict[str, StreamStart] = {}
    for e in log.of(StreamStart, sid):  # the first of each (the engine writes it twice)
        starts.setdefault(e.modality, e)
    for m, want in channels.items():
        if want is None or m not in MODALITY_PATTERNS:
            continue
        hit = [s for s in raw.values() if want.strip().lower() in (s.name.lower(), s.type.lower())]
        if not hit:
            avail = ", ".join(f"{s.name} ({s.type})" for s in raw.values()) or "none"
            raise InputError(f"{m} stream {want!r} not found in {name}; recorded streams: {avail}")
        if hit[0].text("desc/wot/modality") != m:
            raise InputError(
                f"{name}: stream {want!r} was recorded as {hit[0].text('desc/wot/modality')}, "
                f"not {m}"
            )
    firsts = [
        st.corrected_stamp(0)
        for st in raw.values()
        if len(st.time_stamps) and math.isfinite(st.corrected_stamp(0))
    ]
    origin = log.first(Origin).lsl_time if log.first(Origin) is not None else None
    if origin is not None and firsts and min(abs(f - origin) for f in firsts) > MAX_FILL_S:
        rec.notes.append(
            f"the origin record (LSL time {origin:g}) is more than a day from the first time "
            "stamp of every stream: not used"
        )
        origin = None
    refused: list[str] = []
    rates: dict[str, float] = {}
    for m, st in raw.items():
        fs = _wot_rate(m, st, sources, rec.notes)
        if fs is None:
            lo, hi = MODALITIES[m].fs_range
            why = (
                f"has rate {st.nominal_srate:g} Hz, outside the {lo:g}-{hi:g} Hz "
                f"{MODALITIES[m].label} supports"
            )
            refused.append(f"{m}: {why}")
            rec.notes.append(f"{m}: stream {st.name!r} {why}: not used")
            continue
        rates[m] = fs
    if origin is None:
        # its record was lost to damage: each stream whose start record survived says where
        # its first kept sample sits (t0); a stream that lost first samples too says later, so
        # the earliest of them (else the earliest time stamp)
        cands = [
            st.corrected_stamp(starts[m].drop) - starts[m].t0
            for m, st in raw.items()
            if m in starts and not MODALITIES[m].irregular and len(st.time_stamps) > starts[m].drop
        ]
        cands = [c for c in cands if math.isfinite(c)]
        if cands or firsts:
            origin = min(cands) if cands else min(firsts)
            rec.notes.append("session time 0 rebuilt from the time stamps (its record was lost)")
    for m, st in raw.items():
        if m not in rates:
            continue
        if len(st.time_stamps) == 0:
            rec.notes.append(f"stream {st.name!r} ({m}) delivered no samples during the session")
            continue
        unused = _wot_stream(rec, log, sid, m, st, rates[m], starts, origin, eda_factor, xf)
        if unused is not None:
            refused.append(f"{m}: {unused}")
            rec.notes.append(f"{m}: stream {st.name!r} {unused}: not used")
    if not rec.signals:
        raise InputError(
            f"{name}: the recording holds no usable samples of any input stream"
            + (f" ({'; '.join(refused)})" if refused else "")
        )
    info = log.first(SessionInfo)
    masks, approximate = lost_masks(log, sid)
    rec.session = {
        "metadata": {"event": "session", **info.metadata} if info is not None else {},
        "parameters": engine.parameters,
        "baseline_window": engine.baseline_window,
        "baseline": engine.baseline,
        "calibrations": [(float(e.start_s), float(e.end_s)) for e in log.of(Calibrate, sid)],
        "masks": masks,
        "end": log.first(End),
        "schema": sorted(log.versions),
    }
    marks = xf.by_name("wot-markers")
    noted = log.of(Marker)
    if noted:  # the engine's own session time of each note (exact, whatever the speed)
        rec.markers = [(round(float(e.time_s), 3), str(e.text)) for e in noted]
    elif marks is not None and origin is not None and len(marks.time_stamps):
        for t, val in zip(marks.corrected_stamps(), marks.time_series, strict=False):
            text = str(val[0] if isinstance(val, list | tuple) and val else val)
            if math.isfinite(float(t) - origin):
                rec.markers.append((round(float(t) - origin, 3), text))
    if rec.session["end"] is None:
        rec.notes.append("the session has no end record: the recording was cut short (crash?)")
    for m, spans in masks.items():
        rec.notes.append(
            f"{m}: the live engine went on without it {len(spans)} time(s) (stream lost); "
            "those frames are fused without it here too"
            + (" (placed from the loss's frame: a schema-1 recording)" if approximate else "")
        )
    return rec


def _rejected_note(log: SessionLog) -> str:
    """One note for the session records left out, with the first reasons."""
    shown = "; ".join(f"#{i + 1} {why}" for i, _k, _m, why in log.rejected[:3])
    more = f"; and {len(log.rejected) - 3} more" if len(log.rejected) > 3 else ""
    return (
        f"{len(log.rejected)} session record(s) unreadable or impossible (damaged), left out: "
        f"{shown}{more}"
    )


def _engine_sources(engine: EngineStart, notes: list[str]) -> dict[str, dict[str, Any]]:
    """The engine record's input streams, each a JSON object (others are noted, not used)."""
    src = engine.sources
    if not isinstance(src, dict):
        notes.append(
            f"session record 'engine': sources {str(src)[:40]!r} is not a JSON object: the "
            "stream headers are used instead"
        )
        return {}
    out = {}
    for k, v in src.items():
        if isinstance(v, dict):
            out[str(k)] = v
        else:
            notes.append(
                f"session record 'engine': sources.{k} {str(v)[:40]!r} is not a JSON object: "
                "its stream header is used instead"
            )
    return out


def _wot_rate(
    m: str, st: Any, sources: dict[str, dict[str, Any]], notes: list[str]
) -> float | None:
    """The rate a recorded stream ran at live: the engine record's, else its header's; None
    when neither is a rate the modality supports."""
    irregular = MODALITIES[m].irregular
    lo, hi = MODALITIES[m].fs_range

    def ok(v: Any) -> bool:
        if not isinstance(v, int | float) or isinstance(v, bool):
            return False
        try:
            f = float(v)
        except OverflowError:  # a whole number beyond a float's range (JSON allows 10**400)
            return False
        return math.isfinite(f) and (f > 0 if irregular else lo <= f <= hi)

    rec_fs = sources.get(m, {}).get("fs")
    if isinstance(rec_fs, int | float) and ok(rec_fs):
        return float(rec_fs)
    hdr = st.nominal_srate
    if rec_fs is not None:
        notes.append(
            f"session record 'engine': sources.{m}.fs {reprlib.repr(rec_fs)} is not a rate "
            + ("" if irregular else f"{lo:g}-{hi:g} Hz ")
            + ("of the stream: its header's is used" if ok(hdr) else "of the stream")
        )
    if ok(hdr):
        return float(hdr)
    return 1.0 if irregular else None


def _wot_stream(
    rec: Recording,
    log: SessionLog,
    sid: str,
    m: str,
    st: Any,
    fs: float,
    starts: dict[str, StreamStart],
    origin: float | None,
    eda_factor: float | None,
    xf: XdfFile,
) -> str | None:
    """Rebuild one recorded stream into ``rec.signals[m]`` as the live engine had it; the
    reason it cannot be used, else None."""
    irregular = MODALITIES[m].irregular
    width = MODALITIES[m].width
    if st.fmt not in VALUE_TYPES:
        return f"holds {st.fmt} samples, not numbers"
    try:
        chan = int(st.text("desc/wot/channel", "0"))
    except ValueError:
        return f"names channel {st.text('desc/wot/channel')!r}, not a channel number"
    if not 0 <= chan <= st.channel_count - width:
        return f"has {st.channel_count} channel(s); the recorded channel {chan} is not one"
    try:
        scale = float(st.text("desc/wot/scale", "1"))
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale != 0):
        return f"has scale {st.text('desc/wot/scale')!r}, not a finite factor"
    # the samples are taken from the stream, not copied beside it (a day of ECG: 86 MB less)
    series = st.take_series()
    if m == "eda" and eda_factor is not None:
        scale = eda_factor
        rec.notes.append(
            f"EDA rescaled with --eda-unit (recorded scale {st.text('desc/wot/scale')})"
        )
    stamps = st.apply_clock_offsets()  # in place: a day of time stamps is not copied
    if irregular or not isinstance(series, DiskArray):
        # (an irregular stream is a value a beat: small, in memory even from a spilled file)
        series = np.asarray(series)
        vals = series[:, chan : chan + width].astype(np.float64)
        data: Any = vals[:, 0] if width == 1 else vals
        if scale != 1.0:
            data *= scale
        stamps = np.asarray(stamps)
    else:  # on disk (a file too large to hold): the channel, scaled as it is read
        data = _spilled_channels(series, chan, width) * scale
    if irregular:
        return _wot_irregular(rec, m, st, fs, data, series, stamps, origin)
    del series  # (RR intervals carry their skin-contact channel on)
    start = starts.get(m)
    if start is not None and start.drop > len(data):
        rec.notes.append(
            f"{m}: its start record drops {start.drop} samples of the {len(data)} recorded: "
            "not used"
        )
        start = None
    gaps, bad = _checked_gaps(log, sid, m, stamps, fs, len(data) - (start.drop if start else 0))
    rec.notes.extend(f"{m}: {b}" for b in bad)
    suspect = bool(bad) or bool(log.rejected_of(m, ("gap", "stream_start"))) or start is None
    finite = spill.finite_range(stamps)[2]
    if suspect and origin is not None and finite:
        # its placement records are damaged: place it from its time stamps by the rule the
        # live session clock placed it with (which wrote those records)
        clock = SessionClock({m: fs}, ())
        clock.set_origin(origin)
        placed = _place(clock, m, stamps, data)
        if placed is None:
            return "lies wholly before session time 0"
        data, t0 = placed
        rec.notes.append(
            f"{m}: placed from its time stamps by the session clock's rule (its recorded "
            "placement is damaged)"
            + (
                f"; {clock.gaps_filled[m]:.1f} s of pauses left as gaps"
                if clock.gaps_filled
                else ""
            )
        )
    else:
        if start is None:
            return "has no start record and no time stamps to place it by"
        drop, t0 = start.drop, start.t0
        data = data.view(drop) if isinstance(data, DiskArray) else data[drop:]
        if xf.problems and origin is not None:
            # samples lost to damage: the time stamps jump where no recorded gap explains it;
            # without filling, everything after would be placed too early on the session clock.
            # Positions are found by time here (indices after a loss no longer match live).
            lead = origin + t0
            breaks = [max(0, b - drop) for b in st.breaks]
            kept = stamps.view(drop) if isinstance(stamps, DiskArray) else stamps[drop:]
            fills, lost_s, nbad = _gaps_from_stamps(kept, fs, gaps, lead, breaks)
            data = _insert_nan(data, fills)
            if lost_s:
                rec.notes.append(
                    f"{m}: {lost_s:.1f} s of samples lost to the damage are left as gaps, so "
                    "what follows keeps its place on the session clock"
                )
            if nbad:
                rec.notes.append(f"{m}: {nbad} implausible time stamp jump(s) ignored (damage)")
        elif gaps:
            data = _insert_nan(data, [(g.after, g.n) for g in gaps])
        if gaps:
            rec.notes.append(f"{m}: {len(gaps)} gap(s) the live engine filled are kept as gaps")
    if not (math.isfinite(t0) and 0 <= t0 <= MAX_FILL_S):
        return f"would start at session time {t0:g} s (more than a day in)"
    units = st.units()
    unit = "uS" if m == "eda" else (units[chan] if chan < len(units) else "")
    rec.signals[m] = Signal(data, fs, st.name, unit, t0, None)
    return None


def _wot_irregular(
    rec: Recording,
    m: str,
    st: Any,
    fs: float,
    data: np.ndarray,
    series: np.ndarray,
    stamps: np.ndarray,
    origin: float | None,
) -> str | None:
    """An irregular stream (RR intervals): each value at its own time, as live."""
    if origin is None:
        return "has no session time 0 to place its values by"
    cc = st.text("desc/wot/contact_channel")
    keep = np.ones(len(data), dtype=bool)
    if cc:
        try:
            k = int(cc)
        except ValueError:
            k = -1
        if 0 <= k < series.shape[1]:
            # intervals the strap sent without skin contact are left out, as live
            keep = series[:, k] != 0
        else:
            rec.notes.append(f"{m}: contact channel {cc!r} is not one of its channels: ignored")
    times = stamps - origin
    # a value whose time is not finite, earlier than one before it or more than a day into the
    # session cannot be placed
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(times) & (times <= MAX_FILL_S)
        latest = np.maximum.accumulate(np.where(ok, times, -np.inf))
        ok[1:] &= times[1:] >= latest[:-1]
    if (keep & ~ok).any():
        rec.notes.append(
            f"{m}: {int((keep & ~ok).sum())} value(s) whose time stamp is not finite, goes back "
            "in time or lies more than a day in left out"
        )
    keep &= ok
    rec.signals[m] = Signal(data[keep], fs, st.name, "", 0.0, times[keep])
    return None


def _checked_gaps(
    log: SessionLog, sid: str, m: str, stamps: np.ndarray, fs: float, n: int
) -> tuple[list[Gap], list[str]]:
    """The stream's recorded gaps that can be, and why the others cannot: a gap must lie
    within the ``n`` samples kept, and the gaps together must be no longer than the stream's
    own span (a gap is a pause between its samples: its time stamps span it; where they are
    damaged, its samples' duration stands in) nor than a day."""
    # (a block at a time: no mask as long as a day of time stamps)
    lo, hi, _every = spill.finite_range(stamps)
    span = hi - lo if hi >= lo else 0.0
    span = max(span, n / fs)
    limit = min(MAX_FILL_S, span + 1.0)
    out, bad = [], []
    total = 0.0
    for g in log.of(Gap, sid):
        if g.modality != m:
            continue
        if g.after > n:
            bad.append(f"a gap record after sample {g.after} of {n}: left out")
        elif total + g.n / fs > limit:
            bad.append(
                f"a gap record of {g.n} samples ({g.n / fs:.4g} s) is longer than the stream's "
                f"own span ({span:.4g} s; a day at most): left out, not filled"
            )
        else:
            total += g.n / fs
            out.append(g)
    out.sort(key=lambda g: g.after)
    return out, bad


def lost_masks(
    log: SessionLog, subject: str = DEFAULT_SUBJECT
) -> tuple[dict[str, list[tuple[int, int | None]]], bool]:
    """Frames each stream was fused without because the live engine had given it up:
    ``{modality: [(first, stop or None)]}``, and whether any span is approximate (schema 1
    did not record the frames the stream had delivered; its loss frame stands in)."""
    masks: dict[str, list[tuple[int, int | None]]] = {}
    open_at: dict[str, int] = {}
    approximate = False
    for e in log.events:
        if e.subject != subject:
            continue
        if isinstance(e, Lost) and e.modality not in open_at:
            approximate |= e.delivered is None
            open_at[e.modality] = int(e.frame if e.delivered is None else e.delivered)
        elif isinstance(e, Resume) and e.modality in open_at:
            a = open_at.pop(e.modality)
            if e.frame > a:
                masks.setdefault(e.modality, []).append((a, int(e.frame)))
    for m, a in open_at.items():
        masks.setdefault(m, []).append((a, None))
    return masks, approximate


def _gaps_from_stamps(
    ts: Any, fs: float, gaps: list[Gap], lead: float, breaks: list[int]
) -> tuple[list[tuple[int, int]], float, int]:
    """Where NaN go in a damaged stream: ``[(index, samples)]``, seconds lost to damage, and the
    number of implausible jumps ignored.

    Recorded gaps get the live engine's fill, found by the time stamp of the sample after them
    (indices after a loss no longer match live; where that time stamp is not there, by their
    count less the samples lost before them). At each ``break`` (where the reader skipped a
    damaged stretch) the samples lost are counted from the time the jump spans (at index 0:
    from ``lead``, the LSL time where the first sample belongs); nowhere else, so timestamp
    jitter in an intact stretch is never taken for a loss.
    """
    step = 1.0 / fs
    limit = len(ts) + 24 * 3600 * fs  # a damaged time stamp must not allocate the world
    fills: dict[int, int] = {}
    unfound = []
    for g in gaps:  # real pauses, filled as live, wherever their first sample survived
        j = spill.searchsorted(ts, g.t - 1e-3) if math.isfinite(g.t) else len(ts)
        if j < len(ts) and abs(float(ts[j]) - g.t) < 1e-3:
            fills[j] = g.n
        else:
            unfound.append(g)
    lost, bad = 0, 0
    at_break: dict[int, int] = {}
    for b in sorted(set(breaks)):
        if b >= len(ts):
            continue
        span = float(ts[0]) - lead if b == 0 else float(ts[b] - ts[b - 1]) - step
        n = round(span * fs) if math.isfinite(span) else -1
        if n < 0 or n >= limit:
            bad += 1
            continue
        if n > 0:  # the whole jump: lost samples and any recorded pause inside it
            lost += n - fills.get(b, 0)
            fills[b] = n
            at_break[b] = n
    for g in unfound:  # by its count: the samples lost before it are not in ``ts``
        missing = 0
        for b, n in sorted(at_break.items()):
            if b + missing + n <= g.after:
                missing += n
        j = g.after - missing
        if 0 <= j <= len(ts) and j not in fills:
            fills[j] = g.n
    return sorted(fills.items()), max(0, lost) / fs, bad


def _insert_nan(data: Any, at: list[tuple[int, int]]) -> Any:
    """``data`` with ``n`` NaN samples before index ``i`` for each ``(i, n)`` (ascending); a
    spilled array into a new one, a block at a time."""
    if isinstance(data, DiskArray):
        out = DiskArray(data.width)
        prev = 0
        for i, n in [*at, (len(data), 0)]:
            k = min(max(i, prev), len(data))
            for b in spill.blocks(data.view(prev, k)):
                out.append(b)
            for a in range(0, n, spill.BLOCK_ROWS):
                out.append(np.full((min(n - a, spill.BLOCK_ROWS), *data.shape[1:]), np.nan))
            prev = k
        return out
    parts, prev = [], 0
    for i, n in at:
        k = min(max(i, prev), len(data))
        parts += [data[prev:k], np.full((n, *data.shape[1:]), np.nan)]
        prev = k
    return np.concatenate([*parts, data[prev:]])


def _spilled_channels(series: DiskArray, chan: int, width: int) -> DiskArray:
    """Channels ``chan`` to ``chan + width`` of a spilled stream (1-D for one): the stream's
    own file where they are all of it, else copied out a block at a time."""
    if series.width == width:
        return series.view(flat=width == 1)
    out = DiskArray(0 if width == 1 else width)
    for b in spill.blocks(series):
        out.append(b[:, chan] if width == 1 else b[:, chan : chan + width])
    return out


def _place(clock: SessionClock, m: str, stamps: Any, data: Any) -> tuple[Any, float] | None:
    """``clock.place`` of a whole stream: the samples placed and the session time of the
    first; a spilled stream a block at a time into a new spilled array (the clock's decisions
    do not depend on how its input is chunked). None: it lies wholly before session time 0."""
    if not isinstance(data, DiskArray):
        placed = clock.place(m, stamps, data)
        return None if placed is None else (placed.data, placed.t0)
    out = DiskArray(data.width)
    t0 = None
    for a in range(0, len(data), spill.BLOCK_ROWS):
        got = clock.place(m, stamps[a : a + spill.BLOCK_ROWS], data[a : a + spill.BLOCK_ROWS])
        if got is not None:
            out.append(got.data)
            t0 = got.t0
    return None if t0 is None else (out, t0)


def _modalities(channels: dict[str, str | None]) -> tuple[str, ...]:
    return FILE_MODALITIES


def _one_cardiac(rec: Recording, channels: dict[str, str | None]) -> None:
    """Keep one cardiac source: an explicitly named one, else ECG before PPG."""
    if "ecg" in rec.signals and "ppg" in rec.signals:
        drop = "ecg" if channels.get("ppg") and not channels.get("ecg") else "ppg"
        if channels.get("ecg") and channels.get("ppg"):
            raise InputError("give either --ecg or --ppg: the cardiac channel takes one source")
        sig = rec.signals.pop(drop)
        rec.notes.append(
            f"{drop.upper()} column {sig.name!r} not used: one cardiac source at a time "
            f"(choose with --{drop})"
        )


def _read_wfdb(
    base: Path, channels: dict[str, str | None], subject: str | None = None
) -> Recording:
    """A WFDB record (PhysioNet): physical values, each signal at its own rate (a multi-rate
    record's signals with their samples per frame, as ``smooth_frames=False`` gives them).

    The header is read first (``wfdb.rdheader``), then only the chosen channels, a block of
    frames at a time (``sampfrom``/``sampto``), into memory, or into temporary files when they
    would pass :func:`~.spill.spill_bytes`: the same values as a read of the whole record.
    A record in format 8 (sample differences, which wfdb can only add up from the start) or
    whose header does not give its length is read whole.
    """
    import wfdb

    if not base.with_suffix(".hea").exists():
        raise InputError(f"WFDB header not found: {base.with_suffix('.hea')}")

    def unreadable(exc: Exception) -> InputError:
        return InputError(f"{base.name}: unreadable WFDB record ({type(exc).__name__}: {exc})")

    try:
        head = wfdb.rdheader(str(base))
        frames = head.sig_len
        if isinstance(head, wfdb.MultiRecord):
            # signal names, units and rates as the whole record gives them: from its first
            # frame (the whole record where the header does not give its length)
            head = wfdb.rdrecord(str(base), sampto=1 if frames else None, smooth_frames=False)
    except Exception as exc:  # wfdb raises many types for corrupt records
        raise unreadable(exc) from None
    if not head.n_sig:
        raise InputError(f"{base.name}: the WFDB record holds no signals (annotations only?)")
    if frames == 0:
        raise unreadable(ValueError("the header gives 0 samples"))
    names = list(head.sig_name)
    spf = [n or 1 for n in head.samps_per_frame]
    rec = _for_subject(Recording(str(base)), subject)
    picked: dict[str, tuple[int, float]] = {}
    for m in _modalities(channels):
        idx = _pick(names, m, channels.get(m), base.name, subject)
        if idx is not None:
            rate = check_rate(float(head.fs) * spf[idx], f"{names[idx]} sampling rate")
            picked[m] = (idx, rate)
    wanted = sorted({idx for idx, _ in picked.values()})
    try:
        data = _read_wfdb_channels(base, head, frames, wanted)
    except InputError:  # no room for the spilled signals
        raise
    except Exception as exc:
        raise unreadable(exc) from None
    for m, (idx, rate) in picked.items():
        unit = head.units[idx] if head.units else ""
        rec.signals[m] = Signal(data[wanted.index(idx)], rate, names[idx], unit)
    _one_cardiac(rec, channels)
    return rec


def _read_wfdb_channels(base: Path, head: Any, frames: int | None, wanted: list[int]) -> list[Any]:
    """Channels ``wanted`` of a WFDB record (``head``: its header) as physical values, read
    with ``wfdb.rdrecord`` a block of frames at a time (about :data:`~.spill.BLOCK_ROWS`
    samples of every signal a block)."""
    import wfdb

    if not wanted:
        return []
    if frames is None or any(str(head.fmt[i]) == "8" for i in wanted if head.fmt):
        # read whole, then kept as any other record's channels (on disk past the limit)
        got = wfdb.rdrecord(str(base), channels=wanted, smooth_frames=False).e_p_signal
        cols = spill.FilledColumns([len(x) for x in got])
        for j in range(len(got)):
            cols.add(j, got[j])
            got[j] = None
        return cols.finish()
    spf = [n or 1 for n in head.samps_per_frame]
    cols = spill.FilledColumns([frames * spf[i] for i in wanted])
    step = max(1, spill.BLOCK_ROWS // sum(spf))  # frames a block
    for a in range(0, frames, step):
        r = wfdb.rdrecord(
            str(base), sampfrom=a, sampto=min(frames, a + step), channels=wanted,
            smooth_frames=False,
        )  # fmt: skip
        for j, x in enumerate(r.e_p_signal):
            cols.add(j, x)
    return cols.finish()


_MARKER_TEXT = ("text", "label", "marker", "segment", "name", "event")
_MARKER_RECORD = ("record", "drive", "file", "session")


def read_markers(
    path: str | os.PathLike[str], record: str | None = None
) -> list[tuple[float, str]]:
    """Annotations from a CSV file, as ``(time_s, text)`` sorted by time.

    Columns: ``time_s`` (or ``start_s``), and the text in ``text``/``label``/``marker``/
    ``segment``/``name``/``event`` (else the marker is numbered). A segment with ``end_s``
    that does not run into the next one adds an ``end LABEL`` marker at its end. When a
    ``record``/``drive``/``file``/``session`` column is there and ``record`` (a recording's
    stem) is given, only its rows are used (none if it is not listed); other columns (e.g.
    ``stress_level``) are ignored.
    """
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"markers file {p}: not readable ({exc})") from None
    if not rows:
        raise InputError(f"markers file {p}: no rows (need a header with time_s and text)")
    cols = {c.strip().lower(): c for c in rows[0] if c}
    tcol = cols.get("time_s") or cols.get("start_s")
    if tcol is None:
        raise InputError(f"markers file {p}: needs a time_s (or start_s) column; has {list(cols)}")
    text_col = next((cols[c] for c in _MARKER_TEXT if c in cols), None)
    rec_col = next((cols[c] for c in _MARKER_RECORD if c in cols), None)
    if rec_col is not None and record is not None:
        # only this recording's rows (by its stem); none when the file does not list it
        rows = [r for r in rows if Path((r.get(rec_col) or "").strip()).stem == record]
    out: list[tuple[float, str]] = []
    spans: list[tuple[float, float, str]] = []
    for i, r in enumerate(rows, start=2):
        try:
            t = float(r[tcol])
        except (TypeError, ValueError):
            raise InputError(
                f"markers file {p}, line {i}: time {r.get(tcol)!r} is not a number"
            ) from None
        if not math.isfinite(t):
            raise InputError(f"markers file {p}, line {i}: time {r.get(tcol)!r} is not finite")
        # an analysis folder's markers.csv has its formula-like texts escaped: taken off
        text = unescape_cell((r.get(text_col) or "").strip()) if text_col else ""
        text = text or f"marker {len(out) + 1}"
        out.append((t, text))
        end = (r.get(cols["end_s"]) or "").strip() if "end_s" in cols else ""
        if end:
            try:
                spans.append((t, float(end), text))
            except ValueError:
                raise InputError(
                    f"markers file {p}, line {i}: end_s {end!r} is not a number"
                ) from None
    starts = {round(t, 3) for t, _ in out}
    out += [(e, f"end {text}") for _s, e, text in spans if round(e, 3) not in starts]
    return sorted(out, key=lambda m: m[0])


class RecordingSource:
    """Recorded signals as a :class:`~wot_biofeedback.sources.base.Source`: each read gives
    the next ``chunk_s`` seconds of every signal, already placed on the session clock (a
    file's reader placed them), per subject; a wot recording's own decisions (calibrations, the
    frames fused without a lost stream) come with it (:meth:`decisions`).

    Parameters
    ----------
    recordings : Recording or dict
        One recording (subject ``client``) or ``{subject: Recording}``.
    chunk_s : float
        Seconds of signal per read. The frames do not depend on it, to the bit (see
        :data:`wot_biofeedback.offline.CHUNK_S`).
    """

    live = False

    def __init__(self, recordings: Recording | dict[str, Recording], chunk_s: float = 10.0) -> None:
        self.recordings = (
            {DEFAULT_SUBJECT: recordings} if isinstance(recordings, Recording) else recordings
        )
        self.chunk_s = float(chunk_s)
        if not (math.isfinite(self.chunk_s) and self.chunk_s > 0):
            raise InputError(f"chunk_s {chunk_s!r} must be a positive number of seconds")
        self._pos = {(s, m): 0 for s, r in self.recordings.items() for m in r.signals}
        self._t = 0.0
        # every loop over the signals ends: the reads are bounded by the latest sample's time
        # (a rate or a start that no reader should have let through is refused here)
        self._end = 0.0
        for sid, rec in self.recordings.items():
            for m, sig in rec.signals.items():
                where = f"{Path(rec.path).name}: {m} ({sid})"
                if not (math.isfinite(sig.fs) and sig.fs > 0):
                    raise InputError(f"{where}: sampling rate {sig.fs!r} Hz is not a rate")
                if not (math.isfinite(sig.t0) and 0 <= sig.t0 <= MAX_FILL_S):
                    raise InputError(f"{where}: starts at session time {sig.t0!r} s")
                if sig.times is not None:
                    t = sig.times[np.isfinite(sig.times)]
                    last = float(t.max()) if t.size else 0.0
                else:
                    last = sig.t0 + len(sig.data) / sig.fs
                self._end = max(self._end, min(last, sig.t0 + MAX_FILL_S + len(sig.data) / sig.fs))

    def decisions(self) -> dict[str, dict[str, Any]]:
        return {
            sid: {
                "calibrations": (rec.session or {}).get("calibrations", []),
                "masks": (rec.session or {}).get("masks", {}),
            }
            for sid, rec in self.recordings.items()
            if rec.session
        }

    def read(self) -> Batch:
        batch = Batch()
        self._t += self.chunk_s
        t = self._t
        for sid, rec in self.recordings.items():
            for m, sig in rec.signals.items():
                pos = self._pos[(sid, m)]
                if pos >= len(sig.data):
                    continue
                if sig.times is not None:  # irregular (RR): the values whose time has come
                    stop = int(np.searchsorted(sig.times, t, side="right"))
                else:
                    stop = min(len(sig.data), round((t - sig.t0) * sig.fs))
                if stop <= pos:
                    continue
                stamps = None if sig.times is None else sig.times[pos:stop]
                batch.chunks.append(Chunk(sid, m, sig.data[pos:stop], t0=sig.t0, stamps=stamps))
                self._pos[(sid, m)] = stop
                if stop >= len(sig.data):
                    batch.ended.append((sid, m))
        batch.done = all(
            self._pos[(s, m)] >= len(sig.data)
            for s, r in self.recordings.items()
            for m, sig in r.signals.items()
        )
        if not batch.done and t > self._end + self.chunk_s:
            # past the latest sample: what is left cannot be reached (an irregular value whose
            # time is not finite); the signals end here
            for (s, m), pos in self._pos.items():
                if pos < len(self.recordings[s].signals[m].data):
                    batch.ended.append((s, m))
                    self._pos[(s, m)] = len(self.recordings[s].signals[m].data)
            batch.done = True
        return batch

    def close(self) -> None:
        pass
