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
from collections.abc import Callable, Iterable, Mapping
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np

from .dsp.synchrony import (
    QUALITY,
    SIGNALS,
    EventGrid,
    SynchronyStream,
    SyncIndex,
    SyncParams,
    SyncResult,
    combine,
    combine_at,
    event_grid,
    prepare,
    synchrony,
)
from .modalities import ROLES, cardiac
from .offline import AnalysisResult

HR_MAX_GAP_S = 3.0
BREATH_MAX_GAP_S = 15.0
SYNC_COLUMNS = ("time_s", "signal", "r", "lag_s", "leader", "p", "significant")
INDEX_COLUMNS = ("time_s", "index", "p", "significant", "tested", "confidence", "lag_s", "leader")
"""``synchrony_index.csv``: the pair's signals combined per window end
(:func:`~wot_biofeedback.dsp.synchrony.combine`)."""


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
    return {s: synchrony(sa[s], sb[s], fs, params.for_signal(s)) for s in SIGNALS}


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
GONE_S = 300.0
"""Live: a person whose newest frame is this far behind everyone's holds nothing back (their
devices are gone, not sending a backlog); the episodes with them are judged on what there
is."""
STALL_S = 60.0
"""Live: a heart or breathing rate without a beat or breath for this long is missing there
(:meth:`~wot_biofeedback.dsp.synchrony.EventGrid.skip`), and a combined window or an episode
whose windows have not all come this long after both people passed it is made with what
there is: nothing holds the session's judgements back for long."""


def judge(
    zone: str, t0: float, t1: float, returned: bool, partner_zones: np.ndarray,
    got: Mapping[str, SyncResult], a: str, b: str,
) -> dict[str, Any]:  # fmt: skip
    """One excursion of the client (``a``) from ``t0`` to ``t1`` (s): the partner's zones
    over it (their frames from ``t0`` to before ``t1``) and the pair's synchrony windows
    around its end (``got``, per signal) make it an episode (see :func:`episodes`)."""
    zones = np.asarray(partner_zones)
    known = zones[zones != "unknown"]
    within = float(np.mean(known == "within")) if known.size else math.nan
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
    return {
        "zone": zone, "start_s": t0, "end_s": t1, "returned": returned,
        "partner_within": None if math.isnan(within) else round(within, 3),
        "sync_windows": tested, "sync_share": None if not tested else round(share, 3),
        "led_by": lead, "median_lag_s": round(float(np.median(lags)), 2) if lags else None,
        "in_sync": bool(returned and within >= PARTNER_WITHIN and tested
                        and share >= IN_SYNC_SHARE),
    }  # fmt: skip


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
    windows. The partner's own excursions are listed too. :class:`LiveSynchrony` finds the
    same episodes as the session runs.
    """
    times = partner.frames.times() if len(partner.frames) else np.zeros(0)
    zones = np.asarray(partner.frames.zones()) if len(partner.frames) else np.zeros(0, "<U7")
    out = []
    for e in client.summary.get("excursions") or []:
        t0, t1 = round(float(e["start_s"]), 6), round(float(e["end_s"]), 6)
        m = (times >= t0) & (times < t1)
        out.append(judge(e["zone"], t0, t1, bool(e.get("returned_to_window")), zones[m], got,
                         a, b))  # fmt: skip
    own = [
        {"zone": x["zone"], "start_s": round(float(x["start_s"]), 6),
         "end_s": round(float(x["end_s"]), 6), "returned_to_window": x["returned_to_window"]}
        for x in partner.summary.get("excursions") or []
    ]  # fmt: skip
    return block_of(a, b, out, own)


def block_of(
    a: str, b: str, out: list[dict[str, Any]], own: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``coregulation`` block of a pair from its episodes and the partner's excursions."""
    returns = [x for x in out if x["returned"]]
    return {
        "client": a, "partner": b, "returns": len(returns),
        "returns_in_sync": sum(x["in_sync"] for x in returns),
        "share_in_sync": round(sum(x["in_sync"] for x in returns) / len(returns), 3)
        if returns else None,
        "episodes": out, "partner_excursions": own,
    }  # fmt: skip


