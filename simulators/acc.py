"""A chest-worn tri-axial accelerometer synthesised from a simulated session.

Model (all in the sensor frame, units of g)
-------------------------------------------
* **Gravity**: a 1 g "up" vector at a random, fixed sensor orientation (the accelerometer reads
  +1 g along the upward vertical at rest).
* **Breathing**: the chest wall tilts about a body-fixed axis perpendicular to gravity by an angle
  proportional to the session's noiseless belt signal ``depth · v(t)`` (0 at end-expiration,
  ``depth`` at end-inspiration, baseline depth 1). The gain is drawn per seed in 0.7-1.5 degrees
  per unit depth, so a tilt of about 0.3-1.5 degrees peak-to-peak (roughly 5-25 mg on the axes
  perpendicular to gravity) that follows the breath depth. A slow, smooth postural sway (white
  noise through two first-order low-passes of 10 s, SD 0.5 degrees) is added.
* **Seismocardiogram**: at each true beat a damped oscillation (per-seed frequency 12-25 Hz,
  decay 30-50 ms, peak 5-20 mg with ±20 % beat-to-beat variation) along a fixed direction,
  followed 0.25 s later by a weaker one (aortic opening and closure).
* **Motion** in the session's ``resp-motion`` artifact spans and in any extra ``motion_spans``:
  a walking-like burst (step frequency 1.5-2.5 Hz, vertical 0.1-0.3 g with a second harmonic,
  lateral sway at half the step frequency, trunk rocking of 2-4 degrees) and, in 60 % of the
  spans, a posture change (the orientation turns by 15-60 degrees over 1-2 s; half of them turn
  back at the end of the span, the others stay).
* **Sensor**: per-axis offset (±20 mg) and gain error (±2 %), white noise 2 mg RMS per axis.

The breathing waveform is the session's belt signal re-rendered without belt drift, belt noise
or belt artifacts (the same seed gives the same breaths at any rate and noise scale), so the
session's ``breath_onsets_s`` are the truth for the tilt. The samples are taken at the sample
times without an anti-alias filter, like MEMS sensors at low output rates.

References
----------
Bates A, Ling MJ, Mann J, Arvind DK (2010). Respiratory rate and flow waveform estimation from
tri-axial accelerometer data. Proc. BSN 2010, 144-150.
Inan OT et al. (2015). Ballistocardiography and seismocardiography: a review of recent advances.
IEEE J Biomed Health Inform 19(4), 1414-1427.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from scipy.signal import lfilter

from .physiology import SimulatedSession, simulate_session

_NOISE_G = 0.002  # white sensor noise, g RMS per axis
_SWAY_DEG, _SWAY_TAU_S = 0.5, 10.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _perpendicular(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random unit vector perpendicular to the unit vector ``u``."""
    r = rng.standard_normal(3)
    r -= r.dot(u) * u
    return _unit(r)


