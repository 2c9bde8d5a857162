"""Physiological synchrony (issue 21) on simulated dyads, on real people who never met, and on
a real recording paired with a delayed, noisy copy of itself.

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/validate_synchrony.py [--seeds 8] [--window 30]
                                    [--eda-window 60] [--only sim,strength,oracle,null,copy]

1. **Simulated dyads** (``wot_simulators.dyad``, the default script: 2 min uncoupled, 3 min
   the client following the therapist by 3 s, 2 min uncoupled, 3 min the therapist following
   the client by 5 s, 2 min mutual), written as the CSV ``wot simulate --dyad --out`` writes
   and analysed as ``wot analyze --subjects client,therapist`` does. Per stretch and signal:
   the share of tested windows (wholly inside the stretch, lags included) that are
   significant with the right leader and the lag within 1 s (mutual: lag within 1 s of 0);
   in uncoupled stretches, the share significant (the surrogate test's nominal rate is 5 %).
   A long uncoupled dyad (20 min, both calm) gives the false-positive rate without the
   coupled stretches' history in the pseudo-pairs. ``all``: the signals combined
   (``dsp.synchrony.combine``), its lag the median of the signals in sync. ``every coupled
   stretch``: the coupled windows pooled (the issue's target: at least 90 %).
1c. **Weaker couplings** (``strength``): the default script with every coupled stretch at
   strength 0.5, 0.7 and 0.9 (the default is 1): the share of coupled windows found, and
   of uncoupled windows called significant.
1b. **The simulated truth** (``oracle``): the same test on heart rate from the simulator's
   true beats and on each person's latent arousal: an upper bound of what any R-peak
   detection could find in the simulated signals.
2. **Real people who never met** (``WOT_DATA_DIR``): ECG of MIT-BIH 100, MIT-BIH 105,
   drivedb drive05 and the NeuroKit2 5- and 8-minute resting recordings paired with each
   other (7 pairs), and skin conductance of drive05 (hand and foot GSR), the Ledalab long
   recording and the NeuroKit2 8-minute recording (16 pairs), each pair cut to equal length
   and run as two subjects of one session. Real physiology is autocorrelated and trends
   together by chance: the share of windows significant must stay at or under the nominal
   5 %. Per pair and pooled. The pairs are not independent: there are only so many
   recordings, so the same stretch of one (Ledalab, NeuroKit2, drive05's hand and foot at the
   same time, parts of MIT-BIH 100 and 105) serves in several pairs; and a pair's windows
   overlap (5-s steps), so its share moves in steps of several windows.
3. **Real positive**: drive05 (ECG, hand GSR) as one person and its copy delayed by 2, 5 and
   8 s, with independent noise (ECG 0.05 mV white + 0.1 mV wander; EDA 1 % of its range) and
   5 % of the time in artifacts (flat or noise bursts) as the other: the copy follows, so the
   original leads by the delay. Reported: the share of tested windows significant with the
   right leader and the lag within 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from wot_simulators import SimConfig
from wot_simulators.dyad import DEFAULT_SCRIPT, simulate_dyad, write_dyad_csv

from wot_biofeedback.config import EngineConfig
from wot_biofeedback.coregulation import HR_MAX_GAP_S, pair_synchrony
from wot_biofeedback.dsp.synchrony import SIGNALS, SyncParams, combine, event_grid, synchrony
from wot_biofeedback.offline import run_subjects
from wot_biofeedback.sources.files import Recording, Signal, read_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

SECTION = "Co-regulation (synchrony)"
DATA = Path(os.environ.get("WOT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/data"))
FS = EngineConfig().frame_rate_hz


def _span(params: SyncParams, sig: str) -> float:
    """How far back a window of ``sig`` reaches (its window and lags), s; ``all``: the
    longest of the signals'."""
    if sig in SIGNALS:
        w = params.for_signal(sig).window_s
    elif sig == "all":
        w = max(params.windows().values())
    else:  # a series of the oracle's, run with the main window
        w = params.window_s
    return w + params.max_lag_s


