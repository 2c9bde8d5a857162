"""Session reports, client history and markers: real files through the real CLI."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from wot_simulators import SimConfig, load_scenario, simulate_session

from wot_biofeedback import cli
from wot_biofeedback.errors import InputError
from wot_biofeedback.recorder import write_recording_xdf
from wot_biofeedback.report import load_session, physiology_table, segments, write_report
from wot_biofeedback.sources.files import Recording, Signal, read_markers, read_recording

WOT = [sys.executable, "-m", "wot_biofeedback.cli"]
SECTIONS = ("overview", "timeline", "zones", "excursions", "cues", "physiology", "markers",
            "quality", "software")  # fmt: skip
NOTE = "client reports tight chest"
ODD = "<b>paid $5 & $10_x</b>"  # markup, ampersand and math-like dollars in a therapist note


def _section(page: str, name: str) -> str:
    m = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert m, f"section {name!r} missing"
    return m.group(1)


def assert_offline(page: str) -> None:
    """The page loads nothing: no script, no link, no remote address of any kind."""
    low = page.lower()
    for bad in ("<script", "<link", "@import", "url(", "<iframe", "<object", "<embed"):
        assert bad not in low, bad
    for m in re.finditer(r'(?:src|href)\s*=\s*"([^"]*)"', page, re.I):
        target = m.group(1)
        assert target.startswith("data:image/png;base64,") or not re.match(
            r"^(?:[a-z]+:|//)", target, re.I
        ), target
    assert "http://" not in low and "https://" not in low


def _png(path: Path) -> None:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert w >= 600 and h >= 200, (path, w, h)


@pytest.fixture(scope="module")
def full_session(tmp_path_factory):
    """A simulated full-session recorded as a wot session file, with therapist markers at the
    phase changes and one note; then ``wot report FILE --out DIR`` through the CLI."""
    tmp = tmp_path_factory.mktemp("report")
    scen = load_scenario("full-session")
    sess = simulate_session(scen, SimConfig(seed=1))
    rec = Recording(
        "simulated",
        {m: Signal(sess.signal(m), sess.fs(m), m, "uS" if m == "eda" else "")
         for m in ("ecg", "eda", "resp")},
    )  # fmt: skip
    marks = [(a, f"{seg.name} begins") for a, _b, seg in scen.segment_bounds()][1:]
    marks += [(400.0, NOTE), (450.0, ODD)]
    path = write_recording_xdf(
        rec, tmp / "client7.xdf", markers=marks, metadata={"client": "client7", "seed": 1}
    )
    out = tmp / "rep"
    r = subprocess.run([*WOT, "report", str(path), "--out", str(out)], capture_output=True,
                       text=True, timeout=240)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out, (out / "report.html").read_text(encoding="utf-8"), marks


def test_report_of_a_simulated_session_has_every_section(full_session):
    out, page, marks = full_session
    assert_offline(page)
    for name in SECTIONS:
        _section(page, name)
    for f in ("timeline.png", "physiology.png", "zones.png"):
        _png(out / f)
    assert page.count("data:image/png;base64,") == 3  # the figures travel inside the page
    assert "client client7" in page  # who, from the recording's own session record
    summary = json.loads((out / "summary.json").read_text())

    zones = _section(page, "zones")
    for z in ("hyper", "within", "hypo", "unknown"):
        assert z in zones
    exc = _section(page, "excursions")
    n = summary["n_excursions"]
    assert n["hyper"] >= 1 and n["hypo"] >= 1
    assert exc.count("<tr>") == 1 + n["hyper"] + n["hypo"]  # header + one row per excursion
    assert "recovery (peak to window)" in exc
    cues = _section(page, "cues")
    assert len(summary["cues"]) >= 2 and cues.count("<tr>") == 1 + len(summary["cues"])
    assert "time back to window" in cues
    physio = _section(page, "physiology")
    assert "By zone" in physio and "By marked segment" in physio
    for _t, text in marks[:-1]:
        assert text in physio  # one row per marked segment
    markers = _section(page, "markers")
    assert NOTE in markers and markers.count("<tr>") == 1 + len(marks)
    assert "&lt;b&gt;paid $5 &amp; $10_x&lt;/b&gt;" in markers and "<b>paid" not in page
    quality = _section(page, "quality")
    for m in ("ecg", "eda", "resp"):
        assert f"<td>{m}</td>" in quality
    software = _section(page, "software")
    assert summary["software"]["version"] in software and "All parameters" in software
    assert "&quot;upper&quot;: 1.5" in software  # the zone parameters, as used (escaped)


def test_report_figures_follow_the_physiology(full_session):
    """The per-zone summaries say what the simulator did: HR up and RMSSD down in hyper,
    HR down in hypo; the stressor segment is mostly out of the window."""
    out, _page, _marks = full_session
    data = load_session(out)
    by = {z: physiology_table(data, data.zone == z) for z in ("hyper", "within", "hypo")}
    assert by["hyper"]["hr_bpm"][0] > by["within"]["hr_bpm"][0] + 10
    assert by["hyper"]["rmssd_ms"][0] < by["within"]["rmssd_ms"][0]
    assert by["hypo"]["hr_bpm"][0] < by["within"]["hr_bpm"][0] - 5
    assert by["hyper"]["scr_per_min"][0] > by["within"]["scr_per_min"][0]
    segs = {label: (a, b) for label, a, b in segments(data)}
    a, b = segs["stressor begins"]
    assert (a, b) == (180.0, 360.0)
    # the engine's own notes are events on the timeline, never segment boundaries
    data.markers.append((250.0, "[engine] ecg signal lost (no data for 3.0 s)"))
    assert {label: (a, b) for label, a, b in segments(data)} == segs
    m = (data.time_s >= a + 30) & (data.time_s < b)
    assert np.mean(data.zone[m] == "hyper") > 0.8


def test_report_rewritten_from_an_analysis_folder(full_session, tmp_path):
    """``wot report DIR`` reads an analysis folder; a folder without one is a clear error."""
    out, page, _ = full_session
    again = write_report(out, tmp_path / "again")
    body = again.read_text(encoding="utf-8")
    assert _section(body, "excursions") == _section(page, "excursions")
    with pytest.raises(InputError, match=r"no summary\.json"):
        load_session(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    with pytest.raises(InputError, match="not readable"):
        load_session(tmp_path / "bad")


def test_real_drive_report_with_segments(wot_data, tmp_path):
    """PhysioNet drivedb drive05 through ``wot report`` with its segments as markers: every
    section, the City segments mostly hyper and the Rest ones mostly not."""
    seg_csv = wot_data / "drivedb" / "segments.csv"
    if not (wot_data / "drivedb" / "drive05.hea").exists() or not seg_csv.exists():
        pytest.skip(f"drivedb/drive05 or its segments.csv not found under {wot_data}")
    out = tmp_path / "d5"
    code = cli.main(
        ["report", str(wot_data / "drivedb" / "drive05"), "--out", str(out), "--ecg", "ECG",
         "--eda", "foot GSR", "--resp", "RESP", "--baseline", "100:400", "--markers", str(seg_csv)]
    )  # fmt: skip
    assert code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert_offline(page)
    for name in SECTIONS:
        _section(page, name)
    physio = _section(page, "physiology")
    for label in ("Rest1", "City1", "Highway1", "City2", "Highway2", "City3", "Rest2"):
        assert label in physio
    data = load_session(out)
    hyper = {}
    for label, a, b in segments(data):
        m = (data.time_s >= a + 60) & (data.time_s < b)
        hyper[label] = float(np.mean(data.zone[m] == "hyper"))
    print("drive05 share hyper per segment:", hyper)
    assert min(hyper["City1"], hyper["City3"]) > 0.8
    assert hyper["Rest2"] < 0.3


# markers ------------------------------------------------------------------------------------
def test_markers_file_segments_and_points(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("record,segment,start_s,end_s\nr1,Rest,10,100\nr1,Task,100,160\nr2,Other,5,6\n")
    assert read_markers(p, "r1") == [(10.0, "Rest"), (100.0, "Task"), (160.0, "end Task")]
    assert read_markers(p, "r9") == []  # a recording the table does not list gets none
    q = tmp_path / "q.csv"
    q.write_text('time_s,text\n30,breath work\n12.5,"arrived, anxious"\n')
    assert read_markers(q) == [(12.5, "arrived, anxious"), (30.0, "breath work")]
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,text\nsoon,late\n")
    with pytest.raises(InputError, match="line 2"):
        read_markers(bad)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("when,text\n1,a\n")
    with pytest.raises(InputError, match="time_s"):
        read_markers(nocol)


def test_xdf_marker_streams_become_markers(wot_data):
    path = wot_data / "xdf" / "minimal.xdf"
    if not path.exists():
        pytest.skip(f"xdf/minimal.xdf not found under {wot_data}")
    # its numeric stream runs at 10 Hz: an EDA rate (an ECG at 10 Hz is refused)
    rec = read_recording(path, {"eda": "SendDataC"})
    assert len(rec.markers) == 9  # the string stream's 9 samples
    assert all(isinstance(text, str) and text for _t, text in rec.markers)
    times = [t for t, _ in rec.markers]
    assert times == sorted(times) and -1.0 < times[0] < rec.duration_s + 1.0


# client history -----------------------------------------------------------------------------
def test_client_history_shows_the_window_widening(full_session, tmp_path, monkeypatch):
    """Three sessions of one client, the window widened between them (as ``wot assess``
    would): the history page shows every session, the bounds and a widening verdict."""
    from wot_biofeedback.config import EngineConfig
    from wot_biofeedback.profiles import add_session, load_profile, save_profile
    from wot_biofeedback.state import Baseline

    monkeypatch.setenv("WOT_PROFILE_DIR", str(tmp_path / "profiles"))
    out, _page, _ = full_session
    summary = json.loads((out / "summary.json").read_text())
    base = Baseline.from_dict(summary["baseline"])
    prof = load_profile("client7", EngineConfig())
    # a session saved before bounds, peak recovery and resting levels were stored
    add_session(prof, summary, base, "old.xdf")
    for key in ("window", "recovery_from_peak_s", "baseline_levels"):
        del prof["sessions"][0][key]
    for upper in (1.2, 1.5, 1.9):
        prof["window"] = {"upper": upper, "lower": -upper}
        add_session(prof, summary, base, str(out / "session.xdf"))
    save_profile(prof)
    code = cli.main(["report", "--client", "client7", "--out", str(tmp_path / "hist")])
    assert code == 0
    page = (tmp_path / "hist" / "client.html").read_text(encoding="utf-8")
    assert_offline(page)
    _png(tmp_path / "hist" / "client_trends.png")
    assert "<b>widening</b> across the 3 sessions whose bounds were stored" in page
    assert _section(page, "sessions").count("<tr>") == 1 + 4
    with open(tmp_path / "hist" / "client_history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # the old session shows the current bounds, marked as not stored, and no peak recovery
    assert [float(r["upper"]) for r in rows] == [1.9, 1.2, 1.5, 1.9]
    assert [r["window_recorded"] for r in rows] == ["False", "True", "True", "True"]
    assert rows[0]["recovery_median_s"] == ""
    rec = summary["recovery_from_peak_s"]["median"]
    assert rec > 10 and all(float(r["recovery_median_s"]) == pytest.approx(rec) for r in rows[1:])
    known = sum(summary["time_in_zone_s"][z] for z in ("hyper", "within", "hypo"))
    assert float(rows[1]["in_window"]) == pytest.approx(summary["time_in_zone_s"]["within"] / known)
    levels = summary["baseline_levels"]
    assert 60 < levels["hr_bpm"] < 80 and 2 < levels["scl_us"] < 8  # resting, natural units
    assert float(rows[3]["baseline_scl_us"]) == pytest.approx(levels["scl_us"])
    assert float(rows[3]["baseline_rmssd_ms"]) == pytest.approx(levels["rmssd_ms"])
    # the old session falls back to its baseline's raw medians (no resting levels stored)
    assert float(rows[0]["baseline_rmssd_ms"]) == pytest.approx(
        summary["baseline"]["median"]["rmssd_ms"]
    )


def test_client_history_errors_are_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WOT_PROFILE_DIR", str(tmp_path / "profiles"))
    assert cli.main(["report", "--client", "nobody", "--out", str(tmp_path / "h")]) == 2
    assert "no profile for client 'nobody'" in capsys.readouterr().err
    assert cli.main(["report"]) == 2
    assert "give a SESSION" in capsys.readouterr().err


def test_excursions_bridge_unusable_stretches():
    """hyper, unknown, hyper is one excursion (signals briefly unusable), not two that 'never
    came back'; recovery is counted from its peak."""
    from wot_biofeedback.summary import excursions

    zones = ["within"] * 4 + ["hyper"] * 8 + ["unknown"] * 6 + ["hyper"] * 4 + ["within"] * 4
    t = np.arange(len(zones)) * 0.25
    arousal = np.where(np.array(zones) == "hyper", 2.0, 0.0)
    arousal[14] = np.nan
    arousal[8] = 3.0  # the peak
    (e,) = excursions(t, zones, arousal)
    assert e["zone"] == "hyper" and e["returned_to_window"]
    assert e["start_s"] == 1.0 and e["end_s"] == 5.5 and e["unknown_s"] == 1.5
    assert e["peak_s"] == 2.0 and e["recovery_from_peak_s"] == 3.5 and e["recovery_s"] == 0.0
    two = excursions(t, zones[:-4] + ["hypo"] * 4, np.r_[arousal[:-4], [-2.0] * 4])
    assert [x["zone"] for x in two] == ["hyper", "hypo"] and not two[0]["returned_to_window"]
