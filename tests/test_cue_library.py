"""The regulation cue library (issue 23, part 2): kinds, directions, the pacer each needs, the
built-in defaults with their references, and a library the therapist edits as TOML."""

from __future__ import annotations

import tomllib

import pytest

from wot_biofeedback.cli import main
from wot_biofeedback.config import CueConfig, load_config
from wot_biofeedback.cues import DEFAULT_LIBRARY, CuePolicy, library, library_toml
from wot_biofeedback.errors import InputError


def test_default_library_has_both_approaches_for_each_direction_with_references():
    by = {(c.direction, c.approach) for c in DEFAULT_LIBRARY}
    for direction in ("down", "up"):
        assert {(direction, "bottom-up"), (direction, "top-down")} <= by
    assert any(c.direction == "steady" for c in DEFAULT_LIBRARY)
    assert all(c.reference for c in DEFAULT_LIBRARY)
    ids = [c.id for c in DEFAULT_LIBRARY]
    assert len(ids) == len(set(ids))
    families = {c.family for c in DEFAULT_LIBRARY}
    assert {"breath", "grounding", "orienting", "movement", "naming", "reappraisal"} <= families
    # only the breath cues show a pacer: the resonance one going down, an energising one up
    pacers = {c.id: c.pacer for c in DEFAULT_LIBRARY if c.pacer != "none"}
    assert pacers == {"slow-exhale": "resonance", "follow-pacer": "resonance",
                      "energise": "energising"}  # fmt: skip


def test_policy_takes_each_directions_cues_in_turn_with_their_pacer():
    cfg = CueConfig(pacer_rate_bpm=5.5, min_interval_s=0.0, repeat_s=10.0, selection="rotate")
    pol = CuePolicy(cfg)
    got = [pol.update(float(t), "hyper") for t in range(0, 60, 10)]
    down = [c.id for c in DEFAULT_LIBRARY if c.direction == "down"]
    assert [c.cue_id for c in got] == (down * 2)[:6]
    first = got[0]
    assert first.approach == "bottom-up" and first.family == "breath"
    assert first.pacer == {"rate_bpm": 5.5, "inhale_ratio": 0.4}
    top = next(c for c in got if c.approach == "top-down")
    assert top.pacer is None  # a top-down cue needs no pacer: the client view hides it
    up = pol.update(100.0, "hypo")
    assert up.cue_id == "feet-on-floor" and up.pacer is None
    rec = up.to_dict()
    assert rec["cue_id"] == "feet-on-floor" and rec["approach"] == "bottom-up"
    # the therapist's own words: no library cue, the pacer of the direction
    own = pol.send_now(120.0, "hyper", "Let's pause.")
    assert own.cue_id == "" and own.pacer["rate_bpm"] == 5.5


def test_a_library_edited_as_toml_replaces_the_defaults(tmp_path, capsys):
    """``wot cues`` prints the library as [[cues.library]] tables; the file, edited and given
    with --config, is the library in effect (and it prints back the same)."""
    assert main(["cues"]) == 0
    text = capsys.readouterr().out
    assert text.count("[[cues.library]]") == len(DEFAULT_LIBRARY)
    doc = tomllib.loads(text)
    assert [c["id"] for c in doc["cues"]["library"]] == [c.id for c in DEFAULT_LIBRARY]
    mine = [c for c in doc["cues"]["library"] if c["direction"] != "down"]
    mine.append({"id": "hum", "text": "Hum softly on the out-breath.", "direction": "down",
                 "approach": "bottom-up", "family": "breath", "modality": "breath",
                 "pacer": "resonance", "reference": "a therapist's own"})  # fmt: skip
    cfg_file = tmp_path / "mine.toml"
    body = library_toml(tuple(CueConfig(library=mine).library))
    cfg_file.write_text("[cues]\nrepeat_s = 60\n\n" + body)
    cfg = load_config(cfg_file)
    assert [c.id for c in library(cfg.cues) if c.direction == "down"] == ["hum"]
    cue = CuePolicy(cfg.cues).update(0.0, "hyper")
    assert cue.cue_id == "hum" and cue.text == "Hum softly on the out-breath."
    assert main(["cues", "--config", str(cfg_file)]) == 0
    assert "configured in" in capsys.readouterr().out
    # the configuration (and so a recording's stored parameters) carries the library itself
    assert cfg.to_dict()["cues"]["library"][-1]["id"] == "hum"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('id = "a"\ntext = "x"\ndirection = "sideways"', "direction"),
        ('id = "Big Id"\ntext = "x"\ndirection = "down"', "id"),
        ('id = "a"\ntext = ""\ndirection = "down"', "text"),
        ('id = "a"\ntext = "x"\ndirection = "down"\npacer = "fast"', "pacer"),
    ],
)
def test_a_bad_library_entry_is_a_one_line_error_naming_it(tmp_path, body, message):
    rest = 'approach = "bottom-up"\nfamily = "breath"\nmodality = "breath"\n'
    f = tmp_path / "bad.toml"
    f.write_text(f"[[cues.library]]\n{body}\n{rest}")
    with pytest.raises(InputError) as err:
        load_config(f)
    assert "cues.library[0]" in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_library_needs_a_cue_for_each_direction_and_unique_ids(tmp_path):
    one = {"text": "x", "approach": "bottom-up", "family": "breath", "modality": "breath"}
    with pytest.raises(ValueError, match="none for up, steady"):
        CueConfig(library=[{**one, "id": "a", "direction": "down"}])
    lib = [{**one, "id": "a", "direction": d} for d in ("down", "up", "steady")]
    with pytest.raises(ValueError, match="repeated: a"):
        CueConfig(library=lib)
