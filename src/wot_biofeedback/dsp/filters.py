"""Causal IIR filtering with carried state (second-order sections, transposed direct form II).

``scipy.signal.sosfilt`` costs ~100 µs per call whatever the chunk size, which dominates a
32-sample chunk; the numba kernel here costs a few ns per sample and section.
"""

from __future__ import annotations

import numpy as np

from ..checks import as_1d_float, check_rate
from ._designs import remembered
from ._numba import njit


@njit
def _sosfilt(sos: np.ndarray, zi: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    # Transposed direct form II, state zi (n_sections, 2) updated in place.
    n_sec = sos.shape[0]
    for i in range(x.shape[0]):
        v = x[i]
        for s in range(n_sec):
            y = sos[s, 0] * v + zi[s, 0]
            zi[s, 0] = sos[s, 1] * v - sos[s, 4] * y + zi[s, 1]
            zi[s, 1] = sos[s, 2] * v - sos[s, 5] * y
            v = y
        out[i] = v


@njit
def _sos_step(sos: np.ndarray, zi: np.ndarray, v: float) -> float:
    # One sample through the cascade; used inside detector kernels.
    for s in range(sos.shape[0]):
        y = sos[s, 0] * v + zi[s, 0]
        zi[s, 0] = sos[s, 1] * v - sos[s, 4] * y + zi[s, 1]
        zi[s, 1] = sos[s, 2] * v - sos[s, 5] * y
        v = y
    return v


def butter_sos(
    kind: str, cutoff: float | tuple[float, float], fs: float, order: int = 2
) -> np.ndarray:
    """Design a Butterworth filter as second-order sections.

    Parameters
    ----------
    kind : {"lowpass", "highpass", "bandpass"}
    cutoff : float or (float, float)
        Corner frequency (or band) in Hz. Corners at or above 0.45·fs are pulled down to 0.45·fs
        so that low-rate wearables (e.g. 4 Hz EDA) still get a valid design.
    fs : float
        Sampling rate, Hz.
    order : int
        Filter order per corner.
    """
    fs = check_rate(fs)
    nyq_cap = 0.45 * fs
    if isinstance(cutoff, tuple):
        lo, hi = cutoff
        hi = min(hi, nyq_cap)
        if lo >= hi:
            raise ValueError(
                f"band {cutoff} Hz does not fit under the Nyquist rate of fs={fs:g} Hz"
            )
        wn: float | tuple[float, float] = (lo, hi)
    else:
        wn = min(float(cutoff), nyq_cap)
    return _butter(order, wn, kind, fs)  # a float64 copy of its own (remembered)


@remembered
def _butter(order: int, wn: float | tuple[float, float], kind: str, fs: float) -> np.ndarray:
    from scipy import signal

    return np.asarray(signal.butter(order, wn, btype=kind, fs=fs, output="sos"))


def sos_zi_unit(sos: np.ndarray) -> np.ndarray:
    """Steady-state filter state for a constant unit input (scale by the first sample)."""
    return np.ascontiguousarray(_sosfilt_zi(np.ascontiguousarray(sos, dtype=np.float64)))


@remembered
def _sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    from scipy import signal

    return np.asarray(signal.sosfilt_zi(sos))


class SosFilter:
    """A causal SOS filter that carries its state across chunks.

    The state starts at the steady state of the first finite sample, so a signal that begins at
    a large offset (skin conductance at 5 µS, an ECG with a DC level) does not ring.
    """

    def __init__(self, sos: np.ndarray) -> None:
        self._sos = np.ascontiguousarray(sos, dtype=np.float64)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._started = False

    def reset(self) -> None:
        """Forget the carried state."""
        self._zi[:] = 0.0
        self._started = False

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter one chunk and return the output (same length)."""
        x = as_1d_float(x)
        out = np.empty_like(x)
        if x.size == 0:
            return out
        if not self._started:
            self._zi[:] = self._zi_unit * x[0]
            self._started = True
        _sosfilt(self._sos, self._zi, x, out)
        return out
