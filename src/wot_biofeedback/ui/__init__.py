"""Qt views of the live engine (PySide6 + pyqtgraph); importing this imports Qt."""

from .client_view import ClientWindow, pacer_state
from .main_window import MainWindow, run_window, take_screenshots

__all__ = ["ClientWindow", "MainWindow", "pacer_state", "run_window", "take_screenshots"]
