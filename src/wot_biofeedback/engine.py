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
import traceback
from collections import deque
from itertools import islice
from typing import Any

import numpy as np
import pylsl

from . import modalities
from .clock import Chunk, SessionClock
from .config import EngineConfig
from .coregulation import INDEX_COLUMNS, SYNC_COLUMNS, LiveSynchrony, say_episode
from .cues import Cue
from .dsp import warm_up
from .dsp.ringbuffer import RingBuffer
from .errors import InputError
from .modalities import ROLES, SYNC_SIGNALS
from .outlets import EngineOutlets, event_rows, frame_block, state_messages
from .pipeline import Frame, Pipeline, channel_problem
from .recorder import SessionRecorder
from .resonance import (
    DEFAULT_RATES,
    SETTLE_S,
    STEP_S,
    LiveResonance,
    PacedStep,
    check_settle,
    protocol,
)
from .run import RunStats, run
from .session import Session, StepOutput, check_subject
from .session_log import (
    DEFAULT_SUBJECT,
    End,
    EngineStart,
    Marker,
    Mute,
    Origin,
    SessionEvent,
    StreamStart,
)
from .snapshot import HISTORY_WINDOW_S, Snapshot, StreamStatus  # re-exported: engine.Snapshot
from .sources.base import Batch
from .sources.lsl import LslSource, LslStreams, first_deliveries, stream_state
from .state import ZONE_CODE, Baseline

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
SYNC_STREAM = "wot-synchrony"
"""The recorded stream of the live synchrony's windows (several people)."""
FRAME_BUFFER_S = 1800.0
"""Frames kept for :meth:`Engine.frames_since`, s of session (4 Hz: 7,200 frames, ~14 MB)."""


