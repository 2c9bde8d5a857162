"""LSL inlets: resolve streams by type (and optionally name/source_id), pull chunks.

Timestamps are clock-corrected by liblsl (``proc_clocksync``), so streams from other machines
line up on this machine's LSL clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pylsl

from ..errors import StreamNotFoundError

DEFAULT_TYPES = {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}


def list_streams(timeout: float = 2.0) -> list[pylsl.StreamInfo]:
    """All LSL streams visible on the network within ``timeout`` seconds."""
    return list(pylsl.resolve_streams(wait_time=timeout))


def describe(info: pylsl.StreamInfo) -> str:
    rate = info.nominal_srate()
    rate_s = f"{rate:g} Hz" if rate > 0 else "irregular"
    return (
        f"{info.name():24s} type={info.type():9s} ch={info.channel_count():<3d} {rate_s:>10s} "
        f"source_id={info.source_id()} host={info.hostname()}"
    )


def resolve(
    stype: str, name: str | None = None, source_id: str | None = None, timeout: float = 5.0
) -> pylsl.StreamInfo:
    """Find one stream of type ``stype`` (and ``name``/``source_id`` when given).

    Raises
    ------
    StreamNotFoundError
        With the list of the streams that were visible.
    """
    pred = f"type='{stype}'"
    if name:
        pred += f" and name='{name}'"
    if source_id:
        pred += f" and source_id='{source_id}'"
    found = pylsl.resolve_bypred(pred, 1, timeout)
    if found:
        return found[0]
    visible = list_streams(0.5)
    seen = "; ".join(f"{s.name()} ({s.type()})" for s in visible) or "none"
    what = (
        f"type {stype!r}"
        + (f", name {name!r}" if name else "")
        + (f", source_id {source_id!r}" if source_id else "")
    )
    raise StreamNotFoundError(
        f"no LSL stream with {what} found within {timeout:g} s; visible: {seen}"
    )


def channel_units(info: pylsl.StreamInfo) -> list[str]:
    """Units from the stream's ``<channels>`` metadata ('' where not given)."""
    units = []
    ch = info.desc().child("channels").child("channel")
    for _ in range(info.channel_count()):
        units.append(ch.child_value("unit") if not ch.empty() else "")
        ch = ch.next_sibling() if not ch.empty() else ch
    return units


@dataclass
class PullResult:
    data: np.ndarray
    timestamps: np.ndarray


class LslSource:
    """One regularly sampled LSL stream feeding one modality.

    Parameters
    ----------
    modality : str
        ``ecg``, ``eda`` or ``resp``.
    info : pylsl.StreamInfo
        A resolved stream.
    channel : int
        Channel index to use.
    """

    def __init__(self, modality: str, info: pylsl.StreamInfo, channel: int = 0) -> None:
        self.modality = modality
        self.inlet = pylsl.StreamInlet(
            info, max_buflen=360, max_chunklen=0, processing_flags=pylsl.proc_clocksync
        )
        self.info = self.inlet.info(timeout=5.0)
        # connect now, so that nothing pushed after this point is missed
        self.inlet.open_stream(timeout=5.0)
        self.fs = float(self.info.nominal_srate())
        # an RR stream is irregular by nature (one value per beat); nominally 1 value/s
        self.irregular = self.fs <= 0
        if self.irregular and modality != "rr":
            raise StreamNotFoundError(
                f"stream {self.info.name()!r} has an irregular rate; "
                f"{modality} needs a sampled signal"
            )
        if modality == "rr":
            self.fs = 1.0
        if not 0 <= channel < self.info.channel_count():
            raise StreamNotFoundError(
                f"stream {self.info.name()!r} has {self.info.channel_count()} channels; "
                f"channel {channel} does not exist"
            )
        self.channel = channel
        self.unit = (channel_units(self.info) or [""])[channel]
        self.name = self.info.name()
        self.n_samples = 0
        self.last_wall = float("nan")  # time.monotonic() of the last sample received
        self.first_timestamp = float("nan")
        self._buf = np.empty(
            (max(1024, int(self.fs * 4)), self.info.channel_count()), dtype=np.float32
        )
        self._ts = np.empty(self._buf.shape[0])

    def pull(self) -> PullResult:
        """Pull whatever has arrived, without blocking."""
        _, stamps = self.inlet.pull_chunk(
            timeout=0.0, max_samples=self._buf.shape[0], dest_obj=self._buf
        )
        k = len(stamps) if stamps is not None else 0
        if k == 0:
            return PullResult(np.empty(0), np.empty(0))
        ts = np.asarray(stamps, dtype=np.float64)
        data = self._buf[:k, self.channel].astype(np.float64)
        if self.n_samples == 0:
            self.first_timestamp = float(ts[0])
        self.n_samples += k
        self.last_wall = time.monotonic()
        return PullResult(data, ts)

    def close(self) -> None:
        self.inlet.close_stream()
