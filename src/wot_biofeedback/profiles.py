"""Per-client profiles: the client's own baseline and window, kept across sessions.

A profile is one human-readable JSON file per client in the profile directory:
``$WOT_PROFILE_DIR`` if set, else the user data directory (``$XDG_DATA_HOME`` or
``~/.local/share`` on Linux, ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on
Windows) under ``wot-biofeedback/profiles/NAME.json``. Its fields::

    {
      "format": "wot-biofeedback client profile", "version": 1, "schema": 2,
      "client": "NAME", "created": "...", "updated": "...",
      "window": {"upper": 1.5, "lower": -1.0},      # the client's bounds, baseline-z units
      "baseline": {"median": {...}, "z_median": {...}, "z_scale": {...},
                   "sessions": 3},                    # merged over the recent sessions
      "sessions": [{"date": "...", "source": "...", "duration_s": ...,
                    "baseline": {...}, "time_in_zone_s": {...}, "fraction_in_zone": {...},
                    "n_excursions": {...}, "recovery_s": {...}}, ...],
      "assessments": [{...}, ...],  # ``wot assess --profile`` results (it also sets ``window``)
      "resonance": {"rate_bpm": 5.5, "date": "...", "margin": 0.12, "close": [],
                    "source": "..."},  # ``wot assess --resonance --profile``: the pacer's rate
      "cue_prefs": {"pinned": ["name-it"], "banned": ["energise"]}  # ``wot cues --profile``
    }

Each session also keeps its regulation cues (``cues``: library id, zone, time back to the
window); :func:`cue_records` sums them per cue, and the cue policy learns from that which cues
bring this client back (``cues.learned``; see :mod:`wot_biofeedback.cues`).

``window`` is read into the zone bounds of every session (edit it to widen or narrow the
client's window as therapy goes on), and ``resonance.rate_bpm``, when there is one, into the
breathing pacer's rate. After each session its calibrated baseline and zone
summary are appended; the merged ``baseline`` is the per-feature median over the last
``MERGE_SESSIONS`` sessions, and a session can start from it (``--profile-baseline``) instead
of calibrating, e.g. when there is no quiet period at its start. The history shows whether the
time in the window grows and excursions shorten across sessions.

The profiles are a small database. The file name (``--profile NAME``) is the client's identity;
the ``client`` field is only informational. A command reads the profile when it starts (the
window, the baseline) and saves what it adds when it ends: :func:`save_session` and
:func:`save_window` read the file as it is *then*, merge the change in and write it back, under
an exclusive lock on ``NAME.json.lock`` beside it (``fcntl.flock`` on POSIX, ``msvcrt.locking``
on Windows), through a temporary file, fsync and ``os.replace``. So commands that run at the
same time (a live session and an analysis, six analyses) all keep what they add, and a reader
never sees half a file. Every file read is checked (:func:`load_profile`): a file that is not
a valid profile is a one-line :class:`InputError` naming the file and the field, and is never
written to. ``"schema"`` counts the revisions of the fields: a file without it (written before
it existed) is schema 1 and is upgraded when read; a newer schema than :data:`SCHEMA` is
refused. ``"version": 1`` stays for the releases that only read that key.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import math
import os
import re
import statistics
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .atomic import json_safe, write_text
from .config import CueRecord, EngineConfig, Num
from .errors import InputError
from .state import ZONE_CODE, Baseline
from .validation import check_limits, one_line

FORMAT = "wot-biofeedback client profile"
VERSION = 1
"""The ``version`` key: 1 in every file, kept for the releases that check only it."""
SCHEMA = 2
"""The revision of the fields this version writes (and the newest it reads). 1: the files
written before ``schema`` existed (read and upgraded: ``schema`` and ``assessments`` added)."""
MERGE_SESSIONS = 5
MAX_SESSIONS = 10_000
"""The most sessions (and assessments) a profile keeps; a save beyond it is refused."""
MAX_BYTES = 64 * 2**20
"""The largest profile file read (a session takes about 2.2 kB: 10,000 about 22 MB)."""
LIMITS: dict[str, Any] = {
    "max_depth": 16,  # a real profile nests 5 deep (sessions[i].baseline.z_median.NAME)
    "max_items": MAX_SESSIONS,
    "max_chars": 10_000,
    "max_abs": 1e9,  # e.g. 31 years in seconds; no value of a real profile comes near
}
"""Limits on every value of a profile file, whatever its key (:func:`validation.check_limits`)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
T = TypeVar("T")


