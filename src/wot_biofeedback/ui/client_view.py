"""The client view: a calm mirror of where the client is, a breathing pacer, and the cue.

Its own window, for a second screen (``F11`` or a double click toggles full screen). It shows
no numbers: a vertical gauge with the client's window as a soft band and a dot for where they
are, the zone in plain words, the current cue, and, when the cue asks for it, a breathing
pacer whose rate and inhale:exhale split come from the cue policy.

The pacer is driven by wall-clock time (``time.monotonic``), not by counting timer ticks: the
circle's size is a pure function of the time since the pacer started (:func:`pacer_state`), so
a late or skipped repaint never shifts the rhythm. Colours are Okabe-Ito and calm: teal green
inside the window, warm orange above it, sky blue below it, grey when unsure; never an alarm
red. The window never computes a feature; it polls ``engine.snapshot()`` on a ``QTimer`` (with a
history cursor: it draws no history, so it asks only for the rows written since it last polled).
"""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import (
    QBrush,
    QCloseEvent,
    QColor,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..snapshot import Snapshot, SnapshotSource
from ..theme import BACKGROUND, BAND, CALM, INK

__all__ = ["ClientWindow", "pacer_state"]

WORDS = {
    "within": "You're in your window",
    "hyper": "Your body is revved up",
    "hypo": "Your body is slowing down",
    "unknown": "Getting a clear signal…",
}
CALIBRATING = "Settling in: sit comfortably and breathe as you are"
QUIET = {
    "within": "Notice what steady feels like.",
    "unknown": "Just sit comfortably for a moment.",
}
GAUGE_RANGE = (-4.0, 4.0)  # the index is clipped to ±4
CUE_FRESH_S = 180.0  # a cue older than this (session s) is no longer shown
PACER_MIN_SIZE = 0.25  # circle radius at the end of an exhale, share of the largest


def pacer_state(t_s: float, rate_bpm: float, inhale_ratio: float) -> tuple[float, bool, float]:
    """Pacer at ``t_s`` seconds since it started: ``(phase 0-1, inhaling, size 0-1)``.

    One breath lasts ``60 / rate_bpm`` s; the first ``inhale_ratio`` of it is the inhale (the
    size grows along a half cosine from 0 to 1), the rest the exhale (back to 0). Pure, so the
    animation depends on the clock only.
    """
    period = 60.0 / max(rate_bpm, 1e-6)
    phase = (t_s / period) % 1.0
    r = min(max(inhale_ratio, 0.05), 0.95)
    if phase < r:
        return phase, True, 0.5 * (1.0 - math.cos(math.pi * phase / r))
    return phase, False, 0.5 * (1.0 + math.cos(math.pi * (phase - r) / (1.0 - r)))


class Gauge(QWidget):
    """A vertical scale: the window as a band, a dot for the client, no numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.band = (-1.5, 1.5)
        self.value = math.nan
        self.zone = "unknown"
        self.setMinimumSize(300, 320)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

    def set_state(self, value: float, band: tuple[float, float], zone: str) -> None:
        same = band == self.band and zone == self.zone
        if same and (value == self.value or (math.isnan(value) and math.isnan(self.value))):
            return
        self.value, self.band, self.zone = value, band, zone
        self.update()

    def _y(self, v: float, top: float, height: float) -> float:
        lo, hi = GAUGE_RANGE
        v = min(max(v, lo), hi)
        return top + (hi - v) / (hi - lo) * height

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        top, height = 24.0, h - 48.0
        x0, bar_w = 16.0, 64.0
        # the whole scale, faint: warm above, cool below
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(CALM["hyper"]).lighter(175))
        y_hi = self._y(self.band[1], top, height)
        y_lo = self._y(self.band[0], top, height)
        p.drawRoundedRect(QRectF(x0, top, bar_w, y_hi - top), 10, 10)
        p.setBrush(QColor(CALM["hypo"]).lighter(150))
        p.drawRoundedRect(QRectF(x0, y_lo, bar_w, top + height - y_lo), 10, 10)
        # the window: the calm band
        p.setBrush(QColor(BAND))
        p.drawRect(QRectF(x0, y_hi, bar_w, y_lo - y_hi))
        # words beside the scale, no numbers
        f = QFont()
        f.setPointSizeF(15)
        p.setFont(f)
        tx = x0 + bar_w + 14
        for text, y0, y1 in (
            ("revved up", top, y_hi),
            ("your window", y_hi, y_lo),
            ("slowed down", y_lo, top + height),
        ):
            p.setPen(QColor("#555555"))
            p.drawText(QRectF(tx, y0, w - tx, y1 - y0), Qt.AlignmentFlag.AlignVCenter, text)
        p.setPen(QPen(QColor(CALM["within"]), 2))
        p.drawLine(QPointF(x0, y_hi), QPointF(x0 + bar_w, y_hi))
        p.drawLine(QPointF(x0, y_lo), QPointF(x0 + bar_w, y_lo))
        # the client
        if math.isfinite(self.value):
            y = self._y(self.value, top, height)
            p.setPen(QPen(QColor(INK), 2))
            p.setBrush(QBrush(QColor(CALM.get(self.zone, CALM["unknown"]))))
            rad = bar_w * 0.45
            p.drawEllipse(QPointF(x0 + bar_w / 2, y), rad, rad)
        p.end()


class Pacer(QWidget):
    """The breathing circle; its size comes from :func:`pacer_state` at the current time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rate_bpm = 6.0
        self.inhale_ratio = 0.4
        self.colour = CALM["within"]
        self.active = False
        self.t0 = time.monotonic()
        self.now: float | None = None  # fixed time for tests and screenshots, else the clock
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def configure(self, rate_bpm: float, inhale_ratio: float, colour: str) -> None:
        if (rate_bpm, inhale_ratio) != (self.rate_bpm, self.inhale_ratio) or not self.active:
            self.t0 = time.monotonic()  # a new rhythm starts with an inhale
        self.rate_bpm, self.inhale_ratio, self.colour = rate_bpm, inhale_ratio, colour
        self.active = True

    def stop(self) -> None:
        self.active = False
        self.update()

    def state(self) -> tuple[float, bool, float]:
        now = self.now if self.now is not None else time.monotonic()
        return pacer_state(now - self.t0, self.rate_bpm, self.inhale_ratio)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        c = QPointF(w / 2, h / 2 - 16)
        big = 0.42 * min(w, h - 40)
        colour = QColor(self.colour)
        p.setPen(QPen(colour.lighter(130), 2, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(c, big, big)  # the full breath, as a guide
        if self.active:
            _phase, inhaling, size = self.state()
            r = big * (PACER_MIN_SIZE + (1.0 - PACER_MIN_SIZE) * size)
            fill = QColor(colour)
            fill.setAlpha(170)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawEllipse(c, r, r)
            p.setPen(QColor(INK))
            f = QFont()
            f.setPointSizeF(22)
            p.setFont(f)
            text = "Breathe in" if inhaling else "Breathe out"
            p.drawText(QRectF(0, h - 44, w, 40), Qt.AlignmentFlag.AlignCenter, text)
        p.end()


class ClientWindow(QWidget):
    """The client's window (see the module docstring).

    Parameters
    ----------
    engine : SnapshotSource
        Anything with ``snapshot(history_since=...)``.
    poll_hz, paint_hz : float
        Snapshot polling rate and pacer repaint rate.
    """

    def __init__(
        self,
        engine: SnapshotSource,
        poll_hz: float = 15.0,
        paint_hz: float = 60.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.last_snapshot: Snapshot | None = None
        # the engine's history row count at the last poll (at the first, None: its default)
        self._history_cursor: int | None = None
        self.error = ""  # the last snapshot failure, if any
        self._cues: dict[str, Any] = {}  # zone -> the latest cue for it
        self.setWindowTitle("wot-biofeedback — for you")
        self.resize(1280, 800)
        self.setObjectName("client")
        self.setStyleSheet(f"#client {{ background: {BACKGROUND}; }} QLabel {{ color: {INK}; }}")
        root = QVBoxLayout(self)
        root.setContentsMargins(40, 30, 40, 30)
        root.setSpacing(16)
        self.zone_label = QLabel(WORDS["unknown"], self)
        self.zone_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zone_label.setFont(_font(40, bold=True))
        root.addWidget(self.zone_label)
        mid = QHBoxLayout()
        mid.setSpacing(30)
        self.gauge = Gauge(self)
        mid.addWidget(self.gauge)
        self.pacer = Pacer(self)
        mid.addWidget(self.pacer, 1)
        root.addLayout(mid, 1)
        self.cue_label = QLabel("", self)
        self.cue_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cue_label.setWordWrap(True)
        self.cue_label.setFont(_font(26))
        root.addWidget(self.cue_label)
        self.legend = QLabel(
            "The green band is your window: where you can think and feel clearly. "
            "The dot shows where you are now. When the big circle moves, breathe with it.",
            self,
        )
        self.legend.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.legend.setWordWrap(True)
        self.legend.setFont(_font(14))
        self.legend.setStyleSheet("color: #666666;")
        root.addWidget(self.legend)
        for lab in (self.zone_label, self.cue_label, self.legend):
            # long words wrap; they never widen the window
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(max(1, round(1000.0 / poll_hz)))
        self.poll_timer.timeout.connect(self.refresh)
        self.poll_timer.start()
        self.paint_timer = QTimer(self)
        self.paint_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.paint_timer.setInterval(max(1, round(1000.0 / paint_hz)))
        self.paint_timer.timeout.connect(self._tick)
        self.paint_timer.start()

    # polling ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            snap = self.engine.snapshot(history_since=self._history_cursor)
        except Exception as exc:  # an engine fault must not take the client's screen down
            self.error = repr(exc)
            return
        self._history_cursor = snap.history_cursor
        self.show_snapshot(snap)

    def show_snapshot(self, snap: Snapshot) -> None:
        self.last_snapshot = snap
        stale = snap.all_lost
        zone = "unknown" if stale else snap.zone
        calibrating = snap.calibrating and zone == "unknown" and not stale
        cue_now = snap.cue
        if cue_now is not None:
            self._cues[cue_now.zone] = cue_now  # the latest cue for each zone
        words = CALIBRATING if calibrating else WORDS.get(zone, WORDS["unknown"])
        if self.zone_label.text() != words:
            self.zone_label.setText(words)
            self.zone_label.setStyleSheet(f"color: {_darker(CALM.get(zone, CALM['unknown']))};")
        self.gauge.set_state(math.nan if stale else snap.arousal, snap.window, zone)
        # the latest cue for the zone the client is in, while it is recent (automatic cues
        # repeat every 90 s while out of the window) and not muted by the therapist
        cue = self._cues.get(zone)
        muted = bool(snap.extra.get("cues_muted", False))
        if cue is not None and (
            snap.session_s - cue.time_s > CUE_FRESH_S or (muted and cue.source != "therapist")
        ):
            cue = None
        protocol = _protocol_text(snap.extra.get("resonance"), snap.session_s)
        if protocol is not None and not stale:
            # the resonance protocol paces the client whatever the zone (cues are muted); a
            # therapist's own cue, while fresh, is what they read
            text, rate, inhale = protocol
            said = cue_now if cue_now is not None and cue_now.source == "therapist" else None
            if said is not None and snap.session_s - said.time_s <= CUE_FRESH_S:
                text = said.text
            if rate is not None:
                self.pacer.configure(rate, inhale, CALM["within"])
            elif self.pacer.active:
                self.pacer.stop()
        elif cue is not None and zone in ("hyper", "hypo"):
            text = cue.text
            if cue.pacer:
                self.pacer.configure(
                    float(cue.pacer.get("rate_bpm", 6.0)),
                    float(cue.pacer.get("inhale_ratio", 0.4)),
                    CALM[zone],
                )
            else:
                self.pacer.stop()
        else:
            text = QUIET.get(zone, "") if not calibrating else ""
            if self.pacer.active:
                self.pacer.stop()
        if self.cue_label.text() != text:
            self.cue_label.setText(text)

    def _tick(self) -> None:
        if self.pacer.active:
            self.pacer.update()

    # full screen -----------------------------------------------------------------------------
    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_F11:
            self.toggle_full_screen()
        elif event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        else:
            super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.toggle_full_screen()

    def stop_timers(self) -> None:
        self.poll_timer.stop()
        self.paint_timer.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop_timers()
        super().closeEvent(event)


PROTOCOL_DONE_SHOWN_S = 30.0
"""The thanks at the end of the resonance protocol stay this long, session s."""


def _protocol_text(
    status: dict[str, Any] | None, session_s: float
) -> tuple[str, float | None, float] | None:
    """What the client sees of a resonance protocol: the words, and the pacer's rate (None: no
    pacer) and inhale share; None while no protocol is running (the usual view)."""
    if not status:
        return None
    inhale = float(status.get("inhale_ratio", 0.4))
    phase = status.get("phase")
    if phase == "pacing":
        left = max(0.0, float(status["left_s"]))
        return (
            f"Breathe with the circle, {status['rate_bpm']:g} breaths a minute "
            f"(step {status['step'] + 1} of {status['n_steps']}, "
            f"{int(left // 60)}:{int(left % 60):02d} left).",
            float(status["rate_bpm"]),
            inhale,
        )
    if phase in ("waiting", "between") and status.get("next_in_s") is not None:
        wait = float(status["next_in_s"])
        if phase == "waiting" and wait > 60.0:
            return None  # long before it: the usual view
        return (
            f"Breathe as you like. The next breathing step starts in {int(wait)} s.",
            None,
            inhale,
        )
    steps = status.get("steps") or []
    end = steps[-1]["end_s"] if steps else -math.inf
    if phase in ("scoring", "done") and session_s - end < PROTOCOL_DONE_SHOWN_S:
        return ("Thank you: the breathing steps are done. Breathe as you like.", None, inhale)
    return None


def _font(pt: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


def _darker(colour: str) -> str:
    return QColor(colour).darker(140).name()
