"""The ``wot`` command line: demo, run, simulate, replay, streams, analyze, assess."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._extras import require, window_available
from .errors import InputError, WotError


def _baseline(text: str | None, option: str = "--baseline") -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        a, b = (float(v) for v in text.split(":"))
    except ValueError:
        raise InputError(f"{option} {text!r} must be START:END in seconds, e.g. 60:360") from None
    if not 0 <= a < b:
        raise InputError(f"{option} {text!r}: need 0 <= START < END")
    return a, b


def has_display() -> bool:
    """True when a Qt window can be shown on a screen."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _profile_setup(args: argparse.Namespace, cfg: Any) -> tuple[Any, Any]:
    """Load the client profile (``--profile``) into ``cfg``; return it and the baseline
    argument for the pipeline (a window, or the profile's baseline with ``--profile-baseline``)."""
    from .profiles import apply_window, load_profile, profile_baseline

    if args.profile_baseline and not args.profile:
        raise InputError("--profile-baseline needs --profile NAME")
    if args.profile_baseline and args.baseline:
        raise InputError("give either --baseline or --profile-baseline, not both")
    if not args.profile:
        return None, _baseline(args.baseline)
    prof = load_profile(args.profile, cfg)
    apply_window(prof, cfg)
    if args.profile_baseline:
        return prof, profile_baseline(prof, cfg)
    return prof, _baseline(args.baseline)


def _save_session(prof: Any, summary: dict[str, Any], baseline: Any, source: str) -> None:
    from .profiles import add_session, save_profile

    add_session(prof, summary, baseline, source)
    path = save_profile(prof)
    print(f"  profile {prof['client']}: session {len(prof['sessions'])} saved to {path}")


# commands ------------------------------------------------------------------------------------
def _analyze_one(args: argparse.Namespace, out: str | os.PathLike[str]) -> Any:
    """Read ``args.input`` and analyse it into ``out`` (the ``wot analyze`` contract files);
    prints what it did and returns the :class:`~wot_biofeedback.offline.AnalysisResult`."""
    import warnings

    from .config import load_config
    from .errors import SignalQualityWarning
    from .offline import analyze
    from .sources.files import read_markers, read_recording

    cfg = load_config(args.config)
    prof, baseline = _profile_setup(args, cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SignalQualityWarning)
        rec = read_recording(
            args.input,
            {"ecg": args.ecg, "ppg": args.ppg, "eda": args.eda, "resp": args.resp},
            args.fs,
            args.eda_unit,
        )
    for w in caught:
        print(f"wot: warning: {w.message}", file=sys.stderr)
    if args.markers:  # added to the recording's own (a wot session's therapist notes)
        extra = read_markers(args.markers, Path(args.input).stem)
        rec.markers = sorted(rec.markers + extra, key=lambda m: m[0])
        print(f"  markers: {len(extra)} added from {args.markers}")
    if rec.session is not None:
        cfg, baseline = _recorded_setup(rec.session, args, cfg, baseline)
    for note in rec.notes:
        print(f"  note: {note}")
    t = time.perf_counter()
    res = analyze(rec, out, cfg, baseline)
    dt = time.perf_counter() - t
    fz = res.summary["fraction_in_zone"]
    sigs = ", ".join(f"{m}={s.name}@{s.fs:g}Hz" for m, s in rec.signals.items())
    print(
        f"analysed {rec.duration_s:.0f} s ({sigs}) in {dt:.2f} s -> {out}\n"
        f"  zones: hyper {fz['hyper']:.0%}, within {fz['within']:.0%}, hypo {fz['hypo']:.0%}, "
        f"unknown {fz['unknown']:.0%}; {res.summary['calibration_message']}"
    )
    if prof is not None:
        _save_session(prof, res.summary, res.baseline, str(args.input))
    return res


