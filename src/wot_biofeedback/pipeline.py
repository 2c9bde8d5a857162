"""One pipeline for live streams, file replay and offline analysis.

Chunks of each modality go into that modality's :class:`~wot_biofeedback.dsp.channels.Channel`.
Frames are fused in order once every active modality has delivered them, then pass through the
:class:`~wot_biofeedback.state.StateEngine` and the :class:`~wot_biofeedback.cues.CuePolicy`.
Because channels emit frames from data time alone, the fused frames do not depend on how the
input was chunked or how fast it arrived. The only live-only step is :meth:`Pipeline.end` on a
stream the engine has declared lost, so its frames go out empty (quality 0) rather than freezing
the engine, and :meth:`Pipeline.resume` when it returns.

Breathing comes from a RESP belt or, where there is none, from a chest accelerometer (modality
``acc``, ``(n, 3)`` chunks): :class:`~wot_biofeedback.dsp.acc.AccRespChannel` gives the same
breath events and ``resp_*`` features, reported under ``resp``. With both, the belt wins and
ACC chunks are ignored (:attr:`Pipeline.ignored`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import modalities
from .checks import as_signal
from .config import EngineConfig
from .cues import Cue, CuePolicy
from .dsp.acc import AccRespChannel
from .dsp.cardiac import CARDIAC_FEATURES, EcgChannel, PpgChannel, RRChannel
from .dsp.channels import Channel, EdaChannel
from .dsp.resp import RespChannel
from .dsp.rsa import RsaTracker
from .state import StateEngine, StateResult

CHANNEL_CLASSES: dict[str, type[Channel]] = {
    cls.modality: cls
    for cls in (EcgChannel, PpgChannel, RRChannel, EdaChannel, RespChannel, AccRespChannel)
}
"""Channel class per modality (each class names its modality)."""
assert set(CHANNEL_CLASSES) == set(modalities.NAMES), "a modality without its channel class"
CARDIAC_SOURCES = modalities.cardiac()
"""Modalities that feed the one cardiac channel (at most one per subject)."""
BEAT_TIME, RPEAK_TIME = "beat_time", "rpeak_time"
"""The cardiac channel's beat times (any source), and their older name (ECG R-peaks)."""


def _role(modality: str) -> str:
    """The key a channel goes under downstream: the cardiac source is ``ecg``, ACC breathing
    is ``resp`` (:func:`wot_biofeedback.modalities.key_of`)."""
    return modalities.key_of(modality)


def new_channel(modality: str, fs: float, config: EngineConfig, t0: float = 0.0) -> Channel:
    """The streaming channel of ``modality`` at ``fs`` Hz, as the pipeline builds it. Raises
    :class:`~wot_biofeedback.errors.InputError` naming the problem where its signal processing
    cannot run on that stream (e.g. a rate outside the range it supports)."""
    cls = CHANNEL_CLASSES[modalities.get(modality).name]
    frame_rate = config.frame_rate_hz
    if cls is EdaChannel:
        return EdaChannel(fs, t0, frame_rate, config.eda_min_amplitude_us)
    if issubclass(cls, (EcgChannel, RRChannel)):
        return cls(fs, t0, frame_rate, config.max_corrected_share)
    return cls(fs, t0, frame_rate)


def channel_problem(modality: str, fs: float, config: EngineConfig | None = None) -> str:
    """Why the signal processing of ``modality`` cannot run on a stream at ``fs`` Hz, or ''
    when it can: the live engine asks this of every stream before it starts, so a stream it
    cannot process is reported and left out rather than failing mid-session."""
    try:
        new_channel(modality, fs, config or EngineConfig())
    except ValueError as exc:  # InputError is one
        return str(exc)
    return ""


FEATURE_COLUMNS = (
    *CARDIAC_FEATURES[:-1],
    "rsa_ms",
    "scl_us",
    "scl_slope_us_min",
    "scl_rel",
    "scr_per_min",
    "scr_amp_us",
    "resp_rate_bpm",
    "resp_depth",
    "resp_cv",
    "resp_ie_ratio",
    "quality_ecg",
    "quality_eda",
    "quality_resp",
    "quality_cardiac",  # the cardiac channel's quality whatever its source; = quality_ecg
)


