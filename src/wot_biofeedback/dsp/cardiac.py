"""The cardiac channel: beats → corrected NN series → HRV frames, in numba.

Beats come from an ECG (:class:`~wot_biofeedback.dsp.ecg.EcgPeakDetector`), a PPG
(:class:`~wot_biofeedback.dsp.ppg.PpgPulseDetector`) or a stream of inter-beat intervals (LSL
type ``RR``). They pass the causal Lipponen-Tarvainen correction
(:class:`~wot_biofeedback.dsp.hrv.RRCorrector`), and every feature frame is computed by one
kernel from the NN rows confirmed by the frame's sample, so any chunking gives identical frames.

Features (columns of ``features.csv``):

====================  =====  =========================================================
``hr_bpm``            bpm    60000 / mean NN over the last 10 s
``rmssd_ms``          ms     RMSSD of successive NN pairs in the last 30 s
``sdnn_ms``           ms     SDNN (ddof=1) of NN in the last 60 s
``pnn50``             %      share of successive differences > 50 ms in the last 30 s
``lf_ms2``            ms²    Lomb-Scargle power 0.04-0.15 Hz over the last 300 s
``hf_ms2``            ms²    Lomb-Scargle power 0.15-0.4 Hz over the last 300 s
``lf_hf``             1      ``lf_ms2 / hf_ms2``
``lf_ms2_welch``      ms²    Welch power 0.04-0.15 Hz (4 Hz resampled series, 300 s)
``hf_ms2_welch``      ms²    Welch power 0.15-0.4 Hz
``lf_hf_welch``       1      Welch LF/HF
``coherence``         1      HeartMath coherence ratio over the last 64 s (Lomb PSD)
``rr_corrected_pct``  %      share of corrected or excluded beats in the last 60 s
``quality_ecg``       0-1    signal quality (samples usable x rhythm present x share of
                             uncorrected beats x plausible rate)
====================  =====  =========================================================

Variability features are withheld (NaN) when more than ``max_corrected`` of the beats in their
window were corrected, and frequency features until their window holds at least 120 s (LF
needs two minutes, Task Force 1996) — 48 s for the 64-s coherence window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checks import as_1d_float
from ..errors import InputError
from ._kernels import GlitchGate, drop_glitches
from ._numba import njit, njit_exact
from .ecg import _P_DELAY_N, _P_REFRACT_N, EcgPeakDetector, _ecg_detect
from .framing import FRAME_RATE_HZ, Channel, ChannelOutput, merge_outputs
from .hrv import _LOOKAHEAD, NORMAL, RRCorrector, _rr_correct
from .hrv_freq import (
    BAND_NAMES,
    HF_BAND_HZ,
    LF_BAND_HZ,
    LOMB_NSUM,
    band_integral,
    coherence_power,
    lf_hf_powers,
    lomb_add,
    lomb_grid,
    lomb_psd,
    welch_add_beat,
    welch_freqs,
    welch_state,
)
from .ppg import PpgPulseDetector

CARDIAC_FEATURES = (
    "hr_bpm",
    "rmssd_ms",
    "sdnn_ms",
    "pnn50",
    "lf_ms2",
    "hf_ms2",
    "lf_hf",
    "lf_ms2_welch",
    "hf_ms2_welch",
    "lf_hf_welch",
    "coherence",
    "rr_corrected_pct",
    "quality_ecg",
)
(
    _F_HR, _F_RMSSD, _F_SDNN, _F_PNN50, _F_LF, _F_HF, _F_LFHF,
    _F_LFW, _F_HFW, _F_LFHFW, _F_COH, _F_CORR, _F_Q,
) = range(len(CARDIAC_FEATURES))  # fmt: skip
_B_LF = BAND_NAMES.index("lf_ms2")
_B_HF = BAND_NAMES.index("hf_ms2")
_B_COH = BAND_NAMES.index("coherence")

# event-ring counters
(
    _E_N, _E_IN, _E_OUT_L, _E_OUT_C, _E_ADDS, _E_DIRTY_L, _E_DIRTY_C,
    _E_ROWS_L, _E_CORR_L, _E_ROWS_C, _E_CORR_C,
) = range(11)  # fmt: skip
# parameters
(
    _P_HR_W, _P_RMSSD_W, _P_SDNN_W, _P_LOMB_W, _P_COH_W, _P_MAX_CORR,
    _P_LOMB_MIN, _P_COH_MIN, _P_HR_LO, _P_HR_HI, _P_GAP_S,
    _P_LF_LO, _P_LF_HI, _P_HF_LO, _P_HF_HI,
) = range(15)  # fmt: skip


@njit
def _resum(
    e_t: np.ndarray,
    e_nn: np.ndarray,
    lo: int,
    hi: int,
    acc: np.ndarray,
    tot: np.ndarray,
    omega: np.ndarray,
) -> None:
    # exact re-summation of a sliding Lomb window (bounds float round-off in long sessions)
    acc[:] = 0.0
    tot[:] = 0.0
    ring = e_t.shape[0]
    for j in range(lo, hi):
        v = e_nn[j % ring]
        if not math.isnan(v):
            lomb_add(acc, tot, omega, e_t[j % ring], v, 1.0)


@njit
def _first_finite(e_t: np.ndarray, e_nn: np.ndarray, lo: int, hi: int) -> float:
    ring = e_t.shape[0]
    for j in range(lo, hi):
        if not math.isnan(e_nn[j % ring]):
            return e_t[j % ring]
    return 1.0e300


@njit
def _add_rows(
    row_t: np.ndarray,
    row_nn: np.ndarray,
    row_kind: np.ndarray,
    row_conf: np.ndarray,
    e_t: np.ndarray,
    e_nn: np.ndarray,
    e_kind: np.ndarray,
    e_conf: np.ndarray,
    eist: np.ndarray,
    wf: np.ndarray,
    wi: np.ndarray,
    kt: np.ndarray,
    ky: np.ndarray,
    sbuf: np.ndarray,
    win: np.ndarray,
    cos_tab: np.ndarray,
    sin_tab: np.ndarray,
    work: np.ndarray,
    tmp_pxx: np.ndarray,
    tmp_t0: np.ndarray,
    seg_pxx: np.ndarray,
    seg_t0: np.ndarray,
    seg_conf: np.ndarray,
    seg_n: np.ndarray,
) -> None:
    """Append NN rows to the event ring and feed the streaming Welch.

    Each completed Welch segment is tagged with the confirmation of the row whose arrival
    completed it, so frames use exactly the segments known at their sample.
    """
    ring = e_t.shape[0]
    seg_ring = seg_t0.shape[0]
    for q in range(row_t.shape[0]):
        k = eist[_E_N] % ring
        e_t[k] = row_t[q]
        e_nn[k] = row_nn[q]
        e_kind[k] = row_kind[q]
        e_conf[k] = row_conf[q]
        eist[_E_N] += 1
        if math.isnan(row_nn[q]):
            continue
        n_seg = welch_add_beat(
            wf, wi, kt, ky, sbuf, win, cos_tab, sin_tab, work, row_t[q], row_nn[q],
            tmp_pxx, tmp_t0, 0,
        )  # fmt: skip
        for j in range(n_seg):
            slot = seg_n[0] % seg_ring
            seg_pxx[slot, :] = tmp_pxx[j, :]
            seg_t0[slot] = tmp_t0[j]
            seg_conf[slot] = row_conf[q]
            seg_n[0] += 1


# time-domain window state: int slots, float slots
(
    _T_O_HR, _T_O_RM, _T_O_SD, _T_HR_N, _T_RM_ROWS, _T_RM_CORR, _T_D_N, _T_D_50,
    _T_SD_ROWS, _T_SD_CORR, _T_SD_N,
) = range(11)  # fmt: skip
_TF_HR_S, _TF_D_S2, _TF_SD_S1, _TF_SD_S2 = range(4)
_SD_REF_MS = 1000.0  # SDNN sums are taken about this value (no cancellation in the variance)


@njit
def _td_row(
    j: int, w: float, e_nn: np.ndarray, e_kind: np.ndarray, which: int,
    ti: np.ndarray, tf: np.ndarray,
) -> None:  # fmt: skip
    """Add (w = +1) or remove (w = -1) row ``j`` from time-domain window ``which``."""
    ring = e_nn.shape[0]
    v = e_nn[j % ring]
    fin = not math.isnan(v)
    iw = 1 if w > 0 else -1
    bad = 1 if e_kind[j % ring] != NORMAL else 0
    if which == 0:
        if fin:
            ti[_T_HR_N] += iw
            tf[_TF_HR_S] += w * v
    elif which == 1:
        ti[_T_RM_ROWS] += iw
        ti[_T_RM_CORR] += iw * bad
    else:
        ti[_T_SD_ROWS] += iw
        ti[_T_SD_CORR] += iw * bad
        if fin:
            dv = v - _SD_REF_MS
            ti[_T_SD_N] += iw
            tf[_TF_SD_S1] += w * dv
            tf[_TF_SD_S2] += w * dv * dv


@njit
def _td_pair(j: int, w: float, e_nn: np.ndarray, ti: np.ndarray, tf: np.ndarray) -> None:
    """Add or remove the successive difference of rows ``j - 1`` and ``j`` (both finite)."""
    ring = e_nn.shape[0]
    a = e_nn[(j - 1) % ring]
    b = e_nn[j % ring]
    if math.isnan(a) or math.isnan(b):
        return
    d = b - a
    iw = 1 if w > 0 else -1
    ti[_T_D_N] += iw
    tf[_TF_D_S2] += w * d * d
    if abs(d) > 50.0:
        ti[_T_D_50] += iw


@njit
def _td_resum(
    e_nn: np.ndarray, e_kind: np.ndarray, p_in: int, ti: np.ndarray, tf: np.ndarray
) -> None:
    """Recompute the window sums from their rows (bounds float round-off in long sessions)."""
    for k in range(_T_HR_N, _T_SD_N + 1):
        ti[k] = 0
    tf[:] = 0.0
    for which in range(3):
        for j in range(ti[which], p_in):
            _td_row(j, 1.0, e_nn, e_kind, which, ti, tf)
    for j in range(max(ti[_T_O_RM] + 1, 1), p_in):
        _td_pair(j, 1.0, e_nn, ti, tf)


@njit
def _cardiac_frames(
    f_t: np.ndarray,
    f_n: np.ndarray,
    sq: np.ndarray,
    sq_first: int,
    e_t: np.ndarray,
    e_nn: np.ndarray,
    e_kind: np.ndarray,
    e_conf: np.ndarray,
    eist: np.ndarray,
    freqs: np.ndarray,
    omega: np.ndarray,
    acc_l: np.ndarray,
    tot_l: np.ndarray,
    acc_c: np.ndarray,
    tot_c: np.ndarray,
    freqs_c: np.ndarray,
    omega_c: np.ndarray,
    psd: np.ndarray,
    psd_c: np.ndarray,
    cache: np.ndarray,
    wfreqs: np.ndarray,
    seg_pxx: np.ndarray,
    seg_t0: np.ndarray,
    seg_conf: np.ndarray,
    seg_n: np.ndarray,
    wpsd: np.ndarray,
    wcache: np.ndarray,
    ti: np.ndarray,
    tf: np.ndarray,
    prm: np.ndarray,
    out: np.ndarray,
) -> None:
    ring = e_t.shape[0]
    w_lomb = prm[_P_LOMB_W]
    w_td = (prm[_P_HR_W], prm[_P_RMSSD_W], prm[_P_SDNN_W])
    w_coh = prm[_P_COH_W]
    for f in range(f_t.shape[0]):
        t = f_t[f]
        n_f = f_n[f]
        # rows confirmed by this frame's sample enter the sliding spectra
        while eist[_E_IN] < eist[_E_N] and e_conf[eist[_E_IN] % ring] <= n_f:
            j = eist[_E_IN] % ring
            bad = 1 if e_kind[j] != NORMAL else 0
            eist[_E_ROWS_L] += 1
            eist[_E_ROWS_C] += 1
            eist[_E_CORR_L] += bad
            eist[_E_CORR_C] += bad
            if not math.isnan(e_nn[j]):
                lomb_add(acc_l, tot_l, omega, e_t[j], e_nn[j], 1.0)
                lomb_add(acc_c, tot_c, omega_c, e_t[j], e_nn[j], 1.0)
                eist[_E_ADDS] += 1
                eist[_E_DIRTY_L] = 1
                eist[_E_DIRTY_C] = 1
            jin = eist[_E_IN]
            for which in range(3):
                _td_row(jin, 1.0, e_nn, e_kind, which, ti, tf)
            # a successive difference counts while its earlier row is in the 30-s window
            if jin >= 1 and jin - 1 >= ti[_T_O_RM]:
                _td_pair(jin, 1.0, e_nn, ti, tf)
            eist[_E_IN] += 1
        p_in = eist[_E_IN]
        while eist[_E_OUT_L] < p_in and e_t[eist[_E_OUT_L] % ring] < t - w_lomb:
            j = eist[_E_OUT_L] % ring
            eist[_E_ROWS_L] -= 1
            eist[_E_CORR_L] -= 1 if e_kind[j] != NORMAL else 0
            if not math.isnan(e_nn[j]):
                lomb_add(acc_l, tot_l, omega, e_t[j], e_nn[j], -1.0)
                eist[_E_DIRTY_L] = 1
            eist[_E_OUT_L] += 1
        while eist[_E_OUT_C] < p_in and e_t[eist[_E_OUT_C] % ring] < t - w_coh:
            j = eist[_E_OUT_C] % ring
            eist[_E_ROWS_C] -= 1
            eist[_E_CORR_C] -= 1 if e_kind[j] != NORMAL else 0
            if not math.isnan(e_nn[j]):
                lomb_add(acc_c, tot_c, omega_c, e_t[j], e_nn[j], -1.0)
                eist[_E_DIRTY_C] = 1
            eist[_E_OUT_C] += 1
        for which in range(3):
            while ti[which] < p_in and e_t[ti[which] % ring] < t - w_td[which]:
                k = ti[which]
                _td_row(k, -1.0, e_nn, e_kind, which, ti, tf)
                if which == 1 and k + 1 < p_in:
                    _td_pair(k + 1, -1.0, e_nn, ti, tf)
                ti[which] += 1
        if eist[_E_ADDS] >= 2048:
            _resum(e_t, e_nn, eist[_E_OUT_L], p_in, acc_l, tot_l, omega)
            _resum(e_t, e_nn, eist[_E_OUT_C], p_in, acc_c, tot_c, omega_c)
            _td_resum(e_nn, e_kind, p_in, ti, tf)
            eist[_E_ADDS] = 0
            eist[_E_DIRTY_L] = 1
            eist[_E_DIRTY_C] = 1
        # time domain from the running window sums
        hr_n = ti[_T_HR_N]
        hr_s = tf[_TF_HR_S]
        rows30 = ti[_T_RM_ROWS]
        corr30 = ti[_T_RM_CORR]
        d_n = ti[_T_D_N]
        d_s2 = tf[_TF_D_S2]
        d_50 = ti[_T_D_50]
        rows60 = ti[_T_SD_ROWS]
        corr60 = ti[_T_SD_CORR]
        sd_n = ti[_T_SD_N]
        last_t = e_t[(p_in - 1) % ring] if p_in > 0 else -1.0e300
        # corrected share over the spectral windows, and where their data starts
        rows_l = eist[_E_ROWS_L]
        corr_l = eist[_E_CORR_L]
        rows_c = eist[_E_ROWS_C]
        corr_c = eist[_E_CORR_C]
        first_l = _first_finite(e_t, e_nn, eist[_E_OUT_L], p_in)
        first_c = _first_finite(e_t, e_nn, eist[_E_OUT_C], p_in)
        max_corr = prm[_P_MAX_CORR]
        for c in range(out.shape[0]):
            out[c, f] = math.nan
        hr = math.nan
        if hr_n >= 2:
            hr = 60000.0 * hr_n / hr_s
            out[_F_HR, f] = hr
        ok30 = rows30 > 0 and corr30 <= max_corr * rows30
        ok60 = rows60 > 0 and corr60 <= max_corr * rows60
        if d_n >= 5 and ok30:
            out[_F_RMSSD, f] = math.sqrt(max(d_s2, 0.0) / d_n)
            out[_F_PNN50, f] = 100.0 * d_50 / d_n
        if sd_n >= 10 and ok60:
            s1 = tf[_TF_SD_S1]
            var = (tf[_TF_SD_S2] - s1 * s1 / sd_n) / (sd_n - 1)
            out[_F_SDNN, f] = math.sqrt(max(var, 0.0))
        if rows60 > 0:
            out[_F_CORR, f] = 100.0 * corr60 / rows60
        # spectra change only when a beat enters or leaves a window: evaluate then, reuse else
        if eist[_E_DIRTY_L] == 1:
            lomb_psd(acc_l, tot_l, omega, psd)
            lf_hf_powers(freqs, psd, cache[0])  # the slots read below, no more
            eist[_E_DIRTY_L] = 0
        if eist[_E_DIRTY_C] == 1:
            lomb_psd(acc_c, tot_c, omega_c, psd_c)
            coherence_power(freqs_c, psd_c, cache[1])
            eist[_E_DIRTY_C] = 0
        if t - first_l >= prm[_P_LOMB_MIN] and rows_l > 0 and corr_l <= max_corr * rows_l:
            out[_F_LF, f] = cache[0, _B_LF]
            out[_F_HF, f] = cache[0, _B_HF]
            if cache[0, _B_HF] > 0:
                out[_F_LFHF, f] = cache[0, _B_LF] / cache[0, _B_HF]
        if t - first_c >= prm[_P_COH_MIN] and rows_c > 0 and corr_c <= max_corr * rows_c:
            out[_F_COH, f] = cache[1, _B_COH]
        # Welch: mean of the 64-s segments known by this frame and lying inside the window
        seg_ring = seg_t0.shape[0]
        s_hi = seg_n[0]
        while s_hi > 0 and s_hi > seg_n[0] - seg_ring and seg_conf[(s_hi - 1) % seg_ring] > n_f:
            s_hi -= 1
        s_lo = s_hi
        while (
            s_lo > 0 and s_lo > seg_n[0] - seg_ring and seg_t0[(s_lo - 1) % seg_ring] >= t - w_lomb
        ):
            s_lo -= 1
        n_seg = s_hi - s_lo
        if n_seg >= 3 and rows_l > 0 and corr_l <= max_corr * rows_l:
            if wcache[0] != s_lo or wcache[1] != s_hi:
                for b in range(wpsd.shape[0]):
                    total = 0.0
                    for q in range(s_lo, s_hi):
                        total += seg_pxx[q % seg_ring, b]
                    wpsd[b] = total / n_seg
                wcache[0] = s_lo
                wcache[1] = s_hi
                wcache[2] = band_integral(wfreqs, wpsd, prm[_P_LF_LO], prm[_P_LF_HI])
                wcache[3] = band_integral(wfreqs, wpsd, prm[_P_HF_LO], prm[_P_HF_HI])
            out[_F_LFW, f] = wcache[2]
            out[_F_HFW, f] = wcache[3]
            if wcache[3] > 0:
                out[_F_LFHFW, f] = wcache[2] / wcache[3]
        # quality: usable samples x rhythm present x uncorrected share x plausible rate
        mean_rr = hr_s / hr_n if hr_n > 0 else 1000.0
        # the newest row trails the newest beat by the corrector's look-ahead (two beats)
        gap_limit = max(prm[_P_GAP_S], 2.5 * mean_rr / 1000.0) + 2.0 * mean_rr / 1000.0
        rhythm = (t - last_t) <= gap_limit
        share_ok = 1.0 - corr30 / rows30 if rows30 > 0 else 0.0
        plausible = math.isnan(hr) or (prm[_P_HR_LO] <= hr <= prm[_P_HR_HI])
        if sq_first < 0:
            sqf = 1.0
        else:
            idx = n_f - sq_first
            sqf = sq[idx] if 0 <= idx < sq.shape[0] and not math.isnan(sq[idx]) else 0.0
        qual = sqf if rhythm and plausible else 0.0
        out[_F_Q, f] = min(1.0, max(0.0, qual * share_ok))


# sample-quality kernel: NaN, flatline and clipping ------------------------------------------
_Q_LAST, _Q_RUN, _Q_HI, _Q_LO, _Q_EMA, _Q_DFAST, _Q_DSLOW = range(7)
_QI_N, _QI_LASTBAD, _QI_NVALID = range(3)


@njit
def _sample_quality(
    x: np.ndarray,
    qst: np.ndarray,
    qist: np.ndarray,
    flat_n: int,
    clip_n: int,
    alpha_env: float,
    alpha_ema: float,
    alpha_fast: float,
    alpha_slow: float,
    warm_n: int,
    lastbad_ring: np.ndarray,
    out_ok: np.ndarray,
    out_lastbad: np.ndarray,
) -> None:
    ring = lastbad_ring.shape[0]
    for i in range(x.shape[0]):
        n = qist[_QI_N]
        v = x[i]
        bad = False
        if math.isnan(v):
            bad = True
            qst[_Q_RUN] = 0.0
        else:
            # noise bursts: the 1-s mean |first difference| far above its slow (60 s) level,
            # which learns only from quiet stretches
            if qist[_QI_NVALID] > 0:
                d = abs(v - qst[_Q_LAST])
                qst[_Q_DFAST] += alpha_fast * (d - qst[_Q_DFAST])
                nv = qist[_QI_NVALID]
                if nv < warm_n:
                    qst[_Q_DSLOW] += (d - qst[_Q_DSLOW]) / nv
                elif qst[_Q_DFAST] > 4.0 * qst[_Q_DSLOW]:
                    bad = True
                    # a lasting change of the noise level (a new electrode, another lead) is
                    # learnt too, ten times more slowly, so the channel cannot lock itself out
                    qst[_Q_DSLOW] += 0.1 * alpha_slow * (d - qst[_Q_DSLOW])
                elif d > 0.0:
                    # (a flatline or a rail is not a quiet ECG: it must not teach the level)
                    qst[_Q_DSLOW] += alpha_slow * (d - qst[_Q_DSLOW])
            qist[_QI_NVALID] += 1
            if v == qst[_Q_LAST]:
                qst[_Q_RUN] += 1.0
            else:
                qst[_Q_RUN] = 1.0
            qst[_Q_LAST] = v
            if n == 0 or math.isnan(qst[_Q_HI]):
                qst[_Q_HI] = v
                qst[_Q_LO] = v
            # slowly relaxing envelopes: a run of equal samples at the envelope is clipping
            qst[_Q_HI] = max(v, qst[_Q_HI] + alpha_env * (v - qst[_Q_HI]))
            qst[_Q_LO] = min(v, qst[_Q_LO] + alpha_env * (v - qst[_Q_LO]))
            run = qst[_Q_RUN]
            tol = 0.01 * (qst[_Q_HI] - qst[_Q_LO])
            at_rail = v >= qst[_Q_HI] - tol or v <= qst[_Q_LO] + tol
            if run >= flat_n or (run >= clip_n and at_rail and qst[_Q_HI] > qst[_Q_LO]):
                bad = True
        if bad:
            qist[_QI_LASTBAD] = n
        lastbad_ring[n % ring] = qist[_QI_LASTBAD]
        out_lastbad[i] = qist[_QI_LASTBAD]
        qst[_Q_EMA] += alpha_ema * ((0.0 if bad else 1.0) - qst[_Q_EMA])
        # a third of the samples flat or at the rails already makes the signal unusable
        out_ok[i] = min(1.0, max(0.0, 1.0 - 3.0 * (1.0 - qst[_Q_EMA])))
        qist[_QI_N] = n + 1


@njit
def _gap_flags(
    peaks: np.ndarray,
    prev_peak: int,
    first: int,
    chunk_lastbad: np.ndarray,
    before: np.ndarray,
    out: np.ndarray,
) -> None:
    prev = prev_peak
    for i in range(peaks.shape[0]):
        p = peaks[i]
        rel = p - first
        lb = chunk_lastbad[rel] if 0 <= rel < chunk_lastbad.shape[0] else before[i]
        out[i] = 1 if lb > prev else 0
        prev = p


# The state arrays of an ECG channel, in one float64 and one int64 block ("arenas"), so that
# a chunk's kernel call passes the 59 of them as 3 arguments (numba's dispatch costs about
# 0.06 µs per array argument: 8.2 µs a call with them one by one, 2.7 µs now). Each entry:
# the kind of view (a1: float64 1-D, b1: int64 1-D, a2: float64 2-D), in the order _ecg_step
# reads them.
_ARENA_KINDS = (
    # detector: sos, zi, zi_unit, fst, ist, prm, raw ring, sq ring
    *("a2", "a2", "a2", "a1", "b1", "a1", "a1", "a1"),
    # sample quality: qst, qist, last-bad ring
    *("a1", "b1", "b1"),
    # corrector: fst, ist, prm, rings (t, rr, gap, conf, m, kind), scratch, buf
    *("a1", "b1", "a1", "a1", "a1", "b1", "b1", "a1", "b1", "a1", "a1"),
    # NN rows: times, NN, kinds, confirmations, pointers
    *("a1", "a1", "b1", "b1", "b1"),
    # Welch state (9), pending and kept segments
    *("a1", "b1", "a1", "a1", "a1", "a1", "a1", "a1", "a1", "a2", "a1", "a2", "a1", "b1", "b1"),
    # Lomb grids and sums (300 s and 64 s), PSDs, band cache, Welch frequencies
    *("a1", "a1", "a2", "a1", "a2", "a1", "a1", "a1", "a1", "a1", "a2", "a1"),
    # Welch PSD and cache, time-domain windows (pointers, sums), parameters
    *("a1", "a1", "b1", "a1", "a1"),
    # the glitch gate
    "a1",
)


def _event_rows(cap: int) -> int:
    """Room for the corrector's rows when ``cap`` beats arrive (each may add a virtual one)."""
    return 2 * (cap + _LOOKAHEAD + 1)


