"""The live window, offscreen, driven by a real simulated session over real LSL."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import math
from pathlib import Path

import numpy as np
import pylsl
import pytest
from PySide6.QtGui import QImage
from wot_simulators import (
    SimConfig,
    SimulatedSession,
    SimulatorPublisher,
    load_scenario,
    simulate_session,
)

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine, Snapshot, StreamStatus
from wot_biofeedback.sources.lsl import LslSource, resolve
from wot_biofeedback.ui import MainWindow, run_window
from wot_biofeedback.ui.main_window import CALIBRATING_WORDS, ZONE_WORDS

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]

TYPES = {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}
SPEED = 20.0  # data seconds per wall second
CHECK_PNG = Path("/tmp/wot_ui_check.png")


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    # baseline 0-180 s, stressor (hyper) 180-360 s
    return simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=4), 300.0)


@pytest.fixture
def live(session, source_id):
    """A simulator publishing over LSL and an engine reading it (30 s calibration)."""
    # playback starts once every outlet has a consumer, so the engine does not begin with a
    # backlog that would race through the calibration between two redraws
    pub = SimulatorPublisher(
        session, source_id=source_id, name_prefix=source_id, speed=SPEED, wait_for_consumers=10.0
    )
    engine: Engine | None = None
    pub.start()
    try:
        sources = {
            m: LslSource(m, resolve(t, source_id=f"{source_id}-{m}", timeout=10.0))
            for m, t in TYPES.items()
        }
        truth_inlet = pylsl.StreamInlet(resolve("Markers", source_id=f"{source_id}-truth"))
        truth_inlet.open_stream(timeout=5.0)
        cfg = EngineConfig()
        cfg.calibration.duration_s = 30
        engine = Engine(sources, cfg, outlets_source_id=f"{source_id}-engine", stall_s=0.5)
        engine.start()
        yield session, pub, engine
    finally:
        if engine is not None:
            engine.stop()
        pub.stop()


def _truth(session: SimulatedSession):
    return lambda t: str(session.zone_at(np.array([t]))[0])


def _banner_settled(win: MainWindow) -> bool:
    text = win.zone_label.text()
    return text not in (ZONE_WORDS["unknown"], CALIBRATING_WORDS)


@pytest.mark.lsl
def test_window_draws_a_live_session(qtbot, live, tmp_path):
    session, _, engine = live
    win = MainWindow(engine, truth=_truth(session))
    qtbot.addWidget(win)
    win.show()
    assert (win.width(), win.height()) == (1280, 800)
    # the calibration is announced while it runs
    qtbot.waitUntil(lambda: win.zone_label.text() == CALIBRATING_WORDS, timeout=10_000)
    # then a zone, with history and raw traces drawn
    qtbot.waitUntil(lambda: _banner_settled(win), timeout=15_000)
    qtbot.waitUntil(lambda: win.arousal_curve.getData()[0] is not None, timeout=5_000)
    qtbot.waitUntil(
        lambda: all(c.getData()[0] is not None and c.getData()[0].size > 10
                    for c in win.raw_curves.values()),
        timeout=5_000,
    )  # fmt: skip
    # let the stressor begin (180 s) so the picture shows a zone change
    qtbot.waitUntil(lambda: engine.snapshot().session_s >= 215.0, timeout=20_000)
    qtbot.waitUntil(lambda: win.last_snapshot.session_s >= 215.0, timeout=2_000)

    x, y = win.arousal_curve.getData()
    assert x.size > 600 and np.isfinite(y).sum() > 300  # 4 frames/s after calibration
    assert win.raw_curves["ecg"].getData()[0].size > 1000  # ~10 s at 250 Hz
    assert win.raw_marks["ecg"].data.size >= 5  # R-peaks marked
    assert win.raw_marks["resp"].data.size >= 1  # breaths marked
    assert "simulator truth: " in win.truth_label.text()
    assert tuple(win.band.getRegion()) == pytest.approx(engine.snapshot().window)
    assert "session 00:00" not in win.clock_label.text().lower()
    assert "bpm" in win.number_labels["hr_bpm"].text()
    assert "--" not in win.number_labels["hr_bpm"].text()
    assert all(lab.text().endswith("ok") for lab in win.stream_labels.values())

    # screenshots: one for the test, one to look at
    png = tmp_path / "window.png"
    assert win.grab_png(png)
    img = QImage(str(png))
    assert img.width() >= 1280 and img.height() >= 800
    assert win.grab_png(CHECK_PNG)

    # frozen engine: the labels show exactly what the snapshot says
    engine.stop()
    snap = engine.snapshot()
    win.refresh()
    assert win.zone_label.text() == ZONE_WORDS[snap.zone]
    assert snap.explanation in win.explanation_label.text()
    assert f"{snap.confidence:.0%}" in win.confidence_label.text()
    assert win.fps > 2.0
    win.close()
    assert not win.timer.isActive()


@pytest.mark.lsl
def test_buttons_call_through_to_the_engine(qtbot, live, source_id):
    _, _, engine = live
    win = MainWindow(engine)
    qtbot.addWidget(win)
    win.show()
    assert not win.truth_label.isVisible()
    qtbot.waitUntil(lambda: engine.snapshot().n_frames > 0, timeout=10_000)

    win.mute_button.click()
    assert win.mute_button.isChecked()
    qtbot.waitUntil(lambda: engine.pipeline.cues.muted, timeout=5_000)
    win.mute_button.click()
    qtbot.waitUntil(lambda: not engine.pipeline.cues.muted, timeout=5_000)

    win.cue_button.click()
    qtbot.waitUntil(lambda: "therapist" in win.cue_label.text(), timeout=5_000)
    assert engine.snapshot().cue.text in win.cue_label.text()

    # markers go out on the engine's wot-markers LSL stream
    inlet = pylsl.StreamInlet(resolve("Markers", source_id=f"{source_id}-engine-markers"))
    inlet.open_stream(timeout=5.0)
    win.marker_button.click()
    assert len(win.markers) == 1
    got: list[str] = []

    def marker_arrived() -> bool:
        sample, _ = inlet.pull_sample(timeout=0.0)
        if sample:
            got.append(sample[0])
        return bool(got)

    qtbot.waitUntil(marker_arrived, timeout=5_000)
    assert got[0] == win.markers[0][1] and got[0].startswith("marker ")

    # calibrate now: once calibrated, a new baseline starts
    qtbot.waitUntil(lambda: not engine.snapshot().calibrating, timeout=15_000)
    win.calibrate_button.click()
    qtbot.waitUntil(lambda: engine.snapshot().calibrating, timeout=5_000)
    qtbot.waitUntil(lambda: "calibrating baseline" in win.explanation_label.text(), timeout=5_000)
    win.close()


@pytest.mark.lsl
def test_stream_loss_shows_in_the_status_row(qtbot, live):
    _, pub, engine = live
    win = MainWindow(engine, owns_engine=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(
        lambda: all(lab.text().endswith("ok") for lab in win.stream_labels.values()),
        timeout=10_000,
    )
    pub.stop()  # every stream vanishes
    qtbot.waitUntil(lambda: "lost" in win.stream_labels["ecg"].text(), timeout=10_000)
    assert win.stream_labels["ecg"].text().startswith("ECG lost (")
    # with every stream gone the last zone is stale: the banner must not keep claiming it
    qtbot.waitUntil(
        lambda: all("lost" in lab.text() for lab in win.stream_labels.values()), timeout=5_000
    )
    qtbot.waitUntil(lambda: win.zone_label.text() == ZONE_WORDS["unknown"], timeout=2_000)
    assert win.explanation_label.text().startswith("all signals lost")
    assert win.timer.isActive()  # the window keeps drawing
    win.close()
    assert not engine.running  # the window owned the engine


# without LSL: a stub engine -------------------------------------------------------------------
class StubEngine:
    """Snapshot of an engine that has not received anything yet; records commands."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.stopped = False

    def snapshot(self) -> Snapshot:
        empty = np.empty(0)
        streams = {m: StreamStatus(m, m.upper(), 100.0, "", "waiting", math.inf, 0) for m in TYPES}
        return Snapshot(
            0.0, "unknown", math.nan, 0.0, "unknown: waiting for ecg, eda, resp", [], {}, True,
            "waiting for ecg, eda, resp", (-1.0, 1.5), None,
            {k: empty for k in ("time_s", "arousal", "zone_code")},
            {m: (empty, empty) for m in TYPES}, {}, streams, 0, 0,
        )  # fmt: skip

    def calibrate_now(self, duration_s: float = 60.0) -> None:
        self.calls.append(("calibrate", duration_s))

    def mute_cues(self, muted: bool) -> None:
        self.calls.append(("mute", muted))

    def send_cue(self, text: str | None = None) -> None:
        self.calls.append(("cue", text))

    def add_marker(self, text: str) -> None:
        self.calls.append(("marker", text))

    def stop(self) -> None:
        self.stopped = True


