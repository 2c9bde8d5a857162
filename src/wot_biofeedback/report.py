"""Session reports: one self-contained HTML page per session, its figures as PNG.

:func:`write_report` reads a ``wot analyze`` output folder (``summary.json``, ``features.csv``,
``markers.csv``) and writes ``report.html`` beside ``timeline.png``, ``physiology.png`` and
``zones.png``. The page embeds the figures (``data:`` URIs) and its style sheet, so it works
offline, sent by e-mail or opened from a USB stick: it loads nothing, runs no script and names
no remote address. :func:`write_client_report` does the same for a client's history across
sessions (from the client profile), :func:`write_index` for a cohort.

Figures are drawn with matplotlib's Agg canvas (no GUI, no pyplot state, safe in worker
processes). Zone colours are the Okabe-Ito colours of the live display (colour-blind safe).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as _dt
import html
import json
import math
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from . import __version__
from ._extras import missing, require
from .atomic import write_text
from .csvtext import unescape_cell, write_csv
from .errors import InputError
from .modalities import ROLES, SYNC_SIGNALS
from .theme import BAND, CALM, INK, ROLE_COLOURS

ZONES = ("hyper", "within", "hypo", "unknown")
ZONE_COLORS = CALM  # as the client view shows the zones

# (column, label, unit, decimals) of the physiology summaries
PHYSIOLOGY = (
    ("hr_bpm", "HR", "bpm", 1),
    ("rmssd_ms", "RMSSD", "ms", 1),
    ("sdnn_ms", "SDNN", "ms", 1),
    ("scl_us", "SCL", "µS", 2),
    ("scr_per_min", "SCR rate", "/min", 1),
    ("resp_rate_bpm", "Breathing", "/min", 1),
    ("resp_depth", "Breath depth", "rel.", 2),
)
QUALITY_COLS = {r.key: r.quality_alias or r.quality for r in ROLES.values()}
"""Quality column per channel key in features.csv (the cardiac one by its older name, which
every features.csv has)."""
REPORT_FILES = ("report.html", "timeline.png", "physiology.png", "zones.png")


@dataclass
class SessionData:
    """What a report shows, read from one analysis folder."""

    path: Path
    summary: dict[str, Any]
    time_s: np.ndarray
    zone: np.ndarray  # str
    arousal: np.ndarray
    confidence: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)
    markers: list[tuple[float, str]] = field(default_factory=list)

    @property
    def window(self) -> tuple[float, float]:
        z = self.summary.get("parameters", {}).get("zones", {})
        return float(z.get("lower", -1.5)), float(z.get("upper", 1.5))

    @property
    def duration_s(self) -> float:
        return float(self.summary.get("duration_s") or (self.time_s[-1] if self.time_s.size else 0))

    @property
    def title(self) -> str:
        inp = self.summary.get("input", {})
        return Path(str(inp.get("path") or self.path.name)).name


def load_session(analysis_dir: str | os.PathLike[str]) -> SessionData:
    """Read a ``wot analyze`` output folder; :class:`InputError` names what is missing."""
    d = Path(analysis_dir)
    if not d.is_dir():
        raise InputError(f"{d}: not a folder (give a recording or a wot analyze output folder)")
    try:
        summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{d}: no summary.json (not a wot analyze output folder)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{d / 'summary.json'}: not readable ({exc})") from None
    if "subjects" in summary and not (d / "features.csv").exists():
        people = ", ".join(summary["subjects"])
        first = next(iter(summary["subjects"]), "ID")
        raise InputError(
            f"{d} holds the analyses of several people ({people}): report each, e.g. "
            f"wot report {d / first}"
        )
    # row by row, only the columns the report uses, as numbers (a day of frames as rows of
    # text would take most of a gigabyte)
    wanted = ["time_s", "arousal", "confidence", *(c for c, *_ in PHYSIOLOGY)]
    wanted += list(QUALITY_COLS.values())
    states: list[str] = []
    seen: dict[str, str] = {}  # each state's text once
    try:
        with open(d / "features.csv", newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{d / 'features.csv'}: empty")
            where = {name: i for i, name in enumerate(header)}  # a repeated name: its last
            for need in ("time_s", "state", "arousal"):
                if need not in where:
                    raise InputError(f"{d / 'features.csv'}: no {need!r} column")
            at = {name: where[name] for name in wanted if name in where}
            got = {name: array("d") for name in at}
            si = where["state"]
            for r in reader:
                for name, i in at.items():
                    v = r[i] if i < len(r) else ""
                    got[name].append(float(v) if v else math.nan)
                st = r[si] if si < len(r) else ""
                states.append(seen.setdefault(st, st))
    except OSError as exc:
        raise InputError(f"{d}: features.csv not readable ({exc})") from None

    def num(name: str) -> np.ndarray:
        if name not in got:
            return np.full(len(states), math.nan)
        return np.frombuffer(got[name], dtype=np.float64).copy()

    features = {c: num(c) for c, *_ in PHYSIOLOGY}
    features.update({q: num(q) for q in QUALITY_COLS.values()})
    markers: list[tuple[float, str]] = []
    if (d / "markers.csv").exists():
        try:
            with open(d / "markers.csv", newline="", encoding="utf-8") as fh:
                markers = [
                    (float(r["time_s"]), unescape_cell(r["text"] or "")) for r in csv.DictReader(fh)
                ]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise InputError(
                f"{d / 'markers.csv'}: not a markers table (time_s,text): {exc}"
            ) from None
    elif summary.get("markers"):
        markers = [(float(m["time_s"]), str(m["text"])) for m in summary["markers"]]
    return SessionData(
        d,
        summary,
        num("time_s"),
        np.array(states, dtype=object),
        num("arousal"),
        num("confidence"),
        features,
        markers,
    )


# statistics ----------------------------------------------------------------------------------
def segments(data: SessionData) -> list[tuple[str, float, float]]:
    """Marked segments ``(label, start_s, end_s)``: each marker to the next (or the end).
    Markers named ``end …`` close a segment and open none; the engine's own notes
    (``[engine] ecg signal lost``…) are events on the timeline, not segments."""
    marks = sorted(m for m in data.markers if not m[1].startswith("[engine]"))
    out = []
    end_all = data.duration_s
    for i, (t, text) in enumerate(marks):
        if text.startswith("end "):
            continue
        stop = min(marks[i + 1][0] if i + 1 < len(marks) else end_all, end_all)
        start = max(t, 0.0)
        if stop > start:
            out.append((text, start, stop))
    return out


def describe(values: np.ndarray) -> tuple[float, float, float, int]:
    """Median, first and third quartile of the finite values, and how many there are."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return math.nan, math.nan, math.nan, 0
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return float(med), float(q1), float(q3), int(v.size)


