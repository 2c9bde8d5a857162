"""The live engine over real LSL on loopback."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pylsl
import pytest

from _kernels import COUNT_COMPILED
from _synth import breathing, ecg_like, scr_like
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.errors import InputError, StreamNotFoundError
from wot_biofeedback.offline import run_recording
from wot_biofeedback.sources.files import Recording, Signal, parse_eda_unit
from wot_biofeedback.sources.lsl import LslSource, channel_units, open_sources, resolve

pytestmark = [pytest.mark.lsl, pytest.mark.timeout(120)]

RATES = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}
TYPES = {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}
UNITS = {"ecg": "mV", "eda": "uS", "resp": "a.u."}


def _signals(duration: float) -> dict[str, np.ndarray]:
    ecg, _ = ecg_like(RATES["ecg"], duration, 72.0, seed=2)
    onsets = np.arange(8.0, duration, 23.0)
    return {
        "ecg": ecg,
        "eda": scr_like(RATES["eda"], duration, onsets, 0.25),
        "resp": breathing(RATES["resp"], duration, 13.0, seed=2),
    }


def _outlet(m: str, sid: str) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(f"{sid}-{m}", TYPES[m], 1, RATES[m], pylsl.cf_float32, f"{sid}-{m}")
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", m.upper())
    ch.append_child_value("unit", UNITS[m])
    return pylsl.StreamOutlet(info)


def _push_all(outlets, sigs, speed: float, stop: threading.Event) -> None:
    t0 = pylsl.local_clock()
    start = time.monotonic()
    pos = dict.fromkeys(sigs, 0)
    dur = min(s.size / RATES[m] for m, s in sigs.items())
    while not stop.is_set():
        t_data = min(dur, (time.monotonic() - start) * speed)
        for m, x in sigs.items():
            stop_i = min(x.size, int(t_data * RATES[m]))
            if stop_i > pos[m]:
                chunk = x[pos[m] : stop_i].astype(np.float32).reshape(-1, 1)
                outlets[m].push_chunk(chunk, t0 + (stop_i - 1) / RATES[m])
                pos[m] = stop_i
        if t_data >= dur:
            return
        time.sleep(0.01)


def test_live_engine_frames_equal_offline_pipeline(source_id):
    duration = 150.0
    sigs = _signals(duration)
    outlets = {m: _outlet(m, source_id) for m in sigs}
    sources = {
        m: LslSource(m, resolve(TYPES[m], source_id=f"{source_id}-{m}", timeout=5.0)) for m in sigs
    }
    assert {m: s.unit for m, s in sources.items()} == UNITS
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    engine = Engine(sources, cfg, outlets_source_id=f"{source_id}-engine", period_s=0.01)
    # the live engine holds the slow signals until they complete a frame (Pipeline.hold): the
    # frames below are compared with the offline pipeline's, which holds nothing
    assert all(s.pipeline.hold for s in engine.session.subjects.values())
    stop = threading.Event()
    engine.start()
    try:
        _push_all(outlets, sigs, speed=15.0, stop=stop)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and engine.snapshot().session_s < duration - 2.0:
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.error is None
        assert snap.session_s >= duration - 2.0
        assert all(s.state in ("ok", "lagging") for s in snap.streams.values())
    finally:
        stop.set()
        engine.stop()
    live = engine.drain_frames()
    rec = Recording("mem", {m: Signal(x, RATES[m], m) for m, x in sigs.items()})
    offline, _ = run_recording(rec, cfg)
    n = min(len(live), len(offline.frames)) - 8  # the tail may still be in flight
    assert n > 500
    for a, b in zip(live[:n], offline.frames[:n], strict=True):
        assert a.index == b.index
        assert a.state.zone == b.state.zone
        for k, v in b.features.items():
            assert a.features[k] == pytest.approx(v, nan_ok=True, abs=1e-5), (a.time_s, k)
    # the engine's outlets are real LSL streams carrying units
    info = resolve("Features", source_id=f"{source_id}-engine-features", timeout=5.0)
    full = pylsl.StreamInlet(info).info(
        timeout=5.0
    )  # resolve gives the header; desc needs an inlet
    assert full.desc().child("channels").child("channel").child_value("label") == "hr_bpm"
    assert channel_units(full)[:2] == ["bpm", "ms"]


def test_sources_know_their_clock_offset_when_opened(source_id):
    """``open_sources`` connects every stream (side by side) and learns its clock offset before
    returning: liblsl would otherwise measure it in the first pull that brings data, stalling
    the engine's read loop for a moment per stream at the start of every session."""
    outlets = {m: _outlet(m, source_id) for m in ("ecg", "eda")}
    sources = open_sources(
        {"ecg": "ECG", "eda": "EDA"}, source_id=source_id, timeout=5.0, settle=0.0
    )
    try:
        assert set(sources) == {"ecg", "eda"}
        for src in sources.values():
            # answered from what is known: a source never asked raises a timeout here
            assert math.isfinite(src.inlet.time_correction(timeout=0.0))
    finally:
        for src in sources.values():
            src.close()
    del outlets


def test_resolve_names_what_is_missing(source_id):
    with pytest.raises(StreamNotFoundError, match=f"source_id '{source_id}-ecg'"):
        resolve("ECG", source_id=f"{source_id}-ecg", timeout=0.5)


def _engine_on(source_id: str, sigs: dict[str, np.ndarray]):
    """Outlets of ``sigs``'s modalities and an engine on them (calibration 20 s, stall 0.5 s),
    started."""
    outlets = {m: _outlet(m, source_id) for m in sigs}
    sources = {
        m: LslSource(m, resolve(TYPES[m], source_id=f"{source_id}-{m}", timeout=5.0)) for m in sigs
    }
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine(sources, cfg, outlets_source_id=None, period_s=0.01, stall_s=0.5)
    engine.start()
    return outlets, engine


def _push_seconds(outlets, sigs, first_s: int, seconds: int, pause_s: float) -> None:
    """Seconds ``first_s ..`` of ``sigs`` pushed one second at a time, ``pause_s`` apart."""
    t_lsl = pylsl.local_clock()
    for k in range(seconds):
        for m, x in sigs.items():
            fs = RATES[m]
            a, b = int((first_s + k) * fs), int((first_s + k + 1) * fs)
            outlets[m].push_chunk(x[a:b].astype(np.float32).reshape(-1, 1), t_lsl + (b - 1) / fs)
        time.sleep(pause_s)


