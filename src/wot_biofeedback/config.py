"""Engine configuration: one dataclass tree, loadable from a TOML file (``--config FILE``).

Every section and key is optional in the file; missing keys keep their defaults. Unknown keys are
an error naming the key, so a typo never silently falls back to a default.

Example::

    [calibration]
    start_s = 0
    duration_s = 120

    [zones]
    upper = 1.5
    lower = -1.5

    [features.hr_bpm]
    weight = 1.0
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError


@dataclass
class FeatureSpec:
    """How one feature enters the arousal index.

    ``z = sign * (transform(value) - median) / max(1.4826 * MAD, floor)`` against the baseline,
    clipped to ±``clip``; ``transform`` is ``linear`` or ``log`` (for ratio-scaled features such as
    RMSSD and SCL, where the floor is then a fractional change).
    """

    sign: float = 1.0
    transform: str = "linear"
    floor: float = 1.0
    weight: float = 1.0
    quality: str = ""
    label: str = ""
    unit: str = ""
    # a value of exactly 0 means "no event to measure" (SCR amplitude in a minute without
    # SCRs): the feature then abstains instead of counting as lost signal
    zero_abstains: bool = False


def _default_features() -> dict[str, FeatureSpec]:
    # Weights and directions (see docs/state-engine.md, "Fused arousal index"): sympathetic
    # activation raises HR, SCL, SCR rate and SCR amplitude and speeds breathing; vagal withdrawal
    # lowers RMSSD (Task Force 1996; Boucsein 2012; Kreibig 2010, a review of autonomic responses in
    # emotion). Breathing grows irregular under stress and anxiety and more regular in shutdown
    # (Boiten, Frijda & Wientjes 1994; Vlemincx et al. 2013), so the CV of breath intervals enters,
    # with quarter weight (a 60-s window, so it is slow). SCL enters as ``scl_rel``, its log ratio
    # to the client's running resting level (see dsp.channels), with half weight, because the tonic
    # level drifts with electrode drying and habituation; SCR amplitude scales with that level too,
    # so it also has half weight, and it abstains in a minute without any SCR (the SCR rate speaks
    # then). Breathing depth has weight 0: it falls in panic breathing and rises in sighing and
    # paced breathing, so it has no fixed direction in arousal; it serves the hypoarousal signature
    # (shallow breathing) only. HF power is left out: slow breathing (the 6/min pacer of the
    # down-regulation cue) moves respiratory sinus arrhythmia from the HF into the LF band, so HF
    # would read the client's own regulation as vagal withdrawal. Floors are the smallest change
    # treated as meaningful, about a calm person's minute-to-minute spread: 4 bpm, 20 % RMSSD, 8 %
    # SCL, 2 SCR/min, 65 % SCR amplitude (single responses vary that much), 2 breaths/min, 30 %
    # breathing CV, 15 % breathing depth.
    return {
        "hr_bpm": FeatureSpec(1.0, "linear", 4.0, 1.0, "quality_ecg", "HR", "bpm"),
        "rmssd_ms": FeatureSpec(-1.0, "log", 0.2, 1.0, "quality_ecg", "RMSSD", "ms"),
        "scl_rel": FeatureSpec(1.0, "linear", 0.08, 0.5, "quality_eda", "SCL", "ln-ratio"),
        "scr_per_min": FeatureSpec(1.0, "linear", 2.0, 1.0, "quality_eda", "SCR rate", "/min"),
        "scr_amp_us": FeatureSpec(
            1.0, "log", 0.5, 0.5, "quality_eda", "SCR amplitude", "µS", zero_abstains=True
        ),
        "resp_rate_bpm": FeatureSpec(1.0, "linear", 2.0, 1.0, "quality_resp", "breathing", "/min"),
        "resp_cv": FeatureSpec(1.0, "log", 0.3, 0.25, "quality_resp", "breathing variability", ""),
        "resp_depth": FeatureSpec(1.0, "log", 0.15, 0.0, "quality_resp", "breathing depth", ""),
    }


@dataclass
class CalibrationConfig:
    start_s: float = 0.0
    duration_s: float = 120.0
    min_coverage: float = 0.25  # share of calibration frames a feature needs to be calibrated


FUSIONS = ("mean-median", "mean", "median")


@dataclass
class ZoneConfig:
    # A symmetric window of 1.5 robust z either way. Measured on the simulator (16 seeds of
    # every scenario, docs/state-engine.md "Zones"): the smoothed index of within stretches lies in
    # [-1.12, +1.14] 98 % of the time; 99 % of hyper frames lie above +1.84, of hypo frames
    # below -1.85.
    upper: float = 1.5
    lower: float = -1.5
    hysteresis: float = 0.3
    confirm_s: float = 3.0
    min_dwell_s: float = 10.0
    min_usable: float = 0.5  # share of calibrated evidence at good quality needed for a zone
    smoothing_s: float = 4.0
    clip: float = 4.0
    hypo_signature_z: float = -0.5
    fusion: str = "mean-median"  # or "mean" or "median" (see wot_biofeedback.state)


@dataclass
class CueConfig:
    min_interval_s: float = 30.0
    repeat_s: float = 90.0
    pacer_rate_bpm: float = 6.0
    pacer_inhale_ratio: float = 0.4


@dataclass
class EngineConfig:
    frame_rate_hz: float = 4.0
    eda_min_amplitude_us: float = 0.02
    max_corrected_share: float = 0.2  # HRV withheld when more beats of a window were corrected
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    zones: ZoneConfig = field(default_factory=ZoneConfig)
    cues: CueConfig = field(default_factory=CueConfig)
    features: dict[str, FeatureSpec] = field(default_factory=_default_features)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _update_dataclass(obj: Any, values: dict[str, Any], where: str) -> None:
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, val in values.items():
        if key not in names:
            raise InputError(f"unknown config key {where}{key!r}; known: {', '.join(names)}")
        cur = getattr(obj, key)
        if dataclasses.is_dataclass(cur):
            if not isinstance(val, dict):
                raise InputError(f"config {where}{key} must be a table")
            _update_dataclass(cur, val, f"{where}{key}.")
        elif isinstance(cur, float | int) and not isinstance(cur, bool):
            if not isinstance(val, int | float) or isinstance(val, bool):
                raise InputError(f"config {where}{key} must be a number, got {val!r}")
            setattr(obj, key, float(val))
        else:
            setattr(obj, key, val)


def load_config(path: str | os.PathLike[str] | None = None) -> EngineConfig:
    """Load an :class:`EngineConfig` from TOML (defaults when ``path`` is None)."""
    cfg = EngineConfig()
    if path is None:
        return cfg
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    return config_from_dict(data)


def config_from_dict(values: dict[str, Any]) -> EngineConfig:
    """An :class:`EngineConfig` from a TOML table or :meth:`EngineConfig.to_dict` output (e.g.
    the parameters stored in a recording), validated as :func:`load_config` does."""
    cfg = EngineConfig()
    data = dict(values)
    feats = data.pop("features", {})
    _update_dataclass(cfg, data, "")
    if cfg.zones.fusion not in FUSIONS:
        raise InputError(
            f"config zones.fusion must be one of {', '.join(FUSIONS)}, got {cfg.zones.fusion!r}"
        )
    for name, spec in feats.items():
        if name not in cfg.features:
            continue
        if "weight" in spec and not spec["weight"] >= 0:
            raise InputError(f"config features.{name}.weight must be >= 0")
        if "floor" in spec and not spec["floor"] > 0:
            raise InputError(f"config features.{name}.floor must be > 0")
    for name, spec in feats.items():
        if name not in cfg.features:
            raise InputError(
                f"unknown feature {name!r} in config; known: {', '.join(cfg.features)}"
            )
        _update_dataclass(cfg.features[name], spec, f"features.{name}.")
    return cfg
