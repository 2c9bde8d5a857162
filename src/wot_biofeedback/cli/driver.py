"""``wot driver DEVICE``: bridge a sensor to LSL (each device's module holds its arguments)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from ..errors import InputError

DRIVERS = {
    "polar-h10": "wot_drivers.polar_h10",
    "brainflow": "wot_drivers.brainflow_board",
    "serial": "wot_drivers.serial_line",
}
"""``wot driver NAME``: each module has ``HELP``, ``add_arguments(parser)`` and ``run(args)``
(imports of its hardware library happen in ``run``, so the parser builds without them)."""


def add_parser(sub: Any) -> None:
    d = sub.add_parser("driver", help="bridge a sensor to LSL (Polar H10, BrainFlow, serial)")
    dsub = d.add_subparsers(dest="driver", required=True, metavar="DEVICE")
    for name, module in DRIVERS.items():
        try:
            mod = importlib.import_module(module)
        except (ImportError, RuntimeError, OSError) as exc:  # e.g. liblsl cannot load here
            why = f"{type(exc).__name__}: {exc}"
            p = dsub.add_parser(name, help=f"(unavailable: {why})", add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(func=_unavailable(name, why))
            continue
        p = dsub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)


def _unavailable(name: str, why: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        raise InputError(f"wot driver {name} cannot load on this machine ({why})")

    return run
