"""The `wot` commands as a user runs them (subprocesses, real LSL on loopback)."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pylsl
import pytest

from wot_biofeedback import cli
from wot_biofeedback.sources.lsl import LslSource

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


def _arguments(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(parser, command path, action)`` of every argument of every (sub)command."""
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _arguments(sub, (*path, name))
        elif not isinstance(a, argparse._HelpAction | argparse._VersionAction):
            yield parser, path, a


def test_every_option_of_every_command_says_what_it_is_and_its_default():
    parser = cli.build_parser()
    found = list(_arguments(parser))
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {c.__name__.rsplit(".", 1)[1].replace("_", "-") for c in cli.COMMANDS}
    assert set(sub.choices) == commands  # every command module's parser, walked below
    assert {path[0] for _p, path, _a in found} == commands - {"sys-info"}  # it has no options
    assert len(found) > 150  # the drivers' options too
    bare = [f"wot {' '.join(path)} {a.option_strings or a.dest}"
            for _p, path, a in found if not (a.help or "").strip()]  # fmt: skip
    assert not bare, bare
    silent = []
    for parser, path, a in found:
        if not a.option_strings or a.default in (None, False, "", [], argparse.SUPPRESS):
            continue  # nothing to say (a flag off, an optional value left out)
        fmt = parser._get_formatter()
        fmt.add_argument(a)
        entry = " ".join(fmt.format_help().split())  # the option's lines in --help
        if "default" not in entry.lower():
            silent.append(f"wot {' '.join(path)} {a.option_strings[0]}: {entry}")
    assert not silent, silent


def test_scenario_options_list_the_shipped_scenarios(capsys):
    from wot_simulators import list_scenarios

    from wot_biofeedback.cli._args import scenario_names

    names = list_scenarios()
    assert len(names) >= 4 and scenario_names() == names  # read without importing the simulator
    for command in ("demo", "simulate"):
        with pytest.raises(SystemExit) as exit_:
            cli.main([command, "--help"])
        assert exit_.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        scenario = text.split("--scenario SCENARIO ", 1)[1].split(" --", 1)[0]
        assert all(n in scenario for n in names), scenario
        assert "(default: full-session)" in scenario


def test_plain_terminal_output_writes_each_moment_once():
    """Piped (not a TTY), the view writes a line when the session clock's second or the zone
    changes; while no new frame comes it stays silent instead of repeating the last line."""
    import io
    import math

    from wot_biofeedback.snapshot import Snapshot, StreamStatus
    from wot_biofeedback.terminal import TerminalView

    def snap(t: float, zone: str, why: str = "", calibrating: bool = False) -> Snapshot:
        lost = "lost" if "lost" in why else "ok"
        return Snapshot(
            t, zone, math.nan, 0.0, why, [], {}, calibrating, "", (-1.0, 1.5), None, {}, {}, {},
            {"ecg": StreamStatus("ecg", "ECG", 250.0, "mV", lost, 0.1, 100)}, 0, 0,
        )  # fmt: skip

    out = io.StringIO()
    view = TerminalView(out)
    for s in (
        snap(0.0, "unknown", "unknown: waiting for ecg", calibrating=True),
        snap(0.0, "unknown", "unknown: waiting for ecg", calibrating=True),  # same moment
        snap(0.6, "unknown", "unknown: calibrating", calibrating=True),  # same second
        snap(61.2, "within", "within: HR -1 bpm"),
        snap(61.2, "within", "within: HR -1 bpm"),  # no new frame: silent
        snap(61.2, "unknown", "unknown: all signals lost; check the sensors"),  # new zone
        snap(61.2, "unknown", "unknown: all signals lost; check the sensors"),
        snap(62.0, "within", "within: HR +2 bpm"),
        snap(62.0, "within", "within: HR +2 bpm; ECG lost"),  # a stream went: said at once
        snap(62.0, "within", "within: HR +2 bpm; ECG lost"),
    ):
        view.show(s)
    lines = out.getvalue().splitlines()
    assert [ln.split()[:2] for ln in lines] == [
        ["[00:00]", "zone=calibrating"], ["[01:01]", "zone=within"],
        ["[01:01]", "zone=unknown"], ["[01:02]", "zone=within"], ["[01:02]", "zone=within"],
    ], lines  # fmt: skip
    assert "why: all signals lost" in lines[2]
    assert "signals:" not in lines[3] and "| signals: ECG lost" in lines[4]

    # a cue is shown in its zone, never once the zone is unknown; a recording that stops
    # (a full disk) is said at once, not only at the end
    import dataclasses

    from wot_biofeedback.cues import Cue

    cue = Cue(63.0, "hyper", "down", "Let's slow down together.")
    hyper = dataclasses.replace(snap(63.0, "hyper", "hyper: HR +20 bpm"), cue=cue)
    unknown = dataclasses.replace(snap(64.0, "unknown", "unknown: all signals lost"), cue=cue)
    full = dataclasses.replace(hyper, extra={"recording": {"error": "No space left on device"}})
    out = io.StringIO()
    view = TerminalView(out)
    for s in (hyper, unknown, full):
        view.show(s)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert "| cue: Let's slow down together." in lines[0]
    assert "cue:" not in lines[1]
    assert "| recording stopped: No space left on device" in lines[2]


