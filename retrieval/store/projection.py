"""A PCA projection of the motion vectors, the space the motion ANN index searches in.

Why: the 2,688-value ``[moments, flow]`` vectors of real footage are far from isotropic (on the
store benchmark's look-alikes the top 128 principal directions hold 96 % of the variance), so
ranking by the projection onto the leading directions orders a shortlist much better per byte
than product quantization of the raw vector (PQ codes of 21 values per byte lose the fine order:
at 1M segments PQ128 needed 2,048 exact re-reads for recall 0.96). The projection is fitted on
the same sample as the IVF model and stored next to it (``ann/<name>.npy``: the mean, then the
basis, float32).

Stored vectors are centred before projecting, queries are not: ``q . P^T (x - mean)`` differs
from ``q . (x - mean)`` only by the energy outside the basis, and ``q . (x - mean)`` ranks the
stored ``x`` exactly as ``q . x`` does (``q . mean`` is the same for every ``x``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path

FIT_ROWS = 16_384  # rows of the training sample the covariance is estimated from (2,688-d: ~4 s)
# Self-check of the projection's order on the training sample (``Projection.excess``).
CHECK_QUERIES = 128
CHECK_QUANTILE = 0.99


@dataclass(frozen=True)
class Projection:
    mean: np.ndarray  # (D,) float32
    basis: np.ndarray  # (D, d) float32, orthonormal columns, leading directions first

    @classmethod
    def fit(cls, sample: np.ndarray, dim: int) -> Projection:
        """The ``dim`` leading principal directions of ``sample`` (at most ``FIT_ROWS`` rows of it)."""
        x = np.asarray(sample[:FIT_ROWS], np.float64)
        mean = x.mean(axis=0)
        centred = x - mean
        _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
        basis = vectors[:, ::-1][:, : min(dim, x.shape[1])]
        return cls(mean.astype(np.float32), np.ascontiguousarray(basis, np.float32))

    @property
    def dim(self) -> int:
        return self.basis.shape[1]

    def stored(self, vectors: np.ndarray) -> np.ndarray:
        """Stored vectors in the index's space (centred, projected)."""
        return np.ascontiguousarray((np.asarray(vectors, np.float32) - self.mean) @ self.basis)

    def query(self, vector: np.ndarray) -> np.ndarray:
        """A query in the index's space (projected, not centred: see the module docstring)."""
        return np.ascontiguousarray(np.asarray(vector, np.float32).reshape(1, -1) @ self.basis)

    def save(self, folder: Path) -> str:
        name = f"{os.urandom(8).hex()}.npy"
        with atomic_path(folder / name) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.vstack([self.mean[None, :], self.basis.T]))
        return name

    @classmethod
    def load(cls, path: Path) -> Projection:
        if not path.exists():
            raise FileNotFoundError(str(path))  # removed by a concurrent compact: the reader moves on
        rows = np.load(path)
        return cls(np.ascontiguousarray(rows[0]), np.ascontiguousarray(rows[1:].T))

    def excess(self, sample: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
        """How far down the projection's order the exact top ``k`` of ``sample`` fall.

        Why: the re-rank depth a shortlist needs depends on how much of the data's variance lies
        outside the basis, which the benchmark cannot know for a user's corpus. So the index
        measures it on its own training sample: ``queries`` (other sample rows, weighted as real
        queries are) rank ``sample`` exactly and by the projection; the result is the
        ``CHECK_QUANTILE`` quantile of (position of the worst exact top-``k`` row in the
        projection's order - ``k``). How it grows with the rows stored is ``depth_for``.
        """
        x = np.asarray(sample, np.float32)
        q = np.asarray(queries, np.float32)
        if len(x) <= k or not len(q):
            return 0.0  # too few rows to tell (an index this small is searched exactly anyway)
        exact = q @ x.T
        approx = (q @ self.basis) @ self.stored(x).T
        top = np.argpartition(-exact, k, axis=1)[:, :k]
        worst = np.take_along_axis(approx, top, axis=1).min(axis=1, keepdims=True)
        position = (approx > worst).sum(axis=1) + 1  # 1-based place of the worst true neighbour
        return float(np.quantile(np.maximum(position - k, 0), CHECK_QUANTILE))


def depth_for(excess: float, checked_rows: int, rows: int, k: int) -> int:
    """The shortlist depth for the exact top ``k`` of ``rows`` stored rows, from the ``excess``
    measured over ``checked_rows``: ``k + excess * sqrt(rows / checked_rows)``.

    Why the square root: more rows make the true neighbours closer too, so the rows that can
    overtake them grow far slower than the rows (the excess measured from 4k to 1M rows:
    docs/performance.md, "Store at scale")."""
    return int(np.ceil(k + excess * np.sqrt(max(rows, 1) / max(checked_rows, 1))))
