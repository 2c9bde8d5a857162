"""The session core: one session log, one clock, and the same frames live, replayed and offline."""

from __future__ import annotations

import csv
import json
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pylsl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from wot_simulators import ReplayPublisher, load_replay

from _synth import assert_same_frames, breathing, ecg_like, scr_like, write_xdf
from wot_biofeedback import session_log as sl
from wot_biofeedback.clock import GAP_MIN_S, GAP_MIN_SAMPLES, REF_S, SessionClock, place_whole
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.offline import recorded_setup, run_recording
from wot_biofeedback.pipeline import Frame
from wot_biofeedback.recorder import SessionRecorder
from wot_biofeedback.sources.files import read_recording
from wot_biofeedback.sources.lsl import LslSource, resolve

DATA = Path(__file__).parent / "data"
RATES = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}


# session log -------------------------------------------------------------------------------
def _one_of_each() -> list[sl.SessionEvent]:
    return [
        sl.SessionInfo({"client": "c1", "scenario": "x", "started": "2026-01-01T00:00:00"}),
        sl.EngineStart(
            parameters={"frame_rate_hz": 4.0},
            baseline_window=(0.0, 60.0),
            sources={"ecg": {"fs": 250.0, "name": "chest"}},
            subject="therapist",
        ),
        sl.Origin(1234.5),
        sl.StreamStart("eda", 0.25, 3),
        sl.Gap("ecg", 100, 250, 1240.0),
        sl.Lost("eda", 40, 38),
        sl.Resume("eda", 52),
        sl.Calibrate(10.0, 70.0),
        sl.Mute(True, 12.5),
        sl.Marker(3.25, 'a "note" with <b> & ünïcode'),
        sl.End(400, 99.75, 2, {"ecg": 1.0}, None),
    ]


def test_every_session_event_round_trips_through_its_record():
    for ev in _one_of_each():
        text = sl.encode(ev)
        assert sl.schema_version(text) == sl.SCHEMA_VERSION
        assert sl.decode(text) == ev, text


def test_unknown_and_broken_records_are_kept_apart_not_fatal():
    log = sl.SessionLog.parse(
        [
            sl.encode(sl.Origin(1.0)),
            '{"event": "from_the_future", "v": 9, "x": 1}',
            "{not json",
            '{"event": "gap", "modality": "ecg"}',  # a known kind without its fields
        ]
    )
    assert log.unreadable == 2
    assert isinstance(log.events[1], sl.UnknownEvent)
    assert log.events[1].record["x"] == 1
    assert log.first(sl.Origin).lsl_time == 1.0


def test_a_schema_1_recording_reads_and_analyses_as_it_ran_live():
    """``tests/data/session_v1.xdf`` was recorded by wot 0.1.0 (no schema version, no
    ``delivered`` on ``lost``): today's reader takes every decision from it, and the analysis
    gives the live engine's arousal on every frame (to 1e-11 relative: the kernels have not fused
    multiplies and adds since 2026-12-06, which moved it in the 13th digit; today's live and
    offline runs agree to the bit, ``tests/test_hold.py``)."""
    rec = read_recording(DATA / "session_v1.xdf")
    assert rec.session is not None and rec.session["schema"] == [1]
    assert rec.session["metadata"]["client"] == "fixture"
    assert rec.session["calibrations"] == [(40.0, 50.0)]
    assert set(rec.session["masks"]) >= {"eda"}
    eda = rec.signals["eda"]
    assert int(np.isnan(eda.data).sum()) == pytest.approx(10.0 * 32, abs=2)  # the 10-s gap
    assert all(len(s.data) / s.fs == pytest.approx(60.0, abs=0.1) for s in rec.signals.values())
    assert "fixture note" in [t for _s, t in rec.markers]
    assert any("schema-1 recording" in n for n in rec.notes)
    cfg, base, _notes = recorded_setup(rec.session, None, None)
    res, _pipe = run_recording(rec, cfg, base)
    with open(DATA / "session_v1_live.csv") as fh:
        live = [(float(r["time_s"]), float(r["arousal"])) for r in csv.DictReader(fh)]
    off = {round(f.time_s, 3): f.state.arousal for f in res.frames}
    assert len(live) == 240 and all(round(t, 3) in off for t, _a in live)
    got, want = [off[round(t, 3)] for t, _a in live], [a for _t, a in live]
    assert np.array_equal(np.isnan(got), np.isnan(want)) and not np.isnan(want).all()
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=0.0)