def _cohort(args: argparse.Namespace, report: bool) -> int:
    """``wot analyze|report FOLDER --out DIR``: every recording in the folder, one row each in
    ``DIR/cohort.csv`` (errors in its ``error`` column), on local cores or a Dask cluster."""
    from .cohort import find_recordings, run_cohort

    if args.out is None:
        raise InputError("a folder of recordings needs --out DIR for the cohort table")
    if args.profile:
        raise InputError("--profile takes one session, not a folder")
    if args.profile_baseline:
        raise InputError("--profile-baseline takes one session, not a folder")
    # never take the outputs or the markers table for recordings
    skip = [Path(args.out)] + ([Path(args.markers)] if args.markers else [])
    paths = find_recordings(args.input, exclude=skip)
    if not paths:
        raise InputError(f"{args.input}: no recordings (.xdf, .csv, .edf, .bdf, .hea) found")
    options = {
        "channels": {"ecg": args.ecg, "ppg": args.ppg, "eda": args.eda, "resp": args.resp},
        "fs": args.fs,
        "eda_unit": args.eda_unit,
        "config": args.config,
        "baseline": _baseline(args.baseline),
        "markers": str(Path(args.markers).resolve()) if args.markers else None,
        "report": report,
    }
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else (
        "1 process" if args.workers == 1 else f"{args.workers or os.cpu_count()} local processes"
    )  # fmt: skip
    print(f"{len(paths)} recording(s) in {args.input} on {where}")
    t = time.perf_counter()
    rows = run_cohort(
        paths, args.out, options, workers=args.workers, scheduler=args.scheduler,
        progress=not args.no_progress,
    )  # fmt: skip
    bad = [r for r in rows if r.get("status") != "ok"]
    for r in bad:
        print(f"  error: {r.get('session')}: {r.get('error')}", file=sys.stderr)
    out = Path(args.out)
    from .report import write_index

    msg = f"cohort table {out / 'cohort.csv'}, index {write_index(rows, out)}"
    print(
        f"{len(rows) - len(bad)} of {len(rows)} analysed in {time.perf_counter() - t:.1f} s; {msg}"
    )
    if len(bad) == len(rows):
        print("wot: error: no recording in the folder could be analysed", file=sys.stderr)
        return 2
    return 0


def _single(args: argparse.Namespace) -> None:
    """Options that only a folder of recordings uses are reported, never silently dropped."""
    extra = [o for o, v in (("--workers", args.workers), ("--scheduler", args.scheduler)) if v]
    if extra:
        print(f"wot: note: {' and '.join(extra)} apply to a folder of recordings; one session "
              "runs here", file=sys.stderr)  # fmt: skip


def cmd_analyze(args: argparse.Namespace) -> int:
    if Path(args.input).is_dir():
        return _cohort(args, report=False)
    _single(args)
    _analyze_one(args, args.out)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    require("report", "wot report")
    from .report import write_client_report, write_report

    if args.client:
        from .config import load_config
        from .profiles import load_profile, profile_path

        if args.input:
            raise InputError("give either SESSION or --client ID, not both")
        if not profile_path(args.client).exists():
            raise InputError(
                f"no profile for client {args.client!r} in {profile_path(args.client).parent}"
            )
        prof = load_profile(args.client, load_config(args.config))
        page = write_client_report(prof, args.out or f"{args.client}-history")
        print(f"client history of {args.client} ({len(prof['sessions'])} sessions): {page}")
        return 0
    if not args.input:
        raise InputError(
            "give a SESSION (recording, analysis folder or folder of recordings) or --client ID"
        )
    src = Path(args.input)
    if src.is_dir() and not (src / "summary.json").exists():
        return _cohort(args, report=True)
    _single(args)
    if src.is_dir():
        given = [
            f"--{k.replace('_', '-')}"
            for k in ("ecg", "ppg", "eda", "resp", "fs", "eda_unit", "baseline", "config",
                      "markers", "profile")
            if getattr(args, k)
        ] + (["--profile-baseline"] if args.profile_baseline else [])  # fmt: skip
        if given:
            raise InputError(
                f"{src} is already analysed, so {', '.join(given)} cannot change it; run "
                "wot report on the recording itself (or wot analyze again) instead"
            )
        page = write_report(src, args.out or src)
    else:
        out = Path(args.out) if args.out else src.with_name(src.stem + "-report")
        _analyze_one(args, out)
        page = write_report(out, out)
    print(f"report: {page}")
    return 0