@dataclass
class Frame:
    """One fused feature frame with the engine's decision."""

    index: int
    time_s: float
    features: dict[str, float]
    state: StateResult
    cue: Cue | None = None


@dataclass
class PipelineOutput:
    frames: list[Frame] = field(default_factory=list)
    events: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


class Pipeline:
    """Streaming engine core.

    Parameters
    ----------
    rates : dict
        Sampling rate per modality (``ecg``/``ppg``/``rr``, ``eda``, ``resp``, ``acc``), Hz.
        Only the modalities named are expected; any subset works. ``acc`` (a chest
        accelerometer, ``(n, 3)`` chunks) is ignored when ``resp`` is present.
    config : EngineConfig
    baseline_window : (start_s, end_s), optional
        Calibration window, session seconds.
    """

    def __init__(
        self,
        rates: dict[str, float],
        config: EngineConfig | None = None,
        baseline_window: tuple[float, float] | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        unknown = set(rates) - set(modalities.NAMES)
        if unknown:
            raise ValueError(f"unknown modality {sorted(unknown)}; expected {modalities.NAMES}")
        if not rates:
            raise ValueError("at least one modality is needed")
        cardiac = [m for m in rates if m in CARDIAC_SOURCES]
        if len(cardiac) > 1:
            raise ValueError(f"one cardiac source at a time, got {cardiac}; choose ECG, PPG or RR")
        # within a role the preferred source wins (a belt beats a chest accelerometer for
        # breathing): the others are ignored
        chosen = set(modalities.preferred(list(rates)).values())
        self.ignored = set(rates) - chosen
        self.rates = {m: fs for m, fs in rates.items() if m not in self.ignored}
        self.channels: dict[str, Channel] = {}
        self._pending: dict[str, dict[str, np.ndarray]] = {}
        self._pending_first: dict[str, int] = {}
        self.ended: set[str] = set()
        self.next_frame = 0
        # the state engine knows the cardiac channel as "ecg" whatever its source, and ACC
        # breathing as "resp"
        self.state = StateEngine(self.config, baseline_window, tuple(_role(m) for m in self.rates))
        breathing = "resp" in self.rates or "acc" in self.rates
        self.rsa = RsaTracker() if cardiac and breathing else None
        self.cues = CuePolicy(self.config.cues)
        self.frame_rate = self.config.frame_rate_hz
        self._recalibrations: list[tuple[float, float]] = []
        self._masks: dict[str, list[tuple[int, int]]] = {}
        self.hold = False
        """Hold the chunks of a modality that is not ``prompt`` (skin conductance, a breathing
        belt) until they complete a frame, and process them then as one (the live engine: its
        20-ms reads bring such a channel one sample or none, and each call costs more than
        the samples). Frames are the same and come in the same step (a channel gives the
        same output for any chunking, and a held chunk completes no frame); only the events
        of these slow signals (SCRs, breaths) are reported up to one frame period later."""
        self._held: dict[str, list[np.ndarray]] = {}
        # the modalities whose events RSA pairs (its frames go without them where they lack)
        self._rsa_inputs = {
            m for m in self.rates if _role(m) in (_role(CARDIAC_SOURCES[0]), "resp")
        }
        self._prompt = {m: modalities.get(m).prompt for m in self.rates}
        self._late: dict[str, dict[str, np.ndarray]] = {}  # events of chunks released at the end

    def mask(self, modality: str, first: int, stop: int | None = None) -> None:
        """Fuse frames ``first .. stop - 1`` without ``modality`` (to the end where ``stop`` is
        None) and do not wait for it there: what the live engine did while it had given the
        stream up (:meth:`end` … :meth:`resume`), replayed from a recording's session log."""
        end = stop if stop is not None else 2**62
        if end > first:
            self._masks.setdefault(modality, []).append((int(first), int(end)))

    def schedule_recalibration(self, start_s: float, end_s: float) -> None:
        """A new calibration over ``[start_s, end_s)`` that takes effect from the first frame at
        or after ``start_s`` (the live "calibrate now"). Keyed on data time, so a live session
        and the offline analysis of its recording calibrate on the same frames."""
        self._recalibrations.append((float(start_s), float(end_s)))

    # input ------------------------------------------------------------------------------
    def _channel(self, modality: str, t0: float) -> Channel:
        ch = self.channels.get(modality)
        if ch is None:
            ch = new_channel(modality, self.rates[modality], self.config, t0)
            # frames already fused without this modality are skipped
            ch.next_frame = max(ch.next_frame, self.next_frame)
            self.channels[modality] = ch
            self._pending[modality] = {}
            self._pending_first[modality] = ch.next_frame
        return ch

    def push(
        self,
        modality: str,
        samples: np.ndarray,
        t0: float = 0.0,
        timestamps: np.ndarray | None = None,
    ) -> PipelineOutput:
        """Feed one chunk of ``modality``; ``t0`` (session s of its first sample) is used once.

        ``timestamps`` (session s per value) is used by the irregular RR input only.
        ``samples`` is 1-D, or ``(n, 3)`` for ``acc``.
        Returns the frames that became complete and the events detected in the chunk (keyed
        ``resp`` for ACC breathing). An ignored ``acc`` chunk (a belt is present) gives nothing.
        """
        if modality in self.ignored:
            return PipelineOutput()
        if modality not in self.rates:
            raise ValueError(
                f"modality {modality!r} was not configured (have {sorted(self.rates)})"
            )
        ch = self._channel(modality, t0)
        if self.hold and not self._prompt[modality]:
            # checked before it is held: a bad chunk is refused now, and what is held already
            # is kept (a held chunk never fails later)
            samples = as_signal(samples, f"{modality} chunk")
            held = self._held.setdefault(modality, [])
            if len(samples) < ch.samples_to_frame() - sum(map(len, held)):
                held.append(samples)
                return PipelineOutput(frames=self._fuse(self._ready_until()))
            samples = self._release(modality, samples)
        events = self._feed(modality, ch, samples, timestamps)
        if RPEAK_TIME in events:  # beats under their source-neutral name too
            events = {**events, BEAT_TIME: events[RPEAK_TIME]}
        res = PipelineOutput(events={_role(modality) if modality == "acc" else modality: events})
        res.frames = self._fuse(self._ready_until())
        return res

    def _feed(
        self, modality: str, ch: Channel, samples: np.ndarray, timestamps: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """``samples`` through the channel: its frames kept for fusion, its events to RSA and
        returned."""
        out = ch.update(samples, timestamps) if isinstance(ch, RRChannel) else ch.update(samples)
        if self.rsa is not None:
            self.rsa.add(_role(modality), ch, out.events)
        if out.n_frames:
            pend = self._pending[modality]
            if not pend or len(next(iter(pend.values()))) == 0:
                # nothing pending: the new block defines where the pending rows start
                self._pending[modality] = pend = {}
                self._pending_first[modality] = out.first_frame
            for k, v in out.features.items():
                pend[k] = np.concatenate((pend[k], v)) if k in pend else v
        return out.events

    def _release(self, modality: str, samples: np.ndarray | None = None) -> np.ndarray:
        """The held chunks of ``modality`` (and ``samples`` after them), as one, no longer
        held."""
        parts = self._held.pop(modality, [])
        if samples is not None:
            parts.append(samples)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _release_all(self) -> None:
        """End of input: every held chunk through its channel (their events are given with
        :meth:`finish_events`)."""
        for m in list(self._held):
            events = self._feed(m, self.channels[m], self._release(m), None)
            prev = self._late.get(m)
            self._late[m] = (
                events
                if prev is None
                else {k: np.concatenate((prev[k], v)) for k, v in events.items()}
            )

    def end(self, modality: str) -> None:
        """Mark a modality finished (its file ended): fusion no longer waits for it."""
        self.ended.add(modality)

    def finish_events(self) -> dict[str, dict[str, np.ndarray]]:
        """End of a record: the events channels kept back for look-ahead (e.g. last beats)."""
        self._release_all()
        out = {}
        for m, ch in self.channels.items():
            fin = getattr(ch, "finish", None)
            late = self._late.pop(m, None)
            if fin is None and late is None:
                continue
            ev = dict(late or {})
            for k, v in (fin() if fin is not None else {}).items():
                ev[k] = np.concatenate((ev[k], v)) if k in ev else v
            if RPEAK_TIME in ev:
                ev = {**ev, BEAT_TIME: ev[RPEAK_TIME]}
            out[_role(m) if m == "acc" else m] = ev
        return out

    def flush(self) -> list[Frame]:
        """End of input: fuse every frame some modality has delivered."""
        self._release_all()
        self.ended.update(self.rates)
        last = max((ch.next_frame for ch in self.channels.values()), default=0)
        return self._fuse(last)

    def fuse_ready(self) -> list[Frame]:
        """Fuse every frame the waited-for modalities have all delivered."""
        return self._fuse(self._ready_until())

    def resume(self, modality: str) -> None:
        """A modality that was given up on (:meth:`end`) delivers again: wait for it again."""
        self.ended.discard(modality)

    # fusion -----------------------------------------------------------------------------
    def _ready_until(self) -> int:
        """One past the last frame every waited-for modality has delivered."""
        ready = -1
        for m in self.rates:
            if m in self.ended:
                continue
            ch = self.channels.get(m)
            r = self.next_frame if ch is None else ch.next_frame
            for a, b in self._masks.get(m, ()):
                if a <= r < b:  # nothing of it is fused there: no need to wait
                    r = b
            if ch is None and r == self.next_frame:
                return self.next_frame
            if ready < 0 or r < ready:
                ready = r
        if ready < 0:  # waiting for none
            return max((ch.next_frame for ch in self.channels.values()), default=0)
        return ready

    def _fuse(self, stop: int) -> list[Frame]:
        start = self.next_frame
        if stop <= start:
            return []
        n = stop - start
        # the frames' columns as lists of Python floats (a frame's row takes one of each)
        feats: dict[str, list[float]] = {}
        # frames fused without a modality's data (given up live, masked offline, or past its
        # end): RSA, which pairs two channels' events, is left out there too, whichever way in
        without: np.ndarray | None = None  # None: RSA everywhere
        rsa_inputs = self._rsa_inputs
        if any(m not in self._pending for m in rsa_inputs):
            without = np.ones(n, dtype=bool)  # no data of it at all yet
        for m, pend in self._pending.items():
            first = self._pending_first[m]
            avail = first + (len(next(iter(pend.values()))) if pend else 0)
            a, b = max(start, first), min(stop, avail)
            masked = [
                (max(ma, start) - start, min(mb, stop) - start)
                for ma, mb in self._masks.get(m, ())
                if ma < stop and mb > start
            ]
            columns = CHANNEL_CLASSES[m].feature_names
            if pend and a == start and b == stop and not masked:  # every frame delivered
                for k in columns:
                    feats[k] = pend[k][a - first : b - first].tolist()
            else:
                have = np.zeros(n, dtype=bool)
                have[a - start : max(0, b - start)] = True
                for ma, mb in masked:
                    have[ma:mb] = False
                if m in rsa_inputs:
                    without = ~have if without is None else without | ~have
                for k in columns:
                    col = np.full(n, np.nan)
                    if pend and b > a:
                        col[a - start : b - start] = pend[k][a - first : b - first]
                    for ma, mb in masked:
                        col[ma:mb] = np.nan
                    feats[k] = col.tolist()
            if pend:
                drop = max(0, b - first)
                for k in list(pend):
                    pend[k] = pend[k][drop:]
                self._pending_first[m] = first + drop
        if self.rsa is not None:
            rsa = self.rsa.frames(start, stop, self.frame_rate)
            if without is not None:
                rsa[without] = np.nan
            feats["rsa_ms"] = rsa.tolist()
        if "quality_ecg" in feats:
            feats["quality_cardiac"] = feats["quality_ecg"]
        for k in FEATURE_COLUMNS:
            if k not in feats:
                feats[k] = [0.0 if k.startswith("quality") else math.nan] * n
            elif k.startswith("quality"):  # unknown quality is none
                feats[k] = [0.0 if math.isnan(v) else v for v in feats[k]]
        frames = []
        names = list(feats)
        # one dict of Python floats per frame, built row by row from the columns
        rows = zip(*feats.values(), strict=True)
        for i, values in enumerate(rows):
            idx = start + i
            t = idx / self.frame_rate
            row = dict(zip(names, values, strict=True))
            while self._recalibrations and t >= self._recalibrations[0][0] - 1e-9:
                self.state.recalibrate(*self._recalibrations.pop(0))
            st = self.state.update(t, row)
            cue = self.cues.update(t, st.zone)
            frames.append(Frame(idx, t, row, st, cue))
        self.next_frame = stop
        return frames
