"""EDF/BDF and WFDB files read a block at a time, in memory or spilled to disk.

Every signal read by ``read_recording`` must be bit for bit what edfio (``signal.data``) or wfdb
(``rdrecord(..., smooth_frames=False)``) give for the whole file, whether it is held in memory,
spilled (``WOT_SPILL_MB=0``) or read in small blocks (``spill.BLOCK_ROWS`` made small, so that
block boundaries fall inside data records, frames and format 212's byte triples). The EDF files are
written by edfio (some then damaged byte by byte); the WFDB records are PhysioNet's (MIT-BIH
format 212, drivedb multi-rate format 16) from ``WOT_DATA_DIR``, and small records written by
wfdb for what those do not cover.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wot_biofeedback.errors import InputError
from wot_biofeedback.sources import spill
from wot_biofeedback.sources.files import read_recording
from wot_biofeedback.sources.spill import DiskArray

edfio = pytest.importorskip("edfio")
wfdb = pytest.importorskip("wfdb")

# how each file is read: held in memory; spilled (WOT_SPILL_MB=0); in blocks of ``rows`` samples
# (a few data records or frames a block, the last one short), in memory and spilled
MODES = ("memory", "spilled", "blocks", "blocks-spilled")


def _set_mode(mode: str, monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    monkeypatch.delenv("WOT_SPILL_MB", raising=False)
    if mode.endswith("spilled"):
        monkeypatch.setenv("WOT_SPILL_MB", "0")
    if mode.startswith("blocks"):
        monkeypatch.setattr(spill, "BLOCK_ROWS", rows)


def _same(got: Any, want: np.ndarray) -> None:
    """``got`` holds exactly ``want``'s float64 values, bit for bit (-0.0 and NaN included)."""
    a = np.asarray(got)
    assert a.dtype == np.float64 and want.dtype == np.float64
    assert a.shape == want.shape
    assert np.array_equal(a.view(np.int64), want.view(np.int64))


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)`` with the library's warnings (a truncated file) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def test_filled_columns_in_memory_or_on_disk_by_their_expected_size() -> None:
    """Columns of known lengths: in memory up to the limit (a column given fewer values ends
    there), in temporary files past it; more values than expected is a bug, said."""
    for limit, on_disk in ((64, False), (63, True)):  # 8 values of 8 bytes: at the limit
        cols = spill.FilledColumns([5, 3], limit=limit)
        assert cols.spilled == on_disk
        cols.add(0, np.arange(3.0))
        cols.add(0, np.arange(3.0, 5.0))
        cols.add(1, np.array([-0.0, np.nan]))
        a, b = cols.finish()
        assert isinstance(a, DiskArray) == on_disk == isinstance(b, DiskArray)
        _same(a, np.arange(5.0))
        _same(b, np.array([-0.0, np.nan]))
        with pytest.raises(ValueError, match="column 1: 4 values, 3 expected"):
            cols.add(1, np.ones(2))


# EDF and BDF ------------------------------------------------------------------------------


def _edf(path: Path, seconds: int = 12, bdf: bool = False, annotations: bool = False) -> Path:
    """An EDF (or BDF) of ECG 250 Hz, EDA in nS 32 Hz and RESP 50 Hz, 1-s data records; values
    span each signal's whole range (negative ones included), with edfio's own physical ranges."""
    rng = np.random.default_rng(7)
    kind = edfio.BdfSignal if bdf else edfio.EdfSignal
    specs = [("ECG II", "mV", 250, -5.1, 4.9), ("GSR", "nS", 32, 0.0, 40000.0),
             ("Resp", "", 50, -3.0, 3.0)]  # fmt: skip
    signals = [
        kind(rng.uniform(lo, hi, seconds * fs), fs, label=label, physical_dimension=unit,
             physical_range=(lo, hi))
        for label, unit, fs, lo, hi in specs
    ]  # fmt: skip
    cls = edfio.Bdf if bdf else edfio.Edf
    notes = [edfio.EdfAnnotation(1.5, None, "start")] if annotations else None
    cls(signals, annotations=notes).write(path)
    return path


def _signal_fields(raw: bytes) -> tuple[int, list[int]]:
    """The number of signals in an EDF header and where each signal-header field starts."""
    ns = int(raw[252:256])
    widths = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)  # label ... samples per record, reserved
    starts = [256 + ns * sum(widths[:k]) for k in range(len(widths))]
    return ns, starts


