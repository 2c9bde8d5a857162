"""Physiological session simulator for wot-biofeedback.

Scripted scenarios (:mod:`wot_simulators.scenario`), coupled ECG / skin conductance /
respiration synthesis with ground truth (:mod:`wot_simulators.physiology`), a Lab Streaming
Layer publisher (:mod:`wot_simulators.publisher`) and a replayer that publishes a recorded file
with its original timing (:mod:`wot_simulators.replay`).
"""

from ._thread import StartClock
from .physiology import SimConfig, SimulatedSession, simulate_session, simulate_to_csv, write_csv
from .publisher import SimulatorPublisher, publish, publish_people
from .replay import ReplayPublisher, ReplayStream, load_replay, play
from .scenario import Scenario, Segment, list_scenarios, load_scenario
from .source import SimulatedSource

__all__ = [
    "ReplayPublisher",
    "ReplayStream",
    "Scenario",
    "Segment",
    "SimConfig",
    "SimulatedSession",
    "SimulatedSource",
    "SimulatorPublisher",
    "StartClock",
    "list_scenarios",
    "load_replay",
    "load_scenario",
    "play",
    "publish",
    "publish_people",
    "simulate_session",
    "simulate_to_csv",
    "write_csv",
]
