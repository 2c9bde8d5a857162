"""Per-modality channels: raw chunks in, events and fixed-rate feature frames out.

Every channel owns a streaming detector and turns its events into features on a common frame
grid (frame ``k`` is at session time ``k / frame_rate`` s). A frame is emitted as soon as the
channel has processed the sample at its time, and uses only the events *confirmed* by then, so
live, replayed and offline runs give identical frames for any chunking.

The cardiac channels (ECG, PPG, RR) and their features live in :mod:`.cardiac`; RSA, which
needs both beats and breaths, in :mod:`.rsa`. Skin conductance and respiration features (the
remaining columns of ``features.csv``):

=================  =====  =============================================================
``scl_us``         µS     low-passed skin-conductance level at the frame
``scr_per_min``    1/min  SCR peaks in the last 60 s (scaled while less than 60 s is known)
``scr_amp_us``     µS     mean SCR amplitude in the last 60 s (0 when none)
``quality_eda``    0-1    valid-sample share x plausible level (0.05-100 µS)
``resp_rate_bpm``  1/min  60 / mean inspiration-onset interval in the last 30 s
``resp_depth``     a.u.   mean inspiration depth in the last 30 s
``resp_cv``        1      coefficient of variation of breath intervals in the last 60 s
``quality_resp``   0-1    valid-sample share x breathing present
=================  =====  =============================================================
"""

from __future__ import annotations

import math

import numpy as np

from .cardiac import CardiacChannel, PpgChannel, RRChannel
from .eda import EdaScrDetector
from .events import EventLog, window_bounds, window_sum
from .framing import FRAME_RATE_HZ, Channel, _safe_div
from .resp import RespBreathDetector


class EdaChannel(Channel):
    """Skin conductance (µS) → level and SCR frames."""

    modality = "eda"
    feature_names = ("scl_us", "scr_per_min", "scr_amp_us", "quality_eda")
    event_names = ("scr_onset_time", "scr_peak_time", "scr_amp_us")
    SCR_WIN_S = 60.0
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
        self._log = EventLog("amp")
        self._lp = np.empty(0)
        self._valid = np.empty(0)

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        onset, peak, amp = self.detector.update(x)
        self._lp = self.detector.lowpass
        self._valid = self.detector.valid_fraction
        pt = self.sample_time(peak)
        self._log.append(time=pt, confirm=self.detector.confirm_index, amp=amp)
        return {"scr_onset_time": self.sample_time(onset), "scr_peak_time": pt, "scr_amp_us": amp}

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        scl = self._at(self._lp, n_k, n_before)
        lo, hi = window_bounds(self._log, t, n_k, self.SCR_WIN_S)
        count = (hi - lo).astype(np.float64)
        known = np.clip(t - self.t0, 0.0, self.SCR_WIN_S)
        rate = np.where(known >= 20.0, count * 60.0 / np.maximum(known, 1e-9), np.nan)
        amp = np.where(count > 0, _safe_div(window_sum(self._log.col("amp"), lo, hi), count), 0.0)
        amp = np.where(np.isnan(rate), np.nan, amp)
        valid = np.nan_to_num(self._at(self._valid, n_k, n_before))
        lo_us, hi_us = self.SCL_RANGE_US
        plausible = (scl >= lo_us) & (scl <= hi_us)
        quality = np.clip(valid * plausible, 0.0, 1.0)
        if len(self._log) > 256:
            self._log.trim_before(float(t[-1]) - self.KEEP_S)
        return {"scl_us": scl, "scr_per_min": rate, "scr_amp_us": amp, "quality_eda": quality}