def _merged(ev: dict[str, dict[str, list[np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """A step's events per channel, each key's chunk parts joined."""
    return {key: {k: np.concatenate(p) for k, p in d.items() if p} for key, d in ev.items()}


class Engine:
    """The session core on live LSL streams, in a background thread, with snapshots.

    The worker runs :func:`wot_biofeedback.run.run` (the loop every way in shares) on the
    inlets, paced; the engine is that loop's sink: it keeps what the views read, publishes the
    ``wot-*`` outlets and feeds the recorder.

    Parameters
    ----------
    sources : dict
        ``{modality: LslSource}`` for one person (subject ``client``), or
        ``{subject: {modality: LslSource}}`` for several (a therapist and a client, a group).
        The views and outlets show the first subject.
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
        Records the session (raw streams, engine outputs, the session log) into XDF; it is
        started with the engine and closed by :meth:`stop`.
    frame_buffer_s : float
        Session seconds of frames kept for :meth:`frames_since` (memory stays flat).
    baseline : Baseline, optional
        A ready baseline (a client profile's), which skips calibration.
    resonance : list of PacedStep, optional
        Run the resonance-frequency protocol (:class:`~wot_biofeedback.resonance.
        LiveResonance`) with these steps, session seconds; :meth:`start_resonance` starts one
        later. Each pacer change is a ``pacer R`` / ``pacer off`` marker at its scheduled
        session time (so the recording holds the protocol, and ``wot assess RECORDING
        --resonance`` repeats the assessment), the automatic cues are muted while it paces,
        and ``Snapshot.extra['resonance']`` holds its :meth:`~wot_biofeedback.resonance.
        LiveResonance.status`.
    resonance_settle_s : float
        Seconds left out at the start of each step.

    Every source is checked before the session starts: one the signal processing cannot run
    on (a rate outside the range its modality's DSP supports, or a stream the source itself
    found unusable, :attr:`LslSource.problem <wot_biofeedback.sources.lsl.LslSource.problem>`)
    is left out and kept in :attr:`unusable`: its status says why (state ``unusable``), the
    session log records it and a ``[engine] … cannot run`` marker names it, and the engine
    runs on the others. With no source that can run, :class:`~wot_biofeedback.errors.InputError`
    names each one's problem.
    """

    def __init__(
        self,
        sources: dict[str, LslSource] | dict[str, dict[str, LslSource]],
        config: EngineConfig | None = None,
        baseline_window: tuple[float, float] | None = None,
        outlets_source_id: str | None = "wot-engine",
        period_s: float = 0.02,
        stall_s: float = 1.0,
        history_s: float = 4 * 3600.0,
        recorder: SessionRecorder | None = None,
        frame_buffer_s: float = FRAME_BUFFER_S,
        baseline: Baseline | None = None,
        share_notes: bool = False,
        resonance: list[PacedStep] | None = None,
        resonance_settle_s: float = SETTLE_S,
    ) -> None:
        self.config = config or EngineConfig()
        self.resonance: LiveResonance | None = (
            LiveResonance(resonance, resonance_settle_s) if resonance else None
        )
        """The resonance-frequency protocol of this session (pacer steps in session seconds),
        if one is run: given here, or started by :meth:`start_resonance`."""
        self._res_status: dict[str, Any] | None = None
        self._res_shown = -math.inf  # session s its status was last made
        self._res_muted = False  # the protocol muted the automatic cues (and unmutes them)
        self._res_override = False  # the therapist muted or unmuted: the protocol leaves it
        self.resonance_runs: list[dict[str, Any]] = []
        """The results of the session's finished protocols, in order (the last is
        ``resonance.result``)."""
        self._resp_n = 0  # the first subject's breathing-belt samples placed so far
        self._sync_latest: dict[str, dict[str, dict[str, Any]]] = {}
        self._index_latest: dict[str, dict[str, Any]] = {}
        self._others: dict[str, dict[str, Any]] = {}  # the other people's newest state
        self.share_notes = share_notes
        """Whether a marker's note text goes out on ``wot-markers`` (off: the event and its
        time go out, the note stays in the recording on this machine)."""
        given: dict[tuple[str, str], LslSource] = {}
        for k, v in sources.items():
            if isinstance(v, dict):
                if not v:
                    raise ValueError(f"subject {k!r} has no streams")
                given.update({(check_subject(k), m): src for m, src in v.items()})
            else:
                given[(DEFAULT_SUBJECT, k)] = v
        if not given:
            raise ValueError("the engine needs at least one stream")
        several = len({sid for sid, _m in given}) > 1
        self.streams: dict[tuple[str, str], LslSource] = {}
        self.unusable: dict[tuple[str, str], tuple[LslSource, str]] = {}
        """``{(subject, modality): (source, why)}``: the streams that cannot run, left out."""
        for (sid, m), src in given.items():
            why = getattr(src, "problem", "") or channel_problem(m, src.fs, self.config)
            if why:
                self.unusable[(sid, m)] = (src, why)
            else:
                self.streams[(sid, m)] = src
        self._several = several
        for src, _why in self.unusable.values():
            src.close()  # it would buffer data nobody reads
        if not self.streams:
            raise InputError("no stream can run: " + "; ".join(self.problems()))
        self.subject_ids = list(dict.fromkeys(sid for sid, _m in self.streams))
        first = self.subject_ids[0]
        self.sources = {m: s for (sid, m), s in self.streams.items() if sid == first}
        """The first subject's streams by modality (what the views show)."""
        self.session = Session(
            {
                sid: {m: s.fs for (x, m), s in self.streams.items() if x == sid}
                for sid in self.subject_ids
            },
            self.config,
            baseline_window,
            baseline,
            emit=self._emit,
        )
        for subj in self.session.subjects.values():
            subj.pipeline.hold = True  # slow signals processed a frame at a time (Pipeline.hold)
        self.input = LslStreams(self.streams, stall_s)
        self.outlets = (
            EngineOutlets(outlets_source_id, self.config.frame_rate_hz, len(self.subject_ids) > 1)
            if outlets_source_id
            else None
        )
        self.period_s = period_s
        self.stall_s = stall_s
        self._frame_wall = math.nan  # monotonic time of the newest frame
        self._lost_at: dict[tuple[str, str], float] = {}  # stream -> monotonic time it was lost
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        """What ended the engine's thread early (None while it runs or after a normal stop,
        unless finishing the session at the stop failed: then that failure)."""
        self.error_traceback = ""
        self.stats = RunStats()
        self.frames_total = 0
        cap = int(history_s * self.config.frame_rate_hz)
        self._hist = {k: RingBuffer(cap) for k in HISTORY_SERIES}
        self._raw = {m: RingBuffer(int(RAW_SECONDS * s.fs)) for m, s in self.sources.items()}
        self._raw_t0: dict[str, float] = {}
        self._raw_times: dict[str, RingBuffer] = {}  # session times of irregular raw values
        self._marks: dict[str, list[float]] = {r.mark: [] for r in ROLES.values()}
        self._last: Frame | None = None
        self._last_cue: Cue | None = None
        # the newest frames per subject, for :meth:`frames_since` (bounded: flat memory)
        keep = max(1, int(frame_buffer_s * self.config.frame_rate_hz))
        self._frame_buf: dict[str, deque[Frame]] = {
            sid: deque(maxlen=keep) for sid in self.subject_ids
        }
        self._frames_made: dict[str, int] = dict.fromkeys(self.subject_ids, 0)
        self._commands: list[tuple[str, Any]] = []
        self.markers: list[tuple[float, str]] = []  # (session s, text) of therapist annotations
        self.recorder = recorder
        self.baseline_window = baseline_window
        self._zone_logged: dict[str, str] = dict.fromkeys(self.subject_ids, "")
        self._drained: dict[str, int] = dict.fromkeys(self.subject_ids, 0)
        self._repeat: list[tuple[float, SessionEvent]] = []  # (when, event) to write again
        # several people: their physiological synchrony, live (coregulation.LiveSynchrony)
        self.synchrony = (
            LiveSynchrony(self.subject_ids, self.config.frame_rate_hz, absent=self._absent())
            if len(self.subject_ids) > 1
            else None
        )
        self._co_said = 0  # co-regulation events put on the markers so far
        self._co_state: dict[str, Any] | None = None
        self.synchrony_index_rows: list[list[Any]] = []
        """Every combined window so far (``synchrony_index.csv`` rows)."""
        self.synchrony_rows: list[list[Any]] = []
        """Every window of the session's synchrony so far (``synchrony.csv`` rows)."""

    def _absent(self) -> dict[str, list[str]]:
        """Per person, the synchrony signals they have no channel for."""
        have = {sid: {modalities.role_of(m).name for s, m in self.streams if s == sid}
                for sid in self.subject_ids}  # fmt: skip
        return {sid: [SYNC_SIGNALS[r] for r in ROLES if r not in roles]
                for sid, roles in have.items()}  # fmt: skip

    @property
    def pipeline(self) -> Pipeline:
        """The first subject's pipeline (its state, cues and channels)."""
        return self.session.first.pipeline

    @property
    def clock(self) -> SessionClock:
        """The first subject's session clock."""
        return self.session.first.clock

    @property
    def origin(self) -> float:
        """Session time 0 on the LSL clock: the first time stamp the engine received."""
        return self.session.origin

    @property
    def gaps_filled(self) -> dict[str, float]:
        """Seconds of NaN inserted per modality (first subject) where a stream paused."""
        return self.clock.gaps_filled

    @property
    def overruns(self) -> int:
        return self.stats.overruns

    @property
    def baseline(self) -> Baseline | None:
        """The first subject's baseline now (None while calibrating)."""
        return self.pipeline.state.baseline

    @property
    def cue_log(self) -> list[Cue]:
        """Every cue the first subject was given, in order."""
        return list(self.pipeline.cues.log)

    def problems(self, sep: str = ": ") -> list[str]:
        """One line per stream that cannot run: which (``eda (NAME, 2 Hz)``), ``sep``, why."""
        out = []
        for (sid, m), (src, why) in self.unusable.items():
            who = f"{sid} " if self._several else ""
            out.append(f"{who}{m} ({src.name}, {src.fs:g} Hz){sep}{why}")
        return out

    def _key(self, subject: str, name: str) -> str:
        """A recorded stream's key: the name alone for one subject (today's layout), else
        ``subject/name``."""
        return name if len(self.subject_ids) == 1 else f"{subject}/{name}"

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("engine already started")
        # compile the kernels before the first chunk (a cached start takes a fraction of a s)
        warm_up(tuple(dict.fromkeys(m for _sid, m in self.streams)), self.synchrony is not None)
        if self.recorder is not None:
            for src in self.streams.values():
                src.record = True
            self._open_recording(self.recorder)
        for text in self.problems(" cannot run: "):
            # on the session's markers: the recording, the wot-markers outlet, the report
            self.add_marker(f"[engine] {text}")
        self._thread = threading.Thread(target=self._run, name="wot-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.input.close()
        alive = self._thread is not None and self._thread.is_alive()
        if self.resonance is not None and self._last is not None and not alive:
            # a protocol the session ended: scored on the steps there was time for
            self._guard(self._advance_resonance, self._last.time_s, True)
        if self.synchrony is not None and not alive:
            self._sync_safely(self._finish_synchrony)
        if self.recorder is not None:
            end = End(
                self.frames_total,
                self._last.time_s if self._last is not None else 0.0,
                self.overruns,
                dict(self.gaps_filled),
                None if self.error is None else repr(self.error),
                {"traceback": self.error_traceback} if self.error_traceback else {},
            )
            self._guard(self.recorder.stop, timeout, end)

    # recording ------------------------------------------------------------------------------
    def _open_recording(self, rec: SessionRecorder) -> None:
        from .outlets import features_header, marker_header

        for (sid, m), src in self.streams.items():
            rec.add_stream(self._key(sid, m), src.header_xml(sid))
        multi = len(self.subject_ids) > 1
        for sid in self.subject_ids:
            # the engine's outputs per person: wot-features-SUBJECT, ... (one person: today's)
            name = f"wot-features-{sid}" if multi else "wot-features"
            rec.add_stream(
                self._key(sid, "wot-features"),
                features_header(f"wot-rec-{name}", self.config.frame_rate_hz, name),
                local=True,
            )
            for base in ("wot-state", "wot-cues", "wot-events"):
                name = f"{base}-{sid}" if multi else base
                rec.add_stream(
                    self._key(sid, base), marker_header(name, f"wot-rec-{name}"), "string", True
                )
        rec.add_stream("wot-markers", marker_header("wot-markers", "wot-rec-wot-markers"),
                       "string", local=True)  # fmt: skip
        if self.synchrony is not None:
            # the live synchrony, a window per sample ({"time_s": ..., "signal": ...}): what
            # the session showed, beside what its analysis computes again from the streams
            rec.add_stream("wot-synchrony", marker_header(SYNC_STREAM, "wot-rec-synchrony"),
                           "string", local=True)  # fmt: skip
        for sid in self.subject_ids:
            st = self.session.subject(sid).pipeline.state
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
                        for (x, m), s in self.streams.items()
                        if x == sid
                    },
                    unusable={
                        m: {
                            "name": s.name,
                            "type": s.info.type(),
                            "source_id": s.info.source_id(),
                            "fs": s.fs,
                            "reason": why,
                        }
                        for (x, m), (s, why) in self.unusable.items()
                        if x == sid
                    },
                    subject=sid,
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

    def _sync_safely(self, fn: Any, *args: Any) -> None:
        """Run a step of the people's synchrony; should it fail, the synchrony stops (said on
        the markers, so in the recording too) and the session goes on without it."""
        try:
            fn(*args)
        except Exception as exc:
            self.synchrony = None
            with self._lock:  # the views show no synchrony rather than a stale one
                self._sync_latest, self._index_latest, self._co_state = {}, {}, None
            self.add_marker(f"[engine] synchrony stopped: {type(exc).__name__}: {exc}")

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

    def start_resonance(
        self,
        rates: tuple[float, ...] = DEFAULT_RATES,
        step_s: float = STEP_S,
        lead_s: float = 10.0,
        settle_s: float = SETTLE_S,
    ) -> None:
        """Start the resonance-frequency protocol ``lead_s`` session seconds from now (the
        worker starts it at its next step; one that is running is not replaced)."""
        # bad rates, durations or lead are said here, in the caller, not in the worker
        protocol(0.0, rates, step_s)
        check_settle(settle_s)
        if not (math.isfinite(lead_s) and 0.0 <= lead_s <= 3600.0):
            raise InputError(f"resonance protocol lead {lead_s!r} must be 0-3600 s")
        with self._lock:
            self._commands.append(("resonance", (tuple(rates), step_s, lead_s, settle_s)))

    def add_marker(self, text: str, note: str = "", at_s: float | None = None) -> None:
        """Therapist annotation: ``text: note`` is kept with the session (:attr:`markers`,
        ``Snapshot.extra``, the recording) at the current session time (or ``at_s``).
        ``text`` is published on ``wot-markers`` with the LSL time; the ``note`` (free text
        about the client) goes out on the network only with ``share_notes``."""
        full = f"{text}: {note}" if note else str(text)
        with self._lock:
            t = self._last.time_s if self._last is not None else 0.0
            if at_s is not None:
                t = float(at_s)
            self.markers.append((t, full))
        now = pylsl.local_clock()
        if at_s is not None and math.isfinite(self.origin):
            now = self.origin + float(at_s)  # on the data's clock, where it was scheduled
        if self.outlets is not None:
            self.outlets.push_marker(full if self.share_notes else str(text), now)
        if self.recorder is not None:
            self._guard(self.recorder.strings, "wot-markers", [now], [full])
            # its place on the session (data) clock: the LSL stamp above is wall-clock time,
            # which runs slower than the data in an accelerated demo or replay
            self._emit(Marker(t, full))

    # worker ---------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            run(
                self.input,
                self.session,
                [self],
                period_s=self.period_s,
                stop=self._stop,
                stats=self.stats,
                before_step=self._apply_commands,
                on_read=self._record_read,
                after_step=self._after_step,
                finish_on_stop=True,
            )
        except BaseException as exc:  # never die silently: the snapshot reports it, the
            # views end the session on it, and the recording's end record keeps the traceback
            self.error_traceback = traceback.format_exc()
            self.error = exc

    def consume(self, out: StepOutput, session: Session) -> None:
        """The run loop's sink: record, keep what the views read, publish."""
        first = self.subject_ids[0]
        rows = (
            {sid: event_rows(_merged(ev), self.origin) for sid, ev in out.events.items()}
            if self.outlets is not None or self.recorder is not None
            else {}
        )
        times, labels = rows.get(first, ([], []))
        if self.outlets is not None and labels and not math.isnan(self.origin):
            self.outlets.push_events(times, labels)  # first: the detected events go out at once
        if self.recorder is not None:
            self._guard(self._record_step, rows)
        for chunk, data, t0, stamps in out.placed:
            if chunk.subject != first or len(data) == 0:
                continue
            m = chunk.modality
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
        if self.resonance is not None and not self.resonance.done:
            self._feed_resonance(out, first)
        self._resp_n += sum(
            len(d) for c, d, _t0, _s in out.placed if c.subject == first and c.modality == "resp"
        )
        with self._lock:
            for ev in out.events.get(first, {}).values():  # ACC breaths come keyed "resp"
                for role in ROLES.values():
                    for part in ev.get(role.event_time, []):
                        if len(part):
                            self._marks[role.mark].extend(part.tolist())
        for sid, frames in out.frames.items():
            if frames:
                self._publish(sid, frames)
        if self.synchrony is not None:
            self._sync_safely(self._synchronise, out)

    def _synchronise(self, out: StepOutput) -> None:
        """The people's new frames and events to the live synchrony; its new windows kept,
        recorded and shown."""
        sync = self.synchrony
        assert sync is not None
        for sid in self.subject_ids:
            frames = out.frames.get(sid, [])
            events = out.events.get(sid, {})
            if frames or events:
                sync.add(sid, frames, events)
        new = sync.step()
        self._say_coregulation()
        self._keep_windows(new)
        self._keep_index()

    def _keep_index(self) -> None:
        """The new combined windows: kept, shown, recorded and published on ``wot-synchrony``
        (a JSON object with ``"signal": "all"`` and the ``synchrony_index.csv`` columns)."""
        sync = self.synchrony
        assert sync is not None
        new, sync.index_new = sync.index_new, []
        if not new:
            return
        latest = {f"{a}-{b}": dict(v) for (a, b), v in sync.latest_index.items()}
        with self._lock:
            self.synchrony_index_rows.extend(new)
            self._index_latest = latest
        self._send_sync(new, (*INDEX_COLUMNS, "pair"), {"signal": "all"})

    def _send_sync(
        self, new: list[list[Any]], cols: tuple[str, ...], tag: dict[str, str] | None = None
    ) -> None:
        """Synchrony rows to the ``wot-synchrony`` outlet and the recording: a JSON object
        each (``tag`` first, then the columns), stamped with its window's end."""
        if math.isnan(self.origin):
            return
        stamps = [self.origin + float(r[0]) for r in new]
        texts = [json.dumps({**(tag or {}), **dict(zip(cols, r, strict=False))}) for r in new]
        if self.outlets is not None:
            self.outlets.push_synchrony(texts, stamps)
        if self.recorder is not None:
            self._guard(self.recorder.strings, SYNC_STREAM, stamps, texts)

    def _keep_windows(self, new: list[list[Any]]) -> None:
        """New synchrony windows: kept, shown, recorded and published (``wot-synchrony``, a
        JSON object per window)."""
        sync = self.synchrony
        assert sync is not None
        if not new:
            return
        latest = {f"{a}-{b}": dict(v) for (a, b), v in sync.latest.items()}
        with self._lock:
            self.synchrony_rows.extend(new)
            self._sync_latest = latest
        self._send_sync(new, (*SYNC_COLUMNS, "pair"))

    def _say_coregulation(self) -> None:
        """The co-regulation episodes and the partner's excursions decided since the last
        step: on the markers (the ``wot-markers`` outlet, the recording, the session log),
        at the session time they happened; the counts to the snapshot."""
        sync = self.synchrony
        assert sync is not None
        fresh = sync.events[self._co_said :]
        if not fresh:
            return
        self._co_said = len(sync.events)
        for t, text in fresh:
            self.add_marker(text, at_s=t)
        partner = self.subject_ids[1]
        block = sync.coregulation(partner)
        back = [e for e in block["episodes"] if e["returned"]]  # the last return, in words
        last = say_episode(back[-1], block["client"], partner) if back else None
        with self._lock:
            self._co_state = {
                "client": block["client"], "partner": partner, "returns": block["returns"],
                "returns_in_sync": block["returns_in_sync"], "last": last,
            }  # fmt: skip

    def _finish_synchrony(self) -> None:
        """The session ended: the episodes still waiting for windows are judged on what there
        is. The last windows this makes are not kept: the engine stopped before the streams'
        last samples, which the recording holds (its analysis computes them with those)."""
        sync = self.synchrony
        assert sync is not None
        sync.finish()
        self._say_coregulation()

    def _after_step(self, out: StepOutput) -> None:
        self._mark_lost_and_back()
        if self._repeat:
            self._emit_repeats()
        if self.resonance is not None and self._last is not None:
            self._advance_resonance(self._last.time_s)

    # resonance protocol -----------------------------------------------------------------------
    def _feed_resonance(self, out: StepOutput, subject: str) -> None:
        """The first subject's NN intervals and breathing-belt samples, to the protocol."""
        res = self.resonance
        assert res is not None
        rates = self.session.subject(subject).rates
        for m, ev in out.events.get(subject, {}).items():
            if m in rates and ev.get("nn_time"):
                res.add_beats(np.concatenate(ev["nn_time"]), np.concatenate(ev["nn_ms"]))
        for chunk, data, t0, _stamps in out.placed:
            if chunk.subject == subject and chunk.modality == "resp" and data.ndim == 1:
                # t0 is the stream's first sample: this chunk follows the samples before it
                fs = rates["resp"]
                res.add_breathing(t0 + self._resp_n / fs, fs, data)

    def _advance_resonance(self, t_s: float, final: bool = False) -> None:
        res = self.resonance
        assert res is not None
        was_done = res.done
        for t, text in res.advance(t_s):
            self.add_marker(text, at_s=t)
            pacing = text != "pacer off"
            if self._res_override:
                continue  # the therapist muted or unmuted during the protocol: that stands
            if pacing and not self._res_muted and not self.pipeline.cues.muted:
                # the client follows the pacer: no automatic cue interrupts the protocol
                self._set_muted(True, t)
                self._res_muted = True
            elif not pacing and self._res_muted and res.current(t) is None:
                self._set_muted(False, t)
                self._res_muted = False
        if final and not res.done:
            res.finish()
        if res.done and not was_done:
            result = res.result or {}
            rate = result.get("resonance_rate_bpm")
            found = f"{rate:g}/min" if rate is not None else "none found"
            if not result.get("complete", True):
                found += " (cut short)"
            self.add_marker(f"[engine] resonance assessment: {found}", at_s=res.time_s)
            self.resonance_runs.append(result)
            if self._res_muted:  # ended before its last step: the cues it muted come back
                self._set_muted(False, res.time_s)
                self._res_muted = False
        if (res.done and not was_done) or (not res.done and t_s - self._res_shown >= 0.5):
            status = res.status()
            status["inhale_ratio"] = self.config.cues.pacer_inhale_ratio
            with self._lock:
                self._res_status = status
            self._res_shown = t_s

    def _set_muted(self, muted: bool, t_s: float) -> None:
        for subj in self.session.subjects.values():
            subj.pipeline.cues.muted = muted
            self._emit(Mute(muted, t_s, subject=subj.id))

    def _mark_lost_and_back(self) -> None:
        """Put a stream that is lost, and its return, on the session's markers (and so on the
        ``wot-markers`` outlet, in the recording and in the report's timeline), judged at the
        time the step's read judged them: a silence that crossed the limit since then must
        not be "lost" here while the session did not give the stream up (it said "lost" and
        "back after 3.0 s" for a stream whose frames were all fused)."""
        now = self.input.read_at
        if math.isnan(now):  # no read yet
            now = time.monotonic()
        first = first_deliveries(self.streams)
        for (sid, m), src in self.streams.items():
            state, since = stream_state(src, self.stall_s, now, first[sid])
            who = f"{sid} " if len(self.subject_ids) > 1 else ""
            if state == "lost" and (sid, m) not in self._lost_at:
                self._lost_at[(sid, m)] = now - since
                why = (
                    f"nothing yet, the other streams for {since:.1f} s"
                    if src.n_samples == 0
                    else f"no data for {since:.1f} s"
                )
                self.add_marker(f"[engine] {who}{m} signal lost ({why})")
            elif state == "ok" and (sid, m) in self._lost_at:
                gone = now - self._lost_at.pop((sid, m))
                self.add_marker(f"[engine] {who}{m} signal back after {gone:.1f} s")

    def _apply_commands(self) -> None:
        with self._lock:
            cmds, self._commands = self._commands, []
        now = self._last.time_s if self._last else 0.0
        for cmd, arg in cmds:
            if cmd == "calibrate":
                for subj in self.session.subjects.values():
                    # from the next frame (frame 0 when none has been made yet)
                    start = subj.pipeline.next_frame / subj.pipeline.frame_rate
                    self.session.calibrate(start, start + arg, subj.id)
            elif cmd == "mute":
                self._set_muted(arg, now)
                if self.resonance is not None and not self.resonance.done:
                    self._res_override = True  # the therapist's word stands
                self._res_muted = False
            elif cmd == "resonance":
                if self.resonance is not None and not self.resonance.done:
                    continue  # one protocol at a time
                rates, step_s, lead_s, settle_s = arg
                # not while calibrating: slow breathing would become the baseline
                cal = self.pipeline.state.calibrator
                start = max(now + lead_s, cal.end_s if cal is not None else -math.inf)
                self.resonance = LiveResonance(protocol(start, rates, step_s), settle_s)
                self._res_shown = -math.inf
                self._res_override = self._res_muted = False
                self.add_marker(
                    f"[engine] resonance protocol: {', '.join(f'{r:g}' for r in rates)}/min, "
                    f"{step_s:g} s each, from {start:.0f} s"
                )
            elif cmd == "cue":
                zone = self._last.state.zone if self._last else "within"
                cue = self.pipeline.cues.send_now(now, zone, arg)
                self._last_cue = cue
                if self.outlets is not None and not math.isnan(self.origin):
                    self.outlets.push_cue(cue, self.origin)
                if self.recorder is not None and not math.isnan(self.origin):
                    self._guard(
                        self.recorder.strings,
                        self._key(self.subject_ids[0], "wot-cues"),
                        [self.origin + cue.time_s],
                        [json.dumps(cue.to_dict())],
                    )

    def _record_read(self, batch: Batch) -> None:
        """Every raw chunk as received, before the session processes it."""
        if self.recorder is not None:
            self._guard(self._record_raw, batch.chunks)

    def _record_raw(self, chunks: list[Chunk]) -> None:
        assert self.recorder is not None
        rec = self.recorder
        for chunk in chunks:
            got = chunk.raw
            if got is None or got.raw is None or not len(got.raw):
                continue
            key = self._key(chunk.subject, chunk.modality)
            src = self.streams[(chunk.subject, chunk.modality)]
            for t, off in src.new_offsets:  # before the samples they apply to
                rec.clock_offset(key, t, off)
            src.new_offsets.clear()
            stamps = got.timestamps if got.raw_timestamps is None else got.raw_timestamps
            rec.samples(key, stamps - got.clock_offset, got.raw)

    def _record_step(self, rows: dict[str, tuple[list[float], list[str]]]) -> None:
        assert self.recorder is not None
        rec = self.recorder
        for sid, (times, texts) in rows.items():
            if texts:
                rec.strings(self._key(sid, "wot-events"), times, texts)

    def _record_frames(self, subject: str, frames: list[Frame]) -> None:
        assert self.recorder is not None
        rec = self.recorder
        times = self.origin + np.array([f.time_s for f in frames])
        rec.samples(self._key(subject, "wot-features"), times, frame_block(frames))
        msgs, self._zone_logged[subject] = state_messages(frames, self._zone_logged[subject])
        if msgs:
            rec.strings(
                self._key(subject, "wot-state"),
                [self.origin + t for t, _ in msgs],
                [j for _, j in msgs],
            )
        cues = [f.cue for f in frames if f.cue is not None]
        if cues:
            rec.strings(
                self._key(subject, "wot-cues"),
                [self.origin + c.time_s for c in cues],
                [json.dumps(c.to_dict()) for c in cues],
            )

    def _publish(self, subject: str, frames: list[Frame]) -> None:
        if self.recorder is not None:
            self._guard(self._record_frames, subject, frames)
        with self._lock:
            self._frame_buf[subject].extend(frames)
            self._frames_made[subject] += len(frames)
        if subject != self.subject_ids[0]:
            f = frames[-1]
            with self._lock:  # the views show the other people's newest state beside
                self._others[subject] = {
                    "time_s": f.time_s, "zone": f.state.zone, "arousal": f.state.arousal,
                    "confidence": f.state.confidence,
                    "calibrating": self.session.subject(subject).pipeline.state.calibrator
                    is not None,
                }  # fmt: skip
            return
        self._frame_wall = time.monotonic()
        if self.outlets is not None:
            self.outlets.push_frames(frames, self.origin)
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
            horizon = frames[-1].time_s - RAW_SECONDS
            for name, lst in self._marks.items():
                if lst and lst[0] < horizon:
                    self._marks[name] = [t for t in lst if t >= horizon]

    def _status(self, m: str, first: float) -> StreamStatus:
        """``m``'s status; ``first``: when the first person's streams began to deliver
        (:func:`first_deliveries`)."""
        bad = self.unusable.get((self.subject_ids[0], m))
        if bad is not None:
            src, why = bad
            return StreamStatus(m, src.name, src.fs, src.unit, "unusable", math.inf, 0, why)
        src = self.sources[m]
        state, since = stream_state(src, self.stall_s, time.monotonic(), first)
        note = getattr(src, "note", "")
        # what the channel found in the signal itself (e.g. EDA contact lost, saturation)
        issue = getattr(self.pipeline.channels.get(m), "issue", "")
        # said once is enough; and where the stream's level is implausible already (a unit
        # read wrongly as µS), values "at the amplifier limit" are that doubt again, not a
        # fault of the amplifier (a frozen sensor of a plausible level is still told)
        unit_doubt = "check the unit" in note
        same = unit_doubt and ("check the unit" in issue or issue.startswith("saturated"))
        if issue and issue not in note and not same:
            note = f"{note}; {issue}" if note else issue
        return StreamStatus(m, src.name, src.fs, src.unit, state, since, src.n_samples, note)

    def frames_since(self, cursor: int = 0, subject: str | None = None) -> tuple[list[Frame], int]:
        """A subject's frames (the first subject's by default) made since ``cursor`` (a frame
        count returned by an earlier call; 0: the oldest kept), and the cursor to pass next
        time. Only the newest ``frame_buffer_s`` of frames are kept: a reader that falls
        further behind gets what is left."""
        sid = self.session.subject(subject).id if subject else self.subject_ids[0]
        with self._lock:
            buf = self._frame_buf[sid]
            made = self._frames_made[sid]
            skip = max(0, cursor - (made - len(buf)))
            out = list(islice(buf, skip, None))
            return out, made

    def drain_frames(self, subject: str | None = None) -> list[Frame]:
        """Every kept frame of a subject not drained before (tests, benchmarks)."""
        sid = subject or self.subject_ids[0]
        out, self._drained[sid] = self.frames_since(self._drained[sid], sid)
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
            others = {sid: dict(v) for sid, v in self._others.items()}
        zc = self.config.zones
        st = self.pipeline.state
        first = self.subject_ids[0]
        since = first_deliveries(self.streams)[first]
        streams = {m: self._status(m, since) for m in self.sources}
        streams.update({m: self._status(m, since) for sid, m in self.unusable if sid == first})
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
            if all(streams[m].state == "lost" for m in self.sources):
                # no new frames can come: never keep showing the last zone as if it were current
                zone, arousal, conf, drivers = "unknown", math.nan, 0.0, []
                explanation = "unknown: all signals lost; check the sensors"
            elif age > 3.0 * self.stall_s:
                # frames wait for a lagging stream: the last decision is stale, never shown
                slow = [m for m in self.sources if streams[m].state != "ok"]
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
                "resonance": self._res_status,
                "synchrony": self._sync_latest,
                "synchrony_index": self._index_latest,
                "coregulation": self._co_state,
                "others": others,
                "recording": self.recorder.status() if self.recorder is not None else None,
            },
            history_start=written - hist["time_s"].size,
            history_cursor=written,
        )