def _rotate(u: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate the rows of ``u`` (n, 3) about the unit ``axis`` (3,) or (n, 3) by ``angle`` rad."""
    c = np.cos(angle)[:, None]
    s = np.sin(angle)[:, None]
    k = np.broadcast_to(axis, u.shape)
    kxu = np.cross(k, u)
    kdu = np.sum(k * u, axis=1, keepdims=True)
    return u * c + kxu * s + k * kdu * (1.0 - c)


def _ramp(t: np.ndarray, t0: float, dur: float) -> np.ndarray:
    """0 before ``t0``, 1 after ``t0 + dur``, raised cosine in between."""
    u = np.clip((t - t0) / dur, 0.0, 1.0)
    return 0.5 * (1.0 - np.cos(np.pi * u))


def _spans(session: SimulatedSession, motion_spans: Iterable[tuple[float, float]] | None) -> list:
    spans = [
        (float(a), float(b))
        for (a, b), kind in zip(session.artifact_spans_s, session.artifact_kinds, strict=True)
        if kind == "resp-motion"
    ]
    for item in motion_spans if motion_spans is not None else ():
        try:
            a, b = (float(v) for v in item)
        except (TypeError, ValueError):
            raise ValueError(f"motion span {item!r} must be a (start_s, end_s) pair") from None
        if not (math.isfinite(a) and math.isfinite(b) and b > a):
            raise ValueError(f"motion span {item!r} must have finite start_s < end_s")
        spans.append((a, b))
    return sorted(spans)


def chest_acc(
    session: SimulatedSession,
    fs: float = 50.0,
    seed: int = 0,
    motion_spans: Iterable[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Synthesise a chest accelerometer (g) that breathes and beats with ``session``.

    Parameters
    ----------
    session : SimulatedSession
        A session from :func:`wot_simulators.physiology.simulate_session`; its breaths, beats and
        ``resp-motion`` artifact spans drive the accelerometer.
    fs : float
        Output sampling rate, Hz (> 0).
    seed : int
        Seed of the accelerometer's own randomness (orientation, gains, SCG, motion, noise);
        the output is identical for identical arguments.
    motion_spans : iterable of (start_s, end_s), optional
        Extra spans of body motion (walking and posture change), s, on top of the session's
        ``resp-motion`` spans. Spans may extend past the session.

    Returns
    -------
    numpy.ndarray
        ``(round(duration_s * fs), 3)`` float64 accelerations x, y, z in g at times ``n / fs``.

    Raises
    ------
    ValueError
        A non-positive or non-finite ``fs``, or a malformed motion span.
    """
    fs = float(fs)
    if not (math.isfinite(fs) and fs > 0.0):
        raise ValueError(f"fs {fs!r} must be a positive rate in Hz")
    dur = session.duration_s
    n = round(dur * fs)
    t = np.arange(n) / fs
    spans = _spans(session, motion_spans)
    r_geom, r_breath, r_scg, r_motion, r_noise = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 0xACC]).spawn(5)
    )

    # noiseless breathing (same seed -> same breaths at any rate and noise scale)
    cfg = replace(session.config, noise=0.0, artifacts=0.0, ecg_fs=10.0, eda_fs=1.0, resp_fs=fs)
    clean = simulate_session(session.scenario, cfg)
    if not np.array_equal(clean.breath_onsets_s, session.breath_onsets_s):
        raise RuntimeError("the noiseless re-simulation did not reproduce the session's breaths")
    belt = clean.resp + 0.5  # depth * v: 0 at end-expiration, depth at end-inspiration

    # orientation: "up" in the sensor frame; breathing and sway axes are body-fixed
    u0 = _unit(r_geom.standard_normal(3))
    breath_axis = _perpendicular(u0, r_geom)
    sway_axis = _perpendicular(u0, r_geom)
    rock_axis = _perpendicular(u0, r_geom)
    scg_dir = _unit(r_geom.standard_normal(3))
    offset = r_geom.uniform(-0.02, 0.02, 3)
    gain = 1.0 + r_geom.uniform(-0.02, 0.02, 3)

    up = np.broadcast_to(u0, (n, 3)).copy()
    walk = np.zeros((n, 3))
    rock = np.zeros(n)
    for a, b in spans:
        p = r_motion.uniform(0.0, 1.0, 12)  # fixed draws per span, whatever the rate
        d = b - a
        if p[0] < 0.6:  # posture change: lean / turn by tens of degrees
            i_ref = min(max(math.ceil(a * fs), 0), max(n - 1, 0))
            if n:
                axis = _perpendicular(up[i_ref], r_motion)
                angle = math.radians(15.0 + 45.0 * p[1]) * (1.0 if p[2] < 0.5 else -1.0)
                t_move = min(1.0 + p[3], 0.5 * d)
                t0 = a + (0.5 * d - t_move) * p[4]
                prof = _ramp(t, t0, t_move)
                if p[5] < 0.5:  # turns back at the end of the span
                    prof -= _ramp(t, b - t_move, t_move)
                up = _rotate(up, axis, angle * prof)
        env = _ramp(t, a, min(0.5, 0.25 * d)) - _ramp(t, b - min(0.5, 0.25 * d), min(0.5, 0.25 * d))
        f_step = 1.5 + 1.0 * p[6]
        amp = 0.1 + 0.2 * p[7]
        ph = 2.0 * np.pi * p[8:12]
        w = 2.0 * np.pi * f_step * (t - a)
        vert = amp * (np.sin(w + ph[0]) + 0.3 * np.sin(2.0 * w + ph[1]))
        lat = 0.4 * amp * np.sin(0.5 * w + ph[2])
        ap = 0.3 * amp * np.sin(w + ph[3])
        walk += env[:, None] * np.stack([vert, lat, ap], axis=1)
        rock += env * math.radians(2.0 + 2.0 * p[7]) * np.sin(w + ph[2])

    # body-fixed small rotations: breathing tilt, slow sway, trunk rocking while walking
    tilt = math.radians(r_breath.uniform(0.7, 1.5)) * belt
    # smooth (second-order, inertial) sway: white noise through two first-order low-passes,
    # with a burn-in of 5 time constants so that it is stationary from t = 0
    rho = math.exp(-1.0 / (_SWAY_TAU_S * fs))
    burn = math.ceil(5.0 * _SWAY_TAU_S * fs)
    z = r_breath.standard_normal(n + burn)
    sway = lfilter([1.0], [1.0, -2.0 * rho, rho * rho], z)[burn:]
    sway *= math.radians(_SWAY_DEG) * math.sqrt((1.0 - rho * rho) ** 3 / (1.0 + rho * rho))
    up = _rotate(up, breath_axis, tilt)
    up = _rotate(up, sway_axis, sway)
    up = _rotate(up, rock_axis, rock)

    # walking acceleration is given in the world frame (vertical, lateral, antero-posterior)
    h1 = np.cross(up, _perpendicular(u0, r_geom))
    bad = np.linalg.norm(h1, axis=1) < 0.2  # "up" turned near the reference: use another one
    h1[bad] = np.cross(up[bad], breath_axis)
    h1 = _unit(h1)
    h2 = np.cross(up, h1)
    acc = up + walk[:, :1] * up + walk[:, 1:2] * h1 + walk[:, 2:3] * h2

    # seismocardiogram: damped oscillations at each beat (aortic opening, then closure)
    f0 = r_scg.uniform(12.0, 25.0)
    tau = r_scg.uniform(0.03, 0.05)
    amp0 = r_scg.uniform(0.005, 0.020)
    beats = session.beat_times_s
    beat_amp = amp0 * (1.0 + 0.2 * np.clip(r_scg.standard_normal(beats.size), -2.0, 2.0))
    offs = np.arange(math.ceil(0.45 * fs) + 1)
    scg = np.zeros(n)
    for lag, rel in ((0.03, 1.0), (0.28, 0.5)):
        on = beats + lag
        idx = np.ceil(on * fs).astype(np.int64)[:, None] + offs
        s = idx / fs - on[:, None]
        y = rel * beat_amp[:, None] * np.exp(-s / tau) * np.sin(2.0 * np.pi * f0 * s)
        ok = (idx >= 0) & (idx < n) & (s < 0.2)
        scg += np.bincount(idx[ok], weights=y[ok], minlength=n)
    acc += scg[:, None] * scg_dir

    acc = acc * gain + offset + _NOISE_G * r_noise.standard_normal((n, 3))
    return np.ascontiguousarray(acc)
