"""Similarity scores between a query clip and stored clips, and their fusion.

- motion: cosine of the SemanticMoments vectors (they are unit norm, so a dot product);
- pacing: ``1 - mean |S_q(t) - S_c(t)|`` over the 64-point SPF curves, i.e. one minus the area
  between the two progress curves; 1 for identical pacing, in [0, 1] since curves lie in [0, 1];
- flow: cosine of the optical-flow histograms (``aux["flow"]``), where the index stores them;
  it joins the motion score as its ``FusionWeights.flow`` share: motion = (1 - f) cos(moments)
  + f cos(flow) (semantic and low-level motion; f = 0 or no stored flow: the moments alone);
- both: ``w_motion * motion + w_pacing * pacing`` (``FusionWeights``, default 0.7 / 0.3).
"""

from __future__ import annotations

import numpy as np

from vidsearch.errors import ConfigError
from vidsearch.retrieval.types import FusionWeights, RankBy


def motion_scores(query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return vectors @ np.asarray(query, dtype=np.float32)


def pacing_scores(query_curve: np.ndarray, curves: np.ndarray) -> np.ndarray:
    return 1.0 - np.abs(curves - np.asarray(query_curve, dtype=np.float32)).mean(axis=1)


def motion_with_flow(moments: np.ndarray, flow: np.ndarray | None, weights: FusionWeights) -> np.ndarray:
    """The motion score: moments cosine, blended with the flow cosine by ``weights.flow``."""
    if flow is None or not weights.flow:
        return moments
    return (1.0 - weights.flow) * moments + weights.flow * flow


def fused(motion: np.ndarray, pacing: np.ndarray, by: RankBy, weights: FusionWeights) -> np.ndarray:
    if by == "motion":
        return motion
    if by == "pacing":
        return pacing
    if by == "both":
        return weights.motion * motion + weights.pacing * pacing
    raise ConfigError(f"by must be 'motion', 'pacing' or 'both', got {by!r}")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first (stable for ties)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


def moment_contributions(query: np.ndarray, others: np.ndarray, dim: int) -> np.ndarray:
    """Split concat-aggregated cosine similarities into one part per moment block.

    For ``concat`` vectors the cosine is exactly the sum of the block dot products, so the parts
    say how much each moment (mean / std / skew, then those of the temporal differences when the
    vector has them) contributed to the motion score. (N, blocks) for ``others`` (N, blocks * D).
    """
    q = np.asarray(query, dtype=np.float32).reshape(-1, dim)
    o = np.asarray(others, dtype=np.float32).reshape(len(others), len(q), dim)
    return np.einsum("bd,nbd->nb", q, o)