# the quality column that says whether a feature's frame is usable
FEATURE_QUALITY = {
    "hr_bpm": "quality_ecg", "rmssd_ms": "quality_ecg", "sdnn_ms": "quality_ecg",
    "scl_us": "quality_eda", "scr_per_min": "quality_eda",
    "resp_rate_bpm": "quality_resp", "resp_depth": "quality_resp",
}  # fmt: skip


def physiology_table(data: SessionData, mask: np.ndarray) -> dict[str, tuple[float, ...]]:
    """Per feature: median, quartiles and frame count within ``mask``, over the frames whose
    channel quality was usable (>= 0.5), as the calibration and the quality summary count."""
    out: dict[str, tuple[float, ...]] = {}
    for c, *_ in PHYSIOLOGY:
        q = data.features.get(FEATURE_QUALITY[c])
        ok = mask & (q >= 0.5) if q is not None and q.size == mask.size else mask
        out[c] = describe(data.features[c][ok])
    return out


def quality_table(data: SessionData) -> list[dict[str, Any]]:
    """How much of each recorded channel was usable (quality >= 0.5), and its problems."""
    sq = data.summary.get("signal_quality", {})
    problems = data.summary.get("signal_problems_s", {})
    out = []
    for m, q in sq.items():
        out.append(
            {
                "channel": m,
                "usable_fraction": q.get("usable_fraction"),
                "mean_quality": q.get("mean"),
                "problems_s": problems.get(m, {}),
            }
        )
    return out


# figures -------------------------------------------------------------------------------------
def _figure(w: float, h: float) -> Any:
    require("report", "a report figure")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _zone_runs(t: np.ndarray, zone: np.ndarray) -> list[tuple[float, float, str]]:
    if t.size == 0:
        return []
    dt = float(np.median(np.diff(t))) if t.size > 1 else 0.25
    change = np.flatnonzero(zone[1:] != zone[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [t.size]])
    return [
        (float(t[a]), float(t[b - 1]) + dt, str(zone[a])) for a, b in zip(starts, ends, strict=True)
    ]


def _shade_zones(ax: Any, runs: list[tuple[float, float, str]], alpha: float = 0.12) -> None:
    for a, b, z in runs:
        if z in ("hyper", "hypo"):
            ax.axvspan(a / 60, b / 60, color=ZONE_COLORS[z], alpha=alpha, lw=0)


def _marker_lines(ax: Any, markers: Sequence[tuple[float, str]], label: bool) -> None:
    for t, text in markers:
        ax.axvline(t / 60, color="#555555", lw=0.8, ls="--")
        if label:
            short = text if len(text) <= 28 else text[:27] + "…"
            ax.text(
                t / 60, 1.0, " " + short, transform=ax.get_xaxis_transform(), rotation=90,
                va="top", ha="right", fontsize=7, color="#333333", clip_on=True, parse_math=False,
            )  # fmt: skip


def timeline_figure(data: SessionData, path: Path) -> Path:
    """Arousal index with the window band, the zone strip, markers and cues."""
    fig = _figure(11, 4.2)
    ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    t_min = data.time_s / 60
    lower, upper = data.window
    finite = data.arousal[np.isfinite(data.arousal)]
    lim = max(4.2, float(np.max(np.abs(finite))) + 0.4 if finite.size else 0.0)
    ax.axhspan(upper, lim, color=ZONE_COLORS["hyper"], alpha=0.10, lw=0)
    ax.axhspan(-lim, lower, color=ZONE_COLORS["hypo"], alpha=0.10, lw=0)
    ax.axhspan(lower, upper, color=BAND, alpha=0.8, lw=0, label="window of tolerance")
    ax.plot(t_min, data.arousal, color=INK, lw=1.1, label="arousal index")
    ax.set_ylim(-lim, lim)
    ax.set_ylabel("arousal (baseline z)")
    ax.text(
        0.005, 0.97, "hyperarousal", transform=ax.transAxes, va="top", fontsize=8, color="#9a6700"
    )
    ax.text(
        0.005, 0.03, "hypoarousal", transform=ax.transAxes, va="bottom", fontsize=8, color="#1f6f99"
    )
    _marker_lines(ax, data.markers, label=True)
    cues = data.summary.get("cues", [])
    if cues:
        ct = np.array([c["time_s"] for c in cues]) / 60
        ax.scatter(ct, np.full(ct.size, lim - 0.35), marker="v", s=28, color="#7b3294", zorder=5,
                   label="cue")  # fmt: skip
    handles, _labels = ax.get_legend_handles_labels()
    handles += [_patch(ZONE_COLORS[z], f"zone: {z}") for z in ZONES if np.any(data.zone == z)]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8,
              ncols=7, frameon=False)  # fmt: skip
    ax.grid(alpha=0.25)
    for a, b, z in _zone_runs(data.time_s, data.zone):
        strip.axvspan(a / 60, b / 60, color=ZONE_COLORS.get(z, ZONE_COLORS["unknown"]), lw=0)
    _marker_lines(strip, data.markers, label=False)
    strip.set_yticks([])
    strip.set_ylabel("zone", rotation=0, ha="right", va="center")
    strip.set_xlabel("session time (min)")
    strip.set_xlim(0, max(data.duration_s, 1.0) / 60)
    fig.savefig(path)
    return path


def _plain(text: str) -> str:
    """Text for a matplotlib label that must not be read as math (a '$' in a name)."""
    return text.replace("$", r"\$")


def _patch(color: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=color, label=label)


