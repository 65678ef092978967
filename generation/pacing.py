"""Target pacing curves: progress (0 -> 1) as a function of normalised output time (0 -> 1).

A pacing curve is what ReTime and the plans aim for: the diagonal (steady pace), a reference
clip's SPF (borrowed pace), or values the user supplies. Whatever the source, it goes through
:func:`normalize_pace` so every consumer can rely on a non-decreasing curve from exactly 0 to 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsearch.generation.errors import PaceError
from vidsearch.indexers.descriptors.spf import resample_curve

CURVE_POINTS = 64  # the length the index stores SPF curves at; deviations are measured on it
_MONOTONE_TOL = 1e-6  # float32 round-off in stored curves must not count as going backwards


def normalize_pace(values, source: str = "target pace") -> np.ndarray:
    """Validate a progress curve and scale it to run from 0 to 1 (float64)."""
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PaceError(f"{source}: not a list of numbers ({exc})") from exc
    if v.ndim != 1 or len(v) < 2:
        raise PaceError(f"{source}: needs at least 2 progress values, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise PaceError(f"{source}: contains NaN or infinite values")
    drops = np.flatnonzero(np.diff(v) < -_MONOTONE_TOL)
    if drops.size:
        i = int(drops[0])
        raise PaceError(f"{source}: is not monotone (value {i + 1} = {v[i + 1]:g} is below value {i} = {v[i]:g})")
    span = v[-1] - v[0]
    if span <= 0:
        raise PaceError(f"{source}: is flat (progress must increase from start to end)")
    return np.maximum.accumulate(np.clip((v - v[0]) / span, 0.0, 1.0))


def linear_pace(n: int = CURVE_POINTS) -> np.ndarray:
    """Steady pace: the diagonal."""
    return np.linspace(0.0, 1.0, n)


def parse_pace(spec: str) -> np.ndarray:
    """``linear``, comma-separated progress values (``0,0.1,0.5,1``), or a JSON file holding a list
    or a plan (its ``target_pacing``)."""
    spec = spec.strip()
    if spec.lower() == "linear":
        return linear_pace()
    if spec.lower().endswith(".json"):
        path = Path(spec)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise PaceError(f"{path}: cannot read a pacing curve ({exc})") from exc
        if isinstance(data, dict):
            if "target_pacing" not in data:
                raise PaceError(f"{path}: JSON object has no 'target_pacing' list")
            data = data["target_pacing"]
        return normalize_pace(data, str(path))
    try:
        values = [float(x) for x in spec.split(",")]
    except ValueError as exc:
        raise PaceError(f"--pace {spec!r}: expected 'linear', comma-separated numbers or a .json file") from exc
    return normalize_pace(values, f"--pace {spec!r}")


def pace_at(target: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Progress of a pacing curve at normalised times ``u`` (linear interpolation)."""
    return np.interp(u, np.linspace(0.0, 1.0, len(target)), target)


@dataclass(frozen=True)
class PaceDeviation:
    """How far a clip's SPF is from a target pacing (both on normalised time)."""

    mean: float  # mean |SPF - target| over CURVE_POINTS times
    max: float

    def __str__(self) -> str:
        return f"mean {self.mean:.3f}, max {self.max:.3f}"


def pace_deviation(curve: np.ndarray, target: np.ndarray, n: int = CURVE_POINTS) -> PaceDeviation:
    diff = np.abs(resample_curve(curve, n) - resample_curve(target, n))
    return PaceDeviation(float(diff.mean()), float(diff.max()))
