"""Breathing derived from a chest accelerometer, with a per-sample quality.

The chest wall tilts slightly with each breath, so gravity's projection on the axes of a
chest-worn accelerometer oscillates at the breathing rate (a few mg to ~20 mg). Each axis is
band-passed to the breathing band (0.05-1 Hz, causal, started at the steady state of the first
valid sample) and the three band-passed axes are projected on their dominant direction of
variation: the principal eigenvector of an exponentially weighted 3x3 covariance (time constant
30 s), tracked with a few power-iteration steps every half second and with its sign kept
continuous, so the 1-D surrogate never flips. Its sign relative to inhalation is arbitrary (it
depends on where and how the sensor sits on the chest).

Quality (0..1 per sample) is the product of three scale-invariant factors, each a linear ramp:

* **motion**: the share of the power in the breathing band against the power in a motion band
  (1-10 Hz, all axes; walking, fidgeting, posture changes), both running means over a few
  seconds;
* **size**: the breathing-band RMS relative to the gravity magnitude (a running mean of the
  acceleration norm, ~1 g whatever the units) must be breathing-sized, about 0.5-30 mg: a flat
  or noise-only signal is too small, a posture change far too large;
* **direction**: the share of the breathing-band power that lies along the tracked direction.
  A chest tilt is essentially one-dimensional; sensor noise is isotropic (share ~1/3).

The covariance is updated with the weight motion x size and with a bounded influence per sample
(at most 4 times its running mean power), so that walking or a posture change cannot capture the
tracked direction; once the motion has settled the direction re-adapts
(tau 30 s) if the posture changed. Quality is 0 during gaps (NaN rows), for 3 s after a gap and
for the first 5 s.

Algorithmic delay: the group delay of the band-pass at 0.25 Hz (~0.9 s, ``delay_s``).

References
----------
Bates A, Ling MJ, Mann J, Arvind DK (2010). Respiratory rate and flow waveform estimation from
tri-axial accelerometer data. Proc. Int. Conf. Body Sensor Networks (BSN), 144-150.
Hernandez J, McDuff D, Picard RW (2015). BioWatch: estimation of heart and breathing rates from
wrist motions. Proc. PervasiveHealth, 169-176.
Jin A, Yin B, Morren G, Duric H, Aarts RM (2009). Performance evaluation of a tri-axial
accelerometry-based respiration monitoring for ambient assisted living. Proc. IEEE EMBC,
5677-5680.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_rate
from ..errors import InputError
from ._designs import remembered
from ._kernels import I_BAD_UNTIL, I_N, I_START_N, I_STARTED
from ._numba import njit
from .filters import butter_sos, sos_zi_unit
from .framing import FRAME_RATE_HZ, ChannelOutput, merge_outputs
from .resp import RespChannel

# float state: last valid x, y, z; gravity magnitude; breathing-band, motion-band and projected
# power; covariance xx, yy, zz, xy, xz, yz; its accumulated weight; tracked direction x, y, z;
# output sign (+1/-1); rise-evidence mean and its weight; good-quality samples seen; previous
# unsigned surrogate
_LAST, _GRAV, _PB, _PM, _PP, _COV, _COV_W, _DIR = 0, 3, 4, 5, 6, 7, 13, 14
_SIGN, _EV, _EV_W, _EV_N, _PREV_R = 17, 18, 19, 20, 21
_N_FLOAT = 22
_N, _STARTED, _BAD_UNTIL, _START_N = I_N, I_STARTED, I_BAD_UNTIL, I_START_N
_N_INT = 4
(
    _P_A_COV, _P_A_PB, _P_A_PM, _P_A_GRAV, _P_EVERY, _P_ITER, _P_SETTLE_N, _P_WARMUP_N,
    _P_MOTION_W, _P_SHARE_LO, _P_SHARE_HI, _P_SIZE_LO0, _P_SIZE_LO1, _P_SIZE_HI1, _P_SIZE_HI0,
    _P_DIR_LO, _P_DIR_HI, _P_HUBER2, _P_A_EV, _P_SIGN_THR, _P_SIGN_MIN_N,
) = range(21)  # fmt: skip

# fixed design, Hz: band that learns the breathing direction and measures breathing power; the
# surrogate's own filter (a low-pass that keeps the breath shape, and a very slow high-pass that
# removes gravity); the motion detector's band
BREATH_BAND = (0.05, 1.0)
SURROGATE_LOWPASS = 1.0
SURROGATE_HIGHPASS = 0.01
MOTION_BAND = (1.0, 10.0)
SIGN_LAG_S = 0.2


@njit
def _ramp(v: float, lo: float, hi: float) -> float:
    # 0 at or below lo, 1 at or above hi, linear in between
    if v <= lo:
        return 0.0
    if v >= hi:
        return 1.0
    return (v - lo) / (hi - lo)


@njit
def _step3(sos: np.ndarray, zi: np.ndarray, k: int, v: float) -> float:
    # One sample of axis k through the cascade (transposed direct form II, state zi[k]).
    for s in range(sos.shape[0]):
        y = sos[s, 0] * v + zi[k, s, 0]
        zi[k, s, 0] = sos[s, 1] * v - sos[s, 4] * y + zi[k, s, 1]
        zi[k, s, 1] = sos[s, 2] * v - sos[s, 5] * y
        v = y
    return v


@njit
def _power_iteration(fst: np.ndarray, n_iter: int) -> None:
    # A few power-iteration steps from the current direction, keeping the sign continuous.
    cxx, cyy, czz = fst[_COV], fst[_COV + 1], fst[_COV + 2]
    cxy, cxz, cyz = fst[_COV + 3], fst[_COV + 4], fst[_COV + 5]
    ox, oy, oz = fst[_DIR], fst[_DIR + 1], fst[_DIR + 2]
    vx, vy, vz = ox, oy, oz
    # The Rayleigh quotient of the principal eigenvector is at least the largest diagonal term;
    # below it the direction is stuck far from the principal one (e.g. orthogonal to it), so
    # restart from the strongest axis.
    rq = (
        cxx * vx * vx + cyy * vy * vy + czz * vz * vz
        + 2.0 * (cxy * vx * vy + cxz * vx * vz + cyz * vy * vz)
    )  # fmt: skip
    dmax = max(cxx, cyy, czz)
    if rq < 0.5 * dmax:
        vx, vy, vz = 0.0, 0.0, 0.0
        if cxx == dmax:
            vx = 1.0 if ox >= 0.0 else -1.0
        elif cyy == dmax:
            vy = 1.0 if oy >= 0.0 else -1.0
        else:
            vz = 1.0 if oz >= 0.0 else -1.0
    for _ in range(n_iter):
        wx = cxx * vx + cxy * vy + cxz * vz
        wy = cxy * vx + cyy * vy + cyz * vz
        wz = cxz * vx + cyz * vy + czz * vz
        nrm = math.sqrt(wx * wx + wy * wy + wz * wz)
        if not nrm > 0.0:
            return  # no variation yet (flat signal): keep the old direction
        vx, vy, vz = wx / nrm, wy / nrm, wz / nrm
    if vx * ox + vy * oy + vz * oz < 0.0:
        vx, vy, vz = -vx, -vy, -vz
    fst[_DIR], fst[_DIR + 1], fst[_DIR + 2] = vx, vy, vz


@njit
def _acc_breathing(
    x: np.ndarray,
    sos_b: np.ndarray,
    zi_b: np.ndarray,
    zu_b: np.ndarray,
    sos_m: np.ndarray,
    zi_m: np.ndarray,
    zu_m: np.ndarray,
    sos_o: np.ndarray,
    zi_o: np.ndarray,
    zu_o: np.ndarray,
    lag: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    out_resp: np.ndarray,
    out_q: np.ndarray,
) -> None:
    a_cov, a_pb, a_pm, a_g = prm[_P_A_COV], prm[_P_A_PB], prm[_P_A_PM], prm[_P_A_GRAV]
    a_ev = prm[_P_A_EV]
    every, n_iter = int(prm[_P_EVERY]), int(prm[_P_ITER])
    n_lag = lag.shape[0]
    bp = np.empty(3)
    so = np.empty(3)
    v = np.empty(3)
    for i in range(x.shape[0]):
        n = ist[_N]
        valid = True
        for k in range(3):
            v[k] = x[i, k]
            if math.isnan(v[k]):
                valid = False
        if valid:
            for k in range(3):
                fst[_LAST + k] = v[k]
        elif ist[_STARTED] == 1:
            # gap: hold the last valid sample so that the filter states stay finite
            ist[_BAD_UNTIL] = max(ist[_BAD_UNTIL], n + int(prm[_P_SETTLE_N]))
            for k in range(3):
                v[k] = fst[_LAST + k]
        else:
            out_resp[i] = math.nan
            out_q[i] = 0.0
            ist[_N] = n + 1
            continue
        if ist[_STARTED] == 0:
            # start every filter at the steady state of the first valid sample (no ringing)
            for k in range(3):
                for s in range(zi_b.shape[1]):
                    zi_b[k, s, 0] = zu_b[s, 0] * v[k]
                    zi_b[k, s, 1] = zu_b[s, 1] * v[k]
                for s in range(zi_m.shape[1]):
                    zi_m[k, s, 0] = zu_m[s, 0] * v[k]
                    zi_m[k, s, 1] = zu_m[s, 1] * v[k]
                for s in range(zi_o.shape[1]):
                    zi_o[k, s, 0] = zu_o[s, 0] * v[k]
                    zi_o[k, s, 1] = zu_o[s, 1] * v[k]
            fst[_GRAV] = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
            ist[_STARTED] = 1
            ist[_START_N] = n
            ist[_BAD_UNTIL] = n + int(prm[_P_WARMUP_N])
        pb = 0.0
        pm = 0.0
        for k in range(3):
            bp[k] = _step3(sos_b, zi_b, k, v[k])
            so[k] = _step3(sos_o, zi_o, k, v[k])
            m = _step3(sos_m, zi_m, k, v[k])
            pb += bp[k] * bp[k]
            pm += m * m
        if valid:
            fst[_GRAV] += a_g * (math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) - fst[_GRAV])
        fst[_PB] += a_pb * (pb - fst[_PB])
        fst[_PM] += a_pm * (pm - fst[_PM])

        # motion: share of the breathing band against the motion band
        den = fst[_PB] + prm[_P_MOTION_W] * fst[_PM]
        q_motion = _ramp(fst[_PB] / den, prm[_P_SHARE_LO], prm[_P_SHARE_HI]) if den > 0.0 else 0.0
        # size: breathing-band RMS relative to gravity, on a log scale
        g2 = fst[_GRAV] * fst[_GRAV]
        q_size = 0.0
        if fst[_PB] > 0.0 and g2 > 0.0:
            lr = 0.5 * math.log10(fst[_PB] / g2)
            q_size = min(
                _ramp(lr, prm[_P_SIZE_LO0], prm[_P_SIZE_LO1]),
                1.0 - _ramp(lr, prm[_P_SIZE_HI1], prm[_P_SIZE_HI0]),
            )
        # The direction is learned only from breathing-like stretches, and with a bounded
        # influence: a sample counts at most as much as HUBER2 times the running mean power, so
        # the tail of a posture change cannot capture the direction.
        if valid:
            w = q_motion * q_size
            if fst[_COV_W] > 0.0 and pb > 0.0:
                tr = (fst[_COV] + fst[_COV + 1] + fst[_COV + 2]) / fst[_COV_W]
                w *= min(1.0, prm[_P_HUBER2] * tr / pb)
            w *= a_cov
            fst[_COV_W] += w * (1.0 - fst[_COV_W])
            fst[_COV] += w * (bp[0] * bp[0] - fst[_COV])
            fst[_COV + 1] += w * (bp[1] * bp[1] - fst[_COV + 1])
            fst[_COV + 2] += w * (bp[2] * bp[2] - fst[_COV + 2])
            fst[_COV + 3] += w * (bp[0] * bp[1] - fst[_COV + 3])
            fst[_COV + 4] += w * (bp[0] * bp[2] - fst[_COV + 4])
            fst[_COV + 5] += w * (bp[1] * bp[2] - fst[_COV + 5])
        if n % every == 0:  # scheduled by the global sample counter, not by chunks
            _power_iteration(fst, n_iter)
        d0, d1, d2 = fst[_DIR], fst[_DIR + 1], fst[_DIR + 2]
        r = d0 * bp[0] + d1 * bp[1] + d2 * bp[2]
        fst[_PP] += a_pb * (r * r - fst[_PP])
        q_dir = _ramp(fst[_PP] / fst[_PB], prm[_P_DIR_LO], prm[_P_DIR_HI]) if fst[_PB] > 0 else 0.0
        q = q_motion * q_size * q_dir if valid and n >= ist[_BAD_UNTIL] else 0.0

        # the surrogate: the same direction, on the low-passed axes (breath shape kept)
        ru = d0 * so[0] + d1 * so[1] + d2 * so[2]
        # Sign: inspiration is shorter than expiration (Ti/Ttot ~0.4), so with inhalation up
        # the surrogate rises for less than half of the time. Evidence: the quality-weighted
        # running mean of the sign of its change over SIGN_LAG_S.
        j = n % n_lag
        if n - ist[_START_N] >= n_lag:
            dr = ru - lag[j]
            ev = 1.0 if dr > 0.0 else (-1.0 if dr < 0.0 else 0.0)
            fst[_EV] += a_ev * (q * ev - fst[_EV])
            fst[_EV_W] += a_ev * (q - fst[_EV_W])
            fst[_EV_N] += q
        lag[j] = ru
        if fst[_EV_N] >= prm[_P_SIGN_MIN_N] and fst[_EV_W] > 0.0:
            m_rise = fst[_EV] / fst[_EV_W]  # > 0: the unsigned surrogate rises more often
            want = fst[_SIGN]
            if m_rise > prm[_P_SIGN_THR]:
                want = -1.0
            elif m_rise < -prm[_P_SIGN_THR]:
                want = 1.0
            # flip only where the surrogate crosses zero, so the output has no jump
            if want != fst[_SIGN] and fst[_PREV_R] * ru <= 0.0:
                fst[_SIGN] = want
        fst[_PREV_R] = ru

        out_resp[i] = fst[_SIGN] * ru if valid else math.nan
        out_q[i] = q
        ist[_N] = n + 1


@remembered
def _group_delay_s(sos: np.ndarray, f_hz: float, fs: float) -> float:
    """Group delay of a second-order-section cascade at ``f_hz``, s (sum over sections)."""
    from scipy import signal

    total = 0.0
    for sec in sos:
        _, gd = signal.group_delay((sec[:3], sec[3:]), w=[f_hz], fs=fs)
        total += float(gd[0])
    return total / fs


def _as_acc(chunk: object) -> np.ndarray:
    """``chunk`` as a contiguous (n, 3) float64 array with ±inf turned into NaN."""
    try:
        arr = np.ascontiguousarray(chunk, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"ACC chunk must be numeric (n, 3) x, y, z samples, got {type(chunk).__name__}"
        ) from None
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(
            f"ACC chunk must have shape (n, 3) (one row of x, y, z per sample), got shape "
            f"{arr.shape}"
        )
    if arr.size and not np.isfinite(arr).all():
        arr = np.where(np.isinf(arr), np.nan, arr)
    return arr


class AccBreathing:
    """Streaming breathing surrogate and quality from a chest-worn tri-axial accelerometer.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (10-1000).

    Attributes
    ----------
    fs : float
        Sampling rate, Hz.
    delay_s : float
        Algorithmic delay of the surrogate: the group delay of the 0.05-1 Hz band-pass at
        0.25 Hz (15 breaths/min), s.

    Notes
    -----
    ``update(chunk)`` takes ``(n, 3)`` accelerations (x, y, z; g or m/s², the quality is
    scale-invariant; raw, i.e. with gravity, as chest straps stream them). A row with a NaN (or
    inf) is a gap. It returns ``(resp, quality)``, both of shape ``(n,)``: the breathing surrogate
    in the input's units (NaN at gaps; its sign relative to inhalation is arbitrary but does not
    change during a recording) and a quality in 0..1 (0 at gaps). Streaming output equals
    :func:`acc_breathing` on the whole record for any chunking. See the module docstring for
    the method.

    References
    ----------
    Bates A et al. (2010). Respiratory rate and flow waveform estimation from tri-axial
    accelerometer data. Proc. BSN 2010, 144-150.
    """

    def __init__(self, fs: float) -> None:
        self.fs = check_rate(fs, "ACC sampling rate", 10.0, 1000.0)
        fs = self.fs
        self._sos_b = butter_sos("bandpass", BREATH_BAND, fs, order=2)
        self._sos_m = butter_sos("bandpass", MOTION_BAND, fs, order=2)
        self._zu_b = sos_zi_unit(self._sos_b)
        self._zu_m = sos_zi_unit(self._sos_m)
        self._zi_b = np.zeros((3, *self._zu_b.shape))
        self._zi_m = np.zeros((3, *self._zu_m.shape))
        self._sos_o = np.ascontiguousarray(
            np.vstack(
                (
                    butter_sos("lowpass", SURROGATE_LOWPASS, fs, order=2),
                    butter_sos("highpass", SURROGATE_HIGHPASS, fs, order=1),
                )
            )
        )
        self._zu_o = sos_zi_unit(self._sos_o)
        self._zi_o = np.zeros((3, *self._zu_o.shape))
        self._lag = np.zeros(max(1, round(SIGN_LAG_S * fs)))
        self._fst = np.zeros(_N_FLOAT)
        # start direction: not along an axis, so exact single-axis data does not leave it stuck
        self._fst[_DIR : _DIR + 3] = np.array([1.0, 0.8, 0.6]) / math.sqrt(2.0)
        self._fst[_SIGN] = 1.0
        self._ist = np.zeros(_N_INT, dtype=np.int64)

        def alpha(tau_s: float) -> float:
            return 1.0 - math.exp(-1.0 / (tau_s * fs))

        self._prm = np.array(
            [
                alpha(30.0),  # covariance of the breathing band, tau 30 s
                alpha(4.0),  # breathing-band (and projected) power, tau 4 s
                alpha(2.0),  # motion-band power, tau 2 s
                alpha(10.0),  # gravity magnitude, tau 10 s
                max(1, round(0.5 * fs)),  # power iteration every 0.5 s
                3,  # power-iteration steps each time
                round(3.0 * fs),  # quality held at 0 for 3 s after a gap
                round(5.0 * fs),  # ... and for the first 5 s
                1.0,  # weight of the motion-band power against the breathing-band power
                0.2,  # breathing share: quality 0 at or below ...
                0.5,  # ... 1 at or above
                math.log10(0.3e-3),  # breathing RMS / gravity: 0 at or below 0.3 mg ...
                math.log10(0.8e-3),  # ... 1 from 0.8 mg ...
                math.log10(20e-3),  # ... up to 20 mg ...
                math.log10(50e-3),  # ... 0 at or above 50 mg (posture change, motion)
                0.5,  # share of breathing-band power on the tracked direction: 0 at ...
                0.8,  # ... 1 at (isotropic noise gives ~1/3, breathing > 0.9)
                4.0,  # bounded influence on the covariance: at most 4 x its mean power
                alpha(60.0),  # sign evidence, tau 60 s
                0.04,  # sign: flip when the rise-minus-fall share passes this margin ...
                30.0 * fs,  # ... after 30 s of good-quality surrogate
            ]
        )
        self.delay_s = _group_delay_s(self._sos_o, 0.25, fs)

    @property
    def n_samples(self) -> int:
        """Samples processed so far."""
        return int(self._ist[_N])

    @property
    def sign(self) -> float:
        """+1 or -1: the sign applied to the projection so that inhalation is up (estimated)."""
        return float(self._fst[_SIGN])

    @property
    def direction(self) -> np.ndarray:
        """Current unit direction (x, y, z) on which the band-passed axes are projected."""
        return self._fst[_DIR : _DIR + 3].copy()

    def update(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Process ``(n, 3)`` samples; return ``(resp, quality)``, each of shape ``(n,)``.

        Raises
        ------
        InputError
            (a ``ValueError``) when ``chunk`` is not numeric of shape ``(n, 3)``.
        """
        x = _as_acc(chunk)
        resp = np.empty(x.shape[0])
        quality = np.empty(x.shape[0])
        _acc_breathing(
            x, self._sos_b, self._zi_b, self._zu_b, self._sos_m, self._zi_m, self._zu_m,
            self._sos_o, self._zi_o, self._zu_o, self._lag, self._fst, self._ist, self._prm,
            resp, quality,
        )  # fmt: skip
        return resp, quality


