"""``wot streams``: the LSL streams visible on the network."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    ls = sub.add_parser("streams", help="list visible LSL streams")
    ls.add_argument(
        "--timeout", type=float, default=2.0, metavar="S", help="seconds to look for streams"
    )
    ls.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sources.lsl import describe, list_streams

    found = list_streams(args.timeout)
    if not found:
        print(f"no LSL streams visible (waited {args.timeout:g} s)")
        return 0
    for info in sorted(found, key=lambda s: (s.type(), s.name())):
        print(describe(info))
    return 0
