"""`wot analyze`: the offline contract on real recordings, and clear errors on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from wot_biofeedback.cli import main
from wot_biofeedback.errors import InputError
from wot_biofeedback.sources.files import read_recording

CONTRACT = {
    "rpeaks.csv": ["time_s"],
    "rr.csv": ["time_s", "rr_ms", "corrected"],
    "scr.csv": ["onset_s", "peak_s", "amplitude_us"],
    "breaths.csv": ["time_s"],
    "states.csv": ["time_s", "state", "arousal", "confidence"],
}
FEATURE_COLS = [
    "time_s",
    "hr_bpm",
    "rmssd_ms",
    "sdnn_ms",
    "scl_us",
    "scr_per_min",
    "resp_rate_bpm",
    "resp_depth",
    "quality_ecg",
    "quality_eda",
    "quality_resp",
    "arousal",
    "state",
]


def _header(p: Path) -> list[str]:
    with open(p, newline="") as fh:
        return next(csv.reader(fh))


def check_contract(out: Path) -> dict:
    for name, cols in CONTRACT.items():
        # the contract's columns come first; extra columns may follow (rr.csv: nn_ms, artifact)
        assert _header(out / name)[: len(cols)] == cols, name
    fcols = _header(out / "features.csv")
    assert all(c in fcols for c in FEATURE_COLS)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("time_in_zone_s", "excursions", "signal_quality", "software", "parameters"):
        assert key in summary
    states = np.genfromtxt(out / "states.csv", delimiter=",", names=True, dtype=None, encoding=None)
    assert set(np.unique(states["state"])) <= {"hyper", "within", "hypo", "unknown"}
    assert np.all(np.diff(states["time_s"]) > 0)
    return summary


@pytest.mark.realdata
def test_analyze_mitdb_100(wot_data, tmp_path):
    out = tmp_path / "o"
    assert main(["analyze", str(wot_data / "mitdb" / "100"), "--out", str(out)]) == 0
    s = check_contract(out)
    r = np.loadtxt(out / "rpeaks.csv", skiprows=1)
    # every reference beat (2273) found within 150 ms, except the learning period
    import wfdb

    ann = wfdb.rdann(str(wot_data / "mitdb" / "100"), "atr")
    keep = np.isin(ann.symbol, list("NLRBAaJSVrFejnE/fQ?"))
    ref = ann.sample[keep] / 360.0
    d = np.abs(ref[:, None] - r[None, :]).min(axis=1)
    assert np.mean(d <= 0.15) >= 0.998
    assert len(r) <= len(ref) + 2
    assert s["counts"]["rpeaks"] == len(r)
    assert s["input"]["signals"]["ecg"]["fs"] == 360.0


@pytest.mark.realdata
def test_analyze_neurokit_resting_csv(wot_data, tmp_path):
    out = tmp_path / "o"
    rc = main(
        [
            "analyze",
            str(wot_data / "neurokit" / "bio_resting_8min_100hz.csv"),
            "--out",
            str(out),
            "--fs",
            "100",
        ]
    )
    assert rc == 0
    s = check_contract(out)
    assert set(s["input"]["signals"]) == {"ecg", "eda", "resp"}
    breaths = np.loadtxt(out / "breaths.csv", skiprows=1)
    rate = 60.0 / np.median(np.diff(breaths))
    assert 8 < rate < 25  # a resting adult
    hr = np.genfromtxt(out / "features.csv", delimiter=",", names=True, dtype=None, encoding=None)[
        "hr_bpm"
    ]
    assert 45 < np.nanmedian(hr) < 100
    # a resting recording: mostly within once calibrated
    assert s["fraction_in_zone"]["hyper"] < 0.1


def test_analyze_bad_inputs_exit_nonzero_with_one_line(tmp_path, capsys):
    # in-process (tests/test_cli.py runs the installed entry point as a subprocess)
    def run(*args):
        code = main(list(args))
        return code, capsys.readouterr().err.strip()

    rc, err = run("analyze", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o"))
    assert rc != 0 and err.count("\n") == 0 and "not found" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,ecg\n0,abc\n")
    rc, err = run("analyze", str(bad), "--out", str(tmp_path / "o"))
    assert rc != 0 and err.count("\n") == 0 and "bad.csv" in err
    good = tmp_path / "ok.csv"
    t = np.arange(0, 30, 0.01)
    np.savetxt(
        good, np.column_stack([t, np.sin(t)]), delimiter=",", header="time_s,ecg", comments=""
    )
    rc, err = run("analyze", str(good), "--out", str(tmp_path / "o"), "--eda", "skin")
    assert rc != 0 and "'skin' not found" in err and "ecg" in err
    rc, err = run("analyze", str(good), "--out", str(tmp_path / "o"), "--ecg", "5")
    assert rc != 0 and "index 5 is out of range" in err
    rc, err = run("analyze", str(good), "--out", str(tmp_path / "o"), "--baseline", "30:10")
    assert rc != 0 and "--baseline" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    rc, err = run("analyze", str(empty), "--out", str(tmp_path / "o"))
    assert rc != 0 and "empty" in err
    (tmp_path / "nothing").mkdir()  # a folder is a cohort; one without recordings is an error
    rc, err = run("analyze", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"))
    assert rc != 0 and "no recordings" in err
    rc, err = run("analyze", str(good), "--out", str(tmp_path / "o"), "--eda-unit", "furlongs")
    assert rc != 0 and "'furlongs'" in err  # rejected even though the file has no EDA
    nohdr = tmp_path / "x.xdf"
    nohdr.write_bytes(b"XDF:")
    rc, err = run("analyze", str(nohdr), "--out", str(tmp_path / "o"))
    assert rc != 0 and "x.xdf: no streams in the file" in err
    edf = tmp_path / "x.edf"
    edf.write_bytes(b"0       ")
    rc, err = run("analyze", str(edf), "--out", str(tmp_path / "o"))
    assert rc != 0 and "x.edf: not a readable EDF file" in err


def test_analyze_csv_without_time_needs_fs(tmp_path):
    p = tmp_path / "n.csv"
    np.savetxt(
        p, np.random.default_rng(0).normal(size=(500, 1)), delimiter=",", header="ECG", comments=""
    )
    assert main(["analyze", str(p), "--out", str(tmp_path / "o")]) == 2


def test_analyze_eda_in_nanosiemens_is_flagged_and_convertible(tmp_path, capsys):
    fs = 32.0
    t = np.arange(0, 200, 1 / fs)
    eda_ns = 5000.0 + 300.0 * np.exp(-((t - 100) % 20) / 3.0)
    p = tmp_path / "e.csv"
    np.savetxt(p, np.column_stack([t, eda_ns]), delimiter=",", header="time_s,EDA", comments="")
    assert main(["analyze", str(p), "--out", str(tmp_path / "a")]) == 0
    assert "check --eda-unit" in capsys.readouterr().err
    f = np.genfromtxt(
        tmp_path / "a" / "features.csv", delimiter=",", names=True, dtype=None, encoding=None
    )
    assert np.nanmax(f["quality_eda"]) == 0.0  # 5000 "µS" is implausible: quality flags it
    assert main(["analyze", str(p), "--out", str(tmp_path / "b"), "--eda-unit", "nS"]) == 0
    f = np.genfromtxt(
        tmp_path / "b" / "features.csv", delimiter=",", names=True, dtype=None, encoding=None
    )
    assert np.nanmedian(f["scl_us"]) == pytest.approx(5.0, rel=0.1)
    assert np.nanmedian(f["quality_eda"][f["time_s"] > 10]) == 1.0


def test_analyze_path_is_the_use_case_behind_wot_analyze(tmp_path):
    """One call reads, sets up and analyses; its steps go to on_message in order."""
    from wot_biofeedback.analysis import AnalysisOptions, analyze_path
    from wot_biofeedback.errors import SignalQualityWarning

    fs = 32.0
    t = np.arange(0, 200, 1 / fs)
    p = tmp_path / "e.csv"
    eda_ns = 5000.0 + 300.0 * np.exp(-((t - 100) % 20) / 3.0)
    np.savetxt(p, np.column_stack([t, eda_ns]), delimiter=",", header="time_s,EDA", comments="")
    marks = tmp_path / "m.csv"
    marks.write_text("time_s,text\n50,task\n", encoding="utf-8")
    said: list[tuple[str, str]] = []
    opts = AnalysisOptions(markers=marks, baseline=(10.0, 130.0))
    got = analyze_path(p, tmp_path / "a", opts, on_message=lambda k, m: said.append((k, m)))
    kinds = [k for k, _ in said]
    assert kinds[:2] == ["warning", "info"] and kinds[-1] == "result", said
    assert set(kinds[2:-1]) <= {"note"}  # the reader's notes
    assert "check --eda-unit" in said[0][1]
    assert said[1][1] == f"markers: 1 added from {marks}"
    assert said[-1][1].startswith("analysed 200 s (eda=EDA@32Hz) in ")
    assert got.out == tmp_path / "a" and got.profile_path is None
    assert got.summary == json.loads((tmp_path / "a" / "summary.json").read_text())
    assert got.recording.markers == [(50.0, "task")]
    # without a listener the reader's warnings stay warnings, and nothing is printed
    with pytest.warns(SignalQualityWarning, match="check --eda-unit"):
        quiet = analyze_path(p, tmp_path / "b", AnalysisOptions(eda_unit="uS"))
    assert quiet.summary["fraction_in_zone"] == got.summary["fraction_in_zone"]


def test_analysis_options_refuse_a_profile_baseline_without_a_profile():
    from wot_biofeedback.analysis import AnalysisOptions

    with pytest.raises(InputError, match="profile_baseline needs a profile"):
        AnalysisOptions(profile_baseline=True)
    with pytest.raises(InputError, match="not both"):
        AnalysisOptions(profile="c", profile_baseline=True, baseline=(0.0, 60.0))


def test_recording_shorter_than_calibration_says_so(tmp_path):
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent))
    from _synth import ecg_like

    x, _ = ecg_like(250.0, 60.0)
    p = tmp_path / "short.csv"
    t = np.arange(x.size) / 250.0
    np.savetxt(p, np.column_stack([t, x]), delimiter=",", header="time_s,ECG", comments="")
    assert main(["analyze", str(p), "--out", str(tmp_path / "o")]) == 0
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert "ended before the calibration window" in s["calibration_message"]
    assert s["fraction_in_zone"]["unknown"] == 1.0
    # with a baseline that fits, the same recording is classified
    assert main(["analyze", str(p), "--out", str(tmp_path / "b"), "--baseline", "5:35"]) == 0
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["fraction_in_zone"]["within"] > 0.3


@pytest.mark.realdata
def test_analyze_ppg_gives_pulse_rate_variability_close_to_ecg(wot_data, tmp_path):
    """NeuroKit2's 5-min resting recording has ECG and PPG: the same HRV from either source."""
    src = wot_data / "neurokit" / "bio_resting_5min_100hz.csv"
    args = ["analyze", str(src), "--fs", "100", "--baseline", "0:120"]
    assert main([*args, "--out", str(tmp_path / "e")]) == 0
    assert main([*args, "--ppg", "PPG", "--out", str(tmp_path / "p")]) == 0
    s = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert set(s["input"]["signals"]) >= {"ppg"}

    def col(d: str, name: str) -> np.ndarray:
        with open(tmp_path / d / "features.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return np.array([float(r[name]) if r[name] else np.nan for r in rows])

    hr_e, hr_p = col("e", "hr_bpm"), col("p", "hr_bpm")
    ok = np.isfinite(hr_e) & np.isfinite(hr_p)
    assert ok.mean() > 0.9
    print("median |HR PPG - HR ECG|, bpm:", np.median(np.abs(hr_e[ok] - hr_p[ok])))
    assert np.median(np.abs(hr_e[ok] - hr_p[ok])) < 1.0
    with open(tmp_path / "p" / "rr.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 300 and {"nn_ms", "artifact"} <= set(rows[0])


# XDF (LabRecorder files from the shared data) ----------------------------------------------------
def _xdf(wot_data, name):
    path = wot_data / "xdf" / name
    if not path.exists():
        pytest.skip(f"{path} not found (the shared XDF examples)")
    return path


def test_xdf_with_clock_resets_reads_on_one_clock(wot_data, tmp_path):
    """clock_resets.xdf: an 8-channel 100 Hz stream whose recording clock was reset (raw
    timestamps jump from ~653,150 s to ~262 s) plus a marker stream. Synchronised (pyxdf's
    clock-reset handling), the 27,815 samples sit on one clock: 128.76 s, then a 273.9-s step in
    the time stamps, then the rest. The session clock places them as the live engine places the
    same file replayed (``wot replay``): the step is a pause, filled with NaN, so what follows
    keeps its time. Chosen by stream name or type; markers are listed, not used."""
    path = _xdf(wot_data, "clock_resets.xdf")
    rec = read_recording(path, {"ecg": "EEG"})  # by type
    sig = rec.signals["ecg"]
    assert (sig.fs, sig.t0, sig.name) == (100.0, 0.0, "BioSemi")
    assert int(np.isfinite(sig.data).sum()) == 27815
    gap = np.flatnonzero(np.isnan(sig.data))
    assert gap[0] == 12876 and gap.size == pytest.approx(27387, abs=1)  # after 12,876 samples
    assert rec.duration_s == pytest.approx(552.0, abs=0.1)
    assert any("pauses in the stream are left as gaps" in n for n in rec.notes)
    assert any("MyMarkerStream" in n and "not used" in n for n in rec.notes)
    assert any("channel 0 of stream 'BioSemi' (8 channels)" in n for n in rec.notes)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--ecg", "BioSemi", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["duration_s"] == pytest.approx(552.0, abs=0.3)


def test_xdf_empty_streams_give_a_clear_report(wot_data, capsys):
    path = _xdf(wot_data, "empty_streams.xdf")
    assert main(["analyze", str(path), "--out", "/tmp/never-written"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wot: error: empty_streams.xdf: no ECG, PPG, EDA or RESP stream")
    assert "'Empty data stream: test stream 0 counter' (data, 0 samples)" in err
    with pytest.raises(InputError, match="holds no samples"):
        read_recording(path, {"ecg": "Empty data stream: test stream 0 counter"})
    with pytest.raises(InputError, match="not found by name or type"):
        read_recording(path, {"eda": "GSR"})


def test_damaged_xdf_files(wot_data, tmp_path):
    """A recording cut short keeps what was written; a file that is not XDF says so."""
    full = _xdf(wot_data, "clock_resets.xdf").read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(full[:300_000])
    rec = read_recording(cut, {"ecg": "BioSemi"})
    assert 1000 < rec.signals["ecg"].data.size < 27815
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(b"XDF:" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"bad.xdf: (no streams|not a readable XDF)"):
        read_recording(bad)


def test_edf_recording_is_analysed_like_the_signals_it_holds(tmp_path):
    """An EDF written with edfio (16-bit, 1-s records) from a simulated session: ECG, EDA
    stored in nS (converted back to µS) and RESP at their own rates, chosen by label; the zones
    equal those of the same signals fed straight to the pipeline for >= 98 % of frames."""
    import edfio
    from wot_simulators import SimConfig, load_scenario, simulate_session

    from wot_biofeedback.offline import run_recording
    from wot_biofeedback.sources.files import Recording, Signal

    sess = simulate_session(load_scenario("stress-and-recovery"), SimConfig(seed=1), 300.0)
    signals = [
        edfio.EdfSignal(sess.ecg, 250.0, label="ECG II", physical_dimension="mV"),
        edfio.EdfSignal(sess.eda * 1000.0, 32.0, label="GSR foot", physical_dimension="nS"),
        edfio.EdfSignal(sess.resp, 50.0, label="Resp belt", physical_dimension=""),
    ]
    path = tmp_path / "session.edf"
    edfio.Edf(signals).write(path)
    rec = read_recording(path)
    assert {m: (s.name, s.fs) for m, s in rec.signals.items()} == {
        "ecg": ("ECG II", 250.0), "eda": ("GSR foot", 32.0), "resp": ("Resp belt", 50.0)
    }  # fmt: skip
    assert np.nanmedian(rec.signals["eda"].data) == pytest.approx(np.median(sess.eda), rel=1e-3)
    assert any("converted from nS" in n for n in rec.notes)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--eda", "GSR foot"]) == 0
    with open(out / "states.csv", newline="") as fh:
        from_edf = [r["state"] for r in csv.DictReader(fh)]
    direct = Recording(
        "sim", {m: Signal(sess.signal(m), sess.fs(m), m) for m in ("ecg", "eda", "resp")}
    )
    res, _ = run_recording(direct)
    n = min(len(from_edf), len(res.frames))
    same = np.mean([a == f.state.zone for a, f in zip(from_edf[:n], res.frames[:n], strict=True)
                    if f.time_s >= 120.0])  # fmt: skip
    assert same >= 0.98, same
    # a damaged file says so
    bad = tmp_path / "bad.edf"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match=r"bad\.edf: not a readable EDF"):
        read_recording(bad)
