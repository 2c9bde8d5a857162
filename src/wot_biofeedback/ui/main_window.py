"""The live window: zone banner, arousal history with the window of tolerance, raw traces.

The window never computes a feature. A ``QTimer`` (60 Hz) calls ``engine.snapshot()`` and
only draws what the snapshot holds; buttons forward to the engine's thread-safe commands. The
frame history (arousal, zones, trends) comes by cursor: each snapshot carries only the rows
written since the last one, which the window appends to its own arrays (:class:`ViewHistory`)
and draws from.

Drawing follows the usual pyqtgraph rules for live plots: one curve item per trace created up
front and updated with ``setData`` (``skipFiniteCheck`` when the data are finite, ``connect=
"finite"`` when they hold gaps), clipping to the view, peak downsampling (the raw traces to
one min-max bin per pixel column), 1-px pens, fixed y-ranges where the scale is known (the
arousal index and the zone strip), the arousal plot's gridded axis kept as a pixmap, and the
history plots redrawn only when the engine produced new frames (4 per second by default).

Colours are the Okabe-Ito palette (Okabe & Ito 2008), distinguishable with the common colour
vision deficiencies; the zone is always written in words too, never shown by colour alone.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Container
from datetime import datetime
from typing import Any, Protocol, cast

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QEventLoop,
    QMessageLogContext,
    Qt,
    QTimer,
    QtMsgType,
    Signal,
    qFormatLogMessage,
    qInstallMessageHandler,
)
from PySide6.QtGui import QCloseEvent, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..modalities import MODALITIES, ROLES, SYNC_SIGNALS, Role, of_role
from ..snapshot import Snapshot, SnapshotSource, coregulation_words, index_words, sync_words
from ..state import ZONE_CODE
from ..theme import ALERT, BLUE, GREEN, ORANGE, PURPLE, ROLE_COLOURS, VERMILLION
from .history import ViewHistory

__all__ = ["MainWindow", "run_window", "take_screenshots"]

GREY = ALERT["unknown"]
DARK = "#222222"

ZONE_COLOURS = ALERT
CALIBRATING_COLOUR = "#5A5A5A"
ZONE_WORDS = {
    "within": "In the window",
    "hyper": "Hyperaroused",
    "hypo": "Hypoaroused",
    "unknown": "Unknown / checking signals",
}
CALIBRATING_WORDS = "Calibrating baseline…"
STREAM_COLOURS = {
    "ok": GREEN, "lagging": ORANGE, "lost": VERMILLION, "waiting": GREY, "unusable": VERMILLION,
}  # fmt: skip
MARK_COLOURS = ROLE_COLOURS
"""Colour of the event marks on each role's raw trace (the roles of ``modalities.ROLES``)."""
UNIT_TEXT = {"uS": "µS"}  # units as written on screen
NUMBERS = (
    ("hr_bpm", "HR", "bpm", "{:.0f}"),
    ("rmssd_ms", "RMSSD", "ms", "{:.0f}"),
    ("scl_us", "SCL", "µS", "{:.2f}"),
    ("scr_per_min", "SCR", "/min", "{:.1f}"),
    ("resp_rate_bpm", "Breathing", "/min", "{:.1f}"),
)

HISTORY_SPAN_S = 600.0  # arousal history shown, s
SYNC_COLOURS = {SYNC_SIGNALS[r]: c for r, c in ROLE_COLOURS.items()}  # the synchrony panel
TREND_HISTORY_S = 4 * 3600.0  # the trends hold up to the engine's whole history (4 h)
RAW_SPAN_S = 10.0  # raw traces shown by default, s
RAW_SPANS_S = (5.0, 10.0, 30.0)  # the choices (the engine keeps 30 s)
TRENDS = (
    ("hr_bpm", "HR (bpm)", VERMILLION),
    ("rmssd_ms", "RMSSD (ms)", BLUE),
    ("scl_us", "SCL (µS)", ORANGE),
    ("resp_rate_bpm", "breathing (/min)", GREEN),
)
HISTORY_KEYS = ("time_s", "arousal", "zone_code", *(k for k, _, _ in TRENDS))
"""The frame-history series the window keeps (its own copy, up to ``TREND_HISTORY_S``)."""
AROUSAL_YRANGE = (-4.3, 4.3)  # the index is clipped to ±4
REFRESH_HZ = 60.0  # the console keeps a 60-Hz display: beats painted sooner (bench_latency.py)
RAW_SAMPLES_PER_PIXEL = 1.0  # raw traces: peak bins per pixel column (pyqtgraph: 5)
CALIBRATE_S = 60.0
RESONANCE_SHOWN_S = 60.0
"""The resonance protocol's bars stay this long (session s) after its last step, then the
trends come back (the result stays in the status bar)."""
MAX_MARKER_LINES = 200


class EngineLike(SnapshotSource, Protocol):
    """What the window calls on the engine (``wot_biofeedback.engine.Engine`` has it):
    ``snapshot(history_since=cursor)`` and the commands."""

    def calibrate_now(self, duration_s: float = ...) -> None: ...
    def mute_cues(self, muted: bool) -> None: ...
    def send_cue(self, text: str | None = ...) -> None: ...
    def add_marker(self, text: str, note: str = ...) -> None: ...
    def stop(self) -> None: ...


def _source_text(modality: str) -> tuple[str, str, str]:
    """``(label, unit, marks)`` of the raw trace ``modality`` feeds, from the modality table."""
    d = MODALITIES[modality]
    # a multi-axis signal (a chest accelerometer) is drawn as the one-dimensional breathing
    # surrogate the engine derives from it, which has no physical unit
    unit = "a.u." if d.width > 1 else d.unit
    return d.label, UNIT_TEXT.get(unit, unit), d.marks


def _source(role: Role, present: Container[str]) -> str:
    """The modality feeding ``role`` in ``present`` (the preferred one when none does)."""
    sources = of_role(role.name)
    return next((m for m in sources if m in present), sources[0])


def clock(s: float) -> str:
    """``mm:ss`` (or ``h:mm:ss``) of a number of seconds (``-mm:ss`` when negative)."""
    if not math.isfinite(s):
        return "--:--"
    sign = "-" if s <= -1.0 else ""
    h, rem = divmod(int(abs(s)), 3600)
    m, sec = divmod(rem, 60)
    return sign + (f"{h:d}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}")


