"""`wot analyze` gives today exactly what it gave when the stored run was made.

Speed work (issue 20) must not move a single frame, zone or event: the analysis of one
simulated session is stored in ``tests/data/analyze_full_session_seed7/`` (made with commit
dfdd127, before that work) and every output file is compared with it byte for byte.
``summary.json``, which prints every float in full, was made again on 2026-12-06 when the numba
kernels stopped fusing multiplies and adds (``dsp._numba``: a kernel loaded from the cache gave
other last bits than one compiled afresh); its baseline medians moved in the 13th digit or
beyond, and every CSV file, zone and frame stayed the same.

The input is made again here by ``wot simulate`` (900 s of ``full-session``, seed 7, 250 Hz,
5 % artifacts, all three zones reached); its SHA-256 is checked first, so that a change of the
simulator is told apart from a change of the analysis.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from wot_biofeedback.cli import main

STORED = Path(__file__).parent / "data" / "analyze_full_session_seed7"
INPUT_SHA256 = "dd72f72c4a2a9ba78edb0a6d608bf7b2ecd273da50dfd48f29ec203e58a226b0"
FILES = ["features.csv", "states.csv", "beats.csv", "rr.csv", "scr.csv", "breaths.csv"]
# what depends on where and with what the run was made, not on the analysis
VOLATILE = {("input", "path"), ("software", "version"), ("software", "python")}


def _stored(name: str) -> bytes:
    return gzip.decompress((STORED / f"{name}.gz").read_bytes())


def _summary(raw: bytes) -> dict:
    doc = json.loads(raw)
    for outer, inner in VOLATILE:
        doc[outer].pop(inner)
    return doc


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("stored_run")
    src = tmp / "in.csv"
    args = ["--fs", "250", "--artifacts", "0.05", "--seed", "7", "--out", str(src)]
    assert main(["simulate", *args]) == 0
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    if digest != INPUT_SHA256:
        pytest.fail(
            f"the simulator's output changed (SHA-256 {digest}): the stored run no longer "
            "applies; check the simulator change, then make the stored run again"
        )
    assert main(["analyze", str(src), "--out", str(tmp / "out")]) == 0
    return tmp / "out"


@pytest.mark.parametrize("name", FILES)
def test_output_file_is_byte_identical(run: Path, name: str) -> None:
    got = (run / name).read_bytes()
    want = _stored(name)
    if got != want:
        g, w = got.decode().splitlines(), want.decode().splitlines()
        first = next((i for i, (a, b) in enumerate(zip(g, w, strict=False)) if a != b), None)
        where = f"line {first + 1}: {g[first]!r} != {w[first]!r}" if first is not None else ""
        pytest.fail(f"{name} differs ({len(g)} lines, stored {len(w)}) {where}")


def test_summary_is_identical(run: Path) -> None:
    got = _summary((run / "summary.json").read_bytes())
    want = _summary(_stored("summary.json"))
    assert got == want
    # the stored run reaches every zone, so a change anywhere in the state engine shows
    assert all(want["time_in_zone_s"][z] > 60 for z in ("hyper", "within", "hypo"))
