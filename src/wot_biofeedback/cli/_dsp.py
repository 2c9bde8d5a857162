"""The signal processing made ready before a live session, and the streams opened meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ._console import say

T = TypeVar("T")


def prepare_dsp(modalities: tuple[str, ...]) -> None:
    """Compile (or load from numba's cache) the kernels before any stream is opened, saying
    so when it takes a while (the first run on a machine): a session then starts without a
    backlog of samples that arrived while compiling."""
    from ..dsp import compiled_before, warm_up

    cold = not compiled_before()
    if cold:
        say("preparing the signal processing (first run only, about 25-60 s) ...")
    t = time.perf_counter()
    warm_up(modalities)
    if cold:
        say(f"ready in {time.perf_counter() - t:.0f} s")


def prepare_and_open(modalities: tuple[str, ...], open_streams: Callable[[], T]) -> T:
    """:func:`prepare_dsp`, then ``open_streams()``; side by side when the kernels look cached
    (loading them takes about 0.3 s, connecting to streams and learning their clock offsets
    about 0.7 s of waiting on the network). The streams are opened in the calling thread, so
    Ctrl-C and their errors come as before; a first run compiles first, so no backlog builds
    up in open streams meanwhile. (The cache is judged by :func:`~wot_biofeedback.dsp.
    compiled_before`, any kernel at all: kernels not yet compiled for these modalities, or
    an edited package, compile with the streams open, and the engine then starts on the
    samples buffered meanwhile, none lost.)"""
    from ..dsp import compiled_before

    if not compiled_before():
        prepare_dsp(modalities)
        return open_streams()
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(prepare_dsp, modalities)
        out = open_streams()
        job.result()  # its error, if any, is raised here
        return out
