"""The physiological session simulator: scenarios, physiology targets, CSV and LSL publishing."""

from __future__ import annotations

import json
import math
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pylsl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wot_simulators import (
    Scenario,
    Segment,
    SimConfig,
    SimulatedSession,
    SimulatorPublisher,
    StartClock,
    list_scenarios,
    load_scenario,
    simulate_session,
    simulate_to_csv,
)
from wot_simulators.physiology import write_csv

SHIPPED = {"calm": 600.0, "stress-and-recovery": 600.0, "shutdown": 600.0, "full-session": 900.0}
# mid-segment windows of full-session (s), clear of the 8 s transitions
WIN = {"baseline": (30.0, 175.0), "hyper": (200.0, 355.0), "hypo": (560.0, 715.0)}


@pytest.fixture(scope="module")
def full() -> SimulatedSession:
    return simulate_session(load_scenario("full-session"), SimConfig(seed=1))


def _in(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return x[(x >= lo) & (x < hi)]


def hr_bpm(beats: np.ndarray, lo: float, hi: float) -> float:
    return float(60.0 / np.diff(_in(beats, lo, hi)).mean())


def rmssd_ms(beats: np.ndarray, lo: float, hi: float) -> float:
    rr = np.diff(_in(beats, lo, hi)) * 1000.0
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)))


def rate_per_min(onsets: np.ndarray, lo: float, hi: float) -> float:
    return float(60.0 / np.diff(_in(onsets, lo, hi)).mean())


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "scen.toml"
    p.write_text(body, encoding="utf-8")
    return p


# scenarios --------------------------------------------------------------------------------
def test_every_shipped_scenario_loads_with_its_duration() -> None:
    assert set(SHIPPED) <= set(list_scenarios())
    for name, dur in SHIPPED.items():
        sc = load_scenario(name)
        assert sc.name == name
        assert sc.description
        assert sc.duration_s == pytest.approx(dur)


def test_full_session_segments_and_zone_at() -> None:
    sc = load_scenario("full-session")
    assert [(s.zone, s.level, s.duration_s) for s in sc.segments] == [
        ("within", 0.0, 180.0),
        ("hyper", 0.8, 180.0),
        ("within", 0.0, 180.0),
        ("hypo", 0.8, 180.0),
        ("within", 0.0, 180.0),
    ]
    assert [(a, b) for a, b, _ in sc.segment_bounds()] == [
        (0.0, 180.0),
        (180.0, 360.0),
        (360.0, 540.0),
        (540.0, 720.0),
        (720.0, 900.0),
    ]
    z = sc.zone_at(np.array([0.0, 179.9, 180.0, 359.9, 360.0, 600.0, 720.0, 899.9, 900.0, 5e3]))
    assert z.dtype == np.dtype("<U6")
    assert z.tolist() == [
        "within", "within", "hyper", "hyper", "within", "hypo", "within", "within", "within",
        "within",
    ]  # fmt: skip
    assert load_scenario("shutdown").zone_at(np.array([200.0]))[0] == "hypo"


def test_with_duration_truncates_and_extends() -> None:
    sc = load_scenario("stress-and-recovery")
    cut = sc.with_duration(200.0)
    assert cut.duration_s == pytest.approx(200.0)
    assert [s.duration_s for s in cut.segments] == [180.0, pytest.approx(20.0)]
    longer = sc.with_duration(1000.0)
    assert longer.segments[-1].duration_s == pytest.approx(640.0)
    assert longer.zone_at(np.array([999.0]))[0] == "within"
    with pytest.raises(ValueError, match="-1"):
        sc.with_duration(-1.0)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.5, max_value=2000.0))
def test_with_duration_keeps_the_timeline(d: float) -> None:
    sc = load_scenario("full-session")
    new = sc.with_duration(d)
    assert new.duration_s == pytest.approx(d)
    t = np.linspace(0.0, min(d, sc.duration_s), 97, endpoint=False)
    assert (new.zone_at(t) == sc.zone_at(t)).all()