def test_engine_marks_a_vanished_stream_lost_and_keeps_running(source_id):
    sigs = _signals(60.0)
    outlets, engine = _engine_on(source_id, sigs)
    stop = threading.Event()
    try:
        _push_all(outlets, sigs, speed=20.0, stop=stop)
        # now only ECG and RESP continue (EDA vanished): 20 s more of data
        more = _signals(80.0)
        _push_seconds(outlets, {m: more[m] for m in ("ecg", "resp")}, 60, 20, 0.05)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().streams["eda"].state != "lost":
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.streams["eda"].state == "lost"
        assert snap.streams["ecg"].state in ("ok", "lagging")
        # frames keep coming past the point where EDA stopped, with EDA quality 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().session_s < 70.0:
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.session_s >= 70.0
        assert snap.features["quality_eda"] == 0.0
        assert snap.error is None
        # now everything stops: the snapshot must not keep showing the last zone
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().zone != "unknown":
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.zone == "unknown" and "all signals lost" in snap.explanation
        assert snap.confidence == 0.0
    finally:
        stop.set()
        engine.stop()


def test_a_stream_is_marked_lost_exactly_where_the_session_gave_it_up(source_id):
    """The session gives a silent stream up where the step's read judges it lost; the markers
    ("signal lost", "signal back") judged it again after the step, on a newer reading of the
    clock. A silence that crossed the limit in between (a slow step) was lost on the markers,
    in the recording and the report's timeline, and "back after 1.5 s" at its next chunk,
    while the session never gave it up. The engine's loop is run here by hand, an iteration
    as ``run`` runs it, one of them with a slow step."""
    sigs = _signals(20.0)
    outlets = {m: _outlet(m, source_id) for m in sigs}
    sources = {
        m: LslSource(m, resolve(TYPES[m], source_id=f"{source_id}-{m}", timeout=5.0)) for m in sigs
    }
    stall = 0.5  # lost after 3 x 0.5 s of silence
    engine = Engine(sources, EngineConfig(), outlets_source_id=None, stall_s=stall)
    pipe = engine.session.subject(engine.subject_ids[0]).pipeline

    def iteration(slow_s: float = 0.0, meanwhile: Any = None) -> None:
        batch = engine.input.read()
        out = engine.session.step(batch.chunks, batch.lost, batch.ended)
        engine.consume(out, engine.session)
        if meanwhile is not None:
            meanwhile()
        time.sleep(slow_s)
        engine._after_step(out)

    try:
        _push_seconds(outlets, sigs, 0, 2, 0.0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and min(s.n_samples for s in sources.values()) == 0:
            iteration()
            time.sleep(0.02)
        assert min(s.n_samples for s in sources.values()) > 0
        # ECG falls silent; the others go on until its silence is just short of the limit
        k = 2
        while time.monotonic() < sources["ecg"].last_wall + 3 * stall - 0.3:
            _push_seconds(outlets, {m: sigs[m] for m in ("eda", "resp")}, k, 1, 0.0)
            k += 1
            iteration()
            time.sleep(0.1)
        time.sleep(max(0.0, sources["ecg"].last_wall + 3 * stall - 0.25 - time.monotonic()))
        _push_seconds(outlets, {m: sigs[m] for m in ("eda", "resp")}, k, 1, 0.0)
        n_ecg = sources["ecg"].n_samples
        # the read finds ECG lagging; during the step (0.5 s: it ends past the limit) ECG's
        # data comes, in time for the next read: the session never gives it up ...
        iteration(slow_s=0.5, meanwhile=lambda: _push_seconds(outlets, sigs, k + 1, 1, 0.0))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sources["ecg"].n_samples == n_ecg:
            iteration()
            time.sleep(0.02)
        assert sources["ecg"].n_samples > n_ecg and "ecg" not in pipe.ended
        # ... so nothing may say it was lost (the markers said "lost", then "back after 1.5 s")
        assert not [t for _s, t in engine.markers if "ecg signal" in t], engine.markers
    finally:
        engine.stop()


def test_a_stream_that_never_delivers_is_given_up_and_taken_back(source_id):
    """An EDA band whose outlet is there but sends nothing (paired, not streaming): the frames
    must not wait for it for ever. It is lost once the person's other streams have delivered
    for 3 stall periods, like a stream that stopped; the others go on (EDA quality 0), and it
    is taken back when it starts (this test waited in vain on the code before: no frame)."""
    sigs = _signals(40.0)
    outlets, engine = _engine_on(source_id, sigs)
    stop = threading.Event()
    try:
        _push_all(outlets, {m: sigs[m] for m in ("ecg", "resp")}, speed=10.0, stop=stop)
        snap = engine.snapshot()
        assert snap.streams["eda"].state == "lost" and snap.streams["eda"].n_samples == 0
        assert snap.session_s > 30.0  # frames went on without it
        assert snap.features["quality_eda"] == 0.0
        assert math.isfinite(snap.features["hr_bpm"])
        texts = [t for _s, t in engine.markers]
        assert any(t.startswith("[engine] eda signal lost") for t in texts), texts
        # the band starts: it is taken back, and its frames come
        _push_seconds(outlets, _signals(60.0), 40, 12, 0.1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not engine.snapshot().features.get("quality_eda"):
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.streams["eda"].state in ("ok", "lagging") and snap.features["quality_eda"] > 0
        assert snap.error is None
    finally:
        stop.set()
        engine.stop()


def test_live_rr_stream_equals_offline_rr_channel(source_id, tmp_path):
    """An irregular LSL stream of inter-beat intervals (type RR, as from a chest strap) with the
    strap's sensor-contact channel; the intervals sent without skin contact are not trusted
    (lost), live and offline; the session is recorded, and the analysis of its recording gives
    the live frames back."""
    from wot_biofeedback import cli
    from wot_biofeedback.dsp.cardiac import RRChannel
    from wot_biofeedback.recorder import SessionRecorder

    rng = np.random.default_rng(4)
    k = np.arange(260)
    rr = 820 + 40 * np.sin(2 * np.pi * k / 4.2) + rng.normal(0, 8, k.size)
    rr[120] = 480.0  # an ectopic beat, for the corrector
    rr[121] = 1160.0
    contact = np.ones(k.size, dtype=np.float32)
    contact[180:200] = 0.0  # the strap slipped: no skin contact for 20 beats
    info = pylsl.StreamInfo(
        f"{source_id}-rr", "RR", 2, pylsl.IRREGULAR_RATE, pylsl.cf_float32, f"{source_id}-rr"
    )
    chans = info.desc().append_child("channels")
    for label, unit in (("rr", "ms"), ("contact", "")):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    outlet = pylsl.StreamOutlet(info)
    src = LslSource("rr", resolve("RR", source_id=f"{source_id}-rr", timeout=5.0))
    assert src.irregular and src.contact_channel == 1
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    rec = SessionRecorder(tmp_path / "rr.xdf")
    engine = Engine(
        {"rr": src}, cfg, outlets_source_id=f"{source_id}-engine", period_s=0.01, recorder=rec
    )
    engine.start()
    try:
        t_beat = pylsl.local_clock()
        speed = 20.0
        start = time.monotonic()
        for i, v in enumerate(rr.astype(np.float32)):
            t_beat += float(v) / 1000.0
            # each value is stamped with the time of the beat that closes it
            outlet.push_sample([v, contact[i]], t_beat)
            due = start + float(np.sum(rr[: i + 1])) / 1000.0 / speed
            time.sleep(max(0.0, due - time.monotonic()))
        deadline = time.monotonic() + 10
        end_s = float(np.sum(rr[1:])) / 1000.0 - 2.0
        while time.monotonic() < deadline and engine.snapshot().session_s < end_s:
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.error is None, snap.error
    finally:
        engine.stop()
    # the raw trace of the intervals carries each value's own session time (for the views)
    t_raw, x_raw = snap.raw["rr"]
    assert t_raw.size == x_raw.size > 10
    assert np.all(np.diff(t_raw) > 0.3) and abs(t_raw[-1] - snap.session_s) < 5.0
    live = engine.drain_frames()
    # offline: the same values with their closing-beat times on the session clock (the first
    # value's timestamp is the session origin)
    v = rr.astype(np.float32).astype(np.float64)
    stamps = (np.cumsum(v) - v[0]) / 1000.0
    keep = contact != 0  # sent without skin contact: not data
    off = RRChannel().update(v[keep], stamps[keep])
    assert src.contact and "no skin contact" not in src.note  # back in contact at the end
    n = min(len(live), off.n_frames) - 8
    assert n > 600
    for name in ("hr_bpm", "rmssd_ms", "sdnn_ms", "rr_corrected_pct", "quality_ecg"):
        got = np.array([f.features[name] for f in live[:n]])
        np.testing.assert_allclose(got, off.features[name][:n], rtol=1e-6, err_msg=name)
    assert np.nanmax(off.features["rr_corrected_pct"]) > 0  # the ectopic pair was corrected
    # the recording, analysed: the live frames (RR values at their recorded, corrected times)
    assert cli.main(["analyze", str(tmp_path / "rr.xdf"), "--out", str(tmp_path / "out")]) == 0
    rows = np.genfromtxt(tmp_path / "out" / "features.csv", delimiter=",", names=True)
    n = min(len(live), len(rows)) - 8
    assert n > 600
    assert np.array_equal(rows["time_s"][:n], [f.time_s for f in live[:n]])
    for name in ("hr_bpm", "rmssd_ms"):
        got = np.array([f.features[name] for f in live[:n]])
        np.testing.assert_allclose(rows[name][:n], got, rtol=1e-3, err_msg=name)
    states = np.genfromtxt(tmp_path / "out" / "states.csv", delimiter=",", names=True, dtype=None)
    assert [z.decode() if isinstance(z, bytes) else z for z in states["state"][:n]] == [
        f.state.zone for f in live[:n]
    ]


def test_ecg_stream_that_stops_and_resumes(source_id):
    """The ECG stream pauses for 8 s of data time and comes back: the pause is a gap."""
    fs = RATES["ecg"]
    x, truth = ecg_like(fs, 90.0, 66.0, seed=9)
    pause = (40.0, 48.0)  # data seconds that never arrive
    outlet = _outlet("ecg", source_id)
    src = LslSource("ecg", resolve("ECG", source_id=f"{source_id}-ecg", timeout=5.0))
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine({"ecg": src}, cfg, outlets_source_id=None, period_s=0.01, stall_s=0.5)
    engine.start()
    try:
        t_lsl = pylsl.local_clock()
        for a in range(0, x.size, int(fs)):
            b = min(x.size, a + int(fs))
            if pause[0] * fs <= a < pause[1] * fs:
                time.sleep(0.05)  # the sensor is silent
                continue
            outlet.push_chunk(x[a:b].astype(np.float32).reshape(-1, 1), t_lsl + (b - 1) / fs)
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().session_s < 86.0:
            time.sleep(0.05)
        snap = engine.snapshot()
        assert snap.error is None
    finally:
        engine.stop()
    assert engine.gaps_filled["ecg"] == pytest.approx(8.0, abs=0.05)
    frames = engine.drain_frames()
    t = np.array([f.time_s for f in frames])
    q = np.array([f.features["quality_ecg"] for f in frames])
    hr = np.array([f.features["hr_bpm"] for f in frames])
    assert q[(t > 42.0) & (t < 48.0)].max() == 0.0  # quality drops in the pause
    assert q[(t > 62.0) & (t < 85.0)].min() > 0.7  # and recovers
    # beats after the pause are at their true times (the pause was not squeezed out)
    with engine._lock:
        marks = np.array(engine._marks["rpeak"])
    assert not np.any((marks > pause[0] + 0.5) & (marks < pause[1]))
    late = marks[marks > 55.0]
    err = np.min(np.abs(late[:, None] - truth[None, :] / fs), axis=1)
    assert np.all(err < 0.02)
    assert np.nanmedian(hr[(t > 62.0) & (t < 85.0)]) == pytest.approx(66.0, abs=2.0)


def test_events_outlet_sends_each_rpeak_at_its_time(source_id):
    """``wot-events``: every R-peak the engine detects goes out on LSL, labelled ``rpeak`` and
    stamped with its own time, the same beats an offline analysis finds."""
    fs = RATES["ecg"]
    x, truth = ecg_like(fs, 40.0, 70.0, seed=4)
    outlet = _outlet("ecg", source_id)
    src = LslSource("ecg", resolve("ECG", source_id=f"{source_id}-ecg", timeout=5.0))
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine({"ecg": src}, cfg, outlets_source_id=f"{source_id}-engine", period_s=0.01)
    engine.start()
    try:
        info = resolve("Markers", source_id=f"{source_id}-engine-events", timeout=5.0)
        assert info.name() == "wot-events"
        inlet = pylsl.StreamInlet(info)
        inlet.open_stream(timeout=5.0)
        t_lsl = pylsl.local_clock()
        step = int(fs / 10)
        for a in range(0, x.size, step):
            b = min(x.size, a + step)
            outlet.push_chunk(x[a:b].astype(np.float32).reshape(-1, 1), t_lsl + (b - 1) / fs)
            time.sleep(0.005)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().session_s < 39.0:
            time.sleep(0.05)
        got: list[tuple[str, float]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            samples, stamps = inlet.pull_chunk(timeout=0.2)
            got += [(s[0], t) for s, t in zip(samples, stamps, strict=True)]
            if got and not samples:
                break
        origin = engine.origin
    finally:
        engine.stop()
    assert {label for label, _ in got} == {"rpeak"}  # ECG only: beats, nothing else
    beats = np.array([t for _, t in got]) - origin
    offline, _ = run_recording(Recording("mem", {"ecg": Signal(x, fs, "ecg")}), cfg)
    ref = offline.event("ecg", "rpeak_time")
    ref = ref[ref < beats.max() + 1e-9]
    assert beats.size == ref.size > 40
    np.testing.assert_allclose(beats, ref, atol=1e-6)  # the live beats are the offline ones
    err = np.min(np.abs(beats[:, None] - truth[None, :] / fs), axis=1)
    assert np.all(err < 0.02)  # and the true ones


def test_live_breathing_from_acc_without_belt(source_id):
    """Simulator publishing ECG and a chest accelerometer (no belt): the engine breathes on ACC."""
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

    sess = simulate_session(load_scenario("calm"), SimConfig(seed=3), 150.0)
    pub = SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, speed=15.0, streams=("ecg", "acc"),
        wait_for_consumers=10.0,
    )  # fmt: skip
    pub.start()
    try:
        sources = {
            m: LslSource(m, resolve(t, source_id=f"{source_id}-{m}", timeout=5.0))
            for m, t in (("ecg", "ECG"), ("acc", "ACC"))
        }
        assert sources["acc"].width == 3 and sources["acc"].unit == "g"
        # the publisher starts once every outlet has a consumer, the truth markers included
        truth_inlet = pylsl.StreamInlet(resolve("Markers", source_id=f"{source_id}-truth"))
        truth_inlet.open_stream(timeout=5.0)
        with pytest.raises(StreamNotFoundError):
            resolve("RESP", source_id=f"{source_id}-resp", timeout=0.3)
        cfg = EngineConfig()
        cfg.calibration.duration_s = 60.0
        engine = Engine(sources, cfg, outlets_source_id=None, period_s=0.01)
        with engine:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and engine.snapshot().session_s < 145.0:
                time.sleep(0.05)
            snap = engine.snapshot()
            assert snap.error is None, snap.error
            assert snap.session_s >= 145.0
            assert snap.marks["breath"].size >= 4  # breath marks (last 30 s) for the views
            assert np.isfinite(snap.raw["acc"][1]).any()  # the surrogate, for the views
    finally:
        pub.stop()
    frames = engine.drain_frames()
    t = np.array([f.time_s for f in frames])
    rate = np.array([f.features["resp_rate_bpm"] for f in frames])
    q = np.array([f.features["quality_resp"] for f in frames])
    truth = sess.breath_onsets_s
    sel = t >= 60.0
    true_rate = np.array(
        [60.0 / np.mean(np.diff(truth[(truth > ti - 30.0) & (truth <= ti)])) for ti in t[sel]]
    )
    assert sel.sum() > 300
    assert np.isfinite(rate[sel]).mean() > 0.98
    assert np.nanmedian(np.abs(rate[sel] - true_rate)) < 0.5
    assert np.median(q[sel]) > 0.8


def _eda_outlet(source_id: str, unit: str | None) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(
        f"{source_id}-eda", "EDA", 1, RATES["eda"], pylsl.cf_float32, f"{source_id}-eda"
    )
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", "EDA")
    if unit is not None:
        ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def _pull_all(src: LslSource, n: int, timeout: float = 10.0) -> np.ndarray:
    got = []
    deadline = time.monotonic() + timeout
    while sum(x.size for x in got) < n and time.monotonic() < deadline:
        got.append(src.pull().data)
        time.sleep(0.01)
    return np.concatenate(got)


def test_eda_unit_from_lsl_metadata_in_nanosiemens(source_id):
    """An EDA stream whose channel metadata says nS reaches the engine in µS."""
    us = scr_like(RATES["eda"], 80.0, np.arange(8.0, 80.0, 20.0), 0.25)  # ~µS level
    outlet = _eda_outlet(source_id, "nS")
    src = LslSource("eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=5.0))
    assert src.scale == pytest.approx(1e-3) and src.unit == "uS"
    cfg = EngineConfig()
    cfg.calibration.duration_s = 30.0
    engine = Engine({"eda": src}, cfg, outlets_source_id=None, period_s=0.01)
    stop = threading.Event()
    with engine:
        _push_all({"eda": outlet}, {"eda": us * 1000.0}, speed=20.0, stop=stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().session_s < 75.0:
            time.sleep(0.05)
        snap = engine.snapshot()
    assert snap.error is None
    assert snap.features["scl_us"] == pytest.approx(float(np.median(us)), rel=0.2)
    assert snap.features["quality_eda"] > 0.5
    assert snap.streams["eda"].note == "" and snap.streams["eda"].unit == "uS"


def test_corrupt_ecg_samples_are_told_in_the_streams_status(source_id):
    """A corrupt value (1e30) is dropped as a gap; the ECG stream's status says so while they
    come, and the heart rate goes on."""
    sigs = _signals(30.0)
    sigs["ecg"][[int(20 * RATES["ecg"]), int(25 * RATES["ecg"])]] = 1e30
    outlets, engine = _engine_on(source_id, sigs)
    stop = threading.Event()
    try:
        _push_all(outlets, sigs, speed=10.0, stop=stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().session_s < 28.0:
            time.sleep(0.05)
        snap = engine.snapshot()
    finally:
        stop.set()
        engine.stop()
    assert "corrupt samples dropped" in snap.streams["ecg"].note, snap.streams["ecg"].note
    assert math.isfinite(snap.features["hr_bpm"]) and snap.features["quality_ecg"] > 0.7


def test_an_eda_stream_in_doubt_is_told_as_a_unit_problem_not_as_saturation(source_id):
    """A band whose unit the engine does not know, read as µS, sits above the amplifier limit.
    The user must read that the unit is in doubt, not that the sensor is "saturated or
    frozen" as well (which sent people to the hardware)."""
    outlet = _eda_outlet(source_id, "counts")
    src = LslSource("eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=5.0))
    engine = Engine({"eda": src}, EngineConfig(), outlets_source_id=None, period_s=0.01)
    level = 200.0 + np.sin(np.arange(int(40 * RATES["eda"])) / 20.0)
    stop = threading.Event()
    with engine:
        _push_all({"eda": outlet}, {"eda": level}, speed=10.0, stop=stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.snapshot().session_s < 35.0:
            time.sleep(0.05)
        snap = engine.snapshot()
        issue = engine.pipeline.channels["eda"].issue
    note = snap.streams["eda"].note
    assert issue.startswith("saturated")  # what the channel sees: values over the limit
    assert "unknown EDA unit 'counts'" in note and "check the unit" in note
    assert "saturated" not in note, note


@pytest.mark.parametrize("unit", ["kOhm", "kΩ", "Ohm"])
def test_a_skin_resistance_stream_is_refused_with_the_reason(source_id, unit):
    """Skin resistance (as some GSR sensors stream it) is not a factor away from conductance:
    read as µS, 50 kOhm looked like a plausible 50 µS whose responses run backwards. The
    stream is refused, saying why, and the others run."""
    eda = _eda_outlet(source_id, unit)
    ecg = _outlet("ecg", source_id)
    srcs = {
        "eda": LslSource(
            "eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=5.0), strict=False
        ),
        "ecg": LslSource("ecg", resolve("ECG", source_id=f"{source_id}-ecg", timeout=5.0)),
    }
    assert "sends skin resistance" in srcs["eda"].problem and "µS" in srcs["eda"].problem
    engine = Engine(srcs, EngineConfig(), outlets_source_id=None, period_s=0.01)
    try:
        status = engine.snapshot().streams["eda"]
        assert status.state == "unusable" and "skin resistance" in status.note
        assert list(engine.streams) == [(engine.subject_ids[0], "ecg")]
    finally:
        engine.stop()
    del eda, ecg
    with pytest.raises(InputError, match="skin resistance"):  # wot run/analyze --eda-unit
        parse_eda_unit(unit)


@pytest.mark.parametrize(
    ("meta", "option", "scale", "note"),
    [
        ("microsiemens", None, 1.0, None),
        ("µS", None, 1.0, None),
        ("µmho", None, 1.0, None),  # the siemens by its older name
        ("furlongs", None, 1.0, "unknown EDA unit 'furlongs'"),
        ("nS", "uS", 1.0, None),  # --eda-unit overrides the metadata
        (None, "raw:0.5", 0.5, None),
        (None, None, 1.0, "outside the plausible 0.05-100 µS"),  # nS data, no unit stated
    ],
)
def test_eda_unit_metadata_option_and_level_check(source_id, meta, option, scale, note):
    outlet = _eda_outlet(source_id, meta)
    src = LslSource(
        "eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=5.0), eda_unit=option
    )
    assert src.scale == pytest.approx(scale)
    level = 5000.0 if note and "plausible" in note else 5.0 / scale
    n = int(12 * RATES["eda"])
    t0 = pylsl.local_clock()
    outlet.push_chunk(np.full((n, 1), level, dtype=np.float32), t0)
    x = _pull_all(src, n)
    assert x.size == n
    np.testing.assert_allclose(x, level * scale, rtol=1e-6)
    if note is None:
        assert src.note == ""
    else:
        assert note in src.note


def test_eda_contact_loss_is_told_to_the_user_live(source_id):
    """A real EDA stream whose electrode lifts for 15 s: the engine's status names the problem,
    quality drops to 0, and both clear once contact is back."""
    fs = RATES["eda"]
    us = scr_like(fs, 90.0, np.arange(8.0, 90.0, 20.0), 0.25)
    us += 0.002 * np.random.default_rng(5).standard_normal(us.size)
    us[int(40 * fs) : int(55 * fs)] = 0.0  # contact lost 40-55 s
    outlet = _eda_outlet(source_id, "uS")
    src = LslSource("eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=5.0))
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine({"eda": src}, cfg, outlets_source_id=None, period_s=0.01)
    stop = threading.Event()
    seen: list[tuple[float, str, float]] = []
    with engine:
        pusher = threading.Thread(
            target=_push_all, args=({"eda": outlet}, {"eda": us}, 10.0, stop), daemon=True
        )
        pusher.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snap = engine.snapshot()
            q = snap.features.get("quality_eda", np.nan)
            seen.append((snap.session_s, snap.streams["eda"].note, q))
            if snap.session_s >= 85.0:
                break
            time.sleep(0.02)
        stop.set()
        pusher.join(5.0)
    during = [(n, q) for t, n, q in seen if 45.0 <= t <= 55.0]
    after = [(n, q) for t, n, q in seen if t >= 70.0]
    assert during and after
    assert all("contact" in n for n, _ in during)
    assert all(q == 0.0 for _, q in during)
    assert all(n == "" for n, _ in after)
    assert all(q > 0.9 for _, q in after)


def test_eda_zeros_before_contact_do_not_raise_a_unit_warning(source_id):
    """A band streams zeros until it touches the skin: lost contact, not a wrong unit."""
    outlet = _eda_outlet(source_id, "uS")
    src = LslSource("eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=5.0))
    n0, n1 = int(15 * RATES["eda"]), int(12 * RATES["eda"])
    x = np.concatenate((np.zeros(n0), np.full(n1, 5.0)))
    outlet.push_chunk(x.astype(np.float32).reshape(-1, 1), pylsl.local_clock())
    got = _pull_all(src, n0 + n1)
    assert got.size == n0 + n1
    assert src.note == ""


@pytest.mark.slow
def test_source_vanishes_for_10_s_and_returns(source_id):
    """A sensor bridge dies (its LSL outlet disappears) for 10 s of wall clock and comes back
    with the same source_id: the engine marks the loss, shows the stream lost and the zone
    unknown (never the stale last zone), gives no cue meanwhile, then picks the stream up again
    on its own (the same inlet, no restart), with the missing stretch as a gap."""
    import gc

    fs, speed = RATES["ecg"], 8.0
    x, _truth = ecg_like(fs, 120.0, 70.0, seed=4)
    outlet = _outlet("ecg", source_id)
    src = LslSource("ecg", resolve("ECG", source_id=f"{source_id}-ecg", timeout=5.0))
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine({"ecg": src}, cfg, outlets_source_id=None, period_s=0.01, stall_s=0.5)
    t_lsl = pylsl.local_clock()

    def play(a_s: float, b_s: float) -> None:
        # data seconds a..b at `speed`, time stamps on the data clock
        for a in range(int(a_s * fs), int(b_s * fs), int(fs / 4)):
            b = min(int(b_s * fs), a + int(fs / 4))
            outlet.push_chunk(x[a:b].astype(np.float32).reshape(-1, 1), t_lsl + (b - 1) / fs)
            time.sleep(0.25 / speed)

    engine.start()
    try:
        play(0.0, 40.0)
        _wait_for(lambda: engine.snapshot().session_s >= 39.0, 10.0)
        before = engine.snapshot()
        assert before.zone in ("within", "hyper", "hypo") and before.streams["ecg"].state == "ok"
        # frames that stop coming (a stream lagging, not yet lost) make the last zone stale
        fresh = engine._frame_wall
        engine._frame_wall = time.monotonic() - 2.0  # as if the newest frame were 2 s old
        stale = engine.snapshot()
        assert stale.zone == "unknown" and "no new data for" in stale.explanation
        engine._frame_wall = max(fresh, engine._frame_wall)
        n_cues = len(engine.pipeline.cues.log)
        del outlet  # the bridge is gone
        gc.collect()
        gone = time.monotonic()
        seen = set()
        while time.monotonic() - gone < 10.0:
            snap = engine.snapshot()
            if time.monotonic() - gone > 2.0:
                seen.add((snap.streams["ecg"].state, snap.zone))
            assert snap.error is None
            time.sleep(0.1)
        assert seen == {("lost", "unknown")}, seen
        assert len(engine.pipeline.cues.log) == n_cues  # no cue on stale data
        outlet = _outlet("ecg", source_id)  # back, same source_id; 80 s of data time missed
        play(120.0 - 40.0, 120.0)
        _wait_for(lambda: engine.snapshot().session_s >= 118.0, 15.0)
        after = engine.snapshot()
        assert after.error is None and after.streams["ecg"].state == "ok"
    finally:
        engine.stop()
    texts = [t for _s, t in engine.markers]
    assert any(t.startswith("[engine] ecg signal lost") for t in texts), texts
    assert any(t.startswith("[engine] ecg signal back after") for t in texts), texts
    # 40 s of data never sent, plus what was pushed before liblsl had reconnected the inlet
    # (LSL delivers only what comes after a connection), placed by its time stamps
    assert 40.0 <= engine.gaps_filled["ecg"] <= 55.0, engine.gaps_filled
    frames = engine.drain_frames()
    t = np.array([f.time_s for f in frames])
    q = np.array([f.features["quality_ecg"] for f in frames])
    hr = np.array([f.features["hr_bpm"] for f in frames])
    assert q[(t > 42.0) & (t < 80.0)].max() == 0.0  # the missing stretch is a gap
    # and the signal is back in full 10 s after its data resumed (later on a loaded machine,
    # where liblsl takes longer to reconnect and more of the replayed data is never delivered;
    # the first beats after the gap are corrected and weigh on the 30-s share for a while)
    back = 40.0 + engine.gaps_filled["ecg"] + 10.0
    after_back = q[(t > back) & (t < 117.0)]
    assert after_back.size > 0 and after_back.min() > 0.7, (back, after_back.min())
    assert np.nanmedian(hr[(t > 100.0) & (t < 117.0)]) == pytest.approx(70.0, abs=2.0)


def _wait_for(cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_multichannel_stream_feeds_several_modalities(source_id):
    """A device that publishes one stream with several channels (as OpenSignals does for a
    BITalino): each modality takes its channel by label or index; a wrong label names the
    channels there are."""
    info = pylsl.StreamInfo(f"{source_id}-dev", "OpenSignals", 3, 100.0, pylsl.cf_float32,
                            f"{source_id}-dev")  # fmt: skip
    chans = info.desc().append_child("channels")
    for label, unit in (("nSeq", ""), ("ECG", "mV"), ("EDA", "uS")):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    outlet = pylsl.StreamOutlet(info)
    found = resolve("OpenSignals", source_id=f"{source_id}-dev", timeout=5.0)
    ecg = LslSource("ecg", found, channel="ecg")
    eda = LslSource("eda", found, channel="2")
    assert (ecg.channel, ecg.unit, eda.channel, eda.unit) == (1, "mV", 2, "uS")
    rows = np.column_stack([np.arange(50), np.full(50, 0.5), np.full(50, 4.0)]).astype(np.float32)
    outlet.push_chunk(rows)
    deadline = time.monotonic() + 5.0
    got_ecg, got_eda = [], []
    while time.monotonic() < deadline and (
        sum(map(len, got_ecg)) < 50 or sum(map(len, got_eda)) < 50
    ):
        got_ecg.append(ecg.pull().data)
        got_eda.append(eda.pull().data)
        time.sleep(0.05)
    assert np.all(np.concatenate(got_ecg) == 0.5) and np.all(np.concatenate(got_eda) == 4.0)
    with pytest.raises(StreamNotFoundError, match="nSeq, ECG, EDA"):
        LslSource("resp", found, channel="RESP")


WARM_UP_COVERS_THE_ENGINE = (
    COUNT_COMPILED
    + """
import time
from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.dsp import warm_up
from wot_biofeedback.engine import Engine
from wot_biofeedback.sources.lsl import LslSource, resolve

sid = sys.argv[1]
warm_up(("ecg", "eda", "resp", "acc"))
before = compiled()
sess = simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=5), 200.0)
pub = SimulatorPublisher(sess, source_id=sid, name_prefix=sid, speed=20.0,
                         streams=("ecg", "eda", "resp", "acc"), wait_for_consumers=10.0)
pub.start()
try:
    sources = {m: LslSource(m, resolve(t, source_id=f"{sid}-{m}", timeout=10.0))
               for m, t in (("ecg", "ECG"), ("eda", "EDA"), ("resp", "RESP"), ("acc", "ACC"))}
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    with Engine(sources, cfg, outlets_source_id=None) as engine:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and engine.snapshot().session_s < 150.0:
            time.sleep(0.05)
        engine.snapshot()
        assert engine.snapshot().session_s >= 150.0, engine.snapshot().session_s
finally:
    pub.stop()
after = compiled()
late = sorted(k for k, n in after.items() if n > before.get(k, 0))
print("compiled after warm_up:", late)
"""
)


def test_warm_up_compiles_every_kernel_the_live_engine_uses(source_id):
    """A kernel compiled on the engine thread stalls the first seconds of a session on a new
    machine (streams shown lagging, the session clock jumping): after ``warm_up`` a live
    session past calibration, zones and cues compiles nothing more. Run in a fresh process,
    whose numba dispatchers start empty."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", WARM_UP_COVERS_THE_ENGINE, source_id],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "compiled after warm_up: []" in r.stdout, r.stdout


def _plain_outlet(name: str, stype: str, sid: str, channels: int = 1) -> pylsl.StreamOutlet:
    return pylsl.StreamOutlet(pylsl.StreamInfo(name, stype, channels, 50.0, pylsl.cf_float32, sid))


def test_open_sources_takes_one_source_and_names_the_others(source_id):
    """Without a source_id, the source that has every modality is taken whatever order the
    network lists the streams in, and the other candidates are named; with one, exactly its
    streams. (The types are this test's own: other tests' streams are no candidates.)"""
    ecg, eda = f"ECG{source_id}", f"EDA{source_id}"
    keep = [  # noqa: F841 (the outlets live as long as the test)
        _plain_outlet("b-ECG", ecg, f"{source_id}-b-ecg"),
        _plain_outlet("a-ECG", ecg, f"{source_id}-a-ecg"),
        _plain_outlet("b-EDA", eda, f"{source_id}-b-eda"),
    ]
    # every outlet visible first: on a loaded machine one may be announced after the others
    # have been found and open_sources has listened its SETTLE_S more (its choice is the test)
    assert len(pylsl.resolve_byprop("type", ecg, minimum=2, timeout=15.0)) == 2
    assert len(pylsl.resolve_byprop("type", eda, minimum=1, timeout=15.0)) == 1
    said: list[str] = []
    # listening 3 s, not the default 0.5 s, for the other candidates: under the full suite's
    # load an answer may come later (this once missed a-ECG), and the naming is the test
    got = open_sources({"ecg": ecg, "eda": eda}, timeout=5.0, settle=3.0, on_warning=said.append)
    assert {m: s.info.source_id() for m, s in got.items()} == {
        "ecg": f"{source_id}-b-ecg",
        "eda": f"{source_id}-b-eda",
    }
    assert len(said) == 1 and said[0].startswith("2 ECG streams found: ")
    assert f"a-ECG (source_id {source_id}-a-ecg, host {got['ecg'].info.hostname()})" in said[0]
    assert "using b-ECG" in said[0]
    said.clear()
    got = open_sources({"ecg": ecg}, f"{source_id}-a", timeout=3.0, on_warning=said.append)
    assert got["ecg"].info.source_id() == f"{source_id}-a-ecg" and said == []


def test_open_sources_mixes_sources_only_when_told(source_id):
    ecg, eda = f"ECG{source_id}", f"EDA{source_id}"
    keep = [  # noqa: F841
        _plain_outlet("a-ECG", ecg, f"{source_id}-a-ecg"),
        _plain_outlet("c-EDA", eda, f"{source_id}-c-eda"),
    ]
    with pytest.raises(InputError, match="come from different sources") as err:
        open_sources({"ecg": ecg, "eda": eda}, timeout=3.0)
    assert f"{source_id}-a-ecg" in str(err.value) and f"{source_id}-c-eda" in str(err.value)
    got = open_sources({"ecg": ecg, "eda": eda}, timeout=3.0, allow_mixed=True)
    assert {m: s.name for m, s in got.items()} == {"ecg": "a-ECG", "eda": "c-EDA"}


def test_a_stream_that_cannot_feed_its_modality_is_reported_and_the_others_run(source_id):
    """An accelerometer stream with one channel (breathing needs x, y, z) next to a good ECG:
    the engine shows it unusable with the reason and runs on the ECG. A channel the user asked
    for that the stream does not have stays an error."""
    x = _signals(40.0)["ecg"]
    ecg_out = _outlet("ecg", source_id)
    keep = _plain_outlet("acc", "ACC", f"{source_id}-acc", channels=1)  # noqa: F841
    sources = open_sources({"ecg": "ECG", "acc": "ACC"}, source_id, 5.0)
    assert sources["acc"].problem == "stream 'acc' has 1 channels; acc needs channels 0-2"
    with pytest.raises(StreamNotFoundError, match="acc needs channels 0-2"):
        open_sources({"acc": "ACC"}, source_id, 5.0, channels={"acc": "0"})
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine(sources, cfg, outlets_source_id=None, period_s=0.01)
    assert set(engine.streams) == {("client", "ecg")} and engine.problems() == [
        "acc (acc, 50 Hz): stream 'acc' has 1 channels; acc needs channels 0-2"
    ]
    stop = threading.Event()
    with engine:
        _push_all({"ecg": ecg_out}, {"ecg": x}, speed=10.0, stop=stop)
        _wait_for(lambda: engine.snapshot().session_s >= 30.0, 20.0)
        snap = engine.snapshot()
    assert snap.error is None
    acc = snap.streams["acc"]
    assert acc.state == "unusable" and "acc needs channels 0-2" in acc.note
    assert snap.streams["ecg"].state in ("ok", "lagging")
    assert snap.features["hr_bpm"] == pytest.approx(72.0, abs=3.0)
    assert engine.markers[0][1].startswith("[engine] acc (acc, 50 Hz) cannot run: ")


@pytest.mark.parametrize("direct", [True, False], ids=["direct-pull", "pylsl-pull"])
@pytest.mark.parametrize(
    ("fmt", "dtype"),
    [
        (pylsl.cf_float32, np.float32),
        (pylsl.cf_int16, np.int16),
        (pylsl.cf_int32, np.int32),
        (pylsl.cf_int8, np.int8),
        (pylsl.cf_int64, np.int64),
        (pylsl.cf_double64, np.float64),
    ],
)
def test_a_stream_in_any_numeric_format_gives_its_values(source_id, fmt, dtype, direct):
    """liblsl writes a stream's own type (int16 ADC counts, float64, ...). The inlet pulled
    every stream into a float32 buffer: int16 samples came out as 1.8e-38 and the like, and a
    float64 stream stopped the read with a ValueError. Now the values arrive; like a float32
    stream's they are taken as float32, which is also what a recording keeps (live and the
    recording's analysis see the same numbers). Both ways of pulling give them: liblsl's
    chunk pull called directly with arguments made once (what runs with this pylsl), and
    pylsl's ``pull_chunk`` (the fallback)."""
    sid = f"{source_id}-fmt{fmt}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo("fmt", "ECG", 2, 250.0, fmt, sid))
    src = LslSource("ecg", resolve("ECG", source_id=sid, timeout=10.0), channel=1)
    assert src._pull is not None  # the direct pull is set up with the pylsl installed
    if not direct:
        src._pull = None  # pylsl's pull_chunk
    src.record = True
    step = 0.1 if dtype == np.float64 else 1  # 0.1 has no exact float32
    values = ((np.arange(60).reshape(30, 2) - 17) * step).astype(dtype)
    time.sleep(0.3)
    outlet.push_chunk(values)
    data, raw = [], []
    deadline = time.monotonic() + 10.0
    while sum(len(d) for d in data) < 30:
        assert time.monotonic() < deadline, f"{sum(len(d) for d in data)} samples arrived"
        got = src.pull()
        if len(got.data):
            data.append(got.data)
            raw.append(got.raw)
        time.sleep(0.02)
    want32 = values.astype(np.float32)
    np.testing.assert_array_equal(np.concatenate(data), want32[:, 1].astype(np.float64))
    np.testing.assert_array_equal(np.concatenate(raw), want32)
    assert np.concatenate(raw).dtype == np.float32  # as the recording's header says
    header = ElementTree.fromstring(src.header_xml())  # what a recording's stream says
    assert header.findtext("channel_format") == "float32"
    names = {pylsl.cf_int16: "int16", pylsl.cf_int32: "int32", pylsl.cf_int8: "int8"}
    names[pylsl.cf_int64] = "int64"
    names.update({pylsl.cf_float32: "float32", pylsl.cf_double64: "double64"})
    assert header.findtext("desc/wot/original_format") == names[fmt]


def test_a_text_stream_is_refused_for_a_signal(source_id):
    """A string stream cannot be a signal: refused with the reason, or (not strict) kept as
    a stream that cannot run and delivers nothing."""
    sid = f"{source_id}-text"
    outlet = pylsl.StreamOutlet(  # noqa: F841 (lives as long as the test)
        pylsl.StreamInfo("notes", "ECG", 1, 250.0, pylsl.cf_string, sid)
    )
    info = resolve("ECG", source_id=sid, timeout=10.0)
    with pytest.raises(StreamNotFoundError, match=r"'notes' sends text .*ecg needs numbers"):
        LslSource("ecg", info)
    src = LslSource("ecg", info, strict=False)
    assert "sends text (channel format string)" in src.problem
    assert len(src.pull().data) == 0


def test_an_int64_stream_is_refused_where_pylsl_cannot_read_it(source_id, monkeypatch):
    """On Windows and 32-bit systems pylsl's int64 pull is a stub that raises
    NotImplementedError, which would stop the engine at the first read: such a stream is
    refused with the reason instead. (This machine reads int64; pylsl's stub is put in its
    place here.)"""
    sid = f"{source_id}-i64"
    outlet = pylsl.StreamOutlet(  # noqa: F841 (lives as long as the test)
        pylsl.StreamInfo("counts", "ECG", 1, 250.0, pylsl.cf_int64, sid)
    )
    info = resolve("ECG", source_id=sid, timeout=10.0)

    def stub(*_: object) -> None:
        raise NotImplementedError("int64 support isn't enabled on your platform")

    monkeypatch.setattr(pylsl.lib, "pull_chunk_int64", stub)
    with pytest.raises(StreamNotFoundError, match=r"'counts' sends int64 values, which pylsl"):
        LslSource("ecg", info)


@pytest.mark.parametrize(("real", "says"), [(200.0, True), (256.0, True), (250.5, False)])
def test_a_stream_sending_at_another_rate_than_it_declares_is_reported(source_id, real, says):
    """The engine counts samples at the declared rate, so a device that declares 250 Hz and
    sends 200 gave heart rates 25 % too high, and fell behind the other streams, without a
    word. Its inlet now measures the rate from the time stamps (40 s in small chunks with 3 ms
    of jitter on every stamp and a 5-s pause, which must not count) and says so; a device off
    by 0.2 % is within the tolerance."""
    sid = f"{source_id}-rate{real:g}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo("rate", "ECG", 1, 250.0, pylsl.cf_float32, sid))
    src = LslSource("ecg", resolve("ECG", source_id=sid, timeout=10.0))
    time.sleep(0.3)
    rng = np.random.default_rng(3)
    n = int(40.0 * real)
    t = pylsl.local_clock() + np.arange(n) / real
    t[np.arange(n) / real >= 20.0] += 5.0  # the device paused
    t += rng.normal(0.0, 0.003, n)
    x = rng.normal(0.0, 1.0, (n, 1)).astype(np.float32)
    # pulled every 100 samples once they have arrived: the inlet sees chunks of at most 100
    # however loaded the machine is (pulled late, they merged into a few large chunks, one of
    # them holding the pause, and the check had too few to judge: CI saw no note once)
    got = 0
    for i in range(0, n, 5):
        outlet.push_chunk(x[i : i + 5], t[i : i + 5].tolist())
        if (i + 5) % 100 == 0 or i + 5 >= n:
            deadline = time.monotonic() + 10.0
            while got < min(n, i + 5):
                assert time.monotonic() < deadline, f"{got} of {n} samples arrived"
                got += len(src.pull().data)
    if not says:
        assert src.note == ""
    else:
        # the figures as measured through 3 ms of jitter on every stamp: the rate within
        # 1.5 % (254-258/s were seen for 256), the error within 1.5 points of the truth
        m = re.search(r"declares 250 Hz, sends (\d+)/s: rates (\d+) % off", src.note)
        assert m is not None, src.note
        assert abs(int(m[1]) - real) <= 0.015 * real, src.note
        assert abs(int(m[2]) - 100 * abs(250 / real - 1)) <= 1.5, src.note


def test_a_slow_streams_backlog_is_no_rate_problem(source_id):
    """A slow stream that waited for the engine arrives as a backlog: the first pull of a 25-Hz
    belt brings 41 s at once. The rate check must neither fail on it (it raised IndexError in
    the engine's thread in a full run before it was committed) nor take it for a wrong rate."""
    sid = f"{source_id}-backlog"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo("belt", "RESP", 1, 25.0, pylsl.cf_float32, sid))
    src = LslSource("resp", resolve("RESP", source_id=sid, timeout=10.0))
    time.sleep(0.3)
    n = 25 * 90
    t = pylsl.local_clock() - 90.0 + np.arange(n) / 25.0
    outlet.push_chunk(np.sin(np.arange(n) / 10.0).astype(np.float32).reshape(-1, 1), t.tolist())
    got, pulls, deadline = 0, 0, time.monotonic() + 10.0
    while got < n:
        assert time.monotonic() < deadline, f"{got} of {n} samples arrived"
        k = len(src.pull().data)
        got, pulls = got + k, pulls + (k > 0)
        time.sleep(0.01)
    assert pulls >= 3 and src.note == ""


def test_a_problem_taken_back_leaves_the_others_as_they_were(source_id):
    """A stream's note joins its problems by "; ". Taking back the first of two (the strap's
    contact restored) left "; the other" behind; now exactly the other remains."""
    sid = f"{source_id}-notes"
    outlet = pylsl.StreamOutlet(  # noqa: F841 (lives as long as the test)
        pylsl.StreamInfo("notes", "ECG", 1, 250.0, pylsl.cf_float32, sid)
    )
    src = LslSource("ecg", resolve("ECG", source_id=sid, timeout=10.0))
    src._note_contact(0.0)
    src._say("declares 250 Hz, sends 200/s: rates 25 % off")
    src._note_contact(1.0)
    assert src.note == "declares 250 Hz, sends 200/s: rates 25 % off"
    src._unsay(src.note)
    assert src.note == ""
