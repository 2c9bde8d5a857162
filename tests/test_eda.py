"""Skin conductance: SCR detection, tonic/phasic split, quality flags, channel features.

Real-data checks read ``WOT_DATA_DIR`` (Ledalab sample) and skip loudly without it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io as sio
from wot_simulators.physiology import SimConfig, simulate_session
from wot_simulators.scenario import load_scenario

from _synth import scr_like as _scr_like
from wot_biofeedback.dsp.channels import EdaChannel
from wot_biofeedback.dsp.eda import (
    FLAG_CONTACT,
    FLAG_GAP,
    FLAG_MOTION,
    FLAG_OK,
    FLAG_SATURATED,
    EdaScrDetector,
    eda_scr,
)
from wot_biofeedback.errors import InputError

LEDALAB_REF = np.array([2.72, 14.45, 26.35, 37.2, 51.93, 55.37, 69.74])


def scr_like(fs, duration_s, onsets_s, amp_us=0.3, level=5.0):
    """Synthetic SCRs with a little sensor noise (0.002 µS): no real sensor is exactly flat,
    and an exactly repeated value for 10 s is flagged as a frozen amplifier."""
    x = _scr_like(fs, duration_s, onsets_s, amp_us, level)
    return x + 0.002 * np.random.default_rng(1).standard_normal(x.size)


def match(truth: np.ndarray, found: np.ndarray, tol: float) -> int:
    """One-to-one matches within ``tol`` (nearest first)."""
    used = np.zeros(found.size, dtype=bool)
    tp = 0
    for t in truth:
        if not found.size:
            break
        d = np.abs(found - t)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tol:
            used[j] = True
            tp += 1
    return tp


def stream(det: EdaScrDetector, x: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    outs, per = [], []
    i = 0
    k = 0
    while i < x.size:
        n = sizes[k % len(sizes)]
        k += 1
        outs.append(det.update(x[i : i + n]))
        per.append((det.lowpass, det.tonic, det.flags))
        i += n
    outs.append(det.finish())
    cat = [np.concatenate([o[j] for o in outs]) for j in range(3)]
    return {
        "onset": cat[0],
        "peak": cat[1],
        "amp": cat[2],
        "lowpass": np.concatenate([p[0] for p in per]),
        "tonic": np.concatenate([p[1] for p in per]),
        "flags": np.concatenate([p[2] for p in per]),
    }


@pytest.mark.parametrize("fs", [4.0, 32.0, 250.0])
def test_streaming_equals_batch_for_any_chunking(fs, rng):
    s = simulate_session(
        load_scenario("full-session"),
        SimConfig(eda_fs=fs, seed=7, noise=1.0, artifacts=0.1),
        duration_s=300.0,
    )
    x = s.eda.copy()
    x[int(100 * fs) : int(103 * fs)] = np.nan  # a gap as well
    b = eda_scr(x, fs)
    for _ in range(3):
        sizes = [int(v) for v in rng.integers(1, max(3, int(7 * fs)), 20)]
        r = stream(EdaScrDetector(fs), x, sizes)
        np.testing.assert_array_equal(r["onset"], b["onset"])
        np.testing.assert_array_equal(r["peak"], b["peak"])
        np.testing.assert_array_equal(r["amp"], b["amplitude_us"])
        np.testing.assert_array_equal(r["lowpass"], b["lowpass"])
        np.testing.assert_array_equal(r["tonic"], b["tonic"])
        np.testing.assert_array_equal(r["flags"], b["flags"])
    assert b["onset"].size >= 3


def test_single_responses_onset_peak_amplitude_rise_and_recovery():
    fs = 32.0
    onsets = [10.0, 40.0, 70.0]
    x = scr_like(fs, 100.0, onsets, amp_us=0.3, level=5.0)
    r = eda_scr(x, fs)
    assert r["onset"].size == 3
    on = r["onset"] / fs
    pk = r["peak"] / fs
    # Bateman shape exp(-t/3) - exp(-t/0.7): peak at 1.91 s after onset
    t_peak = math.log(3.0 / 0.7) / (1 / 0.7 - 1 / 3.0)
    np.testing.assert_allclose(on, onsets, atol=0.4)
    np.testing.assert_allclose(pk, np.array(onsets) + t_peak, atol=0.4)
    np.testing.assert_allclose(r["amplitude_us"], 0.3, rtol=0.15)
    np.testing.assert_allclose(r["rise_s"], t_peak, atol=0.5)
    # half recovery of the shape, from its peak: solve shape(t) = 0.5 max numerically
    tt = np.linspace(t_peak, 20, 20001)
    sh = np.exp(-tt / 3.0) - np.exp(-tt / 0.7)
    half = tt[np.argmax(sh <= 0.5 * sh[0])] - t_peak
    np.testing.assert_allclose(r["half_recovery_s"], half, atol=0.6)
    # tonic stays at the level; the phasic part carries the responses
    ok = np.isfinite(r["tonic"])
    assert np.nanmax(np.abs(r["tonic"][ok] - 5.0)) < 0.05
    assert np.nanmax(r["phasic"]) == pytest.approx(0.3, rel=0.15)


def test_threshold_is_absolute_never_relative():
    fs = 32.0
    small = scr_like(fs, 60.0, [10.0, 35.0], amp_us=0.05, level=5.0)
    assert eda_scr(small, fs)["onset"].size == 2
    # a huge response later does not hide the small ones (a whole-signal relative threshold would)
    big = small + scr_like(fs, 60.0, [48.0], amp_us=3.0, level=0.0)
    assert eda_scr(big, fs)["onset"].size == 3
    # and the configured minimum amplitude decides
    assert eda_scr(small, fs, min_amplitude_us=0.08)["onset"].size == 0
    tiny = scr_like(fs, 60.0, [10.0, 35.0], amp_us=0.015, level=5.0)
    assert eda_scr(tiny, fs)["onset"].size == 0
    assert eda_scr(tiny, fs, min_amplitude_us=0.01)["onset"].size == 2


@pytest.mark.parametrize(
    ("band", "rms", "old", "bar"), [((0.5, 1.0), 0.01, 1.60, 0.5), ((0.05, 0.5), 0.02, 2.40, 1.0)]
)
def test_few_responses_out_of_coloured_noise(band, rms, old, bar):
    """10 minutes of band-limited noise on a 5 µS level (as `benchmarks/validate_scr_noise.py`):
    the noise tracker learns 4 times faster for the first 30 s, so the false SCRs of the first
    minutes are gone (``old`` per minute before, measured with the same seeds; 0.20 and 0.63
    now), and a 0.3 µS response on that noise is still found: every time in the slow noise, 2
    of 3 in the fast (there the driver-scale amplitude bar still misses some; 45 of 57 in the
    benchmark)."""
    from scipy.signal import butter, sosfiltfilt

    fs, n = 100.0, 60_000
    sos = butter(2, band, "bandpass", fs=fs, output="sos")
    rates, found = [], 0
    for seed in range(3):
        w = sosfiltfilt(sos, np.random.default_rng(seed).normal(size=n))
        x = 5.0 + w * (rms / w.std())
        rates.append(eda_scr(x, fs)["onset"].size / 10.0)
        t = np.arange(n) / fs - 300.0
        resp = np.where(t > 0, (1 - np.exp(-t / 0.5)) * np.exp(-t / 4.0), 0.0)
        on = eda_scr(x + 0.3 * resp / resp.max(), fs)["onset"] / fs
        found += int(np.any((on > 299.5) & (on < 303.0)))
    print(f"{band} Hz, {rms} µS: false SCRs/min {np.mean(rates):.2f} (before {old})")
    assert np.mean(rates) <= bar
    assert found >= (3 if band[0] < 0.5 else 2)


def test_response_on_the_recovery_of_another_is_found():
    fs = 32.0
    x = scr_like(fs, 60.0, [10.0], amp_us=1.0) + scr_like(fs, 60.0, [14.0], 0.3, 0.0)
    r = eda_scr(x, fs)
    np.testing.assert_allclose(r["onset"] / fs, [10.0, 14.0], atol=0.5)


@pytest.mark.parametrize("fs", [32.0, 4.0])
def test_simulator_scr_onsets_f1(fs):
    """Realistic noise and 5 % injected artifacts, five sessions pooled: onset F1 >= 0.9."""
    tp = n_true = n_found = 0
    for seed in range(1, 6):
        s = simulate_session(
            load_scenario("full-session"),
            SimConfig(eda_fs=fs, seed=seed, noise=1.0, artifacts=0.05),
        )
        found = eda_scr(s.eda, fs)["onset"] / fs
        dur = s.eda.size / fs
        truth = s.scr_onsets_s[(s.scr_onsets_s > 5.0) & (s.scr_onsets_s < dur - 5.0)]
        found = found[(found > 4.0) & (found < dur - 4.0)]
        tp += match(truth, found, 1.0)
        n_true += truth.size
        n_found += found.size
    f1 = 2 * tp / (n_true + n_found)
    print(f"{fs:g} Hz: {tp} of {n_true} true SCRs found, {n_found} reported, F1 {f1:.3f}")
    assert f1 >= 0.9
    # a response must begin to recover (issue 22): precision 0.963 -> 0.984 at 32 Hz and
    # 0.983 -> 0.994 at 4 Hz in benchmarks/validate_eda.py, with the same true responses
    assert tp / n_found >= 0.975


def test_contact_loss_is_flagged_and_makes_no_response():
    fs = 32.0
    x = scr_like(fs, 80.0, [10.0, 60.0], amp_us=0.3, level=5.0)
    i0, i1 = int(30 * fs), int(38 * fs)
    ramp = np.clip(np.arange(i1 - i0) / (0.3 * fs), 0, 1) * np.clip(
        (i1 - i0 - np.arange(i1 - i0)) / (0.8 * fs), 0, 1
    )
    x[i0:i1] = x[i0:i1] * (1 - ramp) + 0.05 * ramp  # the electrode lifts and comes back
    r = eda_scr(x, fs)
    np.testing.assert_allclose(r["onset"] / fs, [10.0, 60.0], atol=0.5)
    assert np.mean(r["flags"][i0 + int(0.5 * fs) : i1 - int(1 * fs)] == FLAG_CONTACT) > 0.8
    assert np.all(np.isnan(r["lowpass"][i0 + int(1 * fs) : i1 - int(1 * fs)]))
    # zero and negative conductance are contact loss too
    y = x.copy()
    y[i0:i1] = np.linspace(0.0, -1.0, i1 - i0)
    ry = eda_scr(y, fs)
    assert np.all(ry["flags"][i0:i1] == FLAG_CONTACT)
    assert ry["onset"].size == 2


def test_saturation_stuck_value_and_motion_spike_are_flagged():
    fs = 32.0
    x = scr_like(fs, 90.0, [10.0, 70.0], amp_us=0.3, level=5.0)
    y = x.copy()
    y[int(30 * fs) : int(40 * fs)] = 100.0  # railed amplifier
    r = eda_scr(y, fs)
    assert np.all(r["flags"][int(30 * fs) : int(40 * fs)] == FLAG_SATURATED)
    assert r["onset"].size == 2
    z = scr_like(fs, 200.0, [10.0, 150.0], amp_us=0.3, level=5.0)
    z[int(30 * fs) : int(100 * fs)] = z[int(30 * fs)]  # frozen value for 70 s
    r = eda_scr(z, fs)
    assert np.all(r["flags"][int(90.1 * fs) : int(100 * fs)] == FLAG_SATURATED)
    assert np.all(r["flags"][int(31 * fs) : int(89.9 * fs)] == FLAG_OK)
    # reported, not a gap: the response after it is found as usual
    np.testing.assert_allclose(r["onset"] / fs, [10.0, 150.0], atol=0.5)
    # a one-sample pop, at 4 Hz too: flagged, and never an SCR
    for f in (4.0, 32.0):
        p = scr_like(f, 90.0, [10.0, 70.0], amp_us=0.3, level=5.0)
        p[int(40 * f)] += 1.0
        rp = eda_scr(p, f)
        assert rp["flags"][int(40 * f) + 1] == FLAG_MOTION
        np.testing.assert_allclose(rp["onset"] / f, [10.0, 70.0], atol=0.5)
    # a sharp biphasic motion spike of 1 µS: flagged, and never an SCR
    w = x.copy()
    t = np.arange(w.size) / fs
    w += 1.0 * (np.exp(-0.5 * ((t - 40.0) / 0.03) ** 2) - np.exp(-0.5 * ((t - 40.1) / 0.03) ** 2))
    r = eda_scr(w, fs)
    assert np.any(r["flags"][int(39.9 * fs) : int(40.3 * fs)] == FLAG_MOTION)
    np.testing.assert_allclose(r["onset"] / fs, [10.0, 70.0], atol=0.5)


def test_nan_gaps_do_not_crash_or_invent_responses():
    fs = 4.0
    x = scr_like(fs, 120.0, [10.0, 60.0, 100.0], amp_us=0.3, level=5.0)
    x[int(30 * fs) : int(45 * fs)] = np.nan
    x[int(80 * fs)] = np.nan
    r = eda_scr(x, fs)
    np.testing.assert_allclose(r["onset"] / fs, [10.0, 60.0, 100.0], atol=0.6)
    assert np.all(r["flags"][int(30 * fs) : int(45 * fs)] == FLAG_GAP)
    assert np.all(np.isnan(r["lowpass"][int(30 * fs) : int(45 * fs)]))
    # all-NaN input: no output, no error
    r = eda_scr(np.full(400, np.nan), fs)
    assert r["onset"].size == 0 and np.all(r["flags"] == FLAG_GAP)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(InputError, match="sampling rate"):
        EdaScrDetector(0.0)
    with pytest.raises(InputError, match="min_amplitude_us"):
        EdaScrDetector(32.0, min_amplitude_us=-1.0)
    with pytest.raises(InputError):
        EdaScrDetector(32.0).update(np.ones((3, 3)))


def run_channel(x: np.ndarray, fs: float, chunk_s: float = 1.0) -> tuple[dict, EdaChannel, list]:
    ch = EdaChannel(fs)
    feats: dict[str, list] = {k: [] for k in ch.feature_names}
    issues = []
    step = int(chunk_s * fs)
    for i in range(0, x.size, step):
        out = ch.update(x[i : i + step])
        for k, v in out.features.items():
            feats[k].append(v)
        issues.append(ch.issue)
    return {k: np.concatenate(v) for k, v in feats.items()}, ch, issues


def test_channel_drift_aware_level_and_slope():
    fs, frame = 8.0, 4.0
    dur = 3600.0
    t = np.arange(int(dur * fs)) / fs
    # electrodes drying: +60 % over an hour, no arousal change
    x = 5.0 * (1.0 + 0.6 * t / dur) + 0.002 * np.random.default_rng(2).standard_normal(t.size)
    f, _, _ = run_channel(x, fs, 5.0)
    late = slice(int(900 * frame), None)
    # the reference lags a ramp by tau x rate (10 min x 0.6/h = 0.1 at first, then less),
    # against 0.47 for the plain log level
    assert np.nanmax(np.abs(f["scl_rel"][late])) < 0.1
    assert math.log(f["scl_us"][-1] / 5.0) > 0.45
    assert f["scl_us"][-1] == pytest.approx(8.0, rel=0.02)
    # slope: 3 µS per hour = 0.05 µS/min
    assert np.nanmedian(f["scl_slope_us_min"][late]) == pytest.approx(0.05, rel=0.05)
    # an arousal rise of 30 % within 2 minutes shows up in scl_rel
    y = np.where(t < 1200, 5.0, 5.0 * (1.0 + 0.3 * np.clip((t - 1200) / 120.0, 0, 1)))
    y = y + 0.002 * np.random.default_rng(3).standard_normal(t.size)
    g, _, _ = run_channel(y[: int(1500 * fs)], fs, 5.0)
    assert np.nanmean(g["scl_rel"][int(1340 * frame) : int(1360 * frame)]) > 0.2
    assert np.nanmax(np.abs(g["scl_rel"][int(600 * frame) : int(1190 * frame)])) < 0.01


def test_channel_reports_contact_loss_and_wrong_unit():
    fs = 16.0
    x = scr_like(fs, 120.0, [10.0, 90.0], amp_us=0.3, level=5.0)
    x[int(40 * fs) : int(60 * fs)] = 0.0
    f, _ch, issues = run_channel(x, fs)
    frame = 4.0
    assert np.all(f["quality_eda"][int(45 * frame) : int(60 * frame)] < 0.2)
    assert np.all(f["quality_eda"][int(100 * frame) :] > 0.9)
    assert any("contact" in s for s in issues[40:60])
    assert issues[-1] == ""
    # nS fed as µS: far above any skin; flagged, quality 0, and the user is told
    f, _ch, issues = run_channel(x * 1000.0, fs)
    assert np.all(f["quality_eda"] == 0.0)
    assert "saturated" in issues[-1]
    # µS fed as mS: far below any skin, read as lost contact
    f, _ch, issues = run_channel(x * 1e-3, fs)
    assert np.all(f["quality_eda"] == 0.0)
    assert "contact" in issues[-1]


def test_channel_events_carry_rise_and_half_recovery():
    fs = 32.0
    x = scr_like(fs, 60.0, [10.0, 35.0], amp_us=0.4, level=5.0)
    ch = EdaChannel(fs)
    ev: dict[str, list] = {k: [] for k in ch.event_names}
    for i in range(0, x.size, 16):
        out = ch.update(x[i : i + 16])
        for k, v in out.events.items():
            ev[k].append(v)
    e = {k: np.concatenate(v) for k, v in ev.items()}
    np.testing.assert_allclose(e["scr_onset_time"], [10.0, 35.0], atol=0.4)
    np.testing.assert_allclose(e["scr_rise_s"], 1.91, atol=0.5)  # Bateman peak 1.91 s in
    np.testing.assert_array_equal(e["scr_recovered_peak_time"], e["scr_peak_time"])
    assert np.all((e["scr_half_recovery_s"] > 1.5) & (e["scr_half_recovery_s"] < 5.0))


@pytest.fixture(scope="module")
def ledalab(wot_data):
    f = wot_data / "ledalab" / "EDA1_70s_100Hz.mat"
    if not f.exists():
        pytest.skip(f"Ledalab sample not found at {f}")
    m = sio.loadmat(f, squeeze_me=True, struct_as_record=False)
    return np.asarray(m["data"].conductance, dtype=float)


def test_ledalab_reference_impulses(ledalab):
    """>= 5 of Ledalab's 7 impulse onsets inside a detected rise (±1 s), <= 2 extra SCRs.

    The file is in raw device units (level ~96,000); only ratios are meaningful. We read it
    as SCL 9.6 µS (1 unit = 0.1 nS), a typical adult level; benchmarks/validate_eda.py
    reports other levels too.
    """
    x = ledalab * 1e-4
    r = eda_scr(x, 100.0)
    on, pk = r["onset"] / 100.0, r["peak"] / 100.0
    used: set[int] = set()
    for t in LEDALAB_REF:
        hit = [i for i in range(on.size) if on[i] - 1 <= t <= pk[i] + 1 and i not in used]
        if hit:
            used.add(hit[0])
    print(f"hits {len(used)}/7, extra {on.size - len(used)}")
    assert len(used) >= 5
    assert on.size - len(used) <= 2
    # no flags on a clean lab recording
    assert np.mean(r["flags"] == FLAG_OK) > 0.99


def test_analyze_writes_scr_rise_and_half_recovery(tmp_path):
    """`wot analyze` on a CSV: scr.csv carries rise and half recovery; the end is flushed."""
    from wot_biofeedback.cli import main

    fs = 32.0
    x = scr_like(fs, 100.0, [20.0, 50.0, 98.9], amp_us=0.3, level=5.0)
    t = np.arange(x.size) / fs
    src = tmp_path / "eda.csv"
    np.savetxt(src, np.column_stack([t, x]), delimiter=",", header="time_s,eda", comments="")
    assert main(["analyze", str(src), "--out", str(tmp_path / "out")]) == 0
    rows = np.genfromtxt(tmp_path / "out" / "scr.csv", delimiter=",", names=True)
    assert rows.dtype.names == ("onset_s", "peak_s", "amplitude_us", "rise_s", "half_recovery_s")
    np.testing.assert_allclose(rows["onset_s"][:2], [20.0, 50.0], atol=0.4)
    np.testing.assert_allclose(rows["rise_s"][:2], 1.91, atol=0.5)
    assert np.all((rows["half_recovery_s"][:2] > 1.5) & (rows["half_recovery_s"][:2] < 5.0))
    # the response rising when the record ends is reported (its peak is the last sample)
    assert rows.size == 3 and rows["onset_s"][2] == pytest.approx(98.9, abs=0.4)
    assert np.isnan(rows["half_recovery_s"][2])


def test_analyze_summary_counts_eda_problems(tmp_path):
    import json

    from wot_biofeedback.cli import main

    fs = 16.0
    x = scr_like(fs, 200.0, [20.0, 150.0], amp_us=0.3, level=5.0)
    x[int(60 * fs) : int(72 * fs)] = 0.0  # 12 s of lost contact
    x[int(100 * fs) : int(105 * fs)] = np.nan  # 5 s missing
    t = np.arange(x.size) / fs
    src = tmp_path / "eda.csv"
    np.savetxt(src, np.column_stack([t, x]), delimiter=",", header="time_s,eda", comments="")
    assert main(["analyze", str(src), "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    probs = summary["signal_problems_s"]["eda"]
    assert probs["contact"] == pytest.approx(12.0, abs=0.2)
    assert probs["gap"] == pytest.approx(5.0, abs=0.1)
    assert probs["saturated"] == 0.0


@pytest.mark.parametrize("name", ["hand GSR", "foot GSR"])
def test_drive05_scr_rate_separates_rest_from_driving(wot_data, name):
    """PhysioNet drivedb drive05 (uncalibrated GSR read as µS, levels 2-17): SCRs are rare at
    rest and frequent while driving, in every segment (Healey & Picard 2005 stress levels)."""
    import csv

    wfdb = pytest.importorskip("wfdb")
    base = wot_data / "drivedb" / "drive05"
    if not base.with_suffix(".hea").exists():
        pytest.skip(f"{base}.hea not found")
    rec = wfdb.rdrecord(str(base), smooth_frames=False)
    i = rec.sig_name.index(name)
    fs = float(rec.fs * rec.samps_per_frame[i])
    r = eda_scr(np.asarray(rec.e_p_signal[i], dtype=float), fs)
    on = r["onset"] / fs
    with open(wot_data / "drivedb" / "segments.csv") as fh:
        segs = [s for s in csv.DictReader(fh) if s["drive"] == "drive05"]
    rate = {}
    for s in segs:
        a, b = float(s["start_s"]), float(s["end_s"])
        rate[s["segment"]] = np.sum((on >= a) & (on < b)) / (b - a) * 60.0
    rest = [v for k, v in rate.items() if k.startswith("Rest")]
    drive = [v for k, v in rate.items() if not k.startswith("Rest")]
    print({k: round(v, 1) for k, v in rate.items()})
    assert max(rest) < 1.0
    assert min(drive) > 2.5 * max(1.0, max(rest))
    assert np.mean(r["flags"] == FLAG_OK) > 0.99


def test_channel_frames_and_events_equal_for_any_chunking(rng):
    fs = 32.0
    s = simulate_session(
        load_scenario("full-session"),
        SimConfig(eda_fs=fs, seed=11, noise=1.0, artifacts=0.1),
        duration_s=400.0,
    )
    x = s.eda.copy()
    x[int(200 * fs) : int(204 * fs)] = np.nan

    def run(sizes: list[int]) -> tuple[dict, dict]:
        ch = EdaChannel(fs)
        feats: dict[str, list] = {k: [] for k in ch.feature_names}
        evs: dict[str, list] = {k: [] for k in ch.event_names}
        i = k = 0
        while i < x.size:
            out = ch.update(x[i : i + sizes[k % len(sizes)]])
            i += sizes[k % len(sizes)]
            k += 1
            for name, v in out.features.items():
                feats[name].append(v)
            for name, v in out.events.items():
                evs[name].append(v)
        return (
            {n: np.concatenate(v) for n, v in feats.items()},
            {n: np.concatenate(v) for n, v in evs.items()},
        )

    f_ref, e_ref = run([x.size])
    assert e_ref["scr_onset_time"].size >= 5
    for _ in range(2):
        f, e = run([int(v) for v in rng.integers(1, 200, 15)])
        for n in f_ref:
            np.testing.assert_array_equal(f[n], f_ref[n], err_msg=n)
        for n in e_ref:
            np.testing.assert_array_equal(e[n], e_ref[n], err_msg=n)


@pytest.mark.parametrize("fs", [4.0, 32.0, 250.0])
def test_late_start_keeps_absolute_times(fs):
    """A band that streams NaN or zeros before it touches the skin: event times stay right."""
    x = scr_like(fs, 120.0, [40.0, 70.0, 100.0], amp_us=0.3, level=5.0)
    for bad in (np.nan, 0.0):
        y = x.copy()
        y[: int(23.3 * fs)] = bad
        r = eda_scr(y, fs)
        np.testing.assert_allclose(r["onset"] / fs, [40.0, 70.0, 100.0], atol=0.5)
        assert np.all(r["peak"] > r["onset"])
    # and in the channel: the SCR rate counts them
    ch_feats, _ch, _ = run_channel(np.where(np.arange(x.size) < 23.3 * fs, 0.0, x), fs, 1.0)
    assert ch_feats["scr_per_min"][105 * 4] == pytest.approx(2.0)  # peaks 72, 102 s


def test_quiet_quantised_signal_keeps_its_responses():
    """A coarse ADC (0.01 µS steps) repeats values for long calm stretches: still SCRs."""
    for fs in (4.0, 32.0):
        x = scr_like(fs, 300.0, [50.0, 150.0, 250.0], amp_us=0.3, level=2.0)
        q = np.round(x / 0.01) * 0.01
        r = eda_scr(q, fs)
        np.testing.assert_allclose(r["onset"] / fs, [50.0, 150.0, 250.0], atol=0.5)


def test_level_step_up_counts_once_and_leaves_no_ringing():
    """An electrode pressed: a step up within the slope limit reads as one response (it cannot
    be told from an SCR when it is reported), and the filters do not ring into a second one."""
    for fs in (32.0, 250.0):
        x = scr_like(fs, 120.0, [20.0, 100.0], amp_us=0.3, level=5.0)
        t = np.arange(x.size) / fs
        x += np.where(t >= 60.0, 0.4, 0.0)
        r = eda_scr(x, fs)
        np.testing.assert_allclose(r["onset"] / fs, [20.0, 60.0, 100.0], atol=0.5)
    # steps down are never responses
    x = scr_like(32.0, 120.0, [20.0, 100.0], amp_us=0.3, level=5.0)
    x[60 * 32 :] -= 0.4
    np.testing.assert_allclose(eda_scr(x, 32.0)["onset"] / 32.0, [20.0, 100.0], atol=0.5)


@pytest.mark.parametrize("fs", [4.0, 32.0, 1000.0])
def test_a_new_level_approached_slowly_is_tonic_not_a_response(fs):
    """A response has to begin to recover (issue 22). The conductance moving to a new level
    (0.3 µS) more slowly than the 1.5 s recovery (time constants 3 and 5 s, 10 noise seeds
    each) never brings the driver back from its rise: at most 1 of the 20 is taken for an SCR
    (before: 3 at 4 Hz, 2 at 32 Hz, 0 at 1000 Hz). The same rise followed by a recovery is
    one SCR, with its full amplitude."""
    t = np.arange(int(120 * fs)) / fs
    tt = np.clip(t - 60.0, 0.0, None)
    shifts = 0
    for time_constant in (3.0, 5.0):
        rise = 1.0 - np.exp(-tt / time_constant)
        scr = rise * np.exp(-tt / 6.0)
        for seed in range(10):
            noise = np.random.default_rng(seed).normal(0.0, 0.002, t.size)
            shifts += eda_scr(5.0 + 0.3 * rise + noise, fs)["onset"].size
            r = eda_scr(5.0 + 0.3 * scr / scr.max() + noise, fs)
            np.testing.assert_allclose(r["onset"] / fs, [60.0], atol=0.5)
            np.testing.assert_allclose(r["amplitude_us"], [0.3], atol=0.03)
            assert 0.0 <= r["rise_s"][0] <= 7.0
    assert shifts <= 1


def test_large_fast_responses_are_kept():
    """Startle-sized SCRs (5 µS, 0.7 s rise, > 10 µS/s at first) are responses, not motion."""
    for fs in (4.0, 32.0, 250.0):
        x = scr_like(fs, 120.0, [20.0, 80.0], amp_us=5.0, level=5.0)
        r = eda_scr(x, fs)
        np.testing.assert_allclose(r["onset"] / fs, [20.0, 80.0], atol=0.5)
        np.testing.assert_allclose(r["amplitude_us"], 5.0, rtol=0.1)


def test_scl_rel_settles_after_an_aroused_start_and_follows_a_falling_electrode():
    """SCL high when the electrodes go on, falling to rest within minutes; later a foot
    electrode drifting down: scl_rel reads ~0 at rest either way (drive05-like sessions)."""
    fs, frame = 8.0, 4.0
    t = np.arange(int(3600 * fs)) / fs
    settle = 5.0 * (1.0 + 1.4 * np.exp(-t / 120.0))  # 12 µS at the start, 5 µS at rest
    drift = np.exp(-0.5 * t / 3600.0)  # then -40 % over the hour
    x = settle * drift + 0.002 * np.random.default_rng(4).standard_normal(t.size)
    f, _, _ = run_channel(x, fs, 5.0)
    rest = f["scl_rel"][int(600 * frame) :]
    assert np.nanmax(np.abs(rest)) < 0.03
