"""Near-duplicate groups: the same footage re-encoded, cropped, recoloured or copied.

Two passes, as semantic-deduplication pipelines do (NeMo Curator's SemDeDup: k-means, then
pairwise similarity inside each cluster), made motion-aware:

1. **Exact**: segments of files with the same content hash over the same time range.
2. **Near**: the remaining segments are clustered by FAISS k-means on their *appearance* vectors
   (the mean block of the moments); each segment joins its ``probe`` nearest clusters, so a pair
   straddling a cluster border is still compared. Inside each cluster an exact k-NN (one BLAS
   product per block) finds each segment's ``neighbours`` nearest (a k-NN search, so memory stays
   bounded even where many segments look alike) whose appearance cosine reaches
   ``appearance_threshold``; a pair is a duplicate only if its *motion* cosine (std + skew
   blocks) also reaches ``motion_threshold``.

Why both: a re-encode, crop or recolour of a clip keeps both its content and its motion, so both
cosines stay high; two different shots that move alike (the product's whole point) share motion
but not appearance, and the same scene with another motion shares appearance but not motion.
Duplicate pairs are joined into groups (connected components). In each group one segment is kept:
the highest resolution, then the longest, then the highest bitrate (file size * 8 / duration),
then the lowest id. Cost: k-means on a sample, then sum over clusters of size^2 dot products with
``clusters ~ sqrt(n)``: O(n^1.5 d), linear memory in n for the appearance vectors only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vidsearch.curation.cluster import kmeans
from vidsearch.curation.selection import Selection, StepReport
from vidsearch.curation.vectors import vectors_of
from vidsearch.errors import ConfigError

# (appearance, motion) cosine thresholds per backbone, measured on the real clips and their
# re-encoded / cropped / recoloured copies (docs/curation.md): with these, every copy joins
# its source's group and no two different clips are joined. Other backbones need explicit values.
CALIBRATED_THRESHOLDS = {"dinov2-s14": (0.93, 0.90), "efficientnet-lite0": (0.66, 0.80)}
# Below this many segments every pair is compared directly (one cluster).
SMALL_SET = 4096


@dataclass(frozen=True)
class DedupConfig:
    appearance_threshold: float
    motion_threshold: float
    clusters: int | None = None  # k-means clusters; default ~sqrt(n)
    probe: int = 2  # clusters each segment is compared in
    neighbours: int = 32  # nearest appearance neighbours checked per segment (bounds memory)
    exact: bool = True
    near: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("appearance_threshold", "motion_threshold"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name.replace('_', ' ')} must be a cosine in [-1, 1] (got {getattr(self, name)})")
        if self.clusters is not None and self.clusters < 1:
            raise ConfigError(f"clusters must be >= 1 (got {self.clusters})")
        if self.probe < 1 or self.neighbours < 1:
            raise ConfigError(f"probe and neighbours must be >= 1 (got {self.probe}, {self.neighbours})")

    @classmethod
    def for_backbone(
        cls, backbone: str, appearance: float | None = None, motion: float | None = None, **kwargs
    ) -> DedupConfig:
        """Thresholds given, or else the ones calibrated for ``backbone`` (ValueError if none)."""
        if appearance is None or motion is None:
            if backbone not in CALIBRATED_THRESHOLDS:
                raise ConfigError(
                    f"no calibrated dedup thresholds for backbone {backbone!r} (only "
                    f"{', '.join(CALIBRATED_THRESHOLDS)}); "
                    "give --appearance-threshold and --motion-threshold"
                )
            default = CALIBRATED_THRESHOLDS[backbone]
            appearance = default[0] if appearance is None else appearance
            motion = default[1] if motion is None else motion
        return cls(appearance, motion, **kwargs)


@dataclass
class DuplicateGroup:
    keep: int  # segment id kept
    members: list[int]  # every segment id of the group, the kept one included
    kind: str  # "exact" when all members share content and range, else "near"


@dataclass
class DedupResult:
    selection: Selection
    groups: list[DuplicateGroup]
    report: StepReport


def deduplicate(source, selection: Selection, config: DedupConfig) -> DedupResult:
    """Group duplicates among ``selection`` and keep one segment per group."""
    ids = selection.ids
    n = len(ids)
    meta = source.table(ids, ["hash", "start_s", "end_s", "width", "height", "size", "duration"]).to_pydict()
    exact_edges = _exact_pairs(meta) if config.exact else np.zeros((0, 2), np.int64)
    exact_label = _components(n, exact_edges)
    removed = {"exact duplicates": 0, "near duplicates": 0}
    reps = np.unique(exact_label, return_index=True)[1]  # one representative per exact group
    near_edges = np.zeros((0, 2), np.int64)
    if config.near and len(reps) > 1:
        pairs = near_pairs(source, ids[reps], config)
        near_edges = reps[pairs]
    label = _components(n, np.concatenate([exact_edges, near_edges]))
    order = _keep_order(meta, ids)
    keep_mask = np.zeros(n, bool)
    groups: list[DuplicateGroup] = []
    first_of: dict[int, int] = {}
    for pos in order:  # best first: the first member seen of each group is the one kept
        g = int(label[pos])
        if g not in first_of:
            first_of[g] = pos
            keep_mask[pos] = True
    members_of: dict[int, list[int]] = {}
    for pos in range(n):
        members_of.setdefault(int(label[pos]), []).append(pos)
    dup_count = np.zeros(n, np.int32)
    for g, members in members_of.items():
        if len(members) < 2:
            continue
        keep = first_of[g]
        kind = "exact" if len({int(exact_label[m]) for m in members}) == 1 else "near"
        groups.append(DuplicateGroup(int(ids[keep]), [int(ids[m]) for m in members], kind))
        dup_count[keep] = len(members) - 1
        for m in members:
            if m != keep:
                removed["exact duplicates" if exact_label[m] == exact_label[keep] else "near duplicates"] += 1
    groups.sort(key=lambda g: g.keep)
    out = selection.with_columns(dup_count=dup_count).take(keep_mask)
    report = StepReport("dedup", asdict(config), n, int(keep_mask.sum()), removed)
    return DedupResult(out.record(report), groups, report)


def _exact_pairs(meta: dict) -> np.ndarray:
    """Edges between segments with the same content hash and time range (to the millisecond)."""
    first: dict[tuple, int] = {}
    edges = []
    for pos, key in enumerate(zip(meta["hash"], np.round(meta["start_s"], 3), np.round(meta["end_s"], 3))):
        if key[0] is None:
            continue
        if key in first:
            edges.append((first[key], pos))
        else:
            first[key] = pos
    return np.asarray(edges, dtype=np.int64).reshape(-1, 2)


def near_pairs(source, ids: np.ndarray, config: DedupConfig) -> np.ndarray:
    """Positions (i, j), i < j, into ``ids`` of segment pairs that are near duplicates."""
    appearance = vectors_of(source, ids, "appearance")
    members = _cluster_members(appearance, config)
    found = []
    for rows in members:
        if len(rows) < 2:
            continue
        x = appearance[rows]
        sim, nbr = _nearest(x, min(config.neighbours + 1, len(rows)))
        src = np.broadcast_to(np.arange(len(rows))[:, None], nbr.shape)
        keep = (sim >= config.appearance_threshold) & (nbr != src)
        if not keep.any():
            continue
        a, b = rows[src[keep]], rows[nbr[keep]]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))  # unordered: once each
    if not found:
        return np.zeros((0, 2), np.int64)
    pairs = np.unique(np.concatenate(found), axis=0)
    motion_ok = _motion_cosines(source, ids, pairs) >= config.motion_threshold
    return pairs[motion_ok]


def _nearest(x: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and rows of each row's ``k`` nearest rows (itself included), exact, in blocks of
    ``block`` queries. A BLAS matrix product per block: for the few thousand rows of one cluster
    this is much faster than a FAISS call, whose thread start-up dominates at that size."""
    sims, nbrs = [], []
    for start in range(0, len(x), block):
        s = x[start : start + block] @ x.T
        idx = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < len(x) else np.broadcast_to(np.arange(len(x)), s.shape)
        sims.append(np.take_along_axis(s, idx, axis=1))
        nbrs.append(idx)
    return np.concatenate(sims), np.concatenate(nbrs)


