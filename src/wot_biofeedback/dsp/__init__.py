"""Streaming signal processing in numba: kernels, streaming classes and batch functions.

Every detector has a streaming class (``update(chunk)``, state carried across chunks) and a batch
function named in the NeuroKit2 style that runs the same code on a whole record, so the two give
identical output for any chunking. Nothing here imports Qt or pylsl.
"""

from .channels import CardiacChannel, EdaChannel, RespChannel
from .ecg import ECG_DELAY_S, EcgPeakDetector, ecg_peaks
from .eda import EdaScrDetector, eda_scr
from .filters import SosFilter, butter_sos
from .hrv import RRScreen, hrv_time, rr_screen
from .resp import RespBreathDetector, rsp_breaths
from .ringbuffer import RingBuffer

__all__ = [
    "ECG_DELAY_S",
    "CardiacChannel",
    "EcgPeakDetector",
    "EdaChannel",
    "EdaScrDetector",
    "RRScreen",
    "RespBreathDetector",
    "RespChannel",
    "RingBuffer",
    "SosFilter",
    "butter_sos",
    "ecg_peaks",
    "eda_scr",
    "hrv_time",
    "rr_screen",
    "rsp_breaths",
]
