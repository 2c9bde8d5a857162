"""Analyse one recording: the use case behind ``wot analyze``, ``wot report``, the cohort and the
session report after a recorded ``wot run``/``wot demo``.

:func:`analyze_path` reads a file, sets it up (configuration, client profile, baseline window,
extra markers, a wot session's own recorded parameters and calibration), runs it through
:func:`wot_biofeedback.offline.analyze` into the files of the ``wot analyze`` contract and, with
a profile, adds the session to the client's history. What it does along the way is told to an
optional ``on_message(kind, text)`` callback, so the command line prints it while a batch keeps
it quiet. Heavy modules (numpy, numba, the readers) are imported only when a file is analysed.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .offline import AnalysisResult
    from .sources.files import Recording

MessageKind = Literal["warning", "note", "info", "result"]
"""Kinds of :func:`analyze_path` messages:

* ``warning``: a warning while reading the file (e.g. data quality: EDA that looks like nS);
* ``note``: how the input was read or set up (the reader's notes, recorded parameters that do
  not fit this version);
* ``info``: what was used or done (markers added, recorded parameters/baseline, profile saved);
* ``result``: what the analysis found (two lines: duration, signals and time taken; the zones).
"""

OnMessage = Callable[[MessageKind, str], None]


@dataclass(frozen=True)
class AnalysisOptions:
    """How to read and analyse a recording (all optional; the defaults detect and calibrate).

    Attributes
    ----------
    channels : mapping
        ``{"ecg"|"ppg"|"eda"|"resp": signal name or 0-based index}``: which signal of the file
        each modality is (WFDB signal name, CSV column, XDF stream name or type).
    fs : float, optional
        Sampling rate, Hz, of a CSV file without a ``time_s`` column.
    eda_unit : str, optional
        Unit of the EDA signal: ``uS`` (default), ``nS``, ``mS``, ``S`` or ``raw:SCALE``.
    config : path, optional
        TOML engine configuration (default parameters without). A wot session file is analysed
        with its recorded parameters unless this is given.
    baseline : (start_s, end_s), optional
        Calibration window, seconds from the start of the recording (default: the configured
        calibration period at the start; a wot session file: its recorded calibration).
    markers : path, optional
        Markers table (:func:`~wot_biofeedback.sources.files.read_markers`); the rows of this
        recording (by file stem, or all when the table names no recordings) are added to the
        recording's own markers.
    profile : str, optional
        Client profile: its window bounds are used and the session is added to its history.
    profile_baseline : bool
        Start from the profile's baseline (its recent sessions) instead of calibrating; needs
        ``profile`` and no ``baseline``.
    skip_bad_lines : bool
        CSV: skip malformed lines (counted in the notes and ``summary.json``) instead of
        stopping at the first with an error naming it.
    """

    channels: Mapping[str, str | None] = field(default_factory=dict)
    fs: float | None = None
    eda_unit: str | None = None
    config: str | os.PathLike[str] | None = None
    baseline: tuple[float, float] | None = None
    markers: str | os.PathLike[str] | None = None
    profile: str | None = None
    profile_baseline: bool = False
    skip_bad_lines: bool = False
    subject: str | None = None
    """The person to analyse (a wot recording's subject, or a prefix of the file's signal
    names); None: every subject of a wot recording of several people, each in ``out/ID``."""
    subjects: tuple[str, ...] = ()
    """The people to analyse together (the prefixes of the file's signal names, e.g.
    ``client_ecg``, or a wot recording's subjects): each in ``out/ID``, and their synchrony
    in ``out/synchrony.csv`` and ``out/summary.json`` (:mod:`~wot_biofeedback.coregulation`).
    Empty: a wot recording's own subjects."""

    def __post_init__(self) -> None:
        from .errors import InputError

        if self.profile_baseline and not self.profile:
            raise InputError("profile_baseline needs a profile")
        if self.profile_baseline and self.baseline is not None:
            raise InputError(
                f"baseline {self.baseline!r} and profile_baseline: give one of them, not both"
            )
        from .session import check_subject

        for sid in ([self.subject] if self.subject is not None else []) + list(self.subjects):
            try:
                check_subject(sid)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        people = self.subjects
        # a file's signal-name prefixes are matched whatever their case: Client is client
        if people and (len(people) < 2 or len({p.lower() for p in people}) < len(people)):
            raise InputError(
                f"subjects {','.join(self.subjects)}: name two or more people, each once"
            )
        if self.subjects and self.subject is not None:
            raise InputError("give --subject (one person) or --subjects (several), not both")
        if self.subjects and self.profile:
            raise InputError("a profile is one client's: analyse them alone with --subject")


@dataclass(frozen=True)
class AnalysisOutcome:
    """What :func:`analyze_path` did.

    Attributes
    ----------
    result : AnalysisResult
        Frames, events, summary (as written to ``summary.json``) and the baseline used.
    recording : Recording
        The recording as analysed (signals, markers, notes, a wot session's record).
    out : Path
        The folder the contract files were written to.
    elapsed_s : float
        Wall-clock seconds of the analysis itself (reading excluded).
    profile_path : Path, optional
        The client profile the session was added to, when ``options.profile`` was given.
    """

    result: AnalysisResult
    recording: Recording
    out: Path
    elapsed_s: float
    profile_path: Path | None = None
    subjects: dict[str, AnalysisOutcome] = field(default_factory=dict)
    """The other subjects of a session of several people (``out/ID`` each); this outcome is
    the first subject's."""

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary


def _write_synchrony(
    done: dict[str, AnalysisOutcome], out: Path, fs: float, say: OnMessage
) -> None:
    """``out/synchrony.csv``, ``out/synchrony_index.csv`` and ``out/summary.json`` (the
    ``coregulation`` block) of the people analysed into ``out/ID``."""
    import numpy as np

    from .atomic import write_json
    from .coregulation import INDEX_COLUMNS, SYNC_COLUMNS, session_synchrony
    from .csvtext import write_csv
    from .errors import InputError

    missing = [sid for sid, o in done.items() if not len(o.result.frames)]
    if missing:
        say("warning", f"no frames for {', '.join(missing)}: their synchrony is not measured")
    got = {sid: o.result for sid, o in done.items() if len(o.result.frames)}
    # each person's frame rate as analysed (a wot recording's own parameters may differ
    # from the configuration's)
    rates = {round(1.0 / float(np.median(np.diff(r.frames.times()))), 6)
             for r in got.values() if len(r.frames) > 1}  # fmt: skip
    if len(rates) > 1:
        raise InputError(
            f"the people were analysed at different frame rates ({sorted(rates)} Hz): their "
            "synchrony needs one"
        )
    fs = rates.pop() if rates else fs
    rows, block, idx = session_synchrony(got, fs)
    more = ["pair"] if len(got) > 2 else []
    write_csv(out / "synchrony.csv", [*SYNC_COLUMNS, *more], rows)
    write_csv(out / "synchrony_index.csv", [*INDEX_COLUMNS, *more], idx)
    write_json(out / "summary.json", {
        "subjects": {sid: f"{sid}/summary.json" for sid in done},
        "coregulation": block,
    })  # fmt: skip
    for pair in block["pairs"]:
        a, b = pair["pair"]
        parts = []
        for sig, v in pair["signals"].items():
            if v["tested"]:
                parts.append(f"{sig} {v['significant']}/{v['tested']} windows in sync")
        ix = pair["index"]
        if ix["tested"]:
            parts.append(f"signals combined {ix['significant']}/{ix['tested']}")
        say("info", f"synchrony {a}-{b}: " + ("; ".join(parts) or "too short to test")
            + f" -> {out / 'synchrony.csv'}")  # fmt: skip
        co = pair.get("coregulation")
        if co and co["returns"]:
            led = [e["led_by"] for e in co["episodes"] if e["in_sync"] and e["led_by"]]
            say("info", f"co-regulation: {co['returns_in_sync']} of {co['returns']} returns of "
                f"{a} to the window in sync with {b}"
                + (f" (led by {', '.join(sorted(set(led)))})" if led else ""))  # fmt: skip


def analyze_path(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: AnalysisOptions | None = None,
    *,
    on_message: OnMessage | None = None,
) -> AnalysisOutcome:
    """Read the recording at ``path`` and write its analysis (the ``wot analyze`` files) to ``out``.

    Parameters
    ----------
    path : path
        XDF, WFDB record (with or without ``.hea``), EDF/BDF or CSV file.
    out : path
        Output folder (created when missing).
    options : AnalysisOptions, optional
        Channels, rate, EDA unit, configuration, baseline window, markers and client profile.
    on_message : callable, optional
        ``on_message(kind, text)`` for each step (:data:`MessageKind`), in order, as it
        happens. Without it, warnings while reading stay Python warnings and the rest is not
        reported.

    Returns
    -------
    AnalysisOutcome

    Raises
    ------
    InputError
        Unreadable or unknown file, unknown channel, bad configuration, markers table or
        profile (e.g. ``profile_baseline`` on a profile without a baseline).
    """
    from .config import load_config
    from .offline import analyze, recorded_setup
    from .sources.files import read_markers, read_recording

    opts = options or AnalysisOptions()
    say: OnMessage = on_message or _quiet
    cfg: Any = load_config(opts.config)
    prof, baseline = _profile_setup(opts, cfg)
    for note in getattr(prof, "notes", ()):
        say("note", note)
    with warnings.catch_warnings(record=True) as caught:
        from .errors import SignalQualityWarning

        warnings.simplefilter("always", SignalQualityWarning)
        rec = read_recording(
            path, dict(opts.channels), opts.fs, opts.eda_unit, opts.subject, opts.skip_bad_lines
        )
    if opts.subject is None and len(rec.subjects) > 1 and opts.profile:
        from .errors import InputError

        raise InputError(
            f"{Path(path).name} holds {', '.join(rec.subjects)}: say whose session goes into "
            f"profile {opts.profile!r} with --subject"
        )
    people = list(opts.subjects) or (rec.subjects if opts.subject is None else [])
    if opts.subjects and rec.csv_info is not None:
        # every person named has columns, before anyone is analysed
        from .sources.csvfile import sniff_csv
        from .sources.files import of_subject

        names = sniff_csv(Path(path)).names
        absent = [p for p in people if not any(of_subject(n.lower(), p) for n in names)]
        if absent:
            from .errors import InputError

            raise InputError(
                f"{Path(path).name}: no columns of {', '.join(absent)} (names starting "
                f"{absent[0]}_ ...); its columns: {', '.join(names)}"
            )
    if len(people) > 1:
        # a session of several people: each analysed as its own person, into out/SUBJECT,
        # and their synchrony
        say("info", f"subjects: {', '.join(people)} (one folder each in {out})")
        done = {
            sid: analyze_path(path, Path(out) / sid, replace(opts, subject=sid, subjects=()),
                              on_message=on_message)
            for sid in people
        }  # fmt: skip
        _write_synchrony(done, Path(out), float(cfg.frame_rate_hz), say)
        first = done.pop(people[0])
        return replace(first, subjects={first.recording.subject: first, **done})
    for w in caught:
        if on_message is None:
            warnings.warn(w.message, stacklevel=2)
        else:
            say("warning", str(w.message))
    if opts.markers:  # added to the recording's own (a wot session's therapist notes)
        extra = read_markers(opts.markers, Path(path).stem)
        rec.markers = sorted(rec.markers + extra, key=lambda m: m[0])
        say("info", f"markers: {len(extra)} added from {opts.markers}")
    reader_notes = list(rec.notes)
    if rec.session is not None:
        # a session recorded by wot is analysed with its own parameters and calibration,
        # unless the options say otherwise
        keep_base = opts.baseline is not None or opts.profile_baseline
        cfg, baseline, setup = recorded_setup(
            rec.session, cfg, baseline, opts.config is not None, keep_base
        )
        for n in setup:
            if n.startswith(("parameters", "baseline")):
                say("info", n)
            else:  # e.g. recorded parameters this version cannot use: kept in the summary
                say("note", n)
                rec.notes.append(n)
    for n in reader_notes:
        say("note", n)
    t = time.perf_counter()
    res = analyze(rec, out, cfg, baseline)
    dt = time.perf_counter() - t
    fz = res.summary["fraction_in_zone"]
    sigs = ", ".join(f"{m}={s.name}@{s.fs:g}Hz" for m, s in rec.signals.items())
    say(
        "result",
        f"analysed {rec.duration_s:.0f} s ({sigs}) in {dt:.2f} s -> {out}\n"
        f"  zones: hyper {fz['hyper']:.0%}, within {fz['within']:.0%}, hypo {fz['hypo']:.0%}, "
        f"unknown {fz['unknown']:.0%}; {res.summary['calibration_message']}",
    )
    saved = None
    if prof is not None and opts.profile:
        from .profiles import save_session

        # added to the profile as it is now (others may have saved to it since it was read)
        number, saved = save_session(opts.profile, prof, res.summary, res.baseline, str(path))
        say("info", f"profile {opts.profile}: session {number} saved to {saved}")
    return AnalysisOutcome(res, rec, Path(out), dt, saved)


def _quiet(kind: MessageKind, text: str) -> None:
    pass


def _profile_setup(opts: AnalysisOptions, cfg: Any) -> tuple[dict[str, Any] | None, Any]:
    """The client profile (its window bounds applied to ``cfg``) and the baseline to analyse
    with: the options' window, or the profile's baseline with ``profile_baseline``."""
    if not opts.profile:
        return None, opts.baseline
    from .profiles import apply_window, load_profile, profile_baseline

    prof = load_profile(opts.profile, cfg)
    apply_window(prof, cfg)
    if opts.profile_baseline:
        return prof, profile_baseline(prof, cfg)
    return prof, opts.baseline
