"""Argument groups several commands share, and their conversion into the core's terms."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..cohort import FILE_TIMEOUT_S
from ..errors import InputError
from ..modalities import FILE_MODALITIES, MODALITIES


def scenario_names() -> list[str]:
    """The shipped scenarios, as ``wot_simulators.list_scenarios`` names them, read from its
    ``scenarios`` folder without importing the simulator (its scipy import would add about a
    second to every ``wot`` command, ``--help`` included)."""
    spec = importlib.util.find_spec("wot_simulators")  # finds, does not run, the package
    folders = spec.submodule_search_locations if spec is not None else None
    return sorted({p.stem for d in folders or () for p in (Path(d) / "scenarios").glob("*.toml")})


def scenario_help() -> str:
    names = ", ".join(scenario_names()) or "see wot_simulators.list_scenarios()"
    return f"shipped scenario ({names}) or a path to a scenario .toml file"


def parse_window(text: str | None, option: str = "--baseline") -> tuple[float, float] | None:
    """``START:END`` seconds (``--baseline``, ``--rest``, ...) as a tuple; None for None."""
    if text is None:
        return None
    try:
        a, b = (float(v) for v in text.split(":"))
    except ValueError:
        raise InputError(f"{option} {text!r} must be START:END in seconds, e.g. 60:360") from None
    if not 0 <= a < b:
        raise InputError(f"{option} {text!r}: need 0 <= START < END")
    return a, b


def check_profile_args(args: argparse.Namespace) -> None:
    """``--profile-baseline`` needs ``--profile`` and excludes ``--baseline``."""
    if args.profile_baseline and not args.profile:
        raise InputError("--profile-baseline needs --profile NAME")
    if args.profile_baseline and args.baseline:
        raise InputError("give either --baseline or --profile-baseline, not both")


def profile_setup(args: argparse.Namespace, cfg: Any) -> tuple[Any, Any]:
    """Load the client profile (``--profile``) into ``cfg``; return it and the baseline
    argument for the pipeline (a window, or the profile's baseline with ``--profile-baseline``)."""
    from ..profiles import apply_window, load_profile, profile_baseline

    check_profile_args(args)
    if not args.profile:
        return None, parse_window(args.baseline)
    prof = load_profile(args.profile, cfg)
    for note in prof.notes:
        print(f"wot: note: {note}", file=sys.stderr)
    apply_window(prof, cfg)
    if args.profile_baseline:
        return prof, profile_baseline(prof, cfg)
    return prof, parse_window(args.baseline)


def profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help="client profile: use its window bounds, and add this session to it",
    )
    p.add_argument(
        "--profile-baseline",
        action="store_true",
        help="start from the profile's baseline (its recent sessions) instead of calibrating",
    )


CONFIG_HELP = "engine settings, a TOML file (default: the built-in settings)"


def channel_args(p: argparse.ArgumentParser, xdf: bool = True) -> None:
    """The signals of a recording (``--ecg``/``--ppg``/``--eda``/``--resp``), ``--fs`` and
    ``--eda-unit``: the options of the commands that read files."""
    for m in FILE_MODALITIES:
        d = MODALITIES[m]
        p.add_argument(
            f"--{m}", default=None, metavar="NAME|N",
            help=f"{d.label} signal ({d.role}): its name (CSV column, WFDB/EDF signal"
            + (", XDF stream name or type" if xdf else "; not XDF")
            + ") or 0-based index (default: found by its name)",
        )  # fmt: skip
    p.add_argument(
        "--fs", type=float, default=None, metavar="HZ",
        help="sampling rate of a CSV without a time_s column, Hz",
    )  # fmt: skip
    p.add_argument(
        "--eda-unit", default=None, metavar="UNIT",
        help="unit of the EDA signal: uS, nS, mS, S or raw:SCALE (default: uS, or the unit an "
        "XDF stream states)",
    )  # fmt: skip
    p.add_argument(
        "--skip-bad-lines", action="store_true",
        help="CSV: skip malformed lines (too few or too many fields, a value that is not a "
        "number) and count them in the notes (default: stop at the first, naming its line)",
    )  # fmt: skip


