"""What the drivers share: the device-clock mapper and the reconnect backoff."""

from __future__ import annotations

import numpy as np
import pytest
from wot_drivers._common import Backoff, ClockMapper


@pytest.mark.parametrize("ppm", [-80.0, 0.0, 50.0])
def test_clock_mapper_follows_drift_under_jittery_delays(ppm):
    """A device clock off by ``ppm`` and packets delayed 5-60 ms at random (transport only
    ever delays): after a minute the mapped times are within 2 ms of the truth, and they never
    go backwards."""
    rng = np.random.default_rng(1)
    true_t = np.arange(0.0, 300.0, 0.1)  # packet times on the LSL clock
    device_t = 1000.0 + true_t * (1.0 + ppm * 1e-6)  # the device's own clock
    arrival = true_t + 0.005 + rng.exponential(0.02, true_t.size)
    m = ClockMapper()
    out, err = [], []
    for d, a, t in zip(device_t, arrival, true_t, strict=True):
        m.update(d, a)
        mapped = m.map(d)
        out.append(mapped)
        if t > 60.0:
            err.append(mapped - t)
    assert np.all(np.diff(out) > 0)
    err = np.asarray(err)
    # the least delay seen (5 ms) stays in the offset: what matters is that it does not wander
    assert np.max(np.abs(err - 0.005)) < 0.002, (err.min(), err.max())
    assert m.drift_ppm == pytest.approx(-ppm, abs=20.0)


def test_clock_mapper_stays_monotonic_across_a_reset():
    m = ClockMapper()
    for k in range(20):
        m.update(50.0 + k, 100.0 + k)
    last = m.map(69.0)
    m.reset()  # the device restarted its clock
    assert not m.ready
    with pytest.raises(RuntimeError):
        m.map(0.0)
    m.update(0.5, 119.0)  # a new clock that maps slightly before the last time given
    assert m.map(0.4) > last


def test_backoff_grows_to_its_cap_and_resets():
    b = Backoff(initial=1.0, maximum=8.0, jitter=0.0)
    assert [b.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    b.reset()
    assert b.next() == 1.0
    j = Backoff(initial=1.0, jitter=0.1)
    vals = [j.next() for _ in range(1)]
    assert 0.9 <= vals[0] <= 1.1
