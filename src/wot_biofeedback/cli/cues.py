"""``wot cues``: the regulation cues in effect, as configuration text to edit; with
``--profile``, a client's record with each cue and the therapist's pins and bans."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ._args import CONFIG_HELP


def add_parser(sub: Any) -> None:
    c = sub.add_parser(
        "cues",
        help="print the regulation cue library in effect (to edit), or with --profile a "
        "client's record with each cue; pin or ban cues for them",
    )
    c.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    c.add_argument(
        "--profile", default=None, metavar="NAME",
        help="the client: show how each cue worked for them, and keep the pins and bans",
    )  # fmt: skip
    for opt, what in (
        ("--pin", "always give this cue for its direction (at most one per direction)"),
        ("--unpin", "stop pinning this cue"),
        ("--ban", "never give this cue to the client"),
        ("--unban", "allow this cue again"),
    ):
        c.add_argument(opt, action="append", default=[], metavar="ID", help=what)
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..cues import library, library_toml

    cfg = load_config(args.config)
    entries = library(cfg.cues)
    changes = args.pin or args.unpin or args.ban or args.unban
    if not args.profile:
        if changes:
            raise InputError("--pin, --unpin, --ban and --unban need --profile NAME")
        where = f"configured in {args.config}" if cfg.cues.library else "built in"
        print(f"# {len(entries)} cues ({where}). Put these tables in a configuration file, edit,")
        print("# and give it with --config; see docs/state-engine.md, Cues.\n")
        print(library_toml(entries), end="")
        return 0
    from ..profiles import apply_window, load_profile, profile_path, save_cue_prefs

    ids = {e.id: e for e in entries}
    for cid in (*args.pin, *args.unpin, *args.ban, *args.unban):
        if cid not in ids:
            raise InputError(f"no cue {cid!r} in the library; known: {', '.join(ids)}")
        if ids[cid].direction == "steady":
            raise InputError(f"cue {cid!r} is a back-in-the-window cue: those are not chosen")
    both = sorted(({*args.pin} & {*args.unpin}) | ({*args.ban} & {*args.unban}))
    both += sorted({*args.pin} & {*args.ban})
    if both:
        raise InputError(f"{', '.join(both)}: given to two options that undo each other")
    if changes and not profile_path(args.profile).exists():
        raise InputError(
            f"no profile {args.profile!r} yet (run or analyse a session with --profile "
            f"{args.profile} first)"
        )
    prof = load_profile(args.profile, cfg)
    apply_window(prof, cfg)
    pinned = [c for c in cfg.cues.pinned if c not in args.unpin]
    banned = [c for c in cfg.cues.banned if c not in args.unban]
    for cid in args.pin:
        # one pin per direction: a new pin replaces the old one of its direction
        pinned = [c for c in pinned if c not in ids or ids[c].direction != ids[cid].direction]
        pinned.append(cid)
        banned = [c for c in banned if c != cid]
    for cid in args.ban:
        if cid not in banned:
            banned.append(cid)
        pinned = [c for c in pinned if c != cid]
    for direction in ("down", "up"):
        left = [e.id for e in entries if e.direction == direction and e.id not in banned]
        if not left:
            raise InputError(f"that would ban every {direction} cue; keep at least one")
    if changes:
        path = save_cue_prefs(args.profile, prof, pinned, banned)
        print(f"profile {args.profile}: pins and bans saved to {path}")
    known = {r.id: r for r in cfg.cues.learned}
    print(f"cues for {args.profile} (back = in the window within {cfg.cues.repeat_s:g} s):")
    print(f"  {'direction':9s} {'cue':18s} {'approach':9s} {'given':>5s} {'back':>5s} "
          f"{'median s':>8s} {'sessions':>8s}  note")  # fmt: skip
    for e in entries:
        if e.direction == "steady":
            continue
        r = known.get(e.id)
        note = "pinned" if e.id in pinned else "banned" if e.id in banned else ""
        med = "" if r is None or r.median_back_s is None else f"{r.median_back_s:.0f}"
        print(
            f"  {e.direction:9s} {e.id:18s} {e.approach:9s} {r.given if r else 0:5d} "
            f"{r.returned if r else 0:5d} {med:>8s} {r.sessions if r else 0:8d}  {note}"
        )
    return 0