def test_sys_info_names_versions_libraries_and_folders(tmp_path, monkeypatch, capsys):
    import numpy as np
    import pylsl

    from wot_biofeedback import __version__
    from wot_biofeedback.cli.sys_info import _version
    from wot_biofeedback.dsp import cache_dir, compiled_before

    monkeypatch.delenv("LSLAPICFG", raising=False)  # main sets it: undone after the test
    monkeypatch.setenv("WOT_RECORD_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("WOT_PROFILE_DIR", str(tmp_path / "profiles"))
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "demo-1.xdf").write_bytes(b"x" * 2_000_000)
    assert cli.main(["sys-info"]) == 0
    out = capsys.readouterr().out
    rows = {}
    for ln in out.splitlines():
        if ln.startswith("  "):
            k, _, v = ln.strip().partition(": ")
            rows[k.rstrip(":")] = v.strip()
    assert rows["wot-biofeedback"].startswith(__version__)
    assert rows["Python"].startswith(platform.python_version())
    assert rows["CPUs"].startswith(str(os.cpu_count())) and rows["OS"]
    assert rows["numpy"] == np.__version__ and rows["pylsl"] == pylsl.__version__
    for name in ("scipy", "numba", "PySide6-Essentials", "pyqtgraph", "matplotlib", "neurokit2"):
        assert rows[name][:1].isdigit(), (name, rows[name])  # installed for the tests
    assert _version("no-such-distribution-wot") == "not installed"
    v = pylsl.library_version()
    assert rows["liblsl"].startswith(f"{v // 100}.{v % 100} (") and Path(rows["library"]).is_file()
    assert rows["configuration"]
    assert rows["Qt"][:1].isdigit() and rows["platform"] == "offscreen (QT_QPA_PLATFORM)"
    assert rows["recordings"].startswith(f"{tmp_path / 'sessions'} ($WOT_RECORD_DIR): 1 sessions")
    assert "2.0 MB" in rows["recordings"] and "--no-record" in rows["recordings"]
    assert rows["profiles"] == f"{tmp_path / 'profiles'} ($WOT_PROFILE_DIR)"
    assert rows["numba cache"].startswith(f"{cache_dir()}")
    from wot_biofeedback.dsp._designs import cache_folder

    assert (
        rows["filter designs"].startswith(f"{cache_folder()}")
        and "designs)" in rows["filter designs"]
    )
    assert ("(kernels compiled" in rows["numba cache"]) == compiled_before()


