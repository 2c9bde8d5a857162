"""What a view reads from the live engine: :class:`Snapshot` and :class:`StreamStatus`.

The engine makes them (:meth:`wot_biofeedback.engine.Engine.snapshot`); the views (``ui/``, the
terminal view) only read them. Keeping the types here lets a view import them without
importing the engine (and with it pylsl and the pipeline): views sit above the engine and never
import it.

This module imports no Qt, no pylsl and nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cues import Cue

__all__ = ["Snapshot", "StreamStatus"]


@dataclass(frozen=True)
class StreamStatus:
    """Status of one input stream as seen by the engine."""

    modality: str
    name: str
    fs: float
    unit: str
    state: str  # "waiting", "ok", "lagging", "lost"
    since_last_s: float
    n_samples: int
    note: str = ""  # a problem found in the stream, e.g. an implausible EDA level


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of what the engine knows now; safe to read from any thread."""

    session_s: float
    zone: str
    arousal: float
    confidence: float
    explanation: str
    drivers: list[tuple[str, float, str]]
    features: dict[str, float]
    calibrating: bool
    message: str
    window: tuple[float, float]
    cue: Cue | None
    history: dict[str, np.ndarray]
    raw: dict[str, tuple[np.ndarray, np.ndarray]]
    marks: dict[str, np.ndarray]
    streams: dict[str, StreamStatus]
    n_frames: int
    overruns: int
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
