"""Replay validation: a real recording through LSL into the live engine vs offline analysis.

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/validate_replay.py [--speed 10] [--duration S]

PhysioNet drivedb ``drive05`` (Healey & Picard 2005; Goldberger et al. 2000), found under
``WOT_DATA_DIR`` (default ``../shared/data``), is read with the channels ``wot analyze`` picks
(ECG, foot GSR, RESP). The same file is then published by
:class:`wot_simulators.replay.ReplayPublisher` as real LSL streams on loopback at ``--speed``
(timestamps on the recording's clock), and the live :class:`~wot_biofeedback.engine.Engine`
consumes them exactly as ``wot run --source-id`` does (streams resolved by type and source
id). The reference is :func:`wot_biofeedback.offline.run_recording` on the same recording (no
retrospective scoring of the calibration, so the two are compared after the 120-s calibration
only; the last 2 s are left out, as the live tail may still be in flight).

Tables: the summary (seconds compared, % of 0.25-s frames with the same zone, frames missing
live, engine overruns, NaN inserted for gaps, wall time), the zones of each segment of the drive
(``drivedb/segments.csv``) live and offline, and the live-vs-offline confusion counts.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from wot_simulators import ReplayPublisher, load_replay

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.offline import run_recording
from wot_biofeedback.sources.files import read_recording
from wot_biofeedback.sources.lsl import open_sources

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import REPLAY, emit

ZONES = ("hyper", "within", "hypo", "unknown")
TAIL_S = 2.0


def _zones(frames, rate: float) -> dict[int, str]:
    """Zone per frame index (time_s * frame rate, rounded)."""
    return {round(f.time_s * rate): f.state.zone for f in frames}


def _shares(zones: list[str]) -> str:
    n = max(len(zones), 1)
    return " ".join(f"{100 * sum(z == k for z in zones) / n:6.1f}" for k in ZONES)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", type=float, default=10.0, help="replay speed (default 10x)")
    ap.add_argument(
        "--duration", type=float, default=None, help="replay only the first S s (default: all)"
    )
    args = ap.parse_args()
    data = Path(os.environ.get("WOT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/data"))
    base = data / "drivedb" / "drive05"
    segs_path = data / "drivedb" / "segments.csv"
    if not base.with_suffix(".hea").exists():
        print(f"skipped: {base}.hea not found (set WOT_DATA_DIR)")
        return 1

    cfg = EngineConfig()
    rate = cfg.frame_rate_hz
    t = time.perf_counter()
    rec = read_recording(base)
    offline, _ = run_recording(rec, cfg)
    t_off = time.perf_counter() - t
    sigs = ", ".join(f"{m}={s.name}@{s.fs:g}Hz" for m, s in rec.signals.items())

    sid = f"wot-validate-{uuid.uuid4().hex[:8]}"
    streams, notes = load_replay(base, source_id=sid)
    pub = ReplayPublisher(
        streams, speed=args.speed, duration_s=args.duration, wait_for_consumers=30.0
    )
    end_s = pub.span_s
    print(
        f"drive05 ({sigs}; {rec.duration_s:.0f} s): replaying {end_s:.0f} s at {args.speed:g}x "
        f"(expect {end_s / args.speed:.0f} s wall)"
    )
    for note in notes:
        print(f"  note: {note}")
    wall = time.perf_counter()
    with pub:
        sources = open_sources({"ecg": "ECG", "eda": "EDA", "resp": "RESP"}, sid, 10.0)
        live = []  # drained as they come: the engine keeps only its newest FRAME_BUFFER_S
        with Engine(sources, cfg, outlets_source_id=None) as engine:
            give_up = time.monotonic() + end_s / args.speed + 120.0
            while not pub.wait_finished(1.0):
                live += engine.drain_frames()
                if time.monotonic() > give_up:
                    print("replay did not finish in time", file=sys.stderr)
                    break
            deadline = time.monotonic() + 60.0
            while time.monotonic() < deadline and engine.snapshot().session_s < end_s - 1.5:
                time.sleep(0.05)
            snap = engine.snapshot()
        live += engine.drain_frames()
    wall = time.perf_counter() - wall

    off, liv = _zones(offline.frames, rate), _zones(live, rate)
    calib = cfg.calibration.duration_s
    keys = [k for k in sorted(off) if calib * rate <= k < (end_s - TAIL_S) * rate]
    same = np.array([liv.get(k) == off[k] for k in keys])
    missing = sum(k not in liv for k in keys)
    print("\n1. live engine (LSL replay) vs offline run_recording, after calibration")
    rows = [
        ("seconds compared", f"{len(keys) / rate:.0f} s ({len(keys)} frames at {rate:g} Hz)"),
        ("same zone", f"{100 * same.mean():.2f} %"),
        ("frames missing live", f"{missing}"),
        ("engine error", f"{snap.error}"),
        ("engine overruns", f"{snap.overruns}"),
        ("NaN inserted for gaps", f"{engine.gaps_filled or 'none'}"),
        ("replay + engine wall time", f"{wall:.1f} s ({end_s / wall:.1f}x real time)"),
        ("offline read + run_recording", f"{t_off:.1f} s"),
    ]
    for k, v in rows:
        print(f"  {k:30s} {v}")
    what = f"drivedb drive05 ({end_s:.0f} s) replayed at {args.speed:g}x over LSL"
    emit(
        REPLAY,
        what,
        "frames with the same zone, live engine vs offline, after calibration",
        f"{100 * same.mean():.2f} %",
        "wot analyze (run_recording) of the record",
        "",
        f"{len(keys) / rate:.0f} s compared; frames missing live {missing}, overruns "
        f"{snap.overruns}, gaps filled {engine.gaps_filled or 'none'}; wall {wall:.0f} s",
    )

    print(f"\n2. zone shares per segment (%: {' '.join(ZONES)}), compared frames only")
    print(f"  {'segment':9s} {'start-end s':>13s} {'s':>5s} {'same':>6s}   live{' ' * 25}offline")
    seg_rows = []
    if segs_path.exists():
        with open(segs_path, newline="") as fh:
            seg_rows = [r for r in csv.DictReader(fh) if r["drive"] == "drive05"]
    else:
        print(f"  ({segs_path} not found)")
    for r in seg_rows:
        a, b = float(r["start_s"]), float(r["end_s"])
        ks = [k for k in keys if a * rate <= k < b * rate]
        if not ks:
            continue
        agree = 100 * np.mean([liv.get(k) == off[k] for k in ks])
        emit(REPLAY, f"drivedb drive05, {r['segment']} ({a:.0f}-{b:.0f} s)",
             "frames with the same zone, live vs offline", f"{agree:.1f} %",
             "wot analyze (run_recording) of the record", "",
             f"{len(ks) / rate:.0f} s; live hyper/within/hypo/unknown % "
             + "/".join(_shares([liv.get(k, "missing") for k in ks]).split()))  # fmt: skip
        print(
            f"  {r['segment']:9s} {a:6.0f}-{b:<6.0f} {len(ks) / rate:5.0f} {agree:6.1f}   "
            f"{_shares([liv.get(k, 'missing') for k in ks])}   {_shares([off[k] for k in ks])}"
        )

    print("\n3. confusion (rows offline, columns live), frames")
    print(f"  {'':9s} " + " ".join(f"{z:>8s}" for z in (*ZONES, "missing")))
    for zo in ZONES:
        counts = [sum(off[k] == zo and liv.get(k, "missing") == zl for k in keys)
                  for zl in (*ZONES, "missing")]  # fmt: skip
        print(f"  {zo:9s} " + " ".join(f"{c:8d}" for c in counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
