"""Crafted recordings (issue 19, part 5): a real wot session file, and copies of it with valid
chunks but hostile values (tests/_crafted.py), each through ``wot analyze`` in this process.
Every one ends, within its time limit, either with exit 0 and a note that names what was
wrong (the rest analysed, nothing moved) or with exit 2 and one ``wot: error:`` line; never a
traceback. A gzip bomb and a gap of 3e8 samples stay within a memory bound, and a cohort
whose file takes too long gets an error row for it and goes on."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from _crafted import CASES, base_recording, late_recording, write_case
from wot_biofeedback import cli
from wot_biofeedback.cohort import run_cohort
from wot_biofeedback.errors import InputError
from wot_biofeedback.sources.files import Recording, RecordingSource, Signal

TESTS = Path(__file__).parent
# a correctness bound (the bomb alone would take 10 GiB), not a target. Measured with a warm
# numba cache: 315-379 MB (gzip_bomb, gap_huge) and 565-629 MB (json_50mb); a run that has to
# compile the kernels in that process while another worker rewrites the cache reached 1040 MB
# for all three (a fresh-clone CI run, 2026-12-06), so the bound leaves room for the compiler.
MEMORY_BOUND_MB = 1536


def _beats(out: Path) -> np.ndarray:
    rows = (out / "rpeaks.csv").read_text().split()[1:]
    return np.array([float(r) for r in rows])


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """The folder of the crafted files, the base recording and the R-peaks of its analysis."""
    folder = tmp_path_factory.mktemp("crafted")
    base = base_recording(folder / "base.xdf")
    assert cli.main(["analyze", str(base), "--out", str(folder / "base-out")]) == 0
    beats = _beats(folder / "base-out")
    assert beats.size > 40  # a usable original to compare with
    return folder, base, beats


# the first test of a worker (whichever of this module's it is) also builds the module's base
# recording and analyses it: on a fresh clone that compiles the signal processing, which can
# take over a minute on a busy 2-core machine; a setup that fails fails every test after it
@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", list(CASES))
def test_a_crafted_recording_is_analysed_or_refused_in_one_line(name, crafted, capsys, tmp_path):
    _folder, base, original = crafted
    case = CASES[name]
    assert len(CASES) >= 40
    # each test writes its own copy: another test may craft the same case in this worker
    path = write_case(name, base, tmp_path)
    assert path.read_bytes() != base.read_bytes()  # the case did change something
    out = tmp_path / f"{name}-out"
    capsys.readouterr()
    code = cli.main(["analyze", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if case.expect == "error":
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("wot: error: "), lines
        assert re.search(case.says or "", lines[0]), lines[0]
        return
    assert code == 0, err
    assert not [ln for ln in err.splitlines() if ln.startswith("wot: error")]
    notes = json.loads((out / "summary.json").read_text())["input"]["notes"]
    if case.says is not None:
        assert any(re.search(case.says, n) for n in notes), notes
    got = _beats(out)
    if case.beats == "same":  # nothing moved, nothing lost
        np.testing.assert_array_equal(got, original)
    elif case.beats == "near":  # samples skipped (a beat or two lost), none moved
        assert got.size >= original.size - 2
        nearest = np.min(np.abs(got[:, None] - original[None, :]), axis=1)
        assert nearest.max() <= 1 / 250 + 1e-6, nearest.max()
    elif case.beats == "prefix":  # cut short: the beats before the cut
        assert 10 <= got.size < original.size
        np.testing.assert_array_equal(got, original[: got.size])
    elif case.beats == "none":  # the ECG was refused: no beats, the rest analysed
        assert got.size == 0
        assert json.loads((out / "summary.json").read_text())["input"]["signals"]


def test_the_offline_loop_refuses_what_no_reader_should_pass_and_always_ends():
    samples = np.zeros(1000)
    with pytest.raises(InputError, match=r"x\.xdf: ecg \(client\): sampling rate 0\.0 Hz"):
        RecordingSource(Recording("x.xdf", {"ecg": Signal(samples, 0.0, "ECG")}))
    with pytest.raises(InputError, match=r"starts at session time 1000000000000\.0 s"):
        RecordingSource(Recording("x.xdf", {"ecg": Signal(samples, 250.0, "ECG", t0=1e12)}))
    # an interval whose time is not finite can never come: the reads end after the last one
    times = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    rr = Signal(np.full(5, 800.0), 1.0, "RR", times=times)
    src = RecordingSource(Recording("x.xdf", {"rr": rr}), chunk_s=1.0)
    reads = [src.read() for _ in range(8)]
    done = [k for k, b in enumerate(reads) if b.done]
    assert done and done[0] <= 6 and ("client", "rr") in reads[done[0]].ended


_PEAK = textwrap.dedent(
    """
    import json, resource, sys
    # a runaway allocation fails here rather than taking the machine
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    from wot_biofeedback import cli
    code = cli.main(sys.argv[1:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"code": code, "peak_mb": peak}))
    """
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "code"), [("gzip_bomb", 2), ("gap_huge", 0), ("json_50mb", 0)])
def test_peak_memory_stays_bounded(name, code, crafted, tmp_path):
    """Measured in a process of its own (its peak resident size, imports included)."""
    _folder, base, _ = crafted
    folder = tmp_path
    path = write_case(name, base, folder)
    run = subprocess.run(
        [sys.executable, "-c", _PEAK, "analyze", str(path), "--out", str(folder / f"{name}-mem")],
        capture_output=True, text=True, timeout=110, cwd=TESTS,
    )  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"{name}: peak {got['peak_mb']:.0f} MB")
    assert got["code"] == code, run.stderr
    assert got["peak_mb"] < MEMORY_BOUND_MB


@pytest.mark.timeout(120)
def test_a_cohort_file_that_takes_too_long_is_an_error_row_and_the_rest_goes_on(tmp_path):
    """Its worker is ended at the limit, the pool restarted, the files after it analysed. The
    slow file is valid: its streams start 23 h into the session, so the frames of 23 h are
    made (several seconds, where the limit is 0.5 s); a CSV file without a time column is
    refused in milliseconds."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bad.csv").write_text("ecg,eda\n1,2\n3,4\n")
    late_recording(base_recording(tmp_path / "base.xdf"), folder / "b_late.xdf")
    (folder / "c_bad.csv").write_text("ecg,eda\n1,2\n3,4\n")
    out = tmp_path / "out"
    rows = run_cohort(sorted(folder.iterdir()), out, workers=1, progress=False, file_timeout=0.5)
    by = {r["session"]: r for r in rows}
    assert by["b_late"]["status"] == "error"
    assert by["b_late"]["error"] == "timed out after 0.5 s"
    for bad in ("a_bad", "c_bad"):  # before and after the restart: their own errors
        assert by[bad]["status"] == "error" and "time_s" in by[bad]["error"], by[bad]
    with open(out / "cohort.csv", newline="") as fh:
        table = {r["session"]: r for r in csv.DictReader(fh)}
    assert table["b_late"]["error"] == "timed out after 0.5 s"


