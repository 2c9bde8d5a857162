"""Two people in one session: a client and a therapist simulated at once, each with ECG, EDA
and RESP on their own streams, run by one engine, recorded in one file and analysed back per
person."""

from __future__ import annotations

import time

import numpy as np
import pytest
from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

from _synth import assert_same_frames
from wot_biofeedback.analysis import analyze_path
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.errors import InputError
from wot_biofeedback.offline import recorded_setup, run_recording
from wot_biofeedback.recorder import SessionRecorder
from wot_biofeedback.session import Session, check_subject
from wot_biofeedback.sources import xdf
from wot_biofeedback.sources.files import read_recording
from wot_biofeedback.sources.lsl import LslSource, resolve

PEOPLE = {"client": "stress-and-recovery", "therapist": "calm"}
MIN_AGREEMENT = 0.8


@pytest.mark.slow
@pytest.mark.lsl
@pytest.mark.timeout(180)
def test_two_simulated_people_run_recorded_and_analysed_per_person(tmp_path, source_id):
    dur, speed = 600.0, 20.0
    sims = {
        who: simulate_session(load_scenario(scen), SimConfig(seed=7 + i), dur)
        for i, (who, scen) in enumerate(PEOPLE.items())
    }
    pubs = [
        SimulatorPublisher(sims[who], source_id=f"{source_id}-{who}",
                           name_prefix=f"{source_id}-{who}", speed=speed, subject=who,
                           wait_for_consumers=20.0)
        for who in PEOPLE
    ]  # fmt: skip
    for p in pubs:
        p.start()
    try:
        sources = {
            # the client's streams by source_id, the therapist's by their desc/subject field
            "client": {
                m: LslSource(m, resolve(m.upper(), source_id=f"{source_id}-client-{m}"))
                for m in ("ecg", "eda", "resp")
            },
            "therapist": {
                m: LslSource(m, resolve(m.upper(), name=f"{source_id}-therapist-{m.upper()}",
                                        subject="therapist"))
                for m in ("ecg", "eda", "resp")
            },
        }  # fmt: skip
        cfg = EngineConfig()
        recorder = SessionRecorder(tmp_path / "two.xdf", {"client": "pair"}, flush_s=0.2)
        engine = Engine(sources, cfg, outlets_source_id=None, recorder=recorder)
        with engine:
            deadline = time.monotonic() + dur / speed + 60
            while engine.snapshot().session_s < dur - 2:
                assert time.monotonic() < deadline, engine.snapshot().session_s
                time.sleep(0.1)
            assert engine.snapshot().error is None
        live = {who: engine.drain_frames(who) for who in PEOPLE}
    finally:
        for p in pubs:
            p.stop()
    # each person's zones follow their own script
    for who, scen in PEOPLE.items():
        frames = live[who]
        agree = load_scenario(scen).agreement(
            [f.time_s for f in frames], [f.state.zone for f in frames],
            cfg.calibration.duration_s,
        )  # fmt: skip
        print(f"{who} ({scen}): live agreement {agree}")
        assert agree and all(v >= MIN_AGREEMENT for v in agree.values()), (who, agree)
    assert any(f.state.zone == "hyper" for f in live["client"])
    assert not any(f.state.zone in ("hyper", "hypo") for f in live["therapist"])
    # one file: every person's raw streams carry their subject, and the session log names both
    f = xdf.read_xdf(tmp_path / "two.xdf")
    subjects = {s.text("desc/wot/subject") for s in f.streams if s.text("desc/wot/modality")}
    assert subjects == set(PEOPLE)
    assert {"wot-features-client", "wot-features-therapist"} <= {s.name for s in f.streams}
    # analysed back per person: frame for frame what the engine decided live
    for who in PEOPLE:
        rec = read_recording(tmp_path / "two.xdf", subject=who)
        assert rec.subject == who and rec.subjects == list(PEOPLE)
        cfg2, base, _ = recorded_setup(rec.session or {}, None, None)
        res, _ = run_recording(rec, cfg2, base)
        assert assert_same_frames(live[who], res.frames) >= len(live[who]) - 4
    # and through the use case the CLI calls: one folder per person
    out = analyze_path(tmp_path / "two.xdf", tmp_path / "out")
    assert set(out.subjects) == set(PEOPLE)
    for who in PEOPLE:
        assert (tmp_path / "out" / who / "features.csv").exists()
        assert out.subjects[who].recording.subject == who


