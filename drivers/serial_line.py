"""DIY sensors (Arduino GSR/ECG boards, ESP32 sketches …) sending text lines over a serial
port, bridged to typed LSL streams: ``wot driver serial --port DEV --format … --channels …``.

Line protocol
-------------
One sample per line: ASCII/UTF-8 text ending in ``\\n`` or ``\\r\\n``, fields separated by a
comma (or ``--delimiter``: one character, ``tab``, ``semicolon`` or ``space`` for any run of
blanks); a trailing delimiter is allowed and spaces around numbers are ignored.

* ``--format csv-rate``: the channel values only (``0.512,4.31``); the device samples at the
  declared ``--rate``.
* ``--format csv-timestamp``: first the device time (``--time-unit s|ms|us``, e.g. Arduino's
  ``millis()``), then the channel values (``123456,0.512,4.31``).

``--channels`` names the value columns in order: ``ecg``, ``ppg``, ``eda``, ``resp``, ``acc_x``,
``acc_y``, ``acc_z`` (the three together) or ``skip`` (a column to ignore), each optionally with
its unit after a colon (``ecg:mV,eda:uS``; defaults mV, a.u., uS, a.u., g). EDA units are those
``wot run`` scales to µS: ``uS``, ``nS``, ``mS``, ``S`` or ``raw:SCALE``.

Lines starting with ``#`` are comments (a banner, a firmware version, a button press): each is
published as a marker ``device: TEXT``. Blank lines are ignored, and so is a header line of
labels (``time_ms,eda``) before the first sample. The first line after the port opens is
dropped, since the port may have been opened in the middle of it.

Malformed lines are skipped, counted per reason, reported on stderr and as ``skipped lines: …``
markers every ``--report-every`` seconds and at exit, and never stop the driver. The reasons
(:data:`REASONS`): ``undecodable`` (not UTF-8, e.g. a wrong ``--baud``), ``too_long`` (over
:data:`MAX_LINE_BYTES` bytes without a newline), ``field_count``, ``not_numeric``,
``not_finite`` (``nan``/``inf``: a sample is either all there or skipped), and for
``csv-timestamp`` ``time_backwards`` (not later than the previous sample) and ``time_jump``
(later than the arrival clock allows: a line cannot arrive before it was sampled).

Timestamps
----------
Both formats give each line a device time ``x``: the stamp (``csv-timestamp``) or the line's
index at the declared rate, ``k / rate`` (``csv-rate``; a malformed line still takes its index,
so the lines after it keep their times). Two stages map ``x`` to the LSL clock:

1. **The device's real rate.** DIY boards pace samples with ``delay()`` or a ceramic resonator,
   off by up to a few per cent, more than a crystal drift. Per 1-s block of ``x`` the least
   delayed line (smallest ``arrival - x``) is kept over the last 60 s; once they span 4 s the
   ratio of their arrival and device spans (oldest to newest complete block) is the real
   seconds per device second, accepted within ``1/1.25``-``1.25`` (else reported: check
   ``--rate`` or ``--time-unit``). Device time is integrated with it (``d += Δx × ratio``), so
   a new estimate bends the time axis without a jump; when it moves by more than
   :data:`REFIT_PPM` from the one the mapping below was fitted with (the first estimate does),
   that mapping starts afresh rather than keep a history on the old scale.
2. :class:`~wot_drivers._common.ClockMapper` maps ``d`` to the LSL clock: the lower envelope of
   ``arrival - d`` per read, the remaining crystal drift, and monotonic output (across reconnects
   and device clock restarts too).

A silence longer than ``--gap`` (default the larger of 0.5 s and 5 sample periods) is marked
``gap start`` / ``gap end: N s``. With ``csv-timestamp`` it shows in the device times. With
``csv-rate``, when a read's newest line arrives later than the envelope predicts by more than
``--gap``, the lines the device did not send are counted as missed and ``k`` jumps by them, so
sample times stay anchored to arrival (lines that merely queued while this computer was busy
arrive together, are not late, and keep their times); lines lost whole for less than ``--gap``
cannot be told from a delay, so use ``csv-timestamp`` when timing matters. Three consecutive
``csv-timestamp`` lines whose times increase among themselves but not from the last accepted
one mean the device clock restarted (a reset): the clock mapping starts again and a marker says so.

The port
--------
If the port vanishes (USB unplugged), a ``gap start`` marker goes out and the port is reopened
with :class:`~wot_drivers._common.Backoff` delays until it is back (``gap end``); the device
clock may have restarted, so the mapping starts again. Streams: ``{prefix}-ECG``/``-EDA``/…,
types ``ECG``, ``PPG``, ``EDA``, ``RESP``, ``ACC`` (x, y, z), source ids ``{source_id}-ecg``,
``-eda``, … (``wot run --source-id ID`` finds them) and markers ``{prefix}-markers`` /
``{source_id}-markers``; both prefixes default to ``serial-`` and the port's file name.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any, cast

import pylsl

from wot_biofeedback.checks import check_rate, check_value
from wot_biofeedback.errors import InputError
from wot_biofeedback.modalities import FILE_MODALITIES, MODALITIES

from ._common import Backoff, ClockMapper, MarkerOutlet, make_outlet, run_while

HELP = "a DIY sensor (Arduino GSR/ECG board …) sending text lines over a serial port"

FORMATS = ("csv-rate", "csv-timestamp")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "space": None, "whitespace": None}

REASONS = (
    "undecodable",
    "too_long",
    "field_count",
    "not_numeric",
    "not_finite",
    "time_backwards",
    "time_jump",
)
"""Why a line was skipped, in the order the checks run."""

MAX_LINE_BYTES = 512
"""A longer line (or that many bytes without a newline) is skipped as ``too_long``."""
READ_TIMEOUT_S = 0.1
"""Longest a read blocks, s: how soon the reader thread sees a stop."""
SILENT_WARN_S = 5.0
"""No complete line for this long on an open port is reported once, s."""
RESTART_LINES = 3
"""Consecutive out-of-order but self-consistent stamps that mean the device clock restarted."""
MAX_RATIO = 1.25
"""Measured device rates within a factor of this of the declared rate are corrected for."""
JUMP_TOL_S = 0.05
"""Slack of the ``time_jump`` check, s (on top of a ``MAX_RATIO`` rate error)."""
REFIT_PPM = 500.0
"""A measured rate this far (ppm) from the one the clock mapping was fitted with restarts it
(the mapping follows up to 1000 ppm of drift by itself)."""

# --channels name: (modality, default unit, channel label in the stream)
CHANNEL_KINDS = {
    **{m: (m, MODALITIES[m].unit, MODALITIES[m].lsl_type) for m in FILE_MODALITIES},
    **{f"acc_{a}": ("acc", MODALITIES["acc"].unit, a) for a in "xyz"},
}
_LABEL = re.compile(r"[^\W\d][\w .()/%°µ\[\]-]*")


# the channel declaration ------------------------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    """One value column: its ``--channels`` name (``skip`` to ignore it) and unit."""

    name: str
    unit: str


@dataclass(frozen=True)
class StreamSpec:
    """One LSL stream: modality (``ecg`` …), LSL type, ``(label, unit)`` per channel, and the
    value columns (0-based, time column excluded) that feed it."""

    modality: str
    stype: str
    channels: tuple[tuple[str, str], ...]
    columns: tuple[int, ...]


def parse_channels(spec: str) -> list[Channel]:
    """``"ecg:mV,eda:uS"`` → channels, validated (names, units, each modality once, the three
    accelerometer axes together).

    Raises
    ------
    InputError
        Naming the bad entry.
    """
    out: list[Channel] = []
    for item in spec.split(","):
        name, _, unit = (s.strip() for s in item.partition(":"))
        name = name.lower()
        if name == "skip":
            out.append(Channel("skip", ""))
            continue
        if name not in CHANNEL_KINDS:
            raise InputError(
                f"unknown channel {name!r} in --channels {spec!r}; use "
                f"{', '.join(CHANNEL_KINDS)} or skip, each with an optional :UNIT"
            )
        if any(c.name == name for c in out):
            raise InputError(f"channel {name!r} given twice in --channels {spec!r}")
        if name == "eda" and unit:
            from wot_biofeedback.sources.files import parse_eda_unit

            parse_eda_unit(unit)  # the unit wot run will scale to µS
        out.append(Channel(name, unit or CHANNEL_KINDS[name][1]))
    named = [c for c in out if c.name != "skip"]
    if not named:
        raise InputError(f"--channels {spec!r} names no signal channel")
    axes = [c for c in named if c.name.startswith("acc_")]
    if axes and len(axes) != 3:
        raise InputError(f"--channels {spec!r}: give acc_x, acc_y and acc_z together")
    if len({c.unit for c in axes}) > 1:
        raise InputError(f"--channels {spec!r}: the accelerometer axes need one unit")
    return out


def stream_specs(channels: Sequence[Channel]) -> list[StreamSpec]:
    """The LSL streams the columns make, in the order they first appear."""
    cols: dict[str, list[tuple[str, int]]] = {}
    for i, c in enumerate(channels):
        if c.name != "skip":
            cols.setdefault(CHANNEL_KINDS[c.name][0], []).append((c.name, i))
    specs = []
    for modality, members in cols.items():
        members.sort()  # acc_x, acc_y, acc_z
        chans = tuple(
            (CHANNEL_KINDS[n][2], next(c.unit for c in channels if c.name == n)) for n, _ in members
        )
        specs.append(StreamSpec(modality, modality.upper(), chans, tuple(i for _, i in members)))
    return specs


# lines -------------------------------------------------------------------------------------------
class LineSplitter:
    """Bytes → complete lines (without ``\\r\\n``); ``None`` stands for an over-long line, which
    is dropped up to its newline. After :meth:`sync` the first (maybe partial) line is dropped."""

    def __init__(self, max_len: int = MAX_LINE_BYTES) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._drop = False  # inside a line being dropped (partial first one, or over-long)

    def sync(self) -> None:
        """Forget buffered bytes and drop everything up to the next newline."""
        self._buf.clear()
        self._drop = True

    def feed(self, data: bytes) -> list[bytes | None]:
        buf = self._buf
        buf += data
        out: list[bytes | None] = []
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:end])
            start = end + 1
            if self._drop:
                self._drop = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append(None if len(line) > self.max_len else line)
        del buf[:start]
        if len(buf) > self.max_len:
            if not self._drop:
                out.append(None)
                self._drop = True
            buf.clear()
        return out


def parse_line(
    raw: bytes, n_fields: int, delimiter: str | None = ",", header_ok: bool = False
) -> tuple[str, Any]:
    """Classify one line: ``("sample", values)``, ``("comment", text)``, ``("blank", None)``,
    ``("header", labels)`` (only when ``header_ok``) or ``("reject", reason)``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "reject", "undecodable"
    s = text.strip()
    if not s:
        return "blank", None
    if s.startswith("#"):
        return "comment", s[1:].strip()
    fields = s.split(delimiter) if delimiter else s.split()
    if delimiter and len(fields) > 1 and not fields[-1].strip():
        fields.pop()  # a trailing delimiter (print(x); print(",") in a loop)
    if header_ok and all(_is_label(f) for f in fields):
        return "header", [f.strip() for f in fields]
    if len(fields) != n_fields:
        return "reject", "field_count"
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return "reject", "not_numeric"
    if not all(math.isfinite(v) for v in values):
        return "reject", "not_finite"
    return "sample", values


