"""numba's on-disk kernels are dropped when any source of the package changes (``dsp._numba``):
numba itself checks a cached kernel against its own file only, and the cardiac one-call kernel
compiles three other modules' kernels into itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wot_biofeedback.dsp import _numba


def _files(cache: Path) -> set[str]:
    return {p.name for p in cache.rglob("*") if p.is_file()}


def test_a_changed_source_drops_the_packages_kernels_and_nothing_else(tmp_path: Path) -> None:
    src, cache = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    (src / "cardiac.py").write_text("x = 1\n")
    (src / "hrv.py").write_text("y = 2\n")
    (cache / "sub").mkdir(parents=True)
    ours = ["cardiac._ecg_step-567.py311.nbi", "cardiac._ecg_step-567.py311.1.nbc",
            "sub/hrv._rr_correct-40.py311.nbi"]  # fmt: skip
    others = ["other.kernel-3.py311.nbi", "designs-abc.json"]
    for name in ours + others:
        (cache / name).write_bytes(b"compiled")
    # no hash yet (a cache from before the hash was kept): dropped, the hash written
    gone = _numba.drop_stale_kernels(src, cache)
    assert sorted(p.name for p in gone) == sorted(Path(n).name for n in ours)
    assert _files(cache) == {*others, _numba.STAMP_NAME}
    # the same sources: kept
    (cache / ours[0]).write_bytes(b"compiled")
    assert _numba.drop_stale_kernels(src, cache) == []
    assert ours[0] in _files(cache)
    # one module changed (as an edit or a pull leaves it): every kernel of the package goes
    (src / "hrv.py").write_text("y = 3\n")
    assert [p.name for p in _numba.drop_stale_kernels(src, cache)] == [ours[0]]
    assert _numba.drop_stale_kernels(src, cache) == []


def test_a_new_process_drops_kernels_made_from_other_sources(tmp_path: Path) -> None:
    """The real package in a process of its own, with numba's cache in a folder of this
    test's: a kernel file left from other sources goes on import; from these, it stays."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    leftover = tmp_path / "cardiac._ecg_step-1.py311.nbi"

    def start() -> None:
        subprocess.run([sys.executable, "-c", "import wot_biofeedback.dsp"], env=env,
                       check=True, timeout=120)  # fmt: skip

    (tmp_path / _numba.STAMP_NAME).write_text("0" * 64 + "\n")  # made from other sources
    leftover.write_bytes(b"old")
    start()
    assert not leftover.exists()
    stamp = (tmp_path / _numba.STAMP_NAME).read_text().strip()
    assert stamp == _numba.sources_hash(Path(_numba.__file__).resolve().parent)
    leftover.write_bytes(b"current")
    start()
    assert leftover.read_bytes() == b"current"
