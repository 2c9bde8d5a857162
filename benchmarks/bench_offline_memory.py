"""Peak memory of offline analysis: ``wot analyze`` on long CSV files, and on a long wot
session recording (what ``wot run`` analyses for its end-of-session report).

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_offline_memory.py [--hours 1 24] [--fs 1000]
        [--session-hours 6.7 24] [--session-fs 1000] [--labrecorder-hours 1 24]
        [--edf-hours 1 24] [--wfdb-hours 1 24] [--dir DIR]

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

Each ``--edf-hours`` E and ``--wfdb-hours`` W makes an EDF file, or a WFDB record (format 16),
of ECG, EDA and RESP at ``--fs`` Hz from the same simulation an hour at a time (edfio and wfdb
write each hour; the hours are joined into one file), and analyses it; a file of an hour or
less also with ``WOT_SPILL_MB=0``.

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOUR = 3600.0


def simulated_hours(hours: float, fs: float) -> Iterator[tuple[int, Any]]:
    """The simulator's ``full-session`` at ``fs`` Hz (every signal), an hour at a time, each
    hour with its own seed: ``(k, session)`` for hour ``k``."""
    from wot_simulators import SimConfig, load_scenario, simulate_session

    scen = load_scenario("full-session")
    left, k = hours * HOUR, 0
    while left > 0:
        dur = min(HOUR, left)
        yield k, simulate_session(scen, SimConfig(ecg_fs=fs, eda_fs=fs, resp_fs=fs, seed=k), dur)
        left -= dur
        k += 1


def write_long_csv(path: Path, hours: float, fs: float) -> None:
    from wot_simulators import write_csv

    tmp = path.with_suffix(".part")
    for k, s in simulated_hours(hours, fs):
        write_csv(s, tmp, fs, time_offset=k * HOUR, append=k > 0)
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


# ECG, EDA and RESP as the EDF and WFDB files hold them: label, unit, physical range (the
# simulated values stay well inside it)
FILE_SIGNALS = (("ECG", "mV", (-5.0, 5.0)), ("EDA", "uS", (0.0, 50.0)), ("RESP", "", (-5.0, 5.0)))


def write_long_edf(path: Path, hours: float, fs: float) -> None:
    """An EDF of ECG, EDA and RESP at ``fs`` Hz (16 bits, 1-s data records), written with edfio
    an hour at a time: each hour is an EDF of its own whose data records are appended to the
    first hour's file; the header's record count is then set to the whole file's."""
    import edfio
    import numpy as np

    tmp = path.with_suffix(".part")
    records = 0
    with tmp.open("wb") as fh:
        for k, s in simulated_hours(hours, fs):
            signals = [
                edfio.EdfSignal(np.clip(x, lo, hi), fs, label=label, physical_dimension=unit,
                                physical_range=(lo, hi))
                for x, (label, unit, (lo, hi)) in zip(
                    (s.ecg, s.eda, s.resp), FILE_SIGNALS, strict=True
                )
            ]  # fmt: skip
            edf = edfio.Edf(signals)
            raw = edf.to_bytes()
            fh.write(raw if k == 0 else raw[edf.bytes_in_header_record :])
            records += edf.num_data_records
        fh.seek(236)  # the header's "number of data records" field (8 ASCII characters)
        fh.write(f"{records:<8d}".encode("ascii"))
    tmp.replace(path)


def write_long_wfdb(path: Path, hours: float, fs: float) -> None:
    """A WFDB record (``path``, its ``.hea``; format 16) of ECG, EDA and RESP at ``fs`` Hz: each
    hour written with ``wfdb.wrsamp`` into a scratch folder and its samples appended to the
    record's ``.dat``; the header is the first hour's with the whole record's length and
    checksums."""
    import numpy as np
    import wfdb

    gain, base = [1000.0, 1000.0, 5000.0], [0, -25000, 0]  # ADC units per mV / µS / unit
    names, units = [n for n, _, _ in FILE_SIGNALS], [u or "NU" for _, u, _ in FILE_SIGNALS]
    dat = path.with_suffix(".dat")
    head = None
    total, checksum = 0, np.zeros(3, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="wot-bench-wfdb-") as scratch, dat.open("wb") as fh:
        for k, s in simulated_hours(hours, fs):
            name = f"hour{k}"
            p_signal = np.column_stack((s.ecg, s.eda, s.resp))
            wfdb.wrsamp(name, fs, units, names, p_signal=p_signal, fmt=["16"] * 3,
                        adc_gain=gain, baseline=base, write_dir=scratch)  # fmt: skip
            hour = wfdb.rdheader(str(Path(scratch) / name))
            head = head or hour
            fh.write((Path(scratch) / f"{name}.dat").read_bytes())
            total += hour.sig_len
            checksum += hour.checksum
            for f in Path(scratch).iterdir():
                f.unlink()
    assert head is not None
    head.record_name = path.stem
    head.file_name = [dat.name] * 3
    head.sig_len = total
    head.checksum = [int(c % 65536) for c in checksum]
    head.wrheader(write_dir=str(path.parent))


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


