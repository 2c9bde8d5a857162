"""The modality table: every kind of input signal the engine knows, in one place.

Everything else (the pipeline, the readers of files and LSL streams, the recorder, the views,
the report, the cohort table, the simulators and drivers) reads this table rather than listing
modalities itself. A modality has a **role**: the cardiac channel (ECG, a PPG pulse wave or
beat-to-beat RR intervals; one of them per subject), the electrodermal channel (EDA), the
respiratory channel (a belt, or breathing from a chest accelerometer). Within a role the
modality with the lowest **precedence** is used when a session has more than one (a belt beats
an accelerometer; in a file, ECG beats PPG unless PPG is asked for).

The role's **key** is the name the channel's features and events go under downstream (``ecg``,
``eda``, ``resp``: the names of the ``wot analyze`` contract, kept for compatibility); its
quality column is ``quality_cardiac`` / ``quality_eda`` / ``quality_resp``, and the cardiac
one is also written as ``quality_ecg``, its documented alias.

This module imports nothing of the project: it is a leaf at the bottom of the import graph.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """What a channel stands for, whatever sensor feeds it."""

    name: str  # cardiac, electrodermal, respiratory
    key: str  # downstream name of its features and events (the analyze contract's)
    quality: str  # quality column in frames and features.csv
    label: str  # short label in views and reports
    mark: str  # the events its trace marks (view), e.g. "rpeak"
    event_time: str  # the event key of those marks' times
    quality_alias: str = ""  # an older name of the quality column, written too


@dataclass(frozen=True)
class Modality:
    """One kind of input signal."""

    name: str  # ecg, ppg, rr, eda, resp, acc
    lsl_type: str  # default LSL content type (case-insensitive match)
    role: str  # Role.name
    unit: str  # the unit the engine works in (samples are converted to it)
    label: str  # what it is called in views and messages
    marks: str  # what the view calls its events
    precedence: int  # within a role, lower is preferred
    irregular: bool = False  # one value per event with its own time (RR), no sampling rate
    width: int = 1  # channels one sample takes (ACC: x, y, z)
    in_files: bool = False  # found by name in CSV, WFDB, EDF and XDF files
    file_patterns: tuple[str, ...] = ()  # regular expressions for its column or stream name
    fs_range: tuple[float, float] = (1.0, 10_000.0)  # sampling rates its detectors take, Hz
    # its channel must see every chunk as it comes (beats: the events outlet's latency; ACC:
    # the breathing surrogate drawn from each chunk); the others may be held until they
    # complete a frame (Pipeline.hold)
    prompt: bool = False


_LEADS = r"^(mlii|ml2|ii|i|iii|v[1-6]|avr|avl|avf|lead.*)$"
"""ECG lead names (MIT-BIH's MLII, V1-V6, …) also mean ECG."""

ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role("cardiac", "ecg", "quality_cardiac", "ECG", "rpeak", "rpeak_time", "quality_ecg"),
        Role("electrodermal", "eda", "quality_eda", "EDA", "scr", "scr_peak_time"),
        Role("respiratory", "resp", "quality_resp", "RESP", "breath", "breath_onset_time"),
    )
}

SYNC_SIGNALS: dict[str, str] = {"cardiac": "hr", "electrodermal": "eda", "respiratory": "resp"}
"""Each role's signal in a synchrony of two people (:mod:`wot_biofeedback.dsp.synchrony`):
heart rate, skin-conductance level, breathing rate; the ``signal`` of ``synchrony.csv``."""

MODALITIES: dict[str, Modality] = {
    m.name: m
    for m in (
        Modality("ecg", "ECG", "cardiac", "mV", "ECG", "R-peaks", 0, in_files=True,
                 file_patterns=(r"^ecg", r"ecg", _LEADS), fs_range=(50.0, 10_000.0), prompt=True),
        Modality("ppg", "PPG", "cardiac", "a.u.", "PPG pulse", "pulses", 1, in_files=True,
                 file_patterns=(r"^ppg", r"ppg", r"pleth", r"^bvp"), fs_range=(20.0, 1000.0),
                 prompt=True),
        Modality("rr", "RR", "cardiac", "ms", "RR intervals", "beats", 2, irregular=True,
                 prompt=True),
        Modality("eda", "EDA", "electrodermal", "uS", "EDA", "SCRs", 0, in_files=True,
                 file_patterns=(r"^eda", r"gsr", r"eda", r"^sc[lr]?$", r"skin.?cond"),
                 fs_range=(4.0, 10_000.0)),
        Modality("resp", "RESP", "respiratory", "a.u.", "RESP", "breaths", 0, in_files=True,
                 file_patterns=(r"^resp", r"^rsp", r"resp", r"breath"), fs_range=(2.0, 10_000.0)),
        Modality("acc", "ACC", "respiratory", "g", "ACC breathing (chest tilt)", "breaths", 1,
                 width=3, fs_range=(10.0, 1000.0), prompt=True),
    )
}  # fmt: skip

NAMES: tuple[str, ...] = tuple(MODALITIES)
"""Every modality, in table order."""
FILE_MODALITIES: tuple[str, ...] = tuple(m for m, d in MODALITIES.items() if d.in_files)
"""Modalities the file readers look for by name (``--ecg/--ppg/--eda/--resp``)."""
ROLE_KEYS: tuple[str, ...] = tuple(r.key for r in ROLES.values())
"""The downstream channel keys, one per role (``ecg``, ``eda``, ``resp``)."""
QUALITY_COLUMNS: tuple[str, ...] = tuple(r.quality for r in ROLES.values())


def get(name: str) -> Modality:
    """The modality called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return MODALITIES[name]
    except KeyError:
        raise ValueError(f"unknown modality {name!r}; expected one of {', '.join(NAMES)}") from None


def of_role(role: str) -> tuple[str, ...]:
    """The modalities that can feed ``role``, preferred first."""
    return tuple(
        sorted(
            (m for m, d in MODALITIES.items() if d.role == role),
            key=lambda m: MODALITIES[m].precedence,
        )
    )


def role_of(name: str) -> Role:
    return ROLES[get(name).role]


def key_of(name: str) -> str:
    """The downstream key a modality's channel goes under (``ppg`` → ``ecg``, ``acc`` →
    ``resp``)."""
    return role_of(name).key


def quality_of(name: str) -> str:
    """The quality column of the channel ``name`` feeds."""
    return role_of(name).quality


def role_by_key(key: str) -> Role:
    """The role whose downstream key is ``key`` (``ecg``, ``eda``, ``resp``)."""
    for r in ROLES.values():
        if r.key == key:
            return r
    raise ValueError(f"unknown channel key {key!r}; expected one of {', '.join(ROLE_KEYS)}")


def lsl_types() -> dict[str, str]:
    """``{modality: default LSL type}``."""
    return {m: d.lsl_type for m, d in MODALITIES.items()}


def by_lsl_type(stream_type: str) -> str | None:
    """The modality whose default LSL type is ``stream_type`` (case-insensitive), if any."""
    t = stream_type.strip().lower()
    return next((m for m, d in MODALITIES.items() if d.lsl_type.lower() == t), None)


def cardiac() -> tuple[str, ...]:
    """The modalities that feed the one cardiac channel (at most one per subject)."""
    return of_role("cardiac")


def preferred(present: list[str] | tuple[str, ...] | set[str]) -> dict[str, str]:
    """``{role: modality}``: for each role, the preferred of the modalities ``present``."""
    out: dict[str, str] = {}
    for role in ROLES:
        have = [m for m in of_role(role) if m in present]
        if have:
            out[role] = have[0]
    return out
