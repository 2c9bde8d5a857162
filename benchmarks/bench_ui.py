"""Therapist console drawing speed, offscreen.

Run on demand (prints a table, asserts nothing)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_ui.py [--seconds 10] [--busy]

A stand-in engine hands the console a new snapshot on every frame: three raw traces of 10 s at
1 kHz (ECG with R-peak marks, EDA with SCR marks, RESP with breath marks; 10,000 points each,
moving on by 1/60 s per frame), and the frame history by cursor, as the engine hands it out
(the first snapshot the session so far, 10 min; each later one only the rows written since, 4
per second of session), from which the console draws 10 min of arousal and zone history and
the trends. The loop draws as fast as it can: snapshot → ``MainWindow.show_snapshot`` → Qt
paints. A frame counts when the raw-trace view actually painted (a paint event on its
viewport). Reported: sustained frames per second free-running, and, paced at 60 Hz like a
display, the frames painted and the CPU time per wall second of the process (100 % = one core).
``--busy``: another process keeps a core busy meanwhile (a spinning ``python -c`` loop), as
issue 20 asks the console to be measured. Prints ``therapist console: N fps`` (free-running)
and ``paced with client view: N fps``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from wot_biofeedback.cues import Cue
from wot_biofeedback.snapshot import Snapshot, StreamStatus
from wot_biofeedback.ui import ClientWindow, MainWindow

FS = 1000.0
SPAN_S = 10.0
FRAME_RATE = 4.0
CUE = Cue(590.0, "hyper", "down-regulate", "Breathe with the circle.", {"rate_bpm": 6.0,
          "inhale_ratio": 0.4})  # fmt: skip
FEATURES = {"hr_bpm": 72.0, "rmssd_ms": 40.0, "scl_us": 5.0, "scr_per_min": 2.0}


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.n += 1
        return False


class FakeEngine:
    """Snapshots of a synthetic session, advanced by ``step_s`` per call."""

    def __init__(self, step_s: float = 1.0 / 60.0) -> None:
        self.t = 600.0
        self.step_s = step_s
        rng = np.random.default_rng(0)
        n = int(40 * FS)
        tt = np.arange(n) / FS
        self.ecg = np.sin(2 * np.pi * 1.2 * tt) ** 31 + 0.02 * rng.standard_normal(n)
        self.eda = 5 + 0.3 * np.sin(2 * np.pi * tt / 17) + 0.005 * rng.standard_normal(n)
        self.resp = np.sin(2 * np.pi * tt / 5) + 0.02 * rng.standard_normal(n)

    def snapshot(self, history_since: int | None = None) -> Snapshot:
        self.t += self.step_s
        now = self.t
        written = int(now * FRAME_RATE)  # history rows: one per frame, row i at i / FRAME_RATE
        first = written - int(600 * FRAME_RATE) if history_since is None else history_since
        first = max(0, first, written - int(4 * 3600 * FRAME_RATE))
        n = int(SPAN_S * FS)
        start = int((now * FS) % (30 * FS))
        t = now - SPAN_S + np.arange(n) / FS
        raw = {m: (t, getattr(self, m)[start : start + n].copy()) for m in ("ecg", "eda", "resp")}
        h_t = np.arange(first, written) / FRAME_RATE
        k = h_t.size
        hist = {
            "time_s": h_t,
            "arousal": 2.0 * np.sin(h_t / 60.0),
            "zone_code": np.where(np.sin(h_t / 60.0) > 0.75, 1, 0).astype(np.float64),
            "confidence": np.ones(k),
            "hr_bpm": 70 + 10 * np.sin(h_t / 90.0),
            "rmssd_ms": 40 + 5 * np.sin(h_t / 70.0),
            "scl_us": 5 + 0.5 * np.sin(h_t / 200.0),
            "scr_per_min": 2 + np.sin(h_t / 50.0),
            "resp_rate_bpm": 12 + 2 * np.sin(h_t / 80.0),
        }
        marks = {
            "rpeak": np.arange(np.ceil(now - SPAN_S), now, 0.8),
            "scr": np.arange(np.ceil(now - SPAN_S), now, 4.0),
            "breath": np.arange(np.ceil(now - SPAN_S), now, 5.0),
        }
        st = {
            m: StreamStatus(m, m.upper(), 1000.0, "", "ok", 0.01, 1) for m in ("ecg", "eda", "resp")
        }
        return Snapshot(
            session_s=now,
            zone="hyper",
            arousal=2.0 * math.sin(now / 60.0),
            confidence=1.0,
            explanation="within: HR +2 bpm, breathing 12/min, SCR rate ×1.0",
            drivers=[],
            features=dict(FEATURES),
            calibrating=False,
            message="calibrated",
            window=(-1.5, 1.5),
            cue=CUE,
            history=hist,
            raw=raw,
            marks=marks,
            streams=st,
            # a new engine frame every 1/4 s of session: history and trends redraw then
            n_frames=written,
            overruns=0,
            history_start=first if k else written,
            history_cursor=written,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description="therapist console drawing speed (offscreen)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--busy", action="store_true", help="another process keeps a core busy")
    args = ap.parse_args()
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        return _measure(args)
    finally:
        if spin is not None:
            spin.kill()
            spin.wait()


def _measure(args: argparse.Namespace) -> int:
    if args.busy:
        print("(another process keeps a core busy throughout)")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    eng = FakeEngine()
    win = MainWindow(eng, refresh_hz=1.0)
    win.timer.stop()  # this loop drives the drawing
    win.resize(1280, 800)
    win.show()
    counter = PaintCounter()
    win.raw_view.viewport().installEventFilter(counter)
    for _ in range(30):  # warm-up
        win.show_snapshot(eng.snapshot(win.history.cursor))
        app.processEvents()
    counter.n = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    loops = 0
    while time.perf_counter() - wall0 < args.seconds:
        win.show_snapshot(eng.snapshot(win.history.cursor))
        app.processEvents()
        loops += 1
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    fps = counter.n / wall
    print(f"therapist console: {fps:.0f} fps")
    print(f"  free-running: {counter.n} frames painted in {wall:.1f} s ({loops} snapshots drawn),")
    print(f"  CPU {100 * cpu / wall:.0f} % of one core (process time per wall second)")
    # paced at a 60 Hz display, with the client view (gauge, cue, breathing pacer) open too:
    # the CPU share a live session at 60 fps costs
    client = ClientWindow(eng)
    client.stop_timers()  # this loop drives it
    client.resize(1280, 800)
    client.show()
    client_paints = PaintCounter()
    client.pacer.installEventFilter(client_paints)
    counter.n = 0
    period = 1.0 / 60.0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    next_t = wall0
    while time.perf_counter() - wall0 < args.seconds:
        snap = eng.snapshot(win.history.cursor)
        win.show_snapshot(snap)
        client.show_snapshot(snap)
        client.pacer.update()
        app.processEvents()
        next_t += period
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    print(f"paced with client view: {counter.n / wall:.0f} fps")
    print(
        f"  paced at 60 Hz with the client view: console {counter.n / wall:.0f} fps, "
        f"pacer {client_paints.n / wall:.0f} fps, CPU {100 * cpu / wall:.0f} % of one core"
    )
    client.close()
    print(
        "  3 traces x 10 s at 1 kHz with marks, 10 min arousal + zone history, 4 trends"
        " (history by cursor)"
    )
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
