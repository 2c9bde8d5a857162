"""Client profiles: window bounds and baselines kept across sessions (files and live)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pylsl
import pytest
from wot_simulators import load_scenario, simulate_to_csv

from wot_biofeedback.cli import main

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
            *WOT, "simulate", "--scenario", "calm", "--duration", "120", "--speed", "8",
            "--source-id", source_id, "--name", source_id,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert pylsl.resolve_bypred(f"source_id='{source_id}-ecg'", 1, 10.0)
        r = subprocess.run(
            [
                *WOT, "run", "--source-id", source_id, "--timeout", "3", "--headless",
                "--duration", "6", "--outlet-id", f"{source_id}-engine", "--profile", "live-1",
            ],
            capture_output=True, text=True, timeout=60, env=env,
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