def _score(res, truth_at, params: SyncParams) -> dict:
    """Per signal and stretch kind: (right, tested) for coupled, (significant, tested) for
    uncoupled; windows whose span (window and lags) lies in one stretch."""
    out: dict = {}
    for sig, r in res.items():
        span = _span(params, sig)
        leader, lag, strength = truth_at(r.time_s)
        l0, g0, s0 = truth_at(r.time_s - span + 1e-6)
        whole = (leader == l0) & (lag == g0) & (strength == s0) & np.isfinite(r.p)
        found = np.where(r.lag_s > 0, "b", np.where(r.lag_s < 0, "a", "none"))
        for kind in [*np.unique(leader[whole & (strength > 0)]).tolist(), "uncoupled"]:
            if kind == "uncoupled":
                m = whole & (strength == 0)
                hit = r.significant[m]
            else:
                m = whole & (strength > 0) & (leader == kind)
                if kind == "none":  # mutual: in sync at (about) no lag
                    ok = np.abs(r.lag_s) <= 1.0
                else:
                    ok = (found == kind) & (np.abs(np.abs(r.lag_s) - lag) <= 1.0)
                hit = (r.significant & ok)[m]
            got = out.setdefault(sig, {}).setdefault(kind, [0, 0])
            got[0] += int(hit.sum())
            got[1] += int(m.sum())
    return out


COLUMNS = (*SIGNALS, "all")


def _with_all(got: dict, params: SyncParams) -> dict:
    """The signals' results and, as ``all``, the signals combined (``combine``: in sync in
    any of them, Simes' p; its lag the median of the signals in sync)."""
    idx = combine(got, params.alpha)
    lag = np.nan_to_num(idx.lag_s)
    return {**got, "all": SimpleNamespace(time_s=idx.time_s, p=idx.p, lag_s=lag,
                                          significant=idx.significant)}  # fmt: skip


def _merge(total: dict, part: dict) -> None:
    for sig, kinds in part.items():
        for kind, (a, b) in kinds.items():
            t = total.setdefault(sig, {}).setdefault(kind, [0, 0])
            t[0] += a
            t[1] += b


def _sim_totals(script: str, seeds: range, params: SyncParams, tmp: Path) -> dict:
    """The dyads of ``script``, one per seed, written and analysed as the CLI does; their
    windows scored (:func:`_score`) and summed."""
    names = {"a": "client", "b": "therapist"}
    total: dict = {}
    for seed in seeds:
        d = simulate_dyad(script, config=SimConfig(ecg_fs=250, eda_fs=250, resp_fs=250,
                                                   seed=seed))  # fmt: skip
        f = tmp / f"dyad{seed}.csv"
        write_dyad_csv(d, f)
        recs = {p: read_recording(f, subject=p) for p in names.values()}
        res, _ = run_subjects(recs)
        got = _with_all(pair_synchrony(res["client"], res["therapist"], FS, params), params)

        def truth_at(t, d=d):
            leader, lag, strength = d.truth_at(t)
            code = {"client": "a", "therapist": "b", "none": "none"}
            return np.array([code[x] for x in leader]), lag, strength

        _merge(total, _score(got, truth_at, params))
        f.unlink()
    return total


def _pooled(kinds: dict) -> tuple[int, int]:
    """(right, tested) over every coupled stretch."""
    right = sum(v[0] for k, v in kinds.items() if k != "uncoupled")
    return right, sum(v[1] for k, v in kinds.items() if k != "uncoupled")


def _windows(params: SyncParams) -> str:
    return ", ".join(f"{g} {w:g} s" for g, w in params.windows().items())