def made(path: Path, write: Any, *args: Any) -> None:
    """Write an input once (kept in --dir for later runs), saying how long it took."""
    if not path.exists():
        t = time.perf_counter()
        write(path, *args)
        print(f"# wrote {path.name} in {time.perf_counter() - t:.0f} s")


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
    ap.add_argument("--fs", type=float, default=1000.0,
                    help="rate of the CSV, LabRecorder, EDF and WFDB inputs, Hz "
                    "(default 1000)")  # fmt: skip
    ap.add_argument("--session-hours", type=float, nargs="*", default=[6.7, 24.0],
                    help="wot session recording lengths, h (default 6.7 24)")  # fmt: skip
    ap.add_argument("--session-fs", type=float, default=None,
                    help="every stream of the session recordings at this rate, Hz (default: "
                    "ECG 250, EDA 32, RESP 50)")  # fmt: skip
    ap.add_argument("--labrecorder-hours", type=float, nargs="*", default=[1.0, 24.0],
                    help="LabRecorder-layout XDF lengths, h, at --fs (default 1 24)")  # fmt: skip
    ap.add_argument("--edf-hours", type=float, nargs="*", default=[],
                    help="EDF lengths, h (ECG, EDA, RESP at --fs; default none)")  # fmt: skip
    ap.add_argument("--wfdb-hours", type=float, nargs="*", default=[],
                    help="WFDB lengths, h (ECG, EDA, RESP at --fs; default none)")  # fmt: skip
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "wot-bench-offline",
                    help="where the inputs are written and kept")  # fmt: skip
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"# {platform.node()} {platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores; inputs in {args.dir}")  # fmt: skip
    runs: list[tuple[str, Path, dict[str, str] | None, str]] = []
    for h in args.hours:
        p = args.dir / f"session-{h:g}h-{args.fs:g}hz.csv"
        made(p, write_long_csv, h, args.fs)
        runs.append((f"CSV {h:g} h at {args.fs:g} Hz", p, None, "analyze"))
        if h <= 1.0:
            runs.append((f"CSV {h:g} h, all on disk", p, {"WOT_SPILL_MB": "0"}, "analyze"))
    for kind, hours, write, suffix in (
        ("EDF", args.edf_hours, write_long_edf, ".edf"),
        ("WFDB", args.wfdb_hours, write_long_wfdb, ".hea"),  # a record's name has no dot
    ):
        for h in hours:
            p = args.dir / (f"session-{h:g}h-{args.fs:g}hz".replace(".", "_") + suffix)
            made(p, write, h, args.fs)
            runs.append((f"{kind} {h:g} h at {args.fs:g} Hz", p, None, "analyze"))
            if h <= 1.0:
                runs.append((f"{kind} {h:g} h, all on disk", p, {"WOT_SPILL_MB": "0"}, "analyze"))
    for h in args.session_hours:
        rate = f"-{args.session_fs:g}hz" if args.session_fs else ""
        p = args.dir / f"recording-{h:g}h{rate}.xdf"
        made(p, write_session_xdf, h, args.session_fs)
        at = f" at {args.session_fs:g} Hz" if args.session_fs else ""
        runs.append((f"wot recording {h:g} h{at}", p, None, "analyze"))
        runs.append((f"wot recording {h:g} h{at}, report", p, None, "report"))
    for h in args.labrecorder_hours:
        p = args.dir / f"labrecorder-{h:g}h-{args.fs:g}hz.xdf"
        made(p, write_labrecorder_xdf, h, args.fs)
        runs.append((f"LabRecorder XDF {h:g} h at {args.fs:g} Hz", p, None, "analyze"))
    print(f"{'input':34s} {'size MB':>9s} {'wall s':>8s} {'peak MB':>9s}")
    for label, p, env, command in runs:
        wall, peak = measure(p, env, command)
        parts = [p, p.with_suffix(".dat")] if p.suffix == ".hea" else [p]  # WFDB: header, samples
        size = sum(f.stat().st_size for f in parts) / 1e6
        print(f"{label:34s} {size:9.0f} {wall:8.1f} {peak:9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
