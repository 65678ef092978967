"""Plain result types shared by the query layer, the CLI, the UI and generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vidsearch.errors import ConfigError

RankBy = Literal["motion", "pacing", "both"]
# Chosen on the dev split of the bench (bench/RESULTS.md); used only by indexes that store flow.
DEFAULT_FLOW_SHARE = 0.5
# Share of tempo in the pacing score; 0 = the SPF curve's shape alone. Chosen on the real-footage
# dev split (bench/RESULTS.md): the largest share that keeps zoomed copies, whose flow speed a
# zoom-crop scales up, ranked first.
DEFAULT_TEMPO_SHARE = 0.25
# How far the query's mirror image must beat the query itself for a mirrored match to count. Chosen
# on the dev splits (bench/RESULTS.md): a mirrored copy wins by far more; a clip moving the other
# way across a similar scene wins by less.
DEFAULT_MIRROR_MARGIN = 0.08
# The motion score's moment blocks, in vector order (the last three only with delta_alpha).
MOMENT_NAMES = ("mean", "std", "skew", "delta_mean", "delta_std", "delta_skew")


@dataclass(frozen=True)
class FusionWeights:
    """Fused score = motion * motion_score + pacing * pacing_similarity (need not sum to 1).

    ``flow`` is the optical-flow histogram's share *inside* the motion score, (1 - flow) cos(moments)
    + flow cos(flow); it counts only where the index stores flow (``aux_descriptors=("flow",)``).
    ``tempo`` is the tempo similarity's share *inside* the pacing score, (1 - tempo) shape + tempo
    tempo-similarity (``scoring.pacing_with_tempo``); 0 ranks pacing by the SPF curve's shape alone.
    ``mirror_margin`` is subtracted from the motion score of the query's mirror image before the
    better of the two forms is taken (``scoring.mirror_aware``)."""

    motion: float = 0.7
    pacing: float = 0.3
    flow: float = DEFAULT_FLOW_SHARE
    tempo: float = DEFAULT_TEMPO_SHARE
    mirror_margin: float = DEFAULT_MIRROR_MARGIN

    def __post_init__(self) -> None:
        if not 0.0 <= self.mirror_margin <= 1.0:
            raise ConfigError(f"the mirror margin must be in [0, 1] (got {self.mirror_margin})")
        if not 0.0 <= self.flow <= 1.0:
            raise ConfigError(f"the flow share of the motion score must be in [0, 1] (got {self.flow})")
        if not 0.0 <= self.tempo <= 1.0:
            raise ConfigError(f"the tempo share of the pacing score must be in [0, 1] (got {self.tempo})")


GroupBy = Literal["segment", "file"]


@dataclass(frozen=True)
class RangeQuery:
    """A moment of any file as a query: ``[start_s, end_s)`` seconds (None = from the start / to the end)."""

    path: str
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class SearchHit:
    rank: int  # 1-based
    id: int  # segment id
    path: str
    score: float  # the score the ranking used (motion, pacing or fused)
    motion: float  # cosine of the moments vectors (blended with ``flow`` by FusionWeights.flow when stored)
    # 1 - mean |SPF_query - SPF_hit| over the 64-point curves, in [0, 1], blended with the tempo
    # similarity by FusionWeights.tempo where both segments' semantic change per second is known
    pacing: float
    # Share of the motion cosine contributed by mean / std / skew (sums to ``motion`` for concat).
    moment_contributions: tuple[float, ...] | None = None
    record: dict[str, Any] = field(default_factory=dict)  # the segment's metadata row with its file's (no vectors)
    file_id: int | None = None
    segment_index: int = 0  # position of the segment in its file
    start_s: float = 0.0
    end_s: float = 0.0
    flow: float | None = None  # cosine of the optical-flow histograms, where the index stores them
    # Percentile (0..100) of ``score`` among the index's own pair scores (retrieval/calibration.py).
    calibrated: float | None = None

    def contributions_by_moment(self) -> dict[str, float] | None:
        """``{"mean": .., "std": .., "skew": ..}``, or None when the aggregation does not split."""
        if self.moment_contributions is None:
            return None
        return dict(zip(MOMENT_NAMES, (float(c) for c in self.moment_contributions)))
