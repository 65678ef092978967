"""Which part of the SemanticMoments vector a curation step compares.

With ``concat`` aggregation the stored vector is [w1 m1 | w2 m2 | w3 m3] / norm, each m an
L2-normalised moment over time averaged over patches. The mean block m1 is an appearance summary
(what is in the shot); the std and skew blocks are how the features move. Curation therefore uses
three spaces: ``appearance`` (the mean block, renormalised), ``motion`` (std + skew blocks,
renormalised) and ``moments`` (the whole vector, what search ranks by). The direction-aware
blocks that follow with ``delta_alpha`` are left out of ``motion``: a time-reversed copy of a shot
is still a copy of that footage, and the thresholds stay those measured on the published blocks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from vidsearch.errors import ConfigError

Space = Literal["moments", "motion", "appearance"]
SPACES = ("moments", "motion", "appearance")


def project(moments: np.ndarray, space: Space, block: int | None) -> np.ndarray:
    """float32 (n, d) unit rows of ``moments`` in ``space``."""
    if space not in SPACES:
        raise ConfigError(f"space must be one of {', '.join(SPACES)} (got {space!r})")
    if space == "moments":
        part = moments
    elif block is None:
        raise ConfigError(
            f"the {space!r} space needs an index built with --aggregation concat (its blocks cannot be separated)"
        )
    else:
        part = moments[:, :block] if space == "appearance" else moments[:, block : 3 * block]
    return normalize(part)


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def vectors_of(source, ids: np.ndarray, space: Space, batch: int = 65536) -> np.ndarray:
    """The projected vectors of ``ids`` in one array (for samples: a step never holds every segment's)."""
    return gather(Centred(source, space), ids, batch)


def gather(view, ids: np.ndarray, batch: int) -> np.ndarray:
    """``view(ids)`` fetched ``batch`` at a time into one preallocated array (never the
    full-width moments of all of ``ids`` at once)."""
    out = None
    for start in range(0, len(ids), batch):
        part = view(ids[start : start + batch])
        if out is None:
            out = np.empty((len(ids), part.shape[1]), np.float32)
        out[start : start + len(part)] = part
    return out if out is not None else np.zeros((0, 1), np.float32)


class Centred:
    """Unit vectors of a space, centred on a given mean and renormalised (``mean`` None: as
    projected). The one view cluster and sample steps stream, batch by batch."""

    def __init__(self, source, space: Space, mean: np.ndarray | None = None):
        self.source, self.space, self.mean = source, space, mean

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        x = project(self.source.moments(ids), self.space, self.source.moment_block)
        if self.mean is not None:
            x -= self.mean
            x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x


class _Sum:
    """Sum (float64, so any batching gives the same mean) and count of a batch's vectors."""

    def __init__(self, vectors: Centred):
        self.vectors = vectors

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        return self.vectors(ids).sum(axis=0, dtype=np.float64)


def streamed_mean(source, ids: np.ndarray, space: Space, batch: int, engine: str = "local") -> np.ndarray:
    """float32 mean of the projected vectors of ``ids``, read ``batch`` at a time."""
    from vidsearch.curation.engine import chunks, run_map

    total = sum(run_map(_Sum(Centred(source, space)), chunks(ids, batch), engine))
    return (total / max(len(ids), 1)).astype(np.float32)