@njit_exact
def _event_views(ev_f: np.ndarray, ev_i: np.ndarray, cap: int) -> Any:
    """The event arrays of one :func:`_ecg_step` as views of its two blocks: ``ev_f`` holds
    beat times (``cap``) then the rows' times, RR and NN (``rcap`` = :func:`_event_rows`
    each); ``ev_i`` the peaks and their confirmations (``cap`` each) then the rows' kinds and
    confirmations. Returns (peaks, confirmations, beat times, rows)."""
    r = (ev_i.shape[0] - 2 * cap) // 2  # rcap, from _event_rows
    rows = (ev_f[cap : cap + r], ev_f[cap + r : cap + 2 * r], ev_f[cap + 2 * r : cap + 3 * r],
            ev_i[2 * cap : 2 * cap + r], ev_i[2 * cap + r : 2 * cap + 2 * r])  # fmt: skip
    return ev_i[:cap], ev_i[cap : 2 * cap], ev_f[:cap], rows


@njit_exact
def _a1(fa: np.ndarray, o: np.ndarray, i: int) -> np.ndarray:
    return fa[o[i, 0] : o[i, 0] + o[i, 1]]


@njit_exact
def _b1(ia: np.ndarray, o: np.ndarray, i: int) -> np.ndarray:
    return ia[o[i, 0] : o[i, 0] + o[i, 1]]


