"""Bounded memory offline: signals spilled to temporary files (sources/spill.py), the exact
median step of a time column found a block at a time (csvfile._select), and a run's frames
kept as columns (frames.FrameTable), each giving back exactly what an in-memory version
gives. The peak memory itself is measured by benchmarks/bench_offline_memory.py."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from wot_biofeedback.frames import FrameTable
from wot_biofeedback.pipeline import Frame
from wot_biofeedback.sources import spill
from wot_biofeedback.sources.csvfile import _select
from wot_biofeedback.state import StateResult

RNG = np.random.default_rng(7)


# DiskArray and Columns --------------------------------------------------------------------
@pytest.fixture
def values() -> np.ndarray:
    return RNG.normal(size=2_345)


def _disk(x: np.ndarray, parts: int = 3) -> spill.DiskArray:
    d = spill.DiskArray(x.shape[1] if x.ndim == 2 else 0)
    for part in np.array_split(x, parts):
        d.append(part)
    return d


@pytest.mark.parametrize(
    "key",
    [slice(None), slice(3, 17), slice(3, 17, 4), slice(None, None, -1), slice(900, 10, -7),
     slice(5, 2), slice(-10, None), slice(2000, 3000), slice(2344, 2345), 0, -1, 1234],
)  # fmt: skip
def test_disk_array_reads_like_numpy(values, key):
    d = _disk(values)
    assert len(d) == values.size and d.shape == values.shape and d.ndim == 1
    np.testing.assert_array_equal(d[key], values[key])


def test_disk_array_two_dimensional_scaled_and_whole(values):
    x = values[:2340].reshape(-1, 3)
    d = _disk(x)
    assert d.shape == (780, 3) and d.ndim == 2 and d.nbytes == x.nbytes
    np.testing.assert_array_equal(d[10:20], x[10:20])
    np.testing.assert_array_equal(np.asarray(d), x)
    half = d * 0.5  # a view on the same file, scaled as it is read
    np.testing.assert_array_equal(half[100:200], x[100:200] * 0.5)
    np.testing.assert_array_equal((2.0 * half)[5:9], x[5:9])
    with pytest.raises(ValueError, match="read-only"):
        half.append(x[:1])
    with pytest.raises(IndexError):
        d[780]
    with pytest.raises(TypeError, match="by slices"):
        d[[1, 2]]


def test_disk_array_views_of_rows_writes_in_place_and_one_column_as_flat(values):
    x = values[:2340].reshape(-1, 3)
    d = _disk(x)
    part = d.view(100, 400)  # rows of the same file, no copy
    assert part.shape == (300, 3)
    np.testing.assert_array_equal(part[10:20], x[110:120])
    np.testing.assert_array_equal((part * 2.0).view(5, 9)[:], x[105:109] * 2.0)
    np.testing.assert_array_equal(part.view(290)[:], x[390:400])
    d.write(50, np.zeros((2, 3)))
    np.testing.assert_array_equal(d[49:53], np.vstack([x[49], [0, 0, 0], [0, 0, 0], x[52]]))
    np.testing.assert_array_equal(part[:1], x[100:101])  # a view reads what is there now
    part.write(1, np.ones((1, 3)))  # a view of rows writes into its array
    np.testing.assert_array_equal(d[101], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="read-only"):
        (part * 2.0).write(0, x[:1])
    with pytest.raises(IndexError):
        part.write(299, x[:2])
    with pytest.raises(IndexError):
        d.write(779, x[:2])
    with pytest.raises(ValueError, match="not one column"):
        d.view(flat=True)
    one = _disk(values[:, None])
    flat = one.view(10, 20, flat=True)
    assert flat.shape == (10,) and flat.ndim == 1
    np.testing.assert_array_equal(flat[:], values[10:20])


@pytest.mark.parametrize("kind", ["sorted", "repeats", "unsorted", "nan"])
def test_searchsorted_of_a_spilled_array_is_numpys(kind):
    """numpy's binary search, one value read at a time: the same index even where the array
    is not sorted or holds NaN (damaged time stamps)."""
    rng = np.random.default_rng(3)
    a = np.sort(rng.normal(size=1_000))
    if kind == "repeats":
        a = np.sort(rng.integers(0, 20, 1_000).astype(float))
    elif kind == "unsorted":
        a = rng.normal(size=1_000)
    elif kind == "nan":
        a[rng.integers(0, 1_000, 30)] = np.nan
    d = _disk(a)
    for x in [*rng.normal(size=50), -np.inf, np.inf, np.nan, 5.0, a[0], a[-1], a[500]]:
        for side in ("left", "right"):
            assert spill.searchsorted(d, x, side) == np.searchsorted(a, x, side), (x, side)
            assert spill.searchsorted(a, x, side) == np.searchsorted(a, x, side)


def test_finite_range_a_block_at_a_time(values, monkeypatch):
    monkeypatch.setattr(spill, "BLOCK_ROWS", 100)
    x = values.copy()
    x[[5, 700]] = np.nan
    x[1500] = np.inf
    lo, hi, every = spill.finite_range(_disk(x))
    good = x[np.isfinite(x)]
    assert (lo, hi, every) == (good.min(), good.max(), False)
    assert spill.finite_range(values) == (values.min(), values.max(), True)
    assert spill.finite_range(np.array([np.nan])) == (np.inf, -np.inf, False)
    assert spill.finite_range(np.zeros(0))[2]


def test_disk_array_file_has_no_name_and_is_gone_with_the_array(values):
    """The temporary file is unnamed (nothing left behind even if the process is killed) and
    its descriptor is closed when the array is collected or closed."""
    before = set(os.listdir(Path("/proc/self/fd"))) if Path("/proc/self/fd").exists() else None
    d = _disk(values)
    fd = d._file.fileno()
    if before is not None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        assert "(deleted)" in target or target.startswith("/proc") or "#" in target, target
    d.close()
    assert d._file.closed
    e = _disk(values)
    f = e._file
    del e
    assert f.closed  # collected: closed with it


def test_columns_spill_when_they_pass_the_limit(values):
    """In memory while small; on disk from the add that passes the limit, with every value
    added before it; the same numbers either way."""
    rows = values[:2340].reshape(-1, 2)
    small = spill.Columns(2, 10, limit=1 << 20)
    big = spill.Columns(2, 10, limit=8 * 2 * 500)  # passes it at the third add below
    for part in np.array_split(rows, 4):
        small.add(part)
        big.add(part)
    assert not small.spilled and big.spilled and big.rows == small.rows == len(rows)
    for a, b, want in zip(small.finish(), big.finish(), rows.T, strict=True):
        assert isinstance(a, np.ndarray) and isinstance(b, spill.DiskArray)
        np.testing.assert_array_equal(a, want)
        np.testing.assert_array_equal(np.asarray(b), want)
    assert spill.Columns(2, 10**9).spilled  # sized from the file: on disk from the start


def test_spill_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("WOT_SPILL_MB", "1.5")
    assert spill.spill_bytes() == int(1.5 * (1 << 20))
    for junk in ("lots", "inf", "1e400", "nan", "-5"):  # said, and the default used
        monkeypatch.setenv("WOT_SPILL_MB", junk)
        with pytest.warns(UserWarning, match=f"WOT_SPILL_MB='{junk}' is not a number of megab"):
            assert spill.spill_bytes() == spill.SPILL_BYTES
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    assert spill.spill_bytes() == 0
    monkeypatch.delenv("WOT_SPILL_MB")
    assert spill.spill_bytes() == spill.SPILL_BYTES


def test_stack_and_median_of_spilled_columns(values, monkeypatch):
    cols = [values[:800], values[800:1600], values[1545:2345]]
    st = spill.stack([_disk(c) for c in cols])
    assert isinstance(st, spill.Stacked) and st.shape == (800, 3)
    np.testing.assert_array_equal(st[7:19], np.column_stack(cols)[7:19])
    np.testing.assert_array_equal((st * 3.0)[0:5], np.column_stack(cols)[0:5] * 3.0)
    assert isinstance(spill.stack(cols), np.ndarray)
    x = values.copy()
    x[::5] = np.nan
    x[1:40:3] = np.inf  # counted, as np.nanmedian counts them
    assert spill.median(x) == np.nanmedian(x)
    monkeypatch.setattr(spill, "BLOCK_ROWS", 100)
    assert spill.median(_disk(x)) == np.nanmedian(x)  # few enough: every value
    strided = spill.median(_disk(x), most=600)  # every 4th value: at most 600 of them
    assert abs(strided - np.nanmedian(x)) < 0.2
    assert np.isnan(spill.median(np.full(10, np.nan)))


# the exact median step ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 5000])
def test_select_is_numpy_median_exactly(n):
    """Duplicates, values across many binades and a few outliers: bit for bit np.median."""
    steps = np.concatenate([np.full(n // 2, 0.004), RNG.uniform(0.0039, 0.0041, n - n // 2)])
    steps[: max(1, n // 50)] = RNG.uniform(1e-9, 1e6, max(1, n // 50))
    RNG.shuffle(steps)
    parts = np.array_split(steps, 7)
    mid = _select(lambda: iter(parts), sorted({(n - 1) // 2, n // 2}))
    got = (mid[0] + mid[-1]) / 2 if n % 2 == 0 else mid[0]
    assert got == np.median(steps)
    k = n // 3
    assert _select(lambda: iter(parts), [k]) == [np.sort(steps)[k]]


# FrameTable -----------------------------------------------------------------------------------
def _frame(i: int, keys: tuple[str, ...] = ("hr_bpm", "scl_us", "quality_ecg")) -> Frame:
    feats = {k: float(RNG.normal()) for k in keys}
    if i % 3 == 0 and "scl_us" in feats:
        feats["scl_us"] = float("nan")
    z = {"hr_bpm": float(RNG.normal())} if i % 2 else {}
    drivers = [("hr_bpm", 1.5, "HR 80 bpm"), ("scl_us", -0.25, f"SCL {i % 4} µS")][: i % 3]
    state = StateResult(i / 4 + 0.01, ("within", "hyper", "hypo", "unknown")[i % 4],
                        float(RNG.normal()), 0.5, drivers, f"zone {i % 5}", z)  # fmt: skip
    return Frame(i, i / 4, feats, state, None)


def test_frame_table_gives_back_each_frame_as_it_was_given():
    frames = [_frame(i) for i in range(40)]
    frames[7] = _frame(7, ("scl_us", "hr_bpm"))  # another key order
    frames[9] = _frame(9, ("hr_bpm", "rsa_ms"))  # a key no other frame has
    table = FrameTable(frames)
    assert len(table) == 40 and bool(table) and not FrameTable()
    assert [repr(f) for f in table] == [repr(f) for f in frames]  # NaN compares as text
    assert list(table[7].features) == ["scl_us", "hr_bpm"]
    assert repr(table[-1]) == repr(frames[-1]) and [repr(f) for f in table[3:9:2]] == [
        repr(f) for f in frames[3:9:2]
    ]
    with pytest.raises(IndexError):
        table[40]
    np.testing.assert_array_equal(table.times(), [f.time_s for f in frames])
    assert table.zones() == [f.state.zone for f in frames]
    np.testing.assert_array_equal(table.arousal(), [f.state.arousal for f in frames])
    # a feature a frame does not have: the default there, its value (NaN too) elsewhere
    want = [f.features.get("rsa_ms", -1.0) for f in frames]
    np.testing.assert_array_equal(table.column("rsa_ms", -1.0), want)
    scl = [f.features.get("scl_us", np.nan) for f in frames]
    np.testing.assert_array_equal(table.column("scl_us"), scl)
    assert np.isnan(table.column("nothing")).all()


def test_frame_table_rewrites_truncates_and_keeps_cues():
    from wot_biofeedback.cues import Cue

    frames = [_frame(i) for i in range(12)]
    frames[4].cue = Cue(1.0, "hyper", "breath", "Breathe out slowly")
    table = FrameTable(frames)
    assert table[4].cue == frames[4].cue and table[5].cue is None
    new = _frame(100)
    new.state.explanation += " (scored after calibration)"
    new.state.drivers = [("rsa_ms", 2.0, "RSA up")]
    table[2] = new
    frames[2] = new
    assert [repr(f) for f in table] == [repr(f) for f in frames]
    table.truncate(5)
    assert [repr(f) for f in table] == [repr(f) for f in frames[:5]]
    table.append(frames[11])
    assert len(table) == 6 and repr(table[5]) == repr(frames[11])


# XDF read through a mapping ------------------------------------------------------------------
@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    from _crafted import base_recording

    return base_recording(tmp_path_factory.mktemp("xdf") / "base.xdf")


def _streams(path: Path) -> list[tuple]:
    from wot_biofeedback.sources import xdf

    f = xdf.read_xdf(path)
    out = []
    for s in f.streams:
        series = s.time_series if isinstance(s.time_series, list) else np.asarray(s.time_series)
        out.append((s.stream_id, s.name, np.asarray(s.time_stamps).tolist(),
                    series if isinstance(series, list) else series.tolist(), s.breaks,
                    s.corrected_stamps().tolist(), s.offset_index.tolist()))  # fmt: skip
    return out


def test_xdf_mapped_gzipped_and_paged_out_read_the_same(recording, tmp_path, monkeypatch):
    """The file is mapped, not read into memory; a .xdfz is decompressed into an unnamed
    temporary file and mapped; pages gone through are handed back as the reader goes (forced
    here every page): every stream comes out the same each way."""
    import gzip

    from wot_biofeedback.sources import xdf

    whole = _streams(recording)
    assert {"ECG", "wot-session"} <= {s[1] for s in whole}
    assert any(len(s[2]) > 1000 for s in whole)
    gz = tmp_path / "base.xdfz"
    gz.write_bytes(gzip.compress(recording.read_bytes()))
    assert _streams(gz) == whole
    monkeypatch.setattr(xdf._Mapped, "STEP", 1)
    assert _streams(recording) == whole


def test_xdf_numbers_past_the_limit_are_decoded_to_disk(recording, monkeypatch):
    """Past ``WOT_SPILL_MB`` the numbers are decoded into temporary files a chunk at a time
    (as float64, the type the analysis reads): the same values, time stamps, breaks and clock
    offsets as in memory; the clock offsets applied in place on disk."""
    from wot_biofeedback.sources import xdf

    whole = _streams(recording)
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    assert _streams(recording) == whole
    f = xdf.read_xdf(recording)
    ecg = f.by_name("ECG")
    assert ecg is not None and ecg.spilled and isinstance(ecg.time_series, spill.DiskArray)
    assert not f.by_name("wot-session").spilled  # text stays text
    want = ecg.corrected_stamps()
    monkeypatch.setattr(spill, "BLOCK_ROWS", 333)
    got = ecg.apply_clock_offsets()
    assert isinstance(got, spill.DiskArray)
    np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(ecg.corrected_stamps(), want)  # nothing left to apply


def test_one_corrected_stamp_is_that_of_all(recording):
    from wot_biofeedback.sources import xdf

    for s in xdf.read_xdf(recording).streams:
        if len(s.time_stamps):
            all_ = s.corrected_stamps()
            for i in (0, len(all_) // 2, len(all_) - 1):
                assert s.corrected_stamp(i) == all_[i]


def test_an_empty_or_foreign_file_is_not_xdf(tmp_path):
    from wot_biofeedback.sources import xdf

    empty = tmp_path / "empty.xdf"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="not an XDF file"):
        xdf.read_xdf(empty)
    other = tmp_path / "other.xdf"
    other.write_bytes(b"PK\x03\x04" + bytes(5000))
    with pytest.raises(ValueError, match="not an XDF file"):
        xdf.read_xdf(other)


@pytest.mark.parametrize("count", ["60000", "65536"])
def test_a_damaged_channel_count_allocates_no_more_than_the_file_holds(recording, tmp_path, count):
    """The stream's arrays are sized from the chunks whose bytes can hold their count at the
    header's layout: a channel count damaged to tens of thousands is repaired from the chunks
    (as before), without first asking for count x samples of memory (gigabytes: a MemoryError
    on a long recording, found in review)."""
    import tracemalloc

    from _crafted import Chunks
    from wot_biofeedback.sources import xdf

    c = Chunks(recording.read_bytes())
    c.edit_header("ECG", "channel_count", count)
    p = tmp_path / "damaged.xdf"
    p.write_bytes(c.to_bytes())
    tracemalloc.start()
    try:
        f = xdf.read_xdf(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    ecg = f.by_name("ECG")
    assert ecg is not None and ecg.time_series.shape[1] == 1  # repaired from its chunks
    assert any(f"channel_count {count}, but its samples chunks hold 1" in m for m in f.problems)
    assert peak < 20 * p.stat().st_size  # not count x samples (15,000 x 60,000 x 4 bytes)


def test_frame_table_truncates_in_place_and_rewrites_drop_old_keys():
    frames = [_frame(i, ("hr_bpm", "scl_us", "rsa_ms")) for i in range(30)]
    table = FrameTable(frames)
    before = table._features.cols["hr_bpm"]
    table.truncate(10)
    assert table._features.cols["hr_bpm"] is before  # the same columns, cut: nothing rebuilt
    assert [repr(f) for f in table] == [repr(f) for f in frames[:10]]
    table.append(frames[20])
    assert repr(table[10]) == repr(frames[20])
    table[0] = _frame(0, ("hr_bpm",))  # the row no longer has scl_us or rsa_ms
    assert np.isnan(table.column("rsa_ms")[0]) and np.isnan(table.column("scl_us")[0])
    assert list(table[0].features) == ["hr_bpm"]


def test_disk_array_refuses_rows_that_do_not_fit_and_takes_none():
    d = spill.DiskArray(3)
    d.append(np.zeros((0, 3)))  # nothing: fine
    with pytest.raises(ValueError, match="do not fit an array of 3 columns"):
        d.append(np.zeros(6))
    with pytest.raises(ValueError, match="one dimension"):
        spill.DiskArray().append(np.zeros((2, 2)))
    assert len(d) == 0


def _one_stream_file(path: Path, stamps: np.ndarray, flags_zero: bool = False) -> Path:
    """A stream of one samples chunk (as some writers make a whole file), its time stamps all
    written, or all but the first deduced from the rate (flag 0)."""
    import struct

    from wot_biofeedback.sources import xdf

    hdr = (
        "<?xml version='1.0'?><info><name>ECG</name><type>ECG</type><channel_count>2"
        "</channel_count><nominal_srate>100.0</nominal_srate><channel_format>float32"
        "</channel_format></info>"
    )
    values = np.column_stack([np.arange(len(stamps)), -np.arange(len(stamps))])
    if flags_zero:
        body = [struct.pack("<I", 1), xdf.varlen(len(stamps))]
        for k, row in enumerate(values.astype("<f4")):
            body.append((b"\x08" + struct.pack("<d", stamps[0])) if k == 0 else b"\x00")
            body.append(row.tobytes())
        samples = xdf.chunk(xdf.TAG_SAMPLES, b"".join(body))
    else:
        samples = xdf.numeric_samples(1, stamps, values, "float32")
    path.write_bytes(b"".join([
        xdf.MAGIC, xdf.chunk(xdf.TAG_FILE_HEADER, b"<info><version>1.0</version></info>"),
        xdf.chunk(xdf.TAG_STREAM_HEADER, struct.pack("<I", 1) + hdr.encode()), samples,
    ]))  # fmt: skip
    return path


@pytest.mark.parametrize("flags_zero", [False, True], ids=["stamped", "deduced"])
def test_one_huge_samples_chunk_is_decoded_to_disk_a_block_at_a_time(
    flags_zero, tmp_path, monkeypatch
):
    """A chunk larger than a block (a whole day in one chunk, as some writers make) goes to
    disk a block at a time, written time stamps or deduced ones: the same as in memory."""
    from wot_biofeedback.sources import xdf

    path = _one_stream_file(tmp_path / "one.xdf", 50.0 + np.arange(6789) / 100.0, flags_zero)
    held = xdf.read_xdf(path).streams[0]
    monkeypatch.setattr(spill, "BLOCK_ROWS", 100)
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    disk = xdf.read_xdf(path).streams[0]
    assert disk.spilled and len(disk.time_stamps) == 6789  # (over 64 KiB: spilled)
    np.testing.assert_array_equal(np.asarray(disk.time_stamps), held.time_stamps)
    np.testing.assert_array_equal(np.asarray(disk.time_series), held.time_series)


def test_small_streams_stay_in_memory_and_hold_no_files(tmp_path, monkeypatch):
    """Two temporary files a spilled stream: a file of many small streams must not run out of
    descriptors, so a stream under 64 KiB is never spilled."""
    import struct

    from wot_biofeedback.sources import xdf

    parts = [xdf.MAGIC, xdf.chunk(xdf.TAG_FILE_HEADER, b"<info><version>1.0</version></info>")]
    for sid in range(1, 301):
        hdr = (
            f"<?xml version='1.0'?><info><name>S{sid}</name><type>X</type><channel_count>1"
            "</channel_count><nominal_srate>10.0</nominal_srate><channel_format>float32"
            "</channel_format></info>"
        )
        parts.append(xdf.chunk(xdf.TAG_STREAM_HEADER, struct.pack("<I", sid) + hdr.encode()))
        parts.append(xdf.numeric_samples(sid, np.array([1.0, 1.1]), np.zeros((2, 1)), "float32"))
    path = tmp_path / "many.xdf"
    path.write_bytes(b"".join(parts))
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    fds = Path("/proc/self/fd")
    before = len(os.listdir(fds)) if fds.exists() else 0
    f = xdf.read_xdf(path)
    assert len(f.streams) == 300 and not any(s.spilled for s in f.streams)
    if fds.exists():
        assert len(os.listdir(fds)) - before < 10