def acc_breathing(acc: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Breathing surrogate and its quality from a whole chest-accelerometer record.

    Identical to one :meth:`AccBreathing.update` over the record (and so to streaming it in any
    chunks).

    Parameters
    ----------
    acc : numpy.ndarray
        ``(n, 3)`` accelerations x, y, z (g or m/s², with gravity); NaN rows are gaps.
    fs : float
        Sampling rate, Hz (10-1000).

    Returns
    -------
    dict
        ``resp``: the 1-D breathing surrogate, ``(n,)``, input units, band-passed 0.05-1 Hz,
        NaN at gaps, sign relative to inhalation arbitrary but constant; ``quality``: ``(n,)``
        in 0..1, low during body motion, posture changes, gaps or when no breathing-sized
        oscillation is present.

    Raises
    ------
    InputError
        (a ``ValueError``) for a bad rate or an array that is not ``(n, 3)``.

    References
    ----------
    Bates A, Ling MJ, Mann J, Arvind DK (2010). Respiratory rate and flow waveform estimation
    from tri-axial accelerometer data. Proc. BSN 2010, 144-150.
    """
    resp, quality = AccBreathing(fs).update(acc)
    return {"resp": resp, "quality": quality}


class AccRespChannel(RespChannel):
    """Breathing features from a chest accelerometer: the belt's channel on the ACC surrogate.

    ``update(chunk)`` takes ``(n, 3)`` accelerations (g or m/s²). :class:`AccBreathing` turns
    them into the breathing surrogate (inhalation up) and a per-sample quality; samples of
    quality below ``Q_GATE`` (body motion, posture change, gaps, start-up) reach the breath
    detector as gaps, so no breaths are invented while the wearer moves. Everything else is
    :class:`~wot_biofeedback.dsp.resp.RespChannel`: the same events (breath onsets, peaks,
    depths), the same features, and ``quality_resp`` multiplied by the ACC quality at the
    frame. ``resp_depth`` is in the accelerometer's units (the tilt signal), not the belt's.

    Attributes
    ----------
    surrogate : numpy.ndarray
        The breathing surrogate of the last ``update`` (NaN at gaps), for display.
    delay_s : float
        Delay of the surrogate filter plus that of the breath detector, s.
    """

    modality = "acc"
    Q_GATE = 0.1

    def __init__(self, fs: float, t0: float = 0.0, frame_rate: float = FRAME_RATE_HZ) -> None:
        super().__init__(fs, t0, frame_rate)
        self.acc = AccBreathing(self.fs)
        self.delay_s = self.acc.delay_s + self.detector.delay_s
        self.surrogate = np.empty(0)
        self._acc_q = np.empty(0)

    def update(self, chunk: np.ndarray) -> ChannelOutput:
        """Process ``(n, 3)`` samples; return the frames and breath events they completed."""
        x = _as_acc(chunk)
        step = max(1, int(self.MAX_CHUNK_S * self.fs))
        outs, surr = [], []
        for i in range(0, max(x.shape[0], 1), step):
            resp, q = self.acc.update(x[i : i + step])
            surr.append(resp)
            self._acc_q = q
            outs.append(self._update(np.where(q >= self.Q_GATE, resp, np.nan)))
        self.surrogate = surr[0] if len(surr) == 1 else np.concatenate(surr)
        return outs[0] if len(outs) == 1 else merge_outputs(outs)

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        feats = super()._features(t, n_k, n_before)
        q = np.nan_to_num(self._at(self._acc_q, n_k, n_before))
        feats["quality_resp"] = feats["quality_resp"] * q
        return feats
