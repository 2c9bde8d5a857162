"""The ``wot`` process and its console: third-party libraries kept quiet, and a standard output
that the reader may close (``wot demo --headless | head -3``)."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

LSL_CONFIG = "lsl_api.cfg"
"""Package data beside this module: liblsl's log level (errors only)."""

_stdout_gone = False  # the process's standard output: one per process, closed once


def lsl_user_config() -> str | None:
    """The liblsl configuration the user has: ``$LSLAPICFG`` (even empty: their choice), else
    the first file liblsl would read (``lsl_api.cfg`` in the working directory,
    ``~/lsl_api/lsl_api.cfg``, ``/etc/lsl_api/lsl_api.cfg``); None without one."""
    if "LSLAPICFG" in os.environ:
        return os.environ["LSLAPICFG"]
    for p in (Path(LSL_CONFIG), Path.home() / "lsl_api" / LSL_CONFIG,
              Path("/etc/lsl_api") / LSL_CONFIG):  # fmt: skip
        if p.is_file():
            return str(p)
    return None


def begin() -> None:
    """At the start of a command: liblsl quiet, standard output open (:func:`main` may run
    again in one process, e.g. in the tests)."""
    global _stdout_gone
    _stdout_gone = False
    quiet_liblsl()


def quiet_liblsl() -> None:
    """Point liblsl at our configuration (errors only; it prints two INFO lines at every start
    otherwise) unless the user has one: theirs may set ports or peers, and liblsl reads only
    one file. liblsl reads ``LSLAPICFG`` when it first needs its configuration (the first
    resolve or outlet), so this runs before any command."""
    if lsl_user_config() is not None:
        return
    cfg = resources.files(__package__).joinpath(LSL_CONFIG)
    if isinstance(cfg, Path) and cfg.is_file():  # a real file (not inside a zip)
        os.environ["LSLAPICFG"] = str(cfg)


def quiet_stdout() -> None:
    """The reader of standard output has gone (a closed pipe): send what is still printed to
    the null device, so the command finishes its work without a broken-pipe error
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    global _stdout_gone
    _stdout_gone = True
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a file descriptor (e.g. captured by a test)
        pass
    finally:
        os.close(devnull)


def stdout_gone() -> bool:
    """True once the reader of standard output has gone (a live view then ends the session)."""
    return _stdout_gone


def say(*parts: object) -> None:
    """``print`` to standard output that keeps going, quietly, once its reader has gone."""
    try:
        print(*parts, flush=True)
    except BrokenPipeError:
        quiet_stdout()
