"""Cardiac channel: beat correction, HRV frames, RR and PPG inputs, RSA, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _reference import sinus_beats, with_artifacts
from _synth import ecg_like
from wot_biofeedback.dsp.cardiac import CARDIAC_FEATURES, EcgChannel, RRChannel
from wot_biofeedback.dsp.hrv import (
    ECTOPIC,
    EXCLUDED,
    EXTRA,
    KIND_NAMES,
    LONGSHORT,
    MISSED,
    NORMAL,
    RRCorrector,
    _median,
    _qd,
    hrv_time,
    rr_correct,
)


def _sorted_quantile(v: np.ndarray, p: float) -> float:
    # the textbook rule on the fully sorted values, as the corrector computed it before
    s = np.sort(v)
    pos = p * (s.size - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, s.size - 1)
    return float(s[lo] + (pos - lo) * (s[hi] - s[lo]))


def test_corrector_order_statistics_by_selection_equal_a_full_sort_to_the_bit(rng):
    """The corrector's thresholds (quartile deviation over 91 intervals) and local median
    select their order statistics instead of sorting: the values must be those of a full sort,
    bit for bit, with ties, runs of equal values and every length up to a window's."""
    scratch = np.empty(256)
    for trial in range(3000):
        n = int(rng.integers(1, 130))
        kind = trial % 4
        if kind == 0:
            v = np.abs(rng.normal(0, 40, n))
        elif kind == 1:  # many ties
            v = rng.integers(0, 4, n).astype(float)
        elif kind == 2:  # sorted, reversed
            v = np.sort(rng.exponential(20, n))[:: 1 if trial % 8 < 4 else -1].copy()
        else:
            v = np.full(n, 12.5)
        want_qd = 0.5 * (_sorted_quantile(v, 0.75) - _sorted_quantile(v, 0.25))
        got_qd = _qd(v.copy(), n, scratch)
        assert got_qd == want_qd, (n, kind, got_qd, want_qd)
        got_med = _median(v.copy(), n, scratch)
        assert got_med == np.median(v), (n, kind, got_med)
    assert _qd(np.empty(0), 0, scratch) == 0.0 and np.isnan(_median(np.empty(0), 0, scratch))


def test_corrector_classifies_and_repairs_injected_artifacts(rng):
    t = sinus_beats(rng)
    true_rr = np.diff(t) * 1000
    beats = with_artifacts(t)  # premature (ectopic) at 100, 250 missed, an extra after 399
    rows = rr_correct(times_s=beats)
    kind = rows["kind"]
    names = [KIND_NAMES[k] for k in kind]
    print("corrected rows:", [(round(float(rows["time_s"][i]), 2), names[i])
                              for i in np.flatnonzero(kind != NORMAL)])  # fmt: skip
    near = lambda ts: np.abs(rows["time_s"] - ts) < 1.2  # noqa: E731
    assert np.any(near(t[100]) & np.isin(kind, [ECTOPIC, LONGSHORT]))
    assert np.sum(near(t[250]) & (kind == MISSED)) == 2  # the virtual beat and the real one
    assert np.any(near(beats[400]) & (kind == EXTRA))
    # false corrections on clean beats stay rare
    assert np.mean(kind != NORMAL) < 0.03
    # corrected NN series is close to the truth: same length and small error
    nn = rows["nn_ms"][np.isfinite(rows["nn_ms"])]
    assert abs(nn.size - true_rr.size) <= 1
    h_true = hrv_time(true_rr)
    h_corr = hrv_time(rows["nn_ms"])
    raw = np.diff(np.array(beats)) * 1000
    h_raw = hrv_time(raw)
    print("RMSSD true/corrected/raw", h_true["rmssd_ms"], h_corr["rmssd_ms"], h_raw["rmssd_ms"])
    assert h_corr["rmssd_ms"] == pytest.approx(h_true["rmssd_ms"], rel=0.1)
    assert h_raw["rmssd_ms"] > 1.5 * h_true["rmssd_ms"]  # what correction saved us from


