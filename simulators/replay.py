"""Replay a recorded session as real Lab Streaming Layer (LSL) streams, with its own timing.

:func:`load_replay` turns a file into :class:`ReplayStream` objects:

* **XDF** (``.xdf``/``.xdfz``, LabRecorder): every stream in the file, numeric and string
  markers, with its name, type, channel format, channel labels and units, read with pyxdf
  (clock offsets applied, clock resets handled, jitter removed between pauses of 1 s or more,
  which stay gaps). Empty streams are skipped with a note.
* **CSV, WFDB, EDF/BDF**: through :func:`wot_biofeedback.sources.files.read_recording`, one
  stream per modality it picks (``{prefix}-ECG``, ``-PPG``, ``-EDA``, ``-RESP``, ``-ACC``),
  float32, nominal rate = the signal's rate; EDA is in µS (``uS``) by then.

Source ids are ``{source_id}-ecg``, ``-ppg``, ``-rr``, ``-eda``, ``-resp``, ``-acc`` for the
first stream of each of those types (case-insensitive), so that ``wot run --source-id
SOURCE_ID`` finds them; any other stream gets ``{source_id}-{k}`` (``k`` its index in the file).

Timing
------
:class:`ReplayPublisher` wakes every ``chunk_s`` wall-clock seconds, on deadlines computed from
the start time (sleeping never accumulates drift), and pushes every sample whose recording time
``t - t_first - start_s`` (``t_first``: the earliest timestamp over all streams) is at most
``(now - start) * speed``. The LSL timestamp it carries is ``t0_lsl + t - t_first - start_s``
(plus ``k * span_s`` in loop ``k``), ``t0_lsl`` being ``pylsl.local_clock()`` when playback
begins: timestamps follow the *data* clock, as in
:class:`wot_simulators.publisher.SimulatorPublisher`, so every stream keeps its recorded
alignment with the others, irregular markers keep their times, and gaps in a recording stay
gaps. At ``speed != 1`` the timestamps therefore run faster (or slower) than the wall clock.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pylsl

from wot_biofeedback.errors import InputError, SignalQualityWarning
from wot_biofeedback.modalities import NAMES
from wot_biofeedback.sources.files import load_pyxdf

from ._thread import PublisherThread

MODALITY_TYPES = NAMES
MAX_RATE_HZ = 100_000.0
"""A higher nominal rate in a file is damage (LSL outlets size their buffers by it)."""
MAX_SPREAD_S = 24 * 3600.0
"""A time stamp this far from its stream's others is damage, not a pause."""
"""LSL types (case-insensitive) whose first stream gets the source id ``{source_id}-{type}``."""

FORMATS = {"float32": pylsl.cf_float32, "double64": pylsl.cf_double64, "string": pylsl.cf_string}
"""Channel formats a replayed stream can have."""

_XDF_FORMAT = {
    # XDF channel format -> published format: float32 holds int8/int16 exactly, double64 int32
    "float32": "float32",
    "int8": "float32",
    "int16": "float32",
    "double64": "double64",
    "int32": "double64",
    "int64": "double64",
    "string": "string",
}


