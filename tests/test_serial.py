"""``wot driver serial``: a line protocol over a real pseudo-terminal to real LSL streams.

The driver opens the pty's slave path with pyserial, as it would open ``/dev/ttyACM0``; the test
writes lines to the master side, as a board would. The timing and parsing parts are also checked
on their own with simulated arrivals (a device 2 % slower than declared, a stall, a reset).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
from wot_drivers._common import Backoff
from wot_drivers.serial_line import (
    LineSplitter,
    LineTiming,
    SerialLineDriver,
    default_id,
    parse_channels,
    parse_line,
    stream_specs,
)

from wot_biofeedback import cli
from wot_biofeedback.errors import InputError

pytest.importorskip("serial", reason="pyserial is in the test extra: pip install -e '.[test]'")
pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


class Pty:
    """A pseudo-terminal: the driver opens ``path``, the test writes to the master side."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.closed = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def paced(self, lines: list[bytes], rate: float) -> None:
        """Write ``lines`` at ``rate`` per second, on deadlines from the first."""
        start = time.perf_counter()
        for i, line in enumerate(lines):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.write(line)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)


@pytest.fixture
def pty():
    p = Pty()
    yield p
    p.close()


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_bypred(f"source_id='{source_id}'", 1, 10.0)
    assert found, f"no LSL stream with source_id {source_id!r}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


def _collect(inlet: pylsl.StreamInlet, n: int, timeout: float = 5.0) -> tuple[list, np.ndarray]:
    data: list = []
    stamps: list[float] = []
    deadline = time.monotonic() + timeout
    while len(stamps) < n and time.monotonic() < deadline:
        x, t = inlet.pull_chunk(timeout=0.05)
        data.extend(x)
        stamps.extend(t)
    return data, np.asarray(stamps)


def _wait(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _unit(inlet: pylsl.StreamInlet, i: int = 0) -> str:
    ch = inlet.info(timeout=5.0).desc().child("channels").child("channel")
    for _ in range(i):
        ch = ch.next_sibling()
    return ch.child_value("unit")


# (1) csv-rate through the CLI ---------------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_csv_rate_eda_through_the_cli_gives_the_values_at_the_declared_rate(pty, source_id, capsys):
    rate, n = 50.0, 60
    argv = ["driver", "serial", "--port", pty.path, "--format", "csv-rate", "--channels",
            "eda:uS", "--rate", "50", "--source-id", source_id, "--duration", "4"]  # fmt: skip
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(cli.main(argv)), daemon=True)
    runner.start()
    inlet = _inlet(f"{source_id}-eda")
    info = inlet.info(timeout=5.0)
    assert (info.name(), info.type(), info.channel_count()) == (f"{source_id}-EDA", "EDA", 1)
    assert info.nominal_srate() == rate
    assert _unit(inlet) == "uS"

    values = [2.0 + 0.01 * i for i in range(n)]
    pty.write(b"# GSR board v1\r\n")  # the first line after the port opened is dropped
    pty.paced([f"{v:.2f}\r\n".encode() for v in values], rate)
    data, ts = _collect(inlet, n)
    runner.join(10.0)
    assert codes == [0]

    np.testing.assert_allclose(np.asarray(data)[:, 0], values, atol=1e-5)
    dt = np.diff(ts)
    # one sample every 1/rate; a line less delayed than all before it may only pull its own
    # time (and those after it) in
    assert np.median(dt) == pytest.approx(1 / rate, abs=1e-6)
    assert np.all(dt > 0) and np.all(dt < 1 / rate + 1e-6)
    assert ts[-1] - ts[0] == pytest.approx((n - 1) / rate, abs=0.05)
    out = capsys.readouterr()
    assert f"source_id {source_id}" in out.out
    assert f"serial: {n} samples from {pty.path}; skipped 0 malformed line(s)" in out.out


