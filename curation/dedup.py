"""Near-duplicate groups: the same footage re-encoded, cropped, recoloured or copied.

Two passes, as semantic-deduplication pipelines do (NeMo Curator's SemDeDup: k-means, then
pairwise similarity inside each cluster), made motion-aware:

1. **Exact**: segments of files with the same content hash over the same time range.
2. **Near**: the remaining segments are clustered by FAISS k-means on their *appearance* vectors
   (the mean block of the moments); each segment joins its ``probe`` nearest clusters, so a pair
   straddling a cluster border is still compared. Inside each cluster an exact k-NN (one BLAS
   product per block) finds each segment's ``neighbours`` nearest (a k-NN search, so memory stays
   bounded even where many segments look alike) whose appearance cosine reaches
   ``appearance_threshold``; a pair is a duplicate only if its *motion* cosine (std + skew blocks)
   also reaches ``motion_threshold``.

Streaming: the exact pass reads its columns ``batch`` segments at a time; k-means trains on a
sample; the assignment to clusters is one pass over the segments ``batch`` at a time (keeping
``probe`` int32 positions per segment); then clusters are packed into work items of about
``batch`` segments, each fetching its members' appearance vectors and then the motion vectors of
just the segments in an appearance pair. No step holds every segment's vectors, and each item
runs on the local or the Ray engine alike.

Why both: a re-encode, crop or recolour of a clip keeps both its content and its motion, so both
cosines stay high; two different shots that move alike (the product's whole point) share motion
but not appearance, and the same scene with another motion shares appearance but not motion.
Duplicate pairs are joined into groups (connected components). In each group one segment is kept:
the highest resolution, then the longest, then the highest bitrate (file size * 8 / duration),
then the lowest id. Cost: k-means on a sample, then sum over clusters of size^2 dot products with
``clusters ~ sqrt(n)``: O(n^1.5 d) time. Memory: one work item and the k-means sample (which
grows as sqrt(n) up to its cap), plus about 100 bytes per segment (ids, the exact pass's six
columns, labels) and 4 * probe for the cluster members (12 * probe while they are sorted).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from vidsearch.curation.cluster import kmeans, training_rows
from vidsearch.curation.engine import BATCH, chunks, run_map
from vidsearch.curation.selection import Selection, StepReport
from vidsearch.curation.source import text_codes
from vidsearch.curation.vectors import project, vectors_of
from vidsearch.errors import ConfigError

# (appearance, motion) cosine thresholds per backbone, measured on the real clips and their
# re-encoded / cropped / recoloured copies (docs/curation.md): with these, every copy joins
# its source's group and no two different clips are joined. Other backbones need explicit values.
CALIBRATED_THRESHOLDS = {"dinov2-s14": (0.93, 0.90), "efficientnet-lite0": (0.66, 0.80)}
# Below this many segments every pair is compared directly (one cluster).
SMALL_SET = 4096
# A work item of the near pass: (positions, ids) of each of its clusters.
Pack = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class DedupConfig:
    appearance_threshold: float
    motion_threshold: float
    clusters: int | None = None  # k-means clusters; default ~sqrt(n)
    probe: int = 3  # clusters each segment is compared in (planted-duplicate recall: see docs/scale.md)
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


def deduplicate(
    source, selection: Selection, config: DedupConfig, batch: int = BATCH, engine: str = "local"
) -> DedupResult:
    """Group duplicates among ``selection`` and keep one segment per group."""
    ids = selection.ids
    n = len(ids)
    meta = _meta(source, ids, batch)
    exact_edges = _exact_pairs(meta) if config.exact else np.zeros((0, 2), np.int64)
    exact_label = _components(n, exact_edges)
    reps = np.unique(exact_label, return_index=True)[1]  # one representative per exact group
    near_edges = np.zeros((0, 2), np.int64)
    if config.near and len(reps) > 1:
        pairs = near_pairs(source, ids[reps], config, batch, engine)
        near_edges = reps[pairs]
    label = _components(n, np.concatenate([exact_edges, near_edges]))
    order = _keep_order(meta, ids)
    # best first: the first member of each group in that order is the one kept (arrays only: no
    # Python object per segment, so a million segments cost megabytes here)
    _, first = np.unique(label[order], return_index=True)
    keep_pos = order[first]
    keep_mask = np.zeros(n, bool)
    keep_mask[keep_pos] = True
    sizes = np.bincount(label)
    keep_of = np.zeros(len(sizes), np.int64)
    keep_of[label[keep_pos]] = keep_pos
    dup_count = np.zeros(n, np.int32)
    dup_count[keep_pos] = sizes[label[keep_pos]] - 1
    dropped = np.flatnonzero((sizes[label] > 1) & ~keep_mask)
    same = exact_label[dropped] == exact_label[keep_of[label[dropped]]]
    removed = {"exact duplicates": int(same.sum()), "near duplicates": int((~same).sum())}
    grouped = np.flatnonzero(sizes[label] > 1)
    grouped = grouped[np.argsort(label[grouped], kind="stable")]
    bounds = np.flatnonzero(np.diff(label[grouped])) + 1
    groups = [
        DuplicateGroup(
            int(ids[keep_of[label[members[0]]]]),
            [int(i) for i in ids[members]],
            "exact" if np.all(exact_label[members] == exact_label[members[0]]) else "near",
        )
        for members in (np.split(grouped, bounds) if len(grouped) else [])
    ]
    groups.sort(key=lambda g: g.keep)
    out = selection.with_columns(dup_count=dup_count).take(keep_mask)
    report = StepReport("dedup", asdict(config), n, int(keep_mask.sum()), removed)
    return DedupResult(out.record(report), groups, report)


def _meta(source, ids: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    """What the exact pass and the keep rule compare, read ``batch`` segments at a time into
    arrays of 8 bytes a segment each: the content hash as an integer code (-1: none), the range
    in milliseconds, and the keep rule's resolution, length and bitrate."""
    out = {name: np.empty(len(ids), np.int64) for name in ("hash", "start_ms", "end_ms")}
    out.update({name: np.empty(len(ids), np.float64) for name in ("pixels", "length", "bitrate")})
    distinct: dict = {}
    for start in range(0, len(ids), batch):
        t = source.table(
            ids[start : start + batch], ["hash", "start_s", "end_s", "width", "height", "size", "duration"]
        )
        part = slice(start, start + t.num_rows)
        col = {c: t.column(c).to_numpy().astype(np.float64) for c in t.column_names if c not in ("id", "hash")}
        out["hash"][part] = _codes(t.column("hash").combine_chunks(), distinct)
        out["start_ms"][part] = np.rint(col["start_s"] * 1000)
        out["end_ms"][part] = np.rint(col["end_s"] * 1000)
        out["pixels"][part] = col["width"] * col["height"]
        out["length"][part] = np.round(col["end_s"] - col["start_s"], 2)
        out["bitrate"][part] = np.round(col["size"] * 8 / np.maximum(col["duration"], 1e-9))
    return out


