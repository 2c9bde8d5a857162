"""Shared fixtures: real-data location, unique LSL ids, offscreen Qt; markers by fixture.

Markers are applied here, from what a test uses, so they cannot be forgotten:

- ``realdata``: the test uses the ``wot_data`` fixture (the shared real recordings);
- ``lsl``: it uses the ``source_id`` fixture (every LSL test needs unique ids). A test that
  opens an LSL outlet, inlet or resolver in this process without being marked fails, saying so;
- ``qt``: it uses ``qtbot`` or ``qapp``;
- ``slow``: set by hand on the long live scenarios (``-m "not slow"`` for a quick run).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# wot run/demo record every session by default: the test suite's go to a temporary directory,
# removed at the end of the run
_RECORD_DIR: str | None = None
if "WOT_RECORD_DIR" not in os.environ:
    _RECORD_DIR = tempfile.mkdtemp(prefix="wot-test-sessions-")
    os.environ["WOT_RECORD_DIR"] = _RECORD_DIR

ROOT = Path(__file__).resolve().parents[1]

# Tests send Ctrl-C (SIGINT) to the commands they start. A suite started in the background
# (`./dev test &`) has SIGINT ignored, as shells do for such jobs, and every process it starts
# would inherit that: Python then never raises KeyboardInterrupt, so the command under test runs
# on as if it had not been told. Each test process takes SIGINT as Python normally does.
if hasattr(signal, "SIGINT") and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_BY_FIXTURE = {"wot_data": "realdata", "source_id": "lsl", "qtbot": "qt", "qapp": "qt"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = _BY_FIXTURE.get(fixture)
            if marker is not None and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers more than there are cores, at least four.

    Many tests wait on real-time LSL streams, so a core can serve more than one worker (on 2
    cores: 6 min 0 s with three workers, 5 min 14 s with four); ``WOT_TEST_WORKERS`` overrides.
    """
    env = os.environ.get("WOT_TEST_WORKERS")
    if env:
        return int(env)
    return max(4, (os.cpu_count() or 1) + 2)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RECORD_DIR is not None:
        shutil.rmtree(_RECORD_DIR, ignore_errors=True)


_LSL_OPENERS = (
    ("StreamOutlet", "__init__"),
    ("StreamInlet", "__init__"),
    ("ContinuousResolver", "__init__"),
)
_LSL_FUNCTIONS = ("resolve_streams", "resolve_byprop", "resolve_bypred", "resolve_stream")


@pytest.fixture(autouse=True)
def _lsl_needs_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that opens LSL in this process without the ``lsl`` marker.

    The real pylsl calls still run; they are only counted, so ``-m "not lsl"`` really runs
    without the network.
    """
    if request.node.get_closest_marker("lsl") is not None:
        yield
        return
    import pylsl

    opened: list[str] = []
    saved: list[tuple[object, str, object]] = []

    def counting(owner: object, name: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            opened.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return real(*args, **kwargs)

        saved.append((owner, name, real))
        setattr(owner, name, wrapper)

    for cls, method in _LSL_OPENERS:
        if hasattr(pylsl, cls):
            counting(getattr(pylsl, cls), method)
    for fn in _LSL_FUNCTIONS:
        if hasattr(pylsl, fn):
            counting(pylsl, fn)
    try:
        yield
    finally:
        for owner, name, real in reversed(saved):
            setattr(owner, name, real)
    if opened:
        pytest.fail(
            f"this test opened LSL ({', '.join(sorted(set(opened)))}) but is not marked lsl: "
            "use the source_id fixture (or mark it @pytest.mark.lsl)"
        )


def data_dir() -> Path:
    return Path(os.environ.get("WOT_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def wot_data() -> Path:
    """The shared real recordings; tests using them skip loudly when absent."""
    d = data_dir()
    if not (d / "mitdb").is_dir():
        pytest.skip(
            f"real recordings not found at {d} (set WOT_DATA_DIR to the shared data folder; "
            "the PhysioNet records can be fetched with wfdb, see docs/development.md)"
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
