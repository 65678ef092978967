"""Streaming curation on a store index: the same dedup, cluster and sample selections whether the
segments are read in one batch (the in-memory path) or many small ones, and no read of the
moments ever asks for more than one batch (so no step holds every segment's vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.store import synthetic_index
from vidsearch.curation.cluster import ClusterConfig, cluster_segments
from vidsearch.curation.dedup import DedupConfig, deduplicate
from vidsearch.curation.sample import SampleConfig, sample_segments
from vidsearch.curation.selection import Selection
from vidsearch.curation.source import Coded, IndexSource

N, DIM, PLANTED, SMALL_BATCH = 6000, 96, 300, 512


def planted_vectors(n: int = N, dim: int = DIM) -> np.ndarray:
    """Random unit moments; the first PLANTED rows are noisy copies of rows 3000.. (near duplicates)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x[:PLANTED] = x[3000 : 3000 + PLANTED] + 0.05 * rng.standard_normal((PLANTED, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store index of N synthetic segments (ids 1..N, 10 per file) holding ``planted_vectors``."""
    x = planted_vectors()
    synthetic_index(tmp_path_factory.mktemp("stream") / "index", N, dim=DIM, vectors=lambda rng, count: x[:count])
    return tmp_path_factory.getbasetemp()


class CountingSource:
    """An IndexSource that records the most rows any one read of the moments asked for."""

    def __init__(self, inner: IndexSource):
        self.inner, self.largest, self.reads = inner, 0, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)

    def moments(self, ids: np.ndarray) -> np.ndarray:
        self.largest, self.reads = max(self.largest, len(ids)), self.reads + 1
        return self.inner.moments(ids)


def _open(store) -> IndexSource:
    return IndexSource.open(next(store.glob("stream*/index")))


def test_streamed_dedup_equals_in_memory_and_reads_one_batch_at_a_time(store):
    whole, counted = _open(store), CountingSource(_open(store))
    config = DedupConfig(0.9, 0.9)
    one = deduplicate(whole, Selection.everything(whole), config, batch=N)
    many = deduplicate(counted, Selection.everything(counted), config, batch=SMALL_BATCH)
    assert [(g.keep, g.members) for g in many.groups] == [(g.keep, g.members) for g in one.groups]
    assert np.array_equal(many.selection.ids, one.selection.ids)
    assert {tuple(g.members) for g in one.groups} == {(i + 1, i + 3001) for i in range(PLANTED)}  # ids start at 1
    assert counted.reads > N // SMALL_BATCH and counted.largest <= SMALL_BATCH


def test_streamed_cluster_and_sample_equal_in_memory(store):
    whole, counted = _open(store), CountingSource(_open(store))
    sel_whole, sel_counted = Selection.everything(whole), Selection.everything(counted)
    for config in (ClusterConfig(k=6, space="moments"), ClusterConfig(space="motion", k_max=6)):
        one = cluster_segments(whole, sel_whole, config, batch=N)
        many = cluster_segments(counted, sel_counted, config, batch=SMALL_BATCH)
        assert one.k == many.k
        assert np.array_equal(one.selection.columns["cluster"], many.selection.columns["cluster"])
        assert [(c.medoid, c.members) for c in one.clusters] == [(c.medoid, c.members) for c in many.clusters]
    for config in (SampleConfig(40), SampleConfig(60, method="quota", balance_pacing=True)):
        one, _ = sample_segments(whole, sel_whole, config, batch=N)
        many, _ = sample_segments(counted, sel_counted, config, batch=SMALL_BATCH)
        assert len(one) == config.n and np.array_equal(one.ids, many.ids)
    assert counted.largest <= SMALL_BATCH


def test_index_source_keeps_text_as_codes_and_curves_not_at_all(store):
    """path and hash are held as one int32 code per segment into the distinct values (one per
    file), and read back as the same strings the index serves; the SPF curves are read for the
    ids asked (the same values a full pass reads) and not kept."""
    source = _open(store)
    everything = {
        i: c for ids, cols in source.index.iter_batches(["spf_curve"], 1000) for i, c in zip(ids, cols["spf_curve"])
    }
    some = source.ids()[::-89]  # any order
    curves = source.table(some, ["spf_curve"]).column("spf_curve").to_pylist()
    assert np.array_equal(np.array(curves, np.float32), np.stack([everything[i] for i in some]))
    assert "spf_curve" not in source._columns
    some = source.ids()[::97]
    table = source.table(some, ["path", "hash", "start_s"]).to_pylist()
    for sid, row in zip(some, table):
        rec = source.get(int(sid))
        assert (row["path"], row["hash"], row["start_s"]) == (rec["path"], rec["hash"], rec["start_s"])
    for name in ("path", "hash"):
        coded = source._columns[name]
        assert isinstance(coded, Coded) and coded.codes.dtype == np.int32 and len(coded) == N
        assert len(coded.values) == N // 10 + 1  # one per file, and None for a missing value
