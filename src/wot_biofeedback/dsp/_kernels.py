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
