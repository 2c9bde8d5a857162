"""The ``wot`` command line: demo, run, simulate, replay, streams, analyze, report, assess,
driver, sys-info.

One module per command holds its arguments (``add_parser(sub)``) and a thin ``run(args)``
that converts them into a call of the core (e.g. :func:`wot_biofeedback.analysis.analyze_path`);
``_args`` holds the option groups several commands share, ``_analysis`` what analyze and
report share, ``_live`` what run and demo share. Nothing outside this package imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..errors import WotError
from . import (
    analyze,
    assess,
    cues,
    demo,
    driver,
    replay,
    report,
    run,
    simulate,
    streams,
    sys_info,
)
from ._console import begin, quiet_stdout, say

COMMANDS = (demo, run, simulate, replay, streams, analyze, report, assess, cues, driver, sys_info)
"""The command modules, in the order ``wot --help`` lists them."""


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default where it has one to say and the help does not
    already say it (``argparse.ArgumentDefaultsHelpFormatter`` also writes "default: None"
    and "default: False")."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        d = action.default
        if (
            not action.option_strings
            or d is None
            or isinstance(d, bool)
            or d in ("", [])
            or d is argparse.SUPPRESS
            or "default" in text.lower()
        ):
            return text
        return f"{text} (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """``wot``'s parsers: :class:`HelpFormatter` (subcommands inherit the class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wot",
        description=(
            "Window-of-tolerance biofeedback: fused ECG/HRV, skin conductance and respiration."
        ),
    )
    p.add_argument("--version", action="version", version=f"wot-biofeedback {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    begin()  # before any command reaches liblsl
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here at the latest
        return code
    except BrokenPipeError:
        # the reader of the output went away (``wot ... | head``): nothing to report, the
        # output was cut short (a live session handles this itself: it ends as on Ctrl-C)
        quiet_stdout()
        return 1
    except (WotError, ValueError, OSError) as exc:
        print(f"wot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        say("\nstopped (Ctrl-C)")
        return 0


__all__ = ["build_parser", "main"]
