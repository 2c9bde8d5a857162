"""Physiological session simulator for wot-biofeedback.

Scripted scenarios (:mod:`wot_simulators.scenario`), coupled ECG / skin conductance /
respiration synthesis with ground truth (:mod:`wot_simulators.physiology`) and a Lab Streaming
Layer publisher (:mod:`wot_simulators.publisher`).
"""

from .physiology import SimConfig, SimulatedSession, simulate_session, simulate_to_csv, write_csv
from .publisher import SimulatorPublisher, publish
from .scenario import Scenario, Segment, list_scenarios, load_scenario

__all__ = [
    "Scenario",
    "Segment",
    "SimConfig",
    "SimulatedSession",
    "SimulatorPublisher",
    "list_scenarios",
    "load_scenario",
    "publish",
    "simulate_session",
    "simulate_to_csv",
    "write_csv",
]