@dataclass
class ReplayStream:
    """One stream of a recording, ready to publish.

    Parameters
    ----------
    name, type : str
        LSL stream name and content type (e.g. ``ECG``, ``Markers``).
    channel_count : int
        Channels per sample.
    fs : float
        Nominal sampling rate, Hz; 0.0 for an irregular stream (markers, beat intervals).
    channel_format : str
        ``float32``, ``double64`` or ``string``.
    source_id : str
        LSL source id of the outlet.
    timestamps : numpy.ndarray
        Time of each sample, s (float64, any origin, non-decreasing).
    data : numpy.ndarray or list
        Numeric streams: ``(n, channel_count)`` float array. String streams: a list of ``n``
        strings (one channel) or of ``n`` lists of ``channel_count`` strings.
    labels, units : list of str
        Per-channel label and unit for the ``desc/channels`` metadata (``''`` where unknown).
    file : str
        The recording it comes from (written into ``desc/replay/file``).
    """

    name: str
    type: str
    channel_count: int
    fs: float
    channel_format: str
    source_id: str
    timestamps: np.ndarray
    data: np.ndarray | list[Any]
    labels: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    file: str = ""

    def __post_init__(self) -> None:
        if self.channel_format not in FORMATS:
            raise ValueError(
                f"stream {self.name!r}: channel_format {self.channel_format!r} must be one of "
                f"{', '.join(FORMATS)}"
            )
        if self.channel_count < 1:
            raise ValueError(f"stream {self.name!r}: channel_count {self.channel_count} < 1")
        if not (math.isfinite(self.fs) and self.fs >= 0):
            raise ValueError(f"stream {self.name!r}: fs {self.fs!r} must be >= 0 Hz (0: irregular)")
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64).reshape(-1)
        if self.channel_format != "string":
            dtype = np.float32 if self.channel_format == "float32" else np.float64
            self.data = np.asarray(self.data, dtype=dtype).reshape(-1, self.channel_count)
        n = len(self.data)
        if n != self.timestamps.size:
            raise ValueError(
                f"stream {self.name!r}: {n} samples but {self.timestamps.size} timestamps"
            )
        if not np.isfinite(self.timestamps).all() or np.any(np.diff(self.timestamps) < 0):
            raise ValueError(f"stream {self.name!r}: timestamps must be finite and non-decreasing")
        self.labels = (list(self.labels) + [""] * self.channel_count)[: self.channel_count]
        self.units = (list(self.units) + [""] * self.channel_count)[: self.channel_count]

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.timestamps.size

    @property
    def end_s(self) -> float:
        """Time just past the stream, s, on the timestamps' clock: the last timestamp plus one
        sample period (irregular streams: the last timestamp)."""
        if self.n_samples == 0:
            return math.nan
        return float(self.timestamps[-1]) + (1.0 / self.fs if self.fs > 0 else 0.0)


# loading ------------------------------------------------------------------------------------
def load_replay(
    path: str | Path,
    channels: dict[str, str | None] | None = None,
    fs: float | None = None,
    eda_unit: str | None = None,
    source_id: str = "wot-replay",
    name_prefix: str | None = None,
    skip_bad_lines: bool = False,
) -> tuple[list[ReplayStream], list[str]]:
    """Read a recording into streams to replay.

    Parameters
    ----------
    path : str or Path
        XDF (``.xdf``/``.xdfz``), CSV, WFDB record (with or without ``.hea``) or EDF/BDF file.
    channels : dict, optional
        ``{"ecg": name_or_index, "ppg": ..., "eda": ..., "resp": ...}`` as for
        :func:`~wot_biofeedback.sources.files.read_recording` (not XDF: every stream of an XDF
        file is replayed).
    fs : float, optional
        Sampling rate of a CSV without a ``time_s`` column, Hz (not XDF).
    eda_unit : str, optional
        Unit of the EDA signal (``uS``, ``nS``, ``mS``, ``S``, ``raw:SCALE``; not XDF). The
        replayed EDA stream is in µS.
    source_id : str
        Prefix of the outlets' source ids (see the module docstring).
    name_prefix : str, optional
        CSV/WFDB/EDF: stream names are ``{name_prefix}-ECG`` ... (default: the file's stem).
        XDF: when given, stream names become ``{name_prefix}-{recorded name}``.
    skip_bad_lines : bool
        CSV: skip (and count in the notes) malformed lines instead of failing at the first.

    Returns
    -------
    streams : list of ReplayStream
        Non-empty streams, in file order.
    notes : list of str
        What was skipped, converted or reported while reading.

    Raises
    ------
    InputError
        Missing or unreadable file, bad option, no stream with samples.
    """
    p = Path(path)
    if p.suffix.lower() in (".xdf", ".xdfz"):
        if not p.is_file():
            raise InputError(f"file not found: {p}")
        given = [f"--{m}" for m, v in (channels or {}).items() if v is not None]
        given += ["--fs"] * (fs is not None) + ["--eda-unit"] * (eda_unit is not None)
        given += ["--skip-bad-lines"] * skip_bad_lines
        streams, notes = _load_xdf(p, source_id, name_prefix)
        if given:
            notes.append(
                f"{', '.join(given)} ignored: every stream of an XDF file is replayed as recorded"
            )
        return streams, notes
    if not p.exists() and not p.with_suffix(".hea").exists():
        raise InputError(f"file not found: {p}")
    return _load_recording(p, channels, fs, eda_unit, source_id, name_prefix, skip_bad_lines)


