"""Layering: dsp imports neither Qt nor pylsl."""

import subprocess
import sys


def test_dsp_does_not_import_qt_or_pylsl():
    code = (
        "import sys, wot_biofeedback.dsp, wot_biofeedback.dsp.channels, wot_biofeedback.state, "
        "wot_biofeedback.offline, wot_biofeedback.report, wot_biofeedback.cohort; "
        "import matplotlib.backends.backend_agg; "
        "bad=[m for m in ('PySide6','pylsl','pyqtgraph') if m in sys.modules]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
