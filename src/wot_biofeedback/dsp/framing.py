"""Frame scheduling shared by every channel.

Frame ``k`` is at session time ``k / frame_rate`` s. A channel emits it as soon as it has
processed the sample at that time, and computes it only from events *confirmed* by then, so
live, replayed and offline runs give identical frames for any chunking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..checks import as_signal, check_rate

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

    def known_frame(self, confirm: np.ndarray) -> np.ndarray:
        """First frame whose own sample is at or after each confirmation index.

        An event confirmed at sample ``c`` is used by frames ``k >= known_frame(c)``.
        """
        c = np.asarray(confirm, dtype=np.int64)
        k = np.ceil(((self.t0 + c / self.fs) * self.frame_rate) - 1e-6).astype(np.int64)
        k = np.maximum(k, 0)
        for _ in range(2):  # settle float rounding against the exact frame_sample rule
            k = np.where(self.frame_sample(k / self.frame_rate) < c, k + 1, k)
            prev = np.maximum(k - 1, 0)
            k = np.where((k > 0) & (self.frame_sample(prev / self.frame_rate) >= c), prev, k)
        return k

    def samples_to_frame(self) -> int:
        """How many more samples complete the next frame (its own sample processed)."""
        return math.floor((self.next_frame / self.frame_rate - self.t0) * self.fs + 1e-9) - (
            self._n - 1
        )

    def sample_time(self, idx: np.ndarray) -> np.ndarray:
        return self.t0 + np.asarray(idx, dtype=np.float64) / self.fs

    MAX_CHUNK_S = 60.0
    """Longer chunks are processed in pieces of this length (the output is the same for any
    chunking; the pieces keep the channels' bounded event rings from overflowing)."""

    def update(self, chunk: np.ndarray) -> ChannelOutput:
        """Process one chunk of samples and return the frames and events it completed."""
        x = as_signal(chunk, f"{self.modality} chunk")
        step = max(1, int(self.MAX_CHUNK_S * self.fs))
        if x.size <= step:
            return self._update(x)
        return merge_outputs([self._update(x[i : i + step]) for i in range(0, x.size, step)])

    def _update(self, x: np.ndarray) -> ChannelOutput:
        n_before = self._n
        events = self._process(x, n_before)
        self._n += x.size
        # frames whose own sample (the last one at or before the frame time) is now processed
        kf = self.next_frame
        last = self._last_frame()
        if last < kf:
            return ChannelOutput(kf, {}, events)
        t = np.arange(kf, last + 1) / self.frame_rate
        n_k = self.frame_sample(t)
        feats = self._features(t, n_k, n_before)
        self.next_frame = last + 1
        return ChannelOutput(kf, feats, events)

    def _last_frame(self) -> int:
        """The last frame whose own sample is processed (``next_frame - 1`` when the samples
        so far complete no new frame)."""
        # most small live chunks complete none: say so without touching numpy
        if self.samples_to_frame() > 0:
            return self.next_frame - 1
        # the last such frame, by the same rule as frame_sample (scalar arithmetic)
        last = math.floor((self.t0 + self._n / self.fs) * self.frame_rate) + 1
        while math.floor((last / self.frame_rate - self.t0) * self.fs + 1e-9) > self._n - 1:
            last -= 1
        return last

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


def merge_outputs(outs: list[ChannelOutput]) -> ChannelOutput:
    """Concatenate consecutive outputs of one channel into one."""
    with_frames = [o for o in outs if o.n_frames]
    first = with_frames[0].first_frame if with_frames else outs[-1].first_frame
    feats: dict[str, np.ndarray] = {}
    if with_frames:
        feats = {
            k: np.concatenate([o.features[k] for o in with_frames]) for k in with_frames[0].features
        }
    events: dict[str, np.ndarray] = {}
    for k in outs[0].events:
        events[k] = np.concatenate([o.events[k] for o in outs])
    return ChannelOutput(first, feats, events)