# (2) csv-timestamp with two channels ------------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_csv_timestamp_two_channels_follow_the_device_clock(pty, source_id):
    logs: list[str] = []
    drv = SerialLineDriver(
        pty.path, "ecg:mV,eda:uS", "csv-timestamp", 100.0, source_id=source_id, log=logs.append
    )
    with drv:
        ecg, eda, marks = (_inlet(f"{source_id}-{m}") for m in ("ecg", "eda", "markers"))
        assert (_unit(ecg), _unit(eda)) == ("mV", "uS")
        assert ecg.info().type() == "ECG" and eda.info().nominal_srate() == 100.0
        # the board stamps every 10 ms but sends in bursts of 5 lines every 50 ms, and after
        # line 40 it stops for 0.7 s (its stamps jump by as much)
        stamps = [123_456 + 10 * i + (700 if i >= 40 else 0) for i in range(80)]
        pty.write(b"# ECG+EDA board\n")
        for b in range(0, 80, 5):
            if b == 40:
                time.sleep(0.7)
            pty.write(
                b"".join(f"{s},{0.01 * i:.3f},{5 + 0.001 * i:.3f}\n".encode()
                         for i, s in enumerate(stamps[b : b + 5], b))
            )  # fmt: skip
            time.sleep(0.05)
        (xe, te), (xd, td) = _collect(ecg, 80), _collect(eda, 80)
        marks_got, mark_t = _collect(marks, 2)
    assert drv.error is None
    np.testing.assert_allclose(np.asarray(xe)[:, 0], [0.01 * i for i in range(80)], atol=1e-6)
    np.testing.assert_allclose(np.asarray(xd)[:, 0], [5 + 0.001 * i for i in range(80)], atol=1e-5)
    np.testing.assert_array_equal(te, td)
    # LSL times advance as the device stamps do, not as the bursts arrived
    device_dt = np.diff(stamps) / 1000.0
    assert np.median(np.diff(te) - device_dt) == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(te) > 0) and np.all(np.diff(te) < device_dt + 1e-6)
    np.testing.assert_allclose(np.diff(te), device_dt, atol=0.03)
    assert te[40] - te[39] == pytest.approx(0.71, abs=0.01)
    texts = [m[0] for m in marks_got]
    assert "gap start: no data from the device" in texts and "gap end: 0.70 s" in texts
    assert mark_t[texts.index("gap end: 0.70 s")] == pytest.approx(te[40], abs=1e-9)
    assert drv.stats["gaps"] == 1 and drv.skipped == {}


