"""Resonance-frequency assessment (issue 23): the simulated client, the criteria and the
decision rule, ``wot simulate --scenario resonance`` -> ``wot assess --resonance``, and the
client profile's pacer rate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from wot_simulators import SimConfig, load_scenario, simulate_session
from wot_simulators.scenario import Segment

from _synth import paced_series
from wot_biofeedback.cli import main
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.cues import CuePolicy
from wot_biofeedback.errors import InputError
from wot_biofeedback.profiles import apply_window, load_profile
from wot_biofeedback.resonance import (
    LiveResonance,
    PacedStep,
    assess_resonance,
    choose,
    parse_steps,
    protocol,
    score_step,
    steps_from_markers,
    steps_from_pacer,
)


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    d = tmp_path / "profiles"
    monkeypatch.setenv("WOT_PROFILE_DIR", str(d))
    return d


def _peak_trough_by_step(session) -> dict[float, float]:
    """Median peak-to-trough heart rate per pacer cycle in each paced step, from true beats."""
    bt = session.beat_times_s
    hr, th = 60.0 / np.diff(bt), bt[1:]
    out = {}
    for start, end, seg in session.scenario.segment_bounds():
        if seg.pacer_bpm is None:
            continue
        period, c, vals = 60.0 / seg.pacer_bpm, start + 20.0, []
        while c + period <= end:
            m = (th >= c) & (th < c + period)
            vals.append(hr[m].max() - hr[m].min())
            c += period
        out[seg.pacer_bpm] = float(np.median(vals))
    return out


@pytest.mark.parametrize("rate", [4.5, 5.5, 6.5])
def test_simulated_client_oscillates_most_at_their_own_rate(rate):
    """The client breathes with each step's pacer, and their heart rate swings most (peak to
    trough, from the true beats) at their resonance rate; without one, all steps swing alike."""
    scen = load_scenario("resonance")
    s = simulate_session(scen, SimConfig(seed=2, resonance_bpm=rate))
    for start, end, seg in scen.segment_bounds():
        if seg.pacer_bpm is None:
            continue
        on = s.breath_onsets_s[(s.breath_onsets_s > start + 15) & (s.breath_onsets_s < end)]
        np.testing.assert_allclose(np.median(np.diff(on)), 60.0 / seg.pacer_bpm, rtol=0.03)
    pt = _peak_trough_by_step(s)
    assert max(pt, key=pt.get) == rate
    others = [v for k, v in pt.items() if k != rate]
    assert np.mean(others) <= 0.85 * pt[rate]
    flat = _peak_trough_by_step(simulate_session(scen, SimConfig(seed=2)))
    assert max(flat.values()) < 1.25 * min(flat.values())


def test_pacer_in_scenarios_is_checked():
    scen = load_scenario("resonance")
    assert scen.paced and [s.pacer_bpm for s in scen.segments][1:] == [6.5, 6.0, 5.5, 5.0, 4.5]
    assert math.isnan(scen.pacer_at(60.0)) and scen.pacer_at(250.0) == 6.0
    assert not load_scenario("calm").paced
    with pytest.raises(ValueError, match=r"pacer_bpm 0\.5 must be 2-30"):
        Segment("x", "within", 0.0, 60.0, 0.5)
    with pytest.raises(ValueError, match=r"resonance_bpm 12 must be 3-10"):
        SimConfig(resonance_bpm=12)


def test_decision_rule_picks_the_largest_oscillation_and_reports_the_margin():
    steps = protocol(60.0)
    amp = {6.5: 4.0, 6.0: 5.0, 5.5: 8.0, 5.0: 6.0, 4.5: 4.5}
    nn_t, nn_ms, rt, resp = paced_series(amp, steps)
    out = assess_resonance(nn_t, nn_ms, steps, rt, resp)
    assert out["resonance_rate_bpm"] == 5.5
    by = {s["rate_bpm"]: s for s in out["steps"]}
    assert all(s["usable"] for s in out["steps"])
    # peak to trough is twice the sine's amplitude, within the noise
    assert by[5.5]["peak_trough_bpm"] == pytest.approx(16.0, rel=0.15)
    assert abs(by[5.5]["lf_peak_bpm"] - 5.5) < 0.2 and abs(by[5.5]["phase_deg"]) < 20
    assert by[5.5]["score"] == max(s["score"] for s in out["steps"])
    assert out["margin"] > 0.1 and out["close"] == []
    assert "resonance rate 5.5/min" in out["reasoning"][0]


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_close_rates_are_called_close(seed):
    """Two steps with the same true oscillation: whichever is chosen, the other is named as
    close (their peak-to-trough amplitudes are within two standard errors; the score margin
    itself ranges 0.002-0.086 over these seeds)."""
    steps = protocol(0.0)
    amp = {6.5: 4.0, 6.0: 7.0, 5.5: 7.0, 5.0: 4.0, 4.5: 3.0}
    nn_t, nn_ms, rt, resp = paced_series(amp, steps, seed=seed)
    out = assess_resonance(nn_t, nn_ms, steps, rt, resp)
    chosen = out["resonance_rate_bpm"]
    assert chosen in (5.5, 6.0) and out["close"] == [11.5 - chosen]
    assert "either serves" in out["reasoning"][-1]


def test_steps_not_followed_or_too_short_or_without_beats_are_left_out():
    steps = protocol(0.0)
    amp = {6.5: 4.0, 6.0: 5.0, 5.5: 8.0, 5.0: 6.0, 4.5: 4.5}
    # the client breathed at 12/min through the 5.5 step: it cannot count
    nn_t, nn_ms, rt, resp = paced_series(amp, steps, resp_rate_by_step={2: 12.0})
    out = assess_resonance(nn_t, nn_ms, steps, rt, resp)
    bad = next(s for s in out["steps"] if s["rate_bpm"] == 5.5)
    assert not bad["usable"] and bad["followed"] is False
    assert "did not follow the pacer" in bad["problem"] and bad["score"] is None
    assert out["resonance_rate_bpm"] == 5.0
    assert any("5.5/min left out" in line for line in out["reasoning"])
    # a short step, and a step with most beats missing
    short = score_step(PacedStep(6.0, 0.0, 70.0), nn_t, nn_ms)
    assert not short["usable"] and "need 60 s" in short["problem"]
    keep = (nn_t < 130) | (nn_t > 200)
    gap = score_step(steps[1], nn_t[keep], nn_ms[keep])
    assert not gap["usable"] and "heart beats cover" in gap["problem"]
    # no usable step at all: no rate
    none = choose([dict(short, score=None)])
    assert none["resonance_rate_bpm"] is None and "no usable step" in none["reasoning"][-1]
    # without a breathing signal: three criteria, said so
    out = assess_resonance(nn_t, nn_ms, steps)
    assert out["resonance_rate_bpm"] == 5.5 and all(s["followed"] is None for s in out["steps"])
    assert "no breathing signal" in out["reasoning"][-1]


def test_steps_from_text_column_and_markers():
    assert parse_steps("6.5@120:240, 6@240:360") == [
        PacedStep(6.5, 120.0, 240.0),
        PacedStep(6.0, 240.0, 360.0),
    ]
    for bad, msg in (("6.5@240:120", "start < end"), ("6.5-120", "RATE@START:END"),
                     ("40@0:60", "3-9 breaths/min")):  # fmt: skip
        with pytest.raises(InputError, match=msg):
            parse_steps(bad)
    t = np.arange(0, 30, 0.5)
    p = np.where(t < 10, np.nan, np.where(t < 20, 6.0, 5.0))
    assert steps_from_pacer(t, p) == [PacedStep(6.0, 10.0, 20.0), PacedStep(5.0, 20.0, 30.0)]
    marks = [(5.0, "start"), (10.0, "pacer 6/min"), (20.0, "Pacer 5.5"), (28.0, "pacer off")]
    assert steps_from_markers(marks, 40.0) == [
        PacedStep(6.0, 10.0, 20.0),
        PacedStep(5.5, 20.0, 28.0),
    ]
    with pytest.raises(InputError, match="no paced steps"):
        assess_resonance(np.arange(5.0), np.full(5, 800.0), [])


def test_simulate_assess_profile_and_pacer(tmp_path, profiles, capsys):
    """The issue's contract end to end: the simulated protocol as a CSV with a pacer_bpm
    column, ``wot assess --resonance`` finds the client's rate and writes the per-step table,
    ``--profile`` keeps it, and the client's sessions then pace at it."""
    csv = tmp_path / "res.csv"
    args = ["simulate", "--scenario", "resonance", "--resonance-rate", "6.0", "--seed", "4"]
    assert main([*args, "--fs", "200", "--out", str(csv)]) == 0
    header = csv.read_text().splitlines()[0]
    assert header == "time_s,ecg,eda,resp,zone,pacer_bpm"
    out = tmp_path / "res.json"
    assert main(["assess", str(csv), "--resonance", "--out", str(out), "--profile", "ann"]) == 0
    text = capsys.readouterr().out
    assert "resonance rate: 6 breaths/min" in text and "pacer rate 6/min saved" in text
    res = json.loads(out.read_text())
    assert res["resonance_rate_bpm"] == 6.0
    assert [s["rate_bpm"] for s in res["steps"]] == [6.5, 6.0, 5.5, 5.0, 4.5]
    assert all(s["usable"] and s["followed"] for s in res["steps"])
    cfg = EngineConfig()
    prof = load_profile("ann", cfg)
    assert prof["resonance"]["rate_bpm"] == 6.0 and prof["assessments"][-1]["steps"]
    apply_window(prof, cfg)
    assert cfg.cues.pacer_rate_bpm == 6.0
    cue = CuePolicy(cfg.cues).update(1.0, "hyper")
    assert cue is not None and cue.pacer == {"rate_bpm": 6.0, "inhale_ratio": 0.4}
    # the same steps given by hand agree
    steps = "6.5@120:240,6@240:360,5.5@360:480,5@480:600,4.5@600:720"
    assert main(["assess", str(csv), "--resonance", "--steps", steps]) == 0
    assert "resonance rate: 6 breaths/min" in capsys.readouterr().out


