"""Breaths against manually labelled breaths: BIDMC records 1-10 (thoracic impedance, 125 Hz).

The data (``tests/data/bidmc``, ODC-By, see ``tests/data/README.md``) hold each record's RESP
channel and the breaths two annotators marked on it, at the inspiration peaks. All 53 records
are scored by ``benchmarks/validate_breaths.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from _reference import match_events
from wot_biofeedback.dsp.resp import RespBreathDetector, rsp_breaths

DATA = Path(__file__).parent / "data" / "bidmc" / "bidmc_01-10_resp.npz"
FS = 125.0
T0, T1 = 10.0, 470.0  # scored span, s


@pytest.fixture(scope="module")
def bidmc() -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    z = np.load(DATA)
    return {
        r: (
            z[f"resp_{r:02d}"].astype(np.float64),
            z[f"ann1_{r:02d}"] / FS,
            z[f"ann2_{r:02d}"] / FS,
        )
        for r in range(1, 11)
    }


def _span(v: np.ndarray) -> np.ndarray:
    return v[(v >= T0) & (v <= T1)]


def _f1(found: np.ndarray, ref: np.ndarray, tol: float = 1.0) -> tuple[float, np.ndarray]:
    """One-to-one matching within ``tol`` s, closest pairs first: F1 and matched offsets."""
    found, ref = _span(found), _span(ref)
    i_f, i_r = match_events(found, ref, tol)
    return 2 * i_f.size / max(1, found.size + ref.size), found[i_f] - ref[i_r]


def _window_rates(events: np.ndarray) -> np.ndarray:
    """Breaths/min in 60-s windows every 30 s: 60 / mean interval of the events inside."""
    out = []
    for t in np.arange(T0, T1 - 60.0 + 1e-9, 30.0):
        sel = events[(events >= t) & (events < t + 60.0)]
        out.append(60.0 * (sel.size - 1) / (sel[-1] - sel[0]) if sel.size >= 2 else np.nan)
    return np.asarray(out)


def test_peaks_agree_with_the_annotators_as_they_agree_with_each_other(bidmc):
    """Our inspiration peaks against annotator 1, pooled over records 1-10, match as well as
    annotator 2 does (mean F1 0.993 and 0.997 measured), each record >= 0.95 (record 5, clipped at
    both rails, 0.957: our peak sits at the start of the flat top, the annotator's in it),
    with the peaks a median under 0.1 s from the marks."""
    ours, inter, offs = [], [], []
    for rec, (x, a1, a2) in bidmc.items():
        f1, off = _f1(rsp_breaths(x, FS)["peak"] / FS, a1)
        fi, _ = _f1(a2, a1)
        print(f"bidmc {rec:02d}: ours F1 {f1:.3f}, annotator 2 {fi:.3f}")
        assert f1 >= 0.95, rec
        ours.append(f1)
        inter.append(fi)
        offs.append(off)
    assert np.mean(ours) >= np.mean(inter) - 0.01
    assert abs(np.median(np.concatenate(offs))) < 0.1


def test_rate_within_half_a_breath_per_minute_of_the_annotators(bidmc):
    """The rate the engine reports (from inspiration onsets) in 60-s windows against the rate of
    annotator 1's marks: median |error| 0.05-0.15 breaths/min per record, 95th percentile 0.52
    over all windows (slow 6/min breathing and a clipped signal included)."""
    errs = []
    for rec, (x, a1, _) in bidmc.items():
        e = np.abs(_window_rates(rsp_breaths(x, FS)["onset"] / FS) - _window_rates(a1))
        e = e[np.isfinite(e)]
        assert e.size >= 10, rec
        assert np.median(e) <= 0.25, rec
        errs.append(e)
    allerr = np.concatenate(errs)
    print(f"rate |error|: median {np.median(allerr):.2f}, 95th pct {np.percentile(allerr, 95):.2f}")
    assert np.percentile(allerr, 95) <= 1.5


@pytest.mark.parametrize(("up", "down"), [(1, 5), (2048, 125)])
def test_same_breaths_at_25_and_2048_hz(bidmc, up, down):
    """Resampled to 25 Hz and to 2048 Hz, records 1-3 give the same peaks within 0.1 s and the
    same F1 against the annotator within 0.01."""
    fs = FS * up / down
    for rec in (1, 2, 3):
        x, a1, _ = bidmc[rec]
        base = rsp_breaths(x, FS)["peak"] / FS
        other = rsp_breaths(resample_poly(x, up, down), fs)["peak"] / fs
        f_base, _ = _f1(base, a1)
        f_other, _ = _f1(other, a1)
        assert abs(f_other - f_base) <= 0.01, (rec, fs)
        same, _ = _f1(other, base, tol=0.1)
        assert same >= 0.98, (rec, fs)


def test_streaming_equals_batch_on_a_real_record(bidmc):
    x = bidmc[6][0]
    batch = rsp_breaths(x, FS)
    det = RespBreathDetector(FS)
    rng = np.random.default_rng(6)
    onsets, peaks = [], []
    i = 0
    while i < x.size:
        k = int(rng.integers(1, 700))
        on, pk, _ = det.update(x[i : i + k])
        onsets.append(on[on >= 0])
        peaks.append(pk[on < 0])
        i += k
    np.testing.assert_array_equal(np.concatenate(onsets), batch["onset"])
    np.testing.assert_array_equal(np.concatenate(peaks), batch["peak"])
