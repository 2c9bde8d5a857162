"""Peak memory of offline analysis: ``wot analyze`` on long CSV files, and on a long wot
session recording (what ``wot run`` analyses for its end-of-session report).

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_offline_memory.py [--hours 1 24] [--fs 1000]
        [--session-hours 6.7 24] [--session-fs 1000] [--labrecorder-hours 1 24] [--dir DIR]

For each ``--hours`` H it writes (once; kept in ``--dir`` for the next run) a CSV of H hours
at ``--fs`` Hz (``time_s,ecg,eda,resp,zone``, the built-in simulator's ``full-session``
scenario, one simulated hour after another, each with its own seed), then runs
``wot analyze`` on it in a fresh process and reads that process's peak resident memory
(its ``VmHWM``, so Linux only) and wall time. The 1-hour file is also analysed with spilling
turned off (``WOT_SPILL_MB=0``: columns on disk whatever their size) to show what holding them in
memory costs.

Each ``--session-hours`` S makes a wot session recording of S hours (ECG 250 Hz, EDA 32 Hz, RESP
50 Hz, as the chest strap, the EDA band and the belt send them; with ``--session-fs F``, every
stream at F Hz, as a lab amplifier sends them, an hour of simulation after another; written with
:func:`wot_biofeedback.recorder.write_recording_xdf`) and analyses it the same way: that is
the analysis behind the report at the end of a long live session; ``wot report`` on it adds
the report page (figures included) to that analysis.

Each ``--labrecorder-hours`` L makes an XDF file of L hours laid out as LabRecorder writes one
(ECG, EDA and RESP at ``--fs`` Hz, each stamped on a sender's clock that is offset, drifts and
jitters, with a clock offset every 5 s: :mod:`wot_simulators.labrecorder`), and analyses it: its
time stamps are synchronised and dejittered as pyxdf would, a block at a time.

Prints one row per run: the input, its size, wall time and peak memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOUR = 3600.0


def write_long_csv(path: Path, hours: float, fs: float) -> None:
    from wot_simulators import SimConfig, load_scenario, simulate_session, write_csv

    scen = load_scenario("full-session")
    tmp = path.with_suffix(".part")
    left, k = hours * HOUR, 0
    while left > 0:  # an hour at a time, each with its own seed, one after another
        dur = min(HOUR, left)
        s = simulate_session(scen, SimConfig(ecg_fs=fs, eda_fs=fs, resp_fs=fs, seed=k), dur)
        write_csv(s, tmp, fs, time_offset=k * HOUR, append=k > 0)
        left -= dur
        k += 1
    tmp.replace(path)


def write_labrecorder_xdf(path: Path, hours: float, fs: float) -> None:
    from wot_simulators import SimConfig, load_scenario, simulate_session
    from wot_simulators.labrecorder import LabRecorderFile, SenderClock, Spec

    scen = load_scenario("full-session")
    tmp = path.with_name(path.stem + ".part.xdf")
    spec = [Spec("ECG", "ECG", fs), Spec("EDA", "EDA", fs), Spec("RESP", "RESP", fs)]
    with LabRecorderFile(tmp, spec, SenderClock(seed=1)) as f:
        left, k = hours * HOUR, 0
        while left > 0:  # an hour at a time, each with its own seed, one after another
            dur = min(HOUR, left)
            s = simulate_session(scen, SimConfig(ecg_fs=fs, eda_fs=fs, resp_fs=fs, seed=k), dur)
            f.write(k * HOUR, {"ECG": s.ecg, "EDA": s.eda, "RESP": s.resp})
            left -= dur
            k += 1
    tmp.replace(path)


def write_session_xdf(path: Path, hours: float, fs: float | None = None) -> None:
    import numpy as np
    from wot_simulators import SimConfig, load_scenario, simulate_session

    from wot_biofeedback.recorder import write_recording_xdf
    from wot_biofeedback.sources.files import Recording, Signal

    scen = load_scenario("full-session")
    rec = Recording(str(path))
    if fs is None:
        s = simulate_session(scen, SimConfig(seed=1), hours * HOUR)
        cfg = s.config
        rec.signals = {
            "ecg": Signal(s.ecg, cfg.ecg_fs, "ECG", "mV"),
            "eda": Signal(s.eda, cfg.eda_fs, "EDA", "uS"),
            "resp": Signal(s.resp, cfg.resp_fs, "RESP", ""),
        }
    else:  # an hour at a time, each with its own seed, one after another
        parts: dict[str, list] = {"ecg": [], "eda": [], "resp": []}
        left, k = hours * HOUR, 0
        while left > 0:
            s = simulate_session(scen, SimConfig(ecg_fs=fs, eda_fs=fs, resp_fs=fs, seed=k),
                                 min(HOUR, left))  # fmt: skip
            for m in parts:
                parts[m].append(np.asarray(getattr(s, m), dtype=np.float32))
            left -= HOUR
            k += 1
        rec.signals = {
            m: Signal(np.concatenate(v), fs, m.upper(), {"ecg": "mV", "eda": "uS"}.get(m, ""))
            for m, v in parts.items()
        }
    tmp = path.with_name(path.stem + ".part.xdf")
    write_recording_xdf(rec, tmp)
    tmp.replace(path)


CHILD = """
import sys
from pathlib import Path
from wot_biofeedback.cli import main
try:
    code = main(sys.argv[2:])
