"""LabRecorder XDF files read a block at a time (sources/xdfsync.py): their time stamps
synchronised with the clock offsets and dejittered exactly as ``pyxdf.load_xdf`` does it (to
within 10 ns), clock resets, pauses, the pylsl#67 ending and a stream that can drop samples
included; the same in memory as on disk; and the signals placed where the sender's clock says.
Files: the XDF project's own test recordings (``$WOT_DATA_DIR/xdf``) and LabRecorder-layout
files of simulated sessions with the clock troubles real ones have
(``wot_simulators.labrecorder``)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from wot_simulators import SimConfig, load_scenario, simulate_session
from wot_simulators.labrecorder import LabRecorderFile, SenderClock, Spec, write_session

from wot_biofeedback.clock import GAP_MIN_S, GAP_MIN_SAMPLES
from wot_biofeedback.sources import spill
from wot_biofeedback.sources.files import read_recording
from wot_biofeedback.sources.xdf import encode_xdf, read_xdf
from wot_biofeedback.sources.xdfsync import SyncOptions, synchronize

DATA = Path(os.environ.get("WOT_DATA_DIR", Path(__file__).parents[1] / ".." / "shared" / "data"))
SHARED = ["minimal.xdf", "clock_resets.xdf", "empty_streams.xdf"]
DURATION_S = 180.0


@pytest.fixture(scope="module")
def session():
    return simulate_session(load_scenario("full-session"), SimConfig(seed=3), DURATION_S)


VARIANTS = {
    "plain": {"clock": SenderClock(seed=1)},
    "reset": {"clock": SenderClock(seed=2, reset_at_s=90.0)},
    "pause": {"clock": SenderClock(seed=3), "pause": {"ECG": (60.0, 80.0)}},
    "pylsl67": {"clock": SenderClock(seed=4), "pylsl67": True},
    "exact": {"clock": SenderClock(seed=5, jitter_s=0.0, drift=0.0)},
}


@pytest.fixture(scope="module")
def files(session, tmp_path_factory):
    folder = tmp_path_factory.mktemp("labrecorder")
    out = {}
    for name, opts in VARIANTS.items():
        out[name] = write_session(folder / f"{name}.xdf", session, **opts)
    # a stream that says it can drop samples (video-like) is not dejittered; int16, 2 channels
    spec = [
        Spec("ECG", "ECG", 250.0),
        Spec("CAM", "Video", 30.0, 2, "int16",
             "<synchronization><can_drop_samples>true</can_drop_samples></synchronization>"),
    ]  # fmt: skip
    with LabRecorderFile(folder / "drop.xdf", spec, SenderClock(seed=6)) as f:
        f.write(0.0, {"ECG": session.ecg, "CAM": np.ones((int(DURATION_S * 30), 2))})
        f.marker(10.0, "start")
    out["drop"] = folder / "drop.xdf"
    return out


def _pyxdf(path: Path, **options) -> dict[int, np.ndarray]:
    import pyxdf

    logging.getLogger("pyxdf.pyxdf").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        streams, _ = pyxdf.load_xdf(str(path), verbose=False, **options)
    return {int(s["info"]["stream_id"]): np.asarray(s["time_stamps"]) for s in streams}


def _ours(path: Path, opt: SyncOptions) -> tuple[dict[int, np.ndarray], list[str], set[str]]:
    notes: list[str] = []
    out, kinds = {}, set()
    for st in read_xdf(path).streams:
        ts = st.time_stamps
        kinds.add(type(ts).__name__)
        ts = ts if isinstance(ts, spill.DiskArray) else np.asarray(ts, dtype=np.float64)
        keep = synchronize(st, ts, opt, notes)
        out[st.stream_id] = np.asarray(ts)[:keep]
    return out, notes, kinds


OPTIONS = {
    "pyxdf defaults": {},
    "wot's breaks": {
        "jitter_break_threshold_seconds": GAP_MIN_S,
        "jitter_break_threshold_samples": GAP_MIN_SAMPLES,
    },
}


def _check(path: Path, options: dict, monkeypatch, spilled: bool) -> list[str]:
    if spilled:
        monkeypatch.setenv("WOT_SPILL_MB", "0")
        monkeypatch.setattr(spill, "BLOCK_ROWS", 4096)  # many blocks, and spans across them
    want = _pyxdf(path, **options)
    got, notes, kinds = _ours(path, SyncOptions(**options))
    assert kinds == ({"DiskArray", "ndarray"} if spilled else {"ndarray"})  # (text: in memory)
    assert got.keys() == want.keys()
    for sid, ts in want.items():
        assert got[sid].shape == ts.shape, sid
        np.testing.assert_allclose(got[sid], ts, rtol=0, atol=1e-8, err_msg=f"stream {sid}")
    return notes


@pytest.mark.parametrize("spilled", [False, True], ids=["in memory", "on disk"])
@pytest.mark.parametrize("options", list(OPTIONS))
@pytest.mark.parametrize("variant", [*VARIANTS, "drop"])
def test_time_stamps_are_pyxdfs(variant, options, spilled, files, monkeypatch):
    notes = _check(files[variant], OPTIONS[options], monkeypatch, spilled)
    if variant == "pylsl67":
        assert any("pylsl#67" in n for n in notes), notes
    else:
        assert not notes


@pytest.mark.parametrize("name", SHARED)
def test_time_stamps_of_the_xdf_projects_recordings_are_pyxdfs(name, monkeypatch):
    path = DATA / "xdf" / name
    if not path.exists():
        pytest.skip(f"{path} not found: set WOT_DATA_DIR to the shared data folder")
    for options in OPTIONS.values():
        _check(path, options, monkeypatch, spilled=False)


def test_a_labrecorder_file_is_placed_where_the_senders_clock_says(files, session):
    """Synchronised, dejittered and placed: every sample where it was taken, the pause and the
    sender's restart left as gaps (NaN) so that what follows keeps its place, the values the
    simulated ones (as float32)."""
    fs = session.config.ecg_fs
    rec = read_recording(files["plain"])
    ecg = rec.signals["ecg"]
    assert abs(ecg.t0) < 2e-3 and ecg.fs == fs
    np.testing.assert_array_equal(np.asarray(ecg.data), session.ecg.astype(np.float32))
    paused = read_recording(files["pause"]).signals["ecg"]
    data = np.asarray(paused.data)
    gap = np.isnan(data)
    assert abs(int(gap.sum()) - 20 * fs) <= 2
    assert np.flatnonzero(gap)[0] == pytest.approx(60 * fs, abs=2)
    after = np.flatnonzero(~gap & (np.arange(len(data)) > 80 * fs))[0]
    assert data[after] == np.float32(session.ecg[after])  # in its place after the pause
    reset = read_recording(files["reset"])
    for m, sig in reset.signals.items():
        d = np.asarray(sig.data)
        assert abs(int(np.isnan(d).sum()) - 30 * sig.fs) <= 2, m  # the restart: a gap
        assert abs(len(d) - DURATION_S * sig.fs) <= 2, m
    assert any("pauses in the stream are left as gaps" in n for n in reset.notes)


def test_a_damaged_time_stamp_gets_its_stretchs_line(files, tmp_path):
    """A time stamp that is not finite is left out of the fit and given the line's time: its
    sample stays in its place (pyxdf would make its whole stretch NaN)."""
    xf = read_xdf(files["exact"])
    ecg = next(s for s in xf.streams if s.name == "ECG")
    ecg.time_stamps[1000] = np.nan
    ecg.time_stamps[2000] = np.inf
    bad = tmp_path / "nan.xdf"
    bad.write_bytes(encode_xdf(xf))
    rec = read_recording(bad)
    good = read_recording(files["exact"])
    assert not [n for n in rec.notes if "left out" in n], rec.notes
    np.testing.assert_array_equal(np.asarray(rec.signals["ecg"].data),
                                  np.asarray(good.signals["ecg"].data))  # fmt: skip
    assert rec.signals["ecg"].t0 == pytest.approx(good.signals["ecg"].t0, abs=1e-9)


@pytest.mark.parametrize("variant", ["pause", "reset", "drop"])
def test_a_labrecorder_file_reads_the_same_on_disk(variant, files, monkeypatch):
    def read() -> tuple:
        rec = read_recording(files[variant])
        sig = {m: (np.asarray(s.data), s.t0, type(s.data).__name__) for m, s in rec.signals.items()}
        return sig, rec.notes, rec.markers

    monkeypatch.setattr(spill, "BLOCK_ROWS", 5000)
    held = read()
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    disk = read()
    assert disk[1:] == held[1:]
    for m, (data, t0, _kind) in held[0].items():
        np.testing.assert_array_equal(disk[0][m][0], data)
        assert disk[0][m][1] == t0
    assert disk[0]["ecg"][2] == "DiskArray"  # (a stream under 64 KiB stays in memory)


def _write(path: Path, fs: float, stamps: np.ndarray, times: np.ndarray, values: np.ndarray):
    """One stream's samples, then its clock offsets (as a damaged or hostile file may)."""
    import struct

    from wot_biofeedback.sources import xdf

    hdr = (
        f"<?xml version='1.0'?><info><name>S</name><type>ECG</type><channel_count>1"
        f"</channel_count><nominal_srate>{fs!r}</nominal_srate><channel_format>float32"
        "</channel_format></info>"
    )
    parts = [xdf.MAGIC, xdf.chunk(xdf.TAG_FILE_HEADER, b"<info><version>1.0</version></info>"),
             xdf.chunk(xdf.TAG_STREAM_HEADER, struct.pack("<I", 1) + hdr.encode()),
             xdf.numeric_samples(1, stamps, np.zeros((len(stamps), 1)), "float32")]  # fmt: skip
    parts += [xdf.clock_offset(1, float(t), float(v)) for t, v in zip(times, values, strict=True)]
    path.write_bytes(b"".join(parts))
    return read_xdf(path).streams[0]