def _codes(hashes: pa.Array, distinct: dict) -> np.ndarray:
    """Integer codes of content hashes (-1: none): an integer hash is its own code; a text one is
    numbered as it first appears in ``distinct`` (one entry per distinct file, not per segment)."""
    if pa.types.is_integer(hashes.type):
        import pyarrow.compute as pc

        return pc.fill_null(hashes, -1).to_numpy().astype(np.int64)
    return text_codes(hashes, distinct)


def _exact_pairs(meta: dict[str, np.ndarray]) -> np.ndarray:
    """Edges from the first segment of each (content hash, time range to the millisecond) to
    every later one with the same key."""
    pos = np.flatnonzero(meta["hash"] >= 0)
    if not len(pos):
        return np.zeros((0, 2), np.int64)
    keys = [meta[name][pos] for name in ("end_ms", "start_ms", "hash")]
    order = np.lexsort(keys)  # by key, then by position (lexsort is stable)
    same = np.ones(len(order), bool)
    for key in keys:
        ordered = key[order]
        same[1:] &= ordered[1:] == ordered[:-1]
    same[0] = False
    first = order[np.maximum.accumulate(np.where(same, 0, np.arange(len(order))))]  # first of each key
    return np.stack([pos[first[same]], pos[order[same]]], axis=1).astype(np.int64)


def near_pairs(source, ids: np.ndarray, config: DedupConfig, batch: int = BATCH, engine: str = "local") -> np.ndarray:
    """Positions (i, j), i < j, into ``ids`` of segment pairs that are near duplicates."""
    rows, bounds = _cluster_members(source, ids, config, batch, engine)
    packs = _packs(ids, rows, bounds, batch)
    found = [p for p in run_map(_ClusterPairs(source, config, batch), packs, engine) if len(p)]
    if not found:
        return np.zeros((0, 2), np.int64)
    return np.unique(np.concatenate(found), axis=0)


def _packs(ids: np.ndarray, rows: np.ndarray, bounds: np.ndarray, batch: int) -> Iterator[Pack]:
    """Clusters of two or more members, packed in order into work items of about ``batch``
    segments (a bigger cluster is an item of its own): (positions, ids) per cluster. Made one
    item at a time, so only the item being compared holds its members' ids twice."""
    current, size = [], 0
    for c in range(len(bounds) - 1):
        members = rows[bounds[c] : bounds[c + 1]]
        if len(members) < 2:
            continue
        if current and size + len(members) > batch:
            yield current
            current, size = [], 0
        current.append((members, ids[members]))
        size += len(members)
    if current:
        yield current


