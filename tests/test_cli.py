"""The `wot` commands as a user runs them (subprocesses, real LSL on loopback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pylsl
import pytest

from wot_biofeedback import cli

WOT = [sys.executable, "-m", "wot_biofeedback.cli"]
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}

pytestmark = pytest.mark.lsl


def test_streams_lists_a_visible_stream(source_id):
    info = pylsl.StreamInfo(f"{source_id}-x", "EDA", 1, 32.0, pylsl.cf_float32, source_id)
    outlet = pylsl.StreamOutlet(info)
    try:
        r = subprocess.run(
            [*WOT, "streams", "--timeout", "2"], capture_output=True, text=True, timeout=60, env=ENV
        )
        assert r.returncode == 0
        line = next(ln for ln in r.stdout.splitlines() if source_id in ln)
        assert "type=EDA" in line and "32 Hz" in line
    finally:
        del outlet


def test_liblsl_keeps_quiet_unless_the_user_configured_it(tmp_path):
    """liblsl prints two INFO lines at every start; wot gives it an errors-only configuration,
    but a user's own (``LSLAPICFG`` or an ``lsl_api.cfg``) is read instead, never replaced."""
    if Path("/etc/lsl_api/lsl_api.cfg").exists():
        pytest.skip("this machine has a system-wide liblsl configuration")
    env = {k: v for k, v in ENV.items() if k != "LSLAPICFG"}
    env["HOME"] = str(tmp_path)  # no ~/lsl_api/lsl_api.cfg; nor one in the working directory
    args = dict(capture_output=True, text=True, timeout=60, cwd=tmp_path)
    r = subprocess.run([*WOT, "streams", "--timeout", "0.5"], env=env, **args)
    assert r.returncode == 0, r.stderr
    assert "INFO|" not in r.stderr and "Loaded default config" not in r.stderr, r.stderr
    mine = tmp_path / "mine.cfg"
    mine.write_text("[log]\nlevel = 0\n")  # INFO: liblsl names the file it read
    r = subprocess.run([*WOT, "streams", "--timeout", "0.5"], env={**env, "LSLAPICFG": str(mine)},
                       **args)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"{mine}" in r.stderr and "INFO|" in r.stderr
    (tmp_path / "lsl_api.cfg").write_text("[log]\nlevel = 0\n")  # one in the working directory
    r = subprocess.run([*WOT, "streams", "--timeout", "0.5"], env=env, **args)
    assert "lsl_api.cfg" in r.stderr and "INFO|" in r.stderr


