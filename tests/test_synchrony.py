"""Physiological synchrony (issue 21): the windowed lagged cross-correlation and its surrogate
test, streaming equal to batch; the event grid; the simulated dyad; ``wot simulate --dyad``
-> ``wot analyze --subjects``."""

from __future__ import annotations

import csv
import json
import re
import time

import numpy as np
import pytest
from wot_simulators import SimConfig
from wot_simulators.dyad import parse_script, simulate_dyad

from wot_biofeedback.analysis import AnalysisOptions
from wot_biofeedback.cli import main
from wot_biofeedback.dsp.synchrony import (
    EventGrid,
    SynchronyStream,
    SyncParams,
    event_grid,
    synchrony,
)
from wot_biofeedback.errors import InputError

FS = 4.0


def _ou(rng, n, tau_s=3.0, fs=FS):
    rho = np.exp(-1.0 / (tau_s * fs))
    z = rng.standard_normal(n) * np.sqrt(1 - rho * rho)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for i in range(1, n):
        x[i] = rho * x[i - 1] + z[i]
    return x


def _pair(seed, n=2400, lag_s=3.0, coupled=True, noise=0.5):
    """``a`` leads: ``b`` is ``a`` ``lag_s`` later plus its own dynamics (coupled), or not."""
    rng = np.random.default_rng(seed)
    a = _ou(rng, n) + 0.3 * _ou(rng, n, 60.0)
    own = _ou(rng, n)
    k = round(lag_s * FS)
    b = (np.r_[np.zeros(k), a[:-k]] if coupled else 0.0) + noise * own
    return a, b


def test_streaming_equals_batch_for_any_chunking():
    a, b = _pair(0, n=1600)
    a[300:340] = np.nan  # a gap: those windows unscored, the same in both
    b[900] = np.nan
    ref = synchrony(a, b, FS)
    assert len(ref) > 50 and np.isfinite(ref.p).sum() > 10
    rng = np.random.default_rng(1)
    for _ in range(3):
        st = SynchronyStream(FS)
        parts, i = [], 0
        while i < a.size:
            k = int(rng.integers(1, 200))
            parts.append(st.update(a[i : i + k], b[i : i + k]))
            i += k
        got = type(ref).concat(parts)
        for f in ("time_s", "r", "lag_s", "p", "n_surrogates", "significant"):
            np.testing.assert_array_equal(getattr(got, f), getattr(ref, f), err_msg=f)
    # memory stays flat: the stream keeps its history, not the session
    assert st._a.size <= SyncParams().history(FS)


def test_a_lagged_copy_is_found_with_its_leader_and_lag_and_the_null_holds():
    a, b = _pair(2)
    r = synchrony(a, b, FS)
    tested = np.isfinite(r.p)
    found = r.significant & (np.abs(r.lag_s + 3.0) <= 1.0)  # lag < 0: a leads
    assert found[tested].mean() >= 0.9
    assert np.median(r.lag_s[r.significant]) == pytest.approx(-3.0, abs=0.25)
    # independent series: significant at about the nominal rate (5 %; 24 % at most here,
    # over several pairs, so a chance excess of one pair does not fail the test)
    fp = []
    for seed in range(4):
        a, b = _pair(10 + seed, coupled=False)
        r = synchrony(a, b, FS)
        fp.append(r.significant[np.isfinite(r.p)].mean())
    assert np.mean(fp) <= 0.1, fp


def test_missing_or_poor_data_is_unknown_never_in_sync():
    a, b = _pair(3, n=1600)
    b[600:1000] = np.nan  # 100 s without the second person's signal
    r = synchrony(a, b, FS)
    gone = (r.time_s > 160.0) & (r.time_s < 240.0)  # windows wholly inside the gap
    assert gone.any() and np.all(np.isnan(r.r[gone])) and not r.significant[gone].any()
    # the first windows: too little past for the surrogate test, p NaN, nothing claimed
    early = r.time_s < 100.0
    assert np.all(np.isnan(r.p[early])) and not r.significant[early].any()