@pytest.mark.timeout(120)
def test_the_cohort_command_takes_a_file_timeout(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    late_recording(base_recording(tmp_path / "base.xdf"), folder / "late.xdf")
    out = tmp_path / "out"
    code = cli.main(["analyze", str(folder), "--out", str(out), "--no-progress",
                     "--file-timeout", "0.5", "--workers", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2  # the only file timed out
    assert "error: late: timed out after 0.5 s" in err
    assert cli.main(["analyze", str(folder), "--out", str(out), "--file-timeout", "-1"]) == 2
    assert "file_timeout -1.0 must be a number of seconds >= 0" in capsys.readouterr().err


@pytest.mark.timeout(180)  # the first test of a worker builds the fixture (see above)
@pytest.mark.parametrize("name", list(CASES))
def test_a_crafted_recording_loads_for_replay_or_is_refused(name, crafted, tmp_path):
    """``wot replay`` reads XDF through the same bounded reader: streams it can publish (time
    stamps finite and in order, a nominal rate LSL can size its buffers by) or one error."""
    from wot_simulators.replay import MAX_RATE_HZ, load_replay

    _folder, base, _ = crafted
    path = write_case(name, base, tmp_path)
    try:
        streams, _notes = load_replay(path, source_id=f"crafted-{name}")
    except InputError as exc:
        assert path.name in str(exc)
        return
    assert streams
    for s in streams:
        assert np.isfinite(s.timestamps).all() and np.all(np.diff(s.timestamps) >= 0), s.name
        assert 0 <= s.fs <= MAX_RATE_HZ
        assert s.timestamps[-1] - s.timestamps[0] <= 2 * 24 * 3600


def _read_all(path: Path) -> tuple:
    """Everything :func:`read_recording` makes of a file (its signals read out in full), or
    its one-line error."""
    from wot_biofeedback.sources.files import read_recording

    try:
        rec = read_recording(path)
    except InputError as exc:
        return ("error", str(exc))
    signals = {
        m: (np.asarray(s.data), s.t0, s.fs, None if s.times is None else np.asarray(s.times))
        for m, s in rec.signals.items()
    }
    kinds = {m: type(s.data).__name__ for m, s in rec.signals.items()}
    return signals, rec.notes, rec.markers, repr(rec.session), kinds


@pytest.mark.timeout(180)  # the first test of a worker builds the fixture (see above)
@pytest.mark.parametrize("name", ["base", *CASES])
def test_a_recording_read_through_disk_is_read_the_same(name, crafted, tmp_path, monkeypatch):
    """A recording whose numbers pass the spill limit is decoded to disk and rebuilt there a
    block at a time (offsets, placement, recorded gaps, damage). Forced here for every crafted
    file (``WOT_SPILL_MB=0``): each reads exactly as in memory, NaN for NaN, the same notes."""
    from wot_biofeedback.sources import spill

    _folder, base, _ = crafted
    path = base if name == "base" else write_case(name, base, tmp_path)
    monkeypatch.setattr(spill, "BLOCK_ROWS", 1000)  # many blocks, even in a minute of ECG
    monkeypatch.delenv("WOT_SPILL_MB", raising=False)
    held = _read_all(path)
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    disk = _read_all(path)
    if held[0] == "error":
        assert disk == held
        return
    assert disk[1:4] == held[1:4]
    assert disk[0].keys() == held[0].keys()
    for m, (data, t0, fs, times) in held[0].items():
        got = disk[0][m]
        np.testing.assert_array_equal(got[0], data, err_msg=m)  # (NaN where NaN)
        assert got[1:3] == (t0, fs), m
        np.testing.assert_array_equal(got[3], times, err_msg=m)
    if name in ("base", "truncated", "gap_n_text"):  # a wot recording's ECG stayed on disk
        assert disk[4]["ecg"] == "DiskArray", disk[4]  # (the others are under 64 KiB: in memory)


def test_a_file_cut_inside_a_chunks_length_field_says_so(crafted, tmp_path):
    """Cut one byte into a chunk (its length field's width byte alone) or inside a 4- or 8-byte
    length: the note is the cut-short one, as for a cut anywhere else in the chunk (it read
    "a damaged chunk ... index out of bounds" when the cut fell after the width byte)."""
    from wot_biofeedback.sources.files import read_recording

    data = crafted[1].read_bytes()
    starts, pos = [], 4
    while pos < len(data):
        starts.append(pos)
        width = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
        pos += 1 + width + length
    late = starts[len(starts) // 2 :]  # past the engine record a wot recording starts with
    wide = [s for s in late if data[s] in (4, 8)]
    picks = [(s, 1) for s in late[:: max(1, len(late) // 5)][:5]] + [(w, 3) for w in wide[:2]]
    assert len(picks) >= 6
    for start, into in picks:
        cut = tmp_path / f"cut{start}.xdf"
        cut.write_bytes(data[: start + into])
        notes = read_recording(cut).notes
        assert any(f"the file ends inside a chunk at byte {start}" in n for n in notes), notes
