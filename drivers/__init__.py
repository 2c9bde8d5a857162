"""Hardware-to-LSL bridges (installed as ``wot_drivers``; ``wot driver NAME``).

Drivers publish typed LSL streams (``ECG``, ``PPG``, ``RR``, ``EDA``, ``RESP``, ``ACC``) with
units in the channel metadata, plus a ``Markers`` stream for connection gaps and device events,
so the engine and any LSL tool (LabRecorder) can use them:

* :mod:`wot_drivers.polar_h10`: Polar H10 over Bluetooth LE (bleak): RR with sensor contact,
  ECG, accelerometer;
* :mod:`wot_drivers.brainflow_board`: any BrainFlow board, from BrainFlow's own channel
  descriptions;
* :mod:`wot_drivers.serial_line`: a documented text-line protocol for DIY serial devices;
* :mod:`wot_drivers._common`: typed outlets, the marker outlet, the device-clock mapper and the
  reconnect backoff they share.

Each module has ``HELP``, ``add_arguments(parser)`` and ``run(args)``; its hardware library is
imported only in ``run``.
"""

from wot_biofeedback.modalities import lsl_types

STREAM_TYPES = tuple(lsl_types().values())
