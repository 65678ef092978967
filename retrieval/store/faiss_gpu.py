"""Train and fill large FAISS IVF indexes on GPUs when faiss-gpu is installed; CPU otherwise.

The expensive parts of building an IVF index are the k-means of ``train`` and the coarse
assignment of every vector in ``add``: both are nearest-centroid searches. Following FAISS's own
benchmarks, those searches are moved to the GPUs (a GPU ``clustering_index`` for training, a GPU
copy of the coarse quantizer for adding) while the index itself stays a CPU index: any IVF type
(Flat, PQ, SQ), wrapped in an ``IndexIDMap2`` or not, comes out identical in layout, ready to be
saved, and the CPU-only wheel runs the same code without the GPU parts.

    with ivf_on_gpu(index) as used_gpu:   # use_gpu="auto" | True | False
        index.train(sample)
        index.add_with_ids(vectors, ids)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vidsearch.errors import ConfigError

UseGpu = bool | str  # True | False | "auto"


def gpu_count() -> int:
    """GPUs FAISS can use here (0 with the faiss-cpu wheel)."""
    import faiss

    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


def resolve_use_gpu(use_gpu: UseGpu = "auto") -> bool:
    if use_gpu == "auto":
        return gpu_count() > 0
    if use_gpu is True and gpu_count() == 0:
        raise ConfigError(
            "FAISS on GPU requested but none is usable: install the 'gpu' extra (faiss-gpu) on a CUDA machine, "
            "or build on the CPU"
        )
    if use_gpu not in (True, False):
        raise ConfigError(f"use_gpu must be True, False or 'auto' (got {use_gpu!r})")
    return bool(use_gpu)


@contextmanager
def ivf_on_gpu(index, use_gpu: UseGpu = "auto") -> Iterator[bool]:
    """Within the block, ``index.train`` / ``index.add*`` do their centroid searches on the GPUs.

    Yields whether GPUs are used. The CPU quantizer is put back on exit, so the index can be
    saved or searched as usual afterwards.
    """
    import faiss

    if not resolve_use_gpu(use_gpu):
        yield False
        return
    ivf = faiss.extract_index_ivf(index)
    flat = faiss.IndexFlatIP if ivf.metric_type == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2
    cpu_quantizer = ivf.quantizer
    clustering = faiss.index_cpu_to_all_gpus(flat(ivf.d))
    ivf.clustering_index = clustering
    gpu_quantizer = None
    try:
        if ivf.is_trained:
            gpu_quantizer = faiss.index_cpu_to_all_gpus(cpu_quantizer)
            ivf.quantizer = gpu_quantizer
        yield True
    finally:
        ivf.quantizer = cpu_quantizer
        ivf.clustering_index = None
        del clustering, gpu_quantizer


def train_and_add(index, vectors, ids=None, *, use_gpu: UseGpu = "auto", train_sample: int | None = None) -> bool:
    """Train ``index`` (on at most ``train_sample`` vectors, default all) and add ``vectors``
    (with ``ids`` if given), with the centroid searches on GPUs where possible. Returns whether
    GPUs were used."""
    import numpy as np

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    sample = (
        x
        if train_sample is None or train_sample >= len(x)
        else x[np.random.default_rng(0).choice(len(x), train_sample, replace=False)]
    )
    with ivf_on_gpu(index, use_gpu) as used:
        if not index.is_trained:
            index.train(sample)
    with ivf_on_gpu(index, use_gpu):  # again: the quantizer now has centroids to copy
        if ids is None:
            index.add(x)
        else:
            index.add_with_ids(x, np.asarray(ids, dtype=np.int64))
    return used
