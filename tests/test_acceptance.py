"""Issue acceptance: the engine recovers the scripted zones of the simulated full session.

Agreement is scored per zone on frames after the calibration period, excluding 30 s after each
scripted transition (physiology and the 30-60 s feature windows need that long to follow).
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import numpy as np
import pytest
from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.dsp import warm_up
from wot_biofeedback.engine import Engine
from wot_biofeedback.offline import run_recording
from wot_biofeedback.sources.files import Recording, Signal
from wot_biofeedback.sources.lsl import LslSource, resolve

GUARD_S = 30.0


def zone_agreement(times, zones, scenario, calib_s: float) -> dict[str, float]:
    return scenario.agreement(times, zones, calib_s, GUARD_S)


SCENARIOS = ("calm", "stress-and-recovery", "shutdown", "full-session")
MIN_AGREEMENT = 0.95
WOT = [sys.executable, "-m", "wot_biofeedback.cli"]


def _simulate_and_analyze(tmp_path, scenario: str, seed: int, *extra: str):
    sim = [*WOT, "simulate", "--scenario", scenario, "--seed", str(seed)]
    csv_path = tmp_path / f"{scenario}.csv"
    out = tmp_path / "out"
    r = subprocess.run(
        [*sim, "--out", str(csv_path), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert csv_path.read_text().split("\n", 1)[0] == "time_s,ecg,eda,resp,zone"
    r = subprocess.run(
        [*WOT, "analyze", str(csv_path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    st = np.genfromtxt(out / "states.csv", delimiter=",", names=True, dtype=None, encoding=None)
    feats = np.genfromtxt(
        out / "features.csv", delimiter=",", names=True, dtype=None, encoding=None
    )
    return st, feats


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simulate_csv_then_analyze_recovers_every_scenario(tmp_path, scenario):
    scen = load_scenario(scenario)
    st, feats = _simulate_and_analyze(tmp_path, scenario, 1)
    agree = zone_agreement(st["time_s"], st["state"], scen, 120.0)
    print(f"{scenario}: CSV -> analyze agreement {agree}")
    assert set(agree) == {seg.zone for seg in scen.segments}
    assert all(v >= MIN_AGREEMENT for v in agree.values()), agree
    # offline, the calibration period is scored in retrospect against the baseline
    early = st["time_s"] < 120.0
    settled = early & (st["time_s"] >= 30.0)  # features need their first beats, breaths, SCRs
    assert np.mean(st["state"][settled] != "unknown") > 0.98
    assert all(str(e).strip('"').endswith("(scored after calibration)") for e in
               feats["explanation"][early])  # fmt: skip
    # interpretability: every non-within state names its drivers, and each driver's z-score
    # (signed towards arousal) points the way of the zone
    assert np.array_equal(st["state"], feats["state"])
    for zone, sign in (("hyper", 1.0), ("hypo", -1.0)):
        rows = np.flatnonzero(feats["state"] == zone)
        for i in rows:
            text = str(feats["drivers"][i])
            assert len(text) > 3, (zone, feats["time_s"][i])
            assert str(feats["explanation"][i]).strip('"').startswith(f"{zone}: ")
        if rows.size:
            zcols = [c for c in feats.dtype.names if c.startswith("z_")]
            zmean = np.array([np.nanmean(feats[c][rows]) for c in zcols])
            assert np.nanmax(sign * zmean) > 1.0, dict(zip(zcols, zmean.round(2), strict=True))
    if scenario in ("shutdown", "full-session"):
        # the shutdown signature, as simulated: heart, skin and breath all below baseline
        hypo = feats["state"] == "hypo"
        for c in ("z_hr_bpm", "z_resp_rate_bpm", "z_resp_depth"):
            assert np.nanmedian(feats[c][hypo]) < -0.5, c


def test_calm_with_artifacts_raises_no_alarm(tmp_path):
    """20 % of a calm session corrupted (electrode pops, contact loss, lead-off, ECG noise, belt
    motion): never hyper or hypo; unknown where the signal is bad."""
    for seed in (0, 5):
        st, _ = _simulate_and_analyze(tmp_path, "calm", seed, "--artifacts", "0.2")
        zones = st["state"][st["time_s"] >= 120.0]
        frac = {z: float(np.mean(zones == z)) for z in ("hyper", "within", "hypo", "unknown")}
        print(f"calm + 20 % artifacts, seed {seed}: {frac}")
        assert frac["hyper"] == 0.0 and frac["hypo"] == 0.0, frac
        assert frac["unknown"] > 0.0  # the corrupted stretches are flagged, not ignored
        assert frac["within"] > 0.8


@pytest.mark.slow
@pytest.mark.lsl
@pytest.mark.timeout(240)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_live_lsl_engine_recovers_every_scenario(source_id, scenario):
    scen = load_scenario(scenario)
    sess = simulate_session(scen, SimConfig(seed=1))
    speed = 30.0  # 600-900 s of session in 20-30 s
    # kernels compiled first, and playback waiting for the engine's inlets: a cold cache under
    # load otherwise starts the session late, inside the scenario (it failed so once)
    warm_up()
    with SimulatorPublisher(sess, source_id=source_id, name_prefix=source_id, speed=speed,
                            wait_for_consumers=30.0) as pub:  # fmt: skip
        sources = {
            m: LslSource(m, resolve(t, source_id=f"{source_id}-{m}", timeout=10.0))
            for m, t in (("ecg", "ECG"), ("eda", "EDA"), ("resp", "RESP"))
        }
        cfg = EngineConfig()
        with Engine(sources, cfg, outlets_source_id=None) as engine:
            assert pub.wait_finished(timeout=sess.duration_s / speed + 60)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and engine.snapshot().session_s < sess.duration_s - 3:
                time.sleep(0.1)
            snap = engine.snapshot()
            assert snap.error is None, snap.error
        frames = engine.drain_frames()
    agree = zone_agreement(
        [f.time_s for f in frames], [f.state.zone for f in frames], scen, cfg.calibration.duration_s
    )
    print(f"{scenario}: live LSL agreement {agree}, overruns {snap.overruns}")
    assert set(agree) == {seg.zone for seg in scen.segments}
    assert all(v >= MIN_AGREEMENT for v in agree.values()), agree


def _recording(sess, modalities, eda=None):
    sig = {m: Signal(sess.signal(m), sess.fs(m), m) for m in modalities}
    if eda is not None:
        sig["eda"] = Signal(eda, sess.fs("eda"), "eda")
    return Recording("simulated", sig)


@pytest.mark.parametrize(
    ("modalities", "hypo_expected"),
    [
        (("ecg",), True),
        (("ecg", "resp"), True),
        (("eda", "resp"), True),
        (("resp",), True),
        (("eda",), False),
    ],
)
def test_any_subset_of_modalities_works_with_falling_confidence(modalities, hypo_expected):
    """A missing modality is not measured, not "lost": the others give the zones, with a
    confidence equal to their share of the configured weight. Skin conductance alone cannot
    show hypoarousal (SCRs are rare at rest and cannot fall far), so it never claims it."""
    scen = load_scenario("full-session")
    sess = simulate_session(scen, SimConfig(seed=1))
    res, pipe = run_recording(_recording(sess, modalities))
    assert "not enough good signal" not in pipe.state.message
    t = np.array([f.time_s for f in res.frames])
    zones = [f.state.zone for f in res.frames]
    agree = zone_agreement(t, zones, scen, 120.0)
    conf = np.median([f.state.confidence for f in res.frames if f.time_s >= 120.0])
    cfg = pipe.config
    share = sum(
        s.weight for s in cfg.features.values() if s.quality.removeprefix("quality_") in modalities
    ) / sum(s.weight for s in cfg.features.values())
    print(modalities, agree, f"confidence {conf:.2f}")
    assert conf == pytest.approx(share, abs=0.05) and conf < 0.8
    assert agree["hyper"] >= 0.85 and agree["within"] >= 0.75
    if hypo_expected:
        assert agree["hypo"] >= 0.9
    else:
        assert "hypo" not in zones


def test_modality_that_drops_out_and_returns():
    """Skin conductance lost for 80 s inside the stressor (a file gap: NaN): the zone goes on
    from heart and breath with lower confidence and no EDA driver, and the EDA features and the
    full confidence come back once the signal does."""
    scen = load_scenario("full-session")
    sess = simulate_session(scen, SimConfig(seed=1))
    eda = sess.eda.copy()
    fs = sess.fs("eda")
    eda[int(250 * fs) : int(330 * fs)] = np.nan
    res, _ = run_recording(_recording(sess, ("ecg", "resp"), eda))
    t = np.array([f.time_s for f in res.frames])
    by = {name: [f for f, keep in zip(res.frames, m, strict=True) if keep] for name, m in
          (("before", (t >= 220) & (t < 250)), ("during", (t >= 252) & (t < 330)),
           ("after", (t >= 345) & (t < 360)))}  # fmt: skip
    assert all(f.features["quality_eda"] == 0.0 for f in by["during"])
    assert all(not any(k.startswith("sc") for k in f.state.z) for f in by["during"])
    assert all(f.state.zone == "hyper" for f in by["during"])  # heart and breath carry it
    assert max(f.state.confidence for f in by["during"]) < 0.75
    assert min(f.state.confidence for f in by["before"]) > 0.95
    # back: EDA quality and features, and the full confidence
    assert all(f.features["quality_eda"] >= 0.5 for f in by["after"])
    assert all("scl_rel" in f.state.z for f in by["after"])
    assert min(f.state.confidence for f in by["after"]) > 0.95
    agree = zone_agreement(t, [f.state.zone for f in res.frames], scen, 120.0)
    assert all(v >= MIN_AGREEMENT for v in agree.values()), agree


def _drive_segments(wot_data, baseline):
    path = wot_data / "drivedb" / "segments.csv"
    if not (wot_data / "drivedb" / "drive05.hea").exists() or not path.exists():
        pytest.skip(f"drivedb/drive05 or its segments.csv not found under {wot_data}")
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["drive"] == "drive05"]

    def masks(t):
        out = {}
        for r in rows:
            m = (t >= float(r["start_s"])) & (t < float(r["end_s"]))
            if r["segment"].startswith("Rest"):
                m &= ~((t >= baseline[0]) & (t < baseline[1]))
            kind = r["segment"].rstrip("0123456789")
            out[kind] = out.get(kind, np.zeros(t.size, bool)) | m
        return out

    return masks


def _check_drive(t, zones, arousal, masks, label):
    kinds = masks(t)
    city = float(np.mean(zones[kinds["City"]] == "hyper"))
    rest = float(np.mean(np.isin(zones[kinds["Rest"]], ["within", "hypo"])))
    mean = {k: float(np.nanmean(arousal[m])) for k, m in kinds.items()}
    print(f"{label}: City hyper {city:.3f}, Rest within/hypo {rest:.3f}, mean arousal {mean}")
    assert city >= 0.6
    assert rest >= 0.8
    assert mean["City"] > mean["Highway"] > mean["Rest"]


def test_real_stress_drive05_through_wot_analyze(wot_data, tmp_path):
    """PhysioNet drivedb drive05 (Healey & Picard 2005) with ECG, foot GSR and RESP and a 5-min
    baseline inside Rest1: City mostly hyper, the rest of Rest within or hypo, and the mean
    arousal orders City > Highway > Rest."""
    baseline = (100.0, 400.0)
    masks = _drive_segments(wot_data, baseline)
    out = tmp_path / "d5"
    r = subprocess.run(
        [*WOT, "analyze", str(wot_data / "drivedb" / "drive05"), "--out", str(out),
         "--ecg", "ECG", "--eda", "foot GSR", "--resp", "RESP", "--baseline", "100:400"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    st = np.genfromtxt(out / "states.csv", delimiter=",", names=True, dtype=None, encoding=None)
    _check_drive(st["time_s"], st["state"], st["arousal"], masks, "drive05")


@pytest.mark.parametrize("end_factor", [0.3])
def test_real_stress_survives_foot_gsr_drifting_down(wot_data, end_factor):
    """The same recording with the foot GSR scaled down steadily to 30 % by the end (an
    electrode drying out or a foot cooling): the engine must not lean on the tonic level."""
    from wot_biofeedback.offline import score_before_baseline
    from wot_biofeedback.sources.files import read_recording

    baseline = (100.0, 400.0)
    masks = _drive_segments(wot_data, baseline)
    rec = read_recording(
        wot_data / "drivedb" / "drive05", {"ecg": "ECG", "eda": "foot GSR", "resp": "RESP"}
    )
    eda = rec.signals["eda"]
    eda.data = eda.data * np.linspace(1.0, end_factor, eda.data.size)
    res, pipe = run_recording(rec, EngineConfig(), baseline)
    score_before_baseline(res, pipe)
    t = np.array([f.time_s for f in res.frames])
    zones = np.array([f.state.zone for f in res.frames])
    arousal = np.array([f.state.arousal for f in res.frames])
    _check_drive(t, zones, arousal, masks, f"drive05, foot GSR x{end_factor} by the end")
