"""Regulation cues: zone → prompt, rate-limited, overridable, every cue logged.

* ``hyper`` → down-regulation: paced breathing near resonance frequency (~6 breaths/min with
  a longer exhale; Lehrer & Gevirtz 2014) and orienting prompts.
* ``hypo`` → up-regulation: grounding and orienting prompts, energising breath, movement
  (Ogden, Minton & Pain 2006, sensorimotor psychotherapy).
* ``within`` → quiet reinforcement, once per return to the window.
* ``unknown`` → no cue (never cue on untrustworthy data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import CueConfig

PROMPTS = {
    "hyper": (
        "Let's slow down together: breathe in gently, and let the out-breath be longer.",
        "Follow the pacer: in for {in_s}, out for {out_s}.",
        "Look around the room and find three things you can see.",
    ),
    "hypo": (
        "Feel your feet on the floor. Press them down a little.",
        "Look around and name three things you can see.",
        "Sit up, take two quicker, fuller breaths, and stretch your arms.",
    ),
    "within": ("You're in your window. Notice what steady feels like.",),
}
KINDS = {"hyper": "down-regulate", "hypo": "up-regulate", "within": "reinforce"}
_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


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

    def to_dict(self) -> dict[str, object]:
        return {
            "time_s": self.time_s,
            "zone": self.zone,
            "kind": self.kind,
            "text": self.text,
            "pacer": self.pacer,
            "source": self.source,
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

    def _make(self, t: float, zone: str, source: str = "auto", text: str | None = None) -> Cue:
        k = self._counts.get(zone, 0)
        self._counts[zone] = k + 1
        prompts = PROMPTS.get(zone, ("",))
        pacer = None
        if zone == "hyper":
            pacer = {
                "rate_bpm": self.config.pacer_rate_bpm,
                "inhale_ratio": self.config.pacer_inhale_ratio,
            }
        elif zone == "hypo":
            pacer = {"rate_bpm": 15.0, "inhale_ratio": 0.5}
        prompt = prompts[k % len(prompts)]
        if pacer is not None and "{in_s}" in prompt:
            # the counts of the pacer as it runs (the client's own rate, from their profile)
            period = 60.0 / pacer["rate_bpm"]
            inhale = pacer["inhale_ratio"] * period
            prompt = prompt.format(in_s=_seconds(inhale), out_s=_seconds(period - inhale))
        cue = Cue(t, zone, KINDS.get(zone, "note"), text or prompt, pacer, source)
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
        return self._make(t, zone if zone in PROMPTS else "within", "therapist", text)
