"""Streaming signal processing in numba: kernels, streaming classes and batch functions.

Every detector has a streaming class (``update(chunk)``, state carried across chunks) and a batch
function named in the NeuroKit2 style that runs the same code on a whole record, so the two give
identical output for any chunking. Nothing here imports Qt or pylsl.
"""

from ..modalities import NAMES
from ._numba import PACKAGE_DIR, cache_dir, kernel_folders, kernel_stems
from .acc import AccBreathing, AccRespChannel, acc_breathing
from .cardiac import CARDIAC_FEATURES, EcgChannel, PpgChannel, RRChannel
from .channels import EdaChannel
from .ecg import ECG_DELAY_S, EcgPeakDetector, ecg_peaks
from .eda import EdaScrDetector, eda_scr
from .filters import SosFilter, butter_sos
from .hrv import KIND_NAMES, RRCorrector, hrv_time, rr_correct
from .hrv_freq import SlidingLomb, StreamingWelch, hrv_frequency
from .ppg import PpgPulseDetector, ppg_peaks
from .resp import RespBreathDetector, RespChannel, rsp_breaths
from .ringbuffer import RingBuffer
from .rsa import RsaTracker


def compiled_before() -> bool:
    """Whether numba's on-disk cache already holds this package's kernels (so
    :func:`warm_up` loads them in about a second instead of compiling for tens of seconds):
    in the folders where numba keeps them (:func:`~._numba.kernel_folders`), only theirs."""
    stems = kernel_stems(PACKAGE_DIR)
    return any(
        p.name.startswith(stems)
        for folder in kernel_folders(PACKAGE_DIR)
        if folder.is_dir()
        for p in folder.glob("*.nbi")
    )


def warm_up(modalities: tuple[str, ...] = NAMES, pairs: bool = False) -> None:
    """Compile (or load from numba's on-disk cache) the kernels of these modalities' channels.

    The live engine calls this before its first chunk, so a cold start does not stall the
    first seconds of a session; offline runs need not. A few seconds of synthetic input go
    through a throwaway channel of each kind (kernels are compiled per argument types, so the
    rate does not matter). ``pairs``: the synchrony kernels too (a session of several
    people).
    """
    import numpy as np
    import scipy.ndimage  # noqa: F401  the session clock's pause search, loaded before samples flow

    fs = 100.0
    t = np.arange(int(6 * fs)) / fs
    wave = np.sin(2.0 * np.pi * 1.1 * t) ** 15  # spiky, beat-like
    wave[100] = np.nan
    breath = np.sin(2.0 * np.pi * 0.25 * t)
    if "ecg" in modalities:
        ecg = EcgChannel(fs)
        ecg.update(wave)
        ecg.finish()  # the corrector's flush, outside the one-call kernel
    if "ppg" in modalities:
        PpgChannel(fs).update(wave)
    if "rr" in modalities:
        RRChannel(4.0).update(np.full(8, 900.0), np.arange(8) * 0.9)
    if "eda" in modalities:
        EdaChannel(fs).update(5.0 + 0.1 * wave)
    if "resp" in modalities or "acc" in modalities:
        RespChannel(fs).update(breath)
    if "acc" in modalities:
        g = np.column_stack((0.01 * breath, 0.02 * breath, 1.0 + 0.0 * breath))
        AccRespChannel(fs).update(g)
    if pairs:
        from .synchrony import SyncParams, synchrony

        small = SyncParams(window_s=4.0, step_s=1.0, max_lag_s=1.0, shift_s=2.0,
                           shift_step_s=1.0, n_surrogates=4, min_surrogates=2)  # fmt: skip
        synchrony(wave[:200], breath[:200], 4.0, small)
    if "resp" in modalities or "acc" in modalities:  # RSA pairs beats with breaths
        RsaTracker().frames(0, 2, 4.0)
    # the live engine's history and raw-trace buffers
    ring = RingBuffer(16)
    ring.write(breath[:40])
    ring.peek(8)
    ring.read_since(0)


__all__ = [
    "CARDIAC_FEATURES",
    "ECG_DELAY_S",
    "KIND_NAMES",
    "AccBreathing",
    "AccRespChannel",
    "EcgChannel",
    "EcgPeakDetector",
    "EdaChannel",
    "EdaScrDetector",
    "PpgChannel",
    "PpgPulseDetector",
    "RRChannel",
    "RRCorrector",
    "RespBreathDetector",
    "RespChannel",
    "RingBuffer",
    "RsaTracker",
    "SlidingLomb",
    "SosFilter",
    "StreamingWelch",
    "acc_breathing",
    "butter_sos",
    "cache_dir",
    "compiled_before",
    "ecg_peaks",
    "eda_scr",
    "hrv_frequency",
    "hrv_time",
    "ppg_peaks",
    "rr_correct",
    "rsp_breaths",
    "warm_up",
]
