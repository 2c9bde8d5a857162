"""Session summaries: time in each zone, excursions, recovery, signal quality, cue effect."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .cues import Cue


def excursions(times: np.ndarray, zones: list[str], arousal: np.ndarray) -> list[dict[str, Any]]:
    """Excursions out of the window: runs of ``hyper`` (or ``hypo``) frames, with peak arousal
    and recovery.

    A stretch of ``unknown`` frames (signals briefly unusable) between two runs of the same zone
    does not end the excursion: ``hyper, unknown, hyper`` is one excursion (``unknown_s`` says
    how long the zone was not known inside it). It ends at its last frame before ``within``, the
    other excursion zone, or the end of the session.

    ``recovery_s`` is the time from the end of the excursion until the zone is ``within`` again
    (0 when it returns straight to within; None when it never does). ``returned_to_window``
    tells whether it did; ``recovery_from_peak_s`` is the time from its most extreme moment
    (``peak_s``) back into the window; ``time_to_window_s`` from its start.
    """
    out: list[dict[str, Any]] = []
    n = len(zones)
    dt = float(np.median(np.diff(times))) if n > 1 else 0.25
    i = 0
    while i < n:
        z = zones[i]
        if z not in ("hyper", "hypo"):
            i += 1
            continue
        j = i  # last frame of the excursion's zone
        k = i + 1  # first known frame after it
        while k < n:
            if zones[k] == z:
                j = k
            elif zones[k] in ("within", "hyper", "hypo"):
                break
            k += 1
        seg = arousal[i : j + 1]
        if np.isfinite(seg).any():
            ip = int(np.nanargmax(seg) if z == "hyper" else np.nanargmin(seg))
            peak, t_peak = float(seg[ip]), float(times[i + ip])
        else:
            peak, t_peak = math.nan, float(times[i])
        end_t = float(times[j]) + dt
        unknown = sum(1 for q in zones[i : j + 1] if q != z) * dt
        recovery: float | None
        recovery = float(times[k]) - end_t if k < n and zones[k] == "within" else None
        out.append(
            {
                "zone": z,
                "start_s": float(times[i]),
                "end_s": end_t,
                "duration_s": end_t - float(times[i]),
                "unknown_s": unknown,
                "peak_arousal": float(peak),
                "returned_to_window": recovery is not None,
                "recovery_s": recovery if recovery is None else max(0.0, recovery),
                "time_to_window_s": (float(times[k]) - float(times[i]))
                if recovery is not None
                else None,
                # the recovery a therapist sees: from the most extreme moment back to the window
                "peak_s": t_peak,
                "recovery_from_peak_s": (float(times[k]) - t_peak)
                if recovery is not None
                else None,
            }
        )
        i = j + 1
    return out


def cue_effectiveness(times: np.ndarray, zones: list[str], cues: list[Cue]) -> list[dict[str, Any]]:
    """For each cue: the zone it answered and the time until the zone was ``within`` again."""
    out = []
    for c in cues:
        i = int(np.searchsorted(times, c.time_s, side="left"))
        back = None
        if c.zone in ("hyper", "hypo"):
            for k in range(i, len(zones)):
                if zones[k] == "within":
                    back = float(times[k]) - c.time_s
                    break
        out.append({**c.to_dict(), "time_back_to_window_s": back})
    return out


def build_summary(
    times: np.ndarray,
    zones: list[str],
    arousal: np.ndarray,
    quality: dict[str, np.ndarray],
    cues: list[Cue],
    frame_rate: float,
) -> dict[str, Any]:
    dt = 1.0 / frame_rate
    counts = {z: zones.count(z) for z in ("hyper", "within", "hypo", "unknown")}
    total = max(len(zones), 1)
    exc = excursions(times, zones, arousal)
    rec = [e["recovery_s"] for e in exc if e["recovery_s"] is not None]
    rec_peak = [e["recovery_from_peak_s"] for e in exc if e["recovery_from_peak_s"] is not None]
    return {
        "duration_s": len(zones) * dt,
        "time_in_zone_s": {z: c * dt for z, c in counts.items()},
        "fraction_in_zone": {z: c / total for z, c in counts.items()},
        "excursions": exc,
        "n_excursions": {
            "hyper": sum(1 for e in exc if e["zone"] == "hyper"),
            "hypo": sum(1 for e in exc if e["zone"] == "hypo"),
        },
        "recovery_s": {
            "median": float(np.median(rec)) if rec else None,
            "max": float(np.max(rec)) if rec else None,
        },
        "recovery_from_peak_s": {
            "median": float(np.median(rec_peak)) if rec_peak else None,
            "max": float(np.max(rec_peak)) if rec_peak else None,
        },
        "signal_quality": {
            m: {
                "mean": float(np.mean(q)) if q.size else 0.0,
                "usable_fraction": float(np.mean(q >= 0.5)) if q.size else 0.0,
            }
            for m, q in quality.items()
        },
        "cues": cue_effectiveness(times, zones, cues),
    }
