"""Engine configuration: one dataclass tree, loadable from a TOML file (``--config FILE``).

Every section and key is optional in the file; missing keys keep their defaults. Unknown keys are
an error naming the key, so a typo never silently falls back to a default. Every value is checked
for its type and range (the classes below say which; pydantic does the checking), and a bad one
is a one-line error naming the file and the field.

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
from dataclasses import field
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from .errors import InputError
from .modalities import ROLES
from .validation import loc_text, one_line

# Every number is finite and within a range (pydantic checks them when a config is made, from a
# file or in code): values outside it either crash the engine (a frame rate of 0) or turn it
# into nonsense without a word (upper -1, lower 1: "hyper 92 %"). Strict: a quoted "1.5" or
# `true` is not a number; whole numbers are taken as floats.
_TABLE = ConfigDict(extra="forbid")  # an unknown key is an error
Num = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite number (an int is taken as a float; a bool or a string is refused)."""
Seconds = Annotated[Num, Field(ge=0.0, le=86400.0)]
"""A time from 0 to one day, s."""
Duration = Annotated[Num, Field(gt=0.0, le=86400.0)]
"""A time above 0, up to one day, s."""
Share = Annotated[Num, Field(ge=0.0, le=1.0)]
"""A share, 0 to 1."""
Text = Annotated[str, Field(strict=True, max_length=64)]

QUALITY_NAMES: tuple[str, ...] = (
    "",
    *(r.quality for r in ROLES.values()),
    *(r.quality_alias for r in ROLES.values() if r.quality_alias),
)
"""The values of a feature's ``quality``: a frame's quality column, or "" (always usable)."""


@dataclass(config=_TABLE)
class FeatureSpec:
    """How one feature enters the arousal index.

    ``z = sign * (transform(value) - median) / max(1.4826 * MAD, floor)`` against the baseline,
    clipped to ±``clip``; ``transform`` is ``linear`` or ``log`` (for ratio-scaled features such as
    RMSSD and SCL, where the floor is then a fractional change).
    """

    sign: Num = 1.0  # 1 or -1
    transform: Literal["linear", "log"] = "linear"
    floor: Annotated[Num, Field(gt=0.0, le=1e6)] = 1.0
    weight: Annotated[Num, Field(ge=0.0, le=1e3)] = 1.0
    quality: Annotated[str, Field(strict=True)] = ""  # one of QUALITY_NAMES
    label: Text = ""
    unit: Text = ""
    # a value of exactly 0 means "no event to measure" (SCR amplitude in a minute without
    # SCRs): the feature then abstains instead of counting as lost signal
    zero_abstains: Annotated[bool, Field(strict=True)] = False

    @field_validator("sign")
    @classmethod
    def _sign(cls, v: float) -> float:
        if v not in (1.0, -1.0):
            raise ValueError(f"must be 1 or -1 (got {v:g})")
        return v

    @field_validator("quality", mode="before")
    @classmethod
    def _quality(cls, v: Any) -> Any:
        if isinstance(v, str) and v not in QUALITY_NAMES:
            names = ", ".join(repr(q) for q in QUALITY_NAMES)
            raise ValueError(f"must be one of {names} (got {v!r:.40})")
        return v


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


@dataclass(config=_TABLE)
class CalibrationConfig:
    start_s: Seconds = 0.0
    duration_s: Duration = 120.0
    # share of calibration frames a feature needs to be calibrated
    min_coverage: Annotated[Num, Field(gt=0.0, le=1.0)] = 0.25


Fusion = Literal["mean-median", "mean", "median"]  # see wot_biofeedback.state
FUSIONS: tuple[str, ...] = get_args(Fusion)