def say_episode(e: dict[str, Any], a: str, b: str) -> str:
    """An episode in words (a marker's text)."""
    span = f"{_clock(e['start_s'])}-{_clock(e['end_s'])}"
    if not e["returned"]:
        return f"[coregulation] {a} {e['zone']} {span}, not back in the window"
    if e["in_sync"]:
        how = f"in sync with {b}"
        if e["led_by"] is not None:
            lag = f", {abs(e['median_lag_s']):g} s" if e["median_lag_s"] else ""
            how += f" (led by {e['led_by']}{lag})"
    elif e["partner_within"] is not None and e["partner_within"] < PARTNER_WITHIN:
        how = f"{b} not within"
    elif not e["sync_windows"]:
        how = "synchrony unknown"
    else:
        how = f"not in sync with {b}"
    return f"[coregulation] {a} back from {e['zone']} {span}: {how}"


def say_excursion(x: dict[str, Any], who: str) -> str:
    """A partner's own excursion in words (a marker's text)."""
    back = "back in the window" if x["returned_to_window"] else "not back in the window"
    return f"[coregulation] {who} {x['zone']} {_clock(x['start_s'])}-{_clock(x['end_s'])}, {back}"


def _clock(t: float) -> str:
    s = max(0, round(float(t)))
    return f"{s // 60}:{s % 60:02d}"


