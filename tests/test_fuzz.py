"""Generated hostile input (issue 19, "a fuzz suite in the repository"): hypothesis writes CSV
tables, mutates the chunks of a real wot session file, replaces session records, profile and
config values, and every reader must answer with a result that holds its invariants or with a
one-line :class:`~wot_biofeedback.errors.InputError`; never another exception, a hang or an
allocation out of proportion to the file. ``tests/test_crafted.py`` holds the hand-made cases.

The examples are derandomized (the same ones on every run, no example database), so CI is
reproducible; ``WOT_FUZZ_EXAMPLES=N`` runs N examples per test, from a random seed (hypothesis
prints the seed and the failing example), for a deep run on demand::

    WOT_FUZZ_EXAMPLES=2000 ./dev test tests/test_fuzz.py -n 2 -p no:cacheprovider
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from _crafted import Chunks, base_recording, raw_chunk
from _synth import breathing, ecg_like, scr_like
from wot_biofeedback import cli, profiles
from wot_biofeedback import session_log as sl
from wot_biofeedback.config import EngineConfig, config_from_dict, load_config
from wot_biofeedback.errors import InputError, SignalQualityWarning
from wot_biofeedback.sources import xdf
from wot_biofeedback.sources.files import Recording, read_recording
from wot_biofeedback.validation import loc_text

DEEP = int(os.environ.get("WOT_FUZZ_EXAMPLES", "0"))
"""Examples per test for a deep run (0: each test's own CI number)."""


def fuzz(examples: int, seconds: float) -> Callable[[Any], Any]:
    """Hypothesis settings and a time limit: ``examples`` in CI (the same every run, within
    ``seconds``), or :data:`DEEP` from a random seed (the limit grown in proportion)."""
    chosen = settings(
        max_examples=DEEP or examples,
        deadline=None,
        derandomize=not DEEP,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # tmp_path, monkeypatch: reused, files rewritten
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    limit = pytest.mark.timeout(seconds * max(1.0, DEEP / examples))

    def apply(test: Any) -> Any:
        return limit(chosen(test))

    return apply


def assert_one_line(exc: BaseException) -> str:
    """The message of a refusal: one line of text, not empty, not a dump of the input."""
    msg = str(exc)
    assert msg.strip(), repr(exc)
    assert "\n" not in msg and "\r" not in msg, repr(msg)
    assert len(msg) < 2000, msg[:300]
    return msg


def read_or_refuse(path: Path, **kwargs: Any) -> Recording | None:
    """``read_recording(path)``, or None when it refuses with a one-line :class:`InputError`.
    Data-quality warnings are allowed (they are the notes' business); any other warning (a
    numpy RuntimeWarning, say) fails, as the suite's ``filterwarnings = error`` would."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rec = read_recording(path, **kwargs)
        except InputError as exc:
            assert_one_line(exc)
            rec = None
    other = [w for w in caught if not issubclass(w.category, SignalQualityWarning)]
    assert not other, [f"{w.category.__name__}: {w.message}" for w in other]
    return rec


def check_signals(rec: Recording, bound: Callable[[str, float], int]) -> None:
    """The invariants of any recording read: each signal a float array at a rate the engine
    takes, starting at a finite session time, no longer than ``bound(modality, fs)``."""
    assert rec.signals
    for m, s in rec.signals.items():
        assert isinstance(s.data, np.ndarray) and s.data.dtype.kind == "f", (m, s.data.dtype)
        assert s.data.ndim in (1, 2) and s.data.shape[0] >= 1, (m, s.data.shape)
        assert math.isfinite(s.fs) and 0 < s.fs <= 10_000, (m, s.fs)
        assert math.isfinite(s.t0) and 0 <= s.t0 <= 24 * 3600, (m, s.t0)
        assert s.data.shape[0] <= bound(m, s.fs), (m, s.data.shape, s.fs)
    assert math.isfinite(rec.duration_s) and rec.duration_s <= 2 * 24 * 3600
    for n in rec.notes:
        assert isinstance(n, str) and "\n" not in n, n


# 1. CSV -----------------------------------------------------------------------------------------
JUNK = [
    "", " ", "nan", "NaN", "-nan", "inf", "-Infinity", "1e300", "-1e300", "1e400", "abc", "1,5",
    "0x10", "1_000", '"', "'", "--", "١٢", "\x00", "  7  ", "1.2.3", "+", "e5", "1e", "None",
]  # fmt: skip
TIME_JUMPS = [1e-4, 0.5, 5.0, 3600.0, 86_401.0, 1e6, 1e12, 1e300, -1e-3, -1.0, -1e6]


@st.composite
def csv_edits(draw: st.DrawFn, ncols: int, has_time: bool) -> list[tuple[Any, ...]]:
    """Damage to a table: cells, line lengths, blank lines, times; ``(kind, row share, ...)``."""
    share = st.floats(0.0, 1.0)
    kinds = ["cell", "short", "long", "blank"]
    if has_time:
        kinds += ["jump", "jump", "dup", "swap", "time_cell"]
    if draw(st.booleans()):  # half the tables undamaged (then maybe still clean)
        return []
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(kinds),
                share,
                st.integers(0, max(ncols - 1, 0)),
                st.sampled_from(JUNK),
                st.sampled_from(TIME_JUMPS),
            ),
            max_size=4,
        )
    )


@st.composite
def csv_files(draw: st.DrawFn, synthetic: bool = False) -> dict[str, Any]:
    """A CSV recording as a dict: its columns, rate, layout and damage (``edits`` empty and
    ``tail`` None: a clean file, which must be read exactly)."""
    sigs = draw(st.lists(st.sampled_from(["ecg", "eda", "resp"]), min_size=1, max_size=3,
                         unique=True))  # fmt: skip
    has_time = draw(st.booleans())
    extra = draw(
        st.just([]) | st.lists(st.sampled_from(["note", "ECG", "time_s", "x y", ""]), max_size=2)
    )
    names = sigs + (["time_s"] if has_time else []) + extra
    names = draw(st.permutations(names))
    if synthetic:
        fs = draw(st.sampled_from([50.0, 100.0, 128.0]))
        n = int(fs * draw(st.sampled_from([6.0, 20.0, 40.0])))
        t0 = draw(st.sampled_from([0.0, 12.5, 1e6]))
    else:
        fs = draw(st.sampled_from([0.5, 1.0, 4.0, 32.0, 50.0, 100.0, 250.0, 1000.0, 20_000.0]))
        n = draw(st.integers(0, 120))
        t0 = draw(st.sampled_from([0.0, 0.001, -5.0, 1e6, 1e9, 1e15]))
    seed = draw(st.integers(0, 2**16))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    return {
        "names": names,
        "sigs": sigs,
        "has_time": has_time,
        "fs": fs,
        "n": n,
        "t0": t0,
        "seed": seed,
        "synthetic": synthetic,
        "sep": sep,
        "decimal_comma": sep != "," and draw(st.booleans()),
        "bom": draw(st.booleans()),
        "crlf": draw(st.booleans()),
        "quote": draw(st.sampled_from(["none", "all", "some"])),
        "final_newline": draw(st.booleans()),
        "edits": draw(csv_edits(len(names), has_time)),
        "tail": draw(st.none() | st.none() | st.floats(0.0, 1.0)),  # cut the file there
        "bytes": draw(st.none() | st.none() | st.sampled_from([b"\xe9", b"\xff\xfe", b"\x00"])),
        "give_fs": draw(st.sampled_from([None, "same", "same", 0.0, -1.0, math.nan, 1e9])),
    }


def _values(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    n, fs = spec["n"], spec["fs"]
    rng = np.random.default_rng(spec["seed"])
    out = {}
    for name in spec["names"]:
        if spec["synthetic"] and name in ("ecg", "eda", "resp"):
            dur = n / fs
            if name == "ecg":
                x = ecg_like(fs, dur, 70.0, seed=spec["seed"])[0]
            elif name == "eda":
                x = scr_like(fs, dur, np.arange(3.0, dur, 9.0), 0.4)
            else:
                x = breathing(fs, dur, 12.0, seed=spec["seed"])
            out[name] = np.round(x[:n], 6)
        elif name == "time_s":
            out[name] = spec["t0"] + np.arange(n) / fs
        else:
            out[name] = np.round(rng.normal(5.0, 2.0, n), 4)
    return out


def render_csv(spec: dict[str, Any]) -> tuple[bytes, dict[str, np.ndarray]]:
    """The file's bytes, and the columns it holds before any damage."""
    sep, names = spec["sep"], spec["names"]
    cols = _values(spec)
    n = spec["n"]

    def num(v: float) -> str:
        s = repr(float(v))
        return s.replace(".", ",") if spec["decimal_comma"] else s

    rows = [[num(cols[c][i]) for c in names] for i in range(n)]
    times = cols["time_s"].copy() if spec["has_time"] else None
    tcol = names.index("time_s") if spec["has_time"] else None
    blanks: list[int] = []
    for kind, share, col, junk, jump in spec["edits"]:
        if not n:
            break
        r = min(int(share * n), n - 1)
        if kind == "cell" and col < len(rows[r]):
            rows[r][col] = junk
        elif kind == "short":
            rows[r] = rows[r][:col]
        elif kind == "long":
            rows[r] = [*rows[r], *([junk] * (col + 1))]
        elif kind == "blank":
            blanks.append(r)
        elif kind in ("jump", "dup", "swap") and times is not None and tcol is not None:
            if kind == "jump":
                times[r:] += jump
            elif kind == "dup" and r:
                times[r] = times[r - 1]
            elif kind == "swap" and r + 1 < n:
                times[[r, r + 1]] = times[[r + 1, r]]
            for i in range(n):
                if len(rows[i]) > tcol:
                    rows[i][tcol] = num(times[i])
        elif kind == "time_cell" and tcol is not None and len(rows[r]) > tcol:
            rows[r][tcol] = junk

    def cell(k: int, v: str) -> str:
        if spec["quote"] == "all" or (spec["quote"] == "some" and k % 2) or sep in v or '"' in v:
            return '"' + v.replace('"', '""') + '"'
        return v

    eol = "\r\n" if spec["crlf"] else "\n"
    lines = [sep.join(cell(k, c) for k, c in enumerate(names))]
    for i, r in enumerate(rows):
        lines.extend([""] * blanks.count(i))
        lines.append(sep.join(cell(k, v) for k, v in enumerate(r)))
    text = eol.join(lines) + (eol if spec["final_newline"] else "")
    raw = ("\ufeff" if spec["bom"] else "").encode() + text.encode("utf-8")
    if spec["bytes"] is not None and len(raw) > 2:
        at = len(raw) * 2 // 3
        raw = raw[:at] + spec["bytes"] + raw[at:]
    if spec["tail"] is not None:
        raw = raw[: int(len(raw) * spec["tail"])]
    return raw, cols


def _is_clean(spec: dict[str, Any]) -> bool:
    """A file every reader must read: no damage, a rate it takes, rows enough for it."""
    rate_ok = 1.0 <= spec["fs"] <= 10_000.0
    given_ok = spec["has_time"] or spec["give_fs"] == "same"
    return (
        not spec["edits"]
        and spec["tail"] is None
        and spec["bytes"] is None
        and rate_ok
        and given_ok
        and abs(spec["t0"]) <= 1e6
        and spec["n"] >= (2 if spec["has_time"] else 1)
        and not set(spec["names"]) - {"ecg", "eda", "resp", "time_s"}
        and spec["names"].count("time_s") <= 1
        and (spec["give_fs"] in (None, "same") or not spec["has_time"])
    )


def _csv_bound(lines: int) -> Callable[[str, float], int]:
    # a gap is filled up to the data's own span (or a day): at most as many samples again
    return lambda _m, _fs: 2 * lines + 2


def _fs_arg(spec: dict[str, Any]) -> float | None:
    g = spec["give_fs"]
    return spec["fs"] if g == "same" else g


@fuzz(250, 120)
@given(spec=csv_files(), skip=st.booleans())
def test_a_generated_csv_is_read_within_bounds_or_refused_in_one_line(spec, skip, tmp_path):
    raw, cols = render_csv(spec)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(raw)
    lines = raw.count(b"\n") + raw.count(b"\r") + 1
    t = time.perf_counter()
    rec = read_or_refuse(path, fs=_fs_arg(spec), skip_bad_lines=skip)
    assert time.perf_counter() - t < 10.0  # a few hundred lines: milliseconds
    event("clean" if _is_clean(spec) else "read" if rec is not None else "refused")
    if _is_clean(spec):  # must be read, exactly
        assert rec is not None, "a clean file was refused"
        assert rec.csv_info is not None and rec.csv_info["rows"] == spec["n"]
        assert math.isclose(rec.signals[spec["sigs"][0]].fs, spec["fs"], rel_tol=1e-3)
        assert rec.csv_info.get("gaps", 0) == 0
        for m in spec["sigs"]:
            np.testing.assert_array_equal(rec.signals[m].data, cols[m])
        return
    if rec is None:
        return
    check_signals(rec, _csv_bound(lines))
    info = rec.csv_info
    assert info is not None and 1 <= info["rows"] <= lines
    for s in rec.signals.values():  # no value made up: at most one per row
        assert np.count_nonzero(~np.isnan(s.data)) <= info["rows"] * max(1, s.data.ndim)


@fuzz(3, 60)
@given(sep=st.sampled_from([";", "\t"]), n=st.integers(1, 20))
@example(sep=";", n=1)
def test_one_column_with_decimal_commas_is_read_as_numbers(sep, n, tmp_path):
    """A file of one column has no separator: its commas are decimal commas (found by the
    fuzz layer: it was split at the comma and refused)."""
    spec = {"names": ["ecg"], "sigs": ["ecg"], "has_time": False, "fs": 1.0, "n": n, "t0": 0.0,
            "seed": 0, "synthetic": False, "sep": sep, "decimal_comma": True, "bom": False,
            "crlf": False, "quote": "none", "final_newline": True, "edits": [], "tail": None,
            "bytes": None, "give_fs": "same"}  # fmt: skip
    raw, cols = render_csv(spec)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(raw)
    rec = read_or_refuse(path, fs=1.0)
    assert rec is not None, raw[:40]
    np.testing.assert_array_equal(rec.signals["ecg"].data, cols["ecg"])


# 6. end to end: wot analyze -------------------------------------------------------------------
def assert_analysed_or_refused(code: int, err: str, out: Path) -> None:
    """Exit 0 with ``summary.json`` written, or exit 2 with exactly one ``wot: error:`` line."""
    assert "Traceback" not in err, err
    if code == 0:
        summary = json.loads((out / "summary.json").read_text())
        assert summary["input"]["signals"]
        assert not [ln for ln in err.splitlines() if ln.startswith("wot: error")], err
        return
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("wot: error: "), lines


@fuzz(12, 180)
@given(spec=csv_files(synthetic=True))
def test_wot_analyze_on_a_generated_csv_ends_with_a_summary_or_one_error_line(
    spec, tmp_path, capsys
):
    raw, _ = render_csv(spec)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(raw)
    out = tmp_path / f"out-{uuid.uuid4().hex[:8]}"
    extra = [] if spec["give_fs"] is None else ["--fs", str(_fs_arg(spec))]
    capsys.readouterr()
    code = cli.main(["analyze", str(path), "--out", str(out), *extra])
    err = capsys.readouterr().err
    event(f"exit {code}")
    assert_analysed_or_refused(code, err, out)
    if _is_clean(spec) and spec["give_fs"] in (None, "same"):
        assert code == 0, err  # a clean file of seconds of signal is analysed


# 2. XDF chunks ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_xdf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The crafted corpus's real wot session file (60 s), its bytes and what it reads as."""
    path = base_recording(tmp_path_factory.mktemp("fuzz-xdf") / "base.xdf")
    rec = read_recording(path)
    return {
        "path": path,
        "raw": path.read_bytes(),
        "lengths": {m: s.data.shape[0] for m, s in rec.signals.items()},
        "chunks": len(Chunks(path.read_bytes()).items),
    }


def _huge(k: int) -> int:
    """A whole number of ``|k|`` decimal digits (sign of ``k``): 10**400 is beyond a float."""
    return int(math.copysign(1, k)) * 10 ** abs(k) + (1 if abs(k) < 100 else 0)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.sampled_from([400, -400, 63, 64, 0]).map(_huge)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from([5000, 0]).map(lambda n: "x" * n)  # a repr of the strategy stays short
    | st.sampled_from(["ecg", "client", "../x", "1e300", "nan"]),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
"""Any JSON value (integers beyond a float's range, NaN, long text, nesting)."""

HEADER_FIELDS = [
    "nominal_srate", "channel_count", "channel_format", "name", "type", "source_id",
    "desc/wot/modality", "desc/wot/channel", "desc/wot/scale",
]  # fmt: skip
HEADER_TEXT = [
    "0", "-1", "-250", "nan", "NaN", "inf", "-inf", "1e300", "1e-300", "1000000000", "2.5",
    "250", "32", "1", "", " ", "one", "float32", "double64", "string", "int64", "float128",
    "ECG", "EDA", "ecg", "rr", "00250", "0x10", "4294967297", "9e400", "-0",
]  # fmt: skip

SOURCE_VALUES = st.one_of(
    st.sampled_from(
        [250.0, 32.0, 50.0, 0.0, -1.0, 1e300, 4.0, 10_000.0, 10_001.0, 1, 0, 10**400, -(10**400)]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["fast", "", None, True, [250.0], {"fs": 250.0}]),
)
"""Values of an engine record's ``sources.<modality>`` fields (whole numbers beyond a float's
range too: :func:`test_a_huge_whole_rate_in_the_engine_record_is_not_a_rate`)."""


xdf_ops = st.one_of(
    st.tuples(st.just("tag"), st.floats(0, 1), st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 0xFFFF])),
    st.tuples(st.just("length"), st.floats(0, 1),
              st.sampled_from([0, 1, 2, 3, -1, -2, 5, 100, 2**31, 2**62, 2**64 - 1])),
    st.tuples(st.just("flip"), st.floats(0, 1),
              st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("cut_chunk"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.none()),
    st.tuples(st.just("duplicate"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("swap"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("drop"), st.floats(0, 1), st.none()),
    st.tuples(st.just("header"), st.sampled_from(["ECG", "EDA", "RESP", "wot-features",
                                                  "wot-markers", xdf.SESSION_STREAM]),
              st.tuples(st.sampled_from(HEADER_FIELDS), st.sampled_from(HEADER_TEXT))),
    st.tuples(st.just("header_xml"), st.sampled_from(["ECG", "EDA", xdf.SESSION_STREAM]),
              st.text(max_size=60) | st.sampled_from(["<info/>", "<info><name>ECG</name></info>",
                                                      "<?xml version='1.0'?>", "<a><b></a>"])),
    st.tuples(st.just("record"), st.floats(0, 1), json_values),
    st.tuples(
        st.just("source"),
        st.sampled_from(["ecg", "eda", "resp"]),
        st.tuples(st.sampled_from(["fs", "channel", "scale", "name"]), SOURCE_VALUES),
    ),
    st.tuples(st.just("record_field"), st.floats(0, 1),
              st.tuples(st.sampled_from(["t0", "drop", "n", "after", "lsl_time", "frame",
                                         "delivered", "modality", "event", "subject", "v",
                                         "sources", "parameters", "baseline_window", "time_s",
                                         "gaps_filled_s", "frames"]), json_values)),
)  # fmt: skip


_GONE = (KeyError, IndexError, AssertionError, ValueError, SyntaxError, struct.error)
"""What editing a chunk that an earlier edit broke raises (an XML ParseError is a
SyntaxError): that edit is left out."""


def mutate_xdf(raw: bytes, ops: list[tuple[Any, Any, Any]]) -> bytes:
    """The file ``raw`` with the chunk edits ``ops`` made (with tests/_crafted.py's helpers)."""
    c = Chunks(raw)
    pieces: dict[int, bytes] = {}  # chunks written raw (a length field that lies)
    cut: float | None = None

    def at(share: float) -> int:
        return min(int(share * len(c.items)), len(c.items) - 1)

    for kind, a, b in ops:
        if not c.items:
            break
        if kind == "tag":
            c.items[at(a)][0] = b
        elif kind == "length":
            i = at(a)
            tag, content = c.items[i]
            pieces[i] = raw_chunk((len(content) + 2 + b) % 2**64, tag, content)
        elif kind == "flip":
            i = at(a)
            body = bytearray(c.items[i][1])
            for share, x in b:
                if body:
                    body[min(int(share * len(body)), len(body) - 1)] ^= x
            c.items[i][1] = bytes(body)
        elif kind == "cut_chunk":
            i = at(a)
            c.items[i][1] = c.items[i][1][: int(len(c.items[i][1]) * b)]
        elif kind == "truncate":
            cut = a
        elif kind == "duplicate":
            c.items.insert(at(b), list(c.items[at(a)]))
        elif kind == "swap":
            i, j = at(a), at(b)
            c.items[i], c.items[j] = c.items[j], c.items[i]
        elif kind == "drop":
            del c.items[at(a)]
        elif kind == "header":
            with contextlib.suppress(*_GONE):  # the stream or field is gone (an earlier edit)
                c.edit_header(a, *b)
        elif kind == "header_xml":
            with contextlib.suppress(*_GONE):
                c.set_header(c.sid(a), b.encode("utf-8", "surrogatepass"))
        elif kind in ("record", "record_field"):
            try:
                recs = c.records()
            except _GONE:
                continue
            if not recs:
                continue
            i, t, text = recs[min(int(a * len(recs)), len(recs) - 1)]
            if kind == "record":
                new = json.dumps(b)
            else:
                try:
                    rec = json.loads(text)
                except ValueError:
                    continue
                if not isinstance(rec, dict):
                    continue
                rec[b[0]] = b[1]
                new = json.dumps(rec)
            c._set_record(i, t, new)  # the recorder writes one record per chunk
        elif kind == "source":  # a field of the engine record's entry of a stream
            m, (key, v) = a, b

            def change(r: dict[str, Any], m: str = m, key: str = key, v: Any = v) -> None:
                r["sources"][m][key] = v

            with contextlib.suppress(*_GONE, TypeError):
                c.edit_record("engine", change)
    out = xdf.MAGIC + b"".join(
        pieces.get(i, xdf.chunk(t, body)) for i, (t, body) in enumerate(c.items)
    )
    if cut is not None:
        out = out[: max(4, int(len(out) * cut))]
    return out


def _xdf_bound(base: dict[str, Any]) -> Callable[[str, float], int]:
    # every stream of the base lasts 60 s: its samples, duplicated chunks and a gap filled
    # (no longer than its own span) make less than three times as many
    return lambda m, fs: 3 * max(base["lengths"].get(m, 0), int(60 * fs)) + 1


@fuzz(120, 180)
@given(ops=st.lists(xdf_ops, min_size=1, max_size=3))
def test_a_mutated_xdf_file_is_read_within_bounds_or_refused_in_one_line(ops, base_xdf, tmp_path):
    raw = mutate_xdf(base_xdf["raw"], ops)
    path = tmp_path / "fuzz.xdf"
    path.write_bytes(raw)
    # the chunk reader: a file of streams, or ValueError/OSError that _open_xdf turns into one
    # InputError line
    t = time.perf_counter()
    try:
        f = xdf.read_xdf(path)
    except (ValueError, OSError) as exc:
        assert_one_line(exc)
        f = None
    if f is not None:
        for s in f.streams:
            assert len(s.time_stamps) == len(s.time_series)
            assert s.time_stamps.dtype == np.float64
            if isinstance(s.time_series, np.ndarray):
                assert s.time_series.nbytes <= len(raw)  # nothing the bytes cannot hold
    rec = read_or_refuse(path)
    assert time.perf_counter() - t < 20.0  # a 250-kB file: well under a second
    event("read" if rec is not None else "refused")
    if rec is not None:
        check_signals(rec, _xdf_bound(base_xdf))


@fuzz(3, 60)
@given(modality=st.sampled_from(["ecg", "eda", "resp"]))
@example(modality="ecg")
def test_a_huge_whole_rate_in_the_engine_record_is_not_a_rate(modality, base_xdf, tmp_path):
    """sources.<m>.fs = 10**400 (JSON allows it): the header's rate is used, with a note
    (found by the fuzz layer: it was an OverflowError out of the reader)."""
    path = tmp_path / "fuzz.xdf"
    path.write_bytes(mutate_xdf(base_xdf["raw"], [("source", modality, ("fs", 10**400))]))
    rec = read_or_refuse(path)
    assert rec is not None
    check_signals(rec, _xdf_bound(base_xdf))
    assert modality in rec.signals
    assert any(f"sources.{modality}.fs" in n and "is not a rate" in n for n in rec.notes)
    assert all(len(n) < 300 for n in rec.notes)  # the number is shown cut, not 401 digits


# 3. session records -----------------------------------------------------------------------------
VALID_EVENTS: list[sl.SessionEvent] = [
    sl.SessionInfo(metadata={"client": "c", "scenario": "s"}),
    sl.EngineStart(parameters=EngineConfig().to_dict(), baseline_window=(0.0, 30.0),
                   baseline={"median": {}}, sources={"ecg": {"fs": 250.0}}),
    sl.Origin(5000.0),
    sl.StreamStart("ecg", 0.5, 10),
    sl.Gap("ecg", 7000, 2500, 5040.0),
    sl.Lost("eda", 180, delivered=176),
    sl.Resume("eda", 200),
    sl.Calibrate(10.0, 40.0),
    sl.Mute(True, 12.0),
    sl.Marker(20.0, "breathing exercise"),
    sl.End(frames=240, session_s=60.0, gaps_filled_s={"ecg": 10.0}),
]  # fmt: skip


def _float_ok(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def check_event(ev: sl.SessionEvent) -> None:
    """The typed record holds what its rules say (``session_log._RULES``): what the replay and
    the readers take from it without checking again."""
    assert isinstance(ev, sl.SessionEvent)
    if isinstance(ev, sl.UnknownEvent):
        return
    assert isinstance(ev.subject, str) and sl.SUBJECT_ID.fullmatch(ev.subject), ev.subject
    for (kind, name), rule in sl._RULES.items():
        if kind != ev.kind:
            continue
        v = getattr(ev, name)
        if rule == "count" or (rule == "count?" and v is not None):
            assert type(v) is int and 0 <= v <= sl.MAX_COUNT, (name, v)
        elif rule in ("time", "finite"):
            assert type(v) in (int, float) and _float_ok(v), (name, v)
            if rule == "time":
                assert -1e-6 <= v <= sl.MAX_SESSION_S, (name, v)
        elif rule == "number":
            assert type(v) in (int, float), (name, v)
            float(v)  # a number the readers can use (NaN where unknown)
        elif rule == "text":
            assert isinstance(v, str)
        elif rule == "bool":
            assert isinstance(v, bool)
        elif rule == "dict" or (rule == "dict?" and v is not None):
            assert isinstance(v, dict)
        elif rule == "window" and v is not None:
            assert len(v) == 2 and all(map(_float_ok, v)) and 0 <= v[0] < v[1]
    if isinstance(ev, sl.Calibrate):
        assert ev.start_s < ev.end_s


def decode_or_refuse(text: Any) -> sl.SessionEvent | None:
    dropped: list[str] = []
    try:
        ev = sl.decode(text, dropped)
    except ValueError as exc:  # what SessionLog.parse catches: the record left out, with why
        msg = assert_one_line(exc)
        assert len(msg) < 400, msg
        return None
    check_event(ev)
    for d in dropped:
        assert "\n" not in d and len(d) < 400, d
    return ev


@fuzz(400, 60)
@given(value=json_values | st.text(max_size=50).map(lambda s: s))
@example(value={"event": "origin", "lsl_time": 10**400})
@example(value={"event": "stream_start", "modality": "ecg", "t0": 10**400})
@example(value={"event": "engine", "baseline_window": [0, 10**400]})
def test_any_json_value_is_a_typed_session_record_or_left_out_with_a_reason(value):
    text = value if isinstance(value, str) else json.dumps(value)
    decode_or_refuse(text)
    log = sl.SessionLog.parse([text, sl.encode(sl.Origin(1.0))])
    assert len(log.events) + log.unreadable == 2 and log.unreadable == len(log.rejected)
    assert isinstance(log.events[-1], sl.Origin)  # one bad record costs nothing else


@fuzz(400, 60)
@given(
    which=st.sampled_from(range(len(VALID_EVENTS))),
    key=st.sampled_from(["event", "v", "subject", "new"]) | st.text(max_size=8),
    use_own_key=st.booleans(),
    own=st.integers(0, 20),
    value=json_values,
)
@example(which=2, key="", use_own_key=True, own=0, value=10**400)  # origin lsl_time
@example(which=7, key="", use_own_key=True, own=0, value=10**400)  # calibrate start_s
@example(which=4, key="", use_own_key=True, own=3, value=10**400)  # gap t
def test_a_valid_session_record_with_one_field_replaced_is_read_or_left_out(
    which, key, use_own_key, own, value
):
    record = sl.to_record(VALID_EVENTS[which])
    assert sl.decode(json.dumps(record)) == VALID_EVENTS[which]  # the untouched one is read
    if use_own_key:
        key = sorted(record)[own % len(record)]
    record[key] = value
    ev = decode_or_refuse(json.dumps(record))
    if ev is not None and not isinstance(ev, sl.UnknownEvent):
        # what was read is written back the same (nothing the writer cannot write)
        assert type(sl.decode(sl.encode(ev))) is type(ev)


# 4. profiles ------------------------------------------------------------------------------------
@pytest.fixture
def profile_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "profiles"
    d.mkdir()
    monkeypatch.setenv("WOT_PROFILE_DIR", str(d))
    assert profiles.profile_dir() == d
    return d


def _valid_profile() -> dict[str, Any]:
    prof = dict(profiles.new_profile("fz"))
    base = {"start_s": 0.0, "end_s": 60.0, "median": {"hr_bpm": 70.0, "rmssd_ms": None},
            "z_median": {"hr_bpm": 70.0}, "z_scale": {"hr_bpm": 4.0}}  # fmt: skip
    prof["sessions"] = [
        {"date": "2024-01-01T00:00:00+00:00", "source": "a.csv", "duration_s": 600.0,
         "baseline": base, "fraction_in_zone": {"within": 0.9, "hyper": 0.1},
         "window": {"upper": 1.5, "lower": -1.5}},
        {"date": "2024-01-08T00:00:00+00:00", "source": "b.csv", "duration_s": 300.0},
    ]  # fmt: skip
    prof["baseline"] = profiles._merge(prof["sessions"])
    return prof


PROFILE_PATHS = [
    (), ("format",), ("version",), ("schema",), ("client",), ("window",), ("window", "upper"),
    ("window", "lower"), ("baseline",), ("baseline", "z_scale"), ("baseline", "z_scale", "hr_bpm"),
    ("baseline", "sessions"), ("sessions",), ("sessions", 0), ("sessions", 0, "duration_s"),
    ("sessions", 0, "baseline", "median"), ("sessions", 0, "baseline", "z_median", "hr_bpm"),
    ("sessions", 1, "window"), ("assessments",), ("created",), ("new key",),
]  # fmt: skip


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


@fuzz(150, 120)
@given(
    where=st.sampled_from(PROFILE_PATHS),
    value=json_values,
    as_text=st.none() | st.binary(max_size=40) | st.text(max_size=40),
    summary=st.fixed_dictionaries(
        {
            "duration_s": st.floats(0.0, 1e6) | st.sampled_from([math.nan, None]),
            "fraction_in_zone": st.dictionaries(
                st.sampled_from(["within", "hyper", "hypo"]), st.floats(0, 1) | st.none()
            ),
            "n_excursions": st.dictionaries(
                st.sampled_from(["hyper", "hypo"]), st.integers(0, 100)
            ),
        },
    ),
)
@example(where=("baseline", "z_scale"), value={"a\nb": -1.0}, as_text=None,
         summary={"duration_s": 1.0, "fraction_in_zone": {}, "n_excursions": {}})  # fmt: skip
def test_a_profile_file_is_loaded_or_refused_and_a_session_saved_keeps_everything(
    where, value, as_text, summary, profile_dir
):
    path = profile_dir / "fz.json"
    if as_text is None:
        doc = _set(_valid_profile(), where, value)
        content = json.dumps(doc).encode()
    else:
        content = as_text if isinstance(as_text, bytes) else as_text.encode("utf-8", "replace")
    path.write_bytes(content)
    cfg = EngineConfig()
    try:
        prof = profiles.load_profile("fz", cfg)
    except InputError as exc:
        msg = assert_one_line(exc)
        assert str(path) in msg  # names the file
        assert path.read_bytes() == content  # a bad profile is never written to
        return
    assert path.read_bytes() == content  # reading does not write
    assert prof.name == "fz" and prof["window"]["lower"] < 0 < prof["window"]["upper"]
    profiles.apply_window(prof, cfg)  # its window makes a valid configuration
    assert config_from_dict(cfg.to_dict()).zones.upper == prof["window"]["upper"]
    before = json.loads(json.dumps(prof["sessions"]))
    number, saved = profiles.save_session("fz", prof, summary, None, "fuzz.csv")
    assert saved == path and number == len(before) + 1
    again = profiles.load_profile("fz", cfg)
    assert again["sessions"][:-1] == before  # nothing lost
    assert again["sessions"][-1]["source"] == "fuzz.csv"
    assert again["window"] == prof["window"]


# 5. configs -------------------------------------------------------------------------------------
_DEFAULT = EngineConfig().to_dict()
CONFIG_KEYS = [
    (k,) for k, v in _DEFAULT.items() if not isinstance(v, dict)
] + [
    (k, kk) for k, v in _DEFAULT.items() if isinstance(v, dict) and k != "features" for kk in v
] + [("features", "hr_bpm", kk) for kk in _DEFAULT["features"]["hr_bpm"]] + [
    ("zones", "unknown_key"), ("nope",), ("features", "no_such_feature"),
    ("features", "rmssd_ms"), ("zones",), ("features",), ("zones", "a\nb"),
]  # fmt: skip
config_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-30, 30),
    st.integers(-(10**20), 10**20),
    st.sampled_from([0, -1, 1, 10**400, True, False, "1.5", "", "linear", "log", "mean"]),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["upper", "lower", "x"]), st.floats(-3, 3), max_size=2),
)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, int | str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(map(_toml_value, v)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def to_toml(values: dict[str, Any]) -> str:
    top = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in values.items()
           if not isinstance(v, dict)]  # fmt: skip
    out = "\n".join(top) + "\n"
    for k, v in values.items():
        if k == "features" and isinstance(v, dict):
            for name, spec in v.items():
                if isinstance(spec, dict):
                    out += f"[features.{json.dumps(name)}]\n"
                    out += "".join(f"{json.dumps(a)} = {_toml_value(b)}\n" for a, b in spec.items())
                else:
                    out += f"[features]\n{json.dumps(name)} = {_toml_value(spec)}\n"
        elif isinstance(v, dict):
            out += f"[{json.dumps(k)}]\n"
            out += "".join(f"{json.dumps(a)} = {_toml_value(b)}\n" for a, b in v.items())
    return out


