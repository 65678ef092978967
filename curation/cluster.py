"""``curate cluster``: motion clusters by k-means on the moments, with sizes and medoids.

Vectors are the chosen space of the moments (``motion`` by default: the std + skew blocks, so
clusters follow how things move more than what is in the shot), centred on the selection's mean
and renormalised: every clip of a corpus shares a large common component, and removing it lets
the cosine see the differences (spherical k-means on centred unit vectors). k is given, or chosen
by the best silhouette on a sample over a range of k.

The medoid of a cluster is the member with the largest summed cosine to all members, which for
unit vectors is the member most aligned with the cluster's mean vector: exact, in one pass.

Nothing holds every segment's vectors: the mean, the labels with each cluster's vector sum, and
the alignments are streamed ``batch`` segments at a time (on the local or the Ray engine); k-means
trains on a sample of at most ``points_per_centroid * k`` rows (all of them when the selection is
that small, so small selections cluster exactly as one in-memory k-means does).
"""

from __future__ import annotations

from array import array
from dataclasses import asdict, dataclass

import numpy as np

from vidsearch.curation.engine import BATCH, chunks, run_map
from vidsearch.curation.selection import Selection, SelectionError, StepReport
from vidsearch.curation.vectors import Centred, Space, gather, streamed_mean
from vidsearch.errors import ConfigError

SILHOUETTE_SAMPLE = 4000
SEED_SAMPLE = 20_000  # rows k-means++ seeding looks at
AUTO_K_MAX = 32
POINTS_PER_CENTROID = 512
TRAIN_CAP = 262_144  # rows k-means ever trains on (>= 39 per centroid up to 6,700 clusters)


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
    members: array  # segment ids ('q': 8 bytes each, no Python int per segment), nearest to the mean first


@dataclass
class ClusterResult:
    selection: Selection
    clusters: list[ClusterInfo]
    k: int
    silhouette: float | None
    report: StepReport


def cluster_view(source, ids: np.ndarray, config: ClusterConfig, batch: int = BATCH, engine: str = "local") -> Centred:
    """The (centred) unit vectors k-means runs on, as a view fetched batch by batch; the mean
    is streamed once."""
    mean = streamed_mean(source, ids, config.space, batch, engine) if config.centre and len(ids) > 1 else None
    return Centred(source, config.space, mean)


def training_rows(n: int, k: int, seed: int, per_centroid: int = POINTS_PER_CENTROID) -> np.ndarray:
    """Sorted positions k-means trains on: all ``n`` when few enough, else a seeded sample."""
    cap = min(per_centroid * k, TRAIN_CAP)
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


