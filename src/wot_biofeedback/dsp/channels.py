"""Per-modality channels: raw chunks in, events and fixed-rate feature frames out.

Every channel owns a streaming detector and turns its events into features on a common frame
grid (frame ``k`` is at session time ``k / frame_rate`` s). A frame is emitted as soon as the
channel has processed the sample at its time, and uses only the events *confirmed* by then, so
live, replayed and offline runs give identical frames for any chunking.

The cardiac channels (ECG, PPG, RR) and their features live in :mod:`.cardiac`; RSA, which
needs both beats and breaths, in :mod:`.rsa`. Skin conductance and respiration features (the
remaining columns of ``features.csv``):

====================  ======  ==========================================================
``scl_us``            µS      tonic skin-conductance level (SCL) at the frame
``scl_slope_us_min``  µS/min  SCL change over the last 60 s, per minute
``scl_rel``           1       ln(SCL / resting reference): a low running quantile of
                              ln SCL (down <= 38 %/min, up <= 2 %/min), so slow electrode
                              and habituation drift read ~0, an arousal rise shows fully
``scr_per_min``       1/min   SCR peaks in the last 60 s (scaled while less than 60 s of
                              signal with skin contact is known; NaN for the first 20 s);
                              a count, insensitive to the level
``scr_amp_us``        µS      mean SCR amplitude in the last 60 s (0 when none)
``quality_eda``       0-1     valid-sample share x plausible level (0.05-100 µS)
====================  ======  ==========================================================

Respiration features are described in :mod:`.resp`.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ._numba import njit_exact
from .eda import (
    FLAG_CONTACT,
    FLAG_GAP,
    FLAG_MOTION,
    FLAG_NAMES,
    FLAG_SATURATED,
    EdaScrDetector,
)
from .events import EventLog, bisect_left, bisect_right, clip01, finite_median, sample_at
from .framing import FRAME_RATE_HZ, Channel


@njit_exact
def _eda_frames(
    t: np.ndarray,
    n_k: np.ndarray,
    n_before: int,
    tonic: np.ndarray,
    valid: np.ndarray,
    scr_time: np.ndarray,
    scr_confirm: np.ndarray,
    scr_sums: np.ndarray,
    t_signal: float,
    scr_win: float,
    scl_lo: float,
    scl_hi: float,
    out: np.ndarray,
) -> None:
    """Level, SCR rate and amplitude and quality of frames at times ``t`` (own samples
    ``n_k``) into ``out`` (see :class:`EdaChannel`); ``scr_sums[:, 0]``: the running sum of the
    SCR amplitudes, one row longer than the log (:meth:`EventLog.cums`)."""
    for j in range(t.size):
        scl = sample_at(tonic, n_k[j], n_before)
        hi = bisect_right(scr_confirm, n_k[j])
        lo = min(bisect_left(scr_time, t[j] - scr_win), hi)
        count = float(hi - lo)
        known = t[j] - t_signal  # NaN before any signal
        if not math.isnan(known):
            known = known if known > 0.0 else 0.0
            known = known if known < scr_win else scr_win
        rate = count * 60.0 / (known if known > 1e-9 else 1e-9) if known >= 20.0 else math.nan
        amp = (scr_sums[hi, 0] - scr_sums[lo, 0]) / count if count > 0 else 0.0
        valid_j = sample_at(valid, n_k[j], n_before)
        plausible = scl >= scl_lo and scl <= scl_hi
        out[0, j] = scl
        out[1, j] = rate
        out[2, j] = math.nan if math.isnan(rate) else amp
        out[3, j] = clip01((0.0 if math.isnan(valid_j) else valid_j) * (1.0 if plausible else 0.0))


class EdaChannel(Channel):
    """Skin conductance (µS) → tonic level, drift-aware level, SCR and signal-quality frames."""

    modality = "eda"
    feature_names = (
        "scl_us",
        "scl_slope_us_min",
        "scl_rel",
        "scr_per_min",
        "scr_amp_us",
        "quality_eda",
    )
    event_names = (
        "scr_onset_time",
        "scr_peak_time",
        "scr_amp_us",
        "scr_rise_s",
        "scr_recovered_peak_time",
        "scr_half_recovery_s",
    )
    SCR_WIN_S = 60.0
    SLOPE_WIN_S = 60.0
    REF_UP_PER_MIN = 0.02  # the reference rises at most 2 % a minute (ln units)
    REF_QUANTILE = 0.05  # ... and tracks a low quantile: down 19 times faster (38 %/min)
    ISSUE_HOLD_S = 10.0
    KEEP_S = 90.0
    SCL_RANGE_US = (0.05, 100.0)

    def __init__(
        self,
        fs: float,
        t0: float = 0.0,
        frame_rate: float = FRAME_RATE_HZ,
        min_amplitude_us: float = 0.02,
    ) -> None:
        super().__init__(fs, t0, frame_rate)
        self.detector = EdaScrDetector(self.fs, min_amplitude_us)
        self.delay_s = self.detector.delay_s
        self._log = EventLog("amp", summed=("amp",))
        self._tonic = np.empty(0)
        self._valid = np.empty(0)
        n_hist = round(self.SLOPE_WIN_S * frame_rate)
        self._hist: deque[float] = deque([math.nan] * n_hist, maxlen=n_hist)
        self._ref = math.nan  # slowly adapting reference of ln(SCL): the resting level
        step = self.REF_UP_PER_MIN / (60.0 * frame_rate * self.REF_QUANTILE)
        self._ref_up = step * self.REF_QUANTILE
        self._ref_down = step * (1.0 - self.REF_QUANTILE)
        self._flag_last = np.full(len(FLAG_NAMES), -math.inf)
        self._t_signal = math.nan  # session time of the first usable sample
        self.flag_counts = np.zeros(len(FLAG_NAMES), dtype=np.int64)
        """Samples so far per flag code (``FLAG_NAMES`` order)."""
        self.issue = ""

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        det = self.detector
        onset, peak, amp = det.update(x)
        self._tonic = det.tonic
        self._valid = det.valid_fraction
        if math.isnan(self._t_signal):
            ok = np.flatnonzero(np.isfinite(det.tonic))
            if ok.size:  # the SCR rate counts from the first sample with skin contact
                self._t_signal = float(self.sample_time(n_before + ok[0]))
        if det.flags.any():
            self.flag_counts += np.bincount(det.flags, minlength=len(FLAG_NAMES))
            # when each kind of problem was last seen (for the user-facing issue text)
            for code in (FLAG_GAP, FLAG_CONTACT, FLAG_SATURATED, FLAG_MOTION):
                hit = np.flatnonzero(det.flags == code)
                if hit.size:
                    self._flag_last[code] = float(self.sample_time(n_before + hit[-1]))
        else:  # every sample fine (most chunks): no search
            self.flag_counts[0] += det.flags.size
        rec = det.recovery
        if not onset.size and not rec["peak_idx"].size:  # no event (most small chunks)
            return {name: np.empty(0) for name in self.event_names}
        ot, pt = self.sample_time(onset), self.sample_time(peak)
        self._log.append(time=pt, confirm=det.confirm_index, amp=amp)
        return {
            "scr_onset_time": ot,
            "scr_peak_time": pt,
            "scr_amp_us": amp,
            "scr_rise_s": pt - ot,
            "scr_recovered_peak_time": self.sample_time(rec["peak_idx"]),
            "scr_half_recovery_s": (rec["half_idx"] - rec["peak_idx"]) / self.fs,
        }

    def flagged_seconds(self) -> dict[str, float]:
        """Time so far with each signal problem, s (``gap``, ``contact``, ``saturated``,
        ``motion``)."""
        return {FLAG_NAMES[c]: float(self.flag_counts[c]) / self.fs for c in range(1, 5)}

    def finish(self) -> dict[str, np.ndarray]:
        """End of a record: a response still rising at the last sample; events only."""
        onset, peak, amp = self.detector.finish()
        ot, pt = self.sample_time(onset), self.sample_time(peak)
        none = np.empty(0)
        return {
            "scr_onset_time": ot,
            "scr_peak_time": pt,
            "scr_amp_us": amp,
            "scr_rise_s": pt - ot,
            "scr_recovered_peak_time": none,
            "scr_half_recovery_s": none,
        }

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        out = np.empty((4, t.size))
        lo_us, hi_us = self.SCL_RANGE_US
        _eda_frames(
            t, n_k, n_before, self._tonic, self._valid,
            self._log.col("time"), self._log.col("confirm"), self._log.cums(),
            self._t_signal, self.SCR_WIN_S, lo_us, hi_us, out,
        )  # fmt: skip
        scl, rate, amp, quality = out
        # SCL trend over the last minute, and SCL against a slowly adapting reference: electrode
        # drying and habituation move the level over tens of minutes, arousal within minutes
        slope = np.full(t.shape, np.nan)
        rel = np.full(t.shape, np.nan)
        for j in range(t.size):
            v = float(scl[j]) if quality[j] >= 0.5 else math.nan
            old = self._hist[0]
            self._hist.append(v)
            if math.isfinite(v) and math.isfinite(old):
                slope[j] = (v - old) * 60.0 / self.SLOPE_WIN_S
            if math.isfinite(v) and v > 0.0:
                lv = math.log(v)
                self._ref = lv if math.isnan(self._ref) else self._ref
                rel[j] = lv - self._ref
                # a low running quantile of ln(SCL): it settles within minutes onto the
                # resting level (however aroused the client was when the electrodes went on),
                # follows electrode drying and habituation (slower than 2 %/min) entirely, and
                # lets an arousal rise show for many minutes before absorbing it
                if lv > self._ref:
                    self._ref = min(lv, self._ref + self._ref_up)
                else:
                    self._ref = max(lv, self._ref - self._ref_down)
        recent = [
            FLAG_NAMES[c]
            for c in (FLAG_CONTACT, FLAG_SATURATED, FLAG_MOTION, FLAG_GAP)
            if float(t[-1]) - self._flag_last[c] <= self.ISSUE_HOLD_S
        ]
        self.issue = _issue_text(recent, finite_median(scl, 0, scl.size))
        if len(self._log) > 256:
            self._log.trim_before(float(t[-1]) - self.KEEP_S)
        return {
            "scl_us": scl,
            "scl_slope_us_min": slope,
            "scl_rel": rel,
            "scr_per_min": rate,
            "scr_amp_us": amp,
            "quality_eda": quality,
        }


_ISSUE_TEXT = {
    "contact": "electrode contact lost (conductance near zero, or halved at once)",
    "saturated": "saturated or frozen (at the amplifier limit, or one value for 60 s)",
    "motion": "motion artifacts (jumps faster than skin conductance moves)",
    "gap": "samples missing",
}


def _issue_text(recent: list[str], level: float) -> str:
    """User-facing text for the EDA problems seen in the last seconds ('' when none)."""
    if recent:
        return _ISSUE_TEXT[recent[0]]
    lo, hi = EdaChannel.SCL_RANGE_US
    if math.isfinite(level) and not lo <= level <= hi:
        return f"level {level:.3g} µS is implausible: check the unit (--eda-unit)"
    return ""