def simulated(seeds: range, params: SyncParams, tmp: Path) -> None:
    print(f"\n1. Simulated dyads, script {DEFAULT_SCRIPT}, {len(seeds)} seeds, windows "
          f"{_windows(params)}")  # fmt: skip
    names = {"a": "client", "b": "therapist"}
    t0 = time.perf_counter()
    total = _sim_totals(DEFAULT_SCRIPT, seeds, params, tmp)
    label = {"b": "client follows therapist (3 s)", "a": "therapist follows client (5 s)",
             "none": "mutual (no lag)", "uncoupled": "uncoupled: significant"}  # fmt: skip
    print(f"{'stretch':34s} " + " ".join(f"{s:>14s}" for s in COLUMNS))
    for kind in ("b", "a", "none", "uncoupled"):
        cells = []
        for sig in COLUMNS:
            a, b = total.get(sig, {}).get(kind, (0, 0))
            cells.append(f"{a:4d}/{b:<4d}{100 * a / max(b, 1):4.0f}%")
        print(f"{label[kind]:34s} " + " ".join(f"{c:>14s}" for c in cells))
        for sig in ("hr", "eda", "all"):
            a, b = total.get(sig, {}).get(kind, (0, 0))
            what = ("windows significant (nominal 5 %)" if kind == "uncoupled"
                    else "windows significant, right leader, lag within 1 s")  # fmt: skip
            _report.emit(SECTION, f"simulated dyads, {label[kind]}", f"{sig}: {what}",
                         f"{a}/{b} ({100 * a / max(b, 1):.0f} %)", "simulated truth", "",
                         f"{len(seeds)} seeds, windows {_windows(params)} "
                         "(validate_synchrony.py)")  # fmt: skip
    cells = []
    for sig in COLUMNS:
        a, b = _pooled(total.get(sig, {}))
        cells.append(f"{a:4d}/{b:<4d}{100 * a / max(b, 1):4.0f}%")
        if sig in ("hr", "eda"):
            _report.emit(
                SECTION,
                "simulated dyads, every coupled stretch",
                f"{sig}: windows significant, right leader, lag within 1 s",
                f"{a}/{b} ({100 * a / max(b, 1):.1f} %)",
                "target",
                ">= 90 %",
                f"{len(seeds)} seeds, default coupling (validate_synchrony.py)",
            )
    print(f"{'every coupled stretch':34s} " + " ".join(f"{c:>14s}" for c in cells))
    # the null without coupled history: 20 min uncoupled, both calm
    fp = {s: [0, 0] for s in COLUMNS}
    each: dict[str, list[float]] = {s: [] for s in COLUMNS}  # per dyad, % significant
    for seed in seeds:
        cfg = SimConfig(ecg_fs=250, eda_fs=250, resp_fs=250, seed=100 + seed)
        d = simulate_dyad("none:1200", client="calm", therapist="calm", config=cfg)
        f = tmp / f"null{seed}.csv"
        write_dyad_csv(d, f)
        recs = {p: read_recording(f, subject=p) for p in names.values()}
        res, _ = run_subjects(recs)
        pair = _with_all(pair_synchrony(res["client"], res["therapist"], FS, params), params)
        for sig, r in pair.items():
            tested = np.isfinite(r.p)
            fp[sig][0] += int(r.significant[tested].sum())
            fp[sig][1] += int(tested.sum())
            each[sig].append(100.0 * r.significant[tested].sum() / max(int(tested.sum()), 1))
        f.unlink()
    cells = [f"{a:4d}/{b:<4d}{100 * a / max(b, 1):4.0f}%".rjust(14) for a, b in fp.values()]
    print(f"{'uncoupled 20 min, both calm':34s} " + " ".join(cells))
    # a test at its nominal rate still puts single pairs over 5 %: the spread of a known null
    cells = [f"{min(v):.0f}-{max(v):.0f}% ({sum(x > 5 for x in v)} >5%)".rjust(14)
             for v in each.values()]  # fmt: skip
    print(f"{'  one 20-min dyad: range':34s} " + " ".join(cells))
    for sig in ("hr", "eda", "all"):
        a, b = fp[sig]
        v = each[sig]
        _report.emit(SECTION, "simulated dyads, uncoupled 20 min (both calm)",
                     f"{sig}: windows significant (nominal 5 %)",
                     f"{a}/{b} ({100 * a / max(b, 1):.1f} %)", "simulated truth", "",
                     f"{len(seeds)} seeds; one dyad {min(v):.1f}-{max(v):.1f} %, "
                     f"{sum(x > 5 for x in v)} of {len(v)} over 5 % "
                     "(validate_synchrony.py)")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)")


