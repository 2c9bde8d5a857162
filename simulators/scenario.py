"""Scripted scenarios: the ground-truth zone timeline a simulated session follows.

A scenario is a sequence of segments, each in one window-of-tolerance zone (``"hyper"``,
``"within"`` or ``"hypo"``) with an excursion intensity ``level`` in 0..1 and a duration in
seconds. Scenarios are written as TOML files; the shipped ones live in
``wot_simulators/scenarios/*.toml`` and are loaded by name, any other file by path.

TOML format
-----------
Top-level ``name`` and ``description`` strings, then one ``[[segment]]`` table per segment, in
order::

    name = "stress-and-recovery"
    description = "Baseline, a strong stressor, then recovery."

    [[segment]]
    name = "baseline"      # free text, shown in the truth stream
    zone = "within"        # "hyper" | "within" | "hypo"
    level = 0.0            # excursion intensity 0..1 (0 for a plain within segment)
    duration_s = 180       # seconds, > 0

    [[segment]]
    name = "stressor"
    zone = "hyper"
    level = 0.8
    duration_s = 180

``level`` is optional and defaults to 0.8 for ``hyper``/``hypo`` and 0 for ``within``; the
physiology ignores the level of ``within`` segments (their latent arousal target is 0).
``pacer_bpm`` is optional: the client breathes with a pacer at that rate (breaths/min,
2-30) through the segment, slowly and deeply (a resonance-frequency protocol, say).
``name`` defaults to the file stem, ``description`` to ``""``.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

Zone = Literal["hyper", "within", "hypo"]
ZONES: tuple[str, ...] = ("hyper", "within", "hypo")
_DEFAULT_LEVEL = {"hyper": 0.8, "within": 0.0, "hypo": 0.8}


@dataclass(frozen=True)
class Segment:
    """One scripted stretch of a scenario.

    Attributes
    ----------
    name : str
        Label, e.g. ``"baseline"``, ``"stressor"``, ``"recovery"``, ``"shutdown"``.
    zone : {"hyper", "within", "hypo"}
        The scripted window-of-tolerance zone (the truth).
    level : float
        Intensity of the excursion, 0..1 (0 for a plain within segment).
    duration_s : float
        Length, s (> 0).
    pacer_bpm : float or None
        The rate of a breathing pacer the client follows through the segment, breaths/min
        (2-30); None: the client breathes freely.
    """

    name: str
    zone: Zone
    level: float
    duration_s: float
    pacer_bpm: float | None = None

    def __post_init__(self) -> None:
        if self.zone not in ZONES:
            raise ValueError(
                f"segment {self.name!r}: zone {self.zone!r} is not one of {', '.join(ZONES)}"
            )
        if not (math.isfinite(self.level) and 0.0 <= self.level <= 1.0):
            raise ValueError(f"segment {self.name!r}: level {self.level!r} is outside 0..1")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0.0):
            raise ValueError(
                f"segment {self.name!r}: duration_s {self.duration_s!r} must be a positive number"
            )
        if self.pacer_bpm is not None and not (
            math.isfinite(self.pacer_bpm) and 2.0 <= self.pacer_bpm <= 30.0
        ):
            raise ValueError(
                f"segment {self.name!r}: pacer_bpm {self.pacer_bpm!r} must be 2-30 breaths/min"
            )

    @property
    def signed_level(self) -> float:
        """Latent arousal target of this segment: +level (hyper), -level (hypo), 0 (within)."""
        if self.zone == "hyper":
            return self.level
        if self.zone == "hypo":
            return -self.level
        return 0.0


@dataclass(frozen=True)
class Scenario:
    """A named sequence of segments.

    Attributes
    ----------
    name : str
        Scenario name (the shipped ones are loadable by this name).
    description : str
        Free text.
    segments : tuple of Segment
        At least one segment, played in order from t = 0 s.
    """

    name: str
    description: str
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError(f"scenario {self.name!r}: segments is empty (need at least one)")
        object.__setattr__(self, "segments", tuple(self.segments))

    @property
    def duration_s(self) -> float:
        """Total length, s."""
        return float(sum(s.duration_s for s in self.segments))

    def boundaries_s(self) -> np.ndarray:
        """Segment start times followed by the end time, s (length ``len(segments) + 1``)."""
        return np.concatenate([[0.0], np.cumsum([s.duration_s for s in self.segments])])

    def segment_bounds(self) -> list[tuple[float, float, Segment]]:
        """``(start_s, end_s, segment)`` for every segment, in order."""
        b = self.boundaries_s()
        return [(float(b[i]), float(b[i + 1]), s) for i, s in enumerate(self.segments)]

    def segment_index(self, t_s: np.ndarray | float) -> np.ndarray:
        """Index of the segment active at each time ``t_s`` (s); clipped to the first/last."""
        b = self.boundaries_s()
        idx = np.searchsorted(b, np.asarray(t_s, dtype=np.float64), side="right") - 1
        return np.clip(idx, 0, len(self.segments) - 1)

    def zone_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Scripted zone at each time.

        Parameters
        ----------
        t_s : array_like
            Times, s from the session start. Times past the end take the last segment's zone,
            negative times the first's.

        Returns
        -------
        numpy.ndarray
            Same shape as ``t_s``, dtype ``'<U6'`` (``"hyper"``, ``"within"`` or ``"hypo"``).
        """
        zones = np.array([s.zone for s in self.segments], dtype="<U6")
        return zones[self.segment_index(t_s)]

    @property
    def paced(self) -> bool:
        """Whether any segment has a breathing pacer."""
        return any(s.pacer_bpm is not None for s in self.segments)

    def pacer_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """The pacer's rate (breaths/min) at each time, NaN where the client breathes freely."""
        rates = np.array([np.nan if s.pacer_bpm is None else s.pacer_bpm for s in self.segments])
        return rates[self.segment_index(t_s)]

    def agreement(
        self, times: Any, zones: Any, calibration_s: float, guard_s: float = 30.0
    ) -> dict[str, float]:
        """Share of frames in each scripted zone that the engine put in that zone.

        Scored on frames at ``calibration_s`` and later, excluding ``guard_s`` after each
        scripted transition (physiology and 30-60 s feature windows need that long to follow).
        Returns ``{zone: fraction}`` for the zones the scored frames contain.
        """
        t = np.asarray(times, dtype=np.float64)
        z = np.asarray(zones)
        truth = self.zone_at(t)
        keep = t >= calibration_s
        for start, _end, _seg in self.segment_bounds()[1:]:
            keep &= ~((t >= start) & (t < start + guard_s))
        out = {}
        for zone in ZONES:
            m = keep & (truth == zone)
            if m.any():
                out[zone] = float(np.mean(z[m] == zone))
        return out

    def with_duration(self, duration_s: float) -> Scenario:
        """A copy lasting ``duration_s`` seconds: truncated, or with the last segment extended."""
        if not (math.isfinite(duration_s) and duration_s > 0.0):
            raise ValueError(f"duration_s {duration_s!r} must be a positive number")
        segs: list[Segment] = []
        start = 0.0
        for seg in self.segments:
            if start + seg.duration_s >= duration_s:
                segs.append(replace(seg, duration_s=duration_s - start))
                break
            segs.append(seg)
            start += seg.duration_s
        else:
            segs[-1] = replace(segs[-1], duration_s=duration_s - (start - segs[-1].duration_s))
        return replace(self, segments=tuple(segs))


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    pkg = resources.files("wot_simulators.scenarios")
    return sorted(p.name[: -len(".toml")] for p in pkg.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str | os.PathLike[str]) -> Scenario:
    """Load a shipped scenario by name, or any scenario TOML file by path.

    Parameters
    ----------
    name_or_path : str or path-like
        A name from :func:`list_scenarios` (e.g. ``"full-session"``), or a path to a ``.toml``
        file in the format described in this module's docstring.

    Raises
    ------
    ValueError
        Unknown scenario (the message lists the valid names), unreadable TOML, or a bad value
        (zone, level outside 0..1, non-positive duration, no segments); the message names it.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.suffix.lower() == ".toml" or "/" in text or os.sep in text:
        if not path.is_file():
            raise ValueError(f"scenario file {text!r} does not exist")
        data = path.read_bytes()
        default_name = path.stem
        where = str(path)
    else:
        res = resources.files("wot_simulators.scenarios").joinpath(f"{text}.toml")
        if not res.is_file():
            raise ValueError(
                f"unknown scenario {text!r}; valid names: {', '.join(list_scenarios())} "
                "(or give a path to a .toml file)"
            )
        data = res.read_bytes()
        default_name = text
        where = f"scenario {text!r}"
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: invalid TOML: {exc}") from None
    return _from_dict(doc, default_name, where)


def _from_dict(doc: dict[str, Any], default_name: str, where: str) -> Scenario:
    name = doc.get("name", default_name)
    description = doc.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValueError(f"{where}: name and description must be strings")
    raw = doc.get("segment", [])
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: segments is empty (add at least one [[segment]] table)")
    segments = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"{where}: segment {i + 1} must be a table")
        unknown = set(item) - {"name", "zone", "level", "duration_s", "pacer_bpm"}
        if unknown:
            raise ValueError(f"{where}: segment {i + 1} has unknown keys {sorted(unknown)}")
        zone = item.get("zone")
        seg_name = str(item.get("name", f"segment {i + 1}"))
        if zone not in ZONES:
            raise ValueError(
                f"{where}: segment {seg_name!r}: zone {zone!r} is not one of {', '.join(ZONES)}"
            )
        if "duration_s" not in item:
            raise ValueError(f"{where}: segment {seg_name!r} has no duration_s")
        level = item.get("level", _DEFAULT_LEVEL[zone])
        dur = item["duration_s"]
        pacer = item.get("pacer_bpm")
        checked = (("level", level), ("duration_s", dur))
        for key, val in (*checked, *((("pacer_bpm", pacer),) if pacer is not None else ())):
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise ValueError(f"{where}: segment {seg_name!r}: {key} {val!r} is not a number")
        try:
            rate = None if pacer is None else float(pacer)
            segments.append(Segment(seg_name, cast(Zone, zone), float(level), float(dur), rate))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return Scenario(name, description, tuple(segments))
