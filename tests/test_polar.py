"""Polar H10 driver: decoders against hand-assembled bytes, the timers, and the session's
reconnect loop against a scripted fake strap, checked through real LSL inlets on loopback.

The byte fixtures are built here from the documented formats (Bluetooth SIG Heart Rate
Measurement 0x2A37; Polar BLE SDK PMD frames), with ``struct``/``int.to_bytes`` and an
independent bit-list delta encoder, never with the driver's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pylsl
import pytest
from wot_drivers import polar_h10 as ph
from wot_drivers._common import Backoff

from wot_biofeedback.errors import InputError

# --------------------------------------------------------------------------- byte builders


def hr_bytes(
    hr: int,
    *,
    wide: bool = False,
    contact: bool | None = None,
    energy: int | None = None,
    rr_1024: tuple[int, ...] = (),
) -> bytes:
    flags = (0x01 if wide else 0) | (0x10 if rr_1024 else 0) | (0x08 if energy is not None else 0)
    if contact is not None:
        flags |= 0x04 | (0x02 if contact else 0)
    out = bytes([flags]) + (struct.pack("<H", hr) if wide else struct.pack("<B", hr))
    if energy is not None:
        out += struct.pack("<H", energy)
    return out + b"".join(struct.pack("<H", r) for r in rr_1024)


def pmd(measurement: int, ts_ns: int, ftype: int, payload: bytes) -> bytes:
    return struct.pack("<BQB", measurement, ts_ns, ftype) + payload


def le(values, nbytes: int) -> bytes:
    return b"".join(int(v).to_bytes(nbytes, "little", signed=True) for v in values)


def signed_width(values) -> int:
    """Smallest two's-complement width holding every value (at least 1 bit)."""
    w = 1
    while not all(-(1 << (w - 1)) <= int(v) < (1 << (w - 1)) for v in values):
        w += 1
    return w


def delta_payload(
    samples: np.ndarray, ref_bytes: int, blocks: list[int], widths: list[int] | None = None
) -> bytes:
    """Reference sample, then blocks of [width, count, deltas packed LSB first through a list
    of bits], channel-interleaved; ``widths`` forces block widths (default: the smallest)."""
    out = bytearray(le(samples[0], ref_bytes))
    diffs = np.diff(samples.astype(np.int64), axis=0)
    i = 0
    for k, count in enumerate(blocks):
        block = diffs[i : i + count]
        i += count
        w = widths[k] if widths else signed_width(block.ravel())
        bits: list[int] = []
        for row in block:
            for d in row:
                u = int(d) & ((1 << w) - 1)
                bits.extend((u >> b) & 1 for b in range(w))
        bits.extend([0] * (-len(bits) % 8))
        out += bytes([w, count])
        out += bytes(
            sum(bit << j for j, bit in enumerate(bits[n : n + 8])) for n in range(0, len(bits), 8)
        )
    assert i == len(diffs)
    return bytes(out)


# --------------------------------------------------------------------------- heart rate


def test_hr_uint8_without_contact_feature():
    m = ph.heart_rate_decode(hr_bytes(72))
    assert (m.hr_bpm, m.contact, m.energy_kj, m.rr_ms) == (72, None, None, [])


def test_hr_uint16_value():
    m = ph.heart_rate_decode(hr_bytes(300, wide=True))
    assert m.hr_bpm == 300
    assert ph.heart_rate_decode(bytes([0x01, 0x2C, 0x01])).hr_bpm == 0x012C


@pytest.mark.parametrize(
    ("flags", "expected"), [(0x00, None), (0x02, None), (0x04, False), (0x06, True)]
)
def test_hr_contact_bits(flags, expected):
    # bit 1 means nothing unless bit 2 (feature supported) is set
    assert ph.heart_rate_decode(bytes([flags, 60])).contact is expected


def test_hr_energy_expended_then_rr():
    m = ph.heart_rate_decode(hr_bytes(65, contact=True, energy=1234, rr_1024=(1000,)))
    assert m.energy_kj == 1234
    assert m.contact is True
    assert m.rr_ms == [1000 * 1000 / 1024]


def test_hr_one_rr_exact_ms():
    m = ph.heart_rate_decode(hr_bytes(60, rr_1024=(1024,)))
    assert m.rr_ms == [1000.0]