@dataclass(config=_TABLE)
class ZoneConfig:
    # A symmetric window of 1.5 robust z either way. Measured on the simulator (16 seeds of
    # every scenario, docs/state-engine.md "Zones"): the smoothed index of within stretches lies in
    # [-1.12, +1.14] 98 % of the time; 99 % of hyper frames lie above +1.84, of hypo frames
    # below -1.85. The bounds are baseline z: upper above 0 (the baseline), lower below.
    upper: Annotated[Num, Field(gt=0.0, le=20.0)] = 1.5
    lower: Annotated[Num, Field(ge=-20.0, lt=0.0)] = -1.5
    # smaller than either bound, so that leaving hyper (hypo) never needs the index past 0
    hysteresis: Annotated[Num, Field(ge=0.0)] = 0.3
    confirm_s: Seconds = 3.0
    min_dwell_s: Seconds = 10.0
    min_usable: Share = 0.5  # share of calibrated evidence at good quality needed for a zone
    smoothing_s: Seconds = 4.0
    clip: Annotated[Num, Field(gt=0.0, le=100.0)] = 4.0
    # the hypoarousal signature's threshold: below the baseline
    hypo_signature_z: Annotated[Num, Field(ge=-20.0, lt=0.0)] = -0.5
    fusion: Fusion = "mean-median"

    @model_validator(mode="after")
    def _hysteresis_inside_the_window(self) -> ZoneConfig:
        if not self.hysteresis < min(self.upper, -self.lower):
            raise ValueError(
                f"hysteresis {self.hysteresis:g} must be smaller than upper ({self.upper:g}) "
                f"and -lower ({-self.lower:g})"
            )
        return self


CueDirection = Literal["down", "up", "steady"]
CueApproach = Literal["bottom-up", "top-down"]
CueModality = Literal["breath", "body", "senses", "movement", "thought"]
CuePacer = Literal["none", "resonance", "energising"]
_Text = Annotated[str, Field(strict=True, min_length=1, max_length=300)]


@dataclass(config=_TABLE)
class CueEntry:
    """One regulation cue of the library (``[[cues.library]]``; the defaults and their
    references are in ``wot_biofeedback/cues.toml``, printed by ``wot cues``)."""

    id: Annotated[str, Field(strict=True, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    text: _Text
    direction: CueDirection  # down: out of hyperarousal; up: out of hypoarousal; steady: within
    approach: CueApproach  # bottom-up (body first) or top-down (attention, words, meaning)
    family: Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z-]{0,39}$")]
    modality: CueModality  # what the cue works through
    # the pacer it shows: the resonance pacer (the client's rate), an energising 15/min, or none
    pacer: CuePacer = "none"
    reference: Annotated[str, Field(strict=True, max_length=300)] = ""


_CueId = Annotated[str, Field(strict=True, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


@dataclass(config=_TABLE)
class CueRecord:
    """What a client's past sessions say of one cue (from their profile): how often it was
    given, how often they were back in the window within ``cues.repeat_s`` of it, and the
    median time back."""

    id: _CueId
    given: Annotated[int, Field(strict=True, ge=0)]
    returned: Annotated[int, Field(strict=True, ge=0)]
    median_back_s: Annotated[Num, Field(ge=0.0)] | None = None
    sessions: Annotated[int, Field(strict=True, ge=0)] = 0

    @model_validator(mode="after")
    def _returned_of_given(self) -> CueRecord:
        if self.returned > self.given:
            raise ValueError(f"cue {self.id}: returned {self.returned} > given {self.given}")
        return self


CueSelection = Literal["learn", "rotate"]


@dataclass(config=_TABLE)
class CueConfig:
    min_interval_s: Seconds = 30.0
    repeat_s: Duration = 90.0
    pacer_rate_bpm: Annotated[Num, Field(gt=0.0, le=60.0)] = 6.0
    pacer_inhale_ratio: Annotated[Num, Field(gt=0.0, lt=1.0)] = 0.4
    # the cues to choose from; empty: the built-in library (wot_biofeedback/cues.toml)
    library: Annotated[list[CueEntry], Field(max_length=500)] = field(default_factory=list)
    # learn: prefer the cues that brought this client back (Thompson sampling over their past
    # sessions, ``learned``); rotate: the cues of a direction in turn, in library order
    selection: CueSelection = "learn"
    seed: Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)] = 0
    # from the client's profile: their record with each cue, and the therapist's pins and bans
    learned: Annotated[list[CueRecord], Field(max_length=500)] = field(default_factory=list)
    pinned: Annotated[list[_CueId], Field(max_length=3)] = field(default_factory=list)
    banned: Annotated[list[_CueId], Field(max_length=500)] = field(default_factory=list)

    @model_validator(mode="after")
    def _a_cue_for_each_direction(self) -> CueConfig:
        if not self.library:
            return self
        ids = [c.id for c in self.library]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"cue ids must be unique; repeated: {', '.join(twice)}")
        missing = [d for d in get_args(CueDirection) if all(c.direction != d for c in self.library)]
        if missing:
            raise ValueError(
                f"the library needs at least one cue for each direction; none for "
                f"{', '.join(missing)}"
            )
        return self


