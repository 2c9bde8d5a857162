"""Qt views of the live engine (PySide6 + pyqtgraph); importing this imports Qt."""

from .main_window import MainWindow, run_window

__all__ = ["MainWindow", "run_window"]