class _ClusterPairs:
    """Near-duplicate pairs inside each cluster of a pack, reading only the pack's moments
    ``batch`` rows at a time: the appearance vectors of the pack, then the motion vectors of
    just the segments in an appearance pair."""

    def __init__(self, source, config: DedupConfig, batch: int = BATCH):
        self.source, self.config, self.batch = source, config, batch

    def __call__(self, pack: Pack) -> np.ndarray:
        cfg = self.config
        wanted = np.unique(np.concatenate([pack_ids for _, pack_ids in pack]))
        appearance = vectors_of(self.source, wanted, "appearance", self.batch)
        close = []  # (positions a, b into the index's ids; rows a, b into wanted)
        for rows, pack_ids in pack:
            at = np.searchsorted(wanted, pack_ids)
            a, b = _close_pairs(appearance[at], min(cfg.neighbours + 1, len(rows)), cfg.appearance_threshold)
            if len(a):
                close.append((rows[a], rows[b], at[a], at[b]))
        del appearance
        if not close:
            return np.zeros((0, 2), np.int64)
        a, b, wa, wb = (np.concatenate(part) for part in zip(*close))
        involved = np.unique(np.concatenate([wa, wb]))
        motion = vectors_of(self.source, wanted[involved], "motion", self.batch)
        ma, mb = np.searchsorted(involved, wa), np.searchsorted(involved, wb)
        moves = np.einsum("ij,ij->i", motion[ma], motion[mb]) >= cfg.motion_threshold
        a, b = a[moves].astype(np.int64), b[moves].astype(np.int64)
        return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)  # unordered: once each


def _close_pairs(x: np.ndarray, k: int, threshold: float, cells: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """(row, neighbour) pairs: each row's neighbours among its ``k`` nearest rows (itself
    included, then left out) whose cosine reaches ``threshold``. Exact, one BLAS product per block
    of queries with at most ``cells`` similarities (16 MB), so a cluster of any size costs the
    same memory; a row with more than ``k`` rows over the threshold keeps its ``k`` nearest (the
    same partial sort a full k-NN would do), and nothing of a block outlives it but its pairs."""
    block = max(1, min(2048, cells // max(len(x), 1)))
    src, nbr = [], []
    for start in range(0, len(x), block):
        s = x[start : start + block] @ x.T
        over = s >= threshold
        crowded = np.flatnonzero(over.sum(axis=1) > k)
        if len(crowded):
            top = np.argpartition(-s[crowded], k - 1, axis=1)[:, :k]
            over[crowded] = False
            over[crowded[:, None], top] = True
        i, j = np.nonzero(over)
        i += start
        mine = i != j
        src.append(i[mine])
        nbr.append(j[mine])
    return np.concatenate(src), np.concatenate(nbr)


class _Nearest:
    """The ``probe`` nearest centroids of each segment of a batch (appearance cosine)."""

    def __init__(self, source, centroids: np.ndarray, probe: int):
        self.source, self.centroids, self.probe = source, centroids, probe

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        import faiss

        x = project(self.source.moments(ids), "appearance", self.source.moment_block)
        nearest = faiss.IndexFlatIP(self.centroids.shape[1])
        nearest.add(self.centroids)
        return nearest.search(x, self.probe)[1].astype(np.int32)


def _cluster_members(
    source, ids: np.ndarray, config: DedupConfig, batch: int, engine: str
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the members of every k-means cluster, cluster after cluster, and where each
    cluster starts (k + 1 bounds); every segment is in its ``probe`` nearest clusters. Int32
    positions when they fit: ``4 * probe`` bytes per segment."""
    n = len(ids)
    k = config.clusters or (1 if n <= SMALL_SET else int(round(np.sqrt(n))))
    k = max(1, min(k, n))
    if k == 1:
        return np.arange(n, dtype=_position_type(n)), np.array([0, n])
    sample = vectors_of(source, ids[training_rows(n, k, config.seed, per_centroid=128)], "appearance", batch)
    _, centroids = kmeans(sample, k, niter=10, seed=config.seed, points_per_centroid=128, assign=False)
    del sample
    probe = min(config.probe, k)
    assign = np.concatenate(list(run_map(_Nearest(source, centroids, probe), chunks(ids, batch), engine))).reshape(-1)
    order = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[order], np.arange(k + 1))
    del assign
    order //= probe  # a flat (segment, choice) number -> the segment's position
    return order.astype(_position_type(n)), bounds


def _position_type(n: int) -> type:
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


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
    return np.lexsort((ids, -meta["bitrate"], -meta["length"], -meta["pixels"]))