def test_the_signals_combined_are_unknown_never_in_sync_without_a_usable_channel():
    """The combined index rests on the signals tested: a coupled heart rate with a bad skin
    channel is still in sync (confidence 2 of 3); with every channel bad the windows are
    unknown, never in sync; Simes' p is no smaller than the smallest p times the count."""
    from wot_biofeedback.dsp.synchrony import combine, combine_at

    a, b = _pair(5, n=2400, lag_s=3.0)
    bad = np.full(a.size, np.nan)
    res = {"hr": synchrony(a, b, FS), "eda": synchrony(bad, bad, FS),
           "resp": synchrony(_ou(np.random.default_rng(9), a.size), b, FS)}  # fmt: skip
    idx = combine(res)
    tested = idx.tested > 0
    assert tested.any() and idx.tested.max() == 2  # the bad channel is never counted
    assert np.all(idx.confidence[tested] <= 2 / 3 + 1e-12)
    assert idx.significant[tested].mean() > 0.5  # the coupled heart rate carries it
    on = idx.significant
    # B follows: A leads (lag < 0); the uncoupled breathing, in sync by chance now and
    # then, moves the median of a few windows
    assert np.mean(np.abs(idx.lag_s[on] + 3.0) <= 1.0) >= 0.9
    none = combine({"hr": synchrony(bad, bad, FS), "eda": synchrony(bad, b, FS)})
    assert len(none) and not none.significant.any() and np.all(none.tested == 0)
    assert np.all(np.isnan(none.index)) and np.all(none.confidence == 0)
    assert combine_at([1.0, 0.2], [0.03, 0.5], [2.0, 0.0], 3, 0.05)[1] == pytest.approx(0.06)
    assert combine_at([1.0, 0.2], [0.02, 0.04], [2.0, 2.5], 3, 0.05)[1:3] == (
        pytest.approx(0.04),
        True,
    )


def test_params_are_checked():
    for bad in ({"window_s": 0}, {"max_lag_s": 40}, {"alpha": 1.5}, {"n_surrogates": 0},
                {"min_valid": 0}, {"signal_window_s": (("eda", 8.0),)},
                {"signal_window_s": (("ecg", 60.0),)}, {"signal_window_s": "eda"},
                {"signal_window_s": (("eda", 60.0), ("eda", 70.0))}):  # fmt: skip
        with pytest.raises(ValueError):
            SyncParams(**bad)


def test_skin_conductance_has_a_window_of_its_own():
    p = SyncParams()
    assert p.windows() == {"hr": 30.0, "eda": 60.0, "resp": 30.0}
    assert p.for_signal("hr") is p and p.for_signal("eda").window_s == 60.0
    assert SyncParams(signal_window_s=()).windows()["eda"] == 30.0
    # the pseudo-pairs clear the longer window and its lags by the same margin
    eda = p.for_signal("eda")
    assert eda.shift_s - eda.window_s - eda.max_lag_s == p.shift_s - p.window_s - p.max_lag_s
    # as JSON gives them back (lists), and a dict: the same, hashable, parameters
    assert SyncParams(signal_window_s=[["eda", 60]]) == p == SyncParams(signal_window_s={"eda": 60})
    hash(SyncParams(signal_window_s=[["eda", 60]]))


def test_event_grid_streaming_equals_batch_and_gaps_stay_gaps():
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.uniform(0.5, 1.2, 400))
    v = rng.normal(70, 5, 400)
    t[200:] += 6.0  # a 6-s gap
    v[50] = np.nan
    g = EventGrid(FS)
    parts, i = [], 0
    while i < t.size:
        k = int(rng.integers(1, 25))
        parts.append(g.update(t[i : i + k], v[i : i + k]))
        i += k
    got = np.concatenate(parts)
    ref = event_grid(t, v, FS, got.size)
    np.testing.assert_array_equal(got, ref)
    k = np.arange(got.size) / FS
    inside_gap = (k > t[199] + 0.1) & (k < t[200] - 0.1)
    assert inside_gap.any() and np.all(np.isnan(got[inside_gap]))
    j = 10
    mid = (t[j] + t[j + 1]) / 2
    kk = round(mid * FS)
    w = (kk / FS - t[j]) / (t[j + 1] - t[j])
    assert got[kk] == pytest.approx(v[j] + w * (v[j + 1] - v[j]))