STRENGTHS = (0.5, 0.7, 0.9)


def strengths(seeds: range, params: SyncParams, tmp: Path) -> None:
    """The default script at weaker couplings (``*STRENGTH`` on every coupled stretch): the
    detector's power against the coupling's strength."""
    print(f"\n1c. Weaker couplings (the default script, each coupled stretch at the strength), "
          f"{len(seeds)} seeds")  # fmt: skip
    print(f"{'strength':>8s} " + " ".join(f"{g + ' coupled':>18s} {g + ' uncoupled':>16s}"
                                          for g in ("hr", "eda")))  # fmt: skip
    t0 = time.perf_counter()
    for st in STRENGTHS:
        script = ",".join(
            p if p.startswith("none") else f"{p}*{st:g}" for p in DEFAULT_SCRIPT.split(",")
        )
        total = _sim_totals(script, seeds, params, tmp)
        cells = []
        for sig in ("hr", "eda"):
            a, b = _pooled(total.get(sig, {}))
            u, n = total.get(sig, {}).get("uncoupled", (0, 0))
            cells.append(f"{a:5d}/{b:<5d}{100 * a / max(b, 1):5.0f}% "
                         f"{u:5d}/{n:<4d}{100 * u / max(n, 1):4.0f}%")  # fmt: skip
            _report.emit(SECTION, f"simulated dyads, coupling strength {st:g}",
                         f"{sig}: coupled windows right",
                         f"{a}/{b} ({100 * a / max(b, 1):.0f} %)", "simulated truth", "",
                         f"{len(seeds)} seeds (validate_synchrony.py)")  # fmt: skip
        print(f"{st:8g} " + " ".join(cells))
    print(f"({time.perf_counter() - t0:.0f} s)")


def oracle(seeds: range, params: SyncParams) -> None:
    """The same windows and test on what the detector cannot do better than: heart rate from
    the simulator's true beats, and the latent arousal (scenario, own wander and interaction
    drive) itself. Where these miss coupled windows, the loss is in the simulated physiology
    (each person's own variability within a 30-s window), not in the R-peak detection."""
    print(f"\n1b. The same test on the simulated truth, {len(seeds)} seeds, window "
          f"{params.window_s:g} s")  # fmt: skip
    total: dict = {}
    for seed in seeds:
        d = simulate_dyad(config=SimConfig(ecg_fs=250, eda_fs=250, resp_fs=250, seed=seed))
        n = int(d.duration_s * FS)
        ser: dict = {}
        for who in ("client", "therapist"):
            s = d.session(who)
            rr = np.diff(s.beat_times_s)
            ser.setdefault("true beats", []).append(
                event_grid(s.beat_times_s[1:] - rr / 2, 60.0 / rr, FS, n, HR_MAX_GAP_S)
            )
            ser.setdefault("latent arousal", []).append(
                np.interp(np.arange(n) / FS, s.latent_t_s, s.arousal))  # fmt: skip
        res = {k: synchrony(a, b, FS, params) for k, (a, b) in ser.items()}

        def truth_at(t, d=d):
            leader, lag, strength = d.truth_at(t)
            code = {"client": "a", "therapist": "b", "none": "none"}
            return np.array([code[x] for x in leader]), lag, strength

        _merge(total, _score(res, truth_at, params))
    label = {"b": "client follows", "a": "therapist follows", "none": "mutual",
             "uncoupled": "uncoupled: significant"}  # fmt: skip
    print(f"{'series':16s} " + " ".join(f"{label[k]:>22s}" for k in label))
    for sig, kinds in total.items():
        cells = []
        for kind in label:
            a, b = kinds.get(kind, (0, 0))
            cells.append(f"{a:4d}/{b:<4d}{100 * a / max(b, 1):4.0f}%")
            _report.emit(SECTION, f"simulated truth ({sig}), {label[kind]}",
                         "windows right" if kind != "uncoupled" else "windows significant",
                         f"{a}/{b} ({100 * a / max(b, 1):.0f} %)", "simulated truth", "",
                         f"{len(seeds)} seeds (validate_synchrony.py)")  # fmt: skip
        print(f"{sig:16s} " + " ".join(f"{c:>22s}" for c in cells))


