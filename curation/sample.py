"""``curate sample``: N segments that cover the motion space.

- ``fps`` (farthest-point / greedy k-center): start from the segment nearest the mean, then
  repeatedly take the segment farthest (cosine) from everything taken. Covers the space's extent,
  rare motions included; O(N * n * d) time, O(N) extra memory.
- ``quota``: per-cluster quotas (the ``cluster`` column from ``curate cluster``, or k-means with
  auto k when there is none), shared out equally and water-filled (a cluster smaller than its
  share gives the rest to the others), farthest-point sampling inside each cluster. Balances
  common and rare motion types instead of following the corpus's proportions.

``balance_pacing`` splits every group further by pacing class (steady / fast-start / slow-start /
uneven, from the SPF), with equal quotas per class, so each kind of pacing is represented.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from vidsearch.curation.cluster import ClusterConfig, cluster_segments, cluster_vectors
from vidsearch.curation.pacing import pacing_classes
from vidsearch.curation.selection import Selection, StepReport
from vidsearch.curation.vectors import Space
from vidsearch.errors import ConfigError

Method = Literal["fps", "quota"]


@dataclass(frozen=True)
class SampleConfig:
    n: int
    method: Method = "fps"
    space: Space = "motion"
    balance_pacing: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"the sample size must be >= 1 (got {self.n})")
        if self.method not in ("fps", "quota"):
            raise ConfigError(f"method must be 'fps' or 'quota' (got {self.method!r})")


def farthest_points(x: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``x`` (unit vectors) chosen by greedy farthest-point sampling, in pick order."""
    m = len(x)
    if n >= m:
        return np.arange(m)
    first = int(np.argmax(x @ x.mean(axis=0)))
    picked = [first]
    nearest = 1.0 - x @ x[first]  # cosine distance to the nearest picked point
    for _ in range(n - 1):
        nxt = int(np.argmax(nearest))
        picked.append(nxt)
        np.minimum(nearest, 1.0 - x @ x[nxt], out=nearest)
    return np.asarray(picked)


def allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Equal shares of ``n`` over groups, capped by each group's size (water-filling)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    quota = np.zeros_like(sizes)
    left = min(n, int(sizes.sum()))
    while left > 0:
        open_ = np.flatnonzero(quota < sizes)
        share = max(1, left // len(open_))
        for g in open_[np.argsort(sizes[open_] - quota[open_], kind="stable")]:  # smallest first
            take = min(share, sizes[g] - quota[g], left)
            quota[g] += take
            left -= take
            if left == 0:
                break
    return quota


def sample_segments(source, selection: Selection, config: SampleConfig) -> tuple[Selection, StepReport]:
    """Pick ``config.n`` segments of ``selection`` (all of them if it is smaller)."""
    sel = selection
    if config.balance_pacing or "pacing_class" not in sel.columns:
        t = source.table(sel.ids, ["spf_curve", "linearity_max"])
        curves = np.asarray(t.column("spf_curve").combine_chunks().flatten().to_numpy(zero_copy_only=False)).reshape(
            len(sel), -1
        )
        sel = sel.with_columns(pacing_class=pacing_classes(curves, t.column("linearity_max").to_numpy()))
    groups = np.zeros(len(sel), np.int64)
    if config.method == "quota":
        if "cluster" not in sel.columns:
            sel = cluster_segments(source, sel, ClusterConfig(space=config.space, seed=config.seed)).selection
            sel.steps.pop()  # the clustering is part of this step, not a step of its own
        groups = np.asarray(sel.columns["cluster"], np.int64)
    if config.balance_pacing:
        _, cls = np.unique(sel.columns["pacing_class"], return_inverse=True)
        groups = groups * 16 + cls
    x = cluster_vectors(source, sel.ids, ClusterConfig(space=config.space))
    keys, inverse = np.unique(groups, return_inverse=True)
    if len(keys) == 1:
        picked = farthest_points(x, config.n)
    else:
        quotas = allocate(np.bincount(inverse), config.n)
        picked = np.concatenate(
            [
                rows[farthest_points(x[rows], int(q))]
                for g, q in enumerate(quotas)
                if q
                for rows in [np.flatnonzero(inverse == g)]
            ]
        )
    out = sel.take(np.sort(picked))
    report = StepReport("sample", asdict(config), len(selection), len(out), {"not sampled": len(selection) - len(out)})
    return out.record(report), report
