"""Causal skin-conductance processing: tonic/phasic split, SCRs and signal quality.

Model
-----
Skin conductance is read as the output of a *driver* (sudomotor activity) through the slow
recovery of the sweat ducts. With one recovery time constant ``tau`` (1.5 s; a causal,
single-pole form of the continuous decomposition of Benedek & Kaernbach 2010) the driver is

    d(t) = sc(t) + tau * dsc/dt,

and ``sc`` is ``d`` low-passed with ``tau``. A response that rises and then recovers no faster
than ``tau`` appears in ``d`` as a short positive impulse at its onset, even when it starts on
the slope of an earlier response; tonic drift and slow recovery do not.

Steps, per sample (4-10,000 Hz):

1. **Signal checks** on the raw input. *Gap*: NaN. *Contact*: under ``contact_floor_us``
   (0.05 µS, zero, negative), or under half the level of moments before (an electrode
   lifting; Kleckner et al. 2018). *Saturated*: at or above ``max_us``. *Motion*: a change
   faster than ``max_slope_us_s`` (20 µS/s, over >= 50 ms: twice Kleckner's 10 µS/s, so that
   startle-sized responses pass), or a spike (a step one way and straight back, ten times the
   sample-to-sample noise and out of a quiet signal). These samples are gaps: the last good
   value is held, and after the gap (plus a 1 s settle) every filter restarts at the new
   level, so an artifact never looks like a response. *Frozen*: the same value for
   ``stuck_s`` (60 s) is reported as saturated and lowers the quality, but the samples are
   kept (a quiet, coarsely quantised signal does that too).
2. **Causal low-pass** (2nd-order Butterworth, 1 Hz) → the cleaned conductance ``sc``.
3. **Driver** ``d`` from ``sc`` at an internal rate ``fi`` of 16-32 Hz (every ``M``-th sample;
   the input rate itself below 16 Hz), smoothed by a critically damped 0.6 Hz low-pass, which
   never overshoots, so a step leaves no ringing.
4. **Tonic driver**: the lower envelope of ``d`` (follows it down at once, up with a 20 s time
   constant). The **tonic** level (SCL) is that envelope low-passed with ``tau``; the
   **phasic** part is ``sc - tonic``.
5. **SCRs**: an onset is a trough of ``d`` followed by a rise of at least the hysteresis
   ``h = max(0.25 * min_amplitude_us, 3 x driver noise)`` within ``max_rise_s`` (over a
   response still under way, at least ``min_amplitude_us``). The driver noise is the 30th
   percentile of ``|d(t) - d(t - 0.5 s)|``, tracked while the driver is near its tonic level
   and scaled to a Gaussian mean; for the first 30 s after the signal starts it adapts 4
   times faster, since it starts from a guess (a twelfth of ``min_amplitude_us``) far under
   most signals' noise. (Without that, 0.01-0.02 µS of coloured noise gave 1.6-6.9 false SCRs
   a minute, most in the first minutes: ``benchmarks/validate_scr_noise.py``.) The response
   itself, ``r``, is ``d - d(trough)`` low-passed with ``tau``: the conductance above the
   course of what came before. It is reported once
   ``r`` has not risen for ``peak_hold_s``, at the next onset, or after ``max_rise_s +
   max_peak_s`` (a slow climb), if its amplitude (the largest ``r``) is at least
   ``min_amplitude_us`` (absolute, never relative to a recording's maximum; 0.02 µS by
   default, within the 0.01-0.05 µS of common practice, Dawson et al. 2007) and 4 x the
   driver noise, it has begun to recover (the driver fell back from its impulse by the
   hysteresis: a shift to a new level approached more slowly than ``tau`` never does, and
   is tonic), its onset-to-peak time is 0-``max_peak_s``, it rose at least
   ``min_amplitude_us`` per ``slow_rise_s`` of that time (a small, slow climb is tonic
   wander), no artifact touched it, and its onset is not within 1 s of the last one. The onset
   is where the driver last rose through 30 % of its impulse; the peak is the conductance
   maximum after the driver's peak (on a recovery slope, where there is none, the maximum of
   ``r``). Half-recovery is reported later, when ``r`` falls to half its amplitude before
   another response starts. :meth:`EdaScrDetector.finish` closes a response still rising when
   the record ends.
6. **Falls**: the driver dropping under its lower envelope by more than the hysteresis, the
   minimum amplitude and what the phasic level could recover in one step marks a
   non-physiological drop (a pop relaxing, a slipping electrode); a response it touches is
   rejected.

Limits: a quick level step *up* within the slope limit (an electrode pressed or re-seated)
cannot be told from an SCR when it is reported, 1 s after its peak, and counts as one response
(its driver overshoots and falls back to the new level); a level reached more slowly than
``tau`` does not count, and steps down never do. The onset-to-peak time is measured from 30 %
of the driver's rise to the conductance maximum, so it runs longer than the 0.5-5 s rise time
of the literature for compound responses; ``max_peak_s`` is 7 s for that reason.

Event times are referred to the raw signal (the low-pass delays at 0.05 Hz are taken off);
responses are reported about ``delay_s`` (1.3 s) after their peak. Outputs are identical for
any chunking: all state is carried, and internal steps fall on samples ``n = k * M``.

References
----------
Benedek M, Kaernbach C (2010). A continuous measure of phasic electrodermal activity. J Neurosci
Methods 190(1):80-91.
Boucsein W (2012). Electrodermal Activity, 2nd ed. Springer.
Dawson ME, Schell AM, Filion DL (2007). The electrodermal system. Handbook of Psychophysiology.
Kleckner IR et al. (2018). Simple, transparent, and flexible automated quality assessment
procedures for ambulatory electrodermal activity data. IEEE Trans Biomed Eng 65(7):1460-1467.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import as_signal, check_rate
from ..errors import InputError
from ._designs import remembered
from ._numba import njit
from .filters import _sos_step, butter_sos, sos_zi_unit

# per-sample flag codes (``EdaScrDetector.flags``)
FLAG_OK, FLAG_GAP, FLAG_CONTACT, FLAG_SATURATED, FLAG_MOTION = 0, 1, 2, 3, 4
FLAG_NAMES = ("ok", "gap", "contact", "saturated", "motion")
_FLAG_STUCK = 5  # internal: a repeated value, reported as saturated but not a gap

# float state
(
    _LAST_RAW, _VALID_EMA, _SC, _SC_PREV, _D, _TE, _TONIC, _D_MIN, _R_CAND, _R, _R_MAX, _BASE,
    _D_MAX, _NOISE, _R_PEND, _AMP_PEND, _STUCK_V, _SC_MAX, _RAW_Q, _R_AT_MIN,
) = range(20)  # fmt: skip
_N_FST = 20
# int state
(
    _N, _STARTED, _BAD_UNTIL, _K, _STATE, _I_MIN, _I_ON, _I_RMAX, _ART_LAST, _I_PEND,
    _STUCK_N, _HAVE_PEND, _RESTART, _FLAG_HOLD, _HOLD_CODE, _FELL, _I_DMAX, _I_SCMAX,
    _GOOD_N, _PHASE, _LAST_ON, _FALL_UNTIL, _I_START,
) = range(23)  # fmt: skip
_N_IST = 23
# params
(
    _P_M, _P_ALPHA_TAU, _P_TAU_FI, _P_BETA_TE, _P_MIN_AMP, _P_H_ABS, _P_MAX_RISE_K,
    _P_HOLD_K, _P_SETTLE_N, _P_VALID_ALPHA, _P_FLOOR, _P_MAX_US, _P_STUCK_N, _P_JUMP_US,
    _P_JUMP_LAG, _P_REJECT_K, _P_NOISE_LAG, _P_RECOVER_K, _P_LAG_K, _P_MAX_PEAK_K,
    _P_LAG_SC_K, _P_DROP_N, _P_NOISE_UP, _P_NOISE_DOWN, _P_SLOW_K, _P_NOISE_K,
    _P_FALL_STEP, _P_RAW_UP, _P_RAW_DOWN, _P_SPIKE_ABS, _P_FAST_K, _P_FAST_UP, _P_FAST_DOWN,
) = range(33)  # fmt: skip
_N_PRM = 33

# states of the response tracker
_IDLE, _ACTIVE = 0, 1
# mean |x| / 30th percentile of |x| for Gaussian x
_Q30_TO_MEAN = 0.7979 / 0.3853


@njit
def _restart(
    v: float, zi: np.ndarray, zi_unit: np.ndarray, fst: np.ndarray, ist: np.ndarray
) -> None:
    # start (or restart after a gap) every filter at the steady state of level v
    for s in range(zi.shape[0]):
        zi[s, 0] = zi_unit[s, 0] * v
        zi[s, 1] = zi_unit[s, 1] * v
    fst[_SC] = v
    fst[_SC_PREV] = v
    fst[_D] = v
    fst[_TE] = v
    fst[_TONIC] = v
    fst[_D_MIN] = v
    fst[_R_CAND] = 0.0
    ist[_STATE] = _IDLE
    ist[_I_MIN] = ist[_K]
    ist[_STARTED] = 1


@njit
def _report(
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    d_ring: np.ndarray,
    k: int,
    n: int,
    ev_onset: np.ndarray,
    ev_peak: np.ndarray,
    ev_amp: np.ndarray,
    ev_conf: np.ndarray,
    n_ev: int,
    cut: bool,
    end: bool,
) -> int:
    # close the active response at internal step k (raw sample n); report it if it passes.
    # ``cut``: the next response has begun; what came after its trough belongs to it.
    # ``end``: the record ended during the response
    m = int(prm[_P_M])
    d_n = d_ring.shape[0]
    amp = fst[_R_AT_MIN] if cut else fst[_R_MAX]
    # the onset is where the driver last rose through 30 % of its rise before the impulse
    # peak (in a flat, noisy stretch the trough itself could be anywhere)
    lvl = fst[_BASE] + 0.3 * (fst[_D_MAX] - fst[_BASE])
    j = ist[_I_DMAX]
    lo = max(ist[_I_ON], k - d_n + 1)
    while j > lo and d_ring[(j - 1) % d_n] > lvl:
        j -= 1
    on_k = j - 1
    # the peak is the conductance maximum after the driver peak, where there is one (the
    # conductance rises while the driver is above it); on a recovery slope (a shoulder) it
    # is the maximum of the modelled response
    pk_k = ist[_I_SCMAX] if ist[_I_SCMAX] > ist[_I_DMAX] else ist[_I_RMAX]
    # at least the absolute minimum, clear of the driver's noise, and not a slow climb
    ok = amp >= prm[_P_MIN_AMP] and amp >= prm[_P_NOISE_K] * _Q30_TO_MEAN * fst[_NOISE]
    ok = ok and 0 <= pk_k - on_k <= int(prm[_P_MAX_PEAK_K])
    # and it has begun to recover: the driver has fallen back from its impulse (a shift to a
    # new level, approached more slowly than tau, never does), unless the record ended first
    ok = ok and (ist[_FELL] == 1 or end)
    # a small climb that is also slow is tonic wander: beyond slow_rise_s, the amplitude
    # needed grows with the rise time
    ok = ok and amp * prm[_P_SLOW_K] >= prm[_P_MIN_AMP] * (pk_k - on_k)
    # rejected when a motion artifact touched the rise
    if ist[_ART_LAST] >= ist[_I_ON] - int(prm[_P_REJECT_K]):
        ok = False
    # one response per onset: a second report from (nearly) the same rise is not a new one
    ok = ok and on_k - ist[_LAST_ON] >= int(prm[_P_REJECT_K]) * 4
    ist[_HAVE_PEND] = 0
    if ok:
        ist[_LAST_ON] = on_k
        lag = int(prm[_P_LAG_K])
        ev_onset[n_ev] = max(on_k - lag, 0) * m
        ev_peak[n_ev] = max(pk_k - int(prm[_P_LAG_SC_K]), 0) * m
        ev_amp[n_ev] = amp
        ev_conf[n_ev] = n
        n_ev += 1
        ist[_HAVE_PEND] = 1
        ist[_I_PEND] = pk_k
        fst[_AMP_PEND] = amp
        fst[_R_PEND] = fst[_R]
    return n_ev


@njit
def _eda_kernel(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    sos_d: np.ndarray,
    zi_d: np.ndarray,
    zi_d_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    raw_ring: np.ndarray,
    d_ring: np.ndarray,
    out_sc: np.ndarray,
    out_tonic: np.ndarray,
    out_driver: np.ndarray,
    out_valid: np.ndarray,
    out_flag: np.ndarray,
    ev_onset: np.ndarray,
    ev_peak: np.ndarray,
    ev_amp: np.ndarray,
    ev_conf: np.ndarray,
    rec_peak: np.ndarray,
    rec_half: np.ndarray,
    rec_conf: np.ndarray,
    counts: np.ndarray,
    flush: bool,
) -> None:
    m = int(prm[_P_M])
    raw_mask = raw_ring.shape[0] - 1  # a power of two
    d_n = d_ring.shape[0]
    a_tau = prm[_P_ALPHA_TAU]
    tau_fi = prm[_P_TAU_FI]
    n_ev = 0
    n_rec = 0
    for i in range(x.shape[0]):
        n = ist[_N]
        v = x[i]
        # position in the decimation cycle (n % m, kept as a counter)
        phase = ist[_PHASE]
        ist[_PHASE] = phase + 1 if phase + 1 < m else 0
        flag = FLAG_OK
        stuck = False
        if math.isnan(v):
            flag = FLAG_GAP
        elif v < prm[_P_FLOOR]:
            flag = FLAG_CONTACT
        elif ist[_STARTED] == 1 and n - ist[_GOOD_N] <= int(prm[_P_DROP_N]) and v < 0.5 * fst[_SC]:
            # under half the level it had moments ago: no skin does that, an electrode lifted.
            # (After a longer loss the new level is taken as it is.)
            flag = FLAG_CONTACT
        elif v >= prm[_P_MAX_US]:
            flag = FLAG_SATURATED
        else:
            # the same value over and over: a railed or frozen amplifier
            if v == fst[_STUCK_V]:
                ist[_STUCK_N] += 1
            else:
                fst[_STUCK_V] = v
                ist[_STUCK_N] = 1
            # (reported, but the samples are kept: a quiet, coarsely quantised signal can
            # repeat a value for a long time, and a response out of it must still be seen)
            stuck = ist[_STUCK_N] >= int(prm[_P_STUCK_N])
            # a jump faster than skin conductance can move: a motion spike or a pop
            lag = int(prm[_P_JUMP_LAG])
            if ist[_STARTED] == 1 and n >= lag:
                prev = raw_ring[(n - lag) & raw_mask]
                if not math.isnan(prev) and abs(v - prev) > prm[_P_JUMP_US]:
                    flag = FLAG_MOTION
            # a spike: a large step one way and straight back (skin conductance is smooth;
            # noise that large is ten times the sample-to-sample noise)
            if n >= 3:
                p1 = raw_ring[(n - 1) & raw_mask]
                p2 = raw_ring[(n - 2) & raw_mask]
                p3 = raw_ring[(n - 3) & raw_mask]
                if not (math.isnan(p1) or math.isnan(p2) or math.isnan(p3)):
                    s1 = p1 - p2
                    s2 = v - p1
                    big = max(prm[_P_SPIKE_ABS], 10.0 * _Q30_TO_MEAN * fst[_RAW_Q])
                    # abrupt: out of a step three times smaller (not the top of a fast rise)
                    abrupt = abs(s1) > 3.0 * abs(p2 - p3)
                    if abrupt and s1 * s2 < 0.0 and min(abs(s1), abs(s2)) > big:
                        flag = FLAG_MOTION
                    elif flag == FLAG_OK:
                        # sample-to-sample noise: 30th percentile of |step|, log domain
                        if abs(s2) > fst[_RAW_Q]:
                            fst[_RAW_Q] *= prm[_P_RAW_UP]
                        else:
                            fst[_RAW_Q] = max(fst[_RAW_Q] * prm[_P_RAW_DOWN], 1e-5)
        raw_ring[n & raw_mask] = v if flag == FLAG_OK else math.nan
        if flag == FLAG_OK and stuck:
            flag = _FLAG_STUCK
        if flag != FLAG_OK and flag != _FLAG_STUCK:
            # a flagged stretch keeps its code for a short hold, so a pop's recovery is covered
            ist[_FLAG_HOLD] = n + int(prm[_P_SETTLE_N])
            ist[_HOLD_CODE] = flag
            ist[_BAD_UNTIL] = n + int(prm[_P_SETTLE_N])
            ist[_RESTART] = 1
        elif n < ist[_FLAG_HOLD] and ist[_HOLD_CODE] == FLAG_MOTION:
            flag = FLAG_MOTION
        good = flag in (FLAG_OK, _FLAG_STUCK)
        if good:
            ist[_GOOD_N] = n
        clean = 1.0 if flag == FLAG_OK else 0.0
        fst[_VALID_EMA] += prm[_P_VALID_ALPHA] * (clean - fst[_VALID_EMA])
        out_valid[i] = fst[_VALID_EMA]
        out_flag[i] = FLAG_SATURATED if flag == _FLAG_STUCK else flag
        if flag == FLAG_OK and n < ist[_FALL_UNTIL]:
            out_flag[i] = FLAG_MOTION
        if good and n >= ist[_BAD_UNTIL] and (ist[_STARTED] == 0 or ist[_RESTART] == 1):
            if ist[_STARTED] == 0:
                # internal steps fall on samples n = k * m, however late the signal starts
                ist[_K] = (n + m - 1) // m
                ist[_I_START] = ist[_K]
            _restart(v, zi, zi_unit, fst, ist)
            for s_ in range(zi_d.shape[0]):
                zi_d[s_, 0] = zi_d_unit[s_, 0] * v
                zi_d[s_, 1] = zi_d_unit[s_, 1] * v
            for j in range(d_n):
                d_ring[j] = v
            ist[_RESTART] = 0
            fst[_LAST_RAW] = v
        if ist[_STARTED] == 0:
            out_sc[i] = math.nan
            out_tonic[i] = math.nan
            out_driver[i] = math.nan
            ist[_N] = n + 1
            continue
        if good and ist[_RESTART] == 0:
            fst[_LAST_RAW] = v
        # low-pass at the full rate (held value through gaps)
        sc = _sos_step(sos, zi, fst[_LAST_RAW])
        fst[_SC] = sc
        bad = ist[_RESTART] == 1 or n < ist[_BAD_UNTIL]
        out_sc[i] = math.nan if bad else sc
        out_tonic[i] = math.nan if bad else fst[_TONIC]
        out_driver[i] = math.nan if bad else fst[_D]
        if phase != 0:
            ist[_N] = n + 1
            continue
        # ---- internal rate ------------------------------------------------------------------
        k = ist[_K]
        d = _sos_step(sos_d, zi_d, sc + tau_fi * (sc - fst[_SC_PREV]))
        fst[_SC_PREV] = sc
        d_prev = d_ring[(k - int(prm[_P_NOISE_LAG])) % d_n]
        d_ring[k % d_n] = d
        ist[_K] = k + 1
        fst[_D] = d
        out_driver[i] = math.nan if bad else d
        if bad:
            ist[_ART_LAST] = k
            ist[_STATE] = _IDLE
            fst[_D_MIN] = d
            ist[_I_MIN] = k
            fst[_R_CAND] = 0.0
            fst[_TE] = d
            fst[_TONIC] = sc
            ist[_HAVE_PEND] = 0
            ist[_N] = n + 1
            continue
        # driver noise: running mean of |step|, large steps clipped so responses hardly count
        dd = abs(d - d_prev)
        # driver noise: the 30th percentile of |step| tracked in the log domain (responses,
        # even dense ones, are rarely rising 70 % of the time), scaled to the mean |step| of
        # Gaussian noise
        noise = _Q30_TO_MEAN * fst[_NOISE]
        h = max(prm[_P_H_ABS], 3.0 * noise)
        # ... learnt only with the driver near its tonic level (during dense responses the
        # driver moves nearly all the time)
        # (4 times faster for the first 30 s: it starts from a guess far under most signals'
        # noise, and until it has learnt the noise every wiggle passes for a response)
        if d - fst[_TE] <= 2.0 * prm[_P_MIN_AMP]:
            fast = k - ist[_I_START] < int(prm[_P_FAST_K])
            if dd > fst[_NOISE]:
                fst[_NOISE] *= prm[_P_FAST_UP] if fast else prm[_P_NOISE_UP]
            else:
                fst[_NOISE] *= prm[_P_FAST_DOWN] if fast else prm[_P_NOISE_DOWN]
        # a fall faster than any recovery: the driver drops well under its lower envelope, by
        # more than the phasic level could recover in one step even with a 0.5 s time constant
        fall = max(2.0 * h, prm[_P_MIN_AMP], prm[_P_FALL_STEP] * (sc - fst[_TONIC]))
        if d < fst[_TE] - fall:
            ist[_ART_LAST] = k
            out_flag[i] = FLAG_MOTION
            ist[_FALL_UNTIL] = n + m  # marks the whole decimation step (for the counts)
        # tonic driver: lower envelope; tonic level = envelope through the recovery pole
        if d < fst[_TE]:
            fst[_TE] = d
        else:
            fst[_TE] += prm[_P_BETA_TE] * (d - fst[_TE])
        fst[_TONIC] += a_tau * (fst[_TE] - fst[_TONIC])
        out_tonic[i] = fst[_TONIC]
        active = ist[_STATE] == _ACTIVE
        if active:
            fst[_R] += a_tau * (d - fst[_BASE] - fst[_R])
            if fst[_R] > fst[_R_MAX]:
                fst[_R_MAX] = fst[_R]
                ist[_I_RMAX] = k
            if d > fst[_D_MAX]:
                fst[_D_MAX] = d
                ist[_I_DMAX] = k
                fst[_SC_MAX] = sc
                ist[_I_SCMAX] = k
            elif sc > fst[_SC_MAX]:
                fst[_SC_MAX] = sc
                ist[_I_SCMAX] = k
            if ist[_FELL] == 0 and d < fst[_D_MAX] - h:
                # the driver impulse is over: from here a trough can start the next response
                ist[_FELL] = 1
                fst[_D_MIN] = d
                ist[_I_MIN] = k
                fst[_R_CAND] = 0.0
                fst[_R_AT_MIN] = fst[_R_MAX]
        searching = not active or ist[_FELL] == 1
        new_onset = False
        if searching:
            # candidate onset: the lowest driver since the search began, within max_rise
            if d <= fst[_D_MIN]:
                fst[_D_MIN] = d
                ist[_I_MIN] = k
                fst[_R_CAND] = 0.0
                fst[_R_AT_MIN] = fst[_R_MAX]
            else:
                fst[_R_CAND] += a_tau * (d - fst[_D_MIN] - fst[_R_CAND])
                if k - ist[_I_MIN] > int(prm[_P_MAX_RISE_K]):
                    # too slow for a response: move the trough to the lowest driver of the
                    # last half window (amortised O(1)) and rebuild the candidate from there
                    j0 = k - int(prm[_P_MAX_RISE_K]) // 2
                    best = j0
                    for j in range(j0, k + 1):
                        if d_ring[j % d_n] < d_ring[best % d_n]:
                            best = j
                    fst[_D_MIN] = d_ring[best % d_n]
                    ist[_I_MIN] = best
                    fst[_R_AT_MIN] = fst[_R_MAX]
                    rc = 0.0
                    for j in range(best + 1, k + 1):
                        rc += a_tau * (d_ring[j % d_n] - fst[_D_MIN] - rc)
                    fst[_R_CAND] = rc
                # over a response still under way, only a rise that could make a response of its
                # own (the response is a low-pass of the driver rise) may cut that one short
                new_onset = d - fst[_D_MIN] >= (max(h, prm[_P_MIN_AMP]) if active else h)
        # a response ends at the next onset, once it has stopped rising, or when it has gone on
        # for longer than any response rises (a slow climb: it is then judged and dropped)
        timeout = k - ist[_I_ON] > int(prm[_P_MAX_RISE_K]) + int(prm[_P_MAX_PEAK_K])
        if active and (new_onset or timeout or k - ist[_I_RMAX] >= int(prm[_P_HOLD_K])):
            n_ev = _report(
                fst, ist, prm, d_ring, k, n, ev_onset, ev_peak, ev_amp, ev_conf, n_ev, new_onset,
                False,
            )  # fmt: skip
            ist[_STATE] = _IDLE
            if ist[_FELL] == 0:
                # still on the impulse: look for the next trough from here
                fst[_D_MIN] = d
                ist[_I_MIN] = k
                fst[_R_CAND] = 0.0
        elif not active and ist[_HAVE_PEND] == 1:
            fst[_R_PEND] += a_tau * (d - fst[_BASE] - fst[_R_PEND])
            if fst[_R_PEND] <= 0.5 * fst[_AMP_PEND]:
                lag = int(prm[_P_LAG_K])
                rec_peak[n_rec] = max(ist[_I_PEND] - int(prm[_P_LAG_SC_K]), 0) * m
                rec_half[n_rec] = max(k - lag, 0) * m
                rec_conf[n_rec] = n
                n_rec += 1
                ist[_HAVE_PEND] = 0
            elif k - ist[_I_PEND] > int(prm[_P_RECOVER_K]):
                ist[_HAVE_PEND] = 0
        if new_onset:
            ist[_STATE] = _ACTIVE
            ist[_FELL] = 0
            ist[_I_ON] = ist[_I_MIN]
            ist[_I_DMAX] = k
            fst[_BASE] = fst[_D_MIN]
            fst[_R] = fst[_R_CAND]
            fst[_R_MAX] = fst[_R]
            ist[_I_RMAX] = k
            fst[_D_MAX] = d
            fst[_SC_MAX] = sc
            ist[_I_SCMAX] = k
            ist[_HAVE_PEND] = 0  # a new response ends the recovery of the last one
        ist[_N] = n + 1
    if flush and ist[_STATE] == _ACTIVE and ist[_N] > 0:
        # the record ended during a response: close it at the last sample
        n_ev = _report(
            fst, ist, prm, d_ring, ist[_K] - 1, ist[_N] - 1, ev_onset, ev_peak, ev_amp, ev_conf,
            n_ev, False, True,
        )  # fmt: skip
        ist[_STATE] = _IDLE
        ist[_HAVE_PEND] = 0
    counts[0] = n_ev
    counts[1] = n_rec


def _critical_lowpass(fc: float, fs: float) -> np.ndarray:
    """Critically damped 2nd-order low-pass (two equal 1st-order sections), -3 dB at ``fc``.

    Unlike a Butterworth it never overshoots, so a step in the conductance (an electrode
    pressed, a pop) leaves no ringing that could look like a small response after it.
    """
    fp = fc / math.sqrt(math.sqrt(2.0) - 1.0)  # each section's corner, for -3 dB overall
    a = math.exp(-2.0 * math.pi * fp / fs)
    sec = [1.0 - a, 0.0, 0.0, 1.0, -a, 0.0]
    return np.array([sec, sec], dtype=np.float64)


@remembered
def _lowpass_delay(sos: np.ndarray, fs: float) -> float:
    """Group delay of a low-pass at 0.05 Hz, s (the slow edges of skin-conductance responses)."""
    from scipy import signal

    _, gd = signal.group_delay(signal.sos2tf(sos), w=[0.05], fs=fs)
    return float(gd[0]) / fs


class EdaScrDetector:
    """Streaming skin-conductance decomposition, SCR detector and signal checks.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (4-1000 Hz).
    min_amplitude_us : float
        Smallest SCR amplitude counted, µS (absolute; default 0.02 µS).
    tau_s : float
        Recovery time constant of the driver model, s. Responses that recover faster than this
        look like artifacts, so keep it below the fastest physiological recovery.
    max_rise_s : float
        Longest rise of the driver from trough to threshold, s (slower climbs are tonic).
    peak_hold_s : float
        A response is reported once it has not risen for this long, s.
    max_peak_s : float
        Longest onset-to-peak time of a response, s (SCR rise times are 0.5-5 s; Boucsein
        2012); a slower climb is tonic.
    slow_rise_s : float
        A response must rise by at least ``min_amplitude_us`` per ``slow_rise_s`` of its
        onset-to-peak time, s. SCR rise times are 1-3 s (Dawson et al. 2007); a small climb
        over 4-6 s is tonic wander, a large one is still a (compound) response.
    contact_floor_us : float
        Conductance below this is contact loss, µS (Kleckner et al. 2018: 0.05 µS).
    max_us : float
        Conductance at or above this is saturation, µS.
    max_slope_us_s : float
        Faster change is motion, µS/s (Kleckner et al. 2018 use 10 µS/s; 20 lets the largest,
        fastest responses pass).
    stuck_s : float
        The same value for this long is reported as a frozen amplifier (flag ``saturated``,
        quality lowered; the samples are still used), s.

    Notes
    -----
    ``update(chunk)`` returns ``(onset_idx, peak_idx, amplitude_us)`` of the SCRs reported in
    the chunk (``confirm_index`` says at which sample each was reported) and leaves per-sample
    ``lowpass``, ``tonic``, ``valid_fraction`` and ``flags`` for the chunk, and half-recovery
    events in ``recovery`` (``peak_idx``, ``half_idx``, ``confirm_idx``).
    """

    def __init__(
        self,
        fs: float,
        min_amplitude_us: float = 0.02,
        *,
        tau_s: float = 1.5,
        max_rise_s: float = 4.0,
        peak_hold_s: float = 1.0,
        max_peak_s: float = 7.0,
        slow_rise_s: float = 2.0,
        noise_factor: float = 4.0,
        noise_lag_s: float = 0.5,
        contact_floor_us: float = 0.05,
        max_us: float = 100.0,
        max_slope_us_s: float = 20.0,
        stuck_s: float = 60.0,
    ) -> None:
        self.fs = check_rate(fs, "EDA sampling rate", 4.0, 10_000.0)
        if not 0.0 < min_amplitude_us < 5.0:
            raise InputError(f"min_amplitude_us {min_amplitude_us!r} must be in (0, 5) µS")
        for name, val in (("tau_s", tau_s), ("max_rise_s", max_rise_s), ("stuck_s", stuck_s)):
            if not 0.1 <= val <= 600.0:
                raise InputError(f"{name} {val!r} must be in 0.1-600 s")
        if not contact_floor_us < max_us:
            raise InputError(f"contact_floor_us {contact_floor_us} must be below max_us {max_us}")
        self.min_amplitude_us = float(min_amplitude_us)
        fs = self.fs
        m = max(1, int(fs // 16.0))
        fi = fs / m
        self.internal_rate = fi
        self._sos = butter_sos("lowpass", 1.0, fs, order=2)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._sos_d = _critical_lowpass(0.6, fi)
        self._zi_d_unit = sos_zi_unit(self._sos_d)
        self._zi_d = np.zeros_like(self._zi_d_unit)
        self._fst = np.zeros(_N_FST)
        self._fst[_VALID_EMA] = 1.0
        self._fst[_STUCK_V] = math.nan
        self._ist = np.zeros(_N_IST, dtype=np.int64)
        self._ist[_ART_LAST] = -(1 << 40)
        self._ist[_LAST_ON] = -(1 << 40)
        jump_lag = max(1, math.ceil(0.05 * fs))
        self._prm = np.zeros(_N_PRM)
        p = self._prm
        p[_P_M] = m
        p[_P_ALPHA_TAU] = 1.0 - math.exp(-1.0 / (tau_s * fi))
        p[_P_TAU_FI] = tau_s * fi
        p[_P_BETA_TE] = 1.0 - math.exp(-1.0 / (20.0 * fi))
        p[_P_MIN_AMP] = self.min_amplitude_us
        p[_P_H_ABS] = 0.25 * self.min_amplitude_us
        p[_P_MAX_RISE_K] = round(max_rise_s * fi)
        p[_P_HOLD_K] = round(peak_hold_s * fi)
        p[_P_MAX_PEAK_K] = round(max_peak_s * fi)
        p[_P_SLOW_K] = slow_rise_s * fi
        p[_P_NOISE_K] = noise_factor
        p[_P_FALL_STEP] = 2.0 / fi  # share of the phasic level that recovers in one step, tau 0.5 s
        eta_raw = 1.0 / (2.0 * fs)
        p[_P_RAW_UP] = math.exp(0.3 * eta_raw)
        p[_P_RAW_DOWN] = math.exp(-0.7 * eta_raw)
        p[_P_SPIKE_ABS] = 2.5 * self.min_amplitude_us
        self._fst[_RAW_Q] = 1e-3
        p[_P_SETTLE_N] = round(1.0 * fs)
        p[_P_VALID_ALPHA] = 1.0 - math.exp(-1.0 / (2.0 * fs))
        p[_P_FLOOR] = contact_floor_us
        p[_P_MAX_US] = max_us
        p[_P_STUCK_N] = max(2, round(stuck_s * fs))
        p[_P_JUMP_US] = max_slope_us_s * jump_lag / fs
        p[_P_JUMP_LAG] = jump_lag
        p[_P_REJECT_K] = round(0.25 * fi)
        eta = 1.0 / (2.0 * fi)  # log-domain quantile step: adapts within seconds
        p[_P_NOISE_UP] = math.exp(0.3 * eta)
        p[_P_NOISE_DOWN] = math.exp(-0.7 * eta)
        self._fst[_NOISE] = p[_P_H_ABS] / (3.0 * _Q30_TO_MEAN)
        p[_P_FAST_K] = round(30.0 * fi)  # the noise tracker learns 4 times faster at first
        p[_P_FAST_UP] = math.exp(4.0 * 0.3 * eta)
        p[_P_FAST_DOWN] = math.exp(-4.0 * 0.7 * eta)
        p[_P_NOISE_LAG] = max(1, round(noise_lag_s * fi))
        p[_P_RECOVER_K] = round(30.0 * fi)
        # event times refer to the raw signal: take off the low-pass delays (at low frequency)
        lag_s = _lowpass_delay(self._sos, fs) + _lowpass_delay(self._sos_d, fi)
        p[_P_LAG_K] = round(lag_s * fi)
        p[_P_LAG_SC_K] = round(_lowpass_delay(self._sos, fs) * fi)
        p[_P_DROP_N] = round(10.0 * fs)
        self._raw_ring = np.full(1 << math.ceil(math.log2(max(jump_lag, 3) + 2)), math.nan)
        self._d_ring = np.zeros(1 << math.ceil(math.log2(max_rise_s * fi + 4)))
        self.delay_s = peak_hold_s + 0.3
        self.lowpass = np.empty(0)
        self.tonic = np.empty(0)
        self.driver = np.empty(0)
        self.valid_fraction = np.empty(0)
        self.flags = np.empty(0, dtype=np.int8)
        self.confirm_index = np.empty(0, dtype=np.int64)
        self.recovery: dict[str, np.ndarray] = {}

    @property
    def n_samples(self) -> int:
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Process one chunk of conductance (µS); return (onset_idx, peak_idx, amplitude_us)."""
        return self._run(as_signal(chunk, "EDA chunk"), False)

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """End of record: report a response still rising or at its peak, if it qualifies.

        Returns the same triple as :meth:`update` (at most one event) and leaves empty
        per-sample arrays. Call it once, when the input has ended.
        """
        return self._run(np.empty(0), True)

    def _run(self, x: np.ndarray, flush: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cap = x.size // max(1, int(self._prm[_P_M])) + 2
        # few, larger allocations: a live update is a handful of samples, and numpy's
        # per-array cost would dominate it
        ev = np.empty((7, cap), dtype=np.int64)  # onset, peak, conf, rec peak/half/conf, counts
        onset, peak, conf, rp, rh, rc, counts = ev
        amp = np.empty(cap)
        per = np.empty((4, x.size))
        sc, tonic, driver, valid = per
        flags = np.empty(x.size, dtype=np.int8)
        _eda_kernel(
            x, self._sos, self._zi, self._zi_unit, self._sos_d, self._zi_d, self._zi_d_unit,
            self._fst, self._ist, self._prm,
            self._raw_ring, self._d_ring, sc, tonic, driver, valid, flags,
            onset, peak, amp, conf, rp, rh, rc, counts, flush,
        )  # fmt: skip
        k, kr = int(counts[0]), int(counts[1])
        self.lowpass = sc
        self.tonic = tonic
        self.driver = driver
        self.valid_fraction = valid
        self.flags = flags
        self.confirm_index = conf[:k]
        self.recovery = {"peak_idx": rp[:kr], "half_idx": rh[:kr], "confirm_idx": rc[:kr]}
        return onset[:k], peak[:k], amp[:k]


def eda_scr(
    signal: np.ndarray,
    fs: float,
    min_amplitude_us: float = 0.02,
    *,
    flush: bool = True,
    **kwargs: float,
) -> dict[str, np.ndarray]:
    """Detect SCRs in a whole skin-conductance record (identical to the streaming detector).

    Parameters
    ----------
    signal : array
        Skin conductance, µS; NaN marks missing samples.
    fs : float
        Sampling rate, Hz.
    min_amplitude_us : float
        Smallest amplitude counted, µS.
    flush : bool
        Also report a response still under way at the end of the record
        (:meth:`EdaScrDetector.finish`).
    **kwargs
        Further :class:`EdaScrDetector` options.

    Returns
    -------
    dict
        ``onset``, ``peak`` (sample indices), ``amplitude_us`` (µS), ``rise_s``,
        ``half_recovery_s`` (peak to half recovery, NaN where another response came first),
        and per sample ``lowpass``, ``tonic``, ``phasic`` (µS) and ``flags``.
    """
    det = EdaScrDetector(fs, min_amplitude_us, **kwargs)
    onset, peak, amp = det.update(signal)
    per_sample = (det.lowpass, det.tonic, det.driver, det.flags)
    rec = det.recovery
    if flush:
        o2, p2, a2 = det.finish()
        onset, peak, amp = np.r_[onset, o2], np.r_[peak, p2], np.r_[amp, a2]
    half = np.full(peak.size, np.nan)
    pos = np.searchsorted(peak, rec["peak_idx"])
    ok = pos < peak.size
    ok[ok] &= peak[pos[ok]] == rec["peak_idx"][ok]
    half[pos[ok]] = (rec["half_idx"][ok] - rec["peak_idx"][ok]) / det.fs
    return {
        "onset": onset,
        "peak": peak,
        "amplitude_us": amp,
        "rise_s": (peak - onset) / det.fs,
        "half_recovery_s": half,
        "lowpass": per_sample[0],
        "tonic": per_sample[1],
        "driver": per_sample[2],
        "phasic": per_sample[0] - per_sample[1],
        "flags": per_sample[3],
    }