def _cut(sig: Signal, start_s: float, dur_s: float) -> Signal:
    a = round(start_s * sig.fs)
    b = a + round(dur_s * sig.fs)
    return Signal(np.asarray(sig.data[a:b], dtype=np.float64), sig.fs, sig.name, sig.unit)


def _person(signals: dict[str, Signal], name: str) -> Recording:
    rec = Recording(name)
    rec.signals = dict(signals)
    return rec


def _run_pair(a: Recording, b: Recording, params: SyncParams) -> dict:
    res, _ = run_subjects({"a": a, "b": b})
    return pair_synchrony(res["a"], res["b"], FS, params)


def _null_pairs() -> list[tuple[str, str, Signal, Signal]] | str:
    """(name, signal, person A's, person B's) for every pair of real recordings of different
    people, each cut to the pair's common length; or what is missing. One recording of a
    long session (drive05) gives several pairs, each from its own stretch."""
    need = [
        DATA / "mitdb" / "100.hea", DATA / "mitdb" / "105.hea",
        DATA / "drivedb" / "drive05.hea", DATA / "ledalab" / "EDA1_long_100Hz.mat",
        DATA / "neurokit" / "bio_resting_8min_100hz.csv",
        DATA / "neurokit" / "bio_resting_5min_100hz.csv",
    ]  # fmt: skip
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        return f"{', '.join(missing)} not found (set WOT_DATA_DIR)"
    import scipy.io as sio

    m100 = read_recording(DATA / "mitdb" / "100.hea", {"ecg": "MLII"}).signals["ecg"]
    m105 = read_recording(DATA / "mitdb" / "105.hea", {"ecg": "MLII"}).signals["ecg"]
    drive = read_recording(DATA / "drivedb" / "drive05.hea",
                           {"ecg": "ECG", "eda": "hand GSR"}).signals  # fmt: skip
    foot = read_recording(DATA / "drivedb" / "drive05.hea", {"eda": "foot GSR"}).signals["eda"]
    nk8 = read_recording(DATA / "neurokit" / "bio_resting_8min_100hz.csv",
                         {"ecg": "ECG", "eda": "EDA"}, fs=100.0).signals  # fmt: skip
    nk5 = read_recording(DATA / "neurokit" / "bio_resting_5min_100hz.csv", {"ecg": "ECG"},
                         fs=100.0).signals["ecg"]  # fmt: skip
    d = sio.loadmat(DATA / "ledalab" / "EDA1_long_100Hz.mat", squeeze_me=True,
                    struct_as_record=False)["data"]  # fmt: skip
    # raw units: scaled to a 9.6-µS median, as validate_eda.py does (the level is assumed)
    x = np.asarray(d.conductance, dtype=np.float64)
    leda = Signal(x / np.median(x) * 9.6, 100.0, "Ledalab EDA1_long", "uS")
    out: list[tuple[str, str, Signal, Signal]] = []

    def pair(name: str, sig: str, a: Signal, a0: float, b: Signal, b0: float, dur: float):
        out.append((name, sig, _cut(a, a0, dur), _cut(b, b0, dur)))

    hour = 1800.0
    pair("MIT-BIH 100 x MIT-BIH 105", "hr", m100, 0, m105, 0, hour)
    pair("MIT-BIH 100 x drive05 @600 s", "hr", m100, 0, drive["ecg"], 600, hour)
    pair("MIT-BIH 105 x drive05 @2400 s", "hr", m105, 0, drive["ecg"], 2400, hour)
    pair("NeuroKit2 8-min x MIT-BIH 100 @900 s", "hr", nk8["ecg"], 20, m100, 900, 480)
    pair("NeuroKit2 8-min x drive05 @4200 s", "hr", nk8["ecg"], 20, drive["ecg"], 4200, 480)
    pair("NeuroKit2 5-min x MIT-BIH 105 @1200 s", "hr", nk5, 0, m105, 1200, 300)
    pair("NeuroKit2 5-min x drive05 @1500 s", "hr", nk5, 0, drive["ecg"], 1500, 300)
    eda_len = min(leda.data.size / leda.fs, 840.0)
    # the two pairs of the first runs (stop 31), kept so that the set only grows
    pair("drive05 hand GSR @300 s x Ledalab long", "eda", drive["eda"], 300, leda, 0, eda_len)
    pair("drive05 foot GSR @2400 s x Ledalab long", "eda", foot, 2400, leda, 0, eda_len)
    for k, start in enumerate((0, 840, 1680, 2520, 3360, 4200)):
        site, src = ("hand", drive["eda"]) if k % 2 == 0 else ("foot", foot)
        pair(f"drive05 {site} GSR @{start} s x Ledalab long", "eda", src, start, leda, 0, eda_len)
    for k, start in enumerate((100, 1000, 1900, 2800, 3700, 4500)):
        site, src = ("foot", foot) if k % 2 == 0 else ("hand", drive["eda"])
        pair(f"drive05 {site} GSR @{start} s x NeuroKit2 8-min", "eda", src, start, nk8["eda"],
             20, 480)  # fmt: skip
    pair("Ledalab long x NeuroKit2 8-min", "eda", leda, 0, nk8["eda"], 20, 480)
    pair("Ledalab long @360 s x NeuroKit2 8-min", "eda", leda, 360, nk8["eda"], 20, 480)
    return out