def test_assess_refuses_mixed_or_missing_options(tmp_path, profiles, capsys):
    csv = tmp_path / "calm.csv"
    assert main(["simulate", "--scenario", "calm", "--duration", "200", "--fs", "100",
                 "--out", str(csv)]) == 0  # fmt: skip
    capsys.readouterr()
    window = ["assess", str(csv), "--rest", "0:60", "--stressor", "60:100"]
    window += ["--recovery", "100:200"]
    cases = [
        (["assess", str(csv)], "needs --rest, --stressor, --recovery"),
        (["assess", str(csv), "--resonance", "--rest", "0:60"], "belong to the window"),
        (["assess", str(csv), "--resonance"], "no paced steps"),
        (["assess", str(csv), "--resonance", "--steps", "6@10"], "RATE@START:END"),
        ([*window, "--steps", "6@0:60"], "belong to --resonance"),
        (["simulate", "--resonance-rate", "20", "--out", str(tmp_path / "x.csv")], "3-10"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        assert msg in capsys.readouterr().err, argv
    assert not (tmp_path / "x.csv").exists()


def test_profile_with_a_bad_resonance_rate_is_refused(profiles):
    profiles.mkdir(parents=True)
    prof = {
        "format": "wot-biofeedback client profile", "version": 1, "schema": 2,
        "window": {"upper": 1.5, "lower": -1.0}, "sessions": [], "assessments": [],
        "resonance": {"rate_bpm": 40.0},
    }  # fmt: skip
    (profiles / "bob.json").write_text(json.dumps(prof))
    with pytest.raises(InputError, match=r"resonance.*rate_bpm"):
        load_profile("bob", EngineConfig())


@pytest.mark.parametrize(
    ("rate", "text"),
    [(6.0, "in for four, out for six"), (4.5, "in for about five, out for eight")],
)
def test_pacer_prompt_counts_the_clients_own_rate(rate, text):
    """The paced-breathing prompt gives the counts of the pacer as it runs at the client's
    rate (inhale 40 % of a breath), not a fixed 4/6."""
    cfg = EngineConfig()
    cfg.cues.pacer_rate_bpm = rate
    policy = CuePolicy(cfg.cues)
    policy.update(0.0, "hyper")
    cue = policy.update(200.0, "hyper")  # the second hyper prompt is the pacer's
    assert cue is not None and text in cue.text and cue.pacer["rate_bpm"] == rate


@pytest.mark.parametrize("lead", [45.0, -45.0])
def test_phase_sign_and_absolute_lf_power(lead):
    """Heart rate leading breathing reads as a positive phase, lagging as negative; a sine of
    amplitude A bpm has LF power A^2/2 bpm^2 and peak to trough 2A (no noise)."""
    steps = protocol(0.0)
    amp = {6.5: 3.0, 6.0: 4.0, 5.5: 6.0, 5.0: 4.0, 4.5: 3.0}
    nn_t, nn_ms, rt, resp = paced_series(amp, steps, lead_deg=lead, noise=0.0)
    by = {s["rate_bpm"]: s for s in assess_resonance(nn_t, nn_ms, steps, rt, resp)["steps"]}
    assert by[5.5]["phase_deg"] == pytest.approx(lead, abs=6.0)
    # beat sampling and linear interpolation take a few % off the power
    assert by[5.5]["lf_power_bpm2"] == pytest.approx(36.0 / 2, rel=0.12)
    assert by[5.5]["peak_trough_bpm"] == pytest.approx(12.0, rel=0.05)
    assert by[5.5]["peak_trough_se_bpm"] < 0.3  # the same swing every cycle


def test_a_belt_gap_in_one_step_does_not_flip_the_choice():
    """The breathing signal missing for 42 s of the best step: that step is scored without
    its phase (weights rescaled, said in the reasoning), not as if out of phase."""
    steps = protocol(0.0)
    amp = {6.5: 4.0, 6.0: 5.0, 5.5: 8.0, 5.0: 7.0, 4.5: 4.5}
    nn_t, nn_ms, rt, resp = paced_series(amp, steps)
    resp = resp.copy()
    resp[(rt > 318) & (rt < 360)] = np.nan
    out = assess_resonance(nn_t, nn_ms, steps, rt, resp)
    best = next(s for s in out["steps"] if s["rate_bpm"] == 5.5)
    assert out["resonance_rate_bpm"] == 5.5
    assert math.isnan(best["phase_deg"]) and "covers" in best["note"]
    assert any("no breathing signal for 5.5/min" in line for line in out["reasoning"])


def test_step_sources_are_robust_and_bad_ones_are_named():
    # a few empty cells inside a step do not split it
    t = np.arange(0, 30, 0.5)
    p = np.where(t < 10, np.nan, np.where(t < 20, 6.0, 5.0))
    p[24:27] = np.nan
    assert steps_from_pacer(t, p) == [PacedStep(6.0, 10.0, 20.0), PacedStep(5.0, 20.0, 30.0)]
    with pytest.raises(InputError, match=r"marker 'pacer 6\.5\.5' at 12\.0 s"):
        steps_from_markers([(12.0, "pacer 6.5.5")], 60.0)
    with pytest.raises(InputError, match="steps overlap"):
        assess_resonance(np.arange(5.0), np.full(5, 800.0), parse_steps("6@0:100,5@90:200"))
    with pytest.raises(InputError, match="settle time"):
        assess_resonance(np.arange(5.0), np.full(5, 800.0), protocol(), settle_s=-1.0)


def test_cli_reads_the_pacer_column_on_the_signals_clock(tmp_path, profiles, capsys):
    """A CSV whose time_s starts at 1000 s: the pacer column's steps are on the same clock as
    the signals (seconds from the first row); steps beyond the recording are named; a bad
    pacer value and a bad --settle-s are one-line errors (the latter before the file is read)."""
    from wot_simulators.physiology import write_csv

    sess = simulate_session(
        load_scenario("resonance"),
        SimConfig(ecg_fs=200.0, eda_fs=200.0, resp_fs=200.0, seed=5, resonance_bpm=5.0),
    )
    csv = tmp_path / "late.csv"
    write_csv(sess, csv, 200.0, time_offset=1000.0)
    assert main(["assess", str(csv), "--resonance"]) == 0
    assert "resonance rate: 5 breaths/min" in capsys.readouterr().out
    assert main(["assess", str(csv), "--resonance", "--steps", "6@600:720,5@800:920"]) == 0
    text = capsys.readouterr().out
    assert "5/min left out: outside the recording (0-720 s)" in text
    lines = csv.read_text().splitlines()
    lines[30001] = lines[30001].rsplit(",", 1)[0] + ",40"
    csv.write_text("\n".join(lines) + "\n")
    assert main(["assess", str(csv), "--resonance"]) == 2
    assert "pacer_bpm holds 40, outside 3-9" in capsys.readouterr().err
    assert main(["assess", str(tmp_path / "nope.csv"), "--resonance", "--settle-s", "nan"]) == 2
    assert "settle time nan" in capsys.readouterr().err


def test_live_protocol_paces_scores_and_ends_as_the_batch_assessment():
    """The live protocol, fed beats and breathing in uneven chunks as the session runs: its
    pacer changes come once each at their scheduled times, each step is scored once over, the
    running step has a provisional bar, and the result is the batch assessment's, exactly."""
    steps = protocol(30.0)
    amp = {6.5: 4.0, 6.0: 5.0, 5.5: 8.0, 5.0: 6.0, 4.5: 4.5}
    nn_t, nn_ms, rt, resp = paced_series(amp, steps)
    live = LiveResonance(steps)
    rng = np.random.default_rng(4)
    said, seen, t, fs = [], {}, 0.0, 100.0
    while t < steps[-1].end_s + 10.0:
        dt = float(rng.uniform(0.05, 2.0))
        # beats out of the detector come ~1 s late; the belt's samples as they are placed
        b = (nn_t >= t - 1.0) & (nn_t < t + dt - 1.0)
        live.add_beats(nn_t[b], nn_ms[b])
        i0, i1 = round(t * fs), round((t + dt) * fs)
        live.add_breathing(i0 / fs, fs, resp[i0:i1])
        t += dt
        said += live.advance(t)
        st = live.status()
        seen.setdefault(st["phase"], st)
        if st["phase"] == "pacing" and st["step"] == 2 and t > steps[2].start_s + 60:
            seen.setdefault("running", st)
    assert said == [(s.start_s, f"pacer {s.rate_bpm:g}") for s in steps] + [
        (steps[-1].end_s, "pacer off")
    ]
    assert list(seen) == ["waiting", "pacing", "running", "scoring", "done"]
    assert seen["waiting"]["next_in_s"] == pytest.approx(30.0, abs=2.1)
    run = seen["running"]
    assert run["rate_bpm"] == 5.5 and 0 < run["left_s"] < 60
    assert [r["usable"] for r in run["steps"][:2]] == [True, True]
    assert run["steps"][2]["provisional"] and run["steps"][2]["peak_trough_bpm"] > 10
    assert all(math.isnan(r["peak_trough_bpm"]) for r in run["steps"][3:])
    batch = assess_resonance(nn_t, nn_ms, steps, rt, resp)
    batch.update(complete=True, not_run=[])  # what the live result adds: it ran whole
    assert live.done and json.dumps(live.result, default=str) == json.dumps(batch, default=str)
    assert live.status()["result"]["resonance_rate_bpm"] == 5.5
    assert live.finish() is live.result


def test_live_protocol_cut_short_is_scored_on_what_it_had():
    steps = protocol(0.0, (6.0, 5.0, 4.5))
    nn_t, nn_ms, _rt, resp = paced_series({6.0: 3.0, 5.0: 7.0, 4.5: 4.0}, steps)
    live = LiveResonance(steps)
    end = steps[1].end_s + 30.0  # 30 s into the last step: too short to score
    live.add_beats(nn_t[nn_t < end], nn_ms[nn_t < end])
    live.add_breathing(0.0, 100.0, resp[: round(end * 100)])
    live.advance(end)
    out = live.finish()
    assert out["resonance_rate_bpm"] == 5.0
    assert [s["usable"] for s in out["steps"]] == [True, True, False]
    assert "ended 30 s into the 4.5/min step (of 120 s)" in out["reasoning"][-2]
    assert not out["complete"] and out["not_run"] == [4.5]
    assert "cut short: 4.5/min not (fully) run" in out["reasoning"][-1]
    between = LiveResonance(steps)  # ended between two steps: the rest named as not run
    between.add_beats(nn_t, nn_ms)
    between.advance(steps[0].end_s)
    got = between.finish()
    assert got["not_run"] == [5.0, 4.5] and len(got["steps"]) == 1 and not got["complete"]
    never = LiveResonance(protocol(600.0))
    never.advance(100.0)
    assert never.finish()["resonance_rate_bpm"] is None
    with pytest.raises(InputError, match="overlap"):
        LiveResonance([PacedStep(6.0, 0, 100), PacedStep(5.0, 50, 150)])


PACED_SCENARIO = """name = "paced-short"
[[segment]]
zone = "within"
duration_s = 40
[[segment]]
zone = "within"
duration_s = 80
pacer_bpm = 6.5
[[segment]]
zone = "within"
duration_s = 80
pacer_bpm = 5.5
[[segment]]
zone = "within"
duration_s = 80
pacer_bpm = 4.5
[[segment]]
zone = "within"
duration_s = 15
"""


@pytest.mark.lsl
@pytest.mark.timeout(150)
def test_live_protocol_over_lsl_equals_the_recordings_assessment(tmp_path, profiles, capsys):
    """``wot demo`` on a paced scenario runs the protocol live over LSL: the pacer's changes
    are markers at their scheduled times, the automatic cues are muted while it paces, the
    client's own rate is found, and ``wot assess`` on the session's recording, from those
    markers, gives the same result, step for step."""
    scen = tmp_path / "paced.toml"
    scen.write_text(PACED_SCENARIO)
    rec, live_json, off_json = tmp_path / "s.xdf", tmp_path / "live.json", tmp_path / "off.json"
    code = main([
        "demo", "--headless", "--scenario", str(scen), "--calibration", "30", "--speed", "40",
        "--resonance-rate", "5.5", "--resonance-out", str(live_json), "--record", str(rec),
        "--no-report",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "resonance assessment: 5.5 breaths/min" in out, out
    live = json.loads(live_json.read_text())
    assert main(["assess", str(rec), "--resonance", "--out", str(off_json)]) == 0
    off = json.loads(off_json.read_text())
    assert live["resonance_rate_bpm"] == off["resonance_rate_bpm"] == 5.5
    assert [(s["rate_bpm"], s["start_s"], s["end_s"]) for s in off["steps"]] == [
        (6.5, 40.0, 120.0), (5.5, 120.0, 200.0), (4.5, 200.0, 280.0)
    ]  # fmt: skip
    for a, b in zip(live["steps"], off["steps"], strict=True):
        for k in ("peak_trough_bpm", "lf_power_bpm2", "phase_deg", "breathing_bpm", "score"):
            assert a[k] == pytest.approx(b[k], rel=1e-9), (k, a, b)
        assert a["usable"] and a["followed"]
    assert live["margin"] == pytest.approx(off["margin"], rel=1e-9)
    from wot_biofeedback.session_log import Mute, SessionLog
    from wot_biofeedback.sources.files import read_recording
    from wot_biofeedback.sources.xdf import SESSION_STREAM, read_xdf

    r = read_recording(rec)
    texts = [(t, m) for t, m in r.markers if m.startswith(("pacer", "[engine] resonance"))]
    assert texts[:4] == [(40.0, "pacer 6.5"), (120.0, "pacer 5.5"), (200.0, "pacer 4.5"),
                         (280.0, "pacer off")]  # fmt: skip
    assert texts[4][1] == "[engine] resonance assessment: 5.5/min" and texts[4][0] >= 285.0
    log = SessionLog.parse(list(read_xdf(rec).by_name(SESSION_STREAM).time_series))
    mutes = [(e.muted, e.time_s) for e in log.of(Mute)]
    assert mutes == [(True, 40.0), (False, 280.0)]


def _idle_engine(source_id, **options):
    """An engine on a real (idle) LSL ECG stream, never started: its protocol decisions are
    driven by hand, as its worker drives them."""
    import pylsl

    from wot_biofeedback.engine import Engine
    from wot_biofeedback.sources.lsl import LslSource

    info = pylsl.StreamInfo("ecg", "ECG", 1, 250.0, pylsl.cf_float32, f"{source_id}-ecg")
    outlet = pylsl.StreamOutlet(info)
    engine = Engine({"ecg": LslSource("ecg", info)}, outlets_source_id=None, **options)
    return engine, outlet


def _said(engine):
    return [(t, m) for t, m in engine.markers]


@pytest.mark.lsl
def test_engine_protocol_mutes_cues_and_the_therapist_overrides_it(source_id):
    engine, _outlet = _idle_engine(source_id, resonance=protocol(10.0, (6.0, 5.0), 80.0))
    cues = engine.pipeline.cues
    engine._advance_resonance(5.0)
    assert not cues.muted and engine.snapshot().extra["resonance"]["phase"] == "waiting"
    engine._advance_resonance(10.0)
    assert cues.muted and _said(engine)[-1] == (10.0, "pacer 6")
    # the therapist unmutes during the protocol: that stands through the next step
    engine.mute_cues(False)
    engine._apply_commands()
    engine._advance_resonance(90.0)
    assert _said(engine)[-1] == (90.0, "pacer 5") and not cues.muted
    engine._advance_resonance(170.0)
    assert _said(engine)[-1] == (170.0, "pacer off") and not cues.muted

    # cut short mid-step: scored on what there was, named so, its mute undone
    short, _o2 = _idle_engine(f"{source_id}-b", resonance=protocol(10.0, (6.0, 5.0), 80.0))
    short._advance_resonance(10.0)
    assert short.pipeline.cues.muted
    short._advance_resonance(50.0, final=True)
    assert not short.pipeline.cues.muted
    assert _said(short)[-1] == (50.0, "[engine] resonance assessment: none found (cut short)")
    assert short.resonance_runs[-1]["not_run"] == [6.0, 5.0]
    assert short.snapshot().extra["resonance"]["phase"] == "done"


@pytest.mark.lsl
def test_engine_start_resonance_checks_in_the_caller_and_waits_for_calibration(source_id):
    engine, _outlet = _idle_engine(source_id)
    for bad in ({"rates": (12.0,)}, {"lead_s": -5.0}, {"settle_s": math.nan},
                {"step_s": 0.0}):  # fmt: skip
        with pytest.raises(InputError):
            engine.start_resonance(**bad)
    assert not engine._commands  # nothing reached the worker
    engine.start_resonance(rates=(6.0, 5.0), step_s=90.0)
    engine._apply_commands()  # at session 0, calibrating until 120 s: it starts then
    assert [(s.rate_bpm, s.start_s) for s in engine.resonance.steps] == [(6.0, 120.0), (5.0, 210.0)]
    assert _said(engine)[-1][1].startswith("[engine] resonance protocol: 6, 5/min, 90 s each")