def test_load_scenario_from_path(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        'name = "mine"\ndescription = "x"\n'
        '[[segment]]\nname = "a"\nzone = "within"\nduration_s = 10\n'
        '[[segment]]\nname = "b"\nzone = "hypo"\nlevel = 0.5\nduration_s = 5.5\n',
    )
    sc = load_scenario(p)
    assert sc.name == "mine"
    assert sc.segments == (Segment("a", "within", 0.0, 10.0), Segment("b", "hypo", 0.5, 5.5))
    assert load_scenario(str(p)) == sc


@pytest.mark.parametrize(
    ("segment", "needle"),
    [
        ('zone = "panic"\nlevel = 0.5\nduration_s = 10', "panic"),
        ('zone = "hyper"\nlevel = 0.5\nduration_s = -5', "-5"),
        ('zone = "hyper"\nlevel = 1.5\nduration_s = 10', "1.5"),
        ('zone = "hypo"\nlevel = -0.2\nduration_s = 10', "-0.2"),
        ('zone = "hyper"\nlevel = "high"\nduration_s = 10', "high"),
    ],
)
def test_bad_segment_values_raise_naming_the_value(
    tmp_path: Path, segment: str, needle: str
) -> None:
    p = _write(tmp_path, f'name = "bad"\n[[segment]]\nname = "s"\n{segment}\n')
    with pytest.raises(ValueError, match=needle):
        load_scenario(p)


def test_empty_unknown_and_broken_scenarios_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segments"):
        load_scenario(_write(tmp_path, 'name = "empty"\n'))
    with pytest.raises(ValueError, match="full-session") as info:
        load_scenario("no-such-scenario")
    assert "no-such-scenario" in str(info.value)
    with pytest.raises(ValueError, match="TOML"):
        load_scenario(_write(tmp_path, "name = \n"))
    with pytest.raises(ValueError, match="does not exist"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="segments"):
        Scenario("x", "", ())


# determinism ------------------------------------------------------------------------------
def _arrays(s: SimulatedSession) -> dict[str, np.ndarray]:
    return {
        "ecg": s.ecg,
        "eda": s.eda,
        "resp": s.resp,
        "beats": s.beat_times_s,
        "scr": s.scr_onsets_s,
        "breaths": s.breath_onsets_s,
        "artifacts": s.artifact_spans_s,
    }


def test_same_seed_is_identical_and_different_seed_is_not() -> None:
    sc = load_scenario("stress-and-recovery")
    cfg = SimConfig(seed=7, artifacts=0.1)
    a, b = _arrays(simulate_session(sc, cfg, 240)), _arrays(simulate_session(sc, cfg, 240))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    c = _arrays(simulate_session(sc, SimConfig(seed=8, artifacts=0.1), 240))
    for k in a:
        assert a[k].shape != c[k].shape or not np.array_equal(a[k], c[k]), k


def test_latent_events_do_not_depend_on_the_sampling_rates() -> None:
    sc = load_scenario("full-session")
    a = simulate_session(sc, SimConfig(seed=3, artifacts=0.2), 300)
    b = simulate_session(
        sc, SimConfig(ecg_fs=500, eda_fs=100, resp_fs=25, seed=3, artifacts=0.2), 300
    )
    assert a.beat_times_s.size > 300
    np.testing.assert_array_equal(a.beat_times_s, b.beat_times_s)
    np.testing.assert_array_equal(a.scr_onsets_s, b.scr_onsets_s)
    np.testing.assert_array_equal(a.breath_onsets_s, b.breath_onsets_s)
    np.testing.assert_array_equal(a.artifact_spans_s, b.artifact_spans_s)
    assert b.ecg.size == 300 * 500 and b.eda.size == 300 * 100 and b.resp.size == 300 * 25


