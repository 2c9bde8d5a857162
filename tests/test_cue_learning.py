"""Personal cue selection (issue 23, part 3): the policy learns from a client's sessions which
cues bring them back, explains each choice, obeys the therapist's pins and bans, and keeps
live and offline choices the same."""

from __future__ import annotations

import json

import numpy as np
import pytest
from wot_simulators import load_scenario, simulate_to_csv
from wot_simulators.cue_response import make_client, run_sessions

from wot_biofeedback.cli import main
from wot_biofeedback.config import CueConfig, EngineConfig
from wot_biofeedback.cues import CuePolicy
from wot_biofeedback.errors import InputError
from wot_biofeedback.profiles import apply_window, cue_records, load_profile


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    d = tmp_path / "profiles"
    monkeypatch.setenv("WOT_PROFILE_DIR", str(d))
    return d


def test_learning_finds_each_clients_effective_cues_where_rotation_cannot():
    """20 simulated clients, 10 sessions: the share of given cues that are the client's
    effective ones rises from the first session to >= 0.7 over the last three, and the time
    back to the window falls; the fixed rotation stays at chance (4 of 9 cues)."""
    learn = [run_sessions(make_client(c), 10, 6, "learn") for c in range(20)]
    rotate = [run_sessions(make_client(c), 10, 6, "rotate") for c in range(20)]
    share = np.array([[s["effective_share"] for s in run] for run in learn]).mean(axis=0)
    back = np.median([[s["median_back_s"] for s in run] for run in learn], axis=0)
    chance = np.array([[s["effective_share"] for s in run] for run in rotate]).mean()
    rot_back = np.median([[s["median_back_s"] for s in run] for run in rotate])
    assert 0.35 <= chance <= 0.55
    assert share[0] < share[-3:].mean() and share[-3:].mean() >= 0.7
    assert back[-3:].mean() < 0.7 * back[0] and back[-3:].mean() < 0.6 * rot_back


def test_choice_is_explained_pinned_banned_and_deterministic():
    learned = [
        {"id": "name-it", "given": 8, "returned": 7, "median_back_s": 35.0, "sessions": 4},
        {"id": "slow-exhale", "given": 8, "returned": 0, "median_back_s": 160.0, "sessions": 4},
    ]
    cfg = CueConfig(min_interval_s=0.0, repeat_s=1.0, learned=learned)
    pol = CuePolicy(cfg)
    cues = [pol.update(2.0 * t, "hyper") for t in range(40)]
    ids = [c.cue_id for c in cues]
    assert ids.count("name-it") > 20 and ids.count("slow-exhale") < 4
    strong = next(c for c in cues if c.cue_id == "name-it")
    assert strong.why == "chosen: back within 1 s 7 of 8 times over 4 past sessions, median 35 s"
    # the cues never given to this client are tried first, once each, in library order
    tried = [c.cue_id for c in cues if c.why == "tried first: not given to this client before"]
    assert tried == ["follow-pacer", "orient-see-three", "arousal-helps"] == ids[:3]
    assert any(c.why.startswith("still exploring: back within 1 s 0 of") for c in cues)
    # the same configuration and zones give the same cues (an offline analysis of a recording
    # makes the choices its live session made)
    again = CuePolicy(CueConfig(min_interval_s=0.0, repeat_s=1.0, learned=learned))
    assert [again.update(2.0 * t, "hyper").cue_id for t in range(40)] == ids
    # pins and bans
    pinned = CuePolicy(CueConfig(min_interval_s=0.0, repeat_s=1.0, pinned=["orient-see-three"]))
    got = [pinned.update(2.0 * t, "hyper") for t in range(5)]
    assert {c.cue_id for c in got} == {"orient-see-three"}
    assert got[0].why == "pinned by the therapist"
    assert pinned.update(20.0, "hypo").cue_id != "orient-see-three"  # a pin holds its direction
    down = ["slow-exhale", "follow-pacer", "orient-see-three", "name-it"]
    banned = CuePolicy(CueConfig(min_interval_s=0.0, repeat_s=1.0, banned=down))
    assert {banned.update(2.0 * t, "hyper").cue_id for t in range(10)} == {"arousal-helps"}


