"""What ``wot run`` and ``wot demo`` share: finding the streams, the session recorder, showing
the engine (window or terminal), and the recording's report once the session ends."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .._extras import window_available
from ..errors import InputError
from ._console import quiet_stdout, say, stdout_gone
from ._signals import StopSignal, stop_signals


def has_display() -> bool:
    """True when a Qt window can be shown on a screen."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_sources(
    types: dict[str, str],
    source_id: str | None,
    timeout: float,
    eda_unit: str | None = None,
    channels: dict[str, str | None] | None = None,
    allow_mixed: bool = False,
    settle: float | None = None,
) -> dict[str, Any]:
    """:func:`wot_biofeedback.sources.lsl.open_sources`, a missing stream and a choice among
    several said on stderr."""
    from ..sources.lsl import SETTLE_S, open_sources

    def missing(msg: str) -> None:
        print(f"wot: warning: {msg} (continuing without it)", file=sys.stderr)

    def warn(msg: str) -> None:
        print(f"wot: warning: {msg}", file=sys.stderr)

    return dict(
        open_sources(types, source_id, timeout, eda_unit, channels, on_missing=missing,
                     on_warning=warn, allow_mixed=allow_mixed,
                     settle=SETTLE_S if settle is None else settle)
    )  # fmt: skip


def open_people(
    types: dict[str, str], prefixes: Mapping[str, str | None], timeout: float, **options: Any
) -> dict[str, dict[str, Any]]:
    """:func:`open_sources` for each person (``{who: source_id prefix}``), side by side: a
    stream missing for each (no belts) costs one ``timeout``, not one each, and their streams
    open together (a simulator's clock starts when they connect)."""
    with ThreadPoolExecutor(len(prefixes)) as pool:
        jobs = {w: pool.submit(open_sources, types, p, timeout, **options)
                for w, p in prefixes.items()}  # fmt: skip
        return {w: job.result() for w, job in jobs.items()}


def record_path(args: argparse.Namespace, prefix: str) -> Path | None:
    """The file ``--record``/``--no-record`` ask for (default: a new file in the session
    directory); None without recording."""
    if args.no_record:
        return None
    from ..recorder import default_record_path

    path = Path(args.record) if args.record else default_record_path(prefix)
    if path.is_dir():
        raise InputError(f"--record {path} is a directory; give a new file name ending in .xdf")
    if path.suffix.lower() != ".xdf":
        raise InputError(f"--record {path}: the file name must end in .xdf")
    if path.exists():
        raise InputError(f"{path} already exists; a recording never overwrites another file")
    return path


def check_duration(args: argparse.Namespace) -> None:
    """A ``--duration`` that is not a positive, finite number of seconds is said before
    anything starts (NaN would never end a session; 0 or less would end it unseen)."""
    d = getattr(args, "duration", None)
    if d is not None and not (math.isfinite(d) and d > 0):
        raise InputError(f"--duration {d!r} must be a positive number of seconds of session")


def live_session(
    args: argparse.Namespace, sources: Any, config: Any, prefix: str, meta: dict[str, Any],
    baseline: Any = None, **options: Any,
) -> Any:  # fmt: skip
    """The :class:`~wot_biofeedback.live.LiveSession` of ``wot run``/``wot demo``."""
    from ..live import LiveSession

    path = record_path(args, prefix)
    live = LiveSession.open(
        sources, config, baseline, record=path, metadata=meta,
        report=not getattr(args, "no_report", False), **options,
    )  # fmt: skip
    for text in live.engine.problems(" cannot run: "):
        print(f"wot: warning: {text} (the session runs without it)", file=sys.stderr)
    if path is not None:
        # the default folder fills up unseen (a few MB a demo; wot sys-info shows it): say
        # how not to
        off = "" if args.record else " (turn off with --no-record)"
        say(f"recording to {path}{off}")
    return live


