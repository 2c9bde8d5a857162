"""``Pipeline.hold`` (the live engine): slow signals held until they complete a frame.

The live engine reads every 20 ms, which brings a 32-Hz skin-conductance channel one sample or
none; with ``hold`` such chunks wait until they complete a frame and go through the channel as
one (issue 20: the cost per client). The promise tested here: the same frames, in the same
step, and the same events in the end, as without it; only SCRs and breaths may come later,
and never by more than one frame period of signal.
"""

from __future__ import annotations

import numpy as np
import pytest
from wot_simulators import SimConfig, load_scenario, simulate_session

from wot_biofeedback import modalities
from wot_biofeedback.config import EngineConfig
from wot_biofeedback.pipeline import Pipeline

RATES = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}


def _signals(seconds: float, seed: int) -> dict[str, np.ndarray]:
    sess = simulate_session(load_scenario("full-session"), SimConfig(seed=seed), seconds)
    return {m: sess.signal(m) for m in RATES}


def _run(sig: dict[str, np.ndarray], hold: bool, step_s: float, rng_seed: int) -> dict:
    """Push ``sig`` as the live engine would: every ``step_s`` (jittered) the samples now due
    of every stream; frames per step, and every event with the step that reported it."""
    cfg = EngineConfig()
    cfg.calibration.duration_s = 30.0
    pipe = Pipeline(RATES, cfg)
    pipe.hold = hold
    rng = np.random.default_rng(rng_seed)
    pos = dict.fromkeys(RATES, 0)
    t, step = 0.0, 0
    frames: list[tuple[int, int, float, str]] = []
    events: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {}

    def keep(out_events: dict, at: int) -> None:
        for m, ev in out_events.items():
            for k, v in ev.items():
                events.setdefault((m, k), []).append((at, np.asarray(v)))

    n_total = {m: len(x) for m, x in sig.items()}
    while any(pos[m] < n_total[m] for m in RATES):
        t += step_s * rng.uniform(0.3, 1.7)
        for m, x in sig.items():
            upto = min(n_total[m], int(t * RATES[m]))
            if upto > pos[m]:
                out = pipe.push(m, x[pos[m] : upto], 0.0)
                pos[m] = upto
                frames += [(step, f.index, f.state.arousal, f.state.zone) for f in out.frames]
                keep(out.events, step)
        step += 1
    frames += [(step, f.index, f.state.arousal, f.state.zone) for f in pipe.flush()]
    keep(pipe.finish_events(), step)
    return {"frames": frames, "events": events, "steps": step}


@pytest.fixture(scope="module")
def signals() -> dict[str, np.ndarray]:
    return _signals(150.0, seed=3)


@pytest.mark.parametrize(("step_s", "rng_seed"), [(0.02, 1), (0.05, 2), (0.005, 3)])
def test_same_frames_in_the_same_step(signals: dict, step_s: float, rng_seed: int) -> None:
    plain = _run(signals, False, step_s, rng_seed)
    held = _run(signals, True, step_s, rng_seed)
    assert len(plain["frames"]) > 500
    assert any(z != "unknown" for *_x, z in plain["frames"])  # classified, not only calibrating
    # bit for bit (NaN where unknown): compare as text of the float's bits
    assert [(s, i, np.float64(a).tobytes(), z) for s, i, a, z in held["frames"]] == [
        (s, i, np.float64(a).tobytes(), z) for s, i, a, z in plain["frames"]
    ]


def test_same_events_at_most_one_frame_later(signals: dict) -> None:
    plain = _run(signals, False, 0.02, 1)
    held = _run(signals, True, 0.02, 1)
    assert set(held["events"]) == set(plain["events"])
    later = 0
    for key, parts in plain["events"].items():
        a = np.concatenate([v for _s, v in parts]) if parts else np.empty(0)
        b = np.concatenate([v for _s, v in held["events"][key]])
        np.testing.assert_array_equal(b, a, err_msg=f"{key}")
        m = key[0]
        # the step each event came in: the same for the prompt signals (beats), and for the
        # held ones at most one frame period (0.25 s; 13 steps of 20 ms, with jitter) later
        when_a = np.concatenate([np.full(len(v), s) for s, v in parts]) if parts else []
        when_b = np.concatenate([np.full(len(v), s) for s, v in held["events"][key]])
        if modalities.get(m).prompt:
            np.testing.assert_array_equal(when_b, when_a)
        else:
            assert np.all(when_b >= when_a) and np.all(when_b - when_a <= 13), key
            later += int(np.sum(when_b > when_a))
    assert later > 0  # some SCR or breath did come later: the hold was at work


