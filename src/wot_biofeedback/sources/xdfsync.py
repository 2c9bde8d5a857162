"""Time stamps of an XDF stream recorded by LabRecorder, made usable: synchronised with the
recorded clock offsets and freed of their jitter, a block at a time.

LabRecorder stamps each sample on the clock of the computer that sent it and records, every few
seconds, the offset between that clock and its own (a ``ClockOffset`` chunk). pyxdf's
``load_xdf`` turns those into one time line (its ``synchronize_clocks``,
``handle_clock_resets`` and ``dejitter_timestamps``), but it holds every stream of the file whole
in memory and fits each stretch of samples with a dense least-squares problem: a day at 1000 Hz
needs several gigabytes. :func:`synchronize` does the same three steps on one stream's time
stamps, in memory or spilled (:class:`~wot_biofeedback.sources.spill.DiskArray`), in place and a
block at a time:

1. **A corrupted last clock offset** (the pylsl#67 / liblsl#246 bug: an outlet closed while an
   inlet was connected leaves one extra sample and a garbage offset): where the stream holds
   more samples than its footer's ``sample_count`` *and* its last offset is an outlier (its
   interval more than 10 times the median interval, or its value more than 10 scaled median
   absolute deviations from the others), both the offset and the extra samples are left out.
2. **Clock offsets.** The offsets are split where the sending clock was reset (a backward step
   in collection time, or a jump in both collection time and offset value that is large in
   seconds and in median absolute deviations); each stretch is fitted with a robust straight
   line (Huber loss, by ADMM: Boyd et al. 2011, section 6.1.1) and each time stamp is moved by
   its stretch's line. Time stamps go to the stretch whose collection times they are closest to.
3. **Jitter.** A regularly sampled stream is split where two time stamps are further apart than
   ``max(jitter_s, jitter_samples / rate)``; in each piece the time stamps are replaced by the
   least-squares line through them against the sample index (two passes of sums, so no design
   matrix as long as the stream). A time stamp that is not finite is left out of the fit and
   given the line's time (its sample is kept in its place); a stream that can drop samples
   (``desc/synchronization/can_drop_samples``) or has no nominal rate is left as it is.

The thresholds and the order of the steps are pyxdf's (1.17); the tests check the time stamps
against ``pyxdf.load_xdf`` on real LabRecorder files, clock resets included, to within 10 ns.

The effort is bounded by what a real recording can hold: more than :data:`MAX_RESETS` clock
resets and the offsets are damaged (not used, with a note); a stretch of more than
:data:`MAX_FIT_OFFSETS` offsets is fitted through every k-th of them (a day of LabRecorder's
offsets is 17,280); time stamps that break more often than :data:`MAX_BREAK_SHARE` of the
samples, or into more than :data:`MAX_STRETCHES` stretches, are not a regular stream's (not
dejittered, with a note).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import spill
from .spill import DiskArray
from .xdf import XdfStream

EPS = float(np.finfo(float).eps)
MAX_RESETS = 100
"""More clock resets than this in one stream: its clock offsets are damaged, not used."""
MAX_FIT_OFFSETS = 100_000
"""The robust fit of a stretch of clock offsets uses at most this many of them, evenly spread
(LabRecorder measures one every 5 s: 5.8 days; each costs the fit 1000 iterations)."""
MAX_BREAK_SHARE = 0.25
"""More jitter breaks than this share of the samples: the time stamps are not those of a
regular stream (nothing to dejitter; a stretch of one or two samples is its own line anyway)."""
MAX_STRETCHES = 1_000_000
"""... nor more than this many stretches (each costs the fit about 100 bytes)."""


@dataclass(frozen=True)
class SyncOptions:
    """The thresholds of :func:`synchronize` (pyxdf's names and defaults)."""

    handle_clock_resets: bool = True
    jitter_break_threshold_seconds: float = 1.0
    jitter_break_threshold_samples: float = 500.0
    clock_reset_threshold_seconds: float = 5.0
    clock_reset_threshold_stds: float = 5.0
    clock_reset_threshold_offset_seconds: float = 1.0
    clock_reset_threshold_offset_stds: float = 10.0
    winsor_threshold: float = 1e-4


def _rw(a: Any) -> Any:
    """Blocks of ``a`` as ``(first index, values)`` (:func:`_put` writes one back)."""
    for k in range(0, len(a), spill.BLOCK_ROWS):
        yield k, a[k : k + spill.BLOCK_ROWS]


def _put(a: Any, k: int, block: np.ndarray) -> None:
    if isinstance(a, DiskArray):
        a.write(k, block)
    # (in memory, ``block`` is a view of ``a``: changed in place already)


# 1. the pylsl#67 offset ----------------------------------------------------------------------
def corrupted_last_offset(times: np.ndarray, values: np.ndarray) -> bool:
    """Whether the last clock offset is an outlier in its interval or its value."""
    if len(times) < 3:
        return False
    steps = np.diff(times)
    typical = float(np.median(steps[:-1]))
    last = abs(float(steps[-1]))
    ratio = last / typical if typical > 0 else (math.inf if last > 0 else 1.0)
    mid = float(np.median(values[:-1]))
    mad = float(np.median(np.abs(values[:-1] - mid)))
    z = abs(float(values[-1]) - mid) / (1.4826 * mad) if mad > EPS else 0.0
    return ratio > 10.0 or z > 10.0


def footer_count(st: XdfStream) -> int | None:
    """The footer's ``sample_count``, where it is a whole number."""
    if st.footer is None:
        return None
    text = (st.footer.findtext("sample_count") or "").strip()
    try:
        return int(text)
    except ValueError:
        return None


# 2. clock offsets ----------------------------------------------------------------------------
def _glitches(d: np.ndarray, stds: float, secs: float) -> np.ndarray:
    """Steps far from the median step, in median absolute deviations and in seconds."""
    shift = d - np.median(d)
    mad = float(np.median(np.abs(shift))) + EPS
    return (np.abs(shift / mad) > stds) & (np.abs(shift) > secs)


def clock_ranges(times: np.ndarray, values: np.ndarray, opt: SyncOptions) -> list[tuple[int, int]]:
    """Stretches of clock offsets between clock resets, ``(first, last)`` inclusive."""
    if not opt.handle_clock_resets or len(times) < 2:
        return [(0, len(times) - 1)]
    dt, dv = np.diff(times), np.diff(values)
    resets = (dt < 0) | (
        _glitches(dt, opt.clock_reset_threshold_stds, opt.clock_reset_threshold_seconds)
        & _glitches(dv, opt.clock_reset_threshold_offset_stds,
                    opt.clock_reset_threshold_offset_seconds)
    )  # fmt: skip
    at = np.flatnonzero(resets)
    firsts = [0, *(at + 1).tolist()]
    lasts = [*at.tolist(), len(times) - 1]
    return list(zip(firsts, lasts, strict=True))


def huber_line(x: np.ndarray, y: np.ndarray, rho: float = 1.0, iters: int = 1000) -> np.ndarray:
    """Intercept and slope of the line through ``(x, y)`` under the Huber loss (threshold 1),
    by ADMM: a least-squares step, then the residuals shrunk towards the quadratic zone."""
    a = np.column_stack((np.ones(len(x)), x - x.min()))
    chol = np.linalg.cholesky(a.T @ a)
    aty = a.T @ y
    z = np.zeros(len(y))
    u = z
    coef = np.zeros(2)
    for _ in range(iters):
        coef = np.linalg.solve(chol.T, np.linalg.solve(chol, aty + a.T @ (z - u)))
        d = a @ coef - y + u
        inv = np.zeros_like(d)
        np.divide(1.0, d, out=inv, where=d != 0)
        keep = np.maximum(0.0, 1.0 - (1.0 + 1.0 / rho) * np.abs(inv))
        z = rho / (1.0 + rho) * d + 1.0 / (1.0 + rho) * keep * d
        u = d - z
    coef[0] -= coef[1] * x.min()
    return coef


def clock_lines(
    times: np.ndarray, values: np.ndarray, ranges: list[tuple[int, int]], opt: SyncOptions,
    notes: list[str], label: str,
) -> list[tuple[float, float]]:  # fmt: skip
    """The line ``offset = c0 + c1 * t`` of each stretch (one offset: itself)."""
    w = opt.winsor_threshold
    out = []
    for a, b in ranges:
        if a == b:
            out.append((float(values[a]), 0.0))
            continue
        k = max(1, -(-(b + 1 - a) // MAX_FIT_OFFSETS))  # (every k-th, where they are many)
        try:
            c = huber_line(times[a : b + 1 : k] / w, values[a : b + 1 : k] / w)
            out.append((float(c[0]) * w, float(c[1])))
        except np.linalg.LinAlgError:
            notes.append(f"{label}: clock offsets {a}-{b} cannot be fitted: not used")
            out.append((0.0, 0.0))
    return out


def _first_closer_to_next(ts: Any, start: int, end_t: float, next_t: float) -> int:
    """The first index from ``start`` whose time stamp is not closer to ``end_t`` than to
    ``next_t`` (``len(ts)`` when there is none)."""
    for k in range(start - start % spill.BLOCK_ROWS, len(ts), spill.BLOCK_ROWS):
        lo = max(k, start)
        b = ts[lo : k + spill.BLOCK_ROWS]
        far = ~(np.abs(b - end_t) < np.abs(b - next_t))
        if far.any():
            return lo + int(np.argmax(far))
    return len(ts)


def apply_clock_offsets(ts: Any, st: XdfStream, opt: SyncOptions, notes: list[str]) -> None:
    """Move each time stamp of ``ts`` (in place) by its stretch's offset line."""
    times, values = np.asarray(st.clock_times), np.asarray(st.clock_values)
    if len(ts) == 0 or len(times) == 0:
        return
    ranges = clock_ranges(times, values, opt)
    if len(ranges) > MAX_RESETS + 1:
        notes.append(
            f"stream {st.name!r}: its clock offsets jump {len(ranges) - 1} times: damaged, not "
            "used (its time stamps are left on the sender's clock)"
        )
        return
    lines = clock_lines(times, values, ranges, opt, notes, f"stream {st.name!r}")
    spans: list[tuple[int, int, tuple[float, float]]] = []
    if len(ranges) == 1:
        spans.append((0, len(ts), lines[0]))
    else:
        start = 0
        for line, (_a, b) in zip(lines, ranges, strict=True):
            stop = (
                _first_closer_to_next(ts, start, float(times[b]), float(times[b + 1]))
                if b + 1 < len(times)
                else len(ts)
            )
            if stop > start:
                spans.append((start, stop, line))
                start = stop
    firsts = np.array([a for a, _b, _c in spans], dtype=np.int64)
    for k, block in _rw(ts):  # each block once, whatever the number of stretches
        j = max(0, int(np.searchsorted(firsts, k, side="right")) - 1)
        touched = False
        while j < len(spans) and spans[j][0] < k + len(block):
            a, b, (c0, c1) = spans[j]
            lo, hi = max(a, k), min(b, k + len(block))
            if lo < hi:
                part = block[lo - k : hi - k]
                with np.errstate(invalid="ignore"):  # (an infinite stamp: NaN, as pyxdf's)
                    part += c0 + c1 * part
                touched = True
            j += 1
        if touched:
            _put(ts, k, block)


# 3. jitter -----------------------------------------------------------------------------------
def can_drop_samples(st: XdfStream) -> bool:
    return st.text("desc/synchronization/can_drop_samples").strip().lower() == "true"


def jitter_breaks(ts: Any, limit: float, most: int | None = None) -> np.ndarray | None:
    """Indices ``k`` where ``|ts[k + 1] - ts[k]| > limit``, between finite time stamps (one
    that is not finite breaks nothing: the break falls before the next finite one); None once
    there are more than ``most``."""
    out, prev, count = [], math.nan, 0
    for k, b in _rw(ts):
        at = np.flatnonzero(np.isfinite(b))
        if not len(at):
            continue
        d = np.diff(np.concatenate(([prev], b[at])))
        with np.errstate(invalid="ignore"):
            hit = np.abs(d) > limit  # (the first, against NaN: never)
        out.append(k + at[hit] - 1)
        count += len(out[-1])
        if most is not None and count > most:
            return None
        prev = float(b[at[-1]])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def dejitter(ts: Any, fs: float, opt: SyncOptions) -> bool:
    """Replace the time stamps of each unbroken stretch of ``ts`` (in place) by the
    least-squares line through its finite ones against the sample index; False (and nothing
    changed) where the stretches are too many (:data:`MAX_BREAK_SHARE`,
    :data:`MAX_STRETCHES`)."""
    n = len(ts)
    if n == 0:
        return True
    limit = max(opt.jitter_break_threshold_seconds, opt.jitter_break_threshold_samples / fs)
    brk = jitter_breaks(ts, limit, min(int(MAX_BREAK_SHARE * n) + 10, MAX_STRETCHES))
    if brk is None:
        return False
    starts = np.concatenate(([0], brk + 1)).astype(np.int64)
    nseg = len(starts)
    ref = spill.finite_range(ts)[0]  # (sums of small numbers: no precision lost to the clock)
    ref = 0.0 if not math.isfinite(ref) else ref
    cnt, sum_i, sum_t = np.zeros(nseg), np.zeros(nseg), np.zeros(nseg)

    def segs(k: int, m: int) -> tuple[np.ndarray, int, np.ndarray]:
        """Segment of each sample of a block at ``k`` of ``m`` samples (relative to the first
        segment it touches), that segment, and the samples' indices."""
        idx = np.arange(k, k + m, dtype=np.int64)
        first = int(np.searchsorted(starts, k, side="right")) - 1
        last = int(np.searchsorted(starts, k + m - 1, side="right"))
        seg = np.searchsorted(starts[first:last], idx, side="right") - 1
        return seg, first, idx

    for k, b in _rw(ts):
        seg, first, idx = segs(k, len(b))
        good = np.isfinite(b)
        m = int(seg[-1]) + 1
        cnt[first : first + m] += np.bincount(seg[good], minlength=m)
        sum_i[first : first + m] += np.bincount(seg[good], idx[good].astype(np.float64), m)
        sum_t[first : first + m] += np.bincount(seg[good], b[good] - ref, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_i, mean_t = sum_i / cnt, sum_t / cnt
    sxy, sxx = np.zeros(nseg), np.zeros(nseg)
    for k, b in _rw(ts):
        seg, first, idx = segs(k, len(b))
        good = np.isfinite(b)
        m = int(seg[-1]) + 1
        g = seg[good]
        di = idx[good] - mean_i[first + g]
        sxy[first : first + m] += np.bincount(g, di * (b[good] - ref - mean_t[first + g]), m)
        sxx[first : first + m] += np.bincount(g, di * di, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(sxx > 0, sxy / sxx, 1.0 / fs)  # one time stamp: the nominal step
    for k, b in _rw(ts):
        seg, first, idx = segs(k, len(b))
        s = first + seg
        fitted = ref + mean_t[s] + slope[s] * (idx - mean_i[s])
        keep = cnt[s] == 0  # no finite time stamp in its stretch: left as it is
        b[~keep] = fitted[~keep]
        _put(ts, k, b)
    return True


def synchronize(st: XdfStream, ts: Any, opt: SyncOptions, notes: list[str]) -> int:
    """Synchronise and dejitter the time stamps ``ts`` of stream ``st`` (its own, raw, float64,
    in memory or spilled) in place. Returns how many samples to keep from the start (fewer
    than ``len(ts)`` where a corrupted last offset came with extra samples)."""
    keep = len(ts)
    times, values = np.asarray(st.clock_times), np.asarray(st.clock_values)
    count = footer_count(st)
    if count is not None and 0 <= count < keep and corrupted_last_offset(times, values):
        notes.append(
            f"stream {st.name!r}: its last clock offset is corrupted and {keep - count} "
            f"sample(s) beyond its footer's count of {count} came with it (pylsl#67): left out"
        )
        st.clock_times, st.clock_values = times[:-1], values[:-1]
        keep = count
        ts = ts.view(0, keep) if isinstance(ts, DiskArray) else ts[:keep]
    apply_clock_offsets(ts, st, opt, notes)
    regular = st.nominal_srate > 0 and math.isfinite(st.nominal_srate)
    if regular and not can_drop_samples(st) and not dejitter(ts, st.nominal_srate, opt):
        notes.append(
            f"stream {st.name!r}: its time stamps break more often than every "
            f"{1 / MAX_BREAK_SHARE:g} samples (or {MAX_STRETCHES:,} times): not those of a "
            f"{st.nominal_srate:g}-Hz stream, left as they are"
        )
    return keep