def real_null(params: SyncParams) -> None:
    print(f"\n2. Real people who never met ({DATA}), windows {_windows(params)}")
    pairs = _null_pairs()
    if isinstance(pairs, str):
        print(f"   skipped: {pairs}")
        return
    modality = {"hr": "ecg", "eda": "eda"}
    print(f"{'pair':50s} {'signal':>6s} {'tested':>7s} {'significant':>12s}")
    pooled: dict[str, list[int]] = {}
    for name, sig, a, b in pairs:
        m = modality[sig]
        got = _run_pair(_person({m: a}, "a"), _person({m: b}, "b"), params)
        r = got[sig]
        tested = np.isfinite(r.p)
        n, k = int(tested.sum()), int(r.significant[tested].sum())
        tot = pooled.setdefault(sig, [0, 0, 0])
        tot[0], tot[1], tot[2] = tot[0] + k, tot[1] + n, tot[2] + 1
        print(f"{name:50s} {sig:>6s} {n:7d} {k:5d} ({100 * k / max(n, 1):4.1f} %)")
        _report.emit(
            SECTION, f"real, never met: {name}", f"{sig}: windows significant",
            f"{k}/{n} ({100 * k / max(n, 1):.1f} %)", "nominal rate", "5 %",
            "surrogate test on the session's own past (validate_synchrony.py)",
        )  # fmt: skip
    for sig, (k, n, npairs) in pooled.items():
        name = f"all {npairs} pairs"
        print(f"{name:50s} {sig:>6s} {n:7d} {k:5d} ({100 * k / max(n, 1):4.1f} %)")
        _report.emit(
            SECTION, f"real, never met: all {npairs} pairs", f"{sig}: windows significant",
            f"{k}/{n} ({100 * k / max(n, 1):.1f} %)", "nominal rate", "5 %",
            "windows overlap (5-s steps), so the spread across pairs is the error bar "
            "(validate_synchrony.py)",
        )  # fmt: skip


