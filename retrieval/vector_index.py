"""FAISS index over the SemanticMoments vectors (inner product = cosine, vectors are unit norm).

Exact ``IndexFlatIP`` by default; above ``IVF_THRESHOLD`` vectors an ``IndexIVFFlat`` with
``nlist ~ 4 sqrt(N)`` trained on the stored vectors. Both wrapped in ``IndexIDMap2`` so the ids
are the clip ids of ``clips.parquet``. The FAISS file is a cache of the Parquet vectors: it can
always be rebuilt from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IVF_THRESHOLD = 50_000
IVF_NPROBE = 32


def _faiss():
    try:
        import faiss  # lazy: keeps `vidsearch --help` fast
    except ImportError as exc:
        from vidsearch.retrieval.store import IndexStoreError

        raise IndexStoreError("FAISS is not installed: pip install 'vidsearch[cpu]' (or 'vidsearch[gpu]' on CUDA machines)") from exc
    return faiss


class VectorIndex:
    def __init__(self, dim: int, index=None):
        self.dim = dim
        self._index = index if index is not None else self._flat(dim)

    @staticmethod
    def _flat(dim: int):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dim: int, ivf: bool | None = None) -> "VectorIndex":
        """A fresh index over ``vectors``: IVF if ``ivf``, by default when there are more than
        ``IVF_THRESHOLD`` vectors."""
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        if ivf if ivf is not None else len(vectors) > IVF_THRESHOLD:
            # FAISS wants >= 39 training points per list; small test indexes get a single list.
            nlist = max(1, min(int(4 * np.sqrt(len(vectors))), len(vectors) // 39))
            quantizer = faiss.IndexFlatIP(dim)
            coarse = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            coarse.train(vectors)
            coarse.nprobe = IVF_NPROBE
            index = faiss.IndexIDMap2(coarse)
        else:
            index = cls._flat(dim)
        out = cls(dim, index)
        out.add(ids, vectors)
        return out

    @property
    def is_ivf(self) -> bool:
        return "IVF" in type(_faiss().downcast_index(self._index.index)).__name__

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` nearest, among ``allowed_ids`` if given; -1 padding dropped."""
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        params = None
        if allowed_ids is not None:
            faiss = _faiss()
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=IVF_NPROBE) if self.is_ivf else faiss.SearchParameters(sel=selector)
        scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, self.dim), k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, dim: int) -> "VectorIndex":
        return cls(dim, _faiss().read_index(str(path)))
