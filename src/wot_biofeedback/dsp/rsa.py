"""Respiratory sinus arrhythmia (RSA) by the peak-to-trough method, breath by breath.

For each breath (inspiration onset to the next onset, split at the inspiration peak), RSA is
the longest NN interval during expiration minus the shortest NN interval during inspiration,
in ms, and 0 when the difference is negative (Grossman, van Beek & Wientjes 1990). The frame
feature ``rsa_ms`` is the mean over the breaths that ended in the last 60 s.

A breath's value is known at the first frame by which its closing onset, its inspiration peak
and an NN interval past its end have all been confirmed, and a breath's value is kept until no
frame still to be fused needs it, so the feature does not depend on chunking (even while
fusion waits minutes for a stream that starts late).

Reference
---------
Grossman P, van Beek J, Wientjes C (1990). A comparison of three quantification methods for
estimation of respiratory sinus arrhythmia. Psychophysiology 27(6):702-714.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..modalities import cardiac
from ._numba import njit

CARDIAC_SOURCES = cardiac()


@njit
def _rsa_frames(
    k: np.ndarray,
    t: np.ndarray,
    b_end: np.ndarray,
    b_rsa: np.ndarray,
    b_k: np.ndarray,
    win_s: float,
    out: np.ndarray,
) -> None:
    # per frame: the mean of the finite values of the breaths known by it that ended in
    # [t - win_s, t], summed one by one in breath order (b_end ascending), so the value does
    # not depend on which other breaths are kept
    lo = 0
    for i in range(k.size):
        while lo < b_end.size and b_end[lo] < t[i] - win_s:
            lo += 1
        s = 0.0
        n = 0
        j = lo
        while j < b_end.size and b_end[j] <= t[i]:
            if b_k[j] <= k[i] and np.isfinite(b_rsa[j]):
                s += b_rsa[j]
                n += 1
            j += 1
        out[i] = s / n if n > 0 else np.nan


class RsaTracker:
    """Pairs the cardiac NN rows with breaths and gives ``rsa_ms`` per frame."""

    WIN_S = 60.0

    def __init__(self) -> None:
        z = np.empty(0)
        zi = np.empty(0, dtype=np.int64)
        self._nn_t, self._nn_v, self._nn_k = z, z, zi
        self._on_t, self._on_k = z, zi
        self._pk_t, self._pk_k = z, zi
        self._b_end, self._b_rsa, self._b_k = z, z, zi
        self._resp_frames = 0

    def add(self, modality: str, channel: Any, events: dict[str, np.ndarray]) -> None:
        """Take the events one channel update produced."""
        if modality in CARDIAC_SOURCES:
            if events.get("nn_time") is None or events["nn_time"].size == 0:
                return
            k = channel.known_frame(events["nn_confirm"])
            self._nn_t = np.concatenate((self._nn_t, events["nn_time"]))
            self._nn_v = np.concatenate((self._nn_v, events["nn_ms"]))
            self._nn_k = np.concatenate((self._nn_k, k))
        elif modality == "resp":
            # frames the breathing channel has delivered: every breath event known by a frame
            # before this one is in
            self._resp_frames = int(getattr(channel, "next_frame", 0))
            on = events.get("breath_onset_time")
            if on is not None and on.size:
                k = channel.known_frame(events["breath_onset_confirm"])
                self._on_t = np.concatenate((self._on_t, on))
                self._on_k = np.concatenate((self._on_k, k))
            pk = events.get("breath_peak_time")
            if pk is not None and pk.size:
                k = channel.known_frame(events["breath_peak_confirm"])
                self._pk_t = np.concatenate((self._pk_t, pk))
                self._pk_k = np.concatenate((self._pk_k, k))
        else:
            return
        self._evaluate()

    def _evaluate(self) -> None:
        ends, vals, known = [], [], []
        used = 0
        for b in range(self._on_t.size - 1):
            t_a, t_b = self._on_t[b], self._on_t[b + 1]
            after = int(np.searchsorted(self._nn_t, t_b, side="left"))
            if after >= self._nn_t.size:
                break  # the NN series does not reach past this breath yet
            k = max(int(self._on_k[b + 1]), int(self._nn_k[after]))
            if k >= self._resp_frames:
                # the breath's peak is looked for among the events known by frame k, once
                # they are all in: the value never depends on the order chunks arrived in
                break
            used = b + 1
            p = np.flatnonzero((self._pk_t > t_a) & (self._pk_t < t_b))
            p = p[self._pk_k[p] <= k]
            rsa = np.nan
            if p.size:
                t_p = self._pk_t[p[0]]
                k = max(k, int(self._pk_k[p[0]]))
                lo = int(np.searchsorted(self._nn_t, t_a, side="left"))
                mid = int(np.searchsorted(self._nn_t, t_p, side="left"))
                insp = self._nn_v[lo:mid]
                exp = self._nn_v[mid:after]
                insp = insp[np.isfinite(insp)]
                exp = exp[np.isfinite(exp)]
                if insp.size and exp.size:
                    rsa = max(0.0, float(exp.max() - insp.min()))
            ends.append(t_b)
            vals.append(rsa)
            known.append(k)
        if used:
            self._b_end = np.concatenate((self._b_end, ends))
            self._b_rsa = np.concatenate((self._b_rsa, vals))
            self._b_k = np.concatenate((self._b_k, np.asarray(known, dtype=np.int64)))
            # drop what no later breath needs (the breaths' values are dropped by frames(),
            # once no frame still to be fused needs them: fusion may lag the breathing channel
            # by minutes, e.g. while it waits for a stream that starts late)
            self._on_t, self._on_k = self._on_t[used:], self._on_k[used:]
            keep_pk = self._pk_t >= self._on_t[0]
            self._pk_t, self._pk_k = self._pk_t[keep_pk], self._pk_k[keep_pk]
            keep_nn = self._nn_t >= self._on_t[0]
            self._nn_t, self._nn_v, self._nn_k = (
                self._nn_t[keep_nn],
                self._nn_v[keep_nn],
                self._nn_k[keep_nn],
            )

    def frames(self, start: int, stop: int, frame_rate: float) -> np.ndarray:
        """``rsa_ms`` for frames ``start .. stop - 1`` (NaN without a measured breath)."""
        k = np.arange(start, stop)
        t = k / frame_rate
        out = np.empty(k.size)
        _rsa_frames(k, t, self._b_end, self._b_rsa, self._b_k, self.WIN_S, out)
        # frames from ``stop`` on use breaths that ended at most WIN_S before them
        keep = self._b_end >= stop / frame_rate - self.WIN_S
        if not keep.all():
            self._b_end, self._b_rsa, self._b_k = (
                self._b_end[keep],
                self._b_rsa[keep],
                self._b_k[keep],
            )
        return out
