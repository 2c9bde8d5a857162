"""Shared fixtures: real-data location, unique LSL ids, offscreen Qt."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# wot run/demo record every session by default: the test suite's go to a temporary directory
os.environ.setdefault("WOT_RECORD_DIR", tempfile.mkdtemp(prefix="wot-test-sessions-"))

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def wot_data() -> Path:
    """The shared real recordings; tests using them skip loudly when absent."""
    d = data_dir()
    if not (d / "mitdb").is_dir():
        pytest.skip(
            f"real recordings not found at {d} (set WOT_DATA_DIR to the shared data folder; "
            "the PhysioNet records can be fetched with wfdb, see README)"
        )
    return d


@pytest.fixture
def source_id() -> str:
    """A unique LSL source_id prefix so parallel tests never see each other's streams."""
    return f"wot-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rng() -> np.random.Generator:
    seed = int(os.environ.get("WOT_TEST_SEED", "12345"))
    print(f"random seed {seed}")
    return np.random.default_rng(seed)
