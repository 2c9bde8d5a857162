"""Offline analysis speed: wot-biofeedback against NeuroKit2 on the same simulated hour.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_analyze.py [--minutes 60] [--repeat 3]

What is timed, in one process and on the same data (see benchmarks/README.md):

1. the simulator producing the session (reported, not compared);
2. ``wot_biofeedback.offline.run_recording`` on the in-memory arrays (after a warm-up on 60 s so
   the numba kernels are compiled or loaded from the cache), best of ``--repeat``;
3. ``wot analyze`` end to end through ``wot_biofeedback.cli.main`` on a CSV of the same scenario
   and seed written at one common rate of 250 Hz (reading the CSV and writing every output file);
4. NeuroKit2's comparable path on the arrays of (2): ``ecg_process``, ``hrv_time`` on 5-minute
   windows every 30 s, ``eda_process`` and ``rsp_process``; and, for reference, the R-peak part
   of ``ecg_process`` alone (``ecg_clean`` + ``ecg_peaks``).

The thread-count variables are set to 1 below, before numpy (and anything that loads a BLAS or
OpenMP runtime) is imported, so every library runs on one core where it honours them.
"""

from __future__ import annotations

import os

THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from wot_simulators import (  # noqa: E402
    Scenario,
    SimConfig,
    SimulatedSession,
    load_scenario,
    simulate_session,
    simulate_to_csv,
)

from wot_biofeedback import cli  # noqa: E402
from wot_biofeedback.offline import run_recording  # noqa: E402
from wot_biofeedback.sources.files import Recording, Signal, read_recording  # noqa: E402

SEED = 1
BASE_SCENARIO = "full-session"  # 900 s, repeated to fill --minutes
FS = {"ecg": 250.0, "eda": 32.0, "resp": 50.0}
CSV_FS = 250.0
WARMUP_S = 60.0
HRV_WINDOW_S = 300.0
HRV_STEP_S = 30.0
NK_SLOW_S = 10.0  # a NeuroKit2 pass slower than this is repeated at most twice


# --------------------------------------------------------------------------------------------
# data
def build_scenario(minutes: float) -> Scenario:
    """The base scenario's segments repeated to cover ``minutes`` (cut to length if needed)."""
    base = load_scenario(BASE_SCENARIO)
    duration_s = minutes * 60.0
    reps = max(1, math.ceil(duration_s / base.duration_s - 1e-9))
    sc = Scenario(
        name=f"{BASE_SCENARIO}-x{reps}",
        description=f"{BASE_SCENARIO} repeated {reps} times (benchmark)",
        segments=tuple(base.segments) * reps,
    )
    return sc if math.isclose(sc.duration_s, duration_s) else sc.with_duration(duration_s)


def make_recording(session: SimulatedSession, seconds: float | None = None) -> Recording:
    """The session's three signals (the first ``seconds`` of each) as an in-memory recording."""
    signals = {}
    for m, fs in FS.items():
        x = session.signal(m)
        if seconds is not None:
            x = x[: round(seconds * fs)]
        signals[m] = Signal(x, fs, m)
    return Recording("bench", signals)


def head(session: SimulatedSession, seconds: float) -> SimulatedSession:
    """A copy of ``session`` holding only its first ``seconds`` (for the NeuroKit2 warm-up)."""
    return replace(
        session,
        duration_s=seconds,
        ecg=session.ecg[: round(seconds * FS["ecg"])],
        eda=session.eda[: round(seconds * FS["eda"])],
        resp=session.resp[: round(seconds * FS["resp"])],
    )


