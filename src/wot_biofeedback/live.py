"""The live use case: a session on LSL streams, recorded, and analysed and reported when it
ends. ``wot run`` and ``wot demo`` are this plus a view; a script or another front end can use
it the same way::

    with LiveSession.open(sources, config, record="session.xdf") as live:
        ...  # show live.engine.snapshot(), call live.engine.add_marker(...)
    print(live.outcome.report_pages)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import EngineConfig
from .engine import Engine
from .errors import InputError
from .recorder import SessionRecorder
from .sources.lsl import LslSource
from .state import Baseline


@dataclass
class LiveOutcome:
    """How a live session ended."""

    recording: Path | None = None  # the session file, where one was written
    recording_bytes: int = 0
    recording_error: str | None = None  # why recording stopped early, if it did
    analysis: Any = None  # AnalysisOutcome of the recording (None without a report)
    report_pages: dict[str, Path] = field(default_factory=dict)  # subject -> report.html
    report_error: str | None = None  # why the report could not be made


class LiveSession:
    """An engine on live streams, with its recorder, started and stopped together; when it
    stops, the recording is analysed as it ran live and its report written beside it
    (``NAME-report/``, one folder per person in a session of several).

    Parameters
    ----------
    engine : Engine
        Built with the recorder (or none).
    report : bool
        Analyse and report the recording when the session ends.
    """

    def __init__(self, engine: Engine, report: bool = True) -> None:
        self.engine = engine
        self.report = report
        self.outcome: LiveOutcome | None = None

    @classmethod
    def open(
        cls,
        sources: dict[str, LslSource] | dict[str, dict[str, LslSource]],
        config: EngineConfig | None = None,
        baseline: tuple[float, float] | Baseline | None = None,
        *,
        record: str | os.PathLike[str] | None = None,
        metadata: dict[str, Any] | None = None,
        report: bool = True,
        **engine_options: Any,
    ) -> LiveSession:
        """Build the recorder (``record``: a new ``.xdf`` file; None: no recording) and the
        engine; a recorder whose engine could not be built is removed again."""
        rec = None
        if record is not None:
            path = Path(record)
            if path.is_dir():
                raise InputError(f"{path} is a directory; give a new file name ending in .xdf")
            if path.suffix.lower() != ".xdf":
                raise InputError(f"{path}: the file name must end in .xdf")
            rec = SessionRecorder(path, metadata)
        try:
            engine = Engine(
                sources,
                config,
                None if isinstance(baseline, Baseline) else baseline,
                recorder=rec,
                baseline=baseline if isinstance(baseline, Baseline) else None,
                **engine_options,
            )
        except BaseException:
            if rec is not None:
                rec.discard()
            raise
        return cls(engine, report)

    def start(self) -> None:
        self.engine.start()

    def stop(self) -> LiveOutcome:
        """Stop the engine and the recording; analyse and report the recording."""
        self.engine.stop()
        out = LiveOutcome()
        rec = self.engine.recorder
        if rec is not None:
            st = rec.status()
            out.recording, out.recording_bytes = Path(st["path"]), int(st["bytes"])
            out.recording_error = st["error"]
        if self.report and out.recording is not None and out.recording_error is None:
            self._report(out)
        self.outcome = out
        return out

    def _report(self, out: LiveOutcome) -> None:
        from ._extras import require
        from .analysis import analyze_path

        path = out.recording
        assert path is not None
        if not path.exists():
            return
        try:
            require("report", "the session report")
            from .report import write_report

            # as recorded: the session's own parameters and calibration
            res = analyze_path(path, path.with_name(path.stem + "-report"))
            out.analysis = res
            for sid, sub in (res.subjects or {res.recording.subject: res}).items():
                out.report_pages[sid] = write_report(sub.out, sub.out)
        except Exception as exc:  # the session is saved; only its report failed
            out.report_error = f"{type(exc).__name__}: {exc}"

    def __enter__(self) -> LiveSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
