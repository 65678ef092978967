"""Store at scale: the ANN training sample grows with the lists, and what an aborted build wrote
is removed by the next writer (not only by ``compact``)."""

from __future__ import annotations

import pytest

from vidsearch.retrieval import search
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import ann
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.manifest import Manifest


@pytest.fixture
def small_thresholds(monkeypatch):
    monkeypatch.setattr(ann, "ANN_THRESHOLD", 500)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 500)


def test_training_sample_has_enough_rows_per_list(tmp_path, monkeypatch, small_thresholds):
    """With a base sample smaller than 39 per list, the models train on TRAIN_PER_LIST per list."""
    from benchmarks.store import synthetic_index

    monkeypatch.setattr(ann, "TRAIN_SAMPLE", 256)
    idx = synthetic_index(tmp_path / "syn", 4000, dim=48, chunk=1500)
    state = idx._reader.snapshot.ann
    assert state["train_sample"] >= 39 * state["nlist"] > 256
    assert ann.train_rows(4096) >= 39 * 4096 and ann.train_rows(10**6) == ann.TRAIN_CAP


def test_aborted_build_files_go_at_the_next_writer(tmp_path, small_thresholds):
    """A rebuild killed before its commit leaves models and codes no snapshot names; a writer that
    takes the lock (here a remove of nothing) deletes them and keeps every referenced file."""
    from benchmarks.store import synthetic_index

    idx = synthetic_index(tmp_path / "syn", 1200, dim=48, chunk=600)
    directory = idx.dir
    before = {p.name for p in (directory / snap.ANN).iterdir()}
    _, written = ann.update_ann(directory, Manifest.load(directory), snap.latest(directory), rebuild=True)
    assert written and all(p.exists() for p in written)  # the build's files, never committed
    hits = [h.id for h in idx.search(5, k=5)]
    assert Index.open(directory).remove([]) == 0
    assert not any(p.exists() for p in written)
    assert {p.name for p in (directory / snap.ANN).iterdir()} == before
    assert [h.id for h in Index.open(directory).search(5, k=5)] == hits
