"""What every driver shares: typed LSL outlets with units, a marker outlet for gaps and device
events, a device-clock → LSL-clock mapper with drift correction, and reconnect backoff.

Drivers talk to the engine only through LSL, so any LSL tool (LabRecorder included) can record
them too. Stream conventions (the engine finds streams by type):

* ``ECG`` (µV or mV, say which in the unit), ``PPG``, ``EDA`` (µS), ``RESP``, ``ACC`` (x, y, z
  in g), each at its nominal rate;
* ``RR``: irregular rate, channel 0 the inter-beat interval in ms, channel 1 the sensor-contact
  status (1 contact, 0 no contact, -1 not reported);
* ``Markers``: irregular strings, e.g. ``gap start: connection lost`` / ``gap end: 12.3 s``.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pylsl

FORMATS = {
    "float32": pylsl.cf_float32,
    "double64": pylsl.cf_double64,
    "int32": pylsl.cf_int32,
    "string": pylsl.cf_string,
}


def make_outlet(
    name: str,
    stype: str,
    channels: Sequence[tuple[str, str]],
    fs: float,
    source_id: str,
    fmt: str = "float32",
    manufacturer: str = "",
    model: str = "",
    chunk_size: int = 0,
) -> pylsl.StreamOutlet:
    """An LSL outlet whose ``desc/channels`` name every channel (label, unit, type), as
    LabRecorder and mne-lsl read them; ``fs`` 0 for an irregular stream."""
    info = pylsl.StreamInfo(name, stype, len(channels), fs, FORMATS[fmt], source_id)
    desc = info.desc()
    chans = desc.append_child("channels")
    for label, unit in channels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", stype)
    if manufacturer or model:
        acq = desc.append_child("acquisition")
        if manufacturer:
            acq.append_child_value("manufacturer", manufacturer)
        if model:
            acq.append_child_value("model", model)
    return pylsl.StreamOutlet(info, chunk_size)


class MarkerOutlet:
    """String markers (``type=Markers``): connection gaps, device events."""

    def __init__(self, name: str, source_id: str) -> None:
        self.outlet = make_outlet(name, "Markers", [("event", "")], 0.0, source_id, "string")

    def push(self, text: str, timestamp: float | None = None) -> None:
        t = pylsl.local_clock() if timestamp is None else timestamp
        self.outlet.push_sample([text], t)


@dataclass
class ClockMapper:
    """Maps a device's sample clock to this machine's LSL clock, drift-corrected and monotonic.

    Each packet gives ``(device_t, arrival)``: the device time of its last sample and the LSL
    time it arrived. Transport delay only ever makes ``arrival`` later, so the offset
    ``arrival - device_t`` is estimated from the lower envelope of recent packets: the minimum
    over each of the last ``window_s`` seconds' blocks, with a least-squares line through those
    minima giving the drift (device crystals run fast or slow by tens of ppm). Mapped times
    never go backwards, across reconnects included (when the estimate moves back, samples are
    slewed at half their device-time spacing until it has caught up); after
    :meth:`reset` (the device clock may have restarted) the fit starts again from new packets.
    """

    window_s: float = 60.0
    block_s: float = 2.0
    min_step_s: float = 1e-6
    _blocks: deque[tuple[float, float]] = field(default_factory=deque)  # (device_t, min offset)
    _last_out: float = -math.inf
    _last_dev: float = math.nan
    _slope: float = 0.0
    _offset: float = math.nan
    _ref: float = 0.0

    def update(self, device_t: float, arrival: float) -> None:
        """Record one packet (the device time of its last sample, and its arrival)."""
        off = arrival - device_t
        b = self._blocks
        if b and device_t - b[-1][0] < self.block_s:
            if off < b[-1][1]:
                b[-1] = (b[-1][0], off)
        else:
            b.append((device_t, off))
        while b and device_t - b[0][0] > self.window_s:
            b.popleft()
        self._fit()

    def _fit(self) -> None:
        pts = list(self._blocks)
        self._ref = pts[-1][0]
        if len(pts) < 4:  # too short for a slope: the smallest offset seen
            self._slope, self._offset = 0.0, min(o for _t, o in pts)
            return
        n = len(pts)
        xs = [t - self._ref for t, _o in pts]
        ys = [o for _t, o in pts]
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
        slope = max(-1e-3, min(1e-3, slope))  # a crystal is never off by more than 1000 ppm
        inter = my - slope * mx
        # the line through the minima, lowered to touch the lowest of them
        low = min(y - (inter + slope * x) for x, y in zip(xs, ys, strict=True))
        self._slope, self._offset = slope, inter + low

    @property
    def ready(self) -> bool:
        return math.isfinite(self._offset)

    @property
    def drift_ppm(self) -> float:
        return self._slope * 1e6

    def map(self, device_t: float) -> float:
        """LSL time of a sample stamped ``device_t`` by the device (call :meth:`update` first)."""
        if not self.ready:
            raise RuntimeError("ClockMapper.map before any update")
        t = device_t + self._offset + self._slope * (device_t - self._ref)
        if t <= self._last_out:
            # the estimate moved back (a packet with less delay than any before): slew, giving
            # each sample half its device-time step until the mapping has caught up, rather
            # than packing samples a microsecond apart
            step = 0.5 * (device_t - self._last_dev) if math.isfinite(self._last_dev) else 0.0
            t = self._last_out + max(self.min_step_s, step)
        self._last_out = t
        self._last_dev = device_t
        return t

    def reset(self) -> None:
        """Forget the fit (the device clock may restart after a reconnect); mapped times stay
        monotonic."""
        self._blocks.clear()
        self._offset = math.nan
        self._slope = 0.0


@dataclass
class Backoff:
    """Reconnect delays: ``initial`` doubling up to ``maximum`` seconds, with ±``jitter``
    (a fraction) so that many devices do not retry in step; :meth:`reset` after a success."""

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return base * (1.0 + self.jitter * (2.0 * self.rng.random() - 1.0))

    def reset(self) -> None:
        self.attempts = 0


def run_while(alive: Callable[[], bool], duration_s: float | None, poll_s: float = 0.1) -> None:
    """The command-line wait of a driver: until its reader stops, ``duration_s`` has passed
    (None: no limit) or Ctrl-C, which is told and not raised."""
    start = time.monotonic()
    try:
        while alive():
            if duration_s is not None and time.monotonic() - start >= duration_s:
                return
            time.sleep(poll_s)
    except KeyboardInterrupt:
        print("\nstopped (Ctrl-C)")
