"""What every source gives the run loop: batches of chunks.

A :class:`Source` is read once per step of :func:`wot_biofeedback.run.run`. A live source
(LSL inlets) returns whatever has arrived, without blocking, and reports streams that have
gone silent (``lost``); a file source returns the next stretch of its signals, already placed
or with their time stamps, reports the streams whose data has ended (``ended``), and says
when it is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..clock import Chunk


@dataclass
class Batch:
    """One read of a source."""

    chunks: list[Chunk] = field(default_factory=list)
    lost: list[tuple[str, str]] = field(default_factory=list)  # (subject, modality) silent
    ended: list[tuple[str, str]] = field(default_factory=list)  # (subject, modality) ended
    done: bool = False  # nothing more will come (a file source at its end)


class Source(Protocol):
    """Anything the run loop can read."""

    live: bool  # paced by the wall clock (LSL), or read flat out (files)

    def read(self) -> Batch: ...

    def decisions(self) -> dict[str, dict[str, Any]]:
        """Per subject, the recorded decisions to replay (a wot recording's calibrations and
        lost-stream masks; see :meth:`wot_biofeedback.session.Session.replay`), or {}."""
        ...

    def close(self) -> None: ...
