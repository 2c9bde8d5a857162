"""``--config FILE``: every field is range-checked on load, a bad one is a one-line error naming
the file and the field, and a good file loads exactly as written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wot_biofeedback import config as config_module
from wot_biofeedback.config import EngineConfig, config_from_dict, load_config
from wot_biofeedback.errors import InputError

WOT = [sys.executable, "-m", "wot_biofeedback.cli"]

# (TOML text, the field the message names, a fragment of the problem)
BAD = [
    ("[zones]\nupper = -1\nlower = 1\n", "zones.upper", "must be > 0 (got -1)"),
    ("[zones]\nlower = 0.5\n", "zones.lower", "must be < 0 (got 0.5)"),
    ("[zones]\nhysteresis = -0.3\n", "zones.hysteresis", "must be >= 0 (got -0.3)"),
    ("[zones]\nhysteresis = 2.0\n", "zones", "hysteresis 2 must be smaller than upper (1.5)"),
    ("[calibration]\nduration_s = 0\n", "calibration.duration_s", "must be > 0 (got 0)"),
    ("[calibration]\nstart_s = -10\n", "calibration.start_s", "must be >= 0 (got -10)"),
    ("[calibration]\nmin_coverage = 2\n", "calibration.min_coverage", "must be <= 1 (got 2)"),
    ("[zones]\nupper = nan\n", "zones.upper", "must be a finite number (got nan)"),
    ("[zones]\nupper = inf\n", "zones.upper", "must be a finite number (got inf)"),
    ("[zones]\nupper = 1e308\n", "zones.upper", "must be <= 20 (got 1e+308)"),
    ('[zones]\nupper = "1.5"\n', "zones.upper", "must be a number (got '1.5')"),
    ("[zones]\nupper = true\n", "zones.upper", "must be a number (got True)"),
    ("zones = 5\n", "zones", "not a table (got 5)"),
    ("frame_rate_hz = 0\n", "frame_rate_hz", "must be > 0 (got 0)"),
    ("frame_rate_hz = -4\n", "frame_rate_hz", "must be > 0 (got -4)"),
    ("[zones]\nclip = 0\n", "zones.clip", "must be > 0 (got 0)"),
    ("[zones]\nsmoothing_s = -1\n", "zones.smoothing_s", "must be >= 0 (got -1)"),
    ("[zones]\nconfirm_s = -1\n", "zones.confirm_s", "must be >= 0 (got -1)"),
    ("[zones]\nmin_dwell_s = nan\n", "zones.min_dwell_s", "must be a finite number"),
    ("[zones]\nmin_usable = 2\n", "zones.min_usable", "must be <= 1 (got 2)"),
    ("[zones]\nhypo_signature_z = 0.5\n", "zones.hypo_signature_z", "must be < 0 (got 0.5)"),
    ('[zones]\nfusion = "max"\n', "zones.fusion", "must be 'mean-median', 'mean' or 'median'"),
    ("[cues]\npacer_inhale_ratio = 1.5\n", "cues.pacer_inhale_ratio", "must be < 1 (got 1.5)"),
    ("[cues]\npacer_rate_bpm = 0\n", "cues.pacer_rate_bpm", "must be > 0 (got 0)"),
    ("[cues]\nrepeat_s = -5\n", "cues.repeat_s", "must be > 0 (got -5)"),
    ("[cues]\nmin_interval_s = inf\n", "cues.min_interval_s", "must be a finite number"),
    ("max_corrected_share = 2\n", "max_corrected_share", "must be <= 1 (got 2)"),
    ("eda_min_amplitude_us = -1\n", "eda_min_amplitude_us", "must be > 0 (got -1)"),
    ("[features.hr_bpm]\nweight = nan\n", "features.hr_bpm.weight", "must be a finite number"),
    ("[features.hr_bpm]\nweight = inf\n", "features.hr_bpm.weight", "must be a finite number"),
    ("[features.hr_bpm]\nweight = -1\n", "features.hr_bpm.weight", "must be >= 0 (got -1)"),
    ("[features.hr_bpm]\nfloor = 0\n", "features.hr_bpm.floor", "must be > 0 (got 0)"),
    ("[features.hr_bpm]\nfloor = inf\n", "features.hr_bpm.floor", "must be a finite number"),
    ("[features.hr_bpm]\nsign = 0\n", "features.hr_bpm.sign", "must be 1 or -1 (got 0)"),
    ('[features.hr_bpm]\ntransform = "sqrt"\n', "features.hr_bpm.transform", "'linear' or 'log'"),
    ("[features.hr_bpm]\nquality = 5\n", "features.hr_bpm.quality", "must be text (got 5)"),
    ('[features.hr_bpm]\nquality = "q_ecg"\n', "features.hr_bpm.quality", "(got 'q_ecg')"),
    ('[features.hr_bpm]\nzero_abstains = "yes"\n', "features.hr_bpm.zero_abstains", "true or"),
    (f'[features.hr_bpm]\nlabel = "{"x" * 100}"\n', "features.hr_bpm.label", "longer than 64"),
    ("[features.foo]\nweight = 1\n", "features.foo", "unknown feature (known: hr_bpm, "),
    ("[zones]\nuper = 1.5\n", "zones.uper", "unknown key (known: upper, lower, "),
    ("frame_rate = 4\n", "frame_rate", "unknown key (known: frame_rate_hz, "),
]


@pytest.mark.parametrize(("text", "field", "problem"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_a_bad_config_is_one_line_naming_the_file_and_the_field(tmp_path, text, field, problem):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(path)
    msg = str(info.value)
    print(msg)
    assert msg.startswith(f"config {path}: {field}: ")
    assert problem in msg
    assert "\n" not in msg and len(msg) < 300


def _toml(d: dict, prefix: str = "") -> str:
    """A TOML file of ``EngineConfig.to_dict()`` (floats, strings and booleans in tables)."""
    head = [f"{k} = {json.dumps(v)}" for k, v in d.items() if not isinstance(v, dict)]
    text = (f"[{prefix}]\n" if prefix and head else "") + "".join(h + "\n" for h in head)
    for k, v in d.items():
        if isinstance(v, dict):
            text += _toml(v, f"{prefix}.{k}" if prefix else k)
    return text


def test_a_good_config_loads_as_written(tmp_path):
    """Every field written out with its default value loads back equal to the defaults; the
    docstring's example and an empty file load; whole numbers stay floats."""
    defaults = EngineConfig().to_dict()
    full = tmp_path / "full.toml"
    full.write_text(_toml(defaults))
    assert "[features.hr_bpm]" in full.read_text() and "hysteresis = 0.3" in full.read_text()
    assert load_config(full).to_dict() == defaults
    (tmp_path / "empty.toml").write_text("")
    assert load_config(tmp_path / "empty.toml").to_dict() == defaults
    doc = config_module.__doc__.split("Example::")[1]
    example = tmp_path / "example.toml"
    example.write_text("\n".join(line.strip() for line in doc.splitlines()))
    cfg = load_config(example)
    assert cfg.zones.lower == -1.5 and cfg.calibration.duration_s == 120.0
    assert isinstance(cfg.calibration.start_s, float)  # written as 0
    changed = tmp_path / "changed.toml"
    changed.write_text("frame_rate_hz = 2\n[zones]\nupper = 2\nhysteresis = 0\n")
    want = {**defaults, "frame_rate_hz": 2.0}
    want["zones"] = {**defaults["zones"], "upper": 2.0, "hysteresis": 0.0}
    assert load_config(changed).to_dict() == want


