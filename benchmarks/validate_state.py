"""State-engine validation: zone agreement on the simulator and the driver-stress recording.

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/validate_state.py [--seeds 0:16] [--artifact-seeds 0:10]

Sections:

1. **Simulator, every shipped scenario.** Each seed's session goes through the offline
   pipeline at the simulator's native rates. Zone agreement per scripted zone, on frames after
   the 120-s calibration, excluding 30 s after each scripted transition (the acceptance rule);
   then the spread of the smoothed arousal index per scripted zone.
2. **Calm with 20 % artifacts** (ECG noise and lead-off, EDA contact loss and pops, belt
   motion): the share of time in each zone after calibration. No hyper or hypo is the target.
3. **Modality subsets** of ``full-session`` (seeds 1-2): agreement and median confidence.
4. **Driver stress** (PhysioNet ``drivedb/drive05``; ``WOT_DATA_DIR``, default
   ``../shared/data``; skipped with a message when absent): ECG, foot GSR and RESP, baseline
   5 min inside Rest1 at several positions; per segment kind (``segments.csv``) the share of
   hyper, of within-or-hypo, and the mean arousal. Rest excludes the baseline window itself.
   Cite Healey & Picard 2005 and PhysioNet (Goldberger et al. 2000).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from wot_simulators import SimConfig, load_scenario, simulate_session

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.offline import run_recording, score_before_baseline
from wot_biofeedback.sources.files import Recording, Signal, read_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import STATE, emit

GUARD_S = 30.0
CALIB_S = 120.0
SCENARIOS = ("calm", "stress-and-recovery", "shutdown", "full-session")


def _range(text: str) -> range:
    a, b = text.split(":")
    return range(int(a), int(b))


def agreement(times: np.ndarray, zones: np.ndarray, scen) -> dict[str, float]:
    return scen.agreement(times, zones, CALIB_S, GUARD_S)


def _run(sess, modalities=("ecg", "eda", "resp")):
    rec = Recording("sim", {m: Signal(sess.signal(m), sess.fs(m), m) for m in modalities})
    res, _ = run_recording(rec, EngineConfig())
    t = np.array([f.time_s for f in res.frames])
    z = np.array([f.state.zone for f in res.frames])
    a = np.array([f.state.arousal for f in res.frames])
    c = np.array([f.state.confidence for f in res.frames])
    return t, z, a, c


def simulator(seeds: range) -> None:
    print(f"\n1. Simulator, seeds {seeds.start}-{seeds.stop - 1}: zone agreement (%)")
    print(f"{'scenario':22s} {'zone':7s} {'min':>6s} {'median':>7s} {'< 95 %':>7s}  per seed")
    spread: dict[str, list[np.ndarray]] = {"hyper": [], "within": [], "hypo": []}
    for name in SCENARIOS:
        scen = load_scenario(name)
        per: dict[str, list[float]] = {}
        for seed in seeds:
            t, z, a, _ = _run(simulate_session(scen, SimConfig(seed=seed)))
            for zone, v in agreement(t, z, scen).items():
                per.setdefault(zone, []).append(100 * v)
            truth = scen.zone_at(t)
            keep = t >= CALIB_S
            for start, _e, _s in scen.segment_bounds()[1:]:
                keep &= ~((t >= start) & (t < start + GUARD_S))
            for zone in spread:
                m = keep & (truth == zone) & np.isfinite(a)
                spread[zone].append(a[m])
        for zone, v in per.items():
            vals = " ".join(f"{x:.0f}" for x in v)
            bad = sum(x < 95 for x in v)
            print(f"{name:22s} {zone:7s} {min(v):6.1f} {np.median(v):7.1f} {bad:7d}  {vals}")
            emit(STATE, f"simulator {name}, seeds {seeds.start}-{seeds.stop - 1}",
                 f"{zone}: frames in the scripted zone, min / median (%)",
                 f"{min(v):.1f} / {np.median(v):.1f}", "truth (simulator script)", "",
                 f"{bad} of {len(v)} sessions under 95 %")  # fmt: skip
    print("\nsmoothed arousal index per scripted zone (same frames): percentiles 1/5/50/95/99")
    for zone, parts in spread.items():
        v = np.concatenate(parts)
        print(f"  {zone:7s} " + " ".join(f"{q:+.2f}" for q in np.percentile(v, [1, 5, 50, 95, 99])))


def artifacts(seeds: range) -> None:
    print(f"\n2. calm + 20 % artifacts, seeds {seeds.start}-{seeds.stop - 1}: time in zone (%)")
    print(f"{'seed':>4s} {'hyper':>6s} {'within':>7s} {'hypo':>5s} {'unknown':>8s}")
    scen = load_scenario("calm")
    shares: dict[str, list[float]] = {}
    for seed in seeds:
        t, z, _, _ = _run(simulate_session(scen, SimConfig(seed=seed, artifacts=0.2)))
        zz = z[t >= CALIB_S]
        f = {k: 100 * float(np.mean(zz == k)) for k in ("hyper", "within", "hypo", "unknown")}
        cells = f"{f['hyper']:6.1f} {f['within']:7.1f} {f['hypo']:5.1f} {f['unknown']:8.1f}"
        print(f"{seed:4d} {cells}")
        for k, v in f.items():
            shares.setdefault(k, []).append(v)
    if shares:
        rng = {k: f"{min(v):.1f}-{max(v):.1f}" for k, v in shares.items()}
        emit(STATE, f"simulator calm + 20 % artifacts, seeds {seeds.start}-{seeds.stop - 1}",
             "time in hyper / hypo after calibration (%, range over seeds)",
             f"{rng['hyper']} / {rng['hypo']}", "truth (simulator script: within)", "0 / 0",
             f"within {rng['within']} %, unknown {rng['unknown']} %")  # fmt: skip


def subsets() -> None:
    print("\n3. full-session, modality subsets: agreement (%) and median confidence")
    scen = load_scenario("full-session")
    subsets = (("ecg", "eda", "resp"), ("ecg", "resp"), ("ecg", "eda"), ("eda", "resp"),
               ("ecg",), ("eda",), ("resp",))  # fmt: skip
    for seed in (1, 2):
        sess = simulate_session(scen, SimConfig(seed=seed))
        for mods in subsets:
            t, z, _, c = _run(sess, mods)
            ag = agreement(t, z, scen)
            cells = " ".join(f"{k} {100 * ag.get(k, 0):5.1f}" for k in ("hyper", "within", "hypo"))
            conf = float(np.median(c[t >= CALIB_S]))
            print(f"  seed {seed} {'+'.join(mods):14s} {cells}  confidence {conf:.2f}")
            emit(STATE, f"simulator full-session seed {seed}, {'+'.join(mods).upper()}",
                 "hyper / within / hypo agreement (%)",
                 " / ".join(f"{100 * ag.get(k, 0):.1f}" for k in ("hyper", "within", "hypo")),
                 "truth (simulator script)", "", f"median confidence {conf:.2f}")  # fmt: skip


def drive_scores(
    res: Any, rows: list[dict[str, str]], b0: float, b1: float
) -> tuple[float, float, dict[str, float]]:
    """drive05 zones by driving segment: the share of City frames in ``hyper``, of Rest frames
    (outside the baseline window ``b0``-``b1`` s) in ``within`` or ``hypo``, and the mean
    arousal per kind of segment (Rest, City, Highway)."""
    t = np.array([f.time_s for f in res.frames])
    z = np.array([f.state.zone for f in res.frames])
    a = np.array([f.state.arousal for f in res.frames])
    kinds: dict[str, np.ndarray] = {}
    for r in rows:
        m = (t >= float(r["start_s"])) & (t < float(r["end_s"]))
        if r["segment"].startswith("Rest"):
            m &= ~((t >= b0) & (t < b1))
        kind = r["segment"].rstrip("0123456789")
        kinds[kind] = kinds.get(kind, np.zeros(t.size, bool)) | m
    city = float(np.mean(z[kinds["City"]] == "hyper"))
    rest = float(np.mean(np.isin(z[kinds["Rest"]], ["within", "hypo"])))
    return city, rest, {k: float(np.nanmean(a[m])) for k, m in kinds.items()}


def drive05(data: Path) -> None:
    head = data / "drivedb" / "drive05.hea"
    segs = data / "drivedb" / "segments.csv"
    print("\n4. drivedb/drive05 (ECG, foot GSR, RESP)")
    if not head.exists() or not segs.exists():
        print(f"   skipped: {head} or {segs} not found (set WOT_DATA_DIR)")
        return
    rec = read_recording(head, {"ecg": "ECG", "eda": "foot GSR", "resp": "RESP"})
    with open(segs, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["drive"] == "drive05"]
    print(f"{'baseline':>9s} {'City hyper':>11s} {'Rest within/hypo':>17s}   mean arousal")
    for b0, b1 in ((40, 340), (100, 400), (300, 600), (600, 900)):
        res, pipe = run_recording(rec, EngineConfig(), (b0, b1))
        score_before_baseline(res, pipe)
        city, rest, means = drive_scores(res, rows, b0, b1)
        order = " > ".join(sorted(means, key=lambda k: -means[k]))
        vals = ", ".join(f"{k} {v:+.2f}" for k, v in means.items())
        print(f"{b0:4d}:{b1:<4d} {100 * city:10.1f}% {100 * rest:16.1f}%   {vals} ({order})")
        emit(STATE, f"drivedb drive05 (ECG, foot GSR, RESP), baseline {b0}-{b1} s",
             "City hyper / Rest within-or-hypo (%)", f"{100 * city:.1f} / {100 * rest:.1f}",
             "segments.csv (study stress levels)", "",
             f"mean arousal {vals} ({order})")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=_range, default=range(0, 16))
    ap.add_argument("--artifact-seeds", type=_range, default=range(0, 10))
    ap.add_argument("--only", choices=("sim", "artifacts", "subsets", "drive"), default=None)
    args = ap.parse_args()
    data = Path(os.environ.get("WOT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/data"))
    if args.only in (None, "drive"):
        drive05(data)
    if args.only in (None, "subsets"):
        subsets()
    if args.only in (None, "artifacts"):
        artifacts(args.artifact_seeds)
    if args.only in (None, "sim"):
        simulator(args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
