"""Resonance-frequency assessment on a real paced-breathing recording (RR intervals).

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/validate_resonance_real.py --rr-dir DIR

``DIR`` is ``issues/014_rf_hrv`` of the GitHub repository ``tsu-nera/satoru`` (commit
371c9791c97db84c50fc4d05f12f7bd6979715d0): one person's own resonance-frequency tests, recorded
with the Elite HRV app and a chest strap while following its breathing pacer, one file of RR
intervals (ms, one a line) per paced rate, the file named by its start time. The repository
has no licence, so its files are not part of this project: fetch them to run this. The rate of
each file is the repository's own statement (its ``trials`` lists and notes), repeated in
:data:`SESSIONS`:

* 2026-01-17: 2 minutes each at 6.5, 6.0, 5.5, 5.0, 4.5 and 6.5 again, in that order,
  inhale:exhale about 1:2;
* 2026-01-18: 3 minutes each in shuffled order at 5.0, 3.5, 6.0, 4.5, 5.5 and 4.0, a minute's
  rest between, inhale:exhale about 1:1.5.

There is no breathing signal, so each step is scored without the phase criterion (as ``wot
assess --resonance`` does for an ECG-only recording). Each file goes through the engine's RR
path (``assess_recording``: beat correction, NN) as one step; the steps of a session are then
scored together by the decision rule (:func:`wot_biofeedback.resonance.choose`).

There is no true resonance rate to score against: what this shows is whether the steps of a
real person, with a real strap's beats, are usable (the LF peak where the pacer was), how the
criteria rank the rates, whether a repeated rate measures alike, and where the rule's choice
stands beside the recording author's own pick (largest LF power: 4.5 on 01-17, 4.0 on 01-18).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.resonance import PacedStep, assess_recording, choose
from wot_biofeedback.sources.files import Recording, Signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

SESSIONS = {
    "data-01-17": [
        ("2026-01-17 17-47-13.txt", 6.5),
        ("2026-01-17 17-51-11.txt", 6.0),
        ("2026-01-17 17-54-41.txt", 5.5),
        ("2026-01-17 17-57-47.txt", 5.0),
        ("2026-01-17 18-00-59.txt", 4.5),
        ("2026-01-17 18-11-56.txt", 6.5),
    ],
    "data-01-18": [
        ("2026-01-18 10-18-10.txt", 5.0),
        ("2026-01-18 10-27-29.txt", 3.5),
        ("2026-01-18 10-31-32.txt", 6.0),
        ("2026-01-18 10-35-30.txt", 4.5),
        ("2026-01-18 10-39-07.txt", 5.5),
        ("2026-01-18 10-42-52.txt", 4.0),
    ],
}
AUTHOR_PICK = {"data-01-17": 4.5, "data-01-18": 4.0}


def step_of(path: Path, rate: float) -> dict:
    """One file as one paced step, through the engine's RR path."""
    rr = np.loadtxt(path, dtype=np.float64, ndmin=1)
    t = np.cumsum(rr) / 1000.0  # each interval at its closing beat, s from the file's start
    rec = Recording(str(path))
    rec.signals["rr"] = Signal(rr, 1.0, path.name, "ms", float(t[0]), t)
    out = assess_recording(rec, EngineConfig(), [PacedStep(rate, 0.0, float(t[-1]))])
    s = out["steps"][0]
    s["file"] = path.name
    s["minutes"] = float(t[-1]) / 60.0
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rr-dir", default="", help="issues/014_rf_hrv of tsu-nera/satoru (see the module text)"
    )
    args = ap.parse_args(argv)
    root = Path(args.rr_dir)
    missing = [d for d in SESSIONS if not (root / d).is_dir()]
    if not args.rr_dir or missing:
        print(
            f"skipped: no paced-breathing RR files (--rr-dir {args.rr_dir or '?'}: need "
            f"{', '.join(missing)}; see the module text)"
        )
        return 0
    for day, files in SESSIONS.items():
        steps = [step_of(root / day / name, rate) for name, rate in files]
        for i, s in enumerate(steps):
            s["order"] = i + 1
        copies = [dict(s) for s in steps]
        res = choose(copies)  # writes each usable step's score
        print(f"\n{day} ({dt.date.fromisoformat('2026-' + day[5:])}): {len(files)} paced steps")
        print(
            "  order  rate/min  min  beats  peak-trough bpm (se)  LF bpm²  LF peak/min  "
            "sharpness  usable  score"
        )
        for c in copies:
            score = "-" if c["score"] is None else f"{c['score']:.3f}"
            print(
                f"  {c['order']:5d}  {c['rate_bpm']:8g}  {c['minutes']:3.1f}  {c['beats']:5d}  "
                f"{c['peak_trough_bpm']:9.1f} ({c['peak_trough_se_bpm']:4.1f})  "
                f"{c['lf_power_bpm2']:7.1f}  {c['lf_peak_bpm']:11.2f}  {c['sharpness']:9.2f}  "
                f"{'yes' if c['usable'] else 'no':>6s}  {score:>5s}"
            )
            if c["problem"]:
                print(f"         {c['problem']}")
        usable = [c for c in copies if c["usable"]]
        off = [
            abs(c["lf_peak_bpm"] - c["rate_bpm"]) for c in copies if math.isfinite(c["lf_peak_bpm"])
        ]
        by_lf = max(usable, key=lambda c: c["lf_power_bpm2"])["rate_bpm"] if usable else None
        by_pt = max(usable, key=lambda c: c["peak_trough_bpm"])["rate_bpm"] if usable else None
        print(
            f"  usable {len(usable)}/{len(copies)}; LF peak off the pacer by median "
            f"{np.median(off):.2f}/min (max {max(off):.2f})"
        )
        print(
            f"  chosen {res['resonance_rate_bpm']}/min, margin {res['margin']}, close "
            f"{res['close']}; largest LF power {by_lf}/min, largest peak to trough "
            f"{by_pt}/min; the author's pick (largest LF power, their method) "
            f"{AUTHOR_PICK[day]}/min"
        )
        same = [c for c in copies if c["rate_bpm"] == 6.5]
        if len(same) == 2:
            a, b = same
            print(
                f"  6.5/min measured twice (order {a['order']} and {b['order']}): peak to "
                f"trough {a['peak_trough_bpm']:.1f} vs {b['peak_trough_bpm']:.1f} bpm, LF "
                f"{a['lf_power_bpm2']:.1f} vs {b['lf_power_bpm2']:.1f} bpm²"
            )
        for line in res["reasoning"]:
            print(f"  {line}")
        _report.emit(
            _report.STATE, f"real paced breathing, RR ({day}, tsu-nera/satoru)",
            "resonance rate chosen (usable steps; LF peak off the pacer, median)",
            f"{res['resonance_rate_bpm']:g}/min ({len(usable)}/{len(copies)}; "
            f"{np.median(off):.2f}/min)",
            "author's own pick (largest LF power)", f"{AUTHOR_PICK[day]:g}/min",
            f"margin {res['margin']}, close {res['close']}; no breathing signal, no true rate "
            "(validate_resonance_real.py)",
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
