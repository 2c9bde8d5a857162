"""Offline analysis: a recording through the live pipeline, as fast as the CPU allows.

Writes the files of the ``wot analyze`` contract (see docs/analysis.md):
``rpeaks.csv``, ``rr.csv``, ``scr.csv``, ``breaths.csv``, ``features.csv``, ``states.csv`` and
``summary.json``. Times are seconds from the first sample of the input.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, modalities
from .atomic import write_json
from .config import EngineConfig
from .csvtext import cell, write_csv, write_csv_blocks
from .dsp.hrv import EXCLUDED, KIND_NAMES, NORMAL
from .frames import FrameTable
from .pipeline import BEAT_TIME, CARDIAC_SOURCES, FEATURE_COLUMNS, Frame, Pipeline
from .run import Collector, run
from .session import Session
from .session_log import DEFAULT_SUBJECT
from .sources.files import Recording, RecordingSource
from .state import Baseline, StateEngine
from .summary import build_summary

CHUNK_S = 60.0
"""Seconds of a recording fed at a time. The frames are the same for any chunking, to the bit
(``tests/test_event_windows.py``: the event logs' window sums run from the first event, however
the logs were trimmed); 60 s takes about 0.3 s off an hour's analysis against 10 s."""
SEAM_S = 60.0  # longest the retrospective scoring runs on past the end of calibration


@dataclass
class AnalysisResult:
    frames: FrameTable = field(default_factory=FrameTable)
    """Every frame, in time order (kept as columns: :mod:`wot_biofeedback.frames`)."""
    events: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    baseline: Baseline | None = None

    def event(self, modality: str, name: str) -> np.ndarray:
        parts = self.events.get(modality, {}).get(name, [])
        return np.concatenate(parts) if parts else np.empty(0)


def run_recording(
    rec: Recording,
    config: EngineConfig | None = None,
    baseline: tuple[float, float] | Baseline | None = None,
    chunk_s: float = CHUNK_S,
) -> tuple[AnalysisResult, Pipeline]:
    """Run a recording through the session core (:func:`wot_biofeedback.run.run`), flat out,
    as one subject.

    ``baseline`` is a calibration window (start_s, end_s), or a ready :class:`Baseline` (e.g.
    from a client profile), which skips calibration. A wot recording's own decisions
    (calibrations, frames fused without a stream the live engine had given up) are replayed.
    """
    results, session = run_subjects({DEFAULT_SUBJECT: rec}, config, baseline, chunk_s)
    return results[DEFAULT_SUBJECT], session.first.pipeline


def run_subjects(
    recordings: dict[str, Recording],
    config: EngineConfig | None = None,
    baseline: tuple[float, float] | Baseline | None = None,
    chunk_s: float = CHUNK_S,
) -> tuple[dict[str, AnalysisResult], Session]:
    """Run the recordings of one session's subjects (``{subject: Recording}``) together, on
    one session clock; one :class:`AnalysisResult` per subject."""
    config = config or EngineConfig()
    window = baseline if isinstance(baseline, tuple) else None
    session = Session(
        {sid: {m: s.fs for m, s in r.signals.items()} for sid, r in recordings.items()},
        config,
        window,
        baseline if isinstance(baseline, Baseline) else None,
    )
    collector = Collector()
    run(RecordingSource(recordings, chunk_s), session, [collector])
    results = {}
    for sid, rec in recordings.items():
        got = collector.subjects.get(sid)
        res = AnalysisResult()
        if got is not None:
            # a file ends: the frames past the last sample of the longest signal carry no data
            got.frames.truncate(int(np.searchsorted(got.frames.times(), rec.duration_s)))
            res.frames = got.frames
            res.events = got.events
        res.baseline = session.subject(sid).pipeline.state.baseline
        results[sid] = res
    return results, session