def _patch_field(raw: bytes, field: int, signal: int, value: bytes) -> bytes:
    """``raw`` with signal ``signal``'s header field number ``field`` set to ``value``."""
    _, starts = _signal_fields(raw)
    width = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)[field]
    at = starts[field] + signal * width
    return raw[:at] + value.ljust(width) + raw[at + width :]


def _edf_files(d: Path) -> dict[str, Path]:
    """Intact, damaged and unusual EDF/BDF files, each as edfio writes or reads it."""
    good = _edf(d / "good.edf")
    raw = good.read_bytes()
    record = (250 + 32 + 50) * 2
    files = {"good": good, "bdf": _edf(d / "good.bdf", bdf=True)}
    files["edf+annotations"] = _edf(d / "plus.edf", annotations=True)
    for name, data in {
        "truncated-record": raw[:-100],  # the last data record cut short
        "count-too-high": raw[:236] + b"30      " + raw[244:],  # header: more records than held
        "count-unknown": raw[:236] + b"-1      " + raw[244:],  # still recording
        "count-too-low": raw[:236] + b"5       " + raw[244 : -3 * record],
        "digital-min-is-max": _patch_field(raw, 6, 0, b"-32768"),  # ECG: uncalibrated
        "physical-min-is-max": _patch_field(raw, 4, 2, b"-3"),  # Resp: uncalibrated
    }.items():
        files[name] = d / f"{name}.edf"
        files[name].write_bytes(data)
    # an annotation signal between two ordinary ones (EDF+ allows it anywhere): the EDA
    # signal's header says "EDF Annotations", so its samples are skipped, never read as EDA
    files["annotations-between"] = d / "between.edf"
    files["annotations-between"].write_bytes(_patch_field(raw, 0, 1, b"EDF Annotations"))
    bdf = files["bdf"].read_bytes()
    files["bdf-truncated"] = d / "cut.bdf"
    files["bdf-truncated"].write_bytes(bdf[:-7])
    return files


def _edfio_signals(path: Path) -> dict[str, np.ndarray]:
    """Each ordinary signal's ``data`` as edfio reads the whole file, by label."""
    read = edfio.read_bdf if path.suffix == ".bdf" else edfio.read_edf
    f = _quiet(read, path)
    return {s.label.strip(): _quiet(lambda s=s: np.asarray(s.data)) for s in f.signals}


EDF_KINDS = [
    "good", "bdf", "edf+annotations", "truncated-record", "count-too-high", "count-unknown",
    "count-too-low", "digital-min-is-max", "physical-min-is-max", "annotations-between",
    "bdf-truncated",
]  # fmt: skip


@pytest.fixture(scope="module")
def edf_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _edf_files(tmp_path_factory.mktemp("edf"))


