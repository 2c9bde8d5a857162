"""Causal ECG R-peak detection.

The detector is a real-time descendant of Pan & Tompkins (1985) with the band of Elgendi (2013),
decided sample by sample within a fixed delay. Every constant is in seconds (scaled by the
sampling rate), so the same code runs at 100-1000 Hz, including 128 Hz Holter recordings.

Feature
    A causal 8-20 Hz Butterworth band-pass (the band Elgendi 2013 found best for QRS energy
    over 11 ECG databases), a first difference (QRS slopes are steep, P and T waves and
    motion artifacts are not), and the RMS of that slope over a 0.1 s moving window: the
    *envelope* ``e`` (per sample the kernel works with ``e**2``, no square root).

Candidates
    Every local maximum of ``e`` is a candidate. It is complete once ``e`` has fallen to half
    of it or 0.1 s have passed; a larger maximum before then absorbs it. The R-peak is the
    extremum of the *raw* signal (after removing the straight line between the window ends)
    in the 0.15 s before the envelope maximum, never further back than :data:`ECG_DELAY_S`.
    Polarity is learnt: the extremum of the usual sign is preferred unless the other is
    clearly larger, so inverted leads and opposite-polarity ectopic beats both work.

Start
    For the first second the threshold is 0.4 of the largest envelope so far, so the first
    beats are found (and reported) while the levels settle.

Decision (for each complete candidate of height ``a``)
    * Signal and noise levels as in Pan & Tompkins: ``SPK`` follows accepted candidates and
      ``NPK`` rejected ones (weight 1/8 each); the threshold is ``NPK + 0.3 (SPK - NPK)``.
      Updates are clipped (``SPK`` moves towards at most ``2 SPK``, ``NPK`` towards at most
      ``SPK``), so a large premature ventricular complex or an artifact cannot lift the
      threshold above the following normal beats. ``SPK`` decays (time constant 3 s) after 2 s
      without a beat, so a lost signal is found again.
    * A beat must stand out of the noise: ``a > 2.5 x`` the running median of ``e`` (a
      sign-gradient quantile tracker, time constant about 2 s; 4 times faster for the first
      3 s, as its first value, a mean over 0.2 s, is several times too high when a QRS complex
      falls in it: MIT-BIH 208 lost its first 7 beats to that). Pure noise, flatlines and gaps
      give no beats, and during noise bursts the bar rises with the noise. In fast rhythms
      (above ~200/min) the QRS complexes fill most of the time and the median no longer
      measures the noise, so a candidate also passes if ``a > 8 x`` the running median of the
      envelope minima between candidates (and ``a > 1.2 x`` the median).
    * Rhythm, a search-back bounded by the delay: when the next beat is due, the threshold and
      the noise margin (``2.5 - 1``) are lowered, linearly from 0.8 to 1.66 mean RR intervals
      after the last beat, to 0.7 of their values. Pan & Tompkins search back with half the
      threshold once 1.66 RR have passed; that would report the beat too late, so here the
      lower bar applies to the candidate as it is decided. Beyond 3 RR the rhythm counts as
      lost and the normal bar applies again. The mean RR is a 1/8-weight average of
      intervals clipped to ``[RR/1.5, 1.5 RR]``, so one ectopic or missed beat barely moves it.
    * Ectopic-shaped complexes. A ventricular ectopic beat is wide and often of the other
      polarity; its slope energy in the 8-20 Hz band can be a quarter of the normal beats',
      under the threshold above. A candidate is *ectopic-shaped* when, more than 0.36 s and
      0.4 mean RR after the previous beat (so a tall late T wave is not one) and once 8 beats
      are learnt, its raw extremum has the other sign than the learnt polarity, or its
      envelope is wide: the time from the envelope's half height before its maximum to the
      decision is over 1.2 x that of the normal beats (a 1/8-weight
      average over the beats that were not ectopic-shaped, clipped as the mean RR). Such a
      candidate is judged at ``NPK + 0.15 (SPK - NPK)``; the noise bar and every other rule
      stay as they are. Its acceptance does not teach polarity or width. On the MIT-BIH
      records with frequent ventricular ectopy this finds most premature beats the 0.3 fraction
      missed (record 208: Se 0.972 to 0.992, 106: 0.982 to 0.997) for seven more false
      detections over 12 records (``benchmarks/validate_ectopy.py``; with the faster start
      of the noise bar, 208 reaches 0.994).
    * Refractory period 0.2 s. Within 0.36 s of the previous beat, a candidate smaller than
      half of it is a T wave (the slope criterion of Pan & Tompkins: ``e`` is a slope).
    * An accepted beat is held for 0.29 s before it is reported. If a larger envelope peak
      rises meanwhile, the held one was an artifact or a P/T wave and is dropped, and the
      larger complex is judged on its own. When the held beat is nearer the expected time
      (last beat + mean RR) than the newcomer, the newcomer must be 1.5 times larger.

Bad input
    NaN samples are gaps; ``ingest`` holds the last value and detection is suppressed until
    0.5 s after the gap. A run of identical samples longer than 0.15 s (flatline, lead-off,
    saturation at an ADC rail) is treated the same way, so the steps into and out of a rail
    produce no beats, and those samples count as invalid in ``valid_fraction``.

Every decision uses only samples already seen and the detector's own rings, so any chunking
gives the same beats. Algorithmic delay: each beat is reported (``confirm_index``) at most
:data:`ECG_DELAY_S` after its R-peak, normally 0.29 s after it.

Accuracy (``tests/test_ecg_accuracy.py``, ``benchmarks/bench_ecg.py``; MIT-BIH MLII, 150 ms):
record 100 F1 0.9998 at 360 and 128 Hz (the one miss is the last beat, less than 0.3 s before
the end of the record), record 105 (heavy noise) F1 0.9942 at 360 Hz and 0.9936 at 128 Hz,
against NeuroKit2's default detector, which sees the whole record: 0.9996 / 0.9993 on 100 and
0.9928 / 0.9932 on 105 (best of raw and ``ecg_clean``-ed input). The remaining errors of 105
sit in its noise bursts: artifacts shaped like QRS complexes a third to two thirds of an RR
interval after a beat, which no amplitude rule can tell from premature beats. An ectopic-shaped
complex (see Decision) with under ~15-20 % of the normal beats' slope RMS, or a narrow one of
the usual polarity under ~30 %, is missed; so are beats in the first 8 of a record while the
width is learnt.

References
----------
Pan J, Tompkins WJ (1985). A real-time QRS detection algorithm. IEEE Trans Biomed Eng 32(3):230-236.
Hamilton PS, Tompkins WJ (1986). Quantitative investigation of QRS detection rules using the
MIT/BIH arrhythmia database. IEEE Trans Biomed Eng 33(12):1157-1165.
Elgendi M (2013). Fast QRS detection with an optimized knowledge-based method: evaluation on 11
standard ECG databases. PLoS ONE 8(9):e73557.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import as_signal, check_rate
from ._kernels import (
    I_BAD_UNTIL,
    I_N,
    I_START_N,
    I_STARTED,
    N_COMMON_FLOAT,
    N_COMMON_INT,
    S_VALID_EMA,
    ingest,
    start_filter,
)
from ._numba import njit
from .filters import _sos_step, butter_sos, sos_zi_unit

ECG_DELAY_S = 0.3
"""Upper bound of the time between an R-peak and its report, s."""
ECG_HOLD_S = 0.29
"""How long an accepted beat is held before it is reported, s (the usual report delay)."""

_BAND_HZ = (8.0, 20.0)
# Beats found before this time are learnt from but not reported. 0: report from the start (the
# start-up threshold is 0.4 x the largest slope so far); with a 2-s hold-back MIT-BIH 100 scores
# F1 0.9991 instead of 0.9998 (its first R-peak is at 0.21 s) and 105 0.9936 instead of 0.9942.
_REPORT_AFTER_S = 0.0

# float state slots
(
    _PREV_BP,
    _SUM,
    _FLOOR2,
    _VFLOOR,
    _VMIN2,
    _SPK,
    _NPK,
    _CAND_MAX2,
    _POLARITY,
    _RR,
    _LAST_A,
    _PEND_A,
    _LEARN_MAX2,
    _WIDTH,
    _PEND_W,
) = range(N_COMMON_FLOAT, N_COMMON_FLOAT + 15)
_N_FLOAT = N_COMMON_FLOAT + 15
# int state slots
(
    _CAND_IDX,
    _CAND_START,
    _LAST_BEAT,
    _PEND_R,
    _PEND_ON,
    _N_BEATS,
    _FLOOR_N,
    _FLAT_RUN,
    _PEND_ECT,
) = range(N_COMMON_INT, N_COMMON_INT + 9)
_N_INT = N_COMMON_INT + 9
_N, _STARTED, _BAD_UNTIL, _START_N, _VALID_EMA = I_N, I_STARTED, I_BAD_UNTIL, I_START_N, S_VALID_EMA
# parameter slots
(
    _P_MA_N,
    _P_REFRACT_N,
    _P_LEARN_N,
    _P_SEARCH_N,
    _P_END_N,
    _P_TWAVE_N,
    _P_DELAY_N,
    _P_HOLD_N,
    _P_SETTLE_N,
    _P_FLAT_N,
    _P_DECAY_START_N,
    _P_VALID_ALPHA,
    _P_FLOOR_STEP,
    _P_SPK_DECAY,
    _P_THR_FRAC,
    _P_K_FLOOR,
    _P_K_VALLEY,
    _P_K_FLOOR_FAST,
    _P_LEARN_FRAC,
    _P_RR_LO,
    _P_RR_HI,
    _P_RR_LOST,
    _P_RR_FAC,
    _P_SUP_FAR,
    _P_ENV_LAG_N,
    _P_QUIET_N,
    _P_STEP_N,
    _P_THR_FRAC_ECT,
    _P_K_WIDE,
    _P_ECT_AFTER,
    _P_FLOOR_FAST,
    _P_FLOOR_FAST_N,
) = range(32)
_N_PRM = 32

_W = 0.125  # weight of one beat or noise peak in the running levels (Pan & Tompkins)
_VALLEY_STEP = 0.1  # log-step of the envelope-minimum median, per candidate


@njit
def _raw_peak(raw_ring: np.ndarray, lo: int, hi: int, polarity: float) -> tuple[int, bool]:
    # Extremum of the raw signal in [lo, hi] after removing the line between the window ends.
    mask = raw_ring.shape[0] - 1  # rings have a power-of-two length
    base = raw_ring[lo & mask]
    slope = (raw_ring[hi & mask] - base) / (hi - lo) if hi > lo else 0.0
    pos_v = -1.0e300
    neg_v = -1.0e300
    pos_i = lo
    neg_i = lo
    for j in range(lo, hi + 1):
        d = raw_ring[j & mask] - base - slope * (j - lo)
        if d > pos_v:
            pos_v = d
            pos_i = j
        if -d > neg_v:
            neg_v = -d
            neg_i = j
    # prefer the learnt polarity unless the other extremum clearly dominates
    if polarity > 0.5:
        use_pos = pos_v >= 0.6 * neg_v
    elif polarity < -0.5:
        use_pos = pos_v > 1.66 * neg_v
    else:
        use_pos = pos_v >= neg_v
    return (pos_i if use_pos else neg_i), use_pos


@njit
def _half_left(
    sq_ring: np.ndarray, e2: float, a2: float, n: int, ci: int, stop: int, start: int, ma_n: int
) -> int:
    # The envelope's half-height point before its maximum ``ci``: walk the moving sum back
    # from sample n (where e**2 is ``e2``) until e**2 < a2 / 4 before ci, or ``stop``.
    mask = sq_ring.shape[0] - 1
    h2 = 0.25 * a2 * ma_n
    s = e2 * ma_n
    j = n
    while j > stop:
        s -= sq_ring[j & mask] - (sq_ring[(j - ma_n) & mask] if j - ma_n >= start else 0.0)
        j -= 1
        if j < ci and s < h2:
            break
    return j


@njit
def _commit(
    fst: np.ndarray,
    ist: np.ndarray,
    out_peak: np.ndarray,
    out_conf: np.ndarray,
    n_out: int,
    n: int,
    report_from: int,
) -> int:
    # Report the held beat at sample n and fold it into the signal level and the mean RR.
    r = ist[_PEND_R]
    a = fst[_PEND_A]
    if r >= report_from:
        out_peak[n_out] = r
        out_conf[n_out] = n
        n_out += 1
    ist[_PEND_ON] = 0
    if ist[_N_BEATS] >= 1:
        rr = float(r - ist[_LAST_BEAT])
        if fst[_RR] <= 0.0:
            fst[_RR] = rr
        else:
            fst[_RR] += _W * (min(max(rr, fst[_RR] / 1.5), 1.5 * fst[_RR]) - fst[_RR])
    if ist[_N_BEATS] == 0:
        fst[_SPK] = a
        fst[_WIDTH] = fst[_PEND_W]
    else:
        fst[_SPK] += _W * (min(a, 2.0 * fst[_SPK]) - fst[_SPK])
    if ist[_N_BEATS] > 0 and ist[_PEND_ECT] == 0:
        w = fst[_PEND_W]
        fst[_WIDTH] += _W * (min(max(w, fst[_WIDTH] / 1.5), 1.5 * fst[_WIDTH]) - fst[_WIDTH])
    fst[_LAST_A] = a
    ist[_LAST_BEAT] = r
    ist[_N_BEATS] += 1
    return n_out


@njit
def _ecg_detect(
    x: np.ndarray,
    sos: np.ndarray,
    zi: np.ndarray,
    zi_unit: np.ndarray,
    fst: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    raw_ring: np.ndarray,
    sq_ring: np.ndarray,
    out_peak: np.ndarray,
    out_conf: np.ndarray,
    out_valid: np.ndarray,
) -> int:
    mask = raw_ring.shape[0] - 1  # rings have a power-of-two length: j & mask == j % length
    ma_n = int(prm[_P_MA_N])
    refract_n = int(prm[_P_REFRACT_N])
    learn_n = int(prm[_P_LEARN_N])
    search_n = int(prm[_P_SEARCH_N])
    end_n = int(prm[_P_END_N])
    twave_n = int(prm[_P_TWAVE_N])
    delay_n = int(prm[_P_DELAY_N])
    hold_n = int(prm[_P_HOLD_N])
    settle_n = int(prm[_P_SETTLE_N])
    flat_n = int(prm[_P_FLAT_N])
    decay_start_n = int(prm[_P_DECAY_START_N])
    valid_alpha = prm[_P_VALID_ALPHA]
    floor_up = (1.0 + prm[_P_FLOOR_STEP]) ** 2
    floor_down = (1.0 - prm[_P_FLOOR_STEP]) ** 2
    # at the start the median tracker moves faster: its first value is a mean that a QRS
    # complex in the first 0.2 s makes several times too high
    fast_up = (1.0 + prm[_P_FLOOR_FAST] * prm[_P_FLOOR_STEP]) ** 2
    fast_down = (1.0 - prm[_P_FLOOR_FAST] * prm[_P_FLOOR_STEP]) ** 2
    fast_n = int(prm[_P_FLOOR_FAST_N])
    quiet_n = int(prm[_P_QUIET_N])
    step_n = int(prm[_P_STEP_N])
    n_out = 0
    for i in range(x.shape[0]):
        n = ist[_N]
        report_from = ist[_START_N] + quiet_n
        v, valid = ingest(x[i], fst, ist, valid_alpha, settle_n)
        if ist[_STARTED] == 0:
            out_valid[i] = fst[_VALID_EMA]
            if not valid:
                raw_ring[n & mask] = 0.0
                sq_ring[n & mask] = 0.0
                ist[_N] = n + 1
                continue
            start_filter(v, zi, zi_unit, ist)
            ist[_CAND_START] = n
            ist[_CAND_IDX] = n
        # flatline or saturation: a long run of identical samples is treated like a gap
        if n > ist[_START_N] and v == raw_ring[(n - 1) & mask]:
            ist[_FLAT_RUN] += 1
            if ist[_FLAT_RUN] >= flat_n:
                ist[_BAD_UNTIL] = max(ist[_BAD_UNTIL], n + settle_n)
                if valid:
                    fst[_VALID_EMA] -= valid_alpha  # count the sample as invalid after all
                    # a held "beat" at the start of the run was the step into the rail
                    run_start = n - ist[_FLAT_RUN]
                    if ist[_PEND_ON] == 1 and ist[_PEND_R] >= run_start - step_n:
                        ist[_PEND_ON] = 0
        else:
            ist[_FLAT_RUN] = 0
        out_valid[i] = fst[_VALID_EMA]
        if ist[_PEND_ON] == 1 and n - ist[_PEND_R] >= hold_n:
            n_out = _commit(fst, ist, out_peak, out_conf, n_out, n, report_from)
        # envelope: RMS of the band-passed slope over the moving window
        bp = _sos_step(sos, zi, v)
        d = bp - fst[_PREV_BP]
        fst[_PREV_BP] = bp
        s = d * d
        old = sq_ring[(n - ma_n) & mask] if n - ma_n >= ist[_START_N] else 0.0
        sq_ring[n & mask] = s
        raw_ring[n & mask] = v
        fst[_SUM] += s - old
        if n & 4095 == 0:
            # re-sum exactly now and then so float round-off never accumulates
            s_exact = 0.0
            for j in range(max(ist[_START_N], n - ma_n + 1), n + 1):
                s_exact += sq_ring[j & mask]
            fst[_SUM] = s_exact
        # the per-sample work stays in the squared domain (no square root per sample)
        e2 = max(fst[_SUM], 0.0) / ma_n
        if n < ist[_BAD_UNTIL]:
            ist[_CAND_START] = n
            ist[_CAND_IDX] = n
            fst[_CAND_MAX2] = e2
            ist[_N] = n + 1
            continue
        since_start = n - ist[_START_N]
        # running median of e^2: once the moving window is full, a proper mean over two
        # windows, then sign steps
        k = ist[_FLOOR_N]
        if since_start < ma_n:
            pass
        elif k < 2 * ma_n:
            ist[_FLOOR_N] = k + 1
            fst[_FLOOR2] += (e2 - fst[_FLOOR2]) / (k + 1)
        elif e2 > fst[_FLOOR2]:
            fst[_FLOOR2] *= floor_up if since_start >= fast_n else fast_up
        elif e2 < fst[_FLOOR2]:
            fst[_FLOOR2] *= floor_down if since_start >= fast_n else fast_down
        if e2 < fst[_VMIN2] or since_start < 2 * ma_n:
            fst[_VMIN2] = e2
        if since_start < learn_n and e2 > fst[_LEARN_MAX2]:
            fst[_LEARN_MAX2] = e2
        if ist[_PEND_ON] == 1 and e2 > fst[_PEND_A] * fst[_PEND_A]:
            # a larger complex rises while a beat is held: the held one was not the beat,
            # unless the held one is nearer the expected beat time; then the newcomer must
            # be clearly larger (its R-peak lies about ENV_LAG before the rising envelope)
            sup = 1.0
            if fst[_RR] > 0.0 and ist[_N_BEATS] >= 3:
                due = ist[_LAST_BEAT] + fst[_RR]
                if abs(n - prm[_P_ENV_LAG_N] - due) >= abs(ist[_PEND_R] - due):
                    sup = prm[_P_SUP_FAR]
            if e2 > (sup * fst[_PEND_A]) ** 2:
                ist[_PEND_ON] = 0
                cap = fst[_SPK] if ist[_N_BEATS] > 0 else fst[_PEND_A]
                fst[_NPK] += _W * (min(fst[_PEND_A], cap) - fst[_NPK])
        # candidates: local maxima of the envelope
        if e2 > fst[_CAND_MAX2]:
            fst[_CAND_MAX2] = e2
            ist[_CAND_IDX] = n
            ist[_N] = n + 1
            continue
        ci = ist[_CAND_IDX]
        if ci == ist[_CAND_START]:
            # still falling from the last candidate: no new maximum yet
            fst[_CAND_MAX2] = e2
            ist[_CAND_IDX] = n
            ist[_CAND_START] = n
            ist[_N] = n + 1
            continue
        a2 = fst[_CAND_MAX2]
        if e2 >= 0.25 * a2 and n - ci < end_n:
            ist[_N] = n + 1
            continue
        # the candidate is complete (its envelope fell to half, or end_n passed)
        a = math.sqrt(a2)
        fst[_CAND_MAX2] = e2
        ist[_CAND_IDX] = n
        ist[_CAND_START] = n
        valley = math.sqrt(fst[_VMIN2])
        fst[_VMIN2] = e2
        if since_start < 2 * ma_n:
            pass  # the envelope is still filling: no valley yet
        elif fst[_VFLOOR] <= 0.0:
            fst[_VFLOOR] = valley
        elif valley > fst[_VFLOOR]:
            fst[_VFLOOR] *= 1.0 + _VALLEY_STEP
        else:
            fst[_VFLOOR] *= 1.0 - _VALLEY_STEP
        held = ist[_PEND_ON] == 1
        prev_r = ist[_PEND_R] if held else ist[_LAST_BEAT]
        has_prev = held or ist[_N_BEATS] > 0
        lo = max(ci - search_n, n - delay_n, ist[_START_N], ist[_BAD_UNTIL])
        if has_prev:
            lo = max(lo, prev_r + 1)
        if lo >= n:
            ist[_N] = n + 1
            continue
        r, is_pos = _raw_peak(raw_ring, lo, n, fst[_POLARITY])
        since = r - prev_r if has_prev else 1 << 40
        # thresholds
        k_floor = prm[_P_K_FLOOR]
        learn_max = math.sqrt(fst[_LEARN_MAX2])
        ectopic = False
        learning = since_start < learn_n
        spk = learn_max
        frac = prm[_P_THR_FRAC]
        # the lowest bar this candidate could face; only above it is its width worth measuring
        if learning:
            lowest = prm[_P_LEARN_FRAC] * learn_max
        else:
            if ist[_N_BEATS] > 0:
                spk = fst[_SPK]
            silent = n - max(prev_r, ist[_START_N] + learn_n) - decay_start_n
            if silent > 0:
                spk *= prm[_P_SPK_DECAY] ** silent
            lowest = fst[_NPK] + min(frac, prm[_P_THR_FRAC_ECT]) * (spk - fst[_NPK])
            if lowest > 0.0:
                lowest *= min(1.0, prm[_P_RR_FAC])
        width = 0.0
        if a > lowest:
            width = float(n - _half_left(sq_ring, e2, a2, n, ci, lo - ma_n, ist[_START_N], ma_n))
        if learning:
            thr = lowest
        else:
            if ist[_N_BEATS] >= prm[_P_ECT_AFTER] and since > max(twave_n, 0.4 * fst[_RR]):
                pol = fst[_POLARITY]
                opposite = (pol > 0.5 and not is_pos) or (pol < -0.5 and is_pos)
                if opposite or width > prm[_P_K_WIDE] * fst[_WIDTH]:
                    ectopic = True
                    frac = prm[_P_THR_FRAC_ECT]
            thr = fst[_NPK] + frac * (spk - fst[_NPK])
            if fst[_RR] > 0.0 and ist[_N_BEATS] >= 3:
                # the next beat is due: lower the bar (bounded search-back)
                ph = since / fst[_RR]
                lo_ph = prm[_P_RR_LO]
                hi_ph = prm[_P_RR_HI]
                f = 1.0
                if hi_ph <= ph <= prm[_P_RR_LOST]:
                    f = prm[_P_RR_FAC]
                elif lo_ph < ph < hi_ph:
                    f = 1.0 - (1.0 - prm[_P_RR_FAC]) * (ph - lo_ph) / (hi_ph - lo_ph)
                thr *= f
                k_floor = 1.0 + (k_floor - 1.0) * f
        floor = math.sqrt(fst[_FLOOR2])
        vfloor = fst[_VFLOOR]
        above_noise = a > k_floor * floor or (
            vfloor > 0.0 and a > prm[_P_K_VALLEY] * vfloor and a > prm[_P_K_FLOOR_FAST] * floor
        )
        accepted = False
        if a > thr and above_noise and since > refract_n:
            ref_a = fst[_PEND_A] if held else fst[_LAST_A]
            if not (since < twave_n and a < 0.5 * ref_a):
                if held:
                    n_out = _commit(fst, ist, out_peak, out_conf, n_out, n, report_from)
                ist[_PEND_ON] = 1
                ist[_PEND_R] = r
                fst[_PEND_A] = a
                fst[_PEND_W] = width
                ist[_PEND_ECT] = 1 if ectopic else 0
                if not ectopic:
                    fst[_POLARITY] += 0.2 * ((1.0 if is_pos else -1.0) - fst[_POLARITY])
                accepted = True
                if n - r >= hold_n:
                    n_out = _commit(fst, ist, out_peak, out_conf, n_out, n, report_from)
        if not accepted:
            cap = fst[_SPK] if ist[_N_BEATS] > 0 else a
            fst[_NPK] += _W * (min(a, cap) - fst[_NPK])
        ist[_N] = n + 1
    return n_out


class EcgPeakDetector:
    """Streaming R-peak detector.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz (100-1000 Hz supported; 128-130 Hz wearables and Holters included).
    hold_s : float, optional
        How long an accepted beat is held before it is reported, s (default
        :data:`ECG_HOLD_S`, 0.29; 0.05 up to :data:`ECG_DELAY_S`), counted from its R-peak;
        never before the complex is complete (its envelope maximum past, about 0.15 s after
        the R-peak). A shorter hold reports beats sooner but lets fewer larger complexes
        overrule an artifact or a P/T wave taken for a beat (``benchmarks/bench_latency.py``
        measures what each hold costs on MIT-BIH).

    Notes
    -----
    ``update(chunk)`` returns the absolute sample indices of the R-peaks confirmed in this chunk.
    Each peak is reported at most :data:`ECG_DELAY_S` s after it occurred. ``confirm_index``
    holds the sample index at which each returned peak was confirmed, ``valid_fraction`` the
    running share of valid samples (time constant 2 s; NaN gaps and flat runs are invalid) at
    every sample of the chunk. See the module docstring for the algorithm.
    """

    delay_s: float = ECG_DELAY_S

    def __init__(self, fs: float, hold_s: float | None = None) -> None:
        self.fs = check_rate(fs, "ECG sampling rate", 50.0, 10_000.0)
        hold = ECG_HOLD_S if hold_s is None else float(hold_s)
        if not (0.05 <= hold <= ECG_DELAY_S):  # also NaN
            raise ValueError(f"ECG hold {hold_s!r} s must be 0.05-{ECG_DELAY_S:g} s")
        self.hold_s = hold
        fs_ = self.fs
        self._sos = butter_sos("bandpass", _BAND_HZ, fs_, order=2)
        self._zi_unit = sos_zi_unit(self._sos)
        self._zi = np.zeros_like(self._zi_unit)
        self._fst = np.zeros(_N_FLOAT)
        self._fst[_VALID_EMA] = 1.0
        self._fst[_VMIN2] = math.inf
        self._ist = np.zeros(_N_INT, dtype=np.int64)
        self._ist[_LAST_BEAT] = -(10**12)
        delay_n = math.floor(ECG_DELAY_S * fs_)
        prm = np.zeros(_N_PRM)
        prm[_P_MA_N] = max(2, round(0.1 * fs_))  # moving window of the envelope
        prm[_P_REFRACT_N] = round(0.2 * fs_)  # refractory period
        prm[_P_LEARN_N] = round(1.0 * fs_)  # learning period: threshold from the maximum
        prm[_P_SEARCH_N] = round(0.15 * fs_)  # raw-peak search before the envelope maximum
        prm[_P_END_N] = max(1, round(0.1 * fs_))  # a candidate is complete after this
        prm[_P_TWAVE_N] = round(0.36 * fs_)  # T-wave window after a beat
        prm[_P_DELAY_N] = delay_n  # never place a peak further back than the delay
        prm[_P_HOLD_N] = min(delay_n, math.floor(hold * fs_))  # hold before reporting
        prm[_P_SETTLE_N] = round(0.5 * fs_)  # detection suppressed after a gap
        prm[_P_FLAT_N] = max(8, round(0.15 * fs_))  # identical samples that make a flat run
        prm[_P_DECAY_START_N] = round(2.0 * fs_)  # signal level decays after no beat
        prm[_P_VALID_ALPHA] = 1.0 - math.exp(-1.0 / (2.0 * fs_))  # valid-share EMA, 2 s
        prm[_P_FLOOR_STEP] = 1.0 / (2.0 * fs_)  # envelope median tracker, ~2 s
        prm[_P_SPK_DECAY] = math.exp(-1.0 / (3.0 * fs_))  # signal level decay, tau 3 s
        prm[_P_THR_FRAC] = 0.3  # threshold between noise and signal level
        prm[_P_K_FLOOR] = 2.5  # a beat exceeds this many times the envelope median
        prm[_P_K_VALLEY] = 8.0  # ... or this many times the median envelope minimum
        prm[_P_K_FLOOR_FAST] = 1.2  # ... and then at least this many times the median
        prm[_P_LEARN_FRAC] = 0.4  # learning threshold, fraction of the largest envelope
        prm[_P_RR_LO] = 0.8  # the bar starts to drop at this fraction of the mean RR
        prm[_P_RR_HI] = 1.66  # and is lowest from here (Pan & Tompkins' search-back point)
        prm[_P_RR_LOST] = 3.0  # beyond this many RR the rhythm is lost
        prm[_P_RR_FAC] = 0.7  # factor on threshold and noise margin when a beat is due
        prm[_P_SUP_FAR] = 1.5  # a held beat nearer the due time yields only to 1.5x larger
        prm[_P_ENV_LAG_N] = round(0.05 * fs_)  # R-peak to envelope maximum, about
        prm[_P_QUIET_N] = round(_REPORT_AFTER_S * fs_)  # earlier beats teach, unreported
        prm[_P_STEP_N] = max(2, round(0.02 * fs_))  # a step into a rail lies this close to it
        prm[_P_THR_FRAC_ECT] = 0.15  # threshold fraction for ectopic-shaped candidates
        prm[_P_K_WIDE] = 1.2  # an envelope this many times wider than the beats' is ectopic
        prm[_P_ECT_AFTER] = 8  # beats learnt before a candidate can count as ectopic-shaped
        prm[_P_FLOOR_FAST] = 4.0  # the envelope median moves this much faster at the start
        prm[_P_FLOOR_FAST_N] = round(3.0 * fs_)  # for this long
        self._prm = prm
        ring = 1 << math.ceil(math.log2(max(16, 1.0 * fs_)))
        self._raw_ring = np.zeros(ring)
        self._sq_ring = np.zeros(ring)
        self.confirm_index = np.empty(0, dtype=np.int64)
        self.valid_fraction = np.empty(0)

    @property
    def n_samples(self) -> int:
        """Samples processed so far."""
        return int(self._ist[_N])

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Process one chunk; return absolute sample indices of newly confirmed R-peaks."""
        x = as_signal(chunk, "ECG chunk")
        # reported beats are more than the refractory period apart and at most the delay old
        span = x.size + int(self._prm[_P_DELAY_N])
        cap = span // max(1, int(self._prm[_P_REFRACT_N])) + 2
        peaks = np.empty(cap, dtype=np.int64)
        conf = np.empty(cap, dtype=np.int64)
        valid = np.empty(x.size)
        k = _ecg_detect(
            x,
            self._sos,
            self._zi,
            self._zi_unit,
            self._fst,
            self._ist,
            self._prm,
            self._raw_ring,
            self._sq_ring,
            peaks,
            conf,
            valid,
        )
        self.confirm_index = conf[:k]
        self.valid_fraction = valid
        return peaks[:k]


def ecg_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Detect R-peaks in a whole ECG record (causal; identical to the streaming detector).

    Parameters
    ----------
    signal : array
        ECG, any unit and polarity; NaN marks missing samples.
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    ndarray of int64
        Sample indices of the R-peaks, placed at the raw-signal extremum.
    """
    return EcgPeakDetector(fs).update(signal)