class ClockAxis(pg.AxisItem):
    """A time axis in session seconds, labelled ``mm:ss`` at round minute/second steps."""

    STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        span = max(maxVal - minVal, 1e-9)
        max_ticks = max(2.0, size / 90.0)
        major = next((s for s in self.STEPS if span / s <= max_ticks), self.STEPS[-1])
        return [(float(major), 0.0), (major / 2.0, 0.0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [clock(v) for v in values]


def _style_plot(
    plot: pg.PlotItem, left: str, bottom: str | None, fast: bool = True, grid: bool = False
) -> None:
    """White-background styling, no mouse interaction, fast drawing options.

    ``fast`` clips curves to the view and peak-downsamples them (not for step curves, which
    pyqtgraph cannot clip).
    """
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    if fast:
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
    if grid:
        # grid lines are drawn by the axes over the whole plot, the costliest part of a
        # repaint: only where they help reading values (the arousal index). The left axis
        # (fixed range) is kept as a pixmap: its grid was 8 ms of every history repaint
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen(DARK, width=1))
        ax.setTextPen(pg.mkPen(DARK))
        ax.enableAutoSIPrefix(False)  # no "(x0.001)" on arbitrary units
    plot.setLabel("left", left)
    plot.getAxis("left").setWidth(64)
    if bottom is None:
        plot.getAxis("bottom").setStyle(showValues=False)
    else:
        plot.setLabel("bottom", bottom)


def _set_curve(curve: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    """``setData`` with the finite check skipped when it is safe, gaps kept when it is not."""
    if x.size and bool(np.isfinite(y).all()) and bool(np.isfinite(x).all()):
        curve.setData(x, y, skipFiniteCheck=True)
    else:
        curve.setData(x, y, connect="finite")


def _set_text(label: QLabel, text: str) -> None:
    """Set a label only when it changed (avoids relayouts at 60 Hz)."""
    if label.text() != text:
        label.setText(text)


def _font(pt: float, bold: bool = False, italic: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(pt)
    f.setBold(bold)
    f.setItalic(italic)
    return f


class MainWindow(QMainWindow):
    """The live biofeedback window.

    Parameters
    ----------
    engine : Engine-like
        Anything with ``snapshot(history_since=...)`` and the command methods
        ``calibrate_now``, ``mute_cues``, ``send_cue``, ``add_marker`` (and ``stop`` when
        ``owns_engine``); see :class:`EngineLike`.
    truth : callable, optional
        ``session_s -> zone`` for a simulated session's ground truth (shown small).
    owns_engine : bool
        Stop the engine when the window closes.
    refresh_hz : float
        Redraw rate.
    """

    closed = Signal()

    def __init__(
        self,
        engine: EngineLike,
        truth: Callable[[float], str] | None = None,
        owns_engine: bool = False,
        refresh_hz: float = REFRESH_HZ,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.truth = truth
        self.owns_engine = owns_engine
        self.last_snapshot: Snapshot | None = None
        self.fps = 0.0
        self.markers: list[tuple[float, str]] = []  # (session s, text) added from this window
        self._n_frames = -1
        self._ticks = 0
        self._fps_t0 = time.monotonic()
        self._raw_yrange: dict[str, tuple[float, float]] = {}
        self._window: tuple[float, float] | None = None
        self._marker_lines: list[pg.InfiniteLine] = []
        self._banner_key = ""
        self.raw_span_s = RAW_SPAN_S
        self._raw_source: dict[str, str] = {}
        self.history = ViewHistory(HISTORY_KEYS, TREND_HISTORY_S)
        self._n_markers_drawn = 0

        self.setWindowTitle("wot-biofeedback — window of tolerance")
        self.resize(1280, 800)
        central = QWidget(self)
        self.setCentralWidget(central)
        root = QVBoxLayout(central)
        root.setContentsMargins(8, 8, 8, 4)
        root.setSpacing(6)
        root.addWidget(self._build_banner())
        mid = QHBoxLayout()
        mid.setSpacing(6)
        left = QVBoxLayout()
        left.setSpacing(4)
        left.addWidget(self._build_history(), 3)
        left.addWidget(self._build_trends(), 2)
        left.addWidget(self._build_resonance(), 2)
        left.addWidget(self._build_sync_strip(), 2)
        mid.addLayout(left, 3)
        mid.addWidget(self._build_raw(), 2)
        root.addLayout(mid, 1)
        root.addWidget(self._build_numbers())
        root.addLayout(self._build_controls())
        self._build_status_bar()

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, round(1000.0 / refresh_hz)))
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # construction -----------------------------------------------------------------------------
    def _build_banner(self) -> QWidget:
        self.banner = QFrame(self)
        self.banner.setObjectName("banner")
        self.banner.setMinimumHeight(128)
        lay = QHBoxLayout(self.banner)
        lay.setContentsMargins(18, 10, 18, 10)
        left = QVBoxLayout()
        left.setSpacing(2)
        self.zone_label = QLabel(ZONE_WORDS["unknown"], self.banner)
        self.zone_label.setFont(_font(30, bold=True))
        self.explanation_label = QLabel("", self.banner)
        self.explanation_label.setFont(_font(14))
        self.cue_label = QLabel("Cue: —", self.banner)
        self.cue_label.setFont(_font(13, italic=True))
        self.people_label = QLabel("", self.banner)  # the other people, and the synchrony
        self.people_label.setFont(_font(12, bold=True))
        self.people_label.setVisible(False)
        for w in (self.explanation_label, self.cue_label, self.people_label):
            w.setWordWrap(True)
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        left.addWidget(self.zone_label)
        left.addWidget(self.explanation_label)
        left.addWidget(self.cue_label)
        left.addWidget(self.people_label)
        lay.addLayout(left, 1)
        right = QVBoxLayout()
        right.setSpacing(2)
        self.clock_label = QLabel("Session 00:00", self.banner)
        self.clock_label.setFont(_font(20, bold=True))
        self.confidence_label = QLabel("confidence —", self.banner)
        self.confidence_label.setFont(_font(14))
        self.arousal_label = QLabel("arousal —", self.banner)
        self.arousal_label.setFont(_font(12))
        self.truth_label = QLabel("", self.banner)
        self.truth_label.setFont(_font(10))
        self.truth_label.setVisible(self.truth is not None)
        self.arousal_label.setMinimumWidth(330)  # long texts on the left never cut it
        for w in (self.clock_label, self.confidence_label, self.arousal_label, self.truth_label):
            w.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            right.addWidget(w)
        right.addStretch(1)
        lay.addLayout(right)
        self._paint_banner(GREY, "#FFFFFF")
        return self.banner

    def _paint_banner(self, bg: str, fg: str) -> None:
        self.banner.setStyleSheet(
            f"#banner {{ background: {bg}; border-radius: 8px; }} "
            f"#banner QLabel {{ color: {fg}; background: transparent; }}"
        )

    def _build_history(self) -> QWidget:
        self.history_view = pg.GraphicsLayoutWidget(self)
        self.history_view.setBackground("w")
        self.history_view.ci.setContentsMargins(2, 2, 8, 2)
        self.history_view.ci.setSpacing(0)
        title = "Arousal index (baseline z), last 10 min"
        self.arousal_plot = self.history_view.addPlot(
            row=0, col=0, axisItems={"bottom": ClockAxis("bottom")}
        )
        _style_plot(self.arousal_plot, "arousal (z)", None, grid=True)
        self.arousal_plot.setTitle(title, color=DARK, size="11pt")
        self.arousal_plot.setYRange(*AROUSAL_YRANGE, padding=0)
        self.arousal_plot.setXRange(0.0, 60.0, padding=0)
        self.band = pg.LinearRegionItem(
            values=(-1.0, 1.5),
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(0, 158, 115, 45),
            pen=pg.mkPen(GREEN, width=1, style=Qt.PenStyle.DashLine),
        )
        self.band.setZValue(-10)
        self.arousal_plot.addItem(self.band)
        self.band_labels = {
            "window": pg.TextItem("window of tolerance", color=GREEN, anchor=(0, 0.5)),
            "hyper": pg.TextItem("▲ above: hyperaroused", color=VERMILLION, anchor=(0, 1)),
            "hypo": pg.TextItem("▼ below: hypoaroused", color=BLUE, anchor=(0, 0)),
        }
        for item in self.band_labels.values():
            item.setZValue(-5)
            self.arousal_plot.addItem(item)
        self.arousal_curve = self.arousal_plot.plot(pen=pg.mkPen(DARK, width=1))
        # a second person (the therapist): their arousal on the same axis, dashed
        self.other_curve = self.arousal_plot.plot(
            pen=pg.mkPen(PURPLE, width=1.5, style=Qt.PenStyle.DashLine)
        )
        self.now_dot = pg.ScatterPlotItem(size=9, pen=pg.mkPen(DARK, width=1), brush=GREY)
        self.arousal_plot.addItem(self.now_dot)

        self.zone_plot = self.history_view.addPlot(
            row=1, col=0, axisItems={"bottom": ClockAxis("bottom")}
        )
        _style_plot(self.zone_plot, "zone", "session time", fast=False)
        self.zone_plot.showGrid(x=False, y=False)
        self.zone_plot.getAxis("left").setStyle(showValues=False)
        self.zone_plot.getAxis("left").setTicks([[]])
        self.zone_plot.setYRange(0.0, 1.0, padding=0)
        self.zone_plot.setXLink(self.arousal_plot)
        self.history_view.ci.layout.setRowStretchFactor(0, 6)
        self.history_view.ci.layout.setRowStretchFactor(1, 1)
        self.zone_plot.setMaximumHeight(90)
        self.zone_curves: dict[str, pg.PlotDataItem] = {}
        for zone in ZONE_CODE:
            c = pg.PlotDataItem(
                stepMode="center",
                fillLevel=0.0,
                pen=None,
                brush=pg.mkBrush(ZONE_COLOURS[zone]),
            )
            c.setData(np.zeros(2), np.zeros(1))
            self.zone_plot.addItem(c)
            self.zone_curves[zone] = c

        legend = " ".join(
            f"<span style='color:{ZONE_COLOURS[z]}'>■</span> {ZONE_WORDS[z].split(' /')[0]}"
            for z in ("within", "hyper", "hypo", "unknown")
        )
        self.legend_label = QLabel(f"Zone timeline: {legend}", self)
        self.legend_label.setFont(_font(10))
        box = QWidget(self)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.history_view, 1)
        lay.addWidget(self.legend_label)
        return box

    def _build_sync_strip(self) -> QWidget:
        """Several people: the peak correlation of each signal over time, a filled dot where
        the window is in sync (in the trends' place; hidden while there is one person)."""
        self.sync_view = pg.GraphicsLayoutWidget(self)
        self.sync_view.setBackground("w")
        self.sync_view.ci.setContentsMargins(2, 2, 8, 2)
        self.sync_plot = self.sync_view.addPlot(
            row=0, col=0, axisItems={"bottom": ClockAxis("bottom")}
        )
        _style_plot(self.sync_plot, "peak r", "session time", fast=False, grid=True)
        self.sync_plot.getAxis("left").setWidth(64)
        self.sync_plot.setYRange(-0.2, 1.05, padding=0)
        self.sync_plot.setXLink(self.arousal_plot)
        self.sync_curves: dict[str, pg.PlotDataItem] = {}
        self.sync_dots: dict[str, pg.ScatterPlotItem] = {}
        for sig, colour in SYNC_COLOURS.items():
            self.sync_curves[sig] = self.sync_plot.plot(pen=pg.mkPen(colour, width=1))
            dots = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(colour))
            self.sync_plot.addItem(dots)
            self.sync_dots[sig] = dots
        self.sync_view.setVisible(False)
        self._sync_hist: dict[str, list[tuple[float, float, bool]]] = {s: [] for s in SYNC_COLOURS}
        self._other_t: list[float] = []
        self._other_a: list[float] = []
        self._other_cursor = 0
        return self.sync_view

    def _build_trends(self) -> QWidget:
        """Session-long trends of HR, RMSSD, SCL and breathing rate (whole session)."""
        self.trends_view = pg.GraphicsLayoutWidget(self)
        self.trends_view.setBackground("w")
        self.trends_view.ci.setContentsMargins(2, 2, 8, 2)
        self.trends_view.ci.setSpacing(0)
        self.trend_plots: dict[str, pg.PlotItem] = {}
        self.trend_curves: dict[str, pg.PlotDataItem] = {}
        for i, (key, label, colour) in enumerate(TRENDS):
            row, col = divmod(i, 2)
            p = self.trends_view.addPlot(
                row=row, col=col, axisItems={"bottom": ClockAxis("bottom")}
            )
            _style_plot(p, "", None)
            p.setTitle(f"{label}, whole session", color=colour, size="9pt")
            p.getAxis("left").setWidth(40)
            p.enableAutoRange(axis="y", enable=True)
            p.setXRange(0.0, 60.0, padding=0)
            if i:
                p.setXLink(self.trend_plots[TRENDS[0][0]])
            self.trend_curves[key] = p.plot(pen=pg.mkPen(colour, width=1))
            self.trend_plots[key] = p
        return self.trends_view

    def _build_resonance(self) -> QWidget:
        """The resonance protocol's steps, a bar per rate (hidden until a protocol runs)."""
        self.resonance_view = pg.PlotWidget(self, background="w")
        p = self.resonance_view.getPlotItem()
        _style_plot(p, "peak to trough, bpm", "", fast=False)
        p.setTitle("Resonance assessment", color=DARK, size="9pt")
        p.getAxis("left").setWidth(40)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        self.resonance_bars: pg.BarGraphItem | None = None
        self.resonance_labels: list[pg.TextItem] = []
        self._resonance_key = ""
        self.resonance_view.setVisible(False)
        return self.resonance_view

    def _build_raw(self) -> QWidget:
        self.raw_view = pg.GraphicsLayoutWidget(self)
        self.raw_view.setBackground("w")
        self.raw_view.ci.setContentsMargins(2, 2, 8, 2)
        self.raw_plots: dict[str, pg.PlotItem] = {}
        self.raw_curves: dict[str, pg.PlotDataItem] = {}
        self.raw_marks: dict[str, pg.ScatterPlotItem] = {}
        # one plot per role (cardiac, electrodermal, respiratory), keyed by the role's key
        for i, role in enumerate(ROLES.values()):
            m = role.key
            last = i == len(ROLES) - 1
            _, unit, what = _source_text(of_role(role.name)[0])
            p = self.raw_view.addPlot(row=i, col=0)
            _style_plot(p, f"{role.label} ({unit})", "seconds (0 = now)" if last else None)
            p.setTitle(f"{role.label} — ● {what}", color=DARK, size="10pt")
            p.setXRange(-RAW_SPAN_S, 0.1, padding=0)
            p.setYRange(0.0, 1.0, padding=0)
            if i:
                p.setXLink(next(iter(self.raw_plots.values())))
            self.raw_curves[m] = p.plot(pen=pg.mkPen(DARK, width=1))
            # peak-downsample to one bin per pixel column (pyqtgraph's default keeps ~5
            # samples per pixel: 10,000 points per trace at 1 kHz): the min-max envelope
            # drawn is the same at a 1-px pen, and the console draws 30 % more frames
            self.raw_curves[m].opts["autoDownsampleFactor"] = RAW_SAMPLES_PER_PIXEL
            sc = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(MARK_COLOURS[role.name]))
            p.addItem(sc)
            self.raw_plots[m] = p
            self.raw_marks[m] = sc
        self.span_box = QComboBox(self)
        for span in RAW_SPANS_S:
            self.span_box.addItem(f"traces: last {span:g} s", span)
        self.span_box.setCurrentIndex(RAW_SPANS_S.index(RAW_SPAN_S))
        self.span_box.currentIndexChanged.connect(
            lambda i: self.set_raw_span(float(self.span_box.itemData(i)))
        )
        box = QWidget(self)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.span_box, 0, Qt.AlignmentFlag.AlignRight)
        lay.addWidget(self.raw_view, 1)
        return box

    def set_raw_span(self, span_s: float) -> None:
        """Show the last ``span_s`` seconds of the raw traces."""
        self.raw_span_s = float(span_s)
        for p in self.raw_plots.values():
            p.setXRange(-self.raw_span_s, 0.1, padding=0)
        self._raw_yrange.clear()

    def _build_numbers(self) -> QWidget:
        box = QFrame(self)
        box.setObjectName("numbers")
        box.setStyleSheet("#numbers { background: #F2F2F2; border-radius: 6px; }")
        lay = QHBoxLayout(box)
        lay.setContentsMargins(12, 4, 12, 4)
        self.number_labels: dict[str, QLabel] = {}
        for key, name, unit, _ in NUMBERS:
            lab = QLabel(self._number_html(name, "--", unit), box)
            lab.setTextFormat(Qt.TextFormat.RichText)
            lay.addWidget(lab)
            self.number_labels[key] = lab
            lay.addStretch(1)
        self.quality_label = QLabel("signal quality —", box)
        self.quality_label.setFont(_font(10))
        self.quality_label.setTextFormat(Qt.TextFormat.RichText)
        self.quality_label.setToolTip(
            "Each channel's signal quality now (0-100 %): below 50 % its features leave the index"
        )
        lay.addWidget(self.quality_label)
        self.stream_labels: dict[str, QLabel] = {}
        for role in ROLES.values():
            lab = QLabel(f"{role.label} waiting", box)
            lab.setFont(_font(11, bold=True))
            lab.setMinimumWidth(96)
            # left-aligned: a long problem note is cut at its end, never the stream's name and
            # state at its start; the whole text is in the tooltip
            lab.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            lay.addWidget(lab)
            self.stream_labels[role.key] = lab
        return box

    @staticmethod
    def _number_html(name: str, value: str, unit: str) -> str:
        return (
            f"<span style='font-size:10pt; color:#555'>{name}</span>&nbsp;"
            f"<span style='font-size:20pt; font-weight:600; color:{DARK}'>{value}</span>"
            f"<span style='font-size:10pt; color:#555'>&nbsp;{unit}</span>"
        )

    def _build_controls(self) -> QHBoxLayout:
        lay = QHBoxLayout()
        self.calibrate_button = QPushButton("Calibrate now", self)
        self.calibrate_button.setToolTip(
            f"Take a new {CALIBRATE_S:g} s baseline from now (the client should sit quietly)"
        )
        self.cue_button = QPushButton("Send cue", self)
        self.cue_button.setToolTip("Send a regulation cue for the current zone now")
        self.mute_button = QPushButton("Mute cues", self)
        self.mute_button.setCheckable(True)
        self.mute_button.setToolTip("Stop automatic cues (therapist cues still go out)")
        self.resonance_button = QPushButton("Resonance protocol", self)
        self.resonance_button.setToolTip(
            "Pace the client at 6.5, 6, 5.5, 5 and 4.5 breaths/min, 2 min each, from 10 s on "
            "(automatic cues muted meanwhile); each rate's heart-rate swing is drawn as a bar "
            "and the rate that swings most is the resonance rate"
        )
        self.marker_button = QPushButton("Marker (M)", self)
        self.marker_button.setToolTip(
            "Annotate this moment with the note beside (the marker is published on wot-markers, "
            "the note only with --share-notes); key M"
        )
        self.note_edit = QLineEdit(self)
        self.note_edit.setPlaceholderText("note for a marker, Enter to add")
        self.note_edit.setMinimumWidth(280)
        self.note_edit.returnPressed.connect(self.on_marker)
        self.marker_shortcut = QShortcut(QKeySequence("M"), self)
        self.marker_shortcut.activated.connect(self.on_marker)
        buttons = [self.calibrate_button, self.cue_button, self.mute_button, self.marker_button]
        if callable(getattr(self.engine, "start_resonance", None)):
            buttons.insert(3, self.resonance_button)
        else:  # an engine without the protocol (a stand-in): no button
            self.resonance_button.setVisible(False)
        for b in buttons:
            b.setMinimumHeight(34)
            b.setMinimumWidth(130)
            b.setFont(_font(11))
            lay.addWidget(b)
        lay.addWidget(self.note_edit, 1)
        self.calibrate_button.clicked.connect(self.on_calibrate)
        self.cue_button.clicked.connect(self.on_send_cue)
        self.mute_button.toggled.connect(self.on_mute)
        self.marker_button.clicked.connect(self.on_marker)
        self.resonance_button.clicked.connect(self.on_resonance)
        return lay

    def _build_status_bar(self) -> None:
        self.fps_label = QLabel("-- fps", self)
        self.engine_label = QLabel("", self)
        self.record_label = QLabel("not recording", self)
        self.resonance_label = QLabel("", self)  # the last resonance protocol's result
        self.resonance_label.setVisible(False)
        sb = self.statusBar()
        sb.addPermanentWidget(self.resonance_label)
        sb.addPermanentWidget(self.record_label)
        sb.addPermanentWidget(self.engine_label)
        sep = QFrame(self)
        sep.setFrameShape(QFrame.Shape.VLine)
        sb.addPermanentWidget(sep)
        sb.addPermanentWidget(self.fps_label)

    # commands --------------------------------------------------------------------------------
    def _session_s(self) -> float:
        return self.last_snapshot.session_s if self.last_snapshot is not None else 0.0

    def on_calibrate(self) -> None:
        self.engine.calibrate_now(CALIBRATE_S)
        self.statusBar().showMessage(
            f"New {CALIBRATE_S:g} s baseline from {clock(self._session_s())}: "
            "the client should sit quietly",
            8000,
        )

    def on_send_cue(self) -> None:
        self.engine.send_cue(None)
        self.statusBar().showMessage(f"Cue sent at {clock(self._session_s())}", 5000)

    def on_mute(self, muted: bool) -> None:
        self.engine.mute_cues(bool(muted))
        self.statusBar().showMessage("Automatic cues muted" if muted else "Cues on", 5000)

    def on_resonance(self) -> None:
        cast(Any, self.engine).start_resonance()
        self.resonance_button.setEnabled(False)
        self.statusBar().showMessage(
            f"Resonance protocol from {clock(self._session_s() + 10.0)}: 5 rates, 2 min each",
            8000,
        )

    def on_marker(self) -> None:
        """Add a marker now, with the typed note (if any); the note field is then cleared."""
        t = self._session_s()
        note = self.note_edit.text().strip()
        event = f"marker {clock(t)} (session {t:.1f} s, {datetime.now():%H:%M:%S})"
        text = f"{event}: {note}" if note else event
        self.engine.add_marker(event, note)
        self.markers.append((t, text))
        self.note_edit.clear()
        self._draw_marker(t, note)
        self.statusBar().showMessage(f"Added {text}", 5000)

    def _draw_marker(self, t: float, note: str) -> None:
        line = pg.InfiniteLine(
            pos=t,
            angle=90,
            movable=False,
            pen=pg.mkPen(PURPLE, width=1, style=Qt.PenStyle.DotLine),
            label=note[:24] or None,
            labelOpts={"position": 0.95, "color": PURPLE, "anchors": [(0, 0), (0, 0)]},
        )
        self.arousal_plot.addItem(line)
        self._marker_lines.append(line)
        if len(self._marker_lines) > MAX_MARKER_LINES:
            self.arousal_plot.removeItem(self._marker_lines.pop(0))

    # drawing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pull one snapshot from the engine and draw it (the timer's slot)."""
        try:
            snap = self.engine.snapshot(history_since=self.history.cursor)
        except Exception as exc:  # an engine fault must not take the window down
            self.engine_label.setText(f"snapshot failed: {exc!r}")
            return
        self.show_snapshot(snap)

    def show_snapshot(self, snap: Snapshot) -> None:
        """Draw ``snap`` (no computation beyond slicing and formatting)."""
        self.last_snapshot = snap
        self._draw_banner(snap)
        self._draw_streams(snap)
        self._draw_recording(snap)
        self._draw_raw(snap)
        self._draw_resonance(snap)
        self._draw_people(snap)
        if self.history.update(snap) or snap.n_frames != self._n_frames:
            self._n_frames = snap.n_frames
            self._draw_history(snap)
            self._draw_trends()
            self._draw_numbers(snap)
        self._count_fps(snap)

    def _draw_banner(self, snap: Snapshot) -> None:
        calibrating = snap.calibrating and snap.zone == "unknown" and snap.n_frames > 0
        # with every input lost the engine produces no frames: its last zone is stale
        stale = snap.all_lost
        if stale:
            words, bg = ZONE_WORDS["unknown"], GREY
        elif calibrating:
            words, bg = CALIBRATING_WORDS, CALIBRATING_COLOUR
        else:
            words = ZONE_WORDS.get(snap.zone, snap.zone)
            bg = ZONE_COLOURS.get(snap.zone, GREY)
        key = f"{words}|{bg}"
        if key != self._banner_key:
            self._banner_key = key
            self._paint_banner(bg, "#FFFFFF")
            self.zone_label.setText(words)
        why = snap.explanation
        if snap.calibrating and not calibrating and snap.n_frames > 0:
            why += f"  ({snap.message})"
        if stale:
            why = f"all signals lost; last at {clock(snap.session_s)}: {why}"
        if snap.error:
            why = f"ENGINE ERROR: {snap.error}  |  {why}"
        _set_text(self.explanation_label, why)
        _set_text(self.clock_label, f"Session {clock(snap.session_s)}")
        conf = "— (no signal)" if stale else f"{snap.confidence:.0%}"
        _set_text(self.confidence_label, f"confidence {conf}")
        lo, hi = snap.window
        a = f"{snap.arousal:+.2f}" if math.isfinite(snap.arousal) else "--"
        _set_text(self.arousal_label, f"arousal {a}  (window {lo:+.1f} … {hi:+.1f})")
        _set_text(self.cue_label, self._cue_text(snap))
        if self.truth is not None:
            _set_text(self.truth_label, f"simulator truth: {self.truth(snap.session_s)}")

    def _cue_text(self, snap: Snapshot) -> str:
        muted = ""
        if self.mute_button.isChecked():
            muted = "  [automatic cues muted]"
        elif snap.extra.get("cues_muted"):
            res = snap.extra.get("resonance") or {}
            during = res.get("phase") in ("waiting", "pacing", "between")
            muted = "  [automatic cues muted" + (": resonance protocol]" if during else "]")
        cue = snap.cue
        if cue is None:
            return f"Cue: —{muted}"
        who = "therapist" if cue.source == "therapist" else "auto"
        ago = max(0.0, snap.session_s - cue.time_s)
        pacer = ""
        if cue.pacer:
            rate = cue.pacer.get("rate_bpm", math.nan)
            inhale = cue.pacer.get("inhale_ratio", math.nan)
            pacer = f"  [pacer {rate:g}/min, inhale {inhale:.0%}]"
        kind = f"{cue.kind}, {cue.approach} {cue.family}" if cue.cue_id else cue.kind
        return f"Cue ({who}, {kind}, {clock(ago)} ago): {cue.text}{pacer}{muted}"

    def _draw_recording(self, snap: Snapshot) -> None:
        rec = snap.extra.get("recording")
        if not rec:
            return
        if rec.get("error"):
            text, colour = rec["error"], STREAM_COLOURS["lagging"]
        else:
            name = rec["path"].replace("\\", "/").rsplit("/", 1)[-1]
            text, colour = f"● recording {name} ({rec['bytes'] / 1e6:.1f} MB)", GREY
        if self.record_label.text() != text:
            self.record_label.setText(text)
            self.record_label.setToolTip(rec["path"])
            self.record_label.setStyleSheet(f"color: {colour};")

    def _draw_streams(self, snap: Snapshot) -> None:
        for role in ROLES.values():
            lab = self.stream_labels[role.key]
            # the row stands for whichever source fills the role (ECG, PPG or RR; RESP or ACC)
            src = _source(role, snap.streams)
            name = src.upper()
            st = snap.streams.get(src)
            if st is None:
                text, state = f"{name} not connected", "waiting"
            else:
                state = st.state
                text = f"{name} {st.state}"
                if st.state in ("lagging", "lost") and math.isfinite(st.since_last_s):
                    text += f" ({st.since_last_s:.0f} s)"
                if st.note:
                    # a problem in the signal itself: say what it is, in the warning colour
                    text += f": {st.note}"
                    state = "lagging" if state == "ok" else state
            if lab.text() != text:
                lab.setText(text)
                lab.setToolTip(text)
                lab.setStyleSheet(f"color: {STREAM_COLOURS.get(state, GREY)};")

    def _draw_history(self, snap: Snapshot) -> None:
        h = self.history
        t = h["time_s"]
        now = float(t[-1]) if t.size else snap.session_s
        # the first minute fills from the left, then up to HISTORY_SPAN_S scroll by
        right = max(now, 60.0)
        x0 = max(0.0, right - HISTORY_SPAN_S)
        span = right - x0
        # a little room on the right so the "now" dot is not cut in half
        self.arousal_plot.setXRange(x0, right + 0.015 * span, padding=0)
        i0 = h.index_at(x0)
        t, a = t[i0:], h["arousal"][i0:]
        _set_curve(self.arousal_curve, t, a)
        if t.size and math.isfinite(a[-1]):
            self.now_dot.setData([now], [float(a[-1])])
            self.now_dot.setBrush(pg.mkBrush(ZONE_COLOURS.get(snap.zone, GREY)))
        else:
            self.now_dot.setData([], [])
        if snap.window != self._window:
            self._window = snap.window
            self.band.setRegion(snap.window)
        lo, hi = snap.window
        xl = x0 + 0.01 * span
        self.band_labels["window"].setPos(xl, 0.5 * (lo + hi))
        self.band_labels["hyper"].setPos(xl, hi + 0.05)
        self.band_labels["hypo"].setPos(xl, lo - 0.05)
        # zone strip: one filled step curve per zone, 1 where the frame is in that zone
        zc = h["zone_code"][i0:]
        if t.size:
            dt = float(np.median(np.diff(t))) if t.size > 1 else 0.25
            edges = np.append(t - 0.5 * dt, t[-1] + 0.5 * dt)
            for zone, code in ZONE_CODE.items():
                self.zone_curves[zone].setData(
                    edges, (zc == code).astype(np.float64), skipFiniteCheck=True
                )

    def _draw_trends(self) -> None:
        """The whole session's trends (up to ``TREND_HISTORY_S``), from the window's history."""
        h = self.history
        if not len(h):
            for curve in self.trend_curves.values():
                curve.setData([], [])
            return
        t = h["time_s"]
        x0 = max(0.0, float(t[-1]) - TREND_HISTORY_S)
        i0 = h.index_at(x0)
        for key, curve in self.trend_curves.items():
            _set_curve(curve, t[i0:], h[key][i0:])
        self.trend_plots[TRENDS[0][0]].setXRange(x0, max(60.0, float(t[-1])), padding=0.01)

    def _draw_numbers(self, snap: Snapshot) -> None:
        f = snap.features
        parts = []
        for role in ROLES.values():
            q = f.get(role.quality, math.nan)  # quality_cardiac: whichever source feeds it
            if any(s in snap.streams for s in of_role(role.name)):
                parts.append(f"{role.label} {q:.0%}" if math.isfinite(q) else f"{role.key} --")
        _set_text(self.quality_label, "signal quality<br>" + " · ".join(parts) if parts else "")
        for key, name, unit, fmt in NUMBERS:
            v = f.get(key, math.nan)
            val = fmt.format(v) if v is not None and math.isfinite(v) else "--"
            _set_text(self.number_labels[key], self._number_html(name, val, unit))

    def _draw_raw(self, snap: Snapshot) -> None:
        ends = [float(t[-1]) for t, _ in snap.raw.values() if t.size]
        if not ends:
            return
        now = max(ends)
        for role in ROLES.values():
            m, plot = role.key, self.raw_plots[role.key]
            # the cardiac plot shows the cardiac source (ECG, PPG or an RR stream), the
            # breathing plot a belt or, without one, the chest accelerometer's breathing
            src = _source(role, snap.raw)
            if self._raw_source.get(m) != src:
                self._raw_source[m] = src
                label, unit, what = _source_text(src)
                plot.setTitle(f"{label} — ● {what}", color=DARK, size="10pt")
                plot.setLabel("left", f"{label.split(' ')[0]} ({unit})")
                self._raw_yrange.pop(m, None)
            t, x = snap.raw.get(src, (np.empty(0), np.empty(0)))
            i0 = int(np.searchsorted(t, now - self.raw_span_s)) if t.size else 0
            tv, xv = t[i0:] - now, x[i0:]
            _set_curve(self.raw_curves[m], tv, xv)
            marks = snap.marks.get(role.mark, np.empty(0))
            if tv.size > 1 and marks.size:
                mt = marks[(marks >= t[i0]) & (marks <= t[-1])]
                self.raw_marks[m].setData(mt - now, np.interp(mt, t[i0:], xv))
            else:
                self.raw_marks[m].setData([], [])
            self._fit_y(m, plot, xv)

    def _draw_people(self, snap: Snapshot) -> None:
        """Several people: the next one's zone and arousal (on the arousal plot, dashed), the
        pair's synchrony (the strip under the zones, and in words on the banner) and the
        client's returns to the window so far, how many in sync (the banner)."""
        others = snap.extra.get("others") or {}
        sync = snap.extra.get("synchrony") or {}
        if not others and not sync:
            return
        who = next(iter(others), "")
        o = others.get(who, {})
        frames_since = getattr(self.engine, "frames_since", None)
        if who and callable(frames_since):
            got, self._other_cursor = frames_since(self._other_cursor, who)
            for f in got:
                self._other_t.append(f.time_s)
                self._other_a.append(f.state.arousal)
            cut = len(self._other_t) - int(HISTORY_SPAN_S * 4) - 50
            if cut > 0:
                del self._other_t[:cut], self._other_a[:cut]
            _set_curve(self.other_curve, np.asarray(self._other_t), np.asarray(self._other_a))
        words = []
        if o:
            state = "calibrating" if o.get("calibrating") else o.get("zone", "unknown")
            a = o.get("arousal", math.nan)
            words.append(
                f"{who.capitalize()} (dashed): {state}"
                + (f", arousal {a:+.2f}" if isinstance(a, float) and math.isfinite(a) else "")
            )
        pair: dict[str, dict[str, Any]] = next(iter(sync.values()), {})
        for sig, v in pair.items():
            h = self._sync_hist.setdefault(sig, [])
            if not h or v["time_s"] > h[-1][0]:
                h.append((v["time_s"], v["r"], bool(v["significant"])))
                if len(h) > HISTORY_SPAN_S / 5 + 10:
                    del h[0]
        if pair:
            if not self.sync_view.isVisible():
                self.sync_view.setVisible(True)
                self.trends_view.setVisible(False)  # its place: the pair's synchrony
                names = " ".join(
                    f"<span style='color:{c}'>{s}</span>" for s, c in SYNC_COLOURS.items()
                )
                self.sync_plot.setTitle(
                    f"Synchrony of the two, last 10 min (peak r; ● in sync): {names}",
                    color=DARK,
                    size="10pt",
                )
            for sig, h in self._sync_hist.items():
                if not h or sig not in self.sync_curves:
                    continue
                arr = np.asarray(h, dtype=np.float64)
                _set_curve(self.sync_curves[sig], arr[:, 0], arr[:, 1])
                on = arr[:, 2] > 0
                self.sync_dots[sig].setData(arr[on, 0], arr[on, 1])
            words.append(sync_words(pair))
            ix = next(iter((snap.extra.get("synchrony_index") or {}).values()), None)
            if ix and not words[-1].startswith("synchrony: collecting"):
                words.append(index_words(ix))
        co = snap.extra.get("coregulation")
        if co:
            words.append(coregulation_words(co))
        text = "   ·   ".join(words)
        if not self.people_label.isVisible():
            self.people_label.setVisible(True)
            self.other_curve.setVisible(True)
        _set_text(self.people_label, text)

    def _draw_resonance(self, snap: Snapshot) -> None:
        """A bar per paced step: its heart-rate peak to trough (the running step's so far,
        pale), the chosen rate in green, steps left out in grey; the title says where the
        protocol is, then its result."""
        st = snap.extra.get("resonance")
        if not st:
            return
        steps = st.get("steps") or []
        over = (
            st.get("phase") == "done"
            and steps
            and (snap.session_s - steps[-1]["end_s"] > RESONANCE_SHOWN_S)
        )
        if over:  # the result stays in the status bar; the trends come back
            if self.resonance_view.isVisible():
                self.resonance_view.setVisible(False)
                self.trends_view.setVisible(not self.sync_view.isVisible())
                self.resonance_button.setEnabled(True)
            return
        key = repr((st.get("phase"), st.get("step"), [
            (r["peak_trough_bpm"], r["score"]) for r in st["steps"]
        ], int(st.get("left_s") or 0)))  # fmt: skip
        if key == self._resonance_key:
            return
        self._resonance_key = key
        if not self.resonance_view.isVisible():
            self.resonance_view.setVisible(True)
            self.resonance_label.setText("")
            self.trends_view.setVisible(False)  # its place while the protocol is on screen
        done = st.get("result") is not None
        running = st.get("phase") != "done" and not done
        self.resonance_button.setEnabled(not running)
        result = st.get("result") or {}
        chosen, close = result.get("resonance_rate_bpm"), set(result.get("close") or [])
        rows = st["steps"]
        x = np.arange(len(rows), dtype=float)
        h = np.array([r["peak_trough_bpm"] for r in rows], dtype=float)
        brushes = []
        for i, r in enumerate(rows):
            if done and r["rate_bpm"] == chosen:
                c = GREEN
            elif done and r["rate_bpm"] in close:
                c = "#9BD3B5"
            elif r["usable"] is False:
                c = GREY
            elif r["provisional"] or i == st.get("step"):
                c = "#A9CCE3"
            else:
                c = BLUE
            brushes.append(pg.mkBrush(c))
        p = self.resonance_view.getPlotItem()
        if self.resonance_bars is not None:
            p.removeItem(self.resonance_bars)
        for t in self.resonance_labels:
            p.removeItem(t)
        self.resonance_labels = []
        shown = np.where(np.isfinite(h), h, 0.0)
        self.resonance_bars = pg.BarGraphItem(x=x, height=shown, width=0.6, brushes=brushes)
        p.addItem(self.resonance_bars)
        top = float(np.nanmax(h)) if np.isfinite(h).any() else 10.0
        for i, r in enumerate(rows):
            if r["usable"] is False:
                words = "left out"
            elif r["score"] is not None:
                words = f"score {r['score']:.2f}"
            elif r["provisional"]:
                words = "so far"
            else:
                continue
            t = pg.TextItem(words, color=DARK, anchor=(0.5, 1.0))
            t.setPos(float(x[i]), float(shown[i]) + 0.02 * top)
            p.addItem(t)
            self.resonance_labels.append(t)
        p.getAxis("bottom").setTicks([[(float(i), f"{r['rate_bpm']:g}/min")
                                       for i, r in enumerate(rows)]])  # fmt: skip
        p.setXRange(-0.6, len(rows) - 0.4, padding=0)
        p.setYRange(0.0, top * 1.2, padding=0)
        if done:
            if chosen is None:
                title = "Resonance assessment: no rate found (see the session's markers)"
            else:
                margin = result.get("margin")
                extra = f", margin {margin:.2f}" if margin is not None else ""
                if close:
                    extra += f"; close: {', '.join(f'{c:g}' for c in sorted(close))}/min"
                title = f"Resonance rate {chosen:g} breaths/min{extra}"
                if not result.get("complete", True):
                    title += " (cut short: repeat it)"
            self.resonance_label.setText(
                title.replace("Resonance assessment: ", "resonance: ").replace(
                    "Resonance rate ", "resonance "
                )
            )
            self.resonance_label.setVisible(True)
        elif st.get("phase") == "pacing":
            left = max(0.0, float(st["left_s"]))
            title = (
                f"Resonance assessment: step {st['step'] + 1} of {st['n_steps']}, pacing "
                f"{st['rate_bpm']:g}/min, {clock(left)} left"
            )
        elif st.get("next_in_s") is not None:
            title = f"Resonance assessment: next step in {st['next_in_s']:.0f} s"
        else:
            title = "Resonance assessment: scoring the last step…"
        p.setTitle(title, color=DARK, size="9pt")

    def _fit_y(self, m: str, plot: pg.PlotItem, x: np.ndarray) -> None:
        """Follow the trace's range with hysteresis, so the axis does not jitter every frame."""
        finite = x[np.isfinite(x)]
        if finite.size < 2:
            return
        lo, hi = float(finite.min()), float(finite.max())
        span = max(hi - lo, 1e-3)
        cur = self._raw_yrange.get(m)
        if cur is None or lo < cur[0] or hi > cur[1] or span < 0.5 * (cur[1] - cur[0]):
            pad = 0.12 * span
            new = (lo - pad, hi + pad)
            self._raw_yrange[m] = new
            plot.setYRange(*new, padding=0)

    def _count_fps(self, snap: Snapshot) -> None:
        self._ticks += 1
        now = time.monotonic()
        if now - self._fps_t0 >= 1.0:
            self.fps = self._ticks / (now - self._fps_t0)
            self._ticks = 0
            self._fps_t0 = now
            self.fps_label.setText(f"display {self.fps:.0f} fps")
            self.engine_label.setText(
                f"engine frames {snap.n_frames}  ·  loop overruns {snap.overruns}"
                + (f"  ·  ERROR {snap.error}" if snap.error else "")
            )

    # lifecycle -------------------------------------------------------------------------------
    def grab_png(self, path: str | Any) -> bool:
        """Render the window to a PNG file; True on success."""
        return bool(self.grab().save(str(path), "PNG"))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        if self.owns_engine:
            self.engine.stop()
        self.closed.emit()
        super().closeEvent(event)


