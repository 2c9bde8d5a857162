"""Window-of-tolerance state: baseline calibration, fused arousal index, zones.

1. **Calibration.** Frames inside the calibration window (default: the first 120 s) give a robust
   baseline per feature: the median and MAD of its (possibly log-) transformed value over frames
   of adequate quality. The scale is ``max(1.4826 MAD, floor)`` so that a very steady baseline
   does not turn tiny changes into alarms.
2. **Arousal index.** Each feature's robust z-score, signed so that positive means more aroused
   and clipped to ±4, is weighted by its configured weight × signal quality. The index is the
   midpoint of the weighted mean and the weighted median of the z-scores (``fusion =
   "mean-median"``; ``"mean"`` and ``"median"`` are the alternatives): the mean lets every
   signal count, the median keeps a single one (an artifact the quality checks missed, or a
   60-s window still holding a past burst of SCRs) from carrying the index on its own.
   ``confidence`` is the share of the configured weight that was available at good quality, so
   losing a modality lowers it.
3. **Zones.** The index is smoothed (exponential, 4 s) and compared with the client's window
   bounds (``upper``/``lower``, in baseline-z units) with hysteresis. A new zone must persist
   ``confirm_s`` and the old one must have lasted ``min_dwell_s``. ``unknown`` is entered as soon
   as the usable share of the calibrated evidence (weight x quality) falls below ``min_usable``,
   so a detached sensor never raises a false alarm.
4. **Hypoarousal signature.** A low index alone is not hypoarousal (it can be one quiet signal).
   ``hypo`` also needs at least two of three signs, or all of them when fewer are measured:

   * heart: HR below baseline;
   * skin: SCR activity below baseline (left out when the baseline had under ~2 SCR/min: so
     few cannot be seen to fall in a minute's count);
   * breath: slowed or shallow (rate or depth below baseline), but neither deepened (slow
     *deep* breathing is paced or resonance breathing, the opposite of shutdown) nor faster
     (fast shallow breathing is panic breathing).

   Each sign is a z <= ``hypo_signature_z`` (-0.5), and the heart or the breath must be among
   the low ones: flattened SCRs alone are habituation as often as shutdown, so skin
   conductance alone never gives ``hypo``. While the signature holds, the index below
   baseline is the mean z of the signs when that is lower than the fused index, so RMSSD (which
   may rise or fall in shutdown) cannot mask it. This follows the dorsal-vagal shutdown
   picture: bradycardia, flattened electrodermal reactivity, slowed shallow breathing (Porges
   2011; Schauer & Elbert 2010, "Dissociation following traumatic stress"; the simulator's
   ``shutdown`` scenario plays exactly these signs).
5. **Abstaining features.** A feature marked ``zero_abstains`` (SCR amplitude) whose value is 0
   at good quality (a minute without SCRs) has nothing to say: it is left out of the index,
   the confidence and the quality gate alike. So is a feature that was 0 throughout the
   calibration ("not used").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import FUSIONS, EngineConfig, FeatureSpec

ZONES = ("hyper", "within", "hypo", "unknown")
ZONE_CODE = {"hypo": -1, "within": 0, "hyper": 1, "unknown": 2}


@dataclass
class Baseline:
    """Per-feature robust statistics of the calibration period (transformed units)."""

    median: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    raw_median: dict[str, float] = field(default_factory=dict)
    start_s: float = 0.0
    end_s: float = 0.0
    source: str = "calibration"  # or "profile": taken from the client's earlier sessions

    @property
    def features(self) -> list[str]:
        return list(self.median)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Baseline:
        """The inverse of :meth:`to_dict`."""
        return cls(
            median={k: float(v) for k, v in d["z_median"].items()},
            scale={k: float(v) for k, v in d["z_scale"].items()},
            raw_median={k: float(v) for k, v in d.get("median", {}).items()},
            start_s=float(d.get("start_s", 0.0)),
            end_s=float(d.get("end_s", 0.0)),
            source=str(d.get("source", "calibration")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "median": self.raw_median,
            "z_median": self.median,
            "z_scale": self.scale,
        }


def _transform(spec: FeatureSpec, v: np.ndarray) -> np.ndarray:
    if spec.transform == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.where(v > 0, v, np.nan))
    return np.asarray(v, dtype=np.float64)


def _transform_one(spec: FeatureSpec, v: float) -> float:
    """:func:`_transform` of one value (the per-frame path)."""
    if spec.transform == "log":
        return math.log(v) if v > 0 else math.nan
    return float(v)


class Calibrator:
    """Collects frames of the calibration window and computes a :class:`Baseline`."""

    def __init__(self, config: EngineConfig, start_s: float, end_s: float) -> None:
        self.cfg = config
        self.start_s, self.end_s = float(start_s), float(end_s)
        self._vals: dict[str, list[float]] = {k: [] for k in config.features}
        self._n_frames = 0
        self.silent: list[str] = []  # features measured but 0 throughout (nothing to scale)

    def add(self, t: float, feats: dict[str, float]) -> None:
        if not self.start_s <= t < self.end_s:
            return
        self._n_frames += 1
        for name, spec in self.cfg.features.items():
            v = feats.get(name, math.nan)
            q = feats.get(spec.quality, 1.0) if spec.quality else 1.0
            if math.isfinite(v) and q >= 0.5:
                self._vals[name].append(v)

    def done(self, t: float) -> bool:
        return t >= self.end_s

    def result(self) -> tuple[Baseline, list[str]]:
        """Return the baseline and the names of features that could not be calibrated."""
        base = Baseline(start_s=self.start_s, end_s=self.end_s)
        missing = []
        need = max(1, int(self.cfg.calibration.min_coverage * max(self._n_frames, 1)))
        for name, spec in self.cfg.features.items():
            vals = np.asarray(self._vals[name])
            tv = _transform(spec, vals)
            tv = tv[np.isfinite(tv)]
            if tv.size < need:
                if spec.zero_abstains and vals.size >= need:
                    self.silent.append(name)  # present but mostly 0 (e.g. no SCRs at rest)
                else:
                    missing.append(name)
                continue
            med = float(np.median(tv))
            mad = float(np.median(np.abs(tv - med)))
            base.median[name] = med
            base.scale[name] = max(1.4826 * mad, spec.floor)
            base.raw_median[name] = float(np.median(vals))
        return base, missing


@dataclass
class StateResult:
    """The engine's decision for one frame."""

    time_s: float
    zone: str
    arousal: float
    confidence: float
    drivers: list[tuple[str, float, str]]  # (feature, contribution, human text)
    explanation: str
    z: dict[str, float]