def check_config(cfg: EngineConfig) -> None:
    """The ranges every accepted configuration holds (what the engine relies on)."""
    z = cfg.zones
    assert -20 <= z.lower < 0 < z.upper <= 20 and 0 <= z.hysteresis < min(z.upper, -z.lower)
    assert 0 < cfg.frame_rate_hz <= 100 and 0 < cfg.eda_min_amplitude_us < 5
    assert 0 <= cfg.calibration.start_s <= 86400 and 0 < cfg.calibration.duration_s <= 86400
    assert 0 < cfg.cues.pacer_inhale_ratio < 1 and cfg.cues.repeat_s > 0
    for name, f in cfg.features.items():
        assert f.sign in (1.0, -1.0) and f.floor > 0 and f.weight >= 0, name
        assert f.transform in ("linear", "log")

    def numbers(v: Any) -> list[Any]:
        if isinstance(v, dict):
            return [x for y in v.values() for x in numbers(y)]
        return [v] if isinstance(v, float | int) and not isinstance(v, bool) else []

    assert all(math.isfinite(x) for x in numbers(cfg.to_dict()))


@fuzz(300, 120)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(CONFIG_KEYS), config_values), min_size=1, max_size=3
    ),
    via_file=st.booleans(),
)
@example(changes=[(("zones", "a\nb"), 1)], via_file=False)
@example(changes=[(("features", "a\nb"), 1)], via_file=False)
def test_a_generated_config_is_valid_or_refused_naming_the_field(changes, via_file, tmp_path):
    values: dict[str, Any] = {}
    for path, v in changes:
        node = values
        for k in path[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = v
    toml = tmp_path / "fuzz.toml"
    try:
        if via_file:
            toml.write_text(to_toml(values), encoding="utf-8")
            cfg = load_config(toml)
        else:
            cfg = config_from_dict(values)
    except InputError as exc:
        msg = assert_one_line(exc)
        prefix = f"config {toml}: " if via_file else "config: "
        assert msg.startswith(prefix) or msg.startswith(f"config file {toml} is not valid TOML")
        if msg.startswith(prefix):  # it names one of the fields changed (or a table above)
            paths = [p for p, _ in changes] + [
                (*p, k) for p, v in changes if isinstance(v, dict) for k in v
            ]
            named = {loc_text(p[:k]) for p in paths for k in range(1, len(p) + 1)}
            rest = msg[len(prefix) :]
            # the field, or an item of it (cues.library[0]: ...)
            assert any(rest.startswith((n + ":", n + "[")) for n in named), (msg, changes)
        return
    check_config(cfg)
    for section, table in values.items():  # a number taken is the number given
        for key, v in table.items() if isinstance(table, dict) and section != "features" else ():
            if isinstance(v, int | float):
                assert getattr(getattr(cfg, section), key) == v, (section, key, v)


@fuzz(60, 60)
@given(
    content=st.binary(max_size=60) | st.sampled_from([b"\xff\xfe[zones]", b"\x00", b"a=1\n\x80"])
)
@example(content=b"\xff")
def test_a_config_file_of_any_bytes_is_valid_or_refused_naming_the_file(content, tmp_path):
    path = tmp_path / "any.toml"
    path.write_bytes(content)
    try:
        check_config(load_config(path))
    except InputError as exc:
        assert str(path) in assert_one_line(exc)
    with pytest.raises(InputError, match=re.escape(str(tmp_path))):
        load_config(tmp_path)  # a folder, not a file


# LabRecorder time stamps: synchronised and dejittered as pyxdf does it, for any chunking ----
@st.composite
def _clocked_stream(draw: Any) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, int]:
    """A regular stream's time stamps on a sender's clock (jittered, with pauses and perhaps a
    restart), LabRecorder's clock offsets for it, and a block size."""
    fs = draw(st.sampled_from([10.0, 50.0, 250.0, 1000.0]))
    n = draw(st.integers(2, 3000))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    for _ in range(draw(st.integers(0, 3))):  # pauses of up to 60 s
        t[rng.integers(1, n) :] += draw(st.floats(0.0, 60.0))
    jitter = draw(st.sampled_from([0.0, 1e-4, 5e-3]))
    shift = draw(st.floats(-2000.0, 2000.0)) + draw(st.floats(-1e-4, 1e-4)) * t
    if draw(st.booleans()):  # the sender restarted: its clock jumps back, nothing for 30 s
        at = rng.integers(1, n)
        t[at:] += 30.0
        shift = shift - np.where(np.arange(n) >= at, 500.0, 0.0)
    stamps = 1e4 + t + shift + rng.normal(0.0, jitter, n) if jitter else 1e4 + t + shift
    every = draw(st.sampled_from([1.0, 5.0]))
    times = np.arange(0.0, t[-1] + every, every)
    sh = np.interp(times, t, shift)
    collection = 1e4 + times + sh  # on the sender's clock, as LabRecorder writes it
    offsets = -sh + rng.normal(0.0, 1e-5, len(times))
    block = draw(st.sampled_from([7, 100, 4096]))
    return fs, stamps, collection, offsets, block