QT_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})
"""Qt messages dropped: the offscreen platform (screenshots, tests) says this for every window
it shows; it is no fault of ours nor of the user's."""


def _quiet_qt_noise() -> None:
    """Drop exactly the :data:`QT_NOISE` messages; every other Qt message goes where it went
    (the handler before, else stderr in Qt's own format)."""
    previous: Any = None

    def handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if message in QT_NOISE:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(qFormatLogMessage(mode, context, message), file=sys.stderr)

    previous = qInstallMessageHandler(handler)


def _app() -> QApplication:
    app = cast(QApplication | None, QApplication.instance())
    if app is not None:  # someone else's (a test's): its message handling is theirs
        return app
    _quiet_qt_noise()
    return QApplication(sys.argv[:1])


def run_window(
    engine: EngineLike,
    truth: Callable[[float], str] | None = None,
    duration_s: float | None = None,
    client: bool = True,
    until: Callable[[Snapshot], bool] | None = None,
    on_signal: Callable[[str], None] | None = None,
) -> int:
    """Show the therapist console (and, with ``client``, the client view in its own window) on
    ``engine`` until the console is closed, ``duration_s`` (wall clock) passes, or
    ``until(snapshot)`` is true for the console's latest snapshot (e.g. a session length).

    The caller starts and stops the engine. Creates the ``QApplication`` when there is none.
    Ctrl-C in the terminal, SIGTERM and SIGHUP close the windows (called from the main thread;
    the previous handlers are restored), after telling ``on_signal`` the signal's name
    (``SIGINT``, ``SIGTERM``, ``SIGHUP``). Returns the event loop's exit code.
    """
    from .client_view import ClientWindow

    _app()  # the QApplication must exist before any widget
    win = MainWindow(engine, truth=truth)
    # a local event loop, not app.quit(): quitting the application would end every later
    # event loop in this process at once (a second window, a test)
    loop = QEventLoop()
    win.closed.connect(loop.quit)
    win.show()
    client_win = None
    if client:
        client_win = ClientWindow(engine)
        win.closed.connect(client_win.close)
        client_win.show()
    closer = QTimer(win)  # owned by the window: gone with it, stopped below
    closer.setSingleShot(True)
    closer.timeout.connect(win.close)
    if duration_s is not None:
        closer.start(max(0, round(duration_s * 1000.0)))
    watch = QTimer(win)
    if until is not None:
        check = until  # narrowed for the closure

        def over() -> None:
            snap = win.last_snapshot
            if snap is not None and check(snap):
                win.close()

        watch.timeout.connect(over)
        watch.start(200)

    # Qt's loop blocks Python's signal handling: wake the interpreter now and then for Ctrl-C
    # (and a service manager's SIGTERM, a closed terminal's SIGHUP)
    def stop(signum: int, _frame: object) -> None:
        if on_signal is not None:
            on_signal(signal.Signals(signum).name)
        win.close()

    old_handlers: dict[int, Any] = {}
    wake = QTimer(win)
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):  # no SIGHUP on Windows
                sig = getattr(signal, name)
                old_handlers[sig] = signal.signal(sig, stop)
        wake.timeout.connect(lambda: None)
        wake.start(200)
    try:
        return int(loop.exec())
    finally:
        wake.stop()
        closer.stop()
        watch.stop()
        for sig, old in old_handlers.items():
            signal.signal(sig, old)
        win.timer.stop()
        if client_win is not None:
            client_win.stop_timers()
            client_win.close()