def test_waiting_engine_and_run_window(qtbot):
    stub = StubEngine()
    win = MainWindow(stub, owns_engine=True)
    qtbot.addWidget(win)
    win.refresh()
    assert win.zone_label.text() == ZONE_WORDS["unknown"]  # not "calibrating" before any data
    assert "waiting for ecg" in win.explanation_label.text()
    assert win.stream_labels["eda"].text() == "EDA waiting"
    assert "--" in win.number_labels["hr_bpm"].text()
    win.calibrate_button.click()
    win.cue_button.click()
    assert stub.calls == [("calibrate", 60.0), ("cue", None)]
    win.close()
    assert stub.stopped

    # run_window returns after duration_s and leaves the engine to its caller
    other = StubEngine()
    assert run_window(other, duration_s=0.5) == 0
    assert not other.stopped


class NotedEngine(StubEngine):
    """A running EDA stream with a signal problem named by the engine."""

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        streams = dict(snap.streams)
        streams["eda"] = StreamStatus(
            "eda", "EDA", 32.0, "uS", "ok", 0.1, 3200, "electrode contact lost"
        )
        streams["ecg"] = StreamStatus("ecg", "ECG", 250.0, "mV", "ok", 0.1, 25000)
        return dataclasses.replace(snap, streams=streams)


def test_signal_problem_is_named_in_the_status_row(qtbot):
    win = MainWindow(NotedEngine(), owns_engine=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.refresh()
    eda = win.stream_labels["eda"]
    assert eda.text() == "EDA ok: electrode contact lost"
    assert "color" in eda.styleSheet() and eda.styleSheet() != win.stream_labels["ecg"].styleSheet()
    assert win.stream_labels["ecg"].text() == "ECG ok"
    win.grab().save(str(CHECK_PNG.with_name("wot_ui_eda_note.png")))
    win.close()