# session clock -----------------------------------------------------------------------------
def _stamped(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Three streams on an LSL-like clock: RESP first (time 0), ECG 0.31 s later with a 20-s
    pause, EDA with time-stamp jitter and a slow clock drift."""
    rng = np.random.default_rng(seed)
    t = 5000.0
    ecg_i = np.concatenate((np.arange(0, 2500), np.arange(2500 + 5000, 10000)))
    eda_t = t + 0.2 + np.arange(600) / 32.0 * (1 + 2e-4) + rng.normal(0, 0.004, 600)
    return {
        "ecg": (t + 0.31 + ecg_i / 250.0, rng.normal(size=ecg_i.size)),
        "eda": (eda_t, rng.normal(size=600)),
        "resp": (t + np.arange(1500) / 50.0, rng.normal(size=1500)),
    }


def test_clock_fills_a_pause_and_keeps_drift_and_jitter_out():
    events: list[sl.SessionEvent] = []
    clock, placed = place_whole(_stamped(1), RATES, emit=events.append)
    ecg = placed["ecg"]
    assert ecg.t0 == pytest.approx(0.31)
    assert np.isnan(ecg.data).sum() == 5000  # exactly the 20 s missing, at 250 Hz
    assert np.isnan(ecg.data[2500:7500]).all() and np.isfinite(ecg.data[7500:]).all()
    assert not np.isnan(placed["eda"].data).any()  # jitter and drift are not pauses
    gaps = [e for e in events if isinstance(e, sl.Gap)]
    assert [(g.modality, g.after, g.n) for g in gaps] == [("ecg", 2500, 5000)]
    assert clock.gaps_filled == {"ecg": 20.0}


def test_clock_takes_packets_stamped_on_arrival_for_what_they_are():
    """A bridge that stamps every sample of a Bluetooth packet with its arrival time (130 Hz ECG
    in 73-sample packets, 0.56 s apart, with arrival jitter): no false gaps; a real 10-s pause
    in the middle is found, to within a packet."""
    rng = np.random.default_rng(4)
    fs, per = 130.0, 73
    arrivals = 100.0 + np.arange(40) * per / fs + rng.normal(0, 0.02, 40)
    arrivals[20:] += 10.0  # the strap stops sending for 10 s
    ts = np.repeat(arrivals, per)
    events: list[sl.SessionEvent] = []
    clock = SessionClock({"ecg": fs}, emit=events.append)
    clock.set_origin(ts[0])
    placed = [clock.place("ecg", ts[a : a + 37], np.zeros(len(ts[a : a + 37]))) for a in
              range(0, ts.size, 37)]  # fmt: skip
    gaps = [e for e in events if isinstance(e, sl.Gap)]
    assert len(gaps) == 1 and gaps[0].after == 20 * per, gaps
    assert gaps[0].n / fs == pytest.approx(10.0, abs=per / fs)
    assert sum(np.isnan(p.data).sum() for p in placed if p is not None) == gaps[0].n


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 9999), max_size=30), seed=st.integers(0, 3))
def test_clock_placement_does_not_depend_on_chunking(cuts, seed):
    streams = _stamped(seed)
    _, whole = place_whole(streams, RATES)
    clock = SessionClock(RATES)
    clock.set_origin(min(float(ts[0]) for ts, _ in streams.values()))
    for m, (ts, x) in streams.items():
        parts = []
        for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(ts)], strict=True):
            got = clock.place(m, ts[a:b], x[a:b]) if b > a else None
            if got is not None:
                assert got.t0 == whole[m].t0
                parts.append(got.data)
        np.testing.assert_array_equal(np.concatenate(parts), whole[m].data)


def _pauses_by_the_rule(ts: np.ndarray, fs: float) -> list[tuple[int, int]]:
    """The pause rule of ``SessionClock``, sample by sample: sample ``i`` follows a pause when
    its lag exceeds the largest lag of the ``k`` samples before it by more than the tolerance;
    the pause is filled (later lags move back by it)."""
    k = 2 * round(REF_S * fs / 2) + 1
    tol = max(GAP_MIN_S, GAP_MIN_SAMPLES / fs)
    lags = ts - (ts[0] + np.arange(ts.size) / fs)
    out = []
    for i in range(1, ts.size):
        ref = lags[max(0, i - k) : i].max()
        if lags[i] - ref > tol:
            n = round(float(lags[i] - ref) * fs)
            if n > 0:
                out.append((i, n))
                lags[i:] -= n / fs
    return out


@settings(max_examples=60, deadline=None)
# a pause that starts on a chunk's first sample (the step from the last chunk's tail)
@example(fs=250.0, packet=1, jitter=0.0, pauses=[(0.5, 2.0)], cuts=[1500], seed=0)
@example(fs=130.0, packet=73, jitter=0.02, pauses=[(0.3, 1.0)], cuts=[876, 900], seed=1)
@given(
    fs=st.sampled_from([32.0, 130.0, 250.0]),
    packet=st.integers(1, 80),
    jitter=st.floats(0.0, 0.05),
    pauses=st.lists(st.tuples(st.floats(0.05, 0.95), st.floats(0.3, 8.0)), max_size=3),
    cuts=st.lists(st.integers(1, 2999), max_size=12),
    seed=st.integers(0, 9),
)
def test_clock_finds_exactly_the_pauses_the_rule_defines(fs, packet, jitter, pauses, cuts, seed):
    """Packets stamped on arrival, with jitter and pauses of any length, placed in any chunks:
    the clock fills exactly the pauses of its rule (written out above sample by sample; the
    clock skips its search in chunks where no lag rises by more than the tolerance)."""
    rng = np.random.default_rng(seed)
    n = 3000
    ts = 10.0 + np.repeat(np.arange(n // packet + 1) * packet / fs, packet)[:n]
    ts = ts + np.repeat(rng.normal(0, jitter, n // packet + 1), packet)[:n]
    for where, secs in pauses:
        ts[int(where * n) :] += secs
    ts = np.maximum.accumulate(ts)  # arrival stamps never go back
    events: list[sl.SessionEvent] = []
    clock = SessionClock({"ecg": fs}, emit=events.append)
    clock.set_origin(float(ts[0]))
    bounds = [0, *sorted(set(cuts)), n]
    for a, b in pairwise(bounds):
        clock.place("ecg", ts[a:b], np.zeros(b - a))
    got = [(e.after, e.n) for e in events if isinstance(e, sl.Gap)]
    assert got == _pauses_by_the_rule(ts, fs)


def test_clock_keeps_going_past_an_infinite_or_missing_time_stamp():
    """A broken time stamp (+inf, NaN) is no pause: nothing is filled, no error, and the
    samples keep their count; a real pause after it is still found."""
    fs = 250.0
    ts = 10.0 + np.arange(3000) / fs
    ts[700], ts[1200] = np.inf, np.nan
    ts[2000:] += 3.0  # a 3-s pause
    events: list[sl.SessionEvent] = []
    clock = SessionClock({"ecg": fs}, emit=events.append)
    clock.set_origin(10.0)
    placed = [clock.place("ecg", ts[a : a + 500], np.ones(500)) for a in range(0, 3000, 500)]
    gaps = [(e.after, e.n) for e in events if isinstance(e, sl.Gap)]
    assert gaps == [(2000, 750)]
    assert sum(p.data.size for p in placed) == 3000 + 750
    assert sum(np.isnan(p.data).sum() for p in placed) == 750


def test_clock_drops_what_came_before_time_0_across_chunks():
    """RESP starts 0.5 s before session time 0: its first 13 samples (at 25 Hz) are dropped,
    even where they come in chunks smaller than that, and its first kept sample sits at
    0.02 s."""
    clock = SessionClock({"ecg": 100.0, "resp": 25.0})
    clock.set_origin(10.0)
    ts, x = 9.5 + np.arange(50) / 25.0, np.arange(50.0)
    assert clock.place("resp", ts[:5], x[:5]) is None
    got = clock.place("resp", ts[5:], x[5:])
    assert got is not None and got.t0 == pytest.approx(0.02) and got.data[0] == 13.0
    assert clock.t0["resp"] == pytest.approx(0.02)


# the same frames every way in ---------------------------------------------------------------
def _config() -> EngineConfig:
    cfg = EngineConfig()
    cfg.calibration.duration_s = 30.0
    return cfg


def _drain_until(engine: Engine, t_s: float, timeout: float) -> list[Frame]:
    deadline = time.monotonic() + timeout
    while engine.snapshot().session_s < t_s:
        assert time.monotonic() < deadline, f"engine at {engine.snapshot().session_s} s"
        time.sleep(0.05)
    return engine.drain_frames()


@pytest.mark.lsl
@pytest.mark.timeout(120)
def test_foreign_xdf_with_a_pause_gives_the_same_frames_offline_replayed_and_recorded(
    tmp_path, source_id
):
    """A LabRecorder-style XDF whose ECG pauses for 20 s while EDA and RESP go on: analysed
    offline it lasts 150 s with the pause as a gap (not 130 s with what follows 20 s early);
    replayed into the live engine, and the live engine's recording analysed, give the same
    frames, value for value."""
    dur, pause = 150.0, (60.0, 80.0)
    ecg, _ = ecg_like(250.0, dur, 68.0, seed=11)
    sigs = {
        "ecg": ecg,
        "eda": scr_like(32.0, dur, np.arange(7.0, dur, 13.0), 0.3),
        "resp": breathing(50.0, dur, 12.0, seed=11),
    }
    t_rec = 30000.0
    streams = []
    for m, x in sigs.items():
        i = np.arange(x.size)
        if m == "ecg":
            i = i[(i / 250.0 < pause[0]) | (i / 250.0 >= pause[1])]
        streams.append(
            dict(name=f"dev-{m}", type=m.upper(), fs=RATES[m], fmt="float32", labels=[m.upper()],
                 units=["uS" if m == "eda" else "mV"], timestamps=t_rec + i / RATES[m],
                 rows=x[i].astype(np.float32).reshape(-1, 1).tolist())
        )  # fmt: skip
    path = tmp_path / "labrecorder.xdf"
    write_xdf(path, streams)

    rec = read_recording(path)
    assert rec.duration_s == pytest.approx(dur, abs=0.01)
    gap = np.isnan(rec.signals["ecg"].data)
    assert gap.sum() == 20 * 250 and gap[int(60.5 * 250)] and not gap[int(80.5 * 250)]
    assert any("pauses in the stream are left as gaps" in n for n in rec.notes)
    offline, _ = run_recording(rec, _config())
    assert len(offline.frames) == 600

    replay, _notes = load_replay(path, source_id=source_id, name_prefix=source_id)
    with ReplayPublisher(replay, speed=10.0, wait_for_consumers=20.0):
        sources = {
            m: LslSource(m, resolve(m.upper(), source_id=f"{source_id}-{m}", timeout=10.0))
            for m in RATES
        }
        recorder = SessionRecorder(tmp_path / "live.xdf", flush_s=0.2)
        engine = Engine(
            sources, _config(), outlets_source_id=None, period_s=0.01, stall_s=2.0,
            recorder=recorder,
        )  # fmt: skip
        with engine:
            live = _drain_until(engine, dur - 1.0, 60.0)
    assert engine.gaps_filled == {"ecg": pytest.approx(20.0, abs=0.01)}
    n = assert_same_frames(live, offline.frames, "replayed live vs offline")
    assert n >= 590
    again = read_recording(tmp_path / "live.xdf")
    cfg, base, _ = recorded_setup(again.session or {}, None, None)
    recorded, _ = run_recording(again, cfg, base)
    assert assert_same_frames(live, recorded.frames, "live vs its recording") == len(live)
    zones = {f.state.zone for f in live if f.time_s > 40}
    assert zones & {"within", "hyper", "hypo"}  # zones were given, not only unknown


def _signals(dur: float, hr: float, breaths: float, seed: int) -> dict[str, np.ndarray]:
    """ECG, EDA (a response every 9 s) and breathing at RATES for ``dur`` s."""
    ecg, _ = ecg_like(250.0, dur, hr, seed=seed)
    return {
        "ecg": ecg,
        "eda": scr_like(32.0, dur, np.arange(5.0, dur, 9.0), 0.3),
        "resp": breathing(50.0, dur, breaths, seed=seed),
    }


def _three_streams(source_id: str, tmp_path: Path, stall_s: float) -> tuple[dict, Engine]:
    """An LSL outlet per modality of RATES, and an engine on them recording to
    ``tmp_path / "s.xdf"``."""
    outlets = {}
    for m, fs in RATES.items():
        info = pylsl.StreamInfo(f"{source_id}-{m}", m.upper(), 1, fs, pylsl.cf_float32,
                                f"{source_id}-{m}")  # fmt: skip
        info.desc().append_child("channels").append_child("channel").append_child_value(
            "unit", "uS" if m == "eda" else "mV"
        )
        outlets[m] = pylsl.StreamOutlet(info)
    sources = {m: LslSource(m, resolve(m.upper(), source_id=f"{source_id}-{m}")) for m in RATES}
    recorder = SessionRecorder(tmp_path / "s.xdf", flush_s=0.2)
    engine = Engine(
        sources, _config(), outlets_source_id=None, period_s=0.01, stall_s=stall_s,
        recorder=recorder,
    )  # fmt: skip
    return outlets, engine


def _send(outlets, x, dur: float, speed: float, upto) -> None:
    """Push ``x`` at ``speed`` times real time until ``dur`` s of data; ``upto(m, t)`` is how
    far stream ``m`` has sent at data time ``t`` (None: it holds back, sending later)."""
    t_lsl, pos, start = pylsl.local_clock(), dict.fromkeys(RATES, 0), time.monotonic()
    while True:
        t = min(dur, (time.monotonic() - start) * speed)
        for m, fs in RATES.items():
            until = upto(m, t)
            stop = min(len(x[m]), int(until * fs)) if until is not None else 0
            if stop <= pos[m]:
                continue
            ts = t_lsl + np.arange(pos[m], stop) / fs
            outlets[m].push_chunk(
                x[m][pos[m] : stop].astype(np.float32).reshape(-1, 1), ts.tolist()
            )
            pos[m] = stop
        if t >= dur:
            return
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.lsl
@pytest.mark.timeout(120)
def test_a_stalled_stream_analysed_from_its_recording_equals_live_frame_for_frame(
    tmp_path, source_id
):
    """EDA stalls for 15 s of data time (the engine gives it up and fuses past it), then its
    backlog arrives late, and later it stalls and never comes back: the recording's analysis
    fuses the same frames without EDA as live did, so every frame is identical, to the last."""
    dur = 120.0
    x = _signals(dur, 72.0, 13.0, seed=5)
    outlets, engine = _three_streams(source_id, tmp_path, stall_s=0.3)

    def held(m: str, t: float) -> float | None:
        # EDA's samples wait in the device for 15 s (sent late), and from 100 s on (never)
        return None if m == "eda" and (40.0 <= t < 55.0 or t >= 100.0) else t

    with engine:
        _send(outlets, x, dur, 5.0, held)
        live = _drain_until(engine, dur - 1.0, 30.0)
    live += engine.drain_frames()  # and what the session's finish at the stop delivered
    rec = read_recording(tmp_path / "s.xdf")
    assert rec.session is not None and len(rec.session["masks"]["eda"]) == 2
    assert rec.session["masks"]["eda"][-1][1] is None  # never came back
    assert not engine.gaps_filled  # the backlog came late, but whole: no gap
    q = np.array([f.features["quality_eda"] for f in live])
    t = np.array([f.time_s for f in live])
    assert q[(t > 45.0) & (t < 52.0)].max() == 0.0  # fused without EDA while it was lost
    cfg, base, _ = recorded_setup(rec.session, None, None)
    res, _ = run_recording(rec, cfg, base)
    # every frame, the last ones too (here no stream lags at the stop; the next test has one)
    assert assert_same_frames(live, res.frames, "live vs recording") == len(live)
    assert [f.index for f in live] == [f.index for f in res.frames]


@pytest.mark.lsl
@pytest.mark.timeout(90)
def test_a_live_session_stopped_while_a_stream_lags_ends_as_its_recording_analysed(
    tmp_path, source_id
):
    """EDA's device sends 2 s behind the others all along (lagging, not lost). When the engine
    stops, the frames of those last 2 s are delivered by ECG and breathing only: the live
    engine finishes its session at the stop, as the analysis does at the recording's end, so
    it publishes those frames too, and live and recording agree to the last frame."""
    dur, lag, speed = 40.0, 2.0, 8.0
    x = _signals(dur, 66.0, 12.0, seed=9)
    outlets, engine = _three_streams(source_id, tmp_path, stall_s=5.0)
    with engine:
        _send(outlets, x, dur, speed, lambda m, t: t - lag if m == "eda" else t)
        live = _drain_until(engine, dur - lag - 1.0, 30.0)
        time.sleep(0.5)  # the engine pulls the last samples sent
    live += engine.drain_frames()
    t_live = np.array([f.time_s for f in live])
    # frames past EDA's last sample: fused at the stop without it (it had not delivered them)
    assert t_live.max() > dur - lag + 1.0, t_live.max()
    rec = read_recording(tmp_path / "s.xdf")
    cfg, base, _ = recorded_setup(rec.session, None, None)
    res, _ = run_recording(rec, cfg, base)
    assert [f.index for f in live] == [f.index for f in res.frames]
    assert assert_same_frames(live, res.frames, "live vs recording") == len(live)


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"event": "origin", "lsl_time": 10**400}, "lsl_time 1000.* is beyond the range"),
        ({"event": "stream_start", "modality": "ecg", "t0": 10**400}, "t0 .* is beyond the"),
        ({"event": "calibrate", "start_s": 10**400, "end_s": 1.0}, "start_s .* is beyond the"),
        ({"event": "gap", "modality": "ecg", "after": 1, "n": 2, "t": -(10**400)}, "t .* beyond"),
    ],
)
def test_a_whole_number_beyond_a_float_in_a_session_record_is_rejected_not_raised(record, says):
    """JSON has no limit on the digits of a whole number; ``float()`` of one beyond a float's
    range raises OverflowError, which the readers did not expect (found by tests/test_fuzz.py)."""
    with pytest.raises(ValueError, match=says):
        sl.decode(json.dumps(record))
    dropped: list[str] = []
    engine = {"event": "engine", "baseline_window": [0, 10**400]}
    ev = sl.decode(json.dumps(engine), dropped)  # an optional field: left out, said
    assert isinstance(ev, sl.EngineStart) and ev.baseline_window is None
    assert "baseline_window [0, 1000" in dropped[0] and "left out" in dropped[0]
