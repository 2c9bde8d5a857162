"""Window assessment (``wot assess``): rest, a mild stressor, recovery → the client's bounds."""

from __future__ import annotations

import json

import pytest
from wot_simulators import Scenario, Segment, simulate_to_csv

from wot_biofeedback.assessment import assess
from wot_biofeedback.cli import main
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.errors import InputError
from wot_biofeedback.sources.files import read_recording

PERIODS = {"rest": (20.0, 170.0), "stressor": (180.0, 300.0), "recovery": (300.0, 480.0)}


def _protocol(tmp_path, name: str, stressor_level: float, recovers: bool):
    """A 480-s session: 180 s rest, 120 s stressor, 180 s in which the client recovers or not."""
    after = Segment("recovery", "within", 0.0, 180.0)
    if not recovers:
        after = Segment("recovery", "hyper", stressor_level, 180.0)
    stress = (
        Segment("stressor", "hyper", stressor_level, 120.0)
        if stressor_level > 0
        else Segment("stressor", "within", 0.0, 120.0)
    )
    scen = Scenario(name, "", (Segment("rest", "within", 0.0, 180.0), stress, after))
    path = tmp_path / f"{name}.csv"
    simulate_to_csv(scen, 1, path, fs=100.0)
    return path


def _assess(path):
    return assess(read_recording(path), *PERIODS.values(), EngineConfig())


def test_recovered_mild_stressor_widens_the_window_to_include_it(tmp_path, monkeypatch):
    path = _protocol(tmp_path, "mild", 0.4, recovers=True)
    profiles = tmp_path / "profiles"
    monkeypatch.setenv("WOT_PROFILE_DIR", str(profiles))
    out = tmp_path / "assessment.json"
    args = [f"--{k}={a:g}:{b:g}" for k, (a, b) in PERIODS.items()]
    assert main(["assess", str(path), *args, "--out", str(out), "--profile", "ana"]) == 0
    res = json.loads(out.read_text())
    print(res["reasoning"])
    assert res["recovery"]["recovered"] and res["recovery"]["time_s"] <= 60.0
    # the response was inside the window: the bound sits just above it
    assert res["stressor"]["response"] > res["rest"]["p95"] + 0.5
    assert res["window"]["upper"] == pytest.approx(res["stressor"]["response"] + 0.5, abs=0.01)
    assert res["window"]["lower"] <= -1.5
    assert any("recovered" in line for line in res["reasoning"])
    # the client's profile now carries that window, and the assessment itself
    prof = json.loads((profiles / "ana.json").read_text())
    assert prof["window"] == res["window"]
    assert prof["assessments"][0]["stressor"]["response"] == res["stressor"]["response"]


def test_unrecovered_stressor_puts_the_bound_below_the_response(tmp_path):
    res = _assess(_protocol(tmp_path, "stuck", 0.4, recovers=False))
    print(res["reasoning"])
    assert not res["recovery"]["recovered"]
    rest_hi, response = res["rest"]["p95"], res["stressor"]["response"]
    assert res["window"]["upper"] < response
    assert res["window"]["upper"] >= max(rest_hi + 0.5, 1.0) - 1e-9
    assert res["window"]["upper"] == pytest.approx(max(0.5 * (rest_hi + response), 1.0), abs=0.01)
    assert res["window"]["upper"] < EngineConfig().zones.upper


def test_no_response_keeps_the_configured_bound(tmp_path):
    res = _assess(_protocol(tmp_path, "none", 0.0, recovers=True))
    assert res["stressor"]["response"] < res["rest"]["p95"] + 0.5
    assert res["window"]["upper"] == pytest.approx(EngineConfig().zones.upper)
    assert "no response" in " ".join(res["reasoning"])


def test_bad_periods_are_clear_errors(tmp_path, capsys):
    path = _protocol(tmp_path, "mild", 0.4, recovers=True)
    rec = read_recording(path)
    with pytest.raises(InputError, match="in order"):
        assess(rec, (200.0, 300.0), (100.0, 150.0), (300.0, 400.0))
    with pytest.raises(InputError, match="at least 60 s"):
        assess(rec, (0.0, 30.0), (40.0, 100.0), (100.0, 200.0))
    with pytest.raises(InputError, match="recording is 480 s long"):
        assess(rec, (0.0, 100.0), (100.0, 200.0), (200.0, 900.0))
    code = main(["assess", str(path), "--rest", "a:b", "--stressor", "1:2", "--recovery", "3:4"])
    assert code == 2
    assert "--rest 'a:b' must be START:END" in capsys.readouterr().err
