"""Stage-2 conditioning: a package's semantic tokens in context with a transformer's noisy latents.

SemanticGen's second stage generates VAE latents conditioned on the compressed semantic tokens by
concatenating them *in context*: one token sequence, latents and semantics, through the same
attention layers. Here that is done for any diffusers transformer that takes a packed token
sequence with per-token position ids (the Flux-style interface: ``hidden_states`` (B, L, C) and
``img_ids`` (L, axes), three axes = (t, h, w) for video latents):

- the semantic tokens (B, S, d) are projected to the latent channel width C by a linear layer,
  learned (default) or zero-initialised so an existing model starts from its unconditioned
  behaviour in value (the extra positions still take part in attention);
- their position ids place each semantic token at its *time* on the latent frame axis and its
  grid cell on the latent's spatial axes (:func:`semantic_position_ids`), so RoPE relates a
  semantic frame to the latent frames it describes;
- RAE-style noise: Gaussian noise of a chosen std is added to the semantic tokens before the
  projection (at inference, to close the gap between the clean tokens stage 2 was trained on and
  generated ones; for training, :func:`sample_noise_std` draws a per-sample std as RAE does);
- the transformer's output is cut back to the latent positions.

Wan-style transformers that patchify a 5-D latent internally are not wrapped: their positions are
computed from the 5-D shape, so tokens cannot be appended from outside without patching the model.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidsearch.generation.errors import GenerationError


def package_sequence(package, ref: int = 0, tensor: str = "latent") -> tuple[np.ndarray, np.ndarray]:
    """A package reference as one token sequence: tokens (S = steps * g*g, d) and, per token,
    (time_s, row, col) with row/col the grid cell in [0, g) (row-major, as stored)."""
    if not 0 <= ref < len(package.references):
        raise GenerationError(f"{package.path}: no reference {ref} (it has {len(package.references)})")
    tokens = package.tensor(ref, tensor)
    times = package.tensor(ref, "times_s")
    steps, cells, dim = tokens.shape
    side = package.manifest["grid"]["side"]
    rows, cols = np.divmod(np.arange(cells), side)
    where = np.stack(
        [np.repeat(times, cells), np.tile(rows, steps).astype(np.float64), np.tile(cols, steps).astype(np.float64)],
        axis=1,
    )
    return tokens.reshape(steps * cells, dim), where


def semantic_position_ids(
    where: np.ndarray, grid_side: int, latent_fps: float, latent_hw: tuple[int, int]
) -> torch.Tensor:
    """(S, 3) float ids (t, h, w) on the latent grid: t = time_s * latent_fps (latent frames per
    second, e.g. 24 / 4 for a 24 fps VAE with 4x temporal compression), h/w = the grid cell's
    centre scaled to the latent's height and width."""
    if latent_fps <= 0:
        raise GenerationError(f"latent_fps must be > 0, got {latent_fps}")
    h, w = latent_hw
    t = where[:, 0] * latent_fps
    row = (where[:, 1] + 0.5) / grid_side * h - 0.5
    col = (where[:, 2] + 0.5) / grid_side * w - 0.5
    return torch.from_numpy(np.stack([t, row, col], axis=1)).float()


def add_semantic_noise(tokens: torch.Tensor, std, generator: torch.Generator | None = None) -> torch.Tensor:
    """tokens + std * eps, eps ~ N(0, I); ``std`` a float or a per-sample (B,) tensor."""
    std = torch.as_tensor(std, dtype=tokens.dtype, device=tokens.device)
    if std.ndim == 1:
        std = std.view(-1, *([1] * (tokens.ndim - 1)))
    if torch.all(std == 0):
        return tokens
    eps = torch.randn(tokens.shape, generator=generator, dtype=tokens.dtype, device=tokens.device)
    return tokens + std * eps


def sample_noise_std(batch: int, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """RAE's training-time augmentation: a per-sample std |n|, n ~ N(0, tau^2)."""
    return (torch.randn(batch, generator=generator) * tau).abs()


class InContextSemantics(nn.Module):
    """Projects semantic tokens to the latent width and joins them to the latent sequence."""

    def __init__(self, semantic_dim: int, latent_channels: int, zero_init: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(semantic_dim, latent_channels)
        if zero_init:
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)

    def join(
        self,
        latents: torch.Tensor,
        latent_ids: torch.Tensor,
        semantics: torch.Tensor,
        semantic_ids: torch.Tensor,
        noise_std=0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, C) latents + (B, S, d) semantics -> (B, L + S, C) tokens and (L + S, axes) ids;
        the latents keep positions 0..L-1, so the output's first L tokens are theirs."""
        if semantics.ndim == 2:
            semantics = semantics.unsqueeze(0).expand(latents.shape[0], -1, -1)
        if semantics.shape[0] != latents.shape[0] or semantic_ids.shape[0] != semantics.shape[1]:
            raise GenerationError(
                f"semantic tokens {tuple(semantics.shape)} / ids {tuple(semantic_ids.shape)} do "
                f"not match latents {tuple(latents.shape)}"
            )
        sem = self.proj(add_semantic_noise(semantics.to(latents.dtype), noise_std, generator))
        ids = torch.cat([latent_ids, semantic_ids.to(latent_ids.dtype)], dim=0)
        return torch.cat([latents, sem], dim=1), ids


class SemanticInContextTransformer(nn.Module):
    """A Flux-style diffusers transformer conditioned in context on semantic tokens.

    ``forward`` takes the transformer's own arguments plus the semantics and returns its output
    for the latent positions only, shaped as without conditioning.
    """

    def __init__(
        self, transformer: nn.Module, semantic_dim: int, zero_init: bool = False, ids_argument: str = "img_ids"
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.ids_argument = ids_argument
        self.semantics = InContextSemantics(semantic_dim, int(transformer.config.in_channels), zero_init)

    def forward(
        self,
        hidden_states: torch.Tensor,
        semantics: torch.Tensor,
        semantic_ids: torch.Tensor,
        noise_std=0.0,
        generator: torch.Generator | None = None,
        **kwargs,
    ) -> torch.Tensor:
        latent_ids = kwargs.pop(self.ids_argument)
        tokens, ids = self.semantics.join(hidden_states, latent_ids, semantics, semantic_ids, noise_std, generator)
        out = self.transformer(hidden_states=tokens, **{self.ids_argument: ids}, return_dict=False, **kwargs)[0]
        return out[:, : hidden_states.shape[1]]
