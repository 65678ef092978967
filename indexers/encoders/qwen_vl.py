"""The Qwen2.5-VL vision tower as a frame encoder (``hf:<Qwen2.5-VL folder or hub id>``).

SemanticGen's semantic encoder is this tower. Only the ``visual.*`` weights of a full Qwen2.5-VL
checkpoint are read (``model.visual.*`` in checkpoints re-saved by newer transformers), shard by
shard, so the language model is never loaded.

How frames go in, matching transformers' ``Qwen2VLImageProcessor`` for a square frame whose side
is a multiple of 28: each frame is one image (temporal patch = the frame repeated twice, as the
processor does for images), cut into 14 px patches in the processor's (merge-window, channel,
time, row, column) order; ``grid_thw = (1, S/14, S/14)``. The tower's output tokens (after its
2x2 patch merger, ``out_hidden_size`` dims) are the patch tokens, row-major on an
(S/28) x (S/28) grid; the global embedding is their mean (the tower has no CLS token).
The input side is 448 px (a 16 x 16 token grid, inside the processor's default pixel budget);
mean/std come from the checkpoint's ``preprocessor_config.json`` (CLIP's otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .base import EncodedFrames, Encoder
from .cache import state_dict_digest
from .errors import EncoderError, WeightsNotFoundError
from .hf import CLIP_MEAN, CLIP_STD

QWEN_VL_TYPES = ("qwen2_5_vl",)
IMAGE_SIZE = 448
_PREFIXES = ("visual.", "model.visual.")


class QwenVisionEncoder(Encoder):
    """Qwen2.5-VL's vision tower read out as merged patch tokens per frame."""

    def __init__(
        self, model: Any, *, name: str, mean, std, image_size: int = IMAGE_SIZE, weights_id: str | None = None
    ) -> None:
        cfg = model.config
        self.model = model.eval()
        self.name = name
        self.patch = int(cfg.patch_size)
        self.merge = int(cfg.spatial_merge_size)
        self.temporal = int(cfg.temporal_patch_size)
        if image_size % (self.patch * self.merge):
            raise EncoderError(f"{name}: input side {image_size} is not a multiple of {self.patch * self.merge}")
        self.image_size = image_size
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self.dim = int(cfg.out_hidden_size)
        self.weights_id = weights_id or state_dict_digest(self.model)
        # Patch embedding + blocks at the tower's width, ~2 FLOPs per MAC; attention ignored.
        tokens = (image_size // self.patch) ** 2
        width, mlp = int(cfg.hidden_size), int(cfg.intermediate_size)
        self.flops_per_image = 2.0 * tokens * int(cfg.depth) * (4 * width * width + 3 * width * mlp)

    def patches(self, pixels):
        """(N, 3, S, S) normalised frames -> ((N * g * g, 3 * t * p * p) patches, grid_thw), in the
        image processor's order (frames repeated over the temporal patch)."""
        import torch

        n, c, h, w = pixels.shape
        p, m, t = self.patch, self.merge, self.temporal
        gh, gw = h // p, w // p
        x = pixels.unsqueeze(1).expand(n, t, c, h, w)
        x = x.reshape(n, t, c, gh // m, m, p, gw // m, m, p)
        x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        flat = x.reshape(n * gh * gw, c * t * p * p)
        grid = torch.tensor([[1, gh, gw]] * n, dtype=torch.long)
        return flat, grid

    def forward(self, pixels) -> EncodedFrames:
        flat, grid = self.patches(pixels)
        merged = self.model(flat, grid_thw=grid).pooler_output
        side = self.image_size // (self.patch * self.merge)
        tokens = merged.reshape(pixels.shape[0], side * side, self.dim)
        return EncodedFrames(tokens, tokens.mean(dim=1))


def load_qwen_vision_encoder(
    source: str, config: Any, hub_kwargs: dict[str, Any], *, name: str, weights_id: str | None = None
) -> QwenVisionEncoder:
    """Build the tower from ``config.vision_config`` and load its weights from ``source``."""
    import torch
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    with torch.random.fork_rng(devices=[]):
        model = Qwen2_5_VisionTransformerPretrainedModel._from_config(config.vision_config, dtype=torch.float32)
    state = _visual_state_dict(source, hub_kwargs, name)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise EncoderError(
            f"{name}: vision weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    mean, std = _normalisation(source, hub_kwargs)
    return QwenVisionEncoder(model.float(), name=name, mean=mean, std=std, weights_id=weights_id)


def _visual_state_dict(source: str, hub_kwargs: dict[str, Any], name: str) -> dict:
    """The ``visual.*`` tensors of a (possibly sharded) safetensors checkpoint, prefix removed."""
    from safetensors import safe_open
    from transformers.utils import cached_file

    def fetch(filename: str) -> str | None:
        return cached_file(
            source,
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **hub_kwargs,
        )

    index = fetch("model.safetensors.index.json")
    if index:
        weight_map = json.loads(Path(index).read_text())["weight_map"]
        shards = sorted({f for k, f in weight_map.items() if k.startswith(_PREFIXES)})
    else:
        shards = ["model.safetensors"]
    state = {}
    for shard in shards:
        path = fetch(shard)
        if path is None:
            raise WeightsNotFoundError(f"{name}: weight file {shard} not found")
        with safe_open(path, framework="pt") as fh:
            for key in fh.keys():
                for prefix in _PREFIXES:
                    if key.startswith(prefix):
                        state[key[len(prefix) :]] = fh.get_tensor(key).float()
    if not state:
        raise EncoderError(f"{name}: no vision-tower weights (visual.*) in the checkpoint")
    return state


def _normalisation(source: str, hub_kwargs: dict[str, Any]) -> tuple[tuple, tuple]:
    from transformers.utils import cached_file

    path = cached_file(
        source,
        "preprocessor_config.json",
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
        **hub_kwargs,
    )
    pp = json.loads(Path(path).read_text()) if path else {}
    return tuple(pp.get("image_mean", CLIP_MEAN)), tuple(pp.get("image_std", CLIP_STD))
