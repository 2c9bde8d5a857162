"""A simulated dyad (a client and a therapist) whose physiology is coupled as a script says.

Each person is an ordinary simulated session (:func:`~wot_simulators.physiology.
simulate_session`: their own scenario, seed and signals) plus an *interaction drive*: an
arousal fluctuation at the pace of a conversation (Ornstein-Uhlenbeck, SD ``DRIVE_SD`` 0.45
level units, time constant ``DRIVE_TAU_S`` 3 s) that moves their heart rate, breathing rate
and skin conductance level (:mod:`~wot_simulators.physiology`, ``drive``). The coupling script
decides, stretch by stretch, whose drive is whose:

* ``none``: each person's drive is their own (uncoupled);
* ``client-follows@L``: the client's drive is the therapist's, ``L`` seconds later, mixed with
  their own at ``strength`` (``s * therapist(t - L) + sqrt(1 - s^2) * own(t)``; by default 1,
  the therapist's alone): the therapist leads by ``L`` s;
* ``therapist-follows@L``: the other way round;
* ``mutual``: both take a common drive at ``strength``, at the same time (no leader).

Between stretches the drives cross-fade over ``FADE_S`` (4 s). The truth at every moment is the
script: ``leader`` (``therapist``, ``client`` or ``none``), ``lag_s`` (the follower's delay, 0
when none leads) and ``coupled`` (the strength, 0 when uncoupled).

A script is written ``MODE[@LAG]:SECONDS[*STRENGTH],...``, e.g. the default
:data:`DEFAULT_SCRIPT`: two minutes uncoupled, three with the client following the therapist
by 3 s, two uncoupled, three with the therapist following the client by 5 s, two mutual.

How strong the default coupling is: the drive is the coupled part of each person's arousal;
everything else about them (their scenario, their own slow wander, breathing and its sinus
arrhythmia, their own skin-conductance responses) is theirs alone and hides it. At the former
defaults (drive SD 0.3, strength 0.9) heart rate from the *true* beats was in sync with the
right leader and lag in only 55-67 % of the 30-s windows of coupled stretches: the coupling
was too weak for any detector to be held to finding it. At these defaults the coupled part
dominates a coupled stretch, and the zones are still the scenario's, a little narrower: the
drive in the calibration minutes widens each person's baseline (4 seeds, a full-session
client and a calm therapist: the therapist within the window in 76 % of the frames, 82 %
before; the client hyper in 18 %, 25 % before; the first 17 % of the frames calibrate).
Weaker couplings are scripted with ``*STRENGTH``, and ``benchmarks/validate_synchrony.py``
prints how much of them is found.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .physiology import (
    DT,
    MODALITIES,
    SimConfig,
    SimulatedSession,
    _ou,
    latent_grid,
    simulate_session,
    write_rows,
)
from .scenario import Scenario, load_scenario

DRIVE_SD = 0.45
DRIVE_TAU_S = 3.0
FADE_S = 4.0
MODES = ("none", "client-follows", "therapist-follows", "mutual")
DEFAULT_SCRIPT = "none:120,client-follows@3:180,none:120,therapist-follows@5:180,mutual:120"
PEOPLE = ("client", "therapist")


@dataclass(frozen=True)
class Coupling:
    """One stretch of the script."""

    mode: str
    duration_s: float
    lag_s: float = 0.0
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"coupling mode {self.mode!r}: one of {', '.join(MODES)}")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"coupling {self.mode}: duration {self.duration_s!r} must be > 0 s")
        if not (math.isfinite(self.lag_s) and 0 <= self.lag_s <= 30):
            raise ValueError(f"coupling {self.mode}: lag {self.lag_s!r} must be 0-30 s")
        if self.mode.endswith("follows") and self.lag_s <= 0:
            raise ValueError(f"coupling {self.mode}: give the lag, e.g. {self.mode}@3")
        if not (math.isfinite(self.strength) and 0 <= self.strength <= 1):
            raise ValueError(f"coupling {self.mode}: strength {self.strength!r} must be 0-1")

    @property
    def leader(self) -> str:
        return {"client-follows": "therapist", "therapist-follows": "client"}.get(self.mode, "none")


def parse_script(text: str) -> list[Coupling]:
    """``MODE[@LAG]:SECONDS[*STRENGTH],...`` → the stretches (see the module text)."""
    out = []
    for part in str(text).split(","):
        m = re.fullmatch(
            r"\s*([a-z-]+)\s*(?:@\s*([0-9.]+))?\s*:\s*([0-9.]+)\s*(?:\*\s*([0-9.]+))?\s*", part
        )
        if m is None:
            raise ValueError(
                f"coupling {part.strip()!r:.40}: write MODE[@LAG]:SECONDS[*STRENGTH], e.g. "
                "client-follows@3:180 (modes: " + ", ".join(MODES) + ")"
            )
        try:
            lag = float(m[2]) if m[2] else 0.0
            dur = float(m[3])
            strength = float(m[4]) if m[4] else 1.0
        except ValueError:
            raise ValueError(f"coupling {part.strip()!r:.40}: not a number") from None
        out.append(Coupling(m[1], dur, lag, strength))
    return out


@dataclass
class DyadSession:
    """The two people's sessions, the script and its truth."""

    client: SimulatedSession
    therapist: SimulatedSession
    script: list[Coupling]
    duration_s: float

    def session(self, who: str) -> SimulatedSession:
        return {"client": self.client, "therapist": self.therapist}[who]

    def scenarios(self) -> dict[str, Scenario]:
        """``{person: their scenario}`` (as played, cut to the script's length)."""
        return {p: self.session(p).scenario for p in PEOPLE}

    def bounds(self) -> list[tuple[float, float, Coupling]]:
        return _bounds(self.script)

    def truth_at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``leader`` (``<U9``), ``lag_s`` and coupling strength at times ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        leader = np.full(t.shape, "none", dtype="<U9")
        lag = np.zeros(t.shape)
        strength = np.zeros(t.shape)
        for a, b, c in self.bounds():
            m = (t >= a) & (t < b)
            leader[m] = c.leader
            lag[m] = c.lag_s
            strength[m] = c.strength if c.mode != "none" else 0.0
        return leader, lag, strength


