"""Curation building blocks on vectors with a known answer (no video, no encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.curation.arrays import ArraySource
from vidsearch.curation.cluster import ClusterConfig, cluster_segments, silhouette
from vidsearch.curation.dedup import DedupConfig, deduplicate
from vidsearch.curation.filter import FilterConfig, filter_segments
from vidsearch.curation.pacing import pacing_classes
from vidsearch.curation.sample import allocate, farthest_points
from vidsearch.curation.selection import Selection


def _blobs(rng, centres: int, per: int, dim: int = 48, spread: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    c = rng.standard_normal((centres, dim))
    x = np.repeat(c, per, axis=0) + spread * rng.standard_normal((centres * per, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), np.repeat(np.arange(centres), per)


def test_auto_k_finds_separated_clusters_and_medoids_are_central():
    rng = np.random.default_rng(1)
    x, truth = _blobs(rng, 5, 40)
    source = ArraySource(x, block=None)
    result = cluster_segments(source, Selection.everything(source), ClusterConfig(space="moments", centre=False))
    assert result.k == 5
    for info in result.clusters:
        members = np.array(info.members)
        assert len(set(truth[members])) == 1
        sums = x[members] @ x[members].sum(axis=0)
        assert info.medoid == members[np.argmax(sums)]
    assert silhouette(x, truth) > silhouette(x, rng.permutation(truth))


def test_scaled_near_dup_search_matches_brute_force():
    """Planted near-duplicates among 6,000 segments (k-means path, default probe) = an exact all-pairs scan."""
    rng = np.random.default_rng(2)
    n, d = 6000, 32
    x = rng.standard_normal((n, 3 * d)).astype(np.float32)
    x[:300] = x[3000:3300] + 0.08 * rng.standard_normal((300, 3 * d)).astype(np.float32)
    src = ArraySource(x / np.linalg.norm(x, axis=1, keepdims=True))
    config = DedupConfig(0.9, 0.9)
    got = deduplicate(src, Selection.everything(src), config)
    assert len(got.groups) == 300 and all(len(g.members) == 2 for g in got.groups)
    assert {tuple(sorted(g.members)) for g in got.groups} == {(i, 3000 + i) for i in range(300)}
    assert got.report.removed == {"exact duplicates": 0, "near duplicates": 300}


def test_keep_rule_resolution_then_duration_then_bitrate():
    rng = np.random.default_rng(3)
    base = rng.standard_normal(96).astype(np.float32)
    x = np.stack([base + 0.01 * rng.standard_normal(96).astype(np.float32) for _ in range(4)])
    cols = {
        "width": np.array([640, 1280, 1280, 1280]), "height": np.array([360, 720, 720, 720]),
        "end_s": np.array([5.0, 5.0, 4.0, 5.0]), "duration": np.full(4, 5.0),
        "size": np.array([9e6, 1e6, 9e6, 2e6]),
    }  # fmt: skip
    src = ArraySource(x / np.linalg.norm(x, axis=1, keepdims=True), cols)
    result = deduplicate(src, Selection.everything(src), DedupConfig(0.9, 0.9))
    assert [g.keep for g in result.groups] == [3]  # 1280x720, 5 s, higher bitrate than id 1


def test_allocate_and_farthest_points():
    assert allocate(np.array([1, 10, 10]), 9).tolist() == [1, 4, 4]
    assert allocate(np.array([2, 2]), 10).tolist() == [2, 2]
    x = np.eye(4, dtype=np.float32)[[0, 0, 0, 1, 2, 3]]
    assert sorted(set(x[farthest_points(x, 4)].argmax(axis=1).tolist())) == [0, 1, 2, 3]


def test_pacing_classes():
    t = np.linspace(0, 1, 64)
    curves = np.stack([t, np.sqrt(t), t**2, np.clip(2 * t, 0, 0.5) + np.clip(2 * t - 1.5, 0, 0.5)])
    lin = np.abs(curves - t).max(axis=1)
    classes = pacing_classes(curves, lin)
    assert classes.tolist() == ["steady", "fast-start", "slow-start", "uneven"]
    assert pacing_classes(np.repeat(curves, 3, axis=0), np.repeat(lin, 3))[4] is classes[1]  # shared, not copied


def test_filter_rules_report_removals_and_validate():
    act = np.array([[0.0, 0.0], [1.0, 0.5], [1.0, 0.001], [0.9, 0.3]], np.float32)
    src = ArraySource(np.eye(4, 6, dtype=np.float32), {"activity": act, "width": np.array([320, 640, 640, 1280])})
    sel, report = filter_segments(src, Selection.everything(src), FilterConfig(where="width >= 640"))
    assert sel.ids.tolist() == [1, 3]
    assert report.removed == {"semantic change": 1, "token motion": 1, "where": 0}
    with pytest.raises(ValueError, match="above"):
        FilterConfig(min_linearity=0.5, max_linearity=0.1)
