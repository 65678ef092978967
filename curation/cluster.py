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

from vidsearch.curation.selection import Selection, StepReport
from vidsearch.curation.vectors import Space, vectors_of

SILHOUETTE_SAMPLE = 4000
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
            raise ValueError(f"k must be >= 1 (got {self.k})")
        if self.k_max < 2:
            raise ValueError(f"k_max must be >= 2 (got {self.k_max})")


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


def kmeans(x: np.ndarray, k: int, niter: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spherical FAISS k-means: (labels (n,), unit centroids (k, d))."""
    import faiss

    k = max(1, min(k, len(x)))
    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, spherical=True, max_points_per_centroid=512, nredo=3 if len(x) < 100_000 else 1)
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    labels = km.index.search(np.ascontiguousarray(x, dtype=np.float32), 1)[1][:, 0]
    return labels.astype(np.int64), km.centroids


def cluster_segments(source, selection: Selection, config: ClusterConfig = ClusterConfig()) -> ClusterResult:
    """Label every segment of ``selection`` with a cluster; describe each cluster."""
    n = len(selection)
    if n == 0:
        raise ValueError("nothing to cluster: the selection is empty")
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
