"""Frequency-domain heart-rate variability: sliding Lomb–Scargle, streaming Welch, coherence.

Everything here takes a normal-to-normal (NN) series as beat times ``t`` (s) and interval
values ``y`` (ms, the interval that ends at ``t``). Two estimators are offered, both with a
streaming form that gives the same numbers as the batch function :func:`hrv_frequency`.

Lomb–Scargle (``method="lomb"``)
--------------------------------
The classic Lomb–Scargle periodogram (Lomb 1976; Scargle 1982) of the mean-removed series, the
variant of the PhysioNet Cardiovascular Signal Toolbox (``CalcLomb.m`` after ``zero_mean``)::

    P(ω) = [Σ(y−ȳ)cos ω(t−τ)]² / Σcos² ω(t−τ) + [Σ(y−ȳ)sin ω(t−τ)]² / Σsin² ω(t−τ),
    tan 2ωτ = Σsin 2ωt / Σcos 2ωt.

It is written through additive sums so that a sliding window is updated by adding and removing
single beats in O(n_freq), with no pass over the window. Per frequency the accumulator holds
``LOMB_NSUM = 6`` sums ``[Σcos ωt, Σsin ωt, Σcos 2ωt, Σsin 2ωt, Σy cos ωt, Σy sin ωt]`` and the
frequency-independent totals are ``tot = [n, Σy, Σy²]``. With ``X = Σ(y−ȳ)cos ωt =
Σy cos ωt − ȳ Σcos ωt``, ``Y`` likewise with sin, ``C2 = Σcos 2ωt``, ``S2 = Σsin 2ωt`` and
``R² = C2² + S2²``, τ drops out (``cos 2ωτ = C2/R``, ``Σcos² ω(t−τ) = (n + R)/2``,
``Σsin² ω(t−τ) = (n − R)/2``) and the two terms combine into::

    P(ω) = 2 [n (X² + Y²) − C2 (X² − Y²) − 2 S2 X Y] / (n² − R²),

one division and no trigonometric call per bin at evaluation. The result does not depend on
the time origin (τ absorbs any shift; checked in the tests for a shift of 10⁵ s).

Normalisation. ``lomb_psd`` returns the one-sided PSD in ms²/Hz::

    PSD(f) = Δ · P(2πf),   Δ = ȳ / 1000 s (the mean sampling interval of an NN series),

which is the scaling under which, for even sampling and Fourier frequencies, the PSD integrated
over 0..f_Nyquist equals the variance of ``y``. A sine of amplitude A ms therefore gives a band
power of A²/2 ms² (checked in the tests). The references scale differently: the PhysioNet
toolbox (``normalize_lomb = 0``) integrates P itself, so its powers are ours divided by Δ
(≈ ×1.5 at 650 ms); astropy's ``normalization="psd"`` (used by NeuroKit2) is P/2.

Frequency grid. :func:`lomb_grid` gives ``f_k = k · df`` with the default ``df = 1/600 Hz`` for
k = 1..240 (1/600..0.4 Hz, 240 bins). It does not depend on the window length, so one grid
serves a sliding window, and it puts the band edges 0.04, 0.15, 0.26 and 0.4 Hz and the
coherence half-width 0.015 Hz on grid points. 1/600 Hz is half the Rayleigh resolution of a
300-s window: the periodogram of an evenly sampled record of length T is the transform of an
autocorrelation supported on ±T, so sampling it at 1/(2T) loses nothing for integration (Poisson
summation). Against a 10× finer grid, on 5-min windows of pyhrv's long sample series, band powers
and LF/HF change by a median 0.1–0.4 % (max 1.5 % for LF/HF, 4 % for VLF); coherence, which
depends on where the peak falls, by a median 1.7 %. A finer grid costs proportionally more per
frame.
For comparison, the PhysioNet toolbox uses the fixed grid 1/1024..0.5 Hz in steps of 1/1024 Hz
(512 bins) and NeuroKit2 uses astropy's ``autopower`` grid, ``df = 1/(5 T)`` (1/1500 Hz for
300 s), which moves with the window length and starts at ``4/T`` (0.013 Hz for 300 s).

Band integration. :func:`band_powers` integrates the piecewise-linear interpolant of the PSD
between the band edges (the trapezoid rule on the grid, with the edges interpolated when they fall
between grid points), so VLF + LF + HF equals the total exactly.

Welch (``method="welch"``)
--------------------------
The NN series is resampled onto an absolute grid ``t_m = t_origin + m / fs`` (default 4 Hz,
``t_origin = 0``) with a local cubic Hermite interpolant whose knot slopes are the three-point
(parabolic, "Bessel") derivatives; the first knot uses the one-sided three-point derivative. A
grid point between beats k and k+1 is final once beat k+2 has arrived (at most two beats of
look-ahead); the last interval of a record is never used. Grid points inside an interval longer
than ``max_gap_s`` (default 4 s) are flagged, and no segment containing one is used. Segments of
``nperseg`` (default 256 = 64 s) samples start at multiples of ``hop = nperseg // 2`` (50 %
overlap) on the absolute grid. Each segment is mean-removed (scipy's ``detrend="constant"``),
windowed (any :func:`scipy.signal.get_window` name; default ``"hamming"`` as in pyhrv, periodic
form as in :func:`scipy.signal.welch`) and its periodogram is computed once, when the segment
completes, by a direct DFT at the bins ``k · fs / nfft`` up to 0.5 Hz (numba has no FFT) with the
density scaling of :func:`scipy.signal.welch` (``2 / (fs Σw²)``, DC not doubled). Welch's PSD is
the mean of the segment periodograms.

The njit kernels can be driven from another njit loop; the state comes from
:func:`welch_state` (which returns a :class:`WelchState` whose fields are the arrays below)::

    welch_add_beat(wf, wi, kt, ky, sbuf, win, cos_tab, sin_tab, work, t, y,
                   pxx_out, t0_out, n_out) -> int
        Push one beat (t s, y ms). Completed segments are written to pxx_out[n_out, :]
        (float64 (rows, n_bins)) with their start time in t0_out[n_out]; returns the new n_out.
        Rows needed: 1 + floor((t - t_prev2) * fs / hop), t_prev2 being the beat two before t
        (one row is enough unless two consecutive intervals span more than hop / fs = 32 s);
        segments that do not fit are counted in wi[WI_DROPPED]. Beats with NaN or
        non-increasing t are ignored.
    welch_add_beats(wf, wi, kt, ky, sbuf, win, cos_tab, sin_tab, work, t, y,
                    pxx_out, t0_out) -> int
        The same over arrays; returns the number of segments written.
    welch_periodogram(x, win, cos_tab, sin_tab, scale, work, out) -> None
        Density periodogram of one segment x (float64 (nperseg,)) into out (n_bins,).

Comparison with other tools
---------------------------
* NeuroKit2 0.2.13, ``hrv_frequency(..., psd_method="lomb")``: by default the intervals are first
  interpolated to 100 Hz (quadratic spline, ``interpolation_rate=100``) and astropy's Lomb–Scargle
  runs on that evenly sampled curve, so it is in effect a periodogram of the interpolated series,
  not a Lomb–Scargle of the beats; the lowest frequency is ``4 · fs / N`` = 4/T (0.013 Hz for a
  5-min window, which truncates VLF); and ``normalize=True`` divides the PSD by its maximum, so
  the band powers are in arbitrary units (only ratios compare). With ``interpolation_rate=None``
  and ``normalize=False`` it is a floating-mean Lomb–Scargle of the beats whose "PSD" is P/2
  in ms² (not per Hz; its band powers times 2Δ are ours). In the tests, LF/HF agrees within
  2.4 % with that setting, and differs by up to 28 % (median 6 %) from the default, whose spline
  overshoot at abrupt interval changes adds broadband power that weighs more on the smaller HF
  band.
* PhysioNet Cardiovascular Signal Toolbox: same Lomb–Scargle; unscaled P (see above), grid
  1/1024 Hz, rectangle sums with both band edges included.
* pyhrv ``welch_psd``: global cubic spline (``interp1d(kind="cubic")``) instead of the local
  Hermite used here, ``nperseg`` 300 for records over 5 min, rectangle sums. The local
  interpolant smooths slightly more: HF is 5–6 % lower on pyhrv's sample series.

Coherence (HeartMath)
---------------------
Following McCraty et al. (*The Coherent Heart*, HeartMath Research Center 2006; Integral Review
2009) and McCraty (2022): the highest peak of the PSD in 0.04–0.26 Hz is located, the "peak
power" is the integral over a window 0.030 Hz wide centred on it, the total power is the
integral over 0.0033–0.4 Hz, and::

    coherence = peak power / (total power − peak power)      (dimensionless).

The peak is the largest local maximum of the grid PSD in 0.04–0.26 Hz (a grid point not lower
than either neighbour), falling back to the band maximum when the PSD is monotonic there.
Sources: the primary texts could not be read from here. Secondary descriptions that cite McCraty
(2022, Appl Psychophysiol Biofeedback 47:63–74) and HeartMath's help pages give the ratio above;
one that cites the 2006 monograph gives its square, ``(peak / (total − peak))²``. The square is a
monotonic transform, so only thresholds change; HeartMath's published 0–16 "coherence score"
adds a proprietary scoring step and a 64-s window, and is not reproduced.

References
----------
Lomb NR (1976). Least-squares frequency analysis of unequally spaced data. Astrophys Space Sci 39.
Scargle JD (1982). Studies in astronomical time series analysis II. Astrophys J 263.
Welch PD (1967). The use of the fast Fourier transform for the estimation of power spectra.
IEEE Trans Audio Electroacoust 15(2).
Task Force of the ESC and NASPE (1996). Heart rate variability: standards of measurement.
Circulation 93(5).
Vest AN et al. (2018). An open source benchmarked toolbox for cardiovascular waveform and
interval analysis. Physiol Meas 39(10).
McCraty R, Atkinson M, Tomasino D, Bradley RT (2009). The coherent heart. Integral Review 5(2).
McCraty R (2022). Following the rhythm of the heart: HeartMath Institute's path to HRV
biofeedback. Appl Psychophysiol Biofeedback 47.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ..checks import as_1d_float, check_value
from ..errors import InputError
from ._designs import remembered
from ._numba import njit

# --------------------------------------------------------------------------------------------
# Bands and output slots
# --------------------------------------------------------------------------------------------

VLF_BAND_HZ = (0.0033, 0.04)
LF_BAND_HZ = (0.04, 0.15)
HF_BAND_HZ = (0.15, 0.4)
TOTAL_BAND_HZ = (0.0033, 0.4)
COHERENCE_SEARCH_HZ = (0.04, 0.26)
COHERENCE_WIDTH_HZ = 0.030

#: Names of the slots written by :func:`band_powers` (units in the name; ``lf_nu``/``hf_nu`` in
#: normalised units, 100·LF/(LF+HF); ``lf_hf`` and ``coherence`` dimensionless).
BAND_NAMES: tuple[str, ...] = (
    "vlf_ms2",
    "lf_ms2",
    "hf_ms2",
    "lf_hf",
    "total_ms2",
    "lf_peak_hz",
    "hf_peak_hz",
    "coherence",
    "lf_nu",
    "hf_nu",
    "coherence_peak_hz",
)
N_BAND_OUT = len(BAND_NAMES)
(
    B_VLF,
    B_LF,
    B_HF,
    B_LFHF,
    B_TOTAL,
    B_LF_PEAK,
    B_HF_PEAK,
    B_COHERENCE,
    B_LF_NU,
    B_HF_NU,
    B_COH_PEAK,
) = range(N_BAND_OUT)

METHODS = ("lomb", "welch")

# --------------------------------------------------------------------------------------------
# Lomb–Scargle: additive sums
# --------------------------------------------------------------------------------------------

LOMB_NSUM = 6
L_C, L_S, L_C2, L_S2, L_YC, L_YS = range(LOMB_NSUM)
#: Fewer beats than this give a NaN PSD.
LOMB_MIN_N = 3
#: Default grid step (Hz) of :func:`lomb_grid`.
LOMB_DF_HZ = 1.0 / 600.0
# Relative variance (var / mean²) below which a series counts as flat; far below any real NN
# series (1 ms² at 800 ms is 1.6e-6) and far above the rounding of the sums (~1e-13).
_FLAT_REL = 1e-9
# Bins per block of the complex-rotation recurrence in lomb_add; each block re-anchors with a
# direct sin/cos so rounding cannot build up over the grid.
_ROT_BLOCK = 32


@njit
def lomb_add(
    acc: np.ndarray, tot: np.ndarray, omega: np.ndarray, t: float, y: float, w: float
) -> None:
    """Add (``w = +1``) or remove (``w = −1``) one beat (t s, y ms) to the Lomb sums, in place.

    ``acc`` float64 (n_freq, LOMB_NSUM), ``tot`` float64 (3,) = [n, Σy, Σy²], ``omega`` angular
    frequencies (rad/s). On a uniform grid cos/sin of ωt are advanced by complex rotation
    (re-anchored every 32 bins); other grids use direct sin/cos.
    """
    wy = w * y
    nf = omega.shape[0]
    b0 = 0
    while b0 < nf:
        b1 = min(b0 + _ROT_BLOCK, nf)
        ph = omega[b0] * t
        c = math.cos(ph)
        s = math.sin(ph)
        uniform = b1 - b0 > 2
        dw = 0.0
        if b1 - b0 > 1:
            dw = omega[b0 + 1] - omega[b0]
            for k in range(b0 + 2, b1):
                if abs(omega[k] - omega[k - 1] - dw) > 1e-10 * abs(dw):
                    uniform = False
        if uniform:
            dc = math.cos(dw * t)
            ds = math.sin(dw * t)
            for k in range(b0, b1):
                acc[k, L_C] += w * c
                acc[k, L_S] += w * s
                acc[k, L_C2] += w * (c * c - s * s)
                acc[k, L_S2] += w * (2.0 * s * c)
                acc[k, L_YC] += wy * c
                acc[k, L_YS] += wy * s
                c, s = c * dc - s * ds, s * dc + c * ds
        else:
            for k in range(b0, b1):
                ph = omega[k] * t
                c = math.cos(ph)
                s = math.sin(ph)
                acc[k, L_C] += w * c
                acc[k, L_S] += w * s
                acc[k, L_C2] += w * (c * c - s * s)
                acc[k, L_S2] += w * (2.0 * s * c)
                acc[k, L_YC] += wy * c
                acc[k, L_YS] += wy * s
        b0 = b1
    tot[0] += w
    tot[1] += wy
    tot[2] += wy * y


@njit
def lomb_add_many(
    acc: np.ndarray, tot: np.ndarray, omega: np.ndarray, t: np.ndarray, y: np.ndarray, w: float
) -> None:
    """:func:`lomb_add` for every beat of ``t``/``y`` in order (same weight ``w``)."""
    for i in range(t.shape[0]):
        lomb_add(acc, tot, omega, t[i], y[i], w)


@njit
def lomb_psd(acc: np.ndarray, tot: np.ndarray, omega: np.ndarray, out: np.ndarray) -> None:
    """One-sided Lomb–Scargle PSD (ms²/Hz) from the sums; NaN when n < LOMB_MIN_N.

    A flat series (variance ≤ 1e-9·ȳ²) gives exact zeros.

    ``omega`` is not needed by the formula (τ comes from the sums) and is taken for symmetry
    with :func:`lomb_add`.
    """
    n = tot[0]
    nf = out.shape[0]
    # n is a count of ±1 additions: round so that drift cannot leave e.g. 2.9999999.
    if n < LOMB_MIN_N - 0.5:
        for k in range(nf):
            out[k] = np.nan
        return
    ybar = tot[1] / n
    dt = ybar * 1e-3
    # A series without variance (a flat line) has an exactly zero PSD rather than rounding
    # noise, so that ratios of band powers come out NaN instead of arbitrary.
    if tot[2] / n - ybar * ybar <= _FLAT_REL * ybar * ybar:
        for k in range(nf):
            out[k] = 0.0
        return
    n2 = n * n
    for k in range(nf):
        c2 = acc[k, L_C2]
        s2 = acc[k, L_S2]
        x = acc[k, L_YC] - ybar * acc[k, L_C]  # Σ(y−ȳ)cos ωt
        y = acc[k, L_YS] - ybar * acc[k, L_S]  # Σ(y−ȳ)sin ωt
        xx = x * x
        yy = y * y
        # With cos 2ωτ = C2/R and sin 2ωτ = S2/R, the two Lomb terms combine into
        #   P = 2 [n (X² + Y²) − C2 (X² − Y²) − 2 S2 X Y] / (n² − R²),
        # one division and no square root per bin.
        num = n * (xx + yy) - c2 * (xx - yy) - 2.0 * s2 * x * y
        r2 = c2 * c2 + s2 * s2
        den = n2 - r2
        if den > 1e-8 * n2:
            out[k] = 2.0 * num / den * dt
        else:
            # All ωt nearly equal mod π (window much shorter than the period): Σsin² ω(t−τ)
            # vanishes and only the cosine term is defined, (X·cos ωτ + Y·sin ωτ)² / ((n+R)/2).
            r = math.sqrt(r2)
            if r > 0.0:
                a2 = 0.5 * (xx + yy) + (0.5 * c2 * (xx - yy) + s2 * x * y) / r
            else:
                a2 = 0.5 * (xx + yy)
            out[k] = a2 / (0.5 * (n + r)) * dt


def lomb_grid(
    f_lo: float = TOTAL_BAND_HZ[0], f_hi: float = TOTAL_BAND_HZ[1], df: float = LOMB_DF_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Frequency grid for the Lomb–Scargle kernels: ``(freqs_hz, omega_rad_s)``.

    The grid is ``k · df`` for the smallest range of integers k ≥ 1 whose points bracket
    ``[f_lo, f_hi]``, so band edges that are multiples of ``df`` are grid points. The default
    (df = 1/600 Hz) gives 240 bins from 1/600 to 0.4 Hz; see the module docstring.
    """
    try:
        lo, hi, step = float(f_lo), float(f_hi), float(df)
    except (TypeError, ValueError):
        raise InputError(f"lomb_grid needs numbers, got {f_lo!r}, {f_hi!r}, {df!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(step)):
        raise InputError(f"lomb_grid needs finite numbers, got {lo!r}, {hi!r}, {step!r}")
    if step <= 0.0 or lo < 0.0 or hi <= lo:
        raise InputError(f"lomb_grid needs 0 <= f_lo < f_hi and df > 0, got {lo}, {hi}, {step}")
    k0 = max(1, math.floor(lo / step + 1e-9))
    k1 = max(k0, math.ceil(hi / step - 1e-9))
    if k1 - k0 + 1 > 100_000:
        raise InputError(f"lomb_grid with df={step} Hz would have {k1 - k0 + 1} bins")
    freqs = np.arange(k0, k1 + 1, dtype=np.float64) * step
    return freqs, 2.0 * np.pi * freqs


# --------------------------------------------------------------------------------------------
# Band powers and coherence
# --------------------------------------------------------------------------------------------


@njit
def band_integral(freqs: np.ndarray, psd: np.ndarray, lo: float, hi: float) -> float:
    """∫ of the piecewise-linear PSD from ``lo`` to ``hi`` (clipped to the grid), ms².

    Trapezoid rule on the grid, with the PSD interpolated linearly at edges between grid
    points. ``freqs`` must increase. NaN if any PSD value that contributes is NaN.
    """
    nf = freqs.shape[0]
    total = 0.0
    if nf < 2 or not hi > lo:
        return total
    k = max(int(np.searchsorted(freqs, lo, side="right")) - 1, 0)
    while k < nf - 1:
        f0 = freqs[k]
        if f0 >= hi:
            break
        f1 = freqs[k + 1]
        if f1 > lo:
            if f0 >= lo and f1 <= hi:
                total += 0.5 * (psd[k] + psd[k + 1]) * (f1 - f0)
            else:
                a = f0 if f0 > lo else lo
                b = f1 if f1 < hi else hi
                slope = (psd[k + 1] - psd[k]) / (f1 - f0)
                total += (psd[k] + slope * (0.5 * (a + b) - f0)) * (b - a)
        k += 1
    return total


@njit
def band_peak(freqs: np.ndarray, psd: np.ndarray, lo: float, hi: float) -> float:
    """Frequency (Hz) of the largest PSD value among grid points in ``[lo, hi]``; NaN if none."""
    best = -1.0
    fpk = np.nan
    k = np.searchsorted(freqs, lo, side="left")
    while k < freqs.shape[0] and freqs[k] <= hi:
        p = psd[k]
        if p > best:
            best = p
            fpk = freqs[k]
        k += 1
    return fpk


@njit
def coherence_ratio(freqs: np.ndarray, psd: np.ndarray, total: float) -> tuple[float, float]:
    """HeartMath coherence ratio and its peak frequency: ``(ratio, peak_hz)``.

    ``total`` is the power in 0.0033–0.4 Hz (ms²). The peak is the largest local maximum of the
    grid PSD in 0.04–0.26 Hz (band maximum if there is none); the peak power is the integral
    over ±0.015 Hz around it; ratio = peak / (total − peak). NaN without a finite peak or a
    positive total; +inf if all the power is in the peak window.
    """
    lo, hi = COHERENCE_SEARCH_HZ
    nf = freqs.shape[0]
    k0 = np.searchsorted(freqs, lo, side="left")
    k1 = np.searchsorted(freqs, hi, side="right")
    best = -1.0
    kpk = -1
    for k in range(k0, k1):
        p = psd[k]
        if not p > best:
            continue
        left_ok = k == 0 or not psd[k - 1] > p
        right_ok = k == nf - 1 or not psd[k + 1] > p
        if left_ok and right_ok:
            best = p
            kpk = k
    if kpk < 0:
        for k in range(k0, k1):
            if psd[k] > best:
                best = psd[k]
                kpk = k
    if kpk < 0 or not total > 0.0:
        return np.nan, np.nan
    fpk = freqs[kpk]
    half = 0.5 * COHERENCE_WIDTH_HZ
    peak = band_integral(freqs, psd, fpk - half, fpk + half)
    rest = total - peak
    if not rest > 0.0:
        return np.inf, fpk
    return peak / rest, fpk


@njit
def _bands(freqs: np.ndarray, psd: np.ndarray) -> tuple[float, float, float, float]:
    """VLF, LF, HF and total power (ms²): the bands tile 0.0033–0.4 Hz and the integral is
    additive over them."""
    vlf = band_integral(freqs, psd, VLF_BAND_HZ[0], VLF_BAND_HZ[1])
    lf = band_integral(freqs, psd, LF_BAND_HZ[0], LF_BAND_HZ[1])
    hf = band_integral(freqs, psd, HF_BAND_HZ[0], HF_BAND_HZ[1])
    return vlf, lf, hf, vlf + lf + hf


@njit
def band_powers(freqs: np.ndarray, psd: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (float64 (N_BAND_OUT,)) with the slots named by BAND_NAMES.

    Powers (ms²) are trapezoid integrals of the PSD (ms²/Hz) over VLF 0.0033–0.04, LF
    0.04–0.15, HF 0.15–0.4 and total 0.0033–0.4 Hz; peaks are grid maxima in LF/HF;
    ``lf_nu``/``hf_nu`` = 100·LF/(LF+HF), 100·HF/(LF+HF); coherence as
    :func:`coherence_ratio`. Ratios whose denominator is 0 are NaN.
    """
    vlf, lf, hf, total = _bands(freqs, psd)
    out[B_VLF] = vlf
    out[B_LF] = lf
    out[B_HF] = hf
    out[B_TOTAL] = total
    out[B_LFHF] = lf / hf if hf > 0.0 else np.nan
    lfhf_sum = lf + hf
    if lfhf_sum > 0.0:
        out[B_LF_NU] = 100.0 * lf / lfhf_sum
        out[B_HF_NU] = 100.0 * hf / lfhf_sum
    else:
        out[B_LF_NU] = np.nan
        out[B_HF_NU] = np.nan
    if math.isnan(total):
        out[B_LF_PEAK] = np.nan
        out[B_HF_PEAK] = np.nan
        out[B_COHERENCE] = np.nan
        out[B_COH_PEAK] = np.nan
        return
    out[B_LF_PEAK] = band_peak(freqs, psd, LF_BAND_HZ[0], LF_BAND_HZ[1])
    out[B_HF_PEAK] = band_peak(freqs, psd, HF_BAND_HZ[0], HF_BAND_HZ[1])
    coh, fpk = coherence_ratio(freqs, psd, total)
    out[B_COHERENCE] = coh
    out[B_COH_PEAK] = fpk


@njit
def lf_hf_powers(freqs: np.ndarray, psd: np.ndarray, out: np.ndarray) -> None:
    """Only the ``lf_ms2`` and ``hf_ms2`` slots of :func:`band_powers` (the same integrals,
    to the bit), for a caller that reads nothing else: a third of its work."""
    out[B_LF] = band_integral(freqs, psd, LF_BAND_HZ[0], LF_BAND_HZ[1])
    out[B_HF] = band_integral(freqs, psd, HF_BAND_HZ[0], HF_BAND_HZ[1])


@njit
def coherence_power(freqs: np.ndarray, psd: np.ndarray, out: np.ndarray) -> None:
    """Only the ``coherence`` slot of :func:`band_powers` (the same value, to the bit), for a
    caller that reads nothing else."""
    total = _bands(freqs, psd)[3]
    if math.isnan(total):
        out[B_COHERENCE] = np.nan
        return
    out[B_COHERENCE] = coherence_ratio(freqs, psd, total)[0]


def _bands_dict(vals: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(BAND_NAMES, vals, strict=True)}


# --------------------------------------------------------------------------------------------
# Sliding Lomb–Scargle
# --------------------------------------------------------------------------------------------


def _beats(t: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    tt = np.atleast_1d(as_1d_float(t, "t_s"))
    yy = np.atleast_1d(as_1d_float(y, "y_ms"))
    if tt.shape != yy.shape:
        raise InputError(f"t_s and y_ms must have the same length, got {tt.size} and {yy.size}")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(yy))):
        bad = int(np.count_nonzero(~(np.isfinite(tt) & np.isfinite(yy))))
        raise InputError(f"beats must be finite; got {bad} NaN/inf beat time(s) or value(s)")
    if np.any(yy <= 0.0):
        raise InputError(f"NN intervals must be positive ms, got {float(yy[yy <= 0.0][0])!r}")
    return tt, yy


def _check_freqs(freqs: Any) -> np.ndarray:
    f = as_1d_float(freqs, "freqs")
    if f.size < 2 or not np.all(np.isfinite(f)) or np.any(np.diff(f) <= 0.0) or f[0] <= 0.0:
        raise InputError("freqs must be at least two positive, finite, increasing values in Hz")
    return f


class SlidingLomb:
    """Lomb–Scargle PSD of a beat set that changes one beat at a time.

    ``add`` and ``remove`` update the per-frequency sums in O(n_freq) per beat; the caller
    decides which beats make up the window (e.g. the last 300 s) and removes exactly the
    (t, y) pairs it added. ``psd()`` and ``bands()`` evaluate the current set.

    Parameters
    ----------
    freqs : array, optional
        Frequency grid in Hz (increasing, positive); default :func:`lomb_grid`.
    """

    def __init__(self, freqs: Any = None) -> None:
        if freqs is None:
            f, om = lomb_grid()
        else:
            f = _check_freqs(freqs)
            om = 2.0 * np.pi * f
        self._freqs = f
        self._omega = om
        self._acc = np.zeros((f.size, LOMB_NSUM))
        self._tot = np.zeros(3)
        self._psd = np.empty(f.size)
        self._bands = np.empty(N_BAND_OUT)

    @property
    def freqs(self) -> np.ndarray:
        """Frequency grid, Hz."""
        return self._freqs

    @property
    def n(self) -> int:
        """Number of beats currently in the set."""
        return round(self._tot[0])

    def reset(self) -> None:
        """Empty the set."""
        self._acc[:] = 0.0
        self._tot[:] = 0.0

    def add(self, t_s: Any, y_ms: Any) -> None:
        """Add beats: times ``t_s`` (s) and NN values ``y_ms`` (ms), scalars or arrays."""
        t, y = _beats(t_s, y_ms)
        lomb_add_many(self._acc, self._tot, self._omega, t, y, 1.0)

    def remove(self, t_s: Any, y_ms: Any) -> None:
        """Remove beats previously added with the same ``(t_s, y_ms)``."""
        t, y = _beats(t_s, y_ms)
        if t.size > self.n:
            raise InputError(f"cannot remove {t.size} beats from a set of {self.n}")
        lomb_add_many(self._acc, self._tot, self._omega, t, y, -1.0)
        if self.n == 0:
            # Exact zeros, so an emptied window carries no rounding into the next one.
            self.reset()

    def psd(self) -> np.ndarray:
        """Current one-sided PSD, ms²/Hz (NaN with fewer than LOMB_MIN_N beats)."""
        lomb_psd(self._acc, self._tot, self._omega, self._psd)
        return self._psd.copy()

    def bands(self) -> dict[str, float]:
        """Band powers, ratios, peaks and coherence of the current set (keys: BAND_NAMES)."""
        lomb_psd(self._acc, self._tot, self._omega, self._psd)
        band_powers(self._freqs, self._psd, self._bands)
        return _bands_dict(self._bands)


# --------------------------------------------------------------------------------------------
# Streaming Welch on a 4 Hz resampled series
# --------------------------------------------------------------------------------------------

WELCH_FS_HZ = 4.0
WELCH_NPERSEG = 256
WELCH_NFFT = 4096
WELCH_F_MAX_HZ = 0.5
WELCH_MAX_GAP_S = 4.0

# Float state slots.
WF_FS, WF_T_ORIGIN, WF_MAX_GAP, WF_SCALE = range(4)
N_WF = 4
# Int state slots.
(
    WI_NB,
    WI_M_NEXT,
    WI_M_FIRST,
    WI_LAST_BAD,
    WI_NPERSEG,
    WI_HOP,
    WI_N_SEG,
    WI_DROPPED,
) = range(8)
N_WI = 8
_NO_INDEX = -(2**62)


@njit
def _slope_mid(t0: float, t1: float, t2: float, y0: float, y1: float, y2: float) -> float:
    # Derivative at t1 of the parabola through the three knots (Bessel slope).
    h0 = t1 - t0
    h1 = t2 - t1
    d0 = (y1 - y0) / h0
    d1 = (y2 - y1) / h1
    return (h1 * d0 + h0 * d1) / (h0 + h1)


@njit
def _slope_first(t0: float, t1: float, t2: float, y0: float, y1: float, y2: float) -> float:
    # Derivative at t0 of the parabola through the three knots (one-sided).
    h0 = t1 - t0
    h1 = t2 - t1
    d0 = (y1 - y0) / h0
    d1 = (y2 - y1) / h1
    return ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)


@njit
def _hermite(ta: float, tb: float, ya: float, yb: float, ma: float, mb: float, tq: float) -> float:
    h = tb - ta
    s = (tq - ta) / h
    s2 = s * s
    s3 = s2 * s
    return (
        (2.0 * s3 - 3.0 * s2 + 1.0) * ya
        + (s3 - 2.0 * s2 + s) * h * ma
        + (-2.0 * s3 + 3.0 * s2) * yb
        + (s3 - s2) * h * mb
    )


@njit
def welch_periodogram(
    x: np.ndarray,
    win: np.ndarray,
    cos_tab: np.ndarray,
    sin_tab: np.ndarray,
    scale: float,
    work: np.ndarray,
    out: np.ndarray,
) -> None:
    """Density periodogram of one segment (scipy ``welch`` conventions), bins 0..len(out)−1.

    ``x`` and ``win`` (nperseg,), ``cos_tab``/``sin_tab`` = cos/sin(2π j / nfft) for
    j < nfft, ``scale`` = 1 / (fs Σw²), ``work`` scratch (nperseg,). Bins other than DC (and
    Nyquist) are doubled (one-sided). A flat segment (variance ≤ 1e-9·mean²) gives zeros.
    """
    n = x.shape[0]
    nfft = cos_tab.shape[0]
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean /= n
    dev = 0.0
    for i in range(n):
        d = x[i] - mean
        dev += d * d
        work[i] = d * win[i]
    if dev <= _FLAT_REL * n * mean * mean:
        for k in range(out.shape[0]):
            out[k] = 0.0
        return
    for k in range(out.shape[0]):
        re = 0.0
        im = 0.0
        j = 0
        for i in range(n):
            re += work[i] * cos_tab[j]
            im -= work[i] * sin_tab[j]
            j += k
            if j >= nfft:
                j -= nfft
        p = (re * re + im * im) * scale
        if k > 0 and 2 * k != nfft:
            p *= 2.0
        out[k] = p


@njit
def _emit_segment(
    wf: np.ndarray,
    wi: np.ndarray,
    sbuf: np.ndarray,
    win: np.ndarray,
    cos_tab: np.ndarray,
    sin_tab: np.ndarray,
    work: np.ndarray,
    m0: int,
    pxx_out: np.ndarray,
    t0_out: np.ndarray,
    n_out: int,
) -> int:
    n = sbuf.shape[0]
    if n_out >= pxx_out.shape[0]:
        wi[WI_DROPPED] += 1
        return n_out
    # Unroll the ring into segment order; the periodogram's own scratch is the second half.
    seg = work[:n]
    for i in range(n):
        seg[i] = sbuf[(m0 + i) % n]
    welch_periodogram(seg, win, cos_tab, sin_tab, wf[WF_SCALE], work[n:], pxx_out[n_out])
    t0_out[n_out] = wf[WF_T_ORIGIN] + m0 / wf[WF_FS]
    wi[WI_N_SEG] += 1
    return n_out + 1


@njit
def welch_add_beat(
    wf: np.ndarray,
    wi: np.ndarray,
    kt: np.ndarray,
    ky: np.ndarray,
    sbuf: np.ndarray,
    win: np.ndarray,
    cos_tab: np.ndarray,
    sin_tab: np.ndarray,
    work: np.ndarray,
    t: float,
    y: float,
    pxx_out: np.ndarray,
    t0_out: np.ndarray,
    n_out: int,
) -> int:
    """Push one beat into the streaming Welch state; see the module docstring."""
    if math.isnan(t) or math.isnan(y):
        return n_out
    nb = wi[WI_NB]
    if nb > 0 and not t > kt[3]:
        return n_out
    kt[0] = kt[1]
    kt[1] = kt[2]
    kt[2] = kt[3]
    kt[3] = t
    ky[0] = ky[1]
    ky[1] = ky[2]
    ky[2] = ky[3]
    ky[3] = y
    nb += 1
    wi[WI_NB] = nb
    fs = wf[WF_FS]
    t_origin = wf[WF_T_ORIGIN]
    if nb == 1:
        wi[WI_M_NEXT] = math.ceil((t - t_origin) * fs)
        return n_out
    if nb == 2:
        return n_out
    # The interval kt[1]..kt[2] is final now: its end slopes need kt[0] (if any) and kt[3].
    if nb == 3:
        ma = _slope_first(kt[1], kt[2], kt[3], ky[1], ky[2], ky[3])
    else:
        ma = _slope_mid(kt[0], kt[1], kt[2], ky[0], ky[1], ky[2])
    mb = _slope_mid(kt[1], kt[2], kt[3], ky[1], ky[2], ky[3])
    bad = kt[2] - kt[1] > wf[WF_MAX_GAP]
    nper = wi[WI_NPERSEG]
    hop = wi[WI_HOP]
    m = wi[WI_M_NEXT]
    while True:
        tm = t_origin + m / fs
        if not tm < kt[2]:
            break
        sbuf[m % nper] = _hermite(kt[1], kt[2], ky[1], ky[2], ma, mb, tm)
        if wi[WI_M_FIRST] == _NO_INDEX:
            wi[WI_M_FIRST] = m
        if bad:
            wi[WI_LAST_BAD] = m
        m0 = m + 1 - nper
        if m0 >= wi[WI_M_FIRST] and m0 % hop == 0 and wi[WI_LAST_BAD] < m0:
            n_out = _emit_segment(
                wf, wi, sbuf, win, cos_tab, sin_tab, work, m0, pxx_out, t0_out, n_out
            )
        m += 1
    wi[WI_M_NEXT] = m
    return n_out


@njit
def welch_add_beats(
    wf: np.ndarray,
    wi: np.ndarray,
    kt: np.ndarray,
    ky: np.ndarray,
    sbuf: np.ndarray,
    win: np.ndarray,
    cos_tab: np.ndarray,
    sin_tab: np.ndarray,
    work: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    pxx_out: np.ndarray,
    t0_out: np.ndarray,
) -> int:
    """:func:`welch_add_beat` over arrays; returns the number of segments written."""
    n_out = 0
    for i in range(t.shape[0]):
        n_out = welch_add_beat(
            wf, wi, kt, ky, sbuf, win, cos_tab, sin_tab, work, t[i], y[i], pxx_out, t0_out, n_out
        )
    return n_out


@njit
def _resample(
    t: np.ndarray, y: np.ndarray, fs: float, t_origin: float, m_out: np.ndarray, v_out: np.ndarray
) -> int:
    # Same interpolant as welch_add_beat, written out for the whole record (tests, plots).
    n = t.shape[0]
    if n < 3:
        return 0
    m = math.ceil((t[0] - t_origin) * fs)
    cnt = 0
    for j in range(n - 2):
        if j == 0:
            ma = _slope_first(t[0], t[1], t[2], y[0], y[1], y[2])
        else:
            ma = _slope_mid(t[j - 1], t[j], t[j + 1], y[j - 1], y[j], y[j + 1])
        mb = _slope_mid(t[j], t[j + 1], t[j + 2], y[j], y[j + 1], y[j + 2])
        while True:
            tm = t_origin + m / fs
            if not tm < t[j + 1]:
                break
            if cnt < m_out.shape[0]:
                m_out[cnt] = m
                v_out[cnt] = _hermite(t[j], t[j + 1], y[j], y[j + 1], ma, mb, tm)
            cnt += 1
            m += 1
    return cnt


def welch_resample(
    t_s: Any, y_ms: Any, fs: float = WELCH_FS_HZ, t_origin: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The resampled series the Welch estimator sees: ``(t_grid_s, y_ms)`` on ``t_origin + m/fs``.

    Covers the first to the second-to-last beat (the last interval is not final). Beat times
    must increase strictly; NaN beats are dropped.
    """
    t, y = _clean_beats(t_s, y_ms)
    if t.size < 3:
        return np.empty(0), np.empty(0)
    cap = math.ceil((t[-2] - t[0]) * fs) + 2
    m_out = np.empty(cap, dtype=np.int64)
    v_out = np.empty(cap)
    cnt = _resample(t, y, float(fs), float(t_origin), m_out, v_out)
    cnt = min(cnt, cap)
    return float(t_origin) + m_out[:cnt] / float(fs), v_out[:cnt]


class WelchState(NamedTuple):
    """Arrays of a streaming Welch estimator (pass them, in order, to :func:`welch_add_beat`)."""

    wf: np.ndarray
    wi: np.ndarray
    kt: np.ndarray
    ky: np.ndarray
    sbuf: np.ndarray
    win: np.ndarray
    cos_tab: np.ndarray
    sin_tab: np.ndarray
    work: np.ndarray


def welch_freqs(
    nfft: int = WELCH_NFFT, fs: float = WELCH_FS_HZ, f_max: float = WELCH_F_MAX_HZ
) -> np.ndarray:
    """Bin frequencies (Hz) of the Welch periodograms: ``k · fs / nfft`` for k·fs/nfft ≤ f_max."""
    nbins = math.floor(f_max * nfft / fs + 1e-9) + 1
    return np.arange(nbins, dtype=np.float64) * (fs / nfft)


def welch_state(
    nfft: int = WELCH_NFFT,
    window: Any = "hamming",
    nperseg: int = WELCH_NPERSEG,
    fs: float = WELCH_FS_HZ,
    t_origin: float = 0.0,
    max_gap_s: float = WELCH_MAX_GAP_S,
) -> WelchState:
    """Validated, preallocated state for the streaming Welch kernels."""
    if isinstance(nperseg, bool) or not isinstance(nperseg, (int, np.integer)) or nperseg < 8:
        raise InputError(f"nperseg must be an integer >= 8, got {nperseg!r}")
    if isinstance(nfft, bool) or not isinstance(nfft, (int, np.integer)) or nfft < nperseg:
        raise InputError(f"nfft must be an integer >= nperseg ({nperseg}), got {nfft!r}")
    try:
        fs_f = float(fs)
        origin = float(t_origin)
        gap = float(max_gap_s)
    except (TypeError, ValueError):
        raise InputError("fs, t_origin and max_gap_s must be numbers") from None
    if not (np.isfinite(fs_f) and fs_f > 2.0 * WELCH_F_MAX_HZ):
        raise InputError(f"fs must exceed {2 * WELCH_F_MAX_HZ} Hz, got {fs!r}")
    if not np.isfinite(origin):
        raise InputError(f"t_origin must be finite, got {t_origin!r}")
    if not gap > 0.0:
        raise InputError(f"max_gap_s must be positive, got {max_gap_s!r}")
    try:
        win = _window(window, int(nperseg))  # a float64 copy of its own (remembered)
    except (TypeError, ValueError) as e:
        raise InputError(f"unknown window {window!r}: {e}") from None
    nfft = int(nfft)
    nperseg = int(nperseg)
    wf = np.zeros(N_WF)
    wf[WF_FS] = fs_f
    wf[WF_T_ORIGIN] = origin
    wf[WF_MAX_GAP] = gap
    wf[WF_SCALE] = 1.0 / (fs_f * float(np.sum(win * win)))
    wi = np.zeros(N_WI, dtype=np.int64)
    wi[WI_M_FIRST] = _NO_INDEX
    wi[WI_LAST_BAD] = _NO_INDEX
    wi[WI_NPERSEG] = nperseg
    wi[WI_HOP] = nperseg // 2
    j = np.arange(nfft, dtype=np.float64)
    return WelchState(
        wf=wf,
        wi=wi,
        kt=np.zeros(4),
        ky=np.zeros(4),
        sbuf=np.zeros(nperseg),
        win=win,
        cos_tab=np.cos(2.0 * np.pi * j / nfft),
        sin_tab=np.sin(2.0 * np.pi * j / nfft),
        work=np.zeros(2 * nperseg),
    )


class StreamingWelch:
    """Welch PSD of an NN series, one periodogram per completed 64-s segment.

    Segments are cached with their start times (s, on the absolute grid) so that any span can be
    averaged later with :meth:`psd_between` without recomputation.

    Parameters
    ----------
    nfft : int
        DFT length (zero-padded), default 4096 (pyhrv's); bins up to 0.5 Hz are kept.
    window : str or tuple
        :func:`scipy.signal.get_window` spec, default ``"hamming"``.
    nperseg : int
        Segment length in samples, default 256 (64 s at 4 Hz); overlap 50 %.
    fs : float
        Resampling rate, Hz (default 4).
    t_origin : float
        Origin of the absolute resampling grid, s (default 0).
    max_gap_s : float
        Segments that interpolate across a longer NN gap are not used (default 4 s).
    """

    def __init__(
        self,
        nfft: int = WELCH_NFFT,
        window: Any = "hamming",
        nperseg: int = WELCH_NPERSEG,
        fs: float = WELCH_FS_HZ,
        t_origin: float = 0.0,
        max_gap_s: float = WELCH_MAX_GAP_S,
    ) -> None:
        self._st = welch_state(nfft, window, nperseg, fs, t_origin, max_gap_s)
        self._freqs = welch_freqs(int(nfft), float(fs))
        self._pxx = np.empty((0, self._freqs.size))
        self._t0 = np.empty(0)
        self._n = 0
        self._bands = np.empty(N_BAND_OUT)

    @property
    def freqs(self) -> np.ndarray:
        """Bin frequencies, Hz."""
        return self._freqs

    @property
    def segment_starts(self) -> np.ndarray:
        """Start time (s) of every cached segment."""
        return self._t0[: self._n].copy()

    @property
    def segment_seconds(self) -> float:
        """Duration of one segment, s."""
        return float(self._st.wi[WI_NPERSEG] / self._st.wf[WF_FS])

    @property
    def periodograms(self) -> np.ndarray:
        """Cached segment periodograms, ms²/Hz, shape (n_segments, n_bins)."""
        return self._pxx[: self._n].copy()

    def add(self, t_s: Any, y_ms: Any) -> np.ndarray:
        """Feed beats (times s, NN values ms); return start times of the segments completed.

        Beat times must increase strictly, also across calls.
        """
        t, y = _beats(t_s, y_ms)
        st = self._st
        if t.size and st.wi[WI_NB] > 0 and not t[0] > st.kt[3]:
            raise InputError(f"beat time {t[0]!r} s does not follow the previous {st.kt[3]!r} s")
        if t.size > 1 and np.any(np.diff(t) <= 0.0):
            raise InputError("beat times must increase strictly")
        if t.size == 0:
            return np.empty(0)
        # New grid samples start at the beat before the previous one at the earliest.
        nb = st.wi[WI_NB]
        t_ref = st.kt[2] if nb >= 2 else (st.kt[3] if nb == 1 else t[0])
        rows = int((t[-1] - t_ref) * st.wf[WF_FS] / st.wi[WI_HOP]) + 2
        pxx = np.empty((rows, self._freqs.size))
        t0 = np.empty(rows)
        k = welch_add_beats(*st, t, y, pxx, t0)
        if st.wi[WI_DROPPED]:  # pragma: no cover - the bound above makes this unreachable
            raise RuntimeError("StreamingWelch output buffer too small; segments were lost")
        if k:
            self._append(pxx[:k], t0[:k])
        return t0[:k].copy()

    def _append(self, pxx: np.ndarray, t0: np.ndarray) -> None:
        need = self._n + t0.size
        if need > self._t0.size:
            cap = max(need, 2 * self._t0.size, 16)
            pxx_new = np.empty((cap, self._freqs.size))
            t0_new = np.empty(cap)
            pxx_new[: self._n] = self._pxx[: self._n]
            t0_new[: self._n] = self._t0[: self._n]
            self._pxx, self._t0 = pxx_new, t0_new
        self._pxx[self._n : need] = pxx
        self._t0[self._n : need] = t0
        self._n = need

    def psd_between(self, t_lo: float = -np.inf, t_hi: float = np.inf) -> np.ndarray:
        """Mean periodogram (ms²/Hz) of the segments lying fully in ``[t_lo, t_hi]`` s.

        A segment starting at t0 spans ``[t0, t0 + nperseg / fs]``. NaN if there is none.
        """
        t0 = self._t0[: self._n]
        sel = (t0 >= t_lo) & (t0 + self.segment_seconds <= t_hi)
        if not np.any(sel):
            return np.full(self._freqs.size, np.nan)
        return self._pxx[: self._n][sel].mean(axis=0)

    def bands(self, t_lo: float = -np.inf, t_hi: float = np.inf) -> dict[str, float]:
        """Band powers etc. (keys: BAND_NAMES) of :meth:`psd_between`."""
        band_powers(self._freqs, self.psd_between(t_lo, t_hi), self._bands)
        return _bands_dict(self._bands)


# --------------------------------------------------------------------------------------------
# Batch API
# --------------------------------------------------------------------------------------------

_LOMB_OPTIONS = ("freqs",)
_WELCH_OPTIONS = ("nfft", "window", "nperseg", "fs", "t_origin", "max_gap_s")


def _clean_beats(t_s: Any, y_ms: Any) -> tuple[np.ndarray, np.ndarray]:
    t = as_1d_float(t_s, "t_s")
    y = as_1d_float(y_ms, "rr_ms")
    if t.shape != y.shape:
        raise InputError(f"t_s and rr_ms must have the same length, got {t.size} and {y.size}")
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if np.any(y <= 0.0):
        raise InputError(f"NN intervals must be positive ms, got {float(y[y <= 0.0][0])!r}")
    if t.size > 1 and np.any(np.diff(t) <= 0.0):
        i = int(np.argmax(np.diff(t) <= 0.0))
        raise InputError(f"beat times must increase strictly; t_s[{i + 1}]={t[i + 1]!r} s")
    return np.ascontiguousarray(t), np.ascontiguousarray(y)


def hrv_frequency(
    rr_ms: Any, method: str = "lomb", t_s: Any = None, **options: Any
) -> dict[str, float]:
    """Frequency-domain HRV of an NN series (batch form of the streaming estimators).

    Parameters
    ----------
    rr_ms : array
        NN intervals, ms (already screened). NaN intervals are dropped with their beats.
    method : {"lomb", "welch"}
        Lomb–Scargle on the uneven series (:class:`SlidingLomb`) or Welch on the 4 Hz
        resampled series (:class:`StreamingWelch`, all complete segments averaged).
    t_s : array, optional
        Beat times, s (the time of the beat that ends each interval). Default: the cumulative
        sum of ``rr_ms`` / 1000 with NaN intervals counted as zero (pass ``t_s`` when intervals
        are missing).
    **options
        ``lomb``: ``freqs`` (Hz grid, default :func:`lomb_grid`). ``welch``: ``nfft``,
        ``window``, ``nperseg``, ``fs``, ``t_origin``, ``max_gap_s`` as :class:`StreamingWelch`.

    Returns
    -------
    dict
        ``vlf_ms2``, ``lf_ms2``, ``hf_ms2``, ``total_ms2``: band powers, ms² (0.0033–0.04,
        0.04–0.15, 0.15–0.4, 0.0033–0.4 Hz); ``lf_hf``: LF/HF; ``lf_nu``, ``hf_nu``: 100·LF/(LF+HF)
        and 100·HF/(LF+HF), n.u.; ``lf_peak_hz``, ``hf_peak_hz``: band peak frequencies, Hz;
        ``coherence``: HeartMath coherence ratio; ``coherence_peak_hz``: its peak, Hz;
        ``n_beats``: beats used. Values are NaN when there are too few beats (Lomb: < 3) or no
        complete Welch segment (Welch needs 64 s plus two beats).
    """
    check_value(method, METHODS, "method")
    allowed = _LOMB_OPTIONS if method == "lomb" else _WELCH_OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for method {method!r}; "
            f"expected {', '.join(map(repr, allowed))}"
        )
    rr = as_1d_float(rr_ms, "rr_ms")
    if t_s is None:
        t_s = np.cumsum(np.where(np.isfinite(rr), rr, 0.0)) / 1000.0
    t, y = _clean_beats(t_s, rr)
    vals = np.empty(N_BAND_OUT)
    if method == "lomb":
        slomb = SlidingLomb(options.get("freqs"))
        slomb.add(t, y)
        band_powers(slomb.freqs, slomb.psd(), vals)
    else:
        sw = StreamingWelch(**options)
        sw.add(t, y)
        band_powers(sw.freqs, sw.psd_between(), vals)
    out = _bands_dict(vals)
    out["n_beats"] = float(t.size)
    return out


def warm_up() -> None:
    """Compile (or load from the cache) every kernel of this module on a few beats."""
    t = np.cumsum(np.full(120, 0.8))
    y = np.full(120, 800.0) + 20.0 * np.sin(2.0 * np.pi * 0.1 * t)
    hrv_frequency(y, "lomb", t)
    hrv_frequency(y, "welch", t)
    s = SlidingLomb()
    s.add(t[:3], y[:3])
    s.remove(t[:1], y[:1])
    s.bands()


@remembered
def _window(window: Any, n: int) -> np.ndarray:
    """``scipy.signal.get_window(window, n)`` (periodic, for spectral analysis), remembered."""
    from scipy import signal

    return np.asarray(signal.get_window(window, n), dtype=np.float64)