@pytest.mark.parametrize("kind", EDF_KINDS)
def test_edf_reads_exactly_what_edfio_reads_in_memory_spilled_and_in_blocks(
    kind: str, edf_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = edf_files[kind]
    want = _edfio_signals(path)
    channels = {"ecg": "ECG II", "resp": "Resp"}
    if kind != "annotations-between":
        channels["eda"] = "GSR"
    # blocks of 1001 samples: three data records of 332 samples (the last block short); 3
    # samples: one record a block
    for mode, rows in [(m, 1001) for m in MODES] + [("blocks-spilled", 3)]:
        _set_mode(mode, monkeypatch, rows)
        rec = read_recording(path, channels=channels)
        assert set(rec.signals) == set(channels), (kind, mode)
        for m, sig in rec.signals.items():
            ref = want[sig.name]
            if m == "eda":
                ref = ref * 1e-3  # nS to µS, as the whole signal was converted before
            _same(sig.data, ref)
            assert isinstance(sig.data, DiskArray) == mode.endswith("spilled")
        monkeypatch.undo()
    # the annotation signal is not a signal: naming it is an error that lists the real ones
    if kind == "annotations-between":
        with pytest.raises(InputError, match=r"'GSR' not found in between\.edf.*ECG II, Resp"):
            read_recording(path, channels={"eda": "GSR"})


def test_edf_damage_and_odd_headers_are_said_in_notes(edf_files: dict[str, Path]) -> None:
    """What edfio said in warnings (records cut short or miscounted, uncalibrated signals) is
    in the recording's notes, one line each, with what was read."""
    expect = {
        "truncated-record": ["the last data record is incomplete (564 of 664 bytes): left out",
                             "the header gives 12 data records, the file holds 11: 11 read"],
        "count-too-high": ["the header gives 30 data records, the file holds 12: 12 read"],
        "count-unknown": ["the header gives -1 data records, the file holds 12: 12 read"],
        "count-too-low": ["the header gives 5 data records, the file holds 9: 9 read"],
        "digital-min-is-max": ["'ECG II': digital minimum equals maximum (-32768): read "
                               "uncalibrated (digital values)"],
        "physical-min-is-max": ["'Resp': physical minimum equals maximum (-3.0): read "
                                "uncalibrated (digital values)"],
        "bdf-truncated": ["the last data record is incomplete (989 of 996 bytes): left out",
                          "the header gives 12 data records, the file holds 11: 11 read"],
        "good": [],
    }  # fmt: skip
    for kind, notes in expect.items():
        rec = read_recording(edf_files[kind], channels={"eda": "1"})
        said = [n for n in rec.notes if "converted from nS" not in n]
        assert said == notes, kind
        assert all("\n" not in n for n in rec.notes)


def test_damaged_edf_files_give_one_line_naming_the_file(tmp_path: Path) -> None:
    good = _edf(tmp_path / "good.edf")
    raw = good.read_bytes()
    header = 256 * 4
    cases = {
        "cut-header.edf": raw[:200],  # the header itself cut short
        "eight-bytes.edf": b"0       ",
        # every signal has 0 samples a record
        "no-samples.edf": _patch_field(
            _patch_field(_patch_field(raw, 8, 0, b"0"), 8, 1, b"0"), 8, 2, b"0"
        ),
        "long-header.edf": raw[:184] + b"99999   " + raw[192:],  # header longer than the file
        "garbage-count.edf": raw[:236] + b"many    " + raw[244:],
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(InputError) as err:
            read_recording(p)
        msg = str(err.value)
        assert msg.startswith(f"{name}: not a readable EDF file (") and "\n" not in msg, msg
    # a header without a single data record: empty signals, and a note saying why
    empty = tmp_path / "empty.edf"
    empty.write_bytes(raw[:header])
    rec = read_recording(empty)
    assert {m: len(s.data) for m, s in rec.signals.items()} == {"ecg": 0, "eda": 0, "resp": 0}
    assert "the header gives 12 data records, the file holds 0: 0 read" in rec.notes
    # a missing file
    with pytest.raises(InputError, match="file not found"):
        read_recording(tmp_path / "nothing.bdf")


def test_edf_signals_unit_rate_and_choice_are_kept(tmp_path: Path) -> None:
    """Labels or indices choose the signals, EDA in nS becomes µS (with a note), each signal
    keeps its rate, a rate the engine cannot take is refused, one cardiac source is kept."""
    path = _edf(tmp_path / "s.edf")
    rec = read_recording(path, channels={"ecg": "0", "eda": "gsr", "resp": "2"})
    assert {m: (s.name, s.fs, s.unit, len(s.data)) for m, s in rec.signals.items()} == {
        "ecg": ("ECG II", 250.0, "mV", 3000),
        "eda": ("GSR", 32.0, "uS", 384),
        "resp": ("Resp", 50.0, "", 600),
    }
    assert rec.notes == ["EDA 'GSR' converted from nS to µS"]
    with pytest.raises(InputError, match="resp channel index 5 is out of range"):
        read_recording(path, channels={"resp": "5"})


# WFDB ---------------------------------------------------------------------------------------


def _check_wfdb(
    base: Path, channels: dict[str, str], monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    """The channels read as ``wfdb.rdrecord`` reads the whole record, in every mode (blocks of
    ``rows`` samples of every signal: ``rows // samples a frame`` frames)."""
    whole = wfdb.rdrecord(str(base), smooth_frames=False)
    idx = {m: whole.sig_name.index(c) for m, c in channels.items()}
    for mode in MODES:
        _set_mode(mode, monkeypatch, rows)
        rec = read_recording(base, channels=channels)
        assert set(rec.signals) == set(channels)
        for m, sig in rec.signals.items():
            _same(sig.data, np.asarray(whole.e_p_signal[idx[m]]))
            assert isinstance(sig.data, DiskArray) == mode.endswith("spilled")
        monkeypatch.undo()


@pytest.mark.parametrize("record", ["100", "105"])
def test_mitdb_format_212_reads_exactly_as_wfdb_reads_it_whole(
    record: str, wot_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MIT-BIH records (format 212: two 12-bit samples in three bytes), in blocks of 32768
    frames: two signals, so each boundary starts a new byte triple; odd sample starts are
    checked below."""
    lead = "V5" if record == "100" else "V1"
    _check_wfdb(wot_data / "mitdb" / record, {"ecg": "MLII", "resp": lead}, monkeypatch, 65537)


def test_drivedb_multi_rate_format_16_reads_exactly_as_wfdb_reads_it_whole(
    wot_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """drive05: ECG at 32 samples a frame, GSR and RESP at 2 (format 16): blocks of frames keep
    every signal's own rate."""
    base = wot_data / "drivedb" / "drive05"
    _check_wfdb(base, {"ecg": "ECG", "eda": "foot GSR", "resp": "RESP"}, monkeypatch, 65537)
    rec = read_recording(base, channels={"ecg": "ECG", "eda": "foot GSR", "resp": "RESP"})
    assert {m: s.fs for m, s in rec.signals.items()} == {"ecg": 496.0, "eda": 31.0, "resp": 31.0}


def test_annotation_only_record_says_it_holds_no_signals(wot_data: Path) -> None:
    with pytest.raises(InputError, match=r"^nsr001: the WFDB record holds no signals"):
        read_recording(wot_data / "nsr2db" / "nsr001")


def _write_wfdb(d: Path, name: str, frames: int, fmt: str, n: int = 3) -> Path:
    """A record of ``n`` random walks (EDA at a plausible level) written by wfdb in ``fmt``."""
    rng = np.random.default_rng(3)
    p = np.cumsum(rng.normal(0, 0.05, (frames, n)), axis=0)
    p[:, 1] += 3.0  # EDA, µS
    gain = 20.0 if fmt in ("8", "80") else 200.0  # 8-bit formats: within -127..127
    digital = np.clip(np.round(p * gain), -127 if gain == 20.0 else -2047, 2047).astype(int)
    written = "80" if fmt == "8" else fmt  # wfdb does not write format 8
    wfdb.wrsamp(name, 250, ["mV"] * n, ["ECG", "EDA", "RESP"][:n], d_signal=digital,
                fmt=[written] * n, adc_gain=[gain] * n, baseline=[0] * n,
                write_dir=str(d))  # fmt: skip
    if fmt == "8":
        # each sample the difference from the one before (the first: 0 from the header's
        # initial value, which wfdb set to it)
        diffs = np.diff(digital, axis=0, prepend=digital[:1])
        (d / f"{name}.dat").write_bytes(diffs.astype(np.int8).tobytes())
        hea = d / f"{name}.hea"
        hea.write_text(hea.read_text().replace(f"{name}.dat 80 ", f"{name}.dat 8 "))
    return d / name


@pytest.mark.parametrize("fmt", ["212", "16", "24", "32", "80", "8"])
def test_written_records_read_exactly_in_blocks_at_odd_sample_offsets(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three signals a frame, so a block of an odd number of frames starts format 212 in the
    middle of a byte triple; format 8 stores differences (read whole: a block read would start
    from the header's initial value)."""
    base = _write_wfdb(tmp_path, f"r{fmt}", 1501, fmt)
    # blocks of 99 frames: the second starts at sample 297 of the file
    _check_wfdb(base, {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}, monkeypatch, 297)


def test_multi_segment_record_reads_exactly_as_wfdb_reads_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, frames in enumerate((700, 1100)):
        _write_wfdb(tmp_path, f"seg{k}", frames, "16")
    (tmp_path / "multi.hea").write_text("multi/2 3 250 1800\nseg0 700\nseg1 1100\n")
    # blocks of 333 frames: one across the segments' boundary
    _check_wfdb(tmp_path / "multi", {"ecg": "ECG", "eda": "EDA", "resp": "RESP"}, monkeypatch, 999)


def test_damaged_wfdb_record_gives_one_line_naming_it(
    wot_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(wot_data / "mitdb" / "100.hea", tmp_path / "100.hea")
    (tmp_path / "100.dat").write_bytes((wot_data / "mitdb" / "100.dat").read_bytes()[:1_000_000])
    for mode in ("memory", "spilled"):
        _set_mode(mode, monkeypatch, 65537)
        with pytest.raises(InputError) as err:
            read_recording(tmp_path / "100")
        msg = str(err.value)
        assert msg.startswith("100: unreadable WFDB record (") and "\n" not in msg, msg
        monkeypatch.undo()