def _load_recording(
    p: Path,
    channels: dict[str, str | None] | None,
    fs: float | None,
    eda_unit: str | None,
    source_id: str,
    name_prefix: str | None,
    skip_bad_lines: bool = False,
) -> tuple[list[ReplayStream], list[str]]:
    from wot_biofeedback.sources.files import read_recording

    with warnings.catch_warnings():
        # an implausible EDA level is in rec.notes as well; report it there, once
        warnings.simplefilter("ignore", SignalQualityWarning)
        rec = read_recording(p, channels, fs, eda_unit, skip_bad_lines=skip_bad_lines)
    prefix = name_prefix or Path(rec.path).stem
    streams = []
    for m, sig in rec.signals.items():
        data = np.asarray(sig.data, dtype=np.float32)
        n = data.shape[0]
        if m == "acc":
            labels, units = ["x", "y", "z"], [sig.unit] * 3
        else:
            labels, units = [sig.name], ["uS" if m == "eda" else sig.unit]
        streams.append(
            ReplayStream(
                name=f"{prefix}-{m.upper()}",
                type=m.upper(),
                channel_count=len(labels),
                fs=float(sig.fs),
                channel_format="float32",
                source_id=f"{source_id}-{m}",
                timestamps=sig.t0 + np.arange(n) / sig.fs,
                data=data.reshape(n, len(labels)),
                labels=labels,
                units=units,
                file=str(p),
            )
        )
    return streams, list(rec.notes)


def _text(info: dict[str, Any], key: str) -> str:
    v = info.get(key, [""])
    return str(v[0] if isinstance(v, list) and v else v or "")