def run_engine(
    live: Any,
    args: argparse.Namespace,
    truth: Callable[[float], str] | None = None,
    title: str = "",
    finished: Callable[[Any], bool] | None = None,
    over: str = "",
    real_time: bool = False,
) -> tuple[int, dict[str, Any] | None]:
    """Show the live session in a window or in the terminal until ``--duration`` seconds of
    session, ``finished(snapshot)`` (the source is over; ``over`` says why), Ctrl-C, SIGTERM or
    SIGHUP, the reader of the output goes away (a closed pipe), or the engine fails. Each ends
    the session alike: the recording closed, its report written, how it ended said. Returns the
    exit code and the summary of the recording's analysis (None without a session report).

    The exit code is 0, or 1 when the engine failed (the error is said on one line) or a
    stream could not run (:meth:`~wot_biofeedback.engine.Engine.problems`; the session ran on
    the others).

    ``real_time``: the sources are sensors, whose session seconds are wall seconds; while
    every stream is lost, or none has sent anything yet, the session time stands still, and the
    wall clock since it last moved counts instead, so ``--duration`` still ends the session.
    """
    from ..terminal import TerminalView, run_terminal

    engine = live.engine
    end = {"why": ""}
    moved = {"t": -math.inf, "wall": math.nan}  # the session time, when it last moved

    def elapsed(snap: Any) -> float:
        t = float(snap.session_s)
        if not real_time:
            return t
        now = time.monotonic()
        if t > moved["t"]:
            moved.update(t=t, wall=now)
        if snap.all_silent and math.isfinite(moved["t"]):
            return max(t, moved["t"] + now - moved["wall"])
        return t

    def done(snap: Any) -> bool:
        if snap.error:  # the engine's thread ended: no new data can come
            end["why"] = "engine error"
        elif args.duration is not None and elapsed(snap) >= args.duration:
            end["why"] = f"--duration {args.duration:g} s"
        elif finished is not None and finished(snap):
            end["why"] = over
        elif stdout_gone():  # the reader went while we were starting (see say)
            end["why"] = "output closed"
        else:
            return False
        return True

    def stopped_by(name: str) -> None:  # a signal closed the window
        end["why"] = "Ctrl-C" if name == "SIGINT" else name

    code = 0
    with stop_signals() as signals:
        try:
            live.start()
            if not args.headless and has_display() and window_available():
                from ..ui import run_window

                client = not getattr(args, "no_client_view", False)
                code = int(
                    run_window(engine, truth=truth, client=client, until=done,
                               on_signal=stopped_by)
                )  # fmt: skip
            else:
                run_terminal(engine.snapshot, done, TerminalView(title=title), truth)
        except KeyboardInterrupt:
            end["why"] = "Ctrl-C"
        except StopSignal as sig:  # SIGTERM, SIGHUP: as Ctrl-C
            end["why"] = sig.name
        except BrokenPipeError:  # the reader went (``| head``): end as on Ctrl-C, quietly
            quiet_stdout()
            end["why"] = "output closed"
        finally:
            signals["stopping"] = True
            out = live.stop()
            say_end(engine, end["why"])
            summary = say_outcome(out)
    if engine.error is not None:
        err = engine.error
        print(f"wot: error: the engine failed ({type(err).__name__}: {err}); the session was "
              "ended there", file=sys.stderr)  # fmt: skip
        code = code or 1
    problems = engine.problems()
    if problems:
        print(f"wot: error: the session ran without {'; '.join(problems)}", file=sys.stderr)
        code = code or 1
    return code, summary


def say_end(engine: Any, why: str) -> None:
    """One line on how the session ended, after how long, and its time in each zone."""
    from ..profiles import engine_summary
    from ..terminal import clock

    s = engine_summary(engine)
    at = clock(engine.snapshot(history_since=0).session_s)
    signalled = why in ("Ctrl-C", "SIGTERM", "SIGHUP")
    head = f"stopped ({why}) after {at}" if signalled else f"session ended after {at}"
    if why and not signalled:
        head += f" ({why})"
    frac = s.get("fraction_in_zone", {})
    zones = (
        ", ".join(f"{z} {frac.get(z, 0.0):.0%}" for z in ("within", "hyper", "hypo", "unknown"))
        if s.get("duration_s")
        else "no zone decided (no data came)"
    )
    say(f"\n{head}: {zones}")


def say_outcome(out: Any) -> dict[str, Any] | None:
    """Say where the session went (or why recording stopped) and where its report is."""
    if out.recording is None:
        return None
    if out.recording_error:
        print(f"wot: warning: {out.recording_error}", file=sys.stderr)
        return None
    say(f"session recorded to {out.recording} ({out.recording_bytes / 1e6:.1f} MB)")
    for sid, page in out.report_pages.items():
        who = f" ({sid})" if len(out.report_pages) > 1 else ""
        say(f"session report{who}: {page}")
    if out.report_error:
        print(f"wot: warning: no session report ({out.report_error}); make one "
              f"later with: wot report {out.recording}", file=sys.stderr)  # fmt: skip
    return dict(out.analysis.summary) if out.analysis is not None else None