def _status_lines(out: str) -> list[str]:
    """The plain status lines (``[MM:SS] zone=...``) of a terminal view's output."""
    return [ln for ln in out.splitlines() if ln.startswith("[")]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_demo_headless_shows_zone_why_and_cue():
    r = subprocess.run(
        [*WOT, "demo", "--headless", "--duration", "400", "--speed", "20", "--no-record"],
        capture_output=True,
        text=True,
        timeout=100,
        env=ENV,
    )
    assert r.returncode == 0, r.stderr
    lines = _status_lines(r.stdout)
    assert len(lines) >= 15  # about one status line a wall second (20 s of session each)
    # a pipe gets each moment once: no line repeats the one before (clock and zone)
    moments = [(ln[:7], ln.split()[1]) for ln in lines]
    assert all(a != b for a, b in itertools.pairwise(moments)), moments
    assert "zone=calibrating" in lines[0]
    text = "\n".join(lines)
    # 400 s of session covers calibration, the calm baseline and the start of the stressor
    assert "zone=within" in text and "zone=hyper" in text
    hyper = [ln for ln in lines if "zone=hyper" in ln and "truth: hyper" in ln]
    assert hyper, text
    assert all("why: " in ln and "cue: " in ln for ln in hyper)
    assert any("HR +" in ln.split("why: ")[1] for ln in hyper)
    # --duration counts session seconds: the view stopped at 400 s of session, not of wall
    assert "session ended after 06:4" in r.stdout and "(--duration 400 s)" in r.stdout
    assert lines[-1].startswith("[06:")


def _load_session(rec: Path) -> dict:
    """A closed recording (stream footers, the session's end record) and its report's summary."""
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(rec))
    assert all("footer" in st for st in streams)
    session = next(st for st in streams if st["info"]["name"][0] == "wot-session")
    assert '"event": "end"' in session["time_series"][-1][0]
    report = rec.with_name(rec.stem + "-report")
    assert '<section id="timeline">' in (report / "report.html").read_text(encoding="utf-8")
    return json.loads((report / "summary.json").read_text(encoding="utf-8"))