def _is_label(field: str) -> bool:
    f = field.strip()
    if not _LABEL.fullmatch(f):
        return False
    try:
        float(f)  # nan, inf, infinity
    except ValueError:
        return True
    return False


# timing ------------------------------------------------------------------------------------------
GapEvent = tuple[int, str, float]
"""``(index, kind, value)``: before item ``index``, a ``"gap"`` (value: the silence, s) or a
``"restart"`` of the device clock (value: the last device time before it, s)."""


class LineTiming:
    """Device times of lines → LSL times (see the module docstring, "Timestamps").

    Parameters
    ----------
    rate : float
        Declared sampling rate, Hz (``csv-rate``: the line rate; ``csv-timestamp``: nominal).
    gap_s : float
        A silence longer than this is a gap, s.
    mapper : ClockMapper, optional
        The drift-corrected, monotonic device → LSL mapping.
    window_s, block_s, min_span_s : float
        Rate measurement: history kept, block of the lower envelope, and the span needed
        before the measured rate is used, device s.
    """

    def __init__(
        self,
        rate: float,
        gap_s: float,
        mapper: ClockMapper | None = None,
        window_s: float = 60.0,
        block_s: float = 1.0,
        min_span_s: float = 4.0,
    ) -> None:
        self.rate = float(rate)
        self.gap_s = float(gap_s)
        self.mapper = mapper if mapper is not None else ClockMapper()
        self.window_s, self.block_s, self.min_span_s = window_s, block_s, min_span_s
        self.ratio = 1.0
        """Real seconds per device second, measured (1 until measured)."""
        self._fitted_ratio = 1.0  # the ratio the mapper's history was made with
        self.notes: list[str] = []
        """Messages about the measured rate, for the driver to publish (it empties the list)."""
        self._noted: set[str] = set()
        self._env: deque[list[float]] = deque()  # [block start x, x, arrival] least delayed
        self._pending: list[tuple[int, float]] = []
        self._d = 0.0  # integrated device time
        self.restart()

    def restart(self) -> None:
        """The device time starts again (a new connection or a device reset); the measured rate
        is kept, LSL times stay monotonic."""
        self.mapper.reset()
        self._fitted_ratio = self.ratio
        self._env.clear()
        self._pending.clear()
        self._x: float | None = None  # device time of the last accepted line
        self._k = 0  # csv-rate: index of the next line
        self._cand: list[float] = []  # csv-timestamp: out-of-order stamps in a row

    # csv-rate ------------------------------------------------------------------------------
    def rate_chunk(self, n: int, arrival: float) -> tuple[list[float], list[GapEvent]]:
        """LSL times of the next ``n`` lines (good or malformed) that arrived together."""
        if n <= 0:
            return [], []
        events: list[GapEvent] = []
        k0 = self._k
        if self._x is not None:
            late = arrival - self._earliest_arrival((k0 + n - 1) / self.rate)
            if late > self.gap_s:
                missed = round(late * self.rate / self.ratio)
                if missed > 0:
                    k0 += missed
                    events.append((0, "gap", missed * self.ratio / self.rate))
        for i in range(n):
            self._accept((k0 + i) / self.rate, arrival, i)
        self._k = k0 + n
        out: list[Any] = [None] * n
        self._flush(arrival, out)
        return out, events

    # csv-timestamp -------------------------------------------------------------------------
    def stamped_chunk(
        self, xs: Sequence[float], arrival: float
    ) -> tuple[list[float | str], list[GapEvent]]:
        """LSL times of lines stamped ``xs`` (device s) that arrived together, or for each line
        whose time does not follow, its reason (``time_backwards``, ``time_jump``)."""
        out: list[Any] = [None] * len(xs)
        events: list[GapEvent] = []
        for i, x in enumerate(xs):
            reason = self._check_stamp(x, arrival)
            if reason is None:
                if self._x is not None and x - self._x > self.gap_s:
                    events.append((i, "gap", (x - self._x - 1.0 / self.rate) * self.ratio))
                self._cand.clear()
                self._accept(x, arrival, i)
                continue
            if self._cand and x <= self._cand[-1]:
                self._cand.clear()
            self._cand.append(x)
            if len(self._cand) < RESTART_LINES:
                out[i] = reason
                continue
            # the device clock restarted (or jumped): map from here on afresh
            self._flush(arrival, out)
            prev = self._x
            self.restart()
            events.append((i, "restart", math.nan if prev is None else prev))
            self._accept(x, arrival, i)
        self._flush(arrival, out)
        return out, events

    def _check_stamp(self, x: float, arrival: float) -> str | None:
        if self._x is None:
            return None
        if x <= self._x:
            return "time_backwards"
        # no line arrives before it was sampled: compare with the least delayed recent line
        _start, xr, ar = self._env[-1]
        elapsed = max(0.0, arrival - ar)
        if x - xr > elapsed / self.ratio * MAX_RATIO + JUMP_TOL_S:
            return "time_jump"
        return None

    # shared --------------------------------------------------------------------------------
    def _earliest_arrival(self, x: float) -> float:
        _start, xr, ar = self._env[-1]
        return ar + (x - xr) * self.ratio

    def _accept(self, x: float, arrival: float, i: int) -> None:
        if self._x is not None:
            self._d += (x - self._x) * self.ratio
        self._x = x
        self._pending.append((i, self._d))
        self._envelope(x, arrival)

    def _flush(self, arrival: float, out: list[Any]) -> None:
        if not self._pending:
            return
        self.mapper.update(self._pending[-1][1], arrival)
        for i, d in self._pending:
            out[i] = self.mapper.map(d)
        self._pending.clear()

    def _envelope(self, x: float, arrival: float) -> None:
        env = self._env
        if env and x - env[-1][0] < self.block_s:
            if arrival - x < env[-1][2] - env[-1][1]:
                env[-1][1:] = [x, arrival]
            return
        env.append([x, x, arrival])
        while x - env[0][1] > self.window_s:
            env.popleft()
        if len(env) < 3:
            return
        _s0, x0, a0 = env[0]
        _s1, x1, a1 = env[-2]  # the newest complete block
        if x1 - x0 < self.min_span_s:
            return
        ratio = (a1 - a0) / (x1 - x0)
        if 1.0 / MAX_RATIO <= ratio <= MAX_RATIO:
            self.ratio = ratio
            if abs(ratio / self._fitted_ratio - 1.0) > REFIT_PPM * 1e-6:
                self.mapper.reset()  # its history is on the old time scale (stays monotonic)
                self._fitted_ratio = ratio
            if abs(ratio - 1.0) > 0.005:
                self._note("measured", f"{self.rate / ratio:.4g}")
        else:
            self._note("implausible", f"{self.rate / ratio:.3g}" if ratio > 0 else "?")

    def _note(self, kind: str, value: str) -> None:
        if kind in self._noted:
            return
        self._noted.add(kind)
        if kind == "measured":
            self.notes.append(
                f"the device runs at {value} samples/s by this computer's clock (declared "
                f"{self.rate:g} Hz); timestamps are corrected for it"
            )
        else:
            self.notes.append(
                f"the line times do not fit the declared {self.rate:g} Hz (about {value} "
                "samples/s by this computer's clock): check --rate (csv-rate) or --time-unit "
                "(csv-timestamp)"
            )