def score_before_baseline(res: AnalysisResult, pipe: Pipeline) -> int:
    """Offline only: give zones to the frames before the calibration ended, in retrospect.

    Live, nothing before the end of calibration can have a zone (there is no baseline yet).
    A recording is known in full, so once the baseline exists the calibration period, and
    everything before a later ``--baseline`` window, is scored against it by a fresh
    :class:`~wot_biofeedback.state.StateEngine` (same smoothing, hysteresis and dwell, no cues).
    Past the end of calibration it goes on until the live decision agrees with it (the live
    engine starts there from ``unknown`` and needs ``confirm_s``; at most ``SEAM_S``), so the
    calibration's end leaves no seam of ``unknown`` and splits no excursion; from then on the
    frames keep the live decisions. Returns the number of frames rescored; their explanation
    ends with "(scored after calibration)".
    """
    base = pipe.state.baseline
    if base is None or base.source != "calibration":
        return 0
    engine = StateEngine(pipe.config, None, pipe.state.measured_modalities)
    engine.set_baseline(base)
    for i, f in enumerate(res.frames):
        st = engine.update(f.time_s, f.features)
        if f.time_s >= base.end_s and (
            (f.state.zone == st.zone and st.zone != "unknown") or f.time_s >= base.end_s + SEAM_S
        ):
            return i
        st.explanation += " (scored after calibration)"
        f.state = st
        res.frames[i] = f  # the table keeps a copy: the rescored frame goes back into it
    return len(res.frames)


def recorded_setup(
    session: dict[str, Any],
    config: EngineConfig | None,
    baseline: tuple[float, float] | Baseline | None,
    keep_config: bool = False,
    keep_baseline: bool = False,
) -> tuple[EngineConfig | None, tuple[float, float] | Baseline | None, list[str]]:
    """A session recorded by wot is analysed with its own parameters and calibration (as it
    ran live), unless the caller gave its own config (``keep_config``) or baseline
    (``keep_baseline``). Returns the config, the baseline and notes on what was used."""
    from .config import config_from_dict
    from .errors import InputError

    notes = []
    if not keep_config and session.get("parameters"):
        try:
            params = session["parameters"]
            cues = params.get("cues") if isinstance(params, dict) else None
            if isinstance(cues, dict) and "selection" not in cues:
                # recorded before cues were chosen per client: they were given in turn
                params = {**params, "cues": {**cues, "selection": "rotate"}}
            config = config_from_dict(params)
            notes.append("parameters: as recorded")
        except InputError as exc:  # e.g. recorded by a version with other parameters
            notes.append(f"the recorded parameters do not fit this version ({exc}); defaults used")
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a damaged record
            why = f"{type(exc).__name__}: {exc}"
            notes.append(f"the recorded parameters are unreadable ({why}); defaults used")
    if not keep_baseline:
        base = None
        if session.get("baseline"):
            try:
                base = Baseline.from_dict(session["baseline"])
            except (TypeError, ValueError, AttributeError, KeyError) as exc:  # damaged
                why = f"{type(exc).__name__}: {exc}"
                notes.append(f"the recorded baseline is unreadable ({why}); not used")
        if base is not None and all(
            math.isfinite(v) for d in (base.median, base.scale) for v in d.values()
        ):
            baseline = base
            notes.append(f"baseline: as recorded ({baseline.source})")
        elif base is not None:
            notes.append("the recorded baseline holds values that are not finite; not used")
        elif session.get("baseline_window"):
            a, b = session["baseline_window"]
            baseline = (float(a), float(b))
    return config, baseline, notes


BASELINE_LEVELS = {
    "hr_bpm": "quality_ecg",
    "rmssd_ms": "quality_ecg",
    "scl_us": "quality_eda",
    "scr_per_min": "quality_eda",
    "resp_rate_bpm": "quality_resp",
}


def baseline_levels(
    frames: FrameTable | list[Frame], base: Baseline | None
) -> dict[str, float | None]:
    """The client's resting levels in natural units (HR, RMSSD, SCL, SCR rate, breathing):
    medians over the calibration window's frames whose channel quality was usable (>= 0.5),
    as the calibration takes its values. None for a profile baseline (no window) or a
    feature without usable frames."""
    out: dict[str, float | None] = dict.fromkeys(BASELINE_LEVELS)
    if base is None or not base.end_s > base.start_s:
        return out
    t = np.array([f.time_s for f in frames]) if isinstance(frames, list) else frames.times()
    a, b = np.searchsorted(t, [base.start_s, base.end_s])  # frames are in time order
    inside = frames[int(a) : int(b)]
    for name, q in BASELINE_LEVELS.items():
        v = [f.features.get(name, math.nan) for f in inside if f.features.get(q, 0.0) >= 0.5]
        v = [x for x in v if math.isfinite(x)]
        out[name] = float(np.median(v)) if v else None
    return out


def _write_csv(path: Path, header: str, cols: list[np.ndarray], fmt: list[str]) -> None:
    """Numeric columns, each value formatted with its ``%`` format."""
    rows = zip(*(c.tolist() for c in cols), strict=True) if cols else iter(())
    write_csv(path, header.split(","), ([f % v for f, v in zip(fmt, r, strict=True)] for r in rows))