@contextlib.contextmanager
def _running_demo(rec: Path) -> Iterator[subprocess.Popen[str]]:
    """``wot demo --headless --speed 20 --record REC`` once its session runs (it has said
    where it records and shown two moments)."""
    with subprocess.Popen(
        [*WOT, "demo", "--headless", "--speed", "20", "--record", str(rec)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    ) as p:  # fmt: skip
        try:
            assert p.stdout is not None
            assert p.stdout.readline().startswith(f"recording to {rec}")
            assert p.stdout.readline().startswith("[")  # the session runs
            assert p.stdout.readline().startswith("[")
        except BaseException:
            p.kill()
            raise
        yield p


def _end_demo(
    p: subprocess.Popen[str], sig: signal.Signals | None, close_output: bool = False
) -> tuple[int, str, str]:
    """Close the demo's output (as ``| head`` does) and/or send it ``sig``; its exit code,
    the rest of its output and its stderr (killed if it has not ended within 60 s)."""
    try:
        assert p.stdout is not None and p.stderr is not None
        if close_output:
            p.stdout.close()
        if sig is not None:
            p.send_signal(sig)
        rest = "" if p.stdout.closed else p.stdout.read()
        err = p.stderr.read()
        return p.wait(timeout=60), rest, err
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-c, pipe closed", "pipe closed"])
def test_demo_ends_cleanly_on_ctrl_c_or_a_closed_pipe(tmp_path, how):
    """Ctrl-C; ``wot demo --headless | tee out`` and Ctrl-C (tee goes too: the pipe closes as
    the signal comes); ``wot demo --headless | head -3`` (the pipe closes): each ends the session
    as a normal end does (recording closed, report written), exit 0, nothing on stderr."""
    rec = tmp_path / "demo.xdf"
    with _running_demo(rec) as p:
        code, rest, err = _end_demo(
            p, signal.SIGINT if "ctrl-c" in how else None, close_output="pipe closed" in how
        )
    assert code == 0, err
    assert not err.strip(), err  # no "Broken pipe", no error, no traceback
    if "pipe closed" not in how:
        assert "stopped (Ctrl-C) after 00:" in rest and "session report:" in rest, rest
    summary = _load_session(rec)
    assert summary["fraction_in_zone"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_demo_ends_on_sigterm_or_sighup_as_on_ctrl_c(tmp_path, name):
    """A service manager's stop (SIGTERM) and a closed terminal (SIGHUP) end a live session as
    Ctrl-C does (they used to kill it: no end record, no report): the recording closed with
    its end record, the report written, exit 0."""
    if not hasattr(signal, name):
        pytest.skip(f"no {name} on this platform")
    rec = tmp_path / "demo.xdf"
    with _running_demo(rec) as p:
        code, rest, err = _end_demo(p, getattr(signal, name))
    assert code == 0, err
    assert not err.strip(), err
    assert f"stopped ({name}) after 00:" in rest and "session report:" in rest, rest
    summary = _load_session(rec)
    assert summary["fraction_in_zone"]


@pytest.mark.timeout(90)
def test_demo_to_the_end_of_its_scenario_reads_as_the_end_of_the_session(tmp_path):
    """The simulator's streams end with its script: that is the end of the session, never
    reported as lost signals (on screen, or as markers in the recording)."""
    scen = tmp_path / "short.toml"
    scen.write_text('name = "short"\n[[segment]]\nzone = "within"\nduration_s = 90\n')
    rec = tmp_path / "short.xdf"
    r = subprocess.run(
        [*WOT, "demo", "--headless", "--scenario", str(scen), "--calibration", "30",
         "--speed", "10", "--record", str(rec)],
        capture_output=True, text=True, timeout=80, env=ENV,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = _status_lines(r.stdout)
    assert lines and lines[-1].startswith("[01:"), r.stdout  # shown up to the end
    assert "lost" not in r.stdout and "zone=unknown" not in lines[-1], r.stdout
    end = r.stdout.split("session ended after ", 1)[1].splitlines()[0]
    assert end.startswith(("01:29", "01:30")) and "(the simulated session is over)" in end, end
    _load_session(rec)
    markers = (tmp_path / "short-report" / "markers.csv").read_text(encoding="utf-8")
    assert markers.startswith("time_s,text") and "lost" not in markers, markers


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


@pytest.mark.timeout(180)
def test_simulate_acc_without_belt_then_run_uses_it(source_id):
    """`wot simulate --acc --no-resp` publishes a 3-axis ACC outlet and no RESP; `wot run`
    then takes breathing from the accelerometer."""
    sim = subprocess.Popen(
        [
            # long enough to outlast a first run's compile (a fresh clone) before `wot run`
            # opens its streams; stopped once the run is over
            *WOT, "simulate", "--scenario", "calm", "--duration", "600", "--speed", "4",
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
                *WOT, "run", "--source-id", source_id, "--timeout", "10", "--headless",
                "--duration", "4", "--outlet-id", f"{source_id}-engine",
            ],
            capture_output=True, text=True, timeout=120, env=ENV,
        )  # fmt: skip
    finally:
        sim.send_signal(signal.SIGINT)
        sim.communicate(timeout=20)
    assert r.returncode == 0, r.stderr
    assert "acc: " in r.stdout and "breathing from the chest accelerometer" in r.stdout
    assert "eda: " in r.stdout and "'uS' in metadata, scaled to µS" in r.stdout
    assert "type 'RESP'" not in r.stderr  # the accelerometer stands in for the belt
    assert "Traceback" not in r.stderr


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_run_duration_ends_a_session_whose_streams_are_all_lost(source_id, capsys, monkeypatch):
    """``wot run --duration`` counts session seconds; when every stream dies the session time
    stands still, and the run still ends after the duration (wall clock from the first frame)
    with its normal ending, instead of waiting for Ctrl-C."""
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

    monkeypatch.delenv("LSLAPICFG", raising=False)  # cli.main sets it; restored afterwards
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=2), 6.0)
    pub = SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, speed=1.0, wait_for_consumers=15.0
    )
    pub.start()
    try:
        start = time.monotonic()
        argv = ["run", "--source-id", source_id, "--timeout", "10", "--duration", "14",
                "--headless", "--no-record", "--lost-after", "1.5"]  # fmt: skip
        assert cli.main(argv) == 0
        took = time.monotonic() - start
    finally:
        pub.stop()
    out = capsys.readouterr().out
    assert "(--duration 14 s)" in out, out
    # the piped view says the streams went, although the session clock stood still
    assert "| signals: ECG lost, EDA lost, RESP lost" in out, out
    assert took < 60.0  # it ended by itself (the session stood still at ~6 s)


