"""DSP kernels: filters, ring buffer, detectors; streaming equals batch; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal as sig

from _kernels import COUNT_COMPILED
from _synth import breathing, ecg_like, scr_like
from wot_biofeedback.dsp.ecg import ECG_DELAY_S, EcgPeakDetector, ecg_peaks
from wot_biofeedback.dsp.eda import EdaScrDetector, eda_scr
from wot_biofeedback.dsp.filters import SosFilter, butter_sos, sos_zi_unit
from wot_biofeedback.dsp.hrv import hrv_time
from wot_biofeedback.dsp.resp import RespBreathDetector, rsp_breaths
from wot_biofeedback.dsp.ringbuffer import RingBuffer

ECG_FS = 250.0
ECG, ECG_TRUTH = ecg_like(ECG_FS, 60.0)
EDA_FS = 32.0
EDA = scr_like(EDA_FS, 120.0, [10, 25, 40, 41.5, 70, 100], 0.3)
RESP_FS = 50.0
RESP = breathing(RESP_FS, 120.0, 12.0)


def _chunked(update, x: np.ndarray, sizes: list[int]):
    outs = []
    i = 0
    k = 0
    while i < x.size:
        n = sizes[k % len(sizes)]
        outs.append(update(x[i : i + n]))
        i += n
        k += 1
    return outs


def test_sos_filter_matches_scipy_with_steady_state():
    sos = butter_sos("bandpass", (5.0, 20.0), 250.0)
    x = np.random.default_rng(0).normal(size=2000) + 3.0
    ref, _ = sig.sosfilt(sos, x, zi=sos_zi_unit(sos) * x[0])
    f = SosFilter(sos)
    got = np.concatenate([f.process(c) for c in np.array_split(x, 37)])
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_butter_sos_caps_corner_below_nyquist_for_low_rates():
    sos = butter_sos("lowpass", 1.0, 2.0)  # 1 Hz at fs 2 Hz is the Nyquist rate
    assert np.all(np.isfinite(sos))
    with pytest.raises(ValueError, match="Nyquist"):
        butter_sos("bandpass", (5.0, 20.0), 8.0)


def test_ring_buffer_cursors_and_wraparound():
    rb = RingBuffer(5)
    rb.write(np.arange(3))
    data, cur = rb.read_since(0)
    assert data.tolist() == [0, 1, 2] and cur == 3
    rb.write(np.arange(3, 9))  # wraps; 3 oldest are gone
    peek, start = rb.peek(10)
    assert peek.tolist() == [4, 5, 6, 7, 8] and start == 4
    data, cur = rb.read_since(cur)  # reader fell behind: gets what is still kept
    assert data.tolist() == [4, 5, 6, 7, 8] and cur == 9
    assert rb.peek(2)[0].tolist() == [7, 8]  # peek does not consume


def test_ecg_peaks_on_synthetic_are_at_true_extremum():
    peaks = ecg_peaks(ECG, ECG_FS)
    truth = ECG_TRUTH  # beats are reported from the first second on
    assert abs(len(peaks) - len(truth)) <= 1
    # each detected peak within 1 sample of the true R apex
    d = np.abs(peaks[:, None] - truth[None, :]).min(axis=1)
    assert np.all(d <= 1)


def test_ecg_detector_reports_within_declared_delay():
    det = EcgPeakDetector(ECG_FS)
    peaks = det.update(ECG)
    delay = (det.confirm_index - peaks) / ECG_FS
    assert delay.max() <= ECG_DELAY_S
    assert delay.min() >= 0


def test_ecg_detector_hold_sets_the_report_delay():
    """A shorter hold reports the same clean beats sooner; a hold outside 0.05-0.3 s is
    refused."""
    ref = EcgPeakDetector(ECG_FS)
    peaks = ref.update(ECG)
    assert np.median(ref.confirm_index - peaks) / ECG_FS == pytest.approx(0.29, abs=0.01)
    det = EcgPeakDetector(ECG_FS, hold_s=0.2)
    short = det.update(ECG)
    np.testing.assert_array_equal(short, peaks)  # clean beats: the same ones
    delay = (det.confirm_index - short) / ECG_FS
    assert delay.max() <= 0.2 + 1.5 / ECG_FS
    assert np.median(delay) == pytest.approx(0.2, abs=0.01)
    # no sooner than the complex is complete (its envelope maximum past), whatever the hold
    det = EcgPeakDetector(ECG_FS, hold_s=0.05)
    np.testing.assert_array_equal(det.update(ECG), peaks)
    delay = (det.confirm_index - peaks) / ECG_FS
    assert 0.1 < np.median(delay) < 0.2
    for bad in (0.01, 0.5, float("nan")):
        with pytest.raises(ValueError, match="ECG hold"):
            EcgPeakDetector(ECG_FS, hold_s=bad)


@pytest.mark.parametrize("fs", [128.0, 130.0, 500.0, 1000.0])
def test_ecg_peaks_other_rates_and_inverted_polarity(fs):
    x, truth = ecg_like(fs, 40.0, hr_bpm=85, seed=3)
    for sign in (1, -1):
        p = ecg_peaks(sign * x, fs)
        t = truth
        matched = np.abs(p[:, None] - t[None, :]).min(axis=0) <= 0.02 * fs
        assert matched.mean() >= 0.97, (fs, sign)
        assert len(p) <= len(t) + 1


def test_ecg_no_beats_in_flatline_nan_gap_or_noise():
    rng = np.random.default_rng(1)
    x = ECG.copy()
    x[2500:5000] = np.nan  # 10 s gap
    x[7500:10000] = x[7499]  # 10 s flatline
    det = EcgPeakDetector(ECG_FS)
    p = det.update(x)
    assert not np.any((p >= 2500) & (p < 5000))
    assert not np.any((p >= 7500) & (p < 10000))
    # beats resume after the gap and the flatline
    assert np.any((p > 5200) & (p < 6500)) and np.any((p > 10200) & (p < 11500))
    # pure noise: no invented rhythm
    noise = rng.normal(0, 0.05, 15000)
    assert len(ecg_peaks(noise, ECG_FS)) < 5
    assert len(ecg_peaks(np.zeros(5000), ECG_FS)) == 0
    assert len(ecg_peaks(np.full(5000, np.nan), ECG_FS)) == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 512), min_size=1, max_size=20))
def test_ecg_streaming_equals_batch(sizes):
    batch = ecg_peaks(ECG, ECG_FS)
    det = EcgPeakDetector(ECG_FS)
    stream = np.concatenate(_chunked(det.update, ECG, sizes))
    np.testing.assert_array_equal(stream, batch)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 512), min_size=1, max_size=20))
def test_eda_and_resp_streaming_equal_batch(sizes):
    b = eda_scr(EDA, EDA_FS)
    det = EdaScrDetector(EDA_FS)
    outs = _chunked(det.update, EDA, sizes)
    np.testing.assert_array_equal(np.concatenate([o[0] for o in outs]), b["onset"])
    np.testing.assert_array_equal(np.concatenate([o[2] for o in outs]), b["amplitude_us"])
    rb = rsp_breaths(RESP, RESP_FS)
    rdet = RespBreathDetector(RESP_FS)
    routs = _chunked(rdet.update, RESP, sizes)
    on = np.concatenate([o[0] for o in routs])
    np.testing.assert_array_equal(on[on >= 0], rb["onset"])


def test_eda_scr_detects_responses_with_absolute_threshold():
    r = eda_scr(EDA, EDA_FS)
    onsets = r["onset"] / EDA_FS
    truth = np.array([10, 25, 40, 41.5, 70, 100])
    hits = [np.any(np.abs(onsets - o) <= 1.0) for o in truth]
    assert sum(hits) >= 5
    assert len(onsets) <= len(truth) + 1
    assert np.all(r["amplitude_us"] >= 0.02)
    # the same responses 100x smaller are below the absolute 0.02 µS threshold
    small = scr_like(EDA_FS, 120.0, [10, 25, 40, 70, 100], 0.003)
    assert len(eda_scr(small, EDA_FS)["onset"]) == 0


def test_eda_at_4hz_and_with_nan_gap():
    x = scr_like(4.0, 120.0, [10, 30, 60, 90], 0.3)
    r = eda_scr(x, 4.0)
    assert 3 <= len(r["onset"]) <= 5
    x = scr_like(EDA_FS, 120.0, [10, 30, 60, 90], 0.3)
    x[int(40 * EDA_FS) : int(50 * EDA_FS)] = np.nan
    r = eda_scr(x, EDA_FS)
    assert np.all(np.isfinite(r["amplitude_us"]))
    on = r["onset"] / EDA_FS
    assert not np.any((on > 40) & (on < 50))
    assert np.any(np.abs(on - 60) < 1.0)


def test_resp_breath_rate_and_depth_invariance():
    for rate in (6.0, 12.0, 24.0):
        for depth in (0.1, 1.0, 10.0):
            x = breathing(RESP_FS, 120.0, rate, depth)
            on = rsp_breaths(x, RESP_FS)["onset"] / RESP_FS
            est = 60.0 / np.median(np.diff(on))
            assert abs(est - rate) < 0.5, (rate, depth, est)


def test_hrv_time_known_values():
    rr = np.array([800.0, 810, 790, 805, 795, 800])
    h = hrv_time(rr)
    assert h["mean_nn_ms"] == pytest.approx(800.0)
    assert h["sdnn_ms"] == pytest.approx(np.std(rr, ddof=1))
    assert h["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(np.diff(rr) ** 2)))
    assert h["pnn50"] == 0.0
    # an excluded interval (NaN) leaves out itself and both differences it takes part in
    h = hrv_time(np.array([800.0, 900, np.nan, 800, 900]))
    assert h["mean_nn_ms"] == pytest.approx(850.0)
    assert h["rmssd_ms"] == pytest.approx(100.0)


def test_pyhrv_reference_time_domain(wot_data):
    nn = np.load(wot_data / "pyhrv" / "SampleNNISeriesLong.npy")
    h = hrv_time(nn)
    assert h["mean_nn_ms"] == pytest.approx(768.438, rel=1e-3)
    assert h["sdnn_ms"] == pytest.approx(85.357, rel=1e-3)
    assert h["rmssd_ms"] == pytest.approx(60.523, rel=1e-3)
    assert h["pnn50"] == pytest.approx(28.571, rel=1e-3)


def test_warm_up_compiles_every_channel_kernel():
    """The live engine compiles (or loads) all kernels before its first chunk."""
    from wot_biofeedback.dsp import acc, eda, resp, warm_up

    warm_up()
    for kernel in (eda._eda_kernel, resp._resp_breaths, acc._acc_breathing):
        assert kernel.signatures, kernel


LONG_SESSION_COMPILES_NOTHING = (
    COUNT_COMPILED
    + """
