"""CSV like a data tool: what wot writes is safe in a spreadsheet, and what it reads (time
column, separators, decimal commas, a byte order mark, bad lines) is read as a data tool would.

Every case is a real file written to ``tmp_path``, run through ``wot analyze`` in-process and
through the reader underneath."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import numpy as np
import pytest

from wot_biofeedback.cli import main
from wot_biofeedback.csvtext import escape_cell, unescape_cell, write_csv
from wot_biofeedback.errors import InputError
from wot_biofeedback.sources.files import Recording

FORMULAS = ["=SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\rx", "'quoted"]


def _rows(p: Path) -> list[list[str]]:
    with open(p, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# writing: no cell a spreadsheet would run --------------------------------------------------
@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_gets_a_quote_and_comes_back_as_it_was(text):
    cell = escape_cell(text)
    assert cell == "'" + text
    assert unescape_cell(cell) == text


@pytest.mark.parametrize("value", ["-0.5", "+1e3", "-.25", "12", "", "plain text", "a=b"])
def test_numbers_and_harmless_text_stay_as_they_are(value):
    assert escape_cell(value) == value
    assert unescape_cell(value) == value


def test_write_csv_escapes_text_cells_and_quotes_line_breaks(tmp_path):
    p = write_csv(
        tmp_path / "t.csv",
        ["time_s", "text", "n"],
        [[1.5, t, -2] for t in FORMULAS] + [[None, "", -0.5], [2.0, 'a, "b"\nc', 3]],
    )
    rows = _rows(p)
    assert rows[0] == ["time_s", "text", "n"]
    assert [r[1] for r in rows[1 : 1 + len(FORMULAS)]] == ["'" + t for t in FORMULAS]
    assert rows[1][0] == "1.5" and rows[1][2] == "-2"  # numbers untouched
    assert rows[-2] == ["", "", "-0.5"] and rows[-1] == ["2.0", 'a, "b"\nc', "3"]
    assert [unescape_cell(r[1]) for r in rows[1:]] == [*FORMULAS, "", 'a, "b"\nc']
    assert not list(tmp_path.glob(".*.tmp"))  # written in place of a temporary file


def test_cohort_table_escapes_session_names_and_errors(tmp_path):
    from wot_biofeedback.cohort import COLUMNS, write_cohort_csv

    row = dict.fromkeys(COLUMNS)
    row.update(session="=cmd", input="=cmd.csv", status="error", error="-bad: @x", duration_s=-1.5)
    rows = _rows(write_cohort_csv([row], tmp_path / "cohort.csv"))
    got = dict(zip(rows[0], rows[1], strict=True))
    assert got["session"] == "'=cmd" and got["input"] == "'=cmd.csv"
    assert got["error"] == "'-bad: @x" and got["duration_s"] == "-1.5"


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """120 s of simulated session, ``time_s,ecg,eda,resp,zone`` at 250 Hz, and its true beats."""
    from wot_simulators import load_scenario, simulate_to_csv

    p = tmp_path_factory.mktemp("sim") / "sim.csv"
    got = simulate_to_csv(load_scenario("full-session"), 1, p, fs=250.0, duration_s=120.0)
    return p, got.beat_times_s


@pytest.fixture(scope="module")
def sim_csv(sim) -> Path:
    return sim[0]


def test_marker_text_round_trips_through_markers_csv_and_the_report(sim_csv, tmp_path, capsys):
    """A marker typed as a formula is escaped in markers.csv and shown as typed in the report,
    in summary.json, and when the markers.csv is read back as --markers."""
    from wot_biofeedback.report import load_session
    from wot_biofeedback.sources.files import read_markers

    texts = ["=SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "'quoted", "-5", "calm"]
    marks = tmp_path / "m.csv"
    with open(marks, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "text"])
        w.writerows([10 + 10 * i, t] for i, t in enumerate(texts))
    out = tmp_path / "o"
    assert main(["analyze", str(sim_csv), "--out", str(out), "--markers", str(marks)]) == 0
    written = [r[1] for r in _rows(out / "markers.csv")[1:]]
    assert written == ["'=SUM(A1)", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)", "''quoted",
                       "-5", "calm"]  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [m["text"] for m in summary["markers"]] == texts  # JSON needs no escaping
    assert [t for _t, t in load_session(out).markers] == texts
    assert [t for _t, t in read_markers(out / "markers.csv")] == texts
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert html.escape("=SUM(A1)") in page and html.escape("'=SUM(A1)") not in page


# reading: a table of crafted files, each through `wot analyze` and the reader underneath ----
FS = 250.0


def _shift(line: str, by: float) -> str:
    t, rest = line.split(",", 1)
    return f"{float(t) + by:.6f},{rest}"


def _set_time(rows: list[str], i: int, value: str) -> list[str]:
    rows = list(rows)
    rows[i] = value + "," + rows[i].split(",", 1)[1]
    return rows


def _gap(rows: list[str], at_s: float, by: float) -> list[str]:
    """``time_s`` jumps by ``by`` s at ``at_s``: the rows from there on are ``by`` s later."""
    return [r if float(r.split(",", 1)[0]) < at_s else _shift(r, by) for r in rows]


def _european(lines: list[str], sep: str) -> list[str]:
    return [ln.replace(",", "\x00").replace(".", ",").replace("\x00", sep) for ln in lines]


def _swap(rows: list[str], i: int) -> list[str]:
    rows = list(rows)
    rows[i], rows[i + 1] = rows[i + 1], rows[i]
    return rows


def _cut(rows: list[str], i: int, fields: int) -> list[str]:
    rows = list(rows)
    rows[i] = ",".join(rows[i].split(",")[:fields])
    return rows


# name -> (lines from (header, rows), how it is written, options, expected)
# expected: ("error", [text in the one-line message]) or ("ok", [text in a note on stdout])
CASES = {
    "gap_60s": (
        lambda h, r: [h, *_gap(r, 60.0, 60.0)], {}, [],
        ("ok", ["time_s: a gap (60.0 s from 60.0 s, before line 15002) is left empty (NaN)"]),
    ),
    "gap_24h": (
        lambda h, r: [h, *_gap(r, 60.0, 86_400.0)], {}, [],
        ("error", ["row 15001 (line 15002)", "time_s jumps by 86400", "not filled as a gap"]),
    ),
    "gaps_adding_up": (
        lambda h, r: [h, *_gap(_gap(_gap(r, 30.0, 50.0), 110.0, 50.0), 190.0, 50.0)], {}, [],
        ("error", ["the gaps in time_s add up to 150 s, more than the 120 s the data covers",
                   "row 7501 (line 7502)"]),
    ),
    "swapped_rows": (
        lambda h, r: [h, *_swap(r, 5000)], {}, [],
        ("error", ["row 5002 (line 5003)", "time_s 20 is not after the previous row's 20.004"]),
    ),
    "repeated_time": (
        lambda h, r: [h, *_set_time(r, 5001, "20.000000")], {}, [],
        ("error", ["row 5002 (line 5003)", "is not after", "times must increase"]),
    ),
    "nan_time": (
        lambda h, r: [h, *_set_time(r, 5000, "nan")], {}, [],
        ("error", ["row 5001 (line 5002): time_s is nan, not a finite time"]),
    ),
    "inf_time": (
        lambda h, r: [h, *_set_time(r, 5000, "inf")], {}, [],
        ("error", ["row 5001 (line 5002): time_s is inf, not a finite time"]),
    ),
    "huge_time": (
        lambda h, r: [h, *_set_time(r, 5000, "1e300")], {}, [],
        ("error", ["row 5001 (line 5002): time_s jumps by 1e+300 s"]),
    ),
    "empty_time": (
        lambda h, r: [h, *_set_time(r, 5000, "")], {}, [],
        ("error", ["line 5002: column 'time_s' is empty", "--skip-bad-lines"]),
    ),
    "fs_disagrees": (
        lambda h, r: [h, *r], {}, ["--fs", "200"],
        ("error", ["--fs 200 Hz disagrees with time_s (250 Hz)"]),
    ),
    "milliseconds": (
        lambda h, r: [h, *(f"{float(x.split(',', 1)[0]) * 1000:.3f},{x.split(',', 1)[1]}"
                           for x in r)], {}, [],
        ("error", ["the sampling rate from time_s 0.25 Hz is outside", "(is time_s in seconds?)"]),
    ),
    "text_column_chosen": (
        lambda h, r: [h, *r], {}, ["--ecg", "zone"],
        ("error", ["column 'zone' (--ecg) holds text ('within' on line 2), not a signal"]),
    ),
    "bom": (lambda h, r: [h, *r], {"bom": True}, [], ("ok", [])),
    "quoted_crlf_blank_lines": (
        lambda h, r: [",".join(f'"{f}"' for f in ln.split(",")) + "\r" for ln in (h, *r)]
        + ["\r", ""], {}, [], ("ok", []),
    ),
    "semicolon_decimal_comma": (
        lambda h, r: _european([h, *r], ";"), {}, [],
        ("ok", ["read as semicolon-separated values with decimal commas"]),
    ),
    "tab": (
        lambda h, r: [ln.replace(",", "\t") for ln in (h, *r)], {}, [],
        ("ok", ["read as tab-separated values"]),
    ),
    "tab_decimal_comma_windows_1252": (
        lambda h, r: _european([h.replace("eda", "eda (µS)"), *r], "\t"), {"enc": "cp1252"}, [],
        ("ok", ["read as tab-separated values with decimal commas",
                "not UTF-8 text: read as Windows-1252"]),
    ),
    "short_line": (
        lambda h, r: [h, *_cut(r, 5000, 3)], {}, [],
        ("error", ["line 5002: 3 field(s) where the header has 5", "--skip-bad-lines"]),
    ),
    "not_a_number": (
        lambda h, r: [h, *r[:5000], r[5000].replace(",", ",x", 1), *r[5001:]], {}, [],
        ("error", ["line 5002: column 'ecg' is 'x"]),
    ),
    "short_lines_skipped": (
        lambda h, r: [h, *_cut(_cut(r, 9000, 1), 5000, 3)], {}, ["--skip-bad-lines"],
        ("ok", ["2 bad line(s) skipped (line 5002: 3 field(s) where the header has 5; "
                "line 9002: 1 field(s) where the header has 5)"]),
    ),
}  # fmt: skip


def _write_case(sim_csv: Path, tmp_path: Path, name: str) -> tuple[Path, list[str], tuple]:
    make, how, args, expected = CASES[name]
    header, *rows = sim_csv.read_text(encoding="utf-8").splitlines()
    p = tmp_path / f"{name}.csv"
    text = ("\ufeff" if how.get("bom") else "") + "\n".join(make(header, rows)) + "\n"
    p.write_text(text, encoding=how.get("enc", "utf-8"), newline="")
    return p, args, expected


@pytest.mark.parametrize("name", list(CASES))
def test_crafted_csv_through_wot_analyze(sim_csv, tmp_path, capsys, name):
    """Bad time stamps and bad lines: exit status 2, one line naming the file, the row and the
    line, nothing written; readable variants: analysed, with a note saying what was found."""
    p, args, (kind, texts) = _write_case(sim_csv, tmp_path, name)
    out = tmp_path / "out"
    code = main(["analyze", str(p), "--out", str(out), *args])
    got = capsys.readouterr()
    if kind == "error":
        assert code == 2, got.out
        assert got.err.startswith(f"wot: error: {p.name}") and got.err.count("\n") == 1, got.err
        assert "Traceback" not in got.err and "Some errors were detected" not in got.err
        for t in texts:
            assert t in got.err, got.err
        assert not out.exists()  # nothing written, not even half
        return
    assert code == 0, got.err
    notes = [ln.strip()[len("note: ") :] for ln in got.out.splitlines() if "note: " in ln]
    for t in texts:
        assert any(t in n for n in notes), notes
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert all(any(t in n for n in summary["input"]["notes"]) for t in texts)
    sigs = summary["input"]["signals"]
    assert {m: s["fs"] for m, s in sigs.items()} == {"ecg": FS, "eda": FS, "resp": FS}


@pytest.mark.parametrize("name", list(CASES))
def test_crafted_csv_through_the_reader(sim_csv, tmp_path, name):
    """The same files through read_recording: the error names the row and line; a readable
    variant gives the base file's samples (a gap: NaN over the gap, the rest in place)."""
    from wot_biofeedback.sources.files import read_recording

    p, args, (kind, texts) = _write_case(sim_csv, tmp_path, name)
    fs = float(args[1]) if args[:1] == ["--fs"] else None
    channels = {"ecg": args[1]} if args[:1] == ["--ecg"] else None
    skip = "--skip-bad-lines" in args
    if kind == "error":
        with pytest.raises(InputError) as err:
            read_recording(p, channels, fs=fs, skip_bad_lines=skip)
        assert all(t in str(err.value) for t in texts), err.value
        return
    base = read_recording(sim_csv)
    rec = read_recording(p, fs=fs, skip_bad_lines=skip)
    assert rec.csv_info is not None and rec.csv_info["rate_hz"] == FS
    for m in ("ecg", "eda", "resp"):
        want, have = base.signals[m].data, rec.signals[m].data
        assert rec.signals[m].fs == FS and rec.signals[m].t0 == 0.0
        if name == "gap_60s":
            k = int(60 * FS)  # 60 s of NaN where time_s jumps, the rest where time_s puts it
            assert have.size == want.size + k and np.isnan(have[k : 2 * k]).all()
            np.testing.assert_array_equal(have[:k], want[:k])
            np.testing.assert_array_equal(have[2 * k :], want[k:])
        elif name == "short_lines_skipped":  # two rows fewer; the rest as read
            np.testing.assert_array_equal(have, np.delete(want, [5000, 9000]))
        else:
            np.testing.assert_array_equal(have, want)
    if name == "gap_60s":
        assert rec.csv_info["gaps"] == 1 and rec.csv_info["gap_s"] == 60.0
        assert rec.csv_info["gap_list"] == [{"start_s": 60.0, "length_s": 60.0, "line": 15002}]
    if name == "short_lines_skipped":
        assert rec.csv_info["skipped_lines"] == 2
        assert [b["line"] for b in rec.csv_info["skipped_line_list"]] == [5002, 9002]
    if name == "semicolon_decimal_comma":
        assert (rec.csv_info["separator"], rec.csv_info["decimal_mark"]) == (";", ",")


