"""Filter and window designs remembered on disk (``dsp._designs``): scipy's bits, read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from wot_biofeedback.dsp import _designs, acc, eda, filters, hrv_freq, ppg


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The designs kept in a folder of this test's own, read afresh."""
    monkeypatch.setattr(_designs, "cache_folder", lambda: tmp_path)
    _forget(monkeypatch)
    return tmp_path


def _forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a new process: nothing in memory, everything from the file (the module's state is
    put back after the test)."""
    monkeypatch.setattr(_designs, "_memory", None)
    monkeypatch.setattr(_designs, "_folder", None)


CASES = [
    ("lowpass", 0.5, 32.0, 2),
    ("lowpass", 40.0, 250.0, 4),
    ("highpass", 0.05, 4.0, 1),
    ("highpass", 5.0, 1000.0, 2),
    ("bandpass", (5.0, 15.0), 250.0, 2),
    ("bandpass", (0.1, 1.0), 50.0, 3),
    ("lowpass", 100.0, 128.0, 2),  # pulled under 0.45 fs
]


def _scipy_sos(kind: str, cutoff: float | tuple[float, float], fs: float, order: int) -> np.ndarray:
    wn = (
        (cutoff[0], min(cutoff[1], 0.45 * fs))
        if isinstance(cutoff, tuple)
        else min(cutoff, 0.45 * fs)
    )
    return signal.butter(order, wn, btype=kind, fs=fs, output="sos")


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("case", CASES)
def test_butterworth_and_steady_state_are_scipys_bits(
    case: tuple, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = _scipy_sos(*case)
    want_zi = signal.sosfilt_zi(want)
    for _ in range(2):  # made by scipy and stored, then read back from the file
        sos = filters.butter_sos(*case)
        assert _same_bits(sos, want)
        assert _same_bits(filters.sos_zi_unit(sos), want_zi)
        _forget(monkeypatch)
    assert (folder / _designs.FILE_NAME).is_file()


def test_group_delays_and_windows_are_scipys(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sos = filters.butter_sos("lowpass", 1.0, 32.0, 2)
    _, gd = signal.group_delay(signal.sos2tf(sos), w=[0.05], fs=32.0)
    want_eda = float(gd[0]) / 32.0
    _, gd = signal.group_delay(signal.sos2tf(sos), w=[2.0], fs=32.0)
    want_ppg = float(gd[0])
    want_acc = (
        sum(float(signal.group_delay((s[:3], s[3:]), w=[0.3], fs=32.0)[1][0]) for s in sos) / 32.0
    )
    for _ in range(2):
        assert eda._lowpass_delay(sos, 32.0) == want_eda
        assert ppg._lowpass_delay(sos, 32.0) == want_ppg
        assert acc._group_delay_s(sos, 0.3, 32.0) == want_acc
        for w in ("hann", ("tukey", 0.25), "boxcar"):
            assert _same_bits(hrv_freq._window(w, 256), signal.get_window(w, 256))
        _forget(monkeypatch)


def test_parameters_that_differ_in_the_last_bit_are_different_designs(folder: Path) -> None:
    a = filters.butter_sos("lowpass", 0.1, 32.0, 2)
    b = filters.butter_sos("lowpass", np.nextafter(0.1, 1.0), 32.0, 2)
    assert not _same_bits(a, b)
    assert _same_bits(b, _scipy_sos("lowpass", np.nextafter(0.1, 1.0), 32.0, 2))


def test_a_damaged_file_is_designed_again_and_mended(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filters.butter_sos("lowpass", 3.0, 100.0, 2)
    path = folder / _designs.FILE_NAME
    doc = json.loads(path.read_text())
    (key,) = doc
    doc[key]["f8"] = "not base64 at all!"
    path.write_text(json.dumps(doc))
    _forget(monkeypatch)
    assert _same_bits(
        filters.butter_sos("lowpass", 3.0, 100.0, 2), _scipy_sos("lowpass", 3.0, 100.0, 2)
    )
    path.write_text("{ truncated")
    _forget(monkeypatch)
    assert _same_bits(
        filters.butter_sos("lowpass", 3.0, 100.0, 2), _scipy_sos("lowpass", 3.0, 100.0, 2)
    )
    assert key in json.loads(path.read_text())  # written whole again


def test_no_folder_to_write_still_designs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_designs, "cache_folder", lambda: None)
    _forget(monkeypatch)
    assert _same_bits(
        filters.butter_sos("highpass", 0.7, 50.0, 2), _scipy_sos("highpass", 0.7, 50.0, 2)
    )


def test_an_error_is_not_remembered(folder: Path) -> None:
    with pytest.raises(ValueError):
        filters.butter_sos("lowpass", -1.0, 32.0, 2)
    assert not (folder / _designs.FILE_NAME).exists()


def test_versions_and_the_code_are_part_of_every_key(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filters.butter_sos("lowpass", 2.0, 32.0, 2)
    import scipy

    (key,) = json.loads((folder / _designs.FILE_NAME).read_text())
    assert key.endswith(f"|scipy {scipy.__version__} numpy {np.__version__}")

    # an edited design function is designed again, not read back stale
    def half(fs: float) -> float:
        return 0.05 * fs

    def edited(fs: float) -> float:
        return 0.5 * fs

    edited.__qualname__ = half.__qualname__  # same name, new body
    assert _designs.remembered(half)(10.0) == 0.5
    _forget(monkeypatch)
    assert _designs.remembered(edited)(10.0) == 5.0


CHILD = """
import sys
from wot_biofeedback.offline import run_recording
from wot_biofeedback.dsp import warm_up
warm_up(("ecg", "ppg", "rr", "eda", "resp", "acc"))
print("scipy.signal" in sys.modules)
"""


def test_a_second_process_never_imports_scipy_signal() -> None:
    """What the cache is for: with the designs stored, the engine's import and every channel's
    construction leave ``scipy.signal`` (about 0.5 s to import) unloaded."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = [sys.executable, "-c", CHILD]
    subprocess.run(run, env=env, check=True, capture_output=True, text=True, timeout=300)
    second = subprocess.run(run, env=env, check=True, capture_output=True, text=True, timeout=300)
    assert second.stdout.strip() == "False", second.stderr
