"""Regulation cues: zone → a cue from the library, rate-limited, overridable, every cue logged.

The cues come from a library (:data:`DEFAULT_LIBRARY`, read from ``cues.toml`` beside this
module, or ``[[cues.library]]`` in the configuration): each is tagged with its direction, its
approach (bottom-up through the body, or top-down through attention, words and meaning), its
family, what it works through (``modality``) and the pacer it shows.

* ``hyper`` → a ``down`` cue: paced breathing at the client's resonance rate with a longer
  exhale (Lehrer & Gevirtz 2014), orienting, naming the state, reappraising the arousal.
* ``hypo`` → an ``up`` cue: grounding, orienting, energising breath and movement, attention to
  the body (Ogden, Minton & Pain 2006, sensorimotor psychotherapy).
* ``within`` → a ``steady`` cue: quiet reinforcement, once per return to the window.
* ``unknown`` → no cue (never cue on untrustworthy data).

The cues of a direction are taken in turn, in library order.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources

from .config import CueConfig, CueEntry

DIRECTIONS = {"hyper": "down", "hypo": "up", "within": "steady"}
KINDS = {"hyper": "down-regulate", "hypo": "up-regulate", "within": "reinforce"}
ENERGISING = {"rate_bpm": 15.0, "inhale_ratio": 0.5}
_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _default_library() -> tuple[CueEntry, ...]:
    text = resources.files("wot_biofeedback").joinpath("cues.toml").read_text("utf-8")
    return tuple(CueConfig(library=tomllib.loads(text)["cue"]).library)


DEFAULT_LIBRARY = _default_library()
"""The built-in cues (``cues.toml``), validated as a configured library is."""


def library(config: CueConfig) -> tuple[CueEntry, ...]:
    """The cues in effect: the configured library, or the built-in one."""
    return tuple(config.library) or DEFAULT_LIBRARY


def library_toml(entries: tuple[CueEntry, ...]) -> str:
    """``entries`` as ``[[cues.library]]`` tables, ready to put in a configuration file."""
    out = []
    for e in entries:
        out.append("[[cues.library]]")
        for key in ("id", "text", "direction", "approach", "family", "modality", "pacer",
                    "reference"):  # fmt: skip
            val = str(getattr(e, key)).replace("\\", "\\\\").replace('"', '\\"')
            val = val.replace("\n", "\\n").replace("\t", "\\t")
            out.append(f'{key} = "{val}"')
        out.append("")
    return "\n".join(out)


def _seconds(s: float) -> str:
    """A count a client can follow: whole seconds in words (about, when not whole)."""
    n = max(1, round(s))
    word = _WORDS[n - 1] if n <= len(_WORDS) else str(n)
    return word if abs(s - n) < 0.25 else f"about {word}"


@dataclass
class Cue:
    """One regulation cue."""

    time_s: float
    zone: str
    kind: str
    text: str
    pacer: dict[str, float] | None = None
    source: str = "auto"  # "auto" or "therapist"
    cue_id: str = ""  # the library cue ("" for a therapist's own words)
    approach: str = ""  # bottom-up or top-down
    family: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "time_s": self.time_s,
            "zone": self.zone,
            "kind": self.kind,
            "text": self.text,
            "pacer": self.pacer,
            "source": self.source,
            "cue_id": self.cue_id,
            "approach": self.approach,
            "family": self.family,
        }


@dataclass
class CuePolicy:
    """Decides when to cue. ``update(t, zone)`` returns a new :class:`Cue` or None."""

    config: CueConfig = field(default_factory=CueConfig)
    muted: bool = False
    log: list[Cue] = field(default_factory=list)
    _last_t: float = -math.inf
    _last_zone: str = "unknown"
    _counts: dict[str, int] = field(default_factory=dict)

    def _pacer(self, kind: str) -> dict[str, float] | None:
        if kind == "resonance":  # the client's rate (their profile), or the configured one
            return {
                "rate_bpm": self.config.pacer_rate_bpm,
                "inhale_ratio": self.config.pacer_inhale_ratio,
            }
        if kind == "energising":
            return dict(ENERGISING)
        return None

    def _make(self, t: float, zone: str, source: str = "auto", text: str | None = None) -> Cue:
        direction = DIRECTIONS.get(zone, "steady")
        if text:
            # the therapist's own words: the pacer of the direction, as the library's breath
            # cues have it, and no library cue
            pacer = self._pacer({"down": "resonance", "up": "energising"}.get(direction, "none"))
            cue = Cue(t, zone, KINDS.get(zone, "note"), text, pacer, source)
        else:
            k = self._counts.get(direction, 0)
            self._counts[direction] = k + 1
            choices = [e for e in library(self.config) if e.direction == direction]
            entry = choices[k % len(choices)]
            pacer = self._pacer(entry.pacer)
            prompt = entry.text
            if pacer is not None and "{in_s}" in prompt:
                # the counts of the pacer as it runs (the client's own rate, from their profile)
                period = 60.0 / pacer["rate_bpm"]
                inhale = pacer["inhale_ratio"] * period
                counts = {"in_s": _seconds(inhale), "out_s": _seconds(period - inhale)}
                prompt = prompt.replace("{in_s}", counts["in_s"]).replace(
                    "{out_s}", counts["out_s"]
                )
            cue = Cue(
                t, zone, KINDS.get(zone, "note"), prompt, pacer, source, entry.id,
                entry.approach, entry.family,
            )  # fmt: skip
        self.log.append(cue)
        self._last_t = t
        return cue

    def update(self, t: float, zone: str) -> Cue | None:
        changed = zone != self._last_zone
        self._last_zone = zone
        if self.muted or zone == "unknown":
            return None
        since = t - self._last_t
        if changed and since >= self.config.min_interval_s:
            return self._make(t, zone)
        if zone in ("hyper", "hypo") and since >= self.config.repeat_s:
            return self._make(t, zone)
        return None

    def send_now(self, t: float, zone: str, text: str | None = None) -> Cue:
        """Therapist override: cue now, whatever the rate limit."""
        return self._make(t, zone if zone in DIRECTIONS else "within", "therapist", text)