from wot_simulators import SimConfig, load_scenario, simulate_session
from wot_biofeedback.dsp import warm_up
from wot_biofeedback.pipeline import Pipeline

rates = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}
sess = simulate_session(load_scenario("full-session"), SimConfig(seed=3, artifacts=0.05), 1200.0)
x = {m: sess.signal(m) for m in rates}
warm_up(tuple(rates))
before = compiled()
pipe = Pipeline(rates)
pipe.hold = True  # as the live engine: 20-ms reads, the slow signals a frame at a time
frames = 0
for i in range(60000):
    for m, fs in rates.items():
        a, b = round(i * 0.02 * fs), round((i + 1) * 0.02 * fs)
        if b > a:
            frames += len(pipe.push(m, x[m][a:b]).frames)
late = sorted(k for k, n in compiled().items() if n > before.get(k, 0))
print("frames", frames, "breaths", len(pipe.channels["resp"]._onsets))
print("compiled after warm_up:", late)
"""
)


def test_a_long_live_session_compiles_nothing_after_warm_up():
    """20 minutes in 20-ms reads, as the live engine feeds them: the breathing log fills and
    grows (to 246 breaths), and no kernel meets an argument type ``warm_up`` did not compile for
    (a new type is a compile on the engine thread, half a second on a new machine: the event
    log's running sums were once handed over in a layout that changed when the log was full).
    A process of its own, whose numba dispatchers start empty."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", LONG_SESSION_COMPILES_NOTHING],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "frames 4800 breaths 2" in r.stdout, r.stdout  # past the log's first capacities
    assert "compiled after warm_up: []" in r.stdout, r.stdout