def _cluster_members(x: np.ndarray, config: DedupConfig) -> list[np.ndarray]:
    """Rows of each k-means cluster, every row in its ``probe`` nearest clusters."""
    import faiss

    n = len(x)
    k = config.clusters or (1 if n <= SMALL_SET else int(round(np.sqrt(n))))
    k = max(1, min(k, n))
    if k == 1:
        return [np.arange(n)]
    _, centroids = kmeans(x, k, niter=10, seed=config.seed, points_per_centroid=128, assign=False)
    probe = min(config.probe, k)
    nearest = faiss.IndexFlatIP(centroids.shape[1])
    nearest.add(centroids)
    assign = nearest.search(x, probe)[1]
    flat_rows = np.repeat(np.arange(n), probe)
    flat_clusters = assign.reshape(-1)
    order = np.argsort(flat_clusters, kind="stable")
    bounds = np.searchsorted(flat_clusters[order], np.arange(k + 1))
    return [flat_rows[order[bounds[c] : bounds[c + 1]]] for c in range(k)]


def _motion_cosines(source, ids: np.ndarray, pairs: np.ndarray, batch: int = 65536) -> np.ndarray:
    """Motion cosine of each candidate pair, fetching only the vectors the pairs involve."""
    involved = np.unique(pairs)
    where = np.searchsorted(involved, pairs)
    motion = vectors_of(source, ids[involved], "motion", batch)
    return np.einsum("ij,ij->i", motion[where[:, 0]], motion[where[:, 1]])


def _components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(edges) == 0:
        return np.arange(n)
    graph = coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _keep_order(meta: dict, ids: np.ndarray) -> np.ndarray:
    """Positions best first: resolution, then segment duration, then bitrate, then lowest id."""
    pixels = np.asarray(meta["width"], np.float64) * np.asarray(meta["height"], np.float64)
    length = np.asarray(meta["end_s"], np.float64) - np.asarray(meta["start_s"], np.float64)
    duration = np.maximum(np.asarray(meta["duration"], np.float64), 1e-9)
    bitrate = np.asarray(meta["size"], np.float64) * 8 / duration
    return np.lexsort((ids, -np.round(bitrate), -np.round(length, 2), -pixels))