def _copy(sig: Signal, delay_s: float, rng: np.random.Generator, noise: str) -> Signal:
    """``sig`` ``delay_s`` later, with independent noise and 5 % of its time in artifacts."""
    x = np.asarray(sig.data[:], dtype=np.float64)
    k = round(delay_s * sig.fs)
    y = np.concatenate((x[:k][::-1], x[:-k]))  # the first seconds mirrored: no step
    n = y.size
    t = np.arange(n) / sig.fs
    if noise == "ecg":
        span = np.percentile(x, 99) - np.percentile(x, 1)
        y = y + 0.05 * span * rng.standard_normal(n) + 0.1 * span * np.sin(
            2 * np.pi * 0.2 * t + rng.uniform(0, 6.3))  # fmt: skip
    else:
        span = np.percentile(x, 99) - np.percentile(x, 1)
        y = y + 0.01 * span * rng.standard_normal(n)
    covered = 0
    while covered < 0.05 * n:
        length = int(rng.uniform(1.0, 6.0) * sig.fs)
        a = int(rng.integers(0, max(1, n - length)))
        if rng.random() < 0.5:
            y[a : a + length] = y[a]
        else:
            y[a : a + length] += span * 0.5 * rng.standard_normal(min(length, n - a))
        covered += length
    return replace(sig, data=y)


def real_copy(params: SyncParams) -> None:
    print("\n3. Real positive: drive05 and its copy, delayed, with noise and artifacts")
    head = DATA / "drivedb" / "drive05.hea"
    if not head.exists():
        print(f"   skipped: {head} not found (set WOT_DATA_DIR)")
        return
    sig = read_recording(head, {"ecg": "ECG", "eda": "hand GSR"}).signals
    dur = 1200.0
    orig = {m: _cut(s, 600, dur) for m, s in sig.items()}
    print(f"{'delay':>6s} " + " ".join(f"{s:>20s}" for s in ("hr", "eda")))
    for delay in (2.0, 5.0, 8.0):
        rng = np.random.default_rng(int(delay))
        copy = {m: _copy(s, delay, rng, m) for m, s in orig.items()}
        got = _run_pair(_person(orig, "a"), _person(copy, "b"), params)
        cells = []
        for s in ("hr", "eda"):
            r = got[s]
            tested = np.isfinite(r.p)
            ok = r.significant & (r.lag_s < 0) & (np.abs(-r.lag_s - delay) <= 1.0)
            n, k = int(tested.sum()), int(ok[tested].sum())
            cells.append(f"{k:4d}/{n:<4d} ({100 * k / max(n, 1):3.0f} %)")
            med = float(np.median(r.lag_s[r.significant])) if r.significant.any() else np.nan
            _report.emit(SECTION, f"real positive: drive05 and its copy {delay:g} s later",
                         f"{s}: windows significant, original leading, lag within 1 s",
                         f"{k}/{n} ({100 * k / max(n, 1):.0f} %)", "the delay", f"{delay:g} s",
                         f"median lag of the significant windows {med:+.2f} s "
                         "(validate_synchrony.py)")  # fmt: skip
        print(f"{delay:5g}s " + " ".join(f"{c:>20s}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    base = SyncParams()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--window", type=float, default=base.window_s,
                    help="the window of heart rate and breathing, s")  # fmt: skip
    ap.add_argument("--eda-window", type=float, default=base.windows()["eda"],
                    help="the window of the skin-conductance level, s")  # fmt: skip
    ap.add_argument("--only", default="sim,strength,oracle,null,copy")
    args = ap.parse_args(argv)
    params = SyncParams(window_s=args.window, signal_window_s=(("eda", args.eda_window),))
    parts = set(args.only.split(","))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if "sim" in parts:
            simulated(range(args.seeds), params, Path(tmp))
        if "strength" in parts:
            strengths(range(args.seeds), params, Path(tmp))
    if "oracle" in parts:
        oracle(range(args.seeds), params)
    if "null" in parts:
        real_null(params)
    if "copy" in parts:
        real_copy(params)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
