"""A store index split into shards by file id answers every search exactly as the single index
does (same ids, same scores, same order), in this process and as Ray actors."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.store import synthetic_index
from vidsearch.indexers.descriptors.spf import SpfSignature
from vidsearch.indexers.features import ClipFeatures
from vidsearch.retrieval.shards import ShardedIndex, ShardError, split

N, DIM = 3000, 96


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    single = synthetic_index(base / "single", N, dim=DIM, chunk=700)
    split(single, base / "sharded", 4)
    return single, base / "sharded"


def _cases(single):
    curve = np.linspace(0, 1, 64, dtype=np.float32) ** 1.7
    outside = ClipFeatures(
        single.moments([11])[0] + single.moments([2500])[0], SpfSignature(curve, 0.0, 0.0, [], curve)
    )
    for query in (17, 1234, outside):
        for by in ("motion", "pacing", "both"):
            for where, group_by in ((None, "segment"), ("duration > 50", "segment"), (None, "file")):
                yield query, {"k": 10, "by": by, "where": where, "group_by": group_by}


def _same(single, sharded) -> int:
    checked = 0
    for query, kwargs in _cases(single):
        want = [(h.id, round(h.score, 6)) for h in single.search(query, **kwargs)]
        got = [(h.id, round(h.score, 6)) for h in sharded.search(query, **kwargs)]
        assert got == want, (query if isinstance(query, int) else "features", kwargs)
        assert len(want) == 10
        checked += 1
    return checked


def test_sharded_search_ranks_as_the_single_index(indexes):
    single, directory = indexes
    sharded = ShardedIndex(directory)
    assert len(sharded) == len(single) == N
    assert _same(single, sharded) == 27
    ids = [h.id for h in sharded.search(17, k=50)]
    assert 17 not in ids and len(set(ids)) == 50
    with pytest.raises(ShardError, match="already holds a sharded index"):
        split(single, directory, 2)


def test_sharded_search_on_ray_actors(indexes):
    ray = pytest.importorskip("ray")
    single, directory = indexes
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        assert _same(single, ShardedIndex(directory, engine="ray")) == 27
    finally:
        ray.shutdown()