def physiology_figure(data: SessionData, path: Path) -> Path:
    """HR, HRV (RMSSD), skin conductance (SCL, SCR rate) and breathing over the session."""
    panels = [
        (("hr_bpm", "HR (bpm)"),),
        (("rmssd_ms", "RMSSD (ms)"),),
        (("scl_us", "SCL (µS)"), ("scr_per_min", "SCR /min")),
        (("resp_rate_bpm", "breaths /min"),),
    ]
    panels = [p for p in panels if np.isfinite(data.features[p[0][0]]).any()]
    fig = _figure(11, 1.6 * max(len(panels), 1) + 0.6)
    axes = fig.subplots(max(len(panels), 1), 1, sharex=True, squeeze=False)[:, 0]
    runs = _zone_runs(data.time_s, data.zone)
    t_min = data.time_s / 60
    for ax, panel in zip(axes, panels, strict=False):
        _shade_zones(ax, runs)
        _marker_lines(ax, data.markers, label=False)
        (col, label), *twin = panel
        ax.plot(t_min, data.features[col], color=INK, lw=1.0)
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.25)
        for col2, label2 in twin:
            ax2 = ax.twinx()
            ax2.plot(t_min, data.features[col2], color="#CC79A7", lw=0.9)
            ax2.set_ylabel(label2, fontsize=9, color="#a0507f")
    if not panels:
        axes[0].text(
            0.5, 0.5, "no physiological features", ha="center", transform=axes[0].transAxes
        )
    axes[-1].set_xlabel("session time (min); shaded: hyper (orange) and hypo (blue) zones")
    axes[-1].set_xlim(0, max(data.duration_s, 1.0) / 60)
    fig.savefig(path)
    return path


def zones_figure(data: SessionData, path: Path) -> Path:
    """Time in each zone (bar) and the duration of each excursion with its recovery."""
    fig = _figure(11, 2.6)
    ax, ax2 = fig.subplots(1, 2, width_ratios=[1, 2])
    tz = data.summary.get("time_in_zone_s", {})
    vals = [float(tz.get(z, 0.0)) / 60 for z in ZONES]
    ax.barh(list(ZONES)[::-1], vals[::-1], color=[ZONE_COLORS[z] for z in ZONES][::-1])
    ax.set_xlabel("minutes")
    ax.set_title("time in each zone", fontsize=10)
    exc = data.summary.get("excursions", [])
    if exc:
        x = np.arange(len(exc))
        dur = [e["duration_s"] for e in exc]
        # the part of the excursion from its peak back to the window is the recovery
        rec = [e.get("recovery_from_peak_s") or 0.0 for e in exc]
        rise = [max(0.0, d - r) for d, r in zip(dur, rec, strict=True)]
        ax2.bar(x, rise, color=[ZONE_COLORS[e["zone"]] for e in exc], label="onset to peak")
        ax2.bar(x, rec, bottom=rise, color=[ZONE_COLORS[e["zone"]] for e in exc], alpha=0.45,
                hatch="//", label="peak to window (recovery)")  # fmt: skip
        ax2.set_xticks(x, [f"{e['start_s'] / 60:.1f}" for e in exc], fontsize=8)
        ax2.set_xlabel("excursion start (min)")
        ax2.set_ylabel("seconds")
        ax2.set_ylim(0, 1.3 * max(max(dur), max(rec)))
        ax2.legend(fontsize=8, ncols=2, loc="upper right")
    else:
        ax2.text(0.5, 0.5, "no excursions", ha="center", va="center", transform=ax2.transAxes)
        ax2.set_xticks([])
    ax2.set_title("excursions and recovery", fontsize=10)
    fig.savefig(path)
    return path


# HTML ----------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#2b2b2b;background:#f7f5f0;margin:0;padding:0 1.5rem 3rem;max-width:75rem}
h1{font-size:1.5rem;margin:1.2rem 0 .2rem}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;
 border-bottom:1px solid #ddd;padding-bottom:.2rem}