def test_dyad_simulator_couples_as_scripted():
    with pytest.raises(ValueError, match="give the lag"):
        parse_script("client-follows:60")
    with pytest.raises(ValueError, match="one of"):
        parse_script("sideways@2:60")
    d = simulate_dyad("none:300,client-follows@3:300", "calm", "calm", SimConfig(seed=4))
    leader, lag, strength = d.truth_at(np.array([100.0, 400.0]))
    assert list(leader) == ["none", "therapist"] and list(lag) == [0, 3] and strength[0] == 0

    def hr(s, grid):
        bt = s.beat_times_s
        return np.interp(grid, (bt[1:] + bt[:-1]) / 2, 60.0 / np.diff(bt))

    def corr_at_lag(a, b, k):
        return np.corrcoef(a[k:], b[:-k])[0, 1]

    for (lo, hi), expect in (((320.0, 590.0), "high"), ((20.0, 290.0), "low")):
        grid = np.arange(lo, hi, 0.25)
        c, t = hr(d.client, grid), hr(d.therapist, grid)
        r = corr_at_lag(c, t, 12)  # the client 3 s after the therapist
        assert (r > 0.6) if expect == "high" else (abs(r) < 0.3), (expect, r)


def test_simulate_dyad_then_analyze_subjects(tmp_path, capsys):
    f = tmp_path / "dyad.csv"
    assert main(["simulate", "--dyad", "--scenario", "calm", "--seed", "2",
                 "--coupling", "none:150,client-follows@3:210", "--out", str(f)]) == 0  # fmt: skip
    with f.open() as fh:
        head = next(csv.reader(fh))
    assert head == ["time_s", "client_ecg", "client_eda", "client_resp", "therapist_ecg",
                    "therapist_eda", "therapist_resp", "client_zone", "therapist_zone",
                    "leader", "lag_s"]  # fmt: skip
    out = tmp_path / "out"
    assert main(["analyze", str(f), "--subjects", "client,therapist", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "synchrony client-therapist: hr" in said
    for who in ("client", "therapist"):
        assert (out / who / "summary.json").exists() and (out / who / "features.csv").exists()
    with (out / "synchrony.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["time_s", "signal", "r", "lag_s", "leader", "p", "significant"]
    assert {r["signal"] for r in rows} == {"hr", "eda", "resp"}
    # each signal's windows end from its own window's length on: skin conductance 60 s
    first = {g: min(float(r["time_s"]) for r in rows if r["signal"] == g) for g in ("hr", "eda")}
    assert first == {"hr": 30.0, "eda": 60.0}
    coupled = [r for r in rows if r["signal"] == "hr" and float(r["time_s"]) >= 195.0]
    hits = [r for r in coupled if r["significant"] == "1" and r["leader"] == "therapist"
            and abs(float(r["lag_s"]) - 3.0) <= 1.0]  # fmt: skip
    # nearly all at the simulator's default coupling (33 of 34 here; the power over seeds
    # and strengths is measured in benchmarks/validate_synchrony.py)
    assert len(hits) >= 0.8 * len(coupled), (len(hits), len(coupled))
    coupled = [r for r in rows if r["signal"] == "eda" and float(r["time_s"]) >= 225.0]
    hits = [r for r in coupled if r["significant"] == "1" and r["leader"] == "therapist"
            and abs(float(r["lag_s"]) - 3.0) <= 1.0]  # fmt: skip
    assert len(hits) >= 0.8 * len(coupled), (len(hits), len(coupled))  # 28 of 28 here
    block = json.loads((out / "summary.json").read_text())["coregulation"]
    assert block["params"]["windows_s"] == {"hr": 30.0, "eda": 60.0, "resp": 30.0}
    fields = {k: v for k, v in block["params"].items() if k != "windows_s"}
    assert SyncParams(**fields) == SyncParams()  # the parameters as written are the same
    hr = block["pairs"][0]["signals"]["hr"]
    assert block["pairs"][0]["pair"] == ["client", "therapist"] and hr["tested"] > 20
    assert hr["led_by"]["therapist"] > hr["led_by"]["client"]
    # a person the file does not hold: said before anyone is analysed, nothing written
    bad = tmp_path / "bad"
    assert main(["analyze", str(f), "--subjects", "client,nobody", "--out", str(bad)]) == 2
    assert "no columns of nobody" in capsys.readouterr().err and not bad.exists()


def test_subjects_option_is_checked():
    with pytest.raises(InputError, match="two or more"):
        AnalysisOptions(subjects=("client",))
    with pytest.raises(InputError, match="not both"):
        AnalysisOptions(subjects=("client", "therapist"), subject="client")
    with pytest.raises(InputError, match="a profile is one client"):
        AnalysisOptions(subjects=("client", "therapist"), profile="x")


@pytest.mark.lsl
@pytest.mark.timeout(120)
def test_wot_run_measures_the_pair_wot_simulate_dyad_publishes(tmp_path, capsys):
    """``wot simulate --dyad`` (no ``--out``) publishes each person's streams under their own
    source_id; ``wot run --subject`` takes both, and measures and records their synchrony."""
    import subprocess
    import sys
    import uuid

    from wot_biofeedback.sources.xdf import read_xdf

    assert main(["simulate", "--dyad", "--speed", "0"]) == 2
    assert "--speed 0.0 must be > 0" in capsys.readouterr().err
    assert main(["simulate", "--dyad", "--acc", "--acc-fs", "0"]) == 2
    assert "--acc-fs 0.0 must be a positive rate in Hz" in capsys.readouterr().err
    sid = f"test-dyadpub-{uuid.uuid4().hex[:8]}"
    # the publisher in a process of its own, as a user runs it beside wot run
    pub = subprocess.Popen(
        [sys.executable, "-m", "wot_biofeedback.cli", "simulate", "--dyad", "--speed", "8",
         "--seed", "4", "--no-resp", "--coupling", "client-follows@3:160", "--source-id", sid,
         "--name", sid], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        rec = tmp_path / "pair.xdf"
        # a busy machine may take seconds to start the publisher: wait for it (and look for
        # no breathing stream, which it does not publish)
        code = main(["run", "--subject", f"client={sid}-client", "--subject",
                     f"therapist={sid}-therapist", "--headless", "--duration", "100",
                     "--timeout", "30", "--resp-type", "", "--acc-type", "",
                     "--record", str(rec), "--no-report"])  # fmt: skip
        said = "\n".join(capsys.readouterr())
        published = pub.communicate(timeout=60)[0]
    finally:
        pub.kill()
    assert code == 0, said
    assert "publishing a dyad" in published, published
    assert f"source_id {sid}-client and {sid}-therapist" in published
    names = {s.name for s in read_xdf(rec).streams}
    assert {f"{sid}-client-ECG", f"{sid}-therapist-EDA"} <= names, names
    assert f"{sid}-client-RESP" not in names  # --no-resp is honoured
    live = [json.loads(x[0] if isinstance(x, list) else x)
            for x in read_xdf(rec).by_name("wot-synchrony").time_series]  # fmt: skip
    per_signal = [r for r in live if r["signal"] in ("hr", "eda")]
    assert len(per_signal) >= 6 and any(r["signal"] == "all" for r in live), live
    assert "synchrony client-therapist (live): " in said


def _feed_live(live, res, people, seed, behind=None, pieces=(0.1, 7.0)):
    """The whole session's frames and events handed to ``live`` in uneven pieces, each
    person's on their own schedule (events behind frames, as the detectors' look-ahead
    makes them; ``behind``: {person: s} whose data all come that much later; ``pieces``: the
    range of a piece's length, s); the rows it gave. It uses up ``res``'s events."""
    rng = np.random.default_rng(seed)
    behind = behind or {}
    frames = {p: list(res[p].frames) for p in people}
    events = {p: res[p].events for p in people}
    got, now = [], 0.0
    end = max(fr[-1].time_s for fr in frames.values()) + 1.0 + max(behind.values(), default=0)
    while now < end:
        now += float(rng.uniform(*pieces))
        for p in people:
            t = now - behind.get(p, 0.0)
            lag = float(rng.uniform(0.0, 3.0))  # events come later than frames
            take = [x for x in frames[p] if x.time_s < t]
            frames[p] = frames[p][len(take) :]
            ev = {}
            for m, d in events[p].items():
                times = d.get("nn_time") or d.get("breath_onset_time")
                if not times:
                    continue
                key = "nn_time" if "nn_time" in d else "breath_onset_time"
                tt = np.concatenate(d[key])
                sel = tt < t - lag
                n = int(sel.sum())
                ev[m] = {k: [np.concatenate(v)[:n]] for k, v in d.items()
                         if k in ("nn_time", "nn_ms", "breath_onset_time")}  # fmt: skip
                events[p][m] = {k: [np.concatenate(v)[n:]] for k, v in d.items()}
            live.add(p, take, ev)
        got += live.step()
    got += live.finish()
    return got


def test_live_synchrony_equals_the_whole_sessions_for_any_chunking(tmp_path):
    """Frames and events handed over in uneven pieces, each person's on their own schedule
    (events behind frames, as the detectors' look-ahead makes them): the same rows as the
    analysis of the whole session."""
    from wot_biofeedback.coregulation import LiveSynchrony, session_synchrony
    from wot_biofeedback.offline import run_subjects
    from wot_biofeedback.sources.files import read_recording

    f = tmp_path / "dyad.csv"
    main(["simulate", "--dyad", "--scenario", "calm", "--seed", "3",
          "--coupling", "none:100,therapist-follows@4:200", "--out", str(f)])  # fmt: skip
    people = ("client", "therapist")
    res, _ = run_subjects({p: read_recording(f, subject=p) for p in people})
    whole, _block, whole_index = session_synchrony(res, FS)
    assert len(whole) > 100
    live = LiveSynchrony(list(people), FS)
    got = _feed_live(live, res, people, seed=7)
    # the signals' windows complete at their own pace (a breath's rate waits for the next
    # breath): the same rows, in the whole session's order
    order = {"hr": 0, "eda": 1, "resp": 2}
    got.sort(key=lambda r: (float(r[0]), order[r[1]]))
    assert got == whole
    assert live.latest[("client", "therapist")]["hr"]["time_s"] == float(whole[-1][0])
    # the signals combined: the same window ends and values, in time order
    assert live.index_new == whole_index and len(whole_index) > 50
    assert any(r[3] == 1 for r in whole_index)  # the coupled stretch is found overall


@pytest.mark.lsl
@pytest.mark.timeout(150)
def test_live_synchrony_over_lsl_equals_the_recordings_analysis(tmp_path, capsys):
    """``wot demo --dyad``: the pair's synchrony is measured live (over real LSL streams) and
    recorded window by window; ``wot analyze`` of the recording computes every live window
    again, with the same values."""
    from wot_biofeedback.sources.xdf import read_xdf

    rec = tmp_path / "pair.xdf"
    code = main(["demo", "--dyad", "--headless", "--speed", "40", "--seed", "5",
                 "--coupling", "none:60,client-follows@3:150", "--record", str(rec),
                 "--no-report"])  # fmt: skip
    said = capsys.readouterr().out
    assert code == 0 and "synchrony client-therapist (live): " in said, said
    stream = read_xdf(rec).by_name("wot-synchrony")
    live = [json.loads(x[0] if isinstance(x, list) else x) for x in stream.time_series]
    assert len(live) > 60 and {r["signal"] for r in live} == {"hr", "eda", "resp", "all"}
    out = tmp_path / "out"
    assert main(["analyze", str(rec), "--out", str(out)]) == 0
    with (out / "synchrony.csv").open() as fh:
        offline = {(r["time_s"], r["signal"]): r for r in csv.DictReader(fh)}
    with (out / "synchrony_index.csv").open() as fh:
        index = {r["time_s"]: r for r in csv.DictReader(fh)}
    combined = [r for r in live if r["signal"] == "all"]
    assert len(combined) > 20
    for r in combined:  # the signals combined, live and from the recording
        o = index[r["time_s"]]
        assert [o[k] for k in ("index", "p", "confidence", "lag_s", "leader")] == [
            r[k] for k in ("index", "p", "confidence", "lag_s", "leader")
        ], (r, o)
        assert (int(o["significant"]), int(o["tested"])) == (r["significant"], r["tested"])
    live = [r for r in live if r["signal"] != "all"]
    for r in live:
        o = offline[(r["time_s"], r["signal"])]
        assert [o[k] for k in ("r", "lag_s", "leader", "p")] == [
            r["r"],
            r["lag_s"],
            r["leader"],
            r["p"],
        ], (r, o)
        assert int(o["significant"]) == r["significant"]
    hits = [r for r in live if r["signal"] == "hr" and r["significant"]
            and r["leader"] == "therapist"]  # fmt: skip
    assert hits, "the client following the therapist was never seen live"
    # the client's returns, judged live, are on the recorded markers, as many as were said
    marks = [x[0] if isinstance(x, list) else x
             for x in read_xdf(rec).by_name("wot-markers").time_series]  # fmt: skip
    backs = [m for m in marks if m.startswith("[coregulation] client back from ")]
    m = re.search(r"co-regulation client-therapist \(live\): (\d+) of (\d+) returns", said)
    assert m is not None and int(m[2]) == len(backs), (said, marks)
    # a cohort row of the recording has the pair's synchrony
    from wot_biofeedback.cohort import analyze_one

    row = analyze_one(rec, tmp_path / "cohort")
    assert row["status"] == "ok" and row["people"] == "client+therapist", row
    assert 0.0 < row["sync_hr"] <= 1.0 and row["returns"] is not None


@pytest.mark.lsl
def test_the_synchrony_outlet_publishes_each_window_on_the_data_clock():
    """Several people: ``wot-synchrony`` carries each window as JSON, stamped at its end."""
    import uuid

    import pylsl

    from wot_biofeedback.outlets import EngineOutlets

    sid = f"test-syncout-{uuid.uuid4().hex[:8]}"
    out = EngineOutlets(sid, FS, synchrony=True)
    assert EngineOutlets(f"{sid}-one", FS).synchrony is None  # one person: no such stream
    found = pylsl.resolve_byprop("source_id", f"{sid}-synchrony", 1, 10.0)
    assert found and found[0].name() == "wot-synchrony"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(10.0)
    rows = [json.dumps({"time_s": f"{t:.2f}", "signal": "hr", "r": "0.8123"}) for t in (30, 35)]
    assert out.synchrony is not None and out.synchrony.wait_for_consumers(10.0)
    out.push_synchrony(rows, [1000.0 + 30.0, 1000.0 + 35.0])
    got: list = []
    deadline = time.monotonic() + 10.0
    while len(got) < 2 and time.monotonic() < deadline:
        sample, stamp = inlet.pull_sample(0.5)
        if sample is not None:
            got.append((json.loads(sample[0]), stamp))
    assert [g[0]["time_s"] for g in got[:2]] == ["30.00", "35.00"]
    assert got[0][1] == pytest.approx(1030.0) and got[1][1] == pytest.approx(1035.0)


def test_people_of_one_xdf_file_share_its_time_zero(tmp_path):
    """A foreign XDF file holding two people whose streams start 10 s apart: each person read
    alone keeps their place on the file's clock (the lags of their synchrony depend on it)."""
    from _synth import write_xdf
    from wot_biofeedback.sources.files import read_recording

    def eda(name, t0, n=3200, fs=32.0):
        return dict(name=name, type="EDA", fs=fs, fmt="float32", labels=["eda"], units=["uS"],
                    timestamps=t0 + np.arange(n) / fs,
                    rows=[[5.0 + 0.01 * np.sin(i / 10)] for i in range(n)])  # fmt: skip

    f = tmp_path / "two.xdf"
    write_xdf(f, [eda("client_eda", 1000.0), eda("therapist_eda", 1010.0)])
    t0 = {p: read_recording(f, {}, None, None, p).signals["eda"].t0
          for p in ("client", "therapist")}  # fmt: skip
    assert t0 == {"client": 0.0, "therapist": pytest.approx(10.0, abs=0.05)}


def test_coregulation_episodes_name_the_returns_in_sync(tmp_path, capsys):
    """A client's stressor ends (a return to the window) while they follow the therapist by
    3 s: that return is in sync, led by the therapist; the therapist's excursions are
    listed."""
    f = tmp_path / "dyad.csv"
    main(["simulate", "--dyad", "--scenario", "stress-and-recovery", "--seed", "2",
          "--coupling", "none:120,client-follows@3:300", "--out", str(f)])  # fmt: skip
    out = tmp_path / "out"
    assert main(["analyze", str(f), "--subjects", "client,therapist", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    co = json.loads((out / "summary.json").read_text())["coregulation"]["pairs"][0]
    co = co["coregulation"]
    assert co["client"] == "client" and co["partner"] == "therapist"
    first = co["episodes"][0]
    assert first["zone"] == "hyper" and first["returned"] and 120 < first["end_s"] < 420
    assert first["partner_within"] >= 0.9 and first["in_sync"] and first["led_by"] == "therapist"
    assert abs(first["median_lag_s"] - 3.0) <= 1.0
    assert co["returns_in_sync"] >= 1 and isinstance(co["partner_excursions"], list)
    assert "co-regulation: " in said and "in sync with therapist (led by therapist)" in said
    # the client's report has the section
    from wot_biofeedback.report import write_report

    page = write_report(out / "client").read_text(encoding="utf-8")
    assert "Co-regulation: synchrony with therapist" in page
    assert "<td>all (combined)</td>" in page  # the signals combined have a row
    assert f"<b>{co['returns_in_sync']} of {co['returns']}</b> returns" in page
    assert (out / "client" / "synchrony.png").stat().st_size > 5000
    with pytest.raises(InputError, match=r"several people .*wot report .*client"):
        write_report(out)


def test_live_episodes_equal_the_whole_sessions_and_come_soon_after_each_return(tmp_path):
    """The client's excursions judged live, from frames and events in uneven pieces: the
    same episodes (and the therapist's own excursions) as the analysis of the whole session,
    each said as soon as its windows are in, well before the end; a person without a
    breathing channel does not hold the episodes back."""
    from wot_biofeedback.coregulation import LiveSynchrony, say_episode, session_synchrony
    from wot_biofeedback.offline import run_subjects
    from wot_biofeedback.sources.files import read_recording
    from wot_biofeedback.summary import excursions

    f = tmp_path / "dyad.csv"
    main(["simulate", "--dyad", "--scenario", "stress-and-recovery", "--seed", "2",
          "--therapist-scenario", "stress-and-recovery",
          "--coupling", "none:120,client-follows@3:300", "--out", str(f)])  # fmt: skip
    people = ("client", "therapist")
    recs = {p: read_recording(f, subject=p) for p in people}
    for r in recs.values():
        del r.signals["resp"]
    res, _ = run_subjects(recs)
    for r in res.values():  # the summary of the frames the live session had (no zones in
        # retrospect for the calibration minute, as an analysis gives)
        fr = r.frames
        r.summary = {"excursions": excursions(fr.times(), fr.zones(), fr.column("arousal"))}
    _rows, block, _index = session_synchrony(res, FS)
    whole = block["pairs"][0]["coregulation"]
    assert whole["episodes"] and whole["partner_excursions"], whole
    live = LiveSynchrony(list(people), FS, absent={p: ("resp",) for p in people})
    said: list[tuple[float, str]] = []
    real_step = live.step

    def step():  # when each event is said, on the session's clock
        out = real_step()
        now = max(live._last_t.values())
        said.extend((now, text) for _t, text in live.events[len(said) :])
        return out

    live.step = step
    _feed_live(live, res, people, seed=11)
    assert live.coregulation("therapist") == whole
    texts = [t for _t, t in live.events]
    assert len(texts) == len(whole["episodes"]) + len(whole["partner_excursions"])
    first = whole["episodes"][0]
    assert first["returned"] and any(t.startswith("[coregulation] client back from hyper")
                                     for t in texts), texts  # fmt: skip
    # each return is said within the 15 s of windows after it and the look-ahead
    for when, text in said:
        if "back from" in text:
            e = next(x for x in whole["episodes"] if say_episode(x, *people) == text)
            assert when - e["end_s"] < 25.0, (when, text)
    assert any("back from" in t for _w, t in said)


def test_live_equals_the_whole_session_with_a_silent_channel_and_a_person_far_behind(tmp_path):
    """The client's chest strap gives no beats for 90 s, and the therapist's data come 70 s
    late: the live windows, the signals combined and the episodes are still the whole
    session's (the silent stretch is missing in both; nothing is combined or judged before
    both people are in), and the memory held stays bounded."""
    from wot_biofeedback.coregulation import LiveSynchrony, session_synchrony
    from wot_biofeedback.offline import run_subjects
    from wot_biofeedback.sources.files import read_recording
    from wot_biofeedback.summary import excursions

    f = tmp_path / "dyad.csv"
    main(["simulate", "--dyad", "--scenario", "stress-and-recovery", "--seed", "2",
          "--coupling", "none:120,client-follows@3:300", "--out", str(f)])  # fmt: skip
    people = ("client", "therapist")
    res, _ = run_subjects({p: read_recording(f, subject=p) for p in people})
    ev = res["client"].events["ecg"]
    t = np.concatenate(ev["nn_time"])
    keep = (t < 150.0) | (t > 240.0)
    for k in list(ev):
        arr = np.concatenate(ev[k]) if ev[k] else np.zeros(0)
        if arr.size == t.size:
            ev[k] = [arr[keep]]
    for r in res.values():
        fr = r.frames
        r.summary = {"excursions": excursions(fr.times(), fr.zones(), fr.column("arousal"))}
    whole, block, index = session_synchrony(res, FS)
    live = LiveSynchrony(list(people), FS)
    got = _feed_live(live, res, people, seed=5, behind={"therapist": 70.0})
    order = {"hr": 0, "eda": 1, "resp": 2}
    got.sort(key=lambda r: (float(r[0]), order[r[1]]))
    assert got == whole
    assert live.index_new == index  # once each, in time order
    assert live.coregulation("therapist") == block["pairs"][0]["coregulation"]
    hr = [r for r in whole if r[1] == "hr"]
    assert not [r for r in hr if 185.0 <= float(r[0]) <= 240.0]  # the silent stretch
    assert max(v.size for v in live._qual["client"].values()) < 2000


def test_live_equals_the_whole_session_in_pieces_of_minutes(tmp_path):
    """A stalled engine thread or a reconnect's backlog hands over a minute or two at once:
    the same windows, combined windows and episodes as the whole session."""
    from wot_biofeedback.coregulation import LiveSynchrony, session_synchrony
    from wot_biofeedback.offline import run_subjects
    from wot_biofeedback.sources.files import read_recording

    f = tmp_path / "dyad.csv"
    main(["simulate", "--dyad", "--seed", "8", "--coupling", "client-follows@3:420",
          "--out", str(f)])  # fmt: skip
    people = ("client", "therapist")
    res, _ = run_subjects({p: read_recording(f, subject=p) for p in people})
    whole, _block, index = session_synchrony(res, FS)
    live = LiveSynchrony(list(people), FS)
    got = _feed_live(live, res, people, seed=4, pieces=(61.0, 130.0))
    order = {"hr": 0, "eda": 1, "resp": 2}
    got.sort(key=lambda r: (float(r[0]), order[r[1]]))
    assert got == whole and live.index_new == index and len(index) > 60


def test_three_people_of_unequal_length_live_equal_the_whole_session(tmp_path):
    """Three people, the therapist's sensors off after 250 s and the third's after 150 s:
    every pair's windows and combined windows, live, are the whole session's (each pair to
    the longer of its two people, not to the session's end)."""
    from dataclasses import replace

    from wot_biofeedback.coregulation import LiveSynchrony, session_synchrony
    from wot_biofeedback.offline import run_subjects
    from wot_biofeedback.sources.files import read_recording

    f = tmp_path / "dyad.csv"
    main(["simulate", "--dyad", "--seed", "6", "--coupling", "client-follows@3:300",
          "--out", str(f)])  # fmt: skip
    recs = {p: read_recording(f, subject=p) for p in ("client", "therapist", "therapist")}
    recs["observer"] = read_recording(f, subject="therapist")
    for who, until in (("therapist", 250.0), ("observer", 150.0)):
        recs[who].signals = {m: replace(x, data=np.asarray(x.data[: round(until * x.fs)]))
                             for m, x in recs[who].signals.items()}  # fmt: skip
    res, _ = run_subjects(recs)
    people = tuple(recs)
    whole, _block, index = session_synchrony(res, FS)
    live = LiveSynchrony(list(people), FS)
    got = _feed_live(live, res, people, seed=2)
    assert sorted(map(tuple, got)) == sorted(map(tuple, whole))
    assert sorted(map(tuple, live.index_new)) == sorted(map(tuple, index))
    assert {r[-1] for r in index} == {"client-therapist", "client-observer", "therapist-observer"}


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--subject", "client"], "write ID=SOURCE_ID"),
        (["--subject", "client=a"], "two or more people"),
        (["--subject", "client=a", "--subject", "Client=b"], "each person once"),
        (["--source-id", "x", "--subject", "client=a", "--subject", "t=b"],
         "give --source-id (one person) or --subject"),
        (["--subject", "9lives=a", "--subject", "t=b"], "use a letter"),
    ],
)  # fmt: skip
def test_run_subject_options_are_checked(argv, said, capsys):
    assert main(["run", "--no-record", "--timeout", "0.2", *argv]) == 2
    assert said in capsys.readouterr().err
