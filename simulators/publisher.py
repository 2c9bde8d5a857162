"""Publish a simulated session as real Lab Streaming Layer (LSL) streams.

Four outlets are opened, named ``{name_prefix}-ECG``, ``-EDA``, ``-RESP`` (float32, one channel,
nominal rate = the session's rate; units mV, uS and a.u. in the channel metadata) and
``{name_prefix}-truth`` (irregular-rate string markers). Their source ids are
``{source_id}-ecg``, ``-eda``, ``-resp`` and ``-truth``. Optionally (``streams``) a chest
accelerometer ``{name_prefix}-ACC`` (type ``ACC``, three float32 channels x, y, z in g, from
:func:`wot_simulators.acc.chest_acc`, source id ``{source_id}-acc``) is added, and the belt can
be left out.

Timing
------
A background thread wakes every ``chunk_s`` wall-clock seconds, on deadlines computed from the
start time (so sleeping never accumulates drift), and pushes every sample whose data time
``n / fs`` is at most ``(now - start) * speed``.

The LSL timestamp of sample ``n`` is exactly ``t0 + n / fs``, where ``t0`` is
``pylsl.local_clock()`` at :meth:`SimulatorPublisher.start`: timestamps follow the *data* clock.
At ``speed != 1`` they therefore run faster (or slower) than the wall clock, but all streams stay
exactly aligned with each other and with the truth markers, which is what accelerated tests
need. With ``loop=True`` the session restarts from the beginning and timestamps continue
(loop ``k`` is offset by ``k * duration_s``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pylsl

from wot_biofeedback.modalities import MODALITIES as MODS

from ._thread import QUIET_S, PublisherThread, StartClock
from .acc import chest_acc
from .physiology import MODALITIES, SimulatedSession

STREAMS = (*MODALITIES, "acc")
_STREAM = {
    # modality: (name suffix, LSL type, channel labels, unit)
    m: (
        MODS[m].lsl_type,
        MODS[m].lsl_type,
        ("x", "y", "z") if MODS[m].width == 3 else (MODS[m].lsl_type,),
        MODS[m].unit,
    )
    for m in STREAMS
}
"""Streams a publisher can open (besides the truth markers)."""


def _describe(info: pylsl.StreamInfo, session: SimulatedSession, subject: str | None) -> None:
    desc = info.desc()
    if subject:
        desc.append_child_value("subject", subject)  # whose signals these are
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "wot-biofeedback")
    acq.append_child_value("model", "simulator")
    scen = desc.append_child("scenario")
    scen.append_child_value("name", session.scenario.name)
    scen.append_child_value("seed", str(session.config.seed))
    scen.append_child_value("duration_s", f"{session.duration_s:g}")


def _stream_info(
    session: SimulatedSession,
    modality: str,
    name_prefix: str,
    source_id: str,
    fs: float,
    subject: str | None = None,
) -> pylsl.StreamInfo:
    suffix, stype, labels, unit = _STREAM[modality]
    info = pylsl.StreamInfo(
        f"{name_prefix}-{suffix}",
        stype,
        len(labels),
        fs,
        pylsl.cf_float32,
        f"{source_id}-{modality}",
    )
    chans = info.desc().append_child("channels")
    for label in labels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", stype)
    _describe(info, session, subject)
    return info


def _truth_info(
    session: SimulatedSession, name_prefix: str, source_id: str, subject: str | None = None
) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo(
        f"{name_prefix}-truth",
        "Markers",
        1,
        pylsl.IRREGULAR_RATE,
        pylsl.cf_string,
        f"{source_id}-truth",
    )
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", "truth")
    ch.append_child_value("type", "Markers")
    _describe(info, session, subject)
    return info


class SimulatorPublisher(PublisherThread):
    """Publish a SimulatedSession as LSL streams in a background thread.

    Parameters
    ----------
    session : SimulatedSession
        What to play.
    source_id : str
        Prefix of the outlets' source ids (``{source_id}-ecg``, ``-eda``, ``-resp``, ``-truth``).
        Use a unique one in tests so parallel runs never see each other's streams.
    name_prefix : str
        Prefix of the stream names (``{name_prefix}-ECG`` ...).
    chunk_s : float
        Wall-clock period between pushes, s.
    speed : float
        Playback speed: data seconds per wall-clock second (> 0).
    loop : bool
        Restart from the beginning when the session ends (timestamps keep increasing).
    wait_for_consumers : float
        If > 0, hold data time 0 until every outlet (including the truth markers) has a
        consumer, or this many seconds have passed. LSL only delivers samples pushed after an
        inlet connected, so this is how a consumer gets the very first samples and the first
        truth marker. ``t0_lsl`` is then taken when playback begins.
    quiet_s : float
        With ``wait_for_consumers``: once the signal outlets have consumers, how long to wait
        for one on the truth markers too (default 1 s, for a recorder started beside the
        engine; 0 where the engine is the only consumer, as in ``wot demo``).
    streams : tuple of str
        Which signal outlets to open, from ``ecg``, ``eda``, ``resp`` and ``acc`` (a chest
        accelerometer synthesised from the session, seeded by the session's seed); the truth
        markers are always published.
    acc_fs : float
        Sampling rate of the ``acc`` stream, Hz.
    until_s : float, optional
        Play only the session's first ``until_s`` seconds of data, then finish as at the end
        of the session (not with ``loop``). A consumer that stops at a session time then gets
        no more than that, however late it looks.
    start_clock : StartClock, optional
        Shared with the publishers of the other people of one session (a dyad): data time 0
        is the same LSL time for all, the first to begin fixes it, and one whose consumers
        come later catches up at once (:class:`~wot_simulators._thread.StartClock`).

    Notes
    -----
    The outlets are created in :meth:`start`, so streams can be resolved as soon as it returns,
    and stay open after the end of the session until :meth:`stop`, so consumers can drain
    them. Timestamps follow the data clock; see the module docstring. If the thread fails, the
    exception is kept in :attr:`error`, :attr:`finished` becomes True and :meth:`stop`
    re-raises it.
    """

    _kind = "simulator publisher"

    def __init__(
        self,
        session: SimulatedSession,
        *,
        source_id: str = "wot-sim",
        name_prefix: str = "wot-sim",
        chunk_s: float = 0.04,
        speed: float = 1.0,
        loop: bool = False,
        wait_for_consumers: float = 0.0,
        streams: tuple[str, ...] = MODALITIES,
        acc_fs: float = 50.0,
        subject: str | None = None,
        until_s: float | None = None,
        quiet_s: float = QUIET_S,
        start_clock: StartClock | None = None,
    ) -> None:
        bad = [m for m in streams if m not in STREAMS]
        if bad or not streams:
            raise ValueError(f"streams {streams!r} must be a non-empty subset of {STREAMS}")
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed {speed!r} must be > 0")
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise ValueError(f"chunk_s {chunk_s!r} must be > 0 s")
        if until_s is not None and (loop or not (math.isfinite(until_s) and until_s > 0)):
            raise ValueError(f"until_s {until_s!r} must be > 0 s, and without loop")
        self.until_s = None if until_s is None else float(until_s)
        self.session = session
        self.subject = subject
        self.source_id = source_id
        self.name_prefix = name_prefix
        self.chunk_s = float(chunk_s)
        self.speed = float(speed)
        self.loop = loop
        self._init_thread(wait_for_consumers, quiet_s, start_clock)
        self._outlets: dict[str, pylsl.StreamOutlet] = {}
        self.streams = tuple(dict.fromkeys(streams))
        # float32 copies once, so pushes are plain slices
        self._data = {
            m: session.signal(m).astype(np.float32)[:, None]
            for m in self.streams
            if m in MODALITIES
        }
        self._fs = {m: session.fs(m) for m in self.streams if m in MODALITIES}
        if "acc" in self.streams:
            acc = chest_acc(session, acc_fs, seed=session.config.seed)
            self._data["acc"] = acc.astype(np.float32)
            self._fs["acc"] = float(acc_fs)
        bounds = session.scenario.segment_bounds()
        self._markers = [
            (
                start,
                json.dumps({"zone": seg.zone, "segment": seg.name, "level": seg.level}),
            )
            for start, _, seg in bounds
        ]

    # outlets --------------------------------------------------------------------------------
    def _open(self) -> tuple[list[pylsl.StreamOutlet], list[pylsl.StreamOutlet]]:
        for m in self.streams:
            info = _stream_info(
                self.session, m, self.name_prefix, self.source_id, self._fs[m], self.subject
            )
            self._outlets[m] = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)
        self._outlets["truth"] = pylsl.StreamOutlet(
            _truth_info(self.session, self.name_prefix, self.source_id, self.subject)
        )
        # an engine takes the signals; the truth markers are waited for only briefly
        signals = [o for m, o in self._outlets.items() if m != "truth"]
        return signals, list(self._outlets.values())

    def _close_outlets(self) -> None:
        self._outlets.clear()

    # thread ---------------------------------------------------------------------------------
    def _publish(self) -> None:
        dur = self.session.duration_s
        sent = dict.fromkeys(self.streams, 0)  # samples pushed, over all loops
        n_per_loop = {m: self._data[m].shape[0] for m in self.streams}
        if self.until_s is not None and self.until_s < dur:  # the first until_s s only
            dur = self.until_s
            n_per_loop = {
                m: min(n, math.floor(dur * self._fs[m] + 1e-9) + 1) for m, n in n_per_loop.items()
            }
        markers_sent = 0  # over all loops
        start = self.t0_lsl
        tick = 0
        while not self._stop.is_set():
            now = pylsl.local_clock()
            t_data = (now - start) * self.speed
            if not self.loop:
                t_data = min(t_data, dur)
            done = self._push_due(t_data, dur, sent, n_per_loop)
            markers_sent = self._push_markers(t_data, dur, markers_sent)
            self._position = t_data
            if done and not self.loop:
                break
            # sleep to the next deadline on the start-anchored grid (skip missed ones)
            tick = max(tick + 1, int((pylsl.local_clock() - start) / self.chunk_s) + 1)
            self._stop.wait(max(0.0, start + tick * self.chunk_s - pylsl.local_clock()))

    def _push_due(
        self, t_data: float, dur: float, sent: dict[str, int], n_per_loop: dict[str, int]
    ) -> bool:
        """Push every sample with data time <= t_data; True when all of a single pass is out."""
        all_done = True
        for m in self.streams:
            fs, n_loop, x = self._fs[m], n_per_loop[m], self._data[m]
            while self.loop or sent[m] < n_loop:
                lap, n = divmod(sent[m], n_loop)
                # sample n of lap k has data time k * dur + n / fs
                n_due = min(n_loop, math.floor((t_data - lap * dur) * fs + 1e-9) + 1)
                if n_due <= n:
                    break
                stamps = self.t0_lsl + lap * dur + np.arange(n, n_due) / fs
                self._outlets[m].push_chunk(x[n:n_due], stamps.tolist())
                sent[m] += n_due - n
                if n_due < n_loop or not self.loop:
                    break
            all_done = all_done and sent[m] >= n_loop
        return all_done

    def _push_markers(self, t_data: float, dur: float, sent: int) -> int:
        k = len(self._markers)
        while True:
            lap, i = divmod(sent, k)
            if lap > 0 and not self.loop:
                return sent
            t_mark, text = self._markers[i]
            if lap * dur + t_mark > t_data:
                return sent
            self._outlets["truth"].push_sample([text], self.t0_lsl + lap * dur + t_mark)
            sent += 1


def publish(
    session: SimulatedSession,
    *,
    duration: float | None = None,
    linger_s: float = 2.0,
    **publisher_options: Any,
) -> None:
    """Publish ``session`` as LSL streams and block until it has played out.

    Parameters
    ----------
    session : SimulatedSession
        What to play.
    **publisher_options
        ``source_id``, ``name_prefix``, ``chunk_s``, ``speed``, ``loop``,
        ``wait_for_consumers``, ``streams``, ``acc_fs``: as in :class:`SimulatorPublisher`.
    duration : float, optional
        Stop after this many wall-clock seconds even if not finished (required to end a
        ``loop=True`` run other than by Ctrl-C).
    linger_s : float
        Wall-clock seconds to keep the outlets open after the end, so consumers can drain them.

    Notes
    -----
    A KeyboardInterrupt (Ctrl-C) closes the streams and propagates to the caller.
    """
    publish_people({"": session}, duration=duration, linger_s=linger_s, **publisher_options)


def publish_people(
    people: Mapping[str, SimulatedSession],
    *,
    duration: float | None = None,
    linger_s: float = 2.0,
    source_id: str = "wot-sim",
    name_prefix: str = "wot-sim",
    **publisher_options: Any,
) -> None:
    """:func:`publish` for several people at once (a dyad): each person's streams under
    ``source_id-PERSON`` and ``name_prefix-PERSON`` (one person named ``""``: the prefixes
    as given); blocks until every session has played out."""
    subject = publisher_options.pop("subject", None)
    clock = StartClock()  # the people on one clock, however far apart their consumers come
    pubs = [
        SimulatorPublisher(
            sess,
            source_id=f"{source_id}-{who}" if who else source_id,
            name_prefix=f"{name_prefix}-{who}" if who else name_prefix,
            subject=who or subject,
            start_clock=clock,
            **publisher_options,
        )
        for who, sess in people.items()
    ]
    deadline = math.inf if duration is None else time.monotonic() + duration
    for pub in pubs:
        pub.start()
    try:
        while time.monotonic() < deadline:
            wait = min(0.2, max(deadline - time.monotonic(), 0.0))
            if all(pub.wait_finished(wait / len(pubs)) for pub in pubs):
                if all(pub.error is None for pub in pubs):
                    time.sleep(max(0.0, min(linger_s, deadline - time.monotonic())))
                break
    finally:
        for pub in pubs:
            pub.stop()
