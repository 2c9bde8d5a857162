"""Crash-safe XDF session recording: the writer against pyxdf, a live session against the
offline analysis of its recording, a killed process, a disk that fills, damaged files."""

from __future__ import annotations

import csv
import json
import math
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf
from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

from wot_biofeedback import cli
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.dsp import warm_up
from wot_biofeedback.engine import Engine
from wot_biofeedback.errors import InputError
from wot_biofeedback.outlets import OUTLET_CHANNELS
from wot_biofeedback.recorder import SessionRecorder, stream_header
from wot_biofeedback.sources import xdf
from wot_biofeedback.sources.lsl import LslSource, resolve
from wot_biofeedback.state import ZONE_CODE

ROOT = Path(__file__).resolve().parents[1]
ZONE_OF_CODE = {v: k for k, v in ZONE_CODE.items()}


def _load(path: Path, **kw) -> dict[str, dict]:
    streams, _ = pyxdf.load_xdf(str(path), **kw)
    return {s["info"]["name"][0]: s for s in streams}


def _chunks(path: Path) -> list[tuple[int, int, int, int]]:
    """(start byte, tag, end byte, stream id or -1) of every chunk, walked by hand."""
    raw = path.read_bytes()
    buf = memoryview(raw)
    pos, out = 4, []
    while pos < len(raw):
        length, p = xdf.read_varlen(buf, pos)
        (tag,) = struct.unpack_from("<H", buf, p)
        sid = struct.unpack_from("<I", buf, p + 2)[0] if tag in (2, 3, 4, 6) else -1
        out.append((pos, tag, p + length, sid))
        pos = p + length
    return out


# the writer ------------------------------------------------------------------------------
def test_writer_round_trips_through_pyxdf(tmp_path, rng):
    path = tmp_path / "rt.xdf"
    rec = SessionRecorder(path, {"client": "c-01", "note": "ünïcode"}, flush_s=0.05)
    chans = [("Fp1", "uV"), ("Fp2", "uV")]
    rec.add_stream("eeg", stream_header("EEG1", "EEG", 2, 500.0, "float32", "s-eeg", chans))
    rec.add_stream("dbl", stream_header("D", "Misc", 1, 10.0, "double64", "s-d"), "double64")
    rec.add_stream("i16", stream_header("I", "Misc", 3, 0.0, "int16", "s-i"), "int16")
    rec.add_strings("marks")
    t = 1000.0 + np.arange(1500) / 500.0
    x = rng.standard_normal((1500, 2)).astype(np.float32)
    d = rng.standard_normal(40) * 1e9
    i = rng.integers(-30000, 30000, (7, 3)).astype(np.int16)
    rec.clock_offset("eeg", 999.0, -0.25)
    rec.samples("eeg", t[:700], x[:700])
    rec.clock_offset("eeg", 1002.0, -0.5)
    rec.samples("eeg", t[700:], x[700:])
    rec.samples("dbl", 1000.0 + np.arange(40) / 10.0, d)
    rec.samples("i16", np.array([1.0, 2, 3, 5, 8, 13, 21]) + 1000, i)
    rec.strings("marks", [1000.5, 1001.25], ["start ✓", '{"zone": "hyper"}'])
    with rec:
        time.sleep(0.2)  # the flushing thread writes meanwhile
    s = _load(path, synchronize_clocks=False, dejitter_timestamps=False)
    assert set(s) == {"wot-session", "EEG1", "D", "I", "marks"}
    assert np.array_equal(s["EEG1"]["time_series"], x)
    assert np.array_equal(s["EEG1"]["time_stamps"], t)
    assert s["EEG1"]["clock_times"] == [999.0, 1002.0]
    assert s["EEG1"]["clock_values"] == [-0.25, -0.5]
    assert s["EEG1"]["info"]["desc"][0]["channels"][0]["channel"][1]["label"] == ["Fp2"]
    assert s["EEG1"]["footer"]["info"]["sample_count"] == ["1500"]
    assert np.array_equal(s["D"]["time_series"][:, 0], d)
    assert np.array_equal(s["I"]["time_series"], i)
    assert s["marks"]["time_series"] == [["start ✓"], ['{"zone": "hyper"}']]
    _, header = pyxdf.load_xdf(str(path))
    meta = json.loads(header["info"]["wot_session"][0])
    assert meta["client"] == "c-01" and meta["note"] == "ünïcode"
    # the fast reader agrees, and applies the offset written before each sample exactly
    f = xdf.read_xdf(path)
    assert f.problems == []
    e = f.by_name("EEG1")
    assert np.array_equal(e.time_series, x)
    assert np.array_equal(e.corrected_stamps(), t + np.where(np.arange(1500) < 700, -0.25, -0.5))
    assert f.by_name("marks").time_series == ["start ✓", '{"zone": "hyper"}']