finally:
    status = Path("/proc/self/status").read_text().splitlines()
    hwm = [ln.split()[1] for ln in status if ln.startswith("VmHWM:")]
    Path(sys.argv[1]).write_text(hwm[0] if hwm else "nan")
sys.exit(code)
"""


def measure(
    path: Path, env: dict[str, str] | None = None, command: str = "analyze"
) -> tuple[float, float]:
    """Wall seconds and peak resident MB of ``wot COMMAND PATH`` in a fresh process.

    The peak is the process's own ``VmHWM`` (Linux), read by the process as it ends: the
    ``ru_maxrss`` that ``wait4`` gives would count this benchmark's own memory too (a child
    starts from a copy of its parent, and Linux keeps that copy's peak across ``exec``).
    """
    with tempfile.TemporaryDirectory(prefix="wot-bench-mem-") as out:
        log, peak = Path(out) / "log.txt", Path(out) / "peak.txt"
        cmd = [sys.executable, "-c", CHILD, str(peak), command, str(path), "--out", out]
        t = time.perf_counter()
        with log.open("wb") as fh:
            code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})  # fmt: skip
        wall = time.perf_counter() - t
        if code != 0:
            raise SystemExit(f"wot {command} {path} failed:\n{log.read_text()[-2000:]}")
        return wall, float(peak.read_text()) / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="*", default=[1.0, 24.0],
                    help="CSV lengths, h (default 1 24)")  # fmt: skip
    ap.add_argument("--fs", type=float, default=1000.0, help="CSV rate, Hz (default 1000)")
    ap.add_argument("--session-hours", type=float, nargs="*", default=[6.7, 24.0],
                    help="wot session recording lengths, h (default 6.7 24)")  # fmt: skip
    ap.add_argument("--session-fs", type=float, default=None,
                    help="every stream of the session recordings at this rate, Hz (default: "
                    "ECG 250, EDA 32, RESP 50)")  # fmt: skip
    ap.add_argument("--labrecorder-hours", type=float, nargs="*", default=[1.0, 24.0],
                    help="LabRecorder-layout XDF lengths, h, at --fs (default 1 24)")  # fmt: skip
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "wot-bench-offline",
                    help="where the inputs are written and kept")  # fmt: skip
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"# {platform.node()} {platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores; inputs in {args.dir}")  # fmt: skip
    runs: list[tuple[str, Path, dict[str, str] | None, str]] = []
    for h in args.hours:
        p = args.dir / f"session-{h:g}h-{args.fs:g}hz.csv"
        if not p.exists():
            t = time.perf_counter()
            write_long_csv(p, h, args.fs)
            print(f"# wrote {p.name} in {time.perf_counter() - t:.0f} s")
        runs.append((f"CSV {h:g} h at {args.fs:g} Hz", p, None, "analyze"))
        if h <= 1.0:
            runs.append((f"CSV {h:g} h, all on disk", p, {"WOT_SPILL_MB": "0"}, "analyze"))
    for h in args.session_hours:
        rate = f"-{args.session_fs:g}hz" if args.session_fs else ""
        p = args.dir / f"recording-{h:g}h{rate}.xdf"
        if not p.exists():
            t = time.perf_counter()
            write_session_xdf(p, h, args.session_fs)
            print(f"# wrote {p.name} in {time.perf_counter() - t:.0f} s")
        at = f" at {args.session_fs:g} Hz" if args.session_fs else ""
        runs.append((f"wot recording {h:g} h{at}", p, None, "analyze"))
        runs.append((f"wot recording {h:g} h{at}, report", p, None, "report"))
    for h in args.labrecorder_hours:
        p = args.dir / f"labrecorder-{h:g}h-{args.fs:g}hz.xdf"
        if not p.exists():
            t = time.perf_counter()
            write_labrecorder_xdf(p, h, args.fs)
            print(f"# wrote {p.name} in {time.perf_counter() - t:.0f} s")
        runs.append((f"LabRecorder XDF {h:g} h at {args.fs:g} Hz", p, None, "analyze"))
    print(f"{'input':34s} {'size MB':>9s} {'wall s':>8s} {'peak MB':>9s}")
    for label, p, env, command in runs:
        wall, peak = measure(p, env, command)
        size = p.stat().st_size / 1e6
        print(f"{label:34s} {size:9.0f} {wall:8.1f} {peak:9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
