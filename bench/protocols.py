"""SimMotion metrics as pure functions of a clip-by-clip similarity matrix.

Both official protocols reduce to the rank of the positive among every candidate except the
query itself: Synthetic (Recall@1: the positive is the nearest of all videos to the ref) and
Real (the positive beats its own negative, every other video and every distractor). Ties count
against the positive (rank = 1 + number of other candidates scoring >= it), so a method that
cannot tell clips apart scores 0, never a lucky 100 %.

Extras: Recall@5, mAP (one relevant clip per query, so AP = 1 / rank) and the pairwise accuracy
"positive beats its own negative". Intervals are percentile bootstraps over queries, resampled
within each category (the average is the mean of the category means, as the paper reports).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsearch.bench.layout import Triplet

METRICS = ("R@1", "R@5", "mAP", "pair")
AVERAGE = "average"


def positive_ranks(sim: np.ndarray, triplets: list[Triplet]) -> np.ndarray:
    """1-based rank of each triplet's positive among all clips but the ref (ties pessimistic)."""
    sim = np.asarray(sim, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"similarity matrix must be square, got shape {sim.shape}")
    ranks = np.empty(len(triplets), dtype=np.int64)
    for i, t in enumerate(triplets):
        row = sim[t.ref]
        others = np.ones(len(row), dtype=bool)
        others[[t.ref, t.positive]] = False
        ranks[i] = 1 + int(np.count_nonzero(row[others] >= row[t.positive]))
    return ranks


def pair_wins(sim: np.ndarray, triplets: list[Triplet]) -> np.ndarray:
    """Whether each positive scores strictly above its own negative (1.0 / 0.0)."""
    sim = np.asarray(sim, dtype=np.float64)
    return np.array([float(sim[t.ref, t.positive] > sim[t.ref, t.negative]) for t in triplets])


def per_query_scores(sim: np.ndarray, triplets: list[Triplet]) -> dict[str, np.ndarray]:
    """Each metric per query, as fractions in [0, 1]."""
    ranks = positive_ranks(sim, triplets)
    return {
        "R@1": (ranks == 1).astype(np.float64),
        "R@5": (ranks <= 5).astype(np.float64),
        "mAP": 1.0 / ranks,
        "pair": pair_wins(sim, triplets),
    }


@dataclass(frozen=True)
class Estimate:
    """A metric in percent with its 95 % bootstrap interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.1f} [{self.low:.1f}, {self.high:.1f}]"


def bootstrap_table(
    scores: np.ndarray, categories: list[str], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, Estimate]:
    """Per-category and average estimates (percent) of one per-query metric.

    The same resampled query indices are used for every category's draw, and the average of a
    draw is the mean of its category means, so the average's interval reflects all categories.
    """
    scores = np.asarray(scores, dtype=np.float64)
    cats = np.asarray(categories)
    if len(scores) != len(cats) or len(scores) == 0:
        raise ValueError(f"need one category per score (got {len(scores)} scores, {len(cats)} categories)")
    rng = np.random.default_rng(seed)
    names = list(dict.fromkeys(categories))
    draws = np.empty((len(names), n_boot))
    out: dict[str, Estimate] = {}
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    for j, name in enumerate(names):
        x = scores[cats == name]
        draws[j] = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
        out[name] = Estimate(100 * x.mean(), *(100 * np.percentile(draws[j], [lo_q, hi_q])))
    avg = draws.mean(axis=0)
    point = float(np.mean([scores[cats == n].mean() for n in names]))
    out[AVERAGE] = Estimate(100 * point, *(100 * np.percentile(avg, [lo_q, hi_q])))
    return out


def evaluate(
    sim: np.ndarray, triplets: list[Triplet], n_boot: int = 2000, seed: int = 0
) -> dict[str, dict[str, Estimate]]:
    """``{metric: {category or 'average': Estimate}}`` for one method's similarity matrix."""
    cats = [t.category for t in triplets]
    return {m: bootstrap_table(s, cats, n_boot, seed) for m, s in per_query_scores(sim, triplets).items()}


def paired_difference(
    a: np.ndarray, b: np.ndarray, categories: list[str], n_boot: int = 2000, seed: int = 0
) -> dict[str, Estimate]:
    """Method A minus method B on the same queries (percentage points), with a *paired* bootstrap:
    each draw resamples queries once and scores both methods on them, so the interval excludes 0
    only when A wins on the same queries, which two overlapping marginal intervals cannot show."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same queries (got {a.shape} and {b.shape})")
    return bootstrap_table(a - b, categories, n_boot, seed)