def test_the_sessions_own_outcomes_count_at_once():
    """Within one session: a client who comes back (within repeat_s) only after one cue gets
    that cue more and more often, and is told it worked today."""
    pol = CuePolicy(CueConfig(min_interval_s=0.0, repeat_s=90.0, seed=3))
    target = pol.update(0.0, "hyper").cue_id
    pol.update(30.0, "within")  # back 30 s after it
    t, chosen = 100.0, []
    for _ in range(16):
        cue = pol.update(t, "hyper")
        chosen.append(cue)
        t += 30.0 if cue.cue_id == target else 95.0  # the others: not back within 90 s
        pol.update(t, "within")
        t += 70.0
    late = [c.cue_id == target for c in chosen[8:]]
    assert sum(late) >= 6, [c.cue_id for c in chosen]
    assert any("times today" in c.why for c in chosen if c.cue_id == target)


def test_sessions_feed_the_profile_and_the_next_session_learns(profiles, tmp_path, capsys):
    """Two analyses of a stress-and-recovery recording with --profile: each session keeps its
    cues and the time back after each; the profile's record per cue is what the next
    session's policy reads; pins and bans are set with ``wot cues --profile``."""
    csv = tmp_path / "sr.csv"
    simulate_to_csv(load_scenario("stress-and-recovery"), 3, csv, fs=50.0)
    for k in range(2):
        assert (
            main(["analyze", str(csv), "--out", str(tmp_path / f"a{k}"), "--profile", "eve"]) == 0
        )
    prof = load_profile("eve", EngineConfig())
    cues = [c for s in prof["sessions"] for c in s["cues"]]
    assert cues and all(c["zone"] in ("hyper", "hypo") and c["cue_id"] for c in cues)
    records = cue_records(prof, 90.0)
    assert sum(r["given"] for r in records) == len(cues)
    assert all(r["returned"] <= r["given"] and r["sessions"] >= 1 for r in records)
    cfg = EngineConfig()
    apply_window(prof, cfg)
    assert [r.id for r in cfg.cues.learned] == [r["id"] for r in records]
    summary = json.loads((tmp_path / "a1" / "summary.json").read_text())
    assert all(c["why"] for c in summary["cues"] if c["zone"] in ("hyper", "hypo"))
    capsys.readouterr()
    assert main(["cues", "--profile", "eve", "--pin", "name-it", "--ban", "energise"]) == 0
    out = capsys.readouterr().out
    assert "pins and bans saved" in out and "name-it" in out and "pinned" in out
    prof = load_profile("eve", EngineConfig())
    assert prof["cue_prefs"] == {"pinned": ["name-it"], "banned": ["energise"]}
    # a new pin of the same direction replaces the old one; banning a pinned cue unpins it
    assert main(["cues", "--profile", "eve", "--pin", "arousal-helps"]) == 0
    assert load_profile("eve", EngineConfig())["cue_prefs"]["pinned"] == ["arousal-helps"]
    assert main(["cues", "--profile", "eve", "--ban", "arousal-helps", "--unban", "energise"]) == 0
    assert load_profile("eve", EngineConfig())["cue_prefs"] == {
        "pinned": [],
        "banned": ["arousal-helps"],
    }
    # the client history report shows the record per cue and the bans
    assert main(["report", "--client", "eve", "--out", str(tmp_path / "hist")]) == 0
    page = (tmp_path / "hist" / "client.html").read_text(encoding="utf-8")
    reg = page[page.index('<section id="regulation">') :]
    assert "Regulation: what works for this client" in reg and "No resonance assessment" in reg
    top = max(records, key=lambda r: r["given"])
    assert f"<td>{top['id']}</td>" in reg and f"<td>{top['given']}</td>" in reg
    assert "banned" in reg


