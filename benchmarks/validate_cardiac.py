"""Cardiac validation beyond R-peaks: PPG, beat correction, HRV against pyhrv, NeuroKit2, PhysioNet.

Run on demand (prints tables, asserts nothing; about 30 s)::

    .venv/bin/python benchmarks/validate_cardiac.py [--seed 12345]

The same computations as the test suite's checks (``tests/test_ppg.py``,
``tests/test_cardiac.py``, ``tests/test_dsp.py``, ``tests/test_hrv_freq.py``,
``tests/test_analyze.py``), printed as tables. Real recordings come from ``WOT_DATA_DIR``
(default ``../shared/data``); a section whose file is missing is skipped with a message. The
reference values of pyhrv and of the toolbox are read from their files, not typed here.

1. **PPG pulses vs ECG R-peaks** (NeuroKit2 ``neurokit/bio_resting_5min_100hz.csv``, ECG and
   finger PPG at 100 Hz, 5 min), the PPG at 100, 50 and 25 Hz: each pulse is owned by the
   R-peak preceding it by at least 0.1 s (R-peaks from wot ``ecg_peaks``, refined by a
   parabola). A clean RR interval is 0.33-1.5 s and within 20 % of its local median (so the
   ECG detector's own slips do not count). *Matched*: the share of clean beats with exactly one
   pulse at the usual pulse transit time (± 0.1 s); |PP − RR|: pulse interval against the RR
   interval, median and 95th percentile. NeuroKit2 ``ppg_clean`` + ``ppg_peaks`` beside it.
   Then ``wot analyze`` of the file twice (ECG; PPG): the median |HR difference| per frame.
2. **Beat correction**: 600 simulated sinus beats (respiratory and slow variability) with one
   ectopic beat (0.3 s premature), one missed and one extra beat injected; ``rr_correct``
   must classify all three, correct few clean beats, and give back the true RMSSD.
3. **Time-domain HRV** on ``pyhrv/SampleNNISeriesLong.npy`` (4,684 NN intervals) against
   pyhrv's ``SampleReport.txt`` and NeuroKit2 ``hrv_time``.
4. **Lomb-Scargle vs the PhysioNet Cardiovascular Signal Toolbox** (Vest et al. 2018) on
   ``nsr2db/nsr001``: 231 windows of 300 s every 30 s (``nsr001_reference_hrv.csv``), NN
   series built as the toolbox does (annotation times at 1/125 s, its Fs quirk; normal beats
   only; intervals > 20 % from the mean of the last 5 accepted removed). Median |relative
   error| of LF, HF, LF/HF, and on the windows with at most one non-normal annotation.
5. **Lomb vs NeuroKit2** ``hrv_frequency(psd_method="lomb")`` on pyhrv's short series and 11
   windows of 300 s of the long one: against Lomb on the beats (``interpolation_rate=None``)
   and against its default (Lomb of a 100 Hz interpolation). Needs astropy.
6. **Welch vs pyhrv's report** (``SampleNNISeriesLong``, 4 Hz, Hamming, nfft 4096) with 256-
   and 300-sample segments.
7. **Spectra sanity**: a 0.1 Hz, 30 ms sine modulation of 400 NN intervals (LF should be
   A²/2 = 450 ms²), and the coherence ratio there and on white-noise NN series.
8. **RSA** on a simulated ``calm`` session (ECG + RESP, seed 2, 240 s), after 70 s; fed in
   10-s and in 0.37-s chunks.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from scipy import signal as sig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import CARDIAC, emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _reference import (
    nsr001_reference_nn,
    ppg_agreement,
    refine_peaks,
    sinus_beats,
    with_artifacts,
)
from wot_biofeedback.dsp import hrv_freq as H
from wot_biofeedback.dsp.ecg import ecg_peaks
from wot_biofeedback.dsp.hrv import (
    ECTOPIC,
    EXTRA,
    LONGSHORT,
    MISSED,
    NORMAL,
    hrv_time,
    rr_correct,
)
from wot_biofeedback.dsp.ppg import PpgPulseDetector

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))


def _missing(path: Path) -> bool:
    if path.exists():
        return False
    print(f"skipped: {path} not found (set WOT_DATA_DIR)")
    return True


def _nk():
    """NeuroKit2, or None (its columns then say so)."""
    try:
        import neurokit2 as nk
    except ImportError:
        print("NeuroKit2 not installed: its columns are left out (pip install -e '.[bench]')")
        return None
    warnings.filterwarnings("ignore")
    return nk


def pc(x: float, signed: bool = False, digits: int = 1) -> str:
    """A share as the pages write it: ``99.3 %``, ``−2.7 %``."""
    text = f"{100 * x:{'+' if signed else ''}.{digits}f} %"
    return text.replace("-", "−")


# 1. PPG ----------------------------------------------------------------------------------


def ppg() -> None:
    f = DATA / "neurokit" / "bio_resting_5min_100hz.csv"
    print("\n#### 1. PPG pulses vs ECG R-peaks, NeuroKit2 bio_resting_5min_100hz")
    if _missing(f):
        return
    nk = _nk()
    d = np.genfromtxt(f, delimiter=",", names=True)
    ecg, x100 = d["ECG"], d["PPG"]
    r = refine_peaks(ecg, ecg_peaks(ecg, 100.0)) / 100.0
    print("| PPG rate | detector | clean beats | matched | PTT ms | |PP-RR| median ms | p95 ms "
          "| RMSSD PP / RR ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for fs in (100, 50, 25):
        x = x100 if fs == 100 else sig.resample_poly(x100, fs, 100)
        det = PpgPulseDetector(float(fs))
        idx = det.update(x)
        a = ppg_agreement(r, (idx + det.fraction) / det.fs)
        print(f"| {fs} Hz | wot | {a['n']} | {pc(a['matched'])} | {a['ptt_ms']:.0f} | "
              f"{a['med_ms']:.1f} | {a['p95_ms']:.1f} | {a['rmssd_pp']:.1f} / "
              f"{a['rmssd_rr']:.1f} |")  # fmt: skip
        ref_m = ref_d = ""
        if nk is not None:
            _, info = nk.ppg_peaks(nk.ppg_clean(x, sampling_rate=fs), sampling_rate=fs)
            b = ppg_agreement(r, np.asarray(info["PPG_Peaks"], dtype=float) / fs)
            print(f"| {fs} Hz | NeuroKit2 | {b['n']} | {pc(b['matched'])} | {b['ptt_ms']:.0f} | "
                  f"{b['med_ms']:.1f} | {b['p95_ms']:.1f} | {b['rmssd_pp']:.1f} / "
                  f"{b['rmssd_rr']:.1f} |")  # fmt: skip
            ref_m = f"{pc(b['matched'])}"
            ref_d = f"{b['med_ms']:.1f} / {b['p95_ms']:.1f}"
        rec = f"NeuroKit2 bio_resting_5min_100hz, PPG at {fs} Hz ({a['n']} clean beats)"
        tool = "NeuroKit2 ppg_clean + ppg_peaks"
        emit(CARDIAC, rec, "PPG pulses matched to ECG R-peaks (share of clean beats)",
             f"{pc(a['matched'])}", tool, ref_m,
             "R-peaks: wot ecg_peaks, parabola-refined")  # fmt: skip
        emit(CARDIAC, rec, "|PP − RR| median / 95th pct (ms)",
             f"{a['med_ms']:.1f} / {a['p95_ms']:.1f}", tool, ref_d,
             f"RMSSD from PP {a['rmssd_pp']:.1f} ms, from RR {a['rmssd_rr']:.1f} ms")  # fmt: skip
    # HR from PPG against HR from ECG, both through `wot analyze`
    from wot_biofeedback.cli import main as wot

    with tempfile.TemporaryDirectory() as tmp:
        args = ["analyze", str(f), "--fs", "100", "--baseline", "0:120"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc_e = wot([*args, "--out", f"{tmp}/e"])
            rc_p = wot([*args, "--ppg", "PPG", "--out", f"{tmp}/p"])
        if rc_e or rc_p:
            print(f"wot analyze failed (exit {rc_e}, {rc_p}): HR row skipped")
            return

        def col(name: str) -> np.ndarray:
            with open(f"{tmp}/{name}/features.csv", newline="") as fh:
                rows = list(csv.DictReader(fh))
            return np.array([float(r["hr_bpm"]) if r["hr_bpm"] else np.nan for r in rows])

        hr_e, hr_p = col("e"), col("p")
    n = min(hr_e.size, hr_p.size)
    hr_e, hr_p = hr_e[:n], hr_p[:n]
    ok = np.isfinite(hr_e) & np.isfinite(hr_p)
    dif = np.abs(hr_e[ok] - hr_p[ok])
    print(f"\nwot analyze, HR from PPG vs from ECG: {ok.sum()} frames with both "
          f"({pc(ok.mean(), digits=0)}), median |difference| {np.median(dif):.2f} bpm, 95th pct "
          f"{np.percentile(dif, 95):.2f} bpm")  # fmt: skip
    emit(CARDIAC, "NeuroKit2 bio_resting_5min_100hz, PPG at 100 Hz",
         "HR per frame from PPG vs from ECG, median |difference| (bpm)",
         f"{np.median(dif):.2f}", "wot analyze of the ECG (same file)", "",
         f"{pc(ok.mean(), digits=0)} of frames have both; 95th pct {np.percentile(dif, 95):.2f} "
         "bpm")  # fmt: skip


# 2. Beat correction ----------------------------------------------------------------------


def correction_trial(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    t = sinus_beats(rng)
    true_rr = np.diff(t) * 1000
    beats = with_artifacts(t)  # premature (ectopic) at 100, 250 missed, an extra after 399
    rows = rr_correct(times_s=beats)
    kind = rows["kind"]

    def near(ts: float) -> np.ndarray:
        return np.abs(rows["time_s"] - ts) < 1.2

    ectopic = bool(np.any(near(t[100]) & np.isin(kind, [ECTOPIC, LONGSHORT])))
    missed = bool(np.sum(near(t[250]) & (kind == MISSED)) == 2)
    extra = bool(np.any(near(beats[400]) & (kind == EXTRA)))
    injected = near(t[100]) | near(t[250]) | near(beats[400])
    return {
        "classified": ectopic + missed + extra,
        "corrected": float(np.mean(kind != NORMAL)),
        "false": float(np.mean((kind != NORMAL) & ~injected)),
        "true": hrv_time(true_rr)["rmssd_ms"],
        "corr": hrv_time(rows["nn_ms"])["rmssd_ms"],
        "raw": hrv_time(np.diff(np.array(beats)) * 1000)["rmssd_ms"],
    }


def correction(seed: int, seeds: range) -> None:
    print("\n#### 2. Beat correction: ectopic + missed + extra beat in 600 sinus beats")
    print("| seed | classified (of 3) | rows corrected | outside the injected beats "
          "| RMSSD true / corrected / uncorrected ms |")  # fmt: skip
    print("|---|---|---|---|---|")
    trials = {}
    for s in (seed, *seeds):
        c = correction_trial(s)
        trials[s] = c
        print(f"| {s} | {c['classified']} | {pc(c['corrected'])} | {pc(c['false'])} | "
              f"{c['true']:.1f} / {c['corr']:.1f} / {c['raw']:.1f} |")  # fmt: skip
    c = trials[seed]
    emit(CARDIAC, f"simulated sinus rhythm, 600 beats, seed {seed} (the test suite's)",
         "injected ectopic / missed / extra beats classified (of 3); rows corrected",
         f"{c['classified']} of 3; {pc(c['corrected'])}", "truth (injected)", "3 of 3",
         f"{pc(c['false'])} corrected away from the injected beats")  # fmt: skip
    emit(CARDIAC, f"simulated sinus rhythm, 600 beats, seed {seed} (the test suite's)",
         "RMSSD corrected / uncorrected (ms)", f"{c['corr']:.1f} / {c['raw']:.1f}",
         "truth (the sinus intervals)", f"{c['true']:.1f}", "")  # fmt: skip
    rest = [trials[s] for s in seeds]
    if rest:
        err = [abs(x["corr"] / x["true"] - 1) for x in rest]
        cls = sorted({x["classified"] for x in rest})
        cls_s = f"{cls[0]}" if len(cls) == 1 else f"{cls[0]}-{cls[-1]}"
        corrected = [x["corrected"] for x in rest]
        lo, hi = min(corrected), max(corrected)
        emit(CARDIAC, f"the same, seeds {seeds.start}-{seeds.stop - 1}",
             "injected beats classified (of 3); rows corrected (range)",
             f"{cls_s} of 3; {pc(lo)}" + ("" if pc(lo) == pc(hi) else f"-{pc(hi)}"),
             "truth (injected)", "3 of 3",
             f"RMSSD corrected within {pc(max(err))} of the truth (uncorrected "
             f"{min(x['raw'] / x['true'] for x in rest):.1f}-"
             f"{max(x['raw'] / x['true'] for x in rest):.1f}x)")  # fmt: skip


# 3. Time domain --------------------------------------------------------------------------


Report = dict[str, dict[str, float | list[float | str]]]


def pyhrv_report(path: Path) -> Report:
    """pyhrv's report by section (the title between two rules): ``Name ; value`` lines, and
    lists as ``\\t-\\tvalue`` lines after their name."""
    out: Report = {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    section, key = "", ""
    for i, line in enumerate(lines):
        if line.startswith("---"):
            continue
        if (
            0 < i < len(lines) - 1
            and lines[i - 1].startswith("---")
            and lines[i + 1].startswith("---")
        ):
            section, key = line.strip(), ""
            continue
        sec = out.setdefault(section, {})
        if line.startswith("\t-\t") and key:
            item = line[3:].strip()
            lst = sec.setdefault(key, [])
            assert isinstance(lst, list)
            try:
                lst.append(float(item))
            except ValueError:
                lst.append(item)
            continue
        m = re.match(r"^(.+?)\s*;\s*(.*)$", line)
        if not m:
            continue
        key, val = m.group(1).strip(), m.group(2).strip()
        with contextlib.suppress(ValueError):
            sec[key] = float(val)
    return out


def _num(v: float | list[float | str]) -> float:
    if not isinstance(v, float):
        raise ValueError(f"expected a number in pyhrv's report, got {v!r}")
    return v


def time_domain() -> None:
    f = DATA / "pyhrv" / "SampleNNISeriesLong.npy"
    rep_f = DATA / "pyhrv" / "SampleReport.txt"
    print("\n#### 3. Time-domain HRV, pyhrv SampleNNISeriesLong")
    if _missing(f) or _missing(rep_f):
        return
    nn = np.load(f).astype(float)
    rep = pyhrv_report(rep_f)["Time Domain"]
    got = hrv_time(nn)
    names = (("mean_nn_ms", "Mean NNI (ms)", "HRV_MeanNN", "mean NN"),
             ("sdnn_ms", "SDNN (ms)", "HRV_SDNN", "SDNN"),
             ("rmssd_ms", "RMSSD (ms)", "HRV_RMSSD", "RMSSD"),
             ("pnn50", "pNN50 (%)", "HRV_pNN50", "pNN50"))  # fmt: skip
    nk = _nk()
    nkv: dict[str, float] = {}
    if nk is not None:
        peaks = np.concatenate(([0], np.cumsum(nn))).astype(int)  # 1 kHz sample indices
        ref = nk.hrv_time(peaks, sampling_rate=1000)
        nkv = {ours: float(ref[col].iloc[0]) for ours, _, col, _ in names}
    print(f"{len(nn)} NN intervals")
    print("| measure | wot | pyhrv report | difference | NeuroKit2 hrv_time |")
    print("|---|---|---|---|---|")
    rel = []
    for ours, rkey, _, label in names:
        r = _num(rep[rkey])
        rel.append(abs(got[ours] / r - 1))
        nv = f"{nkv[ours]:.3f}" if ours in nkv else "–"
        d = pc(got[ours] / r - 1, signed=True, digits=3)
        print(f"| {label} | {got[ours]:.3f} | {r:.3f} | {d} | {nv} |")
    labels = " / ".join(n[3] for n in names)
    ours_s = " / ".join(f"{got[n[0]]:.3f}" for n in names)
    rec = f"pyhrv SampleNNISeriesLong ({len(nn)} NN intervals)"
    emit(CARDIAC, rec, f"{labels} (ms, pNN50 %)", ours_s, "pyhrv SampleReport.txt",
         " / ".join(f"{_num(rep[n[1]]):.3f}" for n in names),
         f"largest difference {pc(max(rel), digits=3)}; SDNN with ddof=1")  # fmt: skip
    if nkv:
        emit(CARDIAC, rec, f"{labels} (ms, pNN50 %)", ours_s, "NeuroKit2 hrv_time",
             " / ".join(f"{nkv[n[0]]:.3f}" for n in names),
             "NeuroKit2's pNN50 divides by the N intervals, ours by the N − 1 "
             "differences")  # fmt: skip


# 4. Lomb vs the PhysioNet toolbox --------------------------------------------------------


def toolbox() -> None:
    rec = DATA / "nsr2db" / "nsr001"
    ref_f = DATA / "nsr2db" / "nsr001_reference_hrv.csv"
    print("\n#### 4. Lomb-Scargle vs the PhysioNet Cardiovascular Signal Toolbox, nsr2db/nsr001")
    if _missing(rec.with_suffix(".ecg")) or _missing(ref_f):
        return
    with open(ref_f, newline="") as fh:
        ref = [{k: float(r[k]) for k in ("t_start", "lf", "hf", "lfhf")}
               for r in csv.DictReader(fh)]  # fmt: skip
    t_first, t, y, non_normal = nsr001_reference_nn(rec)
    s = H.SlidingLomb()
    lo = hi = 0
    errs, clean = [], []
    for row in ref:
        # windows are [t_start, t_start + 300) s after the first beat; slide the Lomb sums
        a, b = t_first + row["t_start"], t_first + row["t_start"] + 300.0
        while hi < t.size and t[hi] < b:
            s.add(t[hi], y[hi])
            hi += 1
        while t[lo] < a:
            s.remove(t[lo], y[lo])
            lo += 1
        out = s.bands()
        d = y[lo:hi].mean() / 1000.0  # the toolbox integrates the unscaled periodogram: ours / Δ
        errs.append((out["lf_ms2"] / d / row["lf"] - 1, out["hf_ms2"] / d / row["hf"] - 1,
                     out["lf_hf"] / row["lfhf"] - 1))  # fmt: skip
        clean.append(np.count_nonzero((non_normal >= a) & (non_normal < b)) <= 1)
    e = np.abs(np.asarray(errs))
    ec = e[np.asarray(clean)]
    med, med_c = np.median(e, axis=0), np.median(ec, axis=0)
    sgn = np.median(np.asarray(errs), axis=0)
    p75 = np.percentile(e, 75, axis=0)
    signed = ", ".join(pc(v, signed=True) for v in sgn)
    print(f"{len(errs)} windows: median |relative error| LF {pc(med[0])}, HF {pc(med[1])}, "
          f"LF/HF {pc(med[2])} (signed {signed}; 75th pct {pc(p75[0])}, {pc(p75[1])}, "
          f"{pc(p75[2])})")  # fmt: skip
    print(
        f"{ec.shape[0]} windows with at most one non-normal annotation: LF {pc(med_c[0])}, "
        f"HF {pc(med_c[1])}, LF/HF {pc(med_c[2])} (max LF/HF {pc(ec[:, 2].max())})"
    )
    tool = "PhysioNet Cardiovascular Signal Toolbox (nsr001_reference_hrv.csv)"
    emit(CARDIAC, f"nsr2db nsr001, {len(errs)} windows of 300 s",
         "Lomb LF / HF / LF/HF, median |relative error|",
         f"{pc(med[0])} / {pc(med[1])} / {pc(med[2])}", tool, "",
         "the toolbox's own beat removal is not reproduced exactly")  # fmt: skip
    emit(CARDIAC, f"nsr2db nsr001, the {ec.shape[0]} windows with ≤ 1 non-normal beat",
         "Lomb LF / HF / LF/HF, median |relative error|",
         f"{pc(med_c[0])} / {pc(med_c[1])} / {pc(med_c[2])}", tool, "",
         f"max LF/HF error {pc(ec[:, 2].max())}")  # fmt: skip


# 5. Lomb vs NeuroKit2 --------------------------------------------------------------------


def lomb_nk() -> None:
    short_f = DATA / "pyhrv" / "SampleNNISeriesShort.npy"
    long_f = DATA / "pyhrv" / "SampleNNISeriesLong.npy"
    print("\n#### 5. Lomb vs NeuroKit2 hrv_frequency(psd_method='lomb'), pyhrv series")
    if _missing(short_f) or _missing(long_f):
        return
    nk = _nk()
    if nk is None:
        print("skipped: NeuroKit2 not installed")
        return
    try:
        import astropy  # noqa: F401
    except ImportError:
        print("skipped: astropy not installed (NeuroKit2's Lomb-Scargle needs it)")
        return
    short = np.load(short_f).astype(float)
    long_ = np.load(long_f).astype(float)
    tl = np.cumsum(long_) / 1000.0
    series = [("short", short)] + [
        (f"long {w0:4d}-{w0 + 300:4d} s", long_[(tl >= w0) & (tl < w0 + 300)])
        for w0 in range(0, 3300, 300)
    ]
    rel_d, rel_u, rel_abs = [], [], []
    print("| series | wot LF/HF | NK default | diff | NK on the beats | diff | LF wot / NK ms² "
          "| HF wot / NK ms² |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for label, nn in series:
        peaks = np.concatenate([[0], np.cumsum(nn)]).astype(int)
        t = peaks[1:] / 1000.0
        y = np.diff(peaks).astype(float)
        ours = H.hrv_frequency(y, "lomb", t)
        d = nk.hrv_frequency(peaks, sampling_rate=1000, psd_method="lomb")
        u = nk.hrv_frequency(peaks, sampling_rate=1000, psd_method="lomb",
                             interpolation_rate=None, normalize=False)  # fmt: skip
        nk_d, nk_u = float(d["HRV_LFHF"].iloc[0]), float(u["HRV_LFHF"].iloc[0])
        # astropy's normalization="psd" is P/2 (ms²); ours is Δ·P (ms²/Hz), Δ = mean NN in s
        scale = 2.0 * y.mean() / 1000.0
        lf_u, hf_u = float(u["HRV_LF"].iloc[0]) * scale, float(u["HRV_HF"].iloc[0]) * scale
        rel_d.append(ours["lf_hf"] / nk_d - 1.0)
        rel_u.append(ours["lf_hf"] / nk_u - 1.0)
        rel_abs += [ours["lf_ms2"] / lf_u - 1.0, ours["hf_ms2"] / hf_u - 1.0]
        print(f"| {label} | {ours['lf_hf']:.3f} | {nk_d:.3f} | {pc(rel_d[-1], signed=True)} | "
              f"{nk_u:.3f} | {pc(rel_u[-1], signed=True)} | {ours['lf_ms2']:.0f} / {lf_u:.0f} | "
              f"{ours['hf_ms2']:.0f} / {hf_u:.0f} |")  # fmt: skip
    rd, ru, ra = (np.abs(np.asarray(v)) for v in (rel_d, rel_u, rel_abs))
    print(f"|LF/HF difference| vs NK on the beats: median {pc(np.median(ru))}, max "
          f"{pc(ru.max())} (LF and HF powers: max {pc(ra.max())}); vs NK default: median "
          f"{pc(np.median(rd))}, max {pc(rd.max())}")  # fmt: skip
    rec = f"pyhrv SampleNNISeriesShort + 11 windows of 300 s of Long ({len(series)} series)"
    emit(CARDIAC, rec, "Lomb LF/HF, |difference| median / max",
         f"{pc(np.median(ru))} / {pc(ru.max())}",
         "NeuroKit2 hrv_frequency(psd_method='lomb', interpolation_rate=None)", "",
         f"LF and HF powers within {pc(ra.max())}")  # fmt: skip
    emit(CARDIAC, rec, "Lomb LF/HF, |difference| median / max",
         f"{pc(np.median(rd))} / {pc(rd.max())}",
         "NeuroKit2 hrv_frequency(psd_method='lomb'), default", "",
         "its default runs Lomb on a 100 Hz interpolation of the intervals (a periodogram of "
         "the interpolated series)")  # fmt: skip


# 6. Welch vs pyhrv -----------------------------------------------------------------------


def welch_pyhrv() -> None:
    f = DATA / "pyhrv" / "SampleNNISeriesLong.npy"
    rep_f = DATA / "pyhrv" / "SampleReport.txt"
    print("\n#### 6. Welch vs pyhrv's report, SampleNNISeriesLong (4 Hz, Hamming, nfft 4096)")
    if _missing(f) or _missing(rep_f):
        return
    rep = pyhrv_report(rep_f)["Frequency Domain - FFT Welch's Method"]
    bands, powers = rep["Frequency Bands (Hz)"], rep["Absolute Powers (Hz)"]
    assert isinstance(bands, list) and isinstance(powers, list)
    bands = [b for b in bands if isinstance(b, str) and b.startswith("(")]  # not "None" (ULF)
    by_band = {tuple(float(v) for v in str(b).strip("()").split(",")): float(p)
               for b, p in zip(bands, powers, strict=True)}  # fmt: skip
    lf_hf = _num(rep["LF/HF Ratio (-)"])
    ref = {"lf_ms2": by_band[(0.04, 0.15)], "hf_ms2": by_band[(0.15, 0.4)], "lf_hf": lf_hf}
    print(f"pyhrv report: LF {ref['lf_ms2']:.2f}, HF {ref['hf_ms2']:.2f} ms², "
          f"LF/HF {ref['lf_hf']:.3f}")  # fmt: skip
    nn = np.load(f).astype(float)
    for nperseg in (256, 300):
        out = H.hrv_frequency(nn, "welch", nperseg=nperseg, nfft=4096, window="hamming")
        rel = {k: out[k] / v - 1.0 for k, v in ref.items()}
        d = {k: pc(v, signed=True) for k, v in rel.items()}
        print(f"nperseg {nperseg}: LF {out['lf_ms2']:.1f} ({d['lf_ms2']}), HF "
              f"{out['hf_ms2']:.1f} ({d['hf_ms2']}), LF/HF {out['lf_hf']:.3f} "
              f"({d['lf_hf']})")  # fmt: skip
        emit(CARDIAC, f"pyhrv SampleNNISeriesLong, Welch {nperseg}-sample segments",
             "LF / HF (ms²) / LF/HF",
             f"{out['lf_ms2']:.1f} / {out['hf_ms2']:.1f} / {out['lf_hf']:.3f}",
             "pyhrv SampleReport.txt (300-sample segments)",
             f"{ref['lf_ms2']:.1f} / {ref['hf_ms2']:.1f} / {ref['lf_hf']:.3f}",
             f"{d['lf_ms2']} / {d['hf_ms2']} / {d['lf_hf']}; 4 Hz, "
             "Hamming, nfft 4096; local cubic interpolation (streaming) against pyhrv's "
             "global spline")  # fmt: skip


# 7. Spectra sanity -----------------------------------------------------------------------


def _sine_nn(f_hz: float, amp_ms: float, n: int, mean_ms: float = 800.0):
    """NN intervals, a sine: y_i = mean + amp·sin(2πf t_(i−1)), t_i = t_(i−1) + y_i"""
    t, y = np.empty(n), np.empty(n)
    tk = 0.0
    for i in range(n):
        y[i] = mean_ms + amp_ms * np.sin(2.0 * np.pi * f_hz * tk)
        tk += y[i] / 1000.0
        t[i] = tk
    return t, y


def sanity(seed: int) -> None:
    print("\n#### 7. Spectra sanity: 0.1 Hz, 30 ms RR modulation (400 beats); white-noise RR")
    t, y = _sine_nn(0.1, 30.0, 400)
    rng = np.random.default_rng(seed)
    noise = []
    for _ in range(5):
        yn = 800.0 + 40.0 * rng.standard_normal(400)
        noise.append((np.cumsum(yn) / 1000.0, yn))
    for method in ("lomb", "welch"):
        out = H.hrv_frequency(y, method, t)
        coh = [H.hrv_frequency(yn, method, tn)["coherence"] for tn, yn in noise]
        print(
            f"{method}: LF {out['lf_ms2']:.1f} ms² (A²/2 = 450), HF {out['hf_ms2']:.2f}, VLF "
            f"{out['vlf_ms2']:.2f}, LF peak {out['lf_peak_hz']:.3f} Hz, coherence "
            f"{out['coherence']:.1f}; white-noise coherence {min(coh):.2f}-{max(coh):.2f}"
        )
        emit(CARDIAC, "0.1 Hz, 30 ms sine modulation of 400 NN intervals",
             f"{method.capitalize()} LF power (ms²)", f"{out['lf_ms2']:.1f}",
             "analytic (A²/2)", "450", f"HF {out['hf_ms2']:.2f} ms², LF peak "
             f"{out['lf_peak_hz']:.3f} Hz")  # fmt: skip
        emit(CARDIAC, "0.1 Hz, 30 ms sine modulation of 400 NN intervals",
             f"{method.capitalize()} coherence ratio", f"{out['coherence']:.1f}",
             "white-noise NN, 5 draws of 400 (SD 40 ms)", f"{min(coh):.2f}-{max(coh):.2f}",
             f"random seed {seed}")  # fmt: skip


# 8. RSA ----------------------------------------------------------------------------------


def rsa() -> None:
    from wot_simulators import SimConfig, load_scenario, simulate_session

    from wot_biofeedback.offline import run_recording
    from wot_biofeedback.sources.files import Recording, Signal

    print("\n#### 8. RSA, simulated calm session (ECG + RESP, seed 2, 240 s)")
    s = simulate_session(load_scenario("calm"), SimConfig(seed=2), duration_s=240.0)
    rec = Recording("sim", {"ecg": Signal(s.ecg, s.fs("ecg"), "ECG"),
                            "resp": Signal(s.resp, s.fs("resp"), "RESP")})  # fmt: skip
    out = {}
    for chunk in (10.0, 0.37):
        res, _ = run_recording(rec, chunk_s=chunk)
        out[chunk] = np.array([f.features["rsa_ms"] for f in res.frames])
    ra, rb = out[10.0], out[0.37]
    same = np.array_equal(ra, rb, equal_nan=True)
    late = ra[np.arange(ra.size) / 4.0 > 70.0]
    med = float(np.nanmedian(late))
    med_b = float(np.nanmedian(rb[np.arange(rb.size) / 4.0 > 70.0]))
    have = pc(np.isfinite(late).mean(), digits=0)
    print(f"RSA after 70 s: median {med:.1f} ms peak to trough ({have} of frames have a "
          f"value); 0.37-s chunks: median {med_b:.1f} ms, frames identical: {same}")  # fmt: skip
    emit(CARDIAC, "simulated calm session, ECG + RESP, seed 2, 240 s",
         "RSA, median after 70 s (ms peak to trough)", f"{med:.1f}",
         "the same fed in 0.37-s chunks", f"{med_b:.1f}",
         f"10-s chunks; every frame {'identical' if same else 'NOT identical'}")  # fmt: skip


SECTIONS = {
    "ppg": lambda a: ppg(),
    "correction": lambda a: correction(a.seed, range(a.correction_seeds)),
    "time": lambda a: time_domain(),
    "toolbox": lambda a: toolbox(),
    "lomb-nk": lambda a: lomb_nk(),
    "welch": lambda a: welch_pyhrv(),
    "sanity": lambda a: sanity(a.seed),
    "rsa": lambda a: rsa(),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=12345, help="random seed (the test suite's)")
    ap.add_argument("--correction-seeds", type=int, default=10,
                    help="beat correction also on seeds 0..N-1")  # fmt: skip
    ap.add_argument("--only", choices=tuple(SECTIONS), action="append", default=None)
    args = ap.parse_args()
    for name, run in SECTIONS.items():
        if args.only is None or name in args.only:
            run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
