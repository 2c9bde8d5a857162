"""Breathing from a chest accelerometer, and the state engine through the command line and drift.

Run on demand (prints tables, asserts nothing; about a minute)::

    .venv/bin/python benchmarks/validate_extras.py [--acc-seeds 1:7]

The same computations as the test suite's checks (``tests/test_acc.py``,
``tests/test_acceptance.py``), printed as tables:

1. **ACC breathing vs simulator truth**: ``full-session`` (ECG 100 Hz, EDA 4 Hz, RESP 50 Hz),
   a 3-axis chest accelerometer at 50 Hz from the simulator (``chest_acc``), per seed.
   ``acc_breathing`` + ``rsp_breaths`` inspiration onsets against the simulated breath onsets,
   F1 at ±1 s (one to one), from the start and from 60 s on (the sign of inhalation is
   decided after 30 s of good signal); the breathing rate in consecutive 60-s windows from 60 s
   (median |error|, breaths/min); the belt (RESP at 50 Hz) scored the same way beside it.
2. **``wot simulate --out`` → ``wot analyze``**: every shipped scenario, seed 1 (the default),
   one CSV at 250 Hz through the command line (in this process), zone agreement on frames
   after the 120-s calibration, excluding 30 s after each scripted transition (the acceptance
   rule).
3. **Driver stress with the foot GSR drifting** (PhysioNet ``drivedb/drive05``; ECG, foot GSR,
   RESP; baseline 100-400 s; ``WOT_DATA_DIR``, default ``../shared/data``, skipped with a message
   when absent): the GSR scaled down steadily to 40 % or 20 % by the end, or a -3 µS ramp (an
   electrode drying out, a foot cooling). Per segment kind (``segments.csv``): City hyper,
   Rest within or hypo (without the baseline window), mean arousal.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from wot_simulators import SimConfig, load_scenario, simulate_session
from wot_simulators.acc import chest_acc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import EDA_RESP, STATE, emit
from validate_state import drive_scores

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _reference import event_f1, window_rate_errors
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.dsp.acc import acc_breathing
from wot_biofeedback.dsp.resp import rsp_breaths
from wot_biofeedback.offline import run_recording, score_before_baseline
from wot_biofeedback.sources.files import read_recording

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))
FS = 50.0
CALIB_S = 120.0
GUARD_S = 30.0
SCENARIOS = ("calm", "stress-and-recovery", "shutdown", "full-session")


def _range(text: str) -> range:
    a, b = text.split(":")
    return range(int(a), int(b))


def acc(seeds: range) -> None:
    print(f"\n#### 1. ACC breathing vs simulator truth, full-session, {FS:g} Hz, ±1 s")
    print("| seed | ACC F1 | from 60 s | rate error median / max (/min) | belt F1 | belt rate "
          "error median |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    res: list[tuple[float, float, float, float, float]] = []
    for seed in seeds:
        cfg = SimConfig(ecg_fs=100.0, eda_fs=4.0, resp_fs=FS, seed=seed)
        sess = simulate_session(load_scenario("full-session"), cfg)
        truth = sess.breath_onsets_s
        x = chest_acc(sess, FS, seed=seed)
        on = rsp_breaths(acc_breathing(x, FS)["resp"], FS)["onset"] / FS
        belt = rsp_breaths(sess.resp, FS)["onset"] / FS
        fa, fl = event_f1(on, truth), event_f1(on[on >= 60.0], truth[truth >= 60.0])
        err = window_rate_errors(on, truth, 60.0, sess.duration_s)
        fb = event_f1(belt, truth)
        eb = window_rate_errors(belt, truth, 60.0, sess.duration_s)
        print(f"| {seed} | {fa:.3f} | {fl:.3f} | {np.median(err):.2f} / {err.max():.2f} | "
              f"{fb:.3f} | {np.median(eb):.2f} |")  # fmt: skip
        res.append((fa, fl, float(np.median(err)), fb, float(np.median(eb))))
    if not res:
        return
    a = np.array(res)

    def rng(i: int, fmt: str = ".3f") -> str:
        return f"{a[:, i].min():{fmt}}-{a[:, i].max():{fmt}}"

    rec = f"simulator full-session, chest ACC {FS:g} Hz, seeds {seeds.start}-{seeds.stop - 1}"
    emit(EDA_RESP, rec, "breath onsets F1 ±1 s (range over seeds)", rng(0),
         "truth (simulator)", "", f"from 60 s on {rng(1)}; the belt (RESP {FS:g} Hz) "
         f"{rng(3)}")  # fmt: skip
    emit(EDA_RESP, rec, "breathing rate, median |error| of 60-s windows (/min, range)",
         rng(2, ".2f"), "truth (simulator)", "", f"the belt {rng(4, '.2f')}")  # fmt: skip


def simulate_analyze(seed: int) -> None:
    from wot_biofeedback.cli import main as wot

    print(f"\n#### 2. wot simulate --out (CSV, 250 Hz) → wot analyze, seed {seed}")
    print("| scenario | zone agreement (%) |")
    print("|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            path, out = Path(tmp) / f"{name}.csv", Path(tmp) / name
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                rc = wot(["simulate", "--scenario", name, "--seed", str(seed), "--out", str(path)])
                if rc == 0:
                    rc = wot(["analyze", str(path), "--out", str(out)])
            if rc != 0:
                print(f"| {name} | wot failed (exit {rc}): {quiet.getvalue()[-300:]!r} |")
                continue
            st = np.genfromtxt(out / "states.csv", delimiter=",", names=True, dtype=None,
                               encoding=None)  # fmt: skip
            scen = load_scenario(name)
            ag = scen.agreement(st["time_s"], st["state"], CALIB_S, GUARD_S)
            cells = ", ".join(f"{z} {100 * v:.1f}" for z, v in ag.items())
            print(f"| {name} | {cells} |")
            emit(STATE, f"wot simulate --out → wot analyze, {name}, seed {seed}",
                 "frames in the scripted zone (%)", cells, "truth (simulator script)", "",
                 "one CSV at 250 Hz; calibration and 30 s after each transition "
                 "excluded")  # fmt: skip


def drift() -> None:
    head = DATA / "drivedb" / "drive05.hea"
    segs = DATA / "drivedb" / "segments.csv"
    print("\n#### 3. drivedb/drive05 (ECG, foot GSR, RESP), baseline 100-400 s, GSR drifting")
    for f in (head, segs):
        if not f.exists():
            print(f"skipped: {f} not found (set WOT_DATA_DIR)")
            return
    with open(segs, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["drive"] == "drive05"]
    b0, b1 = 100.0, 400.0
    rec = read_recording(head, {"ecg": "ECG", "eda": "foot GSR", "resp": "RESP"})
    raw = rec.signals["eda"].data.copy()
    drifts = (
        ("scaled to 40 % by the end", lambda x: x * np.linspace(1.0, 0.4, x.size)),
        ("scaled to 20 % by the end", lambda x: x * np.linspace(1.0, 0.2, x.size)),
        ("a -3 µS ramp", lambda x: x + np.linspace(0.0, -3.0, x.size)),
    )
    print("| foot GSR | City hyper | Rest within/hypo | mean arousal |")
    print("|---|---|---|---|")
    for label, fn in drifts:
        rec.signals["eda"].data = fn(raw)
        res, pipe = run_recording(rec, EngineConfig(), (b0, b1))
        score_before_baseline(res, pipe)
        city, rest, means = drive_scores(res, rows, b0, b1)
        order = " > ".join(sorted(means, key=lambda k: -means[k]))
        vals = ", ".join(f"{k} {v:+.2f}" for k, v in means.items())
        print(f"| {label} | {100 * city:.1f} % | {100 * rest:.1f} % | {vals} ({order}) |")
        emit(STATE, f"drivedb drive05, baseline 100-400 s, foot GSR {label}",
             "City hyper / Rest within-or-hypo (%)", f"{100 * city:.1f} / {100 * rest:.1f}",
             "segments.csv (study stress levels)", "",
             f"mean arousal {vals} ({order})")  # fmt: skip
    rec.signals["eda"].data = raw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--acc-seeds", type=_range, default=range(1, 7), help="A:B, B excluded")
    ap.add_argument("--seed", type=int, default=1, help="simulate → analyze seed")
    ap.add_argument("--only", choices=("acc", "cli", "drift"), action="append", default=None)
    args = ap.parse_args()
    if args.only is None or "acc" in args.only:
        acc(args.acc_seeds)
    if args.only is None or "cli" in args.only:
        simulate_analyze(args.seed)
    if args.only is None or "drift" in args.only:
        drift()
    return 0


if __name__ == "__main__":
    sys.exit(main())
