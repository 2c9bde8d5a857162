"""The live engine: LSL sources → pipeline → outlets, in a worker thread, with snapshots.

The acquisition loop pulls every source without blocking, feeds the pipeline, publishes frames,
sleeps to the next deadline and counts overruns. The GUI and terminal views never touch the
pipeline: they call :meth:`Engine.snapshot`, which copies the latest state under a short lock.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pylsl

from .config import EngineConfig
from .cues import Cue
from .dsp import warm_up
from .dsp.ringbuffer import RingBuffer
from .outlets import EngineOutlets, event_rows, frame_block, state_messages
from .pipeline import Frame, Pipeline, PipelineOutput
from .recorder import SessionRecorder
from .sources.lsl import LslSource
from .state import ZONE_CODE

HISTORY_SERIES = (
    "time_s",
    "arousal",
    "zone_code",
    "confidence",
    "hr_bpm",
    "rmssd_ms",
    "scl_us",
    "scr_per_min",
    "resp_rate_bpm",
)
RAW_SECONDS = 30.0


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


class Engine:
    """Run the pipeline on live LSL sources in a background thread.

    Parameters
    ----------
    sources : dict
        ``{modality: LslSource}``.
    config : EngineConfig
    baseline_window : (start_s, end_s), optional
    outlets_source_id : str or None
        Publish ``wot-*`` outlets with this source_id prefix; None disables them.
    period_s : float
        Loop period, s.
    stall_s : float
        A source silent this long (wall clock) is *lagging*; after 3× it is *lost*, and fusion
        stops waiting for it. The zone shown goes to ``unknown`` when no new frame has come for
        3× this long (the views and cues never act on stale data), and losing a source and
        getting it back are marked (:attr:`markers`, ``[engine] …``).
    recorder : SessionRecorder, optional
        Records the session (raw streams, engine outputs, placement decisions) into XDF; it is
        started with the engine and closed by :meth:`stop`.
    """

    def __init__(
        self,
        sources: dict[str, LslSource],
        config: EngineConfig | None = None,
        baseline_window: tuple[float, float] | None = None,
        outlets_source_id: str | None = "wot-engine",
        period_s: float = 0.02,
        stall_s: float = 1.0,
        history_s: float = 4 * 3600.0,
        recorder: SessionRecorder | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.sources = sources
        self.pipeline = Pipeline(
            {m: s.fs for m, s in sources.items()}, self.config, baseline_window
        )
        self.outlets = (
            EngineOutlets(outlets_source_id, self.config.frame_rate_hz)
            if outlets_source_id
            else None
        )
        self.period_s = period_s
        self.stall_s = stall_s
        self._frame_wall = math.nan  # monotonic time of the newest frame
        self._lost_at: dict[str, float] = {}  # modality -> monotonic time it was marked lost
        self.origin = math.nan
        self._t0: dict[str, float] = {}
        self._drop: dict[str, int] = {}
        self._n_in: dict[str, int] = {}  # samples fed per modality (gap fill included)
        self._lag: dict[str, float] = {}  # timestamp minus sample-count time (rate drift), s
        self.gaps_filled: dict[str, float] = {}  # seconds of NaN inserted per modality
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.overruns = 0
        self.frames_total = 0
        cap = int(history_s * self.config.frame_rate_hz)
        self._hist = {k: RingBuffer(cap) for k in HISTORY_SERIES}
        self._raw = {m: RingBuffer(int(RAW_SECONDS * s.fs)) for m, s in sources.items()}
        self._raw_t0: dict[str, float] = {}
        self._raw_times: dict[str, RingBuffer] = {}  # session times of irregular raw values
        self._marks: dict[str, list[float]] = {"rpeak": [], "scr": [], "breath": []}
        self._last: Frame | None = None
        self._last_cue: Cue | None = None
        self._frame_log: list[Frame] = []
        self._commands: list[tuple[str, Any]] = []
        self.markers: list[tuple[float, str]] = []  # (session s, text) of therapist annotations
        self.recorder = recorder
        self.baseline_window = baseline_window
        self._n_recv: dict[str, int] = {}  # samples received per modality after the drop
        self._zone_logged = ""

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("engine already started")
        # compile the kernels before the first chunk (a cached start takes a fraction of a s)
        warm_up(tuple(self.sources))
        if self.recorder is not None:
            for src in self.sources.values():
                src.record = True
            self._open_recording(self.recorder)
        self._thread = threading.Thread(target=self._run, name="wot-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for s in self.sources.values():
            s.close()
        if self.recorder is not None:
            end = {
                "frames": self.frames_total,
                "session_s": self._last.time_s if self._last is not None else 0.0,
                "overruns": self.overruns,
                "gaps_filled_s": dict(self.gaps_filled),
                "error": None if self.error is None else repr(self.error),
            }
            self._guard(self.recorder.stop, timeout, end)

    # recording ------------------------------------------------------------------------------
    def _open_recording(self, rec: SessionRecorder) -> None:
        from .outlets import features_header, marker_header

        for m, src in self.sources.items():
            rec.add_stream(m, src.header_xml())
        rec.add_stream(
            "wot-features", features_header("wot-rec", self.config.frame_rate_hz), local=True
        )
        for name in ("wot-state", "wot-cues", "wot-markers", "wot-events"):
            rec.add_stream(name, marker_header(name, f"wot-rec-{name}"), "string", local=True)
        st = self.pipeline.state
        rec.event(
            {
                "event": "engine",
                "parameters": self.config.to_dict(),
                "baseline_window": self.baseline_window,
                "baseline": st.baseline.to_dict() if st.baseline is not None else None,
                "sources": {
                    m: {
                        "name": s.name,
                        "type": s.info.type(),
                        "source_id": s.info.source_id(),
                        "fs": s.fs,
                        "channel": s.channel,
                        "scale": s.scale,
                        "unit": s.unit,
                    }
                    for m, s in self.sources.items()
                },
            }
        )
        rec.start()

    def _record_event(self, record: dict[str, Any]) -> None:
        if self.recorder is not None:
            self._guard(self.recorder.event, record)

    def _guard(self, fn: Any, *args: Any) -> None:
        """Run a recording step; a failure is reported by the recorder, never raised: a
        recording problem must not stop the session."""
        try:
            fn(*args)
        except Exception as exc:
            assert self.recorder is not None
            self.recorder.report(exc)

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # commands (thread-safe; applied by the worker) -----------------------------------------
    def calibrate_now(self, duration_s: float = 60.0) -> None:
        """Start a new baseline of ``duration_s`` from the next frame the engine makes."""
        with self._lock:
            self._commands.append(("calibrate", float(duration_s)))

    def mute_cues(self, muted: bool) -> None:
        with self._lock:
            self._commands.append(("mute", bool(muted)))

    def send_cue(self, text: str | None = None) -> None:
        with self._lock:
            self._commands.append(("cue", text))

    def add_marker(self, text: str) -> None:
        """Therapist annotation: kept with the session (:attr:`markers`, ``Snapshot.extra``)
        at the current session time, and published on ``wot-markers`` with the LSL time."""
        with self._lock:
            t = self._last.time_s if self._last is not None else 0.0
            self.markers.append((t, str(text)))
        now = pylsl.local_clock()
        if self.outlets is not None:
            self.outlets.push_marker(text, now)
        if self.recorder is not None:
            self._guard(self.recorder.strings, "wot-markers", [now], [str(text)])
            # its place on the session (data) clock: the LSL stamp above is wall-clock time,
            # which runs slower than the data in an accelerated demo or replay
            self._record_event({"event": "marker", "time_s": t, "text": str(text)})

    # worker ---------------------------------------------------------------------------------
    def _run(self) -> None:
        next_t = time.monotonic()
        try:
            while not self._stop.is_set():
                self._step()
                next_t += self.period_s
                delay = next_t - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    self.overruns += 1
                    next_t = time.monotonic()
        except BaseException as exc:  # never die silently: the snapshot reports it
            self.error = exc
            raise

    def _session_time(self, modality: str, ts: np.ndarray) -> float:
        if math.isnan(self.origin):
            self._set_origin(float(ts[0]))
        if modality not in self._t0:
            # clock-correction jitter (µs) must not move frames by a sample: keep ms resolution
            t0 = round((float(ts[0]) - self.origin) * 1000.0) / 1000.0
            fs = self.sources[modality].fs
            drop = max(0, math.ceil(-t0 * fs - 1e-9))
            self._drop[modality] = drop
            self._t0[modality] = t0 + drop / fs
            self._record_event(
                {"event": "stream_start", "modality": modality, "t0": t0 + drop / fs, "drop": drop}
            )
        return self._t0[modality]

    def _set_origin(self, t: float) -> None:
        """Session time 0 on the LSL clock: the first time stamp the engine received."""
        self.origin = t
        self._record_event({"event": "origin", "lsl_time": t})

    def _step(self) -> None:
        self._apply_commands()
        frames: list[Frame] = []
        for m, src in self.sources.items():
            got = src.pull()
            if self.recorder is not None and got.raw is not None and len(got.raw):
                self._guard(self._record_raw, m, src, got)
            if got.data.size == 0:
                continue
            data = got.data
            if m == "rr":
                # irregular: each interval comes with the time of its closing beat; the RR
                # channel anchors its beats on those (session) times
                if math.isnan(self.origin):
                    self._set_origin(float(got.timestamps[0]))
                if m not in self._t0:
                    self._t0[m] = 0.0
                    self._record_event(
                        {"event": "stream_start", "modality": m, "t0": 0.0, "drop": 0}
                    )
                self._drop[m] = 0
            t0 = self._session_time(m, got.timestamps)
            if self._drop.get(m, 0):
                k = min(self._drop[m], len(data))
                data = data[k:]
                self._drop[m] -= k
                if len(data) == 0:
                    continue
            stamps = None
            if m == "rr":
                stamps = got.timestamps - self.origin
            else:
                data = self._fill_gap(m, t0, got.timestamps[-len(data) :], data)
            out = self.pipeline.push(m, data, t0, stamps)
            frames.extend(out.frames)
            if self.recorder is not None:
                self._guard(self._record_events, out)
            if data.ndim == 2:
                # ACC: show its breathing surrogate (the first axis while it is ignored)
                data = getattr(self.pipeline.channels.get(m), "surrogate", data[:, 0])
            with self._lock:
                self._raw[m].write(data)
                self._raw_t0[m] = t0
                if stamps is not None:  # irregular (RR): keep each value's own session time
                    self._raw_times.setdefault(m, RingBuffer(self._raw[m].capacity)).write(
                        np.asarray(stamps, dtype=np.float64)
                    )
                for ev in out.events.values():  # ACC breaths come keyed "resp"
                    for key, name in (
                        ("rpeak_time", "rpeak"),
                        ("scr_peak_time", "scr"),
                        ("breath_onset_time", "breath"),
                    ):
                        if key in ev and len(ev[key]):
                            self._marks[name].extend(ev[key].tolist())
        # a lost source must not freeze the others: fuse past it
        lost = [m for m in self.sources if self._status(m).state == "lost"]
        if lost and len(lost) < len(self.sources):
            for m in lost:
                if m not in self.pipeline.ended:
                    self._record_event(
                        {"event": "lost", "modality": m, "frame": self.pipeline.next_frame}
                    )
                self.pipeline.end(m)
        for m in self.sources:
            if m in self.pipeline.ended and self._status(m).state == "ok":
                self.pipeline.resume(m)
                self._record_event(
                    {"event": "resume", "modality": m, "frame": self.pipeline.next_frame}
                )
        frames.extend(self.pipeline.fuse_ready())
        if frames:
            self._publish(frames)
        self._mark_lost_and_back()

    def _mark_lost_and_back(self) -> None:
        """Put a stream that is lost, and its return, on the session's markers (and so on the
        ``wot-markers`` outlet, in the recording and in the report's timeline)."""
        now = time.monotonic()
        for m in self.sources:
            st = self._status(m)
            if st.state == "lost" and m not in self._lost_at:
                self._lost_at[m] = now - st.since_last_s
                self.add_marker(f"[engine] {m} signal lost (no data for {st.since_last_s:.1f} s)")
            elif st.state == "ok" and m in self._lost_at:
                gone = now - self._lost_at.pop(m)
                self.add_marker(f"[engine] {m} signal back after {gone:.1f} s")

    def _fill_gap(self, m: str, t0: float, ts: np.ndarray, data: np.ndarray) -> np.ndarray:
        """A stream that paused and resumed: mark the missing stretch as NaN (a gap).

        Channels count samples, so without this the samples after a pause would be placed too
        early; with it, the detectors see a gap (no beats invented, quality 0) at the right
        place on the session clock.
        """
        fs = self.sources[m].fs
        n_in = self._n_in.get(m, 0)
        expected = t0 + n_in / fs  # session time the next sample should have
        lag = (float(ts[0]) - self.origin) - expected
        # a device whose true rate differs from its nominal one drifts slowly: follow that,
        # and fill only a sudden jump (a pause) beyond the drift seen so far
        jump = lag - self._lag.get(m, lag)
        n_fill = round(jump * fs) if jump > max(0.5, 10.0 / fs) else 0
        n_recv = self._n_recv.get(m, 0)
        self._n_recv[m] = n_recv + len(data)
        if n_fill > 0:
            # "t": the (corrected) time stamp of the first sample after the gap, so a reader
            # can find the gap by time even where damage has cost it samples before
            self._record_event(
                {"event": "gap", "modality": m, "after": n_recv, "n": n_fill, "t": float(ts[0])}
            )
            data = np.concatenate((np.full((n_fill, *data.shape[1:]), np.nan), data))
            self.gaps_filled[m] = self.gaps_filled.get(m, 0.0) + n_fill / fs
            lag -= n_fill / fs
        self._lag[m] = lag
        self._n_in[m] = n_in + len(data)
        return data

    def _apply_commands(self) -> None:
        with self._lock:
            cmds, self._commands = self._commands, []
        now = self._last.time_s if self._last else 0.0
        for cmd, arg in cmds:
            if cmd == "calibrate":
                # from the next frame (frame 0 when none has been made yet)
                start = self.pipeline.next_frame / self.pipeline.frame_rate
                self.pipeline.schedule_recalibration(start, start + arg)
                self._record_event({"event": "calibrate", "start_s": start, "end_s": start + arg})
            elif cmd == "mute":
                self.pipeline.cues.muted = arg
                self._record_event({"event": "mute", "muted": arg, "time_s": now})
            elif cmd == "cue":
                zone = self._last.state.zone if self._last else "within"
                cue = self.pipeline.cues.send_now(now, zone, arg)
                self._last_cue = cue
                if self.outlets is not None and not math.isnan(self.origin):
                    self.outlets.push_cue(cue, self.origin)
                if self.recorder is not None and not math.isnan(self.origin):
                    self._guard(
                        self.recorder.strings,
                        "wot-cues",
                        [self.origin + cue.time_s],
                        [json.dumps(cue.to_dict())],
                    )

    def _record_raw(self, m: str, src: LslSource, got: Any) -> None:
        assert self.recorder is not None
        for t, off in src.new_offsets:  # before the samples they apply to
            self.recorder.clock_offset(m, t, off)
        src.new_offsets.clear()
        stamps = got.timestamps if got.raw_timestamps is None else got.raw_timestamps
        self.recorder.samples(m, stamps - got.clock_offset, got.raw)

    def _record_events(self, out: PipelineOutput) -> None:
        assert self.recorder is not None
        times, texts = event_rows(out.events, self.origin)
        if texts:
            self.recorder.strings("wot-events", times, texts)

    def _record_frames(self, frames: list[Frame]) -> None:
        assert self.recorder is not None
        rec = self.recorder
        times = self.origin + np.array([f.time_s for f in frames])
        rec.samples("wot-features", times, frame_block(frames))
        msgs, self._zone_logged = state_messages(frames, self._zone_logged)
        if msgs:
            rec.strings("wot-state", [self.origin + t for t, _ in msgs], [j for _, j in msgs])
        cues = [f.cue for f in frames if f.cue is not None]
        if cues:
            rec.strings(
                "wot-cues",
                [self.origin + c.time_s for c in cues],
                [json.dumps(c.to_dict()) for c in cues],
            )

    def _publish(self, frames: list[Frame]) -> None:
        self._frame_wall = time.monotonic()
        if self.outlets is not None:
            self.outlets.push_frames(frames, self.origin)
        if self.recorder is not None:
            self._guard(self._record_frames, frames)
        cols = {k: np.empty(len(frames)) for k in HISTORY_SERIES}
        for i, f in enumerate(frames):
            cols["time_s"][i] = f.time_s
            cols["arousal"][i] = f.state.arousal
            cols["zone_code"][i] = ZONE_CODE[f.state.zone]
            cols["confidence"][i] = f.state.confidence
            for k in ("hr_bpm", "rmssd_ms", "scl_us", "scr_per_min", "resp_rate_bpm"):
                cols[k][i] = f.features.get(k, np.nan)
        with self._lock:
            for k, v in cols.items():
                self._hist[k].write(v)
            self._last = frames[-1]
            for f in frames:
                if f.cue is not None:
                    self._last_cue = f.cue
            self.frames_total += len(frames)
            self._frame_log.extend(frames)
            horizon = frames[-1].time_s - RAW_SECONDS
            for name, lst in self._marks.items():
                if lst and lst[0] < horizon:
                    self._marks[name] = [t for t in lst if t >= horizon]

    def _status(self, m: str) -> StreamStatus:
        src = self.sources[m]
        if src.n_samples == 0:
            state, since = "waiting", math.inf
        else:
            since = time.monotonic() - src.last_wall
            # an RR stream delivers one value per beat: allow for slow heart rates
            stall = self.stall_s * (3.0 if getattr(src, "irregular", False) else 1.0)
            state = "ok" if since < stall else ("lagging" if since < 3 * stall else "lost")
        note = getattr(src, "note", "")
        # what the channel found in the signal itself (e.g. EDA contact lost, saturation)
        issue = getattr(self.pipeline.channels.get(m), "issue", "")
        same = "check the unit" in issue and "check the unit" in note  # said once is enough
        if issue and issue not in note and not same:
            note = f"{note}; {issue}" if note else issue
        return StreamStatus(m, src.name, src.fs, src.unit, state, since, src.n_samples, note)

    def drain_frames(self) -> list[Frame]:
        """Frames produced since the last call (for recorders and tests)."""
        with self._lock:
            out, self._frame_log = self._frame_log, []
        return out

    def snapshot(self, history_s: float = 600.0) -> Snapshot:
        """Copy the current state for a view."""
        n_hist = int(history_s * self.config.frame_rate_hz)
        with self._lock:
            hist = {k: rb.peek(n_hist)[0] for k, rb in self._hist.items()}
            raw = {}
            for m, rb in self._raw.items():
                x, start = rb.peek(rb.capacity)
                if m in self._raw_times:
                    t = self._raw_times[m].peek(x.size)[0]
                else:
                    fs = self.sources[m].fs
                    t = self._raw_t0.get(m, 0.0) + (start + np.arange(x.size)) / fs
                raw[m] = (t, x)
            marks = {k: np.asarray(v) for k, v in self._marks.items()}
            last = self._last
            cue = self._last_cue
            markers = list(self.markers)
        zc = self.config.zones
        st = self.pipeline.state
        streams = {m: self._status(m) for m in self.sources}
        # what the zone fields say: the last decision, unless there is none or it is stale
        if last is None:
            waiting = [m for m in self.sources if self.sources[m].n_samples == 0]
            message = "waiting for " + ", ".join(waiting) if waiting else "starting"
            now, zone, arousal, conf, drivers = 0.0, "unknown", math.nan, 0.0, []
            explanation = f"unknown: {message}"
        else:
            message = st.message
            now, zone, arousal, conf = (
                last.time_s,
                last.state.zone,
                last.state.arousal,
                last.state.confidence,
            )
            explanation, drivers = last.state.explanation, list(last.state.drivers)
            age = time.monotonic() - self._frame_wall
            if all(s.state == "lost" for s in streams.values()):
                # no new frames can come: never keep showing the last zone as if it were current
                zone, arousal, conf, drivers = "unknown", math.nan, 0.0, []
                explanation = "unknown: all signals lost; check the sensors"
            elif age > 3.0 * self.stall_s:
                # frames wait for a lagging stream: the last decision is stale, never shown
                slow = [m for m, s in streams.items() if s.state != "ok"]
                zone, arousal, conf, drivers = "unknown", math.nan, 0.0, []
                explanation = f"unknown: no new data for {age:.1f} s" + (
                    f" (waiting for {', '.join(slow)})" if slow else ""
                )
        return Snapshot(
            session_s=now,
            zone=zone,
            arousal=arousal,
            confidence=conf,
            explanation=explanation,
            drivers=drivers,
            features=dict(last.features) if last is not None else {},
            calibrating=last is None or st.calibrator is not None,
            message=message,
            window=(zc.lower, zc.upper),
            cue=cue,
            history=hist,
            raw=raw,
            marks=marks,
            streams=streams,
            n_frames=self.frames_total,
            overruns=self.overruns,
            error=None if self.error is None else repr(self.error),
            extra={
                "markers": markers,
                "cues_muted": self.pipeline.cues.muted,
                "recording": self.recorder.status() if self.recorder is not None else None,
            },
        )
