"""Fault and bad-input campaign (issue 19, "Measured"): about 300 cases, tried as a new user and
as an attacker would, run against one tree's ``wot`` and counted as clean / traceback / hang /
silent loss.

Run on demand (not part of the test suite; prints one table)::

    .venv/bin/python benchmarks/fault_campaign.py --tree /work/wt-before [--jobs 2]
        [--only CATEGORY[,CATEGORY]] [--json OUT.json] [--work DIR] [--list]

The runner itself runs in *this* checkout's environment: it builds every input once with this
checkout's code (the real 60-s wot recording and the crafted copies of ``tests/_crafted.py``, a
simulated 120-s CSV), so both trees get the same bytes. Each case then runs ``TREE/.venv/bin/wot``
as a subprocess, in a folder of its own (``WORK/TREE-NAME/CASE``, kept for reproducing), with its
own ``WOT_PROFILE_DIR``, ``WOT_RECORD_DIR`` and an ``LSLAPICFG`` whose ``[lab] SessionID`` is a
fresh uuid (live cases see only their own streams, whatever else runs on the machine), and
unique LSL source_ids. Offline commands run under a 6 GiB address-space limit (a runaway
allocation ends as a ``MemoryError`` traceback rather than taking the machine).

Classes:

* **clean**: exit 0 with the expected result, or exit 1/2 with an error message and no traceback
  (an option the tree does not know is argparse's exit 2: clean);
* **traceback**: a Python traceback or ``Exception in thread`` in the output, or a crash (exit
  status other than 0, 1, 2, or death by a signal the case did not send);
* **hang**: no end within the case's time limit (90 s offline; live cases their own);
* **silent loss**: the command ended as if all was well but the case's own check of the result
  failed (beats moved or missing without a note, fewer profile sessions than saves, another
  client's stream taken without a word, an out-of-range config accepted, a recording without its
  end record after a signal, an unescaped formula...). A case without a checkable expectation
  counts only clean / traceback / hang.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

CLEAN, TRACEBACK, HANG, LOSS = "clean", "traceback", "hang", "silent loss"
CLASSES = (CLEAN, TRACEBACK, HANG, LOSS)
OFFLINE_S = 90.0
AS_LIMIT = 6 << 30
TOL = 1 / 250 + 1e-6  # one ECG sample


# running one command ---------------------------------------------------------------------------
@dataclass
class Proc:
    cmd: list[str]
    rc: int | None
    out: str
    err: str
    timed_out: bool
    seconds: float


@dataclass
class Ctx:
    tree: Path
    wot: str
    data: Path
    ref_xdf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ref_csv: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ref_notes: set[str] = field(default_factory=set)


def _child(limit: bool) -> Callable[[], None]:
    """Set up a child: SIGINT back to its default (a runner started in the background, ``&``,
    has it ignored, and Python then never turns it into KeyboardInterrupt), and the address
    space limit for offline commands."""

    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    return setup


def env_for(d: Path) -> dict[str, str]:
    env = dict(os.environ)
    cfg = d / "lsl_api.cfg"
    if not cfg.exists():
        cfg.write_text(f"[log]\nlevel = -2\n[lab]\nSessionID = fc-{uuid.uuid4().hex}\n")
    (d / "prof").mkdir(exist_ok=True)
    (d / "rec").mkdir(exist_ok=True)
    env.update(
        WOT_PROFILE_DIR=str(d / "prof"), WOT_RECORD_DIR=str(d / "rec"), LSLAPICFG=str(cfg),
        QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    return env


def spawn(ctx: Ctx, args: list[str], d: Path, tag: str, limit: bool = False) -> subprocess.Popen:
    """A background ``wot`` in its own process group, output into ``d/tag.out|err``."""
    return subprocess.Popen(
        [ctx.wot, *args], cwd=d, env=env_for(d), start_new_session=True,
        stdout=open(d / f"{tag}.out", "w"), stderr=open(d / f"{tag}.err", "w"),
        stdin=subprocess.DEVNULL, preexec_fn=_child(limit),
    )  # fmt: skip


def finish(p: subprocess.Popen, d: Path, tag: str, timeout: float, t0: float) -> Proc:
    timed_out = False
    try:
        p.wait(timeout=max(0.1, timeout - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        timed_out = True
        stop(p)
    out = (d / f"{tag}.out").read_text(errors="replace")
    err = (d / f"{tag}.err").read_text(errors="replace")
    cmd = [str(a) for a in p.args] if isinstance(p.args, list) else [str(p.args)]
    return Proc(cmd, p.returncode, out, err, timed_out, time.monotonic() - t0)


def stop(p: subprocess.Popen) -> None:
    """End a process this runner started, and its group."""
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def run(ctx: Ctx, args: list[str], d: Path, timeout: float = OFFLINE_S, tag: str = "cmd",
        limit: bool = True) -> Proc:  # fmt: skip
    t0 = time.monotonic()
    return finish(spawn(ctx, args, d, tag, limit), d, tag, timeout, t0)


# judging ---------------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    category: str
    cls: str
    why: str
    rc: int | None = None
    seconds: float = 0.0
    cmd: str = ""


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def crashed(p: Proc, signals: tuple[int, ...] = ()) -> str | None:
    """The traceback/crash verdict of one process, or None."""
    text = p.err + "\n" + p.out
    if "Traceback (most recent call last)" in text or "Exception in thread" in text:
        return last_line(p.err) or last_line(p.out)
    if p.rc is not None and p.rc not in (0, 1, 2) and -p.rc not in signals:
        return f"exit status {p.rc} (crash); {last_line(p.err)}"
    return None


def judge(
    p: Proc,
    check: Callable[[], str | None] | None = None,
    signals: tuple[int, ...] = (),
    check_any_exit: bool = False,
) -> tuple[str, str]:
    if p.timed_out:
        return HANG, f"no end within {p.seconds:.0f} s; last output: {last_line(p.err + p.out)}"
    tb = crashed(p, signals)
    if tb is not None:
        return TRACEBACK, tb
    if check is not None and (p.rc == 0 or check_any_exit or (p.rc is not None and p.rc < 0)):
        why = check()
        if why:
            return LOSS, why
    if p.rc == 0:
        return CLEAN, "exit 0"
    return CLEAN, f"exit {p.rc}: {last_line(p.err) or last_line(p.out)}"


@dataclass
class Case:
    name: str
    category: str
    fn: Callable[[Ctx, Path], tuple[str, str, Proc | None]]


def offline(name: str, category: str, args: Callable[[Ctx, Path], list[str]],
            check: Callable[[Ctx, Path], str | None] | None = None,
            setup: Callable[[Ctx, Path], None] | None = None,
            timeout: float = OFFLINE_S) -> Case:  # fmt: skip
    """A case of one ``wot`` command, judged with an optional check of its result."""

    def fn(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
        if setup is not None:
            setup(ctx, d)
        p = run(ctx, args(ctx, d), d, timeout)
        cls, why = judge(p, None if check is None else (lambda: check(ctx, d)))
        return cls, why, p

    return Case(name, category, fn)


# reading results -------------------------------------------------------------------------------
def beats(out: Path) -> np.ndarray:
    f = out / "rpeaks.csv"
    if not f.exists():
        return np.zeros(0)
    rows = f.read_text().split()[1:]
    return np.array([float(r.split(",")[0]) for r in rows])


def summary(out: Path) -> dict[str, Any]:
    try:
        got = json.loads((out / "summary.json").read_text())
        return got if isinstance(got, dict) else {}
    except (OSError, ValueError):
        return {}


def notes(out: Path) -> list[str]:
    n = summary(out).get("input", {}).get("notes", [])
    return [str(x) for x in n] if isinstance(n, list) else []


def near(a: np.ndarray, b: np.ndarray, tol: float = TOL) -> np.ndarray:
    """For each of ``a``: is one of ``b`` within ``tol``."""
    if a.size == 0:
        return np.zeros(0, bool)
    if b.size == 0:
        return np.zeros(a.size, bool)
    idx = np.clip(np.searchsorted(b, a), 1, b.size - 1) if b.size > 1 else np.zeros(a.size, int)
    d = np.minimum(np.abs(a - b[idx]), np.abs(a - b[np.maximum(idx - 1, 0)]))
    return d <= tol


# the data --------------------------------------------------------------------------------------
def prepare(data: Path) -> dict[str, Any]:
    """Every input file, built once with this checkout's code (deterministic)."""
    from _crafted import CASES, base_recording, write_case

    data.mkdir(parents=True, exist_ok=True)
    meta_f = data / "meta.json"
    if meta_f.exists():
        return dict(json.loads(meta_f.read_text()))
    base = base_recording(data / "base.xdf")
    (data / "crafted").mkdir(exist_ok=True)
    for name in CASES:
        write_case(name, base, data / "crafted")
    sim = subprocess.run(
        [str(Path(sys.executable).parent / "wot"), "simulate", "--scenario", "calm", "--seed",
         "19", "--duration", "120", "--fs", "250", "--out", str(data / "base.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if sim.returncode != 0:
        raise SystemExit(f"could not simulate the CSV: {sim.stderr}")
    meta: dict[str, Any] = {"cuts": [], "flips": [], "overwrites": [], "csv_cuts": []}
    raw = base.read_bytes()
    rng = random.Random(19)
    ends = ecg_chunk_ends(raw)
    for k in range(20):
        off = rng.randrange(100, len(raw) - 1)
        (data / f"cut{k:02d}.xdf").write_bytes(raw[:off])
        done = [t for end, t in ends if end <= off]
        meta["cuts"].append({"offset": off, "ecg_until_s": max(done) if done else -1.0})
    for k in range(20):
        off, bit = rng.randrange(4, len(raw)), rng.randrange(8)
        b = bytearray(raw)
        b[off] ^= 1 << bit
        (data / f"flip{k:02d}.xdf").write_bytes(bytes(b))
        meta["flips"].append({"offset": off, "bit": bit})
    for k in range(10):
        off, n = rng.randrange(4, len(raw) - 256), rng.choice((16, 64, 256))
        b = bytearray(raw)
        b[off : off + n] = bytes(rng.randrange(256) for _ in range(n))
        (data / f"over{k:02d}.xdf").write_bytes(bytes(b))
        meta["overwrites"].append({"offset": off, "bytes": n})
    text = (data / "base.csv").read_bytes()
    for k in range(10):
        off = rng.randrange(len(text) // 4, len(text) - 1)
        (data / f"csvcut{k:02d}.csv").write_bytes(text[:off])
        last = text[:off].rsplit(b"\n", 2)
        until = float(last[-2].split(b",")[0]) if len(last) >= 2 and last[-2][:1].isdigit() else 0
        meta["csv_cuts"].append({"offset": off, "until_s": until})
    meta_f.write_text(json.dumps(meta))
    return meta


def ecg_chunk_ends(raw: bytes) -> list[tuple[int, float]]:
    """(byte where it ends, last session time) of every ECG samples chunk of the base file."""
    from _crafted import ORIGIN, Chunks
    from wot_biofeedback.sources import xdf

    c = Chunks(raw)
    sid = c.sid("ECG")
    out, pos = [], 4
    for i, (tag, content) in enumerate(c.items):
        pos += len(xdf.chunk(tag, content))
        if tag == xdf.TAG_SAMPLES and struct.unpack_from("<I", content)[0] == sid:
            ts, _ = c.numeric(i)
            out.append((pos, float(ts[-1] - ORIGIN)))
    return out


def references(ctx: Ctx) -> None:
    d = ctx.data / f"ref-{ctx.tree.name}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for src, attr in (("base.xdf", "ref_xdf"), ("base.csv", "ref_csv")):
        p = run(ctx, ["analyze", str(ctx.data / src), "--out", str(d / src)], d, 300)
        if p.rc != 0:
            raise SystemExit(f"{ctx.wot} cannot analyse {src}: {p.err}")
        setattr(ctx, attr, beats(d / src))
        if src == "base.xdf":
            ctx.ref_notes = set(notes(d / src))


# damage to recordings --------------------------------------------------------------------------
def _new_notes(ctx: Ctx, out: Path) -> list[str]:
    return [n for n in notes(out) if n not in ctx.ref_notes]


def damage_cases(meta: dict[str, Any]) -> list[Case]:
    cases = []

    def analyze(src: str) -> Callable[[Ctx, Path], list[str]]:
        return lambda ctx, d: ["analyze", str(ctx.data / src), "--out", str(d / "out")]

    for k, m in enumerate(meta["cuts"]):
        until = m["ecg_until_s"]

        def cut_check(ctx: Ctx, d: Path, until: float = until) -> str | None:
            got, ref = beats(d / "out"), ctx.ref_xdf
            moved = int((~near(got, ref)).sum())
            want = ref[ref < until - 2.0]
            missing = int((~near(want, got)).sum())
            if moved > 2:
                return f"{moved} beats at times the original has none (moved)"
            if missing > max(2, 0.05 * want.size):
                return f"{missing} of the {want.size} beats before the cut ({until:.1f} s) lost"
            return None

        cases.append(offline(f"cut{k:02d}@{m['offset']}", "damage", analyze(f"cut{k:02d}.xdf"),
                             cut_check))  # fmt: skip

    def value_check(ctx: Ctx, d: Path) -> str | None:
        got, ref = beats(d / "out"), ctx.ref_xdf
        moved = int((~near(got, ref)).sum())
        if moved > max(3, 0.1 * got.size):
            return f"{moved} of {got.size} beats at times the original has none (moved)"
        if got.size < 0.5 * ref.size and not _new_notes(ctx, d / "out"):
            return f"{got.size} of {ref.size} beats, without a note"
        return None

    for k, m in enumerate(meta["flips"]):
        name = f"flip{k:02d}@{m['offset']}.{m['bit']}"
        cases.append(offline(name, "damage", analyze(f"flip{k:02d}.xdf"), value_check))
    for k, m in enumerate(meta["overwrites"]):
        name = f"overwrite{k:02d}@{m['offset']}+{m['bytes']}"
        cases.append(offline(name, "damage", analyze(f"over{k:02d}.xdf"), value_check))
    for k, m in enumerate(meta["csv_cuts"]):
        until = m["until_s"]

        def csv_cut_check(ctx: Ctx, d: Path, until: float = until) -> str | None:
            got, ref = beats(d / "out"), ctx.ref_csv
            want = ref[ref < until - 2.0]
            missing = int((~near(want, got)).sum())
            moved = int((~near(got, ref)).sum())
            if moved > 2 or missing > max(2, 0.05 * want.size):
                return f"{missing} beats before the cut ({until:.1f} s) lost, {moved} moved"
            return None

        cases.append(offline(f"csvcut{k:02d}@{m['offset']}", "damage",
                             analyze(f"csvcut{k:02d}.csv"), csv_cut_check))  # fmt: skip
    return cases


# crafted recordings (tests/_crafted.py) --------------------------------------------------------
def crafted_cases() -> list[Case]:
    from _crafted import CASES

    cases = []
    for name, c in CASES.items():
        src = f"crafted/{name}{c.suffix}"

        def check(ctx: Ctx, d: Path, c: Any = c) -> str | None:
            if c.expect == "error":
                return f"analysed, where the file must be refused ({c.what})"
            got, ref = beats(d / "out"), ctx.ref_xdf
            if c.beats == "same" and not (got.size == ref.size and near(got, ref).all()):
                return f"{got.size} beats, {int((~near(got, ref)).sum())} moved; the original " \
                       f"has {ref.size} ({c.what})"  # fmt: skip
            if c.beats == "near" and (got.size < ref.size - 2 or not near(got, ref).all()):
                return f"{got.size} of {ref.size} beats, {int((~near(got, ref)).sum())} " \
                       f"moved ({c.what})"  # fmt: skip
            if c.beats == "prefix" and not (
                10 <= got.size < ref.size and near(got, ref[: got.size]).all()
            ):
                return f"{got.size} beats, not the first of the original's ({c.what})"
            if c.beats == "none" and got.size:
                return f"{got.size} beats from an ECG that cannot be read right ({c.what})"
            return None

        cases.append(offline(
            name, "crafted",
            _analyze_data(src),
            check,
        ))  # fmt: skip
    return cases


# CSV -------------------------------------------------------------------------------------------
def _csv_rows(ctx: Ctx) -> tuple[str, list[str]]:
    lines = (ctx.data / "base.csv").read_text().splitlines()
    return lines[0], lines[1:]


def _shift_from(rows: list[str], t_from: float, by: float) -> list[str]:
    out = []
    for r in rows:
        f = r.split(",")
        t = float(f[0])
        if t >= t_from:
            f[0] = f"{t + by:.6f}"
        out.append(",".join(f))
    return out


def csv_cases() -> list[Case]:
    cases = []

    def make(name: str, edit: Callable[[str, list[str]], str | bytes],
             check: Callable[[Ctx, Path], str | None] | None = None,
             extra: tuple[str, ...] = ()) -> None:  # fmt: skip
        def setup(ctx: Ctx, d: Path) -> None:
            head, rows = _csv_rows(ctx)
            got = edit(head, rows)
            (d / "in.csv").write_bytes(got if isinstance(got, bytes) else got.encode())

        cases.append(offline(
            f"csv_{name}", "csv",
            lambda ctx, d: ["analyze", str(d / "in.csv"), "--out", str(d / "out"), *extra],
            check, setup,
        ))  # fmt: skip

    def joined(head: str, rows: list[str], nl: str = "\n") -> str:
        return nl.join([head, *rows]) + nl

    def same(ctx: Ctx, d: Path) -> str | None:
        got, ref = beats(d / "out"), ctx.ref_csv
        if got.size < ref.size - 2 or (~near(got, ref)).sum() > 2:
            return (
                f"{got.size} beats, {int((~near(got, ref)).sum())} moved; the file has {ref.size}"
            )
        return None

    def gap_check(at: float, by: float) -> Callable[[Ctx, Path], str | None]:
        def check(ctx: Ctx, d: Path) -> str | None:
            got, ref = beats(d / "out"), ctx.ref_csv
            after = ref[(ref > at + 3) & (ref < ref[-1] - 1)] + by
            found = near(after, got, 2 * TOL)
            if found.mean() < 0.8:
                early = near(after - by, got, 2 * TOL).mean()
                return (f"beats after the {by:g}-s gap: {found.mean():.0%} at their time, "
                        f"{early:.0%} {by:g} s early")  # fmt: skip
            return None

        return check

    def noted(words: str) -> Callable[[Ctx, Path], str | None]:
        def check(ctx: Ctx, d: Path) -> str | None:
            if not any(re.search(words, n, re.I) for n in notes(d / "out")):
                return f"analysed without a word about it (no note matching {words!r})"
            return None

        return check

    make("gap_60s", lambda h, r: joined(h, _shift_from(r, 60.0, 60.0)), gap_check(60.0, 60.0))
    make("gap_2s", lambda h, r: joined(h, _shift_from(r, 50.0, 2.0)), gap_check(50.0, 2.0))
    make("gap_1day", lambda h, r: joined(h, _shift_from(r, 60.0, 86400.0)),
         gap_check(60.0, 86400.0))  # fmt: skip
    make("gap_1e6s", lambda h, r: joined(h, _shift_from(r, 60.0, 1e6)), gap_check(60.0, 1e6))

    def swap(h: str, r: list[str]) -> str:
        r = list(r)
        r[5000], r[5001] = r[5001], r[5000]
        return joined(h, r)

    def set_time(k: int, value: str) -> Callable[[str, list[str]], str]:
        def edit(h: str, r: list[str]) -> str:
            r = list(r)
            f = r[k].split(",")
            f[0] = value
            r[k] = ",".join(f)
            return joined(h, r)

        return edit

    order = r"row|order|time|line"
    make("swapped_rows", swap, noted(order))
    make("time_nan", set_time(5000, "nan"), noted(order))
    make("time_1e300", set_time(5000, "1e300"), noted(order))
    make("time_inf", set_time(5000, "inf"), noted(order))
    make("time_negative_mid", set_time(5000, "-5"), noted(order))
    make("time_repeated", lambda h, r: set_time(5000, r[4999].split(",")[0])(h, r), noted(order))
    make("time_text", set_time(5000, "soon"), noted(order))
    make("rows_reversed", lambda h, r: joined(h, r[::-1]), noted(order))
    make("time_empty_cell", set_time(5000, ""), noted(order))
    make("bom", lambda h, r: "\ufeff" + joined(h, r), same)
    make("crlf", lambda h, r: joined(h, r, "\r\n"), same)
    make("semicolon", lambda h, r: joined(h.replace(",", ";"), [x.replace(",", ";") for x in r]),
         same)  # fmt: skip
    make(
        "decimal_comma",
        lambda h, r: joined(
            h.replace(",", ";"), [x.replace(",", ";").replace(".", ",") for x in r]
        ),
        same,
    )
    make("tab", lambda h, r: joined(h.replace(",", "\t"), [x.replace(",", "\t") for x in r]), same)

    def short(h: str, r: list[str]) -> str:
        r = list(r)
        r[5000] = ",".join(r[5000].split(",")[:2])
        return joined(h, r)

    make("short_line", short, noted(r"line|row|skip"))
    make("short_line_skip_bad_lines", short, noted(r"line|row|skip"), ("--skip-bad-lines",))

    def cell(k: int, col: int, value: str) -> Callable[[str, list[str]], str]:
        def edit(h: str, r: list[str]) -> str:
            r = list(r)
            f = r[k].split(",")
            f[col] = value
            r[k] = ",".join(f)
            return joined(h, r)

        return edit

    make("text_in_ecg", cell(5000, 1, "abc"), noted(r"line|row|skip|ecg"))
    make("ecg_1e300", cell(5000, 1, "1e300"))
    make("ecg_nan_run", lambda h, r: joined(h, [
        (",".join([x.split(",")[0], "nan", *x.split(",")[2:]]) if 5000 <= k < 5500 else x)
        for k, x in enumerate(r)]))  # fmt: skip
    make("empty_file", lambda h, r: "")
    make("header_only", lambda h, r: h + "\n")
    make("one_row", lambda h, r: joined(h, r[:1]))
    make(
        "no_time_column",
        lambda h, r: joined(",".join(h.split(",")[1:]), [",".join(x.split(",")[1:]) for x in r]),
    )
    make("no_time_column_fs", lambda h, r: joined(
        ",".join(h.split(",")[1:]), [",".join(x.split(",")[1:]) for x in r]), same,
        ("--fs", "250"))  # fmt: skip
    make("extra_text_column", lambda h, r: joined(h + ",comment", [x + ",hello" for x in r]), same)
    make("quoted_values", lambda h, r: joined(h, ['"' + x.replace(",", '","') + '"' for x in r]))
    make("utf16", lambda h, r: joined(h, r).encode("utf-16"))
    make("binary", lambda h, r: random.Random(5).randbytes(200_000))
    make("long_cell_1mb", cell(5000, 4, "x" * (1 << 20)))
    make("duplicate_ecg_column", lambda h, r: joined(h + ",ecg", [x + ",0.1" for x in r]))
    make(
        "time_ms",
        lambda h, r: joined(
            h, [",".join([f"{float(x.split(',')[0]) * 1000:.3f}", *x.split(",")[1:]]) for x in r]
        ),
    )
    make("negative_start", lambda h, r: joined(h, _shift_from(r, -1.0, -60.0)))

    # marker files: formula text must be escaped in the markers.csv wot writes
    payloads = ("=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0",
                "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0")  # fmt: skip

    def markers_setup(ctx: Ctx, d: Path) -> None:
        lines = ["time_s,text"] + [f'{5 + 5 * k},"{p.replace(chr(34), 2 * chr(34))}"'
                                   for k, p in enumerate(payloads)]  # fmt: skip
        (d / "m.csv").write_text("\n".join(lines) + "\n")

    def formula_check(ctx: Ctx, d: Path) -> str | None:
        import csv as _csv

        f = d / "out" / "markers.csv"
        if not f.exists():
            return "markers.csv not written"
        with open(f, newline="") as fh:
            texts = [row.get("text", "") for row in _csv.DictReader(fh)]
        bad = [t for t in texts if t[:1] in ("=", "+", "-", "@")]
        if bad:
            return f"{len(bad)} marker text(s) start with = + - @ in markers.csv: {bad[0][:30]!r}"
        if len(texts) < len(payloads):
            return f"{len(texts)} of {len(payloads)} markers written"
        return None

    cases.append(offline(
        "csv_markers_formula", "csv",
        lambda ctx, d: ["analyze", str(ctx.data / "base.csv"), "--out", str(d / "out"),
                        "--markers", str(d / "m.csv")],
        formula_check, markers_setup,
    ))  # fmt: skip

    def bad_markers(ctx: Ctx, d: Path) -> None:
        (d / "m.csv").write_text("time_s,text\nsoon,hello\n10,ok\n")

    cases.append(offline(
        "csv_markers_bad_time", "csv",
        lambda ctx, d: ["analyze", str(ctx.data / "base.csv"), "--out", str(d / "out"),
                        "--markers", str(d / "m.csv")],
        None, bad_markers,
    ))  # fmt: skip
    return cases


# configs ---------------------------------------------------------------------------------------
def config_cases() -> list[Case]:
    bad = {
        "upper_below_lower": "[zones]\nupper = -1.0\nlower = 1.0\n",
        "upper_negative": "[zones]\nupper = -1.0\n",
        "lower_positive": "[zones]\nlower = 0.5\n",
        "hysteresis_negative": "[zones]\nhysteresis = -0.3\n",
        "hysteresis_above_upper": "[zones]\nupper = 1.0\nhysteresis = 2.0\n",
        "calibration_zero": "[calibration]\nduration_s = 0.0\n",
        "calibration_negative": "[calibration]\nduration_s = -10.0\n",
        "calibration_start_negative": "[calibration]\nstart_s = -30.0\n",
        "calibration_1e12": "[calibration]\nduration_s = 1e12\n",
        "min_coverage_zero": "[calibration]\nmin_coverage = 0.0\n",
        "min_coverage_2": "[calibration]\nmin_coverage = 2.0\n",
        "upper_nan": "[zones]\nupper = nan\n",
        "lower_inf": "[zones]\nlower = -inf\n",
        "hysteresis_nan": "[zones]\nhysteresis = nan\n",
        "frame_rate_zero": "frame_rate_hz = 0.0\n",
        "frame_rate_1e6": "frame_rate_hz = 1e6\n",
        "frame_rate_negative": "frame_rate_hz = -4.0\n",
        "clip_zero": "[zones]\nclip = 0.0\n",
        "min_usable_2": "[zones]\nmin_usable = 2.0\n",
        "smoothing_negative": "[zones]\nsmoothing_s = -4.0\n",
        "confirm_nan": "[zones]\nconfirm_s = nan\n",
        "pacer_rate_zero": "[cues]\npacer_rate_bpm = 0.0\n",
        "pacer_ratio_1_5": "[cues]\npacer_inhale_ratio = 1.5\n",
        "repeat_zero": "[cues]\nrepeat_s = 0.0\n",
        "feature_weight_negative": "[features.hr_bpm]\nweight = -1.0\n",
        "feature_floor_zero": "[features.hr_bpm]\nfloor = 0.0\n",
        "feature_sign_zero": "[features.hr_bpm]\nsign = 0.0\n",
        "eda_min_amplitude_zero": "eda_min_amplitude_us = 0.0\n",
        "max_corrected_share_2": "max_corrected_share = 2.0\n",
        "upper_text": '[zones]\nupper = "1.5"\n',
    }
    errors = {  # refused by any version: a clean error is expected, no result to check
        "not_toml": "this is [not toml\n",
        "unknown_key": "[zones]\nbogus = 1\n",
        "fusion_unknown": '[zones]\nfusion = "bogus"\n',
        "binary": "\x00\x01\x02\xff",
    }
    good = {
        "defaults_explicit": "[zones]\nupper = 1.5\nlower = -1.5\nhysteresis = 0.3\n",
        "wide_window": "[zones]\nupper = 3.0\nlower = -3.0\n",
        "hysteresis_zero": "[zones]\nhysteresis = 0.0\n",
        "short_calibration": "[calibration]\nduration_s = 30.0\n",
    }
    cases = []

    def refused(ctx: Ctx, d: Path) -> str | None:
        zones = summary(d / "out").get("fraction_in_zone", {})
        return f"out-of-range config accepted without a word (zones {zones})"

    def scored(ctx: Ctx, d: Path) -> str | None:
        return None if summary(d / "out").get("fraction_in_zone") else "no zones in summary.json"

    for group, check in ((bad, refused), (errors, None), (good, scored)):
        for name, text in group.items():

            def setup(ctx: Ctx, d: Path, text: str = text) -> None:
                (d / "c.toml").write_text(text)

            cases.append(offline(
                f"config_{name}", "config",
                lambda ctx, d: ["analyze", str(ctx.data / "base.csv"), "--out", str(d / "out"),
                                "--config", str(d / "c.toml")],
                check, setup,
            ))  # fmt: skip
    return cases


# profiles --------------------------------------------------------------------------------------
def _sessions(f: Path) -> int:
    try:
        got = json.loads(f.read_text())
        return len(got.get("sessions", []))
    except (OSError, ValueError, AttributeError):
        return -1


def _seed_profile(ctx: Ctx, d: Path, name: str = "carol") -> Path:
    """A real profile of one session, made by the tree itself."""
    p = run(ctx, ["analyze", str(ctx.data / "base.csv"), "--out", str(d / "seed"), "--profile",
                  name], d, OFFLINE_S, tag="seed")  # fmt: skip
    f = d / "prof" / f"{name}.json"
    if p.rc != 0 or not f.exists():
        raise RuntimeError(f"could not make a profile: {last_line(p.err)}")
    return f


def profile_cases() -> list[Case]:
    tampers: dict[str, Callable[[dict[str, Any]], Any]] = {
        "sessions_mixed": lambda j: j.__setitem__("sessions", [1, "x", None]),
        "sessions_dict": lambda j: j.__setitem__("sessions", {"a": 1}),
        "baseline_list": lambda j: j.__setitem__("baseline", [1, 2, 3]),
        "window_text": lambda j: j.__setitem__("window", "wide"),
        "window_inverted": lambda j: j.__setitem__("window", {"upper": -1.0, "lower": 1.0}),
        "window_nan": lambda j: j.__setitem__("window", {"upper": math.nan, "lower": -1.5}),
        "window_huge": lambda j: j.__setitem__("window", {"upper": 1e308, "lower": -1e308}),
        "schema_99": lambda j: j.update(schema=99, version=99),
        "session_fields_text": lambda j: [s.__setitem__("baseline", "x") for s in j["sessions"]],
        "top_level_list": lambda j: [j],
        "deep_nesting": lambda j: "DEEP",
    }
    cases = []
    for name, change in tampers.items():

        def setup(ctx: Ctx, d: Path, change: Callable[[dict[str, Any]], Any] = change) -> None:
            f = _seed_profile(ctx, d)
            j = json.loads(f.read_text())
            got = change(j)
            if got == "DEEP":
                text = (
                    f.read_text().rstrip()[:-1] + ', "extra": ' + "[" * 50_000 + "]" * 50_000 + "}"
                )
            else:
                text = json.dumps(j if got is None or not isinstance(got, list) else got)
            f.write_text(text)
            (d / "tampered.json").write_text(text)

        cases.append(offline(f"profile_{name}", "profile", _analyze_profile("carol"),
                             _tamper_check, setup))  # fmt: skip
    for name, text in (("not_json", "{not json"), ("empty", ""), ("binary", "\x00\xff\xfe"),
                       ("huge_65mb", '{"x": "' + "a" * (65 << 20) + '"}')):  # fmt: skip

        def setup2(ctx: Ctx, d: Path, text: str = text) -> None:
            f = _seed_profile(ctx, d)
            f.write_text(text)
            (d / "tampered.json").write_text(text)

        cases.append(offline(f"profile_{name}", "profile", _analyze_profile("carol"),
                             _tamper_check, setup2))  # fmt: skip

    def as_dir(ctx: Ctx, d: Path) -> None:
        (d / "prof" / "carol.json").mkdir(parents=True)

    cases.append(offline("profile_is_a_folder", "profile", _analyze_profile("carol"), None, as_dir))

    def copied(ctx: Ctx, d: Path) -> None:
        f = _seed_profile(ctx, d, "alice")
        shutil.copy(f, d / "prof" / "bob.json")

    def copied_check(ctx: Ctx, d: Path) -> str | None:
        a, b = _sessions(d / "prof" / "alice.json"), _sessions(d / "prof" / "bob.json")
        if (a, b) != (1, 2):
            return (
                f"saved with --profile bob: alice.json has {a} sessions, bob.json {b} (want 1, 2)"
            )
        return None

    cases.append(offline("profile_copied_alice_as_bob", "profile", _analyze_profile("bob"),
                         copied_check, copied))  # fmt: skip

    def sequential(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
        last = None
        for k in range(3):
            last = run(ctx, _analyze_profile("erin")(ctx, d), d, OFFLINE_S, tag=f"a{k}")
            cls, why = judge(last)
            if cls != CLEAN or last.rc != 0:
                return cls, why, last
        n = _sessions(d / "prof" / "erin.json")
        if n != 3:
            return LOSS, f"3 saves, {n} sessions stored", last
        return CLEAN, "3 sessions", last

    cases.append(Case("profile_three_in_a_row", "profile", sequential))

    def parallel(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
        t0 = time.monotonic()
        ps = []
        for k in range(6):
            ps.append(
                spawn(
                    ctx,
                    [
                        "analyze",
                        str(ctx.data / "base.csv"),
                        "--out",
                        str(d / f"out{k}"),
                        "--profile",
                        "carol",
                    ],
                    d,
                    f"p{k}",
                    True,
                )
            )
        procs = [finish(p, d, f"p{k}", 180.0, t0) for k, p in enumerate(ps)]
        for p in procs:
            cls, why = judge(p)
            if cls != CLEAN:
                return cls, why, p
        saved = sum(p.rc == 0 for p in procs)
        n = _sessions(d / "prof" / "carol.json")
        said = sorted({m for p in procs for m in re.findall(r"session (\d+)", p.out + p.err)})
        if n != saved:
            return LOSS, f"6 parallel saves ({saved} exit 0, said sessions {said}): {n} stored", \
                procs[0]  # fmt: skip
        return CLEAN, f"{n} sessions", procs[0]

    cases.append(Case("profile_six_parallel_analyze", "profile", parallel))

    def run_and_analyze(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
        sid = f"fc{uuid.uuid4().hex[:10]}"
        t0 = time.monotonic()
        sim = spawn(ctx, ["simulate", "--source-id", sid, "--duration", "120"], d, "sim")
        try:
            time.sleep(2)
            live = spawn(ctx, ["run", "--source-id", sid, "--duration", "30", "--headless",
                               "--no-client-view", "--profile", "dave"], d, "run")  # fmt: skip
            time.sleep(12)
            a = run(ctx, _analyze_profile("dave")(ctx, d), d, OFFLINE_S, tag="analyze")
            p = finish(live, d, "run", 150.0, t0)
        finally:
            stop(sim)
        for q in (p, a):
            cls, why = judge(q)
            if cls != CLEAN:
                return cls, why, q
        n = _sessions(d / "prof" / "dave.json")
        want = int(p.rc == 0) + int(a.rc == 0)
        if n != want:
            return LOSS, f"wot run + an analyze during it, {want} saves: {n} stored", p
        return CLEAN, f"{n} sessions", p

    cases.append(Case("profile_run_with_analyze_meanwhile", "profile", run_and_analyze))
    return cases


def _analyze_profile(name: str, sep: str = " ") -> Callable[[Ctx, Path], list[str]]:
    opt = [f"--profile={name}"] if sep == "=" else ["--profile", name]
    return lambda ctx, d: ["analyze", str(ctx.data / "base.csv"), "--out", str(d / "out"), *opt]


def _analyze_data(src: str) -> Callable[[Ctx, Path], list[str]]:
    return lambda ctx, d: ["analyze", str(ctx.data / src), "--out", str(d / "out")]


def _tamper_check(ctx: Ctx, d: Path) -> str | None:
    """Exit 0 on a tampered profile: either the file was rewritten (its content gone) or the
    session the command reported was not stored."""
    f = d / "prof" / "carol.json"
    try:
        now = f.read_text()
    except OSError:
        return "the profile is gone"
    if now != (d / "tampered.json").read_text():
        return "a tampered profile was rewritten without a word (its content replaced)"
    return "reported a session saved into a tampered profile that did not change"


# live (real LSL over loopback) -----------------------------------------------------------------
def _events(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    return [e.decode() for e in re.findall(rb'"event": ?"(\w+)"', raw)]


def _recording(d: Path) -> Path:
    return d / "s.xdf"


def live_cases() -> list[Case]:
    cases = []
    common = ["--headless", "--no-client-view"]

    def with_sim(name: str, sim_args: list[str], run_args: list[str],
                 check: Callable[[Ctx, Path, Proc], str | None] | None = None,
                 timeout: float = 90.0, n_sims: int = 1,
                 source_id: bool = True) -> None:  # fmt: skip
        def fn(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
            sids = [f"fc{uuid.uuid4().hex[:10]}" for _ in range(n_sims)]
            (d / "sids.txt").write_text("\n".join(sids))
            sims = [spawn(ctx, ["simulate", "--source-id", s, "--duration", "300", *sim_args],
                          d, f"sim{k}") for k, s in enumerate(sids)]  # fmt: skip
            try:
                time.sleep(3)
                extra = ["--source-id", sids[0]] if source_id else []
                p = run(ctx, ["run", *extra, *common, "--record", str(_recording(d)), *run_args],
                        d, timeout, limit=False)  # fmt: skip
            finally:
                for s in sims:
                    stop(s)
            cls, why = judge(p, None if check is None else (lambda: check(ctx, d, p)))
            return cls, why, p

        cases.append(Case(name, "live", fn))

    def ran_rest(ctx: Ctx, d: Path, p: Proc) -> str | None:
        if "end" not in _events(_recording(d)):
            return "exit 0, but the recording has no end record"
        return None

    with_sim("live_eda_fs_2", ["--eda-fs", "2"], ["--duration", "15"], ran_rest)
    with_sim("live_ecg_fs_40", ["--ecg-fs", "40"], ["--duration", "15"], ran_rest)
    with_sim("live_resp_fs_1", ["--resp-fs", "1"], ["--duration", "15"], ran_rest)
    with_sim("live_all_rates_bad", ["--ecg-fs", "40", "--eda-fs", "2", "--resp-fs", "1"],
             ["--duration", "15"], ran_rest)  # fmt: skip
    with_sim("live_ecg_fs_5000", ["--ecg-fs", "5000"], ["--duration", "15"], ran_rest)

    def two_clients(ctx: Ctx, d: Path, p: Proc) -> str | None:
        sids = (d / "sids.txt").read_text().split()
        text = p.out + p.err
        if all(s in text for s in sids):
            return None
        return "two clients' streams on the network: one taken, no warning naming both"

    with_sim("live_two_clients_no_source_id", [], ["--duration", "10"], two_clients,
             n_sims=2, source_id=False)  # fmt: skip

    def own_streams(ctx: Ctx, d: Path, p: Proc) -> str | None:
        sid = (d / "sids.txt").read_text().split()[0]
        raw = _recording(d).read_bytes() if _recording(d).exists() else b""
        ids = {s.decode() for s in re.findall(rb"<source_id>([^<]*)</source_id>", raw)}
        foreign = [s for s in ids if s.startswith("fc") and not s.startswith(sid)]
        return f"recorded another client's stream(s) {foreign}" if foreign else None

    with_sim("live_two_clients_with_source_id", [], ["--duration", "10"], own_streams, n_sims=2)

    def not_eda_as_ecg(ctx: Ctx, d: Path, p: Proc) -> str | None:
        if re.search(r"^ecg: \S*EDA", p.out + p.err, re.M):
            return "the EDA stream was taken as ECG (query injection through --ecg-type)"
        return None

    with_sim("live_ecg_type_injection", [],
             ["--duration", "10", "--ecg-type", "ECG' or type='EDA"], not_eda_as_ecg,
             source_id=False)  # fmt: skip
    with_sim(
        "live_ecg_type_injection_with_source_id",
        [],
        ["--duration", "10", "--ecg-type", "ECG' or type='EDA"],
        not_eda_as_ecg,
    )
    with_sim("live_duration_nan", [], ["--duration", "nan"], None, timeout=60)
    with_sim("live_duration_negative", [], ["--duration", "-5"], None, timeout=60)

    def no_streams(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
        p = run(
            ctx,
            [
                "run",
                "--source-id",
                f"fc{uuid.uuid4().hex[:10]}",
                *common,
                "--timeout",
                "2",
                "--duration",
                "10",
                "--record",
                str(_recording(d)),
            ],
            d,
            60,
            limit=False,
        )
        return (*judge(p), p)

    cases.append(Case("live_no_streams", "live", no_streams))

    def signalled(name: str, sig: int, demo: bool = False) -> None:
        def fn(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
            sid = f"fc{uuid.uuid4().hex[:10]}"
            sim = None
            t0 = time.monotonic()
            if demo:
                args = ["demo", *common, "--speed", "2", "--record", str(_recording(d))]
            else:
                sim = spawn(ctx, ["simulate", "--source-id", sid, "--duration", "300"], d, "sim")
                time.sleep(3)
                args = ["run", "--source-id", sid, *common, "--record", str(_recording(d))]
            live = spawn(ctx, args, d, "run")
            try:
                time.sleep(20)
                if live.poll() is None:
                    os.killpg(live.pid, sig) if sig == signal.SIGKILL else live.send_signal(sig)
                p = finish(live, d, "run", 100.0, t0)
            finally:
                if sim is not None:
                    stop(sim)
            if sig == signal.SIGKILL:
                return _after_kill(ctx, d, p)
            report = list(d.glob("s-report/report.html"))

            def check() -> str | None:
                ev = _events(_recording(d))
                lost = [w for w, ok in (("end record", "end" in ev), ("report", bool(report)))
                        if not ok]  # fmt: skip
                sname = signal.Signals(sig).name
                return f"after {sname} (exit {p.rc}): no {' and no '.join(lost)}" if lost else None

            cls, why = judge(p, check, signals=(sig,))
            return cls, why, p

        cases.append(Case(name, "live", fn))

    signalled("live_sigterm", signal.SIGTERM)
    signalled("live_sighup", signal.SIGHUP)
    signalled("live_sigint", signal.SIGINT)
    signalled("live_demo_sigterm", signal.SIGTERM, demo=True)
    signalled("live_demo_sighup", signal.SIGHUP, demo=True)
    signalled("live_kill9", signal.SIGKILL)

    def exists(ctx: Ctx, d: Path) -> tuple[str, str, Proc | None]:
        f = d / "old.xdf"
        f.write_bytes(b"precious")
        p = run(ctx, ["demo", *common, "--duration", "5", "--speed", "5", "--record", str(f)], d,
                90, limit=False)  # fmt: skip
        lost = "an existing file overwritten by --record" if f.read_bytes() != b"precious" else ""
        cls, why = judge(p, (lambda: lost or None), check_any_exit=True)
        return cls, why, p

    cases.append(Case("live_record_existing_file", "live", exists))
    return cases


def _after_kill(ctx: Ctx, d: Path, p: Proc) -> tuple[str, str, Proc | None]:
    """kill -9: the recording must load, and hold (within 2 s) what the console had shown."""
    shown = [int(m) * 60 + int(s) for m, s in re.findall(r"^\[(\d+):(\d+)\]", p.out, re.M)]
    if p.timed_out:
        return HANG, "did not die on SIGKILL", p
    a = run(ctx, ["analyze", str(_recording(d)), "--out", str(d / "out")], d, OFFLINE_S, "an")
    cls, why = judge(a)
    if cls != CLEAN:
        return cls, f"the killed session's recording: {why}", a
    if a.rc != 0:
        return LOSS, f"the recording of a kill -9 does not load: {last_line(a.err)}", a
    dur = float(summary(d / "out").get("duration_s", 0.0))
    if shown and dur < max(shown) - 2.0:
        return LOSS, f"console showed {max(shown)} s, the recording holds {dur:.1f} s", a
    return CLEAN, f"recording holds {dur:.1f} s of the {max(shown, default=0)} s shown", a


# what held in issue 19 -------------------------------------------------------------------------
def held_cases() -> list[Case]:
    cases = []
    for k, name in enumerate(("../x", "../../escape", "/tmp/fc-abs-escape", "..", "a/b", ".",
                              "x/../../y", "~root", "-", "bad name", "ok.json/..")):  # fmt: skip

        def check(ctx: Ctx, d: Path, name: str = name) -> str | None:
            outside = [p for p in (d / "x.json", d.parent / "escape.json", d / "y.json",
                                   Path("/tmp/fc-abs-escape.json"), d / "b.json")
                       if p.exists()]  # fmt: skip
            return f"--profile {name!r} wrote {outside[0]}" if outside else None

        cases.append(offline(
            f"profile_path_{k:02d}", "held",
            _analyze_profile(name, "="),
            check,
        ))  # fmt: skip
    html = ('<script>alert("wot")</script>', '<img src=x onerror=alert(1)>',
            '<svg onload=alert(1)>', '"><iframe src=javascript:alert(1)>',
            "</title><script>alert(2)</script>")  # fmt: skip
    for k, payload in enumerate(html):

        def setup(ctx: Ctx, d: Path, payload: str = payload) -> None:
            q = payload.replace('"', '""')
            (d / "m.csv").write_text(f'time_s,text\n10,"{q}"\n')

        def escaped(ctx: Ctx, d: Path, payload: str = payload) -> str | None:
            pages = list((d / "out").rglob("*.html"))
            if not pages:
                return "no report written"
            raw = [p for p in pages if payload.lower() in p.read_text(errors="replace").lower()]
            return f"HTML payload unescaped in {raw[0].name}" if raw else None

        cases.append(offline(
            f"html_marker_{k}", "held",
            lambda ctx, d: ["report", str(ctx.data / "base.xdf"), "--out", str(d / "out"),
                            "--markers", str(d / "m.csv")],
            escaped, setup, timeout=150,
        ))  # fmt: skip

    def csv_label(ctx: Ctx, d: Path) -> None:
        text = (ctx.data / "base.csv").read_text()
        (d / "in.csv").write_text(text.replace("zone", "<script>alert(3)</script>", 1))

    def label_escaped(ctx: Ctx, d: Path) -> str | None:
        bad = [p for p in (d / "out").rglob("*.html") if "<script>alert(3)" in p.read_text()]
        return f"HTML column name unescaped in {bad[0].name}" if bad else None

    cases.append(offline(
        "html_csv_column_name", "held",
        lambda ctx, d: ["report", str(d / "in.csv"), "--out", str(d / "out")],
        label_escaped, csv_label, timeout=150,
    ))  # fmt: skip

    def xxe(kind: str) -> Callable[[Ctx, Path], None]:
        def setup(ctx: Ctx, d: Path) -> None:
            from xml.etree import ElementTree

            from _crafted import Chunks

            c = Chunks((ctx.data / "base.xdf").read_bytes())
            sid = c.sid("ECG")
            body = ElementTree.tostring(c.header(sid), encoding="unicode")
            ent = ('<!ENTITY x SYSTEM "file:///etc/passwd">' if kind == "file"
                   else '<!ENTITY x SYSTEM "http://127.0.0.1:9/x">')  # fmt: skip
            doc = f'<?xml version="1.0"?><!DOCTYPE info [{ent}]>' + body.replace(
                "<name>ECG</name>", "<name>ECG</name><note>&x;</note>"
            )
            c.set_header(sid, doc.encode())
            (d / "in.xdf").write_bytes(c.to_bytes())

        return setup

    def no_passwd(ctx: Ctx, d: Path) -> str | None:
        leaked = [p for p in (d / "out").rglob("*") if p.is_file() and b"root:" in p.read_bytes()]
        return f"/etc/passwd content in {leaked[0].name}" if leaked else None

    for kind in ("file", "http"):
        cases.append(offline(
            f"xml_external_entity_{kind}", "held",
            lambda ctx, d: ["analyze", str(d / "in.xdf"), "--out", str(d / "out")],
            no_passwd, xxe(kind),
        ))  # fmt: skip
    return cases


# a new user at the command line ----------------------------------------------------------------
def cli_cases() -> list[Case]:
    def a(*args: str) -> Callable[[Ctx, Path], list[str]]:
        def build(ctx: Ctx, d: Path) -> list[str]:
            return [
                x.replace("{csv}", str(ctx.data / "base.csv"))
                .replace("{xdf}", str(ctx.data / "base.xdf"))
                .replace("{d}", str(d))
                for x in args
            ]

        return build

    cmds: dict[str, tuple[str, ...]] = {
        "analyze_missing_file": ("analyze", "{d}/nope.csv", "--out", "{d}/out"),
        "analyze_no_out": ("analyze", "{csv}"),
        "analyze_out_is_a_file": ("analyze", "{csv}", "--out", "{csv}"),
        "analyze_empty_folder": ("analyze", "{d}/prof", "--out", "{d}/out"),
        "analyze_unknown_extension": ("analyze", "{d}/lsl_api.cfg", "--out", "{d}/out"),
        "analyze_baseline_text": ("analyze", "{csv}", "--out", "{d}/out", "--baseline", "a:b"),
        "analyze_baseline_reversed": (
            "analyze",
            "{csv}",
            "--out",
            "{d}/out",
            "--baseline",
            "50:10",
        ),
        "analyze_baseline_nan": ("analyze", "{csv}", "--out", "{d}/out", "--baseline", "nan:inf"),
        "analyze_baseline_beyond": (
            "analyze",
            "{csv}",
            "--out",
            "{d}/out",
            "--baseline",
            "1000:2000",
        ),
        "analyze_fs_zero": ("analyze", "{csv}", "--out", "{d}/out", "--fs", "0"),
        "analyze_fs_negative": ("analyze", "{csv}", "--out", "{d}/out", "--fs", "-250"),
        "analyze_fs_nan": ("analyze", "{csv}", "--out", "{d}/out", "--fs", "nan"),
        "analyze_eda_unit_junk": ("analyze", "{csv}", "--out", "{d}/out", "--eda-unit", "furlong"),
        "analyze_eda_unit_raw_zero": (
            "analyze",
            "{csv}",
            "--out",
            "{d}/out",
            "--eda-unit",
            "raw:0",
        ),
        "analyze_ecg_unknown_channel": ("analyze", "{csv}", "--out", "{d}/out", "--ecg", "V9"),
        "analyze_xdf_unknown_stream": ("analyze", "{xdf}", "--out", "{d}/out", "--ecg", "nope"),
        "analyze_markers_missing": (
            "analyze",
            "{csv}",
            "--out",
            "{d}/out",
            "--markers",
            "{d}/nope.csv",
        ),
        "analyze_workers_zero": ("analyze", "{d}", "--out", "{d}/out", "--workers", "0"),
        "analyze_file_timeout_negative": (
            "analyze",
            "{d}",
            "--out",
            "{d}/out",
            "--file-timeout",
            "-1",
        ),
        "report_missing": ("report", "{d}/nope", "--out", "{d}/out"),
        "report_client_unknown": ("report", "--client", "nobody", "--out", "{d}/out"),
        "assess_reversed": (
            "assess",
            "{csv}",
            "--rest",
            "60:0",
            "--stressor",
            "60:90",
            "--recovery",
            "90:120",
        ),
        "assess_beyond": (
            "assess",
            "{csv}",
            "--rest",
            "0:30",
            "--stressor",
            "500:600",
            "--recovery",
            "600:700",
        ),
        "assess_text": (
            "assess",
            "{csv}",
            "--rest",
            "x",
            "--stressor",
            "60:90",
            "--recovery",
            "90:120",
        ),
        "simulate_negative_duration": ("simulate", "--duration", "-5", "--out", "{d}/x.csv"),
        "simulate_nan_duration": ("simulate", "--duration", "nan", "--out", "{d}/x.csv"),
        "simulate_fs_zero": ("simulate", "--duration", "10", "--fs", "0", "--out", "{d}/x.csv"),
        "simulate_unknown_scenario": ("simulate", "--scenario", "nope", "--out", "{d}/x.csv"),
        "simulate_out_in_missing_folder": (
            "simulate",
            "--duration",
            "10",
            "--out",
            "{d}/no/such/x.csv",
        ),
        "replay_missing": ("replay", "{d}/nope.xdf"),
        "replay_speed_zero": ("replay", "{csv}", "--speed", "0", "--duration", "2"),
        "demo_duration_nan": ("demo", "--headless", "--duration", "nan", "--no-record"),
        "demo_speed_zero": ("demo", "--headless", "--speed", "0", "--duration", "5", "--no-record"),
        "demo_record_not_xdf": ("demo", "--headless", "--duration", "5", "--record", "{d}/x.txt"),
        "demo_unknown_subject": (
            "demo",
            "--headless",
            "--duration",
            "5",
            "--subjects",
            "../x",
            "--no-record",
        ),
        "unknown_command": ("frobnicate",),
    }

    cases = [offline(f"cli_{n}", "cli", a(*args), None, timeout=60) for n, args in cmds.items()]

    cases.append(
        offline(
            "cli_analyze_baseline_empty",
            "cli",
            a("analyze", "{csv}", "--out", "{d}/out", "--baseline", "10:10"),
        )
    )
    return cases


# the campaign ----------------------------------------------------------------------------------
def all_cases(meta: dict[str, Any]) -> list[Case]:
    return [*damage_cases(meta), *crafted_cases(), *csv_cases(), *config_cases(),
            *profile_cases(), *live_cases(), *held_cases(), *cli_cases()]  # fmt: skip


def run_case(ctx: Ctx, case: Case, work: Path) -> Result:
    d = work / re.sub(r"[^\w.@+-]", "_", case.name)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    t0 = time.monotonic()
    try:
        cls, why, p = case.fn(ctx, d)
    except Exception as exc:  # the runner's own failure: reported, never counted as clean
        return Result(case.name, case.category, "runner error", f"{type(exc).__name__}: {exc}",
                      None, time.monotonic() - t0)  # fmt: skip
    cmd = " ".join(_quote(x) for x in p.cmd) if p is not None else ""
    return Result(case.name, case.category, cls, why, None if p is None else p.rc,
                  time.monotonic() - t0, cmd)  # fmt: skip


def _quote(s: str) -> str:
    return s if re.fullmatch(r"[\w@%+=:,./-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def table(results: list[Result], tree: Path, commit: str, wall: float) -> str:
    cats = list(dict.fromkeys(r.category for r in results))
    rows = [["category", "cases", *CLASSES, "other"]]
    for c in [*cats, "total"]:
        rs = [r for r in results if c in ("total", r.category)]
        counts = [sum(r.cls == k for r in rs) for k in CLASSES]
        rows.append([c, str(len(rs)), *map(str, counts), str(len(rs) - sum(counts))])
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = f"fault campaign: tree {tree} at {commit}; {len(results)} cases in {wall / 60:.1f} min"
    lines = [head, ""]
    for k, r in enumerate(rows):
        lines.append(
            " | ".join(x.ljust(w[i]) if i == 0 else x.rjust(w[i]) for i, x in enumerate(r))
        )
        if k == 0 or k == len(rows) - 2:
            lines.append("-+-".join("-" * x for x in w))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True, help="a checkout with its .venv")
    ap.add_argument("--jobs", type=int, default=2, help="cases at once (default 2)")
    ap.add_argument("--only", default=None, help="categories, comma-separated")
    ap.add_argument("--cases", default=None, help="regular expression on case names")
    ap.add_argument("--json", type=Path, default=None, help="write the per-case results here")
    ap.add_argument("--work", type=Path, default=Path("/tmp/wot-fault-campaign"),
                    help="inputs and each case's folder (kept)")  # fmt: skip
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)
    tree = args.tree.resolve()
    wot = tree / ".venv" / "bin" / "wot"
    if not wot.exists():
        ap.error(f"{wot} does not exist (run ./dev wot --help in that tree first)")
    meta = prepare(args.work / "data")
    cases = all_cases(meta)
    if args.only:
        keep = set(args.only.split(","))
        cases = [c for c in cases if c.category in keep]
    if args.cases:
        cases = [c for c in cases if re.search(args.cases, c.name)]
    if args.list:
        for c in cases:
            print(f"{c.category:8} {c.name}")
        print(f"{len(cases)} cases")
        return 0
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    ctx = Ctx(tree, str(wot), args.work / "data")
    references(ctx)
    work = args.work / tree.name
    results: list[Result] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {pool.submit(run_case, ctx, c, work): c for c in cases}
        for fut in concurrent.futures.as_completed(futs):
            r = fut.result()
            with lock:
                results.append(r)
                print(f"[{len(results):3}/{len(cases)}] {r.category:8} {r.name:40} {r.cls:11} "
                      f"{r.seconds:5.1f}s  {r.why[:110]}", flush=True)  # fmt: skip
    wall = time.monotonic() - t0
    order = {c.name: k for k, c in enumerate(cases)}
    results.sort(key=lambda r: order[r.name])
    print()
    print(table(results, tree, commit, wall))
    bad = [r for r in results if r.cls != CLEAN]
    if bad:
        print("\nnot clean:")
        for r in bad:
            print(f"  {r.category}/{r.name}: {r.cls}: {r.why}\n      {r.cmd}")
    if args.json:
        args.json.write_text(json.dumps({
            "tree": str(tree), "commit": commit, "wall_s": wall,
            "results": [r.__dict__ for r in results],
        }, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