def test_session_shapes_time_and_zone() -> None:
    s = simulate_session(load_scenario("calm"), SimConfig(ecg_fs=128, seed=2), 12.5)
    assert s.duration_s == 12.5
    assert s.ecg.dtype == np.float64 and s.ecg.size == 1600
    assert s.eda.size == 400 and s.resp.size == round(12.5 * 50)
    t = s.time("eda")
    assert t[0] == 0.0 and np.allclose(np.diff(t), 1 / 32)
    assert (s.zone_at(t) == "within").all()
    assert s.artifact_spans_s.shape == (0, 2)
    with pytest.raises(ValueError, match="ppg"):
        s.time("ppg")
    with pytest.raises(ValueError, match=r"0\.7"):
        SimConfig(artifacts=0.7)
    with pytest.raises(ValueError, match="ecg_fs"):
        SimConfig(ecg_fs=0)


# physiology targets -----------------------------------------------------------------------
def test_heart_rate_follows_the_zones(full: SimulatedSession) -> None:
    b = full.beat_times_s
    base, hyper, hypo = (hr_bpm(b, *WIN[k]) for k in ("baseline", "hyper", "hypo"))
    assert 63 <= base <= 77
    assert hyper - base >= 18
    assert hypo - base <= -8
    # the change is in place ~10 s after the scripted boundary
    assert hr_bpm(b, 190.0, 200.0) - hr_bpm(b, 120.0, 180.0) >= 15


def test_rmssd_falls_in_hyper_but_not_in_hypo(full: SimulatedSession) -> None:
    b = full.beat_times_s
    base, hyper, hypo = (rmssd_ms(b, *WIN[k]) for k in ("baseline", "hyper", "hypo"))
    assert 25 <= base <= 55
    assert hyper <= 0.5 * base
    assert hypo >= 0.6 * base  # shutdown is not a vagal-withdrawal state


def test_rsa_is_tied_to_the_breath(full: SimulatedSession) -> None:
    """RR is shorter during inspiration than during expiration, by tens of ms at baseline."""
    b, br = full.beat_times_s, full.breath_onsets_s
    rr, tb = np.diff(b), b[1:]
    k = np.searchsorted(br, tb, side="right") - 1
    ok = (k >= 0) & (k < br.size - 1) & (tb > WIN["baseline"][0]) & (tb < WIN["baseline"][1])
    phase = (tb[ok] - br[k[ok]]) / (br[k[ok] + 1] - br[k[ok]])
    late_insp = rr[ok][(phase > 0.25) & (phase < 0.5)].mean()
    late_exp = rr[ok][phase > 0.8].mean()
    assert late_exp - late_insp > 0.03


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scr_rate_follows_the_zones(seed: int) -> None:
    sc = Scenario(
        "long",
        "",
        (
            Segment("baseline", "within", 0.0, 600),
            Segment("stressor", "hyper", 0.8, 600),
            Segment("shutdown", "hypo", 0.8, 600),
        ),
    )
    s = simulate_session(sc, SimConfig(seed=seed, eda_fs=16))
    on = s.scr_onsets_s
    base, hyper, hypo = (_in(on, lo, lo + 570).size / 9.5 for lo in (30, 630, 1230))  # /min
    assert 1.0 <= base <= 3.5
    assert hyper >= 3 * base
    assert hypo <= 0.5 * base
    assert s.scr_amplitudes_us.min() >= 0.03
    assert np.median(_in(on, 630, 1200)) > 0  # onsets are in session time


def test_eda_level_and_positivity(full: SimulatedSession) -> None:
    t, e = full.time("eda"), full.eda
    assert (e > 0).all()
    base = e[(t >= 120) & (t < 180)].mean()
    assert 3.0 <= base <= 7.0
    assert e[(t >= 300) & (t < 360)].mean() - base >= 1.0  # tonic rise + SCRs in hyper
    pre = e[(t >= 510) & (t < 540)].mean()
    assert e[(t >= 690) & (t < 720)].mean() - pre <= -0.2  # slow fall in hypo