def _channels(info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Channel labels and units from ``desc/channels/channel`` ('' where absent)."""
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        return [], []
    labels, units = [], []
    for c in chans:
        labels.append(_text(c, "label") if isinstance(c, dict) else "")
        units.append(_text(c, "unit") if isinstance(c, dict) else "")
    return labels, units


def _wot_desc(info: dict[str, Any]) -> dict[str, str]:
    """``desc/wot`` of a raw stream in a wot recording (modality, channel, scale), else {}."""
    try:
        wot = info["desc"][0]["wot"][0]
        return {k: str(v[0]) for k, v in wot.items() if v}
    except (KeyError, IndexError, TypeError):
        return {}


def _number(text: Any, default: float) -> float:
    """``text`` as a number (``default`` when absent), NaN when it is not one."""
    if text is None or text == "":
        return default
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _load_xdf(
    p: Path, source_id: str, name_prefix: str | None
) -> tuple[list[ReplayStream], list[str]]:
    raw, logged, warned = load_pyxdf(
        p,
        logging.WARNING,
        synchronize_clocks=True,
        handle_clock_resets=True,
        dejitter_timestamps=True,
        # pyxdf's default also needs 500 sample periods to see a break (20 s at 25 Hz, 125 s at
        # 4 Hz) and fits one line across any shorter pause, which would hand the missing
        # stretch's time to the samples around it; a pause longer than max(0.5 s, 10 samples)
        # is kept as a gap here, the live engine's gap rule
        jitter_break_threshold_seconds=0.5,
        jitter_break_threshold_samples=10,
    )
    notes = [f"pyxdf: {m}" for m in [*logged, *warned]]
    streams: list[ReplayStream] = []
    taken: set[str] = set()
    for k, st in enumerate(raw):
        info = st["info"]
        name, typ = _text(info, "name") or f"stream {k}", _text(info, "type")
        ts = np.asarray(st["time_stamps"], dtype=np.float64).reshape(-1)
        if ts.size == 0:
            notes.append(f"stream {name!r} ({typ or 'no type'}) holds no samples: not replayed")
            continue
        fmt_in = _text(info, "channel_format").lower()
        fmt = _XDF_FORMAT.get(fmt_in)
        if fmt is None:
            notes.append(f"stream {name!r}: unknown channel format {fmt_in!r}: not replayed")
            continue
        if fmt_in not in ("float32", "double64", "string"):
            notes.append(f"stream {name!r}: {fmt_in} samples published as {fmt}")
        try:
            rate = float(_text(info, "nominal_srate") or 0.0)
        except ValueError:
            rate = 0.0
        if math.isfinite(rate) and rate > MAX_RATE_HZ:
            notes.append(f"stream {name!r}: nominal rate {rate:g} Hz is not a rate: published "
                         "as irregular")  # fmt: skip
        rate = rate if math.isfinite(rate) and 0 < rate <= MAX_RATE_HZ else 0.0
        series = st["time_series"]
        if fmt == "string":
            rows = [list(map(str, r)) if isinstance(r, list | tuple) else [str(r)] for r in series]
            n_ch = len(rows[0]) if rows else 1
            data: np.ndarray | list[Any] = [r[0] for r in rows] if n_ch == 1 else rows
        else:
            arr = np.asarray(series, dtype=np.float64)
            arr = arr.reshape(ts.size, -1)
            n_ch = arr.shape[1]
            data = arr
        # a damaged time stamp (not finite, or a day from the stream's others) would stall the
        # replay for ever: its sample is left out
        ok = np.isfinite(ts)
        if ok.any():
            ok &= np.abs(ts - np.median(ts[ok])) <= MAX_SPREAD_S
        if not ok.all():
            notes.append(
                f"stream {name!r}: {int((~ok).sum())} sample(s) whose time stamp is not finite or "
                "a day away from the others left out"
            )
            ts = ts[ok]
            data = (
                data[ok]
                if isinstance(data, np.ndarray)
                else [d for d, k in zip(data, ok, strict=True) if k]
            )
            if ts.size == 0:
                continue
        if np.any(np.diff(ts) < 0):
            order = np.argsort(ts, kind="stable")
            notes.append(f"stream {name!r}: timestamps out of order, replayed sorted by time")
            ts = ts[order]
            data = data[order] if isinstance(data, np.ndarray) else [data[i] for i in order]
        labels, units = _channels(info)
        wot = _wot_desc(info)
        scale, ch = _number(wot.get("scale"), 1.0), _number(wot.get("channel"), 0.0)
        if not (math.isfinite(scale) and scale > 0 and ch.is_integer() and 0 <= ch < n_ch):
            notes.append(f"stream {name!r}: recorded scale {wot.get('scale')!r} or channel "
                         f"{wot.get('channel')!r} cannot be: replayed as recorded")  # fmt: skip
            scale, ch = 1.0, 0.0
        if wot.get("modality") == "eda" and scale != 1.0 and isinstance(data, np.ndarray):
            # a wot recording keeps EDA as received; the unit the session used (--eda-unit or
            # the metadata) is its scale to µS: replay what the engine saw, in µS
            ch = int(ch)
            data = data.copy()
            data[:, ch] *= scale
            units = list(units) + [""] * max(0, ch + 1 - len(units))
            units[ch] = "uS"
            notes.append(f"stream {name!r}: EDA scaled by {scale:g} to µS, as recorded")
        if name.startswith("wot-") and not wot:
            # the engine's own outputs of the recorded session: renamed, so that a live engine's
            # wot-features/wot-state/... are never confused with the recorded ones
            notes.append(f"stream {name!r} replayed as 'replay-{name}'")
            name = f"replay-{name}"
        mod = typ.strip().lower()
        if mod in MODALITY_TYPES and mod not in taken:
            taken.add(mod)
            sid = f"{source_id}-{mod}"
        else:
            sid = f"{source_id}-{k}"
        streams.append(
            ReplayStream(
                name=f"{name_prefix}-{name}" if name_prefix else name,
                type=typ,
                channel_count=n_ch,
                fs=rate,
                channel_format=fmt,
                source_id=sid,
                timestamps=ts,
                data=data,
                labels=labels,
                units=units,
                file=str(p),
            )
        )
    if not streams:
        raise InputError(f"{p.name}: no stream with samples in the file (nothing to replay)")
    return streams, notes


# publishing ---------------------------------------------------------------------------------
def _stream_info(s: ReplayStream, speed: float, start_s: float) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo(
        s.name,
        s.type,
        s.channel_count,
        s.fs if s.fs > 0 else pylsl.IRREGULAR_RATE,
        FORMATS[s.channel_format],
        s.source_id,
    )
    desc = info.desc()
    chans = desc.append_child("channels")
    for label, unit in zip(s.labels, s.units, strict=True):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", s.type)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "wot-biofeedback")
    acq.append_child_value("model", "replay")
    rep = desc.append_child("replay")
    rep.append_child_value("file", s.file)
    rep.append_child_value("speed", f"{speed:g}")
    rep.append_child_value("start_s", f"{start_s:g}")
    return info


@dataclass
class _Plan:
    """What one stream plays in one pass: sample rows ``i0:i1`` at playback times ``offsets``."""

    i0: int
    i1: int
    offsets: np.ndarray  # s from the start of the pass

    @property
    def n(self) -> int:
        return self.i1 - self.i0


class ReplayPublisher(PublisherThread):
    """Publish :class:`ReplayStream` objects as LSL outlets in a background thread.

    Parameters
    ----------
    streams : sequence of ReplayStream
        What to play (e.g. from :func:`load_replay`).
    speed : float
        Playback speed: recording seconds per wall-clock second (> 0).
    loop : bool
        Start again when the end (of ``duration_s``, else of the recording) is reached; the
        timestamps keep increasing (pass ``k`` is offset by ``k * span_s``).
    start_s : float
        Skip the first ``start_s`` seconds of the recording, s; must lie inside the recording.
    duration_s : float, optional
        Play only this many seconds of recording from ``start_s`` (a pass), s.
    chunk_s : float
        Wall-clock period between pushes, s.
    wait_for_consumers : float
        If > 0, hold playback until every outlet has a consumer, or this many wall-clock
        seconds have passed. LSL delivers only what is pushed after an inlet connects, so this
        is how a consumer gets the first samples. ``t0_lsl`` is taken when playback begins.

    Attributes
    ----------
    length_s : float
        Length of the recording, s: from the earliest timestamp to the end of the last sample.
    span_s : float
        Recording seconds played per pass, s.
    samples_per_pass : list of int
        Samples each stream publishes per pass.
    t0_lsl : float
        LSL time of playback time 0 (recording time ``start_s``), s.
    error : BaseException or None
        What made the publishing thread fail.

    Notes
    -----
    The outlets are created in :meth:`start`, so streams can be resolved as soon as it returns,
    and stay open after the end until :meth:`stop`, so consumers can drain them. If the thread
    fails, the exception is kept in :attr:`error`, :attr:`finished` becomes True and
    :meth:`stop` re-raises it.

    Raises
    ------
    ValueError
        No streams, ``speed``, ``chunk_s`` or ``duration_s`` not > 0.
    InputError
        ``start_s`` outside the recording (the message gives its length).
    """

    def __init__(
        self,
        streams: Sequence[ReplayStream],
        speed: float = 1.0,
        loop: bool = False,
        start_s: float = 0.0,
        duration_s: float | None = None,
        chunk_s: float = 0.05,
        wait_for_consumers: float = 0.0,
    ) -> None:
        if not streams:
            raise ValueError("nothing to replay: no streams")
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed {speed!r} must be > 0")
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise ValueError(f"chunk_s {chunk_s!r} must be > 0 s")
        if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration {duration_s!r} must be > 0 s")
        self.streams = list(streams)
        full = [s for s in self.streams if s.n_samples]
        if not full:
            raise InputError("nothing to replay: every stream is empty")
        self.t_first = min(float(s.timestamps[0]) for s in full)
        self.length_s = max(s.end_s for s in full) - self.t_first
        inside = start_s < self.length_s or start_s == 0  # a lone marker is 0 s long
        if not (math.isfinite(start_s) and start_s >= 0 and inside):
            raise InputError(
                f"start {start_s:g} s is outside the recording, which is {self.length_s:.1f} s long"
            )
        end = self.length_s if duration_s is None else min(self.length_s, start_s + duration_s)
        self.span_s = end - start_s
        if loop and not self.span_s >= 1.0:
            raise InputError(f"cannot loop {self.span_s:g} s of recording (at least 1 s)")
        self.speed = float(speed)
        self.loop = bool(loop)
        self.start_s = float(start_s)
        self.duration_s = duration_s
        self.chunk_s = float(chunk_s)
        self._init_thread(wait_for_consumers)
        self._plans = []
        for s in self.streams:
            rel = s.timestamps - self.t_first
            i0 = int(np.searchsorted(rel, self.start_s - 1e-9, side="left"))
            # a given duration ends the pass before `end`; without one every sample is played
            i1 = s.n_samples if duration_s is None else int(np.searchsorted(rel, end - 1e-9))
            i1 = max(i0, i1)
            self._plans.append(_Plan(i0, i1, rel[i0:i1] - self.start_s))
        self.samples_per_pass = [pl.n for pl in self._plans]
        self._outlets: list[pylsl.StreamOutlet] = []

    # outlets --------------------------------------------------------------------------------
    def _open(self) -> tuple[list[pylsl.StreamOutlet], list[pylsl.StreamOutlet]]:
        for s in self.streams:
            info = _stream_info(s, self.speed, self.start_s)
            self._outlets.append(pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360))
        # --wait: the signals a live engine takes (ID-ecg, ID-eda, ...) that have samples to
        # play must have consumers; markers and the engine outputs of a recorded session may
        # have none (see PublisherThread._wait_for_consumers)
        wanted = [
            o
            for s, o, plan in zip(self.streams, self._outlets, self._plans, strict=True)
            if plan.n and s.source_id.rsplit("-", 1)[-1] in MODALITY_TYPES
        ]
        return wanted or list(self._outlets), self._outlets

    def _close_outlets(self) -> None:
        self._outlets.clear()

    # thread ---------------------------------------------------------------------------------
    def _publish(self) -> None:
        sent = [0] * len(self.streams)  # samples pushed per stream, over all passes
        start = self.t0_lsl
        tick = 0
        while not self._stop.is_set():
            t_play = (pylsl.local_clock() - start) * self.speed
            if not self.loop:
                t_play = min(t_play, self.span_s)
            done = self._push_due(t_play, sent)
            self._position = t_play
            if done and not self.loop:
                break
            # sleep to the next deadline on the start-anchored grid (skip missed ones)
            tick = max(tick + 1, int((pylsl.local_clock() - start) / self.chunk_s) + 1)
            self._stop.wait(max(0.0, start + tick * self.chunk_s - pylsl.local_clock()))

    def _push_due(self, t_play: float, sent: list[int]) -> bool:
        """Push every sample with playback time <= t_play; True when a whole pass is out."""
        all_done = True
        for i, (s, plan, outlet) in enumerate(
            zip(self.streams, self._plans, self._outlets, strict=True)
        ):
            n = plan.n
            while n and (self.loop or sent[i] < n):
                lap, j = divmod(sent[i], n)
                due = t_play - lap * self.span_s + 1e-9
                j_due = int(np.searchsorted(plan.offsets, due, side="right"))
                if j_due <= j:
                    break
                stamps = self.t0_lsl + lap * self.span_s + plan.offsets[j:j_due]
                a, b = plan.i0 + j, plan.i0 + j_due
                if isinstance(s.data, np.ndarray):
                    chunk: Any = s.data[a:b]
                else:
                    chunk = [[v] if isinstance(v, str) else list(v) for v in s.data[a:b]]
                outlet.push_chunk(chunk, stamps.tolist())
                sent[i] += j_due - j
                if j_due < n or not self.loop:
                    break
            all_done = all_done and sent[i] >= n
        return all_done


def play(
    pub: ReplayPublisher,
    *,
    linger_s: float = 2.0,
    progress: Callable[[ReplayPublisher], None] | None = None,
    progress_s: float = 1.0,
) -> None:
    """Start ``pub`` and block until one pass has played out (``loop=True``: until Ctrl-C).

    Parameters
    ----------
    pub : ReplayPublisher
        A publisher not started yet.
    linger_s : float
        Wall-clock seconds to keep the outlets open after the end, so consumers can drain them.
    progress : callable, optional
        Called with the publisher every ``progress_s`` wall-clock seconds while it plays.
    progress_s : float
        Wall-clock period of ``progress``, s.

    Notes
    -----
    A KeyboardInterrupt (Ctrl-C) closes the streams and propagates to the caller; an error of
    the publishing thread is raised here.
    """
    pub.start()
    try:
        while not pub.wait_finished(progress_s):
            if progress is not None:
                progress(pub)
        if pub.error is None:
            time.sleep(max(0.0, linger_s))
    finally:
        pub.stop()