@pytest.mark.slow
def test_run_duration_ends_a_session_whose_streams_never_send(source_id, capsys, monkeypatch):
    """Streams that are found but never send a sample (a sensor switched on, not worn):
    ``--duration`` counts the wall clock while every stream is waiting, so the run ends by
    itself instead of showing "waiting for ..." until Ctrl-C."""
    import pylsl

    monkeypatch.delenv("LSLAPICFG", raising=False)  # cli.main sets it; restored afterwards
    outlets = [
        pylsl.StreamOutlet(
            pylsl.StreamInfo(f"{source_id}-{m}", typ, 1, fs, pylsl.cf_float32, f"{source_id}-{m}")
        )
        for m, typ, fs in (("ecg", "ECG", 250.0), ("eda", "EDA", 32.0), ("resp", "RESP", 50.0))
    ]
    start = time.monotonic()
    argv = ["run", "--source-id", source_id, "--timeout", "10", "--duration", "4",
            "--headless", "--no-record"]  # fmt: skip
    assert cli.main(argv) == 0
    took = time.monotonic() - start
    del outlets
    out = capsys.readouterr().out
    assert "waiting for" in out, out  # it did wait, with nothing coming
    assert "(--duration 4 s)" in out, out
    assert took < 40.0  # ended by itself: the session clock never moved


