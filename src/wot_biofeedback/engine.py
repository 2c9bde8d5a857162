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
from collections import deque
from typing import Any

import numpy as np
import pylsl

from .clock import SessionClock
from .config import EngineConfig
from .cues import Cue
from .dsp import warm_up
from .dsp.ringbuffer import RingBuffer
from .outlets import EngineOutlets, event_rows, frame_block, state_messages
from .pipeline import Frame, Pipeline, PipelineOutput
from .recorder import SessionRecorder
from .session_log import (
    Calibrate,
    End,
    EngineStart,
    Lost,
    Marker,
    Mute,
    Origin,
    Resume,
    SessionEvent,
    StreamStart,
)
from .snapshot import HISTORY_WINDOW_S, Snapshot, StreamStatus  # re-exported: engine.Snapshot
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
REPEAT_AFTER_S = 2.0
"""The session clock's start is written again this long after it was first written, s."""
FRAME_BUFFER_S = 1800.0
"""Frames kept for :meth:`Engine.frames_since`, s of session (4 Hz: 7,200 frames, ~14 MB)."""


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
        frame_buffer_s: float = FRAME_BUFFER_S,
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
        self.clock = SessionClock(
            {m: s.fs for m, s in sources.items()},
            [m for m, s in sources.items() if getattr(s, "irregular", False) or m == "rr"],
            self._emit,
        )
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
        # the newest frames, for :meth:`frames_since` (bounded: a long session keeps flat memory)
        keep = max(1, int(frame_buffer_s * self.config.frame_rate_hz))
        self._frame_buf: deque[Frame] = deque(maxlen=keep)
        self._commands: list[tuple[str, Any]] = []
        self.markers: list[tuple[float, str]] = []  # (session s, text) of therapist annotations
        self.recorder = recorder
        self.baseline_window = baseline_window
        self._zone_logged = ""
        self._drained = 0
        self._repeat: list[tuple[float, SessionEvent]] = []  # (when, event) to write again

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
            end = End(
                self.frames_total,
                self._last.time_s if self._last is not None else 0.0,
                self.overruns,
                dict(self.gaps_filled),
                None if self.error is None else repr(self.error),
            )
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
            EngineStart(
                parameters=self.config.to_dict(),
                baseline_window=self.baseline_window,
                baseline=st.baseline.to_dict() if st.baseline is not None else None,
                sources={
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
            )
        )
        rec.start()

    def _emit(self, event: SessionEvent) -> None:
        """A decision about the session: into the recording's session log. Where the session
        clock starts is written twice, a few flushes apart, so damage to the file at its very
        start (where the first chunks of every stream are) cannot take it."""
        if self.recorder is not None:
            self._guard(self.recorder.event, event)
            if isinstance(event, Origin | StreamStart):
                self._repeat.append((time.monotonic() + REPEAT_AFTER_S, event))

    def _emit_repeats(self) -> None:
        now = time.monotonic()
        while self._repeat and self._repeat[0][0] <= now:
            _, event = self._repeat.pop(0)
            if self.recorder is not None:
                self._guard(self.recorder.event, event)

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
            self._emit(Marker(t, str(text)))

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

    def _step(self) -> None:
        self._apply_commands()
        frames: list[Frame] = []
        pulled = {m: src.pull() for m, src in self.sources.items()}
        for m, got in pulled.items():
            if self.recorder is not None and got.raw is not None and len(got.raw):
                self._guard(self._record_raw, m, self.sources[m], got)
        firsts = [float(g.timestamps[0]) for g in pulled.values() if g.data.size]
        if firsts:
            # session time 0: the earliest sample of the first pull that brought any
            self.clock.set_origin(min(firsts))
        for m, got in pulled.items():
            if got.data.size == 0:
                continue
            if m in self.pipeline.ended:
                # a stream given up on delivers again: wait for it from the next frame on,
                # before its samples are fused (so the frames fused without it are exactly
                # those from its last delivered frame to here, as the recording says)
                self.pipeline.resume(m)
                self._emit(Resume(m, self.pipeline.next_frame))
            placed = self.clock.place(m, got.timestamps, got.data)
            if placed is None:
                continue
            data, t0, stamps = placed.data, placed.t0, placed.stamps
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
                    ch = self.pipeline.channels.get(m)
                    nxt = self.pipeline.next_frame
                    self._emit(Lost(m, nxt, max(nxt, ch.next_frame) if ch else nxt))
                    self.pipeline.end(m)
        frames.extend(self.pipeline.fuse_ready())
        if frames:
            self._publish(frames)
        self._mark_lost_and_back()
        if self._repeat:
            self._emit_repeats()

    @property
    def origin(self) -> float:
        """Session time 0 on the LSL clock: the first time stamp the engine received."""
        return self.clock.origin

    @property
    def gaps_filled(self) -> dict[str, float]:
        """Seconds of NaN inserted per modality where a stream paused."""
        return self.clock.gaps_filled

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

    def _apply_commands(self) -> None:
        with self._lock:
            cmds, self._commands = self._commands, []
        now = self._last.time_s if self._last else 0.0
        for cmd, arg in cmds:
            if cmd == "calibrate":
                # from the next frame (frame 0 when none has been made yet)
                start = self.pipeline.next_frame / self.pipeline.frame_rate
                self.pipeline.schedule_recalibration(start, start + arg)
                self._emit(Calibrate(start, start + arg))
            elif cmd == "mute":
                self.pipeline.cues.muted = arg
                self._emit(Mute(arg, now))
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
            self._frame_buf.extend(frames)
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

    def frames_since(self, cursor: int = 0) -> tuple[list[Frame], int]:
        """The frames made since ``cursor`` (a frame count returned by an earlier call; 0: the
        oldest kept) and the cursor to pass next time. Only the newest ``frame_buffer_s`` of
        frames are kept: a reader that falls further behind gets what is left."""
        with self._lock:
            first = self.frames_total - len(self._frame_buf)
            skip = max(0, cursor - first)
            out = list(self._frame_buf)[skip:] if skip < len(self._frame_buf) else []
            return out, self.frames_total

    def drain_frames(self) -> list[Frame]:
        """Every kept frame not drained before (tests, benchmarks); see :meth:`frames_since`."""
        out, self._drained = self.frames_since(self._drained)
        return out

    def snapshot(self, history_since: int | None = None) -> Snapshot:
        """Copy the current state for a view.

        ``history_since`` is the view's history cursor (the ``history_cursor`` of its previous
        snapshot; 0 for every row kept): ``history`` then holds only the rows written since.
        None: the last ``HISTORY_WINDOW_S`` of rows. See :mod:`wot_biofeedback.snapshot`.
        """
        with self._lock:
            # the history rings are written together under this lock: one row count for all
            written = self._hist["time_s"].write_index
            if history_since is None:
                history_since = written - int(HISTORY_WINDOW_S * self.config.frame_rate_hz)
            hist = {k: rb.read_since(max(0, history_since))[0] for k, rb in self._hist.items()}
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
            history_start=written - hist["time_s"].size,
            history_cursor=written,
        )
