"""State engine: calibration, fused arousal, zones with hysteresis/dwell, unknown, cues."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from wot_biofeedback.config import EngineConfig, load_config
from wot_biofeedback.cues import CuePolicy
from wot_biofeedback.errors import InputError
from wot_biofeedback.state import StateEngine

BASE = {
    "hr_bpm": 70.0,
    "rmssd_ms": 40.0,
    "scl_rel": 0.0,
    "scr_per_min": 2.0,
    "scr_amp_us": 0.15,
    "resp_rate_bpm": 12.0,
    "resp_cv": 0.1,
    "resp_depth": 1.0,
}
GOOD_Q = {"quality_ecg": 1.0, "quality_eda": 1.0, "quality_resp": 1.0}


def frame(rng, **over):
    f = {k: v * (1 + rng.normal(0, 0.02)) for k, v in BASE.items()}
    f.update(GOOD_Q)
    f.update(over)
    return f


def run(engine, rng, t0, t1, **over):
    out = []
    for t in np.arange(t0, t1, 0.25):
        out.append(engine.update(float(t), frame(rng, **over)))
    return out


@pytest.fixture
def engine():
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    return StateEngine(cfg)


def test_calibration_then_within(engine, rng):
    res = run(engine, rng, 0, 60)
    assert all(r.zone == "unknown" for r in res)
    assert "calibrating" in res[0].explanation
    res = run(engine, rng, 60, 120)
    assert engine.baseline is not None
    assert engine.baseline.raw_median["hr_bpm"] == pytest.approx(70, abs=1)
    assert all(r.zone == "within" for r in res[20:])
    assert abs(np.nanmean([r.arousal for r in res])) < 0.3


def test_hyper_with_drivers_and_hysteresis(engine, rng):
    run(engine, rng, 0, 90)
    res = run(engine, rng, 90, 150, hr_bpm=92.0, scr_per_min=8.0, resp_rate_bpm=20.0, rmssd_ms=18.0)
    zones = [r.zone for r in res]
    first = zones.index("hyper")
    assert first * 0.25 <= 12.0  # smoothing + confirm, not a minute
    assert all(z == "hyper" for z in zones[first:])
    last = res[-1]
    assert last.explanation.startswith("hyper: ")
    texts = " ".join(d[2] for d in last.drivers)
    assert "HR +22 bpm" in texts or "SCR rate ×4.0" in texts or "breathing 20/min" in texts
    assert last.confidence > 0.9
    # slightly below the upper bound but inside the hysteresis: stays hyper
    res = run(engine, rng, 150, 170, hr_bpm=79.0, scr_per_min=6.5, resp_rate_bpm=16.5)  # ~1.29
    assert res[-1].zone == "hyper"
    res = run(engine, rng, 170, 220)
    assert res[-1].zone == "within"


def test_hypo_needs_signature(engine, rng):
    run(engine, rng, 0, 90)
    # HR, SCR and breathing all down: hypo
    res = run(engine, rng, 90, 150, hr_bpm=58.0, scr_per_min=0.2, resp_rate_bpm=8.0)
    assert res[-1].zone == "hypo"
    assert "hypo: " in res[-1].explanation
    eng2 = StateEngine(engine.cfg)
    run(eng2, rng, 0, 90)
    # a strongly low index from one feature (RMSSD up) with nothing else: not hypo
    res = run(eng2, rng, 90, 150, rmssd_ms=200.0, scl_rel=math.log(3.0 / 5.0))
    assert all(r.zone != "hypo" for r in res)


def test_hypo_signature_uses_shallow_breathing_not_paced_breathing(engine, rng):
    run(engine, rng, 0, 90)
    # heart slows and breathing turns shallow (rate unchanged): shutdown signs, hypo
    res = run(engine, rng, 90, 150, hr_bpm=58.0, resp_depth=0.4, scr_per_min=1.8)
    assert res[-1].zone == "hypo", res[-1].explanation
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    cfg.zones.lower = -1.0
    cfg.zones.fusion = "mean"  # the plain mean lets two features pull the index this low
    eng2 = StateEngine(cfg)
    run(eng2, rng, 0, 90)
    # slow *deep* breathing (following a 6/min pacer) with a calmer heart: regulation, not
    # shutdown, so the breathing sign does not count and one sign is not a signature
    res = run(eng2, rng, 90, 150, hr_bpm=58.0, resp_rate_bpm=6.0, resp_depth=1.8)
    assert all(r.zone != "hypo" for r in res)
    assert res[-1].arousal < cfg.zones.lower  # the index is low: only the signature says no


def test_fast_shallow_breathing_is_not_shutdown(rng):
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    eng = StateEngine(cfg, modalities=("resp",))
    base = {"resp_rate_bpm": 12.0, "resp_cv": 0.1, "resp_depth": 1.0, "quality_resp": 1.0}
    for t in np.arange(0, 90, 0.25):
        eng.update(t, {k: v * (1 + rng.normal(0, 0.02)) for k, v in base.items()})
    zones = []
    for t in np.arange(90, 150, 0.25):  # panic breathing: fast, shallow, irregular
        r = eng.update(t, {**base, "resp_rate_bpm": 24.0, "resp_depth": 0.5, "resp_cv": 0.3})
        zones.append(r.zone)
    assert "hypo" not in zones and zones[-1] == "hyper"
    for t in np.arange(150, 230, 0.25):  # slow and shallow: the breathing sign of shutdown
        r = eng.update(t, {**base, "resp_rate_bpm": 7.0, "resp_depth": 0.5, "resp_cv": 0.05})
    assert r.zone == "hypo", r.explanation


def test_skin_sign_left_out_when_baseline_had_few_scrs(rng):
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    cfg.zones.fusion, cfg.zones.lower = "mean", -0.5  # the index alone would allow hypo
    eng = StateEngine(cfg)
    run(eng, rng, 0, 90, scr_per_min=1.0)
    # heart down, breath normal, no SCR: with 1 SCR/min at rest, none is no evidence (a
    # minute's count cannot tell), so one sign of two is not a signature
    res = run(eng, rng, 90, 150, hr_bpm=50.0, scr_per_min=0.0)
    assert res[-1].arousal < cfg.zones.lower
    assert all(r.zone != "hypo" for r in res)
    # the same with 4 SCR/min at rest: falling to none is a sign, and heart + skin is hypo
    eng = StateEngine(cfg)
    run(eng, rng, 0, 90, scr_per_min=4.0)
    res = run(eng, rng, 90, 150, hr_bpm=50.0, scr_per_min=0.0)
    assert res[-1].zone == "hypo", res[-1].explanation


def test_no_scrs_at_rest_leaves_scr_amplitude_out(rng):
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    eng = StateEngine(cfg)
    run(eng, rng, 0, 90, scr_per_min=0.0, scr_amp_us=0.0)
    assert "scr_amp_us" not in eng.baseline.median
    assert "SCR amplitude not used" in eng.message
    # later SCRs do not make the confidence wobble: the feature is out for this session
    a = run(eng, rng, 90, 100, scr_per_min=0.0, scr_amp_us=0.0)[-1]
    b = run(eng, rng, 100, 110, scr_per_min=1.0, scr_amp_us=0.3)[-1]
    assert a.confidence == b.confidence == pytest.approx(1.0)


def test_skin_alone_never_gives_hypo(rng):
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    eng = StateEngine(cfg, modalities=("eda",))
    base = {"scl_rel": 0.0, "scr_per_min": 4.0, "scr_amp_us": 0.2, "quality_eda": 1.0}
    for t in np.arange(0, 90, 0.25):
        eng.update(t, {**base, "scr_per_min": 4.0 + rng.normal(0, 0.3)})
    res = [
        eng.update(t, {**base, "scr_per_min": 0.0, "scr_amp_us": 0.0, "scl_rel": -0.3})
        for t in np.arange(90, 200, 0.25)
    ]
    assert res[-1].arousal < cfg.zones.lower  # flat skin: a low index ...
    assert all(r.zone != "hypo" for r in res)  # ... but habituation as often as shutdown


def test_scr_amplitude_abstains_without_scrs(engine, rng):
    run(engine, rng, 0, 90)
    with_scr = run(engine, rng, 90, 100)[-1]
    # a minute without SCRs: amplitude 0 has nothing to say; the quality gate and the
    # confidence do not count it as lost signal
    none = run(engine, rng, 100, 110, scr_per_min=0.0, scr_amp_us=0.0)[-1]
    assert "scr_amp_us" in with_scr.z and "scr_amp_us" not in none.z
    assert none.zone == "within" and none.confidence == pytest.approx(1.0)
    # but a zero at bad quality is lost signal, not an abstention
    bad = run(engine, rng, 110, 120, scr_per_min=0.0, scr_amp_us=0.0, quality_eda=0.1)[-1]
    assert bad.confidence < 0.9


def test_detached_sensor_gives_unknown_not_alarm(engine, rng):
    run(engine, rng, 0, 90)
    # EDA and RESP lost (quality 0) while their values go wild
    res = run(
        engine,
        rng,
        90,
        120,
        scl_rel=-6.0,
        scr_per_min=30.0,
        resp_rate_bpm=40.0,
        quality_eda=0.0,
        quality_resp=0.0,
        quality_ecg=0.0,
    )
    assert all(r.zone in ("within", "unknown") for r in res)
    assert res[-1].zone == "unknown"
    assert "ECG" in res[-1].explanation
    # only EDA lost: the engine keeps classifying from ECG+RESP and ignores the bad EDA values
    res = run(engine, rng, 120, 160, scr_per_min=30.0, quality_eda=0.0)
    assert res[-1].zone == "within"
    assert res[-1].confidence < 0.75


def test_min_dwell_prevents_flicker(engine, rng):
    run(engine, rng, 0, 90)
    zones = []
    for k in range(16):  # alternate 4 s hyper bursts and 4 s calm
        over = {"hr_bpm": 95.0, "scr_per_min": 9.0, "resp_rate_bpm": 22.0} if k % 2 == 0 else {}
        zones += [r.zone for r in run(engine, rng, 90 + 4 * k, 94 + 4 * k, **over)]
    changes = sum(1 for a, b in itertools.pairwise(zones) if a != b)
    assert changes <= 64 / engine.cfg.zones.min_dwell_s + 1


def test_ecg_only_session_works_with_lower_confidence(rng):
    cfg = EngineConfig()
    cfg.calibration.duration_s = 60.0
    eng = StateEngine(cfg, modalities=("ecg",))
    only = {"quality_ecg": 1.0}

    for t in np.arange(0, 90, 0.25):
        r = eng.update(t, {"hr_bpm": 70 + rng.normal(0, 1), "rmssd_ms": 40.0, **only})
    assert r.zone == "within"
    assert "not enough" not in eng.message  # absent modalities are not "missing"
    for t in np.arange(90, 130, 0.25):
        r = eng.update(t, {"hr_bpm": 95.0, "rmssd_ms": 15.0, **only})
    assert r.zone == "hyper"
    assert 0.3 < r.confidence < 0.5


def test_failed_calibration_says_so(rng):
    cfg = EngineConfig()
    cfg.calibration.duration_s = 30.0
    eng = StateEngine(cfg)
    for t in np.arange(0, 40, 0.25):
        r = eng.update(t, {"hr_bpm": math.nan, "quality_ecg": 0.0})
    assert r.zone == "unknown"
    assert "calibration failed" in r.explanation


def test_cue_policy_rate_limits_and_logs():
    pol = CuePolicy()
    assert pol.update(0.0, "unknown") is None
    c = pol.update(1.0, "hyper")
    assert c is not None and c.kind == "down-regulate" and c.pacer["rate_bpm"] == 6.0
    assert c.pacer["inhale_ratio"] < 0.5  # exhale longer than inhale
    assert pol.update(2.0, "within") is None  # too soon after the last cue
    assert pol.update(50.0, "hypo").kind == "up-regulate"
    assert pol.update(60.0, "hypo") is None
    assert pol.update(141.0, "hypo") is not None  # repeated while still out of the window
    pol.muted = True
    assert pol.update(300.0, "hyper") is None
    manual = pol.send_now(301.0, "hyper", "Let's pause here.")
    assert manual.source == "therapist" and manual.text == "Let's pause here."
    assert [c.zone for c in pol.log] == ["hyper", "hypo", "hypo", "hyper"]


def test_config_file_overrides_and_rejects_typos(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[zones]\nupper = 1.5\n[features.hr_bpm]\nweight = 2\n")
    cfg = load_config(p)
    assert cfg.zones.upper == 1.5 and cfg.features["hr_bpm"].weight == 2.0
    p.write_text("[zones]\nuper = 1.5\n")
    with pytest.raises(InputError, match="uper"):
        load_config(p)
    p.write_text("[zones\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(p)