def profile_dir() -> Path:
    """Directory holding the profiles (see the module docstring)."""
    env = os.environ.get("WOT_PROFILE_DIR")
    if env:
        return Path(env)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "wot-biofeedback" / "profiles"


def profile_path(name: str) -> Path:
    if not _NAME.match(name):
        raise InputError(
            f"profile name {name!r:.80}: use letters, digits, '.', '_' or '-' (up to 64), "
            "starting with a letter or digit"
        )
    return profile_dir() / f"{name}.json"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Profile(dict[str, Any]):
    """A profile's fields (a plain dict to JSON), with the ``name`` it was read under (its file,
    its identity) and ``notes`` on reading it (e.g. a ``client`` field that names someone
    else)."""

    def __init__(self, name: str, fields: Mapping[str, Any], notes: list[str] | None = None):
        super().__init__(fields)
        self.name = name
        self.notes = list(notes or [])


# the schema: what the code reads from a profile, checked before anything uses it ---------------
_OPEN = ConfigDict(extra="allow")  # keys of later versions or added by hand are kept
Short = Annotated[str, Field(strict=True, max_length=64)]
Bound = Annotated[Num, Field(ge=-20.0, le=20.0)]  # as the configuration's zones.upper/lower
Values = dict[Short, Num | None]
Scales = dict[Short, Annotated[Num, Field(gt=0.0)]]


class Window(BaseModel):
    model_config = _OPEN
    upper: Bound
    lower: Bound

    @model_validator(mode="after")
    def _around_the_baseline(self) -> Window:
        if not self.lower < 0.0 < self.upper:
            raise ValueError(
                f"window needs lower < 0 < upper, got lower {self.lower:g}, upper {self.upper:g}"
            )
        return self


class SessionBaseline(BaseModel):
    model_config = _OPEN
    start_s: Num | None = None
    end_s: Num | None = None
    median: Values = {}
    z_median: dict[Short, Num] = {}
    z_scale: Scales = {}


class MergedBaseline(BaseModel):
    model_config = _OPEN
    median: Values = {}
    z_median: dict[Short, Num] = {}
    z_scale: Scales = {}
    sessions: Annotated[int, Field(strict=True, ge=0)] = 0


