"""Coupled, deterministic ECG / skin conductance / respiration following a scripted scenario.

Model overview
--------------
Everything starts from one latent, signed arousal trajectory ``a(t)`` on a fixed 100 Hz grid
that does not depend on the output sampling rates:

* the scripted target is ``+level`` in hyper segments, ``-level`` in hypo segments and 0 in
  within segments, with raised-cosine transitions lasting ``RAMP_S`` (8 s) that start at each
  scripted boundary;
* slow natural fluctuations are added everywhere: an Ornstein-Uhlenbeck process (SD 0.1,
  time constant 60 s).

With ``a+ = max(a, 0)`` and ``a- = max(-a, 0)`` every physiological parameter is linear (or
log-linear) in ``a+`` and ``a-``, calibrated at level 0.8:

=====================  ===========  ===============  ===============
quantity               baseline     hyper (0.8)      hypo (0.8)
=====================  ===========  ===============  ===============
heart rate             70 bpm ±5    +25 bpm          -12 bpm
RSA (RR peak-to-peak)  80 ms        ~17 ms           70 ms
breathing rate         12 /min      20 /min          8 /min
breath interval CV     0.10         0.25             0.04
breath depth           1.0 a.u.     0.8              0.45
SCL (tonic)            5 µS ±1.5    +1.5 µS, τ 60 s  -0.5 µS, τ 180 s
SCR rate               2 /min       10 /min          0.2 /min
SCR median amplitude   0.15 µS      0.30 µS          0.10 µS
=====================  ===========  ===============  ===============

Latent events are generated in continuous time from the seed: breath cycles (sequentially,
one random draw set per breath), beats (integral pulse frequency modulation of the
instantaneous heart rate, which carries RSA tied to the simulated breath phase and a 0.1 Hz
Mayer wave, plus beat-to-beat jitter) and SCR onsets (thinned non-homogeneous Poisson process).
The waveforms are then rendered at the requested rates; only the sensor noise depends on the
sampling rate, so the same seed gives the same ``beat_times_s``, ``scr_onsets_s`` and
``breath_onsets_s`` at any rate.

Each random process draws from its own child generator of ``np.random.SeedSequence(seed)``,
so changing one part of the model (or one modality's rate) does not reshuffle the others.

Paced breathing and resonance
-----------------------------
Where a scenario segment has a pacer (``pacer_bpm``), the client breathes at the pacer's rate,
regularly (interval CV 0.02) and deeply (depth 1.5). With ``SimConfig.resonance_bpm`` set,
the client has a resonance frequency of their own (Lehrer, Vaschillo & Vaschillo 2000;
Vaschillo et al. 2002): the breathing drive ``depth * (0.5 - v)`` reaches RR through a
resonant band-pass (second order, Q 3.3, unit gain and zero phase at the resonance rate, as
the cardiovascular baroreflex loop behaves) plus a small direct part (a fifth), and the
0.1 Hz Mayer wave is replaced by the same resonator ringing on white noise (about 6 ms RMS).
So the heart-rate oscillation is largest, and in phase with breathing, when the client
breathes at their resonance rate: in expectation about 10 % smaller 0.5 /min away and
25-30 % smaller 1 /min away. Without ``resonance_bpm`` the sessions are exactly as before.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import iirpeak, lfilter

from wot_biofeedback.modalities import ROLES, of_role

from .scenario import Scenario

DT = 0.01
"""Step of the latent grid, s (fixed, so latent events never depend on output rates)."""
RAMP_S = 8.0
"""Duration of the raised-cosine transition that starts at each scripted boundary, s."""
_PRE_S = 40.0  # latent pre-roll: SCR tails, T waves and breaths already under way at t = 0
_POST_S = 5.0  # latent post-roll: the next P wave and breath after the end
_LATENT_EXPORT_STEP = 10  # keep every 10th latent sample (10 Hz) on the session

# heart ------------------------------------------------------------------------------------
_HR_BASE = 70.0  # bpm
_HR_PERSON = 5.0  # ± bpm, uniform per seed
_HR_HYPER = 25.0 / 0.8  # bpm per unit a+
_HR_HYPO = 12.0 / 0.8  # bpm per unit a-
# RR peak-to-peak of the RSA drive, s; beat sampling smooths it to ~80 ms between beats
_RSA_PP = 0.095
_RSA_HYPER = (1.0 - 0.017 / _RSA_PP) / 0.8  # vagal withdrawal: ~17 ms realised at a+ = 0.8
_RSA_HYPO = (1.0 - 0.085 / _RSA_PP) / 0.8  # about baseline at a- = 0.8 (hypo is no "more HRV")
_MAYER_AMP = 0.008  # s, amplitude (half peak-to-peak) of the 0.1 Hz RR oscillation
_JITTER = 0.006  # s, SD of the independent beat-to-beat RR jitter at baseline
# (offset s, amplitude mV, width s) relative to the R peak; T is rescaled with sqrt(RR)
_P = (-0.16, 0.15, 0.020)
_Q = (-0.030, -0.15, 0.008)
_R = (0.0, 1.20, 0.0095)
_S = (0.030, -0.30, 0.009)
_T = (0.30, 0.30, 0.045)
_ECG_WIN = (-0.30, 0.70)  # s around each beat where its Gaussians are rendered

# breathing --------------------------------------------------------------------------------
_BR_BASE, _BR_HYPER, _BR_HYPO = 12.0, 8.0 / 0.8, 4.0 / 0.8  # /min, per unit a+ / a-
_CV_BASE, _CV_HYPER, _CV_HYPO = 0.10, 0.15 / 0.8, 0.06 / 0.8
_DEPTH_HYPER, _DEPTH_HYPO = 0.20 / 0.8, 0.55 / 0.8  # depth 1 -> 0.8 / 0.45
_INSP_FRAC = 0.40  # inspiration share of a cycle
_PACED_CV, _PACED_DEPTH = 0.02, 1.5  # breathing with a pacer: regular and deep
# resonance (SimConfig.resonance_bpm): RR s per unit breathing drive at the resonance rate, the
# resonator's quality factor, the direct (non-resonant) share and the resonator's noise, s RMS
_RES_GAIN, _RES_Q, _RES_DIRECT, _RES_NOISE = 0.13, 3.3, 0.2, 0.006

# skin conductance -------------------------------------------------------------------------
_SCL_BASE, _SCL_PERSON = 5.0, 1.5  # µS, ± µS uniform per seed
_SCL_HYPER, _TAU_HYPER = 1.5 / 0.8, 60.0  # µS per unit a+, s
_SCL_HYPO, _TAU_HYPO = 0.8 / 0.8, 180.0  # 0.8 µS target at a- = 0.8: ~-0.5 µS after 180 s
_SCL_DRIFT = -0.3 / 3600.0  # µS/s
_TAU_TONIC_SMOOTH = 10.0  # s
_SCL_DRIVE = 2.0  # µS per unit of a dyad partner's drive (tonic, through a 5-s lag)
_SCR_RATE = 2.0 / 60.0  # /s at baseline
_SCR_RATE_HYPER = math.log(5.0) / 0.8  # log-rate per unit a+: 2 -> 10 /min
_SCR_RATE_HYPO = math.log(10.0) / 0.8  # 2 -> 0.2 /min
_SCR_AMP, _SCR_AMP_SD = 0.15, 0.5  # µS median, log-SD
_SCR_AMP_HYPER = math.log(2.0) / 0.8  # median 0.15 -> 0.30 µS
_SCR_AMP_HYPO = math.log(1.5) / 0.8  # median 0.15 -> 0.10 µS
_SCR_MIN = 0.03  # µS
# no onset within 1.5 s of the last: a second response starting during the rise of the first
# cannot be told apart in skin conductance by any scorer, so the truth holds scoreable ones only
_SCR_DEAD_S = 1.5
_SCR_WIN = 30.0  # s rendered after each onset (decay τ <= 4 s: < 0.1 % left)
_EDA_FLOOR = 0.01  # µS; conductance of skin never reaches 0

MODALITIES = tuple(of_role(role)[0] for role in ROLES)
"""What the simulator makes: one signal per role, its preferred kind (ECG, EDA, a RESP belt)."""


@dataclass(frozen=True)
class SimConfig:
    """Rates, seed, noise and artifact settings of a simulated session.

    Attributes
    ----------
    ecg_fs, eda_fs, resp_fs : float
        Output sampling rates, Hz.
    seed : int
        Seed of every random process (the same seed gives identical sessions).
    noise : float
        Scale of all sensor noise (ECG white noise and mains, EDA noise, respiration drift and
        noise); 0 = noiseless. Physiological variability is not affected.
    artifacts : float
        Fraction of the session (0..0.5) covered by injected artifacts.
    resonance_bpm : float or None
        The client's own resonance breathing rate, breaths/min (3-10): heart rate oscillates
        most when they breathe at it (see the module text). None: the standard RSA model.
    """

    ecg_fs: float = 250.0
    eda_fs: float = 32.0
    resp_fs: float = 50.0
    seed: int = 0
    noise: float = 1.0
    artifacts: float = 0.0
    resonance_bpm: float | None = None

    def __post_init__(self) -> None:
        for key in ("ecg_fs", "eda_fs", "resp_fs"):
            v = getattr(self, key)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{key} {v!r} must be a positive rate in Hz")
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise {self.noise!r} must be >= 0")
        if not (math.isfinite(self.artifacts) and 0.0 <= self.artifacts <= 0.5):
            raise ValueError(f"artifacts {self.artifacts!r} must be a fraction in 0..0.5")
        r = self.resonance_bpm
        if r is not None and not (math.isfinite(r) and 3.0 <= r <= 10.0):
            raise ValueError(f"resonance_bpm {r!r} must be 3-10 breaths/min")

    def fs(self, modality: str) -> float:
        """Sampling rate of ``"ecg"``, ``"eda"`` or ``"resp"``, Hz."""
        if modality not in MODALITIES:
            raise ValueError(f"modality {modality!r} is not one of {', '.join(MODALITIES)}")
        return float(getattr(self, f"{modality}_fs"))


@dataclass
class SimulatedSession:
    """A simulated recording with its ground truth.

    Attributes
    ----------
    scenario : Scenario
        The scenario played (already cut/extended to ``duration_s``).
    config : SimConfig
        Rates, seed, noise, artifacts.
    duration_s : float
        Session length, s.
    ecg : numpy.ndarray
        ECG, mV, float64, ``round(duration_s * ecg_fs)`` samples at times ``n / ecg_fs``.
    eda : numpy.ndarray
        Skin conductance, µS (always > 0), at ``eda_fs``.
    resp : numpy.ndarray
        Respiration (belt-like), arbitrary units, inhalation = rising, at ``resp_fs``.
    beat_times_s : numpy.ndarray
        True R-peak times, s.
    scr_onsets_s : numpy.ndarray
        True onsets (start of the rise) of the skin conductance responses, s.
    breath_onsets_s : numpy.ndarray
        True inspiration onsets (respiration troughs), s.
    artifact_spans_s : numpy.ndarray
        ``(n, 2)`` start and end of each injected artifact, s; shape ``(0, 2)`` without.
    artifact_kinds : tuple of str
        Kind of each artifact span: ``ecg-noise``, ``ecg-flatline``, ``eda-contact``,
        ``eda-pop`` or ``resp-motion``.
    scr_amplitudes_us : numpy.ndarray
        Peak amplitude of each SCR in ``scr_onsets_s``, µS.
    latent_t_s, arousal : numpy.ndarray
        The latent signed arousal (hyper > 0 > hypo, level units) on a 10 Hz grid.
    """

    scenario: Scenario
    config: SimConfig
    duration_s: float
    ecg: np.ndarray
    eda: np.ndarray
    resp: np.ndarray
    beat_times_s: np.ndarray
    scr_onsets_s: np.ndarray
    breath_onsets_s: np.ndarray
    artifact_spans_s: np.ndarray
    artifact_kinds: tuple[str, ...] = ()
    scr_amplitudes_us: np.ndarray = field(default_factory=lambda: np.empty(0))
    latent_t_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    arousal: np.ndarray = field(default_factory=lambda: np.empty(0))

    def zone_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Scripted zone (``'<U6'``) at session times ``t_s`` (s); see :meth:`Scenario.zone_at`."""
        return self.scenario.zone_at(t_s)

    def arousal_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Latent signed arousal at session times ``t_s`` (s), linearly interpolated."""
        return np.interp(np.asarray(t_s, dtype=np.float64), self.latent_t_s, self.arousal)

    def fs(self, modality: str) -> float:
        """Sampling rate of ``"ecg"``, ``"eda"`` or ``"resp"``, Hz."""
        return self.config.fs(modality)

    def pacer_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """The scripted pacer rate (breaths/min) at times ``t_s``, NaN where there is none."""
        return self.scenario.pacer_at(t_s)

    def signal(self, modality: str) -> np.ndarray:
        """The samples of ``"ecg"`` (mV), ``"eda"`` (µS) or ``"resp"`` (a.u.)."""
        self.config.fs(modality)  # validates the name
        x: np.ndarray = getattr(self, modality)
        return x

    def time(self, modality: str) -> np.ndarray:
        """Sample times ``n / fs`` of ``"ecg"``, ``"eda"`` or ``"resp"``, s."""
        return np.arange(self.signal(modality).size) / self.config.fs(modality)


# latent processes -------------------------------------------------------------------------
def _ou(rng: np.random.Generator, n: int, sd: float, tau_s: float) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck process on the latent grid (exact discretisation)."""
    rho = math.exp(-DT / tau_s)
    z = rng.standard_normal(n) * (sd * math.sqrt(1.0 - rho * rho))
    x0 = rng.standard_normal() * sd
    y, _ = lfilter([1.0], [1.0, -rho], z, zi=[rho * x0])
    return np.asarray(y)