def test_recorder_never_overwrites_a_file(tmp_path):
    path = tmp_path / "old.xdf"
    path.write_bytes(b"a session worth keeping")
    with pytest.raises(InputError, match="already exists"):
        SessionRecorder(path)
    assert path.read_bytes() == b"a session worth keeping"


# a live session and its recording -------------------------------------------------------
@pytest.fixture(scope="module")
def live_session(tmp_path_factory):
    """A simulated session at 20x through the live engine, recorded; a "calibrate now" and a
    therapist marker on the way. Returns (path, engine)."""
    import uuid

    sid = f"wot-test-rec-{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("live") / "session.xdf"
    sess = simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=3))
    cfg = EngineConfig()
    cfg.calibration.duration_s = 40.0
    # the kernels compiled first, and playback started once the engine's inlets are there: a
    # fresh clone's cold numba cache under a loaded machine compiled for longer than the
    # inlets' buffer holds at 20x, and the session began inside the stressor (a fresh-clone
    # run found no hyper zone at all)
    warm_up()
    with SimulatorPublisher(sess, source_id=sid, name_prefix=sid, speed=20.0,
                            wait_for_consumers=30.0):  # fmt: skip
        sources = {
            m: LslSource(m, resolve(t, source_id=f"{sid}-{m}", timeout=10.0))
            for m, t in (("ecg", "ECG"), ("eda", "EDA"), ("resp", "RESP"))
        }
        rec = SessionRecorder(path, {"client": "test"})
        engine = Engine(sources, cfg, outlets_source_id=None, recorder=rec)
        with engine:
            _wait(lambda: engine.snapshot().session_s >= 100.0, 60)
            engine.calibrate_now(30.0)
            engine.add_marker("marker 01:40", "client looks away")  # the note is recorded
            _wait(lambda: engine.snapshot().session_s >= 240.0, 60)
            assert engine.snapshot().error is None
    return path, engine


