"""``wot run``: the engine on live LSL streams."""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..errors import InputError
from ..modalities import NAMES, cardiac
from ._args import (
    CONFIG_HELP,
    profile_args,
    profile_setup,
    record_args,
    resonance_args,
    view_args,
)
from ._console import say
from ._coreg import say_synchrony
from ._dsp import prepare_and_open
from ._live import (
    check_duration,
    live_session,
    open_people,
    record_path,
    run_engine,
)
from ._resonance import resonance_steps, say_resonance


def add_parser(sub: Any) -> None:
    r = sub.add_parser("run", help="the engine on live LSL streams")
    r.add_argument("--ecg-type", default="ECG", help="LSL type of the ECG stream ('' to skip)")
    r.add_argument(
        "--ppg-type", default="", help="LSL type of a PPG stream to use instead of ECG (e.g. PPG)"
    )
    r.add_argument(
        "--rr-type",
        default="",
        help="LSL type of an inter-beat-interval stream (ms) to use instead of ECG (e.g. RR)",
    )
    for m in NAMES:
        r.add_argument(
            f"--{m}-channel", default=None, metavar="N|LABEL",
            help=f"channel of the {m.upper()} stream by 0-based index or label (default 0"
            + ("; ACC: the first of three)" if m == "acc" else ")"),
        )  # fmt: skip
    r.add_argument("--eda-type", default="EDA", help="LSL type of the EDA stream ('' to skip)")
    r.add_argument(
        "--eda-unit",
        default=None,
        help="unit of the EDA stream: uS, nS, mS, S or raw:SCALE (default: the stream's "
        "channel metadata, else uS)",
    )
    r.add_argument(
        "--resp-type", default="RESP",
        help="LSL type of the breathing belt stream ('' to skip: breathing from ACC, if any)",
    )  # fmt: skip
    r.add_argument(
        "--acc-type",
        default="ACC",
        help="LSL type of a 3-axis chest accelerometer, used for breathing when there is no "
        "RESP stream ('' to skip)",
    )
    r.add_argument(
        "--source-id", default=None, metavar="PREFIX",
        help="only streams with source_id PREFIX-ecg/-eda/-resp/-acc (default: any; with "
        "several candidates, one source's streams, with a warning)",
    )  # fmt: skip
    r.add_argument(
        "--allow-mixed-sources", action="store_true",
        help="use streams from different sources together (source_id prefixes or hosts), e.g. "
        "two devices of one client; without it wot run refuses them, as they may be another "
        "client's",
    )  # fmt: skip
    r.add_argument(
        "--subject", action="append", default=None, metavar="ID=SOURCE_ID",
        help="several people in one session, each by their streams' source_id prefix (repeat: "
        "--subject client=ID1 --subject therapist=ID2); the first is the client (views, "
        "profile, cues, --resonance); their synchrony is measured live and recorded",
    )  # fmt: skip
    r.add_argument("--timeout", type=float, default=5.0, help="seconds to look for each stream")
    r.add_argument(
        "--lost-after", type=float, default=3.0, metavar="S",
        help="a stream silent this long is lost (lagging after a third of it; an RR stream "
        "gets three times as long), and the zone shows unknown when no new data has come for "
        "this long (default 3 s)",
    )  # fmt: skip
    r.add_argument(
        "--baseline", default=None, help="START:END session seconds (default: first 120 s)"
    )
    r.add_argument(
        "--duration", type=float, default=None, metavar="S",
        help="stop after S seconds of session (while every stream is lost or none has sent "
        "anything yet, wall-clock seconds count; default: run until Ctrl-C or the window "
        "closes)",
    )  # fmt: skip
    view_args(r)
    profile_args(r)
    r.add_argument(
        "--outlet-id", default="wot-engine", help="source_id prefix of the wot-* outlets"
    )
    r.add_argument(
        "--share-notes", action="store_true",
        help="publish the text of the therapist's marker notes on the wot-markers outlet "
        "(default: the marker and its time go out; the note stays in the recording on this "
        "machine, because LSL streams are readable by anyone on the network)",
    )  # fmt: skip
    r.add_argument("--config", default=None, metavar="FILE", help=CONFIG_HELP)
    resonance_args(r)
    record_args(r)
    r.set_defaults(func=run)


