"""Crash safety of session recording: ``wot demo --headless --record X.xdf`` killed with
``kill -9`` after 60 s.

Run on demand (not part of the test suite; about 1 min per trial)::

    .venv/bin/python benchmarks/validate_recording.py [--trials 2] [--seconds 60]

Each trial starts the demo in a subprocess, sends SIGKILL after ``--seconds`` of wall clock, then:

* loads the file with pyxdf (its defaults: clock synchronisation, dejittering);
* at ``--speed 1`` (time stamps on the wall clock): how long before the kill, on the LSL clock,
  the last raw ECG/EDA/RESP sample was recorded;
* runs ``wot analyze`` on the file and compares its zones, frame by frame, with the live zones
  recorded in ``wot-features`` (and R-peaks with the live ``wot-events``).

One more trial runs at ``--speed 10`` (600 s of session in 60 s, with hyper- and hypoarousal)
for the zone comparison; its time stamps follow the simulator's data clock, so the loss is not
measured there.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pylsl
import pyxdf

from wot_biofeedback import cli
from wot_biofeedback.outlets import OUTLET_CHANNELS
from wot_biofeedback.sources import xdf
from wot_biofeedback.state import ZONE_CODE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RECORDING, emit

ZONE_OF_CODE = {v: k for k, v in ZONE_CODE.items()}


def trial(d: Path, seconds: float, speed: float, calibration: float) -> dict[str, object]:
    path = d / f"killed-{speed:g}x.xdf"
    cmd = [sys.executable, "-m", "wot_biofeedback.cli", "demo", "--headless", "--speed",
           f"{speed:g}", "--calibration", f"{calibration:g}", "--record", str(path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not path.exists():
        time.sleep(0.05)
    started = time.monotonic()
    time.sleep(seconds)
    killed_at = pylsl.local_clock()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    wall = time.monotonic() - started
    streams, _ = pyxdf.load_xdf(str(path))
    raw = {
        s["info"]["type"][0]: s for s in streams if s["info"]["type"][0] in ("ECG", "EDA", "RESP")
    }
    loss = {k: killed_at - float(s["time_stamps"][-1]) for k, s in raw.items()}
    out = d / f"out-{speed:g}"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["analyze", str(path), "--out", str(out)]) == 0
    f = xdf.read_xdf(path)
    recs = [json.loads(s) for s in f.by_name("wot-session").time_series]
    origin = next(r["lsl_time"] for r in recs if r["event"] == "origin")
    feats = f.by_name("wot-features")
    t_live = np.round(feats.time_stamps - origin, 2)
    live = [ZONE_OF_CODE[int(c)] for c in feats.time_series[:, OUTLET_CHANNELS.index("zone_code")]]
    with open(out / "states.csv", newline="") as fh:
        off = {round(float(r["time_s"]), 2): r["state"] for r in csv.DictReader(fh)}
    same = [off[float(t)] == z for t, z in zip(t_live, live, strict=True) if float(t) in off]
    ev = f.by_name("wot-events")
    rp_live = ev.time_stamps[np.array(ev.time_series) == "rpeak"] - origin
    rp_off = np.atleast_1d(np.loadtxt(out / "rpeaks.csv", skiprows=1))
    n = min(rp_live.size, rp_off.size)
    return {
        "speed": speed,
        "wall_s": wall,
        "session_s": float(t_live[-1]) if t_live.size else 0.0,
        "size_mb": path.stat().st_size / 1e6,
        "loss": loss,
        "frames": len(live),
        "compared": len(same),
        "same_pct": 100.0 * float(np.mean(same)) if same else float("nan"),
        "zones": {z: live.count(z) for z in ("hyper", "within", "hypo", "unknown")},
        "rpeaks": (rp_live.size, rp_off.size, float(np.max(np.abs(rp_live[:n] - rp_off[:n])))),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--trials", type=int, default=2, help="trials at --speed 1")
    ap.add_argument("--seconds", type=float, default=60.0, help="wall seconds before the kill")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.trials):
            d = Path(tmp) / f"t{i}"
            d.mkdir()
            results.append(trial(d, args.seconds, 1.0, 30.0))
        d = Path(tmp) / "fast"
        d.mkdir()
        results.append(trial(d, args.seconds, 10.0, 120.0))
    print(f"kill -9 after {args.seconds:g} s of wall clock (the first file byte to the kill)")
    hdr = (
        f"{'speed':>5}  {'session s':>9}  {'MB':>5}  {'last ECG/EDA/RESP before kill, s':>34}  "
        f"{'frames':>6}  {'same zone':>9}  {'live zones h/w/hy/u':>19}  "
        "R-peaks live/offline, max |dt|"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        loss = r["loss"]
        lost = (
            " / ".join(f"{loss[k]:.2f}" for k in ("ECG", "EDA", "RESP"))  # type: ignore[index]
            if r["speed"] == 1.0
            else "n/a (data clock)"
        )
        z = r["zones"]
        zs = "/".join(str(z[k]) for k in ("hyper", "within", "hypo", "unknown"))  # type: ignore[index]
        rp = r["rpeaks"]
        print(
            f"{r['speed']:>5g}  {r['session_s']:>9.1f}  {r['size_mb']:>5.2f}  {lost:>34}  "
            f"{r['frames']:>6}  {r['same_pct']:>8.2f}%  {zs:>19}  "
            f"{rp[0]}/{rp[1]}, {rp[2] * 1000:.3f} ms"  # type: ignore[index]
        )
        note = f"R-peaks live/offline {rp[0]}/{rp[1]}, max |dt| {rp[2] * 1000:.3f} ms; "  # type: ignore[index]
        note += f"{r['size_mb']:.2f} MB; last ECG/EDA/RESP sample before the kill: "
        note += f"{lost} s" if r["speed"] == 1.0 else lost
        emit(
            RECORDING,
            f"wot demo --speed {r['speed']:g} --record, kill -9 after {args.seconds:g} s",
            "frames with the same zone, wot analyze of the file vs live",
            f"{r['same_pct']:.2f} % of {r['frames']:,}",
            "live zones recorded in the file",
            "",
            f"{r['session_s']:.1f} s of session; " + note,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
