"""Per-modality channels: raw chunks in, events and fixed-rate feature frames out.

Every channel owns a streaming detector and turns its events into features on a common frame
grid (frame ``k`` is at session time ``k / frame_rate`` s). A frame is emitted as soon as the
channel has processed the sample at its time, and uses only the events *confirmed* by then, so
live, replayed and offline runs give identical frames for any chunking.

Feature names and units (the columns of ``features.csv``):

=================  =====  =============================================================
``hr_bpm``         bpm    mean heart rate over accepted RR intervals in the last 10 s
``rmssd_ms``       ms     RMSSD of accepted successive RR pairs in the last 30 s
``sdnn_ms``        ms     SDNN (ddof=1) of accepted RR in the last 60 s
``pnn50``          %      share of successive differences > 50 ms in the last 30 s
``quality_ecg``    0-1    valid-sample share x rhythm present x share of accepted RR
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
from dataclasses import dataclass, field

import numpy as np

from .._checks import as_1d_float, check_rate
from .ecg import EcgPeakDetector
from .eda import EdaScrDetector
from .events import EventLog, window_bounds, window_sum
from .hrv import RRScreen
from .resp import RespBreathDetector

FRAME_RATE_HZ = 4.0


@dataclass
class ChannelOutput:
    """What one ``update`` produced: frames ``first_frame .. first_frame + n - 1`` and events."""

    first_frame: int
    features: dict[str, np.ndarray]
    events: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(next(iter(self.features.values()))) if self.features else 0


class Channel:
    """Base class: frame scheduling shared by all modalities.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz.
    t0 : float
        Session time of the first sample, s.
    frame_rate : float
        Feature frame rate, Hz.
    """

    modality = ""
    feature_names: tuple[str, ...] = ()
    event_names: tuple[str, ...] = ()

    def __init__(self, fs: float, t0: float = 0.0, frame_rate: float = FRAME_RATE_HZ) -> None:
        self.fs = check_rate(fs, f"{self.modality} sampling rate", 1.0, 10_000.0)
        self.t0 = float(t0)
        self.frame_rate = float(frame_rate)
        self.next_frame = 0
        self._n = 0  # samples processed

    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def time_processed(self) -> float:
        """Session time of the last processed sample, s."""
        return self.t0 + (self._n - 1) / self.fs

    def frame_sample(self, t: np.ndarray) -> np.ndarray:
        """Index of the last sample at or before session time ``t``."""
        return np.floor((t - self.t0) * self.fs + 1e-9).astype(np.int64)

    def sample_time(self, idx: np.ndarray) -> np.ndarray:
        return self.t0 + np.asarray(idx, dtype=np.float64) / self.fs

    def update(self, chunk: np.ndarray) -> ChannelOutput:
        """Process one chunk of samples and return the frames and events it completed."""
        x = as_1d_float(chunk, f"{self.modality} chunk")
        n_before = self._n
        events = self._process(x, n_before)
        self._n += x.size
        # frames whose own sample (the last one at or before the frame time) is now processed
        k_hi = math.floor((self.t0 + self._n / self.fs) * self.frame_rate) + 1
        k = np.arange(self.next_frame, max(self.next_frame, k_hi + 1))
        t = k / self.frame_rate
        n_k = self.frame_sample(t)
        keep = n_k <= self._n - 1
        k, t, n_k = k[keep], t[keep], n_k[keep]
        if k.size == 0:
            return ChannelOutput(self.next_frame, {}, events)
        feats = self._features(t, n_k, n_before)
        first = self.next_frame
        self.next_frame = int(k[-1]) + 1
        return ChannelOutput(first, feats, events)

    # subclasses --------------------------------------------------------------------------
    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    @staticmethod
    def _at(per_sample: np.ndarray, n_k: np.ndarray, n_before: int) -> np.ndarray:
        """Per-sample output of this chunk at the frame samples (NaN before the first sample)."""
        out = np.full(n_k.shape, np.nan)
        ok = (n_k >= n_before) & (n_k - n_before < per_sample.size)
        out[ok] = per_sample[n_k[ok] - n_before]
        return out


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


class CardiacChannel(Channel):
    """ECG → R-peaks → screened RR intervals → HR and time-domain HRV frames."""

    modality = "ecg"
    feature_names = ("hr_bpm", "rmssd_ms", "sdnn_ms", "pnn50", "quality_ecg")
    event_names = ("rpeak_idx", "rpeak_time", "rr_ms", "rr_ok")
    HR_WIN_S = 10.0
    RMSSD_WIN_S = 30.0
    SDNN_WIN_S = 60.0
    KEEP_S = 90.0

    def __init__(self, fs: float, t0: float = 0.0, frame_rate: float = FRAME_RATE_HZ) -> None:
        super().__init__(fs, t0, frame_rate)
        self.detector = EcgPeakDetector(self.fs)
        self.delay_s = self.detector.delay_s
        self._screen = RRScreen()
        self._log = EventLog("rr", "ok", "sq", "dok")
        self._last_peak_t = math.nan
        self._last_rr = math.nan
        self._last_ok = False
        self._valid = np.empty(0)

    def _process(self, x: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        peaks = self.detector.update(x)
        conf = self.detector.confirm_index
        self._valid = self.detector.valid_fraction
        t = self.sample_time(peaks)
        rr = np.empty(peaks.size)
        ok = np.zeros(peaks.size)
        sq = np.zeros(peaks.size)
        dok = np.zeros(peaks.size)
        for j in range(peaks.size):
            rr[j] = (t[j] - self._last_peak_t) * 1000.0
            good = self._screen.screen(rr[j])
            ok[j] = 1.0 if good else 0.0
            if good and self._last_ok:
                dok[j] = 1.0
                sq[j] = (rr[j] - self._last_rr) ** 2
            self._last_peak_t, self._last_rr, self._last_ok = t[j], rr[j], good
        self._log.append(time=t, confirm=conf, rr=rr, ok=ok, sq=sq, dok=dok)
        return {"rpeak_idx": peaks, "rpeak_time": t, "rr_ms": rr, "rr_ok": ok.astype(bool)}

    def _features(self, t: np.ndarray, n_k: np.ndarray, n_before: int) -> dict[str, np.ndarray]:
        log = self._log
        rr = np.nan_to_num(log.col("rr"))
        ok = log.col("ok")
        lo, hi = window_bounds(log, t, n_k, self.HR_WIN_S)
        n_ok = window_sum(ok, lo, hi)
        mean_rr = _safe_div(window_sum(rr * ok, lo, hi), n_ok)
        hr = np.where(n_ok >= 2, 60000.0 / mean_rr, np.nan)
        lo30, hi30 = window_bounds(log, t, n_k, self.RMSSD_WIN_S)
        # a successive difference belongs to its later beat; its earlier beat must be in range
        dok = log.col("dok")
        sq = log.col("sq")
        lo30d = np.minimum(lo30 + 1, hi30)
        n_d = window_sum(dok, lo30d, hi30)
        rmssd = np.where(
            n_d >= 5, np.sqrt(_safe_div(window_sum(sq * dok, lo30d, hi30), n_d)), np.nan
        )
        big = dok * (sq > 2500.0)
        pnn50 = np.where(n_d >= 5, 100.0 * _safe_div(window_sum(big, lo30d, hi30), n_d), np.nan)
        lo60, hi60 = window_bounds(log, t, n_k, self.SDNN_WIN_S)
        n60 = window_sum(ok, lo60, hi60)
        s1 = window_sum(rr * ok, lo60, hi60)
        s2 = window_sum(rr * rr * ok, lo60, hi60)
        var = _safe_div(s2 - s1 * s1 / np.maximum(n60, 1), n60 - 1)
        sdnn = np.where(n60 >= 10, np.sqrt(np.maximum(var, 0.0)), np.nan)
        # quality: valid samples x a rhythm present x share of accepted intervals
        valid = self._at(self._valid, n_k, n_before)
        n_all = (hi30 - lo30).astype(np.float64)
        acc = np.where(n_all > 0, _safe_div(window_sum(ok, lo30, hi30), n_all), 0.0)
        conf_t = log.col("time")
        last_known = (
            np.where(hi > 0, conf_t[np.maximum(hi - 1, 0)], -np.inf)
            if len(log)
            else np.full(t.shape, -np.inf)
        )
        gap_limit = np.maximum(2.5, 2.5 * np.nan_to_num(mean_rr, nan=1000.0) / 1000.0)
        rhythm = (t - last_known) <= gap_limit + self.delay_s
        quality = np.clip(np.nan_to_num(valid) * rhythm * acc, 0.0, 1.0)
        if len(log) > 256:
            log.trim_before(float(t[-1]) - self.KEEP_S)
        return {
            "hr_bpm": hr,
            "rmssd_ms": rmssd,
            "sdnn_ms": sdnn,
            "pnn50": pnn50,
            "quality_ecg": quality,
        }


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
    event_names = ("breath_onset_time", "breath_peak_time", "breath_depth")
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
        return {"breath_onset_time": ot, "breath_peak_time": pt, "breath_depth": depth[~is_on]}

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
    "eda": EdaChannel,
    "resp": RespChannel,
}
