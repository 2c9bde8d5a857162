"""The session clock: the one owner of where samples sit in a session.

Every way into the engine (live LSL inlets, a replayed file, a foreign recording read offline)
hands its samples here with the time stamps they came with, and gets them back placed on the
session clock: session time 0 is the earliest time stamp seen, samples from before it are
dropped, a stream's samples are then counted at its nominal rate from its first kept sample
(so a device whose clock drifts slightly never moves the frames), and a pause in a stream
(consecutive time stamps further apart than a sample plus a tolerance) is filled with NaN, so
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

from .session_log import DEFAULT_SUBJECT, Gap, Origin, SessionEvent, StreamStart

CLIENT = DEFAULT_SUBJECT

GAP_MIN_S = 0.5
"""A jump between consecutive time stamps counts as a pause when it exceeds one sample period by
more than ``max(GAP_MIN_S, GAP_MIN_SAMPLES / fs)``: time-stamp jitter (e.g. of Bluetooth
packets) and slow clock drift stay well below it."""
GAP_MIN_SAMPLES = 10.0


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
    filled: int = 0  # NaN samples inserted into this chunk


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
        irregular: Collection[str] = ("rr",),
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
        self._last_ts: dict[str, float] = {}  # time stamp of the newest sample received
        self._n_recv: dict[str, int] = {}  # samples received after the drop

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
        """NaN before each sample that follows a pause (found from consecutive time stamps,
        across chunk boundaries too)."""
        prev = self._last_ts.get(m)
        n_recv = self._n_recv.get(m, 0)
        steps = np.diff(ts, prepend=ts[0] if prev is None else prev)
        tol = 1.0 / fs + max(GAP_MIN_S, GAP_MIN_SAMPLES / fs)
        at = np.flatnonzero(steps > tol)
        self._last_ts[m] = float(ts[-1])
        self._n_recv[m] = n_recv + len(data)
        if at.size == 0:
            return Placed(m, data, self.t0[m])
        parts, start, filled = [], 0, 0
        for i in at.tolist():
            n = round((float(steps[i]) - 1.0 / fs) * fs)
            if n <= 0:
                continue
            self.emit(Gap(m, n_recv + i, n, float(ts[i]), subject=self.subject))
            parts += [data[start:i], np.full((n, *data.shape[1:]), np.nan)]
            start = i
            filled += n
        parts.append(data[start:])
        self.gaps_filled[m] = self.gaps_filled.get(m, 0.0) + filled / fs
        return Placed(m, np.concatenate(parts), self.t0[m], filled=filled)


def place_whole(
    streams: dict[str, tuple[np.ndarray, np.ndarray]],
    rates: dict[str, float],
    irregular: Collection[str] = ("rr",),
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
