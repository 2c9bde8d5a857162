"""Resonance-frequency assessment: the breathing rate at which this client's heart rate
oscillates most.

Breathing at about 4.5-7 breaths/min drives heart rate through the baroreflex loop, which
resonates at a rate of its own in each person; HRV biofeedback paces breathing at that rate
(Lehrer, Vaschillo & Vaschillo 2000; Lehrer & Gevirtz 2014). The protocol paces the client at
several rates in turn (by default 6.5, 6.0, 5.5, 5.0 and 4.5 /min, 2 minutes each), and each
step is scored, after ``SETTLE_S`` (20 s) for the rhythm to settle, by the criteria of Lehrer
et al. (2000) and Shaffer & Meehan (2020):

* **peak-to-trough heart rate** (bpm): per breath cycle of the pacer, the highest minus the
  lowest beat-to-beat heart rate; the median over the cycles;
* **LF power** (bpm², 0.04-0.15 Hz) of the heart-rate series (detrended, 4 Hz, Hann window),
  with the frequency of its peak, which must agree with the pacer's rate;
* **phase** between breathing and heart rate at the pacer's frequency (degrees; > 0: heart
  rate leads); at resonance they move together, 0° (Vaschillo et al. 2002);
* **peak sharpness**: the share of the LF power within ±0.015 Hz of its peak (one narrow
  peak at the pacer, not a spread of rhythms).

Decision rule. A step is *usable* when at least 60 s of it remain after settling, heart beats
cover at least 80 % of that time, the LF peak lies within 1 breath/min of the pacer and, when
a breathing signal is there, the client breathed within 1 /min of the pacer. Each usable step
gets a score: the mean of its peak-to-trough and its LF power as shares of the best step's,
of its sharpness as a share of the best step's, and of ``max(cos(phase), 0)``, weighted
0.4, 0.3, 0.15 and 0.15 (the amplitude first, as Lehrer et al. 2000 do; phase and sharpness
decide between close rates). The highest score is the resonance rate. The **margin** is its
score minus the next-best step's. Another step is **close** when its score is within
``CLOSE_MARGIN`` (0.05) of the best, or its peak-to-trough amplitude is below the best step's
by less than two standard errors of the difference (each step's from the spread over its
breath cycles, combined as the root sum of squares): the measurement cannot
tell the two apart, either serves (the ``close`` list names them), and repeating those steps
decides.

This is a measurement for the therapist to review, as the assessment protocols of the clinical
suites are: a step the client did not follow, or with too few beats, is listed with its reason
and left out, and with no usable step there is no rate.

References
----------
Lehrer PM, Vaschillo E, Vaschillo B (2000). Resonant frequency biofeedback training to increase
cardiac variability. Appl Psychophysiol Biofeedback 25(3):177-191.
Lehrer PM, Gevirtz R (2014). Heart rate variability biofeedback: how and why does it work?
Front Psychol 5:756.
Shaffer F, Meehan ZM (2020). A practical guide to resonance frequency assessment for heart
rate variability biofeedback. Front Neurosci 14:570400.
Vaschillo E, Lehrer P, Rishe N, Konstantinov M (2002). Heart rate variability biofeedback as a
method for assessing baroreflex function. Appl Psychophysiol Biofeedback 27(1):1-27.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import EngineConfig
from .dsp.hrv_freq import LF_BAND_HZ, band_integral, band_peak
from .errors import InputError
from .modalities import cardiac
from .sources.csvfile import read_csv_columns, sniff_csv
from .sources.files import Recording

DEFAULT_RATES = (6.5, 6.0, 5.5, 5.0, 4.5)
STEP_S = 120.0
SETTLE_S = 20.0
MIN_ANALYSED_S = 60.0
MIN_COVERAGE = 0.8
MAX_OFF_BPM = 1.0  # LF peak, and breathing, at most this far from the pacer (breaths/min)
PEAK_HALF_WIDTH_HZ = 0.015
MAX_BELT_GAP_S = 3.0
PACER_GAP_S = 5.0  # a pacer_bpm column's empty cells shorter than this do not split a step
WEIGHTS = {"peak_trough": 0.4, "lf_power": 0.3, "phase": 0.15, "sharpness": 0.15}
CLOSE_MARGIN = 0.05
_FS = 4.0  # Hz, the even heart-rate series
RATE_RANGE = (3.0, 9.0)
"""Breaths/min a step may pace: its heart-rate oscillation must fall in the LF band
(0.04-0.15 Hz, 2.4-9 /min) to be scored. The profile's stored rate is in this range too."""


