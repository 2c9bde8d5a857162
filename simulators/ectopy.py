"""Synthetic ECG with frequent ventricular ectopy and exact beat truth.

A stress set for R-peak detectors: sinus rhythm interrupted by premature ventricular complexes
(PVCs) in the patterns seen in Holter recordings. Every beat is a sum of Gaussian waves (the
sinus beat is the P-Q-R-S-T of :mod:`wot_simulators.physiology`), so the truth is exact:
the R-peak sample of each beat and its kind.

Beats
    * ``N`` sinus: P wave, narrow QRS (~90 ms), concordant T wave.
    * ``V`` PVC: no P wave, wide QRS (120-180 ms total, one focus per record unless ``foci=2``),
      1.3-2.2 times the sinus R amplitude, of opposite polarity in most records (``polarity``),
      a smaller terminal lobe of the other sign and a broad discordant T wave. The truth sample
      is the main lobe's extremum.
    * ``F`` fusion: the sinus beat at its due time (up to 40 ms early) whose QRS and T are a
      blend of the sinus and the PVC shape (PVC share 0.3-0.7); the P wave is kept.

Timing
    The sinus node fires on its own grid (mean RR ``60 / hr_bpm`` with a 0.25 Hz respiratory
    modulation of 3 % and 1 % jitter). A PVC falls ``c x RR`` after the preceding sinus beat,
    ``c`` uniform in 0.5-0.7; further PVCs of a couplet or run follow at the same interval. The
    sinus beats from the first PVC until 0.55 RR after the last one are blocked (the ventricles
    are refractory), so an isolated PVC is followed by a full compensatory pause: the beats
    around it are exactly 2 RR apart. An *interpolated* PVC (``c`` 0.4-0.5) blocks nothing; the
    next sinus beat comes 40-80 ms late (concealed conduction prolongs its PR interval). No PVC
    comes less than 0.3 s after the beat before it; where an interpolated PVC would (fast sinus
    rates, above about 80/min), an ordinary PVC with a compensatory pause is made instead.

Patterns (``pattern``; ``rate`` is the share of ectopic events where it applies)
    ``sinus`` no ectopy; ``isolated`` a PVC after each sinus beat with probability
    ``rate / (1 - rate)`` (so about ``rate`` of all beats are PVCs); ``bigeminy`` N V N V;
    ``trigeminy`` N N V; ``couplets`` and ``nsvt`` events of 2 and 3 PVCs; ``fusion``
    isolated PVCs at ``rate`` and fusion beats at half of it; ``interpolated`` interpolated
    PVCs; ``mixed`` isolated PVCs, couplets, runs, interpolated and fusion beats together.

Noise: ``wander`` mV of baseline wander (0.33 Hz breathing plus a 0.05 Hz drift), ``noise`` mV
of white noise (default 0.01 mV, amplifier noise) plus a tenth of it at 50 Hz mains.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .physiology import _ECG_WIN, _P, _Q, _R, _S, _T

PATTERNS = (
    "sinus",
    "isolated",
    "bigeminy",
    "trigeminy",
    "couplets",
    "nsvt",
    "fusion",
    "interpolated",
    "mixed",
)
"""Rhythm patterns :func:`simulate_ectopy` makes."""

_K = 9  # Gaussian waves per beat at most (fusion: P, Q, R, S, T and the 4 PVC waves)
_BLOCK_RR = 0.55  # sinus beats up to this many RR after a PVC are blocked (refractory)
_COUPLING = (0.5, 0.7)
_INTERP_COUPLING = (0.4, 0.5)
_PR_DELAY = (0.04, 0.08)  # s, late sinus beat after an interpolated PVC
_MIN_COUPLING = 0.3  # s, no PVC earlier after a beat (the ventricles are still refractory)


class EctopyRecord(NamedTuple):
    """A synthetic record: ``signal`` (mV), ``fs`` (Hz), ``beats`` (R-peak sample indices,
    int64, increasing) and ``kinds`` (``"N"``, ``"V"`` or ``"F"`` per beat)."""

    signal: np.ndarray
    fs: float
    beats: np.ndarray
    kinds: np.ndarray


class _Focus(NamedTuple):
    sign: float  # polarity of the main lobe relative to the sinus R wave
    amp: float  # main lobe, times the sinus R amplitude
    width: float  # total QRS width, s
    second: float  # terminal lobe, share of the main lobe (opposite sign)


def _draw_focus(
    rng: np.random.Generator,
    polarity: str,
    amp: tuple[float, float],
    width: tuple[float, float],
) -> _Focus:
    if polarity == "opposite":
        sign = -1.0
    elif polarity == "same":
        sign = 1.0
    else:
        sign = -1.0 if rng.uniform() < 0.6 else 1.0
    return _Focus(sign, rng.uniform(*amp), rng.uniform(*width), rng.uniform(0.2, 0.45))


def _sinus_waves(r_amp: float, rr: float) -> list[tuple[float, float, float]]:
    q = math.sqrt(min(max(rr, 0.3), 2.0))  # QT follows RR as in physiology._render_ecg
    waves = [_P] + [(o, r_amp * a, s) for o, a, s in (_Q, _R, _S)]
    return [*waves, (_T[0] * q, _T[1], _T[2] * q)]


def _pvc_waves(f: _Focus, r_amp: float, rr: float) -> list[tuple[float, float, float]]:
    a = f.sign * f.amp * r_amp * _R[1]
    q = math.sqrt(min(max(rr, 0.3), 2.0))
    # a slurred onset (slow conduction through the myocardium), a main lobe, a terminal lobe
    return [
        (-0.3 * f.width, 0.3 * a, f.width / 5.0),
        (0.0, a, f.width / 8.0),
        (0.4 * f.width, -f.second * a, f.width / 8.0),
        # discordant T: opposite to the main QRS deflection, broad, after a longer QT
        (0.34 * q, -0.35 * a, 0.07 * q),
    ]


def _fusion_waves(f: _Focus, r_amp: float, rr: float, w: float) -> list[tuple[float, float, float]]:
    sinus = _sinus_waves(r_amp, rr)
    pvc = _pvc_waves(f, r_amp, rr)
    out = [sinus[0]] + [(o, (1.0 - w) * a, s) for o, a, s in sinus[1:]]
    return out + [(o, w * a, s) for o, a, s in pvc]


def _render(times: np.ndarray, waves: np.ndarray, n: int, fs: float) -> np.ndarray:
    """Sum the Gaussian waves ``(offset s, amplitude, SD s)`` of each beat around its time."""
    out = np.zeros(n)
    lo = math.floor(_ECG_WIN[0] * fs)
    width = math.ceil((_ECG_WIN[1] - _ECG_WIN[0]) * fs) + 1
    offs = np.arange(width)
    chunk = max(1, 1_000_000 // width)
    for c in range(0, times.size, chunk):
        b = times[c : c + chunk]
        idx = np.floor(b * fs).astype(np.int64)[:, None] + lo + offs
        dt = idx / fs - b[:, None]
        y = np.zeros(idx.shape)
        for k in range(waves.shape[1]):
            off, amp, sd = (waves[c : c + chunk, k, j, None] for j in range(3))
            y += amp * np.exp(-0.5 * ((dt - off) / sd) ** 2)
        ok = (idx >= 0) & (idx < n)
        out += np.bincount(idx[ok], weights=y[ok], minlength=n)
    return out


def _sinus_grid(rng: np.random.Generator, duration_s: float, hr_bpm: float) -> np.ndarray:
    rr0 = 60.0 / hr_bpm
    t = [rng.uniform(0.3, 0.3 + rr0)]
    phase = rng.uniform(0.0, 2.0 * math.pi)
    while t[-1] < duration_s + 3.0 * rr0:
        rr = rr0 * (1.0 + 0.03 * math.sin(2.0 * math.pi * 0.25 * t[-1] + phase))
        t.append(t[-1] + rr * (1.0 + 0.01 * rng.standard_normal()))
    return np.asarray(t)


def _plan(
    rng: np.random.Generator, pattern: str, rate: float, n_sinus: int
) -> list[tuple[str, int]]:
    """Per conducted sinus beat, the event that follows it: ("", 0) none, ("V", k) k PVCs,
    ("I", 1) an interpolated PVC; ("F", 0) marks the sinus beat itself as a fusion beat."""
    p = min(rate / max(1.0 - rate, 1e-9), 1.0)
    plan: list[tuple[str, int]] = []
    for m in range(n_sinus):
        u = rng.uniform()
        if m < 3 or pattern == "sinus":  # a few sinus beats first, as in any record
            plan.append(("", 0))
        elif pattern == "isolated":
            plan.append(("V", 1) if u < p else ("", 0))
        elif pattern == "bigeminy":
            plan.append(("V", 1))
        elif pattern == "trigeminy":
            plan.append(("V", 1) if plan[-1] == ("", 0) and plan[-2] != ("V", 1) else ("", 0))
        elif pattern == "couplets":
            plan.append(("V", 2) if u < p / 2.0 else ("", 0))
        elif pattern == "nsvt":
            plan.append(("V", 3) if u < p / 3.0 else ("", 0))
        elif pattern == "fusion":
            plan.append(("V", 1) if u < p else ("F", 0) if u < 1.5 * p else ("", 0))
        elif pattern == "interpolated":
            plan.append(("I", 1) if u < p else ("", 0))
        else:  # mixed
            kinds = (("V", 1), ("V", 2), ("V", 3), ("I", 1), ("F", 0))
            share = np.cumsum([0.5, 0.15 / 2, 0.1 / 3, 0.15, 0.1]) * p
            j = int(np.searchsorted(share, u, side="right"))
            plan.append(kinds[j] if j < len(kinds) else ("", 0))
    return plan


def simulate_ectopy(
    pattern: str = "isolated",
    *,
    rate: float = 0.1,
    duration_s: float = 120.0,
    fs: float = 360.0,
    hr_bpm: float = 70.0,
    seed: int = 0,
    polarity: str = "mixed",
    foci: int = 1,
    noise: float = 0.01,
    wander: float = 0.0,
    pvc_amp: tuple[float, float] = (1.3, 2.2),
    pvc_width: tuple[float, float] = (0.12, 0.18),
    coupling: tuple[float, float] = _COUPLING,
) -> EctopyRecord:
    """Synthesise an ectopy-heavy ECG record with exact beat truth.

    Parameters
    ----------
    pattern : str
        One of :data:`PATTERNS`.
    rate : float
        Approximate share of ectopic beats for ``isolated``, ``couplets``, ``nsvt``,
        ``fusion``, ``interpolated`` and ``mixed`` (0-0.5); ignored by the fixed patterns.
    duration_s, fs, hr_bpm : float
        Record length (s), sampling rate (Hz, any) and sinus rate (beats/min).
    seed : int
        Everything (rhythm, shapes, noise) follows from the seed.
    polarity : str
        PVC main deflection against the sinus R wave: ``"opposite"``, ``"same"`` or
        ``"mixed"`` (opposite with probability 0.6 per focus).
    foci : int
        Number of PVC morphologies (1 or 2, drawn per record).
    noise, wander : float
        White-noise SD and baseline-wander amplitude, mV. Keep some noise: a noise-free record
        is exactly flat in long pauses, which a detector may treat as a lead-off flatline.
    pvc_amp, pvc_width, coupling : (low, high)
        Ranges of the PVC main-lobe amplitude (times the sinus R wave), total QRS width (s)
        and coupling interval (times the sinus RR); each focus draws its own amplitude and
        width, each event its coupling.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; one of {', '.join(PATTERNS)}")
    if not 0.0 <= rate < 1.0:
        raise ValueError("rate must lie in [0, 1)")
    if polarity not in ("opposite", "same", "mixed"):
        raise ValueError("polarity must be 'opposite', 'same' or 'mixed'")
    rng = np.random.default_rng(seed)
    r_amp = rng.uniform(0.8, 1.2)
    focus = [_draw_focus(rng, polarity, pvc_amp, pvc_width) for _ in range(max(1, foci))]
    grid = _sinus_grid(rng, duration_s, hr_bpm)
    plan = _plan(rng, pattern, rate, grid.size)
    times: list[float] = []
    kinds: list[str] = []
    waves: list[list[tuple[float, float, float]]] = []
    m = 0
    delay = 0.0  # PR prolongation of the next sinus beat
    while m < grid.size - 1:
        rr = grid[m + 1] - grid[m]
        event, count = plan[m]
        if event == "F":
            times.append(grid[m] - rng.uniform(0.0, 0.04))
            kinds.append("F")
            f = focus[rng.integers(len(focus))]
            waves.append(_fusion_waves(f, r_amp, rr, rng.uniform(0.3, 0.7)))
        else:
            times.append(grid[m] + delay)
            kinds.append("N")
            waves.append(_sinus_waves(r_amp, rr))
        delay = 0.0
        t0 = times[-1]  # couplings count from the beat as it happened
        if event == "I":
            ci = rng.uniform(*_INTERP_COUPLING) * rr
            pr = rng.uniform(*_PR_DELAY)
            if ci < _MIN_COUPLING or grid[m + 1] + pr - (t0 + ci) < _MIN_COUPLING:
                event, count = "V", 1  # too fast to interpolate: an ordinary PVC
        if event == "V":
            f = focus[rng.integers(len(focus))]
            c = max(rng.uniform(*coupling), _MIN_COUPLING / rr)
            pvc = t0 + c * rr * (1.0 + np.arange(count))
            for t in pvc:
                times.append(float(t))
                kinds.append("V")
                waves.append(_pvc_waves(f, r_amp, c * rr))
            blocked_until = pvc[-1] + _BLOCK_RR * rr
            m += 1
            while m < grid.size - 1 and grid[m] <= blocked_until:
                m += 1
            continue
        if event == "I":
            f = focus[rng.integers(len(focus))]
            times.append(t0 + ci)
            kinds.append("V")
            waves.append(_pvc_waves(f, r_amp, 0.5 * rr))
            delay = pr
        m += 1
    t_arr = np.asarray(times)
    w_arr = np.zeros((t_arr.size, _K, 3))
    w_arr[:, :, 2] = 1.0  # unused waves: amplitude 0, any width
    for i, bw in enumerate(waves):
        w_arr[i, : len(bw)] = bw
    n = round(duration_s * fs)
    signal = _render(t_arr, w_arr, n, fs)
    t = np.arange(n) / fs
    if wander > 0.0:
        signal += wander * np.sin(2.0 * math.pi * 0.33 * t + rng.uniform(0.0, 2.0 * math.pi))
        signal += 0.5 * wander * np.sin(2.0 * math.pi * 0.05 * t + rng.uniform(0.0, 2.0 * math.pi))
    if noise > 0.0:
        signal += noise * rng.standard_normal(n)
        signal += 0.1 * noise * np.sin(2.0 * math.pi * 50.0 * t + rng.uniform(0.0, 2.0 * math.pi))
    idx = np.round(t_arr * fs).astype(np.int64)
    # truth: beats whose whole QRS lies inside the record
    edge = round(0.1 * fs)
    keep = (idx >= edge) & (idx < n - edge)
    return EctopyRecord(signal, float(fs), idx[keep], np.asarray(kinds)[keep])
