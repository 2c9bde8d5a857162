"""The simulator in-process: simulated people as a run-loop source, without LSL.

``SimulatedSource({"client": session, ...})`` gives the run loop
(:func:`wot_biofeedback.run.run`) each person's ECG, EDA and RESP in chunks, with time stamps on
the simulated clock, so the session core places them exactly as it places live streams. Fast
(no transport, no pacing): for tests, benchmarks and trying a configuration on many seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wot_biofeedback.clock import Chunk
from wot_biofeedback.sources.base import Batch

from .physiology import MODALITIES, SimulatedSession


class SimulatedSource:
    """Simulated sessions, one per subject, read ``chunk_s`` seconds at a time.

    Parameters
    ----------
    sessions : SimulatedSession or dict
        One person (subject ``client``) or ``{subject: SimulatedSession}``.
    chunk_s : float
        Seconds of signal per read.
    streams : tuple of str
        Which of the simulated signals to give (default all: ECG, EDA, RESP).
    """

    live = False

    def __init__(
        self,
        sessions: SimulatedSession | dict[str, SimulatedSession],
        chunk_s: float = 1.0,
        streams: tuple[str, ...] = MODALITIES,
    ) -> None:
        self.sessions = {"client": sessions} if isinstance(sessions, SimulatedSession) else sessions
        if not (chunk_s > 0):
            raise ValueError(f"chunk_s {chunk_s!r} must be > 0 s")
        bad = [m for m in streams if m not in MODALITIES]
        if bad:
            raise ValueError(f"streams {bad} are not simulated; choose from {MODALITIES}")
        self.chunk_s = float(chunk_s)
        self.streams = streams
        self._t = 0.0
        self._pos = {(s, m): 0 for s in self.sessions for m in streams}

    def rates(self) -> dict[str, dict[str, float]]:
        """``{subject: {modality: Hz}}``, for the :class:`~wot_biofeedback.session.Session`."""
        return {s: {m: sess.fs(m) for m in self.streams} for s, sess in self.sessions.items()}

    def read(self) -> Batch:
        batch = Batch()
        self._t += self.chunk_s
        for sid, sess in self.sessions.items():
            for m in self.streams:
                x, fs = sess.signal(m), sess.fs(m)
                pos = self._pos[(sid, m)]
                stop = min(len(x), round(self._t * fs))
                if stop > pos:
                    ts = np.arange(pos, stop) / fs
                    batch.chunks.append(Chunk(sid, m, x[pos:stop], ts))
                    self._pos[(sid, m)] = stop
                    if stop >= len(x):
                        batch.ended.append((sid, m))
        batch.done = all(self._pos[(s, m)] >= len(self.sessions[s].signal(m)) for s, m in self._pos)
        return batch

    def decisions(self) -> dict[str, dict[str, Any]]:
        return {}

    def close(self) -> None:
        pass