def test_damaged_clock_offsets_and_time_stamps_cost_a_bounded_effort(tmp_path):
    """Offsets whose collection time steps back every time (hundreds of 'resets') and time
    stamps that break at every sample are each said in a note and left alone, not fitted a
    thousand iterations a stretch or a stretch a sample."""
    stamps = 100.0 + np.arange(2000) / 100.0
    times = np.tile([120.0, 110.0], 500)  # steps back at every other one: 500 resets
    st = _write(tmp_path / "resets.xdf", 100.0, stamps, times, np.zeros(1000))
    ts = np.asarray(st.time_stamps, dtype=np.float64)
    notes: list[str] = []
    synchronize(st, ts, SyncOptions(), notes)
    assert any("jump 500 times: damaged, not used" in n for n in notes), notes
    np.testing.assert_allclose(ts, stamps, atol=1e-9)  # not moved (and dejittered: a line)
    rng = np.random.default_rng(1)
    scattered = 100.0 + np.cumsum(rng.uniform(0.0, 20.0, 2000))  # a break at every sample
    st = _write(tmp_path / "broken.xdf", 100.0, scattered, np.zeros(0), np.zeros(0))
    ts = np.asarray(st.time_stamps, dtype=np.float64)
    notes = []
    synchronize(st, ts, SyncOptions(), notes)
    assert any("break more often than every 4 samples (or 1,000,000 times)" in n for n in notes)
    np.testing.assert_array_equal(ts, scattered)


