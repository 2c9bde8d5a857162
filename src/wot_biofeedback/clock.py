"""The session clock: the one owner of where samples sit in a session.

Every way into the engine (live LSL inlets, a replayed file, a foreign recording read offline)
hands its samples here with the time stamps they came with, and gets them back placed on the
session clock: session time 0 is the earliest time stamp seen, samples from before it are
dropped, a stream's samples are then counted at its nominal rate from its first kept sample
(so a device whose clock drifts slightly never moves the frames), and a pause in a stream
(a sample whose time stamp is later than its count says, by more than a tolerance beyond the
samples of the last two seconds) is filled with NaN, so
what follows keeps its place and the detectors see a gap. Irregular streams (RR intervals) keep
each value's own time.

Each decision is a :mod:`~wot_biofeedback.session_log` event passed to ``emit``; a recording
keeps them, and its reader replays them rather than deciding again. Placement depends only on
the samples and their time stamps, never on how they were chunked, so live, replayed and
offline input give the same session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from .modalities import MODALITIES
from .session_log import DEFAULT_SUBJECT, Gap, Origin, SessionEvent, StreamStart

IRREGULAR = tuple(m for m, d in MODALITIES.items() if d.irregular)
"""Modalities whose values each carry their own time (RR intervals)."""
GAP_MIN_S = 0.5
"""A sample whose time stamp is later than its count says by more than
``max(GAP_MIN_S, GAP_MIN_SAMPLES / fs)`` beyond the recent samples follows a pause: time-stamp
jitter (e.g. of Bluetooth packets) and slow clock drift stay well below it."""
GAP_MIN_SAMPLES = 10.0
REF_S = 2.0
"""A sample's lag is compared with the largest lag of this many seconds of samples before it."""
MAX_FILL_S = 24 * 3600.0
"""Longest pause filled; a larger jump is a broken time stamp and is not filled."""


@dataclass
class Chunk:
    """Samples of one stream of one subject.

    Either ``timestamps`` (one per row, on the source's clock: LSL time live, the file's clock
    offline) for the session clock to place, or ``t0`` (and ``stamps`` for an irregular
    stream) where the chunk is already placed on the session clock.
    """

    subject: str
    modality: str
    data: np.ndarray
    timestamps: np.ndarray | None = None
    t0: float | None = None
    stamps: np.ndarray | None = None
    raw: Any = None  # what came with it that a recorder keeps (live: the pull result)


@dataclass
class Placed:
    """A chunk placed on the session clock."""

    modality: str
    data: np.ndarray  # samples after the drop, with NaN where a pause was filled
    t0: float  # session seconds of the stream's first kept sample (the same for every chunk)
    stamps: np.ndarray | None = None  # session seconds of each value (irregular streams only)


