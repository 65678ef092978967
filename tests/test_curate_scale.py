"""Curation past memory: the streaming dedup's pieces equal exhaustive references, and what the
steps keep per segment stays a few compact numbers (no vectors, no Python object per segment)."""

from __future__ import annotations

import numpy as np

from vidsearch.curation.arrays import ArraySource
from vidsearch.curation.cluster import ClusterConfig, cluster_segments
from vidsearch.curation.dedup import DedupConfig, _close_pairs, _cluster_members, _exact_pairs, near_pairs
from vidsearch.curation.selection import Selection
from vidsearch.curation.vectors import normalize


def _exact_families(sizes: list[int]) -> np.ndarray:
    """One family per size, in its own two dimensions: row j of a family is (1, j / 8), so every
    product is exact in float32 and a row's similarities within its family are all different
    (a rank never depends on rounding); families are orthogonal."""
    x = np.zeros((sum(sizes), 2 * len(sizes)), np.float32)
    row = 0
    for f, size in enumerate(sizes):
        x[row : row + size, 2 * f] = 1.0
        x[row : row + size, 2 * f + 1] = np.arange(1, size + 1) / 8
        row += size
    return x


def test_close_pairs_equal_a_full_knn_also_where_rows_are_crowded():
    x = _exact_families([30, 12, 5, 2, 1])  # the first two have more rows over the threshold than k
    k, threshold = 8, 0.5
    s = x @ x.T
    expected = set()
    for i in range(len(x)):
        nearest = np.argsort(-s[i], kind="stable")[:k]
        expected |= {(i, int(j)) for j in nearest if j != i and s[i, j] >= threshold}
    for cells in (100, 1 << 22):  # queries two at a time, then all at once
        src, nbr = _close_pairs(x, k, threshold, cells=cells)
        assert set(zip(src.tolist(), nbr.tolist())) == expected
    per_row = np.bincount([i for i, _ in expected], minlength=len(x))
    assert per_row.max() == k and per_row[:42].min() >= k - 1  # the cap bit: these had 11 to 29 over the threshold


def _planted(n: int = 800, d: int = 32) -> np.ndarray:
    """Random unit moments (3 blocks of d); rows 0..99 are noisy copies of rows 400..499 and rows
    600..639 a family of 40 look-alikes of row 640."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, 3 * d)).astype(np.float32)
    x[:100] = x[400:500] + 0.05 * rng.standard_normal((100, 3 * d)).astype(np.float32)
    x[600:640] = x[640] + 0.05 * rng.standard_normal((40, 3 * d)).astype(np.float32)
    return normalize(x)


def test_streamed_near_pairs_equal_an_exhaustive_scan():
    """Every segment in every cluster (probe = clusters) and small batches: the streamed pass
    (k-means, packs, appearance then motion reads) finds exactly the pairs of an all-pairs scan."""
    x, d = _planted(), 32
    source = ArraySource(x)
    config = DedupConfig(0.9, 0.9, clusters=4, probe=4, neighbours=64)
    got = near_pairs(source, source.ids(), config, batch=64)
    appearance, motion = normalize(x[:, :d]), normalize(x[:, d:])
    a, b = np.nonzero(np.triu(appearance @ appearance.T >= 0.9, 1))
    moves = np.einsum("ij,ij->i", motion[a], motion[b]) >= 0.9
    expected = {(int(i), int(j)) for i, j in zip(a[moves], b[moves])}
    assert {tuple(p) for p in got.tolist()} == expected
    assert len(expected) == 100 + 41 * 40 // 2  # the planted copies and the family, nothing else


def test_what_dedup_and_cluster_keep_per_segment_is_compact():
    x = _planted()
    source = ArraySource(x)
    rows, bounds = _cluster_members(source, source.ids(), DedupConfig(0.9, 0.9, clusters=4, probe=2), 64, "local")
    assert rows.dtype == np.int32 and len(rows) == 2 * len(x) and bounds[0] == 0 and bounds[-1] == len(rows)
    assert np.array_equal(np.bincount(rows, minlength=len(x)), np.full(len(x), 2))  # each in its 2 nearest
    result = cluster_segments(source, Selection.everything(source), ClusterConfig(k=4, space="moments"), batch=64)
    for info in result.clusters:
        assert info.members.itemsize == 8 and info.members.typecode == "q"  # ids in one buffer, no int objects
    assert sorted(i for info in result.clusters for i in info.members) == list(range(len(x)))


def test_exact_pairs_join_each_later_segment_to_the_first_with_its_key():
    rng = np.random.default_rng(4)
    n = 5000
    meta = {
        "hash": rng.integers(-1, 300, n),  # -1: no hash, never an exact duplicate
        "start_ms": rng.integers(0, 3, n) * 5000,
        "end_ms": rng.integers(1, 3, n) * 5000,
    }
    keys = np.stack([meta["hash"], meta["start_ms"], meta["end_ms"]], axis=1)
    expected = set()
    first: dict[tuple, int] = {}
    for pos, key in enumerate(map(tuple, keys.tolist())):
        if key[0] < 0:
            continue
        if key in first:
            expected.add((first[key], pos))
        else:
            first[key] = pos
    got = _exact_pairs(meta)
    assert got.dtype == np.int64 and {tuple(p) for p in got.tolist()} == expected and len(got) == len(expected)
    assert len(expected) > 3000