def test_hr_several_rr_exact_ms():
    raw = (819, 1, 65535, 1100)
    m = ph.heart_rate_decode(hr_bytes(70, wide=True, energy=7, rr_1024=raw))
    assert m.rr_ms == [r * 1000 / 1024 for r in raw]
    assert m.rr_ms[0] == 799.8046875 and m.rr_ms[2] == 63999.0234375


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x01\x3c",  # uint16 flagged, one byte of value
        b"\x08\x3c\x01",  # energy flagged, one byte of it
        b"\x10\x3c\x00\x04\x01",  # RR flagged, three bytes
    ],
)
def test_hr_malformed(data):
    with pytest.raises(ph.FrameError):
        ph.heart_rate_decode(data)


# --------------------------------------------------------------------------- PMD frames

TS = 599_616_023_171_427_290  # a sensor time from Polar's TimeSystemExplained.md


def test_ecg_frame_type0():
    uv = [0, 1, -1, 8_388_607, -8_388_608, 1234, -4321]
    f = ph.pmd_frame_decode(pmd(0, TS, 0x00, le(uv, 3)))
    assert (f.measurement, f.timestamp_ns, f.frame_type, f.compressed) == (0, TS, 0, False)
    assert f.samples.shape == (7, 1)
    assert f.samples[:, 0].tolist() == uv


@pytest.mark.parametrize(("ftype", "nbytes"), [(0x00, 1), (0x01, 2), (0x02, 3)])
def test_acc_raw_frames(ftype, nbytes):
    lim = 1 << (8 * nbytes - 1)
    xyz = [[-lim, lim - 1, 0], [1, -1, 999 % lim], [-(lim // 2), lim // 3, 7]]
    f = ph.pmd_frame_decode(pmd(2, TS, ftype, le(np.ravel(xyz), nbytes)))
    assert (f.measurement, f.frame_type, f.compressed) == (2, ftype, False)
    assert f.samples.tolist() == xyz


def test_acc_int16_with_struct():
    xyz = [(-981, 12, 1003), (-975, 15, 998)]
    payload = b"".join(struct.pack("<3h", *s) for s in xyz)
    f = ph.pmd_frame_decode(pmd(2, TS, 0x01, payload))
    assert [tuple(r) for r in f.samples.astype(int).tolist()] == xyz


def test_delta_ecg_hand_assembled():
    # ref 1000 µV; one block: width 3, 2 samples, deltas +1 (001) and -2 (110), LSB first:
    # bits 1,0,0 | 0,1,1 | pad -> 0b00110001
    payload = (1000).to_bytes(3, "little", signed=True) + bytes([3, 2, 0b0011_0001])
    f = ph.pmd_frame_decode(pmd(0, TS, 0x80, payload))
    assert f.compressed and f.frame_type == 0
    assert f.samples[:, 0].tolist() == [1000, 1001, 999]


def test_delta_acc_hand_assembled():
    # ref (100, -100, 1000) int16; width 4, one sample, deltas (+1, -1, +7):
    # x 1000 y 1111 z 1110 (LSB first) -> 0xF1, 0x07
    payload = struct.pack("<3h", 100, -100, 1000) + bytes([4, 1, 0xF1, 0x07])
    f = ph.pmd_frame_decode(pmd(2, TS, 0x81, payload))
    assert f.samples.tolist() == [[100, -100, 1000], [101, -101, 1007]]


def test_delta_ecg_random_blocks():
    rng = np.random.default_rng(7)
    steps = np.concatenate([rng.integers(-3, 4, 20), rng.integers(-3000, 3000, 25), [0] * 5])
    uv = (-20_000 + np.cumsum(np.concatenate([[0], steps]))).reshape(-1, 1)
    payload = delta_payload(uv, 3, [20, 25, 5])
    f = ph.pmd_frame_decode(pmd(0, TS, 0x80, payload))
    assert f.samples.astype(np.int64).tolist() == uv.tolist()


@pytest.mark.parametrize("widths", [None, [1, 17, 32]])
def test_delta_acc_random_blocks(widths):
    rng = np.random.default_rng(11)
    d1 = rng.integers(-1, 1, (10, 3))  # fits 1 bit: 0 or -1
    d2 = rng.integers(-60_000, 60_000, (9, 3))
    d3 = rng.integers(-(2**30), 2**30, (4, 3))
    ref = np.array([[-32768, 32767, 512]])
    xyz = np.cumsum(np.vstack([ref, d1, d2, d3]), axis=0)
    payload = delta_payload(xyz, 2, [10, 9, 4], widths)
    f = ph.pmd_frame_decode(pmd(2, TS, 0x81, payload))
    assert f.samples.shape == (24, 3)
    assert f.samples.astype(np.int64).tolist() == xyz.tolist()


def test_factor_scales_compressed_frames_only():
    payload = struct.pack("<3h", 100, -100, 1000) + bytes([4, 1, 0xF1, 0x07])
    f = ph.pmd_frame_decode(pmd(2, TS, 0x81, payload), factor=0.5)
    assert f.samples.tolist() == [[50, -50, 500], [50.5, -50.5, 503.5]]
    raw = ph.pmd_frame_decode(pmd(2, TS, 0x01, struct.pack("<3h", 2, 4, 6)), factor=0.5)
    assert raw.samples.tolist() == [[2, 4, 6]]


def test_measurement_byte_upper_bits_ignored():
    f = ph.pmd_frame_decode(pmd(0x80 | 0, TS, 0x00, le([5], 3)))
    assert f.measurement == 0


REF16 = struct.pack("<3h", 1, 2, 3)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"", "shorter than the 10-byte header"),
        (pmd(0, TS, 0, b"")[:9], "shorter than the 10-byte header"),
        (pmd(1, TS, 0, b"\x00\x00\x00"), "not ECG"),  # PPG: not an H10 stream
        (pmd(0, TS, 0x01, b"\x00\x00\x00"), "unknown ECG frame type 0x01"),
        (pmd(2, TS, 0x03, b"\x00" * 9), "unknown ACC frame type 0x03"),
        (pmd(2, TS, 0x80, REF16 + bytes([1, 1, 0])), "unknown ACC frame type 0x80"),
        (pmd(0, TS, 0x00, b""), "no samples"),
        (pmd(0, TS, 0x00, b"\x00" * 4), "whole number"),
        (pmd(2, TS, 0x01, b"\x00" * 7), "whole number"),
        (pmd(2, TS, 0x81, REF16[:5]), "shorter than its 6-byte reference"),
        (pmd(2, TS, 0x81, REF16 + b"\x04"), "header truncated"),
        (pmd(2, TS, 0x81, REF16 + bytes([4, 2, 0xFF, 0xFF])), "needs 3 bytes, 2 left"),
        (pmd(2, TS, 0x81, REF16 + bytes([0, 1, 0])), "bit width 0"),
        (pmd(0, TS, 0x80, b"\x00\x00\x00" + bytes([33, 1]) + b"\x00" * 5), "bit width 33"),
    ],
)
def test_malformed_frames(frame, message):
    with pytest.raises(ph.FrameError, match=message):
        ph.pmd_frame_decode(frame)


