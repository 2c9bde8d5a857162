"""Hardware-to-LSL bridges (installed as ``wot_drivers``).

Drivers publish typed LSL streams (``ECG``, ``EDA``, ``RESP``, ``RR``, ``PPG``, ``ACC``) with
units in the channel metadata, so the engine and any LSL tool (LabRecorder) can use them. The
real-sensor drivers (Polar H10 over BLE, BrainFlow boards, serial line devices) arrive with the
"Real sensors" work; until then there is nothing to import here but this contract.
"""

STREAM_TYPES = ("ECG", "PPG", "RR", "EDA", "RESP", "ACC")