def test_a_session_routes_each_subject_to_its_own_pipeline():
    rng = np.random.default_rng(3)
    from wot_biofeedback.clock import Chunk

    s = Session({"client": {"eda": 32.0}, "therapist": {"eda": 32.0}})
    a = 5.0 + rng.normal(0, 0.01, 3200)
    b = 1.0 + rng.normal(0, 0.01, 3200)
    out = s.step(
        [
            Chunk("client", "eda", a, 100.0 + np.arange(a.size) / 32.0),
            Chunk("therapist", "eda", b, 100.0 + np.arange(b.size) / 32.0),
        ]
    )
    scl = {who: np.nanmedian([f.features["scl_us"] for f in fr]) for who, fr in out.frames.items()}
    assert scl["client"] == pytest.approx(5.0, abs=0.1)
    assert scl["therapist"] == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="unknown subject 'visitor'"):
        s.step([Chunk("visitor", "eda", a[:10], np.arange(10) / 32.0)])


@pytest.mark.parametrize("bad", ["", "1st", "a b", "x" * 40, "thé/rapist"])
def test_subject_ids_are_checked(bad):
    with pytest.raises(ValueError, match="subject id"):
        check_subject(bad)


def test_a_csv_with_two_people_reads_per_person_by_prefix(tmp_path):
    t = np.arange(0, 60, 1 / 50)
    rows = np.column_stack([t, np.sin(t), np.cos(t), 2 + 0 * t, 6 + 0 * t])
    p = tmp_path / "pair.csv"
    np.savetxt(p, rows, delimiter=",", header="time_s,client_resp,therapist_resp,"
               "client_eda,therapist_eda", comments="")  # fmt: skip
    rec = read_recording(p, subject="therapist")
    assert rec.subject == "therapist"
    assert rec.signals["resp"].name == "therapist_resp"
    assert rec.signals["eda"].name == "therapist_eda"
    assert read_recording(p, subject="client").signals["eda"].name == "client_eda"
    with pytest.raises(InputError, match="of subject 'visitor'"):
        read_recording(p, subject="visitor")


def test_the_simulator_in_process_gives_the_same_frames_as_the_file_path():
    """Two simulated people straight into the run loop (no LSL): each person's frames equal
    those of their signals analysed as a recording, and follow their own script."""
    from wot_simulators import SimulatedSource

    from wot_biofeedback.run import Collector, run
    from wot_biofeedback.sources.files import Recording, Signal

    sims = {
        who: simulate_session(load_scenario(scen), SimConfig(seed=3 + i), 480.0)
        for i, (who, scen) in enumerate(PEOPLE.items())
    }
    src = SimulatedSource(sims, chunk_s=0.7)
    session = Session(src.rates())
    got = Collector()
    run(src, session, [got])
    for who, sim in sims.items():
        rec = Recording(
            who, {m: Signal(sim.signal(m), sim.fs(m), m) for m in ("ecg", "eda", "resp")}
        )
        res, _ = run_recording(rec)
        n = assert_same_frames(got.subjects[who].frames, res.frames)
        assert n == len(res.frames) >= 1900
        agree = load_scenario(PEOPLE[who]).agreement(
            [f.time_s for f in res.frames], [f.state.zone for f in res.frames], 120.0
        )
        assert all(v >= MIN_AGREEMENT for v in agree.values()), (who, agree)
