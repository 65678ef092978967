"""Semantic tokens of sampled frames: the encoder's patch tokens pooled to a small square grid.

SemanticGen feeds its generator a *compact* semantic sequence; a ViT's 256 patch tokens per frame
are more than a conditioning sequence needs, so the patch grid is average-pooled to ``grid x grid``
(adaptive pooling, as a resized feature map). A grid at least as large as the encoder's native one
keeps the native tokens unchanged: tokens are never invented by upsampling. Any encoder of the
registry works (the index's backbone by default, any ``hf:`` vision checkpoint), since all of them
return patch tokens on a square grid for square frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidsearch.generation.errors import GenerationError

DEFAULT_GRID = 8


@dataclass(frozen=True)
class TokenGrid:
    native: int  # side of the encoder's patch grid
    side: int  # side of the pooled grid actually used (<= native)

    @property
    def tokens(self) -> int:
        return self.side * self.side


def token_grid(num_patches: int, requested: int) -> TokenGrid:
    if requested < 1:
        raise GenerationError(f"--grid must be >= 1, got {requested}")
    native = math.isqrt(num_patches)
    if native * native != num_patches:
        raise GenerationError(
            f"the encoder returns {num_patches} patch tokens per frame, not a square grid; cannot pool to a grid"
        )
    return TokenGrid(native, min(requested, native))


def pool_tokens(patch_tokens, requested_grid: int) -> tuple[np.ndarray, TokenGrid]:
    """(N, P, D) patch tokens (torch or numpy) -> float32 (N, g*g, D) pooled tokens, row-major."""
    import torch

    x = patch_tokens if isinstance(patch_tokens, torch.Tensor) else torch.from_numpy(np.asarray(patch_tokens))
    n, p, d = x.shape
    grid = token_grid(p, requested_grid)
    maps = x.float().reshape(n, grid.native, grid.native, d).permute(0, 3, 1, 2)
    pooled = torch.nn.functional.adaptive_avg_pool2d(maps, grid.side)
    return pooled.permute(0, 2, 3, 1).reshape(n, grid.tokens, d).numpy(), grid


def semantic_tokens(frames: np.ndarray, encoder, requested_grid: int = DEFAULT_GRID) -> tuple[np.ndarray, TokenGrid]:
    """Encode uint8 (N, S, S, 3) frames and pool their patch tokens: (N, g*g, D), the grid."""
    return pool_tokens(encoder.encode(frames).patch_tokens, requested_grid)


def sequence_embeddings(tokens: np.ndarray) -> np.ndarray:
    """One vector per frame of a token sequence (the grid mean): what the sequence's own SPF is
    computed from, so a retimed sequence can be re-measured without the encoder."""
    return np.asarray(tokens, dtype=np.float64).mean(axis=1)
