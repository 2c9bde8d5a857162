"""Simulated clients who respond to some regulation cues and not to others.

Each client has, for every cue of the library, a median time back to the window after that
cue: a few cues of each direction (``n_effective``, drawn at random from the client's seed)
work for them (median ``effective_s``, 40 s), the rest hardly do (median ``other_s``, 200 s);
each return time is lognormal around its median (log-SD 0.5). So the truth is known: which cues
are this client's effective ones.

:func:`run_sessions` plays a course of sessions through the engine's own cue policy
(:class:`wot_biofeedback.cues.CuePolicy`) and client profile code: each session has
``excursions`` episodes out of the window (hyper and hypo in turn); at each the policy gives a
cue, the client comes back after a time drawn for that cue, and while they are still out the
policy gives another every ``cues.repeat_s``. After the session, its cues and the times back go
into the client's profile as a live session would (``profiles.session_record``), and the next
session's policy learns from them (``profiles.apply_window``). This models the cue decision
and its outcome only, not the physiology between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.cues import CuePolicy, library
from wot_biofeedback.profiles import apply_window, new_profile, session_record

_LOG_SD = 0.5


@dataclass(frozen=True)
class CueClient:
    """A simulated client: each cue's median time back to the window (s) and the effective
    cues (the truth)."""

    median_back_s: dict[str, float]
    effective: frozenset[str]
    seed: int

    def back_after(self, cue_id: str, rng: np.random.Generator) -> float:
        """A time back to the window after ``cue_id``, s."""
        return float(self.median_back_s[cue_id] * math.exp(_LOG_SD * rng.standard_normal()))


def make_client(
    seed: int,
    config: EngineConfig | None = None,
    n_effective: int = 2,
    effective_s: float = 40.0,
    other_s: float = 200.0,
) -> CueClient:
    """A client for whom ``n_effective`` cues of each direction (down, up) work."""
    cfg = config or EngineConfig()
    rng = np.random.default_rng(seed)
    medians: dict[str, float] = {}
    effective: set[str] = set()
    for direction in ("down", "up"):
        ids = [e.id for e in library(cfg.cues) if e.direction == direction]
        chosen = rng.choice(len(ids), size=min(n_effective, len(ids)), replace=False)
        for i, cid in enumerate(ids):
            good = i in set(chosen.tolist())
            medians[cid] = effective_s if good else other_s
            if good:
                effective.add(cid)
    return CueClient(medians, frozenset(effective), seed)


def run_sessions(
    client: CueClient,
    n_sessions: int = 10,
    excursions: int = 6,
    selection: str = "learn",
    config: EngineConfig | None = None,
) -> list[dict[str, Any]]:
    """Play ``n_sessions`` sessions (see the module text); per session: ``effective_share``
    (of the regulation cues given, the share that are the client's effective ones),
    ``median_back_s`` (per excursion, from its first cue to the window), ``cues`` given."""
    base = config or EngineConfig()
    profile = new_profile("sim", base)
    rng = np.random.default_rng(10_000 + client.seed)
    out = []
    for k in range(n_sessions):
        cfg = EngineConfig(**base.to_dict())
        cfg.cues.selection = selection  # type: ignore[assignment]
        cfg.cues.seed = 1000 * client.seed + k
        apply_window(profile, cfg)
        policy = CuePolicy(cfg.cues)
        t = 0.0
        backs, returns = [], []
        for j in range(excursions):
            zone = "hyper" if j % 2 == 0 else "hypo"
            t += 120.0
            start = t
            back_at = math.inf
            while True:
                cue = policy.update(t, zone)
                if cue is not None and cue.cue_id:
                    back_at = min(back_at, t + client.back_after(cue.cue_id, rng))
                nxt = t + cfg.cues.repeat_s
                if back_at <= nxt:
                    t = back_at
                    break
                t = nxt
            policy.update(t, "within")
            backs.append(t - start)
            returns.append(t)
        given = [c for c in policy.log if c.zone in ("hyper", "hypo")]
        # the time back to the window after each cue, as summary.cue_effectiveness gives it
        summary_cues = [
            {**c.to_dict(), "time_back_to_window_s": min(r for r in returns if r >= c.time_s)
             - c.time_s}
            for c in given
        ]  # fmt: skip
        record = session_record({"cues": summary_cues}, None, "simulated", profile["window"])
        profile["sessions"].append(record)
        out.append({
            "effective_share": float(np.mean([c.cue_id in client.effective for c in given])),
            "median_back_s": float(np.median(backs)),
            "cues": len(given),
        })  # fmt: skip
    return out
