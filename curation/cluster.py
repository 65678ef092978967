"""``curate cluster``: motion clusters by k-means on the moments, with sizes and medoids.

Vectors are the chosen space of the moments (``motion`` by default: the std + skew blocks, so
clusters follow how things move more than what is in the shot), centred on the selection's mean
and renormalised: every clip of a corpus shares a large common component, and removing it lets
the cosine see the differences (spherical k-means on centred unit vectors). k is given, or chosen
by the best silhouette on a sample over a range of k.

The medoid of a cluster is the member with the largest summed cosine to all members, which for
unit vectors is the member most aligned with the cluster's mean vector: exact, in one pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vidsearch.curation.selection import Selection, SelectionError, StepReport
from vidsearch.curation.vectors import Space, vectors_of
from vidsearch.errors import ConfigError

SILHOUETTE_SAMPLE = 4000
SEED_SAMPLE = 20_000  # rows k-means++ seeding looks at
AUTO_K_MAX = 32


@dataclass(frozen=True)
class ClusterConfig:
    k: int | None = None  # None: chosen by silhouette among 2..k_max
    k_max: int = AUTO_K_MAX
    space: Space = "motion"
    centre: bool = True
    niter: int = 25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ConfigError(f"k must be >= 1 (got {self.k})")
        if self.k_max < 2:
            raise ConfigError(f"k_max must be >= 2 (got {self.k_max})")


@dataclass
class ClusterInfo:
    cluster: int
    size: int
    medoid: int  # segment id
    members: list[int]  # segment ids, nearest to the cluster's mean first


@dataclass
class ClusterResult:
    selection: Selection
    clusters: list[ClusterInfo]
    k: int
    silhouette: float | None
    report: StepReport


def cluster_vectors(source, ids: np.ndarray, config: ClusterConfig) -> np.ndarray:
    """The (centred) unit vectors k-means runs on."""
    x = vectors_of(source, ids, config.space)
    if config.centre and len(x) > 1:  # in place: at a million segments a copy is gigabytes
        x -= x.mean(axis=0)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def kmeans(
    x: np.ndarray, k: int, niter: int = 25, seed: int = 0, points_per_centroid: int = 512, assign: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """Spherical k-means with k-means++ seeding: (labels (n,) or None without ``assign``, unit
    centroids (k, d)).

    FAISS trains on at most ``points_per_centroid * k`` sampled rows (what keeps a million
    segments cheap), from k-means++ seeds (its own random seeding gets stuck on well-separated
    data); it needs >= 39 rows per centroid, so smaller sets run the same algorithm in NumPy.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    k = max(1, min(k, len(x)))
    rng = np.random.default_rng(seed)
    if len(x) < 39 * k:
        return _small_kmeans(x, k, niter, rng)
    import faiss

    sample = x[np.sort(rng.choice(len(x), min(len(x), SEED_SAMPLE), replace=False))]
    km = faiss.Kmeans(
        x.shape[1], k, niter=niter, seed=seed, spherical=True, max_points_per_centroid=points_per_centroid
    )
    km.train(x, init_centroids=_plus_plus(sample, k, rng))
    if not assign:
        return None, km.centroids
    return km.index.search(x, 1)[1][:, 0].astype(np.int64), km.centroids


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds: each next seed drawn with probability proportional to its cosine
    distance from the nearest seed so far."""
    seeds = [int(rng.integers(len(x)))]
    nearest = np.clip(1.0 - x @ x[seeds[0]], 0.0, None)
    for _ in range(1, k):
        total = nearest.sum()
        nxt = int(rng.choice(len(x), p=nearest / total)) if total > 0 else int(rng.integers(len(x)))
        seeds.append(nxt)
        np.minimum(nearest, np.clip(1.0 - x @ x[nxt], 0.0, None), out=nearest)
    return np.ascontiguousarray(x[seeds])


def _small_kmeans(x: np.ndarray, k: int, niter: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd iterations from k-means++ seeds, best of 3 restarts, in NumPy."""
    best = None
    for _ in range(3):
        c = _plus_plus(x, k, rng)
        for _ in range(niter):
            labels = np.argmax(x @ c.T, axis=1)
            sums = np.stack([x[labels == j].sum(axis=0) if np.any(labels == j) else c[j] for j in range(k)])
            c = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        labels = np.argmax(x @ c.T, axis=1)
        score = float(np.sum(x * c[labels]))
        if best is None or score > best[0]:
            best = (score, labels.astype(np.int64), c.astype(np.float32))
    return best[1], best[2]


def cluster_segments(source, selection: Selection, config: ClusterConfig = ClusterConfig()) -> ClusterResult:
    """Label every segment of ``selection`` with a cluster; describe each cluster."""
    n = len(selection)
    if n == 0:
        raise SelectionError("nothing to cluster: the selection is empty")
    x = cluster_vectors(source, selection.ids, config)
    silhouette = None
    if config.k is not None:
        k = min(config.k, n)
        labels, _ = kmeans(x, k, config.niter, config.seed)
    else:
        k, labels, silhouette = _choose_k(x, config)
    clusters = describe(x, labels, selection.ids)
    sel = selection.with_columns(cluster=labels.astype(np.int32))
    report = StepReport("cluster", {**asdict(config), "chosen_k": k, "silhouette": silhouette}, n, n, {})
    return ClusterResult(sel.record(report), clusters, k, silhouette, report)


def describe(x: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> list[ClusterInfo]:
    """Size, medoid and members (closest to the mean first) of each non-empty cluster."""
    out = []
    order = np.argsort(labels, kind="stable")
    present, starts = np.unique(labels[order], return_index=True)
    for c, rows in zip(present, np.split(order, starts[1:])):
        align = x[rows] @ x[rows].sum(axis=0)
        ranked = rows[np.argsort(-align, kind="stable")]
        out.append(ClusterInfo(int(c), len(rows), int(ids[ranked[0]]), [int(i) for i in ids[ranked]]))
    return sorted(out, key=lambda c: -c.size)


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (x unit rows); singleton clusters score 0."""
    d = 1.0 - x @ x.T
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    mean_to = np.stack([d[:, labels == c].mean(axis=1) for c in ks], axis=1)  # (n, k)
    own = np.searchsorted(ks, labels)
    sizes = np.bincount(own, minlength=len(ks))
    a = mean_to[np.arange(len(x)), own] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    mean_to[np.arange(len(x)), own] = np.inf
    b = mean_to.min(axis=1)
    s = np.where(sizes[own] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def _choose_k(x: np.ndarray, config: ClusterConfig) -> tuple[int, np.ndarray, float]:
    """The k in 2..k_max with the best silhouette, searched on a sample (ties: the smaller k),
    then k-means with that k on everything."""
    n = len(x)
    if n < 3:
        return 1, np.zeros(n, np.int64), 0.0
    rng = np.random.default_rng(config.seed)
    sample = x[np.sort(rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False))]
    best_k, best_score = 1, -np.inf
    for k in range(2, min(config.k_max, len(sample) - 1) + 1):
        labels, _ = kmeans(sample, k, config.niter, config.seed)
        score = silhouette(sample, labels)
        if score > best_score + 1e-9:
            best_k, best_score = k, score
    labels, _ = kmeans(x, best_k, config.niter, config.seed)
    return best_k, labels, float(best_score)