def test_scr_waveform_rises_at_the_truth_onsets() -> None:
    s = simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=4, noise=0.0))
    t, e, on = s.time("eda"), s.eda, s.scr_onsets_s
    amp = s.scr_amplitudes_us
    lone = (np.diff(on, prepend=-np.inf) > 8) & (np.diff(on, append=np.inf) > 3)
    assert lone.sum() >= 5
    for o, a in zip(on[lone], amp[lone], strict=True):
        rise = np.interp(o + 1.5, t, e) - np.interp(o, t, e)
        assert rise >= 0.7 * a


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_breathing_rate_variability_and_depth(seed: int) -> None:
    s = simulate_session(load_scenario("full-session"), SimConfig(seed=seed))
    br = s.breath_onsets_s
    target = {"baseline": 12.0, "hyper": 20.0, "hypo": 8.0}
    cv = {}
    for k, (lo, hi) in WIN.items():
        assert rate_per_min(br, lo, hi) == pytest.approx(target[k], abs=2.0), k
        d = np.diff(_in(br, lo, hi))
        cv[k] = d.std() / d.mean()
    assert cv["hypo"] < cv["baseline"] < cv["hyper"]
    t, r = s.time("resp"), s.resp
    depth = {}
    for k, (lo, hi) in WIN.items():
        on = _in(br, lo, hi)
        depth[k] = np.median([np.ptp(r[(t >= a) & (t < b)]) for a, b in pairwise(on)])
    assert depth["hypo"] < 0.6 * depth["baseline"]  # shallow
    assert depth["hyper"] < 0.95 * depth["baseline"]


def test_breath_onsets_are_respiration_troughs() -> None:
    s = simulate_session(load_scenario("calm"), SimConfig(seed=5, noise=0.0), 120)
    t, r = s.time("resp"), s.resp
    for o in s.breath_onsets_s[1:-1]:
        w = (t >= o - 0.8) & (t <= o + 0.8)
        assert abs(t[w][np.argmin(r[w])] - o) <= 0.1
        # inhalation goes up: the signal rises over the next second
        assert np.interp(o + 1.0, t, r) > np.interp(o, t, r)


@pytest.mark.parametrize("fs", [250.0, 500.0])
def test_ecg_r_peaks_sit_on_the_truth_beats(fs: float) -> None:
    s = simulate_session(
        load_scenario("full-session"), SimConfig(ecg_fs=fs, seed=6, noise=0.0), 400
    )
    x = s.ecg
    beats = s.beat_times_s[(s.beat_times_s > 0.1) & (s.beat_times_s < s.duration_s - 0.1)]
    half = round(0.05 * fs)
    for b in beats:
        c = round(b * fs)
        k = c - half + int(np.argmax(x[c - half : c + half + 1]))
        assert abs(k - b * fs) <= 1.0
    assert 1.0 <= np.median(x[np.round(beats * fs).astype(int)]) <= 1.5  # R ~1.2 mV
    assert s.beat_times_s.size == pytest.approx(400 * 80 / 60, rel=0.2)


def test_artifacts_cover_the_requested_fraction_only_inside_their_spans() -> None:
    sc = load_scenario("calm")
    clean = simulate_session(sc, SimConfig(seed=9), 300)
    dirty = simulate_session(sc, SimConfig(seed=9, artifacts=0.3), 300)
    spans = dirty.artifact_spans_s
    assert spans.ndim == 2 and spans.shape[1] == 2 and spans.shape[0] >= 10
    assert (spans[:, 1] > spans[:, 0]).all() and spans.min() >= 0 and spans.max() <= 300
    assert (spans[1:, 0] >= spans[:-1, 1]).all()  # sorted, no overlap
    assert np.sum(spans[:, 1] - spans[:, 0]) == pytest.approx(0.3 * 300, rel=0.02)
    assert len(dirty.artifact_kinds) == spans.shape[0]
    assert {k.split("-")[0] for k in dirty.artifact_kinds} == {"ecg", "eda", "resp"}
    np.testing.assert_array_equal(clean.beat_times_s, dirty.beat_times_s)
    assert (dirty.eda > 0).all()
    for m in ("ecg", "eda", "resp"):
        t = dirty.time(m)
        changed = dirty.signal(m) != clean.signal(m)
        inside = ((t[:, None] >= spans[:, 0] - 1e-9) & (t[:, None] <= spans[:, 1])).any(axis=1)
        assert changed.any(), m
        assert not (changed & ~inside).any(), m


