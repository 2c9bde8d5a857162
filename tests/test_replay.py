"""``wot replay``: a recording published as real LSL streams on loopback, with its own timing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
from wot_simulators import ReplayPublisher, load_replay, load_scenario, simulate_to_csv

from _synth import write_xdf
from wot_biofeedback import cli
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.errors import InputError
from wot_biofeedback.offline import run_recording
from wot_biofeedback.sources.files import read_recording
from wot_biofeedback.sources.lsl import open_sources


def _xdf_file(wot_data: Path, name: str) -> Path:
    path = wot_data / "xdf" / name
    if not path.exists():
        pytest.skip(f"XDF example file {name} not found in {wot_data / 'xdf'}")
    return path


def _inlet(source_id: str) -> pylsl.StreamInlet:
    """A connected inlet on the stream with this source id; timestamps as pushed (no clock
    correction, so they can be compared exactly)."""
    found = pylsl.resolve_bypred(f"source_id='{source_id}'", 1, 10.0)
    assert found, f"no LSL stream with source_id {source_id!r}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=360)
    inlet.open_stream(timeout=5.0)
    return inlet


def _collect(
    inlets: dict[str, pylsl.StreamInlet], want: dict[str, int], timeout: float
) -> dict[str, tuple[list, np.ndarray]]:
    """Pull until each inlet has ``want`` samples (or the deadline); samples and timestamps."""
    data: dict[str, list] = {k: [] for k in inlets}
    stamps: dict[str, list[float]] = {k: [] for k in inlets}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(len(stamps[k]) < want[k] for k in inlets):
        for k, inlet in inlets.items():
            x, t = inlet.pull_chunk(timeout=0.01)
            data[k].extend(x)
            stamps[k].extend(t)
    return {k: (data[k], np.asarray(stamps[k])) for k in inlets}


# (a) CSV ------------------------------------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(120)
def test_csv_replayed_through_the_cli_gives_the_file_samples_at_the_file_rate(
    tmp_path, source_id, capsys
):
    csv_path = tmp_path / "calm.csv"
    fs, dur = 250.0, 30.0
    simulate_to_csv(load_scenario("calm"), 3, csv_path, fs=fs, duration_s=dur)
    cols = np.genfromtxt(csv_path, delimiter=",", names=True, dtype=None, encoding=None)
    n = int(fs * dur)
    assert cols.size == n
    codes: list[int] = []
    argv = ["replay", str(csv_path), "--source-id", source_id, "--speed", "30", "--wait", "20"]
    runner = threading.Thread(target=lambda: codes.append(cli.main(argv)), daemon=True)
    runner.start()
    inlets = {m: _inlet(f"{source_id}-{m}") for m in ("ecg", "eda", "resp")}
    info = inlets["ecg"].info(timeout=5.0)
    # the rate comes from the file's time_s column (printed with finite precision)
    assert (info.type(), info.channel_count()) == ("ECG", 1)
    assert info.nominal_srate() == pytest.approx(fs, rel=1e-9)
    assert info.channel_format() == pylsl.cf_float32
    assert info.name() == "calm-ECG"
    assert info.desc().child("replay").child_value("file") == str(csv_path)
    assert inlets["eda"].info(timeout=5.0).desc().child("channels").child("channel").child_value(
        "unit"
    ) == "uS"  # fmt: skip
    got = _collect(inlets, dict.fromkeys(inlets, n), timeout=60.0)
    runner.join(30.0)
    assert codes == [0]
    out = capsys.readouterr().out
    assert f"calm-ECG  type=ECG  250 Hz  source_id={source_id}-ecg  {n} samples" in out
    first = []
    for m, (x, ts) in got.items():
        assert len(ts) == n, (m, len(ts))
        # every sample of the file, in order (float32 on the wire)
        assert np.array_equal(np.asarray(x)[:, 0], cols[m].astype(np.float32)), m
        # timestamps on the data clock: exactly 1/fs apart
        np.testing.assert_allclose(np.diff(ts), 1.0 / fs, rtol=0, atol=1e-7)
        first.append(ts[0])
    assert np.ptp(first) < 1e-9  # the streams start together, as in the file


# (b) XDF ------------------------------------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_minimal_xdf_replays_every_stream_with_markers_on_their_recorded_times(wot_data, source_id):
    path = _xdf_file(wot_data, "minimal.xdf")
    streams, notes = load_replay(path, source_id=source_id)
    assert [(s.name, s.type, s.channel_count) for s in streams] == [
        ("SendDataC", "EEG", 3),
        ("SendDataString", "StringMarker", 1),
    ]
    assert any("Segments and clock-segments differ" in n for n in notes)  # pyxdf, as a note
    # after clock synchronisation (offset -0.1 s) the numeric stream runs 5.0-5.8 s and the
    # markers 5.1-5.9 s: markers are 0.1 s after each data sample
    numeric, markers = streams
    with ReplayPublisher(streams, speed=2.0, wait_for_consumers=10.0) as pub:
        inlets = {s.name: _inlet(s.source_id) for s in streams}
        for s in streams:
            info = inlets[s.name].info(timeout=5.0)
            assert (info.name(), info.type(), info.channel_count()) == (
                s.name,
                s.type,
                s.channel_count,
            )
            assert info.nominal_srate() == 10.0
        assert inlets["SendDataString"].info().channel_format() == pylsl.cf_string
        assert inlets["SendDataC"].info().channel_format() == pylsl.cf_float32  # int16 exact
        got = _collect(inlets, {"SendDataC": 9, "SendDataString": 9}, timeout=20.0)
        assert pub.wait_finished(10.0)
        t0 = pub.t0_lsl
    x, ts = got["SendDataC"]
    assert np.array_equal(np.asarray(x), numeric.data)
    text, tm = got["SendDataString"]
    assert [v[0] for v in text] == markers.data
    assert text[1:5] == [["Hello"], ["World"], ["from"], ["LSL"]]
    # relative timing as recorded (at speed 2 the wall clock runs at half the data clock, but
    # the timestamps keep the recording's 0.1-s spacing and offsets)
    np.testing.assert_allclose(tm - t0, markers.timestamps - numeric.timestamps[0], atol=1e-9)
    np.testing.assert_allclose(ts - t0, numeric.timestamps - numeric.timestamps[0], atol=1e-9)
    np.testing.assert_allclose(np.diff(tm), 0.1, atol=1e-9)


@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_xdf_modality_streams_get_the_ids_wot_run_looks_for_and_gaps_stay_gaps(tmp_path, source_id):
    t = 1000.0
    ecg_t = t + np.arange(300) / 100.0  # 3 s at 100 Hz
    # the belt pauses for 2 s after 1 s (a gap in the recording), then resumes
    belt_t = t + 0.5 + np.concatenate((np.arange(25), 75 + np.arange(25))) / 25.0
    rng = np.random.default_rng(7)
    ecg = rng.normal(size=(300, 2)).astype(np.float32)
    belt = rng.normal(size=(50, 1)).astype(np.float32)
    path = tmp_path / "session.xdf"
    write_xdf(
        path,
        [
            dict(name="chest", type="ECG", fs=100, fmt="float32", labels=["ECG1", "ECG2"],
                 units=["mV", "mV"], timestamps=ecg_t, rows=ecg.tolist()),
            dict(name="lost", type="EDA", fs=32, fmt="float32", labels=["GSR"], units=["uS"],
                 timestamps=[], rows=[]),
            dict(name="belt", type="Resp", fs=25, fmt="float32", labels=["RESP"], units=[""],
                 timestamps=belt_t, rows=belt.tolist()),
            dict(name="chest2", type="ecg", fs=100, fmt="float32", labels=["x"], units=["mV"],
                 timestamps=ecg_t[:10], rows=ecg[:10, :1].tolist()),
            dict(name="events", type="Markers", fs=0, fmt="string", labels=["ev"], units=[""],
                 timestamps=[t + 0.25, t + 2.75], rows=[["start"], ["stop"]]),
        ],
    )  # fmt: skip
    streams, notes = load_replay(path, source_id=source_id, name_prefix="rp")
    ids = {s.name: s.source_id for s in streams}
    assert ids == {
        "rp-chest": f"{source_id}-ecg",
        "rp-belt": f"{source_id}-resp",  # type matched case-insensitively
        "rp-chest2": f"{source_id}-3",  # a second ECG keeps its index
        "rp-events": f"{source_id}-4",
    }
    assert any("'lost'" in n and "no samples" in n for n in notes)
    chest = streams[0]
    assert (chest.labels, chest.units) == (["ECG1", "ECG2"], ["mV", "mV"])
    assert np.array_equal(chest.data, ecg)
    with ReplayPublisher(streams, speed=4.0, wait_for_consumers=10.0) as pub:
        inlets = {s.name: _inlet(s.source_id) for s in streams}
        chans = inlets["rp-chest"].info(timeout=5.0).desc().child("channels").child("channel")
        assert (chans.child_value("label"), chans.child_value("unit")) == ("ECG1", "mV")
        assert chans.next_sibling().child_value("label") == "ECG2"
        want = {s.name: s.n_samples for s in streams}
        got = _collect(inlets, want, timeout=20.0)
        assert pub.wait_finished(10.0)
        t0 = pub.t0_lsl
    for s in streams:
        _, ts = got[s.name]
        assert len(ts) == s.n_samples, s.name
        # every stream keeps its place on the recording's clock (the ECG starts first)
        np.testing.assert_allclose(ts - t0, s.timestamps - ecg_t[0], atol=1e-6)
    gap = np.diff(got["rp-belt"][1])
    assert gap.max() == pytest.approx(51 / 25.0, abs=1e-6)  # 2 s missing + one period
    assert [v[0] for v in got["rp-events"][0]] == ["start", "stop"]


def test_xdf_files_with_empty_and_reset_streams_load_with_notes(wot_data):
    streams, notes = load_replay(_xdf_file(wot_data, "empty_streams.xdf"), source_id="x")
    assert sorted(s.name for s in streams) == ["Data stream: test stream 0 counter", "ctrl"]
    assert sum("holds no samples" in n for n in notes) == 2
    data = next(s for s in streams if s.name.startswith("Data"))
    assert data.channel_format == "double64"  # int32 kept exact
    assert np.array_equal(data.data[:, 0], np.arange(10))
    streams, _ = load_replay(_xdf_file(wot_data, "clock_resets.xdf"), source_id="x")
    assert {s.name: s.n_samples for s in streams} == {"MyMarkerStream": 175, "BioSemi": 27815}
    assert all(np.all(np.diff(s.timestamps) >= 0) for s in streams)


# (c) start and loop ---------------------------------------------------------------------------
@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_start_offset_and_loop_continue_the_timestamps(tmp_path, source_id):
    csv_path = tmp_path / "short.csv"
    fs = 100.0
    simulate_to_csv(load_scenario("calm"), 4, csv_path, fs=fs, duration_s=20.0)
    ecg = np.genfromtxt(csv_path, delimiter=",", names=True)["ecg"].astype(np.float32)
    streams, _ = load_replay(csv_path, source_id=source_id)
    streams = [s for s in streams if s.type == "ECG"]
    start_s, per_pass = 5.0, 1500  # 15 s a pass
    pub = ReplayPublisher(streams, speed=30.0, loop=True, start_s=start_s, wait_for_consumers=10)
    assert pub.span_s == pytest.approx(15.0) and pub.samples_per_pass == [per_pass]
    with pub:
        inlet = _inlet(f"{source_id}-ecg")
        want = int(2.5 * per_pass)
        x, ts = _collect({"ecg": inlet}, {"ecg": want}, timeout=30.0)["ecg"]
        assert not pub.finished  # a loop never finishes by itself
        t0 = pub.t0_lsl
    assert len(ts) >= want
    x = np.asarray(x)[:, 0]
    # the pass starts at sample 500 and comes back to it after the end of the file
    loops = np.tile(ecg[int(start_s * fs) :], 3)[: x.size]
    assert np.array_equal(x, loops)
    assert ts[0] == pytest.approx(t0, abs=1e-9)
    np.testing.assert_allclose(np.diff(ts), 1.0 / fs, rtol=0, atol=1e-7)  # across the seams


@pytest.mark.lsl
@pytest.mark.timeout(60)
def test_duration_plays_only_that_stretch_then_finishes(tmp_path, source_id):
    csv_path = tmp_path / "short.csv"
    simulate_to_csv(load_scenario("calm"), 4, csv_path, fs=100.0, duration_s=20.0)
    resp = np.genfromtxt(csv_path, delimiter=",", names=True)["resp"].astype(np.float32)
    streams, _ = load_replay(csv_path, source_id=source_id)
    with ReplayPublisher(
        streams, speed=20.0, start_s=12.0, duration_s=3.0, wait_for_consumers=10
    ) as pub:
        inlets = {m: _inlet(f"{source_id}-{m}") for m in ("ecg", "eda", "resp")}
        assert pub.wait_finished(10.0)
        got = _collect(inlets, dict.fromkeys(inlets, 300), timeout=5.0)
        time.sleep(0.2)  # nothing more may come after the end: give it a chance to
        extra = sum(len(inlets[m].pull_chunk(timeout=0.0)[1]) for m in inlets)
    assert extra == 0
    assert all(len(ts) == 300 for _, ts in got.values())
    assert np.array_equal(np.asarray(got["resp"][0])[:, 0], resp[1200:1500])


# (d) bad input ----------------------------------------------------------------------------
def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wot: error: "), err
    return err[0]


@pytest.mark.parametrize("name", ["missing.csv", "missing.xdf", "missing"])
def test_missing_file_is_a_clear_error(tmp_path, capsys, name):
    assert cli.main(["replay", str(tmp_path / name)]) == 2
    assert f"file not found: {tmp_path / name}" in _error_line(capsys)


def test_unreadable_xdf_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(b"XDF:" + bytes(range(256)) * 4)
    assert cli.main(["replay", str(bad)]) == 2
    assert "bad.xdf" in _error_line(capsys)


def test_start_beyond_the_end_and_speed_zero_are_clear_errors(tmp_path, capsys):
    csv_path = tmp_path / "short.csv"
    simulate_to_csv(load_scenario("calm"), 4, csv_path, fs=50.0, duration_s=30.0)
    assert cli.main(["replay", str(csv_path), "--start", "45"]) == 2
    line = _error_line(capsys)
    assert "start 45 s" in line and "30.0 s long" in line
    assert cli.main(["replay", str(csv_path), "--speed", "0"]) == 2
    assert "--speed 0.0 must be > 0" in _error_line(capsys)
    assert cli.main(["replay", str(csv_path), "--duration", "-1"]) == 2
    assert "--duration" in _error_line(capsys)
    streams, _ = load_replay(csv_path)
    with pytest.raises(ValueError, match="speed 0 must be > 0"):
        ReplayPublisher(streams, speed=0)
    with pytest.raises(InputError, match=r"start -1 s is outside the recording, which is 30\.0"):
        ReplayPublisher(streams, start_s=-1.0)


# (e) acceptance: a real recording replayed into the live engine ------------------------------
DRIVE_S = 1200.0  # the first 20 min: Rest1, then City1 from 941 s
DRIVE_SPEED = 40.0
MIN_SAME_ZONE = 0.98


@pytest.mark.slow
@pytest.mark.lsl
@pytest.mark.realdata
@pytest.mark.timeout(300)
def test_drive05_replayed_drives_the_live_engine_to_the_offline_zones(wot_data, source_id):
    """PhysioNet drivedb drive05 (Healey & Picard 2005) published by ``ReplayPublisher`` at
    40x: the live engine, fed over LSL exactly as ``wot run --source-id`` is, gives the zones
    that the offline analysis of the same record gives, second by second after calibration."""
    base = wot_data / "drivedb" / "drive05"
    if not base.with_suffix(".hea").exists():
        pytest.skip(
            f"drivedb/drive05 not found under {wot_data} (see docs/development.md: fetch with wfdb)"
        )
    rec = read_recording(base)
    # what `wot analyze drive05` picks, and so what is replayed
    assert {m: s.name for m, s in rec.signals.items()} == {
        "ecg": "ECG",
        "eda": "foot GSR",
        "resp": "RESP",
    }
    cfg = EngineConfig()
    offline, _ = run_recording(rec, cfg)
    streams, _ = load_replay(base, source_id=source_id)
    assert {s.type for s in streams} == {"ECG", "EDA", "RESP"}
    wall = time.monotonic()
    pub = ReplayPublisher(streams, speed=DRIVE_SPEED, duration_s=DRIVE_S, wait_for_consumers=30)
    with pub:
        # as wot run: streams found by type and source id
        sources = open_sources({"ecg": "ECG", "eda": "EDA", "resp": "RESP"}, source_id, 10.0)
        with Engine(sources, cfg, outlets_source_id=None) as engine:
            assert pub.wait_finished(DRIVE_S / DRIVE_SPEED + 60), "replay did not finish"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and engine.snapshot().session_s < DRIVE_S - 1.5:
                time.sleep(0.05)
            snap = engine.snapshot()
            assert snap.error is None, snap.error
        live = engine.drain_frames()
    wall = time.monotonic() - wall
    rate = cfg.frame_rate_hz
    off = {round(f.time_s * rate): f.state.zone for f in offline.frames}
    liv = {round(f.time_s * rate): f.state.zone for f in live}
    calib = cfg.calibration.duration_s
    keys = [k for k in off if calib * rate <= k < (DRIVE_S - 2.0) * rate]
    assert len(keys) > 0.95 * (DRIVE_S - calib - 2.0) * rate
    missing = [k for k in keys if k not in liv]
    same = np.mean([liv.get(k) == off[k] for k in keys])
    shares = {z: float(np.mean([liv.get(k) == z for k in keys])) for z in set(off.values())}
    print(
        f"drive05 first {DRIVE_S:g} s at {DRIVE_SPEED:g}x: {len(keys) / rate:.0f} s compared, "
        f"same zone {same:.2%}, {len(missing)} frames missing live, live shares {shares}, "
        f"overruns {snap.overruns}, gaps filled {engine.gaps_filled}, wall {wall:.1f} s"
    )
    assert not engine.gaps_filled  # the replay timing left no holes
    assert len(missing) <= 0.005 * len(keys)
    assert same >= MIN_SAME_ZONE
    # not a trivial agreement: Rest1 gives within, City1 (from 941 s) hyper
    assert shares.get("within", 0) > 0.3 and shares.get("hyper", 0) > 0.05, shares


@pytest.mark.lsl
@pytest.mark.timeout(120)
def test_a_wot_recording_replays_as_the_engine_saw_it(tmp_path, source_id):
    """A wot session file: its EDA (recorded in nS, scale 0.001 to µS) replays in µS; the
    recorded engine outputs come out renamed (``replay-wot-features``), never as a second
    ``wot-features``; ``--wait`` waits for the signal streams only, not the outputs nobody
    reads."""
    from xml.etree import ElementTree

    from wot_biofeedback.recorder import SessionRecorder, stream_header

    path = tmp_path / "session.xdf"
    rec = SessionRecorder(path)
    hdr = ElementTree.fromstring(
        stream_header("band-EDA", "EDA", 1, 32.0, "float32", "band", [("EDA", "nS")])
    )
    wot = ElementTree.SubElement(hdr.find("desc"), "wot")
    for k, v in (("modality", "eda"), ("channel", "0"), ("scale", "0.001")):
        ElementTree.SubElement(wot, k).text = v
    rec.add_stream("eda", ElementTree.tostring(hdr, encoding="unicode"))
    rec.add_stream("wot-features", stream_header("wot-features", "Features", 1, 4.0,
                                                 "float32", "f"))  # fmt: skip
    t = 100.0 + np.arange(320) / 32.0
    ns = 4000.0 + 10 * np.sin(np.arange(320) / 10.0)
    rec.samples("eda", t, ns.astype(np.float32))
    rec.samples("wot-features", 100.0 + np.arange(40) / 4.0, np.zeros(40, np.float32))
    rec.stop()
    streams, notes = load_replay(path, source_id=source_id)
    names = {s.name: s for s in streams}
    assert "wot-features" not in names and "replay-wot-features" in names
    assert "replay-wot-session" in names
    eda = names["band-EDA"]
    assert eda.units == ["uS"] and eda.source_id == f"{source_id}-eda"
    np.testing.assert_allclose(eda.data[:, 0], ns.astype(np.float32) * 0.001, rtol=1e-6)
    assert any("scaled by 0.001" in n for n in notes)
    pub = ReplayPublisher(streams, speed=4.0, wait_for_consumers=30.0)
    t_start = time.monotonic()
    with pub:
        inlet = _inlet(f"{source_id}-eda")  # the only consumer: the outputs have none
        # had it waited for every outlet, nothing would come for 30 s
        got = _collect({"eda": inlet}, {"eda": 320}, 20.0)
    assert time.monotonic() - t_start < 15.0
    assert len(got["eda"][0]) == 320
    np.testing.assert_allclose(np.ravel(got["eda"][0]), ns * 0.001, rtol=1e-6)