@dataclass(frozen=True)
class PacedStep:
    """One step of the protocol: breathing paced at ``rate_bpm`` from ``start_s`` to ``end_s``."""

    rate_bpm: float
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        lo, hi = RATE_RANGE
        if not (math.isfinite(self.rate_bpm) and lo <= self.rate_bpm <= hi):
            raise InputError(f"pacer rate {self.rate_bpm!r} must be {lo:g}-{hi:g} breaths/min")
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise InputError(f"step at {self.rate_bpm:g}/min: start and end must be numbers")
        if not 0.0 <= self.start_s < self.end_s:
            raise InputError(
                f"step at {self.rate_bpm:g}/min: need 0 <= start < end, got "
                f"{self.start_s:g}:{self.end_s:g}"
            )


def protocol(start_s: float = 0.0, rates: Sequence[float] = DEFAULT_RATES,
             step_s: float = STEP_S) -> list[PacedStep]:  # fmt: skip
    """The default protocol's steps, one after another from ``start_s``."""
    return [
        PacedStep(float(r), start_s + i * step_s, start_s + (i + 1) * step_s)
        for i, r in enumerate(rates)
    ]


def parse_steps(text: str) -> list[PacedStep]:
    """``RATE@START:END,...`` (breaths/min @ seconds), e.g. ``6.5@120:240,6@240:360``."""
    steps = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*([0-9.]+)\s*@\s*([0-9.]+)\s*:\s*([0-9.]+)\s*", part)
        if m is None:
            raise InputError(
                f"--steps {part.strip()!r:.40}: each step is RATE@START:END (breaths/min @ "
                "seconds), e.g. 6.5@120:240"
            )
        try:
            rate, start, end = float(m[1]), float(m[2]), float(m[3])
        except ValueError:
            raise InputError(f"--steps {part.strip()!r:.40}: not a number") from None
        steps.append(PacedStep(rate, start, end))
    return steps


def steps_from_pacer(t: np.ndarray, pacer: np.ndarray) -> list[PacedStep]:
    """The steps of a pacer-rate series (``pacer_bpm`` column): each run of one finite rate."""
    t = np.asarray(t, dtype=np.float64)
    p = np.asarray(pacer, dtype=np.float64)
    steps: list[PacedStep] = []
    if t.size < 2:
        return steps
    dt = float(np.median(np.diff(t)))
    key = np.where(np.isfinite(p) & (p > 0), p, -1.0)
    # a few empty cells inside a step (a dropped sample) do not split it
    runs = np.flatnonzero(np.diff(key) != 0) + 1
    bounds = np.r_[0, runs, t.size]
    for i in range(1, bounds.size - 2):
        a, b = bounds[i], bounds[i + 1]
        if key[a] < 0 and key[a - 1] > 0 and key[b] == key[a - 1] and t[b] - t[a] <= PACER_GAP_S:
            key[a:b] = key[a - 1]
    edges = np.flatnonzero(np.diff(key) != 0) + 1
    for a, b in zip(np.r_[0, edges], np.r_[edges, t.size], strict=True):
        if key[a] > 0:
            steps.append(PacedStep(float(key[a]), float(t[a]), float(t[b - 1] + dt)))
    return steps


_MARKER = re.compile(r"^\s*pacer\s+([0-9.]+)\s*(?:/\s*min|bpm)?\s*$", re.IGNORECASE)
_MARKER_OFF = re.compile(r"^\s*pacer\s+(off|stop|end)\s*$", re.IGNORECASE)


def steps_from_markers(markers: Sequence[tuple[float, str]], end_s: float) -> list[PacedStep]:
    """Steps from markers ``pacer 6.5`` (a step starts) and ``pacer off`` (it ends; so does
    the next step's marker, or the recording's end)."""
    starts: list[tuple[float, float | None]] = []
    for t, text in sorted(markers, key=lambda m: m[0]):
        m = _MARKER.match(text)
        if m is not None:
            try:
                rate = float(m[1])
            except ValueError:
                raise InputError(
                    f"marker {text!r:.40} at {t:.1f} s: {m[1]!r} is not a rate"
                ) from None
            starts.append((float(t), rate))
        elif _MARKER_OFF.match(text):
            starts.append((float(t), None))
    steps = []
    for i, (t0, r) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else end_s
        if r is not None and end > t0:
            steps.append(PacedStep(r, t0, end))
    return steps


