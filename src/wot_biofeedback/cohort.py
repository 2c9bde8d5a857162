"""Cohort analysis: every recording of a folder through ``wot analyze``, one row per session.

The unit of work is :func:`analyze_one`: read one recording, analyse it into
``OUT/<session>/`` (:func:`wot_biofeedback.analysis.analyze_path`, as ``wot analyze`` does:
the files of its contract) and return one flat row
(:func:`session_row`). :func:`run_cohort` runs it over many recordings, in this process
(``workers=1``), on this machine's cores (a spawned process pool) or on a Dask distributed
cluster (``scheduler="tcp://host:8786"``), and writes the rows to ``OUT/cohort.csv`` in input
order. The three modes give byte-identical ``cohort.csv`` files: each session is analysed
alone, from its own file, with the same parameters, and the row holds only values that do not
depend on where or when it ran (no timings, no absolute paths), floats rounded to
:data:`DECIMALS` places.

A file that cannot be read or analysed (corrupt, empty, no usable signal, ...) gives a row with
``status`` "error" and a one-line ``error``; it never stops the batch. Nor does a file that
takes too long: each session has :data:`FILE_TIMEOUT_S` seconds (``file_timeout``), after
which its row says ``timed out after S s`` and its worker process is ended (on a Dask cluster,
the task's slot is freed; see :func:`run_cohort`).

On a cluster, every worker must have wot-biofeedback installed and see the input files and the
output folder at the same paths as this process (a shared file system); paths are made absolute
before they are sent.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import modalities
from .csvtext import write_csv
from .errors import InputError

RECORDING_SUFFIXES = (".xdf", ".xdfz", ".csv", ".edf", ".bdf", ".hea")
"""File endings :func:`find_recordings` takes as recordings (a WFDB record by its ``.hea``)."""

DECIMALS = 4
"""Decimal places of every float of a row (serial and parallel runs give the same text)."""

ZONES = ("hyper", "within", "hypo", "unknown")
BASELINE_FEATURES = ("hr_bpm", "rmssd_ms", "scl_us", "scr_per_min", "resp_rate_bpm")
SYNC_SIGNALS = tuple(modalities.SYNC_SIGNALS.values())  # the signals of a synchrony
COUNTS = ("rpeaks", "scr", "breaths")

COLUMNS: tuple[str, ...] = (
    "session",
    "input",
    "status",
    "error",
    "client",
    "scenario",
    "seed",
    "signals",
    "recorded_by_wot",
    "duration_s",
    *(f"fraction_{z}" for z in ZONES),
    *(f"time_{z}_s" for z in ZONES),
    "n_hyper_excursions",
    "n_hypo_excursions",
    "recovery_median_s",
    "recovery_max_s",
    "recovery_from_peak_median_s",
    "recovery_from_peak_max_s",
    "n_cues",
    "cue_back_to_window_median_s",
    "usable_ecg",
    "usable_eda",
    "usable_resp",
    *(f"baseline_{k}" for k in BASELINE_FEATURES),
    *(f"n_{k}" for k in COUNTS),
    "calibration",
    "notes",
    "people",
    *(f"sync_{g}" for g in SYNC_SIGNALS),
    "sync_all",
    "returns",
    "returns_in_sync",
)
"""Columns of a session row and of ``cohort.csv``, in order.

* ``session``: the analysis folder's name (the file's stem, made unique in the cohort);
  ``input``: the file name; ``status``: "ok" or "error"; ``error``: one line, "" when ok.
* ``client``, ``scenario``, ``seed``: from the summary's session metadata, when it has any.
* ``signals``: the modalities analysed, e.g. ``ecg+eda+resp``; ``recorded_by_wot``: 1 for a
  wot session file (analysed with its recorded parameters and baseline), else 0.
* ``duration_s``: analysed time, s; ``fraction_<zone>``: share of frames in each zone (0..1);
  ``time_<zone>_s``: seconds in it.
* ``n_hyper_excursions``, ``n_hypo_excursions``: runs of hyper/hypo frames;
  ``recovery_median_s``, ``recovery_max_s``: seconds from the end of an excursion until the zone
  is within again (excursions that never returned are left out; blank without any);
  ``recovery_from_peak_*``: the same from each excursion's most extreme moment (blank when the
  summary does not have it).
