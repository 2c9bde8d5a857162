"""Windowed sums over trimmed event logs: the same to the bit for any chunking, however long
the session (the breathing and skin-conductance logs are trimmed where a chunk ends)."""

from __future__ import annotations

import numpy as np
import pytest
from wot_simulators import SimConfig, load_scenario, simulate_session

from wot_biofeedback.dsp.channels import EdaChannel
from wot_biofeedback.dsp.events import EventLog
from wot_biofeedback.dsp.resp import RespChannel

FS = {"eda": 32.0, "resp": 50.0}


@pytest.fixture(scope="module")
def long_signals() -> dict[str, np.ndarray]:
    """40 simulated minutes of breathing (about 600 breaths: the log is trimmed along the way),
    and 45 minutes of skin conductance with a response every 2.5-5.5 s (the simulator's few
    responses would never fill the log)."""
    cfg = SimConfig(resp_fs=FS["resp"], seed=11)
    resp = simulate_session(load_scenario("full-session"), cfg, 2400.0).signal("resp")
    fs = FS["eda"]
    t = np.arange(int(2700 * fs)) / fs
    rng = np.random.default_rng(5)
    onsets = np.cumsum(rng.uniform(2.5, 5.5, 800))
    eda = 5.0 + 0.0002 * t + 0.002 * rng.standard_normal(t.size)
    for o, a in zip(onsets[onsets < 2690], rng.uniform(0.05, 0.6, 800), strict=False):
        d = t[t >= o] - o
        eda[t >= o] += a * (np.exp(-d / 4.0) - np.exp(-d / 0.75)) / 0.54  # a Bateman response
    return {"resp": resp, "eda": eda}


def _features(channel, x: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    outs, i, k = [], 0, 0
    while i < x.size:
        outs.append(channel.update(x[i : i + sizes[k % len(sizes)]]))
        i, k = i + sizes[k % len(sizes)], k + 1
    done = [o for o in outs if o.n_frames]
    return {n: np.concatenate([o.features[n] for o in done]) for n in done[-1].features}


@pytest.mark.parametrize("modality", ["resp", "eda"])
def test_long_session_features_do_not_depend_on_chunking(long_signals, modality):
    make = {"resp": RespChannel, "eda": EdaChannel}[modality]
    fs = FS[modality]
    x = long_signals[modality]
    first = make(fs)
    ref = _features(first, x, [int(fs)])  # 1-s chunks, as live
    log = first._onsets if modality == "resp" else first._log
    # trimmed along the way: the running sums carry the dropped rows on
    assert log.cums()[0].any()
    for sizes in ([int(60 * fs)], [int(10 * fs)], [7, 301, 1999, 13]):
        got = _features(make(fs), x, sizes)
        for name, v in ref.items():
            assert v.tobytes() == got[name].tobytes(), f"{name} differs in chunks of {sizes}"


def test_window_sums_carry_trimmed_rows_on():
    """A sum over a trimmed log equals, to the bit, the running sum over every row ever logged
    (a running sum restarted where the log was trimmed rounds differently)."""
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.uniform(0.5, 2.0, 600))
    v = rng.normal(0.3, 1.0, 600) * 10.0 ** rng.integers(-3, 4, 600)  # rounding that shows
    full = np.concatenate(([0.0], np.cumsum(v)))
    log = EventLog("v", summed=("v",))
    for a in range(0, 600, 50):
        log.append(time=t[a : a + 50], confirm=np.arange(a, a + 50), v=v[a : a + 50])
        n = len(log)
        lo, hi = np.array([n - 10, 0]), np.array([n, n])
        cum = log.cums()[:, 0]
        got = cum[hi] - cum[lo]
        first = a + 50 - n  # rows trimmed so far
        assert log.cums()[:, 0].tobytes() == full[first : first + n + 1].tobytes()
        want = full[first + hi] - full[first + lo]
        assert got.tobytes() == want.tobytes(), f"after {first} rows trimmed"
        log.trim_before(float(t[a + 49]) - 60.0)
    assert first >= 500  # it was trimmed all along


def test_a_summed_column_must_be_a_column_of_the_log():
    with pytest.raises(ValueError, match=r"summed columns \['w'\] are not columns"):
        EventLog("v", summed=("v", "w"))
