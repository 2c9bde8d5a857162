"""The live window, offscreen, driven by a real simulated session over real LSL."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import math
import subprocess
import sys
import time

import numpy as np
import pylsl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from wot_simulators import (
    SimConfig,
    SimulatedSession,
    SimulatorPublisher,
    load_scenario,
    simulate_session,
)

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.dsp import warm_up
from wot_biofeedback.engine import Engine, Snapshot, StreamStatus
from wot_biofeedback.sources.lsl import LslSource, resolve
from wot_biofeedback.theme import GREEN
from wot_biofeedback.ui import ClientWindow, MainWindow, pacer_state, run_window
from wot_biofeedback.ui.client_view import CALM
from wot_biofeedback.ui.client_view import WORDS as CLIENT_WORDS
from wot_biofeedback.ui.main_window import CALIBRATING_WORDS, ZONE_WORDS

# qtbot.waitUntil timeouts are generous: they only bound how long a test waits for what must
# happen, and the suite runs on more workers than cores
pytestmark = [pytest.mark.qt, pytest.mark.timeout(180)]

TYPES = {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}
SPEED = 20.0  # data seconds per wall second


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    # baseline 0-180 s, stressor (hyper) 180-360 s
    return simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=4), 300.0)


@pytest.fixture
def live(session, source_id):
    """A simulator publishing over LSL and an engine reading it (60 s calibration: 3 s of wall
    clock, so that a loaded machine's window still polls during it)."""
    # playback starts once every outlet has a consumer, so the engine does not begin with a
    # backlog that would race through the calibration between two redraws; the kernels are
    # compiled first (a fresh clone's cold numba cache under a loaded machine took longer
    # than the calibration lasts, and the engine then caught up in a burst)
    warm_up()
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
        cfg.calibration.duration_s = 60
        engine = Engine(sources, cfg, outlets_source_id=f"{source_id}-engine", stall_s=0.5)
        engine.start()
        yield session, pub, engine
    finally:
        if engine is not None:
            engine.stop()
        pub.stop()


def _truth(session: SimulatedSession):
    return lambda t: str(session.zone_at(np.array([t]))[0])


def _wait_for_markers(qtbot, inlet: pylsl.StreamInlet, n: int) -> list[str]:
    """The first ``n`` markers that arrive on ``inlet`` (the engine's wot-markers stream)."""
    got: list[str] = []

    def arrived() -> bool:
        sample, _ = inlet.pull_sample(timeout=0.0)
        if sample:
            got.append(sample[0])
        return len(got) >= n

    qtbot.waitUntil(arrived, timeout=15_000)
    return got


def _banner_settled(win: MainWindow) -> bool:
    text = win.zone_label.text()
    return text not in (ZONE_WORDS["unknown"], CALIBRATING_WORDS)


@pytest.mark.lsl
def test_window_draws_a_live_session(qtbot, live, tmp_path):
    session, _, engine = live
    win = MainWindow(engine, truth=_truth(session))
    # every text the banner shows (the calibration lasts 3 s of wall clock; two of the
    # window's updates can fall between two looks of waitUntil on a loaded machine)
    shown: list[str] = []
    set_text = win.zone_label.setText
    win.zone_label.setText = lambda text: (shown.append(text), set_text(text))[-1]
    qtbot.addWidget(win)
    win.show()
    assert (win.width(), win.height()) == (1280, 800)
    # the calibration is announced while it runs
    qtbot.waitUntil(lambda: CALIBRATING_WORDS in shown, timeout=30_000)
    # then a zone, with history and raw traces drawn
    qtbot.waitUntil(lambda: _banner_settled(win), timeout=45_000)
    qtbot.waitUntil(lambda: win.arousal_curve.getData()[0] is not None, timeout=15_000)
    qtbot.waitUntil(
        lambda: all(c.getData()[0] is not None and c.getData()[0].size > 10
                    for c in win.raw_curves.values()),
        timeout=15_000,
    )  # fmt: skip
    # let the stressor begin (180 s) so the picture shows a zone change
    qtbot.waitUntil(lambda: engine.snapshot().session_s >= 215.0, timeout=60_000)
    qtbot.waitUntil(lambda: win.last_snapshot.session_s >= 215.0, timeout=6_000)

    x, y = win.arousal_curve.getData()
    assert x.size > 600 and np.isfinite(y).sum() > 300  # 4 frames/s after calibration
    ecg = win.raw_curves["ecg"]
    assert ecg.xData.size > 2000  # ~10 s at 250 Hz
    # drawn peak-decimated, one min-max bin per pixel column: fewer points, every R-peak kept
    _xd, yd = ecg.getData()
    assert yd.size < ecg.yData.size
    span = np.nanmax(ecg.yData) - np.nanmin(ecg.yData)
    assert abs(np.nanmax(yd) - np.nanmax(ecg.yData)) < 0.01 * span
    assert abs(np.nanmin(yd) - np.nanmin(ecg.yData)) < 0.01 * span
    assert win.raw_marks["ecg"].data.size >= 5  # R-peaks marked
    assert win.raw_marks["resp"].data.size >= 1  # breaths marked
    assert "simulator truth: " in win.truth_label.text()
    assert tuple(win.band.getRegion()) == pytest.approx(engine.snapshot().window)
    assert "session 00:00" not in win.clock_label.text().lower()
    assert "bpm" in win.number_labels["hr_bpm"].text()
    assert "--" not in win.number_labels["hr_bpm"].text()
    assert all(lab.text().endswith("ok") for lab in win.stream_labels.values())
    assert "ECG" in win.quality_label.text() and "%" in win.quality_label.text()
    # the zone changed to hyper at the stressor: the automatic cue is shown with its pacer
    qtbot.waitUntil(lambda: win.last_snapshot.zone == "hyper", timeout=30_000)
    assert "auto, down-regulate, bottom-up breath" in win.cue_label.text()  # the library cue
    assert "pacer 6/min" in win.cue_label.text()
    # the trends hold the whole session so far, not just the last 10 min
    tx = win.trend_curves["hr_bpm"].xData
    assert tx is not None and tx[0] < 5.0 and tx[-1] >= 215.0

    # the screenshot (pytest's tmp_path keeps it after the run, to look at)
    png = tmp_path / "window.png"
    assert win.grab_png(png)
    img = QImage(str(png))
    assert img.width() >= 1280 and img.height() >= 800

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
    qtbot.waitUntil(lambda: engine.snapshot().n_frames > 0, timeout=30_000)

    win.mute_button.click()
    assert win.mute_button.isChecked()
    qtbot.waitUntil(lambda: engine.pipeline.cues.muted, timeout=15_000)
    win.mute_button.click()
    qtbot.waitUntil(lambda: not engine.pipeline.cues.muted, timeout=15_000)

    win.cue_button.click()
    qtbot.waitUntil(lambda: "therapist" in win.cue_label.text(), timeout=15_000)
    assert engine.snapshot().cue.text in win.cue_label.text()

    # markers go out on the engine's wot-markers LSL stream
    inlet = pylsl.StreamInlet(resolve("Markers", source_id=f"{source_id}-engine-markers"))
    inlet.open_stream(timeout=5.0)
    win.marker_button.click()
    assert len(win.markers) == 1
    got = _wait_for_markers(qtbot, inlet, 1)
    assert got[0] == win.markers[0][1] and got[0].startswith("marker ")

    # calibrate now: once calibrated, a new baseline starts
    qtbot.waitUntil(lambda: not engine.snapshot().calibrating, timeout=45_000)
    win.calibrate_button.click()
    qtbot.waitUntil(lambda: engine.snapshot().calibrating, timeout=15_000)
    qtbot.waitUntil(lambda: "calibrating baseline" in win.explanation_label.text(), timeout=15_000)
    win.close()


@pytest.mark.lsl
def test_stream_loss_shows_in_the_status_row(qtbot, live):
    _, pub, engine = live
    win = MainWindow(engine, owns_engine=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(
        lambda: all(lab.text().endswith("ok") for lab in win.stream_labels.values()),
        timeout=30_000,
    )
    pub.stop()  # every stream vanishes
    qtbot.waitUntil(lambda: "lost" in win.stream_labels["ecg"].text(), timeout=30_000)
    assert win.stream_labels["ecg"].text().startswith("ECG lost (")
    # with every stream gone the last zone is stale: the banner must not keep claiming it
    qtbot.waitUntil(
        lambda: all("lost" in lab.text() for lab in win.stream_labels.values()), timeout=15_000
    )
    qtbot.waitUntil(lambda: win.zone_label.text() == ZONE_WORDS["unknown"], timeout=6_000)
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

    def snapshot(self, history_since: int | None = None) -> Snapshot:
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

    def add_marker(self, text: str, note: str = "") -> None:
        self.calls.append(("marker", f"{text}: {note}" if note else text))

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
    # ... or once until(snapshot) holds for the console's latest snapshot (wot run/demo: a
    # session length); duration_s is only the fallback that would leave `seen` empty
    seen: list[float] = []

    def until(snap: Snapshot) -> bool:
        seen.append(snap.session_s)
        return True

    assert run_window(other, duration_s=30.0, until=until) == 0
    assert seen[:1] == [0.0]


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_run_window_closes_on_ctrl_c_sigterm_and_sighup(qtbot, name):
    """Ctrl-C, a service manager's stop and a closed terminal close the window (``wot run``
    then ends the session as on Ctrl-C), say which signal it was, and the handlers in place
    before are back afterwards."""
    import signal

    from PySide6.QtCore import QTimer

    if not hasattr(signal, name):
        pytest.skip(f"no {name} on this platform")
    sig = getattr(signal, name)
    outer: list[int] = []

    def before(signum, _frame):  # what the process had: must neither fire nor be lost
        outer.append(signum)

    previous = signal.signal(sig, before)
    try:
        told: list[str] = []
        QTimer.singleShot(300, lambda: os.kill(os.getpid(), sig))
        assert run_window(StubEngine(), duration_s=20.0, on_signal=told.append) == 0
        assert told == [name] and outer == []
        assert signal.getsignal(sig) is before
    finally:
        signal.signal(sig, previous)


class NotedEngine(StubEngine):
    """A running EDA stream with a signal problem named by the engine."""

    def snapshot(self, history_since: int | None = None) -> Snapshot:
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
    win.close()


# the client view, the pacer, notes, spans, recovery, screenshots ---------------------------------
@pytest.mark.lsl
def test_client_view_follows_a_live_session(qtbot, live, tmp_path):
    """Calibration, then the stressor: the client sees "revved up", the cue in words, and the
    pacer at the cue's rate (6/min, inhale 40 %), in calm colours."""
    _, _, engine = live
    win = ClientWindow(engine)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()

    def settled() -> bool:
        return win.zone_label.text() in (CLIENT_WORDS["within"], CLIENT_WORDS["hyper"])

    try:
        qtbot.waitUntil(settled, timeout=60_000)
    except Exception:
        snap = engine.snapshot()
        raise AssertionError(
            f"client label {win.zone_label.text()!r}; engine {snap.zone} {snap.calibrating} "
            f"{snap.session_s} {snap.explanation}; error {win.error}"
        ) from None
    qtbot.waitUntil(lambda: win.zone_label.text() == CLIENT_WORDS["hyper"], timeout=90_000)
    qtbot.waitUntil(lambda: win.pacer.active, timeout=30_000)
    snap = win.last_snapshot
    assert snap.cue is not None and snap.cue.zone == "hyper"
    assert win.cue_label.text() == snap.cue.text
    assert (win.pacer.rate_bpm, win.pacer.inhale_ratio) == (6.0, 0.4)
    assert win.pacer.colour == CALM["hyper"] and "#D55E00" not in CALM.values()  # no alarm red
    assert math.isfinite(win.gauge.value) and win.gauge.value > win.gauge.band[1]
    # the circle follows the wall clock: 2 s into a 10-s breath with a 4-s inhale is half way
    win.pacer.now = win.pacer.t0 + 2.0
    phase, inhaling, size = win.pacer.state()
    assert inhaling and phase == pytest.approx(0.2) and size == pytest.approx(0.5)
    png = tmp_path / "client.png"
    assert win.grab().save(str(png))
    img = QImage(str(png))
    assert (img.width(), img.height()) == (1280, 800)
    win.close()


def test_client_view_while_calibrating_and_with_signals_lost(qtbot):
    win = ClientWindow(StubEngine())
    qtbot.addWidget(win)
    win.refresh()
    assert win.zone_label.text().startswith("Settling in")
    assert not win.pacer.active and not math.isfinite(win.gauge.value)
    win.show()
    win.toggle_full_screen()  # F11 / double click: the second screen's full-screen mode
    assert win.isFullScreen()
    win.toggle_full_screen()
    assert not win.isFullScreen()
    lost = NotedEngine()
    base = lost.snapshot()
    gone = {m: dataclasses.replace(st, state="lost") for m, st in base.streams.items()}
    win.show_snapshot(dataclasses.replace(base, streams=gone, zone="hyper", calibrating=False))
    assert win.zone_label.text() == CLIENT_WORDS["unknown"]  # never a stale zone
    win.close()


def test_pacer_state_follows_rate_and_ratio():
    # 6/min, inhale 40 %: a 10-s breath, 4 s in and 6 s out
    assert pacer_state(0.0, 6.0, 0.4) == (0.0, True, 0.0)
    assert pacer_state(2.0, 6.0, 0.4)[2] == pytest.approx(0.5)
    assert pacer_state(4.0, 6.0, 0.4)[1:] == (False, pytest.approx(1.0))
    assert pacer_state(7.0, 6.0, 0.4)[2] == pytest.approx(0.5)
    assert pacer_state(10.0, 6.0, 0.4)[2] == pytest.approx(0.0, abs=1e-12)
    # 15/min, equal halves (the hypo cue): a 4-s breath
    assert pacer_state(1.0, 15.0, 0.5)[2] == pytest.approx(0.5)
    assert pacer_state(6.0, 15.0, 0.5)[1:] == (False, pytest.approx(1.0))
    # the rhythm repeats exactly every breath, however late the repaint
    for t in (0.3, 2.7, 5.1, 9.9):
        assert pacer_state(t + 10.0 * 37, 6.0, 0.4)[2] == pytest.approx(pacer_state(t, 6.0, 0.4)[2])


@pytest.mark.lsl
def test_marker_notes_are_kept_and_only_published_when_shared(qtbot, live, source_id):
    _, _, engine = live
    win = MainWindow(engine)
    qtbot.addWidget(win)
    win.show()
    # the window is active (the one-key marker, M, is a shortcut of the active window) and
    # has itself drawn frames (not only the engine made them: a fast start could have them
    # before the window ever ran its timer)
    qtbot.waitUntil(
        lambda: (
            win.isActiveWindow()
            and win.last_snapshot is not None
            and win.last_snapshot.n_frames > 0
        ),
        timeout=30_000,
    )
    inlet = pylsl.StreamInlet(resolve("Markers", source_id=f"{source_id}-engine-markers"))
    inlet.open_stream(timeout=5.0)
    time.sleep(0.3)
    win.note_edit.setFocus()
    qtbot.keyClicks(win.note_edit, "client recalls the accident")
    qtbot.keyClick(win.note_edit, Qt.Key.Key_Return)
    assert win.note_edit.text() == ""  # ready for the next note
    win.span_box.setFocus()  # focus away from the note field: M is the one-key marker
    qtbot.keyClick(win.span_box, Qt.Key.Key_M)
    assert len(win.markers) == 2
    got = _wait_for_markers(qtbot, inlet, 2)
    # the note about the client stays on this machine: the network sees the marker and time
    assert got[0].startswith("marker ") and "accident" not in got[0]
    assert win.markers[0][1] == f"{got[0]}: client recalls the accident"
    # kept whole with the session, at session time, for the summary and the client profile
    texts = [text for _t, text in engine.snapshot().extra["markers"]]
    assert texts == [m[1] for m in win.markers]
    # with --share-notes (Engine(share_notes=True)) the note goes out too
    engine.share_notes = True
    qtbot.keyClicks(win.note_edit, "breathing slows")
    qtbot.keyClick(win.note_edit, Qt.Key.Key_Return)
    assert _wait_for_markers(qtbot, inlet, 1)[0].endswith(": breathing slows")
    win.close()


def test_trace_span_can_be_chosen(qtbot):
    win = MainWindow(StubEngine(), owns_engine=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.span_box.setCurrentIndex(win.span_box.findData(30.0))
    assert win.raw_span_s == 30.0
    x0, _ = win.raw_plots["ecg"].getViewBox().targetRange()[0]
    assert x0 == pytest.approx(-30.0)
    win.close()


@pytest.mark.lsl
def test_a_stream_that_stalls_shows_lost_and_recovers(qtbot, source_id):
    """ECG alone, pushed by hand: it stops (the status says lost, with the time since the last
    sample, in the console; the client sees no stale zone) and comes back (ok again)."""
    fs = 250.0
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=1), 120.0)
    info = pylsl.StreamInfo(f"{source_id}-ecg", "ECG", 1, fs, pylsl.cf_float32, f"{source_id}-ecg")
    outlet = pylsl.StreamOutlet(info)
    src = LslSource("ecg", resolve("ECG", source_id=f"{source_id}-ecg", timeout=10.0))
    cfg = EngineConfig()
    cfg.calibration.duration_s = 20.0
    engine = Engine({"ecg": src}, cfg, outlets_source_id=None, period_s=0.01, stall_s=0.5)
    engine.start()
    assert outlet.wait_for_consumers(10.0)
    win = MainWindow(engine, owns_engine=True)
    client = ClientWindow(engine)
    qtbot.addWidget(win)
    qtbot.addWidget(client)
    pos = {"i": 0}
    t_lsl = pylsl.local_clock()

    def push(seconds: float) -> None:
        n = int(seconds * fs)
        a = pos["i"]
        chunk = sess.ecg[a : a + n].astype(np.float32).reshape(-1, 1)
        pos["i"] = a + n
        outlet.push_chunk(chunk, t_lsl + (a + n - 1) / fs)

    seen: set[str] = set()
    for _ in range(30):  # 30 s of ECG at ~20x
        push(1.0)
        qtbot.wait(50)
        seen.add(win.stream_labels["ecg"].text())
    assert "ECG ok" in seen
    qtbot.waitUntil(lambda: "lost" in win.stream_labels["ecg"].text(), timeout=30_000)
    assert win.stream_labels["ecg"].text().startswith("ECG lost (")
    qtbot.waitUntil(lambda: client.zone_label.text() == CLIENT_WORDS["unknown"], timeout=9_000)
    t_lsl = pylsl.local_clock() - pos["i"] / fs  # resume on the live clock
    seen.clear()
    for _ in range(20):
        push(1.0)
        qtbot.wait(50)
        seen.add(win.stream_labels["ecg"].text())
    assert "ECG ok" in seen  # back
    client.close()
    win.close()
    assert not engine.running


@pytest.mark.lsl
@pytest.mark.timeout(180)
def test_demo_screenshot_writes_both_views(tmp_path):
    out = tmp_path / "shots"
    r = subprocess.run(
        [sys.executable, "-m", "wot_biofeedback.cli", "demo", "--screenshot", str(out),
         "--duration", "240", "--speed", "20", "--seed", "2"],
        capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    # third-party notices stay out: the offscreen platform's, once per window, and liblsl's
    assert "propagateSizeHints" not in r.stderr and "INFO|" not in r.stderr, r.stderr
    session = float(r.stdout.split("screenshots at session ")[1].split(" s")[0])
    assert session >= 240.0
    for name in ("therapist.png", "client.png"):
        img = QImage(str(out / name))
        assert img.width() >= 1280 and img.height() >= 800, name


class PpgEngine(StubEngine):
    """A PPG pulse stream instead of ECG, and breathing from a chest accelerometer."""

    def snapshot(self, history_since: int | None = None) -> Snapshot:
        snap = super().snapshot()
        t = np.arange(0, 20, 0.01)
        raw = {"ppg": (t, np.sin(2 * np.pi * 1.1 * t)), "acc": (t, np.sin(2 * np.pi * t / 5))}
        return dataclasses.replace(snap, raw=raw, marks={"rpeak": np.arange(11.0, 20.0, 0.9)})


def test_cardiac_and_breathing_plots_follow_the_connected_sources(qtbot):
    win = MainWindow(PpgEngine(), owns_engine=True)
    qtbot.addWidget(win)
    win.refresh()
    assert "PPG" in win.raw_plots["ecg"].titleLabel.text
    assert "ACC" in win.raw_plots["resp"].titleLabel.text
    assert win.raw_curves["ecg"].xData.size > 900  # the last 10 s at 100 Hz
    assert win.raw_marks["ecg"].data.size >= 10  # pulses marked
    win.close()


class GrowingEngine(StubEngine):
    """A session that grows by a frame every 0.25 s; its snapshots keep the history contract
    (only the rows written since the view's cursor; without one, the last 10 min)."""

    def __init__(self, keep_rows: int = 4 * 3600 * 4) -> None:
        super().__init__()
        self.now = 0.0
        self.keep_rows = keep_rows  # rows the engine keeps
        self.asked: list[int | None] = []
        self.sent = 0  # history rows handed out

    def snapshot(self, history_since: int | None = None) -> Snapshot:
        self.asked.append(history_since)
        snap = super().snapshot()
        written = int(self.now * 4)
        since = written - 2400 if history_since is None else history_since
        first = max(since, written - self.keep_rows, 0)
        t = np.arange(first, written) * 0.25
        self.sent += t.size
        hist = {"time_s": t, "arousal": np.zeros(t.size), "zone_code": np.zeros(t.size),
                "hr_bpm": 70 + t / 100.0}  # fmt: skip
        return dataclasses.replace(
            snap, session_s=self.now, history=hist, n_frames=written, calibrating=False,
            history_start=first if t.size else written, history_cursor=written,
        )  # fmt: skip


def test_trends_hold_the_whole_session(qtbot):
    eng = GrowingEngine()
    eng.now = 300.0
    win = MainWindow(eng, owns_engine=True)
    qtbot.addWidget(win)
    for now in np.arange(300.0, 1500.0, 40.0):  # 25 min, polled every 40 s of session
        eng.now = float(now)
        win.refresh()
    # the first poll takes every row kept, each later one only the new rows
    assert eng.asked[0] == 0 and eng.asked[1:] == [
        int(n * 4) for n in np.arange(300.0, 1460.0, 40.0)
    ]
    assert eng.sent == int(eng.now * 4)
    curve = win.trend_curves["hr_bpm"]
    tx, ty = curve.xData, curve.yData  # the data set, before clipping to the view
    assert tx[0] == 0.0 and tx[-1] == pytest.approx(eng.now - 0.25)
    assert np.all(np.diff(tx) == 0.25)  # no gap, no duplicate
    assert ty[-1] == pytest.approx(70 + tx[-1] / 100.0)
    # the arousal plot shows the last 10 min of the same rows
    ax = win.arousal_curve.xData
    assert ax[-1] == tx[-1] and ax[0] <= tx[-1] - 600.0 < ax[1]
    # a restarted engine (fewer rows than the cursor): the window starts again from its rows
    eng.now = 100.0
    win.refresh()
    assert len(win.history) == 0 and win.history.cursor == 0
    win.refresh()
    assert win.trend_curves["hr_bpm"].xData[-1] == pytest.approx(99.75)
    assert win.history.cursor == 400
    win.close()


def test_client_view_hides_old_and_muted_cues(qtbot):
    from wot_biofeedback.cues import Cue

    win = ClientWindow(StubEngine())
    qtbot.addWidget(win)
    base = dataclasses.replace(StubEngine().snapshot(), calibrating=False, zone="hyper",
                               arousal=2.5, streams={})  # fmt: skip
    hyper = Cue(
        100.0, "hyper", "down-regulate", "Slow down.", {"rate_bpm": 6.0, "inhale_ratio": 0.4}
    )
    win.show_snapshot(dataclasses.replace(base, session_s=110.0, cue=hyper))
    assert win.cue_label.text() == "Slow down." and win.pacer.active
    # back within (a reinforcement cue), then hyper again: the hyper cue is still the one shown
    within = Cue(120.0, "within", "reinforce", "Steady.")
    win.show_snapshot(dataclasses.replace(base, session_s=121.0, zone="within", cue=within))
    assert not win.pacer.active
    win.show_snapshot(dataclasses.replace(base, session_s=130.0, cue=within))
    assert win.cue_label.text() == "Slow down." and win.pacer.active
    # muted automatic cues are not shown to the client
    win.show_snapshot(dataclasses.replace(base, session_s=131.0, cue=within,
                                          extra={"cues_muted": True}))  # fmt: skip
    assert win.cue_label.text() == "" and not win.pacer.active
    # an old cue is not shown either
    win.show_snapshot(dataclasses.replace(base, session_s=400.0, cue=within))
    assert win.cue_label.text() == "" and not win.pacer.active
    win.close()
    assert not win.poll_timer.isActive() and not win.paint_timer.isActive()


def _protocol_statuses() -> dict[str, dict]:
    """A real protocol's status while waiting, pacing its third step, and done (the beats of
    a client whose heart rate swings most at 5.5/min)."""
    from _synth import paced_series
    from wot_biofeedback.resonance import LiveResonance, protocol

    steps = protocol(30.0, (6.5, 6.0, 5.5, 5.0, 4.5), 100.0)
    nn_t, nn_ms, rt, resp = paced_series({6.5: 3.0, 6.0: 4.0, 5.5: 7.0, 5.0: 5.0, 4.5: 3.5}, steps)
    live = LiveResonance(steps)
    out = {}
    for t, name in ((5.0, "waiting"), (290.0, "pacing"), (steps[-1].end_s + 6.0, "done")):
        live.add_beats(nn_t[nn_t < t], nn_ms[nn_t < t])
        nn_t, nn_ms = nn_t[nn_t >= t], nn_ms[nn_t >= t]
        n = np.searchsorted(rt, t)
        live.add_breathing(float(rt[0]), 100.0, resp[:n])
        rt, resp = rt[n:], resp[n:]
        live.advance(t)
        out[name] = {**live.status(), "inhale_ratio": 0.4}
    return out


def test_resonance_protocol_in_both_views(qtbot, tmp_path):
    """The client view paces each step's rate with its words, whatever the zone; the console
    draws a bar per rate (the running one pale, the chosen one green) and names the result."""
    st = _protocol_statuses()
    assert st["pacing"]["phase"] == "pacing" and st["done"]["phase"] == "done"
    base = dataclasses.replace(StubEngine().snapshot(), calibrating=False, zone="hypo",
                               arousal=-2.0, streams={})  # fmt: skip
    client = ClientWindow(StubEngine())
    qtbot.addWidget(client)
    client.show_snapshot(dataclasses.replace(base, session_s=5.0,
                                             extra={"resonance": st["waiting"]}))  # fmt: skip
    assert "starts in 25 s" in client.cue_label.text() and not client.pacer.active
    client.show_snapshot(dataclasses.replace(base, session_s=290.0,
                                             extra={"resonance": st["pacing"]}))  # fmt: skip
    assert client.pacer.active and client.pacer.rate_bpm == 5.5
    assert client.cue_label.text().startswith("Breathe with the circle, 5.5 breaths a minute")
    assert "step 3 of 5" in client.cue_label.text()
    client.show_snapshot(dataclasses.replace(base, session_s=540.0,
                                             extra={"resonance": st["done"]}))  # fmt: skip
    assert "done" in client.cue_label.text() and not client.pacer.active
    client.show_snapshot(dataclasses.replace(base, session_s=600.0,
                                             extra={"resonance": st["done"]}))  # fmt: skip
    assert "done" not in client.cue_label.text()  # the usual view again

    win = MainWindow(_ResonanceStub())
    qtbot.addWidget(win)
    win.show()
    assert not win.resonance_view.isVisible() and win.resonance_button.isVisible()
    win.resonance_button.click()
    assert win.engine.calls[-1] == ("resonance", None) and not win.resonance_button.isEnabled()
    snap = dataclasses.replace(base, session_s=290.0, extra={"resonance": st["pacing"]})
    win.show_snapshot(snap)
    assert win.resonance_view.isVisible() and not win.trends_view.isVisible()
    title = win.resonance_view.getPlotItem().titleLabel.text
    assert "step 3 of 5, pacing 5.5/min" in title
    bars = win.resonance_bars.opts
    assert list(bars["height"][:2]) == [r["peak_trough_bpm"] for r in st["pacing"]["steps"][:2]]
    assert bars["height"][2] > 0 and list(bars["height"][3:]) == [0.0, 0.0]
    win.show_snapshot(dataclasses.replace(snap, session_s=540.0,
                                          extra={"resonance": st["done"]}))  # fmt: skip
    title = win.resonance_view.getPlotItem().titleLabel.text
    assert title.startswith("Resonance rate 5.5 breaths/min, margin")
    green = [b.color().name().upper() for b in win.resonance_bars.opts["brushes"]]
    assert green[2] == GREEN.upper() and green.count(GREEN.upper()) == 1
    assert win.resonance_button.isEnabled()
    assert win.grab_png(tmp_path / "resonance.png")
    win.close()
    client.close()


class _ResonanceStub(StubEngine):
    def start_resonance(self) -> None:
        self.calls.append(("resonance", None))


class _PairStub(StubEngine):
    """A session of two: the therapist's frames, as the engine keeps them."""

    def __init__(self) -> None:
        super().__init__()
        from types import SimpleNamespace

        self.frames = [SimpleNamespace(time_s=k / 4.0, state=SimpleNamespace(arousal=0.5))
                       for k in range(400)]  # fmt: skip

    def frames_since(self, cursor=0, subject=None):
        assert subject == "therapist"
        return self.frames[cursor:], len(self.frames)


def test_console_shows_the_second_person_and_the_synchrony(qtbot):
    win = MainWindow(_PairStub())
    qtbot.addWidget(win)
    win.show()
    assert not win.sync_view.isVisible() and not win.people_label.isVisible()
    base = dataclasses.replace(StubEngine().snapshot(), calibrating=False, zone="within",
                               arousal=0.1, streams={}, session_s=100.0)  # fmt: skip
    others = {"therapist": {"time_s": 100.0, "zone": "within", "arousal": 0.5,
                            "confidence": 1.0, "calibrating": False}}  # fmt: skip

    def window(t, sig, r, lag, p, sig_):
        return {"time_s": t, "r": r, "lag_s": lag, "leader": "therapist" if lag > 0 else
                "client" if lag < 0 else "none", "p": p, "significant": sig_}  # fmt: skip

    early = {"client-therapist": {"hr": window(60.0, "hr", 0.5, 2.0, math.nan, False)}}
    win.show_snapshot(dataclasses.replace(base, extra={"others": others, "synchrony": early}))
    assert "Therapist (dashed): within, arousal +0.50" in win.people_label.text()
    assert "synchrony: collecting" in win.people_label.text()
    assert win.sync_view.isVisible() and not win.trends_view.isVisible()
    x, y = win.other_curve.getData()
    assert len(x) == 400 and y[-1] == 0.5
    later = {"client-therapist": {
        "hr": window(95.0, "hr", 0.8, 3.0, 0.01, True),
        "eda": window(95.0, "eda", 0.4, -1.0, 0.4, False),
    }}  # fmt: skip
    win.show_snapshot(dataclasses.replace(base, extra={"others": others, "synchrony": later}))
    assert "in sync: HR (therapist leading by 3 s)" in win.people_label.text()
    x, y = win.sync_curves["hr"].getData()
    assert list(x) == [60.0, 95.0] and list(y) == [0.5, 0.8]
    dx, _dy = win.sync_dots["hr"].getData()
    assert list(dx) == [95.0]  # only the window in sync has its dot
    nosync = {"client-therapist": {"hr": window(100.0, "hr", 0.3, 0.0, 0.6, False)}}
    win.show_snapshot(dataclasses.replace(base, extra={"others": others, "synchrony": nosync}))
    assert "not in sync (HR)" in win.people_label.text()
    # skin conductance's window is twice as long: while it has no test yet it is named as
    # collecting, not left out (the line read "in sync: HR" as if EDA were not measured)
    eda_early = {"client-therapist": {
        "hr": window(100.0, "hr", 0.8, 3.0, 0.01, True),
        "eda": window(100.0, "eda", 0.2, 0.0, math.nan, False),
        "resp": window(100.0, "resp", 0.1, 0.0, 0.5, False),
    }}  # fmt: skip
    win.show_snapshot(dataclasses.replace(base, extra={"others": others, "synchrony": eda_early}))
    assert "in sync: HR (therapist leading by 3 s); EDA collecting" in win.people_label.text()
    # a window that stopped before its first test (an electrode off) is not collecting
    stale_eda = window(40.0, "eda", 0.2, 0.0, math.nan, False)
    stale = {"client-therapist": {**eda_early["client-therapist"], "eda": stale_eda}}
    win.show_snapshot(dataclasses.replace(base, extra={"others": others, "synchrony": stale}))
    assert "collecting" not in win.people_label.text()
    win.close()
