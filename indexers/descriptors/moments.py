"""SemanticMoments: a training-free motion descriptor from per-frame patch tokens.

Exactly the reference formula (``../shared/reference/methods.md``): per patch, over time, the mean,
the unbiased standard deviation and the standardised skew ``mean((x-M1)^3) / (M2^3 + 1e-6)``; each
moment averaged over patches, L2-normalised, weighted by alpha, concatenated (or summed) and
L2-normalised again. Works on torch tensors and NumPy arrays alike.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

SKEW_EPS = 1e-6


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


def moment_stack(patch_tokens, pool: Literal["patch", "frame"] = "patch") -> torch.Tensor:
    """(T, P, D) tokens -> (3, D): the three temporal moments averaged over patches.

    ``pool="frame"`` is the frame-level ablation: tokens are averaged over patches *first*, so
    the moments describe one global vector per frame instead of each patch's trajectory.
    """
    x = _as_tensor(patch_tokens).float()
    if x.ndim != 3 or x.shape[0] < 2:
        raise ValueError(f"expected (T>=2, P, D) patch tokens, got shape {tuple(x.shape)}")
    if pool == "frame":
        x = x.mean(dim=1, keepdim=True)
    m1 = x.mean(dim=0)
    centred = centred_in_time(x)
    m2 = temporal_std(centred)
    m3 = (centred**3).mean(dim=0) / (m2**3 + SKEW_EPS)
    return torch.stack([m1.mean(0), m2.mean(0), m3.mean(0)])


def centred_in_time(x: torch.Tensor) -> torch.Tensor:
    """(T, ...) values minus their mean over time (dim 0), computed on the differences from the
    first frame, so that a segment whose frames are all equal gets exact zeros (its std and skew
    blocks stay zero, as ``torch.std`` gives) instead of rounding noise."""
    shifted = x - x[0]
    return shifted - shifted.mean(dim=0)


def temporal_std(centred: torch.Tensor) -> torch.Tensor:
    """Unbiased standard deviation over time of values centred by :func:`centred_in_time`:
    ``torch.std``'s value within float32 rounding (vectors' cosine 1.0000000 on such tokens), as a sum
    of squares because ``torch.std(dim=0)`` was the slow part of a segment's reductions (several
    times slower than this)."""
    return torch.sqrt(centred.square().sum(dim=0) / (centred.shape[0] - 1))


def weighted_moment_blocks(moments: torch.Tensor, alpha=(1.0, 8.0, 4.0)) -> torch.Tensor:
    """(3, D) moments -> (3, D) blocks: each L2-normalised then multiplied by its alpha."""
    a = torch.as_tensor(alpha, dtype=moments.dtype, device=moments.device).view(3, 1)
    return torch.nn.functional.normalize(moments, dim=1) * a


def combine_blocks(blocks: torch.Tensor, aggregation: Literal["concat", "sum"] = "concat") -> torch.Tensor:
    v = blocks.reshape(-1) if aggregation == "concat" else blocks.sum(0)
    return torch.nn.functional.normalize(v, dim=0)


def semantic_moments(
    patch_tokens,
    alpha=(1.0, 8.0, 4.0),
    aggregation: Literal["concat", "sum"] = "concat",
    pool: Literal["patch", "frame"] = "patch",
) -> torch.Tensor:
    """The SemanticMoments vector: (3D,) for ``concat``, (D,) for ``sum``, unit L2 norm."""
    if aggregation not in ("concat", "sum"):
        raise ValueError(f"aggregation must be 'concat' or 'sum', got {aggregation!r}")
    return combine_blocks(weighted_moment_blocks(moment_stack(patch_tokens, pool), alpha), aggregation)


def difference_moment_stack(patch_tokens) -> torch.Tensor:
    """(T, P, D) tokens -> (3, D): mean / std / skew over time of each patch's frame-to-frame
    change, averaged over patches (needs T >= 3: two differences for a spread)."""
    x = _as_tensor(patch_tokens).float()
    if x.ndim != 3 or x.shape[0] < 3:
        raise ValueError(f"moments of temporal differences need (T>=3, P, D) patch tokens, got shape {tuple(x.shape)}")
    return moment_stack(x[1:] - x[:-1])


def direction_aware_moments(patch_tokens, alpha=(1.0, 8.0, 4.0), delta_alpha=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """SemanticMoments plus the weighted moments of temporal differences, concatenated: (6D,),
    unit norm; with ``delta_alpha`` all zero it is exactly :func:`semantic_moments` (3D,)."""
    if not any(delta_alpha):
        return semantic_moments(patch_tokens, alpha)
    blocks = torch.cat(
        [
            weighted_moment_blocks(moment_stack(patch_tokens), alpha),
            weighted_moment_blocks(difference_moment_stack(patch_tokens), delta_alpha),
        ]
    )
    return combine_blocks(blocks, "concat")
