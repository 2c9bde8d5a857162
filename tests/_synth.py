"""Small deterministic synthetic signals for unit tests (independent of the simulator)."""

from __future__ import annotations

import numpy as np


def ecg_like(
    fs: float, duration_s: float, hr_bpm: float = 70.0, seed: int = 0, noise: float = 0.02
):
    """Gaussian QRS-like spikes with a T wave; returns (signal_mV, true_peak_indices)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    rr = 60.0 / hr_bpm
    beats = (
        np.arange(0.5, duration_s - 0.5, rr)
        + rng.normal(0, 0.01, size=int((duration_s - 1.0) / rr) + 1)[
            : len(np.arange(0.5, duration_s - 0.5, rr))
        ]
    )
    x = rng.normal(0, noise, n) + 0.1 * np.sin(2 * np.pi * 0.25 * t)
    for b in beats:
        x += 1.2 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x -= 0.25 * np.exp(-0.5 * ((t - b - 0.03) / 0.01) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return x, np.round(beats * fs).astype(int)


def scr_like(fs: float, duration_s: float, onsets_s, amp_us: float = 0.3, level: float = 5.0):
    """Conductance with Bateman-shaped SCRs at the given onsets (µS)."""
    t = np.arange(int(duration_s * fs)) / fs
    x = np.full(t.size, level)
    for o in onsets_s:
        d = np.clip(t - o, 0, None)
        shape = np.exp(-d / 3.0) - np.exp(-d / 0.7)
        x += amp_us * shape / shape.max()
    return x


def breathing(
    fs: float, duration_s: float, rate_bpm: float = 12.0, depth: float = 1.0, seed: int = 0
):
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    x = depth * np.sin(2 * np.pi * rate_bpm / 60.0 * t) + 0.3 * np.sin(2 * np.pi * 0.01 * t)
    return x + rng.normal(0, 0.02, t.size)