def _write_rr_csv(
    path: Path, t: np.ndarray, rr: np.ndarray, nn: np.ndarray, kind: np.ndarray
) -> None:
    """One row per beat of the NN series (an inserted beat has no detected interval)."""
    beats = zip(t.tolist(), rr.tolist(), nn.tolist(), kind.tolist(), strict=True)
    write_csv(
        path,
        ["time_s", "rr_ms", "corrected", "nn_ms", "artifact"],
        (
            [f"{ti:.4f}", _fmt(ri, ".2f"), int(ki != NORMAL), _fmt(ni, ".2f"), KIND_NAMES[ki]]
            for ti, ri, ni, ki in beats
            if not (ki == EXCLUDED and not np.isfinite(ri))  # the first beat: no interval at all
        ),
    )


def analyze(
    rec: Recording,
    out_dir: str | os.PathLike[str],
    config: EngineConfig | None = None,
    baseline: tuple[float, float] | Baseline | None = None,
) -> AnalysisResult:
    """Analyse ``rec`` and write the contract files into ``out_dir``."""
    config = config or EngineConfig()
    res, pipe = run_recording(rec, config, baseline)
    # a session recorded by wot is analysed as it ran live (no zones during calibration), so
    # both give one answer; any other recording is scored in retrospect before its baseline
    n_retro = score_before_baseline(res, pipe) if rec.session is None else 0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    cardiac = next((m for m in CARDIAC_SOURCES if m in rec.signals), "ecg")
    rt = res.event(cardiac, BEAT_TIME)
    _write_csv(out / "beats.csv", "time_s", [rt], ["%.4f"])
    _write_csv(out / "rpeaks.csv", "time_s", [rt], ["%.4f"])  # beats.csv's older name
    kinds = res.event(cardiac, "rr_kind").astype(np.int64)
    _write_rr_csv(
        out / "rr.csv",
        res.event(cardiac, "nn_time"),
        res.event(cardiac, "rr_ms"),
        res.event(cardiac, "nn_ms"),
        kinds,
    )
    peak_t = res.event("eda", "scr_peak_time")
    # half-recovery is reported later than its response: join it on the peak time
    half = np.full(peak_t.size, np.nan)
    rec_peak = res.event("eda", "scr_recovered_peak_time")
    if rec_peak.size and peak_t.size:
        pos = np.clip(np.searchsorted(peak_t, rec_peak - 1e-6), 0, peak_t.size - 1)
        hit = np.abs(peak_t[pos] - rec_peak) < 1e-6
        half[pos[hit]] = res.event("eda", "scr_half_recovery_s")[hit]
    _write_csv(
        out / "scr.csv",
        "onset_s,peak_s,amplitude_us,rise_s,half_recovery_s",
        [
            res.event("eda", "scr_onset_time"),
            peak_t,
            res.event("eda", "scr_amp_us"),
            res.event("eda", "scr_rise_s"),
            half,
        ],
        ["%.3f", "%.3f", "%.4f", "%.3f", "%.3f"],
    )
    _write_csv(out / "breaths.csv", "time_s", [res.event("resp", "breath_onset_time")], ["%.3f"])
    # free text: a marker typed as =FORMULA(...) must not run in a spreadsheet (csvtext)
    write_csv(out / "markers.csv", ["time_s", "text"], ([f"{t:.3f}", x] for t, x in rec.markers))

    frames = res.frames
    times = frames.times()
    zones = frames.zones()
    arousal = frames.arousal()
    conf = frames.confidence()
    _write_features_csv(out / "features.csv", frames, list(config.features))
    write_csv_blocks(
        out / "states.csv",
        ["time_s", "state", "arousal", "confidence"],
        (
            [
                _fmt_column(times[a:b], ".2f"),
                [cell(z) for z in zones[a:b]],
                _fmt_column(arousal[a:b]),
                _fmt_column(conf[a:b]),
            ]
            for a, b in _blocks(len(times))
        ),
    )

    # each modality's quality is its channel's (e.g. PPG: quality_cardiac; ACC: quality_resp)
    qcol = {m: modalities.quality_of(m) for m in rec.signals}
    quality = {m: frames.column(qcol[m], 0.0) for m in rec.signals}
    summary = build_summary(times, zones, arousal, quality, pipe.cues.log, config.frame_rate_hz)
    summary.update(
        {
            "input": {
                "path": rec.path,
                "duration_s": rec.duration_s,
                "signals": {
                    m: {"name": s.name, "fs": s.fs, "unit": s.unit, "n_samples": len(s.data)}
                    for m, s in rec.signals.items()
                },
                "notes": rec.notes,
                "recorded_by_wot": rec.session is not None,
                # a CSV file: separator, decimal mark, rate, bad lines skipped, time gaps
                **({"csv": rec.csv_info} if rec.csv_info is not None else {}),
            },
            # the session's own record (client, scenario, command, date), for wot recordings
            "session": dict((rec.session or {}).get("metadata") or {}),
            "subject": rec.subject,  # whose signals (a session may hold several people)
            "markers": [{"time_s": t, "text": text} for t, text in rec.markers],
            "counts": {
                "rpeaks": int(rt.size),
                # as in rr.csv: the very first beat (no interval at all) is not a correction
                "rr_corrected": int(
                    np.sum(
                        (kinds != NORMAL)
                        & ~((kinds == EXCLUDED) & ~np.isfinite(res.event(cardiac, "rr_ms")))
                    )
                ),
                "scr": int(res.event("eda", "scr_peak_time").size),
                "breaths": int(res.event("resp", "breath_onset_time").size),
            },
            # seconds of each signal problem the EDA checks found (contact, saturation, ...)
            "signal_problems_s": {
                m: ch.flagged_seconds()
                for m, ch in pipe.channels.items()
                if hasattr(ch, "flagged_seconds")
            },
            "baseline": pipe.state.baseline.to_dict() if pipe.state.baseline else None,
            "baseline_levels": baseline_levels(frames, pipe.state.baseline),
            "scored_after_calibration_s": n_retro / config.frame_rate_hz,
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
    # whole or not at all, NaN as null: a value JSON cannot hold never leaves half a file
    write_json(out / "summary.json", summary)
    return res


def _fmt(v: float, spec: str = ".4g") -> str:
    return format(v, spec) if math.isfinite(v) else ""


BLOCK_ROWS = 4096
"""Rows of a long table formatted at a time (a day's table never sits in memory as text)."""


def _blocks(n: int) -> list[tuple[int, int]]:
    return [(a, min(a + BLOCK_ROWS, n)) for a in range(0, n, BLOCK_ROWS)]


def _fmt_column(a: np.ndarray, spec: str = ".4g") -> list[str]:
    """:func:`_fmt` of each value; a value that repeats (most features hold between beats or
    breaths) is formatted once. Values are told apart by their bits, so -0.0 stays ``-0``."""
    bits = np.ascontiguousarray(a, dtype=np.float64).view(np.int64)
    uniq, inv = np.unique(bits, return_inverse=True)
    vals = uniq.view(np.float64)
    texts = [format(v, spec) for v in vals.tolist()]
    for i in np.flatnonzero(~np.isfinite(vals)).tolist():
        texts[i] = ""
    return [texts[i] for i in inv.tolist()]


def _write_features_csv(path: Path, frames: FrameTable, zfeat: list[str]) -> None:
    """``features.csv``: one row per frame, written column by column."""
    times = frames.times()
    feats = [frames.column(k) for k in FEATURE_COLUMNS]
    state = [frames.arousal(), frames.confidence()]
    zones = frames.zones()
    zs = [frames.z_column(k) for k in zfeat]
    # no commas inside, so that any CSV reader (even numpy's) keeps the columns; each distinct
    # explanation is rewritten and made a safe cell once
    codes, texts = frames.explanation_codes()
    explained = [cell(t.replace(", ", "; ").replace('"', "'")) for t in texts]

    def block(a: int, b: int) -> list[list[str]]:
        cols = [_fmt_column(times[a:b], ".2f")]
        cols += [_fmt_column(c[a:b]) for c in feats]
        cols += [_fmt_column(c[a:b]) for c in state]
        cols.append([cell(z) for z in zones[a:b]])
        cols += [_fmt_column(c[a:b]) for c in zs]
        cols.append([cell("; ".join(d)) for d in frames.driver_texts(a, b)])
        cols.append([explained[c] for c in codes[a:b].tolist()])
        return cols

    write_csv_blocks(
        path,
        ["time_s", *FEATURE_COLUMNS, "arousal", "confidence", "state",
         *(f"z_{k}" for k in zfeat), "drivers", "explanation"],
        (block(a, b) for a, b in _blocks(len(times))),
    )  # fmt: skip
