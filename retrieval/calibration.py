"""Calibrated similarity: what a raw score means *in this index*.

Raw motion cosines crowd between ~0.73 and ~0.99 for any two clips, so 0.85 says nothing by
itself. The calibrated score is the percentile of a raw score among the index's own pair
scores: 95 means "closer than 95 % of random pairs of segments in this index". It is estimated
from a sample (all pairs among up to ``max_items`` segments drawn with a fixed seed), stored
with the index (``calibration.npz``) and reused until the index has grown or shrunk by
``refresh_ratio``, so the same hit reads the same after reopening.

The sample keeps each signal's raw scores for the *same* pairs (motion, pacing, flow, the flow
with the mirror image taken into account, tempo), so a
fused score with any weights is calibrated against the fused scores of those pairs, not against
a mix of marginals. The map is ``np.interp`` over the sorted sample: monotone (never decreasing)
in the raw score, 0 below the smallest sampled pair, 100 above the largest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidsearch.retrieval.types import FusionWeights, RankBy

FILENAME = "calibration.npz"
MAX_ITEMS = 400  # all pairs among 400 segments: 79,800 pairs
REFRESH_RATIO = 1.25  # re-estimate once the index is this many times larger (or smaller)
SIGNALS = ("motion", "pacing", "flow", "flow_mirror", "tempo")
# Stored calibrations of another version are re-estimated (version 2: mirror-aware flow and tempo).
VERSION = 2


@dataclass(frozen=True)
class Calibration:
    """Raw pair scores of a sample of the index's segment pairs, one array per signal."""

    pair_scores: dict[str, np.ndarray]  # signal -> float32 (n_pairs,), same pairs; "motion" = moments cosine
    n_items: int  # segments in the index when the sample was drawn
    seed: int = 0
    _sorted: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # (by, weights) -> reference

    def reference(
        self, by: RankBy, weights: FusionWeights = FusionWeights(), strict_direction: bool = False
    ) -> np.ndarray:
        """The sorted sample of the ranking score ``by`` (fused with ``weights`` for ``both``),
        kept per (by, weights, strict_direction) so a percentile call does not sort again."""
        from vidsearch.retrieval.scoring import fused, mirror_aware, motion_with_flow, pacing_with_tempo

        key = (by, weights, strict_direction)
        if key not in self._sorted:
            s = self.pair_scores
            if len(self._sorted) >= 16:
                self._sorted.clear()  # weights typed into the UI: keep the cache small
            motion = motion_with_flow(s["motion"], s.get("flow"), weights)
            if not strict_direction and "flow_mirror" in s:  # the better flow form, the mirror past its margin
                motion = mirror_aware(motion, motion_with_flow(s["motion"], s["flow_mirror"], weights), weights)
            pacing = pacing_with_tempo(s["pacing"], s.get("tempo"), weights)
            self._sorted[key] = np.sort(fused(motion, pacing, by, weights))
        return self._sorted[key]

    def percentile(
        self, raw, by: RankBy = "motion", weights: FusionWeights = FusionWeights(), strict_direction: bool = False
    ) -> np.ndarray:
        """Percent (0..100) of sampled pairs scoring at or below each raw score; monotone."""
        ref = self.reference(by, weights, strict_direction).astype(np.float64)
        # Between two sampled scores the percentile is interpolated, so close raw scores stay apart.
        grid = np.arange(1, len(ref) + 1) / len(ref)
        return 100.0 * np.interp(np.asarray(raw, dtype=np.float64), ref, grid, left=0.0, right=1.0)

    def is_stale(self, n_items: int, refresh_ratio: float = REFRESH_RATIO) -> bool:
        """Whether the index has changed size enough that the sample no longer represents it."""
        lo, hi = sorted((max(self.n_items, 1), max(n_items, 1)))
        return hi / lo >= refresh_ratio

    def save(self, index_dir: str | os.PathLike) -> Path:
        from vidsearch.atomic import atomic_path

        path = Path(index_dir) / FILENAME
        arrays = {f"pairs_{k}": v.astype(np.float32) for k, v in self.pair_scores.items()}
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, n_items=np.array(self.n_items), seed=np.array(self.seed), version=np.array(VERSION), **arrays)
        return path

    @classmethod
    def load(cls, index_dir: str | os.PathLike) -> Calibration | None:
        """The stored calibration, or None when there is none (or it is unreadable: re-estimate)."""
        path = Path(index_dir) / FILENAME
        if not path.exists():
            return None
        try:
            with np.load(path) as z:
                if "version" not in z.files or int(z["version"]) != VERSION:
                    return None  # written by another version: re-estimated
                scores = {k.removeprefix("pairs_"): z[k] for k in z.files if k.startswith("pairs_")}
                return cls(scores, int(z["n_items"]), int(z["seed"]))
        except (OSError, ValueError, KeyError):
            return None


def sample_items(n_items: int, max_items: int = MAX_ITEMS, seed: int = 0) -> np.ndarray:
    """Sorted positions of the segments the sample is drawn from (all of them when few)."""
    if n_items <= max_items:
        return np.arange(n_items)
    return np.sort(np.random.default_rng(seed).choice(n_items, size=max_items, replace=False))


def estimate(
    moments: np.ndarray,
    curves: np.ndarray,
    flows: np.ndarray | None = None,
    n_items: int | None = None,
    seed: int = 0,
    rates: np.ndarray | None = None,
) -> Calibration:
    """The calibration from the sampled segments' descriptors (rows of ``moments`` / ``curves`` /
    ``flows`` / semantic change per second ``rates``, see :func:`sample_items`): every pair among
    them, each signal scored the index's way."""
    from vidsearch.indexers.descriptors.flow import FLOW_DIM, mirror_flow
    from vidsearch.retrieval.scoring import flow_scores, motion_scores, pacing_scores, tempo_similarity

    m = len(moments)
    if m < 2:
        raise ValueError(f"calibration needs at least 2 segments (got {m})")
    # Pairs (a, b > a) row by row: never an (n_pairs, D) array in memory.
    moments = np.asarray(moments, dtype=np.float32)
    curves = np.asarray(curves, dtype=np.float32)
    scores = {
        "motion": np.concatenate([motion_scores(moments[a], moments[a + 1 :]) for a in range(m - 1)]),
        "pacing": np.concatenate([pacing_scores(curves[a], curves[a + 1 :]) for a in range(m - 1)]),
    }
    if flows is not None:
        flows = np.asarray(flows, dtype=np.float32)
        scores["flow"] = np.concatenate([motion_scores(flows[a], flows[a + 1 :]) for a in range(m - 1)])
    if flows is not None and flows.shape[1] == FLOW_DIM:  # the flow histogram's layout: its mirror is known
        scores["flow_mirror"] = np.concatenate(
            [flow_scores([flows[a], mirror_flow(flows[a])], flows[a + 1 :]) for a in range(m - 1)]
        )
    if rates is not None:
        rates = np.asarray(rates, dtype=np.float64)
        scores["tempo"] = np.concatenate([tempo_similarity(rates[a], rates[a + 1 :]) for a in range(m - 1)])
    return Calibration({k: v.astype(np.float32) for k, v in scores.items()}, m if n_items is None else n_items, seed)
