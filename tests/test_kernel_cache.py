"""numba's on-disk kernels are dropped when any source of the package changes (``dsp._numba``):
numba itself checks a cached kernel against its own file only, and the cardiac one-call kernel
compiles three other modules' kernels into itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from wot_biofeedback.dsp import _numba
from wot_biofeedback.dsp.hrv_freq import (
    B_COHERENCE,
    B_HF,
    B_LF,
    N_BAND_OUT,
    band_powers,
    coherence_power,
    lf_hf_powers,
    lomb_grid,
)

PACKAGE = Path(os.path.dirname(os.path.abspath(_numba.__file__)))


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_changed_source_drops_the_packages_kernels_and_nothing_else(tmp_path: Path) -> None:
    src, cache = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    (src / "cardiac.py").write_text("x = 1\n")
    (src / "hrv.py").write_text("y = 2\n")
    (cache / "other_0123").mkdir(parents=True)
    ours = ["cardiac._ecg_step-567.py311.nbi", "cardiac._ecg_step-567.py311.1.nbc",
            "hrv._rr_correct-40.py311.nbi"]  # fmt: skip
    # another package's kernels (in a folder of their own, as numba keeps them, even with a
    # module of the same name), a design, a kernel of a module not in src
    others = ["other_0123/hrv.kernel-3.py311.nbi", "designs-abc.json", "acc.f-1.py311.nbi"]
    for name in ours + others:
        (cache / name).write_bytes(b"compiled")
    missing = tmp_path / "no-such-folder"
    # no hash yet (a cache from before the hash was kept): dropped, the hash written
    gone = _numba.drop_stale_kernels(src, [missing, cache])
    assert sorted(p.name for p in gone) == sorted(ours)
    assert _files(cache) == {*others, _numba.STAMP_NAME}
    # the first folder, not made yet (a new NUMBA_CACHE_DIR), is made with today's hash, so
    # the kernels numba then writes there are not taken for stale ones at the next start
    assert _files(missing) == {_numba.STAMP_NAME}
    assert (missing / _numba.STAMP_NAME).read_text().strip() == _numba.sources_hash(src)
    # a fallback folder that is not there is not made (numba may never use it)
    fallback = tmp_path / "fallback"
    assert _numba.drop_stale_kernels(src, [missing, fallback]) == [] and not fallback.exists()
    # the same sources: kept
    (cache / ours[0]).write_bytes(b"compiled")
    assert _numba.drop_stale_kernels(src, [cache]) == []
    assert ours[0] in _files(cache)
    # one module changed (as an edit or a pull leaves it): every kernel of the package goes
    (src / "hrv.py").write_text("y = 3\n")
    assert [p.name for p in _numba.drop_stale_kernels(src, [cache])] == [ours[0]]
    assert _numba.drop_stale_kernels(src, [cache]) == []
    # a damaged hash file: taken as other sources, never an error at import
    (cache / _numba.STAMP_NAME).write_bytes(b"\xff\xfe")
    (cache / ours[0]).write_bytes(b"compiled")
    assert [p.name for p in _numba.drop_stale_kernels(src, [cache])] == [ours[0]]


def test_a_new_process_drops_kernels_made_from_other_sources(tmp_path: Path) -> None:
    """The real package in a process of its own, with numba's cache in a folder of this
    test's: a kernel file left from other sources goes on import; from these, it stays."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    folder = tmp_path / _numba.kernel_folders(PACKAGE)[1].name  # numba's folder for the package
    folder.mkdir()
    leftover = folder / "cardiac._ecg_step-1.py311.nbi"
    elsewhere = tmp_path / "other_0123" / "cardiac.k-1.py311.nbi"  # another package's
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"theirs")

    def start() -> None:
        subprocess.run([sys.executable, "-c", "import wot_biofeedback.dsp"], env=env,
                       check=True, timeout=120)  # fmt: skip

    (folder / _numba.STAMP_NAME).write_text("0" * 64 + "\n")  # made from other sources
    leftover.write_bytes(b"old")
    start()
    assert not leftover.exists() and elsewhere.read_bytes() == b"theirs"
    assert (folder / _numba.STAMP_NAME).read_text().strip() == _numba.sources_hash(PACKAGE)
    leftover.write_bytes(b"current")
    start()
    assert leftover.read_bytes() == b"current"


def test_the_cardiac_frames_band_slots_equal_band_powers_to_the_bit() -> None:
    """``lf_hf_powers`` and ``coherence_power`` (what the cardiac frames compute) give
    ``band_powers``' own values in the slots the frames read, NaN cases included."""
    freqs, _omega = lomb_grid()
    rng = np.random.default_rng(3)
    cases = [rng.gamma(2.0, 50.0, freqs.size) for _ in range(20)]
    peaked = np.full(freqs.size, 1.0)
    peaked[np.argmin(np.abs(freqs - 0.1))] = 5000.0
    cases += [np.zeros(freqs.size), np.full(freqs.size, np.nan), peaked]
    part = cases[0].copy()
    part[5] = np.nan
    cases.append(part)
    for psd in cases:
        want = np.full(N_BAND_OUT, np.nan)
        band_powers(freqs, psd, want)
        got = np.full(N_BAND_OUT, np.nan)
        lf_hf_powers(freqs, psd, got)
        coherence_power(freqs, psd, got)
        for slot in (B_LF, B_HF, B_COHERENCE):
            assert np.array_equal(got[slot], want[slot], equal_nan=True), (slot, got, want)
            assert got[slot].tobytes() == want[slot].tobytes()


_WELCH = """
import hashlib
import numpy as np
from wot_biofeedback.dsp.hrv_freq import StreamingWelch
rng = np.random.default_rng(1)
rr = 800 + 50 * np.sin(np.arange(3000) * 0.3) + 20 * rng.standard_normal(3000)
w = StreamingWelch()
w.add(np.cumsum(rr) / 1000, rr)
print(hashlib.sha256(np.ascontiguousarray(w.periodograms).tobytes()).hexdigest())
"""


def test_kernels_loaded_from_the_cache_give_the_bits_of_a_fresh_compile(tmp_path: Path) -> None:
    """A new ``NUMBA_CACHE_DIR``: the first process compiles, the second loads what the first
    wrote (its kernel files untouched) and computes the same bits. With LLVM free to fuse a
    multiply and an add (``fastmath`` "contract"), machine code loaded from the cache gave
    other last bits than the same kernels compiled in the process (Welch periodograms), so a
    session's live and offline runs could differ with the state of the cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def start() -> str:
        done = subprocess.run([sys.executable, "-c", _WELCH], env=env, check=True,
                              timeout=300, capture_output=True, text=True)  # fmt: skip
        return done.stdout.strip()

    fresh = start()
    kernels = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nb[ic]")}
    assert any(p.name.startswith("hrv_freq.welch_add_beats") for p in kernels)
    cached = start()
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nb[ic]")} == kernels, (
        "the second process compiled again instead of loading the first one's kernels"
    )
    assert cached == fresh