def _lowpass(x: np.ndarray, tau_s: float) -> np.ndarray:
    """First-order approach of ``x`` with time constant ``tau_s``, starting in steady state."""
    alpha = math.exp(-DT / tau_s)
    y, _ = lfilter([1.0 - alpha], [1.0, -alpha], x, zi=[alpha * x[0]])
    return np.asarray(y)


def _scripted_target(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    """Signed level per segment, with raised-cosine ramps of RAMP_S from each boundary."""
    levels = [s.signed_level for s in scenario.segments]
    starts = scenario.boundaries_s()[1:-1]
    target = np.full(t.shape, levels[0])
    for b, prev, nxt in zip(starts, levels[:-1], levels[1:], strict=True):
        if nxt != prev:
            u = np.clip((t - b) / RAMP_S, 0.0, 1.0)
            target += (nxt - prev) * 0.5 * (1.0 - np.cos(np.pi * u))
    return target


@dataclass
class _Breaths:
    """Breath cycles in continuous time: cycle k spans ``onsets[k]..onsets[k + 1]``."""

    onsets: np.ndarray  # s, one more than the number of cycles (the last is an end)
    depth: np.ndarray  # a.u., per cycle
    insp: np.ndarray  # inspiration fraction, per cycle

    def wave(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit breath shape (0 at the trough, 1 at end-inspiration) and per-cycle depth at t."""
        k = np.clip(np.searchsorted(self.onsets, t, side="right") - 1, 0, self.insp.size - 1)
        u = np.clip((t - self.onsets[k]) / (self.onsets[k + 1] - self.onsets[k]), 0.0, 1.0)
        f = self.insp[k]
        w = np.clip((u - f) / (1.0 - f), 0.0, 1.0)
        # passive expiration: fast initial fall, slow tail (w ** 0.75), smooth at both ends
        v = np.where(
            u < f, 0.5 * (1.0 - np.cos(np.pi * u / f)), 0.5 * (1.0 + np.cos(np.pi * w**0.75))
        )
        return v, self.depth[k]


def _breaths(
    rng: np.random.Generator, tg: np.ndarray, ap: np.ndarray, an: np.ndarray, pacer: np.ndarray
) -> _Breaths:
    rate = np.maximum(_BR_BASE + _BR_HYPER * ap - _BR_HYPO * an, 3.0) / 60.0  # Hz
    cv = np.maximum(_CV_BASE + _CV_HYPER * ap - _CV_HYPO * an, 0.01)
    depth = np.maximum(1.0 - _DEPTH_HYPER * ap - _DEPTH_HYPO * an, 0.1)
    paced = np.isfinite(pacer)
    rate[paced] = pacer[paced] / 60.0
    cv[paced] = _PACED_CV
    depth[paced] = _PACED_DEPTH
    t_end = tg[-1]
    n_max = int((t_end - tg[0]) / 1.0) + 3  # cycles are >= 1 s
    z = rng.standard_normal((n_max, 3))
    t = tg[0] - rng.uniform(0.0, 1.0) / rate[0]  # start part-way through a cycle
    onsets, depths, insp = [], [], []
    for k in range(n_max):
        if t > t_end:
            break
        onsets.append(t)
        i = min(max(int((t - tg[0]) / DT), 0), tg.size - 1)
        period = (1.0 + cv[i] * float(np.clip(z[k, 0], -2.5, 2.5))) / rate[i]
        depths.append(depth[i] * (1.0 + 0.08 * float(np.clip(z[k, 1], -2.5, 2.5))))
        insp.append(_INSP_FRAC + 0.03 * float(np.clip(z[k, 2], -2.0, 2.0)))
        t += max(period, 1.0)
    onsets.append(t)  # end of the last cycle
    return _Breaths(np.asarray(onsets), np.asarray(depths), np.asarray(insp))


def _beats(
    rng: np.random.Generator,
    tg: np.ndarray,
    ap: np.ndarray,
    an: np.ndarray,
    hr_person: float,
    v: np.ndarray,
    depth: np.ndarray,
    resonance_bpm: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beat times by integral pulse frequency modulation; also the RR(t) used, s."""
    hr = _HR_BASE + hr_person + _HR_HYPER * ap - _HR_HYPO * an + _ou(rng, tg.size, 1.5, 20.0)
    rsa_gain = math.exp(0.1 * rng.standard_normal())  # person: some have more RSA
    vagal = np.clip(1.0 - _RSA_HYPER * ap - _RSA_HYPO * an, 0.03, None)
    rsa_pp = _RSA_PP * rsa_gain * vagal
    mayer_phase = 2.0 * np.pi * 0.1 * tg + rng.uniform(0, 2 * np.pi) + _ou(rng, tg.size, 1.0, 20.0)
    mayer = _MAYER_AMP * (1.0 - 0.4 * np.clip(ap, 0.0, 1.0)) * np.sin(mayer_phase)
    if resonance_bpm is None:
        # inspiration (v rising) shortens RR: vagal outflow is gated off during inhalation
        rsa = rsa_pp * (0.5 - v)
    else:
        # the breathing drive through the baroreflex resonance, plus a small direct part; the
        # resonator rings on noise too, which takes the place of the Mayer wave
        b, a = iirpeak(resonance_bpm / 60.0, _RES_Q, fs=1.0 / DT)
        h = lfilter(b, a, np.r_[1.0, np.zeros(round(120.0 / DT))])
        white = rng.standard_normal(tg.size) * _RES_NOISE / math.sqrt(float(np.sum(h * h)))
        drive = _RES_GAIN * rsa_gain * vagal * depth * (0.5 - v)
        rsa = lfilter(b, a, drive + white) + _RES_DIRECT * drive
        mayer = np.zeros(tg.size)
    rr = np.maximum(60.0 / np.maximum(hr, 25.0) + rsa + mayer, 0.25)
    phase = np.concatenate([[0.0], np.cumsum(0.5 * (1.0 / rr[1:] + 1.0 / rr[:-1]) * DT)])
    n = int(phase[-1]) + 2
    u0 = rng.uniform(0.0, 1.0)
    z = np.clip(rng.standard_normal(n), -3.0, 3.0)
    nominal = u0 + np.arange(n)
    t_nom = np.interp(nominal, phase, tg)
    i_nom = np.clip(((t_nom - tg[0]) / DT).astype(np.int64), 0, tg.size - 1)
    jitter = _JITTER * (1.0 - 0.7 * np.clip(ap[i_nom], 0.0, 1.0))  # s, smaller in stress
    thresholds = nominal + np.cumsum(z * jitter / rr[i_nom])
    thresholds = thresholds[thresholds < phase[-1]]
    return np.interp(thresholds, phase, tg), rr


def _dead_time(onsets: np.ndarray, dead_s: float) -> np.ndarray:
    """Drop onsets closer than ``dead_s`` to the last kept one (sorted input)."""
    keep = np.ones(onsets.size, dtype=bool)
    last = -np.inf
    for j, t in enumerate(onsets):
        if t - last < dead_s:
            keep[j] = False
        else:
            last = t
    return onsets[keep]


def _scrs(
    rng: np.random.Generator, tg: np.ndarray, ap: np.ndarray, an: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SCR onsets (s), peak amplitudes (µS), rise and decay time constants (s)."""
    lam = _SCR_RATE * np.exp(_SCR_RATE_HYPER * ap - _SCR_RATE_HYPO * an)
    lam_max = float(lam.max())
    span = tg[-1] - tg[0]
    cand = np.sort(rng.uniform(tg[0], tg[-1], rng.poisson(lam_max * span)))
    keep = rng.uniform(0.0, lam_max, cand.size) < np.interp(cand, tg, lam)
    onsets = _dead_time(cand[keep], _SCR_DEAD_S)
    i = np.clip(((onsets - tg[0]) / DT).astype(np.int64), 0, tg.size - 1)
    median = _SCR_AMP * np.exp(_SCR_AMP_HYPER * ap[i] - _SCR_AMP_HYPO * an[i])
    amp = np.maximum(median * np.exp(_SCR_AMP_SD * rng.standard_normal(onsets.size)), _SCR_MIN)
    tau_r = 0.75 * np.exp(0.1 * rng.standard_normal(onsets.size))
    tau_d = rng.uniform(2.0, 4.0, onsets.size)
    return onsets, amp, tau_r, tau_d


# rendering --------------------------------------------------------------------------------
def _render_ecg(
    beats: np.ndarray, rr_prev: np.ndarray, amp: np.ndarray, n: int, fs: float
) -> np.ndarray:
    """Sum of P, Q, R, S, T Gaussians, rendered only in a window around each beat."""
    out = np.zeros(n)
    lo = math.floor(_ECG_WIN[0] * fs)
    width = math.ceil((_ECG_WIN[1] - _ECG_WIN[0]) * fs) + 1
    offs = np.arange(width)
    # QT shortens with RR (Bazett-like), so T never runs into the next QRS at high heart rate
    qt = np.sqrt(np.clip(rr_prev, 0.3, 2.0))
    chunk = max(1, 2_000_000 // width)
    for c in range(0, beats.size, chunk):
        b = beats[c : c + chunk]
        idx = np.floor(b * fs).astype(np.int64)[:, None] + lo + offs
        dt = idx / fs - b[:, None]
        a = amp[c : c + chunk, None]
        q = qt[c : c + chunk, None]
        y = _P[1] * np.exp(-0.5 * ((dt - _P[0]) / _P[2]) ** 2)
        for off, height, sd in (_Q, _R, _S):
            y += a * height * np.exp(-0.5 * ((dt - off) / sd) ** 2)
        y += _T[1] * np.exp(-0.5 * ((dt - _T[0] * q) / (_T[2] * q)) ** 2)
        ok = (idx >= 0) & (idx < n)
        out += np.bincount(idx[ok], weights=y[ok], minlength=n)
    return out


def _render_scrs(
    onsets: np.ndarray, amp: np.ndarray, tau_r: np.ndarray, tau_d: np.ndarray, n: int, fs: float
) -> np.ndarray:
    """Bateman-shaped SCRs (bi-exponential), each scaled to its peak amplitude, µS."""
    out = np.zeros(n)
    width = math.ceil(_SCR_WIN * fs) + 1
    offs = np.arange(width)
    t_peak = np.log(tau_d / tau_r) * tau_r * tau_d / (tau_d - tau_r)
    peak = np.exp(-t_peak / tau_d) - np.exp(-t_peak / tau_r)
    chunk = max(1, 2_000_000 // width)
    for c in range(0, onsets.size, chunk):
        o = onsets[c : c + chunk, None]
        idx = np.ceil(o * fs).astype(np.int64) + offs
        s = idx / fs - o  # >= 0: the response starts at its onset
        y = (np.exp(-s / tau_d[c : c + chunk, None]) - np.exp(-s / tau_r[c : c + chunk, None])) * (
            amp[c : c + chunk, None] / peak[c : c + chunk, None]
        )
        ok = (idx >= 0) & (idx < n)
        out += np.bincount(idx[ok], weights=y[ok], minlength=n)
    return out


# artifacts --------------------------------------------------------------------------------
_ARTIFACT_KINDS = {
    # kind: (duration range s, relative probability)
    "ecg-noise": ((1.0, 5.0), 1.0),
    "ecg-flatline": ((2.0, 5.0), 0.6),
    "eda-contact": ((3.0, 10.0), 0.6),
    "eda-pop": ((0.5, 2.0), 1.0),
    "resp-motion": ((2.0, 6.0), 1.0),
}


@dataclass
class _Artifact:
    kind: str
    start: float
    end: float
    params: np.ndarray  # uniform(0, 1) draws, interpreted per kind


def _plan_artifacts(rng: np.random.Generator, duration: float, fraction: float) -> list[_Artifact]:
    """Non-overlapping artifact spans covering ``fraction`` of the session, in random order."""
    if fraction <= 0.0:
        return []
    kinds = list(_ARTIFACT_KINDS)
    p = np.array([_ARTIFACT_KINDS[k][1] for k in kinds])
    need = fraction * duration
    picked: list[tuple[str, float]] = []
    total = 0.0
    while total < need - 1e-9:
        kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
        lo, hi = _ARTIFACT_KINDS[kind][0]
        d = min(rng.uniform(lo, hi), need - total)
        picked.append((kind, d))
        total += d
    # spread the free time over the gaps at random (Dirichlet), so spans never overlap
    gaps = rng.dirichlet(np.ones(len(picked) + 1)) * max(duration - total, 0.0)
    out, t = [], 0.0
    for (kind, d), gap in zip(picked, gaps[:-1], strict=True):
        t += gap
        out.append(_Artifact(kind, t, t + d, rng.uniform(0.0, 1.0, 6)))
        t += d
    return out


def _apply_artifacts(
    arts: list[_Artifact],
    sigs: dict[str, np.ndarray],
    fs: dict[str, float],
    rng: np.random.Generator,
) -> None:
    for art in arts:
        mod = art.kind.split("-")[0]
        x, f = sigs[mod], fs[mod]
        i0, i1 = math.ceil(art.start * f), min(math.ceil(art.end * f), x.size)
        if i1 <= i0:
            continue
        t = np.arange(i0, i1) / f - art.start
        p = art.params
        d = art.end - art.start
        if art.kind == "ecg-noise":  # electrode motion / EMG burst: broadband + wobble
            sd = 0.3 + 0.9 * p[0]
            x[i0:i1] += sd * rng.standard_normal(i1 - i0)
            x[i0:i1] += 1.5 * sd * np.sin(2 * np.pi * (0.5 + 2.5 * p[1]) * t + 2 * np.pi * p[2])
        elif art.kind == "ecg-flatline":  # lead-off: amplifier rail or a held value
            x[i0:i1] = (4.0 if p[0] < 0.5 else -4.0) if p[1] < 0.5 else x[max(i0 - 1, 0)]
        elif art.kind == "eda-contact":  # electrode lifts: conductance collapses, then recovers
            drop = np.clip(t / 0.3, 0, 1) * np.clip((d - t) / 0.8, 0, 1)
            x[i0:i1] = x[i0:i1] * (1.0 - drop) + 0.05 * drop
        elif art.kind == "eda-pop":
            t_pop = d * (0.1 + 0.3 * p[0])
            s = t - t_pop
            if p[1] < 0.5:  # step that relaxes back
                step = (0.3 + 1.2 * p[2]) * (1 if p[3] < 0.5 else -1)
                x[i0:i1] += np.where(s >= 0, step * np.exp(-np.clip(s, 0, None) / 0.4), 0.0)
            else:  # sharp biphasic spike
                a = (0.5 + 1.5 * p[2]) * (1 if p[3] < 0.5 else -1)
                x[i0:i1] += a * (
                    np.exp(-0.5 * (s / 0.02) ** 2) - np.exp(-0.5 * ((s - 0.06) / 0.02) ** 2)
                )
        elif art.kind == "resp-motion":  # body movement: large, slow swings
            win = np.sin(np.pi * t / d) ** 2
            swing = (1.5 + 2.0 * p[0]) * np.sin(2 * np.pi * (0.2 + 0.8 * p[1]) * t + 6.3 * p[2])
            swing += (0.5 + 1.0 * p[3]) * np.sin(2 * np.pi * (0.1 + 0.3 * p[4]) * t + 6.3 * p[5])
            x[i0:i1] += win * swing


# public -----------------------------------------------------------------------------------
def latent_grid(duration_s: float) -> np.ndarray:
    """The latent 100 Hz grid of a session ``duration_s`` long, s (it starts before 0: the
    pre-roll)."""
    return -_PRE_S + DT * np.arange(math.ceil((duration_s + _PRE_S + _POST_S) / DT) + 1)


def simulate_session(
    scenario: Scenario,
    config: SimConfig | None = None,
    duration_s: float | None = None,
    *,
    drive: np.ndarray | None = None,
) -> SimulatedSession:
    """Simulate ECG, skin conductance and respiration following ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        The scripted zone timeline.
    config : SimConfig, optional
        Rates (Hz), seed, noise scale and artifact fraction; defaults to ``SimConfig()``.
    duration_s : float, optional
        Session length, s; the scenario is truncated or its last segment extended
        (default: the scenario's own duration).
    drive : numpy.ndarray, optional
        An arousal fluctuation (level units) on :func:`latent_grid`, added to the latent
        arousal, and to the tonic skin conductance (``_SCL_DRIVE`` µS per unit, through a 5-s
        lag): what a partner passes on in a dyad (:mod:`wot_simulators.dyad`).

    Returns
    -------
    SimulatedSession
        Signals (ECG mV, EDA µS, respiration a.u.) and the truth (zones, beats, SCR onsets,
        breath onsets, artifact spans). Identical for identical inputs.
    """
    cfg = config if config is not None else SimConfig()
    if duration_s is not None:
        scenario = scenario.with_duration(float(duration_s))
    dur = scenario.duration_s
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(10)]
    r_person, r_arousal, r_breath, r_heart, r_eda, r_art, *r_noise = rngs
    noise_rng = dict(zip((*MODALITIES, "art"), r_noise, strict=True))

    # latent grid and arousal
    tg = latent_grid(dur)
    hr_person = _HR_PERSON * r_person.uniform(-1.0, 1.0)
    scl0 = _SCL_BASE + _SCL_PERSON * r_person.uniform(-1.0, 1.0)
    a = _scripted_target(scenario, tg) + _ou(r_arousal, tg.size, 0.1, 60.0)
    shared = np.zeros(tg.size)
    if drive is not None:
        shared = np.asarray(drive, dtype=np.float64)
        if shared.shape != tg.shape or not np.all(np.isfinite(shared)):
            raise ValueError(f"drive must be {tg.size} finite values on latent_grid({dur:g})")
        a = a + shared
    ap, an = np.maximum(a, 0.0), np.maximum(-a, 0.0)

    # latent events
    br = _breaths(r_breath, tg, ap, an, scenario.pacer_at(tg))
    v_grid, depth_grid = br.wave(tg)
    beats_all, rr_grid = _beats(
        r_heart, tg, ap, an, hr_person, v_grid, depth_grid, cfg.resonance_bpm
    )
    amp_beat = 1.0 + 0.02 * np.clip(r_heart.standard_normal(beats_all.size), -3, 3)
    scr_on, scr_amp, tau_r, tau_d = _scrs(r_eda, tg, ap, an)
    tonic = (
        scl0
        + _lowpass(_SCL_HYPER * ap, _TAU_HYPER)
        - _lowpass(_SCL_HYPO * an, _TAU_HYPO)
        # slow tonic wander; smoothed so that it carries no SCR-like bumps of its own (the truth
        # lists every phasic response)
        + _lowpass(_ou(r_eda, tg.size, 0.08, 120.0), _TAU_TONIC_SMOOTH)
        + _SCL_DRIFT * tg
        + _SCL_DRIVE * _lowpass(shared, 5.0)
    )
    arts = _plan_artifacts(r_art, dur, cfg.artifacts)

    sigs: dict[str, np.ndarray] = {}
    fs = {m: cfg.fs(m) for m in MODALITIES}
    nz = cfg.noise

    # ECG
    f = fs["ecg"]
    n = round(dur * f)
    t = np.arange(n) / f
    v, depth = br.wave(t)
    rr_prev = np.diff(beats_all, prepend=beats_all[0] - np.interp(beats_all[0], tg, rr_grid))
    bv, bdepth = br.wave(beats_all)
    # the electrical axis turns with breathing: QRS amplitude follows the breath a little
    qrs_amp = amp_beat * (1.0 + 0.08 * bdepth * (bv - 0.5))
    ecg = _render_ecg(beats_all, rr_prev, qrs_amp, n, f)
    ecg += 0.1 * depth * (v - 0.4)  # baseline wander with breathing (thorax impedance)
    if nz > 0:
        g = noise_rng["ecg"]
        ecg += np.interp(t, tg, _ou(g, tg.size, 0.05 * nz, 8.0))  # electrode drift
        ecg += 0.02 * nz * g.standard_normal(n)
        ecg += 0.01 * nz * np.sin(2 * np.pi * 50.0 * t + g.uniform(0, 2 * np.pi))
    sigs["ecg"] = ecg

    # EDA
    f = fs["eda"]
    n = round(dur * f)
    t = np.arange(n) / f
    eda = np.interp(t, tg, tonic) + _render_scrs(scr_on, scr_amp, tau_r, tau_d, n, f)
    if nz > 0:
        eda += 0.005 * nz * noise_rng["eda"].standard_normal(n)
    sigs["eda"] = eda

    # respiration
    f = fs["resp"]
    n = round(dur * f)
    t = np.arange(n) / f
    v, depth = br.wave(t)
    resp = depth * v - 0.5
    if nz > 0:
        g = noise_rng["resp"]
        resp += np.interp(t, tg, _ou(g, tg.size, 0.15 * nz, 30.0))  # belt slips, posture
        resp += 0.02 * nz * g.standard_normal(n)
    sigs["resp"] = resp

    _apply_artifacts(arts, sigs, fs, noise_rng["art"])
    np.maximum(sigs["eda"], _EDA_FLOOR, out=sigs["eda"])

    def inside(x: np.ndarray) -> np.ndarray:
        return x[(x >= 0.0) & (x < dur)]

    scr_in = (scr_on >= 0.0) & (scr_on < dur)
    step = _LATENT_EXPORT_STEP
    return SimulatedSession(
        scenario=scenario,
        config=cfg,
        duration_s=dur,
        ecg=sigs["ecg"],
        eda=sigs["eda"],
        resp=sigs["resp"],
        beat_times_s=inside(beats_all),
        scr_onsets_s=scr_on[scr_in],
        breath_onsets_s=inside(br.onsets),
        artifact_spans_s=np.array([[x.start, x.end] for x in arts]).reshape(-1, 2),
        artifact_kinds=tuple(x.kind for x in arts),
        scr_amplitudes_us=scr_amp[scr_in],
        latent_t_s=tg[::step].copy(),
        arousal=a[::step].copy(),
    )


def write_csv(
    session: SimulatedSession,
    path: str | os.PathLike[str],
    fs: float | None = None,
    *,
    time_offset: float = 0.0,
    append: bool = False,
) -> None:
    """Write ``time_s,ecg,eda,resp,zone`` rows of a session simulated at one common rate, and a
    ``pacer_bpm`` column (empty where there is no pacer) when the scenario paces breathing.

    Parameters
    ----------
    session : SimulatedSession
        Must have ``ecg_fs == eda_fs == resp_fs`` (nothing is resampled).
    path : str or path-like
        Output CSV file. Columns: time s (``%.6f``), ECG mV, EDA µS, respiration a.u.
        (``%.5f``) and the scripted zone.
    fs : float, optional
        Expected common rate, Hz; checked against the session (nothing is resampled).
    time_offset : float
        Seconds added to every ``time_s`` (sessions written one after another).
    append : bool
        Add the rows to the end of ``path`` (no header), e.g. the next hour of a long file.

    Raises
    ------
    ValueError
        When the three modalities have different rates, or not the rate ``fs``.
    """
    cfg = session.config
    rates = {cfg.ecg_fs, cfg.eda_fs, cfg.resp_fs}
    if len(rates) != 1:
        raise ValueError(
            f"write_csv needs one common rate, got ecg_fs={cfg.ecg_fs:g}, eda_fs={cfg.eda_fs:g}, "
            f"resp_fs={cfg.resp_fs:g} Hz (simulate with equal rates, e.g. simulate_to_csv)"
        )
    if fs is not None and not math.isclose(fs, cfg.ecg_fs):
        raise ValueError(f"write_csv: fs {fs:g} Hz differs from the session rate {cfg.ecg_fs:g} Hz")
    t = session.time("ecg")
    zone = session.zone_at(t)
    cols = (t + time_offset, session.ecg, session.eda, session.resp)
    paced = session.scenario.paced
    pacer = session.pacer_at(t) if paced else None
    line = "%.6f,%.5f,%.5f,%.5f,%s" + (",%s" if paced else "") + "\n"
    columns: list[np.ndarray] = [*cols, zone]
    if pacer is not None:
        columns.append(np.array([f"{r:g}" if r == r else "" for r in pacer.tolist()]))
    with Path(path).open("a" if append else "w", encoding="utf-8", newline="\n") as fh:
        if not append:
            fh.write("time_s,ecg,eda,resp,zone" + (",pacer_bpm" if paced else "") + "\n")
        write_rows(fh, line, columns)


def write_rows(fh: Any, line: str, columns: list[np.ndarray], chunk: int = 50_000) -> None:
    """Write the rows of equally long ``columns`` with the %-format ``line`` (one row's
    format, ending in a newline), a chunk of rows at a time: one %-format over a whole chunk
    runs in C, ~20x faster than ``np.savetxt`` per row."""
    n = len(columns[0]) if columns else 0
    for c in range(0, n, chunk):
        rows = np.empty((min(chunk, n - c), len(columns)), dtype=object)
        for j, col in enumerate(columns):
            rows[:, j] = col[c : c + chunk].tolist()
        fh.write((line * rows.shape[0]) % tuple(rows.ravel().tolist()))


def simulate_to_csv(
    scenario: Scenario,
    seed: int,
    path: str | os.PathLike[str],
    fs: float = 250.0,
    duration_s: float | None = None,
    noise: float = 1.0,
    artifacts: float = 0.0,
    resonance_bpm: float | None = None,
) -> SimulatedSession:
    """Simulate all modalities at one rate ``fs`` (Hz) and write them with :func:`write_csv`.

    Parameters
    ----------
    scenario : Scenario
        What to play.
    seed : int
        Random seed.
    path : str or path-like
        Output CSV (``time_s,ecg,eda,resp,zone``).
    fs : float
        Common sampling rate of every column, Hz.
    duration_s : float, optional
        Session length, s (default: the scenario's).
    noise, artifacts : float
        As in :class:`SimConfig`.
    resonance_bpm : float, optional
        The client's resonance breathing rate (:class:`SimConfig`).

    Returns
    -------
    SimulatedSession
        The session that was written.
    """
    cfg = SimConfig(
        ecg_fs=fs, eda_fs=fs, resp_fs=fs, seed=seed, noise=noise, artifacts=artifacts,
        resonance_bpm=resonance_bpm,
    )  # fmt: skip
    session = simulate_session(scenario, cfg, duration_s)
    write_csv(session, path, fs)
    return session
