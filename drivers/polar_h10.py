"""Polar H10 chest strap over Bluetooth LE → LSL (``wot driver polar-h10``).

Publishes ``{prefix}-ECG`` (130 Hz, µV), ``{prefix}-ACC`` (x, y, z in g), ``{prefix}-RR``
(irregular: inter-beat interval in ms and sensor contact 1/0/-1, one sample per beat) and
``{prefix}-markers`` (connection gaps, contact lost/regained), with source ids
``{source_id}-ecg``/``-acc``/``-rr``/``-markers`` so that ``wot run --source-id ID`` finds them.
When the strap disconnects the driver marks ``gap start``, reconnects with backoff, marks
``gap end: N s`` and restarts the streams on the same outlets, so consumers keep their inlets.

Layers: pure decoders (:func:`heart_rate_decode`, :func:`pmd_frame_decode`,
:func:`pmd_response_parse`, :func:`pmd_start_command`), per-stream timers (:class:`FrameTimer`,
:class:`RrTimer`), the device session (:class:`PolarSession`, which takes any
:class:`Transport`, so it is tested with a scripted fake) and the ``bleak`` transport
(:class:`BleakTransport`; ``bleak`` is imported only there, so the parser builds without it).

Formats (references)
--------------------
* Heart Rate Measurement, GATT characteristic 0x2A37 (Bluetooth SIG, Heart Rate Service 1.0,
  2011): flags byte (bit 0 heart rate uint16 instead of uint8; bit 2 sensor contact supported,
  bit 1 contact detected; bit 3 energy expended uint16 kJ present; bit 4 RR intervals present),
  then the fields in that order, little-endian; RR intervals are uint16 in 1/1024 s, as many as
  fill the rest of the notification.
* Polar Measurement Data (PMD) service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8`` (Polar BLE SDK,
  github.com/polarofficial/polar-ble-sdk: ``PmdDataFrame``, ``EcgData``, ``AccData``,
  ``BlePMDClient``, ``PmdSetting``, ``PmdControlPointResponse``, ``PmdTimeStampUtils``;
  ``documentation/TimeSystemExplained.md``; ``documentation/products/PolarH10.md``):

  - data frame: byte 0 measurement type (low 6 bits; 0 ECG, 2 ACC), bytes 1-8 uint64 LE the
    sensor time of the frame's **last** sample in ns since 2000-01-01T00:00:00Z (the sensor's
    own clock: it restarts from a default date after the H10 powers down), byte 9 frame type
    (bit 7 set: delta compressed), then samples;
  - ECG frame type 0: 3-byte signed LE samples in µV (130 Hz on the H10);
  - ACC frame types 0/1/2: x, y, z as int8 / int16 / int24 LE, in mG;
  - delta-compressed frame: one reference sample (each channel signed LE, full width), then
    blocks of [bit width (uint8), sample count (uint8), ``ceil(width * count * channels / 8)``
    bytes of packed two's-complement deltas, LSB first, channel-interleaved]; each delta adds
    to the previous sample; the start response's ``FACTOR`` setting (float32) scales the
    values of compressed frames (the SDK applies it to compressed frames only);
  - control point ``FB005C81-…``: request ``[op, type, (setting type, count 1, value LE)…]``
    with op 1 get settings, 2 start, 3 stop; setting types 0 sample rate (2 bytes),
    1 resolution (2), 2 range (2), 3 range in milli-units (4), 4 channels (1), 5 factor (4);
    response (indication) ``[0xF0, op, type, status, more, parameters…]``, status 0 success,
    else the error codes in :data:`CP_STATUS`.

The H10 streams ECG at 130 Hz (14-bit) and ACC at 25/50/100/200 Hz (16-bit, range 2/4/8 g);
Polar's SDKs decode no compressed ECG frame (the H10 does not send one), but a ``0x80`` ECG
frame is decoded here like the compressed ACC one, with a 3-byte reference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pylsl

from wot_biofeedback.errors import InputError, WotError

from ._common import Backoff, ClockMapper, MarkerOutlet, make_outlet

HELP = "Polar H10 chest strap over Bluetooth LE: ECG, RR intervals and accelerometer to LSL"

HR_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ECG = 0
ACC = 2
MEASUREMENT_NAMES = {ECG: "ECG", ACC: "ACC"}
ECG_FS = 130
ECG_RESOLUTION = 14
ACC_RATES = (25, 50, 100, 200)
ACC_RANGES = (2, 4, 8)
ACC_RESOLUTION = 16

OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
CP_RESPONSE = 0xF0
CP_MEASUREMENT_STOPPED = 0x01  # sent by the sensor when it ends a stream itself
CP_STATUS = (
    "success",
    "invalid op code",
    "invalid measurement type",
    "not supported",
    "invalid length",
    "invalid parameter",
    "already in state",
    "invalid resolution",
    "invalid sample rate",
    "invalid range",
    "invalid MTU",
    "invalid number of channels",
    "invalid state",
    "device in charger",
    "disk full",
)
STATUS_ALREADY_IN_STATE = 6

SETTING_SAMPLE_RATE = 0
SETTING_RESOLUTION = 1
SETTING_RANGE = 2
SETTING_RANGE_MILLIUNIT = 3
SETTING_CHANNELS = 4
SETTING_FACTOR = 5
_SETTING_SIZE = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}

POLAR_EPOCH_UNIX_S = 946_684_800
"""2000-01-01T00:00:00Z in Unix seconds: the epoch of Polar sensor timestamps."""

_PMD_HEADER = 10
# (measurement, frame type) -> (channels, bytes per value) for uncompressed frames
_RAW_LAYOUT = {(ECG, 0): (1, 3), (ACC, 0): (3, 1), (ACC, 1): (3, 2), (ACC, 2): (3, 3)}
# (measurement, frame type) -> (channels, reference bytes per channel) for compressed frames
_DELTA_LAYOUT = {(ECG, 0): (1, 3), (ACC, 1): (3, 2)}


class FrameError(WotError, ValueError):
    """A malformed notification (too short, unknown type, truncated block, bad bit width)."""


class ControlPointError(WotError):
    """The sensor refused a PMD control-point request, or did not answer it."""


class StartRefused(ControlPointError):
    """The strap answered a start request with an error status (not a lost link)."""


class BluetoothUnavailable(InputError):
    """No usable Bluetooth adapter or stack on this machine."""


# --------------------------------------------------------------------------- decoders


@dataclass
class HeartRate:
    """One Heart Rate Measurement notification.

    hr_bpm: heart rate, beats/min; contact: sensor contact (None when the sensor does not
    report it); energy_kj: cumulative energy expended, kJ (None when absent); rr_ms: the RR
    intervals since the previous notification, ms (exact: 1/1024 s units × 1000/1024).
    """

    hr_bpm: int
    contact: bool | None
    energy_kj: int | None
    rr_ms: list[float] = field(default_factory=list)


def heart_rate_decode(data: bytes) -> HeartRate:
    """Decode a Heart Rate Measurement (0x2A37) notification; :class:`FrameError` if malformed."""
    data = bytes(data)
    if len(data) < 2:
        raise FrameError(f"heart rate notification of {len(data)} byte(s): needs at least 2")
    flags = data[0]
    off = 1
    if flags & 0x01:
        if len(data) < 3:
            raise FrameError("heart rate notification flags a uint16 value but has 2 bytes")
        hr = struct.unpack_from("<H", data, 1)[0]
        off = 3
    else:
        hr = data[1]
        off = 2
    contact = bool(flags & 0x02) if flags & 0x04 else None
    energy = None
    if flags & 0x08:
        if len(data) < off + 2:
            raise FrameError("heart rate notification flags energy expended but ends before it")
        energy = struct.unpack_from("<H", data, off)[0]
        off += 2
    rr: list[float] = []
    if flags & 0x10:
        rest = len(data) - off
        if rest % 2:
            raise FrameError(f"heart rate notification has {rest} RR byte(s): not a whole uint16")
        rr = [v * 1000.0 / 1024.0 for v in struct.unpack_from(f"<{rest // 2}H", data, off)]
    return HeartRate(hr, contact, energy, rr)


@dataclass(frozen=True)
class PmdFrame:
    """One decoded PMD data frame.

    measurement: 0 ECG, 2 ACC; timestamp_ns: sensor time of the last sample, ns since
    2000-01-01 on the sensor clock; frame_type: the frame type without the compression bit;
    samples: (n, channels) float64, µV for ECG, mG for ACC.
    """

    measurement: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    samples: np.ndarray


def _int24(raw: np.ndarray) -> np.ndarray:
    b = raw.reshape(-1, 3).astype(np.int64)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return v - ((v & 0x800000) << 1)


def _raw_decode(payload: bytes, channels: int, width: int, what: str) -> np.ndarray:
    step = channels * width
    if len(payload) % step:
        raise FrameError(
            f"{what} payload of {len(payload)} bytes is not a whole number of {step}-byte samples"
        )
    if width == 3:
        values = _int24(np.frombuffer(payload, np.uint8))
    else:
        values = np.frombuffer(payload, f"<i{width}").astype(np.int64)
    return values.reshape(-1, channels).astype(np.float64)


def _delta_decode(payload: bytes, channels: int, ref_width: int, what: str) -> np.ndarray:
    n_ref = channels * ref_width
    if len(payload) < n_ref:
        raise FrameError(
            f"{what} payload of {len(payload)} bytes is shorter than its {n_ref}-byte reference"
        )
    cur = [
        int.from_bytes(payload[c * ref_width : (c + 1) * ref_width], "little", signed=True)
        for c in range(channels)
    ]
    out = [list(cur)]
    off = n_ref
    while off < len(payload):
        if off + 2 > len(payload):
            raise FrameError(f"{what}: delta block header truncated at payload byte {off}")
        width, count = payload[off], payload[off + 1]
        if not 1 <= width <= 32:
            raise FrameError(f"{what}: delta bit width {width} at payload byte {off} (1-32)")
        off += 2
        nbytes = (width * count * channels + 7) // 8
        if off + nbytes > len(payload):
            raise FrameError(
                f"{what}: delta block of {count} samples × {width} bits needs {nbytes} bytes, "
                f"{len(payload) - off} left"
            )
        bits = int.from_bytes(payload[off : off + nbytes], "little")  # LSB first
        off += nbytes
        mask, sign, pos = (1 << width) - 1, 1 << (width - 1), 0
        for _ in range(count):
            for c in range(channels):
                d = (bits >> pos) & mask
                pos += width
                cur[c] += d - (d & sign) * 2  # two's complement of ``width`` bits
            out.append(list(cur))
    return np.asarray(out, dtype=np.float64).reshape(-1, channels)


def pmd_frame_decode(data: bytes, factor: float = 1.0) -> PmdFrame:
    """Decode a PMD data notification (ECG or ACC); :class:`FrameError` if malformed.

    ``factor`` scales compressed frames (the ``FACTOR`` setting of the start response).
    """
    data = bytes(data)
    if len(data) < _PMD_HEADER:
        raise FrameError(f"PMD frame of {len(data)} bytes: shorter than the 10-byte header")
    measurement = data[0] & 0x3F
    timestamp_ns = int.from_bytes(data[1:9], "little")
    compressed = bool(data[9] & 0x80)
    ftype = data[9] & 0x7F
    name = MEASUREMENT_NAMES.get(measurement)
    if name is None:
        raise FrameError(f"PMD measurement type {measurement} is not ECG (0) or ACC (2)")
    what = f"{name} frame type 0x{data[9]:02x}"
    layout = (_DELTA_LAYOUT if compressed else _RAW_LAYOUT).get((measurement, ftype))
    if layout is None:
        raise FrameError(f"unknown {what}")
    payload = data[_PMD_HEADER:]
    if not payload:
        raise FrameError(f"{what} carries no samples")
    channels, width = layout
    if compressed:
        samples = _delta_decode(payload, channels, width, what)
        if factor != 1.0:
            samples = samples * factor
    else:
        samples = _raw_decode(payload, channels, width, what)
    return PmdFrame(measurement, timestamp_ns, ftype, compressed, samples)


def pmd_start_command(
    measurement: int, sample_rate: int, resolution: int, range_g: int | None = None
) -> bytes:
    """A PMD control-point "start measurement" request (online streaming)."""
    out = bytearray([OP_START, measurement])
    out += bytes([SETTING_SAMPLE_RATE, 1]) + struct.pack("<H", sample_rate)
    out += bytes([SETTING_RESOLUTION, 1]) + struct.pack("<H", resolution)
    if range_g is not None:
        out += bytes([SETTING_RANGE, 1]) + struct.pack("<H", range_g)
    return bytes(out)


def ecg_start_command() -> bytes:
    """Start ECG: 130 Hz, 14-bit (the H10's only ECG setting)."""
    return pmd_start_command(ECG, ECG_FS, ECG_RESOLUTION)


def acc_start_command(rate: int = 50, range_g: int = 8) -> bytes:
    """Start ACC: ``rate`` 25/50/100/200 Hz, 16-bit, range 2/4/8 g."""
    if rate not in ACC_RATES:
        raise InputError(f"ACC rate {rate} Hz: the H10 offers {', '.join(map(str, ACC_RATES))}")
    if range_g not in ACC_RANGES:
        raise InputError(f"ACC range {range_g} g: the H10 offers {', '.join(map(str, ACC_RANGES))}")
    return pmd_start_command(ACC, rate, ACC_RESOLUTION, range_g)


def pmd_stop_command(measurement: int) -> bytes:
    """A PMD control-point "stop measurement" request."""
    return bytes([OP_STOP, measurement])


@dataclass(frozen=True)
class CpResponse:
    """A PMD control-point response: op code, measurement type, status, more-to-come flag and
    parameters (for a start: the settings in force, e.g. the factor)."""

    op_code: int
    measurement: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def status_name(self) -> str:
        if 0 <= self.status < len(CP_STATUS):
            return CP_STATUS[self.status]
        return f"unknown status {self.status}"


def pmd_response_parse(data: bytes) -> CpResponse:
    """Parse a control-point response; :class:`FrameError` if it is not one."""
    data = bytes(data)
    if len(data) < 4:
        raise FrameError(f"PMD control-point response of {len(data)} bytes: needs at least 4")
    if data[0] != CP_RESPONSE:
        raise FrameError(f"PMD control-point message 0x{data[0]:02x} is not a response (0xF0)")
    status = data[3]
    ok = status == 0
    more = ok and len(data) > 4 and data[4] != 0
    params = data[5:] if ok else b""
    return CpResponse(data[1], data[2] & 0x3F, status, more, params)


def pmd_settings_parse(params: bytes) -> dict[int, list[float]]:
    """Settings in a control-point response: setting type → values (the factor as float32)."""
    out: dict[int, list[float]] = {}
    off = 0
    while off < len(params):
        if off + 2 > len(params):
            raise FrameError(f"PMD settings truncated at byte {off}")
        stype, count = params[off], params[off + 1]
        off += 2
        size = _SETTING_SIZE.get(stype)
        if size is None:
            raise FrameError(f"unknown PMD setting type {stype}")
        if off + size * count > len(params):
            raise FrameError(f"PMD setting {stype}: {count} values of {size} bytes do not fit")
        values: list[float] = []
        for _ in range(count):
            chunk = params[off : off + size]
            off += size
            if stype == SETTING_FACTOR:
                values.append(struct.unpack("<f", chunk)[0])
            else:
                values.append(int.from_bytes(chunk, "little"))
        out[stype] = values
    return out


# --------------------------------------------------------------------------- timing


class FrameTimer:
    """LSL times of the samples of one PMD stream.

    Each frame carries the sensor time of its last sample; the others lie ``1/fs`` apart
    before it (the nominal rate). Sensor times go to the LSL clock through a
    :class:`ClockMapper` (lower envelope of arrival - sensor time, drift-corrected, monotonic).
    A sensor clock that steps back or jumps more than ``max_jump_s`` (the strap restarted)
    restarts the fit; output times stay monotonic.
    """

    def __init__(self, fs: float, max_jump_s: float = 60.0) -> None:
        self.fs = float(fs)
        self.max_jump_s = max_jump_s
        self.mapper = ClockMapper()
        self._ref_ns: int | None = None
        self._last_dev: float | None = None

    def stamps(self, timestamp_ns: int, n: int, arrival: float) -> np.ndarray:
        """Times of ``n`` samples whose last is at sensor ``timestamp_ns``, arrived at
        ``arrival`` (LSL clock)."""
        if self._ref_ns is None:
            self._ref_ns = timestamp_ns
        last = (timestamp_ns - self._ref_ns) * 1e-9  # relative: keeps float64 precision
        prev = self._last_dev
        if prev is not None and not prev < last <= prev + self.max_jump_s:
            self.reset()
            self._ref_ns, last = timestamp_ns, 0.0
        self._last_dev = last
        self.mapper.update(last, arrival)
        return np.array([self.mapper.map(last - (n - 1 - i) / self.fs) for i in range(n)])

    def reset(self) -> None:
        """Forget the sensor clock (after a reconnect); output times stay monotonic."""
        self.mapper.reset()
        self._ref_ns = None
        self._last_dev = None


class RrTimer:
    """LSL times of the beats ending each RR interval of the heart rate service.

    The notifications carry no time, only the intervals since the previous one, so a beat
    can be no later than the notification's arrival minus the intervals after it (an upper
    bound). Beats are chained by their intervals (consecutive times differ by exactly the RR
    value) and pulled back to the bound when the chain runs past it, so the chain settles on
    the latest times all the bounds allow (heart rate variability moves the beats against the
    ~1 Hz notifications, which tightens the bound). The beats of a notification were not in
    the one before, so the first of them is no earlier than that one's arrival (less
    ``latency_s``): a lower bound that pushes an early chain forward. The slack between the
    chain and the arrival is no evidence of a loss (it ranges over a whole interval by
    itself); the arrivals are: a notification that comes more than 1.6 typical periods after
    the previous one means one was lost (and its intervals with it), so the chain moves
    forward by the time missed (the gap minus one period), never past the bound. Call
    :meth:`stamps` for every notification, those without intervals too. More than
    ``max_lag_s`` behind, or after :meth:`reset` (a reconnect), the chain restarts at the
    bound. Times are strictly increasing, across restarts too.
    """

    def __init__(self, window: int = 10, max_lag_s: float = 3.0) -> None:
        self.max_lag_s = max_lag_s
        self.latency_s = 0.05  # longest delay of a notification assumed for the lower bound
        self.min_step_s = 1e-6
        self._chain: float | None = None  # the chain's last beat; None: restart at the bound
        self._floor = -math.inf  # the last time given out
        self._last_arrival = math.nan
        self._periods: deque[float] = deque(maxlen=window)
        self._missed = 0.0  # time of lost notifications not yet applied to the chain

    def stamps(self, rr_ms: Sequence[float], arrival: float) -> list[float]:
        """Times of the beats ending ``rr_ms`` (ms), from a notification that arrived at
        ``arrival`` (LSL clock)."""
        previous = self._last_arrival
        gap = arrival - previous
        if math.isfinite(gap) and gap > 0.0:
            period = sorted(self._periods)[len(self._periods) // 2] if self._periods else 1.0
            if gap > 1.6 * period:
                self._missed += gap - period
            else:
                self._periods.append(gap)
        self._last_arrival = arrival
        if not rr_ms:
            return []
        rr_s = [r / 1000.0 for r in rr_ms]
        if self._chain is None:
            end = arrival
        else:
            end = self._chain + self._missed + sum(rr_s)
            if arrival - end > self.max_lag_s or end > arrival:
                end = arrival  # far behind: restart; past the bound: pulled back to it
            elif math.isfinite(previous):
                # a lower bound too: these beats were not in the previous notification, so
                # the first of them came after it (less the latency the radio may add)
                low = previous - self.latency_s + sum(rr_s[1:])
                end = min(arrival, max(end, low))
        self._missed = 0.0
        times = [0.0] * len(rr_s)
        after = 0.0
        for j in range(len(rr_s) - 1, -1, -1):
            times[j] = end - after
            after += rr_s[j]
        prev = self._floor
        for j, t in enumerate(times):
            prev = times[j] = max(t, prev + self.min_step_s)
        self._chain = self._floor = times[-1]
        return times

    def reset(self) -> None:
        """Beats were missed (a reconnect): restart the chain at the next notification."""
        self._chain = None
        self._missed = 0.0
        self._last_arrival = math.nan


# --------------------------------------------------------------------------- session


class Transport(Protocol):
    """A connection to one strap (the BLE adapter, or a test double)."""

    address: str | None
    name: str

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        """Connect (finding the device first when needed); ``on_disconnect`` is called, from
        any thread, when the link drops."""

    async def subscribe(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        """Enable notifications/indications of a characteristic."""

    async def write(self, uuid: str, data: bytes) -> None:
        """Write a characteristic (with response)."""

    async def disconnect(self) -> None:
        """Close the link (no error when it is already down)."""


@dataclass
class SessionConfig:
    """What to stream and how to name it. ``source_id`` None: derived from the address."""

    ecg: bool = True
    acc: bool = True
    acc_rate: int = 50
    acc_range: int = 8
    source_id: str | None = None
    name_prefix: str = "polar-h10"
    response_timeout_s: float = 5.0
    stall_timeout_s: float = 5.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0


@dataclass
class SessionStats:
    """Counters (never reset by reading): connections, failed attempts, drops, frames,
    malformed notifications, and every reconnect delay waited (s)."""

    connects: int = 0
    failed_attempts: int = 0
    disconnects: int = 0
    ecg_frames: int = 0
    acc_frames: int = 0
    hr_notifications: int = 0
    rr_samples: int = 0
    frame_errors: int = 0
    delays: list[float] = field(default_factory=list)
    last_error: str = ""


@dataclass
class _Outlets:
    source_id: str
    markers: MarkerOutlet
    rr: pylsl.StreamOutlet
    ecg: pylsl.StreamOutlet | None
    acc: pylsl.StreamOutlet | None


def default_source_id(address: str) -> str:
    """``polar-h10-<address digits>``, e.g. ``polar-h10-a09e1a123456``."""
    return "polar-h10-" + (re.sub(r"[^0-9a-z]", "", address.lower()) or "unknown")


def _stderr(msg: str) -> None:
    print(f"polar-h10: {msg}", file=sys.stderr, flush=True)


class PolarSession:
    """Connects, streams to LSL, and reconnects with backoff until stopped.

    Use as a context manager (a worker thread with its own event loop) or await
    :meth:`run_async` in a loop of your own. ``transport_factory`` makes a fresh
    :class:`Transport` for each connection attempt. Errors before the first connection
    that retrying cannot fix (:class:`BluetoothUnavailable`, a refused start) end the
    session (``error``); after it, every failure is retried.
    """

    def __init__(
        self,
        transport_factory: Callable[[], Transport],
        config: SessionConfig | None = None,
        log: Callable[[str], None] = _stderr,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = cfg = config or SessionConfig()
        if cfg.acc:
            acc_start_command(cfg.acc_rate, cfg.acc_range)  # validates
        self._factory = transport_factory
        self._log = log
        self.backoff = backoff or Backoff(cfg.backoff_initial_s, cfg.backoff_max_s)
        self.stats = SessionStats()
        self.outlets: _Outlets | None = None
        self.error: BaseException | None = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._astop: asyncio.Event | None = None
        self._ecg_timer = FrameTimer(ECG_FS)
        self._acc_timer = FrameTimer(cfg.acc_rate)
        self._rr_timer = RrTimer()
        self._factor: dict[int, float] = {}
        self._contact: bool | None = None
        self._last_data = -math.inf
        self._last_marker = -math.inf
        self._cp_pending: tuple[int, asyncio.Future[CpResponse]] | None = None
        self._cp_parts: list[bytes] = []

    # ---- thread API

    def start(self) -> PolarSession:
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="polar-h10", daemon=True)
            self._thread.start()
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self.run_async())
        except BaseException as exc:  # reported through .error, the thread's one exit
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s; True once the session has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop streaming, disconnect and join the worker; True when it ended in time."""
        self._stop.set()
        loop, astop = self._loop, self._astop
        if loop is not None and astop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(astop.set)
        return self.wait(timeout)

    def __enter__(self) -> PolarSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if not self.stop():
            self._log("worker did not stop within 5 s")

    # ---- the loop

    async def run_async(self) -> None:
        """Connect, stream and reconnect until :meth:`stop`."""
        loop = asyncio.get_running_loop()
        self._loop, self._astop = loop, asyncio.Event()
        if self._stop.is_set():
            self._astop.set()
        if self.config.source_id:
            self._ensure_outlets(None)  # visible to consumers before the strap connects
        gap_start: float | None = None
        ever_connected = False
        while not self._astop.is_set():
            transport = self._factory()
            lost = asyncio.Event()
            why = "connection lost"

            def on_disconnect(lost: asyncio.Event = lost) -> None:
                with contextlib.suppress(RuntimeError):  # the loop has already closed
                    loop.call_soon_threadsafe(lost.set)

            try:
                if not await self._unless_stopped(self._connect(transport, on_disconnect)):
                    await self._close(transport, stop_streams=False)
                    break
            except Exception as exc:
                await self._close(transport, stop_streams=False)
                # before the first session only "no Bluetooth here" and an explicit refusal end
                # the run; a link that drops or a request left unanswered is retried
                if not ever_connected and isinstance(exc, BluetoothUnavailable | StartRefused):
                    raise
                self.stats.failed_attempts += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                delay = self._next_delay()
                self._log(
                    f"connection failed ({exc or type(exc).__name__}); retry in {delay:.1f} s"
                )
                await self._sleep(delay)
                continue
            ever_connected = True
            self.stats.connects += 1
            self.backoff.reset()
            now = pylsl.local_clock()
            self._last_data = now  # the stall watchdog counts from here
            if gap_start is not None:
                self._mark(f"gap end: {now - gap_start:.1f} s", now)
                gap_start = None
            self._log(f"streaming from {transport.name} ({transport.address})")
            self.connected.set()
            while not (lost.is_set() or self._astop.is_set()):
                await self._wait_any(lost, 0.25)
                silent = pylsl.local_clock() - self._last_data
                if silent > self.config.stall_timeout_s and not lost.is_set():
                    why = f"no data for {silent:.1f} s"
                    lost.set()
            self.connected.clear()
            if self._astop.is_set():
                await self._close(transport, stop_streams=True)
                break
            self.stats.disconnects += 1
            gap_start = self._last_data if math.isfinite(self._last_data) else now
            self._mark(f"gap start: {why}", gap_start)
            self._ecg_timer.reset()
            self._acc_timer.reset()
            self._rr_timer.reset()
            await self._close(transport, stop_streams=False)
            delay = self._next_delay()
            self._log(f"{why}; reconnecting in {delay:.1f} s")
            await self._sleep(delay)
        self._log("stopped")

    async def _connect(self, transport: Transport, on_disconnect: Callable[[], None]) -> None:
        await transport.connect(on_disconnect)
        self._ensure_outlets(transport.address)
        await self._start_streams(transport)

    async def _unless_stopped(self, coro: Coroutine[Any, Any, None]) -> bool:
        """Run ``coro`` unless :meth:`stop` comes first (then cancel it); True if it ran."""
        assert self._astop is not None
        task = asyncio.ensure_future(coro)
        stopper = asyncio.ensure_future(self._astop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        loser = stopper if task in done else task
        loser.cancel()
        await asyncio.gather(loser, return_exceptions=True)
        if task in done:
            task.result()  # its exception, if any
            return True
        return False

    def _next_delay(self) -> float:
        delay = self.backoff.next()
        self.stats.delays.append(delay)
        return delay

    async def _wait_any(self, event: asyncio.Event, timeout: float) -> None:
        assert self._astop is not None
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._astop.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _sleep(self, delay: float) -> None:
        assert self._astop is not None
        await self._wait_any(self._astop, delay)

    async def _close(self, transport: Transport, stop_streams: bool) -> None:
        if stop_streams:
            for m, on in ((ECG, self.config.ecg), (ACC, self.config.acc)):
                if on:
                    # best effort: the link may already be gone
                    with contextlib.suppress(Exception):
                        await self._command(transport, pmd_stop_command(m), timeout=1.0)
        try:
            await asyncio.wait_for(transport.disconnect(), 2.0)
        except Exception as exc:  # a failed disconnect must not stop the reconnect loop
            self._log(f"disconnect: {exc or type(exc).__name__}")
        self._cp_pending = None

    def _ensure_outlets(self, address: str | None) -> None:
        """Create the outlets once; reconnects reuse them, so consumers keep their inlets."""
        if self.outlets is not None:
            return
        cfg = self.config
        sid = cfg.source_id or default_source_id(address or "")
        p = cfg.name_prefix

        def outlet(kind: str, channels: list[tuple[str, str]], fs: float) -> pylsl.StreamOutlet:
            sid_k = f"{sid}-{kind.lower()}"
            return make_outlet(
                f"{p}-{kind}", kind, channels, fs, sid_k, manufacturer="Polar", model="H10"
            )

        self.outlets = _Outlets(
            source_id=sid,
            markers=MarkerOutlet(f"{p}-markers", f"{sid}-markers"),
            rr=outlet("RR", [("rr", "ms"), ("contact", "")], 0.0),
            ecg=outlet("ECG", [("ecg", "uV")], ECG_FS) if cfg.ecg else None,
            acc=outlet("ACC", [("x", "g"), ("y", "g"), ("z", "g")], cfg.acc_rate)
            if cfg.acc
            else None,
        )
        kinds = "/".join(k for k, on in (("ECG", cfg.ecg), ("RR", True), ("ACC", cfg.acc)) if on)
        self._log(f"LSL streams {p}-{kinds}/markers, source_id prefix {sid}")

    def _mark(self, text: str, t: float | None = None) -> None:
        if self.outlets is None:
            return
        t = pylsl.local_clock() if t is None else t
        t = max(t, self._last_marker + 1e-6)
        self._last_marker = t
        self.outlets.markers.push(text, t)

    # ---- control point

    async def _start_streams(self, transport: Transport) -> None:
        cfg = self.config
        self._cp_pending = None
        await transport.subscribe(PMD_CONTROL, self._on_control)
        await transport.subscribe(PMD_DATA, self._on_pmd)
        await transport.subscribe(HR_MEASUREMENT, self._on_hr)
        if cfg.ecg:
            await self._start_measurement(transport, ECG, ecg_start_command())
        if cfg.acc:
            await self._start_measurement(
                transport, ACC, acc_start_command(cfg.acc_rate, cfg.acc_range)
            )

    async def _start_measurement(self, transport: Transport, m: int, cmd: bytes) -> None:
        resp = await self._command(transport, cmd)
        if resp.status == STATUS_ALREADY_IN_STATE:  # still running, maybe other settings
            await self._command(transport, pmd_stop_command(m))
            resp = await self._command(transport, cmd)
        if not resp.ok:
            raise StartRefused(
                f"the strap refused to start {MEASUREMENT_NAMES[m]}: {resp.status_name}"
            )
        try:
            factor = pmd_settings_parse(resp.parameters).get(SETTING_FACTOR, [1.0])[0]
        except FrameError:
            factor = 1.0
        self._factor[m] = factor if math.isfinite(factor) and factor > 0 else 1.0

    async def _command(
        self, transport: Transport, cmd: bytes, timeout: float | None = None
    ) -> CpResponse:
        fut: asyncio.Future[CpResponse] = asyncio.get_running_loop().create_future()
        self._cp_pending, self._cp_parts = (cmd[0], fut), []
        try:
            await transport.write(PMD_CONTROL, cmd)
            wait = self.config.response_timeout_s if timeout is None else timeout
            try:
                return await asyncio.wait_for(fut, wait)
            except TimeoutError:
                raise ControlPointError(
                    f"no answer to PMD request 0x{cmd[0]:02x} within {wait:g} s"
                ) from None
        finally:
            self._cp_pending = None

    def _on_control(self, data: bytes) -> None:
        if data[:1] == bytes([CP_MEASUREMENT_STOPPED]):
            names = [MEASUREMENT_NAMES.get(b & 0x3F, str(b)) for b in data[1:]]
            self._log(f"the strap stopped {', '.join(names) or 'a stream'}")
            return
        try:
            resp = pmd_response_parse(data)
        except FrameError as exc:
            self._frame_error(exc)
            return
        pending = self._cp_pending
        if pending is None or pending[0] != resp.op_code or pending[1].done():
            return
        self._cp_parts.append(resp.parameters)
        if not resp.more:
            full = CpResponse(
                resp.op_code, resp.measurement, resp.status, False, b"".join(self._cp_parts)
            )
            pending[1].set_result(full)

    # ---- data

    def _frame_error(self, exc: Exception) -> None:
        self.stats.frame_errors += 1
        n = self.stats.frame_errors
        if n <= 3 or n % 100 == 0:
            self._log(f"malformed notification #{n} skipped: {exc}")

    def _on_pmd(self, data: bytes) -> None:
        arrival = pylsl.local_clock()
        self._last_data = arrival
        out = self.outlets
        try:
            m = data[0] & 0x3F if data else -1
            frame = pmd_frame_decode(data, self._factor.get(m, 1.0))
        except FrameError as exc:
            self._frame_error(exc)
            return
        if out is None:
            return
        n = len(frame.samples)
        if frame.measurement == ECG and out.ecg is not None:
            self.stats.ecg_frames += 1
            t = self._ecg_timer.stamps(frame.timestamp_ns, n, arrival)
            out.ecg.push_chunk(frame.samples.astype(np.float32), t.tolist())
        elif frame.measurement == ACC and out.acc is not None:
            self.stats.acc_frames += 1
            t = self._acc_timer.stamps(frame.timestamp_ns, n, arrival)
            out.acc.push_chunk((frame.samples / 1000.0).astype(np.float32), t.tolist())

    def _on_hr(self, data: bytes) -> None:
        arrival = pylsl.local_clock()
        self._last_data = arrival
        try:
            hr = heart_rate_decode(data)
        except FrameError as exc:
            self._frame_error(exc)
            return
        self.stats.hr_notifications += 1
        if hr.contact is not None and hr.contact != self._contact:
            if not hr.contact:
                self._mark("contact lost", arrival)
            elif self._contact is False:
                self._mark("contact regained", arrival)
            self._contact = hr.contact
        out = self.outlets
        # every notification counts for the timer (a lost one shows in the arrivals)
        times = self._rr_timer.stamps(hr.rr_ms, arrival)
        if out is None or not hr.rr_ms:
            return
        code = -1.0 if hr.contact is None else float(hr.contact)
        out.rr.push_chunk([[rr, code] for rr in hr.rr_ms], times)
        self.stats.rr_samples += len(hr.rr_ms)


# --------------------------------------------------------------------------- bleak


def _is_polar(name: str | None) -> bool:
    return bool(name) and str(name).startswith("Polar")


def _bluetooth_error(exc: BaseException) -> BluetoothUnavailable | None:
    """The exceptions that mean "no Bluetooth here" (no adapter, adapter off, no BlueZ/D-Bus),
    as one clear error; None for anything else."""
    names = {c.__name__ for c in type(exc).__mro__}
    if "BleakBluetoothNotAvailableError" in names:
        return BluetoothUnavailable(f"Bluetooth is not available: {exc}")
    if isinstance(exc, FileNotFoundError | PermissionError):  # no D-Bus system bus (Linux)
        return BluetoothUnavailable(
            f"Bluetooth is not available ({exc.strerror or exc}); is BlueZ running and an "
            "adapter present?"
        )
    return None


class BleakTransport:
    """The strap through ``bleak`` (Linux BlueZ, macOS CoreBluetooth, Windows WinRT)."""

    def __init__(self, address: str | None = None, scan_timeout: float = 10.0) -> None:
        self.address = address
        self.name = "Polar H10"
        self.scan_timeout = scan_timeout
        self._client: Any = None

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        from bleak import BleakClient, BleakScanner

        try:
            target: Any = self.address
            if target is None:
                target = await BleakScanner.find_device_by_filter(
                    lambda d, adv: str(adv.local_name or d.name or "").startswith("Polar H10"),
                    timeout=self.scan_timeout,
                )
                if target is None:
                    raise TimeoutError(f"no Polar H10 seen in {self.scan_timeout:g} s")
                self.name = target.name or self.name
            client = BleakClient(target, disconnected_callback=lambda _c: on_disconnect())
            await client.connect()
        except Exception as exc:
            fatal = _bluetooth_error(exc)
            if fatal is not None:
                raise fatal from exc
            raise
        self._client = client
        self.address = client.address
        self.name = getattr(client, "name", None) or self.name

    async def subscribe(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        await self._client.start_notify(uuid, lambda _char, data: callback(bytes(data)))

    async def write(self, uuid: str, data: bytes) -> None:
        await self._client.write_gatt_char(uuid, data, response=True)

    async def disconnect(self) -> None:
        if self._client is not None:
            await self._client.disconnect()


async def scan_devices(timeout: float = 5.0) -> list[tuple[str, str, int | None]]:
    """Polar devices advertising nearby: (name, address, RSSI dBm), strongest first."""
    from bleak import BleakScanner

    try:
        found = await BleakScanner.discover(timeout=timeout, return_adv=True)
    except Exception as exc:
        fatal = _bluetooth_error(exc)
        if fatal is not None:
            raise fatal from exc
        raise BluetoothUnavailable(f"Bluetooth scan failed ({type(exc).__name__}: {exc})") from exc
    out = []
    for dev, adv in found.values():
        name = adv.local_name or dev.name
        if _is_polar(name):
            out.append((str(name), str(dev.address), adv.rssi))
    return sorted(out, key=lambda d: -999 if d[2] is None else d[2], reverse=True)


def format_scan(devices: Sequence[tuple[str, str, int | None]], timeout: float) -> str:
    """The ``--scan`` listing."""
    if not devices:
        return f"no Polar devices seen in {timeout:g} s (is the strap worn, and not connected?)"
    width = max(len(n) for n, _a, _r in devices)
    return "\n".join(
        f"{n:<{width}}  {a}  RSSI {'?' if r is None else r} dBm" for n, a, r in devices
    )


# --------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scan", action="store_true", help="list the Polar devices nearby and exit")
    p.add_argument(
        "--address", default=None, metavar="MAC",
        help="connect to this strap (default: the first 'Polar H10' seen)",
    )  # fmt: skip
    p.add_argument(
        "--scan-timeout", type=float, default=10.0, metavar="S",
        help="seconds to look for devices (default 10)",
    )  # fmt: skip
    p.add_argument("--no-ecg", action="store_true", help="do not stream ECG")
    p.add_argument("--no-acc", action="store_true", help="do not stream the accelerometer")
    p.add_argument(
        "--acc-rate", type=int, choices=ACC_RATES, default=50, help="accelerometer rate, Hz"
    )
    p.add_argument(
        "--acc-range", type=int, choices=ACC_RANGES, default=8, help="accelerometer range, g"
    )
    p.add_argument(
        "--source-id", default=None, metavar="ID",
        help="LSL source_id prefix: ID-ecg/-rr/-acc/-markers, for wot run --source-id ID "
        "(default: polar-h10-<address>)",
    )  # fmt: skip
    p.add_argument(
        "--name-prefix", default="polar-h10", metavar="P",
        help="LSL stream names P-ECG/-RR/-ACC/-markers (default polar-h10)",
    )  # fmt: skip
    p.add_argument(
        "--reconnect-max", type=float, default=30.0, metavar="S",
        help="longest wait between reconnect attempts (default 30 s)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        import bleak  # noqa: F401
    except ImportError:
        raise InputError(
            'the Polar H10 driver needs bleak: pip install "wot-biofeedback[ble]"'
        ) from None
    if args.scan_timeout <= 0:
        raise InputError(f"--scan-timeout must be > 0 s, got {args.scan_timeout}")
    if args.scan:
        print(format_scan(asyncio.run(scan_devices(args.scan_timeout)), args.scan_timeout))
        return 0
    cfg = SessionConfig(
        ecg=not args.no_ecg,
        acc=not args.no_acc,
        acc_rate=args.acc_rate,
        acc_range=args.acc_range,
        source_id=args.source_id,
        name_prefix=args.name_prefix,
        backoff_max_s=max(1.0, args.reconnect_max),
    )
    address, timeout = args.address, args.scan_timeout
    session = PolarSession(lambda: BleakTransport(address, timeout), cfg)
    _stderr(f"looking for {address or 'a Polar H10'}; Ctrl-C stops")
    try:
        with session:
            while not session.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    s = session.stats
    if s.connects:
        _stderr(
            f"{s.ecg_frames} ECG and {s.acc_frames} ACC frames, {s.rr_samples} RR intervals, "
            f"{s.frame_errors} malformed, {s.disconnects} disconnection(s)"
        )
    if session.error is not None:
        raise session.error
    return 0