class SessionClock:
    """Places the chunks of one subject's streams on the session clock.

    Parameters
    ----------
    rates : dict
        Nominal sampling rate per modality, Hz (irregular streams: any positive value).
    irregular : collection of str
        Modalities whose values each carry their own time (``rr``).
    emit : callable, optional
        Receives every decision as a session-log event.
    subject : str
        Written into the events.
    """

    def __init__(
        self,
        rates: dict[str, float],
        irregular: Collection[str] = IRREGULAR,
        emit: Callable[[SessionEvent], None] | None = None,
        subject: str = DEFAULT_SUBJECT,
    ) -> None:
        self.rates = dict(rates)
        self.irregular = frozenset(irregular)
        self.emit = emit or (lambda _e: None)
        self.subject = subject
        self.origin = math.nan
        self.t0: dict[str, float] = {}
        self.gaps_filled: dict[str, float] = {}  # seconds of NaN inserted per modality
        self._drop: dict[str, int] = {}
        self._n_recv: dict[str, int] = {}  # samples received after the drop
        self._first_ts: dict[str, float] = {}  # time stamp of the first kept sample
        self._count: dict[str, int] = {}  # samples placed (gap fill included)
        self._tail: dict[str, np.ndarray] = {}  # the lags of the last REF_S of samples, s

    def set_origin(self, t: float) -> None:
        """Session time 0 (once; later calls are ignored)."""
        if math.isnan(self.origin):
            self.origin = float(t)
            self.emit(Origin(self.origin, subject=self.subject))

    def place(self, modality: str, timestamps: np.ndarray, data: np.ndarray) -> Placed | None:
        """Place one chunk (``timestamps`` on the sources' clock, one per row of ``data``).

        Returns None when nothing of it is kept (it lies wholly before session time 0).
        """
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.size == 0:
            return None
        self.set_origin(float(ts[0]))
        if modality in self.irregular:
            if modality not in self.t0:
                self.t0[modality] = 0.0
                self._drop[modality] = 0
                self.emit(StreamStart(modality, 0.0, 0, subject=self.subject))
            return Placed(modality, data, 0.0, ts - self.origin)
        fs = self.rates[modality]
        if modality not in self.t0:
            # clock-correction jitter (µs) must not move frames by a sample: keep ms resolution
            t0 = round((float(ts[0]) - self.origin) * 1000.0) / 1000.0
            drop = max(0, math.ceil(-t0 * fs - 1e-9))
            self._drop[modality] = drop
            self.t0[modality] = t0 + drop / fs
            self.emit(StreamStart(modality, t0 + drop / fs, drop, subject=self.subject))
        left = self._drop[modality]
        if left:
            k = min(left, len(data))
            data, ts = data[k:], ts[k:]
            self._drop[modality] = left - k
            if len(data) == 0:
                return None
        return self._fill(modality, fs, ts, data)

    def _fill(self, m: str, fs: float, ts: np.ndarray, data: np.ndarray) -> Placed:
        """NaN before each sample that follows a pause.

        Each sample's *lag* is its time stamp minus the time its count gives it (first kept
        stamp + samples placed / rate). A pause is a lag that exceeds the largest lag of the
        previous ``REF_S`` seconds of samples by more than the tolerance: slow clock drift and
        jitter never do, nor do bursts of samples that share one time stamp (a bridge that
        stamps each Bluetooth packet on arrival). The rule looks at samples only, across chunk
        boundaries, so the placement does not depend on chunking.
        """
        n_recv = self._n_recv.get(m, 0)
        self._n_recv[m] = n_recv + len(data)
        if m not in self._first_ts:
            self._first_ts[m] = float(ts[0])
            self._count[m] = 0
            self._tail[m] = np.empty(0)
        k = 2 * round(REF_S * fs / 2) + 1  # odd: the trailing window below is exact
        tol = max(GAP_MIN_S, GAP_MIN_SAMPLES / fs)
        lags = ts - (self._first_ts[m] + (self._count[m] + np.arange(len(ts))) / fs)
        tail = self._tail[m]
        fills: list[tuple[int, int]] = []
        i0 = 0
        limit = len(ts) + MAX_FILL_S * fs  # a broken time stamp must not allocate the world
        # no sample's lag exceeds its predecessor's by more than the tolerance: then none
        # exceeds the largest lag before it either, and there is no pause (the usual chunk;
        # the search below is most of a live read's clock work)
        steps = np.diff(np.concatenate((tail[-1:], lags)))
        while not np.all(steps <= tol):
            seq = np.concatenate((tail, lags))
            upto = _trailing_max(seq, k)
            ref = np.concatenate(([-np.inf], upto[:-1]))[tail.size :]  # the k lags before
            with np.errstate(invalid="ignore"):  # the very first sample has nothing before it
                over = np.flatnonzero(np.isfinite(ref[i0:]) & (lags[i0:] - ref[i0:] > tol))
            if over.size == 0:
                break
            i = i0 + int(over[0])
            jump = float(lags[i] - ref[i]) * fs
            n = round(jump) if math.isfinite(jump) else 0  # an infinite stamp is not a pause
            if 0 < n <= limit:
                self.emit(Gap(m, n_recv + i, n, float(ts[i]), subject=self.subject))
                fills.append((i, n))
                lags[i:] -= n / fs
            i0 = i + 1
        filled = sum(n for _i, n in fills)
        self._count[m] += len(ts) + filled
        self._tail[m] = np.concatenate((tail, lags))[-k:]
        if not fills:
            return Placed(m, data, self.t0[m])
        parts, start = [], 0
        for i, n in fills:
            parts += [data[start:i], np.full((n, *data.shape[1:]), np.nan)]
            start = i
        parts.append(data[start:])
        self.gaps_filled[m] = self.gaps_filled.get(m, 0.0) + filled / fs
        return Placed(m, np.concatenate(parts), self.t0[m])


def place_whole(
    streams: dict[str, tuple[np.ndarray, np.ndarray]],
    rates: dict[str, float],
    irregular: Collection[str] = IRREGULAR,
    emit: Callable[[SessionEvent], None] | None = None,
) -> tuple[SessionClock, dict[str, Placed]]:
    """Place whole recorded streams ``{modality: (timestamps, data)}`` as the live engine
    would have: session time 0 is the earliest first time stamp."""
    clock = SessionClock(rates, irregular, emit)
    firsts = [float(ts[0]) for ts, _ in streams.values() if len(ts)]
    if firsts:
        clock.set_origin(min(firsts))
    placed = {}
    for m, (ts, data) in streams.items():
        got = clock.place(m, ts, data)
        if got is not None:
            placed[m] = got
    return clock, placed


def _trailing_max(seq: np.ndarray, k: int) -> np.ndarray:
    """The largest of each value and the ``k - 1`` before it (``k`` odd)."""
    # imported here: scipy.ndimage takes about 0.1 s to load, and most reads never get here
    # (a live session loads it beforehand, in cli._dsp.prepare_dsp)
    from scipy.ndimage import maximum_filter1d

    return np.asarray(maximum_filter1d(seq, k, mode="constant", cval=-np.inf, origin=(k - 1) // 2))
