"""Breaths against manually labelled breaths: the BIDMC PPG and Respiration Dataset.

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/validate_breaths.py [--bidmc DIR] [--rates 25,50,125,250,1000,2048]
                                                     [--tol 1.0] [--no-nk] [--records 1-53]

Data: PhysioNet ``bidmc`` (Pimentel et al. 2017, ODC-By 1.0), CSV layout: ``bidmc_NN_Signals.csv``
(``RESP``: thoracic impedance pneumography, 125 Hz, 8 min, inhalation up) and
``bidmc_NN_Breaths.csv`` (breaths marked by two annotators on RESP, sample numbers at 125 Hz,
MATLAB-style from 1; the two columns are independent lists). Default ``$WOT_DATA_DIR/bidmc``
(``../shared/data`` from the project root), or ``--bidmc DIR``; the section is skipped, loudly,
when neither holds the files.

The annotators marked each breath at its inspiration peak (their marks lie a median 0.00-0.03 s
from our peaks and about 1 s from our onsets), so ``rsp_breaths``' **peaks** are scored against
each annotator, one-to-one within ``--tol`` s (default 1 s), between 10 s and 470 s of each
record. Beside them: annotator 2 against annotator 1 (how well two people agree), and NeuroKit2's
``rsp_process`` peaks (whole record, non-causal) unless ``--no-nk``.

Rate: breaths/min in 60-s windows every 30 s, 60 / mean interval of the consecutive events in
the window, ours from our onsets (what the engine reports) and from our peaks, against the
same from annotator 1; median and 95th percentile of |ours - annotator| over all windows.

Rates: each record is resampled from 125 Hz (``scipy.signal.resample_poly``) to every rate of
``--rates`` and run again; the table gives the pooled peak F1 against annotator 1 and the rate
error per input rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from wot_biofeedback.dsp.resp import rsp_breaths

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report
from validate_resp import match, onset_rate, window_starts

ROOT = Path(__file__).resolve().parents[1]
FS = 125.0
T0, T1 = 10.0, 470.0  # scored span, s: away from the start-up and the end of each record


def bidmc_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    return Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data")) / "bidmc"


def find_csv(d: Path) -> Path | None:
    """The folder with ``bidmc_01_Signals.csv`` (``d`` itself or ``d/bidmc_csv``)."""
    for c in (d, d / "bidmc_csv"):
        if (c / "bidmc_01_Signals.csv").exists():
            return c
    return None


def load(d: Path, rec: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RESP (125 Hz) and each annotator's breath times (s)."""
    import pandas as pd

    sig = pd.read_csv(d / f"bidmc_{rec:02d}_Signals.csv", skipinitialspace=True)
    br = pd.read_csv(d / f"bidmc_{rec:02d}_Breaths.csv", skipinitialspace=True)
    x = sig["RESP"].to_numpy(float)
    a1 = (br.iloc[:, 0].dropna().to_numpy(np.int64) - 1) / FS
    a2 = (br.iloc[:, 1].dropna().to_numpy(np.int64) - 1) / FS
    return x, a1, a2


def span(v: np.ndarray) -> np.ndarray:
    return v[(v >= T0) & (v <= T1)]


class Score:
    """One-to-one matches pooled over records: TP, events found, reference events, offsets."""

    def __init__(self) -> None:
        self.tp = self.n_found = self.n_ref = 0
        self.offsets: list[float] = []
        self.per_record: list[float] = []

    def add(self, found: np.ndarray, ref: np.ndarray, tol: float) -> float:
        found, ref = span(found), span(ref)
        io, ir = match(found, ref, tol)
        self.tp += io.size
        self.n_found += found.size
        self.n_ref += ref.size
        self.offsets.extend((found[io] - ref[ir]).tolist())
        f1 = 2 * io.size / max(1, found.size + ref.size)
        self.per_record.append(f1)
        return f1

    def scores(self) -> tuple[float, float, float]:
        """Se, PPV and F1 pooled over the records."""
        se = self.tp / max(1, self.n_ref)
        ppv = self.tp / max(1, self.n_found)
        return se, ppv, 2 * self.tp / max(1, self.n_found + self.n_ref)

    def row(self) -> str:
        se = self.tp / max(1, self.n_ref)
        ppv = self.tp / max(1, self.n_found)
        f1 = 2 * self.tp / max(1, self.n_found + self.n_ref)
        off = np.asarray(self.offsets)
        med = np.median(off) if off.size else np.nan
        p = np.percentile(np.abs(off), 95) if off.size else np.nan
        return (
            f"{self.n_ref:6d} {self.n_found:6d} {se:.4f} {ppv:.4f} {f1:.4f} "
            f"{np.median(self.per_record):.4f} {min(self.per_record):.3f} {med:+.3f} {p:.3f}"
        )


