"""Client profiles: window bounds and baselines kept across sessions (files and live)."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
from typing import Any

import pylsl
import pytest
from wot_simulators import load_scenario, simulate_to_csv

from wot_biofeedback.cli import main
from wot_biofeedback.config import EngineConfig

WOT = [sys.executable, "-m", "wot_biofeedback.cli"]


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    d = tmp_path / "profiles"
    monkeypatch.setenv("WOT_PROFILE_DIR", str(d))
    return d


@pytest.fixture(scope="module")
def calm_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("calm") / "calm.csv"
    simulate_to_csv(load_scenario("calm"), 2, path, fs=50.0, duration_s=300.0)
    return path


def _analyze(src, out, *extra) -> int:
    return main(["analyze", str(src), "--out", str(out), *extra])


def test_sessions_accumulate_and_the_merged_baseline_can_start_a_session(
    profiles, calm_csv, tmp_path
):
    assert _analyze(calm_csv, tmp_path / "a", "--profile", "client-01") == 0
    path = profiles / "client-01.json"
    prof = json.loads(path.read_text())
    assert prof["format"] == "wot-biofeedback client profile" and prof["version"] == 1
    assert len(prof["sessions"]) == 1
    s1 = prof["sessions"][0]
    assert s1["baseline"]["start_s"] == 0.0 and "hr_bpm" in s1["baseline"]["z_median"]
    assert s1["fraction_in_zone"]["hyper"] == 0.0
    assert prof["baseline"]["sessions"] == 1
    assert prof["baseline"]["z_median"] == s1["baseline"]["z_median"]

    # the next session starts from the profile's baseline: no calibration, zones from t = 0
    assert _analyze(calm_csv, tmp_path / "b", "--profile", "client-01", "--profile-baseline") == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["calibration_message"] == "baseline from the client profile"
    assert summary["baseline"]["source"] == "profile"
    assert summary["fraction_in_zone"]["unknown"] < 0.1
    prof = json.loads(path.read_text())
    assert len(prof["sessions"]) == 2
    assert prof["sessions"][1]["baseline"] is None  # it did not calibrate: nothing new to merge
    assert prof["baseline"]["sessions"] == 1


def test_the_clients_window_bounds_are_used(profiles, calm_csv, tmp_path):
    assert _analyze(calm_csv, tmp_path / "a", "--profile", "c2") == 0
    path = profiles / "c2.json"
    prof = json.loads(path.read_text())
    prof["window"] = {"upper": 2.5, "lower": -1.8}  # widened over therapy
    path.write_text(json.dumps(prof))
    assert _analyze(calm_csv, tmp_path / "b", "--profile", "c2") == 0
    zones = json.loads((tmp_path / "b" / "summary.json").read_text())["parameters"]["zones"]
    assert (zones["upper"], zones["lower"]) == (2.5, -1.8)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{bad", "not readable JSON"),
        ('{"format": "something else"}', "is not a wot-biofeedback client profile"),
        (
            '{"format": "wot-biofeedback client profile", "version": 1, "sessions": [],'
            ' "window": {"upper": -1, "lower": 2}}',
            "lower < 0 < upper",
        ),
    ],
)
def test_a_bad_profile_is_a_clear_error_and_is_left_alone(
    profiles, calm_csv, tmp_path, capsys, content, message
):
    profiles.mkdir(parents=True)
    path = profiles / "broken.json"
    path.write_text(content)
    assert _analyze(calm_csv, tmp_path / "a", "--profile", "broken") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert path.read_text() == content  # never overwritten


def test_profile_option_errors(profiles, calm_csv, tmp_path, capsys):
    for args, message in (
        (["--profile-baseline"], "--profile-baseline needs --profile NAME"),
        (["--profile", "../etc"], "profile name '../etc'"),
        (["--profile", "new-client", "--profile-baseline"], "has no baseline yet"),
        (["--profile", "p", "--profile-baseline", "--baseline", "0:60"], "not both"),
    ):
        assert _analyze(calm_csv, tmp_path / "x", *args) == 2
        assert message in capsys.readouterr().err
    assert not (profiles / "new-client.json").exists()


@pytest.mark.slow
@pytest.mark.lsl
def test_live_session_is_added_to_the_profile(profiles, source_id):
    env = {**os.environ, "WOT_PROFILE_DIR": str(profiles), "QT_QPA_PLATFORM": "offscreen"}
    sim = subprocess.Popen(
        [
            # long enough to outlast a first run's compile (a fresh clone: 25-60 s before
            # `wot run` opens its streams); stopped below once the run is over
            *WOT, "simulate", "--scenario", "calm", "--duration", "900", "--speed", "8",
            "--source-id", source_id, "--name", source_id,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert pylsl.resolve_bypred(f"source_id='{source_id}-ecg'", 1, 10.0)
        r = subprocess.run(
            [
                *WOT, "run", "--source-id", source_id, "--timeout", "10", "--headless",
                "--duration", "6", "--outlet-id", f"{source_id}-engine", "--profile", "live-1",
            ],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
    finally:
        sim.send_signal(signal.SIGINT)
        sim.communicate(timeout=20)
    assert r.returncode == 0, r.stderr
    assert "profile live-1: session 1 saved to" in r.stdout
    prof = json.loads((profiles / "live-1.json").read_text())
    s = prof["sessions"][0]
    assert s["source"] == "live" and s["duration_s"] > 5.0
    assert abs(sum(s["fraction_in_zone"].values()) - 1.0) < 1e-9


# the profiles as a small database: concurrent saves, identity, schema, tampered files ----------
def _env(profiles) -> dict[str, str]:
    return {**os.environ, "WOT_PROFILE_DIR": str(profiles)}


def test_parallel_analyses_each_keep_their_session(profiles, calm_csv, tmp_path):
    """Six ``wot analyze --profile carol`` processes at once (they printed "session 1 saved"
    and one session was kept): all six sessions are kept, numbered 1..6 as they were saved."""
    n = 6
    inputs = []
    for i in range(n):  # one copy each, so that each session's source names its process
        inputs.append(tmp_path / f"in{i}.csv")
        shutil.copy(calm_csv, inputs[-1])
    procs = []
    for i, src in enumerate(inputs):
        args = ["analyze", str(src), "--out", str(tmp_path / f"out{i}"), "--profile", "carol"]
        procs.append(
            subprocess.Popen([*WOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=_env(profiles))
        )  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [err for _out, err in outs]
    said = [int(re.findall(r"profile carol: session (\d+) saved", out)[0]) for out, _ in outs]
    assert sorted(said) == list(range(1, n + 1))
    prof = json.loads((profiles / "carol.json").read_text())
    # every session kept, and the number each process was told is the one it saved
    assert [s["source"] for s in prof["sessions"]] == [
        str(inputs[said.index(k)]) for k in range(1, n + 1)
    ]
    assert prof["baseline"]["sessions"] == 5  # merged over the last five calibrated sessions


def _save_many(profile_dir: str, worker: int, count: int) -> list[int]:
    """A process saving ``count`` sessions (and a window now and then) into profile ``dora``."""
    os.environ["WOT_PROFILE_DIR"] = profile_dir
    from wot_biofeedback.profiles import load_profile, save_session, save_window

    numbers = []
    for i in range(count):
        started = load_profile("dora", EngineConfig())
        summary = {"duration_s": float(i), "markers": [{"time_s": 1.0, "text": f"w{worker}-{i}"}]}
        numbers.append(save_session("dora", started, summary, None, f"w{worker}-{i}")[0])
        if i % 10 == 0:
            save_window("dora", started, {"upper": 1.0 + worker, "lower": -1.0}, {"by": worker})
    return numbers


def test_many_processes_saving_at_once_lose_nothing(profiles):
    """Four processes save 40 sessions each as fast as they can: all 160 are kept, and every
    save was told its own number."""
    profiles.mkdir(parents=True)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_save_many, [(str(profiles), w, 40) for w in range(4)])
    numbers = sorted(n for r in results for n in r)
    assert numbers == list(range(1, 161))
    prof = json.loads((profiles / "dora.json").read_text())
    assert sorted(s["source"] for s in prof["sessions"]) == sorted(
        f"w{w}-{i}" for w in range(4) for i in range(40)
    )
    assert len(prof["assessments"]) == 16  # 4 windows saved by each process
    assert prof["window"]["upper"] in (1.0, 2.0, 3.0, 4.0)
    assert [p.name for p in profiles.iterdir() if p.name.endswith(".tmp")] == []


def test_a_long_session_keeps_what_was_saved_during_it(profiles, calm_csv, tmp_path):
    """The ``wot run`` pattern: read at the start, other commands save meanwhile (an analysis,
    a new window), the session saves at its end. Before, the end wrote back the profile it had
    read and lost both; now all three are kept."""
    from wot_biofeedback.profiles import apply_window, load_profile, save_session
    from wot_biofeedback.state import Baseline

    cfg = EngineConfig()
    started = load_profile("erin", cfg)  # the live session starts: no profile yet
    apply_window(started, cfg)
    r = subprocess.run(
        [*WOT, "analyze", str(calm_csv), "--out", str(tmp_path / "a"), "--profile", "erin"],
        capture_output=True, text=True, timeout=600, env=_env(profiles),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    code = (
        "from wot_biofeedback.profiles import load_profile, save_window; "
        "from wot_biofeedback.config import EngineConfig; "
        "p = load_profile('erin', EngineConfig()); "
        "save_window('erin', p, {'upper': 2.2, 'lower': -1.7}, {'by': 'assess'})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(profiles), timeout=120)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    base = Baseline.from_dict(summary["baseline"])
    number, path = save_session("erin", started, summary, base, "live")
    assert number == 2 and path == profiles / "erin.json"
    prof = json.loads(path.read_text())
    assert [s["source"] for s in prof["sessions"]] == [str(calm_csv), "live"]
    assert prof["window"] == {"upper": 2.2, "lower": -1.7}  # the window saved meanwhile
    assert prof["assessments"] == [{"by": "assess"}]
    # the live session scored with the window it started with, and says so
    assert prof["sessions"][1]["window"] == {"upper": 1.5, "lower": -1.5}
    assert prof["baseline"]["sessions"] == 2  # merged from both calibrated sessions


def test_a_copied_profile_saves_under_the_name_given(profiles, calm_csv, tmp_path, capsys):
    """alice.json copied to bob.json keeps ``"client": "alice"``; a session for bob goes to
    bob.json (it went into alice.json), with a note; alice.json is left as it was."""
    assert _analyze(calm_csv, tmp_path / "a", "--profile", "alice") == 0
    alice = profiles / "alice.json"
    shutil.copy(alice, profiles / "bob.json")
    before = alice.read_bytes()
    capsys.readouterr()
    assert _analyze(calm_csv, tmp_path / "b", "--profile", "bob") == 0
    out = capsys.readouterr().out
    assert f"profile bob: session 2 saved to {profiles / 'bob.json'}" in out
    assert "note: profile bob: the file's client field says 'alice'" in out
    assert alice.read_bytes() == before
    bob = json.loads((profiles / "bob.json").read_text())
    assert len(bob["sessions"]) == 2 and bob["client"] == "alice"  # informational, kept


def test_an_older_schema_is_upgraded_and_unknown_keys_are_kept(profiles, calm_csv, tmp_path):
    """A profile as the releases before ``schema`` wrote it (no ``schema``, no
    ``assessments``), with a key added by hand: read, upgraded to schema 2 on the next save,
    its session and the extra key kept."""
    profiles.mkdir(parents=True)
    old = {
        "format": "wot-biofeedback client profile", "version": 1, "client": "fay",
        "created": "2024-01-01T00:00:00+00:00", "updated": "2024-01-01T00:00:00+00:00",
        "window": {"upper": 1.8, "lower": -1.2}, "baseline": None,
        "sessions": [{"date": "2024-01-01T00:00:00+00:00", "source": "old.csv",
                      "duration_s": 600.0, "baseline": None}],
        "therapist_notes": "prefers paced breathing",
    }  # fmt: skip
    (profiles / "fay.json").write_text(json.dumps(old))
    assert _analyze(calm_csv, tmp_path / "a", "--profile", "fay") == 0
    prof = json.loads((profiles / "fay.json").read_text())
    assert prof["schema"] == 2 and prof["version"] == 1 and prof["assessments"] == []
    assert [s["source"] for s in prof["sessions"]] == ["old.csv", str(calm_csv)]
    assert prof["therapist_notes"] == "prefers paced breathing"
    assert prof["sessions"][1]["window"] == {"upper": 1.8, "lower": -1.2}


def _tampered() -> dict[str, tuple[str, str]]:
    """Name -> (file text, what the one-line error says)."""
    good = {
        "format": "wot-biofeedback client profile", "version": 1, "schema": 2, "client": "x",
        "created": "2024-01-01T00:00:00+00:00", "updated": "2024-01-01T00:00:00+00:00",
        "window": {"upper": 1.5, "lower": -1.5}, "baseline": None, "sessions": [],
    }  # fmt: skip

    def prof(**kw: Any) -> str:
        return json.dumps({**good, **kw})

    session = {"date": "2024-01-01", "source": "a.csv"}
    deep = "[" * 10_000 + "]" * 10_000
    return {
        "mixed-sessions": (prof(sessions=[1, "x", None]),
                           "sessions[0]: not a session record (got 1); 2 more problem(s)"),
        "string-session": (prof(sessions=[session, "x"]),
                           "sessions[1]: not a session record (got 'x')"),
        "list-baseline": (prof(baseline=[1, 2]), "baseline: not a baseline (got [1, 2])"),
        "list-session-baseline": (prof(sessions=[{**session, "baseline": [1]}]),
                                  "sessions[0].baseline: not a baseline (got [1])"),
        "deep-10000": (prof().replace('"sessions": []', f'"sessions": {deep}'),
                       "nested deeper than 16 levels"),
        "deep-20": (prof(extra=json.loads("[" * 20 + "]" * 20)),
                    "extra[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper than 16"),
        "string-10MB": (prof(client="a" * 10_000_000), "client: text longer than 10000 characters"),
        "source-10MB": (prof(sessions=[{**session, "source": "a" * 10_000_000}]),
                        "sessions[0].source: text longer than 10000 characters"),
        "string-window": (prof(window={"upper": "2", "lower": -1}),
                          "window.upper: must be a number (got '2')"),
        "bool-window": (prof(window={"upper": True, "lower": -1}),
                        "window.upper: must be a number (got True)"),
        "list-window": (prof(window=[1.5, -1.5]), "window: not a window (upper, lower)"),
        "swapped-window": (prof(window={"upper": -1, "lower": 2}),
                           "window: window needs lower < 0 < upper, got lower 2, upper -1"),
        "missing-window": (prof(window=None), "window: not a window (upper, lower) (got None)"),
        "dict-sessions": (prof(sessions={}), "sessions: not a list (got {})"),
        "nan-window": (prof(window={"upper": math.nan, "lower": -1.5}),
                       "window.upper: must be a finite number (got nan)"),
        "nan-duration": (prof(sessions=[{**session, "duration_s": math.nan}]),
                         "sessions[0].duration_s: must be a finite number (got nan)"),
        "infinite-window": (prof().replace('"upper": 1.5', '"upper": 1e400'),
                            "window.upper: must be a finite number (got inf)"),
        "1e308-window": (prof(window={"upper": 1e308, "lower": -1.5}),
                         "window.upper: number out of range (got 1e+308; limit ±1e+09)"),
        "1e308-duration": (prof(sessions=[{**session, "duration_s": 1e308}]),
                           "sessions[0].duration_s: number out of range (got 1e+308"),
        "huge-int": (prof(sessions=[{**session, "duration_s": 10**400}]),
                     "sessions[0].duration_s: number out of range"),
        "negative-duration": (prof(sessions=[{**session, "duration_s": -5}]),
                              "sessions[0].duration_s: must be >= 0 (got -5)"),
        "string-z": (prof(baseline={"z_median": {"hr_bpm": "x"}, "z_scale": {"hr_bpm": 1.0}}),
                     "baseline.z_median.hr_bpm: must be a number (got 'x')"),
        "zero-scale": (prof(baseline={"z_median": {"hr_bpm": 70.0}, "z_scale": {"hr_bpm": 0}}),
                       "baseline.z_scale.hr_bpm: must be > 0 (got 0)"),
        "too-many-sessions": (prof(sessions=[session] * 10_001),
                              "sessions: more than 10000 entries"),
        "newer-schema": (prof(schema=3), "has schema 3, newer than this version"),
        "bad-schema": (prof(schema="2"), "schema: must be a whole number >= 1 (got '2')"),
        "other-version": (prof(version=2), "has version 2; need 1"),
        "not-an-object": ("[1, 2]", "is not a wot-biofeedback client profile"),
        "utf-16": (prof(), "is not readable JSON"),  # written as UTF-16 below
    }  # fmt: skip


TAMPERED = _tampered()


@pytest.mark.parametrize("name", list(TAMPERED))
def test_a_tampered_profile_is_one_line_and_left_untouched(
    profiles, calm_csv, tmp_path, capsys, name
):
    text, message = TAMPERED[name]
    profiles.mkdir(parents=True)
    path = profiles / f"{name}.json"
    path.write_bytes(text.encode("utf-16" if name == "utf-16" else "utf-8"))
    before = path.read_bytes()
    extra = ["--profile-baseline"] if "baseline" in text else []
    assert _analyze(calm_csv, tmp_path / "a", "--profile", name, *extra) == 2
    err = capsys.readouterr().err
    print(err)
    assert err.startswith(f"wot: error: profile {path}") and err.count("\n") == 1
    assert message in err and len(err) < 400
    assert path.read_bytes() == before
    assert sorted(p.name for p in profiles.iterdir()) == [path.name]  # nothing else written


def test_a_full_profile_refuses_one_more_session(profiles, calm_csv, tmp_path, capsys):
    """10,000 sessions is the most a profile keeps: the next save is a one-line error after the
    analysis, and the file is left as it was."""
    from wot_biofeedback.profiles import MAX_SESSIONS, new_profile

    prof = new_profile("gus", EngineConfig())
    prof["sessions"] = [{"date": "2024-01-01", "source": "a.csv"}] * MAX_SESSIONS
    profiles.mkdir(parents=True)
    path = profiles / "gus.json"
    path.write_text(json.dumps(prof))
    before = path.read_bytes()
    assert _analyze(calm_csv, tmp_path / "a", "--profile", "gus") == 2
    err = capsys.readouterr().err
    assert err.startswith("wot: error: profile gus holds 10000 sessions, the most one keeps")
    assert path.read_bytes() == before
    assert (tmp_path / "a" / "summary.json").exists()  # the analysis itself was written