CueId = Annotated[str, Field(strict=True, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]  # config's


class SessionCue(BaseModel):
    model_config = _OPEN
    cue_id: CueId
    zone: Short
    back_s: Annotated[Num, Field(ge=0.0)] | None = None
    returned: bool | None = None


class CuePrefs(BaseModel):
    model_config = _OPEN
    pinned: Annotated[list[CueId], Field(max_length=3)] = []
    banned: Annotated[list[CueId], Field(max_length=500)] = []


class Session(BaseModel):
    """A session record (older ones lack the keys added since: every key is optional)."""

    model_config = _OPEN
    date: Short | None = None
    source: Annotated[str, Field(strict=True, max_length=4096)] | None = None
    duration_s: Annotated[Num, Field(ge=0.0)] | None = None
    baseline: SessionBaseline | None = None
    time_in_zone_s: Values | None = None
    fraction_in_zone: Values | None = None
    n_excursions: Values | None = None
    recovery_s: Values | None = None
    recovery_from_peak_s: Values | None = None
    baseline_levels: Values | None = None
    markers: list[Any] | None = None
    window: Window | None = None
    cues: list[SessionCue] | None = None


class Resonance(BaseModel):
    model_config = _OPEN
    rate_bpm: Annotated[Num, Field(ge=3.0, le=9.0)]  # resonance.RATE_RANGE


class ProfileFields(BaseModel):
    model_config = _OPEN
    client: Short | None = None
    created: Short | None = None
    updated: Short | None = None
    window: Window
    baseline: MergedBaseline | None = None
    sessions: Annotated[list[Session], Field(max_length=MAX_SESSIONS)]
    assessments: Annotated[list[dict[str, Any]], Field(max_length=MAX_SESSIONS)] = []
    resonance: Resonance | None = None
    cue_prefs: CuePrefs | None = None


_NOUNS = {
    "Window": "a window (upper, lower)",
    "SessionBaseline": "a baseline",
    "MergedBaseline": "a baseline",
    "Session": "a session record",
    "Resonance": "a resonance rate (rate_bpm)",
    "SessionCue": "a cue record (cue_id, zone, back_s)",
    "CuePrefs": "cue preferences (pinned, banned)",
    "ProfileFields": "a profile",
}


def check_profile(prof: Any, where: str) -> dict[str, Any]:
    """``prof`` (parsed JSON) as a profile of schema :data:`SCHEMA` (an older one upgraded, in
    place), or :class:`InputError` ``WHERE: FIELD: PROBLEM``."""
    if not isinstance(prof, dict) or prof.get("format") != FORMAT:
        raise InputError(f"{where} is not a wot-biofeedback client profile")
    if prof.get("version") != VERSION:
        raise InputError(f"{where} has version {prof.get('version')!r:.40}; need {VERSION}")
    schema = prof.get("schema", 1)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise InputError(f"{where}: schema: must be a whole number >= 1 (got {schema!r:.40})")
    if schema > SCHEMA:
        raise InputError(
            f"{where} has schema {schema}, newer than this version of wot-biofeedback reads "
            f"({SCHEMA}); update wot-biofeedback"
        )
    problem = check_limits(prof, **LIMITS)
    if problem is not None:
        raise InputError(f"{where}: {problem}")
    try:
        ProfileFields.model_validate(prof)
    except ValidationError as exc:
        raise InputError(one_line(where, exc, _NOUNS)) from None
    if schema == 1:  # the upgrade: schema 2 adds these two keys and nothing else
        prof["schema"] = SCHEMA
        prof.setdefault("assessments", [])
    return prof


def _read(path: Path) -> dict[str, Any] | None:
    """The checked profile in ``path``; None when there is no file."""
    where = f"profile {path}"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{where} is larger than a profile can be ({MAX_BYTES >> 20} MB)")
    try:
        prof = json.loads(raw.decode("utf-8"))
    except RecursionError:  # the parser's own limit, far deeper than any profile
        raise InputError(f"{where}: nested deeper than {LIMITS['max_depth']} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{where} is not readable JSON ({exc}); fix or move it") from None
    return check_profile(prof, where)


def new_profile(name: str, config: EngineConfig | None = None, window: Any = None) -> Profile:
    """A new profile (not saved): the window given, else the configuration's zone bounds."""
    now = _now()
    if window is None:
        cfg = config or EngineConfig()
        window = {"upper": cfg.zones.upper, "lower": cfg.zones.lower}
    fields = {
        "format": FORMAT,
        "version": VERSION,
        "schema": SCHEMA,
        "client": name,
        "created": now,
        "updated": now,
        "window": {"upper": float(window["upper"]), "lower": float(window["lower"])},
        "baseline": None,
        "sessions": [],
        "assessments": [],
    }
    return Profile(name, fields)


def load_profile(name: str, config: EngineConfig) -> Profile:
    """The client's profile as it is now, or a new one (not yet saved) if there is none.

    A file that is not a valid profile raises :class:`InputError` naming the file and the
    field; it is never overwritten. A ``client`` field naming someone else is kept (it is only
    informational) and noted in ``notes``: the file name is the identity.
    """
    path = profile_path(name)
    prof = _read(path)
    if prof is None:
        return new_profile(name, config)
    notes = []
    client = prof.get("client")
    if client is not None and client != name:
        notes.append(
            f"profile {name}: the file's client field says {client!r}; its sessions are "
            f"saved to {path.name} (the name given) all the same"
        )
    return Profile(name, prof, notes)


def apply_window(profile: Mapping[str, Any], config: EngineConfig) -> None:
    """Use the client's window bounds in ``config``, and their resonance breathing rate (when
    assessed) as the pacer's rate."""
    config.zones.upper = float(profile["window"]["upper"])
    config.zones.lower = float(profile["window"]["lower"])
    res = profile.get("resonance")
    if res is not None:
        config.cues.pacer_rate_bpm = float(res["rate_bpm"])
    config.cues.learned = [CueRecord(**r) for r in cue_records(profile, config.cues.repeat_s)]
    # the therapist's pins and bans for this client, with those of the configuration (the
    # profile's pins first; bans from both)
    prefs = profile.get("cue_prefs") or {}
    pinned = list(prefs.get("pinned", []))
    config.cues.pinned = pinned or list(config.cues.pinned)
    config.cues.banned = sorted({*config.cues.banned, *prefs.get("banned", [])})


def cue_records(profile: Mapping[str, Any], repeat_s: float) -> list[dict[str, Any]]:
    """Per library cue, over the client's sessions: how often it was given (automatically, out
    of the window), how often it worked (``returned``: back in the window within ``repeat_s`` of
    it, before another cue; a record without it, from an older version, counts a time back
    within ``repeat_s``), the median time back when it worked, and in how many sessions it was
    given."""
    given: dict[str, int] = {}
    returned: dict[str, int] = {}
    backs: dict[str, list[float]] = {}
    sessions: dict[str, int] = {}
    for sess in profile.get("sessions", []):
        seen = set()
        for c in sess.get("cues") or []:
            cid = c.get("cue_id")
            if not cid or c.get("zone") not in ("hyper", "hypo"):
                continue
            given[cid] = given.get(cid, 0) + 1
            back = c.get("back_s")
            worked = c.get("returned")
            if worked is None:
                worked = back is not None and back <= repeat_s
            if worked:
                returned[cid] = returned.get(cid, 0) + 1
                if back is not None:
                    backs.setdefault(cid, []).append(float(back))
            seen.add(cid)
        for cid in seen:
            sessions[cid] = sessions.get(cid, 0) + 1
    out = []
    for cid in sorted(given):
        b = backs.get(cid, [])
        med = float(statistics.median(b)) if b else None
        out.append({
            "id": cid, "given": given[cid], "returned": returned.get(cid, 0),
            "median_back_s": med, "sessions": sessions[cid],
        })  # fmt: skip
    return out


def _name(profile: Mapping[str, Any]) -> str:
    return str(getattr(profile, "name", None) or profile.get("client", "?"))


def profile_baseline(profile: Mapping[str, Any], config: EngineConfig) -> Baseline:
    """The merged baseline of the profile's recent sessions, for features still configured."""
    merged = profile.get("baseline")
    if not merged or not merged.get("z_median"):
        raise InputError(
            f"profile {_name(profile)!r} has no baseline yet: run a calibrated session first"
        )
    base = Baseline(source="profile")
    for name in config.features:
        if name in merged["z_median"] and name in merged.get("z_scale", {}):
            base.median[name] = float(merged["z_median"][name])
            base.scale[name] = float(merged["z_scale"][name])
            raw = (merged.get("median") or {}).get(name)
            base.raw_median[name] = math.nan if raw is None else float(raw)
    if not base.median:
        raise InputError(f"profile {_name(profile)!r}: no configured feature in its baseline")
    return base


def _merge(sessions: list[dict[str, Any]]) -> dict[str, Any] | None:
    recent = [s["baseline"] for s in sessions if s.get("baseline")][-MERGE_SESSIONS:]
    if not recent:
        return None
    out: dict[str, Any] = {"median": {}, "z_median": {}, "z_scale": {}, "sessions": len(recent)}
    for key in ("median", "z_median", "z_scale"):
        names = {n for b in recent for n in b.get(key, {})}
        for n in sorted(names):
            vals = sorted(float(b[key][n]) for b in recent if b.get(key, {}).get(n) is not None)
            vals = [v for v in vals if math.isfinite(v)]
            if not vals:
                continue
            mid = len(vals) // 2
            out[key][n] = vals[mid] if len(vals) % 2 else 0.5 * (vals[mid - 1] + vals[mid])
    return out


def session_record(
    summary: Mapping[str, Any],
    baseline: Baseline | None,
    source: str,
    window: Mapping[str, Any],
) -> dict[str, Any]:
    """One session as the profile keeps it: its own calibrated baseline (if it calibrated), zone
    summary, and the window it was scored with."""
    base = None
    if baseline is not None and baseline.source == "calibration":
        d = baseline.to_dict()
        base = {k: d[k] for k in ("start_s", "end_s", "median", "z_median", "z_scale")}
    rec = {
        "date": _now(),
        "source": source,
        "duration_s": summary.get("duration_s"),
        "baseline": base,
        "time_in_zone_s": summary.get("time_in_zone_s"),
        "fraction_in_zone": summary.get("fraction_in_zone"),
        "n_excursions": summary.get("n_excursions"),
        "recovery_s": summary.get("recovery_s"),
        "recovery_from_peak_s": summary.get("recovery_from_peak_s"),
        "baseline_levels": summary.get("baseline_levels"),
        "markers": summary.get("markers", []),
        # the library cues given out of the window and the time back after each (the cue
        # policy learns from them which cues bring this client back)
        "cues": [
            {
                "cue_id": c["cue_id"],
                "zone": c.get("zone"),
                "back_s": c.get("time_back_to_window_s"),
                "returned": c.get("returned"),
            }
            for c in summary.get("cues", [])
            if c.get("cue_id")
            and c.get("source", "auto") == "auto"
            and c.get("zone") in ("hyper", "hypo")
        ],
        # the bounds this session was scored with, so the history shows the window widen
        "window": {"upper": window["upper"], "lower": window["lower"]},
    }
    return json_safe(rec)


def _append(profile: dict[str, Any], record: dict[str, Any]) -> int:
    if len(profile["sessions"]) >= MAX_SESSIONS:
        raise InputError(
            f"profile {_name(profile)} holds {MAX_SESSIONS} sessions, the most one keeps; "
            "the session was not added (start a new profile, or move old sessions out)"
        )
    profile["sessions"].append(record)
    profile["baseline"] = _merge(profile["sessions"])
    profile["updated"] = _now()
    return len(profile["sessions"])


def add_session(
    profile: dict[str, Any],
    summary: Mapping[str, Any],
    baseline: Baseline | None,
    source: str,
) -> int:
    """Append one session to ``profile`` in memory (see :func:`save_session` for the file);
    returns its number (1 for the first)."""
    return _append(profile, session_record(summary, baseline, source, profile["window"]))


# the file: locked read-modify-write -----------------------------------------------------------
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``PATH.lock`` for the duration (other wot commands wait for it).
    The lock file stays: removing it while another process waits on it would let two in."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":
            import msvcrt

            while True:  # LK_LOCK tries for 10 s, then raises: wait on
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until free; freed when the holder exits
        yield
    finally:
        if sys.platform == "win32":
            import msvcrt

            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # releases a flock


def _write(path: Path, prof: Mapping[str, Any]) -> None:
    """Write ``prof`` atomically, after checking it as a read would (a save never leaves a
    file the next command refuses)."""
    text = json.dumps(json_safe(dict(prof)), indent=2, allow_nan=False)
    check_profile(json.loads(text), f"profile {path} (not saved)")
    write_text(path, text + "\n")


def update_profile(
    name: str, started: Mapping[str, Any], change: Callable[[dict[str, Any]], T]
) -> tuple[T, Path]:
    """Apply ``change`` to the profile file as it is now, under the lock, and write it back.

    ``started`` is the profile as the command read it at its start: when there is no file (any
    more) a new profile with its window is made. Returns what ``change`` returned and the path.
    """
    path = profile_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        found = _read(path)
        prof = (
            new_profile(name, window=started["window"]) if found is None else Profile(name, found)
        )
        result = change(prof)
        _write(path, prof)
    return result, path


def save_session(
    name: str,
    started: Mapping[str, Any],
    summary: Mapping[str, Any],
    baseline: Baseline | None,
    source: str,
) -> tuple[int, Path]:
    """Add one session to profile ``name`` (the file as it is now, whatever was saved to it
    since ``started`` was read); returns the session's number and the file. The session records
    the window it was scored with, ``started``'s."""
    record = session_record(summary, baseline, source, started["window"])
    return update_profile(name, started, lambda prof: _append(prof, record))


def save_window(
    name: str, started: Mapping[str, Any], window: Mapping[str, Any], assessment: Any
) -> Path:
    """Set profile ``name``'s window (replacing the one there now) and keep the assessment it
    came from."""
    new = {"upper": float(window["upper"]), "lower": float(window["lower"])}
    return _save_assessment(name, started, "window", new, assessment)


def save_resonance(name: str, started: Mapping[str, Any], assessment: Mapping[str, Any]) -> Path:
    """Set profile ``name``'s resonance breathing rate from a resonance assessment (which must
    have found one) and keep the assessment."""
    rate = assessment.get("resonance_rate_bpm")
    if rate is None:
        raise InputError(f"profile {name}: the assessment found no resonance rate to save")
    new = {
        "rate_bpm": float(rate),
        "date": _now(),
        "margin": assessment.get("margin"),
        "close": list(assessment.get("close") or []),
        "source": str(assessment.get("input", "")),
    }
    return _save_assessment(name, started, "resonance", new, assessment)


def _save_assessment(
    name: str, started: Mapping[str, Any], key: str, value: Any, assessment: Any
) -> Path:
    """Set ``key`` of profile ``name`` from an assessment, and keep the assessment."""
    entry = json_safe(assessment)

    def change(prof: dict[str, Any]) -> None:
        if len(prof.setdefault("assessments", [])) >= MAX_SESSIONS:
            raise InputError(f"profile {name} holds {MAX_SESSIONS} assessments, the most it keeps")
        prof[key] = value
        prof["assessments"].append(entry)
        prof["updated"] = _now()

    _, path = update_profile(name, started, change)
    return path


def save_cue_prefs(
    name: str, started: Mapping[str, Any], pinned: list[str], banned: list[str]
) -> Path:
    """Set profile ``name``'s pinned and banned cues (replacing the ones there now)."""

    def change(prof: dict[str, Any]) -> None:
        prof["cue_prefs"] = {"pinned": list(pinned), "banned": list(banned)}
        prof["updated"] = _now()

    _, path = update_profile(name, started, change)
    return path


def save_profile(profile: Mapping[str, Any], name: str | None = None) -> Path:
    """Write ``profile`` whole to profile ``name`` (default: the name it was read under, see
    :class:`Profile`), replacing what is there, under the lock; for profiles built in code.
    The commands add to a profile with :func:`save_session` and :func:`save_window`, which
    keep what others saved meanwhile."""
    name = name or getattr(profile, "name", None)
    if not name:
        raise InputError("save_profile: give the profile's name (its file name)")
    fields = copy.deepcopy(dict(profile))

    def replace(prof: dict[str, Any]) -> None:
        prof.clear()
        prof.update(fields)

    _, path = update_profile(name, profile, replace)
    return path


def engine_summary(engine: Any, history_s: float = 4 * 3600.0) -> dict[str, Any]:
    """Zone summary of a live session from the engine's frame history (for the profile)."""
    import numpy as np

    from .summary import build_summary

    snap = engine.snapshot(history_since=0)  # every row the engine keeps
    keep = int(history_s * engine.config.frame_rate_hz)
    h = {k: v[max(0, v.size - keep) :] for k, v in snap.history.items()}
    names = {code: zone for zone, code in ZONE_CODE.items()}
    zones = [names.get(int(c), "unknown") for c in np.nan_to_num(h["zone_code"], nan=2.0)]
    summary = build_summary(
        np.asarray(h["time_s"]),
        zones,
        np.asarray(h["arousal"]),
        {},
        engine.cue_log,
        engine.config.frame_rate_hz,
    )
    summary["markers"] = [{"time_s": t, "text": text} for t, text in snap.extra.get("markers", [])]
    return summary