def test_run_without_streams_says_what_is_missing(source_id):
    """The installed entry point itself (``python -m``): an error is one line, exit 2 (the other
    error messages are checked in-process, through ``cli.main``)."""
    r = subprocess.run(
        [*WOT, "run", "--source-id", source_id, "--timeout", "0.5", "--headless"],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert r.returncode == 2
    assert "no LSL stream with type 'ECG'" in r.stderr and f"{source_id}-ecg" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.timeout(120)
def test_demo_headless_shows_zone_why_and_cue():
    r = subprocess.run(
        [*WOT, "demo", "--headless", "--duration", "20", "--speed", "20"],
        capture_output=True,
        text=True,
        timeout=100,
        env=ENV,
    )
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
    assert len(lines) >= 15  # one status line a second
    assert "zone=calibrating" in lines[0]
    text = "\n".join(lines)
    # 20 s at 20x covers calibration, the calm baseline and the start of the stressor
    assert "zone=within" in text and "zone=hyper" in text
    hyper = [ln for ln in lines if "zone=hyper" in ln and "truth: hyper" in ln]
    assert hyper, text
    assert all("why: " in ln and "cue: " in ln for ln in hyper)
    assert any("HR +" in ln.split("why: ")[1] for ln in hyper)


@pytest.mark.timeout(60)
def test_demo_stops_cleanly_on_ctrl_c():
    p = subprocess.Popen(
        [*WOT, "demo", "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        t0 = time.monotonic()
        first = p.stdout.readline()
        assert first.startswith("recording to ")
        recording = first.split("recording to ", 1)[1].strip()
        assert p.stdout.readline().startswith("[")
        while time.monotonic() - t0 < 3:
            p.stdout.readline()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopped" in out
    # a clean stop closes the recording: end record and stream footers
    import pyxdf

    streams, _ = pyxdf.load_xdf(recording)
    assert all("footer" in st for st in streams)
    session = next(st for st in streams if st["info"]["name"][0] == "wot-session")
    assert '"event": "end"' in session["time_series"][-1][0]
    assert "Traceback" not in err


@pytest.mark.timeout(60)
def test_simulate_publishes_streams_that_resolve(source_id):
    p = subprocess.Popen(
        [
            *WOT,
            "simulate",
            "--scenario",
            "calm",
            "--duration",
            "30",
            "--source-id",
            source_id,
            "--name",
            source_id,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        found = pylsl.resolve_bypred(f"source_id='{source_id}-ecg'", 1, 10.0)
        assert found and found[0].type() == "ECG" and found[0].nominal_srate() == 250.0
        inlet = pylsl.StreamInlet(found[0])
        full = inlet.info(timeout=5.0)
        assert full.desc().child("channels").child("channel").child_value("unit") == "mV"
        _data, ts = inlet.pull_chunk(timeout=3.0, max_samples=2000)
        deadline = time.monotonic() + 5
        while len(ts) < 200 and time.monotonic() < deadline:
            _d2, t2 = inlet.pull_chunk(timeout=1.0, max_samples=2000)
            ts += t2
        assert len(ts) >= 200
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=20)
    assert p.returncode == 0


def test_unknown_scenario_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["simulate", "--scenario", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "full-session" in err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("unit", "says"),
    [("furlongs", "unknown EDA unit 'furlongs'"), ("raw:abc", "raw:SCALE"), ("raw:-2", "> 0")],
)
def test_run_bad_eda_unit_is_a_one_line_error(source_id, unit, says, capsys):
    argv = ["run", "--source-id", source_id, "--timeout", "0.2", "--eda-unit", unit]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "no LSL stream" not in err  # reported before looking for streams


def test_run_bad_lost_after_is_a_one_line_error(source_id, capsys):
    assert cli.main(["run", "--source-id", source_id, "--timeout", "0.2", "--lost-after", "0"]) == 2
    err = capsys.readouterr().err
    assert "--lost-after" in err and "no LSL stream" not in err


@pytest.mark.timeout(90)
def test_simulate_acc_without_belt_then_run_uses_it(source_id):
    """`wot simulate --acc --no-resp` publishes a 3-axis ACC outlet and no RESP; `wot run`
    then takes breathing from the accelerometer."""
    sim = subprocess.Popen(
        [
            *WOT, "simulate", "--scenario", "calm", "--duration", "120", "--speed", "4",
            "--acc", "--no-resp", "--source-id", source_id, "--name", source_id,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        found = pylsl.resolve_bypred(f"source_id='{source_id}-acc'", 1, 10.0)
        assert found and found[0].type() == "ACC" and found[0].channel_count() == 3
        full = pylsl.StreamInlet(found[0]).info(timeout=5.0)
        ch = full.desc().child("channels").child("channel")
        assert (ch.child_value("label"), ch.child_value("unit")) == ("x", "g")
        assert not pylsl.resolve_bypred(f"source_id='{source_id}-resp'", 1, 0.5)
        r = subprocess.run(
            [
                *WOT, "run", "--source-id", source_id, "--timeout", "3", "--headless",
                "--duration", "4", "--outlet-id", f"{source_id}-engine",
            ],
            capture_output=True, text=True, timeout=60, env=ENV,
        )  # fmt: skip
    finally:
        sim.send_signal(signal.SIGINT)
        sim.communicate(timeout=20)
    assert r.returncode == 0, r.stderr
    assert "acc: " in r.stdout and "breathing from the chest accelerometer" in r.stdout
    assert "eda: " in r.stdout and "'uS' in metadata, scaled to µS" in r.stdout
    assert "type 'RESP'" not in r.stderr  # the accelerometer stands in for the belt
    assert "Traceback" not in r.stderr


@pytest.mark.timeout(240)
def test_first_demo_on_a_cold_cache_sees_the_session_from_its_first_second(tmp_path):
    """An empty numba cache (a first run): the demo says it is preparing, compiles before the
    simulator's clock starts, and the engine records the session from sample 0 and follows the
    scripted zones (it used to join minutes late and calibrate during the stressor)."""
    import numpy as np
    from wot_simulators import SimConfig, load_scenario, simulate_session

    from wot_biofeedback.analysis import analyze_path
    from wot_biofeedback.sources.files import read_recording

    rec = tmp_path / "first.xdf"
    env = {**ENV, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    r = subprocess.run(
        [*WOT, "demo", "--headless", "--scenario", "stress-and-recovery", "--speed", "40",
         "--record", str(rec), "--no-report"],
        capture_output=True, text=True, timeout=220, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "preparing the signal processing (first run only" in r.stdout
    got = read_recording(rec)
    sim = simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=1))
    for m, sig in got.signals.items():
        assert sig.t0 < 0.1, (m, sig.t0)  # from the session's first second
        x = sim.signal(m)[:200].astype(np.float32)
        np.testing.assert_allclose(sig.data[:200], x, rtol=1e-6, err_msg=m)  # its first samples
    out = analyze_path(rec, tmp_path / "out")
    frames = out.result.frames
    agree = load_scenario("stress-and-recovery").agreement(
        [f.time_s for f in frames], [f.state.zone for f in frames], 120.0
    )
    assert agree and all(v >= 0.9 for v in agree.values()), agree