def _stream_types(args: argparse.Namespace) -> dict[str, str]:
    """The LSL type per modality asked for; one cardiac source (a PPG or RR stream asked for
    replaces the default ECG)."""
    types = {m: t for m in NAMES if (t := getattr(args, f"{m}_type"))}
    heart = [m for m in cardiac() if m in types]
    if len(heart) > 1:
        default = cardiac()[0]  # ECG, by default on: gives way to the one asked for
        types.pop(default, None)
        asked = [m for m in heart if m != default]
        if len(asked) > 1:
            either = " or ".join(f"--{m}-type" for m in asked)
            raise InputError(f"give either {either}: one cardiac source at a time")
    return types


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..sources.files import parse_eda_unit

    if args.eda_unit:
        parse_eda_unit(args.eda_unit)  # a bad unit is reported before looking for streams
    if not (math.isfinite(args.lost_after) and args.lost_after > 0):
        raise InputError(f"--lost-after {args.lost_after!r} must be a positive number of seconds")
    cfg = load_config(args.config)
    prof, baseline = profile_setup(args, cfg)  # a bad profile too
    check_duration(args)
    people = _people(args)  # bad --subject options are said before looking for streams
    # the protocol starts once the baseline is calibrated (free breathing first, as the
    # assessment protocols do), or 30 s in with the profile's baseline
    steps = resonance_steps(args, _calibrated_at(baseline, cfg))
    if args.record:  # and a bad --record
        record_path(args, "session")
    types = _stream_types(args)
    chans = {m: getattr(args, f"{m}_channel", None) for m in types}
    found = prepare_and_open(tuple(types), lambda: open_people(
        types, people, args.timeout, eda_unit=args.eda_unit, channels=chans,
        allow_mixed=args.allow_mixed_sources,
    ))  # fmt: skip
    first = next(iter(found.values()))
    if steps is not None and not any(m in first for m in cardiac()):
        raise InputError("--resonance needs heart beats: no ECG, PPG or RR stream was found")
    for who, srcs in found.items():
        for m, s in srcs.items():
            what = f"{s.unit_source}, scaled to µS" if m == "eda" else s.unit or "unit not stated"
            if m == "acc":
                what += "; breathing from the chest accelerometer (no RESP belt)"
            rate = "irregular rate" if s.irregular and m != "rr" else f"{s.fs:g} Hz"
            head = f"{who} " if len(found) > 1 else ""
            say(f"{head}{m}: {s.name} at {rate} ({what}; source_id {s.info.source_id()})")
    sources: Any = found if len(found) > 1 else first
    meta = {
        "command": "run",
        "client": args.profile,
        "profile": args.profile if prof is not None else None,
        "profile_baseline": bool(getattr(args, "profile_baseline", False)),
    }
    live = live_session(
        args, sources, cfg, args.profile or "session", meta, baseline=baseline,
        outlets_source_id=args.outlet_id, stall_s=args.lost_after / 3.0,
        share_notes=args.share_notes, resonance=steps,
    )  # fmt: skip
    engine = live.engine
    code, summary = run_engine(live, args, title="wot run", real_time=True)
    # the protocol's result first: a profile that cannot take the session must not lose it
    say_resonance(engine, args, prof)
    say_synchrony(engine)
    if prof is not None:
        from ..profiles import engine_summary, save_session

        # the analysis of the recording (the same frames, plus resting levels and recovery)
        # when the session report ran; else the engine's own frame history. Added to the
        # profile as it is now: what was saved to it during the session stays.
        n, path = save_session(
            args.profile, prof, summary or engine_summary(engine), engine.baseline, "live"
        )
        say(f"  profile {args.profile}: session {n} saved to {path}")
    return code


def _people(args: argparse.Namespace) -> dict[str, str | None]:
    """``--subject ID=SOURCE_ID ...`` → ``{ID: source_id prefix}`` (one person: the client,
    ``--source-id``)."""
    from ..session import check_subject

    if not args.subject:
        return {"client": args.source_id}
    if args.source_id:
        raise InputError("give --source-id (one person) or --subject ID=SOURCE_ID (several)")
    out: dict[str, str | None] = {}
    for item in args.subject:
        who, sep, prefix = item.partition("=")
        try:
            check_subject(who.strip())
        except ValueError as exc:
            raise InputError(f"--subject {item!r}: {exc}") from None
        if not sep or not prefix.strip():
            raise InputError(f"--subject {item!r}: write ID=SOURCE_ID, e.g. client=polar-h10")
        if who.strip().lower() in {k.lower() for k in out}:
            raise InputError(f"--subject {item!r}: each person once")
        out[who.strip()] = prefix.strip()
    if len(out) < 2:
        raise InputError("--subject names two or more people (one person: --source-id)")
    return out


def _calibrated_at(baseline: Any, cfg: Any) -> float:
    """Session seconds at which the baseline is calibrated: the end of a ``--baseline``
    window, of the configuration's first seconds, or 30 s with a profile's baseline."""
    if isinstance(baseline, tuple):
        return float(baseline[1])
    if baseline is not None:
        return 30.0
    return float(cfg.calibration.start_s + cfg.calibration.duration_s)
