"""Co-regulation: the physiological synchrony of the people of one session (issue 21).

For each pair of subjects and each signal, the series of both people on the session's frame
grid (``fs`` = the frame rate) go through :func:`wot_biofeedback.dsp.synchrony.synchrony`:

* ``hr``: beat-to-beat heart rate, each NN interval's rate at the middle of the interval,
  linear between beats (the IBI series synchrony studies use; the frames' ``hr_bpm`` is a
  10-s mean, too smooth to show who follows whom by a few seconds); missing across a gap of
  more than 3 s or where the cardiac channel's quality is below 0.5;
* ``eda``: the frames' tonic skin-conductance level ``scl_us`` (its quality gates it);
* ``resp``: the breath-to-breath breathing rate, each breath's at the middle of its cycle
  (missing across 15 s without a breath).

Everything is taken from what the session core produced (frames and events), so a recording
analysed offline gives the values the live session had. A window's ``leader`` is the subject
whose series leads at the peak (``lag_s`` > 0: the second of the pair leads), ``none`` at lag
0; its ``significant`` comes from the surrogate test (see the synchrony module) and a window
without enough data, or without enough past for the test, has ``p`` NaN: nothing is claimed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from .dsp.synchrony import (
    QUALITY,
    SIGNALS,
    EventGrid,
    SynchronyStream,
    SyncParams,
    SyncResult,
    event_grid,
    prepare,
    synchrony,
)
from .modalities import ROLES, cardiac
from .offline import AnalysisResult

HR_MAX_GAP_S = 3.0
BREATH_MAX_GAP_S = 15.0
SYNC_COLUMNS = ("time_s", "signal", "r", "lag_s", "leader", "p", "significant")


def subject_series(
    res: AnalysisResult, fs: float, n: int, params: SyncParams
) -> dict[str, np.ndarray]:
    """One person's ``hr``, ``eda`` and ``resp`` series on the frame grid (``n`` points)."""
    frames = res.frames
    k = np.rint(frames.times() * fs).astype(np.int64) if len(frames) else np.zeros(0, np.int64)
    keep = (k >= 0) & (k < n)

    def on_grid(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        out[k[keep]] = values[keep]
        return out

    def quality(name: str) -> np.ndarray:
        return on_grid(frames.column(QUALITY[name]))

    out: dict[str, np.ndarray] = {}
    source = next((m for m in cardiac() if res.event(m, "nn_time").size), None)
    hr = np.full(n, np.nan)
    if source is not None:
        t, ms = res.event(source, "nn_time"), res.event(source, "nn_ms")
        good = np.isfinite(ms) & (ms > 0)
        hr = event_grid(t[good] - ms[good] / 2000.0, 60000.0 / ms[good], fs, n, HR_MAX_GAP_S)
    out["hr"] = prepare(hr, quality("hr"), params)
    out["eda"] = prepare(on_grid(frames.column(SIGNALS["eda"])), quality("eda"), params)
    role = ROLES["respiratory"]
    onsets = res.event(role.key, role.event_time)
    rate = np.full(n, np.nan)
    if onsets.size >= 3:
        on = np.sort(onsets)
        cyc = np.diff(on)
        ok = cyc <= BREATH_MAX_GAP_S  # a longer "cycle" is a gap in the detection
        mid = ((on[1:] + on[:-1]) / 2.0)[ok]
        rate = event_grid(mid, (60.0 / cyc)[ok], fs, n, BREATH_MAX_GAP_S)
    out["resp"] = prepare(rate, quality("resp"), params)
    return out


def pair_synchrony(
    a: AnalysisResult, b: AnalysisResult, fs: float, params: SyncParams | None = None
) -> dict[str, SyncResult]:
    """Synchrony of two people's results, per signal (lag > 0: ``b`` leads)."""
    params = params or SyncParams()
    n = 1 + int(max(
        (float(r.frames.times()[-1]) for r in (a, b) if len(r.frames)), default=-1.0
    ) * fs + 0.5)  # fmt: skip
    if n <= 0:
        return {s: SyncResult.empty() for s in SIGNALS}
    sa, sb = subject_series(a, fs, n, params), subject_series(b, fs, n, params)
    return {s: synchrony(sa[s], sb[s], fs, params) for s in SIGNALS}


def leader_of(lag_s: np.ndarray, a: str, b: str) -> np.ndarray:
    """The subject that leads at each lag (> 0: ``b``; < 0: ``a``; 0: ``none``)."""
    lag = np.asarray(lag_s)
    return np.where(lag > 0, b, np.where(lag < 0, a, "none"))


def rows(results: Mapping[str, SyncResult], a: str, b: str) -> list[list[Any]]:
    """``synchrony.csv`` rows of one pair (windows with a correlation), in time order."""
    out: list[list[Any]] = []
    for sig, r in results.items():
        lead = leader_of(r.lag_s, a, b)
        for i in np.flatnonzero(np.isfinite(r.r)):
            p = float(r.p[i])
            out.append([
                f"{r.time_s[i]:.2f}", sig, f"{r.r[i]:.4f}", f"{r.lag_s[i]:.2f}", str(lead[i]),
                f"{p:.4f}" if p == p else "", int(r.significant[i]),
            ])  # fmt: skip
    out.sort(key=lambda x: (float(x[0]), list(SIGNALS).index(x[1])))
    return out


def summarize(results: Mapping[str, SyncResult], a: str, b: str) -> dict[str, Any]:
    """Per signal: windows, tested (with a p), significant share, median r and lag of the
    significant ones, and who led them."""
    out: dict[str, Any] = {"pair": [a, b], "signals": {}}
    for sig, r in results.items():
        tested = np.isfinite(r.p)
        sig_w = r.significant
        lead = leader_of(r.lag_s[sig_w], a, b)
        out["signals"][sig] = {
            "windows": int(np.isfinite(r.r).sum()),
            "tested": int(tested.sum()),
            "significant": int(sig_w.sum()),
            "significant_share": round(float(sig_w.sum() / tested.sum()), 4) if tested.any()
            else None,
            "median_r": _median(r.r[sig_w]),
            "median_lag_s": _median(r.lag_s[sig_w]),
            "led_by": {who: int((lead == who).sum()) for who in (a, b, "none")},
        }  # fmt: skip
    return out


def _median(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return round(float(np.median(x)), 4) if x.size else None


RETURN_BEFORE_S = 60.0
RETURN_AFTER_S = 15.0
PARTNER_WITHIN = 0.9
IN_SYNC_SHARE = 0.5


def episodes(
    client: AnalysisResult, partner: AnalysisResult, got: Mapping[str, SyncResult],
    a: str, b: str,
) -> dict[str, Any]:  # fmt: skip
    """Co-regulation episodes of a pair: each excursion of the client (``a``, from their
    summary) with what the partner's zone and the pair's synchrony did around it.

    A return is *in sync* (co-regulated) when the client came back to the window while the
    partner stayed within (``PARTNER_WITHIN``, 90 %, of their known frames during the
    excursion) and in at least ``IN_SYNC_SHARE`` (half) of the synchrony windows ending from
    ``RETURN_BEFORE_S`` (60 s) before the return to ``RETURN_AFTER_S`` (15 s) after it some
    signal was in sync; ``led_by`` is who led most of those significant
    windows. The partner's own excursions are listed too.
    """
    times = partner.frames.times() if len(partner.frames) else np.zeros(0)
    zones = np.asarray(partner.frames.zones()) if len(partner.frames) else np.zeros(0, "<U7")
    out = []
    for e in client.summary.get("excursions") or []:
        t0, t1 = float(e["start_s"]), float(e["end_s"])
        m = (times >= t0) & (times < t1) & (zones != "unknown")
        within = float(np.mean(zones[m] == "within")) if m.any() else math.nan
        tested_at: set[float] = set()  # windows (their end times) some signal was tested in
        sync_at: set[float] = set()  # ... and some signal was in sync
        leaders: list[str] = []
        lags: list[float] = []
        for r in got.values():
            w = (r.time_s >= t1 - RETURN_BEFORE_S) & (r.time_s <= t1 + RETURN_AFTER_S)
            w &= np.isfinite(r.p)
            tested_at.update(r.time_s[w].tolist())
            sync_at.update(r.time_s[w & r.significant].tolist())
            leaders += leader_of(r.lag_s[w & r.significant], a, b).tolist()
            lags += r.lag_s[w & r.significant].tolist()
        tested = len(tested_at)
        share = len(sync_at) / tested if tested else math.nan
        lead = max(set(leaders), key=leaders.count) if leaders else None
        returned = bool(e.get("returned_to_window"))
        out.append({
            "zone": e["zone"], "start_s": t0, "end_s": t1, "returned": returned,
            "partner_within": None if math.isnan(within) else round(within, 3),
            "sync_windows": tested, "sync_share": None if not tested else round(share, 3),
            "led_by": lead, "median_lag_s": round(float(np.median(lags)), 2) if lags else None,
            "in_sync": bool(returned and within >= PARTNER_WITHIN and tested
                            and share >= IN_SYNC_SHARE),
        })  # fmt: skip
    returns = [x for x in out if x["returned"]]
    own = [
        {k: x[k] for k in ("zone", "start_s", "end_s", "returned_to_window")}
        for x in partner.summary.get("excursions") or []
    ]
    return {
        "client": a, "partner": b, "returns": len(returns),
        "returns_in_sync": sum(x["in_sync"] for x in returns),
        "share_in_sync": round(sum(x["in_sync"] for x in returns) / len(returns), 3)
        if returns else None,
        "episodes": out, "partner_excursions": own,
    }  # fmt: skip


def session_synchrony(
    results: Mapping[str, AnalysisResult], fs: float, params: SyncParams | None = None
) -> tuple[list[list[Any]], dict[str, Any]]:
    """Every pair of a session's subjects (in the order given): the ``synchrony.csv`` rows and
    the ``coregulation`` block of ``summary.json``."""
    params = params or SyncParams()
    all_rows: list[list[Any]] = []
    pairs = []
    for a, b in combinations(list(results), 2):
        got = pair_synchrony(results[a], results[b], fs, params)
        pair_rows = rows(got, a, b)
        if len(results) > 2:  # several pairs: say whose window each row is
            pair_rows = [[*r, f"{a}-{b}"] for r in pair_rows]
        all_rows += pair_rows
        summary = summarize(got, a, b)
        if a == next(iter(results)):  # the client's excursions against each other person
            summary["coregulation"] = episodes(results[a], results[b], got, a, b)
        pairs.append(summary)
    block = {
        "method": "windowed lagged cross-correlation, peak picked, against time-shifted "
        "pseudo-pairs (see wot_biofeedback.dsp.synchrony)",
        "params": {k: getattr(params, k) for k in params.__dataclass_fields__},
        "fs": fs,
        "pairs": pairs,
    }
    return all_rows, block


class LiveSynchrony:
    """The synchrony of a session's people as their frames and events come (what the live
    engine's pipelines give, chunk by chunk): the same windows and values as
    :func:`session_synchrony` on the whole session, for any chunking.

    A person's sample ``k`` of a signal is fed once it is final: ``hr`` and ``resp`` once a
    beat or breath after ``k / fs`` has come (:class:`~wot_biofeedback.dsp.synchrony.
    EventGrid`), ``eda`` and every quality once frame ``k`` has; a pair's windows follow the
    slower of the two. Memory is flat: each stream keeps its own history, and fed samples
    are dropped.
    """

    def __init__(self, subjects: list[str], fs: float, params: SyncParams | None = None) -> None:
        self.fs = float(fs)
        self.params = params or SyncParams()
        self.subjects = list(subjects)
        self.pairs = list(combinations(self.subjects, 2))
        self._grid = {
            s: {"hr": EventGrid(fs, HR_MAX_GAP_S), "resp": EventGrid(fs, BREATH_MAX_GAP_S)}
            for s in self.subjects
        }
        self._last_onset = dict.fromkeys(self.subjects, math.nan)
        # per subject and signal: final values not yet fed to every pair, from index _base
        self._vals = {s: {g: np.zeros(0) for g in SIGNALS} for s in self.subjects}
        self._qual = {s: {g: np.zeros(0) for g in SIGNALS} for s in self.subjects}
        self._base = {s: {g: 0 for g in SIGNALS} for s in self.subjects}  # value index base
        self._qbase = {s: {g: 0 for g in SIGNALS} for s in self.subjects}
        self._frames = dict.fromkeys(self.subjects, 0)
        self._streams = {
            p: {g: SynchronyStream(self.fs, self.params) for g in SIGNALS} for p in self.pairs
        }
        self._fed = {p: {g: 0 for g in SIGNALS} for p in self.pairs}
        self.latest: dict[tuple[str, str], dict[str, dict[str, Any]]] = {p: {} for p in self.pairs}
        """Per pair and signal, the newest window: time_s, r, lag_s, leader, p, significant."""

    # input ----------------------------------------------------------------------------------
    def add(
        self, subject: str, frames: list[Any], events: Mapping[str, Mapping[str, list[np.ndarray]]]
    ) -> None:
        """A person's new frames (in order) and events (``{modality: {key: [arrays]}}``)."""
        if subject not in self._grid:
            return
        if frames:
            q = {g: np.array([f.features.get(QUALITY[g], np.nan) for f in frames]) for g in SIGNALS}
            for g in SIGNALS:
                self._qual[subject][g] = np.concatenate((self._qual[subject][g], q[g]))
            scl = np.array([f.features.get(SIGNALS["eda"], np.nan) for f in frames])
            self._push(subject, "eda", scl)  # its values are the frames'
            self._frames[subject] += len(frames)
        for m in cardiac():
            ev = events.get(m, {})
            if ev.get("nn_time"):
                t = np.concatenate(ev["nn_time"])
                ms = np.concatenate(ev["nn_ms"])
                good = np.isfinite(ms) & (ms > 0)
                got = self._grid[subject]["hr"].update(
                    t[good] - ms[good] / 2000.0, 60000.0 / ms[good]
                )
                self._push(subject, "hr", got)
        role = ROLES["respiratory"]
        parts = events.get(role.key, {}).get(role.event_time, [])
        on = (
            np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]) if parts
            else np.zeros(0)
        )  # fmt: skip
        if on.size:
            prev = np.r_[self._last_onset[subject], on[:-1]]
            self._last_onset[subject] = float(on[-1])
            ok = np.isfinite(prev) & (on - prev <= BREATH_MAX_GAP_S)
            got = self._grid[subject]["resp"].update(
                ((on + prev) / 2.0)[ok], (60.0 / (on - prev))[ok]
            )
            self._push(subject, "resp", got)

    def _push(self, subject: str, sig: str, values: np.ndarray) -> None:
        if values.size:
            self._vals[subject][sig] = np.concatenate((self._vals[subject][sig], values))

    def _ready(self, subject: str, sig: str) -> int:
        """Samples of ``sig`` final for ``subject`` (value and quality both known)."""
        n_val = self._base[subject][sig] + self._vals[subject][sig].size
        return min(n_val, self._frames[subject])

    def _series(self, subject: str, sig: str, a: int, b: int) -> np.ndarray:
        v = self._vals[subject][sig]
        q = self._qual[subject][sig]
        vb, qb = self._base[subject][sig], self._qbase[subject][sig]
        return prepare(v[a - vb : b - vb], q[a - qb : b - qb], self.params)

    # output ---------------------------------------------------------------------------------
    def step(self) -> list[list[Any]]:
        """Feed every pair what both people have final; the ``synchrony.csv`` rows of the
        windows that completed (each pair's, in time order)."""
        out: list[list[Any]] = []
        for pair in self.pairs:
            a, b = pair
            got = {}
            for g in SIGNALS:
                n = min(self._ready(a, g), self._ready(b, g))
                fed = self._fed[pair][g]
                if n > fed:
                    got[g] = self._streams[pair][g].update(
                        self._series(a, g, fed, n), self._series(b, g, fed, n)
                    )
                    self._fed[pair][g] = n
            out += self._rows(pair, got)
        self._trim()
        return out

    def finish(self) -> list[list[Any]]:
        """The session ended: the samples no later event can make final are missing (as the
        whole session's analysis has them), the last windows are made."""
        n = max(self._frames.values(), default=0)
        for s in self.subjects:
            for g in SIGNALS:
                have = self._base[s][g] + self._vals[s][g].size
                if have < n:
                    self._push(s, g, np.full(n - have, np.nan))
                qh = self._qbase[s][g] + self._qual[s][g].size
                if qh < n:
                    self._qual[s][g] = np.concatenate((self._qual[s][g], np.full(n - qh, np.nan)))
            self._frames[s] = n
        return self.step()

    def _rows(self, pair: tuple[str, str], got: dict[str, SyncResult]) -> list[list[Any]]:
        a, b = pair
        new = rows(got, a, b)
        for sig, r in got.items():
            ok = np.flatnonzero(np.isfinite(r.r))
            if ok.size:
                i = ok[-1]
                lead = str(leader_of(r.lag_s[i : i + 1], a, b)[0])
                self.latest[pair][sig] = {
                    "time_s": float(r.time_s[i]), "r": float(r.r[i]), "lag_s": float(r.lag_s[i]),
                    "leader": lead, "p": float(r.p[i]), "significant": bool(r.significant[i]),
                }  # fmt: skip
        if len(self.subjects) > 2:
            new = [[*x, f"{a}-{b}"] for x in new]
        return new

    def _trim(self) -> None:
        """Drop the values every pair has been fed."""
        for s in self.subjects:
            for g in SIGNALS:
                done = min((self._fed[p][g] for p in self.pairs if s in p), default=0)
                cut = done - self._base[s][g]
                if cut > 0:
                    self._vals[s][g] = self._vals[s][g][cut:]
                    self._base[s][g] = done
                qcut = done - self._qbase[s][g]
                if qcut > 0:
                    self._qual[s][g] = self._qual[s][g][qcut:]
                    self._qbase[s][g] = done
