"""What ``wot run`` and ``wot demo`` share: finding the streams, the session recorder, showing
the engine (window or terminal), and the recording's report once the session ends."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._extras import require, window_available
from ..errors import InputError


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
) -> dict[str, Any]:
    """:func:`wot_biofeedback.sources.lsl.open_sources`, a missing stream said on stderr."""
    from ..sources.lsl import open_sources

    def warn(msg: str) -> None:
        print(f"wot: warning: {msg} (continuing without it)", file=sys.stderr)

    return dict(open_sources(types, source_id, timeout, eda_unit, channels, on_missing=warn))


def recorder(args: argparse.Namespace, prefix: str, meta: dict[str, Any]) -> Any:
    """The session recorder ``--record``/``--no-record`` ask for (default: a new file in the
    session directory); None without recording."""
    if args.no_record:
        return None
    from ..recorder import SessionRecorder, default_record_path

    path = Path(args.record) if args.record else default_record_path(prefix)
    if path.is_dir():
        raise InputError(f"--record {path} is a directory; give a new file name ending in .xdf")
    if path.suffix.lower() != ".xdf":
        raise InputError(f"--record {path}: the file name must end in .xdf")
    rec = SessionRecorder(path, meta)
    print(f"recording to {path}")
    return rec


def run_engine(
    engine: Any,
    args: argparse.Namespace,
    truth: Callable[[float], str] | None = None,
    title: str = "",
    finished: Callable[[], bool] | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """Show the engine in a window or in the terminal until duration/finish/Ctrl-C; return the
    exit code and the summary of the recording's analysis (None without a session report)."""
    from ..terminal import TerminalView, run_terminal

    start = time.monotonic()

    def done() -> bool:
        if args.duration is not None and time.monotonic() - start >= args.duration:
            return True
        return bool(finished is not None and finished())

    code, summary = 0, None
    try:
        engine.start()
        if not args.headless and has_display() and window_available():
            from ..ui import run_window

            client = not getattr(args, "no_client_view", False)
            code = int(run_window(engine, truth=truth, duration_s=args.duration, client=client))
        else:
            run_terminal(engine.snapshot, done, TerminalView(title=title), truth)
    except KeyboardInterrupt:
        print("\nstopped (Ctrl-C)")
    finally:
        engine.stop()
        report_recording(engine)
        summary = auto_report(engine, args)
    return code, summary


def report_recording(engine: Any) -> None:
    """Say where the session went (or why recording stopped), once the engine has stopped."""
    rec = getattr(engine, "recorder", None)
    if rec is None:
        return
    st = rec.status()
    if st["error"]:
        print(f"wot: warning: {st['error']}", file=sys.stderr)
    else:
        print(f"session recorded to {st['path']} ({st['bytes'] / 1e6:.1f} MB)")


def auto_report(engine: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """After a recorded ``wot run``/``wot demo``: analyse the session file and write its report
    beside it (``NAME-report/report.html``). A failure here is reported; the recording stays."""
    rec = getattr(engine, "recorder", None)
    if rec is None or getattr(args, "no_report", False):
        return None
    st = rec.status()
    if st["error"] or not st["path"] or not Path(st["path"]).exists():
        return None
    from ..analysis import analyze_path
    from ..report import write_report

    path = Path(st["path"])
    out = path.with_name(path.stem + "-report")
    try:
        require("report", "the session report")
        # as recorded: the session's own parameters and calibration
        res = analyze_path(path, out)
        for sub in (res.subjects or {res.recording.subject: res}).values():
            who = f" ({sub.recording.subject})" if res.subjects else ""
            print(f"session report{who}: {write_report(sub.out, sub.out)}")
        return dict(res.summary)
    except Exception as exc:  # the session is saved; only its report failed
        print(f"wot: warning: no session report ({type(exc).__name__}: {exc}); make one "
              f"later with: wot report {path}", file=sys.stderr)  # fmt: skip
        return None
