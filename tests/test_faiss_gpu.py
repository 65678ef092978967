"""FAISS IVF building on GPUs with CPU fallback (the GPU wiring checked with CPU stand-ins)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from vidsearch.retrieval.store import faiss_gpu


def _data(n=3000, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ivf(d=32, nlist=16):
    return faiss.IndexIDMap2(faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT))


def _search(index, q, k=10):
    faiss.extract_index_ivf(index).nprobe = 4
    return index.search(q, k)


@pytest.mark.skipif(faiss_gpu.gpu_count() > 0, reason="checks the CPU-only behaviour")
def test_cpu_fallback_and_explicit_gpu_refused_without_one():
    x = _data()
    ids = np.arange(len(x)) * 7
    index = _ivf()
    assert faiss_gpu.train_and_add(index, x, ids) is False
    scores, got = _search(index, x[:5])
    assert (got[:, 0] == ids[:5]).all() and np.allclose(scores[:, 0], 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="faiss-gpu"):
        faiss_gpu.train_and_add(_ivf(), x, use_gpu=True)


def test_gpu_path_builds_the_same_index(monkeypatch):
    """With GPU copies standing in as CPU clones, the GPU wiring (clustering index for training,
    swapped quantizer for adding, CPU quantizer restored) gives the plain build's index."""
    x, q = _data(), _data(20, seed=1)
    plain = _ivf()
    plain.train(x)
    plain.add_with_ids(x, np.arange(len(x)))
    clones = []
    monkeypatch.setattr(faiss_gpu, "gpu_count", lambda: 1)
    monkeypatch.setattr(
        faiss, "index_cpu_to_all_gpus", lambda idx: clones.append(faiss.clone_index(idx)) or clones[-1], raising=False
    )
    built = _ivf()
    assert faiss_gpu.train_and_add(built, x, np.arange(len(x)), use_gpu=True) is True
    assert len(clones) == 3  # training clustering index; adding: clustering index + quantizer
    ivf = faiss.extract_index_ivf(built)
    assert ivf.clustering_index is None and ivf.quantizer.ntotal == 16
    np.testing.assert_array_equal(_search(built, q)[1], _search(plain, q)[1])