def test_one_hour_generates_quickly() -> None:
    t = time.perf_counter()
    s = simulate_session(load_scenario("calm"), SimConfig(seed=1), 3600)
    assert time.perf_counter() - t < 10.0
    assert s.ecg.size == 3600 * 250 and s.beat_times_s.size > 3600


# CSV --------------------------------------------------------------------------------------
def test_simulate_to_csv(tmp_path: Path) -> None:
    out = tmp_path / "sim.csv"
    sc = load_scenario("stress-and-recovery")
    sess = simulate_to_csv(sc, 3, out, fs=50.0, duration_s=200.0)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "time_s,ecg,eda,resp,zone"
    assert len(lines) - 1 == 200 * 50
    rows = [ln.split(",") for ln in lines[1:]]
    t = np.array([float(r[0]) for r in rows])
    np.testing.assert_allclose(t, np.arange(10_000) / 50.0, atol=1e-6)
    assert [r[4] for r in rows] == sc.zone_at(t).tolist()
    assert {r[4] for r in rows} == {"within", "hyper"}
    vals = np.array([[float(v) for v in r[1:4]] for r in rows])
    np.testing.assert_allclose(vals, np.c_[sess.ecg, sess.eda, sess.resp], atol=1e-5)
    # the same seed gives the same truth beats as a session at the default rates
    ref = simulate_session(sc, SimConfig(seed=3), 200.0)
    np.testing.assert_array_equal(sess.beat_times_s, ref.beat_times_s)


def test_write_csv_refuses_mixed_rates(tmp_path: Path) -> None:
    s = simulate_session(load_scenario("calm"), SimConfig(seed=1), 5)
    with pytest.raises(ValueError, match="common rate"):
        write_csv(s, tmp_path / "x.csv")


# LSL --------------------------------------------------------------------------------------
def _inlet(sid: str, modality: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_bypred(f"source_id='{sid}-{modality}'", 1, 5.0)
    assert found, f"stream {sid}-{modality} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


def _drain(inlets: dict[str, pylsl.StreamInlet], pub: SimulatorPublisher, timeout: float):
    got: dict[str, tuple[list, list]] = {m: ([], []) for m in inlets}
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        n = 0
        for m, inlet in inlets.items():
            data, ts = inlet.pull_chunk(timeout=0.0, max_samples=10_000)
            got[m][0].extend(data)
            got[m][1].extend(ts)
            n += len(ts)
        quiet = quiet + 1 if (n == 0 and pub.finished) else 0
        if quiet >= 10:
            break
        time.sleep(0.05)
    return {m: (np.asarray(d), np.asarray(t)) for m, (d, t) in got.items()}


@pytest.mark.lsl
def test_publisher_streams_calm_with_metadata_and_timestamps(source_id: str) -> None:
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=2), 20.0)
    pub = SimulatorPublisher(sess, source_id=source_id, name_prefix=source_id, speed=10.0)
    with pub:
        inlets = {m: _inlet(source_id, m) for m in ("ecg", "eda", "resp")}
        units = {}
        for m, inlet in inlets.items():
            info = inlet.info(timeout=5.0)
            assert info.name() == f"{source_id}-{m.upper()}"
            assert info.type() == m.upper()
            assert info.nominal_srate() == sess.fs(m)
            ch = info.desc().child("channels").child("channel")
            units[m] = ch.child_value("unit")
            assert info.desc().child("acquisition").child_value("model") == "simulator"
            assert info.desc().child("scenario").child_value("name") == "calm"
            assert info.desc().child("scenario").child_value("seed") == "2"
        assert units == {"ecg": "mV", "eda": "uS", "resp": "a.u."}
        got = _drain(inlets, pub, 15.0)
        assert pub.finished and pub.position_s == pytest.approx(20.0)
        for inlet in inlets.values():
            inlet.close_stream()
    for m, (data, ts) in got.items():
        fs, n = sess.fs(m), sess.signal(m).size
        assert 0.8 * n <= ts.size <= n, m  # inlets connect a moment after data time 0
        np.testing.assert_allclose(np.diff(ts), 1.0 / fs, atol=1e-6)
        k = np.round((ts - pub.t0_lsl) * fs).astype(int)  # sample index from the timestamp
        np.testing.assert_allclose(ts - pub.t0_lsl, k / fs, atol=1e-6)
        np.testing.assert_allclose(data[:, 0], sess.signal(m)[k].astype(np.float32), atol=1e-6)