* ``n_cues``: regulation cues given; ``cue_back_to_window_median_s``: median seconds from a
  hyper/hypo cue until the zone was within again (blank when none returned).
* ``usable_ecg``, ``usable_eda``, ``usable_resp``: share of frames (0..1) whose signal quality
  was usable (>= 0.5). ``usable_ecg`` is the cardiac channel whatever its source (ECG, PPG or
  RR intervals, as ``quality_ecg`` in features.csv); ``usable_resp`` the breathing channel
  (belt or chest accelerometer). Blank when the recording lacks the channel.
* ``baseline_<feature>``: the client's resting level in natural units (bpm, ms, µS, 1/min,
  breaths/min): the summary's ``baseline_levels``, medians over the calibration window's frames
  with usable quality (:func:`wot_biofeedback.offline.baseline_levels`); blank when the feature
  or a calibration window is missing (e.g. a baseline from a profile).
* ``n_rpeaks``, ``n_scr``, ``n_breaths``: detected R-peaks (or pulse peaks), skin conductance
  responses and breaths.
* ``calibration``: the calibration message (e.g. "calibrated", or why there are no zones);
  ``notes``: the reader's notes and data-quality warnings, joined with " | ".
* A recording of several people (the row is the first person's): ``people``, their ids joined
  with "+"; ``sync_hr``, ``sync_eda``, ``sync_resp``: the share of tested windows in which
  the first two were in sync (:mod:`wot_biofeedback.coregulation`), ``sync_all`` the same
  of the signals combined (``synchrony_index.csv``); ``returns`` and
  ``returns_in_sync``: the first person's returns to the window, and those in sync while the
  other stayed within. Blank for one person.
"""

OPTION_KEYS = (
    "channels", "fs", "eda_unit", "config", "baseline", "markers", "report", "skip_bad_lines",
)  # fmt: skip
"""Keys of the options dict of :func:`analyze_one` and :func:`run_cohort`:

* ``channels``: ``{"ecg"|"ppg"|"eda"|"resp": name or 0-based index}``, as ``wot analyze``'s
  ``--ecg``/``--ppg``/``--eda``/``--resp``;
* ``fs``: sampling rate, Hz, for CSV files without a ``time_s`` column;
* ``eda_unit``: ``uS`` (default), ``nS``, ``mS``, ``S`` or ``raw:SCALE``;
* ``config``: path of a TOML engine configuration (each worker loads it itself);
* ``baseline``: calibration window ``(start_s, end_s)``, or None for the default (first 120 s;
  a wot session file uses its recorded baseline unless this is given);
* ``markers``: a markers table (:func:`~wot_biofeedback.sources.files.read_markers`); each
  session gets the rows of its file stem (all rows when the table names no recordings), added
  to its own markers;
* ``report``: also write each session's report into its analysis folder;
* ``skip_bad_lines``: CSV files: skip (and count) malformed lines instead of failing.
"""

_MAX_ERROR_CHARS = 500

FILE_TIMEOUT_S = 3600.0
"""Default longest time one session of a cohort may take, s: an hour, many times what a long
recording needs (a day of ECG, EDA and breathing is analysed in minutes), so only a file that
would never end meets it."""


# finding recordings --------------------------------------------------------------------------
def find_recordings(
    folder: str | os.PathLike[str], exclude: Iterable[str | os.PathLike[str]] = ()
) -> list[Path]:
    """The recordings directly inside ``folder`` (not in its subfolders), sorted by name.

    Parameters
    ----------
    folder : path
        Folder to look in. Files ending in ``.xdf``, ``.xdfz``, ``.csv``, ``.edf``, ``.bdf`` or
        ``.hea`` (any case) are recordings; hidden files (``.name``) are not. A WFDB record is
        returned as its path without extension (``100`` for ``100.hea`` + ``100.dat``), as
        :func:`~wot_biofeedback.sources.files.read_recording` takes it.
    exclude : paths
        Files, or folders whose files, to leave out (e.g. the output folder, or its
        ``cohort.csv`` when it is ``folder`` itself).

    Raises
    ------
    InputError
        ``folder`` is not a folder.
    """
    base = Path(folder)
    if not base.is_dir():
        raise InputError(f"{base} is not a folder of recordings")
    skip = [Path(p).resolve() for p in exclude]
    found = []
    for p in sorted(base.iterdir(), key=lambda q: q.name):
        suffix = p.suffix.lower()
        if p.name.startswith(".") or suffix not in RECORDING_SUFFIXES or not p.is_file():
            continue
        full = p.resolve()
        if any(full == s or full.is_relative_to(s) for s in skip):
            continue
        found.append(p.with_suffix("") if suffix == ".hea" else p)
    return found


def _stem(p: Path) -> str:
    return p.stem if p.suffix.lower() in RECORDING_SUFFIXES else p.name


def _kind(p: Path) -> str:
    suffix = p.suffix.lower()
    return suffix[1:] if suffix in RECORDING_SUFFIXES else "wfdb"


def session_names(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """A unique analysis-folder name per path: the file's stem; stems shared by several paths
    get their file type (``a_csv``, ``a_xdf``), and names still shared a counter (``a_csv-2``)."""
    ps = [Path(p) for p in paths]
    stems = [_stem(p) for p in ps]
    names = [f"{s}_{_kind(p)}" if stems.count(s) > 1 else s for s, p in zip(stems, ps, strict=True)]
    # a name taken already (a path whose own stem looks like "a_csv", or names that differ
    # only in case, which collide on case-insensitive file systems) gets a counter
    taken: set[str] = set()
    out = []
    for n in names:
        cand, k = n, 2
        while cand.casefold() in taken:
            cand, k = f"{n}-{k}", k + 1
        taken.add(cand.casefold())
        out.append(cand)
    return out


# one session ---------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    """``v`` rounded to :data:`DECIMALS` places; None when missing or not finite."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    r = round(f, DECIMALS)
    return 0.0 if r == 0 else r  # no "-0.0"


def _int(v: Any) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def _median(values: list[float]) -> float | None:
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2.0


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text(v: Any) -> str:
    return "" if v is None else " ".join(str(v).split())


def _meta(summary: dict[str, Any], key: str) -> str:
    """``key`` of the summary's session metadata (``summary["session"]``, or its
    ``metadata``), "" when absent."""
    sess = _dict(summary.get("session"))
    for d in (sess, _dict(sess.get("metadata"))):
        if d.get(key) is not None:
            return _text(d[key])
    return ""


def _empty_row(name: str, input_name: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(session=name, input=input_name, status="ok", error="", notes="")
    return row


def session_row(summary: dict[str, Any], name: str) -> dict[str, Any]:
    """One flat row of :data:`COLUMNS` from a ``summary.json`` dict of ``wot analyze``.

    Missing values are None (blank in the CSV); floats are rounded to :data:`DECIMALS` places.
    Only values that do not depend on where or when the analysis ran are kept. The summary is
    read defensively: a key it lacks leaves its columns blank.
    """
    inp = _dict(summary.get("input"))
    row = _empty_row(name, Path(str(inp.get("path") or "")).name)
    row["client"] = _meta(summary, "client")
    row["scenario"] = _meta(summary, "scenario")
    row["seed"] = _meta(summary, "seed")
    signals = _dict(inp.get("signals"))
    row["signals"] = "+".join(signals)
    if "recorded_by_wot" in inp:
        row["recorded_by_wot"] = int(bool(inp["recorded_by_wot"]))
    row["duration_s"] = _num(summary.get("duration_s"))
    frac = _dict(summary.get("fraction_in_zone"))
    secs = _dict(summary.get("time_in_zone_s"))
    for z in ZONES:
        row[f"fraction_{z}"] = _num(frac.get(z))
        row[f"time_{z}_s"] = _num(secs.get(z))
    nexc = _dict(summary.get("n_excursions"))
    row["n_hyper_excursions"] = _int(nexc.get("hyper"))
    row["n_hypo_excursions"] = _int(nexc.get("hypo"))
    rec = _dict(summary.get("recovery_s"))
    row["recovery_median_s"] = _num(rec.get("median"))
    row["recovery_max_s"] = _num(rec.get("max"))
    rec = _dict(summary.get("recovery_from_peak_s"))
    row["recovery_from_peak_median_s"] = _num(rec.get("median"))
    row["recovery_from_peak_max_s"] = _num(rec.get("max"))
    cues = summary.get("cues")
    if isinstance(cues, list):
        row["n_cues"] = len(cues)
        back = [_num(_dict(c).get("time_back_to_window_s")) for c in cues]
        row["cue_back_to_window_median_s"] = _num(_median([b for b in back if b is not None]))
    quality = _dict(summary.get("signal_quality"))
    # the channel each modality feeds (as the pipeline maps them)
    channel_of = {m: modalities.key_of(m) for m in modalities.NAMES}
    for m, q in quality.items():
        ch = channel_of.get(m)
        if ch is not None and row[f"usable_{ch}"] is None:
            row[f"usable_{ch}"] = _num(_dict(q).get("usable_fraction"))
    # resting levels in natural units over the calibration window (offline.baseline_levels)
    base = _dict(summary.get("baseline_levels"))
    for k in BASELINE_FEATURES:
        row[f"baseline_{k}"] = _num(base.get(k))
    counts = _dict(summary.get("counts"))
    for k in COUNTS:
        row[f"n_{k}"] = _int(counts.get(k))
    row["calibration"] = _text(summary.get("calibration_message"))
    notes = inp.get("notes")
    if isinstance(notes, list):
        row["notes"] = _join(_text(n) for n in notes)
    return row


def _join(items: Iterable[str]) -> str:
    out: list[str] = []
    for s in items:
        if s and s not in out:
            out.append(s)
    return " | ".join(out)


def _error_text(exc: BaseException, path: Path) -> str:
    """One line naming the problem, without the absolute path of the input."""
    msg = str(exc)
    if not isinstance(exc, InputError):
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    for p in {str(path.resolve()), str(path)}:
        if p and p != path.name:
            msg = msg.replace(p, path.name)
    msg = _text(msg)
    return msg if len(msg) <= _MAX_ERROR_CHARS else msg[: _MAX_ERROR_CHARS - 3] + "..."


def analyze_one(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Analyse one recording into ``out_dir/<name>/`` and return its row (:data:`COLUMNS`).

    The unit of work of :func:`run_cohort` (a top-level function, so it pickles for worker
    processes and Dask). Any exception is caught and returned as a row with ``status``
    "error" and a one-line ``error``; warnings are caught too (data-quality ones go to
    ``notes``), so the row is the same whatever the warning filters of the process.

    Parameters
    ----------
    path : path
        Recording file (a WFDB record without extension).
    out_dir : path
        Cohort output folder; the session's files go into its subfolder ``name``.
    options : dict, optional
        See :data:`OPTION_KEYS`.
    name : str, optional
        Session (subfolder) name; default: the file's stem.
    """
    p = Path(path)
    opts = dict(options or {})
    name = name or _stem(p)
    row = _empty_row(name, p.name)
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = _analyze(p, Path(out_dir) / name, opts)
        row = session_row(res.summary, name)
        row["input"] = p.name
        if res.subjects:  # a recording of several people: their co-regulation
            row.update(coregulation_columns(Path(out_dir) / name))
        from .errors import SignalQualityWarning

        # data-quality warnings the reader did not keep as notes already
        extra = [_text(w.message) for w in caught if issubclass(w.category, SignalQualityWarning)]
        row["notes"] = _join([row["notes"], *(m for m in extra if m not in row["notes"])])
    except Exception as exc:
        row["status"] = "error"
        row["error"] = _error_text(exc, p)
        return row
    if opts.get("report"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from .report import write_report  # type: ignore[import-not-found,unused-ignore]

                # a recording of several people: the first person's folder (OUT/name/ID)
                write_report(res.out, res.out)
        except Exception as exc:  # the analysis stands; the row says the report failed
            row["status"] = "error"
            row["error"] = "report: " + _error_text(exc, p)
    return row


def coregulation_columns(folder: Path) -> dict[str, Any]:
    """``people``, ``sync_<signal>`` and ``sync_all`` (the share of tested windows in sync,
    first pair; all: the signals combined) and the
    client's ``returns`` and ``returns_in_sync``, from a several-person analysis's
    ``summary.json``; blank where it has none."""
    out: dict[str, Any] = {}
    try:
        top = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return out
    out["people"] = "+".join(_dict(top).get("subjects", {}))
    pairs = _dict(_dict(top).get("coregulation")).get("pairs") or []
    if pairs:
        first = _dict(pairs[0])
        for g, v in _dict(first.get("signals")).items():
            out[f"sync_{g}"] = _num(_dict(v).get("significant_share"))
        out["sync_all"] = _num(_dict(first.get("index")).get("significant_share"))
        co = _dict(first.get("coregulation"))
        out["returns"] = _int(co.get("returns"))
        out["returns_in_sync"] = _int(co.get("returns_in_sync"))
    return out


def _analyze(p: Path, analysis_dir: Path, opts: dict[str, Any]) -> Any:
    from .analysis import AnalysisOptions, analyze_path

    baseline = opts.get("baseline")
    options = AnalysisOptions(
        channels=dict(opts.get("channels") or {}),
        fs=opts.get("fs"),
        eda_unit=opts.get("eda_unit"),
        config=opts.get("config"),
        baseline=(float(baseline[0]), float(baseline[1])) if baseline is not None else None,
        markers=opts.get("markers"),
        skip_bad_lines=bool(opts.get("skip_bad_lines")),
    )
    return analyze_path(p, analysis_dir, options)


# the cohort ----------------------------------------------------------------------------------
def check_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the options (:data:`OPTION_KEYS`) before any work is sent out.

    Raises
    ------
    InputError
        An unknown key, a bad channel map, rate, EDA unit or baseline window, or a config file
        that is missing or invalid; the message names the bad value.
    """
    from .config import load_config
    from .sources.files import parse_eda_unit

    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTION_KEYS))
    if unknown:
        raise InputError(
            f"unknown cohort option(s) {', '.join(unknown)}; known: {', '.join(OPTION_KEYS)}"
        )
    channels = opts.get("channels") or {}
    if not isinstance(channels, dict) or set(channels) - set(modalities.FILE_MODALITIES):
        raise InputError(
            f"channels {channels!r} must map ecg/ppg/eda/resp to a channel name or index"
        )
    opts["channels"] = {k: None if v is None else str(v) for k, v in channels.items()}
    fs = opts.get("fs")
    if fs is not None and not (isinstance(fs, int | float) and math.isfinite(fs) and fs > 0):
        raise InputError(f"fs {fs!r} must be a positive sampling rate in Hz")
    if opts.get("eda_unit"):
        parse_eda_unit(opts["eda_unit"])
    base = opts.get("baseline")
    if base is not None:
        try:
            a, b = (float(v) for v in base)
        except (TypeError, ValueError):
            raise InputError(f"baseline {base!r} must be (start_s, end_s)") from None
        if not 0 <= a < b:
            raise InputError(f"baseline {base!r}: need 0 <= start_s < end_s")
        opts["baseline"] = (a, b)
    if opts.get("markers") is not None:
        from .sources.files import read_markers

        read_markers(opts["markers"])  # a bad table is reported once, before any work
        opts["markers"] = str(Path(opts["markers"]).resolve())
    if opts.get("config") is not None:
        load_config(opts["config"])  # a bad file is reported once, here
        opts["config"] = str(Path(opts["config"]).resolve())
    opts["report"] = bool(opts.get("report", False))
    opts["skip_bad_lines"] = bool(opts.get("skip_bad_lines", False))
    return opts


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="cohort",
        unit="session",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    )