def _bounds(script: list[Coupling]) -> list[tuple[float, float, Coupling]]:
    """(start s, end s, stretch) of each stretch."""
    out, t = [], 0.0
    for c in script:
        out.append((t, t + c.duration_s, c))
        t += c.duration_s
    return out


def _weights(tg: np.ndarray, bounds: list[tuple[float, float, Coupling]]) -> np.ndarray:
    """Cross-faded weight of each stretch on the latent grid (they sum to 1)."""
    w = np.zeros((len(bounds), tg.size))
    for i, (a, b, _c) in enumerate(bounds):
        lo = -np.inf if i == 0 else a
        hi = np.inf if i == len(bounds) - 1 else b
        rise = np.clip((tg - lo) / FADE_S + 0.5, 0.0, 1.0)
        fall = np.clip((hi - tg) / FADE_S + 0.5, 0.0, 1.0)
        w[i] = np.minimum(rise, fall)
    return w / w.sum(axis=0)


def _lagged(x: np.ndarray, lag_s: float) -> np.ndarray:
    """``x`` ``lag_s`` later on the latent grid (the first samples repeat)."""
    k = round(lag_s / DT)
    if k <= 0:
        return x
    return np.concatenate((np.full(k, x[0]), x[:-k]))


def simulate_dyad(
    script: list[Coupling] | str = DEFAULT_SCRIPT,
    client: Scenario | str = "stress-and-recovery",
    therapist: Scenario | str = "calm",
    config: SimConfig | None = None,
) -> DyadSession:
    """Simulate a client and a therapist coupled by ``script`` (see the module text).

    Each person's scenario is cut or extended to the script's length; the therapist's seed is
    the client's + 1 (``config.seed``), and the drives have seeds of their own from it.
    """
    stretches = parse_script(script) if isinstance(script, str) else list(script)
    if not stretches:
        raise ValueError("a coupling script needs at least one stretch")
    cfg = config or SimConfig()
    scen = {
        "client": load_scenario(client) if isinstance(client, str) else client,
        "therapist": load_scenario(therapist) if isinstance(therapist, str) else therapist,
    }
    dur = float(sum(c.duration_s for c in stretches))
    tg = latent_grid(dur)
    seeds = np.random.SeedSequence([cfg.seed, 0xD1AD]).spawn(3)
    own = {p: _ou(np.random.default_rng(s), tg.size, DRIVE_SD, DRIVE_TAU_S)
           for p, s in zip(PEOPLE, seeds[:2], strict=True)}  # fmt: skip
    common = _ou(np.random.default_rng(seeds[2]), tg.size, DRIVE_SD, DRIVE_TAU_S)
    bounds = _bounds(stretches)
    w = _weights(tg, bounds)
    drive = {p: np.zeros(tg.size) for p in PEOPLE}
    for i, (_a, _b, c) in enumerate(bounds):
        s, rest = c.strength, math.sqrt(1.0 - c.strength**2)
        part = {p: own[p] for p in PEOPLE}
        if c.mode == "client-follows":
            part["client"] = s * _lagged(own["therapist"], c.lag_s) + rest * own["client"]
        elif c.mode == "therapist-follows":
            part["therapist"] = s * _lagged(own["client"], c.lag_s) + rest * own["therapist"]
        elif c.mode == "mutual":
            part = {p: s * common + rest * own[p] for p in PEOPLE}
        for p in PEOPLE:
            drive[p] += w[i] * part[p]
    sessions = {}
    for i, p in enumerate(PEOPLE):
        own_cfg = SimConfig(
            ecg_fs=cfg.ecg_fs, eda_fs=cfg.eda_fs, resp_fs=cfg.resp_fs, seed=cfg.seed + i,
            noise=cfg.noise, artifacts=cfg.artifacts,
        )  # fmt: skip
        sessions[p] = simulate_session(scen[p], own_cfg, dur, drive=drive[p])
    return DyadSession(sessions["client"], sessions["therapist"], stretches, dur)


def write_dyad_csv(dyad: DyadSession, path: str | os.PathLike[str]) -> None:
    """``time_s``, each person's ``ecg``, ``eda``, ``resp`` (``client_ecg`` …), and the truth
    ``client_zone, therapist_zone, leader, lag_s`` at one common rate (the sessions' own)."""
    c, th = dyad.client, dyad.therapist
    rates = {c.config.ecg_fs, c.config.eda_fs, c.config.resp_fs}
    if len(rates) != 1:
        raise ValueError("write_dyad_csv needs one common rate (simulate with equal rates)")
    t = c.time("ecg")
    leader, lag, _s = dyad.truth_at(t)
    cols = [t]
    names = ["time_s"]
    for p in PEOPLE:
        sess = dyad.session(p)
        for m in MODALITIES:
            cols.append(sess.signal(m))
            names.append(f"{p}_{m}")
    text_cols: list[np.ndarray] = [
        c.zone_at(t),
        th.zone_at(t),
        leader,
        np.array([f"{x:g}" for x in lag]),
    ]
    names += ["client_zone", "therapist_zone", "leader", "lag_s"]
    line = "%.6f" + ",%.5f" * 6 + ",%s,%s,%s,%s\n"
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(",".join(names) + "\n")
        write_rows(fh, line, [*cols, *text_cols])