# --------------------------------------------------------------------------- control point


def test_ecg_start_command():
    # start (2), ECG (0), sample rate (0) ×1 = 130, resolution (1) ×1 = 14
    assert ph.ecg_start_command() == bytes([2, 0, 0, 1, 130, 0, 1, 1, 14, 0])


@pytest.mark.parametrize("rate", [25, 50, 100, 200])
@pytest.mark.parametrize("range_g", [2, 4, 8])
def test_acc_start_command(rate, range_g):
    expected = struct.pack("<BB BBH BBH BBH", 2, 2, 0, 1, rate, 1, 1, 16, 2, 1, range_g)
    assert ph.acc_start_command(rate, range_g) == expected


def test_acc_start_command_rejects_bad_settings():
    with pytest.raises(InputError, match="ACC rate 52"):
        ph.acc_start_command(52, 8)
    with pytest.raises(InputError, match="ACC range 16"):
        ph.acc_start_command(50, 16)


def test_stop_command():
    assert ph.pmd_stop_command(2) == b"\x03\x02"


def test_response_success_with_factor():
    params = bytes([5, 1]) + struct.pack("<f", 0.25)
    r = ph.pmd_response_parse(bytes([0xF0, 0x02, 0x02, 0x00, 0x00]) + params)
    assert (r.op_code, r.measurement, r.status, r.ok, r.more) == (2, 2, 0, True, False)
    assert r.status_name == "success"
    assert ph.pmd_settings_parse(r.parameters) == {5: [0.25]}


