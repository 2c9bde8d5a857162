"""Cohort analysis: a folder of real recording files (CSV, wot XDF, WFDB, plus a corrupt and an
empty one) analysed serially, on a local process pool and on a Dask LocalCluster, with
byte-identical ``cohort.csv`` files and the simulated excursions in the rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import wfdb
from distributed import LocalCluster
from wot_simulators import Scenario, Segment, SimConfig, simulate_session, write_csv

from wot_biofeedback.cohort import (
    COLUMNS,
    check_options,
    find_recordings,
    run_cohort,
    session_names,
    session_row,
)
from wot_biofeedback.errors import InputError
from wot_biofeedback.recorder import write_recording_xdf
from wot_biofeedback.sources.files import Recording, Signal

# short sessions (300 s): 140 s within (the default calibration is the first 120 s), then a
# 90-s excursion, then 70 s of recovery
KINDS = {
    "stress": ("hyper", 0.8),
    "shutdown": ("hypo", 0.8),
    "calm": ("within", 0.0),
}
FORMATS = ("csv", "xdf", "xdf", "wfdb")  # per block of three sessions (one of each kind)
SEEDS = (1, 2, 3, 1, 5, 6, 7, 8, 9, 10, 11, 12)  # stress-1 twice: a CSV and an XDF
N_GOOD = len(SEEDS)


def _scenario(kind: str) -> Scenario:
    zone, level = KINDS[kind]
    return Scenario(
        name=f"short-{kind}",
        description="cohort test",
        segments=(
            Segment("baseline", "within", 0.0, 140.0),
            Segment(kind, zone, level, 90.0),
            Segment("recovery", "within", 0.0, 70.0),
        ),
    )


def _write_session(folder: Path, kind: str, seed: int, fmt: str) -> str:
    stem = f"{kind}-{seed}"
    scen = _scenario(kind)
    if fmt == "xdf":
        sess = simulate_session(scen, SimConfig(seed=seed))
        signals = {m: Signal(sess.signal(m), sess.fs(m), m) for m in ("ecg", "eda", "resp")}
        write_recording_xdf(Recording("simulated", signals), folder / f"{stem}.xdf")
        return f"{stem}.xdf"
    # CSV and WFDB hold one common rate
    sess = simulate_session(scen, SimConfig(ecg_fs=250.0, eda_fs=250.0, resp_fs=250.0, seed=seed))
    if fmt == "csv":
        write_csv(sess, folder / f"{stem}.csv")
        return f"{stem}.csv"
    sig = np.column_stack([sess.ecg, sess.eda, sess.resp])
    wfdb.wrsamp(stem, fs=250, units=["mV", "uS", "au"], sig_name=["ECG", "EDA", "RESP"],
                p_signal=sig, fmt=["16"] * 3, write_dir=str(folder))  # fmt: skip
    return stem


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The recordings folder: 12 simulated sessions, a corrupt XDF, an empty CSV, and files
    that are not recordings. Returns (folder, {input name: kind})."""
    folder = tmp_path_factory.mktemp("recordings")
    kinds = {}
    for i, seed in enumerate(SEEDS):
        kind = list(KINDS)[i % 3]
        kinds[_write_session(folder, kind, seed, FORMATS[i // 3])] = kind
    rng = np.random.default_rng(20240101)
    (folder / "corrupt.xdf").write_bytes(b"XDF:" + rng.bytes(20_000))
    (folder / "empty.csv").write_bytes(b"")
    # not recordings: a text file, a hidden file, and a subfolder (not searched)
    (folder / "notes.txt").write_text("session notes\n")
    (folder / ".hidden.csv").write_text("time_s,ecg\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "other.csv").write_text("time_s,ecg\n")
    return folder, kinds


@pytest.fixture(scope="module")
def serial(cohort, tmp_path_factory):
    folder, _ = cohort
    out = tmp_path_factory.mktemp("serial")
    rows = run_cohort(find_recordings(folder), out, workers=1, progress=False)
    return out, rows


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_find_recordings_lists_recordings_only(cohort):
    folder, kinds = cohort
    found = find_recordings(folder)
    names = [p.name for p in found]
    assert names == sorted(names)
    assert set(names) == {*kinds, "corrupt.xdf", "empty.csv"}
    wfdb_recs = [p for p in found if p.suffix == ""]
    assert len(wfdb_recs) == 3 and all(p.with_suffix(".hea").is_file() for p in wfdb_recs)
    assert find_recordings(folder, exclude=[folder / "empty.csv"]) == [
        p for p in found if p.name != "empty.csv"
    ]
    assert find_recordings(folder, exclude=[folder]) == []
    with pytest.raises(InputError, match="not a folder"):
        find_recordings(folder / "empty.csv")


def test_session_names_are_unique():
    paths = ["d/a.csv", "d/a.xdf", "d/b.csv", "e/b.csv", "d/a_csv.edf", "d/100"]
    assert session_names(paths) == ["a_csv", "a_xdf", "b_csv", "b_csv-2", "a_csv-2", "100"]
    assert session_names(["rec", "rec.csv", "Rec.edf"]) == ["rec_wfdb", "rec_csv", "Rec"]
    assert session_names(["x/a.csv", "y/A.csv"]) == ["a", "A-2"]  # case-insensitive file systems


def test_serial_cohort_rows(cohort, serial):
    folder, kinds = cohort
    out, rows = serial
    table = _read_csv(out / "cohort.csv")
    assert list(table[0]) == list(COLUMNS)
    assert len(rows) == len(table) == N_GOOD + 2
    assert [r["input"] for r in table] == [p.name for p in find_recordings(folder)]
    by_input = {r["input"]: r for r in table}
    # the two bad files: an error each, saying what is wrong, without the absolute path
    bad = by_input["corrupt.xdf"]
    assert bad["status"] == "error" and "not XDF" in bad["error"], bad["error"]
    empty = by_input["empty.csv"]
    assert empty["status"] == "error" and "empty" in empty["error"], empty["error"]
    for r in (bad, empty):
        assert str(folder) not in r["error"] and r["duration_s"] == ""
    # a stem shared by two files gives two sessions
    assert by_input["stress-1.csv"]["session"] == "stress-1_csv"
    assert by_input["stress-1.xdf"]["session"] == "stress-1_xdf"
    assert len({r["session"] for r in table}) == len(table)
    for name, kind in kinds.items():
        r = by_input[name]
        assert r["status"] == "ok" and r["error"] == "", r
        assert r["signals"] == "ecg+eda+resp"
        assert r["recorded_by_wot"] == ("1" if name.endswith(".xdf") else "0")
        assert abs(float(r["duration_s"]) - 300.0) < 2.0
        frac = {z: float(r[f"fraction_{z}"]) for z in ("hyper", "within", "hypo", "unknown")}
        assert abs(sum(frac.values()) - 1.0) < 1e-3
        # (shallow breathing in a shutdown is harder to track: the belt's usable share drops)
        for ch, least in (("ecg", 0.9), ("eda", 0.9), ("resp", 0.75)):
            assert float(r[f"usable_{ch}"]) > least, (name, ch)
        assert 55 < float(r["baseline_hr_bpm"]) < 90 and float(r["baseline_scl_us"]) > 0.1
        assert int(r["n_rpeaks"]) > 250 and int(r["n_breaths"]) > 30
        assert r["calibration"].startswith("calibrated"), r["calibration"]
        # the simulated 90-s excursion (and only it) shows up
        if kind == "stress":
            assert frac["hyper"] > 0.15 and int(r["n_hyper_excursions"]) >= 1, (name, frac)
            assert frac["hypo"] == 0.0, (name, frac)
        elif kind == "shutdown":
            assert frac["hypo"] > 0.15 and int(r["n_hypo_excursions"]) >= 1, (name, frac)
            assert frac["hyper"] == 0.0, (name, frac)
        else:
            assert frac["hyper"] + frac["hypo"] < 0.05, (name, frac)
            assert frac["within"] > 0.5, (name, frac)
        if kind != "calm":
            assert r["recovery_median_s"] != "" and int(r["n_cues"]) >= 1, (name, r)
        # the row is the session's summary.json, and every contract file is there
        d = out / r["session"]
        for f in ("features.csv", "states.csv", "summary.json", "rpeaks.csv", "breaths.csv"):
            assert (d / f).is_file(), d / f
        summary = json.loads((d / "summary.json").read_text())
        row = {
            k: "" if v is None else str(v) for k, v in session_row(summary, r["session"]).items()
        }
        assert row == r
        # the resting level in µS is the median over the calibration window's usable frames
        base = summary["baseline"]
        scl = [float(f["scl_us"]) for f in _read_csv(d / "features.csv")
               if base["start_s"] <= float(f["time_s"]) < base["end_s"] and f["scl_us"]
               and float(f["quality_eda"]) >= 0.5]  # fmt: skip
        assert len(scl) > 100
        assert float(r["baseline_scl_us"]) == pytest.approx(np.median(scl), abs=1e-3)


def test_local_pool_and_dask_cluster_match_serial(serial, cohort, tmp_path):
    folder, _ = cohort
    out, _ = serial
    paths = find_recordings(folder)
    expected = (out / "cohort.csv").read_bytes()
    pool = run_cohort(paths, tmp_path / "pool", workers=2, progress=False)
    assert (tmp_path / "pool" / "cohort.csv").read_bytes() == expected
    assert len(pool) == N_GOOD + 2
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        local_directory=str(tmp_path / "dask-scratch"),
    ) as cluster:
        rows = run_cohort(paths, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert (tmp_path / "dask" / "cohort.csv").read_bytes() == expected
    assert [r["status"] for r in rows].count("ok") == N_GOOD
    for r in rows:
        if r["status"] == "ok":
            assert (tmp_path / "dask" / r["session"] / "summary.json").is_file()


def test_session_row_reads_session_metadata_and_tolerates_missing_keys(serial):
    out, rows = serial
    ok = next(r for r in rows if r["status"] == "ok")
    summary = json.loads((out / ok["session"] / "summary.json").read_text())
    summary["session"] = {"client": "client 7", "scenario": "stress-and-recovery", "seed": 3}
    row = session_row(summary, "x")
    assert (row["client"], row["scenario"], row["seed"]) == ("client 7", "stress-and-recovery", "3")
    assert row["fraction_hyper"] == ok["fraction_hyper"]
    empty = session_row({}, "nothing")
    assert list(empty) == list(COLUMNS)
    assert empty["status"] == "ok" and empty["duration_s"] is None and empty["client"] == ""


def test_bad_options_are_refused_before_any_work(tmp_path):
    with pytest.raises(InputError, match="unknown cohort option"):
        check_options({"basline": (0, 60)})
    with pytest.raises(InputError, match="start_s < end_s"):
        check_options({"baseline": (60, 0)})
    with pytest.raises(InputError, match="config file not found"):
        check_options({"config": str(tmp_path / "missing.toml")})
    with pytest.raises(InputError, match="EDA unit"):
        run_cohort([], tmp_path / "out", {"eda_unit": "volts"}, workers=1, progress=False)
    with pytest.raises(InputError, match="workers"):
        run_cohort([], tmp_path / "out", workers=0, progress=False)
    assert not (tmp_path / "out").exists()


def test_wot_report_on_a_folder_writes_reports_and_an_index(cohort, tmp_path, capsys):
    """``wot report FOLDER --out DIR`` (the CLI): a report per session, the cohort table and an
    index page linking them; the corrupt file is a row with its error and the command succeeds.
    """
    import shutil

    from wot_biofeedback import cli

    folder, kinds = cohort
    small = tmp_path / "in"
    small.mkdir()
    xdf = next(n for n, k in kinds.items() if n.endswith(".xdf") and k == "stress")
    for name in (xdf, "corrupt.xdf"):
        shutil.copy(folder / name, small / name)
    stem = Path(xdf).stem
    marks = small / "segments.csv"  # a markers table beside the recordings, as drivedb has
    marks.write_text(f"record,segment,start_s\n{stem},stressor,140\nother,nothing,10\n")
    out = small / "out"  # the output inside the input folder: run twice, same rows
    for _ in range(2):
        code = cli.main(["report", str(small), "--out", str(out), "--workers", "1",
                         "--no-progress", "--markers", str(marks)])  # fmt: skip
        assert code == 0
        printed = capsys.readouterr()
        assert "1 of 2 analysed" in printed.out and "corrupt" in printed.err
        rows = _read_csv(out / "cohort.csv")
        assert [r["status"] for r in rows] == ["error", "ok"]
    assert _read_csv(out / stem / "markers.csv") == [{"time_s": "140.000", "text": "stressor"}]
    page = (out / stem / "report.html").read_text(encoding="utf-8")
    assert '<section id="excursions">' in page and "hyper" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'<a href="{stem}/report.html">{stem}</a>' in index
    assert "not XDF" in index or "not a readable XDF" in index  # the error, on the page
    assert "<script" not in index and "http" not in index.replace('href="cohort.csv"', "")