def _wait(cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _analyze(path: Path, out: Path, *extra: str) -> dict:
    assert cli.main(["analyze", str(path), "--out", str(out), *extra]) == 0
    return json.loads((out / "summary.json").read_text())


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _session_records(path: Path) -> list[dict]:
    return [json.loads(s) for s in xdf.read_xdf(path).by_name("wot-session").time_series]


def _live(path: Path) -> tuple[float, dict, dict[str, np.ndarray]]:
    """Origin, streams (fast reader) and live event times (session s) of a recording."""
    f = xdf.read_xdf(path)
    recs = [json.loads(s) for s in f.by_name("wot-session").time_series]
    origin = next(r["lsl_time"] for r in recs if r["event"] == "origin")
    ev = f.by_name("wot-events")
    labels = np.array(ev.time_series)
    times = {k: ev.time_stamps[labels == k] - origin for k in ("rpeak", "scr_peak", "breath")}
    return origin, {s.name: s for s in f.streams}, times


def test_recording_holds_every_stream_with_metadata(live_session):
    path, _engine = live_session
    s = _load(path)  # pyxdf with its defaults (clock sync, dejitter)
    names = set(s)
    assert {"wot-features", "wot-state", "wot-cues", "wot-markers", "wot-events"} <= names
    raw = {n: st for n, st in s.items() if st["info"]["type"][0] in ("ECG", "EDA", "RESP")}
    assert len(raw) == 3
    for st in raw.values():
        assert len(st["time_stamps"]) > 1000
        assert len(st["clock_times"]) >= 2  # liblsl's clock correction, as LabRecorder keeps it
        assert st["footer"]["info"]["sample_count"] == [str(len(st["time_stamps"]))]
        assert st["info"]["desc"][0]["channels"][0]["channel"][0]["unit"][0]
    assert s["wot-markers"]["time_series"] == [["marker 01:40: client looks away"]]
    feats = s["wot-features"]
    labels = [c["label"][0] for c in feats["info"]["desc"][0]["channels"][0]["channel"]]
    assert labels == list(OUTLET_CHANNELS)
    recs = [json.loads(x[0]) for x in s["wot-session"]["time_series"]]
    kinds = [r["event"] for r in recs]
    assert kinds[:2] == ["session", "engine"] and kinds[-1] == "end"
    assert recs[1]["parameters"]["calibration"]["duration_s"] == 40.0
    cal = next(r for r in recs if r["event"] == "calibrate")
    assert 100.0 <= cal["start_s"] <= 110.0 and cal["end_s"] == cal["start_s"] + 30.0


def test_offline_analysis_of_a_recording_equals_the_live_session(live_session, tmp_path):
    """One pipeline, one answer: same frames, zones, R-peaks, SCRs and breaths."""
    path, engine = live_session
    summary = _analyze(path, tmp_path)
    origin, streams, live_ev = _live(path)
    feats = streams["wot-features"]
    t_live = np.round(feats.time_stamps - origin, 3)
    live = feats.time_series
    rows = _csv(tmp_path / "features.csv")
    t_off = np.array([float(r["time_s"]) for r in rows])
    n = len(t_live)
    assert n > 700 and len(t_off) >= n - 4
    n = min(n, len(t_off))
    assert np.array_equal(t_live[:n], t_off[:n])
    zl = [ZONE_OF_CODE[int(c)] for c in live[:n, OUTLET_CHANNELS.index("zone_code")]]
    zo = [r["state"] for r in rows[:n]]
    assert zl == zo
    # the recording holds every frame the engine produced, none lost or duplicated
    frames = engine.drain_frames()
    assert [f.time_s for f in frames] == list(t_live)
    assert [f.state.zone for f in frames[:n]] == zl
    assert {"hyper", "within"} <= set(zl)  # the stressor and the recovery both show
    for k in ("hr_bpm", "rmssd_ms", "scl_us", "scr_per_min", "resp_rate_bpm", "arousal"):
        a = live[:n, OUTLET_CHANNELS.index(k)].astype(float)
        b = np.array([float(r[k]) if r[k] else np.nan for r in rows[:n]])
        assert np.allclose(a, b, rtol=1e-3, atol=1e-3, equal_nan=True), k
    # the recorded "calibrate now" was applied on the same frames
    assert 100.0 <= summary["baseline"]["start_s"] <= 110.5
    # the therapist's note sits at its session time (not the wall clock of a 20x session)
    assert len(engine.markers) == 1 and engine.markers[0][0] > 99.0
    assert summary["markers"] == [
        {"time_s": engine.markers[0][0], "text": "marker 01:40: client looks away"}
    ]
    assert _csv(tmp_path / "markers.csv") == [
        {"time_s": f"{engine.markers[0][0]:.3f}", "text": "marker 01:40: client looks away"}
    ]
    # events: every live one offline, at the same time (±1 sample of its signal)
    for name, file, col, fs in (
        ("rpeak", "rpeaks.csv", 0, 250.0),
        ("breath", "breaths.csv", 0, 50.0),
        ("scr_peak", "scr.csv", 1, 32.0),
    ):
        off = np.atleast_1d(np.loadtxt(tmp_path / file, delimiter=",", skiprows=1, ndmin=2)[:, col])
        lv = live_ev[name]
        assert lv.size > 5, name
        assert off.size >= lv.size
        assert np.max(np.abs(off[: lv.size] - lv)) <= 1.0 / fs + 1e-3, name
    assert summary["input"]["recorded_by_wot"] is True


def test_damaged_and_cut_short_recordings_keep_what_is_there(live_session, tmp_path):
    path, _ = live_session
    ecg_id = next(st.stream_id for st in xdf.read_xdf(path).streams if st.type == "ECG")
    ecg_chunks = [c for c in _chunks(path) if c[1] == xdf.TAG_SAMPLES and c[3] == ecg_id]
    _origin, streams, live_ev = _live(path)
    t_last = streams["wot-features"].time_stamps[-1]

    def damaged(name: str, offset: int, new: bytes) -> tuple[Path, dict]:
        p = tmp_path / f"{name}.xdf"
        raw = bytearray(path.read_bytes())
        raw[offset : offset + len(new)] = new
        p.write_bytes(bytes(raw))
        s = _load(p)  # pyxdf loads it too (it skips to the next boundary)
        assert len(s["wot-features"]["time_stamps"]) > 100
        return p, _analyze(p, tmp_path / name)

    # 1. a chunk header made invalid in the middle of the ECG
    start = ecg_chunks[len(ecg_chunks) // 2][0]
    p, summary = damaged("width", start, b"\x07")  # not a valid varlen width
    notes = " ".join(summary["input"]["notes"])
    assert f"damaged chunk at byte {start}" in notes and "next boundary" in notes
    assert "lost to the damage are left as gaps" in notes
    # what follows the damage keeps its place: every R-peak found offline is a live one
    off = np.loadtxt(tmp_path / "width" / "rpeaks.csv", skiprows=1)
    lv = live_ev["rpeak"]
    nearest = np.min(np.abs(off[:, None] - lv[None, :]), axis=1)
    assert off.size > 100 and np.max(nearest) <= 1 / 250 + 1e-6
    assert off[-1] > lv[-1] - 2.0  # and the end of the session is still there
    # 2. a length that runs past the end of the file: resynchronised, not "cut short"
    c = ecg_chunks[len(ecg_chunks) // 3]
    assert path.read_bytes()[c[0]] == 4  # a 4-byte length
    p, summary = damaged("length", c[0] + 1, struct.pack("<I", 0xFFFFFF00))
    notes = " ".join(summary["input"]["notes"])
    assert "runs past the end of the file" in notes and "cut short" not in notes
    assert xdf.read_xdf(p).by_name("wot-features").time_stamps[-1] == t_last
    # 3. a sample count that would need gigabytes (its width byte made 8)
    c = ecg_chunks[2 * len(ecg_chunks) // 5]
    raw = path.read_bytes()
    count_at = c[0] + 1 + raw[c[0]] + 2 + 4  # length, tag, stream id
    assert raw[count_at] == 1
    p, summary = damaged("count", count_at, b"\x08")
    assert "cannot fit" in " ".join(summary["input"]["notes"])
    # 4. the very first ECG chunk damaged: the stream starts with a gap, the rest in place
    p, summary = damaged("first", ecg_chunks[0][0], b"\x07")
    off = np.loadtxt(tmp_path / "first" / "rpeaks.csv", skiprows=1)
    nearest = np.min(np.abs(off[:, None] - lv[None, :]), axis=1)
    assert off.size > 100 and np.max(nearest) <= 1 / 250 + 1e-6
    # 5. cut in the middle of a chunk (a crash during a write that fsync never finished)
    cut = tmp_path / "cut.xdf"
    c = ecg_chunks[2 * len(ecg_chunks) // 3]
    cut.write_bytes(path.read_bytes()[: (c[0] + c[2]) // 2])
    s = _load(cut)
    assert len(s["wot-features"]["time_stamps"]) > 100
    summary = _analyze(cut, tmp_path / "cut")
    notes = " ".join(summary["input"]["notes"])
    assert "cut short" in notes and "no end record" in notes
    assert summary["counts"]["rpeaks"] > 100


def test_missing_stream_named_clearly(live_session, tmp_path, capsys):
    path, _ = live_session
    code = cli.main(["analyze", str(path), "--out", str(tmp_path), "--eda", "NoSuchBand"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'NoSuchBand' not found" in err and "recorded streams" in err and "EDA" in err


def test_disk_filling_during_a_session_keeps_what_was_recorded(tmp_path, source_id):
    """A real write failure: the process file-size limit (EFBIG, as ENOSPC on a full disk)."""
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=2))
    path = tmp_path / "full.xdf"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        # playback waits for the inlets (each takes a moment to connect and learn its clock
        # offset), so all three streams are recorded from the session's start
        with SimulatorPublisher(sess, source_id=source_id, name_prefix=source_id, speed=10.0,
                                wait_for_consumers=10.0, quiet_s=0.0):  # fmt: skip
            sources = {
                m: LslSource(m, resolve(t, source_id=f"{source_id}-{m}", timeout=10.0))
                for m, t in (("ecg", "ECG"), ("eda", "EDA"), ("resp", "RESP"))
            }
            rec = SessionRecorder(path, flush_s=0.1)
            engine = Engine(sources, EngineConfig(), outlets_source_id=None, recorder=rec)
            with engine:
                _wait(lambda: rec.writer.size > 60_000, 30)
                resource.setrlimit(resource.RLIMIT_FSIZE, (rec.writer.size + 40_000, hard))
                _wait(lambda: engine.snapshot().extra["recording"]["error"] is not None, 30)
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
                msg = engine.snapshot().extra["recording"]["error"]
                n0 = engine.snapshot().n_frames
                _wait(lambda: engine.snapshot().n_frames > n0 + 40, 30)  # the session goes on
                assert engine.snapshot().error is None
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert "recording stopped" in msg and "File too large" in msg and str(path) in msg
    assert path.stat().st_size == rec.writer.size  # cut back to its last complete chunk
    assert xdf.read_xdf(path).problems == []
    s = _load(path)
    assert all(len(s[n]["time_stamps"]) > 100 for n in s if s[n]["info"]["type"][0] == "ECG")
    assert _analyze(path, tmp_path / "out")["counts"]["rpeaks"] > 20  # about 30 s at 10x


@pytest.mark.slow
@pytest.mark.lsl
def test_killed_demo_leaves_a_loadable_recording(tmp_path):
    """``kill -9`` of ``wot demo --record``: at most ~1 s lost, and ``wot analyze`` gives the
    live zones back (benchmarks/validate_recording.py runs the 60-s version)."""
    path = tmp_path / "killed.xdf"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wot_biofeedback.cli", "demo", "--headless", "--speed", "1",
         "--calibration", "10", "--record", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        # about 20 s of session (5 kB/s), past the 10-s calibration
        _wait(lambda: path.exists() and path.stat().st_size > 100_000, 90)
        killed_at = pylsl.local_clock()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    s = _load(path)
    raw = [st for st in s.values() if st["info"]["type"][0] in ("ECG", "EDA", "RESP")]
    assert len(raw) == 3 and "wot-state" in s
    for st in raw:
        assert killed_at - st["time_stamps"][-1] <= 1.0, st["info"]["name"]
    summary = _analyze(path, tmp_path / "out")
    assert "no end record" in " ".join(summary["input"]["notes"])
    origin, streams, _ = _live(path)
    feats = streams["wot-features"]
    live = [ZONE_OF_CODE[int(c)] for c in feats.time_series[:, OUTLET_CHANNELS.index("zone_code")]]
    rows = _csv(tmp_path / "out" / "states.csv")
    off = {round(float(r["time_s"]), 2): r["state"] for r in rows}
    t_live = np.round(feats.time_stamps - origin, 2)
    same = [off.get(float(t)) == z for t, z in zip(t_live, live, strict=True) if float(t) in off]
    assert len(same) >= 0.95 * len(live) and np.mean(same) >= 0.99
    assert "within" in live


def test_demo_refuses_to_overwrite_a_recording(tmp_path, capsys):
    path = tmp_path / "keep.xdf"
    path.write_bytes(b"XDF:")
    code = cli.main(["demo", "--headless", "--duration", "1", "--record", str(path)])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == b"XDF:"


@pytest.mark.parametrize("command", ["demo", "run"])
def test_a_bad_record_path_or_duration_is_said_before_any_stream_opens(tmp_path, capsys, command):
    """Not marked lsl: conftest fails the test if the command opened or looked for a stream
    before refusing."""
    path = tmp_path / "keep.xdf"
    path.write_bytes(b"XDF:")
    assert cli.main([command, "--headless", "--record", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main([command, "--headless", "--record", str(tmp_path / "x.csv")]) == 2
    assert "must end in .xdf" in capsys.readouterr().err
    assert path.read_bytes() == b"XDF:"
    for bad in ("nan", "0", "-5", "inf"):
        assert cli.main([command, "--headless", "--duration", bad]) == 2
        assert f"--duration {float(bad)!r} must be a positive number" in capsys.readouterr().err


@pytest.mark.lsl
def test_demo_records_by_default_into_the_session_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WOT_RECORD_DIR", str(tmp_path / "sessions"))
    assert cli.main(["demo", "--headless", "--duration", "30", "--speed", "10"]) == 0
    files = list((tmp_path / "sessions").glob("demo-*.xdf"))
    assert len(files) == 1
    # it says so as it starts, and how not to
    out = capsys.readouterr().out
    assert f"recording to {files[0]} (turn off with --no-record)" in out.splitlines()[:3], out
    s = _load(files[0])
    assert any(st["info"]["type"][0] == "ECG" and len(st["time_stamps"]) for st in s.values())
    # and its report, analysed from the file, beside it
    page = files[0].with_name(files[0].stem + "-report") / "report.html"
    assert page.exists()
    assert '<section id="timeline">' in page.read_text(encoding="utf-8")
    shutil.rmtree(tmp_path / "sessions")


# placement decisions and channel layouts survive the recording ---------------------------------
def _events_match(path: Path, out: Path) -> None:
    """Live R-peaks, breaths and SCR peaks (wot-events) equal the offline ones (±1 sample)."""
    _origin, _streams, live_ev = _live(path)
    for name, file, col, tol in (
        ("rpeak", "rpeaks.csv", 0, 1 / 250),
        ("breath", "breaths.csv", 0, 1 / 25),
        ("scr_peak", "scr.csv", 1, 1 / 32),
    ):
        lv = live_ev[name]
        if lv.size == 0:  # e.g. no EDA in this session
            assert len(_csv(out / file)) == 0, name
            continue
        off = np.loadtxt(out / file, delimiter=",", skiprows=1, ndmin=2)[:, col]
        assert off.size >= lv.size, name
        assert np.max(np.abs(off[: lv.size] - lv)) <= tol + 1e-6, name


def _zones_match(live: list, out: Path) -> None:
    rows = _csv(out / "states.csv")
    off = {round(float(r["time_s"]), 3): r["state"] for r in rows}
    same = [off[round(f.time_s, 3)] == f.state.zone for f in live if round(f.time_s, 3) in off]
    assert len(same) >= len(live) - 8
    assert all(same)


def test_gaps_and_drops_are_rebuilt_offline(tmp_path, source_id):
    """ECG pauses for 8 s (the engine fills a gap); RESP's samples come late (a slower device)
    and start 0.7 s before ECG's, which set session time 0: those before it are dropped. The
    analysis of the recording places every sample as live did."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _synth import breathing, ecg_like

    fs = {"ecg": 250.0, "resp": 50.0}
    x = {"ecg": ecg_like(250.0, 100.0, 66.0, seed=9)[0], "resp": breathing(50.0, 100.0, 13.0, 2)}
    outlets = {
        m: pylsl.StreamOutlet(
            pylsl.StreamInfo(f"{source_id}-{m}", m.upper(), 1, fs[m], pylsl.cf_float32,
                             f"{source_id}-{m}")
        )
        for m in fs
    }  # fmt: skip
    sources = {m: LslSource(m, resolve(m.upper(), source_id=f"{source_id}-{m}")) for m in fs}
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    rec = SessionRecorder(tmp_path / "s.xdf", flush_s=0.1)
    engine = Engine(sources, cfg, outlets_source_id=None, period_s=0.01, stall_s=0.5, recorder=rec)
    t0 = pylsl.local_clock()
    pos = dict.fromkeys(fs, 0)

    def push_until(t: float, only: tuple[str, ...] = tuple(fs)) -> None:
        for m in only:
            lead = 0.0 if m == "resp" else 0.7
            stop = min(len(x[m]), int((t - lead) * fs[m])) if t > lead else 0
            if stop <= pos[m]:
                continue
            if m == "ecg" and 40.0 <= t < 48.0:
                pos[m] = stop  # these samples never arrive
                continue
            ts = t0 + lead + np.arange(pos[m], stop) / fs[m]
            outlets[m].push_chunk(
                x[m][pos[m] : stop].astype(np.float32).reshape(-1, 1), ts.tolist()
            )
            pos[m] = stop

    # only ECG has arrived when the engine starts, so its first sample is session time 0; the
    # RESP samples from before it come later and are dropped
    push_until(1.0, ("ecg",))
    with engine:
        _wait(lambda: math.isfinite(engine.origin), 10)
        t = 1.0
        while t < 100.0:
            t += 0.25
            push_until(t)
            time.sleep(0.025)
        _wait(lambda: engine.snapshot().session_s > 95.0, 20)
    assert engine.gaps_filled.get("ecg", 0) > 7.0
    recs = _session_records(tmp_path / "s.xdf")
    assert any(r["event"] == "gap" and r["modality"] == "ecg" for r in recs)
    assert any(r["event"] == "stream_start" and r["drop"] > 0 for r in recs)
    summary = _analyze(tmp_path / "s.xdf", tmp_path / "out")
    assert any("gap(s) the live engine filled" in n for n in summary["input"]["notes"])
    _events_match(tmp_path / "s.xdf", tmp_path / "out")
    _zones_match(engine.drain_frames(), tmp_path / "out")


def test_acc_breathing_eda_scale_and_calibrate_now_are_rebuilt_offline(tmp_path, source_id):
    """A chest accelerometer (three channels) instead of a belt, EDA with ``--eda-unit
    raw:0.7``, and "calibrate now" before the first frame and again later."""
    sess = simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=5), 200.0)
    cfg = EngineConfig()
    cfg.calibration.duration_s = 40.0
    with SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, speed=20.0,
        streams=("ecg", "acc", "eda"), wait_for_consumers=10.0,
    ):  # fmt: skip
        sources = {
            "ecg": LslSource("ecg", resolve("ECG", source_id=f"{source_id}-ecg")),
            "acc": LslSource("acc", resolve("ACC", source_id=f"{source_id}-acc")),
            "eda": LslSource(
                "eda", resolve("EDA", source_id=f"{source_id}-eda"), eda_unit="raw:0.7"
            ),
        }
        rec = SessionRecorder(tmp_path / "s.xdf", flush_s=0.1)
        engine = Engine(sources, cfg, outlets_source_id=None, period_s=0.01, recorder=rec)
        engine.calibrate_now(30.0)  # before the first frame: frame 0 is in it
        with engine:
            _wait(lambda: engine.snapshot().session_s >= 120.0, 40)
            engine.calibrate_now(20.0)
            _wait(lambda: engine.snapshot().session_s >= 190.0, 40)
    summary = _analyze(tmp_path / "s.xdf", tmp_path / "out")
    assert summary["input"]["signals"]["acc"]["n_samples"] > 5000
    recs = _session_records(tmp_path / "s.xdf")
    cal = [r for r in recs if r["event"] == "calibrate"]
    assert cal[0]["start_s"] == 0.0 and 120.0 <= cal[1]["start_s"] <= 130.0
    assert summary["baseline"]["start_s"] == cal[1]["start_s"]
    _events_match(tmp_path / "s.xdf", tmp_path / "out")
    live = engine.drain_frames()
    _zones_match(live, tmp_path / "out")
    feats = {round(float(r["time_s"]), 3): r for r in _csv(tmp_path / "out" / "features.csv")}
    scl = [(f.features["scl_us"], float(feats[round(f.time_s, 3)]["scl_us"] or "nan"))
           for f in live if round(f.time_s, 3) in feats]  # fmt: skip
    a, b = np.array(scl).T
    assert np.nanmax(np.abs(a - b)) < 1e-3 and np.nanmedian(a) < 0.8 * np.nanmedian(sess.eda)
