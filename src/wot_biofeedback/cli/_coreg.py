"""Several people in one live session (``wot demo --dyad``): the simulated pair, and their
live synchrony said at the end."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import InputError
from ._console import say


def dyad_of(args: argparse.Namespace, scenario: Any) -> Any:
    """``--dyad``: the simulated pair (the client on ``scenario``), or None without it."""
    if not args.dyad:
        if args.coupling:
            raise InputError("--coupling belongs to --dyad")
        return None
    if args.subjects:
        raise InputError("give --dyad or --subjects, not both")
    from wot_simulators import SimConfig
    from wot_simulators.dyad import DEFAULT_SCRIPT, simulate_dyad

    try:
        return simulate_dyad(args.coupling or DEFAULT_SCRIPT, scenario, "calm",
                             SimConfig(seed=args.seed))  # fmt: skip
    except ValueError as exc:
        raise InputError(f"--coupling: {exc}") from None


def say_synchrony(engine: Any) -> None:
    """How much of the session each pair was in sync, per signal (live windows)."""
    rows = getattr(engine, "synchrony_rows", None)
    if not rows:
        return
    from ..coregulation import SYNC_COLUMNS

    sig, p, on = (SYNC_COLUMNS.index(c) for c in ("signal", "p", "significant"))
    pairs: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        # several pairs: the row's last cell names its pair
        key = (
            r[len(SYNC_COLUMNS)] if len(r) > len(SYNC_COLUMNS) else "-".join(engine.subject_ids[:2])
        )
        got = pairs.setdefault(key, {}).setdefault(r[sig], [0, 0])
        if r[p] != "":  # tested
            got[1] += 1
            got[0] += int(r[on])
    for key, sigs in pairs.items():
        parts = [f"{s} {a}/{b} windows in sync" for s, (a, b) in sigs.items() if b]
        share = np.mean([a / b for a, b in sigs.values() if b]) if parts else 0.0
        say(f"synchrony {key} (live): " + ("; ".join(parts) or "too short to test")
            + (f" (mean share {share:.0%})" if parts else ""))  # fmt: skip
    sync = getattr(engine, "synchrony", None)
    if sync is not None:
        for partner in engine.subject_ids[1:]:
            co = sync.coregulation(partner)
            say(f"co-regulation {co['client']}-{partner} (live): {co['returns_in_sync']} of "
                f"{co['returns']} returns to the window in sync; {partner}'s own excursions: "
                f"{len(co['partner_excursions'])}")  # fmt: skip
