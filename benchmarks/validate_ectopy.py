"""R-peak detection under frequent ventricular ectopy: synthetic stress set and MIT-BIH records.

Run on demand (prints tables)::

    .venv/bin/python benchmarks/validate_ectopy.py [--seeds 2] [--fs 360] [--duration 300]
                                                    [--no-nk] [--blocks N]
                                                    [--noise 0.01] [--wander 0.0]
                                                    [--mitdb DIR] [--mitdb-only]

Synthetic records come from :func:`wot_simulators.ectopy.simulate_ectopy` (exact truth), for
each pattern x rate x seed. ``ecg_peaks`` (causal) is scored against the truth with a 150 ms
tolerance (one-to-one, nearest first): Se, PPV, F1, and Se on sinus (N), ventricular (V) and
fusion (F) beats. Missed beats are placed by their context (``V after N``: the premature beat
of an event; ``V after V``: second or third beat of a couplet or run; ``after V``: the beat that
ends the compensatory pause, ``other``).

Causes: the detector's kernel is re-run with a decision log (``benchmarks/_ecg_trace.py``) and
each missed beat is given the first cause that applies:

* ``flatline rule``: a run of identical samples (>= 0.15 s) ends within 0.5 s before the beat,
  so detection was suppressed (only in noise-free records: ``--noise 0``);
* ``no candidate``: no envelope candidate with its maximum in [beat - 50 ms, beat + 250 ms];
* ``no room``: the candidate's raw-peak window ended before the previous beat (``lo >= n``);
* ``dropped (newcomer)``: accepted and held, then dropped for a larger envelope peak;
* ``refractory``: within 0.2 s of the previous beat;
* ``T-wave rule``: within 0.36 s of the previous beat and under half its height;
* ``below threshold``: ``a <= thr`` (the ratio ``a / SPK`` is summarised);
* ``noise bar``: ``a`` under the running-median bar;
* ``misplaced``: accepted but its R-peak lies more than 150 ms off (polarity / search window).

Every MIT-BIH record in ``$WOT_DATA_DIR/mitdb`` (default ``../shared/data`` from the project
root; 100 and 105 there) and in each ``--mitdb DIR`` (``NNN.hea``, ``.dat``, ``.atr``; MLII,
360 Hz) is scored the same way, beats = the annotation symbols of beats (N, L, R, e, j,
A, a, J, S, V, E, F, /, f, Q). NeuroKit2's ``nk.ecg_peaks`` (default method, whole record,
non-causal) is shown as a reference column (Se, PPV) unless ``--no-nk``. ``--set NAME=VALUE``
replaces a parameter of the detector for a what-if run (``src/`` unchanged), e.g.
``--set THR_FRAC=0.2``. Beats and detections
in the last ``ECG_DELAY_S`` of a record are not scored (a causal detector still holds them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from wot_simulators.ectopy import simulate_ectopy

from wot_biofeedback.dsp.ecg import ECG_DELAY_S

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ecg_trace import CAND_COLS, peaks, trace
from _report import CARDIAC, emit

ROOT = Path(__file__).resolve().parents[1]
TOL_S = 0.150
BEAT_SYMBOLS = set("NLReJjAaSVEF/fQ")
CASES = (
    ("sinus", 0.0),
    ("isolated", 0.1),
    ("isolated", 0.3),
    ("bigeminy", 0.5),
    ("trigeminy", 0.33),
    ("couplets", 0.1),
    ("couplets", 0.3),
    ("nsvt", 0.1),
    ("nsvt", 0.3),
    ("fusion", 0.2),
    ("interpolated", 0.1),
    ("interpolated", 0.3),
    ("mixed", 0.3),
)
# (title, generator settings): the default morphology, a fast sinus rate (short coupling
# intervals, 0.27-0.38 s at 110/min), and small wide PVCs with little slope energy
BLOCKS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("base: 70/min", {"hr_bpm": 70.0}),
    ("fast: 110/min, wander 0.1 mV", {"hr_bpm": 110.0, "wander": 0.1}),
    (
        "small wide PVCs: amp 0.5-1.0 x R, 160-200 ms",
        {"hr_bpm": 70.0, "pvc_amp": (0.5, 1.0), "pvc_width": (0.16, 0.2)},
    ),
    (
        "large PVCs: amp 2.5-4 x R, 120-140 ms, 90/min",
        {"hr_bpm": 90.0, "pvc_amp": (2.5, 4.0), "pvc_width": (0.12, 0.14)},
    ),
)
_C = {name: i for i, name in enumerate(CAND_COLS)}
OVERRIDES: dict[str, float] = {}  # --set: detector parameters replaced for a what-if run


def match(truth: np.ndarray, found: np.ndarray, tol: int) -> np.ndarray:
    """Index into ``found`` matched to each truth beat (-1: missed); one-to-one, nearest first."""
    out = np.full(truth.size, -1, dtype=np.int64)
    if found.size == 0 or truth.size == 0:
        return out
    pairs = []
    j = np.searchsorted(found, truth)
    for i, t in enumerate(truth):
        for k in (j[i] - 1, j[i]):
            if 0 <= k < found.size and abs(int(found[k]) - int(t)) <= tol:
                pairs.append((abs(int(found[k]) - int(t)), i, k))
    used: set[int] = set()
    for _, i, k in sorted(pairs):
        if out[i] < 0 and k not in used:
            out[i] = k
            used.add(k)
    return out


def context(kinds: np.ndarray, i: int) -> str:
    prev = kinds[i - 1] if i > 0 else "-"
    if kinds[i] == "V":
        return "V after V" if prev == "V" else "V after N"
    return "after V" if prev == "V" else "other"


def flat_before(x: np.ndarray, beat: int, fs: float) -> bool:
    """Whether a run of identical samples (>= 0.15 s) ends within 0.5 s before ``beat``."""
    seg = x[max(0, beat - round(0.8 * fs)) : beat]
    same = np.flatnonzero(np.diff(seg) != 0.0)
    edges = np.concatenate([[-1], same, [seg.size - 1]])
    return bool(seg.size and np.diff(edges).max() >= max(8, round(0.15 * fs)))


def cause(
    x: np.ndarray, beat: int, cands: np.ndarray, drops: np.ndarray, fs: float, tol: int
) -> tuple[str, float]:
    """First applicable cause of a missed beat, and ``a / SPK`` of its candidate (NaN if none)."""
    if flat_before(x, beat, fs):
        return "flatline rule", float("nan")
    ci = cands[:, _C["ci"]]
    near = (ci >= beat - round(0.05 * fs)) & (ci <= beat + round(0.25 * fs))
    if not near.any():
        return "no candidate", float("nan")
    rows = cands[near]
    row = rows[np.argmax(rows[:, _C["a"]])]
    a = row[_C["a"]]
    spk = row[_C["spk"]]
    ratio = a / spk if spk > 0 else float("nan")
    r = int(row[_C["r"]])
    if r < 0:
        return "no room", ratio
    if row[_C["accepted"]]:
        if drops.size and np.any(drops[:, 1] == r):
            return "dropped (newcomer)", ratio
        if abs(r - beat) > tol:
            return "misplaced", ratio
        return "accepted, lost later", ratio
    since = row[_C["since"]]
    if since <= round(0.2 * fs):
        return "refractory", ratio
    if since < round(0.36 * fs) and a < 0.5 * row[_C["ref_a"]]:
        return "T-wave rule", ratio
    if a <= row[_C["thr"]]:
        return "below threshold", ratio
    if not row[_C["above_noise"]]:
        return "noise bar", ratio
    return "unclassified", ratio


def nk_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.ecg_peaks(x, sampling_rate=round(fs))
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


class Tally:
    def __init__(self) -> None:
        self.tp = self.fp = 0
        self.n = Counter[str]()
        self.hit = Counter[str]()
        self.miss_ctx = Counter[str]()
        self.causes = Counter[str]()
        self.ratios: dict[str, list[float]] = {}
        self.nk_tp = self.nk_fp = self.nk_n = 0

    def add(
        self, truth: np.ndarray, kinds: np.ndarray, found: np.ndarray, fs: float, n: int
    ) -> None:
        # a beat in the last ECG_DELAY_S of a record is still held when the record ends
        end = n - round(ECG_DELAY_S * fs)
        kinds = kinds[truth < end]
        truth = truth[truth < end]
        found = found[found < end]
        self.truth, self.kinds, self.end = truth, kinds, end
        tol = round(TOL_S * fs)
        m = match(truth, found, tol)
        self.tp += int((m >= 0).sum())
        self.fp += found.size - int((m >= 0).sum())
        for k in np.unique(kinds):
            self.n[str(k)] += int((kinds == k).sum())
            self.hit[str(k)] += int(((kinds == k) & (m >= 0)).sum())
        self.missed = np.flatnonzero(m < 0)
        for i in self.missed:
            self.miss_ctx[context(kinds, int(i))] += 1

    def diagnose(self, signal: np.ndarray, fs: float) -> None:
        truth, kinds = self.truth, self.kinds
        if self.missed.size == 0:
            return
        _, cands, drops = trace(signal, fs, OVERRIDES)
        for i in self.missed:
            c, ratio = cause(signal, int(truth[i]), cands, drops, fs, round(TOL_S * fs))
            key = f"{c} [{kinds[i]}]"
            self.causes[key] += 1
            self.ratios.setdefault(key, []).append(ratio)

    def add_nk(self, found: np.ndarray, fs: float) -> None:
        """Score NeuroKit2's beats on the record last passed to :meth:`add`."""
        truth = self.truth
        found = found[found < self.end]
        m = match(truth, found, round(TOL_S * fs))
        self.nk_tp += int((m >= 0).sum())
        self.nk_fp += found.size - int((m >= 0).sum())
        self.nk_n += truth.size

    def merge(self, other: Tally) -> None:
        """Add another tally's counts (not its causes)."""
        self.tp += other.tp
        self.fp += other.fp
        self.n.update(other.n)
        self.hit.update(other.hit)
        self.miss_ctx.update(other.miss_ctx)
        self.nk_tp += other.nk_tp
        self.nk_fp += other.nk_fp
        self.nk_n += other.nk_n

    def scores(self) -> tuple[int, float, float, float, float, float]:
        """(beats, Se, PPV, F1, NeuroKit2 Se, NeuroKit2 PPV)."""
        total = sum(self.n.values())
        se = self.tp / total if total else float("nan")
        ppv = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        f1 = 2 * se * ppv / (se + ppv) if se + ppv > 0 else float("nan")
        nse = self.nk_tp / self.nk_n if self.nk_n else float("nan")
        npp = self.nk_tp / max(1, self.nk_tp + self.nk_fp)
        return total, se, ppv, f1, nse, npp

    def se_of(self, k: str) -> str:
        return f"{self.hit[k] / self.n[k]:.4f}" if self.n[k] else "  -   "

    def row(self, name: str, nk: bool) -> str:
        total, se, ppv, f1, nse, npp = self.scores()
        se_of = self.se_of
        ctx = " ".join(f"{v}:{k}" for k, v in sorted(self.miss_ctx.items()))
        out = (
            f"{name:18s} {total:6d} {se:.4f} {ppv:.4f} {f1:.4f} "
            f"{se_of('N')} {se_of('V')} {se_of('F')}"
        )
        if nk:
            out += f"  {nse:.4f} {npp:.4f}"
        return out + f"  {ctx}"

    def emit(self, record: str, nk: bool, truth: str, note: str = "") -> None:
        """Report row (benchmarks/_report.py): Se / PPV, NeuroKit2's beside it when run."""
        total, se, ppv, _, nse, npp = self.scores()
        v = f"Se V {self.se_of('V').strip()}" if self.n["V"] else "no V beats"
        note = f"{total:,} beats, {v}" + (f"; {note}" if note else "")
        tool = "NeuroKit2 ecg_peaks (default, whole record)" if nk else truth
        ref = f"{nse:.4f} / {npp:.4f}" if nk else ""
        measure = f"Se / PPV vs {truth.split(' (')[0]}, 150 ms"
        emit(CARDIAC, record, measure, f"{se:.4f} / {ppv:.4f}", tool, ref, note)


