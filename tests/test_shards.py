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


def test_sharded_search_on_ray_actors(indexes, clip_indexes):
    ray = pytest.importorskip("ray")
    single, directory = indexes
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        assert _same(single, ShardedIndex(directory, engine="ray")) == 27
        clips, clip_dir, corpus, outside = clip_indexes
        on_ray = ShardedIndex(clip_dir, engine="ray")
        for query in (corpus / "c2.mp4", outside):  # read from the shard that holds it; embedded here
            want = [(h.id, round(h.score, 5)) for h in clips.search(query, k=8, by="both")]
            assert [(h.id, round(h.score, 5)) for h in on_ray.search(query, k=8, by="both")] == want
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def clip_indexes(tmp_path_factory):
    """A small index of real decoded clips (tiny-random encoder, 1 s windows) and its 3 shards."""
    from conftest import render_pattern
    from typer.testing import CliRunner

    from vidsearch.app.cli import app
    from vidsearch.indexers.decode.video import write_video
    from vidsearch.retrieval.index import Index

    base = tmp_path_factory.mktemp("clip-shards")
    corpus = base / "corpus"
    corpus.mkdir()
    looks = [("circle", (220, 40, 40)), ("linear", (40, 200, 60)), ("zigzag", (40, 60, 220)), ("static", (200, 200, 0))]
    for i, (motion, colour) in enumerate(looks + [(m, tuple(255 - c for c in rgb)) for m, rgb in looks]):
        write_video(corpus / f"c{i}.mp4", render_pattern(n_frames=48, size=64, motion=motion, colour=colour), 16)
    write_video(base / "outside.mp4", render_pattern(n_frames=40, size=64, motion="circle", colour=(90, 90, 90)), 16)
    result = CliRunner().invoke(
        app,
        ["index", str(corpus), "--index", str(base / "single"), "-b", "tiny-random", "--segment", "window",
         "--window", "1", "--stride", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    single = Index.open(base / "single")
    split(single, base / "sharded", 3)
    return single, base / "sharded", corpus, base / "outside.mp4"


def test_sharded_search_takes_a_clip_as_the_single_index_does(clip_indexes):
    from vidsearch.retrieval.types import RangeQuery

    single, directory, corpus, outside = clip_indexes
    sharded = ShardedIndex(directory)
    indexed = corpus / "c2.mp4"
    assert len(single.segments_of(str(indexed))) == 3  # a file of several stored segments
    queries = [outside, indexed, RangeQuery(str(indexed), 1.0, 2.0), RangeQuery(str(outside), 0.5, 2.0)]
    checked = 0
    for query in queries:
        for by in ("motion", "both"):
            for kwargs in ({}, {"strict_direction": True}, {"group_by": "file"}, {"exclude_self": False}):
                want = [(h.id, round(h.score, 5)) for h in single.search(query, k=8, by=by, **kwargs)]
                got = [(h.id, round(h.score, 5)) for h in sharded.search(query, k=8, by=by, **kwargs)]
                assert got == want, (str(query), by, kwargs)
                checked += 1
    assert checked == 32
    own = {int(s["id"]) for s in single.segments_of(str(indexed))}
    assert not own & {h.id for h in sharded.search(indexed, k=20)}  # the file's own segments left out
    assert own <= {h.id for h in sharded.search(indexed, k=20, exclude_self=False)}