def _even(t: np.ndarray, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``x`` at ``grid`` (linear), detrended (least squares line)."""
    y = np.interp(grid, t, x)
    a, b = np.polyfit(grid - grid[0], y, 1)
    return np.asarray(y - (a * (grid - grid[0]) + b))


def _at(x: np.ndarray, grid: np.ndarray, f_hz: float) -> complex:
    """The Hann-windowed Fourier coefficient of ``x`` at ``f_hz`` (its phase is what counts)."""
    w = np.hanning(grid.size)
    return complex(np.sum(w * x * np.exp(-2j * np.pi * f_hz * (grid - grid[0]))))


def _beat_hr(nn_t: np.ndarray, nn_ms: np.ndarray, a: float, b: float) -> tuple[np.ndarray, ...]:
    """The beat-to-beat heart rate (bpm) near ``[a, b]``, each interval's at its middle."""
    nn_t = np.asarray(nn_t, dtype=np.float64)
    nn_ms = np.asarray(nn_ms, dtype=np.float64)
    ok = np.isfinite(nn_ms) & (nn_ms > 0) & (nn_t >= a - 2.0) & (nn_t <= b + 2.0)
    # each interval's heart rate belongs to its middle, not to its closing beat (half an RR
    # later, 10-20° of phase at these rates)
    return nn_t[ok] - nn_ms[ok] / 2000.0, 60000.0 / nn_ms[ok]


def _peak_trough(
    t: np.ndarray, hr: np.ndarray, a: float, b: float, rate_bpm: float
) -> tuple[float, float]:
    """The median over the pacer's whole cycles in ``[a, b]`` of the highest minus the lowest
    beat heart rate (beat values, not an interpolation), and its standard error (of a median:
    1.2533 x that of a mean); NaN without a cycle."""
    period = 60.0 / rate_bpm
    pt = []
    c = a
    while c + period <= b + 1e-9:
        m = (t >= c) & (t < c + period)
        if m.sum() >= 3:
            pt.append(float(hr[m].max() - hr[m].min()))
        c += period
    med = float(np.median(pt)) if pt else math.nan
    se = float(1.2533 * np.std(pt, ddof=1) / math.sqrt(len(pt))) if len(pt) > 1 else math.nan
    return med, se


def score_step(
    step: PacedStep,
    nn_t: np.ndarray,
    nn_ms: np.ndarray,
    resp_t: np.ndarray | None = None,
    resp: np.ndarray | None = None,
    settle_s: float = SETTLE_S,
) -> dict[str, Any]:
    """The criteria of one paced step (see the module text), with ``usable`` and, where it is
    not, ``problem``.

    Parameters
    ----------
    step : PacedStep
        The pacer's rate and the step's span, s.
    nn_t, nn_ms : array
        Beat times (s, the closing beat) and their NN intervals (ms; NaN for a rejected beat);
        each interval's heart rate is placed at its middle.
    resp_t, resp : array, optional
        A breathing signal (inhalation rising) and its times, s, to check the client followed
        the pacer and to measure the phase.
    settle_s : float
        Seconds at the start of the step left out while the rhythm settles.
    """
    a, b = step.start_s + settle_s, step.end_s
    out: dict[str, Any] = {
        "rate_bpm": step.rate_bpm,
        "start_s": step.start_s,
        "end_s": step.end_s,
        "analysed_s": max(b - a, 0.0),
        "beats": 0,
        "peak_trough_bpm": math.nan,
        "peak_trough_se_bpm": math.nan,
        "lf_power_bpm2": math.nan,
        "lf_peak_bpm": math.nan,
        "phase_deg": math.nan,
        "sharpness": math.nan,
        "breathing_bpm": math.nan,
        "followed": None,
        "belt_coverage": None,
        "usable": False,
        "problem": None,
        "note": None,
    }
    if b - a < MIN_ANALYSED_S:
        out["problem"] = (
            f"{step.end_s - step.start_s:.0f} s long, {max(b - a, 0):.0f} s after {settle_s:g} s "
            f"of settling; need {MIN_ANALYSED_S:.0f} s"
        )
        return out
    t, hr = _beat_hr(nn_t, nn_ms, a, b)
    inside = (t >= a) & (t <= b)
    out["beats"] = int(inside.sum())
    # coverage: the share of the time with a beat no more than 3 s before
    edges = np.r_[a, t[inside], b]
    gaps = np.diff(edges)
    coverage = 1.0 - float(np.sum(np.maximum(gaps - 3.0, 0.0))) / (b - a)
    if out["beats"] < 10 or coverage < MIN_COVERAGE:
        out["problem"] = f"heart beats cover {100 * max(coverage, 0):.0f} % of the step"
        return out
    grid = np.arange(a, b, 1.0 / _FS)
    x = _even(t, hr, grid)
    out["peak_trough_bpm"], out["peak_trough_se_bpm"] = _peak_trough(t, hr, a, b, step.rate_bpm)
    # spectrum (Hann window, one-sided PSD, bpm^2/Hz), zero-padded to 0.001 Hz
    w = np.hanning(grid.size)
    nfft = 1 << max(math.ceil(math.log2(_FS / 0.001)), math.ceil(math.log2(grid.size)))
    spec = np.abs(np.fft.rfft(w * x, nfft)) ** 2 * 2.0 / (_FS * float(np.sum(w * w)))
    f = np.fft.rfftfreq(nfft, 1.0 / _FS)
    lo, hi = LF_BAND_HZ
    lf_power = float(band_integral(f, spec, lo, hi))
    f_pk = float(band_peak(f, spec, lo, hi))
    near = band_integral(
        f, spec, max(lo, f_pk - PEAK_HALF_WIDTH_HZ), min(hi, f_pk + PEAK_HALF_WIDTH_HZ)
    )
    out["lf_power_bpm2"] = lf_power
    out["lf_peak_bpm"] = f_pk * 60.0
    out["sharpness"] = float(near / lf_power) if lf_power > 0 else math.nan
    fp = step.rate_bpm / 60.0
    problems = []
    if abs(out["lf_peak_bpm"] - step.rate_bpm) > MAX_OFF_BPM:
        problems.append(
            f"heart rate's LF peak at {out['lf_peak_bpm']:.1f}/min, not at the pacer's "
            f"{step.rate_bpm:g}/min"
        )
    if resp is not None and resp_t is not None and np.asarray(resp).size:
        rt = np.asarray(resp_t, dtype=np.float64)
        rv = np.asarray(resp, dtype=np.float64)
        good = np.isfinite(rv) & (rt >= a - 1.0) & (rt <= b + 1.0)
        belt = rt[good]
        gaps = np.diff(np.r_[a, belt, b]) if belt.size else np.array([b - a])
        belt_cover = 1.0 - float(np.sum(gaps[gaps > MAX_BELT_GAP_S])) / (b - a)
        out["belt_coverage"] = round(belt_cover, 3)
        if belt.size > 10 and belt_cover >= MIN_COVERAGE:
            r = _even(belt, rv[good], grid)
            rs = np.abs(np.fft.rfft(w * r, nfft)) ** 2
            band = (f >= 0.03) & (f <= 0.7)
            out["breathing_bpm"] = float(f[np.flatnonzero(band)[np.argmax(rs[band])]] * 60.0)
            followed = abs(out["breathing_bpm"] - step.rate_bpm) <= MAX_OFF_BPM
            out["followed"] = followed
            if not followed:
                problems.append(
                    f"breathing at {out['breathing_bpm']:.1f}/min did not follow the pacer"
                )
            ph = np.angle(_at(x, grid, fp) / _at(r, grid, fp), deg=True)
            out["phase_deg"] = float(ph)
        else:
            out["note"] = (
                f"the breathing signal covers {100 * max(belt_cover, 0):.0f} % of the step: "
                "its phase and the pacer's following not checked"
            )
    if problems:
        out["problem"] = "; ".join(problems)
        return out
    out["usable"] = True
    return out


def choose(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """The resonance rate from the steps' criteria by the module's decision rule; adds each
    step's ``score`` and returns ``resonance_rate_bpm`` (None without a usable step),
    ``margin``, ``close`` and ``reasoning`` (sentences)."""
    usable = [s for s in scores if s["usable"]]
    reasoning = []
    for s in scores:
        if not s["usable"]:
            s["score"] = None
            reasoning.append(f"{s['rate_bpm']:g}/min left out: {s['problem']}")
    if not usable:
        reasoning.append("no usable step: no resonance rate (repeat the protocol)")
        return {"resonance_rate_bpm": None, "margin": None, "close": [], "reasoning": reasoning}

    def share(key: str) -> list[float]:
        vals = [float(s[key]) if math.isfinite(s[key]) else 0.0 for s in usable]
        best = max(vals)
        return [v / best if best > 0 else 0.0 for v in vals]

    pt, lf, sh = share("peak_trough_bpm"), share("lf_power_bpm2"), share("sharpness")
    no_phase = []
    for i, s in enumerate(usable):
        parts = {"peak_trough": pt[i], "lf_power": lf[i], "sharpness": sh[i]}
        if math.isfinite(s["phase_deg"]):
            parts["phase"] = max(math.cos(math.radians(s["phase_deg"])), 0.0)
        else:  # no breathing signal for this step: the other criteria, weights rescaled
            no_phase.append(s["rate_bpm"])
        total = sum(WEIGHTS[k] for k in parts)
        s["score"] = round(sum(WEIGHTS[k] * v for k, v in parts.items()) / total, 4)
    ranked = sorted(usable, key=lambda s: s["score"], reverse=True)
    best = ranked[0]
    margin = round(best["score"] - ranked[1]["score"], 4) if len(ranked) > 1 else None

    def indistinct(s: dict[str, Any]) -> bool:
        # the amplitudes differ by less than two standard errors of their difference
        se = math.hypot(best["peak_trough_se_bpm"], s["peak_trough_se_bpm"])
        return bool(best["peak_trough_bpm"] - s["peak_trough_bpm"] < 2.0 * se)

    close = [
        s["rate_bpm"]
        for s in ranked[1:]
        if best["score"] - s["score"] < CLOSE_MARGIN or indistinct(s)
    ]
    reasoning.append(
        f"resonance rate {best['rate_bpm']:g}/min: heart rate swung {best['peak_trough_bpm']:.1f} "
        f"bpm peak to trough, LF power {best['lf_power_bpm2']:.1f} bpm², "
        + (f"phase {best['phase_deg']:+.0f}°, " if math.isfinite(best["phase_deg"]) else "")
        + f"score {best['score']:.3f}"
    )
    if len(ranked) > 1:
        nxt = ranked[1]
        reasoning.append(
            f"next: {nxt['rate_bpm']:g}/min ({nxt['peak_trough_bpm']:.1f} bpm, score "
            f"{nxt['score']:.3f}); margin {margin:.3f}"
            + (
                f"; close to {', '.join(f'{r:g}' for r in close)}/min (score within "
                f"{CLOSE_MARGIN:g}, or peak to trough within two standard errors): either "
                "serves; repeating those steps decides"
                if close
                else ""
            )
        )
    if no_phase:
        which = (
            "any step" if len(no_phase) == len(usable)
            else ", ".join(f"{r:g}" for r in no_phase) + "/min"
        )  # fmt: skip
        reasoning.append(
            f"no breathing signal for {which}: phase and the pacer's following not checked "
            "there (scored on the other criteria)"
        )
    return {
        "resonance_rate_bpm": best["rate_bpm"],
        "margin": margin,
        "close": close,
        "reasoning": reasoning,
    }


def assess_resonance(
    nn_t: np.ndarray,
    nn_ms: np.ndarray,
    steps: Sequence[PacedStep],
    resp_t: np.ndarray | None = None,
    resp: np.ndarray | None = None,
    settle_s: float = SETTLE_S,
    duration_s: float | None = None,
) -> dict[str, Any]:
    """Score every step and choose the resonance rate (see the module text).

    Steps are in seconds of the recording (from its first sample). ``duration_s``, the
    recording's length, lets a step that lies beyond it be named as such.

    Returns ``resonance_rate_bpm``, ``margin``, ``close``, ``reasoning``, ``steps`` (each
    step's criteria and score), ``rule`` (the decision rule's constants) and ``settle_s``.
    """
    check_settle(settle_s)
    if not steps:
        raise InputError(
            "no paced steps: give --steps RATE@START:END,..., or record the pacer as a "
            "pacer_bpm column or as 'pacer RATE' markers"
        )
    check_steps(steps)
    scores = []
    for s in steps:
        if duration_s is not None and s.start_s + settle_s >= duration_s:
            sc = score_step(PacedStep(s.rate_bpm, s.start_s, s.start_s + 1e-9), nn_t, nn_ms)
            sc.update(end_s=s.end_s, analysed_s=0.0)
            sc["problem"] = f"outside the recording (0-{duration_s:.0f} s)"
        else:
            sc = score_step(s, nn_t, nn_ms, resp_t, resp, settle_s)
        scores.append(sc)
    result = choose(scores)
    result["steps"] = scores
    result["settle_s"] = settle_s
    result["rule"] = {
        "weights": WEIGHTS,
        "close_margin": CLOSE_MARGIN,
        "max_off_bpm": MAX_OFF_BPM,
        "min_analysed_s": MIN_ANALYSED_S,
        "min_coverage": MIN_COVERAGE,
        "lf_band_hz": list(LF_BAND_HZ),
        "peak_half_width_hz": PEAK_HALF_WIDTH_HZ,
    }
    return result


def parse_rates(text: str) -> tuple[float, ...]:
    """``6.5,6,5.5`` → the protocol's rates in order (breaths/min, each once, 3-9)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        rates = tuple(float(p) for p in parts)
    except ValueError:
        raise InputError(
            f"rates {text!r}: give breaths/min separated by commas, e.g. 6.5,6,5.5"
        ) from None
    lo, hi = RATE_RANGE
    for r in rates:
        if not (math.isfinite(r) and lo <= r <= hi):
            raise InputError(f"rates {text!r}: {r:g} is not {lo:g}-{hi:g} breaths/min")
    if len(set(rates)) < len(rates):
        raise InputError(f"rates {text!r}: each rate once (repeat a protocol to repeat a rate)")
    return rates


def live_protocol(start_s: float, rates: str | None = None, step_s: float | None = None
                  ) -> list[PacedStep]:  # fmt: skip
    """The steps of a live protocol from ``start_s`` (session s): ``rates`` as
    :func:`parse_rates` reads them (default :data:`DEFAULT_RATES`), ``step_s`` each (default
    :data:`STEP_S`; at least ``SETTLE_S + MIN_ANALYSED_S``)."""
    step = STEP_S if step_s is None else float(step_s)
    low = SETTLE_S + MIN_ANALYSED_S
    if not (math.isfinite(step) and low <= step <= 1800):
        raise InputError(
            f"step of {step:g} s: must be {low:g}-1800 s ({SETTLE_S:g} s to settle and "
            f"{MIN_ANALYSED_S:g} s scored)"
        )
    return protocol(start_s, DEFAULT_RATES if rates is None else parse_rates(rates), step)


def check_steps(steps: Sequence[PacedStep]) -> list[PacedStep]:
    """``steps`` in time order; ``InputError`` where two overlap."""
    order = sorted(steps, key=lambda s: s.start_s)
    for x, y in itertools.pairwise(order):
        if y.start_s < x.end_s - 1e-3:  # (a column's step ends a sample after its last row)
            raise InputError(
                f"steps overlap: {x.rate_bpm:g}/min {x.start_s:g}-{x.end_s:g} s and "
                f"{y.rate_bpm:g}/min {y.start_s:g}-{y.end_s:g} s"
            )
    return order


SCORE_AFTER_S = 5.0
"""A live step is scored this long (session s) after it ends: its last beats (up to 2 s past
its end, see :func:`score_step`) have come out of the beat detector's look-ahead by then."""


class LiveResonance:
    """The protocol run live: the step pacing now, the beats and breathing collected, every
    step scored once it is over and the running one provisionally.

    The engine feeds it what its pipeline gives (NN intervals, the breathing belt's placed
    samples) and the session time, and shows :meth:`status`; the steps are scored by the same
    :func:`assess_resonance` a recording's assessment runs, on the same beats, so the result
    at the end is the one ``wot assess RECORDING --resonance`` gives from the recording's
    ``pacer`` markers.

    Parameters
    ----------
    steps : sequence of PacedStep
        In session seconds, not overlapping.
    settle_s : float
        Seconds left out at the start of each step.
    """

    def __init__(self, steps: Sequence[PacedStep], settle_s: float = SETTLE_S) -> None:
        check_settle(settle_s)
        if not steps:
            raise InputError("a resonance protocol needs at least one paced step")
        self.steps = check_steps(steps)
        self.settle_s = float(settle_s)
        self._nn_t: list[np.ndarray] = []
        self._nn_ms: list[np.ndarray] = []
        self._resp_t: list[np.ndarray] = []
        self._resp: list[np.ndarray] = []
        self._keep_from = self.steps[0].start_s - 5.0
        self._scored = 0  # steps over and scored, from the first
        self._scores: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        """:func:`assess_resonance`'s result once every step is over (None before)."""
        self._said = 0  # pacer changes handed out by :meth:`advance`
        self._changes = self._pacer_changes()
        self.time_s = -math.inf

    def _pacer_changes(self) -> list[tuple[float, float | None]]:
        """``(session s, rate or None for off)``: each step's start, and ``off`` where no step
        follows straight on."""
        out: list[tuple[float, float | None]] = []
        for i, s in enumerate(self.steps):
            out.append((s.start_s, s.rate_bpm))
            nxt = self.steps[i + 1] if i + 1 < len(self.steps) else None
            if nxt is None or nxt.start_s > s.end_s + 1e-6:
                out.append((s.end_s, None))
        return out

    @property
    def end_s(self) -> float:
        return self.steps[-1].end_s

    @property
    def done(self) -> bool:
        return self.result is not None

    # input ------------------------------------------------------------------------------------
    def add_beats(self, nn_t: np.ndarray, nn_ms: np.ndarray) -> None:
        """NN intervals (the closing beat's session time, s; ms, NaN for a rejected beat)."""
        if self.done or not len(nn_t):
            return
        self._nn_t.append(np.asarray(nn_t, dtype=np.float64).copy())
        self._nn_ms.append(np.asarray(nn_ms, dtype=np.float64).copy())

    def add_breathing(self, t0: float, fs: float, x: np.ndarray) -> None:
        """Breathing-belt samples, the first at session time ``t0``, at ``fs`` Hz."""
        x = np.asarray(x, dtype=np.float64)
        if self.done or x.ndim != 1 or not x.size or t0 + x.size / fs < self._keep_from:
            return
        self._resp_t.append(t0 + np.arange(x.size) / fs)
        self._resp.append(x.copy())

    def _series(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        cat = np.concatenate
        nn_t = cat(self._nn_t) if self._nn_t else np.zeros(0)
        nn_ms = cat(self._nn_ms) if self._nn_ms else np.zeros(0)
        self._nn_t, self._nn_ms = [nn_t], [nn_ms]
        if not self._resp:
            return nn_t, nn_ms, None, None
        rt, rv = cat(self._resp_t), cat(self._resp)
        self._resp_t, self._resp = [rt], [rv]
        return nn_t, nn_ms, rt, rv

    # time -------------------------------------------------------------------------------------
    def advance(self, t_s: float) -> list[tuple[float, str]]:
        """The session has reached ``t_s``: the pacer changes due by then, as markers
        ``(session s, 'pacer 6.5' | 'pacer off')`` (each once, at its scheduled time); steps
        over by :data:`SCORE_AFTER_S` are scored, and the result made after the last."""
        self.time_s = max(self.time_s, float(t_s))
        due = []
        while self._said < len(self._changes) and self._changes[self._said][0] <= t_s:
            t, rate = self._changes[self._said]
            due.append((t, "pacer off" if rate is None else f"pacer {rate:g}"))
            self._said += 1
        n_over = sum(1 for s in self.steps if s.end_s + SCORE_AFTER_S <= t_s)
        if n_over > self._scored and not self.done:
            self._score(n_over)
        return due

    def _score(self, n_over: int) -> None:
        nn_t, nn_ms, rt, rv = self._series()
        if n_over == len(self.steps):
            self.result = assess_resonance(nn_t, nn_ms, self.steps, rt, rv, self.settle_s)
            self.result["complete"] = True
            self.result["not_run"] = []
            self._scores = self.result["steps"]
        else:
            self._scores = [
                score_step(s, nn_t, nn_ms, rt, rv, self.settle_s) for s in self.steps[:n_over]
            ]
            choose(self._scores)  # each usable step's score, against the best so far
        self._scored = n_over

    def finish(self) -> dict[str, Any]:
        """The session ended: the result over the steps there were time for (a step cut short
        is scored on what it had, and named so)."""
        if not self.done:
            nn_t, nn_ms, rt, rv = self._series()
            steps = [s for s in self.steps if s.start_s < self.time_s]
            missing = [s.rate_bpm for s in self.steps if s.start_s >= self.time_s]
            if not steps:
                self.result = {
                    "resonance_rate_bpm": None, "margin": None, "close": [], "steps": [],
                    "reasoning": ["the session ended before the protocol's first step"],
                    "settle_s": self.settle_s,
                }  # fmt: skip
            else:
                cut = [PacedStep(s.rate_bpm, s.start_s, min(s.end_s, self.time_s)) for s in steps]
                self.result = assess_resonance(nn_t, nn_ms, cut, rt, rv, self.settle_s)
                last, ended = steps[-1], cut[-1].end_s
                if ended < last.end_s - 1.0:
                    missing.insert(0, last.rate_bpm)
                    self.result["reasoning"].append(
                        f"the session ended {ended - last.start_s:.0f} s into the "
                        f"{last.rate_bpm:g}/min step (of {last.end_s - last.start_s:.0f} s)"
                    )
            self.result["complete"] = not missing
            self.result["not_run"] = missing
            if missing:
                self.result["reasoning"].append(
                    "the protocol was cut short: "
                    + ", ".join(f"{r:g}" for r in missing)
                    + "/min not (fully) run; repeat it before relying on the rate"
                )
            self._scores = self.result["steps"]
            self._scored = len(self._scores)
        assert self.result is not None
        return self.result

    def current(self, t_s: float | None = None) -> int | None:
        """The index of the step pacing at ``t_s`` (default: the newest time), or None."""
        t = self.time_s if t_s is None else t_s
        for i, s in enumerate(self.steps):
            if s.start_s <= t < s.end_s:
                return i
        return None

    def status(self) -> dict[str, Any]:
        """What the views show: ``phase`` (waiting, pacing, between, scoring, done), the
        step pacing (``step``, ``rate_bpm``, ``left_s``), and per step its rate, span,
        peak-to-trough heart rate (bpm; the running step's over its whole cycles so far,
        ``provisional``), score, usable and problem; ``result`` once done."""
        t = self.time_s
        i = None if self.done else self.current()
        rows = []
        running: dict[int, tuple[float, float]] = {}
        for k in range(self._scored, len(self.steps)):
            # a step pacing, or over but not yet scored: its bar so far
            s = self.steps[k]
            a, b = s.start_s + self.settle_s, min(s.end_s, t)
            if b > a:
                nn = np.concatenate(self._nn_t) if self._nn_t else np.zeros(0)
                ms = np.concatenate(self._nn_ms) if self._nn_ms else np.zeros(0)
                bt, hr = _beat_hr(nn, ms, a, b)
                inside = (bt >= a) & (bt <= b)
                running[k] = _peak_trough(bt[inside], hr[inside], a, b, s.rate_bpm)
        for k, s in enumerate(self.steps):
            row: dict[str, Any] = {
                "rate_bpm": s.rate_bpm, "start_s": s.start_s, "end_s": s.end_s,
                "peak_trough_bpm": math.nan, "score": None, "usable": None, "problem": None,
                "provisional": False,
            }  # fmt: skip
            if k < len(self._scores):
                sc = self._scores[k]
                row.update(
                    peak_trough_bpm=sc["peak_trough_bpm"], score=sc.get("score"),
                    usable=sc["usable"], problem=sc["problem"],
                )  # fmt: skip
            elif k in running:
                row.update(peak_trough_bpm=running[k][0], provisional=True)
            rows.append(row)
        if self.done:
            phase = "done"
        elif i is not None:
            phase = "pacing"
        elif t < self.steps[0].start_s:
            phase = "waiting"
        elif t >= self.end_s:
            phase = "scoring"
        else:
            phase = "between"
        nxt = next((s for s in self.steps if s.start_s > t), None)
        return {
            "phase": phase,
            "step": i,
            "n_steps": len(self.steps),
            "rate_bpm": self.steps[i].rate_bpm if i is not None else None,
            "left_s": self.steps[i].end_s - t if i is not None else None,
            "next_in_s": nxt.start_s - t if nxt is not None else None,
            "steps": rows,
            "result": self.result,
        }


def check_settle(settle_s: float) -> None:
    if not (math.isfinite(settle_s) and 0.0 <= settle_s < 600.0):
        raise InputError(f"settle time {settle_s!r} must be 0-600 s")


def csv_pacer_steps(path: str | Path, skip_bad_lines: bool = False) -> list[PacedStep] | None:
    """The steps of a CSV file's ``pacer_bpm`` column (what ``wot simulate`` writes), in seconds
    from its first row (as the file's signals are read); None when it has no such column."""
    layout = sniff_csv(Path(path))
    lower = [n.lower() for n in layout.names]
    if "pacer_bpm" not in lower or "time_s" not in lower:
        return None
    tcol, pcol = lower.index("time_s"), lower.index("pacer_bpm")
    table = read_csv_columns(layout, [tcol, pcol], required=(tcol,), skip_bad_lines=skip_bad_lines)
    t = np.asarray(table.columns[tcol][:], dtype=np.float64)
    p = np.asarray(table.columns[pcol][:], dtype=np.float64)
    if not t.size:
        return []
    rates = p[np.isfinite(p) & (p != 0)]
    lo, hi = RATE_RANGE
    bad = rates[(rates < lo) | (rates > hi)]
    if bad.size:
        raise InputError(
            f"{Path(path).name}: pacer_bpm holds {bad[0]:g}, outside {lo:g}-{hi:g} breaths/min"
        )
    return steps_from_pacer(t - t[0], p)


def assess_recording(
    rec: Recording,
    config: EngineConfig,
    steps: Sequence[PacedStep],
    settle_s: float = SETTLE_S,
) -> dict[str, Any]:
    """Run ``rec`` through the engine (R-peaks, beat correction, NN) and assess the steps, with
    its breathing belt when it has one (what ``wot assess --resonance`` does)."""
    from .offline import run_recording

    source = next((m for m in cardiac() if m in rec.signals), None)
    if source is None:
        raise InputError(f"{rec.path}: no ECG or PPG signal; the assessment needs heart beats")
    check_settle(settle_s)
    res, _ = run_recording(rec, config)
    resp = rec.signals.get("resp")
    resp_t = resp_v = None
    if resp is not None:
        resp_v = np.asarray(resp.data[:], dtype=np.float64)
        resp_t = resp.t0 + np.arange(resp_v.size) / resp.fs
    out = assess_resonance(
        res.event(source, "nn_time"), res.event(source, "nn_ms"), steps, resp_t, resp_v,
        settle_s, rec.duration_s,
    )  # fmt: skip
    out["input"] = str(rec.path)
    out["notes"] = list(rec.notes)
    return out
