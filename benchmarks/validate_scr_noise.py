"""SCR specificity in coloured noise: how many responses are found where there are none?

Run on demand (prints a table, asserts nothing)::

    .venv/bin/python benchmarks/validate_scr_noise.py [--fs 100] [--minutes 10] [--seeds 3]
                                                       [--no-nk]

Each record is a 5 µS level with band-limited Gaussian noise added (zero-phase 2nd-order
Butterworth band-pass of white noise, scaled to an RMS of 0.005-0.04 µS: slow 0.05-0.5 Hz
wiggles, as thermoregulation, breathing and small movements give, and fast 0.5-1 Hz ones) and,
in a second run, with a 0.3 µS response (rise 1.5 s, recovery time constant 4 s) every 30 s.
Reported: false SCRs per minute on noise alone; with the responses, how many of them were found
(an onset from 0.5 s before to 3 s after the true one) and the false SCRs per minute besides.
For scale: spontaneous SCRs at rest run at 1-3 per minute (Dawson et al. 2007), so a false rate
of that order in the noise doubles what an event-related window sees by chance.

NeuroKit2's ``eda_process`` (default: onsets of SCR peaks above 10 % of the largest) runs on
the same records unless ``--no-nk``.

A second part is an **event-related picture task** at 1000 Hz (``--task-seeds``, 0 skips it):
40 pictures, 20 "emotional" and 20 "neutral" in random order every 15-25 s, on a 5 µS level with
slow tonic drift. Each emotional picture is followed by a response with probability 0.7
(median 0.25 µS), each neutral one with probability 0.3 (median 0.08 µS), 1.5-3 s after it;
spontaneous SCRs come at 2 a minute with small amplitudes (median 0.04 µS, many under 0.02 µS);
device noise is white (0.002 µS), slow (0.05-0.5 Hz, 0.005 µS), a 1.1 Hz pulse ripple
(0.003 µS), and the signal is quantised to 0.001 µS. Reported per condition: the share of
pictures followed by an SCR onset 1-5 s after them, beside the truth (a response of at least
the detector's minimum amplitude), and the SCR rate.

This measures issue 22's second part (SCR specificity) before any change to the detector.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from wot_biofeedback.dsp.eda import eda_scr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

BANDS = ((0.05, 0.5), (0.5, 1.0))
LEVELS = (0.0, 0.005, 0.01, 0.02, 0.04)
EVERY_S = 30.0
AMP_US = 0.3


def noise(n: int, fs: float, band: tuple[float, float], rms: float, seed: int) -> np.ndarray:
    if rms == 0.0:
        return np.zeros(n)
    sos = butter(2, band, "bandpass", fs=fs, output="sos")
    w = sosfiltfilt(sos, np.random.default_rng(seed).normal(size=n))
    return np.asarray(w * (rms / w.std()))


def responses(t: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """A 0.3 µS response at each onset: (1 - exp(-t/0.5 s)) exp(-t/4 s), scaled to its peak."""
    y = np.zeros(t.size)
    for t0 in onsets:
        m = t >= t0
        tt = t[m] - t0
        r = (1.0 - np.exp(-tt / 0.5)) * np.exp(-tt / 4.0)
        y[m] += AMP_US * r / r.max()
    return y


def onsets_ours(x: np.ndarray, fs: float) -> np.ndarray:
    return np.asarray(eda_scr(x, fs)["onset"]) / fs


def onsets_nk(x: np.ndarray, fs: float) -> np.ndarray:
    import warnings

    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, info = nk.eda_process(x, sampling_rate=round(fs))
        except ValueError:  # NeuroKit2 0.3.0 raises on a signal without any peak
            return np.empty(0)
    on = np.asarray(info["SCR_Onsets"], dtype=float)
    return on[np.isfinite(on)] / fs


def picture_task(seed: int, fs: float = 1000.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One synthetic picture task (see the module text): signal (µS) and the truth."""
    rng = np.random.default_rng(1000 + seed)
    gaps = rng.uniform(15.0, 25.0, 40)
    pics = 30.0 + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    emotional = rng.permutation(np.repeat([True, False], 20))
    dur = pics[-1] + 30.0
    n = round(dur * fs)
    t = np.arange(n) / fs
    on, amp = [], []
    p = np.where(emotional, 0.7, 0.3)
    med = np.where(emotional, 0.25, 0.08)
    evoked = rng.random(40) < p
    ev_amp = med * np.exp(0.5 * rng.standard_normal(40))
    on += list(pics[evoked] + rng.uniform(1.5, 3.0, 40)[evoked])
    amp += list(ev_amp[evoked])
    n_sp = rng.poisson(2.0 * dur / 60.0)
    on += list(rng.uniform(0.0, dur - 10.0, n_sp))
    amp += list(np.maximum(0.04 * np.exp(0.8 * rng.standard_normal(n_sp)), 0.005))
    x = np.full(n, 5.0)
    for t0, a in zip(on, amp, strict=True):
        i0 = int(t0 * fs)
        tt = t[i0 : i0 + int(30 * fs)] - t0
        r = (1.0 - np.exp(-tt / 0.5)) * np.exp(-tt / 4.0)
        x[i0 : i0 + tt.size] += a * r / r.max()
    drift = np.cumsum(rng.normal(0.0, 1.0, n // 1000 + 1))
    drift = np.interp(t, np.arange(drift.size), drift - drift.mean())
    x += 0.3 * drift / max(np.abs(drift).max(), 1e-9)
    x += rng.normal(0.0, 0.002, n) + noise(n, fs, (0.05, 0.5), 0.005, 2000 + seed)
    x += 0.003 * np.sin(2.0 * np.pi * 1.1 * t + rng.uniform(0, 2 * np.pi))
    x = np.round(x / 0.001) * 0.001
    truth = {"pictures": pics, "emotional": emotional, "evoked": evoked, "evoked_amp": ev_amp}
    return x, truth


def picture_task_table(seeds: int, detectors: list, minutes_note: str = "") -> None:
    fs = 1000.0
    print(f"\nEvent-related picture task at {fs:g} Hz, {seeds} seeds x 40 pictures "
          "(share of pictures with an SCR onset 1-5 s after)")  # fmt: skip
    print(f"{'detector':22s} {'emotional':>10s} {'neutral':>10s} {'truth emo/neu':>14s} "
          f"{'SCRs/min':>9s}")  # fmt: skip
    runs = [picture_task(s) for s in range(seeds)]
    for name, detect, min_amp in detectors:
        got = {True: [], False: []}
        true = {True: [], False: []}
        rate = []
        for x, tr in runs:
            on = detect(x, fs)
            rate.append(on.size / (x.size / fs / 60.0))
            for t0, emo, ev, a in zip(tr["pictures"], tr["emotional"], tr["evoked"],
                                      tr["evoked_amp"], strict=True):  # fmt: skip
                got[bool(emo)].append(bool(np.any((on >= t0 + 1.0) & (on <= t0 + 5.0))))
                true[bool(emo)].append(bool(ev and a >= min_amp))
        e, u = np.mean(got[True]), np.mean(got[False])
        te, tu = np.mean(true[True]), np.mean(true[False])
        print(f"{name:22s} {e:10.2f} {u:10.2f} {f'{te:.2f}/{tu:.2f}':>14s} {np.mean(rate):9.1f}")
        _report.emit(
            _report.EDA_RESP, f"synthetic picture task, 1000 Hz ({name})",
            "pictures with an SCR 1-5 s after: emotional / neutral (SCRs/min)",
            f"{e:.2f} / {u:.2f} ({np.mean(rate):.1f})", "simulated truth",
            f"{te:.2f} / {tu:.2f} evoked", f"{seeds} seeds x 40 pictures (validate_scr_noise.py)",
        )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fs", type=float, default=100.0)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-nk", action="store_true")
    ap.add_argument("--task-seeds", type=int, default=3)
    args = ap.parse_args(argv)
    fs, minutes = args.fs, args.minutes
    n = round(minutes * 60.0 * fs)
    t = np.arange(n) / fs
    onsets = np.arange(20.0, minutes * 60.0 - 20.0, EVERY_S)
    t_start = time.perf_counter()
    print(
        f"SCR specificity: {minutes:g} min at {fs:g} Hz, {args.seeds} seeds; "
        f"{onsets.size} responses of {AMP_US} µS per record in the second run"
    )
    results: dict[tuple[str, tuple[float, float], float], str] = {}
    detectors = [("wot", onsets_ours)] + ([] if args.no_nk else [("NeuroKit2", onsets_nk)])
    print(f"{'detector':10s} {'band Hz':9s} {'RMS µS':>7s} {'false/min, noise only':>22s} "
          f"{'found':>9s} {'false/min besides':>18s}")  # fmt: skip
    for name, detect in detectors:
        for band in BANDS:
            for rms in LEVELS:
                false_only, found, false_with = [], 0, []
                for seed in range(args.seeds):
                    w = noise(n, fs, band, rms, seed)
                    false_only.append(detect(5.0 + w, fs).size / minutes)
                    on = detect(5.0 + w + responses(t, onsets), fs)
                    hit = np.zeros(on.size, dtype=bool)
                    for t0 in onsets:
                        near = np.flatnonzero((on > t0 - 0.5) & (on < t0 + 3.0))
                        if near.size:
                            found += 1
                            hit[near[0]] = True
                    false_with.append((~hit).sum() / minutes)
                total = onsets.size * args.seeds
                results[(name, band, rms)] = f"{np.mean(false_only):.2f}; {found}/{total}"
                print(
                    f"{name:10s} {f'{band[0]:g}-{band[1]:g}':9s} {rms:7.3f} "
                    f"{np.mean(false_only):22.2f} {found:4d}/{total:<4d} "
                    f"{np.mean(false_with):18.2f}"
                )
    for band in BANDS:
        for rms in LEVELS[1:]:
            nk = results.get(("NeuroKit2", band, rms), "")
            _report.emit(
                _report.EDA_RESP,
                f"coloured noise {band[0]:g}-{band[1]:g} Hz, RMS {rms:g} µS",
                "false SCRs/min on noise alone; 0.3 µS responses found",
                results[("wot", band, rms)], "NeuroKit2 eda_process" if nk else "", nk,
                f"{args.seeds} seeds x {minutes:g} min at {fs:g} Hz (validate_scr_noise.py)",
            )  # fmt: skip
    if args.task_seeds > 0:
        task = [
            ("wot (0.02 µS)", onsets_ours, 0.02),
            ("wot (0.05 µS)", lambda x, fs: eda_scr(x, fs, 0.05)["onset"] / fs, 0.05),
        ]
        if not args.no_nk:
            task.append(("NeuroKit2", onsets_nk, 0.0))
        picture_task_table(args.task_seeds, task)
    print(f"\n{time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