.sub{color:#666;margin:0 0 1rem}.cards{display:flex;gap:.8rem;flex-wrap:wrap}
.card{background:#fff;border-radius:.5rem;padding:.6rem .9rem;min-width:8.5rem;
 box-shadow:0 1px 2px #0001}.card b{display:block;font-size:1.35rem}
.card span{color:#666;font-size:.85rem}
table{border-collapse:collapse;background:#fff;font-size:.88rem;margin:.3rem 0 .8rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#efece6}.wide{overflow-x:auto}td:first-child,th:first-child{text-align:left}
img{max-width:100%;background:#fff;border-radius:.4rem}
.z{display:inline-block;width:.8em;height:.8em;border-radius:.2em;margin-right:.3em}
.note{color:#7a4b00}.muted{color:#888}pre{background:#fff;padding:.6rem;overflow:auto;
 font-size:.78rem;max-height:30rem}details{margin:.4rem 0}
"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _n(v: Any, d: int = 1, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{float(v):.{d}f}{unit}"


def _mmss(s: Any) -> str:
    if s is None or not math.isfinite(float(s)):
        return "–"
    s = float(s)
    sign, s = ("-", -s) if s < 0 else ("", s)
    return f"{sign}{int(s // 60)}:{s % 60:04.1f}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<div class="wide"><table class="{cls}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _zone_chip(z: str) -> str:
    return f'<span class="z" style="background:{ZONE_COLORS.get(z, "#999")}"></span>{_e(z)}'


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}"
        f'<p class="muted">wot-biofeedback {_e(__version__)} · report written '
        f"{_dt.datetime.now().astimezone().isoformat(timespec='seconds')}</p></body></html>\n"
    )


def _physio_rows(label: str, stats: dict[str, tuple[float, ...]], extra: str = "") -> list[str]:
    row = [label + extra]
    for col, _lab, _unit, d in PHYSIOLOGY:
        med, q1, q3, n = stats[col]
        row.append(f"{_n(med, d)} <span class=muted>({_n(q1, d)}–{_n(q3, d)})</span>" if n else "–")
    return row


def render_session_html(data: SessionData, figs: dict[str, Path]) -> str:
    s = data.summary
    lower, upper = data.window
    meta = s.get("session", {}) or {}
    fz, tz = s.get("fraction_in_zone", {}), s.get("time_in_zone_s", {})
    nexc = s.get("n_excursions", {})
    rec = s.get("recovery_from_peak_s") or {}
    cues = s.get("cues", [])
    known = sum(float(tz.get(z, 0.0)) for z in ("hyper", "within", "hypo"))
    in_window = float(tz.get("within", 0.0)) / known if known > 0 else math.nan
    who = ", ".join(
        f"{k} {_e(meta[k])}" for k in ("client", "scenario", "seed", "command") if meta.get(k)
    )
    started = str(meta.get("started", ""))
    with contextlib.suppress(ValueError):
        started = _dt.datetime.fromisoformat(started).strftime("%Y-%m-%d %H:%M")
    b = [f"<h1>Session report: {_e(data.title)}</h1>"]
    b.append(
        f'<p class="sub">{_e(started)} {("· " + who) if who else ""} · '
        f"{_mmss(data.duration_s)} min:s · window [{lower:+.2f}, {upper:+.2f}] baseline z</p>"
    )
    b.append('<section id="overview"><div class="cards">')
    cards = [
        (
            f"{in_window:.0%}" if math.isfinite(in_window) else "–",
            "in the window (of time with a zone)",
        ),
        (f"{nexc.get('hyper', 0)}", "hyper excursions"),
        (f"{nexc.get('hypo', 0)}", "hypo excursions"),
        (_n(rec.get("median"), 0, " s"), "median recovery (peak to window)"),
        (f"{len(cues)}", "cues"),
        (f"{len(data.markers)}", "markers"),
    ]
    b += [f'<div class="card"><b>{v}</b><span>{_e(lab)}</span></div>' for v, lab in cards]
    b.append("</div></section>")
    notes = s.get("input", {}).get("notes", [])
    if s.get("calibration_message"):
        b.append(f'<p class="muted">Baseline: {_e(s["calibration_message"])}</p>')

    b.append('<section id="timeline"><h2>Zone timeline and arousal</h2>')
    b.append(_img(figs["timeline"], "arousal index with the window band and the zone timeline"))
    b.append(
        "<p class=muted>The arousal index is the fused z-score of HR, HRV, skin conductance "
        f"and breathing against this session's baseline; the band [{lower:+.2f}, {upper:+.2f}] "
        "is the client's window. Dashed lines: markers; triangles: cues.</p></section>"
    )

    b.append('<section id="zones"><h2>Time in each zone</h2>')
    b.append(_img(figs["zones"], "time in each zone and excursions"))
    rows = [
        [_zone_chip(z), _mmss(tz.get(z, 0.0)), f"{float(fz.get(z, 0.0)):.1%}",
         str(nexc.get(z, "")) if z in ("hyper", "hypo") else ""]
        for z in ZONES
    ]  # fmt: skip
    b.append(_table(["zone", "time (min:s)", "share", "excursions"], rows))
    b.append("</section>")

    exc = s.get("excursions", [])
    b.append('<section id="excursions"><h2>Excursions and recovery</h2>')
    if exc:
        rows = [
            [_zone_chip(e["zone"]), _mmss(e["start_s"]), _n(e["duration_s"], 0, " s"),
             _n(e["peak_arousal"], 2), _mmss(e.get("peak_s")),
             _n(e.get("recovery_from_peak_s"), 0, " s") if e["returned_to_window"]
             else "not back to the window",
             _n(e["recovery_s"], 0, " s") if e["returned_to_window"] else "–"]
            for e in exc
        ]  # fmt: skip
        head = ["zone", "start", "duration", "peak arousal", "peak at", "recovery (peak to window)",
                "after the end (unknown)"]  # fmt: skip
        b.append(_table(head, rows))
        b.append(
            "<p>Recovery, from the most extreme moment of the excursion back into the window: "
            f"median {_n(rec.get('median'), 0, ' s')}, longest {_n(rec.get('max'), 0, ' s')}. "
            "The last column is the time between the end of the excursion and the window (0 when "
            "it went straight back; longer when the signals were unusable in between).</p>"
        )
    else:
        b.append("<p>No excursion out of the window.</p>")
    b.append("</section>")

    b.append('<section id="cues"><h2>Cues and what followed</h2>')
    if cues:
        rows = [
            [_mmss(c["time_s"]), _zone_chip(str(c.get("zone", ""))), _e(c.get("text", "")),
             _e(c.get("source", "")), _e(c.get("why", "")),
             _cue_back(c)]
            for c in cues
        ]  # fmt: skip
        backs = [
            c["time_back_to_window_s"] for c in cues if c.get("time_back_to_window_s") is not None
        ]
        b.append(_table(["time", "zone", "cue", "from", "why", "time back to window"], rows))
        eff = sum(1 for c in cues if c.get("zone") in ("hyper", "hypo"))
        b.append(
            f"<p>{len(backs)} of {eff} regulation cues were followed by a return to the window"
            + (f" (median {np.median(backs):.0f} s)." if backs else ".")
            + "</p>"
        )
    else:
        b.append("<p>No cues were given.</p>")
    b.append("</section>")

    b.append('<section id="physiology"><h2>Physiology by zone and by marked segment</h2>')
    b.append(_img(figs["physiology"], "HR, HRV, skin conductance and breathing over time"))
    head = ["", *(f"{lab} ({unit})" for _c, lab, unit, _d in PHYSIOLOGY)]
    rows = [_physio_rows("whole session", physiology_table(data, np.ones(data.time_s.size, bool)))]
    for z in ZONES:
        m = data.zone == z
        if m.any():
            span = f" <span class=muted>{_mmss(m.sum() / max(1.0, _rate(data)))}</span>"
            rows.append(_physio_rows(_zone_chip(z), physiology_table(data, m), span))
    b.append("<h3>By zone</h3>" + _table(head, rows))
    segs = segments(data)
    if segs:
        rows = []
        for label, a, bnd in segs:
            m = (data.time_s >= a) & (data.time_s < bnd)
            zs = data.zone[m]
            share = f"{np.mean(zs == 'within'):.0%} within" if zs.size else ""
            head_cell = f"{_e(label)}<br><span class=muted>{_mmss(a)}–{_mmss(bnd)} · {share}</span>"
            rows.append(_physio_rows(head_cell, physiology_table(data, m)))
        b.append("<h3>By marked segment</h3>" + _table(head, rows))
    b.append(
        "<p class=muted>Median (interquartile range) of the 4-Hz feature frames.</p></section>"
    )

    b.append('<section id="markers"><h2>Markers and notes</h2>')
    if data.markers:
        rows = [
            [_mmss(t), _e(text), _zone_chip(str(data.zone[i])) if (i := _at(data, t)) >= 0 else ""]
            for t, text in data.markers
        ]
        b.append(_table(["time", "marker / note", "zone then"], rows))
    else:
        b.append("<p>No markers in this session.</p>")
    b.append("</section>")

    b.append('<section id="quality"><h2>Signal quality</h2>')
    rows = []
    for q in quality_table(data):
        probs = ", ".join(f"{k} {v:.0f} s" for k, v in q["problems_s"].items() if v) or "–"
        rows.append([_e(q["channel"]), _n(100 * (q["usable_fraction"] or 0), 1, " %"),
                     _n(q["mean_quality"], 2), _e(probs)])  # fmt: skip
    b.append(_table(["channel", "usable (quality ≥ 0.5)", "mean quality", "problems found"], rows))
    if notes:
        b.append("<ul>" + "".join(f'<li class="note">{_e(n)}</li>' for n in notes) + "</ul>")
    b.append("</section>")

    sw = s.get("software", {})
    inp = s.get("input", {})
    b.append('<section id="software"><h2>Software and parameters</h2>')
    sig_rows = [
        [_e(m), _e(v.get("name")), _n(v.get("fs"), 1, " Hz"), _e(v.get("unit") or ""),
         str(v.get("n_samples", ""))]
        for m, v in inp.get("signals", {}).items()
    ]  # fmt: skip
    b.append(
        f"<p>Analysed by {_e(sw.get('name', 'wot-biofeedback'))} {_e(sw.get('version', '?'))} "
        f"(Python {_e(sw.get('python', '?'))}); recorded by "
        f"{_e(meta.get('software', 'another tool' if not inp.get('recorded_by_wot') else '?'))}."
        f" Input: {_e(inp.get('path', ''))}.</p>"
    )
    b.append(_table(["modality", "signal", "rate", "unit", "samples"], sig_rows))
    params = json.dumps(s.get("parameters", {}), indent=2)
    b.append(f"<details><summary>All parameters</summary><pre>{_e(params)}</pre></details>")
    if s.get("baseline"):
        base = json.dumps(s["baseline"], indent=2)
        b.append(f"<details><summary>Baseline</summary><pre>{_e(base)}</pre></details>")
    b.append("</section>")
    return _page(f"wot session report: {data.title}", "\n".join(b))


def _cue_back(c: dict[str, Any]) -> str:
    if c.get("zone") not in ("hyper", "hypo"):
        return "(given in the window)"
    back = c.get("time_back_to_window_s")
    return _n(back, 0, " s") if back is not None else "not back by the end"


def _rate(data: SessionData) -> float:
    return float(data.summary.get("parameters", {}).get("frame_rate_hz", 4.0))


def _at(data: SessionData, t: float) -> int:
    if data.time_s.size == 0:
        return -1
    i = int(np.searchsorted(data.time_s, t, side="right")) - 1
    if not 0 <= i < data.time_s.size or t >= data.time_s[-1] + 1.0 / _rate(data):
        return -1  # before the first frame or after the last: no zone then
    return i


def write_report(
    analysis_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``report.html`` and its PNG figures for one analysed session; returns the page.
    A person analysed with others (``wot analyze --subjects``: this folder is ``OUT/ID`` and
    ``OUT`` holds ``synchrony.csv``) gets a co-regulation section."""
    data = load_session(analysis_dir)
    out = Path(out_dir) if out_dir is not None else Path(analysis_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = {
        "timeline": timeline_figure(data, out / "timeline.png"),
        "physiology": physiology_figure(data, out / "physiology.png"),
        "zones": zones_figure(data, out / "zones.png"),
    }
    html_text = render_session_html(data, figs)
    co = load_coregulation(Path(analysis_dir), str(data.summary.get("subject", "")))
    if co is not None:
        figs["synchrony"] = synchrony_figure(co, out / "synchrony.png")
        section = coregulation_html(co, figs["synchrony"])
        html_text = html_text.replace(
            '<section id="physiology">', section + '<section id="physiology">', 1
        )
    page = out / "report.html"
    _write_text(page, html_text)
    return page


def load_coregulation(analysis_dir: Path, subject: str) -> dict[str, Any] | None:
    """The synchrony of ``subject`` with the others analysed beside them (``analysis_dir`` is
    ``OUT/ID`` of ``wot analyze --subjects``): rows of ``OUT/synchrony.csv`` and the pair's
    block of ``OUT/summary.json``; None when there are none."""
    top = analysis_dir.parent
    try:
        block = json.loads((top / "summary.json").read_text(encoding="utf-8"))["coregulation"]
        with open(top / "synchrony.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    pair = next((p for p in block.get("pairs", []) if subject in p.get("pair", [])), None)
    if pair is None:
        return None
    a, b = pair["pair"]
    tag = f"{a}-{b}"
    mine = [r for r in rows if r.get("pair", tag) == tag]
    return {"pair": pair, "rows": mine, "params": block.get("params", {}), "subject": subject}


def synchrony_figure(co: dict[str, Any], path: Path) -> Path:
    """Peak correlation of each signal over the session (filled: in sync), and the lags of the
    windows in sync."""
    colours = {SYNC_SIGNALS[r]: c for r, c in ROLE_COLOURS.items()}
    fig = _figure(9.0, 3.2)
    ax, ax2 = fig.subplots(1, 2, width_ratios=(3, 1))
    lags = []
    for sig, colour in colours.items():
        rs = [r for r in co["rows"] if r["signal"] == sig]
        if not rs:
            continue
        t = np.array([float(r["time_s"]) for r in rs]) / 60
        v = np.array([float(r["r"]) for r in rs])
        on = np.array([r["significant"] == "1" for r in rs])
        ax.plot(t, v, color=colour, lw=0.8, label=sig)
        ax.plot(t[on], v[on], "o", color=colour, ms=3)
        lags += [float(r["lag_s"]) for r, o in zip(rs, on, strict=True) if o]
    ax.set_xlabel("session time (min)")
    ax.set_ylabel("peak r")
    ax.set_ylim(-0.3, 1.05)
    ax.legend(loc="lower right", fontsize=7, ncols=3)
    _a, b = co["pair"]["pair"]
    ax2.hist(lags, bins=np.arange(-10.25, 10.5, 1.0), color="#777777")
    ax2.set_xlabel(f"lag in sync, s\n(> 0: {b} leads)")
    ax2.set_ylabel("windows")
    fig.savefig(path)
    return path


def coregulation_html(co: dict[str, Any], fig: Path) -> str:
    """The report's co-regulation section: per signal, the episodes, and the other's own."""
    pair = co["pair"]
    a, b = pair["pair"]
    other = b if co["subject"] == a else a
    w = co["params"].get("window_s", 30)
    own_w = {g: v for g, v in (co["params"].get("windows_s") or {}).items() if v != w}
    if own_w:
        w_text = f"{w:g}-s window (" + ", ".join(f"{g}: {v:g} s" for g, v in own_w.items()) + ")"
    else:
        w_text = f"{w:g}-s window"
    out = ['<section id="coregulation"><h2>Co-regulation: synchrony with '
           f"{_e(other)}</h2>"]  # fmt: skip
    out.append(_img(fig, "peak correlation of each signal over time, and the lags in sync"))
    out.append(
        f"<p class=muted>Each {w_text}: the highest correlation of the two people's "
        "heart rate, skin-conductance level or breathing rate within ±10 s of lag, tested "
        "against the same series shifted apart in time (significant: p ≤ 0.05); filled dots "
        "are windows in sync. About 5 % of windows are called in sync by chance.</p>"
    )
    rows = []
    for sig, v in pair["signals"].items():
        led = ", ".join(f"{k} {n}" for k, n in v["led_by"].items() if n)
        share = v.get("significant_share")
        rows.append([_e(sig), str(v["tested"]), f"{share:.0%}" if share is not None else "–",
                     _n(v.get("median_r"), 2), _n(v.get("median_lag_s"), 1, " s"),
                     _e(led or "–")])  # fmt: skip
    ix = pair.get("index") or {}
    if ix.get("tested"):  # the signals combined (synchrony_index.csv)
        share = ix.get("significant_share")
        conf = ix.get("median_confidence")
        rows.append(["all (combined)", str(ix["tested"]),
                     f"{share:.0%}" if share is not None else "–", "–", "–",
                     f"median confidence {conf:.0%}" if conf is not None else "–"])  # fmt: skip
    out.append(_table(["signal", "windows tested", "in sync", "median r (in sync)",
                       "median lag", "led by"], rows))  # fmt: skip
    ep = pair.get("coregulation")
    if ep and co["subject"] == ep.get("client"):
        n, k = ep["returns"], ep["returns_in_sync"]
        out.append(f"<p><b>{k} of {n}</b> returns to the window happened in sync with "
                   f"{_e(ep['partner'])} while they stayed within.</p>")  # fmt: skip
        erows = [[_zone_chip(e["zone"]), _mmss(e["start_s"]), _mmss(e["end_s"]),
                  "yes" if e["returned"] else "no",
                  "–" if e["partner_within"] is None else f"{e['partner_within']:.0%}",
                  "–" if e["sync_share"] is None else f"{e['sync_share']:.0%}",
                  _e(e["led_by"] or "–"), "yes" if e["in_sync"] else "no"]
                 for e in ep["episodes"]]  # fmt: skip
        if erows:
            out.append(_table(["zone", "from", "to", "back", f"{_e(ep['partner'])} within",
                               "in sync around the return", "led by", "co-regulated"],
                              erows))  # fmt: skip
        own = ep.get("partner_excursions") or []
        out.append(f"<p class=muted>{_e(ep['partner'])}'s own excursions: {len(own)}"
                   + (": " + ", ".join(f"{x['zone']} {_mmss(x['start_s'])}-{_mmss(x['end_s'])}"
                                      for x in own) if own else "") + ".</p>")  # fmt: skip
    out.append("</section>")
    return "\n".join(out)


def _write_text(path: Path, text: str) -> None:
    # whole or not at all, and two reports written at once never share a temporary file
    write_text(path, text)


# client history ------------------------------------------------------------------------------
def client_history(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per session of a client profile: date, time in window (share of the time with a
    zone), the window's bounds then, excursions, median recovery and baseline HR/RMSSD/SCL."""
    rows = []
    current = profile.get("window", {})
    for i, s in enumerate(profile.get("sessions", []), start=1):
        tz = s.get("time_in_zone_s") or {}
        known = sum(float(tz.get(z) or 0.0) for z in ("hyper", "within", "hypo"))
        win = s.get("window") or {}
        # resting levels in natural units (older sessions: the baseline's raw medians)
        med = s.get("baseline_levels") or (s.get("baseline") or {}).get("median") or {}
        # recovery from the peak only (sessions saved before it was measured: blank, never
        # the other measure, which would make a false trend)
        rec = s.get("recovery_from_peak_s") or {}
        nexc = s.get("n_excursions") or {}
        rows.append(
            {
                "session": i,
                "date": str(s.get("date", ""))[:19],
                "source": str(s.get("source", "")),
                "duration_s": s.get("duration_s"),
                "in_window": float(tz.get("within") or 0.0) / known if known > 0 else None,
                "upper": win.get("upper", current.get("upper")),
                "lower": win.get("lower", current.get("lower")),
                "window_recorded": bool(win),
                "hyper_excursions": nexc.get("hyper"),
                "hypo_excursions": nexc.get("hypo"),
                "recovery_median_s": rec.get("median"),
                "baseline_hr_bpm": med.get("hr_bpm"),
                "baseline_rmssd_ms": med.get("rmssd_ms"),
                "baseline_scl_us": med.get("scl_us"),
            }
        )
    return rows


def _series(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([math.nan if r[key] is None else float(r[key]) for r in rows])


def client_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    """Trends across sessions: time in window, window bounds, recovery, baseline RMSSD."""
    fig = _figure(11, 6.2)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    x = np.array([r["session"] for r in rows])
    panels = [
        ("time in the window (%)", [("in_window", 100.0, ZONE_COLORS["within"])]),
        ("window bounds (baseline z)", [("upper", 1.0, ZONE_COLORS["hyper"]),
                                        ("lower", 1.0, ZONE_COLORS["hypo"])]),
        ("median recovery to window (s)", [("recovery_median_s", 1.0, INK)]),
        ("baseline RMSSD (ms)", [("baseline_rmssd_ms", 1.0, "#CC79A7")]),
    ]  # fmt: skip
    for ax, (title, lines) in zip(axes, panels, strict=True):
        for key, scale, color in lines:
            y = _series(rows, key) * scale
            ax.plot(x, y, "o-", color=color, lw=1.5, ms=5, label=key)
            ok = np.isfinite(y)
            if ok.sum() >= 3:  # a least-squares trend line over the sessions
                k, c = np.polyfit(x[ok], y[ok], 1)
                ax.plot(x[ok], k * x[ok] + c, ":", color=color, lw=1)
        if title.startswith("window"):
            up, lo = _series(rows, "upper"), _series(rows, "lower")
            ax.fill_between(x, lo, up, color=BAND, alpha=0.7, lw=0)
            ax.axhline(0, color="#999", lw=0.6)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.25)
    for ax in axes[2:]:
        ax.set_xlabel("session")
        ax.set_xticks(x)
    fig.savefig(path)
    return path


def _trend(rows: list[dict[str, Any]], key: str) -> float:
    """Least-squares change per session (NaN with fewer than 2 values)."""
    y = _series(rows, key)
    x = np.array([r["session"] for r in rows], dtype=float)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def render_client_html(profile: dict[str, Any], rows: list[dict[str, Any]], fig: Path) -> str:
    name = str(profile.get("client", "?"))
    b = [f"<h1>Client history: {_e(name)}</h1>"]
    win = profile.get("window", {})
    b.append(
        f'<p class="sub">{len(rows)} session(s) · current window '
        f"[{float(win.get('lower', math.nan)):+.2f}, {float(win.get('upper', math.nan)):+.2f}] "
        f"baseline z · profile updated {_e(str(profile.get('updated', ''))[:19])}</p>"
    )
    # the width from the sessions whose bounds were stored with them (older ones show the
    # current window, which says nothing about how it changed)
    stored = [r for r in rows if r["window_recorded"]]
    width = _series(stored, "upper") - _series(stored, "lower")
    tw = _trend(rows, "in_window")
    tr = _trend(rows, "recovery_median_s")
    wd = width[-1] - width[0] if len(width) >= 2 and np.isfinite(width[[0, -1]]).all() else math.nan
    cards = [
        (
            _n(100 * tw, 1, " pts") if math.isfinite(tw) else "–",
            "time in window, change per session",
        ),
        (_n(wd, 2) if math.isfinite(wd) else "–", "window width change (first to last)"),
        (_n(tr, 1, " s") if math.isfinite(tr) else "–", "median recovery, change per session"),
    ]
    b.append('<section id="trends"><div class="cards">')
    b += [f'<div class="card"><b>{v}</b><span>{_e(lab)}</span></div>' for v, lab in cards]
    b.append("</div>")
    if len(stored) >= 2 and math.isfinite(wd):
        verdict = "widening" if wd > 0.05 else "narrowing" if wd < -0.05 else "unchanged"
        b.append(
            f"<p>The window is <b>{verdict}</b> across the {len(stored)} sessions whose bounds "
            "were stored with them.</p>"
        )
    elif len(rows) >= 2:
        b.append(
            "<p>Whether the window is widening cannot be told yet: fewer than two sessions "
            "stored the bounds they were scored with.</p>"
        )
    b.append(_img(fig, "trends across sessions"))
    b.append("</section>")
    head = ["#", "date", "source", "length", "in window", "window", "hyper", "hypo",
            "median recovery", "baseline HR", "baseline RMSSD", "baseline SCL"]  # fmt: skip
    trs = []
    for r in rows:
        w = f"[{_n(r['lower'], 2)}, {_n(r['upper'], 2)}]" + ("" if r["window_recorded"] else "*")
        trs.append(
            [str(r["session"]), _e(r["date"]), _e(Path(r["source"]).name or r["source"]),
             _mmss(r["duration_s"]),
             f"{r['in_window']:.0%}" if r["in_window"] is not None else "–", w,
             str(r["hyper_excursions"] if r["hyper_excursions"] is not None else "–"),
             str(r["hypo_excursions"] if r["hypo_excursions"] is not None else "–"),
             _n(r["recovery_median_s"], 0, " s"), _n(r["baseline_hr_bpm"], 1),
             _n(r["baseline_rmssd_ms"], 1), _n(r["baseline_scl_us"], 2)]
        )  # fmt: skip
    b.append('<section id="sessions"><h2>Sessions</h2>' + _table(head, trs))
    if any(not r["window_recorded"] for r in rows):
        b.append("<p class=muted>* window not stored with the session: the current one.</p>")
    assessments = profile.get("assessments") or []
    if assessments:
        b.append(f"<p>{len(assessments)} assessment(s) in the profile.</p>")
    b.append("</section>")
    b.append(_regulation_section(profile))
    return _page(f"wot client history: {name}", "\n".join(b))


def _regulation_section(profile: dict[str, Any]) -> str:
    """The client's resonance rate and how each regulation cue worked for them."""
    from .config import CueConfig
    from .cues import library
    from .profiles import cue_records

    repeat_s = CueConfig().repeat_s
    b = ['<section id="regulation"><h2>Regulation: what works for this client</h2>']
    res = profile.get("resonance")
    if res:
        close = res.get("close") or []
        b.append(
            f"<p>Resonance breathing rate <b>{float(res['rate_bpm']):g}/min</b> (assessed "
            f"{_e(str(res.get('date', ''))[:10])}"
            + (f"; close: {', '.join(f'{float(r):g}' for r in close)}/min" if close else "")
            + "): the pacer runs at it.</p>"
        )
    else:
        b.append("<p>No resonance assessment yet: the pacer runs at the configured rate.</p>")
    records = {r["id"]: r for r in cue_records(profile, repeat_s)}
    prefs = profile.get("cue_prefs") or {}
    rows = []
    for e in library(CueConfig()):
        r = records.pop(e.id, None)
        if e.direction == "steady":
            continue
        note = ("pinned" if e.id in prefs.get("pinned", []) else
                "banned" if e.id in prefs.get("banned", []) else "")  # fmt: skip
        rows.append(_cue_row(e.id, e.direction, f"{e.approach} {e.family}", r, note))
    rows += [_cue_row(cid, "?", "not in the built-in library", r, "") for cid, r in records.items()]
    head = ["cue", "direction", "kind", "given", f"back within {repeat_s:g} s",
            "median time back", "sessions", ""]  # fmt: skip
    b.append(_table(head, rows))
    b.append(
        "<p>The cue policy prefers the cues that brought this client back (Thompson sampling "
        "over these records) and still tries the others now and then; pinned cues are always "
        "given, banned ones never (<code>wot cues --profile NAME --pin/--ban ID</code>).</p>"
    )
    b.append("</section>")
    return "\n".join(b)


def _cue_row(cid: str, direction: str, kind: str, r: dict[str, Any] | None, note: str) -> list[str]:
    if r is None:
        return [_e(cid), direction, _e(kind), "0", "–", "–", "0", note]
    med = r.get("median_back_s")
    share = f"{r['returned']} ({r['returned'] / r['given']:.0%})" if r["given"] else "–"
    return [_e(cid), direction, _e(kind), str(r["given"]), share,
            _n(med, 0, " s") if med is not None else "–", str(r["sessions"]), note]  # fmt: skip


def write_client_report(profile: dict[str, Any], out_dir: str | os.PathLike[str]) -> Path:
    """``client.html`` and ``client_trends.png`` for a client profile's sessions."""
    rows = client_history(profile)
    if not rows:
        raise InputError(
            f"client {profile.get('client')!r} has no sessions yet: run or analyze a session "
            "with --profile NAME first"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = client_figure(rows, out / "client_trends.png")
    page = out / "client.html"
    _write_text(page, render_client_html(profile, rows, fig))
    cols = list(rows[0])
    write_csv(out / "client_history.csv", cols, ([r.get(c) for c in cols] for r in rows))
    return page


# cohort --------------------------------------------------------------------------------------
def cohort_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    """Share of each session in each zone, one bar per analysed session."""
    ok = [r for r in rows if r.get("status") == "ok"]
    fig = _figure(11, 0.9 + 0.28 * max(len(ok), 1))
    ax = fig.subplots()
    y = np.arange(len(ok))[::-1]
    left = np.zeros(len(ok))
    for z in ZONES:
        v = np.array([float(r.get(f"fraction_{z}") or 0.0) for r in ok]) * 100
        ax.barh(y, v, left=left, color=ZONE_COLORS[z], label=z, height=0.8)
        left += v
    ax.set_yticks(y, [_plain(str(r.get("session", ""))) for r in ok], fontsize=8)
    ax.set_xlabel("% of the session")
    ax.set_xlim(0, 100)
    ax.legend(ncols=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.savefig(path)
    return path


# (cohort column, heading, format) of the index page; cohort.csv has every column
INDEX_COLUMNS = (
    ("session", "session", ""),
    ("status", "status", ""),
    ("error", "error", ""),
    ("client", "client", ""),
    ("signals", "signals", ""),
    ("duration_s", "length", "s"),
    ("fraction_within", "within", "%"),
    ("fraction_hyper", "hyper", "%"),
    ("fraction_hypo", "hypo", "%"),
    ("fraction_unknown", "unknown", "%"),
    ("n_hyper_excursions", "hyper exc.", ""),
    ("n_hypo_excursions", "hypo exc.", ""),
    ("recovery_from_peak_median_s", "median recovery", "s"),
    ("n_cues", "cues", ""),
    ("usable_ecg", "ECG usable", "%"),
    ("usable_eda", "EDA usable", "%"),
    ("usable_resp", "RESP usable", "%"),
)


def write_index(rows: list[dict[str, Any]], out_dir: str | os.PathLike[str]) -> Path:
    """``index.html`` for a cohort: the cohort table, each session linked to its report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # without matplotlib (a headless install analysing a folder) the table still stands
    fig = None if missing("report") else cohort_figure(rows, out / "cohort.png")
    body = []
    for r in rows:
        cells = []
        for c, _label, kind in INDEX_COLUMNS:
            v = r.get(c)
            if c == "session" and (out / str(v) / "report.html").exists():
                cells.append(f'<a href="{_e(quote(str(v)))}/report.html">{_e(v)}</a>')
            elif v is None or v == "":
                cells.append("")
            elif kind == "%":
                cells.append(f"{float(v):.0%}")
            elif kind == "s":
                cells.append(_mmss(float(v)))
            else:
                cells.append(_e(v))
        body.append(cells)
    cols = [label for _c, label, _k in INDEX_COLUMNS]
    n_err = sum(1 for r in rows if r.get("status") != "ok")
    b = [
        "<h1>Cohort report</h1>",
        f'<p class="sub">{len(rows)} recording(s), {len(rows) - n_err} analysed, {n_err} with '
        'errors · table: <a href="cohort.csv">cohort.csv</a></p>',
        '<section id="cohort">',
        _img(fig, "time in each zone per session") if fig is not None else "",
        _table(cols, body),
        "</section>",
    ]
    page = out / "index.html"
    _write_text(page, _page("wot cohort report", "\n".join(b)))
    return page
