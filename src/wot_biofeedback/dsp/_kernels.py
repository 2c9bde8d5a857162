"""Pieces shared by the sample-by-sample detector kernels.

Every detector keeps its state in a float array and an int array whose first slots have the
same meaning, so gap handling and filter start-up live here once:

* float ``S_LAST_VALID``: last finite input; ``S_VALID_EMA``: running share of valid samples;
* int ``I_N``: samples processed; ``I_STARTED``: filter started; ``I_BAD_UNTIL``: detection is
  suppressed before this sample (a gap and the filter's settling after it); ``I_START_N``: first
  valid sample.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import njit

S_LAST_VALID, S_VALID_EMA = 0, 1
N_COMMON_FLOAT = 2
I_N, I_STARTED, I_BAD_UNTIL, I_START_N = 0, 1, 2, 3
N_COMMON_INT = 4


@njit
def ingest(
    v: float, fst: np.ndarray, ist: np.ndarray, valid_alpha: float, settle_n: int
) -> tuple[float, bool]:
    """Track validity of one input sample; return the value to feed and whether it was valid.

    NaN is a gap: the last finite value is held (so filter states stay finite) and detection
    is suppressed until ``settle_n`` samples after the gap.
    """
    valid = not math.isnan(v)
    fst[S_VALID_EMA] += valid_alpha * ((1.0 if valid else 0.0) - fst[S_VALID_EMA])
    if valid:
        fst[S_LAST_VALID] = v
    else:
        ist[I_BAD_UNTIL] = ist[I_N] + settle_n
        v = fst[S_LAST_VALID]
    return v, valid


@njit
def start_filter(v: float, zi: np.ndarray, zi_unit: np.ndarray, ist: np.ndarray) -> None:
    """Start a filter at the steady state of its first valid sample (no start-up ringing)."""
    for s in range(zi.shape[0]):
        zi[s, 0] = zi_unit[s, 0] * v
        zi[s, 1] = zi_unit[s, 1] * v
    ist[I_STARTED] = 1
    ist[I_START_N] = ist[I_N]


# The glitch gate's state and parameters, in one float array.
G_LAST, G_SCALE, G_N, G_RUN, G_RUN_LAST, G_DROPPED = range(6)
G_RATIO, G_WARM_N, G_STEP, G_ACCEPT_N, G_FLOOR = range(6, 11)
N_GLITCH = 11
GLITCH_RATIO = 1e4
"""A sample that moves more than this many times the signal's typical step (the running median
of its non-zero first differences) from the last sample kept is a corrupt value, not a
measurement. The largest step of real signals, in these units, over the shared recordings (ECG,
PPG, respiration, EDA at 31-3000 Hz; ``docs/signals.md``) was 900 (MIT-BIH at most 50)."""
GLITCH_ABSURD = 1e15
"""A value this large is no sensor's in any unit (a 32-bit ADC counts to 2e9, skin conductance
in nS to 1e5): corrupt wherever it comes, even before the gate has learnt the signal."""
GLITCH_FLOOR = 1e-6
"""The typical step never falls below this share of the one learnt in the first 2 s: a line
decaying towards a constant for minutes (a lead-off on an AC-coupled input) would take it
towards the smallest float, and the returning signal, dropped until the step has grown back,
was then lost for 25-30 s (found by review)."""


def glitch_state(fs: float) -> np.ndarray:
    """A new glitch gate at ``fs`` (:func:`drop_glitches`): its state, then its parameters
    (the ratio; the differences learnt before it acts, 2 s; the median tracker's step; the
    samples of a new level after which it is taken as the signal, 0.05 s)."""
    st = np.zeros(N_GLITCH)
    st[G_LAST] = math.nan
    st[G_RUN_LAST] = math.nan
    st[G_RATIO] = GLITCH_RATIO
    st[G_WARM_N] = round(2.0 * fs)
    st[G_STEP] = min(0.05, 2.5 / fs)
    st[G_ACCEPT_N] = max(3, round(0.05 * fs))
    return st


class GlitchGate:
    """One channel's glitch gate: its state and parameters (:func:`glitch_state`, passed to
    :func:`drop_glitches`), and what the user is told about it (:attr:`issue`)."""

    HOLD_S = 10.0
    TEXT = "corrupt samples dropped"  # (short: it is shown in the console's status row)

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.state = glitch_state(fs)
        self.issue = ""
        """:attr:`TEXT` while the last sample dropped is under :attr:`HOLD_S` old, else ''."""
        self._seen = 0.0
        self._at = -math.inf  # samples processed when a drop was last seen

    def apply(self, x: np.ndarray, n_end: int) -> np.ndarray:
        """``x`` with its corrupt samples as NaN (a new array); ``n_end``: the samples
        processed once ``x`` is."""
        kept = np.empty(x.size)
        drop_glitches(x, self.state, kept)
        self.after(n_end)
        return kept

    def after(self, n_end: int) -> None:
        """Update :attr:`issue` once :func:`drop_glitches` has run on samples up to
        ``n_end`` (by :meth:`apply`, or inside a channel's own kernel)."""
        d = self.state[G_DROPPED]
        if d != self._seen:
            self._seen, self._at = d, n_end
        self.issue = self.TEXT if n_end - self._at <= self.HOLD_S * self.fs else ""


@njit
def drop_glitches(x: np.ndarray, gst: np.ndarray, out: np.ndarray) -> None:
    """Copy ``x`` into ``out`` with corrupt samples as NaN (a gap).

    A sample is corrupt when it lies more than ``ratio`` typical steps from the last sample kept
    (a wireless packet's garbage, a 1e30 from a driver: one such sample used to blind the
    filters, the noise level and the quality for 5-50 s), and so is any value beyond
    :data:`GLITCH_ABSURD`. The typical step is a running median of the non-zero first
    differences (a sign-gradient tracker, ``step`` per difference; a dropped sample moves it up
    by ten steps, so a corrupt value barely moves it and a signal whose steps had shrunk is
    taken again); the gate acts once it has learnt from ``warm_n`` differences. ``accept_n``
    such samples in a row that agree with each other are a new level (a re-seated electrode, a
    rail), not corruption: from there on they are kept. The parameters are in ``gst``
    (:func:`glitch_state`).
    """
    ratio, warm_n, accept_n = gst[G_RATIO], gst[G_WARM_N], gst[G_ACCEPT_N]
    up, down, grow = 1.0 + gst[G_STEP], 1.0 - gst[G_STEP], 1.0 + 10.0 * gst[G_STEP]
    # the state in locals for the loop (written back once): no memory traffic per sample
    last, s, n, floor = gst[G_LAST], gst[G_SCALE], gst[G_N], gst[G_FLOOR]
    run, run_last, dropped = gst[G_RUN], gst[G_RUN_LAST], gst[G_DROPPED]
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v
        if math.isnan(v):
            continue
        if abs(v) > GLITCH_ABSURD:  # no sensor in any unit: dropped from the first sample on
            dropped += 1.0
            out[i] = math.nan
            continue
        if math.isnan(last):
            last = v
            continue
        d = abs(v - last)
        if n >= warm_n and d > ratio * s:
            run = run + 1.0 if abs(v - run_last) <= ratio * s else 1.0
            run_last = v
            if run < accept_n:
                dropped += 1.0
                out[i] = math.nan
                # a dropped sample moves the typical step up, ten steps' worth: a signal whose
                # steps had become tiny (a lead-off line decaying to a constant) is taken again
                # within a second (with the floor), not locked out for the rest of the session
                s *= grow
                continue
            run = 0.0
            last = v  # a new level: kept, without teaching the typical step
            continue
        run = 0.0
        if d > 0.0:
            n += 1.0
            # (selects, not branches: which way the median moves is a coin toss per sample)
            f = up if d > s else down
            s = d if n == 1.0 else max(s * f, floor)
            if n == warm_n:
                floor = s * GLITCH_FLOOR
        last = v
    gst[G_LAST], gst[G_SCALE], gst[G_N], gst[G_FLOOR] = last, s, n, floor
    gst[G_RUN], gst[G_RUN_LAST], gst[G_DROPPED] = run, run_last, dropped