def test_corrector_follows_a_real_change_of_rhythm(rng):
    t1 = sinus_beats(rng, 200, 1000.0)
    t2 = t1[-1] + sinus_beats(rng, 200, 600.0)
    rows = rr_correct(times_s=np.concatenate((t1, t2)))
    late = rows["time_s"] > t2[20]
    assert np.mean(rows["kind"][late] == NORMAL) > 0.97
    assert np.nanmean(rows["nn_ms"][late]) == pytest.approx(600.0, rel=0.02)


def test_corrector_excludes_gaps_and_flush_finishes():
    t = np.arange(1, 40) * 0.8
    gap = np.zeros(t.size, dtype=np.int64)
    gap[20] = 1
    c = RRCorrector()
    rows = c.update(t, gap)
    assert rows["time_s"].size == t.size - 2  # the last two wait for look-ahead
    rest = c.flush()
    assert rest["time_s"].size == 2
    kind = np.concatenate((rows["kind"], rest["kind"]))
    assert kind[20] == EXCLUDED and np.isnan(np.concatenate((rows["nn_ms"], rest["nn_ms"]))[20])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 512), min_size=1, max_size=20))
def test_corrector_streaming_equals_batch(sizes):
    rng = np.random.default_rng(1)
    t = sinus_beats(rng, 700)
    t[::37] -= 0.25
    ref = rr_correct(times_s=t)
    c = RRCorrector()
    parts, i, k = [], 0, 0
    while i < t.size:
        n = sizes[k % len(sizes)]
        parts.append(c.update(t[i : i + n], confirm=np.arange(i, min(i + n, t.size))))
        i, k = i + n, k + 1
    parts.append(c.flush())
    for key in ("time_s", "rr_ms", "nn_ms", "kind"):
        got = np.concatenate([p[key] for p in parts])
        np.testing.assert_array_equal(got, ref[key])


ECG_FS = 250.0
ECG, _ = ecg_like(ECG_FS, 200.0, seed=3)
# bad stretches, so gap flags and quality take part in the chunking property
ECG[int(60 * ECG_FS) : int(63 * ECG_FS)] = np.nan
ECG[int(100 * ECG_FS) : int(106 * ECG_FS)] += np.random.default_rng(2).normal(0, 1.0, 1500)
ECG[int(140 * ECG_FS) : int(142 * ECG_FS)] = 0.3


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 512), min_size=1, max_size=20))
def test_cardiac_frames_streaming_equal_batch(sizes):
    ref = EcgChannel(ECG_FS).update(ECG).features
    ch = EcgChannel(ECG_FS)
    got: dict[str, list[np.ndarray]] = {k: [] for k in CARDIAC_FEATURES}
    i = k = 0
    while i < ECG.size:
        n = sizes[k % len(sizes)]
        out = ch.update(ECG[i : i + n])
        for name, v in out.features.items():
            got[name].append(v)
        i, k = i + n, k + 1
    for name in CARDIAC_FEATURES:
        np.testing.assert_array_equal(np.concatenate(got[name]), ref[name], err_msg=name)


