"""History by cursor: the engine hands a view only the rows written since its cursor, and the
view's own arrays (``ViewHistory``) hold the session without gaps or duplicates."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from wot_biofeedback.engine import HISTORY_SERIES, Engine
from wot_biofeedback.pipeline import Frame
from wot_biofeedback.snapshot import HISTORY_WINDOW_S, Snapshot
from wot_biofeedback.state import StateResult
from wot_biofeedback.ui.history import ViewHistory

RATE = 4.0  # frames per s (the default)


def _engine(history_s: float) -> Engine:
    """An engine with one silent source, never started: its history is written by hand."""
    src = SimpleNamespace(fs=32.0, n_samples=0, name="x", unit="uS", note="", close=lambda: None)
    return Engine({"eda": src}, outlets_source_id=None, history_s=history_s)


def _frames(first: int, n: int) -> list[Frame]:
    out = []
    for i in range(first, first + n):
        t = i / RATE
        st = StateResult(t, "within", math.sin(t), 1.0, [], "within", {})
        out.append(Frame(i, t, {"hr_bpm": 60.0 + t}, st))
    return out


def test_engine_snapshot_hands_out_rows_since_the_cursor():
    eng = _engine(history_s=100.0)  # 400 rows kept
    snap = eng.snapshot(history_since=0)
    assert snap.history_cursor == 0 and snap.history_start == 0
    assert set(snap.history) == set(HISTORY_SERIES) and snap.history["time_s"].size == 0
    eng._publish("client", _frames(0, 10))
    snap = eng.snapshot(history_since=0)
    assert (snap.history_start, snap.history_cursor) == (0, 10)
    np.testing.assert_array_equal(snap.history["time_s"], np.arange(10) / RATE)
    snap = eng.snapshot(history_since=7)
    assert (snap.history_start, snap.history_cursor) == (7, 10)
    np.testing.assert_array_equal(snap.history["hr_bpm"], 60.0 + np.arange(7, 10) / RATE)
    nothing = eng.snapshot(history_since=10)
    assert nothing.history_cursor == 10 and all(v.size == 0 for v in nothing.history.values())
    # rows the engine no longer keeps are skipped: history_start says where the rows begin
    eng._publish("client", _frames(10, 500))
    snap = eng.snapshot(history_since=5)
    assert (snap.history_start, snap.history_cursor) == (110, 510)
    assert snap.history["time_s"][0] == 110 / RATE
    # without a cursor: the last HISTORY_WINDOW_S (here all 400 rows kept, less than 10 min)
    snap = eng.snapshot()
    assert snap.history["time_s"].size == min(400, int(HISTORY_WINDOW_S * RATE))
    assert snap.history_start == 510 - snap.history["time_s"].size


def test_engine_snapshot_without_cursor_is_the_last_ten_minutes():
    eng = _engine(history_s=4 * 3600.0)
    eng._publish("client", _frames(0, 3000))
    snap = eng.snapshot()
    n = int(HISTORY_WINDOW_S * RATE)
    assert snap.history["time_s"].size == n and snap.history_start == 3000 - n


def _snap(history: dict[str, np.ndarray], start: int, cursor: int | None) -> Snapshot:
    return Snapshot(
        0.0, "within", 0.0, 1.0, "", [], {}, False, "", (-1.0, 1.0), None, history, {}, {}, {},
        cursor or 0, 0, history_start=start, history_cursor=cursor,
    )  # fmt: skip


def _rows(first: int, stop: int) -> dict[str, np.ndarray]:
    i = np.arange(first, stop, dtype=np.float64)
    return {"time_s": i / RATE, "arousal": np.sin(i)}


def test_view_history_appends_by_cursor_and_stays_bounded():
    rng = np.random.default_rng(7)
    h = ViewHistory(("time_s", "arousal", "hr_bpm"), span_s=300.0, rows=64)
    written = 0
    buffers = set()
    while written < 8000:  # 2000 s of frames, kept 300 s: compacted many times
        new = int(rng.integers(0, 40))
        since = h.cursor
        h.update(_snap(_rows(since, written + new), since, written + new))
        written += new
        buffers.add(id(h._buf))
        assert h.cursor == written
        t = h["time_s"]
        if t.size:
            assert t[-1] == (written - 1) / RATE
            assert np.all(np.diff(t) == 1 / RATE)  # no gap, no duplicate
            assert t[0] <= t[-1] - 300.0 or t[0] == 0.0  # at least span_s kept
            np.testing.assert_array_equal(h["arousal"], np.sin(t * RATE))
            assert np.isnan(h["hr_bpm"]).all()  # a series the snapshots lack
    # memory bounded by the span: 1,200 rows kept, a buffer at most 4x that
    assert h.capacity <= 4 * 1200 + 4 * 40
    assert len(buffers) <= 8  # grown by doubling, a few times only


def test_view_history_overlap_gap_restart_and_hand_made():
    h = ViewHistory(("time_s", "arousal"), span_s=100.0)
    assert h.update(_snap(_rows(0, 10), 0, 10))
    # a snapshot that repeats rows the view has (start before the cursor): no duplicates
    assert h.update(_snap(_rows(5, 12), 5, 12))
    np.testing.assert_array_equal(h["time_s"], np.arange(12) / RATE)
    assert not h.update(_snap(_rows(12, 12), 12, 12))  # nothing new
    # the engine dropped rows the view never got: they are skipped (a gap in time)
    assert h.update(_snap(_rows(20, 25), 20, 25))
    assert h["time_s"][-1] == 24 / RATE and len(h) == 17 and h.cursor == 25
    assert h.index_at(3.0) == 11 and h.index_at(-1.0) == 0
    # another engine (a cursor behind ours): start again
    assert h.update(_snap(_rows(3, 3), 3, 3))
    assert len(h) == 0 and h.cursor == 0
    # a hand-made snapshot (no cursor): its history is the window
    assert h.update(_snap(_rows(40, 44), 0, None))
    np.testing.assert_array_equal(h["time_s"], np.arange(40, 44) / RATE)
    assert h.update(dataclasses.replace(_snap(_rows(40, 44), 0, None)))
    assert len(h) == 4
    with pytest.raises(ValueError, match="time_s"):
        ViewHistory(("arousal",), 10.0)


def test_engine_summary_reads_every_kept_row():
    from wot_biofeedback.profiles import engine_summary

    eng = _engine(history_s=4 * 3600.0)
    eng._publish("client", _frames(0, 4000))  # 1000 s: more than a cursor-less snapshot's 10 min
    whole = engine_summary(eng)
    assert sum(whole["time_in_zone_s"].values()) == pytest.approx(1000.0, abs=1.0)
    assert sum(engine_summary(eng, history_s=100.0)["time_in_zone_s"].values()) == (
        pytest.approx(100.0, abs=1.0)
    )
