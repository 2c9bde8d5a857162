"""``wot cues``: the regulation cues in effect, as configuration text to edit."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import CONFIG_HELP


def add_parser(sub: Any) -> None:
    c = sub.add_parser(
        "cues",
        help="print the regulation cue library in effect, as [[cues.library]] tables to edit",
    )
    c.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..cues import library, library_toml

    cfg = load_config(args.config)
    entries = library(cfg.cues)
    where = f"configured in {args.config}" if cfg.cues.library else "built in"
    print(f"# {len(entries)} cues ({where}). Put these tables in a configuration file, edit,")
    print("# and give it with --config; see docs/state-engine.md, Cues.\n")
    print(library_toml(entries), end="")
    return 0