def test_beats_after_a_time_gap_keep_their_time(sim, tmp_path, capsys):
    """A 60-s pause in time_s: no beat inside it, and every beat after it at its true time (it
    was 60 s early when only the column's rate was used)."""
    sim_csv, truth = sim
    p, args, _ = _write_case(sim_csv, tmp_path, "gap_60s")
    assert main(["analyze", str(p), "--out", str(tmp_path / "o"), *args]) == 0
    capsys.readouterr()
    beats = np.loadtxt(tmp_path / "o" / "rpeaks.csv", skiprows=1, ndmin=1)
    assert not ((beats > 60.5) & (beats < 120.0)).any()
    after = truth[(truth > 65.0) & (truth < 118.0)] + 60.0  # true beats, where the file has them
    found = beats[(beats > 125.0) & (beats < 178.0)]
    assert after.size > 40 and found.size == after.size
    assert np.abs(found - after).max() < 0.03  # each detected within 30 ms of its true time
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["input"]["duration_s"] == 180.0
    assert summary["input"]["csv"]["gap_list"][0]["length_s"] == 60.0


def test_time_jitter_and_short_pauses_are_not_gaps(tmp_path):
    """Time stamps rounded to the millisecond with jitter, and a 0.2-s hiccup: no gap, the rate
    from the steps (250 Hz, not the median of rounded steps)."""
    from wot_biofeedback.sources.files import read_recording

    rng = np.random.default_rng(3)
    n = 250 * 60
    t = np.arange(n) / FS + rng.uniform(-0.0015, 0.0015, n)
    t[n // 2 :] += 0.2  # under the clock's tolerance (0.5 s): jitter, not a pause
    x = np.round(np.sin(np.arange(n) / 40.0), 5)
    p = tmp_path / "jitter.csv"
    np.savetxt(p, np.column_stack([np.round(t, 3), x]), fmt=["%.3f", "%.5f"], delimiter=",",
               header="time_s,resp", comments="")  # fmt: skip
    rec = read_recording(p)
    assert rec.csv_info["gaps"] == 0 and not any("gap" in n for n in rec.notes)
    assert rec.signals["resp"].fs == pytest.approx(FS, rel=1e-3)
    np.testing.assert_array_equal(rec.signals["resp"].data, x)


def test_a_gap_longer_than_a_day_is_an_error_even_in_long_data(tmp_path):
    """25 h of data at 1 Hz with a 25-h pause: longer than a day, refused before any fill."""
    from wot_biofeedback.sources.files import read_recording

    n = 25 * 3600
    t = np.arange(n, dtype=np.float64)
    t[n // 2 :] += 25 * 3600.0
    p = tmp_path / "long.csv"
    np.savetxt(p, np.column_stack([t, np.full(n, 5.0)]), fmt="%.1f", delimiter=",",
               header="time_s,eda", comments="")  # fmt: skip
    with pytest.raises(InputError, match=r"row 45001 \(line 45002\).*longer than a day"):
        read_recording(p)


def test_without_a_time_column_a_skipped_line_keeps_its_place(tmp_path):
    """--fs and no time_s: a bad line is a missing sample (NaN), so what follows keeps its time;
    without --skip-bad-lines it is an error naming the line."""
    from wot_biofeedback.sources.files import read_recording

    p = tmp_path / "ecg.csv"
    p.write_text("ECG;EDA\n0,1;5\n0,2;5\n\n0,3\n0,4;5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ecg.csv, line 5: 1 field\(s\) where the header has 2"):
        read_recording(p, fs=100.0)
    rec = read_recording(p, fs=100.0, skip_bad_lines=True)
    np.testing.assert_array_equal(rec.signals["ecg"].data, [0.1, 0.2, np.nan, 0.4])
    assert any("each left as a missing sample (NaN)" in n for n in rec.notes)
    assert rec.csv_info["skipped_line_list"] == [
        {"line": 5, "problem": "1 field(s) where the header has 2"}
    ]


def test_skip_bad_lines_option_says_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    entry = text.split("--skip-bad-lines ", 1)[1].split(" --", 1)[0]
    assert "(default: stop at the first, naming its line)" in entry


def _outcome(p: Path, args: list[str]) -> tuple[str, object]:
    from wot_biofeedback.sources.files import read_recording

    fs = float(args[1]) if args[:1] == ["--fs"] else None
    channels = {"ecg": args[1]} if args[:1] == ["--ecg"] else None
    try:
        rec = read_recording(p, channels, fs=fs, skip_bad_lines="--skip-bad-lines" in args)
    except InputError as exc:
        return "error", str(exc)
    return "ok", rec


@pytest.mark.parametrize("name", list(CASES))
def test_crafted_csv_on_disk_a_block_at_a_time_reads_the_same(sim_csv, tmp_path, monkeypatch,
                                                                name):  # fmt: skip
    """A file too large for memory is read into temporary files and its time column checked
    and placed a block of rows at a time: the same signals, notes and errors (row, line and
    values) as the file read whole in memory; here forced on a small file, in blocks of 997
    rows, so every check and gap crosses block edges."""
    from wot_biofeedback.sources import spill

    p, args, _expected = _write_case(sim_csv, tmp_path, name)
    whole = _outcome(p, args)
    monkeypatch.setenv("WOT_SPILL_MB", "0")
    monkeypatch.setattr(spill, "BLOCK_ROWS", 997)
    blocked = _outcome(p, args)
    assert blocked[0] == whole[0]
    if whole[0] == "error":
        assert blocked[1] == whole[1]
        return
    a, b = whole[1], blocked[1]
    assert isinstance(a, Recording) and isinstance(b, Recording)
    assert b.notes == a.notes and b.csv_info == a.csv_info
    assert set(b.signals) == set(a.signals)
    for m, sig in a.signals.items():
        got = b.signals[m]
        assert isinstance(got.data, spill.DiskArray)  # on disk, not in memory
        assert (got.fs, got.t0, got.name, got.unit) == (sig.fs, sig.t0, sig.name, sig.unit)
        np.testing.assert_array_equal(np.asarray(got.data), sig.data)
