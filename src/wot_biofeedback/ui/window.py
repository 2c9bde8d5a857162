"""The live window: zone banner, arousal against the window, raw traces, controls.

The window never computes features: a GUI-thread ``QTimer`` reads ``engine.snapshot()`` and only
draws it. Colours are the Okabe-Ito colour-blind-safe palette.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

ZONE_COLOURS = {
    "within": "#009E73",  # bluish green
    "hyper": "#D55E00",  # vermillion
    "hypo": "#0072B2",  # blue
    "unknown": "#8C8C8C",
    "calibrating": "#8C8C8C",
}
ZONE_TITLES = {
    "within": "In the window",
    "hyper": "Hyperaroused (above the window)",
    "hypo": "Hypoaroused (below the window)",
    "unknown": "Unknown: checking the signals",
    "calibrating": "Calibrating baseline: please sit quietly",
}
RAW = (
    ("ecg", "ECG", "rpeak", "#333333"),
    ("eda", "EDA (µS)", "scr", "#CC79A7"),
    ("resp", "Breathing", "breath", "#56B4E9"),
)
RAW_SPAN_S = 10.0
TREND_SPAN_S = 600.0


def _label(text: str = "", size: int = 11, bold: bool = False) -> QtWidgets.QLabel:
    lab = QtWidgets.QLabel(text)
    f = lab.font()
    f.setPointSize(size)
    f.setBold(bold)
    lab.setFont(f)
    return lab


class LiveWindow(QtWidgets.QMainWindow):
    """Therapist-facing live view of a running :class:`~wot_biofeedback.engine.Engine`.

    Parameters
    ----------
    engine : Engine-like
        Needs ``snapshot()``, ``calibrate_now()``, ``mute_cues()``, ``send_cue()``,
        ``add_marker()``; ``stop()`` is called on close when ``owns_engine``.
    truth : callable, optional
        Session seconds → scripted zone (the simulator's ground truth, shown small).
    refresh_hz : float
        Redraw rate.
    """

    def __init__(
        self,
        engine: Any,
        truth: Callable[[float], str] | None = None,
        refresh_hz: float = 30.0,
        owns_engine: bool = False,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.truth = truth
        self.owns_engine = owns_engine
        self.setWindowTitle("wot-biofeedback: window of tolerance")
        self.resize(1280, 800)
        pg.setConfigOptions(antialias=False, background="w", foreground="#333333")

        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        root = QtWidgets.QVBoxLayout(central)

        # banner
        self.banner = QtWidgets.QFrame()
        self.banner.setObjectName("banner")
        bl = QtWidgets.QHBoxLayout(self.banner)
        left = QtWidgets.QVBoxLayout()
        self.zone_label = _label("Starting…", 24, True)
        self.why_label = _label("", 13)
        self.cue_label = _label("", 13)
        self.cue_label.setWordWrap(True)
        left.addWidget(self.zone_label)
        left.addWidget(self.why_label)
        left.addWidget(self.cue_label)
        bl.addLayout(left, 3)
        right = QtWidgets.QVBoxLayout()
        self.clock_label = _label("00:00", 20, True)
        self.clock_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self.conf_label = _label("", 11)
        self.conf_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self.truth_label = _label("", 9)
        self.truth_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        right.addWidget(self.clock_label)
        right.addWidget(self.conf_label)
        right.addWidget(self.truth_label)
        bl.addLayout(right, 1)
        root.addWidget(self.banner)

        # numbers
        nums = QtWidgets.QHBoxLayout()
        nums.setSpacing(36)
        self.num_labels: dict[str, QtWidgets.QLabel] = {}
        for key, title in (
            ("hr_bpm", "HR"),
            ("rmssd_ms", "RMSSD"),
            ("scl_us", "SCL"),
            ("scr_per_min", "SCRs"),
            ("resp_rate_bpm", "Breathing"),
        ):
            lab = _label(f"{title} --", 13, True)
            self.num_labels[key] = lab
            nums.addWidget(lab)
        nums.addStretch(1)
        self.status_label = _label("", 10)
        nums.addWidget(self.status_label)
        root.addLayout(nums)

        # arousal trend with the window band, and the zone timeline
        self.trend = pg.PlotWidget()
        self.trend.setMinimumHeight(260)
        self.trend.setLabel("left", "arousal (baseline z)")
        self.trend.setLabel("bottom", "session time", units="s")
        self.trend.setYRange(-4.7, 4.2)
        self.trend.showGrid(y=True, alpha=0.2)
        self.band = pg.LinearRegionItem(
            values=(-1.0, 1.5),
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(0, 158, 115, 45),
            pen=pg.mkPen(None),
        )
        self.trend.addItem(self.band)
        self.band_text = pg.TextItem("window of tolerance", color="#007A5A", anchor=(0, 1))
        self.trend.addItem(self.band_text)
        self.hyper_text = pg.TextItem("hyper ↑", color=ZONE_COLOURS["hyper"], anchor=(0, 0))
        self.hypo_text = pg.TextItem("hypo ↓", color=ZONE_COLOURS["hypo"], anchor=(0, 1))
        self.trend.addItem(self.hyper_text)
        self.trend.addItem(self.hypo_text)
        self.arousal_curve = self.trend.plot(pen=pg.mkPen("#222222", width=1))
        self.zone_scatter = pg.ScatterPlotItem(size=5, pen=pg.mkPen(None))
        self.trend.addItem(self.zone_scatter)
        for item in (self.arousal_curve,):
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
        root.addWidget(self.trend, 3)

        # raw traces
        self.raw_plots: dict[str, tuple[pg.PlotWidget, Any, pg.ScatterPlotItem]] = {}
        raw_row = QtWidgets.QHBoxLayout()
        for m, title, _mark, colour in RAW:
            pw = pg.PlotWidget(title=title)
            pw.setMinimumHeight(160)
            pw.hideAxis("left")
            curve = pw.plot(pen=pg.mkPen(colour, width=1))
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            marks = pg.ScatterPlotItem(size=7, brush=pg.mkBrush("#E69F00"), pen=pg.mkPen(None))
            pw.addItem(marks)
            raw_row.addWidget(pw)
            self.raw_plots[m] = (pw, curve, marks)
        root.addLayout(raw_row, 2)

        # controls
        ctl = QtWidgets.QHBoxLayout()
        self.calibrate_btn = QtWidgets.QPushButton("Calibrate now (60 s)")
        self.cue_btn = QtWidgets.QPushButton("Send cue")
        self.mute_btn = QtWidgets.QPushButton("Mute cues")
        self.mute_btn.setCheckable(True)
        self.marker_btn = QtWidgets.QPushButton("Marker (M)")
        self.marker_btn.setShortcut(QtGui.QKeySequence("M"))
        self.note_edit = QtWidgets.QLineEdit()
        self.note_edit.setPlaceholderText("note for the session record, Enter to add")
        for b in (self.calibrate_btn, self.cue_btn, self.mute_btn, self.marker_btn):
            ctl.addWidget(b)
        ctl.addWidget(self.note_edit, 1)
        root.addLayout(ctl)
        self.calibrate_btn.clicked.connect(lambda: self.engine.calibrate_now(60.0))
        self.cue_btn.clicked.connect(lambda: self.engine.send_cue(None))
        self.mute_btn.toggled.connect(self._mute)
        self.marker_btn.clicked.connect(lambda: self._marker("marker"))
        self.note_edit.returnPressed.connect(self._note)

        self.fps = 0.0
        self._frames = 0
        self._fps_t = time.monotonic()
        self.last_snapshot: Any = None
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(int(1000 / refresh_hz))

    # actions ------------------------------------------------------------------------------
    def _mute(self, on: bool) -> None:
        self.engine.mute_cues(on)
        self.mute_btn.setText("Cues muted" if on else "Mute cues")

    def _marker(self, text: str) -> None:
        t = self.last_snapshot.session_s if self.last_snapshot is not None else 0.0
        self.engine.add_marker(f"{text} @ {t:.1f} s")
        self.statusBar().showMessage(f"marker added at {t:.1f} s", 3000)

    def _note(self) -> None:
        text = self.note_edit.text().strip()
        if text:
            self._marker(f"note: {text}")
            self.note_edit.clear()

    # drawing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read one snapshot and draw it (GUI thread)."""
        snap = self.engine.snapshot()
        self.last_snapshot = snap
        zone = "calibrating" if snap.calibrating and snap.zone == "unknown" else snap.zone
        colour = ZONE_COLOURS.get(zone, "#8C8C8C")
        self.banner.setStyleSheet(
            f"#banner {{ background: {colour}; border-radius: 8px; }} QLabel {{ color: white; }}"
        )
        self.zone_label.setText(ZONE_TITLES.get(zone, zone))
        why = snap.explanation.split(":", 1)[1].strip() if ":" in snap.explanation else ""
        self.why_label.setText(f"Why: {why}" if why else "")
        cue = snap.cue
        self.cue_label.setText(f"Cue: {cue.text}" if cue is not None else "Cue: none yet")
        s = max(0.0, snap.session_s)
        self.clock_label.setText(f"{int(s // 60):02d}:{int(s % 60):02d}")
        self.conf_label.setText(f"confidence {snap.confidence:.0%}")
        if self.truth is not None:
            self.truth_label.setText(f"simulator truth: {self.truth(snap.session_s)}")
        f = snap.features
        fmt = {
            "hr_bpm": ("HR", "{:.0f} bpm"),
            "rmssd_ms": ("RMSSD", "{:.0f} ms"),
            "scl_us": ("SCL", "{:.2f} µS"),
            "scr_per_min": ("SCRs", "{:.1f}/min"),
            "resp_rate_bpm": ("Breathing", "{:.1f}/min"),
        }
        for k, (title, pattern) in fmt.items():
            v = f.get(k, math.nan)
            self.num_labels[k].setText(f"{title} {pattern.format(v) if math.isfinite(v) else '--'}")
        self.status_label.setText(
            "   ".join(
                f"{m.upper()} {st.state}"
                + (f" {st.since_last_s:.0f}s" if st.state in ("lagging", "lost") else "")
                for m, st in snap.streams.items()
            )
        )
        lo, hi = snap.window
        self.band.setRegion((lo, hi))
        h = snap.history
        t = h.get("time_s", np.empty(0))
        if t.size:
            x0 = max(0.0, float(t[-1]) - TREND_SPAN_S)
            self.trend.setXRange(x0, max(x0 + 60.0, float(t[-1])), padding=0)
            self.band_text.setPos(x0, lo)
            self.hyper_text.setPos(x0, 4.1)
            self.hypo_text.setPos(x0, -3.7)
            a = h["arousal"]
            self.arousal_curve.setData(t, a, connect="finite")
            step = max(1, t.size // 600)
            codes = h["zone_code"][::step]
            names = np.array(["hypo", "within", "hyper", "unknown"])[
                np.clip(codes + 1, 0, 3).astype(int)
            ]
            brushes = [pg.mkBrush(ZONE_COLOURS[n]) for n in names]
            self.zone_scatter.setData(t[::step], np.full(codes.size, -4.45), brush=brushes)
        for m, (pw, curve, marks) in self.raw_plots.items():
            if m not in snap.raw:
                pw.setTitle(f"{pw.plotItem.titleLabel.text.split(' (')[0]} (not connected)")
                continue
            rt, rx = snap.raw[m]
            if rt.size == 0:
                continue
            keep = rt >= rt[-1] - RAW_SPAN_S
            rt, rx = rt[keep], rx[keep]
            curve.setData(rt, rx, connect="finite")
            pw.setXRange(rt[0], rt[-1], padding=0)
            if m == "eda" and np.isfinite(rx).any():
                # at least 0.2 µS tall, so sensor noise is not blown up to full height
                lo_y, hi_y = float(np.nanmin(rx)), float(np.nanmax(rx))
                pad = max(0.0, 0.2 - (hi_y - lo_y)) / 2
                pw.setYRange(lo_y - pad, hi_y + pad, padding=0.05)
            mark = next(mk for mm, _t, mk, _c in RAW if mm == m)
            ev = snap.marks.get(mark, np.empty(0))
            ev = ev[(ev >= rt[0]) & (ev <= rt[-1])]
            if ev.size:
                marks.setData(ev, np.interp(ev, rt, rx))
            else:
                marks.clear()
        self._frames += 1
        now = time.monotonic()
        if now - self._fps_t >= 1.0:
            self.fps = self._frames / (now - self._fps_t)
            self._frames, self._fps_t = 0, now
            self.statusBar().showMessage(f"{self.fps:.0f} fps · frames {snap.n_frames}")

    def grab_png(self, path: str) -> bool:
        """Render the window to a PNG file."""
        return bool(self.grab().save(str(path)))

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        if self.owns_engine:
            self.engine.stop()
        super().closeEvent(event)


def run_window(
    engine: Any, truth: Callable[[float], str] | None = None, duration_s: float | None = None
) -> int:
    """Show the live window until it is closed (or ``duration_s`` wall seconds pass)."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    win = LiveWindow(engine, truth)
    win.show()
    if duration_s is not None:
        QtCore.QTimer.singleShot(int(duration_s * 1000), win.close)
    return int(app.exec())
