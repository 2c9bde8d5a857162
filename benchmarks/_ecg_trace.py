"""Diagnostic re-run of the ECG detector kernel with a log of every decision (benchmarks only).

The kernel ``_ecg_detect`` of :mod:`wot_biofeedback.dsp.ecg` is taken from its source at import
time, a few logging lines are inserted at fixed anchors, and the result runs as plain Python
(the helpers it calls stay compiled). Same state, same parameters, same beats as
``ecg_peaks``; only slower. Nothing in ``src/`` changes. If an anchor is no longer found the
import fails loudly rather than tracing something else.

``trace(signal, fs)`` returns the beats and two logs:

* ``cands``: one row per complete envelope candidate, columns :data:`CAND_COLS`;
* ``drops``: held beats dropped for a larger newcomer: (sample, held R-peak, held height,
  newcomer envelope).
"""

from __future__ import annotations

import inspect
import math
import textwrap
from typing import Any

import numpy as np

from wot_biofeedback.dsp import ecg

CAND_COLS = (
    "n",  # decision sample
    "ci",  # envelope maximum
    "r",  # raw R-peak (-1: no room after the previous beat)
    "a",  # envelope height
    "thr",  # threshold (after the search-back factor)
    "noise_bar",  # k_floor x running median of the envelope
    "above_noise",
    "since",  # samples since the previous (held or reported) beat
    "ref_a",  # height of that beat
    "spk",
    "accepted",
    "held",  # a beat was held when this candidate was decided
)

_ANCHORS = (
    (
        "        if lo >= n:\n",
        "        if lo >= n:\n"
        "            _CANDS.append(\n"
        "                (n, ci, -1, a, 0.0, 0.0, False, 0, 0.0, fst[_SPK], False, held))\n",
    ),
    (
        "        if not accepted:\n",
        "        _CANDS.append((n, ci, r, a, thr, k_floor * floor, above_noise, since,\n"
        "                       fst[_PEND_A] if held else fst[_LAST_A], fst[_SPK],\n"
        "                       accepted, held))\n"
        "        if not accepted:\n",
    ),
    (
        "                ist[_PEND_ON] = 0\n                cap = fst[_SPK] if",
        "                ist[_PEND_ON] = 0\n"
        "                _DROPS.append((n, ist[_PEND_R], fst[_PEND_A], math.sqrt(e2)))\n"
        "                cap = fst[_SPK] if",
    ),
)


def _build() -> tuple[Any, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    src = textwrap.dedent(inspect.getsource(ecg._ecg_detect.py_func))
    src = src.replace("@njit\n", "", 1)
    for old, new in _ANCHORS:
        if src.count(old) != 1:
            raise RuntimeError(f"ecg kernel changed: anchor {old!r} not found exactly once")
        src = src.replace(old, new)
    cands: list[tuple[Any, ...]] = []
    drops: list[tuple[Any, ...]] = []
    ns = dict(vars(ecg))
    ns.update(_CANDS=cands, _DROPS=drops, math=math)
    exec(compile(src, "<traced _ecg_detect>", "exec"), ns)
    return ns["_ecg_detect"], cands, drops


def detector(fs: float, overrides: dict[str, float] | None = None) -> ecg.EcgPeakDetector:
    """An ``EcgPeakDetector`` with some parameters replaced, to measure a candidate change
    without editing ``src/``: ``{"THR_FRAC": 0.2, "TWAVE_N": 0.25}`` (names of the ``_P_``
    slots without the prefix; ``*_N`` values in seconds)."""
    det = ecg.EcgPeakDetector(fs)
    for name, value in (overrides or {}).items():
        slot = getattr(ecg, f"_P_{name}")
        det._prm[slot] = round(value * fs) if name.endswith("_N") else value
    return det


def peaks(signal: np.ndarray, fs: float, overrides: dict[str, float] | None = None) -> np.ndarray:
    """``ecg_peaks`` with some parameters replaced (see :func:`detector`)."""
    return detector(fs, overrides).update(signal)


def trace(
    signal: np.ndarray, fs: float, overrides: dict[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beats as ``ecg_peaks`` finds them, the candidate log and the drop log (arrays)."""
    kernel, cands, drops = _build()
    det = detector(fs, overrides)
    # the detector's own update, with the traced kernel in place of the compiled one
    compiled, ecg._ecg_detect = ecg._ecg_detect, kernel
    try:
        beats = det.update(np.asarray(signal, dtype=float))
    finally:
        ecg._ecg_detect = compiled
    c = np.asarray(cands, dtype=float).reshape(-1, len(CAND_COLS))
    d = np.asarray(drops, dtype=float).reshape(-1, 4)
    return beats, c, d