def window_errors(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|rate(ours) - rate(ref)| per 60-s window every 30 s of the scored span (finite only)."""
    out = []
    for t in window_starts(T0, T1):
        a, b = onset_rate(ours, t), onset_rate(ref, t)
        if np.isfinite(a) and np.isfinite(b):
            out.append(abs(a - b))
    return np.asarray(out)


def nk_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig, _ = nk.rsp_process(x, sampling_rate=round(fs))
    return np.flatnonzero(sig["RSP_Peaks"].to_numpy() == 1) / fs


def resample(x: np.ndarray, fs_out: float) -> np.ndarray:
    """``x`` (125 Hz) at ``fs_out`` by polyphase resampling."""
    fr = Fraction(fs_out / FS).limit_denominator(1000)
    return x if fr == 1 else np.asarray(resample_poly(x, fr.numerator, fr.denominator))


def _records(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bidmc", default=None, metavar="DIR")
    ap.add_argument("--rates", default="25,50,125,250,1000,2048")
    ap.add_argument("--tol", type=float, default=1.0)
    ap.add_argument("--records", default="1-53")
    ap.add_argument("--no-nk", action="store_true")
    args = ap.parse_args(argv)
    d = find_csv(bidmc_dir(args.bidmc))
    if d is None:
        print(
            f"skipped: no bidmc_01_Signals.csv in {bidmc_dir(args.bidmc)} "
            "(set WOT_DATA_DIR or --bidmc)"
        )
        return 0
    rates = [float(r) for r in args.rates.split(",")]
    recs = _records(args.records)
    t_start = time.perf_counter()
    print(
        f"BIDMC breaths: {len(recs)} records from {d}; scored {T0:g}-{T1:g} s; "
        f"tolerance {args.tol:g} s"
    )
    ours1, ours2, inter, nk1 = Score(), Score(), Score(), Score()
    err_on: list[np.ndarray] = []
    err_pk: list[np.ndarray] = []
    err_inter: list[np.ndarray] = []
    err_nk: list[np.ndarray] = []
    by_rate = {r: (Score(), []) for r in rates}
    print(f"\n{'rec':>3s} {'ann1':>5s} {'ann2':>5s} {'ann2~1':>7s} {'ours~1':>7s} {'ours~2':>7s} "
          f"{'NK~1':>6s} {'rate ann1':>9s} {'ours':>5s}")  # fmt: skip
    for rec in recs:
        x, a1, a2 = load(d, rec)
        r = rsp_breaths(x, FS)
        pk, on = r["peak"] / FS, r["onset"] / FS
        f_i = inter.add(a2, a1, args.tol)
        f_1 = ours1.add(pk, a1, args.tol)
        f_2 = ours2.add(pk, a2, args.tol)
        err_on.append(window_errors(on, a1))
        err_pk.append(window_errors(pk, a1))
        err_inter.append(window_errors(a2, a1))
        f_nk = np.nan
        if not args.no_nk:
            p_nk = nk_peaks(x, FS)
            f_nk = nk1.add(p_nk, a1, args.tol)
            err_nk.append(window_errors(p_nk, a1))
        s1 = span(a1)
        rate_a = 60 * (s1.size - 1) / (s1[-1] - s1[0]) if s1.size > 2 else np.nan
        s_on = span(on)
        rate_o = 60 * (s_on.size - 1) / (s_on[-1] - s_on[0]) if s_on.size > 2 else np.nan
        print(f"{rec:3d} {s1.size:5d} {span(a2).size:5d} {f_i:7.3f} {f_1:7.3f} {f_2:7.3f} "
              f"{f_nk:6.3f} {rate_a:9.1f} {rate_o:5.1f}")  # fmt: skip
        for fs_out in rates:
            y = resample(x, fs_out)
            rr = rsp_breaths(y, fs_out)
            sc, errs = by_rate[fs_out]
            sc.add(rr["peak"] / fs_out, a1, args.tol)
            errs.append(window_errors(rr["onset"] / fs_out, a1))
    head = (
        f"{'':34s} {'ref':>6s} {'found':>6s} {'Se':6s} {'PPV':6s} {'F1':6s} "
        f"{'F1 med':6s} {'F1 min':6s} {'offset':>6s} {'|off|95':>7s}"
    )
    print("\npeaks against the annotators (pooled; per-record median and minimum F1; offset s)")
    print(head)
    print(f"{'ours vs annotator 1':34s} {ours1.row()}")
    print(f"{'ours vs annotator 2':34s} {ours2.row()}")
    print(f"{'annotator 2 vs annotator 1':34s} {inter.row()}")
    if not args.no_nk:
        print(f"{'NeuroKit2 rsp_process vs annotator 1':34s} {nk1.row()}")

    def q(v: list[np.ndarray]) -> str:
        a = np.concatenate(v) if v else np.empty(0)
        if not a.size:
            return "-"
        return f"{np.median(a):.2f} / {np.percentile(a, 95):.2f} ({a.size} windows)"

    print("\nrate, 60-s windows every 30 s: |rate - annotator 1's| median / 95th pct, breaths/min")
    print(f"  ours, from onsets (as the engine reports)   {q(err_on)}")
    print(f"  ours, from peaks                            {q(err_pk)}")
    print(f"  annotator 2                                 {q(err_inter)}")
    if not args.no_nk:
        print(f"  NeuroKit2 rsp_process peaks                 {q(err_nk)}")
    print("\nper input rate (resampled from 125 Hz): peaks vs annotator 1, rate from onsets")
    print(f"{'fs Hz':>8s} {'ref':>6s} {'found':>6s} {'Se':6s} {'PPV':6s} {'F1':6s} {'F1 med':6s} "
          f"{'F1 min':6s} {'offset':>6s} {'|off|95':>7s}  rate |err| med / p95")  # fmt: skip
    for fs_out in rates:
        sc, errs = by_rate[fs_out]
        print(f"{fs_out:8g} {sc.row()}  {q(errs)}")
    n = len(recs)
    rec_name = f"BIDMC, {n} records (RESP, thoracic impedance, 125 Hz)"
    tol = f"{args.tol:g} s"
    for who, sc, ref_sc in (("annotator 1", ours1, inter), ("annotator 2", ours2, None)):
        se, ppv, f1 = sc.scores()
        note = (
            f"{sc.n_ref} marked breaths; per-record median F1 {np.median(sc.per_record):.4f}, "
            f"minimum {min(sc.per_record):.3f}"
        )
        if ref_sc is not None:
            r_se, r_ppv, r_f1 = ref_sc.scores()
            tool, ref = "annotator 2 (hand marks)", f"{r_se:.4f} / {r_ppv:.4f} / {r_f1:.4f}"
        else:
            tool, ref = "", ""
        _report.emit(
            _report.EDA_RESP, rec_name, f"inspiration peaks vs {who}: Se / PPV / F1, {tol}",
            f"{se:.4f} / {ppv:.4f} / {f1:.4f}", tool, ref, note,
        )  # fmt: skip
    if not args.no_nk:
        _, _, nk_f1 = nk1.scores()
        _report.emit(
            _report.EDA_RESP, rec_name, f"inspiration peaks vs annotator 1: F1, {tol}",
            f"{ours1.scores()[2]:.4f}", "NeuroKit2 rsp_process (whole record)", f"{nk_f1:.4f}",
            "the annotators marked inspiration peaks",
        )  # fmt: skip

    def med(v: list[np.ndarray]) -> str:
        a = np.concatenate(v) if v else np.empty(0)
        return f"{np.median(a):.2f} / {np.percentile(a, 95):.2f}" if a.size else "-"

    _report.emit(
        _report.EDA_RESP, rec_name,
        "breathing rate vs annotator 1, 60-s windows: median / 95th pct |Δ|, breaths/min",
        med(err_on), "annotator 2 (hand marks)", med(err_inter),
        f"ours from inspiration onsets, as the engine reports it; {sum(e.size for e in err_on)} "
        "windows" + ("" if args.no_nk else f"; NeuroKit2 peaks {med(err_nk)}"),
    )  # fmt: skip
    f1s = [by_rate[r][0].scores()[2] for r in rates]
    _report.emit(
        _report.EDA_RESP, rec_name + ", resampled",
        "inspiration peaks vs annotator 1: F1 at each input rate",
        f"{min(f1s):.4f}-{max(f1s):.4f}", "", "",
        "rates " + ", ".join(f"{r:g}" for r in rates) + " Hz (resample_poly from 125 Hz)",
    )  # fmt: skip
    print(f"\n{time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