def test_the_engine_holds_only_the_slow_signals() -> None:
    prompt = {m for m in modalities.NAMES if modalities.get(m).prompt}
    assert prompt == {m for m in modalities.NAMES if modalities.get(m).role == "cardiac"} | {"acc"}
    pipe = Pipeline(RATES, EngineConfig())
    pipe.hold = True
    pipe.push("eda", np.zeros(1), 0.0)  # the sample of frame 0 (t = 0): at once
    assert pipe.channels["eda"].n_samples == 1
    pipe.push("eda", np.zeros(3), 0.0)  # 3 of the 8 more that frame 1 (0.25 s) needs: held
    assert pipe.channels["eda"].n_samples == 1
    pipe.push("eda", np.zeros(5), 0.0)  # the 8th: all 8 through the channel as one
    assert pipe.channels["eda"].n_samples == 9 and pipe.channels["eda"].next_frame == 2
    pipe.push("eda", np.zeros(2), 0.0)
    pipe.push("ecg", np.zeros(5), 0.0)  # beats: never held
    assert pipe.channels["ecg"].n_samples == 5 and pipe.channels["eda"].n_samples == 9
    pipe.flush()  # the end releases what is held
    assert pipe.channels["eda"].n_samples == 11


def _rsa_with_late_eda(sig: dict[str, np.ndarray], chunk_s: float, late_s: float) -> np.ndarray:
    """Frames' ``rsa_ms`` when skin conductance starts ``late_s`` after the rest."""
    pipe = Pipeline(RATES, EngineConfig())
    rsa: list[float] = []
    t = 0.0
    end = len(sig["ecg"]) / RATES["ecg"]
    while t < end:
        for m, x in sig.items():
            t0 = late_s if m == "eda" else 0.0
            a, b = (max(0.0, u - t0) for u in (t, t + chunk_s))
            part = x[int(a * RATES[m]) : int(b * RATES[m])]
            if len(part):
                rsa += [f.features["rsa_ms"] for f in pipe.push(m, part, t0).frames]
        t += chunk_s
    rsa += [f.features["rsa_ms"] for f in pipe.flush()]
    return np.array(rsa)


def test_rsa_does_not_depend_on_chunking_when_a_stream_starts_late() -> None:
    """Fusion waits minutes for a stream that starts late while breaths keep coming: the
    breaths the waiting frames need were dropped after 120 s of breathing, sooner or later
    depending on the chunk size (found in review, 2026-12-06)."""
    sig = _signals(420.0, seed=5)
    sig["eda"] = sig["eda"][: int((420.0 - 200.0) * RATES["eda"])]
    ref = _rsa_with_late_eda(sig, 1.0, 200.0)
    # measured from the start (the breaths the waiting frames need are kept): 752 of the
    # first 800 frames; dropped after 120 s of breathing, 485 were
    assert np.isfinite(ref[:800]).sum() > 700
    for chunk_s in (10.0, 60.0):
        np.testing.assert_array_equal(_rsa_with_late_eda(sig, chunk_s, 200.0), ref)


def test_a_bad_chunk_is_refused_at_once_and_what_is_held_is_kept() -> None:
    """Held or not, a chunk that is not a signal is an error naming it, when it comes; the
    samples held before it are not lost with it."""
    from wot_biofeedback.errors import InputError

    pipe = Pipeline(RATES, EngineConfig())
    pipe.hold = True
    pipe.push("eda", np.zeros(1), 0.0)  # frame 0
    pipe.push("eda", np.full(3, 5.0), 0.0)  # held
    with pytest.raises(InputError, match="eda chunk must be numeric"):
        pipe.push("eda", np.array(["a", "b"]), 0.0)
    with pytest.raises(InputError, match="eda chunk must be one-dimensional"):
        pipe.push("eda", np.zeros((2, 2)), 0.0)
    pipe.push("eda", np.full(5, 5.0), 0.0)  # 3 held + 5: frame 1 complete
    ch = pipe.channels["eda"]
    assert ch.n_samples == 9 and ch.next_frame == 2
