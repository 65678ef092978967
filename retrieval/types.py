"""Plain result types shared by the query layer, the CLI, the UI and generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RankBy = Literal["motion", "pacing", "both"]


@dataclass(frozen=True)
class FusionWeights:
    """Fused score = motion * cos(moments) + pacing * pacing_similarity (weights need not sum to 1)."""

    motion: float = 0.7
    pacing: float = 0.3


@dataclass
class SearchHit:
    rank: int  # 1-based
    id: int
    path: str
    score: float  # the score the ranking used (motion, pacing or fused)
    motion: float  # cosine similarity of SemanticMoments vectors
    pacing: float  # 1 - mean |SPF_query - SPF_hit| over the 64-point curves, in [0, 1]
    # Share of the motion cosine contributed by mean / std / skew (sums to ``motion`` for concat).
    moment_contributions: tuple[float, float, float] | None = None
    record: dict[str, Any] = field(default_factory=dict)  # the clip's metadata row (no vectors)