def _weighted_median(values: list[float], weights: list[float]) -> float:
    """The value where the cumulative weight reaches half (midpoint on an exact tie)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    total = sum(weights)
    cum = 0.0
    for k, i in enumerate(order):
        cum += weights[i]
        if cum >= 0.5 * total - 1e-12:
            if abs(cum - 0.5 * total) < 1e-12 and k + 1 < len(order):
                return 0.5 * (values[i] + values[order[k + 1]])
            return values[i]
    return math.nan


def _driver_text(name: str, spec: FeatureSpec, value: float, base: Baseline) -> str:
    ref = base.raw_median.get(name, math.nan)
    if name == "scr_per_min":
        if value < 0.05:
            return "no SCRs in the last minute"
        if ref > 0.2:
            return f"SCR rate ×{value / ref:.1f}"
        return f"SCR rate {value:.1f}/min"
    if name == "resp_rate_bpm":
        return f"breathing {value:.0f}/min"
    if name == "scl_rel":
        return f"SCL {100.0 * (math.exp(value) - 1.0):+.0f}% over resting"
    if spec.transform == "log" and ref > 0:
        return f"{spec.label} {100.0 * (value / ref - 1.0):+.0f}%"
    return f"{spec.label} {value - ref:+.0f} {spec.unit}".rstrip()


class StateEngine:
    """Streaming frames → baseline → arousal → zone.

    Parameters
    ----------
    config : EngineConfig
    baseline_window : (start_s, end_s), optional
        Calibration window in session seconds; defaults to the configured one.
    """

    def __init__(
        self,
        config: EngineConfig,
        baseline_window: tuple[float, float] | None = None,
        modalities: tuple[str, ...] | None = None,
    ) -> None:
        self.cfg = config
        # features of modalities that are not connected at all are "not measured", not missing
        self.measured_modalities = modalities
        self.measured = [
            name
            for name, spec in config.features.items()
            if modalities is None
            or not spec.quality
            or spec.quality.removeprefix("quality_") in modalities
        ]
        if baseline_window is None:
            c = config.calibration
            baseline_window = (c.start_s, c.start_s + c.duration_s)
        self.calibrator: Calibrator | None = Calibrator(config, *baseline_window)
        self.baseline: Baseline | None = None
        self.uncalibrated: list[str] = []
        self.silent: set[str] = set()  # 0 throughout calibration: left out, not "missing"
        if config.zones.fusion not in FUSIONS:
            raise ValueError(f"zones.fusion {config.zones.fusion!r} is not one of {FUSIONS}")
        self.message = f"calibrating baseline ({baseline_window[0]:g}-{baseline_window[1]:g} s)"
        self._smooth = math.nan
        self._last_t = math.nan
        self.zone = "unknown"
        self._zone_since = -math.inf
        self._cand = "unknown"
        self._cand_since = -math.inf

    def recalibrate(self, start_s: float, end_s: float) -> None:
        """Start a new calibration over ``[start_s, end_s)`` (the live "calibrate now")."""
        self.calibrator = Calibrator(self.cfg, start_s, end_s)
        self.message = f"calibrating baseline ({start_s:g}-{end_s:g} s)"

    def set_baseline(self, baseline: Baseline) -> None:
        """Use a baseline computed elsewhere (e.g. a saved client profile)."""
        self.baseline = baseline
        self.calibrator = None
        self.message = "baseline from the client profile"
        self.uncalibrated = [f for f in self.cfg.features if f not in baseline.median]
        self.silent = set()

    def update(self, t: float, feats: dict[str, float]) -> StateResult:
        """Process one fused frame at session time ``t``."""
        if self.calibrator is not None:
            self.calibrator.add(t, feats)
            if self.calibrator.done(t):
                base, missing = self.calibrator.result()
                missing = [m for m in missing if m in self.measured]
                silent = [m for m in self.calibrator.silent if m in self.measured]
                self.calibrator = None
                if base.median:
                    self.baseline = base
                    self.uncalibrated = missing + silent
                    self.silent = set(silent)
                    self.message = "calibrated" + (
                        f"; not enough good signal for {', '.join(missing)}" if missing else ""
                    )
                    if silent:
                        labels = ", ".join(self.cfg.features[m].label or m for m in silent)
                        self.message += f"; {labels} not used (none during calibration)"
                else:
                    self.message = (
                        "calibration failed: no feature had enough good signal; "
                        "check the sensors and calibrate again"
                    )
        if self.baseline is None:
            why = self.message
            if self.calibrator is not None and t >= self.calibrator.start_s:
                why += f", {max(0.0, self.calibrator.end_s - t):.0f} s left"
            return StateResult(t, "unknown", math.nan, 0.0, [], f"unknown: {why}", {})
        return self._classify(t, feats, self.baseline)

    def _classify(self, t: float, feats: dict[str, float], base: Baseline) -> StateResult:
        zc = self.cfg.zones
        z: dict[str, float] = {}
        contrib: list[tuple[str, float, str]] = []
        wsum = 0.0  # all configured evidence: confidence falls when a modality is absent
        w_avail = 0.0  # calibrated evidence: the quality gate, so a detached sensor gives unknown
        wq_sum = 0.0
        acc = 0.0
        pairs: list[tuple[float, float]] = []
        for name, spec in self.cfg.features.items():
            v = feats.get(name, math.nan)
            q = feats.get(spec.quality, 1.0) if spec.quality else 1.0
            if not math.isfinite(q):
                q = 0.0
            if name in self.silent or (spec.zero_abstains and v == 0.0 and q >= 0.5):
                continue  # abstains: e.g. no SCR in the last minute has no amplitude
            wsum += spec.weight
            if name not in base.median:
                continue
            w_avail += spec.weight
            tv = _transform_one(spec, v)
            if not math.isfinite(tv) or q <= 0.0:
                continue
            zi = spec.sign * (tv - base.median[name]) / base.scale[name]
            zi = max(-zc.clip, min(zc.clip, zi))
            z[name] = zi
            if spec.weight <= 0.0:
                continue  # signature-only feature (breathing depth)
            w = spec.weight * q
            wq_sum += w
            acc += w * zi
            pairs.append((zi, w))
            contrib.append((name, w * zi, ""))
        confidence = wq_sum / wsum if wsum > 0 else 0.0
        usable = wq_sum / w_avail if w_avail > 0 else 0.0
        arousal = acc / wq_sum if wq_sum > 0 else math.nan
        if zc.fusion != "mean" and wq_sum > 0:
            med = _weighted_median([v for v, _w in pairs], [w for _v, w in pairs])
            arousal = med if zc.fusion == "median" else 0.5 * (arousal + med)
        # Below baseline the index follows the shutdown signature: a vagal feature (RMSSD) or
        # a drifting tonic level must not mask a client whose heart, skin and breath all slowed.
        signs = self._hypo_signs(z)
        shutdown = self._signature_holds(signs)
        if shutdown and math.isfinite(arousal):
            sig = [v for v, _low in signs.values()]
            arousal = min(arousal, sum(sig) / len(sig))
        # exponential smoothing on the time axis (frames may be irregular after gaps)
        if math.isfinite(arousal):
            if not math.isfinite(self._smooth):
                self._smooth = arousal
            else:
                dt = max(0.0, t - self._last_t)
                a = 1.0 - math.exp(-dt / zc.smoothing_s) if zc.smoothing_s > 0 else 1.0
                self._smooth += a * (arousal - self._smooth)
            self._last_t = t
        s = self._smooth if math.isfinite(arousal) else math.nan

        if usable < zc.min_usable or not math.isfinite(s):
            cand = "unknown"
        else:
            cand = self._candidate(s, z)
        self._advance(t, cand)
        zone = self.zone
        if zone == "hyper":
            drivers = sorted((c for c in contrib if c[1] > 0), key=lambda c: -c[1])[:3]
        elif zone == "hypo":
            drivers = sorted((c for c in contrib if c[1] < 0), key=lambda c: c[1])[:3]
        else:
            drivers = sorted(contrib, key=lambda c: -abs(c[1]))[:3]
        # the words only for the three shown (this runs for every frame)
        drivers = [
            (n, c, _driver_text(n, self.cfg.features[n], feats.get(n, math.nan), base))
            for n, c, _ in drivers
        ]
        if zone == "unknown" and cand != "unknown":
            explanation = f"unknown: confirming {cand} (needs {zc.confirm_s:g} s)"
        elif zone == "unknown":
            why = "signal quality too low" if self.baseline is not None else self.message
            lost = [
                spec.quality.removeprefix("quality_").upper()
                for spec in self.cfg.features.values()
                if spec.quality and feats.get(spec.quality, 0.0) < 0.5
            ]
            lost = sorted(set(lost))
            explanation = f"unknown: {why}" + (f" ({', '.join(lost)})" if lost else "")
        else:
            explanation = f"{zone}: " + ", ".join(d[2] for d in drivers)
        return StateResult(t, zone, s, confidence, drivers, explanation, z)

    def _candidate(self, s: float, z: dict[str, float]) -> str:
        zc = self.cfg.zones
        cur = self.zone
        hi = zc.upper - (zc.hysteresis if cur == "hyper" else 0.0)
        lo = zc.lower + (zc.hysteresis if cur == "hypo" else 0.0)
        if s >= hi:
            return "hyper"
        if s <= lo and self._signature_holds(self._hypo_signs(z)):
            return "hypo"
        return "within"

    def _hypo_signs(self, z: dict[str, float]) -> dict[str, tuple[float, bool]]:
        """Per sign of the hypoarousal signature (heart, skin, breath): its z and whether it is
        low. Breathing is low when slowed or shallow, but not when deepened."""
        thr = self.cfg.zones.hypo_signature_z
        out: dict[str, tuple[float, bool]] = {}
        if "hr_bpm" in z:
            out["heart"] = (z["hr_bpm"], z["hr_bpm"] <= thr)
        if "scr_per_min" in z and self._skin_can_fall():
            out["skin"] = (z["scr_per_min"], z["scr_per_min"] <= thr)
        rate, depth = z.get("resp_rate_bpm"), z.get("resp_depth")
        if rate is None and depth is not None:
            out["breath"] = (depth, depth <= thr)
        elif rate is not None:
            if depth is None:
                out["breath"] = (rate, rate <= thr)
            elif depth >= -thr or rate >= -thr:
                # deepened (paced or resonance breathing) or faster (shallow panic breathing):
                # not shutdown breathing
                out["breath"] = (rate, False)
            else:
                low = min(rate, depth)
                out["breath"] = (low, low <= thr)
        return out

    def _skin_can_fall(self) -> bool:
        """SCR activity can only be seen to flatten below a baseline that had enough of it: no
        SCR at all in a minute must read at least twice the sign's threshold below baseline
        (2 SCR/min with the default floor); below that, one chance response in a minute's
        count decides, and the sign is left out."""
        b = self.baseline
        if b is None or "scr_per_min" not in b.median:
            return False
        lowest = -b.median["scr_per_min"] / b.scale["scr_per_min"]
        return lowest <= 2.0 * self.cfg.zones.hypo_signature_z

    @staticmethod
    def _signature_holds(signs: dict[str, tuple[float, bool]]) -> bool:
        low = [k for k, (_v, is_low) in signs.items() if is_low]
        if not ({"heart", "breath"} & set(low)):
            return False  # skin flattening alone: habituation as often as shutdown
        return len(low) >= min(2, len(signs))

    def _advance(self, t: float, cand: str) -> None:
        zc = self.cfg.zones
        if cand != self._cand:
            self._cand = cand
            self._cand_since = t
        if cand == self.zone:
            return
        if cand == "unknown":
            # losing trust is immediate (short confirm only), never held by the dwell time
            if t - self._cand_since >= min(1.0, zc.confirm_s):
                self.zone, self._zone_since = cand, t
            return
        dwell_ok = self.zone == "unknown" or t - self._zone_since >= zc.min_dwell_s
        if dwell_ok and t - self._cand_since >= zc.confirm_s:
            self.zone, self._zone_since = cand, t
