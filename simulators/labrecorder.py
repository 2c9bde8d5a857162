"""XDF files laid out as LabRecorder lays them out, from simulated signals, with the clock
troubles real recordings have: each stream stamped on its sender's clock (offset from the
recorder's, drifting, jittered), a ``ClockOffset`` chunk every few seconds, optionally a clock
reset (the sender restarted), a pause in one stream, and the pylsl#67 ending (one sample more
than the footer counts, with a garbage last clock offset).

For tests and benchmarks of the XDF reader (``wot analyze`` on LabRecorder files); written a
stretch at a time, so a day at 1000 Hz never has to be in memory::

    spec = [Spec("ECG", "ECG", 250.0), Spec("EDA", "EDA", 32.0)]
    with LabRecorderFile(path, spec, SenderClock(seed=1)) as f:
        f.write(0.0, {"ECG": ecg, "EDA": eda})      # true session time of the first samples
        f.marker(12.5, "eyes closed")
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from wot_biofeedback.modalities import MODALITIES
from wot_biofeedback.sources.xdf import (
    BOUNDARY_UUID,
    MAGIC,
    TAG_BOUNDARY,
    TAG_FILE_HEADER,
    TAG_STREAM_FOOTER,
    TAG_STREAM_HEADER,
    chunk,
    clock_offset,
    numeric_samples,
    string_samples,
)


@dataclass
class SenderClock:
    """How the senders' clocks relate to the recorder's: ``sender = recorder + offset_s +
    drift * t`` (less ``reset_by_s`` once ``t`` passes ``reset_at_s``: the sender restarted,
    and sends nothing, neither samples nor clock offsets, for ``reset_pause_s``), each time
    stamp jittered by ``jitter_s`` (standard deviation)."""

    offset_s: float = -1000.0
    drift: float = 2e-5
    jitter_s: float = 5e-4
    reset_at_s: float | None = None
    reset_by_s: float = 500.0
    reset_pause_s: float = 30.0
    origin_s: float = 5000.0  # the recorder's clock at true time 0
    seed: int = 0
    offset_every_s: float = 5.0
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def shift(self, t: np.ndarray) -> np.ndarray:
        """Sender clock minus recorder clock at true times ``t``."""
        s = self.offset_s + self.drift * t
        if self.reset_at_s is not None:
            s = s - np.where(t >= self.reset_at_s, self.reset_by_s, 0.0)
        return s

    def down(self, t: np.ndarray) -> np.ndarray:
        """Whether the sender is restarting at true times ``t``."""
        if self.reset_at_s is None:
            return np.zeros(len(t), dtype=bool)
        return (t >= self.reset_at_s) & (t < self.reset_at_s + self.reset_pause_s)

    def stamps(self, t: np.ndarray) -> np.ndarray:
        jit = self.rng.normal(0.0, self.jitter_s, len(t)) if self.jitter_s else 0.0
        return self.origin_s + t + self.shift(t) + jit


@dataclass
class Spec:
    """One stream: name, type, nominal rate (0: irregular), channels, channel format."""

    name: str
    type: str
    fs: float
    channels: int = 1
    fmt: str = "float32"
    desc: str = ""  # extra XML inside <desc> (e.g. a synchronization element)
    labels: tuple[str, ...] = ()  # channel labels (default: the name and the channel's index)


class LabRecorderFile:
    """An XDF file written a stretch at a time. ``pause`` = ``{stream: (start_s, end_s)}``
    leaves that stream's samples out there; ``pylsl67`` ends each numeric stream with one
    sample beyond its footer count and a garbage last clock offset."""

    def __init__(
        self,
        path: str | Path,
        streams: list[Spec],
        clock: SenderClock | None = None,
        pause: dict[str, tuple[float, float]] | None = None,
        pylsl67: bool = False,
    ) -> None:
        self.path = Path(path)
        self.specs = {s.name: s for s in streams}
        self.ids = {s.name: k + 1 for k, s in enumerate(streams)}
        self.ids["markers"] = len(streams) + 1
        self.clock = clock or SenderClock()
        self.pause = pause or {}
        self.pylsl67 = pylsl67
        self.count = dict.fromkeys(self.ids, 0)
        self.last_t = 0.0
        self.next_offset = 0.0
        self.fh = self.path.open("wb")
        self.fh.write(MAGIC)
        self.fh.write(
            chunk(TAG_FILE_HEADER, b'<?xml version="1.0"?><info><version>1.0</version></info>')
        )
        for s in [*streams, Spec("markers", "Markers", 0.0, 1, "string")]:
            labels = "".join(
                f"<channel><label>{s.labels[k] if k < len(s.labels) else f'{s.name}{k}'}</label>"
                "</channel>"
                for k in range(s.channels)
            )
            xml = (
                f'<?xml version="1.0"?><info><name>{s.name}</name><type>{s.type}</type>'
                f"<channel_count>{s.channels}</channel_count><nominal_srate>{s.fs!r}</nominal_srate>"
                f"<channel_format>{s.fmt}</channel_format><source_id>sim-{s.name}</source_id>"
                f"<desc><channels>{labels}</channels>{s.desc}</desc></info>"
            )
            self.fh.write(
                chunk(TAG_STREAM_HEADER, struct.pack("<I", self.ids[s.name]) + xml.encode())
            )

    def _offsets_until(self, t: float) -> None:
        while self.next_offset <= t:
            tc = np.array([self.next_offset])
            self.next_offset += self.clock.offset_every_s
            if self.clock.down(tc)[0]:
                continue
            shift = float(self.clock.shift(tc)[0])
            for sid in self.ids.values():
                # LabRecorder writes the collection time on the sender's clock (its own clock
                # less the offset) and the offset (its clock less the sender's)
                self.fh.write(clock_offset(sid, self.clock.origin_s + float(tc[0]) + shift, -shift))
            self.fh.write(chunk(TAG_BOUNDARY, BOUNDARY_UUID))

    def write(self, t0: float, data: dict[str, np.ndarray], chunk_s: float = 1.0) -> None:
        """Samples of each stream from true time ``t0`` on (at its nominal rate)."""
        end = max(t0 + len(v) / self.specs[k].fs for k, v in data.items())
        t = t0
        while t < end - 1e-9:
            self._offsets_until(t)
            for name, values in data.items():
                fs = self.specs[name].fs
                a = max(0, round((t - t0) * fs))
                b = min(len(values), round((t + chunk_s - t0) * fs))
                if b <= a:
                    continue
                tt = t0 + np.arange(a, b) / fs
                keep = ~self.clock.down(tt)
                if name in self.pause:
                    p0, p1 = self.pause[name]
                    keep &= (tt < p0) | (tt >= p1)
                if not keep.any():
                    continue
                v = np.asarray(values[a:b])[keep]
                self.fh.write(numeric_samples(self.ids[name], self.clock.stamps(tt[keep]), v,
                                              self.specs[name].fmt))  # fmt: skip
                self.count[name] += int(keep.sum())
            t += chunk_s
        self.last_t = max(self.last_t, end)

    def marker(self, t: float, text: str) -> None:
        stamp = self.clock.stamps(np.array([t]))
        self.fh.write(string_samples(self.ids["markers"], stamp, [text]))
        self.count["markers"] += 1

    def close(self) -> None:
        if self.fh.closed:
            return
        counts = dict(self.count)
        if self.pylsl67:
            t = np.array([self.last_t + 0.01])
            for name, sid in self.ids.items():
                spec = self.specs.get(name)
                if spec is None:
                    continue
                one = np.zeros((1, spec.channels))
                self.fh.write(numeric_samples(sid, self.clock.stamps(t), one, spec.fmt))
                self.count[name] += 1
                # an outlet closed while the inlet was connected: a garbage last offset
                late = self.clock.origin_s + self.last_t + 300.0
                self.fh.write(clock_offset(sid, late, 123.0))
        for name, sid in self.ids.items():
            xml = f'<?xml version="1.0"?><info><sample_count>{counts[name]}</sample_count></info>'
            self.fh.write(chunk(TAG_STREAM_FOOTER, struct.pack("<I", sid) + xml.encode()))
        self.fh.close()

    def __enter__(self) -> LabRecorderFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_session(path: str | Path, session: Any, clock: SenderClock | None = None,
                  **options: Any) -> Path:  # fmt: skip
    """A simulated session (:func:`~wot_simulators.simulate_session`) as a LabRecorder file:
    a stream for each of its signals, named and typed by its modality in capitals (``ECG``)."""
    cfg = session.config
    have = [
        m for m in MODALITIES if hasattr(cfg, f"{m}_fs") and getattr(session, m, None) is not None
    ]
    spec = [Spec(m.upper(), m.upper(), getattr(cfg, f"{m}_fs")) for m in have]
    with LabRecorderFile(path, spec, clock, **options) as f:
        f.write(0.0, {m.upper(): getattr(session, m) for m in have})
    return Path(path)
