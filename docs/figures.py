"""Regenerate every figure that README.md and the docs/ pages show.

    ./dev docs figures            # all of them, into docs/
    ./dev docs figures --only therapist,client

* ``therapist.png``, ``client.png``: ``wot demo --screenshot`` (offscreen Qt) of the simulated
  ``full-session`` scenario, seed 1, 285 s into the session (the scripted stressor).
* ``dyad.png``: the therapist console of ``wot demo --dyad`` (seed 1, the default coupling
  script), 480 s in: both people's arousal and the synchrony strip.
* ``report.png``: a simulated ``full-session`` (seed 1) written as a wot session file with five
  therapist markers, ``wot report`` of it, and the top of ``report.html`` rendered by headless
  Chromium (Debian: ``apt-get install chromium``).

Each step runs the real ``wot`` command in a fresh interpreter, so the pictures show what a user
sees. The script needs the ``ui`` and ``report`` extras (``./dev`` installs them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
WOT = [sys.executable, "-m", "wot_biofeedback.cli"]
FIGURES = ("therapist", "client", "dyad", "report")

# the live views: S seconds of simulated session at this speed (demo's own default seed)
SCREENSHOT_AT_S = 285
SCREENSHOT_SPEED = 20
DYAD_AT_S = 480  # the default coupling script: the therapist following, the third stretch
# the report: the page's top, at a desktop browser's width
REPORT_WINDOW = (1200, 1400)
REPORT_NOTE = (400.0, "client reports tight chest")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _run(cmd: list[str], **kw: object) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def views(out: Path) -> None:
    """therapist.png and client.png, 1280×800, from ``wot demo --screenshot``."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    _run(
        [*WOT, "demo", "--screenshot", str(out), "--duration", str(SCREENSHOT_AT_S),
         "--speed", str(SCREENSHOT_SPEED), "--seed", "1", "--no-record"],
        env=env,
    )  # fmt: skip


def dyad_view(out: Path) -> None:
    """dyad.png: the therapist console of a simulated coupled pair (``wot demo --dyad``)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    _run(
        [*WOT, "demo", "--dyad", "--screenshot", str(out), "--duration", str(DYAD_AT_S),
         "--speed", str(SCREENSHOT_SPEED), "--seed", "1", "--no-record"],
        env=env,
    )  # fmt: skip


def session_file(path: Path) -> Path:
    """A simulated full session as a wot session file, with a marker at each phase change and
    one therapist note, as a therapist would have left them live."""
    from wot_simulators import SimConfig, load_scenario, simulate_session

    from wot_biofeedback.recorder import write_recording_xdf
    from wot_biofeedback.sources.files import Recording, Signal

    scen = load_scenario("full-session")
    sess = simulate_session(scen, SimConfig(seed=1))
    rec = Recording(
        "simulated",
        {m: Signal(sess.signal(m), sess.fs(m), m, "uS" if m == "eda" else "")
         for m in ("ecg", "eda", "resp")},
    )  # fmt: skip
    marks = [(a, f"{seg.name} begins") for a, _b, seg in scen.segment_bounds()][1:]
    marks = sorted([*marks, REPORT_NOTE])
    meta = {"client": "demo-client", "scenario": scen.name, "seed": 1}
    return write_recording_xdf(rec, path, markers=marks, metadata=meta)


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "figures: report.png needs headless Chromium (Debian/Ubuntu: apt-get install chromium); "
        "or leave it out with --only therapist,client"
    )


def report(out: Path, tmp: Path) -> None:
    """report.png: the top of the HTML report of a simulated session, in headless Chromium."""
    chrome = browser()
    xdf = session_file(tmp / "full.xdf")
    _run([*WOT, "report", str(xdf), "--out", str(tmp / "report")])
    page = (tmp / "report" / "report.html").resolve()
    w, h = REPORT_WINDOW
    _run(
        [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={w},{h}", f"--screenshot={out / 'report.png'}", page.as_uri()],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=DOCS, help="folder for the PNGs (default docs/)")
    ap.add_argument(
        "--only", default=",".join(FIGURES), help="comma-separated: " + ", ".join(FIGURES)
    )
    args = ap.parse_args(argv)
    want = {w.strip() for w in args.only.split(",") if w.strip()}
    if want - set(FIGURES):
        ap.error(f"unknown figure(s): {', '.join(sorted(want - set(FIGURES)))}")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wot-figures-") as tmp:
        if want & {"therapist", "client"}:
            shots = Path(tmp) / "views"
            views(shots)
            for name in ("therapist", "client"):
                if name in want:
                    shutil.copyfile(shots / f"{name}.png", args.out / f"{name}.png")
        if "dyad" in want:
            shots = Path(tmp) / "dyad"
            dyad_view(shots)
            shutil.copyfile(shots / "therapist.png", args.out / "dyad.png")
        if "report" in want:
            report(args.out, Path(tmp))
    for name in sorted(want):
        png = args.out / f"{name}.png"
        print(f"{png}: {png.stat().st_size / 1024:.0f} KB")
    print(f"figures: done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