# --------------------------------------------------------------------------------------------
# timing helpers
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn``, garbage collected before."""
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


@dataclass
class Timing:
    """Best (minimum) time of a step over its runs."""

    runs: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.runs.append(seconds)

    @property
    def best(self) -> float:
        return min(self.runs)


# --------------------------------------------------------------------------------------------
# wot
def wot_counts(res: Any) -> dict[str, int]:
    return {
        "rpeaks": int(res.event("ecg", "rpeak_time").size),
        "scr": int(res.event("eda", "scr_peak_time").size),
        "breaths": int(res.event("resp", "breath_onset_time").size),
    }


def run_wot_analyze(csv_path: Path, out_dir: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["analyze", str(csv_path), "--out", str(out_dir)])
    if rc != 0:
        raise RuntimeError(f"wot analyze exited with status {rc}")


# --------------------------------------------------------------------------------------------
# NeuroKit2
def hrv_windows(n_samples: int, fs: float) -> list[tuple[int, int]]:
    """Sample bounds of the 5-minute windows every 30 s (one whole window if shorter)."""
    dur = n_samples / fs
    if dur <= HRV_WINDOW_S:
        return [(0, n_samples)]
    starts = np.arange(0.0, dur - HRV_WINDOW_S + 1e-9, HRV_STEP_S)
    return [(round(s * fs), round((s + HRV_WINDOW_S) * fs)) for s in starts]


def nk_hrv_sliding(nk: Any, peaks: np.ndarray, windows: list[tuple[int, int]], fs: float) -> int:
    """``nk.hrv_time`` on the R-peaks of every window; returns the number of windows done."""
    done = 0
    for a, b in windows:
        p = peaks[(peaks >= a) & (peaks < b)] - a
        if p.size >= 3:
            nk.hrv_time(p, sampling_rate=fs)
            done += 1
    return done


def nk_pass(nk: Any, session: SimulatedSession, windows: list[tuple[int, int]]) -> dict[str, Any]:
    """One NeuroKit2 pass: the time of each part and what it found."""
    ecg, eda, resp = session.ecg, session.eda, session.resp
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["ecg_process"], (_, info) = timed(
            lambda: nk.ecg_process(ecg, sampling_rate=int(FS["ecg"]))
        )
        peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
        out["hrv_time"], out["hrv_windows"] = timed(
            lambda: nk_hrv_sliding(nk, peaks, windows, FS["ecg"])
        )
        out["eda_process"], (_, eda_info) = timed(
            lambda: nk.eda_process(eda, sampling_rate=int(FS["eda"]))
        )
        out["rsp_process"], (_, rsp_info) = timed(
            lambda: nk.rsp_process(resp, sampling_rate=int(FS["resp"]))
        )
        # reference: the R-peak part of ecg_process only (its default cleaning + detector)
        out["ecg_peaks_only"], (_, lean_info) = timed(
            lambda: nk.ecg_peaks(
                nk.ecg_clean(ecg, sampling_rate=int(FS["ecg"])), sampling_rate=int(FS["ecg"])
            )
        )
    out["total"] = sum(out[k] for k in ("ecg_process", "hrv_time", "eda_process", "rsp_process"))
    out["lean_total"] = out["total"] - out["ecg_process"] + out["ecg_peaks_only"]
    scr = np.asarray(eda_info["SCR_Peaks"], dtype=np.float64)
    out["counts"] = {
        "rpeaks": int(peaks.size),
        "rpeaks_lean": int(np.asarray(lean_info["ECG_R_Peaks"]).size),
        "scr": int(np.isfinite(scr).sum()),
        "breaths": int(np.asarray(rsp_info["RSP_Troughs"]).size),  # inspiration onsets
    }
    return out


# --------------------------------------------------------------------------------------------
# reporting
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def xrt(duration_s: float, seconds: float) -> str:
    return f"{duration_s / seconds:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="data length, min (default 60)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per step (default 3)")
    args = ap.parse_args(argv)
    if not args.minutes >= 1.0:
        ap.error("--minutes must be at least 1")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_imp = time.perf_counter()
        import neurokit2 as nk

        nk_import_s = time.perf_counter() - t_imp

    # 1. data --------------------------------------------------------------------------------
    scenario = build_scenario(args.minutes)
    sim_cfg = SimConfig(ecg_fs=FS["ecg"], eda_fs=FS["eda"], resp_fs=FS["resp"], seed=SEED)
    sim_s, session = timed(lambda: simulate_session(scenario, sim_cfg))
    dur = session.duration_s
    rec = make_recording(session)
    windows = hrv_windows(session.ecg.size, FS["ecg"])

    # 2. wot in memory -------------------------------------------------------------------------
    warm_s, _ = timed(lambda: run_recording(make_recording(session, min(WARMUP_S, dur))))
    wot = Timing()
    res = None
    for _ in range(args.repeat):
        s, (res, _pipe) = timed(lambda: run_recording(rec))
        wot.add(s)
    assert res is not None
    counts_wot = wot_counts(res)
    n_frames = len(res.frames)

    # 3. wot analyze end to end ---------------------------------------------------------------
    with tempfile.TemporaryDirectory(prefix="wot-bench-") as tmp:
        tmpd = Path(tmp)
        csv_path = tmpd / "session.csv"
        csv_s, _ = timed(lambda: simulate_to_csv(scenario, SEED, csv_path, fs=CSV_FS))
        csv_mb = csv_path.stat().st_size / 1e6
        read_t, e2e = Timing(), Timing()
        for i in range(args.repeat):
            s, _ = timed(lambda: read_recording(csv_path))
            read_t.add(s)
            out_dir = tmpd / f"out{i}"
            s, _ = timed(lambda d=out_dir: run_wot_analyze(csv_path, d))
            e2e.add(s)
        summary = json.loads((tmpd / "out0" / "summary.json").read_text())
        counts_e2e = {k: int(summary["counts"][k]) for k in ("rpeaks", "scr", "breaths")}

    # 4. NeuroKit2 -----------------------------------------------------------------------------
    short = head(session, min(WARMUP_S, dur))
    nk_warm_s, _ = timed(lambda: nk_pass(nk, short, hrv_windows(short.ecg.size, FS["ecg"])))
    passes = [nk_pass(nk, session, windows)]
    nk_repeat = args.repeat
    nk_note = f"best of {nk_repeat}"
    if args.repeat > 2 and passes[0]["total"] > NK_SLOW_S:
        nk_repeat = 2
        nk_note = (
            f"best of {nk_repeat}, capped at min(--repeat, 2) because one pass took "
            f"{passes[0]['total']:.1f} s > {NK_SLOW_S:g} s"
        )
    while len(passes) < nk_repeat:
        passes.append(nk_pass(nk, session, windows))

    def nk_best(key: str) -> float:
        return min(p[key] for p in passes)

    counts_nk = passes[0]["counts"]

    # 5. report --------------------------------------------------------------------------------
    wot_best, e2e_best = wot.best, e2e.best
    nk_total, nk_lean = nk_best("total"), nk_best("lean_total")
    n_win = passes[0]["hrv_windows"]
    print("wot-biofeedback offline benchmark (benchmarks/bench_analyze.py)")
    print(
        f"machine : {platform.platform()}; CPU {cpu_model()}; {os.cpu_count()} cores "
        f"({len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} usable)"
    )
    print(
        f"software: Python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, numba {numba.__version__}, neurokit2 {nk.__version__}"
    )
    print(f"threads : {', '.join(f'{v}=1' for v in THREAD_VARS)} (set before importing numpy)")
    print(
        f"data    : {dur:.0f} s ({dur / 60:.0f} min) simulated, scenario {scenario.name} "
        f"({len(scenario.segments)} segments), seed {SEED}; ECG {session.ecg.size} samples "
        f"@ {FS['ecg']:g} Hz, EDA {session.eda.size} @ {FS['eda']:g} Hz, "
        f"RESP {session.resp.size} @ {FS['resp']:g} Hz"
    )
    print(
        f"timing  : time.perf_counter; wot best of {args.repeat}; NeuroKit2 {nk_note}; "
        f"x real time = {dur:.0f} s / time"
    )
    print()

    rows: list[list[str]] = []

    def row(label: str, seconds: float, runs: int | str, compare: bool = True) -> None:
        rows.append([label, f"{seconds:.3f}", xrt(dur, seconds) if compare else "", str(runs)])

    row("simulate session (simulate_session, 3 rates)", sim_s, 1)
    row(f"wot warm-up: run_recording on first {min(WARMUP_S, dur):g} s (jit)", warm_s, 1, False)
    row(f"wot pipeline in memory (run_recording, {n_frames} frames)", wot_best, args.repeat)
    row(f"  setup: write CSV @ {CSV_FS:g} Hz ({csv_mb:.1f} MB, simulate_to_csv)", csv_s, 1, False)
    row(f"wot analyze end to end (cli.main, CSV {csv_mb:.1f} MB)", e2e_best, args.repeat)
    row("  incl. reading the CSV (read_recording alone)", read_t.best, args.repeat)
    row("NeuroKit2 ecg_process (ECG 250 Hz)", nk_best("ecg_process"), nk_repeat)
    row(f"NeuroKit2 hrv_time x {n_win} (5-min windows every 30 s)", nk_best("hrv_time"), nk_repeat)
    row("NeuroKit2 eda_process (EDA 32 Hz)", nk_best("eda_process"), nk_repeat)
    row("NeuroKit2 rsp_process (RESP 50 Hz)", nk_best("rsp_process"), nk_repeat)
    row("NeuroKit2 total (the four above)", nk_total, nk_repeat)
    row("  reference: ecg_clean + ecg_peaks only", nk_best("ecg_peaks_only"), nk_repeat)
    row("  reference: total with R-peaks only for ECG", nk_lean, nk_repeat)
    print(fmt_table(["step", "time (s)", "x real time", "runs"], rows, {1, 2, 3}))
    print()
    print(
        f"(neurokit2 import {nk_import_s:.2f} s and a NeuroKit2 warm-up on 60 s "
        f"{nk_warm_s:.2f} s, not counted; parts are each best of their runs, totals are the best "
        "per-run sum)"
    )
    print()

    ratios = [
        ["NeuroKit2 total / wot pipeline in memory", f"{nk_total / wot_best:.1f}"],
        ["NeuroKit2 total / wot analyze end to end", f"{nk_total / e2e_best:.1f}"],
        ["NeuroKit2 total with R-peaks only / wot pipeline", f"{nk_lean / wot_best:.2f}"],
        ["NeuroKit2 total with R-peaks only / wot analyze e2e", f"{nk_lean / e2e_best:.2f}"],
    ]
    print(fmt_table(["ratio (> 1: wot is faster)", "value"], ratios, {1}))
    print()

    truth = {
        "rpeaks": session.beat_times_s.size,
        "scr": session.scr_onsets_s.size,
        "breaths": session.breath_onsets_s.size,
    }
    sanity = [
        [
            "R-peaks",
            str(counts_wot["rpeaks"]),
            str(counts_e2e["rpeaks"]),
            f"{counts_nk['rpeaks']} (clean+peaks {counts_nk['rpeaks_lean']})",
            str(truth["rpeaks"]),
        ],
        [
            "SCRs",
            str(counts_wot["scr"]),
            str(counts_e2e["scr"]),
            str(counts_nk["scr"]),
            str(truth["scr"]),
        ],
        [
            "breaths (inspiration onsets)",
            str(counts_wot["breaths"]),
            str(counts_e2e["breaths"]),
            str(counts_nk["breaths"]),
            str(truth["breaths"]),
        ],
    ]
    print("sanity check: events found over the session")
    print(
        fmt_table(
            ["events", "wot in memory", "wot analyze (CSV)", "NeuroKit2", "simulator truth"],
            sanity,
            {1, 2, 3, 4},
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