def run_cohort(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: dict[str, Any] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    file_timeout: float | None = FILE_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Analyse every recording of ``paths`` and write ``out_dir/cohort.csv``.

    Parameters
    ----------
    paths : paths
        Recordings (e.g. from :func:`find_recordings`); the rows keep this order.
    out_dir : path
        Output folder: ``cohort.csv`` and one analysis folder per session (names from
        :func:`session_names`).
    options : dict, optional
        See :data:`OPTION_KEYS`; validated here, before any work starts.
    workers : int, optional
        1: one after the other in this process. N > 1: N worker processes on this machine
        (spawned, not forked: numba and threads are not fork-safe). None: one per CPU core.
        At most one process per recording. Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): the sessions run on its
        workers, which must see the files and ``out_dir`` at the same paths. Needs the
        ``cluster`` extra (``pip install "wot-biofeedback[cluster]"``). Give the workers one
        thread each (``dask worker --nthreads 1``): a session holds the interpreter for most
        of its run anyway, and warnings are captured per process, not per thread.
    progress : bool
        A progress bar on stderr, advanced as each session completes.
    file_timeout : float, optional
        Longest time one session may take, s (default :data:`FILE_TIMEOUT_S`; None or 0: no
        limit). A session that takes longer gives a row with ``status`` "error" and ``error``
        "timed out after S s". Local workers are processes, ended at the limit (the pool is
        restarted; sessions it was running at the time start again). With ``workers=1`` and a
        limit, the sessions run one after the other in one worker process (without a limit,
        in this process). On a Dask cluster the limit counts from when the session starts on
        its worker; the task then returns its error row and frees its slot, but Python cannot
        stop the analysis itself, which runs on in the background until it ends or the worker
        restarts (``dask worker --lifetime``).

    Returns
    -------
    list of dict
        One row per path (:data:`COLUMNS`), in input order, as written to ``cohort.csv``.

    Raises
    ------
    InputError
        Bad options or ``workers``, ``distributed`` not installed, scheduler not reachable.
        A recording that fails is a row with status "error", not an exception.
    """
    opts = check_options(options)
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise InputError(f"workers {workers!r} must be a whole number >= 1")
    if file_timeout is not None and not (
        isinstance(file_timeout, int | float)
        and not isinstance(file_timeout, bool)
        and file_timeout >= 0
        and not math.isnan(file_timeout)
    ):
        raise InputError(f"file_timeout {file_timeout!r} must be a number of seconds >= 0")
    limit = float(file_timeout) if file_timeout and math.isfinite(file_timeout) else None
    client = _dask_client(scheduler) if scheduler is not None else None
    out = Path(out_dir).resolve()
    files = [Path(p).resolve() for p in paths]
    names = session_names(files)
    jobs = [(str(f), str(out), opts, n) for f, n in zip(files, names, strict=True)]
    rows: list[dict[str, Any] | None] = [None] * len(jobs)
    with _progress(len(jobs), progress) as bar:
        if client is not None:
            with client:
                out.mkdir(parents=True, exist_ok=True)
                _run_dask(client, jobs, rows, bar, limit)
        else:
            out.mkdir(parents=True, exist_ok=True)
            n = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
            if n == 1 and limit is None:
                for i, job in enumerate(jobs):
                    rows[i] = analyze_one(*job)
                    bar.update(1)
            else:
                _run_pool(jobs, rows, n, bar, limit)
    done = [
        r if r is not None else _failed(j, "the session was never analysed")
        for r, j in zip(rows, jobs, strict=True)
    ]
    write_cohort_csv(done, out / "cohort.csv")
    return done


def _failed(job: tuple[str, str, dict[str, Any], str], why: str) -> dict[str, Any]:
    row = _empty_row(job[3], Path(job[0]).name)
    row["status"] = "error"
    row["error"] = _text(why)[:_MAX_ERROR_CHARS]
    return row


def _ready() -> bool:
    """A worker process's first task: the analysis modules imported, so a session's time limit
    does not count the start of its process."""
    from . import analysis, offline  # noqa: F401

    return True


def _run_pool(
    jobs: list[Any], rows: list[Any], n: int, bar: Any, limit: float | None = None
) -> None:
    """The sessions on ``n`` spawned worker processes, at most ``n`` at a time so each starts
    when it is sent; one that runs past ``limit`` seconds is an error row, and the pool is
    ended (its processes killed: a running task cannot be stopped otherwise) and started
    again, the sessions it was still running sent again."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")

    def start() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
        if limit is not None:
            wait([pool.submit(_ready) for _ in range(n)])
        return pool

    todo = deque(range(len(jobs)))
    running: dict[Future[Any], tuple[int, float]] = {}
    pool = start()
    try:
        while todo or running:
            while todo and len(running) < n:
                i = todo.popleft()
                try:
                    fut = pool.submit(analyze_one, *jobs[i])
                except BrokenProcessPool:  # a worker died (e.g. out of memory): a new pool
                    todo.appendleft(i)
                    _end_pool(pool)
                    pool = start()
                    continue
                running[fut] = (i, time.monotonic())
            due = None
            if limit is not None:
                due = max(0.0, min(t for _i, t in running.values()) + limit - time.monotonic())
            done, _ = wait(running, timeout=due, return_when=FIRST_COMPLETED)
            for fut in done:
                i, _t = running.pop(fut)
                try:
                    rows[i] = fut.result()
                except Exception as exc:  # the worker process died (e.g. out of memory)
                    rows[i] = _failed(jobs[i], f"worker failed: {type(exc).__name__}: {exc}")
                bar.update(1)
            now = time.monotonic()
            late = [f for f, (_i, t) in running.items() if limit is not None and now - t >= limit]
            if late:
                for fut in late:
                    i, _t = running.pop(fut)
                    rows[i] = _failed(jobs[i], f"timed out after {limit:g} s")
                    bar.update(1)
                # the others lose their work so far: sent again, in their order
                todo.extendleft(sorted((i for i, _t in running.values()), reverse=True))
                running.clear()
                _end_pool(pool)
                pool = start()
    finally:
        _end_pool(pool, kill=bool(running))