def analysis_args(p: argparse.ArgumentParser) -> None:
    """Options of ``wot analyze`` and ``wot report`` after the channel options."""
    p.add_argument("--baseline", default=None, help="START:END seconds (default: first 120 s)")
    p.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    p.add_argument(
        "--markers", default=None, metavar="CSV",
        help="annotations to add: time_s (or start_s[,end_s]) and text/label/segment columns",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=None,
        help="folder: local processes (default: one per core; 1 = serial)",
    )  # fmt: skip
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="folder: run on this Dask distributed scheduler (e.g. tcp://10.0.0.5:8786)",
    )  # fmt: skip
    p.add_argument(
        "--file-timeout", type=float, default=FILE_TIMEOUT_S, metavar="S",
        help="folder: seconds one recording may take; a longer one is ended and its row says "
        "'timed out after S s' (0: no limit)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="folder: no progress bar")
    p.add_argument(
        "--subject", default=None, metavar="ID",
        help="the person to analyse: a subject of a wot recording of several people, or the "
        "prefix of a file's columns/streams (ID_ecg, ...); default: every subject of a wot "
        "recording (one folder each in OUT when there are several), else the whole file",
    )  # fmt: skip
    p.add_argument(
        "--subjects", default=None, metavar="ID,ID,...",
        help="analyse several people of one file together (columns or streams ID_ecg, ...; "
        "or a wot recording's subjects): each in OUT/ID, and their physiological synchrony in "
        "OUT/synchrony.csv and OUT/summary.json",
    )  # fmt: skip
    profile_args(p)


def scenario_args(p: argparse.ArgumentParser) -> None:
    """``--scenario``/``--seed`` of the commands that simulate a client (demo, simulate)."""
    p.add_argument("--scenario", default="full-session", help=scenario_help())
    p.add_argument(
        "--seed", type=int, default=1, help="seed of the simulated client (same seed, same session)"
    )


def view_args(p: argparse.ArgumentParser) -> None:
    """``--headless``/``--no-client-view`` of the live commands (demo, run)."""
    p.add_argument(
        "--headless", action="store_true", help="terminal view even when a display exists"
    )
    p.add_argument(
        "--no-client-view", action="store_true", help="only the therapist console, no client view"
    )


def record_args(p: argparse.ArgumentParser) -> None:
    """``--record``/``--no-record``/``--no-report`` of the live commands."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--record",
        default=None,
        metavar="PATH",
        help="record the session to this new XDF file (default: a new file in "
        "$WOT_RECORD_DIR, else the user data directory's wot-biofeedback/sessions)",
    )
    g.add_argument("--no-record", action="store_true", help="do not record the session")
    p.add_argument(
        "--no-report", action="store_true",
        help="do not write the session report (NAME-report/report.html beside the recording)",
    )  # fmt: skip


def channels(args: argparse.Namespace) -> dict[str, str | None]:
    """The ``--ecg``/``--ppg``/``--eda``/``--resp`` choices of the file commands."""
    return {m: getattr(args, m) for m in FILE_MODALITIES}


def resonance_args(p: argparse.ArgumentParser, demo: bool = False) -> None:
    """``--resonance`` and its options, of the live commands (run; demo with a paced scenario)."""
    if not demo:
        p.add_argument(
            "--resonance", action="store_true",
            help="run the resonance-frequency protocol in this session: the client view paces "
            "each rate in turn (automatic cues muted meanwhile), the console shows a bar per "
            "rate, and at the end the rate is said, written (--resonance-out) and saved into "
            "--profile; it starts when the baseline is calibrated (30 s in with a profile's "
            "baseline)",
        )  # fmt: skip
        p.add_argument(
            "--resonance-rates", default=None, metavar="R,R,...",
            help="--resonance: the paced rates in order, breaths/min 3-9 (default "
            "6.5,6,5.5,5,4.5)",
        )  # fmt: skip
        p.add_argument(
            "--resonance-step", type=float, default=None, metavar="S",
            help="--resonance: seconds per rate (default 120; at least 80: 20 s to settle and "
            "60 s scored)",
        )  # fmt: skip
    p.add_argument(
        "--resonance-out", default=None, metavar="FILE.json",
        help="write the resonance assessment (the rate and the per-step table) to this file"
        + (" (with --scenario resonance)" if demo else ""),
    )  # fmt: skip