def _session_records(rec: Path) -> list[dict]:
    """The session log of a recording, as JSON records."""
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(rec))
    session = next(st for st in streams if st["info"]["name"][0] == "wot-session")
    return [json.loads(row[0]) for row in session["time_series"]]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("rates", "bad", "says"),
    [
        ({"eda_fs": 2.0}, "eda", "EDA sampling rate 2.0 Hz is outside the supported range 4-"),
        ({"ecg_fs": 40.0}, "ecg", "ECG sampling rate 40.0 Hz is outside the supported range 50-"),
    ],
)
def test_run_goes_on_without_a_stream_it_cannot_run(
    source_id, tmp_path, capsys, monkeypatch, rates, bad, says
):
    """A stream at a rate its signal processing does not support (the engine used to die on
    its first chunk and show "calibrating" forever, exit 0, nothing recorded): the others run,
    are recorded and reported; the stream shows as unusable with the reason, the session log
    and its markers keep it, and the exit code says the session was not complete."""
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

    monkeypatch.delenv("LSLAPICFG", raising=False)  # cli.main sets it; restored afterwards
    sess = simulate_session(load_scenario("calm"), SimConfig(seed=2, **rates), 60.0)
    # (the stream that cannot run never gets a consumer: the publisher waits for it in vain,
    # so not for long)
    pub = SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, speed=4.0, wait_for_consumers=4.0
    )
    pub.start()
    rec = tmp_path / "s.xdf"
    handler = signal.getsignal(signal.SIGTERM)
    try:
        argv = ["run", "--source-id", source_id, "--timeout", "10", "--duration", "30",
                "--headless", "--record", str(rec),
                "--outlet-id", f"{source_id}-engine"]  # fmt: skip
        code = cli.main(argv)
    finally:
        pub.stop()
    out, err = capsys.readouterr()
    assert code == 1, err
    assert signal.getsignal(signal.SIGTERM) is handler  # wot run's own handler is gone again
    name = f"{source_id}-{bad.upper()}"
    assert f"wot: warning: {bad} ({name}, {rates[f'{bad}_fs']:g} Hz) cannot run: {says}" in err
    # one line says why the exit code is not 0, and nothing else is an error
    errors = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"wot: error: the session ran without {bad} ")
    assert says in errors[0] and "Traceback" not in err
    lines = _status_lines(out)
    assert all(f"signals: {bad.upper()} unusable" in ln for ln in lines), out
    # the others ran: their features came, to the end of the session
    good = "SCL=" if bad == "ecg" else "HR="
    assert any(f"{good}--" not in ln for ln in lines), out
    assert "(--duration 30 s)" in out
    summary = _load_session(rec)  # closed, with its end record and its report
    assert summary["fraction_in_zone"]
    records = _session_records(rec)
    engine = next(r for r in records if r["event"] == "engine")
    assert bad not in engine["sources"] and len(engine["sources"]) == 2
    assert engine["unusable"][bad]["name"] == name and says in engine["unusable"][bad]["reason"]
    notes = [r["text"] for r in records if r["event"] == "marker"]
    assert any(t.startswith(f"[engine] {bad} ({name}") and says in t for t in notes), notes
    end = records[-1]
    assert end["event"] == "end" and end["frames"] >= 100 and end["error"] is None


@pytest.mark.timeout(90)
def test_run_with_no_stream_it_can_run_says_so_before_starting(
    source_id, tmp_path, capsys, monkeypatch
):
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

    monkeypatch.delenv("LSLAPICFG", raising=False)
    sess = simulate_session(load_scenario("calm"), SimConfig(40.0, 2.0, 50.0, seed=2), 30.0)
    pub = SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, streams=("ecg", "eda")
    )
    pub.start()
    rec = tmp_path / "none.xdf"
    try:
        argv = ["run", "--source-id", source_id, "--timeout", "3", "--headless", "--record",
                str(rec), "--resp-type", "", "--acc-type", ""]  # fmt: skip
        code = cli.main(argv)
    finally:
        pub.stop()
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("wot: error: no stream can run: ecg ("), err
    assert "ECG sampling rate 40.0 Hz" in err and "EDA sampling rate 2.0 Hz" in err
    assert not rec.exists() and "recording to" not in out  # nothing started


class _BreaksAfter(LslSource):
    """A real inlet whose reads fail once 10 s of data have come: a fault injected on the
    engine's thread (the inlet is real; only its failure is made up)."""

    def pull(self):  # type: ignore[no-untyped-def]
        got = super().pull()
        if self.n_samples >= 10 * self.fs:
            raise RuntimeError("injected: the inlet broke")
        return got