@pytest.mark.lsl
def test_truth_markers_and_exact_sample_counts(source_id: str) -> None:
    sc = Scenario(
        "short",
        "",
        (
            Segment("baseline", "within", 0.0, 2.0),
            Segment("stressor", "hyper", 0.6, 2.0),
            Segment("shutdown", "hypo", 0.8, 2.0),
        ),
    )
    sess = simulate_session(sc, SimConfig(seed=1))
    pub = SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, speed=4.0, wait_for_consumers=5.0
    )
    with pub:
        inlets = {m: _inlet(source_id, m) for m in ("ecg", "eda", "resp", "truth")}
        assert inlets["truth"].info(timeout=5.0).type() == "Markers"
        got = _drain(inlets, pub, 10.0)
        for inlet in inlets.values():
            inlet.close_stream()
    for m in ("ecg", "eda", "resp"):
        assert got[m][1].size == sess.signal(m).size, m
        assert got[m][1][0] == pytest.approx(pub.t0_lsl, abs=1e-6)
    text, ts = got["truth"]
    marks = [json.loads(x) for x in text[:, 0]]
    assert marks == [
        {"zone": "within", "segment": "baseline", "level": 0.0},
        {"zone": "hyper", "segment": "stressor", "level": 0.6},
        {"zone": "hypo", "segment": "shutdown", "level": 0.8},
    ]
    np.testing.assert_allclose(ts - pub.t0_lsl, [0.0, 2.0, 4.0], atol=1e-6)


@pytest.mark.lsl
def test_quiet_s_is_how_long_the_truth_markers_are_waited_for(source_id: str) -> None:
    """With ``wait_for_consumers``, once the signals have consumers the publisher waits
    ``quiet_s`` for one on the truth markers too: with a long ``quiet_s`` it holds until the
    markers are taken (not the default 1 s); a negative one is refused."""
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=2), 4.0)
    with pytest.raises(ValueError, match="quiet_s"):
        SimulatorPublisher(sess, source_id=source_id, quiet_s=-1.0)
    pub = SimulatorPublisher(
        sess, source_id=source_id, speed=4.0, wait_for_consumers=30.0, quiet_s=300.0
    )
    with pub:
        inlets = {m: _inlet(source_id, m) for m in ("ecg", "eda", "resp")}
        time.sleep(2.5)  # well past the default quiet time (1 s)
        assert math.isnan(pub.t0_lsl) and pub.position_s == 0.0  # still holding
        inlets["truth"] = _inlet(source_id, "truth")
        deadline = time.monotonic() + 10.0
        while math.isnan(pub.t0_lsl) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert math.isfinite(pub.t0_lsl)  # the markers taken: it starts
        for inlet in inlets.values():
            inlet.close_stream()


@pytest.mark.lsl
def test_until_plays_only_the_first_seconds(source_id: str) -> None:
    """``until_s`` ends the data there: exactly the samples up to it, no later truth marker,
    and the publisher finishes as at the end of a session."""
    sc = Scenario(
        "short",
        "",
        (Segment("baseline", "within", 0.0, 2.0), Segment("shutdown", "hypo", 0.8, 2.0)),
    )
    sess = simulate_session(sc, SimConfig(seed=3))
    pub = SimulatorPublisher(
        sess, source_id=source_id, speed=4.0, wait_for_consumers=5.0, until_s=1.5
    )
    with pub:
        inlets = {m: _inlet(source_id, m) for m in ("ecg", "eda", "resp", "truth")}
        got = _drain(inlets, pub, 10.0)
        assert pub.finished and pub.position_s == pytest.approx(1.5)
        for inlet in inlets.values():
            inlet.close_stream()
    for m in ("ecg", "eda", "resp"):
        fs = sess.fs(m)
        data, ts = got[m]
        assert ts.size == int(1.5 * fs) + 1, m  # samples 0 .. 1.5 s, both ends in
        np.testing.assert_allclose(data[:, 0], sess.signal(m)[: ts.size].astype(np.float32))
    assert [json.loads(x)["zone"] for x in got["truth"][0][:, 0]] == ["within"]
    with pytest.raises(ValueError, match="until_s"):
        SimulatorPublisher(sess, source_id=source_id, loop=True, until_s=1.0)
    with pytest.raises(ValueError, match="until_s"):
        SimulatorPublisher(sess, source_id=source_id, until_s=0.0)