def test_response_errors():
    r = ph.pmd_response_parse(bytes([0xF0, 0x02, 0x00, 0x08, 0x01, 0xAA]))
    assert not r.ok and r.status_name == "invalid sample rate"
    assert r.parameters == b"" and not r.more
    assert ph.pmd_response_parse(bytes([0xF0, 0x02, 0x00, 0x06])).status_name == (
        "already in state"
    )
    assert "unknown status 99" in ph.pmd_response_parse(bytes([0xF0, 2, 0, 99])).status_name


def test_response_more_flag_and_settings():
    r = ph.pmd_response_parse(bytes([0xF0, 0x01, 0x02, 0x00, 0x01]) + bytes([0, 2, 25, 0, 50, 0]))
    assert r.more
    assert ph.pmd_settings_parse(r.parameters) == {0: [25, 50]}


@pytest.mark.parametrize("data", [b"", bytes([0xF0, 2, 0]), bytes([0x01, 0x02, 0x00, 0x00])])
def test_response_malformed(data):
    with pytest.raises(ph.FrameError):
        ph.pmd_response_parse(data)


@pytest.mark.parametrize("params", [bytes([9, 1, 0, 0]), bytes([0, 2, 25, 0]), bytes([0])])
def test_settings_malformed(params):
    with pytest.raises(ph.FrameError):
        ph.pmd_settings_parse(params)


# --------------------------------------------------------------------------- timers


