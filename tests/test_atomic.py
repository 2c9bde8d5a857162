"""JSON outputs (summary.json, wot assess --out, client profiles) are written whole or not at
all, with NaN as null."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from wot_biofeedback.atomic import write_json


def test_nan_and_infinities_become_null_and_numpy_scalars_numbers(tmp_path):
    path = tmp_path / "summary.json"
    write_json(path, {"a": math.nan, "b": [1.0, -math.inf], "c": np.float32(0.5), "d": np.int64(3)})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": 0.5, "d": 3}


def test_an_object_json_cannot_hold_leaves_the_old_file(tmp_path):
    path = tmp_path / "summary.json"
    write_json(path, {"ok": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_json(path, {"ok": 2, "bad": object()})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temp file left


def test_a_reader_never_sees_half_a_file(tmp_path):
    """A real writer process replaces a 1 MB file 50 times while this process reads it: every
    read is a whole document, the old one or the new one."""
    path = tmp_path / "big.json"
    n = 100_000
    write_json(path, {"i": -1, "data": list(range(n))})
    code = (
        "import sys; from wot_biofeedback.atomic import write_json\n"
        f"for i in range(50): write_json(sys.argv[1], {{'i': i, 'data': list(range({n}))}})\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)])
    seen = []
    try:
        while True:
            done = writer.poll() is not None
            doc = json.loads(path.read_text())  # raises on a truncated file
            assert len(doc["data"]) == n
            seen.append(doc["i"])
            if done:
                break
    finally:
        assert writer.wait(timeout=120) == 0
    assert seen[-1] == 49 and seen == sorted(seen)  # only ever the old or a newer whole file
    print(f"{len(set(seen))} versions among {len(seen)} reads while they were replaced")
