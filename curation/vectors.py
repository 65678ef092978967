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
    """The projected vectors of ``ids``, fetched ``batch`` at a time into one preallocated array
    (never the full-width moments of every segment at once)."""
    out = None
    for start in range(0, len(ids), batch):
        part = project(source.moments(ids[start : start + batch]), space, source.moment_block)
        if out is None:
            out = np.empty((len(ids), part.shape[1]), np.float32)
        out[start : start + len(part)] = part
    return out if out is not None else np.zeros((0, 1), np.float32)