def test_recorded_parameters_are_checked_as_a_file_is():
    """``config_from_dict`` (a recording's stored parameters) takes the full ``to_dict`` and
    refuses what ``load_config`` refuses."""
    d = EngineConfig().to_dict()
    assert config_from_dict(d).to_dict() == d
    d["zones"]["upper"] = -1.0
    with pytest.raises(InputError, match=r"^config: zones\.upper: must be > 0"):
        config_from_dict(d)


def test_the_cli_stops_with_exit_2_before_writing_anything(tmp_path):
    """``upper = nan`` used to get as far as writing half a summary.json; now ``wot analyze``
    stops at the config with one line and writes nothing."""
    from wot_simulators import load_scenario, simulate_to_csv

    src = tmp_path / "x.csv"
    simulate_to_csv(load_scenario("calm"), 1, src, fs=50.0, duration_s=30.0)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[zones]\nupper = nan\n")
    out = tmp_path / "out"
    r = subprocess.run(
        [*WOT, "analyze", str(src), "--out", str(out), "--config", str(cfg)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr == f"wot: error: config {cfg}: zones.upper: must be a finite number (got nan)\n"
    assert not out.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"zones": {"a\nb": 1}}, r"zones\.'a\\nb': unknown key"),
        ({"features": {"a\nb": 1}}, r"features\.'a\\nb': unknown feature"),
        ({"": 1}, r"config: '': unknown key"),
    ],
)
def test_a_key_with_a_line_break_is_named_on_one_line(values, field):
    """A quoted TOML key may hold any text; the error names it quoted (found by
    tests/test_fuzz.py: the message ran over two lines)."""
    with pytest.raises(InputError, match=field) as exc:
        config_from_dict(values)
    assert "\n" not in str(exc.value)


def test_a_config_file_that_is_not_utf8_or_not_a_file_is_one_line_naming_it(tmp_path):
    """tomllib decodes the bytes itself: UnicodeDecodeError, and a folder IsADirectoryError,
    came out of load_config as they were (found by tests/test_fuzz.py)."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[zones]\nupper = 1.5 # \xe9\n")
    with pytest.raises(InputError, match=r"latin1\.toml is not valid TOML: not UTF-8 text"):
        load_config(path)
    with pytest.raises(InputError, match=r"config file .* cannot be read \(Is a directory\)"):
        load_config(tmp_path)
