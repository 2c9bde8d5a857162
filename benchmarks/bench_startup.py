"""Start-up: from the command to the first live frame on the therapist console (``wot demo``).

Run on demand (prints a table, asserts nothing)::

    .venv/bin/python benchmarks/bench_startup.py [--repeat 3] [--cold]

Each run is a new process, started as the ``wot`` command would be (``python -c`` importing
``wot_biofeedback.cli`` and calling ``main(["demo", "--no-record", "--no-report"])``), with
``QT_QPA_PLATFORM=offscreen`` standing in for a screen (``cli._live.has_display`` says yes).
The only other addition is a wrapper around
``MainWindow.show_snapshot`` that, the first time a snapshot carries a frame (the engine has
processed live samples from the simulator's LSL streams into a fused frame), paints the window
at once (``repaint``) and prints the time since the parent process launched the command
(``time.time()`` taken just before ``subprocess.Popen``). The process then exits.

Also timed: ``python -c pass`` (the interpreter alone) and ``wot --help``. ``--cold`` adds one
run with ``NUMBA_CACHE_DIR`` pointing at an empty folder (the first run on a machine): its
output is shown, so what it says while it compiles can be read.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

BOOT = r"""
import os, sys, time
t_cmd = float(sys.argv[1])
from wot_biofeedback.ui import main_window as mw
_show = mw.MainWindow.show_snapshot
def show(self, snap):
    _show(self, snap)
    if snap.n_frames > 0:
        self.repaint()
        print(f"FIRST_FRAME {time.time() - t_cmd:.3f} session {snap.session_s:.2f}", flush=True)
        os._exit(0)
mw.MainWindow.show_snapshot = show
from wot_biofeedback.cli import _live
_live.has_display = lambda: True  # offscreen stands in for a screen
from wot_biofeedback.cli import main
sys.exit(main(["demo", "--no-record", "--no-report"]))
"""


def _run(cmd: list[str], env: dict[str, str], show: bool = False) -> tuple[float, str]:
    t0 = time.time()
    p = subprocess.run([*cmd, f"{t0:.6f}"] if cmd[1] == "-c" and "t_cmd" in cmd[2] else cmd,
                       env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    wall = time.time() - t0
    out = p.stdout + p.stderr
    if show:
        print("   " + "\n   ".join(out.strip().splitlines()))
    for line in out.splitlines():
        if line.startswith("FIRST_FRAME"):
            return float(line.split()[1]), line
    if p.returncode != 0 or "t_cmd" in cmd[-1]:  # failed, or never showed a frame
        tail = out.strip().splitlines()[-3:]
        raise SystemExit(f"{cmd[0]} {cmd[1]} failed (exit {p.returncode}): {' | '.join(tail)}")
    return wall, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="also one run with an empty numba cache")
    args = ap.parse_args(argv)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    py = sys.executable
    wot = os.path.join(os.path.dirname(py), "wot")
    print("wot-biofeedback start-up benchmark (benchmarks/bench_startup.py)")
    print(f"machine : {platform.platform()}; {os.cpu_count()} cores; Python "
          f"{platform.python_version()}")  # fmt: skip
    rows = []
    for name, cmd in (
        ("python -c pass", [py, "-c", "pass"]),
        ("wot --help", [wot, "--help"]),
        ("wot demo: first live frame painted", [py, "-c", BOOT]),
    ):
        times = [_run(cmd, env)[0] for _ in range(args.repeat)]
        rows.append((name, times))
    print(f"\n{'step (warm numba cache)':40s} {'best s':>7} {'median s':>9} {'worst s':>8}")
    for name, times in rows:
        ts = sorted(times)
        print(f"{name:40s} {ts[0]:7.2f} {ts[len(ts) // 2]:9.2f} {ts[-1]:8.2f}")
    first = sorted(rows[-1][1])
    print(f"\nwot demo first live frame: {first[len(first) // 2]:.2f} s (median of {args.repeat})")
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            print(f"\ncold numba cache (NUMBA_CACHE_DIR={cache}), what the command says:")
            t, _line = _run([py, "-c", BOOT], dict(env, NUMBA_CACHE_DIR=cache), show=True)
            print(f"cold first live frame: {t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