def records_home() -> Path:
    return Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data")) / "mitdb"


def mitdb_records(extra: list[str]) -> list[Path]:
    """MIT-BIH records (``NNN.hea`` with ``NNN.atr``) in ``$WOT_DATA_DIR/mitdb`` and ``extra``."""
    dirs = [records_home()]
    dirs += [Path(d) for d in extra]
    found: dict[str, Path] = {}
    for d in dirs:
        if not d.is_dir():
            print(f"skipped: {d} not found (set WOT_DATA_DIR, or check --mitdb)")
            continue
        for hea in sorted(d.glob("*.hea")):
            if hea.with_suffix(".atr").exists():
                found.setdefault(hea.stem, hea.with_suffix(""))
    return [found[k] for k in sorted(found)]


def mitdb_record(base: Path, nk: bool) -> Tally:
    import wfdb

    rec = wfdb.rdrecord(str(base))
    ann = wfdb.rdann(str(base), "atr")
    x = rec.p_signal[:, rec.sig_name.index("MLII")]
    fs = float(rec.fs)
    sym = np.asarray(ann.symbol)
    keep = np.isin(sym, list(BEAT_SYMBOLS))
    truth = np.asarray(ann.sample)[keep]
    kinds = np.where(np.isin(sym[keep], ["V", "E"]), "V", np.where(sym[keep] == "F", "F", "N"))
    t = Tally()
    t.add(truth, kinds, peaks(x, fs, OVERRIDES), fs, x.size)
    t.diagnose(x, fs)
    if nk:
        t.add_nk(nk_peaks(x, fs), fs)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--fs", type=float, default=360.0)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--wander", type=float, default=0.0)
    ap.add_argument("--no-nk", action="store_true")
    ap.add_argument("--blocks", type=int, default=len(BLOCKS), help="run the first N blocks")
    ap.add_argument(
        "--mitdb",
        action="append",
        default=[],
        metavar="DIR",
        help="also score the MIT-BIH records (NNN.hea/.dat/.atr) in DIR",
    )
    ap.add_argument("--mitdb-only", action="store_true", help="skip the synthetic set")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="what-if: replace a detector parameter (THR_FRAC=0.2, TWAVE_N=0.25 s, SUP_FAR=3)",
    )
    args = ap.parse_args()
    nk = not args.no_nk
    for item in args.set:
        name, value = item.split("=")
        OVERRIDES[name.upper()] = float(value)
    if OVERRIDES:
        print(f"what-if, detector parameters replaced: {OVERRIDES}")
    t0 = time.perf_counter()
    head = f"{'case':18s} {'beats':>6s} {'Se':6s} {'PPV':6s} {'F1':6s} "
    head += f"{'Se N':6s} {'Se V':6s} {'Se F':6s}"
    if nk:
        head += "  NK Se  NK PPV"
    print(
        f"synthetic, fs {args.fs:g} Hz, {args.duration:g} s x {args.seeds} seeds, "
        f"noise {args.noise:g} mV, wander {args.wander:g} mV; tolerance 150 ms"
    )
    every = Tally()
    all_causes: dict[str, Tally] = {}
    blocks = () if args.mitdb_only else BLOCKS[: args.blocks]
    for title, settings in blocks:
        print(f"\n{title}")
        print(head + "  misses by context")
        for pattern, rate in CASES:
            t = Tally()
            for seed in range(args.seeds):
                kw: dict[str, Any] = {"noise": args.noise, "wander": args.wander, **settings}
                r = simulate_ectopy(
                    pattern, rate=rate, duration_s=args.duration, fs=args.fs, seed=seed, **kw
                )
                found = peaks(r.signal, r.fs, OVERRIDES)
                every.add(r.beats, r.kinds, found, r.fs, r.signal.size)
                t.add(r.beats, r.kinds, found, r.fs, r.signal.size)
                t.diagnose(r.signal, r.fs)
                if nk:
                    t.add_nk(nk_peaks(r.signal, r.fs), r.fs)
            all_causes[f"{title.split(':')[0]} {pattern} {rate:g}"] = t
            print(t.row(f"{pattern} {rate:g}", nk))
    if blocks:
        print()
        print(every.row("all synthetic", False))
        syn = Tally()  # the same counts as ``every``, with NeuroKit2's
        for t in all_causes.values():
            syn.merge(t)
        syn.emit(
            f"synthetic ectopy set, {len(blocks)} blocks x {len(CASES)} patterns",
            nk,
            "truth (simulator)",
            f"{args.seeds} seeds x {args.duration:g} s at {args.fs:g} Hz, "
            f"noise {args.noise:g} mV, wander {args.wander:g} mV",
        )
    records = mitdb_records(args.mitdb)
    if records:
        print("\nMIT-BIH Arrhythmia Database (MLII, 360 Hz; V = V/E annotations)")
        print(head + "  misses by context")
        mit_all = Tally()
        for base in records:
            mit = mitdb_record(base, nk)
            print(mit.row(f"mitdb {base.stem}", nk))
            local = "" if base.parent == records_home() else f"from {base.parent} (--mitdb)"
            mit.emit(f"mitdb {base.stem}", nk, "annotations (MIT-BIH)", local)
            all_causes[f"mitdb {base.stem}"] = mit
            mit_all.merge(mit)
        if len(records) > 1:
            print(mit_all.row("all MIT-BIH", nk))
            names = ", ".join(b.stem for b in records)
            mit_all.emit(f"all {len(records)} MIT-BIH records", nk, "annotations (MIT-BIH)", names)
    print("\ncauses of missed beats [kind]: count, median a/SPK of the beat's candidate")
    total = Counter[str]()
    ratios: dict[str, list[float]] = {}
    for name, t in all_causes.items():
        if t.causes:
            print(f"  {name:26s} " + ", ".join(f"{k} {v}" for k, v in t.causes.most_common()))
        if not name.startswith("mitdb "):
            total.update(t.causes)
            for key, vals in t.ratios.items():
                ratios.setdefault(key, []).extend(vals)
    print("  all synthetic:")
    for k, v in total.most_common():
        r = np.asarray(ratios[k])
        med = f"{np.median(r[np.isfinite(r)]):.2f}" if np.isfinite(r).any() else "-"
        print(f"    {k:32s} {v:5d}  a/SPK median {med}")
    print(f"\n{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
