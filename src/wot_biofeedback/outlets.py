"""LSL outlets of the engine: ``wot-features``, ``wot-state``, ``wot-cues``, ``wot-markers``,
``wot-events`` (each R-peak, SCR and breath as soon as it is detected), and with several people
``wot-synchrony``."""

from __future__ import annotations

import json

import numpy as np
import pylsl

from . import __version__
from .cues import Cue
from .pipeline import FEATURE_COLUMNS, Frame
from .state import ZONE_CODE

FEATURE_UNITS = {
    "hr_bpm": "bpm",
    "rmssd_ms": "ms",
    "sdnn_ms": "ms",
    "pnn50": "%",
    "lf_ms2": "ms2",
    "hf_ms2": "ms2",
    "lf_hf": "1",
    "lf_ms2_welch": "ms2",
    "hf_ms2_welch": "ms2",
    "lf_hf_welch": "1",
    "coherence": "1",
    "rr_corrected_pct": "%",
    "rsa_ms": "ms",
    "scl_us": "uS",
    "scl_slope_us_min": "uS/min",
    "scl_rel": "ln-ratio",
    "scr_per_min": "1/min",
    "scr_amp_us": "uS",
    "resp_rate_bpm": "1/min",
    "resp_depth": "a.u.",
    "resp_cv": "1",
    "resp_ie_ratio": "1",
    "quality_ecg": "1",
    "quality_eda": "1",
    "quality_resp": "1",
    "quality_cardiac": "1",
    "arousal": "z",
    "confidence": "1",
    "zone_code": "hypo=-1,within=0,hyper=1,unknown=2",
}
OUTLET_CHANNELS = (*FEATURE_COLUMNS, "arousal", "confidence", "zone_code")


def _marker_info(name: str, source_id: str) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
    info.desc().append_child_value("software", f"wot-biofeedback {__version__}")
    return info


def _features_info(
    source_id: str, frame_rate: float, name: str = "wot-features"
) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo(
        name, "Features", len(OUTLET_CHANNELS), frame_rate, pylsl.cf_float32,
        f"{source_id}-features",
    )  # fmt: skip
    chans = info.desc().append_child("channels")
    for name in OUTLET_CHANNELS:
        c = chans.append_child("channel")
        c.append_child_value("label", name)
        c.append_child_value("unit", FEATURE_UNITS[name])
    info.desc().append_child_value("software", f"wot-biofeedback {__version__}")
    return info


def features_header(source_id: str, frame_rate: float, name: str = "wot-features") -> str:
    """XML header of the ``wot-features`` stream (for a recording)."""
    return str(_features_info(source_id, frame_rate, name).as_xml())


def marker_header(name: str, source_id: str) -> str:
    """XML header of a ``wot-*`` marker stream (for a recording)."""
    return str(_marker_info(name, source_id).as_xml())


def frame_block(frames: list[Frame]) -> np.ndarray:
    """``(n, len(OUTLET_CHANNELS))`` float32 rows of the frames, as ``wot-features`` sends."""
    block = np.empty((len(frames), len(OUTLET_CHANNELS)), dtype=np.float32)
    for i, f in enumerate(frames):
        vals = [f.features.get(k, np.nan) for k in FEATURE_COLUMNS]
        vals += [f.state.arousal, f.state.confidence, ZONE_CODE[f.state.zone]]
        block[i] = vals
    return block


def state_messages(frames: list[Frame], last_zone: str) -> tuple[list[tuple[float, str]], str]:
    """The ``wot-state`` JSON messages (session s, text) of the zone changes among ``frames``,
    and the zone after them."""
    out = []
    for f in frames:
        if f.state.zone != last_zone:
            last_zone = f.state.zone
            msg = {
                "time_s": f.time_s,
                "zone": f.state.zone,
                "arousal": None if not np.isfinite(f.state.arousal) else round(f.state.arousal, 3),
                "confidence": round(f.state.confidence, 3),
                "drivers": [d[2] for d in f.state.drivers],
                "explanation": f.state.explanation,
            }
            out.append((f.time_s, json.dumps(msg)))
    return out, last_zone


EVENT_KEYS = (
    ("rpeak_time", "rpeak"),
    ("scr_onset_time", "scr_onset"),
    ("scr_peak_time", "scr_peak"),
    ("breath_onset_time", "breath"),
)


def event_rows(
    events: dict[str, dict[str, np.ndarray]], origin: float
) -> tuple[list[float], list[str]]:
    """LSL times and labels of the R-peaks, SCR onsets/peaks and breaths in a pipeline output
    (the ``wot-events`` stream of a recording), in time order."""
    rows: list[tuple[float, str]] = []
    for ev in events.values():
        for key, label in EVENT_KEYS:
            v = ev.get(key)
            if v is not None and len(v):
                rows.extend((origin + float(t), label) for t in v)
    rows.sort(key=lambda r: r[0])
    return [r[0] for r in rows], [r[1] for r in rows]


class EngineOutlets:
    """Publishes fused frames, zone changes, cues, therapist markers, detected events (each
    stamped with its own time: not increasing across kinds) and, with several people,
    synchrony windows.

    Timestamps are the LSL clock of each frame's session time (``origin + time_s``).
    """

    def __init__(self, source_id: str, frame_rate: float, synchrony: bool = False) -> None:
        self.features = pylsl.StreamOutlet(_features_info(source_id, frame_rate))
        self.state = pylsl.StreamOutlet(_marker_info("wot-state", f"{source_id}-state"))
        self.cues = pylsl.StreamOutlet(_marker_info("wot-cues", f"{source_id}-cues"))
        self.markers = pylsl.StreamOutlet(_marker_info("wot-markers", f"{source_id}-markers"))
        # each detected event (rpeak, scr_onset, scr_peak, breath), pushed in the read loop's
        # step that found it and stamped with its own time: the earliest any output has a beat
        self.events = pylsl.StreamOutlet(_marker_info("wot-events", f"{source_id}-events"))
        # several people: each synchrony window, a JSON object (the synchrony.csv columns and
        # the pair) stamped with its end on the data's clock
        self.synchrony = (
            pylsl.StreamOutlet(_marker_info("wot-synchrony", f"{source_id}-synchrony"))
            if synchrony
            else None
        )
        self._last_zone = ""

    def push_frames(self, frames: list[Frame], origin: float) -> None:
        if not frames:
            return
        msgs, self._last_zone = state_messages(frames, self._last_zone)
        for t, text in msgs:
            self.state.push_sample([text], origin + t)
        for f in frames:
            if f.cue is not None:
                self.push_cue(f.cue, origin)
        self.features.push_chunk(frame_block(frames), origin + frames[-1].time_s)

    def push_cue(self, cue: Cue, origin: float) -> None:
        self.cues.push_sample([json.dumps(cue.to_dict())], origin + cue.time_s)

    def push_events(self, stamps: list[float], labels: list[str]) -> None:
        """``event_rows`` output: each event's LSL time and label."""
        for t, label in zip(stamps, labels, strict=True):
            self.events.push_sample([label], t)

    def push_marker(self, text: str, timestamp: float) -> None:
        self.markers.push_sample([text], timestamp)

    def push_synchrony(self, texts: list[str], stamps: list[float]) -> None:
        if self.synchrony is not None:
            for text, t in zip(texts, stamps, strict=True):
                self.synchrony.push_sample([text], t)