def _end_pool(pool: Any, kill: bool = True) -> None:
    """Shut a process pool down; with ``kill``, end its processes first (a task that never
    returns would keep ``shutdown`` waiting for ever)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    if kill:
        for proc in procs:
            proc.kill()
    pool.shutdown(wait=not kill, cancel_futures=True)
    for proc in procs:
        proc.join(10.0)


def _dask_client(scheduler: str) -> Any:
    """A ``distributed.Client`` connected to ``scheduler``; the errors in the project's terms."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            f"running on the Dask scheduler {scheduler} needs the distributed package: "
            'pip install "wot-biofeedback[cluster]"'
        ) from None
    try:
        return Client(scheduler)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def analyze_one_limited(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: dict[str, Any] | None = None,
    name: str | None = None,
    limit: float | None = None,
) -> dict[str, Any]:
    """:func:`analyze_one` with a time limit, for a Dask worker: the analysis runs on a thread
    of its own, and past ``limit`` seconds the row says it timed out (the thread cannot be
    stopped; it runs on in the background, its result dropped)."""
    if limit is None:
        return analyze_one(path, out_dir, options, name)
    got: list[dict[str, Any]] = []
    job = threading.Thread(
        target=lambda: got.append(analyze_one(path, out_dir, options, name)),
        name="wot-cohort-session",
        daemon=True,
    )
    job.start()
    job.join(limit)
    if got:
        return got[0]
    p = Path(path)
    return _failed((str(p), str(out_dir), dict(options or {}), name or _stem(p)),
                   f"timed out after {limit:g} s")  # fmt: skip


def _run_dask(
    client: Any, jobs: list[Any], rows: list[Any], bar: Any, limit: float | None = None
) -> None:
    from distributed import as_completed

    run = uuid.uuid4().hex[:12]  # unique keys: a rerun is never taken for a cached result
    futures = [
        client.submit(analyze_one_limited, *job, limit, key=f"wot-cohort-{run}-{i}", pure=False)
        for i, job in enumerate(jobs)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    for fut in as_completed(futures):
        i = index[fut.key]
        try:
            rows[i] = fut.result()
        except Exception as exc:  # e.g. KilledWorker: the task took workers down with it
            rows[i] = _failed(jobs[i], f"worker failed: {type(exc).__name__}: {exc}")
        bar.update(1)
        fut.release()


def write_cohort_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` as CSV with the :data:`COLUMNS` header (blank for None; ``\\n`` line
    ends; text cells escaped against spreadsheet formulas, :mod:`~wot_biofeedback.csvtext`),
    atomically: a reader never sees half a file."""
    return write_csv(path, COLUMNS, ([r.get(c) for c in COLUMNS] for r in rows))