# (3) malformed lines ---------------------------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_malformed_lines_are_counted_per_reason_and_skipped(pty, source_id):
    logs: list[str] = []
    drv = SerialLineDriver(
        pty.path, "eda:uS,skip,resp", "csv-timestamp", 100.0, source_id=source_id,
        report_s=0.3, log=logs.append,
    )  # fmt: skip
    bad = {
        "field_count": b"%d,1.0,2.0\n",
        "not_numeric": b"%d,abc,5,0.1\n",
        "not_finite": b"%d,nan,5,0.1\n",
        "undecodable": b"%d,\xff\xfe,5,0.1\n",
        "too_long": b"%d" + b",1" * 400 + b"\n",
        "time_backwards": b"5,1.0,5,0.1\n",  # a time from the past
        "time_jump": b"9999999,1.0,5,0.1\n",  # far ahead of the arrival clock
    }
    lines: list[bytes] = [b"partial line: the port opened in its middle\n",
                          b"time_ms, eda, temp, resp\n", b"# firmware 1.2\n"]  # fmt: skip
    good: list[tuple[float, float]] = []
    t = 1000
    for i in range(30):
        t += 10
        if i % 4 == 3:  # a malformed line of each kind, between good ones
            kind = list(bad)[(i // 4) % len(bad)]
            pattern = bad[kind]
            lines.append(pattern % t if b"%d" in pattern else pattern)
            continue
        eda, resp = 3.0 + 0.01 * i, 0.1 * (i % 7)
        end = b",\r\n" if i == 5 else b"\r\n"  # a trailing delimiter is fine
        lines.append(f"{t}, {eda:.2f},25.0,{resp:.1f}".encode() + end)
        good.append((eda, resp))
        if i == 10:
            lines.append(b"\n")  # blank: ignored
    lines.append(b"time_ms,eda,temp,resp\n")  # a header after data is not one: not_numeric
    with drv:
        eda_in, resp_in, marks = (_inlet(f"{source_id}-{m}") for m in ("eda", "resp", "markers"))
        pty.paced(lines, 100.0)
        (xe, te), (xr, _tr) = _collect(eda_in, len(good)), _collect(resp_in, len(good))
        assert _wait(lambda: any(s.startswith("serial: skipped") for s in logs), 3.0)
        mtexts = [m[0] for m in _collect(marks, 3, timeout=1.0)[0]]
    assert drv.error is None
    want = {k: 1 for k in bad} | {"not_numeric": 2}
    assert drv.skipped == want
    np.testing.assert_allclose(np.asarray(xe)[:, 0], [g[0] for g in good], atol=1e-5)
    np.testing.assert_allclose(np.asarray(xr)[:, 0], [g[1] for g in good], atol=1e-6)
    assert np.all(np.diff(te) > 0)
    assert drv.stats["samples"] == len(good)
    assert drv.stats["headers"] == 1 and drv.stats["comments"] == 1
    assert "device: firmware 1.2" in mtexts
    assert any(m.startswith("skipped lines: ") and "field_count 1" in m for m in mtexts)
    for reason in want:  # the first line of each kind is shown, to help fix the sketch
        assert any(f"skipping malformed lines ({reason})" in s for s in logs)
    assert "not_numeric 2" in drv.summary()


# (4) the port vanishes and comes back -----------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_a_vanished_port_is_reopened_with_a_gap_marker(tmp_path: Path, source_id):
    # like /dev/serial/by-id/… on a re-plug: a link that points at the new device node
    link = tmp_path / "ttyDIY"
    first = Pty()
    link.symlink_to(first.path)
    logs: list[str] = []
    drv = SerialLineDriver(
        str(link), "eda", "csv-rate", 20.0, source_id=source_id, log=logs.append,
        backoff=Backoff(initial=0.05, maximum=0.2),
    )  # fmt: skip
    second = None
    try:
        with drv:
            eda, marks = _inlet(f"{source_id}-eda"), _inlet(f"{source_id}-markers")
            first.write(b"# hello\n")
            first.paced([f"{1 + 0.1 * i:.1f}\n".encode() for i in range(10)], 20.0)
            x1, t1 = _collect(eda, 10)
            first.close()  # unplugged
            assert _wait(lambda: not drv.connected.is_set())
            second = Pty()
            link.unlink()
            link.symlink_to(second.path)
            assert _wait(drv.connected.is_set)  # reopened after a backoff delay
            second.write(b"# hello again\n")
            second.paced([f"{2 + 0.1 * i:.1f}\n".encode() for i in range(10)], 20.0)
            x2, t2 = _collect(eda, 10)
            texts = [m[0] for m in _collect(marks, 3, timeout=1.0)[0]]
    finally:
        first.close()
        if second is not None:
            second.close()
    assert drv.error is None
    np.testing.assert_allclose(np.asarray(x1 + x2)[:, 0], [1 + 0.1 * i for i in range(10)]
                               + [2 + 0.1 * i for i in range(10)], atol=1e-6)  # fmt: skip
    assert t2[0] > t1[-1]
    assert any(m.startswith("gap start: serial port lost") for m in texts)
    assert any(m.startswith("gap end: ") and m.endswith("(serial port reopened)") for m in texts)
    assert drv.stats["lost"] == 1 and drv.stats["reopened"] == 1
    assert any("reopened after" in s for s in logs)


# command line errors ----------------------------------------------------------------------------
def test_cli_errors_name_the_problem(pty, capsys, monkeypatch, tmp_path):
    base = ["driver", "serial", "--format", "csv-rate", "--rate", "10"]
    assert cli.main([*base, "--port", pty.path, "--channels", "eda,gsr"]) == 2
    assert "unknown channel 'gsr'" in capsys.readouterr().err
    assert cli.main([*base, "--port", pty.path, "--channels", "eda:furlongs"]) == 2
    assert "unknown EDA unit 'furlongs'" in capsys.readouterr().err
    assert cli.main([*base, "--port", str(tmp_path / "nope"), "--channels", "eda"]) == 2
    assert "cannot open serial port" in capsys.readouterr().err
    assert cli.main(["driver", "serial", "--port", pty.path, "--channels", "eda"]) == 2
    assert "--format is required" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "serial", None)  # pyserial not installed
    assert cli.main([*base, "--port", pty.path, "--channels", "eda"]) == 2
    assert 'pip install "wot-biofeedback[serial]"' in capsys.readouterr().err


# the parts on their own -------------------------------------------------------------------------
def test_channels_declare_typed_streams_with_units():
    specs = stream_specs(parse_channels("acc_z,ecg:uV,acc_x,skip,acc_y,eda:raw:0.01"))
    assert [(s.modality, s.stype) for s in specs] == [
        ("acc", "ACC"),
        ("ecg", "ECG"),
        ("eda", "EDA"),
    ]
    assert specs[0].channels == (("x", "g"), ("y", "g"), ("z", "g"))
    assert specs[0].columns == (2, 4, 0)
    assert specs[1].channels == (("ECG", "uV"),) and specs[2].columns == (5,)
    for bad in ("", "skip", "eda,eda", "acc_x,acc_y", "acc_x:g,acc_y:g,acc_z:m/s2", "ecg;eda"):
        with pytest.raises(InputError):
            parse_channels(bad)
    assert default_id("/dev/ttyACM0") == "serial-ttyACM0" and default_id("COM3") == "serial-COM3"


def test_lines_are_split_and_classified():
    sp = LineSplitter(max_len=16)
    sp.sync()
    assert sp.feed(b"ial\n1,2\r") == []
    assert sp.feed(b"\n3,4\n" + b"5" * 20) == [b"1,2", b"3,4", None]
    assert sp.feed(b"5" * 30 + b"\n6,7\n") == [b"6,7"]  # the rest of the long one is dropped
    assert parse_line(b" 1.5 , -2e-3 ", 2) == ("sample", [1.5, -0.002])
    assert parse_line(b"1.5\t2", 2, None) == ("sample", [1.5, 2.0])
    assert parse_line(b"1,2,", 2) == ("sample", [1.0, 2.0])
    assert parse_line(b"#  hi ", 2) == ("comment", "hi")
    assert parse_line(b"  ", 2) == ("blank", None)
    assert parse_line(b"t, EDA (uS)", 2, header_ok=True) == ("header", ["t", "EDA (uS)"])
    assert parse_line(b"t, EDA (uS)", 2) == ("reject", "not_numeric")
    assert parse_line(b"nan,inf", 2, header_ok=True) == ("reject", "not_finite")
    assert parse_line(b"1,2,3", 2) == ("reject", "field_count")
    assert parse_line(b"1,\xc3", 2) == ("reject", "undecodable")


def _simulate(timing, true_rate, seconds, rng, stall=None):
    """Lines sampled at ``true_rate`` arriving after 2 ms + exponential delays (one read each);
    ``stall`` = (at, duration) s: the device sends nothing then. Returns (true times, LSL times,
    gap events)."""
    s = np.arange(int(seconds * true_rate)) / true_rate
    if stall is not None:
        s = np.where(s >= stall[0], s + stall[1], s)
    arrival = np.maximum.accumulate(s + 0.002 + rng.exponential(0.003, s.size))
    times, gaps = [], []
    for a in arrival:
        t, ev = timing.rate_chunk(1, float(a))
        times.extend(t)
        gaps.extend(v for _i, kind, v in ev if kind == "gap")
    return s, np.asarray(times), gaps


def test_csv_rate_times_follow_a_device_slower_than_declared_and_a_stall(rng):
    timing = LineTiming(rate=100.0, gap_s=0.5)
    s, t, gaps = _simulate(timing, 98.0, 60.0, rng, stall=(40.0, 2.0))
    assert timing.ratio == pytest.approx(100 / 98, rel=2e-4)
    assert gaps == [pytest.approx(2.0, abs=0.03)]
    err = t - s  # the transport's smallest delay (2 ms) stays in, as in any arrival time
    late = s > 20.0
    assert np.all(np.abs(err[late] - 0.002) < 0.005), np.abs(err[late] - 0.002).max()
    assert np.all(np.diff(t) > 0)
    assert timing.notes and "98" in timing.notes[0]


def test_queued_lines_are_not_a_gap_and_a_bad_line_keeps_its_slot():
    timing = LineTiming(rate=10.0, gap_s=0.5)
    t0 = 100.0
    t, _ = timing.rate_chunk(3, t0 + 0.2)
    t_late, ev = timing.rate_chunk(9, t0 + 1.1)  # this computer was busy: 9 lines at once
    assert ev == []
    t_next, _ = timing.rate_chunk(1, t0 + 1.2)
    np.testing.assert_allclose(np.diff(t + t_late + t_next), 0.1, atol=1e-9)


def test_csv_timestamp_device_clock_drift_and_restart(rng):
    timing = LineTiming(rate=50.0, gap_s=0.5)
    s = np.arange(40 * 50) / 50.0
    x = 123.0 + s * 1.004  # a ceramic resonator: 0.4 % fast (beyond a crystal's drift)
    x[1500:] = (s[1500:] - s[1500]) * 1.004  # the board reset: its clock starts again at 0
    arrival = np.maximum.accumulate(s + 0.003 + rng.exponential(0.002, s.size))
    times, reasons, restarts = [], [], []
    for xi, a in zip(x, arrival, strict=True):
        (r,), ev = timing.stamped_chunk([float(xi)], float(a))
        restarts.extend(ev)
        (reasons if isinstance(r, str) else times).append(r if isinstance(r, str) else (r, a))
    assert reasons == ["time_backwards"] * 2  # then the third one: a restart
    assert len(restarts) == 1 and restarts[0][1] == "restart"
    t = np.asarray([p[0] for p in times])
    assert np.all(np.diff(t) > 0)
    true = np.delete(s, [1500, 1501])
    err = t - true
    assert np.all(np.abs(err[500:1498] - 0.003) < 0.004)
    assert np.all(np.abs(err[1600:] - 0.003) < 0.01)
    assert timing.ratio == pytest.approx(1 / 1.004, rel=5e-4)
    assert not math.isnan(restarts[0][2])
