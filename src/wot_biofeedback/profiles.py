"""Per-client profiles: the client's own baseline and window, kept across sessions.

A profile is one human-readable JSON file per client in the profile directory:
``$WOT_PROFILE_DIR`` if set, else the user data directory (``$XDG_DATA_HOME`` or
``~/.local/share`` on Linux, ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on
Windows) under ``wot-biofeedback/profiles/NAME.json``. Its fields::

    {
      "format": "wot-biofeedback client profile", "version": 1,
      "client": "NAME", "created": "...", "updated": "...",
      "window": {"upper": 1.5, "lower": -1.0},      # the client's bounds, baseline-z units
      "baseline": {"median": {...}, "z_median": {...}, "z_scale": {...},
                   "sessions": 3},                    # merged over the recent sessions
      "sessions": [{"date": "...", "source": "...", "duration_s": ...,
                    "baseline": {...}, "time_in_zone_s": {...}, "fraction_in_zone": {...},
                    "n_excursions": {...}, "recovery_s": {...}}, ...],
      "assessments": [{...}, ...]   # optional: ``wot assess --profile`` results (it also
                                    # sets ``window``)
    }

``window`` is read into the zone bounds of every session (edit it to widen or narrow the
client's window as therapy goes on). After each session its calibrated baseline and zone
summary are appended; the merged ``baseline`` is the per-feature median over the last
``MERGE_SESSIONS`` sessions, and a session can start from it (``--profile-baseline``) instead
of calibrating, e.g. when there is no quiet period at its start. The history shows whether the
time in the window grows and excursions shorten across sessions.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from .config import EngineConfig
from .errors import InputError
from .state import ZONE_CODE, Baseline

FORMAT = "wot-biofeedback client profile"
VERSION = 1
MERGE_SESSIONS = 5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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
            f"profile name {name!r}: use letters, digits, '.', '_' or '-' (up to 64), "
            "starting with a letter or digit"
        )
    return profile_dir() / f"{name}.json"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_profile(name: str, config: EngineConfig) -> dict[str, Any]:
    now = _now()
    return {
        "format": FORMAT,
        "version": VERSION,
        "client": name,
        "created": now,
        "updated": now,
        "window": {"upper": config.zones.upper, "lower": config.zones.lower},
        "baseline": None,
        "sessions": [],
    }


def load_profile(name: str, config: EngineConfig) -> dict[str, Any]:
    """The client's profile, or a new one (not yet saved) if there is none.

    A file that is not a valid profile raises :class:`InputError` naming the file; it is never
    overwritten.
    """
    path = profile_path(name)
    if not path.exists():
        return new_profile(name, config)
    try:
        prof = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"profile {path} is not readable JSON ({exc}); fix or move it") from None
    if not isinstance(prof, dict) or prof.get("format") != FORMAT:
        raise InputError(f"{path} is not a wot-biofeedback client profile")
    if prof.get("version") != VERSION:
        raise InputError(f"profile {path} has version {prof.get('version')!r}; need {VERSION}")
    win = prof.get("window", {})
    try:
        upper, lower = float(win["upper"]), float(win["lower"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"profile {path}: window needs numbers 'upper' and 'lower'") from None
    if not (math.isfinite(upper) and math.isfinite(lower) and lower < 0.0 < upper):
        raise InputError(f"profile {path}: window needs lower < 0 < upper, got {lower}, {upper}")
    if not isinstance(prof.get("sessions"), list):
        raise InputError(f"profile {path}: 'sessions' must be a list")
    return prof


def apply_window(profile: dict[str, Any], config: EngineConfig) -> None:
    """Use the client's window bounds in ``config``."""
    config.zones.upper = float(profile["window"]["upper"])
    config.zones.lower = float(profile["window"]["lower"])


def profile_baseline(profile: dict[str, Any], config: EngineConfig) -> Baseline:
    """The merged baseline of the profile's recent sessions, for features still configured."""
    merged = profile.get("baseline")
    if not merged or not merged.get("z_median"):
        raise InputError(
            f"profile {profile['client']!r} has no baseline yet: run a calibrated session first"
        )
    base = Baseline(source="profile")
    for name in config.features:
        if name in merged["z_median"] and name in merged["z_scale"]:
            base.median[name] = float(merged["z_median"][name])
            base.scale[name] = float(merged["z_scale"][name])
            base.raw_median[name] = float(merged.get("median", {}).get(name, math.nan))
    if not base.median:
        raise InputError(f"profile {profile['client']!r}: no configured feature in its baseline")
    return base


def _merge(sessions: list[dict[str, Any]]) -> dict[str, Any] | None:
    recent = [s["baseline"] for s in sessions if s.get("baseline")][-MERGE_SESSIONS:]
    if not recent:
        return None
    out: dict[str, Any] = {"median": {}, "z_median": {}, "z_scale": {}, "sessions": len(recent)}
    for key in ("median", "z_median", "z_scale"):
        names = {n for b in recent for n in b.get(key, {})}
        for n in sorted(names):
            vals = sorted(float(b[key][n]) for b in recent if n in b.get(key, {}))
            mid = len(vals) // 2
            out[key][n] = vals[mid] if len(vals) % 2 else 0.5 * (vals[mid - 1] + vals[mid])
    return out


def add_session(
    profile: dict[str, Any],
    summary: dict[str, Any],
    baseline: Baseline | None,
    source: str,
) -> None:
    """Append one session (its own calibrated baseline, if any, and zone summary)."""
    base = None
    if baseline is not None and baseline.source == "calibration":
        d = baseline.to_dict()
        base = {k: d[k] for k in ("start_s", "end_s", "median", "z_median", "z_scale")}
    profile["sessions"].append(
        {
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
            # the bounds this session was scored with, so the history shows the window widen
            "window": dict(profile["window"]),
        }
    )
    profile["baseline"] = _merge(profile["sessions"])
    profile["updated"] = _now()


def json_safe(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def save_profile(profile: dict[str, Any]) -> Path:
    """Write the profile atomically (a crash never leaves half a file)."""
    path = profile_path(str(profile["client"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    text = json.dumps(json_safe(profile), indent=2, allow_nan=False)
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
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