@njit_exact
def _a2(fa: np.ndarray, o: np.ndarray, i: int) -> np.ndarray:
    return fa[o[i, 0] : o[i, 0] + o[i, 1] * o[i, 2]].reshape((o[i, 1], o[i, 2]))


@njit_exact  # its own arithmetic (beat and frame times) as numpy's, to the bit
def _ecg_step(
    x_in: np.ndarray,
    n_before: int,
    t0: float,
    fs: float,
    frame_rate: float,
    first_frame: int,
    n_frames: int,
    prev_peak: np.ndarray,
    fa: np.ndarray,
    ia: np.ndarray,
    o: np.ndarray,
    sq_prm: Any,
    scratch: Any,
    cap: int,
    ev_f: np.ndarray,
    ev_i: np.ndarray,
    out: np.ndarray,
) -> Any:
    """One chunk of :class:`EcgChannel` in one call: the steps of ``_process`` and
    ``_features`` in the same order, with the same kernels (so the same results to the bit),
    without a Python round trip between them. The state is read from the arenas ``fa`` and
    ``ia`` at the offsets ``o`` (:data:`_ARENA_KINDS`). Events go to the blocks ``ev_f`` and
    ``ev_i`` (room for ``cap`` beats; layout in :func:`_event_views`). Returns (beats, rows)
    written. Corrupt samples become gaps first (:func:`~._kernels.drop_glitches`)."""
    valid, sq, sqa, chunk_lastbad, before, gap, f_t, f_n = scratch
    peaks, conf, beat_t, rows = _event_views(ev_f, ev_i, cap)
    n = x_in.shape[0]
    # the samples with corrupt ones as gaps, in sqa's room (sqa is written after their last
    # reader, the sample quality)
    x = sqa[:n]
    drop_glitches(x_in, _a1(fa, o, 59), x)
    k = _ecg_detect(
        x, _a2(fa, o, 0), _a2(fa, o, 1), _a2(fa, o, 2), _a1(fa, o, 3), _b1(ia, o, 4),
        _a1(fa, o, 5), _a1(fa, o, 6), _a1(fa, o, 7), peaks, conf, valid[:n],
    )  # fmt: skip
    qst, qist, lastbad = _a1(fa, o, 8), _b1(ia, o, 9), _b1(ia, o, 10)
    ring = lastbad.shape[0]
    for i in range(k):  # the flags before the chunk, read before its samples overwrite them
        before[i] = lastbad[peaks[i] % ring]
    first = qist[_QI_N]
    _sample_quality(x, qst, qist, sq_prm[0], sq_prm[1], sq_prm[2], sq_prm[3], sq_prm[4],
                    sq_prm[5], sq_prm[6], lastbad, sq[:n], chunk_lastbad[:n])  # fmt: skip
    for i in range(n):  # np.minimum: NaN if either is NaN
        a, b = sq[i], valid[i]
        sqa[i] = a if (a != a or a < b) else b
    e_t, e_nn, e_kind, e_conf, eist = (
        _a1(fa, o, 22), _a1(fa, o, 23), _b1(ia, o, 24), _b1(ia, o, 25), _b1(ia, o, 26)
    )  # fmt: skip
    seg_pxx, seg_t0, seg_conf, seg_n = (
        _a2(fa, o, 38),
        _a1(fa, o, 39),
        _b1(ia, o, 40),
        _b1(ia, o, 41),
    )
    kr = 0
    if k > 0:
        _gap_flags(peaks[:k], prev_peak[0], first, chunk_lastbad[:n], before[:k], gap[:k])
        prev_peak[0] = peaks[k - 1]
        for i in range(k):
            beat_t[i] = t0 + np.float64(peaks[i]) / fs
        kr = _rr_correct(
            beat_t[:k], gap[:k], conf[:k], False, _a1(fa, o, 11), _b1(ia, o, 12),
            _a1(fa, o, 13), _a1(fa, o, 14), _a1(fa, o, 15), _b1(ia, o, 16), _b1(ia, o, 17),
            _a1(fa, o, 18), _b1(ia, o, 19), _a1(fa, o, 20), _a1(fa, o, 21),
            rows[0], rows[1], rows[2], rows[3], rows[4],
        )  # fmt: skip
        if kr > 0:
            _add_rows(
                rows[0][:kr], rows[2][:kr], rows[3][:kr], rows[4][:kr],
                e_t, e_nn, e_kind, e_conf, eist,
                _a1(fa, o, 27), _b1(ia, o, 28), _a1(fa, o, 29), _a1(fa, o, 30), _a1(fa, o, 31),
                _a1(fa, o, 32), _a1(fa, o, 33), _a1(fa, o, 34), _a1(fa, o, 35), _a2(fa, o, 36),
                _a1(fa, o, 37), seg_pxx, seg_t0, seg_conf, seg_n,
            )  # fmt: skip
    if n_frames > 0:
        for j in range(n_frames):
            f_t[j] = (first_frame + j) / frame_rate
            f_n[j] = math.floor((f_t[j] - t0) * fs + 1e-9)
        _cardiac_frames(
            f_t[:n_frames], f_n[:n_frames], sqa[:n], n_before,
            e_t, e_nn, e_kind, e_conf, eist,
            _a1(fa, o, 42), _a1(fa, o, 43), _a2(fa, o, 44), _a1(fa, o, 45), _a2(fa, o, 46),
            _a1(fa, o, 47), _a1(fa, o, 48), _a1(fa, o, 49), _a1(fa, o, 50), _a1(fa, o, 51),
            _a2(fa, o, 52), _a1(fa, o, 53), seg_pxx, seg_t0, seg_conf, seg_n,
            _a1(fa, o, 54), _a1(fa, o, 55), _b1(ia, o, 56), _a1(fa, o, 57), _a1(fa, o, 58),
            out,
        )  # fmt: skip
    return k, kr