class ExcursionTracker:
    """:func:`wot_biofeedback.summary.excursions` frame by frame: each excursion (zone,
    start_s, end_s, returned_to_window) once it has ended, as the whole session's summary
    has it; :meth:`finish` ends the one still open."""

    def __init__(self, dt: float) -> None:
        self.dt = float(dt)
        self.zone = ""  # the open excursion's zone ("": none)
        self.start = self.last = math.nan

    def feed(self, t: float, zone: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.zone:
            if zone == self.zone:
                self.last = t
                return out
            if zone not in ("within", "hyper", "hypo"):
                return out  # unknown inside an excursion does not end it
            out.append(self._close(zone == "within"))
        if zone in ("hyper", "hypo"):
            self.zone, self.start, self.last = zone, t, t
        return out

    def open_end(self) -> float:
        """Where the open excursion would end (s), NaN with none open."""
        return self.last + self.dt if self.zone else math.nan

    def finish(self) -> list[dict[str, Any]]:
        return [self._close(False)] if self.zone else []

    def _close(self, returned: bool) -> dict[str, Any]:
        # to the µs: a frame's time plus the frame period has rounding in its last bits that
        # differ from the whole session's median period
        end = round(float(self.last) + self.dt, 6)
        x = {"zone": self.zone, "start_s": round(float(self.start), 6), "end_s": end,
             "returned_to_window": returned}  # fmt: skip
        self.zone, self.start, self.last = "", math.nan, math.nan
        return x


def index_row(t: float, got: tuple[float, float, bool, int, float, float], a: str,
              b: str) -> list[Any]:  # fmt: skip
    """A ``synchrony_index.csv`` row from :func:`~wot_biofeedback.dsp.synchrony.combine_at`'s
    values at window end ``t``."""
    index, p, on, tested, conf, lag = got
    lead = "" if lag != lag else str(leader_of(np.array([lag]), a, b)[0])
    return [f"{t:.2f}", "" if index != index else f"{index:.4f}", "" if p != p else f"{p:.4f}",
            int(on), tested, f"{conf:.2f}", "" if lag != lag else f"{lag:.2f}", lead]  # fmt: skip


def index_rows(idx: SyncIndex, a: str, b: str) -> list[list[Any]]:
    """``synchrony_index.csv`` rows of one pair: every window end."""
    return [
        index_row(float(idx.time_s[i]), (float(idx.index[i]), float(idx.p[i]),
                  bool(idx.significant[i]), int(idx.tested[i]), float(idx.confidence[i]),
                  float(idx.lag_s[i])), a, b)
        for i in range(len(idx))
    ]  # fmt: skip


class SessionSynchrony(NamedTuple):
    """What :func:`session_synchrony` gives."""

    rows: list[list[Any]]
    """``synchrony.csv`` rows."""
    block: dict[str, Any]
    """The ``coregulation`` block of ``summary.json``."""
    index_rows: list[list[Any]]
    """``synchrony_index.csv`` rows (the signals combined)."""


def session_synchrony(
    results: Mapping[str, AnalysisResult], fs: float, params: SyncParams | None = None
) -> SessionSynchrony:
    """Every pair of a session's subjects (in the order given): the ``synchrony.csv`` rows,
    the ``coregulation`` block of ``summary.json`` and the ``synchrony_index.csv`` rows."""
    params = params or SyncParams()
    all_rows: list[list[Any]] = []
    all_index: list[list[Any]] = []
    pairs = []
    for a, b in combinations(list(results), 2):
        got = pair_synchrony(results[a], results[b], fs, params)
        pair_rows = rows(got, a, b)
        idx = combine(got, params.alpha)
        pair_index = index_rows(idx, a, b)
        if len(results) > 2:  # several pairs: say whose window each row is
            pair_rows = [[*r, f"{a}-{b}"] for r in pair_rows]
            pair_index = [[*r, f"{a}-{b}"] for r in pair_index]
        all_rows += pair_rows
        all_index += pair_index
        summary = summarize(got, a, b)
        tested = idx.tested > 0
        summary["index"] = {
            "windows": len(idx), "tested": int(tested.sum()),
            "significant": int(idx.significant.sum()),
            "significant_share": round(float(idx.significant.sum() / tested.sum()), 4)
            if tested.any() else None,
            "median_confidence": _median(idx.confidence[tested]),
        }  # fmt: skip
        if a == next(iter(results)):  # the client's excursions against each other person
            summary["coregulation"] = episodes(results[a], results[b], got, a, b)
        pairs.append(summary)
    block = {
        "method": "windowed lagged cross-correlation, peak picked, against time-shifted "
        "pseudo-pairs (see wot_biofeedback.dsp.synchrony)",
        "params": {
            **{k: getattr(params, k) for k in params.__dataclass_fields__},
            "windows_s": params.windows(),
        },
        "fs": fs,
        "pairs": pairs,
    }
    return SessionSynchrony(all_rows, block, all_index)


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

    def __init__(
        self, subjects: list[str], fs: float, params: SyncParams | None = None,
        absent: Mapping[str, Iterable[str]] | None = None,
    ) -> None:  # fmt: skip
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
            p: {g: SynchronyStream(self.fs, self.params.for_signal(g)) for g in SIGNALS}
            for p in self.pairs
        }
        self._fed = {p: {g: 0 for g in SIGNALS} for p in self.pairs}
        self.latest: dict[tuple[str, str], dict[str, dict[str, Any]]] = {p: {} for p in self.pairs}
        """Per pair and signal, the newest window: time_s, r, lag_s, leader, p, significant."""
        # signals a person has no channel for: missing from the start (the whole session's
        # series are NaN there), so they never hold a window back
        self._absent = {s: {g for g in (absent or {}).get(s, ()) if g in SIGNALS}
                        for s in self.subjects}  # fmt: skip
        # co-regulation episodes (see :func:`episodes`): the client is the first person
        self.client = self.subjects[0] if self.subjects else ""
        self._exc = {s: ExcursionTracker(1.0 / self.fs) for s in self.subjects}
        self._last_t = dict.fromkeys(self.subjects, -math.inf)  # newest frame's time
        self._zt = {s: np.zeros(0) for s in self.subjects[1:]}  # partners' frames: time
        self._zz = {s: np.zeros(0, "<U7") for s in self.subjects[1:]}  # ... and zone
        self._pending: list[tuple[str, dict[str, Any]]] = []  # (partner, client's excursion)
        self._win: dict[str, dict[str, list[SyncResult]]] = {
            s: {g: [] for g in SIGNALS} for s in self.subjects[1:]
        }  # the client's windows with each partner, kept for the episodes still to judge
        self.episodes: dict[str, list[dict[str, Any]]] = {s: [] for s in self.subjects[1:]}
        """Per partner, the client's excursions judged so far (:func:`judge`)."""
        self.partner_excursions: dict[str, list[dict[str, Any]]] = {
            s: [] for s in self.subjects[1:]
        }
        """Per partner, their own excursions that have ended."""
        # the signals combined (synchrony_index.csv): per pair, window ends not yet complete,
        # each signal's (z, p, lag) there (None: not tested)
        self._idx: dict[tuple[str, str], dict[float, dict[str, Any]]] = {p: {} for p in self.pairs}
        self._idx_done = dict.fromkeys(self.pairs, -math.inf)  # newest end combined
        self.index_new: list[list[Any]] = []
        """``synchrony_index.csv`` rows made since the caller last emptied the list."""
        self.latest_index: dict[tuple[str, str], dict[str, Any]] = {}
        """Per pair, the newest combined window: time_s, index, p, significant, tested,
        confidence, lag_s, leader."""
        self.events: list[tuple[float, str]] = []
        """(session s, text) of each episode and partner excursion as it is decided; the
        caller takes them (markers)."""

    # input ----------------------------------------------------------------------------------
    def add(
        self, subject: str, frames: list[Any], events: Mapping[str, Mapping[str, list[np.ndarray]]]
    ) -> None:
        """A person's new frames (in order) and events (``{modality: {key: [arrays]}}``)."""
        if subject not in self._grid:
            return
        if frames:
            self._zones(subject, frames)
            for g in self._absent[subject]:
                self._push(subject, g, np.full(len(frames), np.nan))
            q = {g: np.array([f.features.get(QUALITY[g], np.nan) for f in frames]) for g in SIGNALS}
            for g in SIGNALS:
                self._qual[subject][g] = np.concatenate((self._qual[subject][g], q[g]))
            if "eda" not in self._absent[subject]:
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
        # a channel that gave no beats or breaths for STALL_S (after this call's events): the
        # grid points that long after its last event are missing (as the whole session's
        # are: the gap to any later event is far over the grid's largest), so it holds
        # nothing back
        far = self._frames[subject] - math.ceil(STALL_S * self.fs)
        for g, grid in self._grid[subject].items():
            if g not in self._absent[subject] and far > grid.n:
                self._push(subject, g, grid.skip(far))

    def _zones(self, subject: str, frames: list[Any]) -> None:
        """The person's zones: their excursions, and (a partner's) the zones kept."""
        for f in frames:
            for x in self._exc[subject].feed(float(f.time_s), str(f.state.zone)):
                self._ended(subject, x)
        self._last_t[subject] = float(frames[-1].time_s)
        if subject != self.client:
            t = np.array([f.time_s for f in frames], dtype=np.float64)
            z = np.array([f.state.zone for f in frames], dtype="<U7")
            self._zt[subject] = np.concatenate((self._zt[subject], t))
            self._zz[subject] = np.concatenate((self._zz[subject], z))

    def _ended(self, subject: str, x: dict[str, Any]) -> None:
        if subject == self.client:
            self._pending += [(b, x) for b in self.subjects[1:]]
        else:
            self.partner_excursions[subject].append(x)
            self.events.append((x["end_s"], say_excursion(x, subject)))

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
            ends = {g: min(self._ready(a, g), self._ready(b, g)) for g in SIGNALS}
            out += self._feed(pair, ends, self._series)
        self._after(final=False)
        return out

    def _feed(
        self, pair: tuple[str, str], ends: dict[str, int],
        series: Callable[[str, str, int, int], np.ndarray],
    ) -> list[list[Any]]:  # fmt: skip
        """Each signal of a pair fed from where it stopped to ``ends``; the rows made."""
        got = {}
        for g, n in ends.items():
            fed = self._fed[pair][g]
            if n > fed:
                got[g] = self._streams[pair][g].update(
                    series(pair[0], g, fed, n), series(pair[1], g, fed, n)
                )
                self._fed[pair][g] = n
        return self._rows(pair, got)

    def _after(self, final: bool) -> None:
        self._combine(final)
        self._judge_pending(final)
        self._trim()

    def finish(self) -> list[list[Any]]:
        """The session ended: the samples no later event can make final are missing (as the
        whole session's analysis has them), and each pair's last windows are made up to the
        longer of its two people (as :func:`pair_synchrony` has them)."""
        for s in self.subjects:
            n = self._frames[s]
            for g in SIGNALS:
                have = self._base[s][g] + self._vals[s][g].size
                if have < n:
                    self._push(s, g, np.full(n - have, np.nan))
            for x in self._exc[s].finish():
                self._ended(s, x)
        out: list[list[Any]] = []
        for pair in self.pairs:
            a, b = pair
            n = max(self._frames[a], self._frames[b])
            out += self._feed(pair, dict.fromkeys(SIGNALS, n), self._padded)
        self._after(final=True)
        return out

    def _padded(self, subject: str, sig: str, a: int, b: int) -> np.ndarray:
        """:meth:`_series` from ``a`` to ``b``, missing past the person's last frame."""
        v = self._vals[subject][sig]
        q = self._qual[subject][sig]
        vb, qb = self._base[subject][sig], self._qbase[subject][sig]
        vv, qq = v[a - vb : b - vb], q[a - qb : b - qb]
        vv = np.concatenate((vv, np.full(b - a - vv.size, np.nan)))
        qq = np.concatenate((qq, np.full(b - a - qq.size, np.nan)))
        return prepare(vv, qq, self.params)

    def _pair_t(self, pair: tuple[str, str]) -> float:
        """How far both people of a pair have come (their older newest frame, s); a person
        ``GONE_S`` behind everyone's newest frame (their devices gone for good, not a
        backlog on its way) no longer holds the pair back."""
        newest = max(self._last_t.values())
        here = [self._last_t[p] for p in pair if newest - self._last_t[p] < GONE_S]
        return min(here) if here else newest

    def _combine(self, final: bool) -> None:
        """The window ends every signal of a pair has been fed past (or, should one stall,
        ``STALL_S`` later; or at the end): their combined index, in time order."""
        for pair, pending in self._idx.items():
            for t in sorted(pending):
                need = round(t * self.fs)
                done = final or all(self._fed[pair][g] >= need for g in SIGNALS)
                if not done and self._pair_t(pair) < t + STALL_S:
                    break
                got = pending.pop(t)
                self._idx_done[pair] = t
                z, p, lag = [], [], []
                for g in SIGNALS:
                    v = got.get(g)
                    if v is not None:
                        z.append(v[0])
                        p.append(v[1])
                        lag.append(v[2])
                vals = combine_at(z, p, lag, len(SIGNALS), self.params.alpha)
                row = index_row(t, vals, *pair)
                self.latest_index[pair] = dict(zip(INDEX_COLUMNS, row, strict=True))
                self.index_new.append(row if len(self.subjects) <= 2 else [*row, "-".join(pair)])

    def coregulation(self, partner: str) -> dict[str, Any]:
        """The ``coregulation`` block of the client and ``partner`` so far (as
        :func:`episodes` gives for the whole session)."""
        return block_of(self.client, partner, list(self.episodes[partner]),
                        list(self.partner_excursions[partner]))  # fmt: skip

    def _judge_pending(self, final: bool) -> None:
        """Judge each of the client's ended excursions once its partner's zones over it and
        the synchrony windows to ``RETURN_AFTER_S`` after it are in (or, should a signal or
        the partner stall, ``STALL_S`` later, or at the end)."""
        keep = []
        for b, x in self._pending:
            t1 = float(x["end_s"])
            pair = (self.client, b)
            need = math.floor((t1 + RETURN_AFTER_S) * self.fs + 1e-9)
            synced = all(self._fed[pair][g] >= need for g in SIGNALS)
            ready = (
                final
                or (self._last_t[b] >= t1 and synced)
                or self._pair_t(pair) >= t1 + RETURN_AFTER_S + STALL_S
            )
            if not ready:
                keep.append((b, x))
                continue
            m = (self._zt[b] >= x["start_s"]) & (self._zt[b] < t1)
            got = {g: SyncResult.concat(parts) for g, parts in self._win[b].items()}
            e = judge(x["zone"], float(x["start_s"]), t1, bool(x["returned_to_window"]),
                      self._zz[b][m], got, self.client, b)  # fmt: skip
            self.episodes[b].append(e)
            self.events.append((t1, say_episode(e, self.client, b)))
        self._pending = keep

    def _rows(self, pair: tuple[str, str], got: dict[str, SyncResult]) -> list[list[Any]]:
        a, b = pair
        new = rows(got, a, b)
        pending = self._idx[pair]
        done = self._idx_done[pair]
        for sig, r in got.items():
            for i in range(len(r)):
                t = float(r.time_s[i])
                if t <= done:  # combined already, without this late signal
                    continue
                ok = r.p[i] == r.p[i]
                pending.setdefault(t, {})[sig] = (
                    (float(r.z[i]), float(r.p[i]), float(r.lag_s[i])) if ok else None
                )
        if a == self.client:
            for sig, r in got.items():
                if len(r):
                    self._win[b][sig].append(r)
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
        """Drop the values every pair has been fed, and the zones and windows no episode can
        still need."""
        c = self.client
        ends = [float(x["end_s"]) for _b, x in self._pending]
        opened = self._exc[c].start if self._exc[c].zone else math.inf
        starts = [float(x["start_s"]) for _b, x in self._pending]
        horizon = min([*starts, opened, self._last_t[c]]) - 1.0
        w_horizon = min([*ends, self._exc[c].open_end() if self._exc[c].zone else math.inf,
                         self._last_t[c]]) - RETURN_BEFORE_S - 1.0  # fmt: skip
        for b in self.subjects[1:]:
            cut = int(np.searchsorted(self._zt[b], horizon))
            if cut:
                self._zt[b], self._zz[b] = self._zt[b][cut:], self._zz[b][cut:]
            for parts in self._win[b].values():
                while parts and (not len(parts[0]) or parts[0].time_s[-1] < w_horizon):
                    parts.pop(0)
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