@pytest.mark.lsl
def test_loop_continues_timestamps(source_id: str) -> None:
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=1), 2.0)
    pub = SimulatorPublisher(
        sess, source_id=source_id, speed=10.0, loop=True, wait_for_consumers=5.0
    )
    with pub:
        inlets = {m: _inlet(source_id, m) for m in ("ecg", "eda", "resp", "truth")}
        deadline = time.monotonic() + 10.0
        while pub.position_s < 5.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pub.finished
        data, ts = inlets["eda"].pull_chunk(timeout=1.0, max_samples=10_000)
        for inlet in inlets.values():
            inlet.close_stream()
    ts = np.asarray(ts)
    assert ts.size >= 5.0 * 32
    np.testing.assert_allclose(np.diff(ts), 1 / 32, atol=1e-6)
    x = np.asarray(data)[:, 0]
    np.testing.assert_array_equal(x[64:128], x[:64])  # the 2 s session repeats


@pytest.mark.lsl
def test_thread_errors_are_reraised_by_stop(source_id: str) -> None:
    class Broken(SimulatorPublisher):
        def _push_due(self, *args: object) -> bool:
            raise ZeroDivisionError("boom")

    pub = Broken(
        simulate_session(load_scenario("calm"), SimConfig(seed=1), 2.0), source_id=source_id
    )
    pub.start()
    assert pub.wait_finished(5.0)
    assert isinstance(pub.error, ZeroDivisionError)
    with pytest.raises(ZeroDivisionError, match="boom"):
        pub.stop()


@pytest.mark.lsl
def test_people_on_one_start_clock_stay_aligned_whenever_their_inlets_open(
    source_id: str,
) -> None:
    """A dyad's publishers wait each for their own consumers; with one StartClock the second,
    whose inlet opens a second later, still stamps data time 0 at the first's LSL time, and
    sends what it is late with at once."""
    sess = {w: simulate_session(load_scenario("calm"), SimConfig(seed=i), 60.0)
            for i, w in enumerate(("a", "b"))}  # fmt: skip
    clock = StartClock()
    pubs = {w: SimulatorPublisher(s, source_id=f"{source_id}-{w}", name_prefix=f"{source_id}-{w}",
                                  speed=40.0, wait_for_consumers=10.0, quiet_s=0.0,
                                  streams=("resp",), start_clock=clock)
            for w, s in sess.items()}  # fmt: skip
    for p in pubs.values():
        p.start()
    try:
        first = _inlet(f"{source_id}-a", "resp")
        truth_a = _inlet(f"{source_id}-a", "truth")
        time.sleep(1.0)  # b's consumer comes a second (40 s of data) later
        second = _inlet(f"{source_id}-b", "resp")
        truth_b = _inlet(f"{source_id}-b", "truth")
        got = {w: _drain({"resp": inlet}, pubs[w], 10.0)["resp"]
               for w, inlet in (("a", first), ("b", second))}  # fmt: skip
        for inlet in (first, second, truth_a, truth_b):
            inlet.close_stream()
    finally:
        for p in pubs.values():
            p.stop()
    assert pubs["a"].t0_lsl == pubs["b"].t0_lsl
    fs = sess["a"].fs("resp")
    for w, (_data, ts) in got.items():
        assert ts.size == sess[w].signal("resp").size, w  # from data time 0, none lost
        assert ts[0] == pytest.approx(pubs["a"].t0_lsl, abs=1e-6), w
        np.testing.assert_allclose(np.diff(ts), 1.0 / fs, atol=1e-6)
