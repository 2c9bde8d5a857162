"""Small deterministic synthetic signals for unit tests (independent of the simulator)."""

from __future__ import annotations

import math
import struct
from pathlib import Path

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


def write_xdf(path: Path, streams: list[dict]) -> None:
    """A small XDF 1.0 file: file header, stream headers, one samples chunk and a footer per
    stream (no clock offsets). Each stream: name, type, fs, fmt (float32 or string), labels,
    units, timestamps, rows."""

    def varlen(n: int) -> bytes:
        return b"\x08" + struct.pack("<Q", n)

    def chunk(tag: int, content: bytes) -> bytes:
        return varlen(len(content) + 2) + struct.pack("<H", tag) + content

    out = bytearray(b"XDF:")
    out += chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, start=1):
        chans = "".join(
            f"<channel><label>{lab}</label><unit>{u}</unit></channel>"
            for lab, u in zip(s["labels"], s["units"], strict=True)
        )
        xml = (
            f'<?xml version="1.0"?><info><name>{s["name"]}</name><type>{s["type"]}</type>'
            f"<channel_count>{len(s['labels'])}</channel_count>"
            f"<nominal_srate>{s['fs']}</nominal_srate><channel_format>{s['fmt']}</channel_format>"
            f"<source_id>src{sid}</source_id><desc><channels>{chans}</channels></desc></info>"
        )
        out += chunk(2, struct.pack("<I", sid) + xml.encode())
    for sid, s in enumerate(streams, start=1):
        ts, rows = s["timestamps"], s["rows"]
        if len(ts):
            body = bytearray(struct.pack("<I", sid) + varlen(len(ts)))
            for t, row in zip(ts, rows, strict=True):
                body += b"\x08" + struct.pack("<d", t)
                if s["fmt"] == "string":
                    for v in row:
                        body += varlen(len(v.encode())) + v.encode()
                else:
                    body += struct.pack(f"<{len(row)}f", *row)
            out += chunk(3, bytes(body))
        footer = (
            f'<?xml version="1.0"?><info><sample_count>{len(ts)}</sample_count></info>'
        ).encode()
        out += chunk(6, struct.pack("<I", sid) + footer)
    path.write_bytes(bytes(out))


def assert_same_frames(a, b, what: str = "") -> int:
    """Frames present in both are identical (features, zone, arousal, confidence)."""
    fb = {f.index: f for f in b}
    n = 0
    for f in a:
        g = fb.get(f.index)
        if g is None:
            continue
        n += 1
        assert f.state.zone == g.state.zone, (what, f.time_s, f.state.zone, g.state.zone)
        for x, y, name in (
            (f.state.arousal, g.state.arousal, "arousal"),
            (f.state.confidence, g.state.confidence, "confidence"),
            *((f.features[k], g.features[k], k) for k in f.features),
        ):
            assert (math.isnan(x) and math.isnan(y)) or x == y, (what, f.time_s, name, x, y)
    return n


def paced_series(amp_by_rate, steps, seed=0, resp_rate_by_step=None, lead_deg=0.0, noise=1.0):
    """Beats whose heart rate swings sinusoidally at each step's rate with the given amplitude
    (bpm, half peak-to-trough), leading breathing by ``lead_deg``, plus noise; and a breathing
    signal at the pacer's rate."""
    rng = np.random.default_rng(seed)
    t_end = steps[-1].end_s
    tg = np.arange(0.0, t_end, 0.01)
    hr = np.full(tg.size, 70.0)
    resp = np.zeros(tg.size)
    for i, s in enumerate(steps):
        m = (tg >= s.start_s) & (tg < s.end_s)
        f = s.rate_bpm / 60.0
        hr[m] += amp_by_rate[s.rate_bpm] * np.sin(2 * np.pi * f * tg[m] + np.radians(lead_deg))
        fr = (resp_rate_by_step or {}).get(i, s.rate_bpm) / 60.0
        resp[m] = np.sin(2 * np.pi * fr * tg[m])
    hr += np.convolve(rng.normal(0, noise, tg.size), np.ones(300) / 300 * 10, "same")
    phase = np.cumsum(hr / 60.0 * 0.01)
    beats = np.interp(np.arange(1, int(phase[-1])), phase, tg)
    return beats[1:], np.diff(beats) * 1000.0, tg, resp
