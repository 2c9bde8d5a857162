"""Offline analysis: a recording through the live pipeline, as fast as the CPU allows.

Writes the files of the ``wot analyze`` contract (see README):
``rpeaks.csv``, ``rr.csv``, ``scr.csv``, ``breaths.csv``, ``features.csv``, ``states.csv`` and
``summary.json``. Times are seconds from the first sample of the input.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .config import EngineConfig
from .pipeline import FEATURE_COLUMNS, Frame, Pipeline
from .sources.files import Recording
from .summary import build_summary

CHUNK_S = 10.0


@dataclass
class AnalysisResult:
    frames: list[Frame] = field(default_factory=list)
    events: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def event(self, modality: str, name: str) -> np.ndarray:
        parts = self.events.get(modality, {}).get(name, [])
        return np.concatenate(parts) if parts else np.empty(0)


def run_recording(
    rec: Recording,
    config: EngineConfig | None = None,
    baseline: tuple[float, float] | None = None,
    chunk_s: float = CHUNK_S,
) -> tuple[AnalysisResult, Pipeline]:
    """Feed a recording through :class:`Pipeline` in chunks, modality by modality in time order."""
    config = config or EngineConfig()
    pipe = Pipeline({m: s.fs for m, s in rec.signals.items()}, config, baseline)
    res = AnalysisResult()
    pos = dict.fromkeys(rec.signals, 0)
    t = 0.0
    while any(pos[m] < s.data.size for m, s in rec.signals.items()):
        t += chunk_s
        for m, sig in rec.signals.items():
            stop = min(sig.data.size, round((t - sig.t0) * sig.fs))
            if stop <= pos[m]:
                continue
            out = pipe.push(m, sig.data[pos[m] : stop], sig.t0)
            pos[m] = stop
            if stop >= sig.data.size:
                pipe.end(m)
            res.frames.extend(out.frames)
            for mod, ev in out.events.items():
                d = res.events.setdefault(mod, {})
                for k, v in ev.items():
                    d.setdefault(k, []).append(v)
    res.frames.extend(pipe.flush())
    # a file ends: the frames past the last sample of the longest signal carry no data
    t_end = rec.duration_s
    res.frames = [f for f in res.frames if f.time_s < t_end]
    return res, pipe


def _write_csv(path: Path, header: str, cols: list[np.ndarray], fmt: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        fh.write(header + "\n")
        if cols and len(cols[0]):
            np.savetxt(fh, np.column_stack(cols), fmt=fmt, delimiter=",")


def analyze(
    rec: Recording,
    out_dir: str | os.PathLike[str],
    config: EngineConfig | None = None,
    baseline: tuple[float, float] | None = None,
) -> AnalysisResult:
    """Analyse ``rec`` and write the contract files into ``out_dir``."""
    config = config or EngineConfig()
    res, pipe = run_recording(rec, config, baseline)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    rt = res.event("ecg", "rpeak_time")
    _write_csv(out / "rpeaks.csv", "time_s", [rt], ["%.4f"])
    rr = res.event("ecg", "rr_ms")
    ok = res.event("ecg", "rr_ok").astype(bool)
    has = np.isfinite(rr)
    _write_csv(
        out / "rr.csv",
        "time_s,rr_ms,corrected",
        [rt[has], rr[has], (~ok[has]).astype(int)],
        ["%.4f", "%.2f", "%d"],
    )
    _write_csv(
        out / "scr.csv",
        "onset_s,peak_s,amplitude_us",
        [
            res.event("eda", "scr_onset_time"),
            res.event("eda", "scr_peak_time"),
            res.event("eda", "scr_amp_us"),
        ],
        ["%.3f", "%.3f", "%.4f"],
    )
    _write_csv(out / "breaths.csv", "time_s", [res.event("resp", "breath_onset_time")], ["%.3f"])

    frames = res.frames
    times = np.array([f.time_s for f in frames])
    zones = [f.state.zone for f in frames]
    arousal = np.array([f.state.arousal for f in frames])
    conf = np.array([f.state.confidence for f in frames])
    zfeat = list(config.features)
    with open(out / "features.csv", "w", newline="") as fh:
        cols = ["time_s", *FEATURE_COLUMNS, "arousal", "confidence", "state",
                *(f"z_{k}" for k in zfeat), "drivers"]  # fmt: skip
        fh.write(",".join(cols) + "\n")
        for f in frames:
            vals = [f"{f.time_s:.2f}"]
            vals += [_fmt(f.features.get(k, np.nan)) for k in FEATURE_COLUMNS]
            vals += [_fmt(f.state.arousal), _fmt(f.state.confidence), f.state.zone]
            vals += [_fmt(f.state.z.get(k, np.nan)) for k in zfeat]
            vals.append('"' + "; ".join(d[2] for d in f.state.drivers) + '"')
            fh.write(",".join(vals) + "\n")
    with open(out / "states.csv", "w", newline="") as fh:
        fh.write("time_s,state,arousal,confidence\n")
        for t, z, a, c in zip(times, zones, arousal, conf, strict=True):
            fh.write(f"{t:.2f},{z},{_fmt(a)},{_fmt(c)}\n")

    quality = {
        m: np.array([f.features.get(f"quality_{m}", 0.0) for f in frames]) for m in rec.signals
    }
    summary = build_summary(times, zones, arousal, quality, pipe.cues.log, config.frame_rate_hz)
    summary.update(
        {
            "input": {
                "path": rec.path,
                "duration_s": rec.duration_s,
                "signals": {
                    m: {"name": s.name, "fs": s.fs, "unit": s.unit, "n_samples": int(s.data.size)}
                    for m, s in rec.signals.items()
                },
                "notes": rec.notes,
            },
            "counts": {
                "rpeaks": int(rt.size),
                "rr_corrected": int((~ok[has]).sum()),
                "scr": int(res.event("eda", "scr_peak_time").size),
                "breaths": int(res.event("resp", "breath_onset_time").size),
            },
            "baseline": pipe.state.baseline.to_dict() if pipe.state.baseline else None,
            "calibration_message": (
                pipe.state.message
                if pipe.state.calibrator is None
                else f"the recording ended before the calibration window "
                f"({pipe.state.calibrator.start_s:g}-{pipe.state.calibrator.end_s:g} s) was "
                "complete, so no zones could be given; use a longer recording or --baseline"
            ),
            "software": {
                "name": "wot-biofeedback",
                "version": __version__,
                "python": platform.python_version(),
            },
            "parameters": config.to_dict(),
        }
    )
    res.summary = summary
    with open(out / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=2, default=_json_default, allow_nan=False)
    return res


def _fmt(v: float) -> str:
    return "" if not np.isfinite(v) else f"{v:.4g}"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.floating | np.integer):
        return o.item()
    raise TypeError(type(o).__name__)