def test_bad_cue_preferences_are_refused(profiles, capsys):
    assert main(["cues", "--pin", "name-it"]) == 2
    assert "need --profile" in capsys.readouterr().err
    assert main(["cues", "--profile", "zed", "--ban", "nope"]) == 2
    assert "no cue 'nope' in the library" in capsys.readouterr().err
    profiles.mkdir(parents=True)
    prof = {
        "format": "wot-biofeedback client profile", "version": 1, "schema": 2,
        "window": {"upper": 1.5, "lower": -1.0}, "sessions": [], "assessments": [],
        "cue_prefs": {"pinned": "name-it"},
    }  # fmt: skip
    (profiles / "bad.json").write_text(json.dumps(prof))
    with pytest.raises(InputError, match=r"cue_prefs\.pinned"):
        load_profile("bad", EngineConfig())


def test_outcomes_are_resolved_once_and_therapist_cues_do_not_shift_the_draws():
    """A cue worked when the client was back within repeat_s, before another cue; a cue the
    therapist asks for takes no draw and no turn, so the automatic cues that follow are the
    ones an offline analysis (which never sees the button) makes."""
    pol = CuePolicy(CueConfig(min_interval_s=0.0, repeat_s=90.0))
    down = pol.update(0.0, "hyper")
    up = pol.update(40.0, "hypo")  # overshot into hypo: the down cue did not bring them back
    pol.update(60.0, "within")
    assert down.returned is False and up.returned is True
    slow = pol.update(200.0, "hyper")
    pol.update(295.0, "within")  # back, but later than 90 s
    assert slow.returned is False
    zones = [("hyper", "within")[k % 2] for k in range(60)]

    def run(press: bool) -> list[str]:
        learned = [{"id": "name-it", "given": 4, "returned": 3, "sessions": 2}]
        p = CuePolicy(CueConfig(min_interval_s=0.0, repeat_s=90.0, learned=learned, seed=7))
        out = []
        for k, z in enumerate(zones):
            if press and k == 10:
                assert p.send_now(50.0 * k, "hyper").source == "therapist"
            c = p.update(50.0 * k, z)
            if c is not None and c.source == "auto" and z == "hyper":
                out.append(c.cue_id)
        return out

    assert run(True) == run(False)


def test_recordings_from_before_cue_selection_replay_in_turn():
    from wot_biofeedback.offline import recorded_setup

    params = EngineConfig().to_dict()
    del params["cues"]["selection"]
    cfg, _base, _notes = recorded_setup({"parameters": params}, None, None)
    assert cfg is not None and cfg.cues.selection == "rotate"
    cfg, _base, _notes = recorded_setup({"parameters": EngineConfig().to_dict()}, None, None)
    assert cfg is not None and cfg.cues.selection == "learn"


def test_cue_preferences_are_checked(profiles, tmp_path, capsys):
    csv = tmp_path / "calm.csv"
    simulate_to_csv(load_scenario("calm"), 1, csv, fs=50.0, duration_s=200.0)
    assert main(["cues", "--profile", "ann", "--ban", "name-it"]) == 2
    assert "no profile 'ann' yet" in capsys.readouterr().err
    assert main(["analyze", str(csv), "--out", str(tmp_path / "a"), "--profile", "ann"]) == 0
    capsys.readouterr()
    up_cues = ["feet-on-floor", "orient-name-three", "energise", "body-contact"]
    cases = [
        (["--pin", "in-your-window"], "back-in-the-window cue"),
        (["--pin", "name-it", "--unpin", "name-it"], "two options that undo each other"),
        (["--pin", "name-it", "--ban", "name-it"], "two options that undo each other"),
        ([a for c in up_cues for a in ("--ban", c)], "ban every up cue"),
    ]
    for extra, msg in cases:
        assert main(["cues", "--profile", "ann", *extra]) == 2, extra
        assert msg in capsys.readouterr().err, extra
    prof = json.loads((profiles / "ann.json").read_text())
    assert "cue_prefs" not in prof  # nothing refused was saved
    prof["sessions"][0]["cues"] = [{"cue_id": "Big Id", "zone": "hyper"}]
    (profiles / "ann.json").write_text(json.dumps(prof))
    with pytest.raises(InputError, match=r"sessions.*cue_id") as err:
        load_profile("ann", EngineConfig())
    assert "\n" not in str(err.value)