def _auto_report(engine: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """After a recorded ``wot run``/``wot demo``: analyse the session file and write its report
    beside it (``NAME-report/report.html``). A failure here is reported; the recording stays."""
    rec = getattr(engine, "recorder", None)
    if rec is None or getattr(args, "no_report", False):
        return None
    st = rec.status()
    if st["error"] or not st["path"] or not Path(st["path"]).exists():
        return None
    from .offline import analyze, recorded_setup
    from .report import write_report
    from .sources.files import read_recording

    path = Path(st["path"])
    out = path.with_name(path.stem + "-report")
    try:
        require("report", "the session report")
        r = read_recording(path)
        cfg, baseline, _notes = recorded_setup(r.session or {}, None, None)
        res = analyze(r, out, cfg, baseline)
        print(f"session report: {write_report(out, out)}")
        return dict(res.summary)
    except Exception as exc:  # the session is saved; only its report failed
        print(f"wot: warning: no session report ({type(exc).__name__}: {exc}); make one "
              f"later with: wot report {path}", file=sys.stderr)  # fmt: skip
        return None


def _recorded_setup(
    session: dict[str, Any], args: argparse.Namespace, cfg: Any, baseline: Any
) -> tuple[Any, Any]:
    """A session recorded by wot is analysed with its own parameters and calibration, unless
    ``--config``/``--baseline``/``--profile-baseline`` say otherwise."""
    from .offline import recorded_setup

    keep_base = args.baseline is not None or bool(args.profile_baseline)
    cfg, baseline, notes = recorded_setup(
        session, cfg, baseline, args.config is not None, keep_base
    )
    for n in notes:
        print(f"  {n}" if n.startswith(("parameters", "baseline")) else f"  note: {n}")
    return cfg, baseline


def cmd_assess(args: argparse.Namespace) -> int:
    import json

    from .assessment import assess
    from .config import load_config
    from .profiles import apply_window, json_safe, load_profile, save_profile
    from .sources.files import read_recording

    cfg = load_config(args.config)
    prof = load_profile(args.profile, cfg) if args.profile else None
    if prof is not None:
        apply_window(prof, cfg)  # the client's current window is the starting point
    periods = [_baseline(getattr(args, k), f"--{k}") for k in ("rest", "stressor", "recovery")]
    rest, stressor, recovery = (p for p in periods if p is not None)
    rec = read_recording(
        args.input,
        {"ecg": args.ecg, "ppg": args.ppg, "eda": args.eda, "resp": args.resp},
        args.fs,
        args.eda_unit,
    )
    out = assess(rec, rest, stressor, recovery, cfg, args.recovered_s)
    out["input"] = str(args.input)
    w = out["window"]
    print(f"window of tolerance (baseline z): lower {w['lower']:+.2f}, upper {w['upper']:+.2f}")
    for line in out["reasoning"]:
        print(f"  {line}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(json_safe(out), fh, indent=2, allow_nan=False)
        print(f"  written to {args.out}")
    if prof is not None:
        prof["window"] = {"upper": w["upper"], "lower": w["lower"]}
        prof.setdefault("assessments", []).append(out)
        path = save_profile(prof)
        print(f"  profile {prof['client']}: window saved to {path}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from wot_simulators import SimConfig, load_scenario, publish, simulate_session, simulate_to_csv

    try:
        scen = load_scenario(args.scenario)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.out:
        sess = simulate_to_csv(
            scen, args.seed, args.out, fs=args.fs, duration_s=args.duration,
            noise=args.noise, artifacts=args.artifacts,
        )  # fmt: skip
        print(
            f"wrote {args.out}: {sess.duration_s:.0f} s of {scen.name} "
            f"(seed {args.seed}) at {args.fs:g} Hz"
        )
        return 0
    if not args.speed > 0:
        raise InputError(f"--speed {args.speed!r} must be > 0")
    cfg = SimConfig(args.ecg_fs, args.eda_fs, args.resp_fs, args.seed, args.noise, args.artifacts)
    sess = simulate_session(scen, cfg, args.duration)
    streams = ("ecg", "eda") + (() if args.no_resp else ("resp",)) + (("acc",) if args.acc else ())
    names = "/".join(m.upper() for m in streams)
    print(
        f"publishing {scen.name} (seed {args.seed}, {sess.duration_s:.0f} s, "
        f"speed {args.speed:g}x) "
        f"as LSL streams {args.name}-{names}/truth, source_id {args.source_id}; Ctrl-C stops"
    )
    publish(
        sess, source_id=args.source_id, name_prefix=args.name, speed=args.speed, loop=args.loop,
        streams=streams, acc_fs=args.acc_fs,
    )  # fmt: skip
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from wot_simulators import ReplayPublisher, load_replay, play

    if not args.speed > 0:
        raise InputError(f"--speed {args.speed!r} must be > 0")
    if args.duration is not None and not args.duration > 0:
        raise InputError(f"--duration {args.duration!r} must be > 0 s")
    channels = {"ecg": args.ecg, "ppg": args.ppg, "eda": args.eda, "resp": args.resp}
    streams, notes = load_replay(
        args.input, channels, args.fs, args.eda_unit, args.source_id, args.name_prefix
    )
    pub = ReplayPublisher(
        streams, speed=args.speed, loop=args.loop, start_s=args.start,
        duration_s=args.duration, wait_for_consumers=args.wait,
    )  # fmt: skip
    print(
        f"replaying {args.input} ({pub.length_s:.1f} s): {pub.span_s:.1f} s from {args.start:g} s "
        f"at {args.speed:g}x{', looped' if args.loop else ''}; Ctrl-C stops"
    )
    for st, n in zip(streams, pub.samples_per_pass, strict=True):
        rate = f"{st.fs:g} Hz" if st.fs > 0 else "irregular"
        print(f"  {st.name}  type={st.type or '-'}  {rate}  source_id={st.source_id}  {n} samples")
    for note in notes:
        print(f"  note: {note}")
    play(pub)
    print(f"replayed {pub.position_s:.1f} s of recording")
    return 0


def cmd_streams(args: argparse.Namespace) -> int:
    from .sources.lsl import describe, list_streams

    found = list_streams(args.timeout)
    if not found:
        print(f"no LSL streams visible (waited {args.timeout:g} s)")
        return 0
    for info in sorted(found, key=lambda s: (s.type(), s.name())):
        print(describe(info))
    return 0


def _open_sources(
    types: dict[str, str],
    source_id: str | None,
    timeout: float,
    eda_unit: str | None = None,
    channels: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from .errors import StreamNotFoundError
    from .sources.lsl import LslSource, resolve

    def find(item: tuple[str, str]) -> tuple[str, Any, str]:
        m, stype = item
        sid = f"{source_id}-{m}" if source_id else None
        try:
            return m, resolve(stype, None, sid, timeout), ""
        except StreamNotFoundError as exc:
            return m, None, str(exc)

    # every type looked for at once: a missing one (no belt, no EDA band) costs one timeout,
    # not one each (liblsl's resolver releases the GIL)
    with ThreadPoolExecutor(max_workers=max(1, len(types))) as pool:
        found = list(pool.map(find, types.items()))
    sources = {}
    missing: dict[str, str] = {}
    for m, info, err in found:  # in the order asked
        if m == "acc" and "resp" in sources:
            continue  # breathing comes from the belt; a chest accelerometer is not needed
        if info is None:
            missing[m] = err
            continue
        chan = (channels or {}).get(m)
        sources[m] = LslSource(m, info, eda_unit=eda_unit, channel=0 if chan is None else chan)
        if m == "acc":
            missing.pop("resp", None)  # the accelerometer stands in for the belt
    if not sources:
        raise StreamNotFoundError("; ".join(missing.values()))
    for msg in missing.values():
        print(f"wot: warning: {msg} (continuing without it)", file=sys.stderr)
    return sources


def _run_engine(
    engine: Any,
    args: argparse.Namespace,
    truth: Callable[[float], str] | None = None,
    title: str = "",
    finished: Callable[[], bool] | None = None,
) -> int:
    """Show the engine in a window or in the terminal until duration/finish/Ctrl-C."""
    from .terminal import TerminalView, run_terminal

    start = time.monotonic()

    def done() -> bool:
        if args.duration is not None and time.monotonic() - start >= args.duration:
            return True
        return bool(finished is not None and finished())

    try:
        engine.start()
        if not args.headless and has_display() and window_available():
            from .ui import run_window

            client = not getattr(args, "no_client_view", False)
            return int(run_window(engine, truth=truth, duration_s=args.duration, client=client))
        run_terminal(engine.snapshot, done, TerminalView(title=title), truth)
    except KeyboardInterrupt:
        print("\nstopped (Ctrl-C)")
    finally:
        engine.stop()
        _report_recording(engine)
        args.session_summary = _auto_report(engine, args)
    return 0


def _report_recording(engine: Any) -> None:
    """Say where the session went (or why recording stopped), once the engine has stopped."""
    rec = getattr(engine, "recorder", None)
    if rec is None:
        return
    st = rec.status()
    if st["error"]:
        print(f"wot: warning: {st['error']}", file=sys.stderr)
    else:
        print(f"session recorded to {st['path']} ({st['bytes'] / 1e6:.1f} MB)")


def _screenshots(engine: Any, args: argparse.Namespace, truth: Any, total_s: float) -> int:
    """``wot demo --screenshot DIR --duration S``: S seconds of simulated session, offscreen,
    then both views as PNGs."""
    require("ui", "wot demo --screenshot")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from .ui import take_screenshots

    until_s = min(args.duration if args.duration is not None else 300.0, total_s - 1.0)
    engine.start()
    try:
        paths, reached = take_screenshots(
            engine,
            args.screenshot,
            lambda snap: snap.session_s >= until_s,
            timeout_s=until_s / args.speed + 60.0,
            truth=truth,
        )
        snap = engine.snapshot()
    finally:
        engine.stop()
        _report_recording(engine)
    print(f"screenshots at session {snap.session_s:.0f} s ({snap.zone}): {', '.join(paths)}")
    if snap.error or not reached:
        why = f"engine error {snap.error}" if snap.error else f"session never reached {until_s:g} s"
        print(f"wot: error: screenshots taken early: {why}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np
    from wot_simulators import SimConfig, SimulatorPublisher, load_scenario, simulate_session

    from .config import load_config
    from .engine import Engine

    try:
        scen = load_scenario(args.scenario)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    cfg = load_config(args.config)
    if args.calibration is not None:
        cfg.calibration.duration_s = args.calibration
    sess = simulate_session(scen, SimConfig(seed=args.seed))
    sid = f"wot-demo-{uuid.uuid4().hex[:8]}"
    pub = SimulatorPublisher(sess, source_id=sid, name_prefix=sid, speed=args.speed)
    pub.start()
    try:
        sources = _open_sources({"ecg": "ECG", "eda": "EDA", "resp": "RESP"}, sid, 10.0)
        meta = {
            "command": "demo",
            "client": "simulated",
            "scenario": scen.name,
            "seed": args.seed,
            "speed": args.speed,
        }
        recorder = _recorder(args, "demo", meta)
        try:
            engine = Engine(sources, cfg, outlets_source_id=f"{sid}-engine", recorder=recorder)
        except BaseException:
            if recorder is not None:
                recorder.discard()
            raise

        def truth(t: float) -> str:
            return str(sess.zone_at(np.array([t]))[0])

        title = f"wot demo | scenario {scen.name} (seed {args.seed}) at {args.speed:g}x"
        if args.screenshot:
            return _screenshots(engine, args, truth, sess.duration_s)
        drained = {"t": math.nan}

        def finished() -> bool:
            # stop a few seconds after the simulator has played everything
            if pub.finished and math.isnan(drained["t"]):
                drained["t"] = time.monotonic()
            return pub.finished and time.monotonic() - drained["t"] > 2.0

        return _run_engine(engine, args, truth, title, finished)
    finally:
        pub.stop()


def cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .engine import Engine
    from .sources.files import parse_eda_unit
    from .state import Baseline

    if args.eda_unit:
        parse_eda_unit(args.eda_unit)  # a bad unit is reported before looking for streams
    if not (math.isfinite(args.lost_after) and args.lost_after > 0):
        raise InputError(f"--lost-after {args.lost_after!r} must be a positive number of seconds")
    cfg = load_config(args.config)
    prof, baseline = _profile_setup(args, cfg)  # a bad profile too
    types = {
        m: t
        for m, t in (
            ("ecg", args.ecg_type),
            ("ppg", args.ppg_type),
            ("rr", args.rr_type),
            ("eda", args.eda_type),
            ("resp", args.resp_type),
            ("acc", args.acc_type),
        )
        if t
    }
    cardiac = [m for m in ("ecg", "ppg", "rr") if m in types]
    if len(cardiac) > 1:
        # one cardiac source: a PPG or RR stream asked for replaces the default ECG
        types.pop("ecg", None)
        if "ppg" in types and "rr" in types:
            raise InputError("give either --ppg-type or --rr-type: one cardiac source at a time")
    chans = {m: getattr(args, f"{m}_channel", None) for m in types}
    sources = _open_sources(types, args.source_id, args.timeout, args.eda_unit, chans)
    for m, s in sources.items():
        what = f"{s.unit_source}, scaled to µS" if m == "eda" else s.unit or "unit not stated"
        if m == "acc":
            what += "; breathing from the chest accelerometer (no RESP belt)"
        print(f"{m}: {s.name} at {s.fs:g} Hz ({what})")
    window = None if isinstance(baseline, Baseline) else baseline
    meta = {
        "command": "run",
        "client": args.profile,
        "profile": prof["client"] if prof is not None else None,
        "profile_baseline": bool(getattr(args, "profile_baseline", False)),
    }
    recorder = _recorder(args, args.profile or "session", meta)
    try:
        engine = Engine(
            sources, cfg, window, outlets_source_id=args.outlet_id, recorder=recorder,
            stall_s=args.lost_after / 3.0,
        )  # fmt: skip
    except BaseException:
        if recorder is not None:
            recorder.discard()
        raise
    if isinstance(baseline, Baseline):
        engine.pipeline.state.set_baseline(baseline)
    code = _run_engine(engine, args, title="wot run")
    if prof is not None:
        from .profiles import engine_summary

        # the analysis of the recording (the same frames, plus resting levels and recovery)
        # when the session report ran; else the engine's own frame history
        summary = getattr(args, "session_summary", None) or engine_summary(engine)
        _save_session(prof, summary, engine.pipeline.state.baseline, "live")
    return code


def _recorder(args: argparse.Namespace, prefix: str, meta: dict[str, Any]) -> Any:
    """The session recorder ``--record``/``--no-record`` ask for (default: a new file in the
    session directory); None without recording."""
    if args.no_record:
        return None
    from .recorder import SessionRecorder, default_record_path

    path = Path(args.record) if args.record else default_record_path(prefix)
    if path.is_dir():
        raise InputError(f"--record {path} is a directory; give a new file name ending in .xdf")
    if path.suffix.lower() != ".xdf":
        raise InputError(f"--record {path}: the file name must end in .xdf")
    rec = SessionRecorder(path, meta)
    print(f"recording to {path}")
    return rec


def _record_args(p: argparse.ArgumentParser) -> None:
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


# parser --------------------------------------------------------------------------------------
def _profile_args(p: argparse.ArgumentParser) -> None:
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


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", default=None, help="START:END seconds (default: first 120 s)")
    p.add_argument("--config", default=None)
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
    p.add_argument("--no-progress", action="store_true", help="folder: no progress bar")
    _profile_args(p)


DRIVERS = {
    "polar-h10": "wot_drivers.polar_h10",
    "brainflow": "wot_drivers.brainflow_board",
    "serial": "wot_drivers.serial_line",
}
"""``wot driver NAME``: each module has ``HELP``, ``add_arguments(parser)`` and ``run(args)``
(imports of its hardware library happen in ``run``, so the parser builds without them)."""


def _driver_args(sub: Any) -> None:
    import importlib

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wot",
        description=(
            "Window-of-tolerance biofeedback: fused ECG/HRV, skin conductance and respiration."
        ),
    )
    p.add_argument("--version", action="version", version=f"wot-biofeedback {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="simulated client + engine, in a window or the terminal")
    d.add_argument(
        "--scenario", default="full-session", help="shipped scenario name or a .toml path"
    )
    d.add_argument("--seed", type=int, default=1)
    d.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after S wall-clock seconds (with --screenshot: S seconds of simulated session)",
    )
    d.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="playback speed; 10 compresses the 15-min full session into 90 s; 1 = real time",
    )
    d.add_argument("--calibration", type=float, default=None, help="baseline length, session s")
    d.add_argument(
        "--headless", action="store_true", help="terminal view even when a display exists"
    )
    d.add_argument("--config", default=None)
    d.add_argument(
        "--screenshot",
        default=None,
        metavar="DIR",
        help="run offscreen for --duration S seconds of simulated session (default 300), then "
        "write DIR/therapist.png and DIR/client.png and exit",
    )
    d.add_argument(
        "--no-client-view", action="store_true", help="only the therapist console, no client view"
    )
    _record_args(d)
    d.set_defaults(func=cmd_demo)

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
    for m in ("ecg", "ppg", "rr", "eda", "resp", "acc"):
        r.add_argument(
            f"--{m}-channel", default=None, metavar="N|LABEL",
            help=f"channel of the {m.upper()} stream by 0-based index or label (default 0"
            + ("; ACC: the first of three)" if m == "acc" else ")"),
        )  # fmt: skip
    r.add_argument("--eda-type", default="EDA")
    r.add_argument(
        "--eda-unit",
        default=None,
        help="unit of the EDA stream: uS, nS, mS, S or raw:SCALE (default: the stream's "
        "channel metadata, else uS)",
    )
    r.add_argument("--resp-type", default="RESP")
    r.add_argument(
        "--acc-type",
        default="ACC",
        help="LSL type of a 3-axis chest accelerometer, used for breathing when there is no "
        "RESP stream ('' to skip)",
    )
    r.add_argument(
        "--source-id", default=None, help="only streams with source_id PREFIX-ecg/-eda/-resp/-acc"
    )
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
    r.add_argument("--duration", type=float, default=None)
    r.add_argument("--headless", action="store_true")
    r.add_argument(
        "--no-client-view", action="store_true", help="only the therapist console, no client view"
    )
    _profile_args(r)
    r.add_argument(
        "--outlet-id", default="wot-engine", help="source_id prefix of the wot-* outlets"
    )
    r.add_argument("--config", default=None)
    _record_args(r)
    r.set_defaults(func=cmd_run)

    s = sub.add_parser(
        "simulate", help="publish a simulated session as LSL streams, or write a CSV"
    )
    s.add_argument("--scenario", default="full-session")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument(
        "--duration", type=float, default=None, help="session seconds (default: scenario)"
    )
    s.add_argument("--speed", type=float, default=1.0)
    s.add_argument("--loop", action="store_true")
    s.add_argument("--ecg-fs", type=float, default=250.0)
    s.add_argument("--eda-fs", type=float, default=32.0)
    s.add_argument("--resp-fs", type=float, default=50.0)
    s.add_argument(
        "--acc", action="store_true", help="also publish a 3-axis chest accelerometer (ACC, g)"
    )
    s.add_argument("--acc-fs", type=float, default=50.0)
    s.add_argument("--no-resp", action="store_true", help="do not publish the RESP belt")
    s.add_argument("--noise", type=float, default=1.0)
    s.add_argument("--artifacts", type=float, default=0.0, help="fraction of time with artifacts")
    s.add_argument("--name", default="wot-sim", help="stream name prefix")
    s.add_argument("--source-id", default="wot-sim")
    s.add_argument("--out", default=None, help="write FILE.csv (time_s,ecg,eda,resp,zone) instead")
    s.add_argument("--fs", type=float, default=250.0, help="common rate of the CSV, Hz")
    s.set_defaults(func=cmd_simulate)

    rp = sub.add_parser(
        "replay",
        help="publish a recording (XDF, CSV, WFDB, EDF/BDF) as LSL streams with its own timing",
    )
    rp.add_argument("input", metavar="FILE")
    rp.add_argument(
        "--speed", type=float, default=1.0, help="recording seconds per wall-clock second"
    )
    rp.add_argument(
        "--loop", action="store_true", help="start again at the end (timestamps keep growing)"
    )
    rp.add_argument(
        "--start", type=float, default=0.0, metavar="S", help="skip the first S s of recording"
    )
    rp.add_argument(
        "--duration", type=float, default=None, metavar="S", help="play S s of recording"
    )
    rp.add_argument(
        "--source-id",
        default="wot-replay",
        metavar="ID",
        help="source_id prefix: ID-ecg/-eda/-resp/... (for wot run --source-id ID), ID-K others",
    )
    rp.add_argument(
        "--name-prefix", default=None, help="stream name prefix (default: file name; XDF: none)"
    )
    rp.add_argument("--ecg", default=None, help="ECG signal name or 0-based index (not XDF)")
    rp.add_argument("--ppg", default=None)
    rp.add_argument("--eda", default=None)
    rp.add_argument("--resp", default=None)
    rp.add_argument("--fs", type=float, default=None, help="sampling rate for CSV without time_s")
    rp.add_argument("--eda-unit", default=None, help="uS (default), nS, mS, S or raw:SCALE")
    rp.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="hold the start until the signal streams (ID-ecg, ID-eda, ...) have consumers "
        "(e.g. wot run) and no new consumer came for 1 s, at most S s",
    )
    rp.set_defaults(func=cmd_replay)

    ls = sub.add_parser("streams", help="list visible LSL streams")
    ls.add_argument("--timeout", type=float, default=2.0)
    ls.set_defaults(func=cmd_streams)

    a = sub.add_parser(
        "analyze",
        help="offline analysis of a recording (CSV, WFDB, XDF, EDF/BDF) or a folder of them",
    )
    a.add_argument("input", help="a recording, or a folder of recordings (cohort table)")
    a.add_argument("--out", required=True)
    a.add_argument("--ecg", default=None, help="ECG signal name or 0-based index")
    a.add_argument(
        "--ppg", default=None, help="PPG signal name or index (instead of ECG: pulse-rate HRV)"
    )
    a.add_argument("--eda", default=None)
    a.add_argument("--resp", default=None)
    a.add_argument("--fs", type=float, default=None, help="sampling rate for CSV without time_s")
    a.add_argument("--eda-unit", default=None, help="uS (default), nS, mS, S or raw:SCALE")
    _analysis_args(a)
    a.set_defaults(func=cmd_analyze)

    rp2 = sub.add_parser(
        "report",
        help="HTML session report (from a recording or an analysis folder), a client's history, "
        "or a cohort",
    )
    rp2.add_argument(
        "input", nargs="?", default=None, metavar="SESSION",
        help="a recording, a wot analyze output folder, or a folder of recordings",
    )  # fmt: skip
    rp2.add_argument(
        "--out", default=None,
        help="output folder (default: the analysis folder, or NAME-report beside a recording)",
    )  # fmt: skip
    rp2.add_argument(
        "--client", default=None, metavar="ID", help="trends across this client's sessions"
    )
    rp2.add_argument("--ecg", default=None)
    rp2.add_argument("--ppg", default=None)
    rp2.add_argument("--eda", default=None)
    rp2.add_argument("--resp", default=None)
    rp2.add_argument("--fs", type=float, default=None)
    rp2.add_argument("--eda-unit", default=None)
    _analysis_args(rp2)
    rp2.set_defaults(func=cmd_report)

    w = sub.add_parser(
        "assess",
        help="estimate the client's window from one rest -> mild stressor -> recovery recording",
    )
    w.add_argument("input")
    for k, what in (("rest", "at least 60 s"), ("stressor", "30 s+"), ("recovery", "60 s+")):
        w.add_argument(f"--{k}", required=True, help=f"START:END seconds ({what})")
    w.add_argument("--ecg", default=None)
    w.add_argument("--ppg", default=None)
    w.add_argument("--eda", default=None)
    w.add_argument("--resp", default=None)
    w.add_argument("--fs", type=float, default=None, help="sampling rate for CSV without time_s")
    w.add_argument("--eda-unit", default=None)
    w.add_argument("--config", default=None)
    w.add_argument(
        "--recovered-s",
        type=float,
        default=60.0,
        help="a response the client recovers from within this many seconds is inside the window",
    )
    w.add_argument("--out", default=None, help="write the assessment as JSON")
    w.add_argument("--profile", default=None, help="save the window into this client profile")
    w.set_defaults(func=cmd_assess)
    _driver_args(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (WotError, ValueError, OSError) as exc:
        print(f"wot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped (Ctrl-C)")
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