def take_screenshots(
    engine: EngineLike,
    out_dir: str | Any,
    until: Callable[[Snapshot], bool],
    timeout_s: float,
    truth: Callable[[float], str] | None = None,
    size: tuple[int, int] = (1280, 800),
) -> tuple[list[str], bool]:
    """Run both views (offscreen is fine) until ``until(snapshot)`` or ``timeout_s`` (wall),
    then write ``therapist.png`` and ``client.png`` into ``out_dir``; returns their paths and
    whether ``until`` was met."""
    from pathlib import Path

    from .client_view import ClientWindow

    app = _app()
    win = MainWindow(engine, truth=truth)
    client_win = ClientWindow(engine)
    for w in (win, client_win):
        w.resize(*size)
        w.show()
    t_end = time.monotonic() + timeout_s
    reached = False
    while time.monotonic() < t_end:
        app.processEvents()
        if until(engine.snapshot(history_since=win.history.cursor)):
            reached = True
            break
        time.sleep(0.01)
    win.refresh()
    client_win.refresh()
    pacer = client_win.pacer
    if pacer.active:  # draw the pacer mid-inhale, where its guide circle shows the full breath
        pacer.now = pacer.t0 + 0.5 * pacer.inhale_ratio * 60.0 / pacer.rate_bpm
    app.processEvents()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(out / "therapist.png"), str(out / "client.png")]
    if not (win.grab_png(paths[0]) and client_win.grab().save(paths[1], "PNG")):
        raise OSError(f"could not write the screenshots into {out}")
    win.timer.stop()
    client_win.stop_timers()
    win.close()
    client_win.close()
    return paths, reached
