"""Streaming signal processing in numba: kernels, streaming classes and batch functions.

Every detector has a streaming class (``update(chunk)``, state carried across chunks) and a batch
function named in the NeuroKit2 style that runs the same code on a whole record, so the two give
identical output for any chunking. Nothing here imports Qt or pylsl.
"""

from .acc import AccBreathing, AccRespChannel, acc_breathing
from .cardiac import CARDIAC_FEATURES, CardiacChannel, PpgChannel, RRChannel
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

__all__ = [
    "CARDIAC_FEATURES",
    "ECG_DELAY_S",
    "KIND_NAMES",
    "AccBreathing",
    "AccRespChannel",
    "CardiacChannel",
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
    "ecg_peaks",
    "eda_scr",
    "hrv_frequency",
    "hrv_time",
    "ppg_peaks",
    "rr_correct",
    "rsp_breaths",
]
