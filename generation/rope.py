"""Model-side ReTime: warp the temporal rotary positions of a video transformer with an SPF.

A video diffusion transformer with RoPE sees frame t at temporal position t in every frequency
band. ReTime moves the positions towards tau_t = S^-1(t / (T - 1)), the time at which a pacing
reference reaches the same semantic progress, per band b:

    p_t(b) = (1 - a_b) t + a_b tau_t,        a_b = g(step) * alpha_b

- ``alpha_b`` decays exponentially from the low-frequency bands (global structure: strong warp,
  up to ``alpha_max``) to the high-frequency ones (local detail: ``alpha_min``, close to linear,
  so frame-to-frame coherence is kept).
- ``g`` scales the warp with the denoising timestep: strongest at the start (pure noise, when
  the layout in time is decided), fading as details are refined.

Defaults are the reference code's (alpha 0.2..1.0, decay 3, exponential timestep schedule).
One deliberate difference: the reference interpolates frame-space positions at the centres of
Wan's 4-frame latent groups; here the warp is applied directly on the transformer's own temporal
grid (latent frames after patching), so alpha = 0 gives back exactly 0, 1, 2, ... and the model is
untouched.

:class:`WanRetimeRope` is a drop-in replacement for the ``rope`` module of diffusers'
``WanTransformer3DModel``; :func:`wan_retime` installs it for the duration of a ``with`` block.
This module imports torch (it is not on the CLI start-up path).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.pacing import normalize_pace
from vidsearch.indexers.descriptors.spf import inverse_progress

StrengthSchedule = Literal["exp", "linear", "constant"]
WAN_ROPE_THETA = 10000.0  # diffusers' WanRotaryPosEmbed default, used by every released Wan model


@dataclass(frozen=True)
class RetimeRopeConfig:
    alpha_min: float = 0.2  # warp share of the highest-frequency temporal band
    alpha_max: float = 1.0  # warp share approached by the lowest-frequency band
    decay: float = 3.0  # exponential decay rate across the bands
    schedule: StrengthSchedule = "exp"  # warp strength over the denoising timesteps

    def __post_init__(self) -> None:
        if not (0.0 <= self.alpha_min <= 1.0 and 0.0 <= self.alpha_max <= 1.0):
            raise GenerationError(f"alphas must lie in [0, 1], got {self.alpha_min}, {self.alpha_max}")
        if self.decay < 0:
            raise GenerationError(f"decay must be >= 0, got {self.decay}")
        if self.schedule not in ("exp", "linear", "constant"):
            raise GenerationError(f"schedule must be 'exp', 'linear' or 'constant', got {self.schedule!r}")


def band_alphas(num_bands: int, cfg: RetimeRopeConfig = RetimeRopeConfig()) -> np.ndarray:
    """Warp share per band in RoPE order (band 0 = highest frequency, rotates fastest)."""
    b = np.arange(num_bands, dtype=np.float64)
    return cfg.alpha_max + (cfg.alpha_min - cfg.alpha_max) * np.exp(-cfg.decay * b / max(num_bands - 1, 1))


def timestep_strength(t_norm: float, schedule: StrengthSchedule = "exp") -> float:
    """g in [0, 1] for a normalised timestep (1 = start of denoising, pure noise; 0 = clean)."""
    t = min(max(float(t_norm), 0.0), 1.0)
    if schedule == "exp":
        return (math.exp(3.0 * t) - 1.0) / (math.exp(3.0) - 1.0)
    if schedule == "linear":
        return t
    if schedule == "constant":
        return 1.0
    raise GenerationError(f"unknown schedule {schedule!r}")


def progress_times(curve, num_positions: int) -> np.ndarray:
    """tau (L,) on the grid 0..L-1: where the pacing curve reaches progress k / (L - 1)."""
    if num_positions < 1:
        raise GenerationError(f"need at least 1 temporal position, got {num_positions}")
    c = normalize_pace(curve, "SPF curve")
    if num_positions == 1:
        return np.zeros(1)
    frac = inverse_progress(c, np.linspace(0.0, 1.0, num_positions)) / (len(c) - 1)
    return frac * (num_positions - 1)


def warped_positions(curve, num_positions: int, alphas: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """(B, L) temporal position of each of L frames in each of B bands (monotone in t)."""
    t = np.arange(num_positions, dtype=np.float64)
    a = np.clip(np.asarray(alphas, dtype=np.float64) * strength, 0.0, 1.0)[:, None]
    return (1.0 - a) * t[None, :] + a * progress_times(curve, num_positions)[None, :]


class WanRetimeRope(torch.nn.Module):
    """Wraps a diffusers ``WanRotaryPosEmbed``: same spatial bands, warped temporal bands.

    ``strength`` (the timestep factor g) can be changed between forward passes; :func:`wan_retime`
    sets it from each call's timestep.
    """

    def __init__(self, base, curve, cfg: RetimeRopeConfig = RetimeRopeConfig(), theta: float = WAN_ROPE_THETA):
        super().__init__()
        self.base = base
        self.curve = normalize_pace(curve, "SPF curve")
        self.cfg = cfg
        self.strength = 1.0
        t_dim = base.t_dim
        # The band frequencies exactly as diffusers computes them, so integer positions reproduce the
        # module's own tables bit for bit; checked against those tables to catch another theta.
        omega = 1.0 / (theta ** (torch.arange(0, t_dim, 2, dtype=torch.float64) / t_dim))
        rows = torch.arange(base.freqs_cos.shape[0], dtype=torch.float64)
        expected = torch.cos(torch.outer(rows, omega)).repeat_interleave(2, dim=1)
        table = base.freqs_cos[:, :t_dim].detach().cpu()
        tolerance = max(1e-5, 4 * torch.finfo(table.dtype).eps)  # a bf16 model keeps bf16 tables
        if not torch.allclose(expected.to(table.dtype), table, atol=tolerance):
            raise GenerationError(
                f"the model's temporal RoPE tables do not match theta={theta}; pass the model's rope theta"
            )
        self.register_buffer("omega", omega.to(base.freqs_cos.device), persistent=False)
        self.alphas = band_alphas(t_dim // 2, cfg)

    def temporal_positions(self, num_positions: int) -> np.ndarray:
        return warped_positions(self.curve, num_positions, self.alphas, self.strength)

    def forward(self, hidden_states):
        cos, sin = self.base(hidden_states)
        _, _, frames, height, width = hidden_states.shape
        p_t, p_h, p_w = self.base.patch_size
        ppf, pph, ppw = frames // p_t, height // p_h, width // p_w
        pos = torch.from_numpy(self.temporal_positions(ppf)).to(self.omega.device)  # (B, ppf)
        angles = (pos.T * self.omega[None, :]).repeat_interleave(2, dim=-1)  # (ppf, t_dim)
        out = []
        for table, fn in ((cos, torch.cos), (sin, torch.sin)):
            grid = table.reshape(ppf, pph, ppw, -1).clone()
            grid[..., : self.base.t_dim] = fn(angles).to(grid.dtype)[:, None, None, :]
            out.append(grid.reshape(table.shape))
        return out[0], out[1]


@contextmanager
def wan_retime(
    transformer,
    curve,
    cfg: RetimeRopeConfig = RetimeRopeConfig(),
    num_train_timesteps: int = 1000,
    theta: float = WAN_ROPE_THETA,
) -> Iterator[WanRetimeRope]:
    """Install a :class:`WanRetimeRope` on a ``WanTransformer3DModel`` for a ``with`` block.

    A forward pre-hook reads each call's ``timestep`` (the largest one, for Wan 2.2's per-token
    timesteps) and sets the warp strength from ``cfg.schedule``. The original module is restored
    on exit, also after an error.
    """
    original = transformer.rope
    adapter = WanRetimeRope(original, curve, cfg, theta)

    def set_strength(module, args, kwargs):
        timestep = kwargs.get("timestep", args[1] if len(args) > 1 else None)
        if timestep is not None:
            t = float(torch.as_tensor(timestep).float().max()) / num_train_timesteps
            adapter.strength = timestep_strength(t, cfg.schedule)

    transformer.rope = adapter
    handle = transformer.register_forward_pre_hook(set_strength, with_kwargs=True)
    try:
        yield adapter
    finally:
        handle.remove()
        transformer.rope = original