class RespChannel(Channel):
    """Respiration → breaths → rate, depth and variability frames."""

    modality = "resp"
    feature_names = ("resp_rate_bpm", "resp_depth", "resp_cv", "quality_resp")
    event_names = (
        "breath_onset_time",
        "breath_peak_time",
        "breath_depth",
        "breath_onset_confirm",
        "breath_peak_confirm",
    )
    RATE_WIN_S = 30.0
    CV_WIN_S = 60.0
    KEEP_S = 90.0

    def __init__(self, fs: float, t0: float = 0.0, frame_rate: float = FRAME_RATE_HZ) -> None:
        super().__init__(fs, t0, frame_rate)
        self.detector = RespBreathDetector(self.fs)
        self.delay_s = 0.0
        self._onsets = EventLog("ibi", "ibi_ok")
        self._peaks = EventLog("depth")
        self._last_onset_t = math.nan
        self._valid = np.empty(0)

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        onset, peak, depth = self.detector.update(x)
        conf = self.detector.confirm_index
        self._valid = self.detector.valid_fraction
        is_on = onset >= 0
        ot = self.sample_time(onset[is_on])
        ibi = np.diff(np.concatenate(([self._last_onset_t], ot)))
        if ot.size:
            self._last_onset_t = float(ot[-1])
        ibi_ok = np.isfinite(ibi) & (ibi <= 20.0)
        self._onsets.append(
            time=ot, confirm=conf[is_on], ibi=np.where(ibi_ok, ibi, 0.0), ibi_ok=ibi_ok
        )
        pt = self.sample_time(peak[~is_on])
        self._peaks.append(time=pt, confirm=conf[~is_on], depth=depth[~is_on])
        return {
            "breath_onset_time": ot,
            "breath_peak_time": pt,
            "breath_depth": depth[~is_on],
            "breath_onset_confirm": conf[is_on],
            "breath_peak_confirm": conf[~is_on],
        }

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        on = self._onsets
        ibi = on.col("ibi")
        iok = on.col("ibi_ok")
        lo, hi = window_bounds(on, t, n_k, self.RATE_WIN_S)
        lod = np.minimum(lo + 1, hi)  # an interval belongs to its later onset
        n_i = window_sum(iok, lod, hi)
        mean_ibi = _safe_div(window_sum(ibi * iok, lod, hi), n_i)
        rate = np.where(n_i >= 2, 60.0 / mean_ibi, np.nan)
        lo6, hi6 = window_bounds(on, t, n_k, self.CV_WIN_S)
        lo6d = np.minimum(lo6 + 1, hi6)
        n6 = window_sum(iok, lo6d, hi6)
        s1 = window_sum(ibi * iok, lo6d, hi6)
        s2 = window_sum(ibi * ibi * iok, lo6d, hi6)
        m6 = _safe_div(s1, n6)
        var6 = _safe_div(s2 - s1 * m6, n6 - 1)
        cv = np.where(n6 >= 3, np.sqrt(np.maximum(var6, 0.0)) / m6, np.nan)
        plo, phi = window_bounds(self._peaks, t, n_k, self.RATE_WIN_S)
        n_p = (phi - plo).astype(np.float64)
        depth = _safe_div(window_sum(np.nan_to_num(self._peaks.col("depth")), plo, phi), n_p)
        valid = np.nan_to_num(self._at(self._valid, n_k, n_before))
        ot = on.col("time")
        last_on = (
            np.where(hi > 0, ot[np.maximum(hi - 1, 0)], -np.inf)
            if len(on)
            else np.full(t.shape, -np.inf)
        )
        present = (t - last_on) <= np.maximum(15.0, 2.5 * np.nan_to_num(mean_ibi, nan=6.0))
        quality = np.clip(valid * present, 0.0, 1.0)
        if len(on) > 256:
            on.trim_before(float(t[-1]) - self.KEEP_S)
        if len(self._peaks) > 256:
            self._peaks.trim_before(float(t[-1]) - self.KEEP_S)
        return {"resp_rate_bpm": rate, "resp_depth": depth, "resp_cv": cv, "quality_resp": quality}


CHANNEL_TYPES: dict[str, type[Channel]] = {
    "ecg": CardiacChannel,
    "ppg": PpgChannel,
    "rr": RRChannel,
    "eda": EdaChannel,
    "resp": RespChannel,
}
