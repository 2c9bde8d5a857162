"""Shipped scenario TOML files (package data); load them with ``wot_simulators.load_scenario``."""
