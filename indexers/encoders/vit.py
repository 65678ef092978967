"""DINOv2 ViT in plain torch, loading a converted ``Dinov2Model`` folder without importing transformers.

WHY: importing transformers (it pulls torch._dynamo, sympy, scipy...) and building its model
cost every command that embeds frames seconds before the first frame. This module computes what
transformers' ``Dinov2Model`` computes, op for op (same kernels, same order), so the default
encoder's vectors do not change: patch embedding conv, CLS token, position embeddings resized
bicubically to the input grid, pre-norm blocks with layer scale and an exact-GELU MLP, attention
through ``scaled_dot_product_attention``, a final LayerNorm. Only what the converted default
model uses is supported (no register tokens, no SwiGLU, no mask token).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import nn

from .errors import ConversionError

# config.json settings this module implements (first: the value when absent)
_SUPPORTED = {
    "hidden_act": ("gelu",),
    "use_swiglu_ffn": (False,),
    "num_register_tokens": (0,),
    "qkv_bias": (True,),
    "num_channels": (3,),
}
# transformers parameter names (v4 export names, v5 attention names) -> this module's names
_RENAMES = (
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed."),
    (r"^encoder\.layer\.(\d+)\.attention\.(attention\.query|q_proj)\.", r"blocks.\1.attn.q."),
    (r"^encoder\.layer\.(\d+)\.attention\.(attention\.key|k_proj)\.", r"blocks.\1.attn.k."),
    (r"^encoder\.layer\.(\d+)\.attention\.(attention\.value|v_proj)\.", r"blocks.\1.attn.v."),
    (r"^encoder\.layer\.(\d+)\.attention\.(output\.dense|o_proj)\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1$", r"blocks.\1.ls\2"),
    (r"^encoder\.layer\.(\d+)\.", r"blocks.\1."),
    (r"^layernorm\.", "norm."),
)


class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v projections, as transformers' ``Dinov2Attention``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.head_dim = dim // heads
        self.scale = self.head_dim**-0.5
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (*x.shape[:-1], -1, self.head_dim)
        q, k, v = (layer(x).view(shape).transpose(1, 2) for layer in (self.q, self.k, self.v))
        out = nn.functional.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.proj(out.transpose(1, 2).contiguous().reshape(*x.shape[:-1], -1).contiguous())


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(nn.functional.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; each branch scaled per channel (layer scale) before its residual add."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.attn, self.mlp = Attention(dim, heads), Mlp(dim, hidden)
        self.ls1, self.ls2 = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(self.norm1(x)) * self.ls1 + x
        return self.mlp(self.norm2(x)) * self.ls2 + x


class DinoViT(nn.Module):
    """DINOv2 backbone: ``forward`` returns the final-normed tokens (N, 1 + patches, dim), CLS first."""

    def __init__(
        self, *, dim: int, depth: int, heads: int, mlp_hidden: int, patch_size: int, grid: int, eps: float
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_hidden, eps) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=eps)

    def position_embeddings(self, tokens: int, height: int, width: int) -> torch.Tensor:
        """The trained grid resized to the input's patch grid (bicubic in fp32, corners not aligned,
        no antialiasing, to an explicit size), as transformers' ``interpolate_pos_encoding``."""
        positions = self.pos_embed.shape[1] - 1
        if not torch.jit.is_tracing() and tokens - 1 == positions and height == width:
            return self.pos_embed
        dim = self.pos_embed.shape[-1]
        side = int(positions**0.5)
        grid = self.pos_embed[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
        grid = nn.functional.interpolate(
            grid.to(torch.float32),
            size=(height // self.patch_size, width // self.patch_size),
            mode="bicubic",
            align_corners=False,
        ).to(dtype=self.pos_embed.dtype)
        return torch.cat((self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).view(1, -1, dim)), dim=1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        height, width = pixels.shape[-2:]
        x = self.patch_embed(pixels.to(self.patch_embed.weight.dtype)).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + self.position_embeddings(x.shape[1], height, width)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def native_name(key: str) -> str:
    """This module's name for a transformers ``Dinov2Model`` parameter name."""
    for pattern, replacement in _RENAMES:
        key, count = re.subn(pattern, replacement, key)
        if count:
            return key
    return key


def load_dinov2_folder(folder: Path) -> DinoViT:
    """The ``DinoViT`` of a converted ``Dinov2Model`` folder (``config.json`` + ``model.safetensors``),
    loaded strictly: every parameter present, none left over.

    Raises:
        ConversionError: a file is missing or unreadable, the config is not a plain DINOv2, or the
            weights do not match it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        config = json.loads((folder / "config.json").read_text())
        state = load_file(folder / "model.safetensors")
    except (OSError, ValueError, SafetensorError) as exc:
        raise ConversionError(f"{folder}: damaged converted DINOv2 folder ({exc}); delete it to convert again") from exc
    unsupported = {k: config.get(k) for k, allowed in _SUPPORTED.items() if config.get(k, allowed[0]) not in allowed}
    if config.get("model_type") != "dinov2" or unsupported:
        raise ConversionError(
            f"{folder}: not a plain DINOv2 checkpoint (model_type {config.get('model_type')!r}, {unsupported})"
        )
    try:
        dim = int(config["hidden_size"])
        with torch.device("meta"):  # no random initialisation: every parameter is assigned below
            model = DinoViT(
                dim=dim,
                depth=int(config["num_hidden_layers"]),
                heads=int(config["num_attention_heads"]),
                mlp_hidden=int(dim * config["mlp_ratio"]),
                patch_size=int(config["patch_size"]),
                grid=int(config["image_size"]) // int(config["patch_size"]),
                eps=float(config["layer_norm_eps"]),
            )
        renamed = {native_name(k): v for k, v in state.items() if k != "embeddings.mask_token"}
        model.load_state_dict(renamed, strict=True, assign=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ConversionError(
            f"{folder}: weights do not match a DINOv2 of its config; delete it to convert again ({exc!r})"
        ) from exc
    return model.eval()