@pytest.mark.timeout(90)
def test_a_failure_on_the_engine_thread_ends_the_session_with_a_clear_error(
    source_id, tmp_path, capsys
):
    """Whatever still escapes the engine's thread ends the session as any end does (the
    recording closed, its report written) with one line naming the error and exit code 1;
    never "calibrating" forever."""
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

    from wot_biofeedback.cli._live import live_session, run_engine
    from wot_biofeedback.config import EngineConfig
    from wot_biofeedback.sources.lsl import resolve

    sess = simulate_session(load_scenario("calm"), SimConfig(seed=3), 120.0)
    pub = SimulatorPublisher(
        sess, source_id=source_id, name_prefix=source_id, speed=4.0, wait_for_consumers=15.0
    )
    pub.start()
    rec = tmp_path / "fault.xdf"
    args = argparse.Namespace(record=str(rec), no_record=False, no_report=False,
                              duration=600.0, headless=True)  # fmt: skip
    try:
        sources = {
            "ecg": _BreaksAfter("ecg", resolve("ECG", source_id=f"{source_id}-ecg", timeout=10)),
            "eda": LslSource("eda", resolve("EDA", source_id=f"{source_id}-eda", timeout=10)),
            "resp": LslSource("resp", resolve("RESP", source_id=f"{source_id}-resp", timeout=10)),
        }
        live = live_session(args, sources, EngineConfig(), "fault", {"command": "test"},
                            outlets_source_id=None)  # fmt: skip
        code, summary = run_engine(live, args, title="fault")
    finally:
        pub.stop()
    out, err = capsys.readouterr()
    assert code == 1
    assert err == (
        "wot: error: the engine failed (RuntimeError: injected: the inlet broke); "
        "the session was ended there\n"
    )
    assert "(engine error)" in out.split("session ended after ", 1)[1].splitlines()[0], out
    assert live.engine.snapshot().error == "RuntimeError('injected: the inlet broke')"
    assert summary is not None  # the recording was analysed and reported
    _load_session(rec)
    end = _session_records(rec)[-1]
    assert end["event"] == "end" and "injected: the inlet broke" in end["error"]
    assert "in pull" in end["traceback"]  # where it happened, for a bug report


def _outlet(name: str, stype: str, source_id: str) -> pylsl.StreamOutlet:
    return pylsl.StreamOutlet(pylsl.StreamInfo(name, stype, 1, 250.0, pylsl.cf_float32, source_id))


def test_run_warns_of_several_candidates_and_refuses_to_mix_sources(source_id, capsys):
    """Two ECG streams (another client's on the network) and an EDA stream from a third
    source: wot run names the candidates, and will not fuse one source's ECG with another's
    EDA without being told; nothing starts. The types are this test's own, so other tests'
    streams on the network are no candidates."""
    ecg, eda = f"ECG{source_id}", f"EDA{source_id}"
    keep = [  # noqa: F841 (the outlets live as long as the test)
        _outlet("client-a-ECG", ecg, f"{source_id}-a-ecg"),
        _outlet("client-b-ECG", ecg, f"{source_id}-b-ecg"),
        _outlet("band-c-EDA", eda, f"{source_id}-c-eda"),
    ]
    argv = ["run", "--ecg-type", ecg, "--eda-type", eda, "--resp-type", "", "--acc-type", "",
            "--timeout", "3", "--headless", "--no-record"]  # fmt: skip
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 2, err
    warn, error = lines
    assert warn.startswith("wot: warning: 2 ECG streams found: ")
    for n, sid in (("client-a-ECG", "a-ecg"), ("client-b-ECG", "b-ecg")):
        assert f"{n} (source_id {source_id}-{sid}, host " in warn
    assert "--source-id" in warn
    assert error.startswith("wot: error: the streams found come from different sources")
    assert f"{source_id}-c-eda" in error and f"{source_id}-a-ecg" in error
    assert "--source-id PREFIX" in error and "--allow-mixed-sources" in error
    assert "recording to" not in out and not _status_lines(out)


def test_stream_types_are_compared_never_put_into_a_query(source_id, capsys):
    """``--ecg-type "ECG' or type='EDA"`` used to select an EDA stream as ECG (the type went
    into liblsl's query text); it is a type no stream has."""
    ecg, eda = f"ECG{source_id}", f"EDA{source_id}"
    keep = [_outlet("e", eda, f"{source_id}-eda")]  # noqa: F841
    argv = ["run", "--ecg-type", f"{ecg}' or type='{eda}", "--eda-type", "", "--resp-type", "",
            "--acc-type", "", "--timeout", "1", "--headless", "--no-record"]  # fmt: skip
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"wot: error: no LSL stream with type \"{ecg}' or type='{eda}\" found")
    assert err.count("\n") == 1 and "recording to" not in out
