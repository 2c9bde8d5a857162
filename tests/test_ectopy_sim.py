"""The ectopy simulator's truth is consistent: counts per pattern, prematurity and compensatory
pause of PVCs, determinism by seed, any sampling rate."""

from __future__ import annotations

import numpy as np
import pytest
from wot_simulators.ectopy import PATTERNS, EctopyRecord, simulate_ectopy


def _rr(rec: EctopyRecord) -> np.ndarray:
    return np.diff(rec.beats) / rec.fs


def test_sinus_has_no_ectopy() -> None:
    rec = simulate_ectopy("sinus", duration_s=60.0, seed=1)
    assert set(rec.kinds) == {"N"}
    assert abs(60.0 / np.median(_rr(rec)) - 70.0) < 3.0


@pytest.mark.parametrize("pattern", PATTERNS)
def test_truth_is_sorted_and_inside(pattern: str) -> None:
    rec = simulate_ectopy(pattern, rate=0.3, duration_s=60.0, seed=2)
    assert rec.beats.dtype == np.int64
    assert rec.beats.size == rec.kinds.size > 50
    assert np.all(np.diff(rec.beats) > 0.2 * rec.fs)  # no two beats within 200 ms
    assert rec.beats[0] >= 0 and rec.beats[-1] < rec.signal.size
    assert set(rec.kinds) <= {"N", "V", "F"}


def test_bigeminy_and_trigeminy_alternate() -> None:
    big = simulate_ectopy("bigeminy", duration_s=60.0, seed=3)
    k = "".join(big.kinds[3:])
    assert "VV" not in k and "NNN" not in k and k.count("V") >= k.count("N") - 1
    tri = simulate_ectopy("trigeminy", duration_s=60.0, seed=3)
    k = "".join(tri.kinds[4:])
    body = k[k.index("V") + 1 : k.rindex("V")]
    assert set(body.split("V")) == {"NN"}


def test_isolated_prematurity_and_full_compensatory_pause() -> None:
    rec = simulate_ectopy("isolated", rate=0.1, duration_s=120.0, seed=4)
    kinds = rec.kinds
    t = rec.beats / rec.fs
    rr_sinus = np.median(np.diff(t)[(kinds[:-1] == "N") & (kinds[1:] == "N")])
    v = [i for i in range(1, kinds.size - 1) if kinds[i] == "V"]
    assert len(v) >= 5
    assert abs(sum(kinds == "V") / kinds.size - 0.1) < 0.06
    for i in v:
        assert kinds[i - 1] == "N" and kinds[i + 1] == "N"
        coupling = (t[i] - t[i - 1]) / rr_sinus
        assert 0.45 < coupling < 0.75
        # the sinus node is not reset: the beats around the PVC are two sinus cycles apart
        assert abs((t[i + 1] - t[i - 1]) / rr_sinus - 2.0) < 0.12


def test_couplets_runs_and_interpolated() -> None:
    k = "".join(simulate_ectopy("couplets", rate=0.3, duration_s=120.0, seed=5).kinds)
    assert "NVVN" in k and "VVV" not in k and "NVN" not in k
    k = "".join(simulate_ectopy("nsvt", rate=0.3, duration_s=120.0, seed=5).kinds)
    assert "NVVVN" in k and "VVVV" not in k and "NVN" not in k and "NVVN" not in k
    rec = simulate_ectopy("interpolated", rate=0.2, duration_s=120.0, seed=5)
    sinus = rec.beats[rec.kinds == "N"] / rec.fs
    # interpolated PVCs block no sinus beat: the sinus rhythm has no pauses
    assert np.diff(sinus).max() < 1.3 * np.median(np.diff(sinus))
    assert (rec.kinds == "V").sum() > 10


def test_fusion_beats_are_on_time() -> None:
    rec = simulate_ectopy("fusion", rate=0.2, duration_s=120.0, seed=6)
    f = np.flatnonzero(rec.kinds == "F")
    assert f.size >= 3
    t = rec.beats / rec.fs
    for i in f[(f > 0) & (f < rec.kinds.size - 1)]:
        if rec.kinds[i - 1] == "N":
            assert t[i] - t[i - 1] > 0.8 * 60.0 / 70.0


def test_deterministic_by_seed() -> None:
    a = simulate_ectopy("mixed", rate=0.3, duration_s=30.0, seed=7, wander=0.1)
    b = simulate_ectopy("mixed", rate=0.3, duration_s=30.0, seed=7, wander=0.1)
    c = simulate_ectopy("mixed", rate=0.3, duration_s=30.0, seed=8, wander=0.1)
    assert np.array_equal(a.signal, b.signal) and np.array_equal(a.beats, b.beats)
    assert np.array_equal(a.kinds, b.kinds)
    assert not np.array_equal(a.beats, c.beats)


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0, 500.0, 1000.0])
def test_any_rate_same_rhythm(fs: float) -> None:
    ref = simulate_ectopy("isolated", rate=0.3, duration_s=30.0, seed=9, fs=360.0)
    rec = simulate_ectopy("isolated", rate=0.3, duration_s=30.0, seed=9, fs=fs)
    assert rec.signal.size == round(30.0 * fs)
    assert np.array_equal(rec.kinds, ref.kinds)
    assert np.abs(rec.beats / fs - ref.beats / 360.0).max() <= 0.5 / fs + 0.5 / 360.0 + 1e-9
    # the truth sample is the extremum of its QRS (PVCs may be negative)
    w = max(1, round(0.01 * fs))
    for b in rec.beats[:10]:
        seg = np.abs(rec.signal[b - 4 * w : b + 4 * w + 1])
        assert abs(int(np.argmax(seg)) - 4 * w) <= w


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        simulate_ectopy("quadrigeminy")
    with pytest.raises(ValueError):
        simulate_ectopy("isolated", rate=1.5)
    with pytest.raises(ValueError):
        simulate_ectopy("isolated", polarity="up")


@pytest.mark.parametrize("hr", [70.0, 110.0])
def test_no_pvc_within_the_refractory_period(hr: float) -> None:
    rec = simulate_ectopy("mixed", rate=0.4, duration_s=60.0, seed=10, hr_bpm=hr)
    gaps = np.diff(rec.beats) / rec.fs
    assert gaps.min() >= 0.3 - 1.0 / rec.fs
