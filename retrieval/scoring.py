"""Similarity scores between a query clip and stored clips, and their fusion.

- motion: cosine of the SemanticMoments vectors (they are unit norm, so a dot product);
- pacing: ``1 - mean |S_q(t) - S_c(t)|`` over the 64-point SPF curves, i.e. one minus the area
  between the two progress curves; 1 for identical pacing, in [0, 1] since curves lie in [0, 1];
- flow: cosine of the optical-flow histograms (``aux["flow"]``), where the index stores them;
  it joins the motion score as its ``FusionWeights.flow`` share: motion = (1 - f) cos(moments)
  + f cos(flow) (semantic and low-level motion; f = 0 or no stored flow: the moments alone);
- both: ``w_motion * motion + w_pacing * pacing`` (``FusionWeights``, default 0.7 / 0.3).

Two invariances a user means by "moves like this":
- mirror: the flow histogram is laid out by screen direction, so a horizontally mirrored clip
  lands far from its original; unless the search asks for the same screen direction, the motion
  score is the larger of the query's and its mirror image's, less ``FusionWeights.mirror_margin``
  (``mirror_aware``). The moments
  are left as they are: patch-averaged DINOv2 moments are nearly mirror-symmetric (docs/motion.md).
- tempo: the SPF curve is normalised to 0..1, so a clip played at 2x has the same shape; the
  pacing score blends in the ratio of the two clips' tempo by ``FusionWeights.tempo``: the mean
  optical-flow speed per second where the index stores flow (``flow.flow_speed``: a 2x copy
  moves about twice as many pixels between the same sampled frames), else the semantic change
  per second (the SPF's raw total over the duration, ``aux["activity"]``; it grows far less
  than 2x for a 2x copy, as angular distances between frames saturate).
"""

from __future__ import annotations

import numpy as np

from vidsearch.errors import ConfigError
from vidsearch.retrieval.types import FusionWeights, RankBy


def motion_scores(query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return vectors @ np.asarray(query, dtype=np.float32)


def pacing_scores(query_curve: np.ndarray, curves: np.ndarray) -> np.ndarray:
    return 1.0 - np.abs(curves - np.asarray(query_curve, dtype=np.float32)).mean(axis=1)


# Added to both rates of a tempo ratio: two nearly static clips read as the same tempo instead
# of as an arbitrary ratio of two tiny numbers.
TEMPO_EPS = 0.005


def mirror_aware(direct: np.ndarray, mirrored: np.ndarray, weights: FusionWeights) -> np.ndarray:
    """The motion score given the query's own and its mirror image's: the mirror counts only by
    what it beats the query itself by past ``weights.mirror_margin``."""
    return np.maximum(direct, mirrored - np.float32(weights.mirror_margin))


def flow_scores(query_forms: list[np.ndarray], flows: np.ndarray) -> np.ndarray:
    """Flow cosine of each row against the best of the query's forms (itself, its mirror image)."""
    return np.max([motion_scores(q, flows) for q in query_forms], axis=0)


def tempo_source(aux_dims) -> str | None:
    """The stored descriptor an index's tempo comes from: ``flow``, else ``activity``, else None."""
    return next((name for name in ("flow", "activity") if name in aux_dims), None)


def tempo_amount(source: str, rows: np.ndarray) -> np.ndarray:
    """How much happens in each segment, from rows of its ``source`` descriptor."""
    if source == "flow":
        from vidsearch.indexers.descriptors.flow import flow_speed

        return flow_speed(rows)
    return np.asarray(rows, np.float64)[:, 0]  # activity: (semantic_change, token_motion)


def segment_rates(amount, duration_s) -> np.ndarray:
    """Amount per second; NaN where unknown (nothing stored, no duration)."""
    change = np.asarray(amount, np.float64)
    duration = np.asarray(duration_s, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = change / duration
    return np.where((change > 0) & (duration > 0) & np.isfinite(rate), rate, np.nan)


def tempo_similarity(query_rate: float, rates: np.ndarray) -> np.ndarray:
    """min / max of the two rates (1 = same tempo, ~0.5 = one twice as fast); NaN where unknown."""
    rates = np.asarray(rates, np.float64)
    lo, hi = np.minimum(query_rate, rates), np.maximum(query_rate, rates)
    return ((lo + TEMPO_EPS) / (hi + TEMPO_EPS)).astype(np.float32)


def pacing_with_tempo(shape: np.ndarray, tempo: np.ndarray | None, weights: FusionWeights) -> np.ndarray:
    """The pacing score: the curves' shape similarity blended with the tempo similarity by
    ``weights.tempo``; the shape alone where the tempo is unknown (older indexes)."""
    if tempo is None or not weights.tempo:
        return shape
    tempo = np.asarray(tempo, np.float32)
    blended = (1.0 - weights.tempo) * shape + weights.tempo * tempo
    return np.where(np.isnan(tempo), shape, blended).astype(np.float32)


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