def _into_arenas(
    owners: list[Any], arrays: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy ``arrays`` (kinds :data:`_ARENA_KINDS`) into a float64 and an int64 arena and
    rebind every attribute of ``owners`` that held one (and a ``WelchState`` field) to its view
    in the arena, so the Python methods and :func:`_ecg_step` share the same memory. Returns
    (float arena, int arena, offsets: start, rows, columns)."""
    if len(arrays) != len(_ARENA_KINDS):
        raise AssertionError(f"{len(arrays)} state arrays for {len(_ARENA_KINDS)} arena slots")
    if len({id(a) for a in arrays}) != len(arrays):
        raise AssertionError("an ECG state array is listed twice for the arena")
    want = {"a1": ("d", 1), "b1": ("q", 1), "a2": ("d", 2)}
    sizes = {"d": 0, "q": 0}
    o = np.zeros((len(arrays), 3), dtype=np.int64)
    for i, (a, kind) in enumerate(zip(arrays, _ARENA_KINDS, strict=True)):
        code, ndim = want[kind]
        if np.dtype(code) != a.dtype or a.ndim != ndim or not a.flags.c_contiguous:
            raise AssertionError(f"arena slot {i}: {a.dtype} {a.ndim}-D is not {kind}")
        o[i] = (sizes[code], a.shape[0], a.shape[1] if ndim == 2 else 0)
        sizes[code] += a.size
    fa, ia = np.empty(sizes["d"]), np.empty(sizes["q"], dtype=np.int64)
    views: dict[int, np.ndarray] = {}
    for i, a in enumerate(arrays):
        arena = fa if a.dtype == np.float64 else ia
        v = arena[o[i, 0] : o[i, 0] + a.size].reshape(a.shape)
        v[...] = a
        views[id(a)] = v
    found: set[int] = set()
    for obj in owners:
        for name, val in list(vars(obj).items()):
            if isinstance(val, np.ndarray) and id(val) in views:
                setattr(obj, name, views[id(val)])
                found.add(id(val))
            elif (
                isinstance(val, tuple)
                and hasattr(val, "_fields")  # the WelchState
                and any(isinstance(f, np.ndarray) and id(f) in views for f in val)
            ):
                found.update(id(f) for f in val if id(f) in views)
                fields: list[Any] = [views.get(id(f), f) for f in val]
                setattr(obj, name, type(val)(*fields))
    if found != set(views):
        raise AssertionError("a state array of the ECG channel has no owner to rebind")
    return fa, ia, o


class CardiacFeatures:
    """NN rows in, cardiac feature frames out (the part shared by ECG, PPG and RR input).

    Parameters
    ----------
    max_corrected : float
        Largest share of corrected beats in a window for its variability to be reported.
    """

    LOMB_WIN_S = 300.0
    COH_WIN_S = 64.0
    WELCH_NFFT = 1024

    def __init__(self, max_corrected: float = 0.2, ring: int = 4096) -> None:
        self.freqs, self.omega = lomb_grid()
        nf = self.freqs.size
        self._acc_l = np.zeros((nf, LOMB_NSUM))
        self._tot_l = np.zeros(3)
        # the 64-s window resolves 1/64 Hz: a 5x oversampled grid is plenty (and half the cost)
        self.freqs_c, self.omega_c = lomb_grid(df=1.0 / (5.0 * self.COH_WIN_S))
        self._acc_c = np.zeros((self.freqs_c.size, LOMB_NSUM))
        self._psd_c = np.empty(self.freqs_c.size)
        self._tot_c = np.zeros(3)
        self._psd = np.empty(nf)
        self._cache = np.full((2, len(BAND_NAMES)), np.nan)
        self._e_t = np.zeros(ring)
        self._e_nn = np.zeros(ring)
        self._e_kind = np.zeros(ring, dtype=np.int64)
        self._e_conf = np.zeros(ring, dtype=np.int64)
        self._eist = np.zeros(11, dtype=np.int64)
        self._prm = np.array(
            [10.0, 30.0, 60.0, self.LOMB_WIN_S, self.COH_WIN_S, max_corrected,
             120.0, 48.0, 25.0, 240.0, 2.5, *LF_BAND_HZ, *HF_BAND_HZ]
        )  # fmt: skip
        # streaming Welch on the 4 Hz resampled NN series (nfft 1024: 0.004 Hz bins)
        self._welch = welch_state(nfft=self.WELCH_NFFT)
        self.welch_freqs = welch_freqs(nfft=self.WELCH_NFFT)
        nb = self.welch_freqs.size
        self._tmp_pxx = np.zeros((8, nb))
        self._tmp_t0 = np.zeros(8)
        self._seg_pxx = np.zeros((32, nb))
        self._seg_t0 = np.zeros(32)
        self._seg_conf = np.zeros(32, dtype=np.int64)
        self._seg_n = np.zeros(1, dtype=np.int64)
        self._wpsd = np.zeros(nb)
        self._wcache = np.full(4, -1.0)
        self._ti = np.zeros(11, dtype=np.int64)  # time-domain windows: out pointers, counts
        self._tf = np.zeros(4)  # time-domain windows: sums

    def add_rows(self, rows: dict[str, np.ndarray]) -> None:
        """Append NN rows (from :class:`RRCorrector`); frames use them once confirmed."""
        if rows["time_s"].size == 0:
            return
        _add_rows(
            rows["time_s"], rows["nn_ms"], rows["kind"], rows["confirm"],
            self._e_t, self._e_nn, self._e_kind, self._e_conf, self._eist,
            *self._welch, self._tmp_pxx, self._tmp_t0, self._seg_pxx, self._seg_t0,
            self._seg_conf, self._seg_n,
        )  # fmt: skip

    def frames(
        self,
        frame_t: np.ndarray,
        frame_n: np.ndarray,
        sample_quality: np.ndarray,
        first_sample: int = 0,
    ) -> np.ndarray:
        """Compute frames; returns ``(len(CARDIAC_FEATURES), n_frames)``.

        ``sample_quality[i]`` is the usability of sample ``first_sample + i``; a frame whose
        sample is not in it gets quality 0.
        """
        out = np.empty((len(CARDIAC_FEATURES), frame_t.size))
        _cardiac_frames(
            frame_t,
            frame_n,
            sample_quality,
            first_sample,
            self._e_t, self._e_nn, self._e_kind, self._e_conf, self._eist,
            self.freqs, self.omega, self._acc_l, self._tot_l, self._acc_c, self._tot_c,
            self.freqs_c, self.omega_c, self._psd, self._psd_c, self._cache,
            self.welch_freqs, self._seg_pxx, self._seg_t0, self._seg_conf, self._seg_n,
            self._wpsd, self._wcache, self._ti, self._tf, self._prm, out,
        )  # fmt: skip
        return out


class SampleQuality:
    """Per-sample usability of a waveform: NaN, flatline (equal samples for 0.25 s), clipping
    (equal samples for 12 ms, at least three, at the signal's 1-s envelope) and noise bursts
    (mean absolute first difference over ~1 s above 4x its level over the last minute of
    quiet signal; learnt over the first 10 s)."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.flat_n = max(4, round(0.25 * fs))
        self.clip_n = max(3, round(0.012 * fs))
        self.alpha_env = 1.0 - math.exp(-1.0 / (1.0 * fs))
        self.alpha_ema = 1.0 - math.exp(-1.0 / (2.0 * fs))
        self.alpha_fast = 1.0 - math.exp(-1.0 / (1.0 * fs))
        self.alpha_slow = 1.0 - math.exp(-1.0 / (60.0 * fs))
        self.warm_n = round(10.0 * fs)
        self._qst = np.array([math.nan, 0.0, math.nan, math.nan, 1.0, 0.0, 0.0])
        self._qist = np.array([0, -(10**12), 0], dtype=np.int64)
        self._lastbad = np.full(1 << math.ceil(math.log2(max(64.0, 4.0 * fs))), -(10**12))
        self._chunk_lastbad = np.empty(0, dtype=np.int64)
        self._first = 0

    def update(self, x: np.ndarray) -> np.ndarray:
        """Per-sample usability (0-1) of the chunk ``x``."""
        out = np.empty(x.size)
        self._first = int(self._qist[_QI_N])
        self._chunk_lastbad = np.empty(x.size, dtype=np.int64)
        _sample_quality(
            x, self._qst, self._qist, self.flat_n, self.clip_n, self.alpha_env, self.alpha_ema,
            self.alpha_fast, self.alpha_slow, self.warm_n, self._lastbad, out,
            self._chunk_lastbad,
        )  # fmt: skip
        return out

    def before_update(self, peaks: np.ndarray) -> np.ndarray:
        """Flags of the samples before the next chunk at ``peaks`` (call before :meth:`update`).

        Beats confirmed in a chunk may lie shortly before it (within the detector's delay);
        their flags must be read before the chunk's samples overwrite the ring.
        """
        ring = self._lastbad.size
        return self._lastbad[peaks % ring]

    def gap_before(self, peaks: np.ndarray, prev_peak: int, before: np.ndarray) -> np.ndarray:
        """1 where a bad sample lies between a beat and the one before it, else 0.

        ``peaks`` are beats confirmed in the chunk just passed to :meth:`update`; ``before``
        is :meth:`before_update` of them.
        """
        out = np.empty(peaks.size, dtype=np.int64)
        _gap_flags(peaks, prev_peak, self._first, self._chunk_lastbad, before, out)
        return out


def _row_events(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The corrected NN rows as channel events."""
    return {
        "nn_time": rows["time_s"],
        "rr_ms": rows["rr_ms"],
        "nn_ms": rows["nn_ms"],
        "rr_kind": rows["kind"],
        "nn_confirm": rows["confirm"],
    }


class EcgChannel(Channel):
    """ECG → R-peaks → corrected NN intervals → HR, HRV, spectra and coherence frames.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz.
    t0 : float
        Session time of the first sample, s.
    frame_rate : float
        Feature frame rate, Hz.
    max_corrected : float
        Largest share of corrected beats in a window for its variability to be reported.
    """

    modality = "ecg"
    feature_names = CARDIAC_FEATURES
    event_names = (
        "rpeak_idx", "rpeak_time", "nn_time", "rr_ms", "nn_ms", "rr_kind", "nn_confirm",
    )  # fmt: skip

    def __init__(
        self,
        fs: float,
        t0: float = 0.0,
        frame_rate: float = FRAME_RATE_HZ,
        max_corrected: float = 0.2,
    ) -> None:
        super().__init__(fs, t0, frame_rate)
        self.detector = self._make_detector(self.fs)
        self.delay_s = float(self.detector.delay_s)
        self._sq = SampleQuality(self.fs)
        self._corrector = RRCorrector()
        self._feat = CardiacFeatures(max_corrected)
        self._prev = np.array([-(10**12)], dtype=np.int64)  # the last beat reported
        self._gate = GlitchGate(self.fs)  # corrupt samples become gaps before anything
        self._sqa = np.empty(0)
        zi, zf = np.empty(0, dtype=np.int64), np.empty(0)
        self._no_events = {
            "rpeak_idx": zi, "rpeak_time": zf, "nn_time": zf, "rr_ms": zf, "nn_ms": zf,
            "rr_kind": zi, "nn_confirm": zi,
        }  # fmt: skip
        # the ECG detector's chunks go through one kernel call (_ecg_step); other detectors
        # (PPG) through _process and _features
        self._one_call = type(self.detector) is EcgPeakDetector
        if self._one_call:
            d, q, c, f = self.detector, self._sq, self._corrector, self._feat
            self._delay_n = int(d._prm[_P_DELAY_N])
            self._refract_n = max(1, int(d._prm[_P_REFRACT_N]))
            self._sq_prm = (q.flat_n, q.clip_n, q.alpha_env, q.alpha_ema, q.alpha_fast,
                            q.alpha_slow, q.warm_n)  # fmt: skip
            state = [
                d._sos, d._zi, d._zi_unit, d._fst, d._ist, d._prm, d._raw_ring, d._sq_ring,
                q._qst, q._qist, q._lastbad,
                c._fst, c._ist, c._prm, c._r_t, c._r_rr, c._r_gap, c._r_conf, c._r_m,
                c._r_kind, c._scratch, c._buf,
                f._e_t, f._e_nn, f._e_kind, f._e_conf, f._eist,
                *f._welch, f._tmp_pxx, f._tmp_t0, f._seg_pxx, f._seg_t0, f._seg_conf,
                f._seg_n,
                f.freqs, f.omega, f._acc_l, f._tot_l, f._acc_c, f._tot_c, f.freqs_c,
                f.omega_c, f._psd, f._psd_c, f._cache, f.welch_freqs,
                f._wpsd, f._wcache, f._ti, f._tf, f._prm, self._gate.state,
            ]  # fmt: skip
            self._fa, self._ia, self._offsets = _into_arenas([d, q, c, f, self._gate], state)
            self._scratch_size = (-1, -1, -1)
            self._scratch: tuple[np.ndarray, ...] = ()

    @staticmethod
    def _make_detector(fs: float) -> Any:
        return EcgPeakDetector(fs)

    @property
    def issue(self) -> str:
        """What the user is told about the signal ('' when all is well)."""
        return self._gate.issue

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        x = self._gate.apply(x, n_before + x.size)
        peaks = self.detector.update(x)
        before = self._sq.before_update(peaks)
        sq = self._sq.update(x)
        self._sqa = np.minimum(sq, self.detector.valid_fraction)
        if peaks.size == 0:  # nothing new for the corrector (the usual small live chunk)
            return self._no_events
        conf = self.detector.confirm_index
        gap = self._sq.gap_before(peaks, int(self._prev[0]), before)
        self._prev[0] = peaks[-1]
        t = self.sample_time(peaks)
        frac = getattr(self.detector, "fraction", None)
        if frac is not None:  # sub-sample beat times (PPG at wearable rates)
            t = t + frac / self.fs
        # the detector's beats are increasing and finite by construction
        rows = self._corrector._run(t, gap, conf)
        self._feat.add_rows(rows)
        return {"rpeak_idx": peaks, "rpeak_time": t, **_row_events(rows)}

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        out = self._feat.frames(t, n_k, self._sqa, n_before)
        return dict(zip(CARDIAC_FEATURES, out, strict=True))

    def _update(self, x: np.ndarray) -> ChannelOutput:
        """One chunk; for the ECG detector in one kernel call (the same steps, in the same
        order, as ``_process`` then ``_features``: the same results to the bit), which takes
        a 1-s chunk's Python overhead from about 40 µs to a few."""
        if not self._one_call:
            return super()._update(x)
        n_before, n = self._n, x.size
        self._n += n  # for _last_frame; taken back if the call fails (e.g. while compiling)
        kf = self.next_frame
        nf = max(0, self._last_frame() + 1 - kf)
        # reported beats are more than the refractory period apart and at most the delay old
        cap = (n + self._delay_n) // self._refract_n + 2
        if n > self._scratch_size[0] or cap > self._scratch_size[1] or nf > self._scratch_size[2]:
            sn, sc, sf = (max(a, b) for a, b in zip((n, cap, nf), self._scratch_size, strict=True))
            sn, sc, sf = max(sn, 256), max(sc, 16), max(sf, 8)
            self._scratch_size = (sn, sc, sf)
            self._scratch = (
                np.empty(sn), np.empty(sn), np.empty(sn), np.empty(sn, dtype=np.int64),
                np.empty(sc, dtype=np.int64), np.empty(sc, dtype=np.int64), np.empty(sf),
                np.empty(sf, dtype=np.int64),
            )  # fmt: skip
        # the events' arrays are views of two blocks: two allocations per chunk, not eight
        r = _event_rows(cap)
        ev_f = np.empty(cap + 3 * r)
        ev_i = np.empty(2 * cap + 2 * r, dtype=np.int64)
        out = np.empty((len(CARDIAC_FEATURES), nf))
        try:
            k, kr = _ecg_step(
                x, n_before, self.t0, self.fs, self.frame_rate, kf, nf, self._prev, self._fa,
                self._ia, self._offsets, self._sq_prm, self._scratch, cap, ev_f, ev_i, out,
            )  # fmt: skip
        except BaseException:
            self._n -= n
            raise
        self.next_frame = kf + nf
        self._gate.after(n_before + n)
        if k == 0:
            events = self._no_events
        else:
            f1, f2, f3, i1, i2 = cap, cap + r, cap + 2 * r, 2 * cap, 2 * cap + r
            events = {
                "rpeak_idx": ev_i[:k], "rpeak_time": ev_f[:k], "nn_time": ev_f[f1 : f1 + kr],
                "rr_ms": ev_f[f2 : f2 + kr], "nn_ms": ev_f[f3 : f3 + kr],
                "rr_kind": ev_i[i1 : i1 + kr], "nn_confirm": ev_i[i2 : i2 + kr],
            }  # fmt: skip
        feats = dict(zip(CARDIAC_FEATURES, out, strict=True)) if nf else {}
        return ChannelOutput(kf, feats, events)

    def finish(self) -> dict[str, np.ndarray]:
        """End of a record: decide the last beats (kept back for look-ahead); events only."""
        return _row_events(self._corrector.flush())


class PpgChannel(EcgChannel):
    """PPG → pulses → the same corrected NN series and features as :class:`EcgChannel`."""

    modality = "ppg"

    @staticmethod
    def _make_detector(fs: float) -> Any:
        return PpgPulseDetector(fs)


class RRChannel(Channel):
    """Inter-beat intervals (ms, one value per beat, e.g. a chest strap's RR stream).

    Beat times are the running sum of the intervals from ``t0`` (the device's own timing is
    more precise than transport timestamps). The channel's clock is the beat count: a frame is
    emitted once a beat after its time has arrived, and uses the rows confirmed by then.
    """

    modality = "rr"
    feature_names = CARDIAC_FEATURES
    event_names = ("rpeak_time", "nn_time", "rr_ms", "nn_ms", "rr_kind", "nn_confirm")

    def __init__(
        self,
        fs: float = 1.0,
        t0: float = 0.0,
        frame_rate: float = FRAME_RATE_HZ,
        max_corrected: float = 0.2,
    ) -> None:
        super().__init__(1.0, t0, frame_rate)
        self.delay_s = 0.0
        self._corrector = RRCorrector()
        self._feat = CardiacFeatures(max_corrected)
        self._t_last = float(t0)
        self._nb = 0
        self._gap_next = 0
        self._beat_t = np.empty(0)

    @property
    def time_processed(self) -> float:
        return self._t_last

    MAX_BEATS = 256
    REANCHOR_S = 1.0

    def update(self, chunk: np.ndarray, timestamps: np.ndarray | None = None) -> ChannelOutput:
        """Add intervals (ms), each optionally with the session time of its closing beat.

        NaN, infinite or non-positive values are dropped, and the interval after them is
        excluded (its start beat is unknown). With ``timestamps``, beat times follow the
        intervals (device timing) but are re-anchored to the timestamp after a dropped value
        or when the two disagree by more than ``REANCHOR_S`` (lost values, a paused stream),
        so the channel's clock cannot drift from the session's. Without timestamps (a file of
        intervals) the intervals alone give the times.
        """
        x = as_1d_float(chunk, "RR chunk")
        ts = None
        if timestamps is not None:
            ts = as_1d_float(timestamps, "RR timestamps")
            if ts.size != x.size:
                raise InputError(
                    f"RR chunk has {x.size} values but {ts.size} timestamps; give one per value"
                )
        if x.size > self.MAX_BEATS:
            step = self.MAX_BEATS
            return merge_outputs(
                [
                    self._update_rr(x[i : i + step], None if ts is None else ts[i : i + step])
                    for i in range(0, x.size, step)
                ]
            )
        return self._update_rr(x, ts)

    def _update_rr(self, x: np.ndarray, ts: np.ndarray | None) -> ChannelOutput:
        good = np.isfinite(x) & (x > 0)
        if ts is not None:
            good &= np.isfinite(ts)
        times: list[float] = []
        gaps: list[int] = []
        t = self._t_last
        for i in range(x.size):
            if not good[i]:
                self._gap_next = 1
                continue
            v = float(x[i]) / 1000.0
            if self._nb == 0 and not times:
                # the first interval starts with a beat: at t0, or its timestamp minus itself
                t = float(ts[i]) - v if ts is not None else self._t_last
                times.append(t)
                gaps.append(0)
            t_pred = t + v
            gap = self._gap_next
            if ts is not None and (gap or abs(t_pred - float(ts[i])) > self.REANCHOR_S):
                if float(ts[i]) > t:
                    t_pred = float(ts[i])
                gap = 1
            t = t_pred
            times.append(t)
            gaps.append(gap)
            self._gap_next = 0
        bt = np.asarray(times, dtype=np.float64)
        conf = self._nb + np.arange(bt.size, dtype=np.int64)
        rows = self._corrector.update(bt, np.asarray(gaps, dtype=np.int64), conf)
        self._feat.add_rows(rows)
        events = {"rpeak_time": bt, **_row_events(rows)}
        if bt.size == 0:
            return ChannelOutput(self.next_frame, {}, events)
        self._nb += bt.size
        self._t_last = float(bt[-1])
        self._beat_t = np.concatenate((self._beat_t, bt))[-4096:]
        # frames strictly before the last beat are final: no later beat can precede them
        k_hi = math.ceil(self._t_last * self.frame_rate) - 1
        k = np.arange(self.next_frame, max(self.next_frame, k_hi + 1))
        if k.size == 0:
            return ChannelOutput(self.next_frame, {}, events)
        ft = k / self.frame_rate
        # the frame's clock value: index of the last beat at or before the frame time
        first_idx = self._nb - self._beat_t.size
        n_k = first_idx + np.searchsorted(self._beat_t, ft, side="right") - 1
        # no waveform: sample quality is 1 at every frame (rhythm and corrections still count)
        out = self._feat.frames(ft, n_k.astype(np.int64), np.ones(1), -1)
        first = self.next_frame
        self.next_frame = int(k[-1]) + 1
        return ChannelOutput(first, dict(zip(CARDIAC_FEATURES, out, strict=True)), events)

    def known_frame(self, confirm: np.ndarray) -> np.ndarray:
        """First frame at or after the arrival of beat number ``confirm``."""
        first_idx = self._nb - self._beat_t.size
        bt = self._beat_t[np.clip(np.asarray(confirm) - first_idx, 0, self._beat_t.size - 1)]
        return np.ceil(bt * self.frame_rate - 1e-9).astype(np.int64)

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        raise NotImplementedError  # update() is overridden

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def finish(self) -> dict[str, np.ndarray]:
        return _row_events(self._corrector.flush())
