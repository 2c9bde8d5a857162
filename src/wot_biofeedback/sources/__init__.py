"""Sources: timestamped chunks per modality, from LSL inlets or from recorded files.

``files`` needs no LSL; ``lsl`` is imported only where live streams are used.
"""

from .files import Recording, Signal, read_recording

__all__ = ["Recording", "Signal", "read_recording"]