# the driver --------------------------------------------------------------------------------------
def _import_serial() -> ModuleType:
    try:
        import serial
    except ImportError:
        raise InputError(
            'the serial driver needs pyserial: pip install "wot-biofeedback[serial]"'
        ) from None
    return serial


def default_id(port: str) -> str:
    """``serial-`` and the port's file name (``/dev/ttyACM0`` → ``serial-ttyACM0``)."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", os.path.basename(port.rstrip("/\\")) or port)
    return f"serial-{base.strip('-') or 'port'}"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class SerialLineDriver:
    """Read a line protocol from a serial port and publish typed LSL streams (module docstring).

    :meth:`start` opens the port (an :class:`InputError` when it cannot) and the outlets and
    starts the reader thread; :meth:`stop` ends it (a stop Event, a join with a timeout) and
    re-raises a reader error once. Also a context manager.

    Parameters
    ----------
    port : str
        Serial device (``/dev/ttyACM0``, ``COM3``, a ``/dev/serial/by-id/…`` link).
    channels : str or sequence of Channel
        The value columns (``"ecg:mV,eda:uS"``).
    fmt : str
        ``csv-rate`` or ``csv-timestamp``.
    rate : float
        Sampling rate, Hz: of the lines (``csv-rate``), nominal (``csv-timestamp``).
    time_unit : str
        ``s``, ``ms`` or ``us``: the unit of the ``csv-timestamp`` time field.
    gap_s : float, optional
        A silence longer than this is marked as a gap, s (default max(0.5, 5 / rate)).
    report_s : float
        Period of the skipped-line reports, s.
    backoff : Backoff, optional
        Reopen delays after the port vanished.
    log : callable, optional
        Where status lines go (default stderr).
    """

    def __init__(
        self,
        port: str,
        channels: str | Sequence[Channel],
        fmt: str,
        rate: float,
        *,
        baud: int = 115200,
        time_unit: str = "ms",
        delimiter: str = ",",
        source_id: str | None = None,
        name_prefix: str | None = None,
        gap_s: float | None = None,
        report_s: float = 10.0,
        backoff: Backoff | None = None,
        log: Callable[[str], None] | None = None,
        max_line: int = MAX_LINE_BYTES,
    ) -> None:
        self.port = str(port)
        self.fmt = check_value(fmt, FORMATS, "--format")
        self.rate = check_rate(rate, "--rate", lo=0.01, hi=100_000.0)
        self.time_scale = TIME_UNITS[check_value(time_unit, TIME_UNITS, "--time-unit")]
        if not (isinstance(baud, int) and baud > 0):
            raise InputError(f"--baud {baud!r} must be a positive whole number")
        self.baud = baud
        self.delimiter = _delimiter(delimiter)
        self.channels = parse_channels(channels) if isinstance(channels, str) else list(channels)
        self.specs = stream_specs(self.channels)
        self.source_id = source_id or default_id(self.port)
        self.name_prefix = name_prefix or self.source_id
        self.gap_s = max(0.5, 5.0 / self.rate) if gap_s is None else float(gap_s)
        if not self.gap_s > 0:
            raise InputError(f"--gap {gap_s!r} must be > 0 s")
        if not report_s > 0:
            raise InputError(f"--report-every {report_s!r} must be > 0 s")
        self.report_s = float(report_s)
        self.backoff = backoff if backoff is not None else Backoff()
        self.log = log if log is not None else _stderr
        self.stamped = self.fmt == "csv-timestamp"
        self.n_fields = len(self.channels) + self.stamped

        self.error: BaseException | None = None
        self.connected = threading.Event()
        """Set while the port is open."""
        self._splitter = LineSplitter(max_line)
        self._timing = LineTiming(self.rate, self.gap_s)
        self._lock = threading.Lock()
        self._skipped: Counter[str] = Counter()
        self._stats: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: ModuleType | None = None
        self._ser: Any = None
        self._outlets: list[tuple[StreamSpec, pylsl.StreamOutlet]] = []
        self._markers: MarkerOutlet | None = None
        self._header_ok = True
        self._lost_at = math.nan
        self._last_line = time.monotonic()
        self._silence_noted = False
        self._reraised = False

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Open the port and the outlets, start the reader thread."""
        if self._thread is not None:
            raise RuntimeError("SerialLineDriver.start() may only be called once")
        self._serial = _import_serial()
        try:
            self._open()
        except (self._serial.SerialException, OSError, ValueError) as exc:
            raise InputError(f"cannot open serial port {self.port}: {exc}") from None
        try:
            for spec in self.specs:
                outlet = make_outlet(
                    f"{self.name_prefix}-{spec.stype}",
                    spec.stype,
                    spec.channels,
                    self.rate,
                    f"{self.source_id}-{spec.modality}",
                    model=f"serial line ({self.fmt})",
                )
                self._outlets.append((spec, outlet))
            self._markers = MarkerOutlet(f"{self.name_prefix}-markers", f"{self.source_id}-markers")
        except BaseException:
            self._close_port()
            raise
        self._thread = threading.Thread(target=self._run, name="SerialLineDriver", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reader (join up to ``timeout`` s), close the port and the outlets, and
        re-raise a reader error (once).

        Raises
        ------
        RuntimeError
            When the reader did not end within ``timeout``.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"serial reader did not stop within {timeout:g} s")
        self._close_port()
        skipped = self.skipped
        if self._markers is not None and skipped:
            self._markers.push(f"skipped lines (total): {_fmt_counts(skipped)}")
        self._outlets, self._markers = [], None  # the last reference: the outlets close
        if self.error is not None and not self._reraised:
            self._reraised = True
            raise self.error

    def __enter__(self) -> SerialLineDriver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # counts (cumulative, never reset by reading) ----------------------------------------------
    @property
    def skipped(self) -> dict[str, int]:
        """Malformed lines skipped so far, per reason (:data:`REASONS`)."""
        with self._lock:
            return dict(self._skipped)

    @property
    def stats(self) -> dict[str, int]:
        """``samples`` published, ``comments``, ``headers``, ``gaps``, ``restarts`` (device
        clock), ``lost`` and ``reopened`` (the port) so far."""
        with self._lock:
            return dict(self._stats)

    def summary(self) -> str:
        st, sk = self.stats, self.skipped
        text = f"serial: {st.get('samples', 0)} samples from {self.port}"
        text += f"; skipped {sum(sk.values())} malformed line(s)"
        if sk:
            text += f" ({_fmt_counts(sk)})"
        for key in ("gaps", "restarts", "reopened"):
            if st.get(key):
                text += f"; {key} {st[key]}"
        return text

    # reader thread -------------------------------------------------------------------------
    def _run(self) -> None:
        assert self._serial is not None
        errors = (self._serial.SerialException, OSError)
        next_report = time.monotonic() + self.report_s
        try:
            while not self._stop.is_set():
                if self._ser is None:
                    self._reopen()
                    continue
                try:
                    data = self._ser.read(self._ser.in_waiting or 1)
                except errors as exc:
                    self._lost(exc)
                    continue
                if data:
                    self._process(data, pylsl.local_clock())
                now = time.monotonic()
                if now - self._last_line > SILENT_WARN_S and not self._silence_noted:
                    self._silence_noted = True
                    self.log(
                        f"serial: no complete line from {self.port} for {SILENT_WARN_S:g} s "
                        f"(is the board sending, at --baud {self.baud}?)"
                    )
                if now >= next_report:
                    next_report = now + self.report_s
                    self._report()
        except BaseException as exc:  # the thread must never die silently
            self.error = exc
        finally:
            self._close_port()

    def _open(self) -> None:
        assert self._serial is not None
        kw = {"exclusive": True} if os.name == "posix" else {}  # one reader per port
        ser = self._serial.Serial(self.port, self.baud, timeout=READ_TIMEOUT_S, **kw)
        try:
            ser.reset_input_buffer()  # stale bytes from before we listened
        except BaseException:
            ser.close()
            raise
        self._ser = ser
        self._splitter.sync()
        self._timing.restart()
        self._header_ok = True
        self._last_line = time.monotonic()
        self._silence_noted = False
        self.connected.set()

    def _close_port(self) -> None:
        ser, self._ser = self._ser, None
        self.connected.clear()
        if ser is not None:
            # closing a vanished device may fail; it is gone either way
            with contextlib.suppress(Exception):
                ser.close()

    def _lost(self, exc: BaseException) -> None:
        self._close_port()
        self._lost_at = pylsl.local_clock()
        self._count("lost")
        self._marker(f"gap start: serial port lost ({exc})")
        self.log(f"serial: {self.port} lost ({exc}); reopening")

    def _reopen(self) -> None:
        assert self._serial is not None
        if self._stop.wait(self.backoff.next()):
            return
        try:
            self._open()
        except (self._serial.SerialException, OSError, ValueError):
            return
        self.backoff.reset()
        gap = pylsl.local_clock() - self._lost_at
        self._count("reopened")
        self._marker(f"gap end: {gap:.1f} s (serial port reopened)")
        self.log(f"serial: {self.port} reopened after {gap:.1f} s")

    # lines → samples -----------------------------------------------------------------------
    def _process(self, data: bytes, arrival: float) -> None:
        rows: list[Any] = []  # csv-rate: values or None per line; csv-timestamp: (raw, values)
        for raw in self._splitter.feed(data):
            self._last_line = time.monotonic()
            self._silence_noted = False
            if raw is None:
                self._skip("too_long", b"")
                if not self.stamped:
                    rows.append(None)
                continue
            kind, payload = parse_line(raw, self.n_fields, self.delimiter, self._header_ok)
            if kind == "sample":
                self._header_ok = False
                rows.append((raw, payload) if self.stamped else payload)
            elif kind == "reject":
                self._skip(payload, raw)
                if not self.stamped:
                    rows.append(None)
            elif kind == "comment":
                self._count("comments")
                self._marker(f"device: {payload}")
            elif kind == "header":
                self._count("headers")
        if not rows:
            return
        times: Sequence[float | str]  # LSL times; stamped: a reason for a line that does not follow
        if self.stamped:
            xs = [v[0] * self.time_scale for _raw, v in rows]
            times, events = self._timing.stamped_chunk(xs, arrival)
            for (raw, values), t in zip(rows, times, strict=True):
                if isinstance(t, str):
                    self._skip(t, raw)
                else:
                    self._push(values[1:], t)
        else:
            rate_times, events = self._timing.rate_chunk(len(rows), arrival)
            times = rate_times
            for values, rt in zip(rows, rate_times, strict=True):
                if values is not None:
                    self._push(values, rt)
        for i, kind, value in events:
            at = cast(float, times[i])  # an event's line was accepted, so it has a time
            if kind == "gap":
                self._count("gaps")
                self._marker("gap start: no data from the device", at - value)
                self._marker(f"gap end: {value:.2f} s", at)
            else:
                self._count("restarts")
                self._marker(f"device clock restarted (last time {value:.3f} s)", at)
        while self._timing.notes:
            note = self._timing.notes.pop(0)
            self.log(f"serial: {note}")
            self._marker(note)

    def _push(self, values: Sequence[float], t: float) -> None:
        for spec, outlet in self._outlets:
            outlet.push_sample([values[c] for c in spec.columns], t)
        self._count("samples")

    def _skip(self, reason: str, raw: bytes) -> None:
        with self._lock:
            self._skipped[reason] += 1
            first = self._skipped[reason] == 1
        if first:  # an example of each problem helps fix the sketch; then only counts
            shown = f": {raw[:80]!r}" if raw else ""
            self.log(f"serial: skipping malformed lines ({reason}){shown}")

    def _count(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def _marker(self, text: str, t: float | None = None) -> None:
        if self._markers is not None:
            self._markers.push(text, t)

    def _report(self) -> None:
        with self._lock:
            now = Counter(self._skipped)
        new = now - self._reported
        self._reported = now
        if new:
            text = _fmt_counts(new)
            n = sum(new.values())
            self.log(
                f"serial: skipped {n} malformed line(s) in the last {self.report_s:g} s: {text}"
            )
            self._marker(f"skipped lines: {text}")


def _fmt_counts(counts: dict[str, int]) -> str:
    order = {r: i for i, r in enumerate(REASONS)}
    return ", ".join(f"{r} {n}" for r, n in sorted(counts.items(), key=lambda kv: order[kv[0]]))


def _delimiter(text: str) -> str | None:
    d = DELIMITERS.get(text.lower(), text) if len(text) > 1 else text
    if d is not None and (len(d) != 1 or d in "0123456789.+-eE#\r\n"):
        raise InputError(
            f"--delimiter {text!r} must be one character (not a digit, sign, dot, e or #), "
            "or tab, semicolon, space"
        )
    return d


# command line ------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", metavar="DEV", help="serial device, e.g. /dev/ttyACM0 or COM3")
    p.add_argument(
        "--list-ports", action="store_true", help="list the serial ports of this computer"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="csv-rate: values only, at --rate; csv-timestamp: device time, then the values",
    )
    p.add_argument(
        "--channels",
        metavar="SPEC",
        help="the value columns in order, NAME[:UNIT] separated by commas: ecg, ppg, eda, resp, "
        "acc_x/acc_y/acc_z, skip (e.g. ecg:mV,eda:uS)",
    )
    p.add_argument("--rate", type=float, metavar="HZ", help="sampling rate (nominal with stamps)")
    p.add_argument(
        "--time-unit",
        choices=tuple(TIME_UNITS),
        default="ms",
        help="unit of the csv-timestamp time field (default ms, as Arduino's millis())",
    )
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    p.add_argument(
        "--delimiter", default=",", help="field separator: one character, tab, semicolon, space"
    )
    p.add_argument(
        "--source-id",
        default=None,
        metavar="ID",
        help="source_id prefix: ID-ecg/-eda/... (for wot run --source-id ID); "
        "default serial-PORTNAME",
    )
    p.add_argument("--name-prefix", default=None, help="stream name prefix (default: the ID)")
    p.add_argument(
        "--gap",
        type=float,
        default=None,
        metavar="S",
        help="a silence longer than S s is marked as a gap (default max(0.5, 5 periods))",
    )
    p.add_argument(
        "--report-every",
        type=float,
        default=10.0,
        metavar="S",
        help="report skipped lines every S s (default 10)",
    )
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S s")


def _list_ports() -> int:
    _import_serial()
    from serial.tools import list_ports

    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    if not ports:
        print("no serial ports found")
    for port in ports:
        print(f"  {port.device}  {port.description}")
    return 0


def run(args: argparse.Namespace) -> int:
    """``wot driver serial``: bridge until Ctrl-C (or ``--duration``)."""
    if args.list_ports:
        return _list_ports()
    for opt in ("port", "format", "channels", "rate"):
        if getattr(args, opt) is None:
            raise InputError(
                f"--{opt} is required (e.g. wot driver serial --port /dev/ttyACM0 "
                "--format csv-rate --channels eda:uS --rate 10; --list-ports lists the ports)"
            )
    if args.duration is not None and not args.duration > 0:
        raise InputError(f"--duration {args.duration!r} must be > 0 s")
    drv = SerialLineDriver(
        args.port, args.channels, args.format, args.rate,
        baud=args.baud, time_unit=args.time_unit, delimiter=args.delimiter,
        source_id=args.source_id, name_prefix=args.name_prefix, gap_s=args.gap,
        report_s=args.report_every,
    )  # fmt: skip
    drv.start()
    names = "/".join(s.stype for s in drv.specs)
    print(
        f"serial: {drv.port} at {drv.baud} baud, {drv.fmt} at {drv.rate:g} Hz → LSL streams "
        f"{drv.name_prefix}-{names}/markers, source_id {drv.source_id}; Ctrl-C stops",
        flush=True,
    )
    try:
        run_while(lambda: drv.running, args.duration)
    finally:
        try:
            drv.stop()
        finally:
            print(drv.summary(), flush=True)
    return 0