@fuzz(examples=25, seconds=120)
@given(case=_clocked_stream())
def test_labrecorder_time_stamps_are_pyxdfs_for_any_chunking(case, tmp_path, monkeypatch):
    import logging
    import struct
    import warnings

    import pyxdf

    from wot_biofeedback.sources import spill
    from wot_biofeedback.sources.xdfsync import SyncOptions, synchronize

    fs, stamps, collection, offsets, block = case
    hdr = (
        f"<?xml version='1.0'?><info><name>S</name><type>ECG</type><channel_count>1"
        f"</channel_count><nominal_srate>{fs!r}</nominal_srate><channel_format>float32"
        "</channel_format></info>"
    )
    parts = [xdf.MAGIC, xdf.chunk(xdf.TAG_FILE_HEADER, b"<info><version>1.0</version></info>"),
             xdf.chunk(xdf.TAG_STREAM_HEADER, struct.pack("<I", 1) + hdr.encode())]  # fmt: skip
    k = 0
    for c, v in zip(collection, offsets, strict=True):  # offsets among the samples, as recorded
        parts.append(xdf.clock_offset(1, float(c), float(v)))
        upto = int(np.searchsorted(stamps, c, side="right")) if k < len(stamps) else k
        if upto > k:
            parts.append(xdf.numeric_samples(1, stamps[k:upto], np.zeros((upto - k, 1)), "float32"))
            k = upto
    if k < len(stamps):
        parts.append(xdf.numeric_samples(1, stamps[k:], np.zeros((len(stamps) - k, 1)), "float32"))
    path = tmp_path / "clocked.xdf"
    path.write_bytes(b"".join(parts))
    logging.getLogger("pyxdf.pyxdf").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = pyxdf.load_xdf(str(path), verbose=False)[0][0]["time_stamps"]
    monkeypatch.setattr(spill, "BLOCK_ROWS", block)
    stream = xdf.read_xdf(path).streams[0]
    ts = np.asarray(stream.time_stamps, dtype=np.float64)
    assert synchronize(stream, ts, SyncOptions(), []) == len(ts)
    # (pyxdf's dense fit and these sums differ in rounding only: 10 ns over hours)
    np.testing.assert_allclose(ts, want, rtol=0, atol=1e-8)