def test_frame_timer_spreads_back_at_nominal_rate():
    t = ph.FrameTimer(130.0)
    ns = 10**18
    first = t.stamps(ns, 73, arrival=100.0)
    assert first[-1] == pytest.approx(100.0, abs=1e-6)
    assert np.diff(first) == pytest.approx(np.full(72, 1 / 130), abs=1e-6)
    nxt = t.stamps(ns + 73 * 10**9 // 130, 73, arrival=100.0 + 73 / 130 + 0.02)  # 20 ms later
    # the lower envelope keeps the first (faster) packet's offset: no latency jump
    assert nxt[0] - first[-1] == pytest.approx(1 / 130, abs=1e-6)


def test_frame_timer_monotonic_when_sensor_clock_restarts():
    t = ph.FrameTimer(130.0)
    a = t.stamps(10**18, 13, arrival=50.0)
    b = t.stamps(5 * 10**17, 13, arrival=50.05)  # the strap rebooted: its clock went back
    c = t.stamps(5 * 10**17 + 10**8, 13, arrival=50.15)
    allt = np.concatenate([a, b, c])
    assert np.all(np.diff(allt) > 0)
    assert c[-1] == pytest.approx(50.15, abs=0.06)


def test_rr_timer_chains_beats_and_never_passes_arrival():
    t = ph.RrTimer()
    first = t.stamps([800.0, 900.0], arrival=10.0)
    assert first == pytest.approx([9.1, 10.0])
    # next notification 1.2 s later with one 1000 ms beat: chained at 11.0, before arrival
    assert t.stamps([1000.0], arrival=11.2) == pytest.approx([11.0])
    # a chain running past the arrival is pulled back to it
    assert t.stamps([1500.0], arrival=12.1) == pytest.approx([12.1])


def test_rr_timer_recovers_from_lost_notification_and_gap():
    t = ph.RrTimer(window=3, max_lag_s=3.0)
    t.stamps([1000.0], arrival=1.0)
    # a notification with one beat was lost: the slack jumps by a whole interval over the
    # smallest recent one, so the chain moves forward by it at once
    got = [t.stamps([1000.0], arrival=3.0 + k)[0] for k in range(4)]
    assert got == pytest.approx([3.0, 4.0, 5.0, 6.0])
    # after a long gap the chain restarts at the arrival
    assert t.stamps([1000.0], arrival=60.0) == pytest.approx([60.0])


def test_rr_timer_restarts_after_reset_and_stays_monotonic():
    t = ph.RrTimer()
    assert t.stamps([1000.0], arrival=5.0) == pytest.approx([5.0])
    t.reset()  # a reconnect 1.5 s later: the beats in between were missed
    assert t.stamps([900.0, 1000.0], arrival=6.5) == pytest.approx([5.5, 6.5])
    t.reset()
    got = t.stamps([1200.0, 1000.0], arrival=6.6)  # would start before the last time given
    assert got[0] > 6.5 and got[1] == pytest.approx(6.6)


def test_rr_timer_strictly_increasing():
    t = ph.RrTimer()
    rng = random.Random(3)
    out: list[float] = []
    arrival = 0.0
    for _ in range(200):
        arrival += rng.uniform(0.0, 2.0)
        out += t.stamps([rng.uniform(1, 1500) for _ in range(rng.randint(0, 3))], arrival)
    assert np.all(np.diff(out) > 0)


# --------------------------------------------------------------------------- fake strap

FRAME_S = 0.1  # 13 ECG samples at 130 Hz
ECG_N = 13
ACC_N = 5  # at 50 Hz
RR_RAW = 819  # 799.8046875 ms


@dataclass
class Plan:
    """One successful connection: ``frames`` ECG/ACC frames every 0.1 s, a heart rate
    notification every second frame with the given contact states, then a drop or not."""

    frames: int = 6
    drop: bool = True
    contacts: tuple[bool | None, ...] = (True,)
    malformed_at: int = -1


class FakeStrap:
    """The device behind the fake transport: the scripted outcome of each connection attempt
    ("fail" or a :class:`Plan`), the requests it received, and its sample counters."""

    def __init__(self, plans: list[Plan | str], cp_status: int = 0) -> None:
        self.plans = list(plans)
        self.cp_status = cp_status
        self.ready = threading.Event()
        self.requests: list[bytes] = []
        self.attempts = 0
        self.ecg_next = 0
        self.acc_next = 0
        self.offset_ns = 123_456_789_000_000_000  # sensor clock = LSL clock + this

    def sensor_ns(self) -> int:
        return int(pylsl.local_clock() * 1e9) + self.offset_ns


class FakeTransport:
    """Stands in for the BLE adapter (none on a CI machine): answers the control point and
    plays its strap's plan through the subscribed callbacks, on the session's event loop."""

    def __init__(self, strap: FakeStrap) -> None:
        self.strap = strap
        self.address: str | None = "A0:9E:1A:00:00:01"
        self.name = "Polar H10 FAKE0001"
        self.cbs: dict[str, Callable[[bytes], None]] = {}
        self.plan: Plan | None = None
        self.task: asyncio.Task[None] | None = None
        self.on_disconnect: Callable[[], None] = lambda: None

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        while not self.strap.ready.is_set():
            await asyncio.sleep(0.01)
        self.strap.attempts += 1
        plan = self.strap.plans.pop(0) if self.strap.plans else Plan(frames=0, drop=False)
        if plan == "fail":
            raise OSError("scripted: strap out of range")
        assert isinstance(plan, Plan)
        self.plan, self.on_disconnect = plan, on_disconnect

    async def subscribe(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        self.cbs[uuid] = callback

    async def write(self, uuid: str, data: bytes) -> None:
        assert uuid == ph.PMD_CONTROL
        self.strap.requests.append(bytes(data))
        status = self.strap.cp_status if data[0] == 0x02 else 0
        loop = asyncio.get_running_loop()
        loop.call_soon(self.cbs[ph.PMD_CONTROL], bytes([0xF0, data[0], data[1], status, 0]))
        if data[:2] == b"\x02\x00" and status == 0 and self.task is None:
            self.task = loop.create_task(self._play())

    async def _play(self) -> None:
        plan, s = self.plan, self.strap
        assert plan is not None
        for k in range(plan.frames):
            await asyncio.sleep(FRAME_S)
            ts = s.sensor_ns() - 5_000_000  # 5 ms radio latency
            ecg = list(range(s.ecg_next, s.ecg_next + ECG_N))
            s.ecg_next += ECG_N
            self.cbs[ph.PMD_DATA](pmd(0, ts, 0x00, le(ecg, 3)))
            acc = [(a, -a, 1000) for a in range(s.acc_next, s.acc_next + ACC_N)]
            s.acc_next += ACC_N
            self.cbs[ph.PMD_DATA](pmd(2, ts, 0x01, b"".join(struct.pack("<3h", *v) for v in acc)))
            if k == plan.malformed_at:
                self.cbs[ph.PMD_DATA](b"\x00\x01\x02")
            if k % 2 == 0:
                contact = plan.contacts[(k // 2) % len(plan.contacts)]
                self.cbs[ph.HR_MEASUREMENT](hr_bytes(75, contact=contact, rr_1024=(RR_RAW,)))
        if plan.drop:
            self.on_disconnect()

    async def disconnect(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_bypred(f"source_id='{source_id}'", 1, 10.0)
    assert found, f"no LSL stream with source_id {source_id!r}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


def _session(strap: FakeStrap, source_id: str, log: list[str], **kw) -> ph.PolarSession:
    cfg = ph.SessionConfig(source_id=source_id, name_prefix=f"{source_id}-polar", **kw)
    backoff = Backoff(initial=0.05, maximum=1.0, jitter=0.1, rng=random.Random(0))
    return ph.PolarSession(lambda: FakeTransport(strap), cfg, log=log.append, backoff=backoff)


@pytest.mark.lsl
def test_session_reconnects_with_backoff_on_real_lsl(source_id):
    strap = FakeStrap(
        [
            Plan(frames=6, drop=True, contacts=(True, False, True), malformed_at=2),
            "fail",
            "fail",
            Plan(frames=6, drop=False),
        ]
    )
    log: list[str] = []
    want = {"ecg": 12 * ECG_N, "acc": 12 * ACC_N, "rr": 6}
    with _session(strap, source_id, log, acc_rate=50) as session:
        inlets = {k: _inlet(f"{source_id}-{k}") for k in (*want, "markers")}
        strap.ready.set()  # the strap starts once every inlet is listening
        data: dict[str, list] = {k: [] for k in inlets}
        stamps: dict[str, list[float]] = {k: [] for k in inlets}
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and any(len(stamps[k]) < n for k, n in want.items()):
            for k, inlet in inlets.items():
                d, t = inlet.pull_chunk(timeout=0.0)
                data[k] += d
                stamps[k] += t
            time.sleep(0.02)
        for _ in range(5):  # markers pushed at the same moments
            d, t = inlets["markers"].pull_chunk(timeout=0.05)
            data["markers"] += d
            stamps["markers"] += t
        outlets = session.outlets
    assert session.error is None and not session.running

    assert [len(stamps[k]) for k in want] == list(want.values())
    assert np.asarray(data["ecg"])[:, 0].tolist() == list(range(12 * ECG_N))  # none lost
    acc = np.asarray(data["acc"])
    assert acc[:, 0] * 1000 == pytest.approx(np.arange(12 * ACC_N), abs=1e-3)  # mG → g
    assert acc[:, 2] == pytest.approx(1.0)
    rr = np.asarray(data["rr"])
    assert rr[:, 0].tolist() == [799.8046875] * 6
    assert rr[:, 1].tolist() == [1, 0, 1, 1, 1, 1]  # contact lost in the second notification

    for k in want:  # timestamps strictly increasing across the gap, on every stream
        assert np.all(np.diff(stamps[k]) > 0), k
    ecg_t = np.asarray(stamps["ecg"])
    first = 6 * ECG_N
    gap = ecg_t[first] - ecg_t[first - 1]
    assert gap > 0.2  # the reconnect took time, and the times show it
    assert np.diff(ecg_t[:first]) == pytest.approx(np.full(first - 1, 1 / 130), abs=0.03)

    markers = [m[0] for m in data["markers"]]
    assert markers[:2] == ["contact lost", "contact regained"]
    assert markers[2] == "gap start: connection lost"
    assert markers[3].startswith("gap end: ") and markers[3].endswith(" s")
    assert float(markers[3].split()[2]) >= 0.2
    assert np.all(np.diff(stamps["markers"]) > 0)

    st = session.stats
    assert (st.connects, st.failed_attempts, st.disconnects) == (2, 2, 1)
    assert len(st.delays) == 3 and st.delays[0] < st.delays[1] < st.delays[2]  # backoff grew
    assert st.frame_errors == 1 and st.ecg_frames == 12 and st.rr_samples == 6
    assert strap.attempts == 4
    starts = [r for r in strap.requests if r[0] == 0x02]
    assert starts == [ph.ecg_start_command(), ph.acc_start_command(50, 8)] * 2  # restarted
    assert strap.requests[-2:] == [b"\x03\x00", b"\x03\x02"]  # stopped on exit
    assert outlets is session.outlets  # kept across the reconnect
    assert any("retry in" in line for line in log)


def test_session_fatal_error_before_first_connection(source_id):
    class NoBluetooth(FakeTransport):
        async def connect(self, on_disconnect):
            raise ph.BluetoothUnavailable("Bluetooth is not available: no adapter")

    log: list[str] = []
    session = ph.PolarSession(
        lambda: NoBluetooth(FakeStrap([])), ph.SessionConfig(source_id=source_id), log.append
    )
    with session:
        assert session.wait(5.0)
    assert isinstance(session.error, ph.BluetoothUnavailable)
    assert session.stats.failed_attempts == 0 and session.stats.delays == []


def test_session_refused_start_is_reported(source_id):
    strap = FakeStrap([Plan()], cp_status=3)  # not supported
    strap.ready.set()
    with _session(strap, source_id, []) as session:
        assert session.wait(5.0)
    assert isinstance(session.error, ph.ControlPointError)
    assert "refused to start ECG: not supported" in str(session.error)


def test_session_stall_watchdog_reconnects(source_id):
    strap = FakeStrap([Plan(frames=2, drop=False), Plan(frames=2, drop=False)])
    strap.ready.set()
    log: list[str] = []
    with _session(strap, source_id, log, acc=False, stall_timeout_s=0.3) as session:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and session.stats.connects < 2:
            time.sleep(0.02)
    assert session.stats.connects >= 2
    assert session.stats.disconnects >= 1
    assert any(line.startswith("no data for") for line in log)


def test_session_stops_promptly_while_connecting(source_id):
    strap = FakeStrap([Plan()])  # never ready: connect waits forever
    session = _session(strap, source_id, []).start()
    time.sleep(0.1)
    t0 = time.monotonic()
    assert session.stop(timeout=3.0)
    assert time.monotonic() - t0 < 2.0
    assert session.error is None


def test_session_validates_acc_settings():
    with pytest.raises(InputError, match="ACC rate"):
        ph.PolarSession(lambda: FakeTransport(FakeStrap([])), ph.SessionConfig(acc_rate=30))


# --------------------------------------------------------------------------- CLI


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    ph.add_arguments(p)
    return p.parse_args(list(argv))


def test_parser_builds_and_defaults():
    a = _parse()
    assert (a.acc_rate, a.acc_range, a.no_ecg, a.no_acc, a.scan) == (50, 8, False, False, False)
    a = _parse("--address", "A0:9E:1A:12:34:56", "--acc-rate", "200", "--no-ecg")
    assert (a.address, a.acc_rate, a.no_ecg) == ("A0:9E:1A:12:34:56", 200, True)
    with pytest.raises(SystemExit):
        _parse("--acc-rate", "30")


def test_run_without_bleak_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bleak", None)  # makes `import bleak` fail
    with pytest.raises(InputError, match=r'pip install "wot-biofeedback\[ble\]"'):
        ph.run(_parse())


def test_default_source_id_and_scan_listing():
    assert ph.default_source_id("A0:9E:1A:12:34:56") == "polar-h10-a09e1a123456"
    text = ph.format_scan(
        [("Polar H10 1234ABCD", "A0:9E:1A:12:34:56", -60), ("Polar OH1", "X", None)], 5
    )
    assert text.splitlines() == [
        "Polar H10 1234ABCD  A0:9E:1A:12:34:56  RSSI -60 dBm",
        "Polar OH1           X  RSSI ? dBm",
    ]
    assert "no Polar devices" in ph.format_scan([], 5)


@pytest.mark.parametrize("mean_rr", [0.6, 0.9, 1.0, 1.1, 1.3])
@pytest.mark.parametrize(("loss", "median_s", "p99_s"), [(0.0, 0.03, 0.1), (0.03, 0.08, 1.0)])
def test_rr_timer_near_the_notification_rate(mean_rr, loss, median_s, p99_s):
    """Beats with heart rate variability against 1-Hz notifications (at 60 bpm the phase
    between them is steady, the hard case), 10-20 ms latency: after a minute the beat times
    are within tens of ms of the truth. With 3 % of the notifications lost, the beats right
    after a loss may be off by up to one interval until the bounds catch up."""
    rng = np.random.default_rng(int(mean_rr * 100))
    rr = mean_rr + 0.04 * np.sin(np.arange(2000) * 2 * np.pi / 5.0) + rng.normal(0, 0.02, 2000)
    beats = np.cumsum(rr)
    t = ph.RrTimer()
    err = []
    for k in range(1, int(beats[-1]) - 1):
        idx = np.flatnonzero((beats > k - 1) & (beats <= k))
        if rng.random() < loss:
            continue  # lost in the air, with its intervals
        got = t.stamps((rr[idx] * 1000.0).tolist(), k + rng.uniform(0.01, 0.02))
        if k > 60 and idx.size:
            err += list(np.asarray(got) - beats[idx])
    err = np.abs(np.asarray(err))
    assert np.median(err) < median_s and np.percentile(err, 99) < p99_s, (
        np.median(err),
        np.percentile(err, 99),
    )