def test_a_short_stream_in_a_long_recording_keeps_its_clock_offsets(tmp_path, monkeypatch):
    """LabRecorder measures clock offsets for the whole recording, however short a stream's
    samples (a marker stream, a sensor switched on late): three hours of offsets for two
    seconds of samples are used. A stretch of more offsets than the fit takes is fitted
    through every k-th of them: the same line where they lie on one."""
    from wot_biofeedback.sources import xdfsync

    short = 5000.0 + np.arange(200) / 100.0
    times = 3000.0 + np.arange(2200) * 5.0
    st = _write(tmp_path / "short.xdf", 100.0, short, times, 3.0 + 1e-6 * (times - 3000.0))
    ts = np.asarray(st.time_stamps, dtype=np.float64)
    notes: list[str] = []
    synchronize(st, ts, SyncOptions(), notes)
    want = short + 3.0 + 1e-6 * (short - 3000.0)
    assert not notes
    np.testing.assert_allclose(ts, want, atol=1e-9)
    monkeypatch.setattr(xdfsync, "MAX_FIT_OFFSETS", 50)
    st = _write(tmp_path / "short2.xdf", 100.0, short, times, 3.0 + 1e-6 * (times - 3000.0))
    thin = np.asarray(st.time_stamps, dtype=np.float64)
    synchronize(st, thin, SyncOptions(), notes)
    np.testing.assert_allclose(thin, want, atol=1e-9)