@dataclass(config=_TABLE)
class EngineConfig:
    frame_rate_hz: Annotated[Num, Field(gt=0.0, le=100.0)] = 4.0
    # the EDA channel's smallest SCR, µS (it refuses anything outside (0, 5))
    eda_min_amplitude_us: Annotated[Num, Field(gt=0.0, lt=5.0)] = 0.02
    max_corrected_share: Share = 0.2  # HRV withheld when more beats of a window were corrected
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    zones: ZoneConfig = field(default_factory=ZoneConfig)
    cues: CueConfig = field(default_factory=CueConfig)
    features: dict[str, FeatureSpec] = field(default_factory=_default_features)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike[str] | None = None) -> EngineConfig:
    """Load an :class:`EngineConfig` from TOML (defaults when ``path`` is None).

    A bad file (unreadable, not UTF-8 TOML, an unknown key or feature, a value of the wrong
    type or out of range) raises :class:`InputError` naming the file and the field, e.g.
    ``config c.toml: zones.upper: must be > 0 (got -1)``.
    """
    if path is None:
        return EngineConfig()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except OSError as exc:  # a folder, no permission
        raise InputError(f"config file {path} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:  # tomllib decodes the bytes before it parses
        raise InputError(
            f"config file {path} is not valid TOML: not UTF-8 text ({exc.reason} at byte "
            f"{exc.start})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    return config_from_dict(data, where=f"config {path}")


def _known_keys() -> dict[str, list[str]]:
    """Each table's keys by its path (``""``, ``zones``, ``features.hr_bpm``), for errors."""
    d = EngineConfig().to_dict()
    out = {"": list(d)}
    for k, v in d.items():
        if isinstance(v, dict) and k != "features":
            out[k] = list(v)
    for name, spec in d["features"].items():
        out[f"features.{name}"] = list(spec)
    return out


def config_from_dict(values: dict[str, Any], where: str = "config") -> EngineConfig:
    """An :class:`EngineConfig` from a TOML table or :meth:`EngineConfig.to_dict` output (e.g.
    the parameters stored in a recording), validated as :func:`load_config` does: every key
    missing keeps its default; ``where`` starts the error message."""
    merged = EngineConfig().to_dict()
    for key, val in dict(values).items():
        if key == "features" and isinstance(val, dict):
            for name, spec in val.items():
                if name not in merged["features"]:
                    known = ", ".join(merged["features"])
                    field = loc_text(("features", name))
                    raise InputError(f"{where}: {field}: unknown feature (known: {known})")
                if isinstance(spec, dict):
                    merged["features"][name].update(spec)
                else:
                    merged["features"][name] = spec
        elif isinstance(val, dict) and isinstance(merged.get(key), dict):
            merged[key].update(val)
        else:
            merged[key] = val
    try:
        return EngineConfig(**merged)
    except ValidationError as exc:
        raise InputError(one_line(where, exc, known=_known_keys())) from None
