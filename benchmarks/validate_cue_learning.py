"""Personal cue selection on simulated clients who respond to some cues and not others.

Run on demand (prints tables, asserts nothing)::

    .venv/bin/python benchmarks/validate_cue_learning.py [--clients 40] [--sessions 10]
                                                         [--excursions 6]

Each simulated client (``wot_simulators.cue_response``) has two effective cues of each
direction among the library's (5 down, 4 up): after one of those they are back in the window
in a median 40 s, after the others in a median 200 s (lognormal, log-SD 0.5). A course of
sessions (6 excursions each, hyper and hypo in turn) runs through the engine's cue policy and
client profile code: the cues given and the times back are saved with each session, and the
next session's policy learns from them. Reported per session, averaged over the clients: the
share of the regulation cues given that are the client's effective ones (the issue's target:
from chance to at least 70 %), and the median over clients of each session's median time back
to the window; learning (Thompson sampling, ``cues.selection = "learn"``) beside the fixed
rotation (``"rotate"``), the same clients and the same return-time draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from wot_simulators.cue_response import make_client, run_sessions

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--excursions", type=int, default=6)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = {}
    for sel in ("learn", "rotate"):
        runs = [
            run_sessions(make_client(c), args.sessions, args.excursions, sel)
            for c in range(args.clients)
        ]
        share = np.array([[r["effective_share"] for r in run] for run in runs])
        back = np.array([[r["median_back_s"] for r in run] for run in runs])
        res[sel] = (share.mean(axis=0), np.median(back, axis=0))
    print(
        f"Cue learning: {args.clients} simulated clients x {args.sessions} sessions x "
        f"{args.excursions} excursions (2 effective cues of each direction)"
    )
    print(f"{'session':>7s}  {'effective share: learn':>22s} {'rotate':>7s}  "
          f"{'median s back: learn':>20s} {'rotate':>7s}")  # fmt: skip
    for k in range(args.sessions):
        print(
            f"{k + 1:7d}  {res['learn'][0][k]:22.2f} {res['rotate'][0][k]:7.2f}  "
            f"{res['learn'][1][k]:20.0f} {res['rotate'][1][k]:7.0f}"
        )
    learn_share, learn_back = res["learn"]
    rot_share, rot_back = res["rotate"]
    last = slice(max(0, args.sessions - 3), args.sessions)
    _report.emit(
        _report.STATE, "simulated clients, personal cue selection (validate_cue_learning.py)",
        "effective cues given, session 1 -> last 3 sessions; median s back",
        f"{learn_share[0]:.2f} -> {learn_share[last].mean():.2f}; "
        f"{learn_back[0]:.0f} -> {learn_back[last].mean():.0f} s",
        "fixed rotation", f"{rot_share.mean():.2f}; {rot_back.mean():.0f} s",
        f"{args.clients} clients x {args.sessions} sessions x {args.excursions} excursions",
    )  # fmt: skip
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