class _Assign:
    """Nearest centroid (largest cosine) of each segment of a batch, and each cluster's vector sum."""

    def __init__(self, view: Centred, centroids: np.ndarray):
        self.view, self.centroids = view, centroids

    def __call__(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.view(ids)
        labels = np.argmax(x @ self.centroids.T, axis=1)
        return labels.astype(np.int64), label_sums(x, labels, len(self.centroids))


class _Align:
    """Cosine-sum alignment of each segment of a batch with its cluster's vector sum."""

    def __init__(self, view: Centred, sums: np.ndarray):
        self.view, self.sums = view, sums

    def __call__(self, item: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        ids, labels = item
        return np.einsum("ij,ij->i", self.view(ids).astype(np.float64), self.sums[labels])


def assign(
    view: Centred, ids: np.ndarray, centroids: np.ndarray, batch: int, engine: str = "local"
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of all ``ids`` and the per-cluster vector sums, streamed."""
    labels, sums = [], np.zeros((len(centroids), centroids.shape[1]))
    for part, part_sums in run_map(
        _Assign(view, np.ascontiguousarray(centroids, np.float32)), chunks(ids, batch), engine
    ):
        labels.append(part)
        sums += part_sums
    return (np.concatenate(labels) if labels else np.zeros(0, np.int64)), sums


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


def cluster_segments(
    source, selection: Selection, config: ClusterConfig = ClusterConfig(), batch: int = BATCH, engine: str = "local"
) -> ClusterResult:
    """Label every segment of ``selection`` with a cluster; describe each cluster."""
    n = len(selection)
    if n == 0:
        raise SelectionError("nothing to cluster: the selection is empty")
    ids = selection.ids
    view = cluster_view(source, ids, config, batch, engine)
    silhouette = None
    if config.k is not None:
        k = min(config.k, n)
    else:
        k, silhouette = _choose_k(view, ids, config, batch)
    if k == 1:
        centroids = _unit(gather(view, ids[: min(n, 1)], batch))
    else:
        _, centroids = kmeans(
            gather(view, ids[training_rows(n, k, config.seed)], batch), k, config.niter, config.seed, assign=False
        )
    labels, sums = assign(view, ids, centroids, batch, engine)
    clusters = describe(view, ids, labels, batch, engine, sums)
    sel = selection.with_columns(cluster=labels.astype(np.int32))
    report = StepReport("cluster", {**asdict(config), "chosen_k": k, "silhouette": silhouette}, n, n, {})
    return ClusterResult(sel.record(report), clusters, k, silhouette, report)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def describe(
    view: Centred,
    ids: np.ndarray,
    labels: np.ndarray,
    batch: int = BATCH,
    engine: str = "local",
    sums: np.ndarray | None = None,
) -> list[ClusterInfo]:
    """Size, medoid and members (closest to the mean first) of each non-empty cluster, from two
    streamed passes (the cluster sums, unless given, then each member's alignment)."""
    labels = np.asarray(labels, np.int64)
    items = list(zip(chunks(ids, batch), chunks(labels, batch)))
    if sums is None:
        sums = sum(run_map(GroupSums(view, int(labels.max()) + 1 if len(labels) else 0), items, engine))
    align = np.concatenate(list(run_map(_Align(view, sums), items, engine))) if items else np.zeros(0)
    order = np.lexsort((-align, labels))
    present, starts = np.unique(labels[order], return_index=True)
    out = [
        ClusterInfo(int(c), len(rows), int(ids[rows[0]]), _id_array(ids[rows]))
        for c, rows in zip(present, np.split(order, starts[1:]))
    ]
    return sorted(out, key=lambda c: -c.size)


def _id_array(ids: np.ndarray) -> array:
    out = array("q")
    out.frombytes(np.ascontiguousarray(ids, np.int64).tobytes())
    return out


class GroupSums:
    """Each group's vector sum (float64: any batching gives the same sums) over a batch of
    ``(ids, labels)``."""

    def __init__(self, view: Centred, k: int):
        self.view, self.k = view, k

    def __call__(self, item: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        ids, labels = item
        return label_sums(self.view(ids), labels, self.k)


def label_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, d) float64 sums of the rows of ``x`` per label (one sparse product)."""
    from scipy.sparse import coo_matrix

    onehot = coo_matrix((np.ones(len(x)), (labels, np.arange(len(x)))), shape=(k, len(x))).tocsr()
    return np.asarray(onehot @ x.astype(np.float64))


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


def _choose_k(view: Centred, ids: np.ndarray, config: ClusterConfig, batch: int) -> tuple[int, float]:
    """The k in 2..k_max with the best silhouette on a sample (ties: the smaller k)."""
    n = len(ids)
    if n < 3:
        return 1, 0.0
    rng = np.random.default_rng(config.seed)
    sample = gather(view, ids[np.sort(rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False))], batch)
    best_k, best_score = 1, -np.inf
    for k in range(2, min(config.k_max, len(sample) - 1) + 1):
        labels, _ = kmeans(sample, k, config.niter, config.seed)
        score = silhouette(sample, labels)
        if score > best_score + 1e-9:
            best_k, best_score = k, score
    return best_k, float(best_score)
