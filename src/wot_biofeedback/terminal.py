"""Terminal view: a block redrawn every second, or, when not a TTY (a pipe, a file), one line
each time the session clock's second, the zone or a stream's state changes (never the same
moment twice)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

from .snapshot import Snapshot, coregulation_words, index_words, sync_words

ZONE_WORDS = {
    "hyper": "HYPERAROUSED (above the window)",
    "within": "IN THE WINDOW",
    "hypo": "HYPOAROUSED (below the window)",
    "unknown": "UNKNOWN",
}


def _num(v: float, fmt: str, unit: str = "") -> str:
    return "  --" if v is None or not math.isfinite(v) else f"{v:{fmt}}{unit}"


def _bar(arousal: float, lo: float, hi: float, width: int = 31) -> str:
    """A horizontal gauge from -3 to +3 with the window marked by brackets."""
    span = 3.0
    cells = ["·"] * width

    def pos(v: float) -> int:
        return max(0, min(width - 1, round((v + span) / (2 * span) * (width - 1))))

    for i in range(pos(lo), pos(hi) + 1):
        cells[i] = "─"
    cells[pos(lo)] = "["
    cells[pos(hi)] = "]"
    if math.isfinite(arousal):
        cells[pos(arousal)] = "●"
    return "hypo " + "".join(cells) + " hyper"


def _cue(snap: Snapshot) -> str:
    """The cue to show: none while the zone is unknown (the last cue was for a zone the engine
    can no longer vouch for) or while calibrating."""
    if snap.cue is None or snap.calibrating or snap.zone == "unknown":
        return ""
    return snap.cue.text


def clock(s: float) -> str:
    """Session seconds as ``MM:SS``."""
    s = max(0.0, s)
    return f"{int(s // 60):02d}:{int(s % 60):02d}"


def render(snap: Snapshot, title: str = "", truth: str | None = None) -> list[str]:
    """The lines of the terminal view for one snapshot."""
    f = snap.features
    lines = [f"{title}  session {clock(snap.session_s)}".strip()]
    if snap.calibrating:
        left = snap.explanation.rsplit(",", 1)[-1].strip() if "left" in snap.explanation else ""
        lines.append(f"Zone     CALIBRATING BASELINE, please sit quietly ({left or snap.message})")
    else:
        lines.append(f"Zone     {ZONE_WORDS.get(snap.zone, snap.zone.upper())}")
    lo, hi = snap.window
    lines.append(
        f"Arousal  {_bar(snap.arousal, lo, hi)}  {_num(snap.arousal, '+.2f')} "
        f"(window {lo:+.1f}..{hi:+.1f})  confidence {snap.confidence:.0%}"
    )
    why = snap.explanation.split(":", 1)[1].strip() if ":" in snap.explanation else snap.explanation
    lines.append(f"Why      {why or '--'}")
    lines.append(
        f"Heart    HR {_num(f.get('hr_bpm', math.nan), '.0f', ' bpm')}   "
        f"RMSSD {_num(f.get('rmssd_ms', math.nan), '.0f', ' ms')}"
    )
    lines.append(
        f"Skin     SCL {_num(f.get('scl_us', math.nan), '.2f', ' µS')}   "
        f"SCRs {_num(f.get('scr_per_min', math.nan), '.1f', '/min')}"
    )
    lines.append(f"Breath   {_num(f.get('resp_rate_bpm', math.nan), '.1f', ' breaths/min')}")
    cue = _cue(snap) or "--"
    lines.append(f"Cue      {cue}")
    st = "  ".join(
        f"{m.upper()} {s.state}"
        + (f" ({s.since_last_s:.0f}s)" if s.state in ("lagging", "lost") else "")
        for m, s in snap.streams.items()
    )
    lines.append(f"Signals  {st}" + (f"   | simulator truth: {truth}" if truth else ""))
    for m, s in snap.streams.items():
        if s.note:
            lines.append(f"Problem  {m.upper()}: {s.note}")
    people = _people(snap)
    if people:
        lines.append(f"People   {people}")
    rec = snap.extra.get("recording") if snap.extra else None
    if rec and rec.get("error"):
        lines.append(f"Problem  {rec['error']}")
    if snap.error:
        lines.append(f"ERROR    {snap.error}")
    return lines


class TerminalView:
    """Prints :func:`render` output; redraws in place on a TTY."""

    def __init__(self, stream: TextIO | None = None, title: str = "") -> None:
        self.stream = stream or sys.stdout
        self.title = title
        self._tty = self.stream.isatty()
        self._drawn = 0
        self._last: tuple[object, ...] | None = None  # the last line's key

    def show(self, snap: Snapshot, truth: str | None = None) -> None:
        lines = render(snap, self.title, truth)
        if self._tty:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            for ln in lines:
                self.stream.write("\x1b[2K" + ln + "\n")
            self._drawn = len(lines)
        else:
            z = "calibrating" if snap.calibrating else snap.zone
            # streams that are not delivering, named once the session has started, and those
            # that cannot run
            bad = tuple(
                f"{m.upper()} {st.state}"
                for m, st in snap.streams.items()
                if st.state in ("lagging", "lost", "unusable")
            )
            rec = snap.extra.get("recording") if snap.extra else None
            rec_error = rec.get("error") if rec else None
            # a line per second of session, change of zone or change of a stream's state:
            # while no new frame comes (the streams wait, lag or were lost) the last line
            # stands instead of repeating
            key = (clock(snap.session_s), z, bad, rec_error)
            people = _people(snap)
            if key == self._last:
                return
            self._last = key
            f = snap.features
            why = snap.explanation.split(":", 1)[1].strip() if ":" in snap.explanation else ""
            cue = _cue(snap)
            pacer = _protocol(snap)
            self.stream.write(
                f"[{clock(snap.session_s)}] zone={z:<11s} "
                f"arousal={_num(snap.arousal, '+.2f').strip()} "
                f"conf={snap.confidence:.2f} HR={_num(f.get('hr_bpm', math.nan), '.0f').strip()} "
                f"RMSSD={_num(f.get('rmssd_ms', math.nan), '.0f').strip()} "
                f"SCL={_num(f.get('scl_us', math.nan), '.2f').strip()} "
                f"SCR/min={_num(f.get('scr_per_min', math.nan), '.1f').strip()} "
                f"breaths/min={_num(f.get('resp_rate_bpm', math.nan), '.1f').strip()}"
                + (f" | why: {why}" if why else "")
                + (f" | signals: {', '.join(bad)}" if bad else "")
                + (f" | cue: {cue}" if cue else "")
                + (f" | {pacer}" if pacer else "")
                + (f" | {people}" if people else "")
                + (f" | recording stopped: {rec_error}" if rec_error else "")
                + (f" | truth: {truth}" if truth else "")
                + "\n"
            )
        self.stream.flush()


def _people(snap: Snapshot) -> str:
    """Several people: the next one's state, the pair's newest synchrony and the client's
    returns in sync, in words ("" with one person)."""
    extra = snap.extra or {}
    others = extra.get("others") or {}
    sync = extra.get("synchrony") or {}
    words = []
    for who, o in list(others.items())[:1]:
        state = "calibrating" if o.get("calibrating") else o.get("zone", "unknown")
        words.append(f"{who}: {state}")
    pair: dict[str, Any] = next(iter(sync.values()), {})
    if pair:
        words.append(sync_words(pair))
        ix = next(iter((extra.get("synchrony_index") or {}).values()), None)
        if ix and not words[-1].startswith("synchrony: collecting"):
            words.append(index_words(ix))
    co = extra.get("coregulation")
    if co:
        words.append(coregulation_words(co))
    return " · ".join(words)


def _protocol(snap: Snapshot) -> str:
    """A running resonance protocol's step (the terminal shows no pacer: read it out)."""
    st = snap.extra.get("resonance") if snap.extra else None
    if not st or st.get("phase") != "pacing":
        return ""
    return (
        f"resonance protocol: pace {st['rate_bpm']:g}/min (step {st['step'] + 1} of "
        f"{st['n_steps']}, {max(0.0, st['left_s']):.0f} s left)"
    )


def run_terminal(
    snapshot: Callable[[], Snapshot],
    stop_when: Callable[[Snapshot], bool],
    view: TerminalView,
    truth: Callable[[float], str] | None = None,
    period_s: float = 1.0,
) -> Snapshot:
    """Show a snapshot every ``period_s`` until ``stop_when(snapshot)`` is true, and return
    that last snapshot (not shown: the caller says how the session ended). Ctrl-C and a closed
    output (``BrokenPipeError``) propagate."""
    import time

    next_t = time.monotonic()
    while True:
        snap = snapshot()
        if stop_when(snap):
            return snap
        view.show(snap, truth(snap.session_s) if truth else None)
        next_t += period_s
        time.sleep(max(0.0, next_t - time.monotonic()))
