"""Window assessment: rest, a mild stressor, recovery → the client's own window bounds.

An optional protocol (``wot assess``) for a first session. The client rests (at least 60 s),
meets a mild, standard stressor (e.g. serial subtraction, a cold-pressor of a few seconds, a
brief recall of a mildly stressful moment; at least 30 s), then recovers (at least 60 s), in
one recording. The rest period is the baseline; the arousal index of the state engine then
gives:

* **rest spread**: the 5th and 95th percentiles of the index at rest (``rest_lo``,
  ``rest_hi``), the client's own resting variation in baseline-z units;
* **response**: the median index over the second half of the stressor (its plateau);
* **recovery**: the time from the end of the stressor until the index is back below
  ``rest_hi + MARGIN`` for ``SUSTAIN_S`` seconds.

The bounds follow one rule, stated in the output:

* **upper**. No response (``response < rest_hi + MARGIN``): the stressor did not reach the
  edge, so the configured upper bound stays (raised to ``rest_hi + MARGIN`` if the client's rest
  itself reaches it). A response the client recovered from within ``recovered_s`` (60 s):
  the client stayed regulated, so that level is inside the window, and the bound is at least
  just above it (``max(configured, response + MARGIN)``). A response without recovery: the
  stressor took the client beyond the window, so the bound goes halfway between rest and the
  response (at least ``rest_hi + MARGIN``). Clipped to [1.0, 3.5] (the z-scores clip at 4).
  "Configured" is the client profile's window with ``wot assess --profile``.
* **lower**: the configured lower bound, or ``rest_lo - MARGIN`` if the client's rest itself
  reaches lower. A mild stressor says nothing about shutdown, so the lower bound is not
  estimated from it.

This is a working estimate for the therapist to review, not a validated measure: the window of
tolerance is a clinical construct (Siegel 1999; Ogden, Minton & Pain 2006) without a
physiological gold standard, and recovery time after a standard stressor is the nearest
measured proxy for regulation capacity (Linden et al. 1997, "Physiological stress reactivity
and recovery"). The result is written as JSON and, with ``--profile``, becomes the client's
window in the profile (the assessment is kept there too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .config import EngineConfig
from .errors import InputError
from .offline import run_recording, score_before_baseline
from .sources.files import Recording

MARGIN = 0.5
SUSTAIN_S = 10.0
MIN_REST_S, MIN_STRESSOR_S, MIN_RECOVERY_S = 60.0, 30.0, 60.0
UPPER_RANGE = (1.0, 3.5)

Window = tuple[float, float]


def _check(rest: Window, stressor: Window, recovery: Window, duration_s: float) -> None:
    for name, (a, b), least in (
        ("rest", rest, MIN_REST_S),
        ("stressor", stressor, MIN_STRESSOR_S),
        ("recovery", recovery, MIN_RECOVERY_S),
    ):
        if not (math.isfinite(a) and math.isfinite(b) and 0.0 <= a < b):
            raise InputError(f"--{name} {a:g}:{b:g}: need 0 <= START < END")
        if b - a < least:
            raise InputError(f"--{name} is {b - a:g} s; it needs at least {least:g} s")
        if b > duration_s + 1e-6:
            raise InputError(
                f"--{name} ends at {b:g} s but the recording is {duration_s:.0f} s long"
            )
    if not (rest[1] <= stressor[0] and stressor[1] <= recovery[0]):
        raise InputError("the periods must come in order: rest, then stressor, then recovery")


def assess(
    rec: Recording,
    rest: Window,
    stressor: Window,
    recovery: Window,
    config: EngineConfig | None = None,
    recovered_s: float = 60.0,
) -> dict[str, Any]:
    """Estimate the client's window bounds from one rest → stressor → recovery recording.

    Returns a JSON-ready dict: the periods, the rest spread, the response, the recovery time,
    the estimated ``window`` (``upper``, ``lower``), the configured one, and ``reasoning``
    (the rule applied, in words).
    """
    config = config or EngineConfig()
    _check(rest, stressor, recovery, rec.duration_s)
    res, pipe = run_recording(rec, config, rest)
    if pipe.state.baseline is None:
        raise InputError(f"the rest period gave no baseline: {pipe.state.message}")
    score_before_baseline(res, pipe)
    t = np.array([f.time_s for f in res.frames])
    a = np.array([f.state.arousal for f in res.frames])

    def period(w: Window) -> np.ndarray:
        v = a[(t >= w[0]) & (t < w[1])]
        return v[np.isfinite(v)]

    at_rest = period(rest)
    half = period((0.5 * (stressor[0] + stressor[1]), stressor[1]))
    if at_rest.size < 10 or half.size < 10:
        raise InputError(
            "too little usable signal in the rest or the stressor period to assess "
            f"({at_rest.size} and {half.size} scored frames); check the sensors"
        )
    rest_lo, rest_hi = (float(q) for q in np.percentile(at_rest, [5, 95]))
    response = float(np.median(half))
    peak = float(np.percentile(period(stressor), 95))

    # recovery: back below rest_hi + MARGIN for SUSTAIN_S, counted from the end of the stressor
    back = rest_hi + MARGIN
    m = (t >= stressor[1]) & (t < recovery[1])
    tr, ar = t[m], a[m]
    recovery_s = None
    run_start = None
    for ti, ai in zip(tr, ar, strict=True):
        if math.isfinite(ai) and ai <= back:
            run_start = ti if run_start is None else run_start
            if ti - run_start >= SUSTAIN_S:
                recovery_s = float(run_start - stressor[1])
                break
        else:
            run_start = None

    up0, lo0 = config.zones.upper, config.zones.lower
    reasoning = [
        f"rest: index {rest_lo:+.2f} to {rest_hi:+.2f} (5th-95th percentile)",
        f"stressor: response {response:+.2f} (median of its second half), peak {peak:+.2f}",
    ]
    if response < back:
        upper = max(up0, back)
        reasoning.append(
            f"no response beyond the resting range (+{MARGIN:g}): upper bound kept at {upper:.2f}"
        )
    elif recovery_s is not None and recovery_s <= recovered_s:
        upper = max(up0, response + MARGIN)
        reasoning.append(
            f"responded and recovered in {recovery_s:.0f} s (<= {recovered_s:g} s): the response "
            f"was inside the window, upper bound at least just above it, {upper:.2f}"
        )
    else:
        upper = max(0.5 * (rest_hi + response), back)
        how = "did not recover" if recovery_s is None else f"took {recovery_s:.0f} s to recover"
        reasoning.append(
            f"responded and {how} (> {recovered_s:g} s): the stressor went beyond the window, "
            f"upper bound halfway between rest and the response, {upper:.2f}"
        )
    clipped = min(max(upper, UPPER_RANGE[0]), UPPER_RANGE[1])
    if clipped != upper:
        reasoning.append(f"upper bound clipped to {clipped:.2f} (range {UPPER_RANGE})")
    lower = min(lo0, rest_lo - MARGIN)
    reasoning.append(
        f"lower bound {lower:.2f} (configured {lo0:g}; a mild stressor does not probe shutdown)"
    )
    return {
        "periods_s": {"rest": list(rest), "stressor": list(stressor), "recovery": list(recovery)},
        "rest": {"p5": rest_lo, "p95": rest_hi, "median": float(np.median(at_rest))},
        "stressor": {"response": response, "peak": peak},
        "recovery": {
            "recovered": recovery_s is not None,
            "time_s": recovery_s,
            "criterion": f"index <= {back:.2f} for {SUSTAIN_S:g} s",
        },
        "window": {"upper": round(clipped, 2), "lower": round(lower, 2)},
        "configured_window": {"upper": up0, "lower": lo0},
        "baseline": pipe.state.baseline.to_dict(),
        "calibration_message": pipe.state.message,
        "reasoning": reasoning,
    }
