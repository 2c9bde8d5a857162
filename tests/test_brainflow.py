"""``wot driver brainflow``: the real BrainFlow library and its synthetic board, real LSL on
loopback, and the engine consuming what the driver publishes."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np
import pylsl
import pytest

pytest.importorskip("brainflow", reason='BrainFlow not installed: pip install -e ".[test]"')

from brainflow.board_shim import BoardIds, BoardShim, BrainFlowPresets
from wot_drivers._common import Backoff
from wot_drivers.brainflow_board import (
    BrainFlowBridge,
    parse_board,
    plan_streams,
)

from wot_biofeedback.cli import main
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.engine import Engine
from wot_biofeedback.errors import InputError
from wot_biofeedback.sources.lsl import LslSource, channel_units, resolve

pytestmark = [pytest.mark.lsl, pytest.mark.timeout(60)]

SYNTH = int(BoardIds.SYNTHETIC_BOARD)
EMOTIBIT = int(BoardIds.EMOTIBIT_BOARD)


@pytest.fixture(autouse=True)
def _quiet_brainflow():
    BoardShim.disable_board_logger()
    yield
    BoardShim.disable_board_logger()  # ``run`` sets BrainFlow's level to warnings


def _inlet(stype: str, sid: str) -> pylsl.StreamInlet:
    inlet = pylsl.StreamInlet(resolve(stype, source_id=sid, timeout=5.0), max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


def _pull_until(inlet: pylsl.StreamInlet, n: int, timeout: float = 5.0):
    data, stamps = [], []
    deadline = time.monotonic() + timeout
    while sum(len(s) for s in stamps) < n and time.monotonic() < deadline:
        d, t = inlet.pull_chunk(timeout=0.2)
        if t:
            data.append(np.asarray(d))
            stamps.append(np.asarray(t))
    assert stamps, "no data arrived"
    return np.concatenate(data), np.concatenate(stamps)


def _markers(inlet: pylsl.StreamInlet, want: str, timeout: float = 5.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(want in m for m in seen):
        sample, _ = inlet.pull_sample(timeout=0.1)
        if sample:
            seen.append(sample[0])
    return seen


# boards and BrainFlow's description ---------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["synthetic", "SYNTHETIC_BOARD", "Synthetic-Board", " -1 ", str(SYNTH)]
)
def test_board_by_name_or_id(text):
    assert parse_board(text) == (SYNTH, "SYNTHETIC_BOARD")


def test_other_board_names():
    assert parse_board("emotibit") == (EMOTIBIT, "EMOTIBIT_BOARD")
    assert parse_board("muse-s")[1] == "MUSE_S_BOARD"
    assert parse_board("ganglion")[1] == "GANGLION_BOARD"


@pytest.mark.parametrize("text", ["nope", "muse", "12345"])
def test_bad_board_names_the_way_to_the_list(text):
    with pytest.raises(InputError, match="--list-boards"):
        parse_board(text)


def test_synthetic_plan_follows_brainflow_description():
    plans = {p.kind: p for p in plan_streams(SYNTH)}
    assert list(plans) == ["ecg", "ppg", "eda", "acc"]
    assert plans["ecg"].rows == tuple(BoardShim.get_ecg_channels(SYNTH))
    assert plans["ppg"].rows == tuple(BoardShim.get_ppg_channels(SYNTH))
    assert plans["eda"].rows == tuple(BoardShim.get_eda_channels(SYNTH))
    assert plans["acc"].rows == tuple(BoardShim.get_accel_channels(SYNTH)[:3])
    for p in plans.values():
        assert p.preset == 0
        assert p.fs == BoardShim.get_sampling_rate(SYNTH)
        assert p.timestamp_row == BoardShim.get_timestamp_channel(SYNTH)
    assert [p.unit for p in plans.values()] == ["uV", "a.u.", "uS", "g"]
    assert plans["ecg"].labels[:2] == ("ECG0", "ECG1")
    assert plans["acc"].labels == ("x", "y", "z")
    # channel K (0-based) first (the engine reads channel 0), the rest in BrainFlow's order
    ecg = BoardShim.get_ecg_channels(SYNTH)
    moved = plan_streams(SYNTH, kinds=["ecg"], first={"ecg": 2})[0]
    assert moved.rows == (ecg[2], ecg[0], ecg[1], *ecg[3:])
    assert moved.labels[:3] == ("ECG2", "ECG0", "ECG1")
    with pytest.raises(InputError, match="--ecg-channel 16: the board has 16"):
        plan_streams(SYNTH, first={"ecg": 16})


def test_presets_emotibit_auto_and_synthetic_auxiliary():
    aux, anc = int(BrainFlowPresets.AUXILIARY_PRESET), int(BrainFlowPresets.ANCILLARY_PRESET)
    plans = {p.kind: p for p in plan_streams(EMOTIBIT)}
    assert sorted(plans) == ["acc", "eda", "ppg"]  # no ECG on an EmotiBit
    assert plans["acc"].preset == 0
    assert plans["ppg"].preset == aux
    assert plans["ppg"].rows == tuple(BoardShim.get_ppg_channels(EMOTIBIT, aux))
    assert plans["ppg"].fs == BoardShim.get_sampling_rate(EMOTIBIT, aux)
    assert plans["eda"].preset == anc
    assert plans["eda"].rows == tuple(BoardShim.get_eda_channels(EMOTIBIT, anc))
    assert plans["eda"].fs == BoardShim.get_sampling_rate(EMOTIBIT, anc)
    assert plans["eda"].timestamp_row == BoardShim.get_timestamp_channel(EMOTIBIT, anc)
    only = {p.kind: p for p in plan_streams(SYNTH, "auxiliary")}
    assert sorted(only) == ["acc", "eda", "ppg"]
    assert only["eda"].rows == tuple(BoardShim.get_eda_channels(SYNTH, aux))
    with pytest.raises(InputError, match="only the default, auxiliary"):
        plan_streams(SYNTH, "ancillary")


def test_bad_board_through_the_cli(capsys):
    assert main(["driver", "brainflow", "--board", "nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope' is not a BrainFlow board" in err
    assert "wot driver brainflow --list-boards" in err
    assert "Traceback" not in err


def test_list_boards(capsys):
    assert main(["driver", "brainflow", "--list-boards"]) == 0
    out = capsys.readouterr().out
    assert "   -1  synthetic_board" in out
    assert "emotibit_board                     PPG@auxiliary, EDA@ancillary, ACC" in out


# live: the synthetic board on LSL ------------------------------------------------------------
def test_synthetic_board_streams(source_id):
    plans = plan_streams(SYNTH)
    fs = BoardShim.get_sampling_rate(SYNTH)
    with BrainFlowBridge(SYNTH, plans, source_id, board_name="SYNTHETIC_BOARD") as bridge:
        inlets = {p.kind: _inlet(p.stype, f"{source_id}-{p.kind}") for p in plans}
        for p in plans:
            info = inlets[p.kind].info(timeout=5.0)
            assert info.name() == f"{source_id}-{p.stype}"
            assert info.type() == p.stype
            assert info.channel_count() == len(p.rows)
            assert info.nominal_srate() == fs
            assert channel_units(info) == [p.unit] * len(p.rows)
        assert inlets["ecg"].info().channel_count() == len(BoardShim.get_ecg_channels(SYNTH))
        assert inlets["acc"].info().channel_count() == 3
        data, ts = _pull_until(inlets["ecg"], 250)
        now = pylsl.local_clock()
        assert data.shape[1] == 16
        assert np.all(np.diff(ts) > 0)
        assert now - 1.0 < ts[-1] <= now + 0.05  # on this machine's LSL clock, recent
        assert np.median(np.diff(ts)) == pytest.approx(1 / fs, rel=0.3)
        acc, _ = _pull_until(inlets["acc"], 50)
        assert acc.shape[1] == 3
        assert np.all((acc > -0.1) & (acc < 1.5))  # the synthetic accelerometer, in g
        eda, _ = _pull_until(inlets["eda"], 50)
        assert 0.05 < float(np.median(eda)) < 100.0  # a plausible level in µS
        assert bridge.error is None
        assert bridge.samples["ecg"] > 0
    assert not bridge.alive


def test_lost_board_is_marked_and_prepared_again(source_id):
    plans = plan_streams(SYNTH, kinds=["ecg"])
    events: list[str] = []
    bridge = BrainFlowBridge(
        SYNTH, plans, source_id, stall_s=0.4, backoff=Backoff(initial=0.1, maximum=0.4),
        on_event=events.append, board_name="SYNTHETIC_BOARD",
    )  # fmt: skip
    with bridge:
        markers = _inlet("Markers", f"{source_id}-markers")
        ecg = _inlet("ECG", f"{source_id}-ecg")
        _, ts0 = _pull_until(ecg, 50)
        # the board stops delivering (as a device out of range does): a gap, then back
        bridge.board.stop_stream()
        seen = _markers(markers, "gap end")
        assert any(m.startswith("gap start: board lost (no data for") for m in seen), seen
        assert any(m.startswith("gap end:") and "reconnected" in m for m in seen), seen
        # the session goes away under the reader (BrainFlow throws): the same again
        bridge.board.release_session()
        seen = _markers(markers, "gap end")
        assert any(m.startswith("gap start: board lost (BrainFlow error") for m in seen), seen
        assert any(m.startswith("gap end:") for m in seen), seen
        _, ts1 = _pull_until(ecg, 2000, timeout=1.0)
        assert bridge.gaps == 2
        assert bridge.error is None
        ts = np.concatenate((ts0, ts1))
        assert np.all(np.diff(ts) > 0)  # monotonic across both reconnects
        assert ts1[-1] > pylsl.local_clock() - 1.0  # and flowing again
    assert events[0].startswith("stream started: BrainFlow SYNTHETIC_BOARD (id -1): ECG")


def test_driver_cli_runs_for_a_duration(source_id, capsys):
    code = main(
        ["driver", "brainflow", "--board", "synthetic", "--source-id", source_id,
         "--streams", "ecg,eda", "--duration", "0.5"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert f"ECG  {source_id}-ECG  250 Hz  uV  16 ch" in out
    assert f"source_id {source_id}-eda" in out
    assert f"engine: wot run --source-id {source_id}" in out
    assert "published ECG" in out


# end to end: the driver feeds the engine ----------------------------------------------------
def test_engine_runs_on_the_synthetic_board(source_id):
    plans = plan_streams(SYNTH)
    types = {"ecg": "ECG", "eda": "EDA", "acc": "ACC"}  # what ``wot run`` looks for
    with BrainFlowBridge(SYNTH, plans, source_id, board_name="SYNTHETIC_BOARD") as bridge:
        sources = {
            m: LslSource(m, resolve(t, source_id=f"{source_id}-{m}", timeout=5.0))
            for m, t in types.items()
        }
        assert sources["ecg"].unit == "uV"
        assert sources["eda"].unit_source == "'uS' in metadata"
        cfg = EngineConfig()
        cfg.calibration.duration_s = 3.0
        engine = Engine(sources, cfg, outlets_source_id=None, period_s=0.02)
        engine.start()
        try:
            deadline = time.monotonic() + 20.0
            while time.monotonic() < deadline and engine.snapshot().n_frames < 8:
                time.sleep(0.1)
            snap = engine.snapshot()
        finally:
            engine.stop()
        assert bridge.error is None
    assert snap.error is None
    assert snap.n_frames >= 8, snap
    assert engine.gaps_filled == {}  # time stamps agree with the sample counts: no false pauses
    assert {m: s.state for m, s in snap.streams.items()} == dict.fromkeys(types, "ok")
    assert all(s.n_samples > 0 for s in snap.streams.values())
    frames = engine.drain_frames()
    assert len(frames) >= 8
    assert [f.index for f in frames] == list(range(frames[0].index, frames[0].index + len(frames)))


def test_wot_run_finds_the_driver_streams(source_id):
    """What the driver prints (``wot run --source-id ID``) is what a user runs."""
    plans = plan_streams(SYNTH)
    with BrainFlowBridge(SYNTH, plans, source_id, board_name="SYNTHETIC_BOARD") as bridge:
        proc = subprocess.run(
            [sys.executable, "-m", "wot_biofeedback.cli", "run", "--source-id", source_id,
             "--headless", "--duration", "3", "--no-record", "--no-report", "--timeout", "10",
             "--resp-type", ""],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert bridge.error is None
    assert proc.returncode == 0, proc.stderr
    assert f"ecg: {source_id}-ECG at 250 Hz (uV; source_id {source_id}-ecg)" in proc.stdout
    assert f"eda: {source_id}-EDA at 250 Hz ('uS' in metadata, scaled to µS;" in proc.stdout
    assert f"acc: {source_id}-ACC at 250 Hz (g;" in proc.stdout
    # frames came: the session clock ran to --duration (it stands still without frames). The
    # terminal view looks once a wall second, so on a loaded machine the 3 s can pass before
    # it prints a "calibrating baseline" line (a fresh-clone CI run, 2026-12-06)
    assert re.search(r"session ended after 00:0[3-9] \(--duration 3 s\)", proc.stdout), proc.stdout
    assert "wot: error" not in proc.stderr
    assert "Traceback" not in proc.stderr