def test_one_stream_for_two_modalities_is_synchronised_once(session, tmp_path):
    """``--ecg Dev --resp Dev``: one two-channel stream gives both, each its labelled channel,
    its time stamps synchronised once (not its clock offsets added twice)."""
    spec = [Spec("Dev", "Dev", 250.0, 2, labels=("ECG", "RESP"))]
    both = np.column_stack([session.ecg, np.resize(session.resp, len(session.ecg))])
    with LabRecorderFile(tmp_path / "dev.xdf", spec, SenderClock(seed=7)) as f:
        f.write(0.0, {"Dev": both})
    rec = read_recording(tmp_path / "dev.xdf", {"ecg": "Dev", "resp": "Dev"})
    ecg, resp = rec.signals["ecg"], rec.signals["resp"]
    np.testing.assert_array_equal(np.asarray(ecg.data), both[:, 0].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(resp.data), both[:, 1].astype(np.float32))
    assert abs(ecg.t0) < 2e-3 and resp.t0 == ecg.t0


def test_a_stream_whose_time_stamps_are_mostly_infinite_keeps_its_finite_ones(files, tmp_path):
    """A stream that is not dejittered (it can drop samples) with most time stamps infinite:
    the samples with finite ones are kept, placed by the median of the finite ones."""
    xf = read_xdf(files["drop"])
    ecg = next(s for s in xf.streams if s.name == "ECG")
    ecg.header.find("desc").append(  # type: ignore[union-attr]
        __import__("xml.etree.ElementTree").etree.ElementTree.fromstring(
            "<synchronization><can_drop_samples>true</can_drop_samples></synchronization>"
        )
    )
    ecg.clock_times = ecg.clock_values = np.zeros(0)  # (no offsets: the stamps stay infinite)
    ecg.offset_runs = (np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int32))
    n = len(ecg.time_stamps)
    ecg.time_stamps[: n * 2 // 3] = np.inf
    bad = tmp_path / "inf.xdf"
    bad.write_bytes(encode_xdf(xf))
    rec = read_recording(bad, {"ecg": "ECG"})
    assert len(rec.signals["ecg"].data) >= n - n * 2 // 3
    assert any(f"{n * 2 // 3} sample(s) of stream 'ECG'" in note for note in rec.notes)


def test_a_marker_stream_with_a_rate_is_dejittered_by_the_same_rule(tmp_path):
    """A text stream that declares a rate is dejittered with the same break rule as the
    signals (the session clock's gap rule): its times are pyxdf's with those thresholds."""
    import struct

    from wot_biofeedback.sources import xdf

    def hdr(sid: int, name: str, fmt: str, fs: float) -> bytes:
        xml = (
            f"<?xml version='1.0'?><info><name>{name}</name><type>{name}</type><channel_count>1"
            f"</channel_count><nominal_srate>{fs!r}</nominal_srate><channel_format>{fmt}"
            "</channel_format></info>"
        )
        return xdf.chunk(xdf.TAG_STREAM_HEADER, struct.pack("<I", sid) + xml.encode())

    t = 100.0 + np.arange(300) / 10.0
    t[100:] += 2.0  # a 2-s pause: a break for the session clock's rule, not pyxdf's default
    t[200:] += 2.0
    ecg = 100.0 + np.arange(34 * 250) / 250.0
    parts = [xdf.MAGIC, xdf.chunk(xdf.TAG_FILE_HEADER, b"<info><version>1.0</version></info>"),
             hdr(1, "ECG", "float32", 250.0), hdr(2, "Markers", "string", 10.0),
             xdf.numeric_samples(1, ecg, np.zeros((len(ecg), 1)), "float32"),
             xdf.string_samples(2, t, [f"m{k}" for k in range(len(t))])]  # fmt: skip
    path = tmp_path / "markers.xdf"
    path.write_bytes(b"".join(parts))
    want = _pyxdf(path, **OPTIONS["wot's breaks"])[2]
    rec = read_recording(path)
    got = np.array([tm for tm, _ in rec.markers])
    np.testing.assert_allclose(got, want - 100.0, atol=1e-6)