def _all_outputs(ch: EcgChannel, x: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    outs, i, k = [], 0, 0
    while i < x.size:
        outs.append(ch.update(x[i : i + sizes[k % len(sizes)]]))
        i, k = i + sizes[k % len(sizes)], k + 1
    got = {k: np.concatenate([o.features[k] for o in outs if o.n_frames]) for k in CARDIAC_FEATURES}
    for k in outs[0].events:
        got[k] = np.concatenate([o.events[k] for o in outs])
    got.update({f"finish_{k}": v for k, v in ch.finish().items()})
    got["next_frame"] = np.array([ch.next_frame])
    return got


@pytest.mark.parametrize("sizes", [[1], [7, 250, 3], [32], [2500], [20_000]])
def test_ecg_in_one_kernel_call_equals_the_step_by_step_path(sizes):
    """An ECG chunk goes through one kernel call (``_ecg_step``); the PPG channel's general path
    (``_process`` then ``_features``, kernel by kernel) must give the same bits, events and
    frames, with gaps, flat runs and a noise burst in the signal."""
    x = ECG.copy()
    x[int(60 * ECG_FS) : int(63 * ECG_FS)] = np.nan
    x[int(100 * ECG_FS) : int(104 * ECG_FS)] = x[int(100 * ECG_FS)]
    x[int(150 * ECG_FS)] = 1e30  # corrupt samples: gaps on both paths
    x[int(170 * ECG_FS) : int(170 * ECG_FS) + 3] = (-1e6, 4e5, 1e300)
    fast, slow = EcgChannel(ECG_FS, t0=0.3), EcgChannel(ECG_FS, t0=0.3)
    slow._one_call = False
    a, b = _all_outputs(fast, x, sizes), _all_outputs(slow, x, sizes)
    assert a.keys() == b.keys() and a["rpeak_idx"].size > 100
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


def test_cardiac_bad_input_never_invents_beats_and_quality_recovers():
    fs = ECG_FS
    x, truth = ecg_like(fs, 240.0, seed=5)
    x = x.copy()
    spans = {"nan": (30.0, 42.0), "flat": (80.0, 92.0), "clip": (130.0, 142.0)}
    a, b = (int(v * fs) for v in spans["nan"])
    x[a:b] = np.nan
    a, b = (int(v * fs) for v in spans["flat"])
    x[a:b] = 0.4
    a, b = (int(v * fs) for v in spans["clip"])
    x[a:b] = np.clip(x[a:b] * 6.0, -0.5, 0.5)  # amplifier saturation: peaks at the rails
    burst = (180.0, 190.0)  # electrode motion: broadband noise as large as the QRS
    a, b = (int(v * fs) for v in burst)
    x[a:b] += np.random.default_rng(1).normal(0.0, 1.0, b - a)
    ch = EcgChannel(fs)
    outs = [ch.update(c) for c in np.array_split(x, 97)]  # never raises
    peaks = np.concatenate([o.events["rpeak_idx"] for o in outs])
    q = np.concatenate([o.features["quality_ecg"] for o in outs if o.n_frames])
    tf = np.arange(q.size) / 4.0
    for name in ("nan", "flat"):
        lo, hi = spans[name]
        inside = (peaks / fs > lo + 0.3) & (peaks / fs < hi)
        assert not inside.any(), f"beats invented in the {name} span"
    in_burst = (peaks / fs > burst[0]) & (peaks / fs < burst[1])
    n_true = np.sum((truth / fs > burst[0]) & (truth / fs < burst[1]))
    assert in_burst.sum() <= n_true + 3  # no flood of false beats
    assert q[(tf > burst[0] + 4.0) & (tf < burst[1] + 2.0)].max() < 0.8
    before = (tf > 12.0) & (tf < 29.0)
    assert q[before].min() > 0.7
    for name, (lo, hi) in spans.items():
        seg = (tf > lo + 4.0) & (tf < hi)
        print(name, "quality max inside", q[seg].max())
        limit = 0.5 if name == "clip" else 0.1  # clipping leaves part of the signal usable
        assert q[seg].max() < limit, f"quality stays high in the {name} span"
        after = (tf > hi + 32.0) & (tf < hi + 38.0)  # the 30-s corrected share has moved on
        assert q[after].min() > 0.7, f"quality does not recover after the {name} span"


def test_hrv_is_withheld_when_too_many_beats_are_corrected(rng):
    t = sinus_beats(rng, 400)
    t[150:250:6] -= 0.3  # a run of frequent ectopics (1 beat in 6: a third of the intervals)
    rr = np.diff(np.concatenate(([0.0], t))) * 1000
    ch = RRChannel()
    out = ch.update(rr)
    f = out.features
    tf = np.arange(f["rmssd_ms"].size) / 4.0
    run = (tf > t[200]) & (tf < t[245])
    pct = f["rr_corrected_pct"]
    print("corrected % during the run:", np.percentile(pct[run], [0, 50, 100]))
    # the rule: SDNN (same 60-s window as the share) is withheld above 20 % corrected
    over = pct > 20.0
    assert over[run].mean() > 0.5
    assert np.all(np.isnan(f["sdnn_ms"][over]))
    assert np.all(np.isfinite(f["sdnn_ms"][~over & (tf > 80) & (tf < t[140])]))
    # quality reflects the corrected share while the thresholds still catch the ectopics
    # (the 91-beat quartile thresholds widen once a third of the intervals are abnormal)
    q = f["quality_ecg"]
    assert q[run].min() < 0.7 and q[(tf > 80) & (tf < t[140])].min() > 0.9
    clean = (tf > t[320]) & (tf < t[390])
    assert np.all(np.isfinite(f["rmssd_ms"][clean]))


def test_rr_stream_gives_the_same_hrv_as_the_ecg(rng):
    x, _ = ecg_like(ECG_FS, 300.0, seed=7)
    ecg = EcgChannel(ECG_FS).update(x)
    beats = ecg.events["rpeak_time"]
    rr = np.diff(beats) * 1000
    ch = RRChannel(t0=float(beats[0]))
    got = [ch.update(c) for c in np.array_split(rr, 13)]
    feats = {
        k: np.concatenate([g.features[k] for g in got if g.n_frames])
        for k in ("hr_bpm", "rmssd_ms")
    }
    n = min(feats["hr_bpm"].size, ecg.features["hr_bpm"].size)
    sl = slice(200, n - 8)
    np.testing.assert_allclose(feats["hr_bpm"][sl], ecg.features["hr_bpm"][sl], rtol=0.02)
    ok = np.isfinite(feats["rmssd_ms"][sl]) & np.isfinite(ecg.features["rmssd_ms"][sl])
    assert ok.mean() > 0.9
    # the same NN series; frames differ only where a beat's confirmation time differs
    # (an RR value arrives at its beat, the ECG confirms up to 0.3 s later)
    same = np.isclose(feats["rmssd_ms"][sl][ok], ecg.features["rmssd_ms"][sl][ok], rtol=0.1)
    print("RMSSD frames within 10 %:", same.mean())
    assert same.mean() > 0.97


def test_time_domain_agrees_with_neurokit2(wot_data):
    nk = pytest.importorskip("neurokit2")
    nn = np.load(wot_data / "pyhrv" / "SampleNNISeriesLong.npy").astype(float)
    peaks = np.concatenate(([0], np.cumsum(nn))).astype(int)  # 1 kHz sample indices
    ref = nk.hrv_time(peaks, sampling_rate=1000)
    got = hrv_time(np.diff(peaks).astype(float))
    pairs = {
        "mean_nn_ms": "HRV_MeanNN",
        "sdnn_ms": "HRV_SDNN",
        "rmssd_ms": "HRV_RMSSD",
        "pnn50": "HRV_pNN50",
    }
    for ours, theirs in pairs.items():
        r = float(ref[theirs].iloc[0])
        print(f"{ours}: wot {got[ours]:.3f}  NeuroKit2 {r:.3f}")
        assert got[ours] == pytest.approx(r, rel=0.01), ours


def test_rsa_from_ecg_and_breathing_is_chunking_invariant():
    from wot_simulators import SimConfig, load_scenario, simulate_session

    from wot_biofeedback.offline import run_recording
    from wot_biofeedback.sources.files import Recording, Signal

    s = simulate_session(load_scenario("calm"), SimConfig(seed=2), duration_s=240.0)
    rec = Recording(
        "sim",
        {
            "ecg": Signal(s.ecg, s.fs("ecg"), "ECG"),
            "resp": Signal(s.resp, s.fs("resp"), "RESP"),
        },
    )
    a, _ = run_recording(rec, chunk_s=10.0)
    b, _ = run_recording(rec, chunk_s=0.37)
    ra = np.array([f.features["rsa_ms"] for f in a.frames])
    rb = np.array([f.features["rsa_ms"] for f in b.frames])
    np.testing.assert_array_equal(ra, rb)
    late = ra[np.arange(ra.size) / 4.0 > 70.0]
    print("RSA median, ms:", np.nanmedian(late))
    assert np.isfinite(late).mean() > 0.95
    # the simulator's sinus arrhythmia is tens of ms peak to trough
    assert 10.0 < np.nanmedian(late) < 200.0
    # without breathing there is no RSA feature
    c, _ = run_recording(Recording("sim", {"ecg": rec.signals["ecg"]}), chunk_s=10.0)
    assert all(np.isnan(f.features["rsa_ms"]) for f in c.frames)


@pytest.mark.parametrize("fs", [128.0, 250.0])
def test_rpeaks_with_simulator_artifacts(fs):
    """The simulator's injected artifacts (noise bursts, lead-off flatlines) at two rates."""
    from wot_simulators import SimConfig, load_scenario, simulate_session

    s = simulate_session(
        load_scenario("full-session"), SimConfig(seed=4, ecg_fs=fs, artifacts=0.15), 900.0
    )
    ch = EcgChannel(fs)
    outs = [ch.update(c) for c in np.array_split(s.ecg, 331)]
    beats = np.concatenate([o.events["rpeak_time"] for o in outs])
    truth = s.beat_times_s
    spans = s.artifact_spans_s[[k.startswith("ecg") for k in s.artifact_kinds]]
    kinds = [k for k in s.artifact_kinds if k.startswith("ecg")]

    def clean(t: np.ndarray) -> np.ndarray:
        bad = np.zeros(t.size, dtype=bool)
        for a, b in spans:
            bad |= (t > a - 1.0) & (t < b + 1.0)
        return ~bad

    tb, tt = beats[clean(beats)], truth[clean(truth)]
    d = np.abs(tb[:, None] - tt[None, :])
    tp = int(np.sum(d.min(axis=0) <= 0.15))
    fp, fn = tb.size - tp, tt.size - tp
    f1 = 2 * tp / (2 * tp + fp + fn)
    print(
        f"{fs:g} Hz, {len(spans)} ECG artifacts: outside them TP {tp} FP {fp} FN {fn} F1 {f1:.4f}"
    )
    assert f1 > 0.995
    for (a, b), kind in zip(spans, kinds, strict=True):
        if kind == "ecg-flatline" and b - a > 1.0:
            inside = (beats > a + 0.35) & (beats < b)
            assert not inside.any(), f"beats invented in a flatline at {a:.1f}-{b:.1f} s"


def test_infinite_samples_are_gaps_not_poison():
    x, truth = ecg_like(ECG_FS, 120.0, seed=11)
    x[int(50 * ECG_FS)] = np.inf
    x[int(70 * ECG_FS)] = -np.inf
    out = EcgChannel(ECG_FS).update(x)
    beats = out.events["rpeak_time"]
    late = truth[truth / ECG_FS > 75.0] / ECG_FS
    found = np.abs(late[:, None] - beats[None, :]).min(axis=1) < 0.02
    assert found.mean() > 0.97  # detection carries on after the infinite samples
    q = out.features["quality_ecg"]
    assert q[(90 * 4) : (110 * 4)].min() > 0.7


def test_a_corrupt_sample_is_a_one_sample_gap():
    """One absurd value (1e30 from a driver, a wireless packet's garbage) blinded the filters,
    the noise level and the quality for 5-50 s, longer the larger it was (quality 0 for 22 s
    after a 1e30). It is now a missing sample: the channel's output is the same, to the bit,
    as with NaN there, and so it is for a 1000-mV spike in a 1-mV ECG."""
    x, _ = ecg_like(ECG_FS, 150.0, seed=12)
    at = int(80 * ECG_FS)
    gap = x.copy()
    gap[at] = np.nan
    ref = _all_outputs(EcgChannel(ECG_FS), gap, [250])
    for bad in (1e30, -1e300, 1000.0):
        y = x.copy()
        y[at] = bad
        got = _all_outputs(EcgChannel(ECG_FS), y, [250])
        for k in ref:
            assert got[k].tobytes() == ref[k].tobytes(), (bad, k)
    q = ref["quality_ecg"]
    assert q[(81 * 4) : (150 * 4)].min() > 0.7
    # a burst of garbage is a gap as long as it lasts, then detection resumes
    y = x.copy()
    y[at : at + 100] = np.random.default_rng(3).uniform(-1e9, 1e9, 100)
    out = EcgChannel(ECG_FS).update(y)
    assert np.isfinite(out.features["hr_bpm"][(95 * 4) : (150 * 4)]).all()


def test_corrupt_samples_are_told_while_they_come_and_then_no_longer():
    """A gap made of a corrupt value is silent in the signal; the channel's issue (shown in
    the stream's status, as the skin-conductance channel's problems are) says it for 10 s."""
    x, _ = ecg_like(ECG_FS, 60.0, seed=15)
    x[int(20 * ECG_FS)] = 1e30
    ch = EcgChannel(ECG_FS)
    said = {}
    for s in range(60):
        ch.update(x[int(s * ECG_FS) : int((s + 1) * ECG_FS)])
        said[s + 1] = ch.issue
    assert said[20] == "" and all(said[s] == "" for s in range(1, 21))
    assert all("corrupt samples dropped" in said[s] for s in range(21, 31))
    assert all(said[s] == "" for s in range(32, 61))


def test_a_new_level_far_from_the_old_is_taken_after_a_moment_not_refused():
    """The gate must not lock a signal out: a lasting jump (a re-seated electrode with a new
    offset, far beyond any step the signal made) is the signal again after 0.05 s."""
    x, truth = ecg_like(ECG_FS, 120.0, seed=13)
    x[int(60 * ECG_FS) :] += 5e4
    out = EcgChannel(ECG_FS).update(x)
    beats = out.events["rpeak_time"]
    late = truth[truth / ECG_FS > 70.0] / ECG_FS
    found = np.abs(late[:, None] - beats[None, :]).min(axis=1) < 0.02
    assert found.mean() > 0.97
    q = out.features["quality_ecg"]
    assert q[(90 * 4) :].min() > 0.7  # (its envelopes relax to the new level within 30 s)


@pytest.mark.parametrize(("floor", "off_s"), [(0.0, 60), (1e-10, 60), (1e-6, 60), (0.0, 600)])
def test_a_signal_whose_steps_had_shrunk_is_taken_again_within_a_second(floor, off_s):
    """The gate's typical step learns from the samples it keeps. After a lead-off line that
    decays to a constant (an AC-coupled input) or sits at a float's dither, the returning
    ECG was thousands of typical steps away, every sample was dropped, and the typical step
    never grew again: no beat for the rest of the session (found by review). A dropped
    sample now raises the typical step, and it never falls below a millionth of the one
    learnt at the start (after a 10-min decay the ECG was lost for 25 s before that floor,
    found by a second review): the ECG is taken again within a second."""
    x, truth = ecg_like(ECG_FS, 120.0 + off_s, seed=14)
    a, b = int(60 * ECG_FS), int((60 + off_s) * ECG_FS)
    t = np.arange(b - a) / ECG_FS
    x[a:b] = x[a] * np.exp(-t / 1.0) + floor * np.random.default_rng(1).standard_normal(b - a)
    out = EcgChannel(ECG_FS).update(x)
    beats = out.events["rpeak_time"]
    late = truth[truth / ECG_FS > off_s + 65.0] / ECG_FS
    found = np.abs(late[:, None] - beats[None, :]).min(axis=1) < 0.02
    assert found.mean() > 0.97
    from wot_biofeedback.dsp._kernels import G_DROPPED, drop_glitches, glitch_state

    st, kept = glitch_state(ECG_FS), np.empty(x.size)
    drop_glitches(x, st, kept)
    dropped = np.flatnonzero(np.isnan(kept))
    assert dropped.size == 0 or dropped[-1] < b + 1 * ECG_FS, dropped[-1] / ECG_FS
    assert st[G_DROPPED] == dropped.size


def test_the_glitch_gate_keeps_every_sample_of_real_recordings(wot_data):
    """On real signals no sample is taken for corrupt: MIT-BIH 100 and 105 (both leads),
    drive05's ECG, respiration and skin conductance, NeuroKit2's 1000-Hz ECG."""
    import pandas as pd
    import wfdb

    from wot_biofeedback.dsp._kernels import G_DROPPED, drop_glitches, glitch_state

    signals = []
    for rec in ("100", "105"):
        r = wfdb.rdrecord(str(wot_data / "mitdb" / rec))
        signals += [(f"{rec}/{c}", r.p_signal[:, c], r.fs) for c in range(r.p_signal.shape[1])]
    r = wfdb.rdrecord(str(wot_data / "drivedb" / "drive05"), smooth_frames=False)
    for i, name in enumerate(r.sig_name):
        if name in ("ECG", "RESP", "hand GSR", "foot GSR"):
            signals.append((name, np.asarray(r.e_p_signal[i], float), r.fs * r.samps_per_frame[i]))
    ecg = pd.read_csv(wot_data / "neurokit" / "ecg_1000hz.csv")["ECG"].to_numpy(float)
    signals.append(("ecg_1000hz", ecg, 1000.0))
    for name, x, fs in signals:
        st, out = glitch_state(float(fs)), np.empty(len(x))
        drop_glitches(np.ascontiguousarray(x, dtype=float), st, out)
        assert st[G_DROPPED] == 0 and np.array_equal(out, x, equal_nan=True), name


def test_one_huge_chunk_equals_small_chunks_on_a_long_record():
    """Bounded rings (events, Welch segments) must not overflow whatever the chunk size."""
    fs = 128.0
    x, _ = ecg_like(fs, 1500.0, hr_bpm=75.0, seed=12)
    ref = EcgChannel(fs).update(x).features
    ch = EcgChannel(fs)
    parts = [ch.update(c) for c in np.array_split(x, 150)]
    for name in CARDIAC_FEATURES:
        got = np.concatenate([p.features[name] for p in parts if p.n_frames])
        np.testing.assert_array_equal(got, ref[name], err_msg=name)
    assert np.isfinite(ref["lf_hf_welch"][-100:]).all()
    rr = np.diff(np.arange(6000) * 0.8 + np.random.default_rng(3).normal(0, 0.01, 6000)) * 1000
    one = RRChannel().update(rr).features
    ch = RRChannel()
    many = [ch.update(c) for c in np.array_split(rr, 120)]
    for name in ("hr_bpm", "rmssd_ms", "lf_hf", "lf_hf_welch"):
        got = np.concatenate([p.features[name] for p in many if p.n_frames])
        np.testing.assert_array_equal(got, one[name][: got.size], err_msg=name)


def test_rr_stream_with_lost_values_keeps_to_its_timestamps():
    v = np.full(1200, 850.0)
    stamps = np.cumsum(v) / 1000.0  # each value's closing beat, session seconds
    v[::20] = np.nan  # every 20th value lost in transport
    v[0] = np.nan  # including the very first
    ch = RRChannel()
    outs = [ch.update(v[i : i + 37], stamps[i : i + 37]) for i in range(0, v.size, 37)]
    beats = np.concatenate([o.events["rpeak_time"] for o in outs])
    assert beats[-1] == pytest.approx(stamps[-1], abs=0.01)  # no drift from the lost values
    kinds = np.concatenate([o.events["rr_kind"] for o in outs])
    assert np.sum(kinds == EXCLUDED) >= 50  # the interval after each loss is not trusted
    hr = np.concatenate([o.features["hr_bpm"] for o in outs if o.n_frames])
    assert np.nanmedian(hr) == pytest.approx(60000.0 / 850.0, rel=1e-6)
    with pytest.raises(Exception, match="timestamps"):
        RRChannel().update(v[:5], stamps[:4])


def test_corrector_rejects_inconsistent_input():
    from wot_biofeedback.errors import InputError

    with pytest.raises(InputError, match="gap flags"):
        RRCorrector().update(np.arange(1.0, 10.0), np.zeros(2))
    with pytest.raises(InputError, match="increasing"):
        RRCorrector().update(np.array([1.0, 2.0, 1.5]))
    rows = rr_correct(np.array([800.0, 810, np.nan, 790, 805, 800, -5, 810, 800]))
    assert np.sum(rows["kind"] == EXCLUDED) == 3  # the first beat and the two after a loss


def test_time_domain_frames_match_their_definitions():
    """Every frame's HR/RMSSD/pNN50/SDNN/corrected share, recomputed from the NN rows."""
    from wot_simulators import SimConfig, load_scenario, simulate_session

    s = simulate_session(
        load_scenario("full-session"), SimConfig(seed=3, artifacts=0.1), duration_s=900.0
    )
    fs = 250.0
    ch = EcgChannel(fs)
    outs = [ch.update(c) for c in np.array_split(s.ecg, 97)]
    names = ("hr_bpm", "rmssd_ms", "sdnn_ms", "pnn50", "rr_corrected_pct")
    feat = {k: np.concatenate([o.features[k] for o in outs if o.n_frames]) for k in names}
    ev = {
        k: np.concatenate([o.events[k] for o in outs])
        for k in ("nn_time", "nn_ms", "rr_kind", "nn_confirm")
    }
    n_checked = 0
    for fi in range(400, feat["hr_bpm"].size, 7):
        t = fi / 4.0
        known = ev["nn_confirm"] <= np.floor(t * fs + 1e-9)  # rows confirmed by the frame
        tt, nn, kind = ev["nn_time"][known], ev["nn_ms"][known], ev["rr_kind"][known]
        w10, w30, w60 = tt >= t - 10, tt >= t - 30, tt >= t - 60
        d = np.diff(nn[w30])
        d = d[np.isfinite(d)]
        ok30 = w30.any() and np.mean(kind[w30] != NORMAL) <= 0.2
        ok60 = w60.any() and np.mean(kind[w60] != NORMAL) <= 0.2
        h = nn[w10][np.isfinite(nn[w10])]
        y = nn[w60][np.isfinite(nn[w60])]
        ref = {
            "hr_bpm": 60000 / h.mean() if h.size >= 2 else np.nan,
            "rmssd_ms": np.sqrt(np.mean(d**2)) if d.size >= 5 and ok30 else np.nan,
            "pnn50": 100 * np.mean(np.abs(d) > 50) if d.size >= 5 and ok30 else np.nan,
            "sdnn_ms": y.std(ddof=1) if y.size >= 10 and ok60 else np.nan,
            "rr_corrected_pct": 100 * np.mean(kind[w60] != NORMAL) if w60.any() else np.nan,
        }
        for k, v in ref.items():
            assert feat[k][fi] == pytest.approx(v, rel=1e-9, nan_ok=True), (k, t)
        n_checked += 1
    assert n_checked > 400


def test_quality_recovers_after_a_long_lead_off_rail():
    """drivedb drive05 has 5 minutes of ECG railed at -10 mV: the rail must not teach the
    noise detector that a quiet ECG is perfectly flat (it then locked the quality at 0)."""
    fs = 250.0
    x, _ = ecg_like(fs, 900.0, 70.0, seed=4)
    x[int(200 * fs) : int(500 * fs)] = -10.0
    ch = EcgChannel(fs)
    q, t = [], []
    for i in range(0, x.size, int(5 * fs)):
        out = ch.update(x[i : i + int(5 * fs)])
        q.append(out.features["quality_ecg"])
        t.append((out.first_frame + np.arange(out.n_frames)) / ch.frame_rate)
    qa, ta = np.concatenate(q), np.concatenate(t)
    assert qa[(ta > 100) & (ta < 200)].min() > 0.8
    assert qa[(ta > 260) & (ta < 500)].max() == 0.0
    assert qa[(ta > 560) & (ta < 900)].min() > 0.8
