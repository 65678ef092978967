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

Streaming: a group of up to ``EXACT_ROWS`` segments is sampled exactly (its vectors gathered
``batch`` at a time, the picks those of the in-memory algorithm). A bigger group is cut into parts
of ``EXACT_ROWS``; farthest points are picked in each part (the group's quota, from the point
nearest the group's mean) and the candidate sets merged ``FAN_IN`` at a time by the same greedy
pick, a composable coreset for k-center (greedy is a 2-approximation; merged coresets keep a
constant factor), with memory bounded by ``EXACT_ROWS`` vectors plus ``FAN_IN`` times the sample's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from vidsearch.curation.cluster import ClusterConfig, GroupSums, cluster_segments, cluster_view
from vidsearch.curation.engine import BATCH, chunks, run_map
from vidsearch.curation.pacing import pacing_classes
from vidsearch.curation.selection import Selection, StepReport
from vidsearch.curation.vectors import Centred, Space, gather
from vidsearch.errors import ConfigError

FAN_IN = 8  # candidate sets merged at once
EXACT_ROWS = 65_536  # a group up to this size is sampled exactly (~200 MB of 768-d float32 vectors)

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


def farthest_points(x: np.ndarray, n: int, centre: np.ndarray | None = None) -> np.ndarray:
    """Rows of ``x`` (unit vectors) chosen by greedy farthest-point sampling, in pick order, from
    the row most aligned with ``centre`` (default: the rows' mean)."""
    m = len(x)
    if n >= m:
        return np.arange(m)
    first = int(np.argmax(x @ (x.mean(axis=0) if centre is None else centre)))
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


def sample_segments(
    source, selection: Selection, config: SampleConfig, batch: int = BATCH, engine: str = "local"
) -> tuple[Selection, StepReport]:
    """Pick ``config.n`` segments of ``selection`` (all of them if it is smaller)."""
    sel = selection
    if config.balance_pacing or "pacing_class" not in sel.columns:
        sel = sel.with_columns(pacing_class=np.concatenate([_pacing(source, part) for part in chunks(sel.ids, batch)]))
    groups = np.zeros(len(sel), np.int64)
    if config.method == "quota":
        if "cluster" not in sel.columns:
            made = cluster_segments(source, sel, ClusterConfig(space=config.space, seed=config.seed), batch, engine)
            sel = made.selection
            sel.steps.pop()  # the clustering is part of this step, not a step of its own
        groups = np.asarray(sel.columns["cluster"], np.int64)
    if config.balance_pacing:
        _, cls = np.unique(sel.columns["pacing_class"], return_inverse=True)
        groups = groups * 16 + cls
    view = cluster_view(source, sel.ids, ClusterConfig(space=config.space), batch, engine)
    _, inverse = np.unique(groups, return_inverse=True)
    quotas = allocate(np.bincount(inverse), config.n)
    picked = _streamed_picks(view, sel.ids, inverse, quotas, batch, engine)
    out = sel.take(np.sort(picked))
    report = StepReport("sample", asdict(config), len(selection), len(out), {"not sampled": len(selection) - len(out)})
    return out.record(report), report


def _pacing(source, ids: np.ndarray) -> np.ndarray:
    t = source.table(ids, ["spf_curve", "linearity_max"])
    curves = np.asarray(t.column("spf_curve").combine_chunks().flatten().to_numpy(zero_copy_only=False))
    return pacing_classes(curves.reshape(len(ids), -1), t.column("linearity_max").to_numpy())


class _Candidates:
    """A group part's farthest points: (group, positions, vectors) of the group's quota."""

    def __init__(self, view: Centred, quotas: np.ndarray, centres: np.ndarray, batch: int):
        self.view, self.quotas, self.centres, self.batch = view, quotas, centres, batch

    def __call__(self, item: tuple[int, np.ndarray, np.ndarray]) -> tuple[int, np.ndarray, np.ndarray]:
        g, ids, positions = item
        x = gather(self.view, ids, self.batch)
        pick = farthest_points(x, int(self.quotas[g]), self.centres[g])
        return g, positions[pick], x[pick]


def _merge(parts: list[tuple[np.ndarray, np.ndarray]], quota: int, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    positions = np.concatenate([p for p, _ in parts])
    x = np.concatenate([v for _, v in parts])
    pick = farthest_points(x, quota, centre)
    return positions[pick], x[pick]


def _streamed_picks(
    view: Centred, ids: np.ndarray, group: np.ndarray, quotas: np.ndarray, batch: int, engine: str
) -> np.ndarray:
    """Positions picked in each group (exact up to ``EXACT_ROWS`` members, else merged parts)."""
    sums = sum(run_map(GroupSums(view, len(quotas)), list(zip(chunks(ids, batch), chunks(group, batch))), engine))
    centres = (sums / np.maximum(np.bincount(group, minlength=len(quotas)), 1)[:, None]).astype(np.float32)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(quotas) + 1))
    items = (  # made as consumed (locally): only the part being sampled holds its ids
        (g, ids[part], part)
        for g in np.flatnonzero(quotas)
        for part in chunks(order[bounds[g] : bounds[g + 1]], EXACT_ROWS)
    )
    pending: dict[int, list] = {}
    for g, *part in run_map(_Candidates(view, quotas, centres, batch), items, engine):
        pending.setdefault(g, []).append(tuple(part))
        if len(pending[g]) == FAN_IN:
            pending[g] = [_merge(pending[g], int(quotas[g]), centres[g])]
    picked = [_merge(parts, int(quotas[g]), centres[g])[0] for g, parts in sorted(pending.items())]
    return np.concatenate(picked) if picked else np.zeros(0, np.int64)
