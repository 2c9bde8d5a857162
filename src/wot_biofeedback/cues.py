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

**Which cue.** A regulation cue *worked* when the client was back in the window within
``cues.repeat_s`` of it, before another cue (``Cue.returned``, set by :meth:`CuePolicy.update`,
which runs every frame). With ``cues.selection = "learn"`` (the default) the policy prefers, for
each client, the cues that brought *them* back: from their profile's past sessions
(``cues.learned``) and this session so far, it first gives each cue of the direction once, in
library order, then draws each cue's chance of working from its Beta posterior (uniform
Beta(1, 1) prior) and gives the cue with the largest draw (Thompson sampling; Russo et al.
2018, "A tutorial on Thompson sampling"). So a cue that works is given more and more often,
while the others are still tried now and then. The draws come from a generator seeded by
``cues.seed``; a cue the therapist asks for (:meth:`CuePolicy.send_now`) takes the best
posterior mean without a draw, so the automatic cues stay those an offline analysis of the
recording makes. A cue the therapist pinned (``cues.pinned``) is always given for its direction;
banned ones (``cues.banned``) never are, unless every cue of a direction is. Every choice says
why (``Cue.why``). ``"rotate"`` takes the allowed cues of a direction in turn, in library
order; back-in-the-window (``steady``) cues always rotate.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .config import CueConfig, CueEntry, CueRecord

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
    why: str = ""  # why this cue was chosen, in words
    # for an automatic regulation cue: back in the window within ``repeat_s`` (None: not yet
    # known, or not a regulation cue)
    returned: bool | None = None

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
            "why": self.why,
            "returned": self.returned,
        }


@dataclass
class CuePolicy:
    """Decides when to cue, and which cue. ``update(t, zone)`` returns a new :class:`Cue` or
    None; it runs every frame, and also scores the last regulation cue (``Cue.returned``)."""

    config: CueConfig = field(default_factory=CueConfig)
    muted: bool = False
    log: list[Cue] = field(default_factory=list)
    _last_t: float = -math.inf
    _last_zone: str = "unknown"
    _counts: dict[str, int] = field(default_factory=dict)
    _rng: np.random.Generator | None = None
    # this session's own record: cue id -> [given, returned], and the cue awaiting its outcome
    _session: dict[str, list[int]] = field(default_factory=dict)
    _pending: Cue | None = None

    def _outcome(self, t: float, zone: str) -> None:
        """Resolve the last regulation cue at the first of: back in the window (it worked, if
        within ``repeat_s``), ``repeat_s`` passing (it did not)."""
        cue = self._pending
        if cue is None:
            return
        if zone == "within" and t - cue.time_s <= self.config.repeat_s:
            self._resolve(True)
        elif t - cue.time_s > self.config.repeat_s:
            self._resolve(False)

    def _resolve(self, returned: bool) -> None:
        cue = self._pending
        if cue is not None:
            cue.returned = returned
            self._session[cue.cue_id][1] += int(returned)
            self._pending = None

    def _record(self, cue_id: str) -> tuple[int, int, CueRecord | None, int]:
        """Given and back-in-time over the past sessions and this one, the past record, and
        how often it was given today."""
        past = next((r for r in self.config.learned if r.id == cue_id), None)
        now_given, now_back = self._session.get(cue_id, (0, 0))
        given = (past.given if past else 0) + now_given
        back = (past.returned if past else 0) + now_back
        return given, back, past, now_given

    def _choose(self, direction: str, auto: bool) -> tuple[CueEntry, str]:
        """The library cue for ``direction`` and why (see the module text). A therapist's
        request (``auto`` False) takes the best cue without a random draw or a turn, so the
        automatic cues that follow are those an offline analysis makes."""
        lib = [e for e in library(self.config) if e.direction == direction]
        k = self._counts.get(direction, 0)
        if auto:
            self._counts[direction] = k + 1
        allowed = [e for e in lib if e.id not in self.config.banned]
        note = ""
        if not allowed:
            allowed, note = lib, " (every cue of this direction is banned)"
        pinned = [e for e in allowed if e.id in self.config.pinned]
        if pinned:
            return pinned[0], "pinned by the therapist"
        if self.config.selection == "rotate" or direction == "steady":
            return allowed[k % len(allowed)], "in turn" + note
        stats = [self._record(e.id) for e in allowed]
        untried = [e for e, st in zip(allowed, stats, strict=True) if st[0] == 0]
        if untried:  # each cue once first, in library order
            return untried[0], "tried first: not given to this client before" + note
        if auto:
            if self._rng is None:
                self._rng = np.random.default_rng(self.config.seed)
            rng = self._rng
            score = [rng.beta(1.0 + st[1], 1.0 + st[0] - st[1]) for st in stats]
        else:  # the posterior mean
            score = [(1.0 + st[1]) / (2.0 + st[0]) for st in stats]
        i = int(np.argmax(score))
        given, back, past, today = stats[i]
        within = f"back within {self.config.repeat_s:g} s"
        if back == 0:
            return allowed[i], f"still exploring: {within} 0 of {given} times" + note
        median = (
            f", median {past.median_back_s:.0f} s"
            if past is not None and past.median_back_s is not None
            else ""
        )
        sess = (
            f" over {past.sessions} past session{'s' * (past.sessions != 1)}"
            + (" and today" if today else "")
            if past is not None and past.sessions
            else " today"
        )
        return allowed[i], f"chosen: {within} {back} of {given} times{sess}{median}" + note

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
            auto = source == "auto"
            if auto and direction != "steady":
                self._resolve(False)  # a new regulation cue: the last one did not bring them back
            entry, why = self._choose(direction, auto)
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
                entry.approach, entry.family, why,
            )  # fmt: skip
            if auto and direction != "steady":
                self._session.setdefault(entry.id, [0, 0])[0] += 1
                self._pending = cue
        self.log.append(cue)
        self._last_t = t
        return cue

    def update(self, t: float, zone: str) -> Cue | None:
        self._outcome(t, zone)
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
