"""``--resonance`` of the live commands: the protocol's steps from the options, and its result
said, written and saved at the end of the session."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._console import say


def resonance_steps(args: argparse.Namespace, start_s: float) -> Any:
    """``wot run --resonance``'s steps from ``start_s``, session seconds (None without it);
    ``--resonance-out`` checked before the session, not after it."""
    from ..resonance import live_protocol

    if not getattr(args, "resonance", False):
        given = [f"--resonance-{k}" for k in ("rates", "step", "out")
                 if getattr(args, f"resonance_{k}", None) is not None]  # fmt: skip
        if given:
            verb = "belongs" if len(given) == 1 else "belong"
            raise InputError(f"{', '.join(given)} {verb} to --resonance")
        return None
    check_out(args.resonance_out, "--resonance-out")
    try:
        steps = live_protocol(start_s, args.resonance_rates, args.resonance_step)
    except InputError as exc:
        raise InputError(f"--resonance: {exc}") from None
    if args.duration is not None and args.duration < steps[-1].end_s + 5.0:
        say(f"warning: --duration {args.duration:g} s ends before the resonance protocol "
            f"({steps[-1].end_s + 5.0:.0f} s): it will be cut short")  # fmt: skip
    return steps


def check_out(path: str | None, option: str) -> None:
    """A JSON result's path can be written (its folder exists; not a folder itself)."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir() or not p.parent.is_dir():
        why = "is a folder" if p.is_dir() else f"folder {p.parent} does not exist"
        raise InputError(f"{option} {path}: {why}")


def say_resonance(engine: Any, args: argparse.Namespace, prof: Any = None) -> None:
    """The live protocol's result said, written to ``--resonance-out`` and saved into the
    ``--profile`` (when the protocol ran whole and found a rate)."""
    from ..atomic import write_json

    out = engine.resonance.result if engine.resonance is not None else None
    if engine.resonance is not None and out is None:
        say("resonance assessment: not finished (the engine stopped before it could score)")
    if out is None:
        return
    rate = out["resonance_rate_bpm"]
    say("resonance assessment: " + (f"{rate:g} breaths/min" if rate is not None else "no rate"))
    for line in out["reasoning"]:
        say(f"  {line}")
    out = {**out, "input": "live session"}
    if getattr(args, "resonance_out", None):
        write_json(args.resonance_out, out)
        say(f"  written to {args.resonance_out}")
    profile = getattr(args, "profile", None)
    if not profile or prof is None or rate is None:
        return
    if not out.get("complete", True):
        say(f"  profile {profile}: unchanged (the protocol was cut short)")
        return
    from ..profiles import save_resonance

    path = save_resonance(profile, prof, out)
    say(f"  profile {profile}: pacer rate {rate:g}/min saved to {path}")
