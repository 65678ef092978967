"""Hugging Face vision backbones as frame encoders: ``hf:<hub id>`` or ``hf:<local folder>``.

The checkpoint's ``model_type`` picks the transformers class and which tokens are patches:

- ``dinov2``: ``Dinov2Model``; patches = ``last_hidden_state[:, 1:]`` (final-layer-normed, as DINOv2's
  ``x_norm_patchtokens``), global = ``pooler_output`` (the normed CLS token).
- ``dinov2_with_registers``: as above, skipping the register tokens after CLS.
- ``clip``: ``CLIPVisionModel``; patches = ``last_hidden_state[:, 1:]``, global = ``pooler_output``.
- ``siglip`` / ``siglip2``: the vision tower (no CLS token); patches = ``last_hidden_state``,
  global = ``pooler_output`` (the attention-pooling head). SigLIP2 "NaFlex" towers take pre-cut
  patches, so square frames are cut the way its image processor does.
- ``qwen2_5_vl``: the vision tower of a full Qwen2.5-VL checkpoint (:mod:`.qwen_vl`), only its
  weights read; patches = the merged tokens, global = their mean.

Input size and mean/std come from the checkpoint's ``preprocessor_config.json`` when it has one.
Hub ids are read from the local Hugging Face cache only, unless downloads are allowed: indexing
must never hit the network by surprise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import IMAGENET_MEAN, IMAGENET_STD, EncodedFrames, Encoder
from .cache import state_dict_digest
from .errors import EncoderError, WeightsNotFoundError
from .flops import vit_flops

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class _Family:
    """How one ``model_type`` is loaded and read out."""

    model_class: str  # transformers class loading the vision tower
    cls_tokens: int  # leading non-patch tokens (CLS) before registers
    mean: tuple[float, float, float]  # defaults when the checkpoint has no preprocessor config
    std: tuple[float, float, float]
    naflex: bool = False  # takes pre-cut patches + spatial shapes (SigLIP2 NaFlex)
    interpolate_flag: bool = False  # forward() needs interpolate_pos_encoding=True off its trained size


_FAMILIES: dict[str, _Family] = {
    "dinov2": _Family("Dinov2Model", 1, IMAGENET_MEAN, IMAGENET_STD),
    "dinov2_with_registers": _Family("Dinov2WithRegistersModel", 1, IMAGENET_MEAN, IMAGENET_STD),
    "clip": _Family("CLIPVisionModel", 1, CLIP_MEAN, CLIP_STD, interpolate_flag=True),
    "clip_vision_model": _Family("CLIPVisionModel", 1, CLIP_MEAN, CLIP_STD, interpolate_flag=True),
    "siglip": _Family("SiglipVisionModel", 0, HALF, HALF, interpolate_flag=True),
    "siglip_vision_model": _Family("SiglipVisionModel", 0, HALF, HALF, interpolate_flag=True),
    "siglip2": _Family("Siglip2VisionModel", 0, HALF, HALF, naflex=True),
    "siglip2_vision_model": _Family("Siglip2VisionModel", 0, HALF, HALF, naflex=True),
}

ALLOW_DOWNLOAD_HINT = (
    "pass --allow-download (allow_download=True) to fetch it, or give a local folder: hf:/path/to/model"
)


class HFVisionEncoder(Encoder):
    """A transformers vision tower read out as (patch tokens, global embedding) per frame."""

    resizable_input = True  # every family above reads other sizes (interpolated positions, naflex)

    cpu_bf16_copy = True

    def __init__(
        self,
        model: Any,
        *,
        name: str,
        family: _Family,
        image_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        weights_id: str | None = None,
    ) -> None:
        self.model = model.eval()
        self.family = family
        self.name = name
        self.image_size = int(image_size)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        cfg = _vision_config(model.config)
        self.patch_size = int(cfg.patch_size)
        self.native_size = getattr(cfg, "image_size", None)  # the position table's side; naflex: none
        self.patch_start = family.cls_tokens + int(getattr(cfg, "num_register_tokens", 0) or 0)
        self.dim = int(cfg.hidden_size)
        self.flops_per_image = self._flops_at(self.image_size)
        self.weights_id = weights_id or state_dict_digest(self.model)

    def _flops_at(self, side: int) -> float:
        cfg = _vision_config(self.model.config)
        mlp_dim = getattr(cfg, "intermediate_size", None) or int(cfg.hidden_size * cfg.mlp_ratio)
        return vit_flops(side, self.patch_size, self.dim, mlp_dim, int(cfg.num_hidden_layers), self.patch_start)

    @property
    def interpolate(self) -> bool:
        """Whether forward() must ask for interpolated position embeddings (off the trained size)."""
        return self.family.interpolate_flag and self.image_size != self.native_size

    def forward(self, pixels) -> EncodedFrames:
        model = self.run_model()
        if self.family.naflex:
            out = model(**_naflex_inputs(pixels, self.patch_size))
        elif self.interpolate:
            out = model(pixel_values=pixels, interpolate_pos_encoding=True)
        else:
            out = model(pixel_values=pixels)
        return EncodedFrames(out.last_hidden_state[:, self.patch_start :], out.pooler_output)


def load_hf_encoder(
    ref: str,
    *,
    allow_download: bool = False,
    cache_dir: Path | str | None = None,
    name: str | None = None,
    weights_id: str | None = None,
) -> Encoder:
    """Load ``ref`` (a hub id such as ``facebook/dinov2-small`` or a local folder) as an encoder.

    ``name`` defaults to ``hf:<ref>``; ``weights_id`` to a hash of the loaded weights (pass it when
    the caller already knows a stable id, as the converted default model does).

    Raises:
        WeightsNotFoundError: the folder does not exist, or the hub id is not cached and downloads are off.
        EncoderError: the checkpoint is not a supported vision family.
    """
    import torch
    import transformers

    source, is_folder = _resolve(ref)
    hub_kwargs: dict[str, Any] = {}
    if not is_folder:
        hub_kwargs = {"cache_dir": str(cache_dir) if cache_dir else None, "local_files_only": not allow_download}
    try:
        config = transformers.AutoConfig.from_pretrained(source, **hub_kwargs)
    except (OSError, ValueError) as exc:
        raise _load_error(ref, is_folder, allow_download, exc) from exc
    from .qwen_vl import QWEN_VL_TYPES, load_qwen_vision_encoder

    if config.model_type in QWEN_VL_TYPES:
        return load_qwen_vision_encoder(source, config, hub_kwargs, name=name or f"hf:{ref}", weights_id=weights_id)
    family = _FAMILIES.get(config.model_type)
    if family is None:
        raise EncoderError(
            f"hf:{ref}: model_type {config.model_type!r} is not a supported vision backbone "
            f"(supported: {', '.join(sorted([*_FAMILIES, *QWEN_VL_TYPES]))})"
        )
    try:
        with quiet_transformers():
            model = getattr(transformers, family.model_class).from_pretrained(source, dtype=torch.float32, **hub_kwargs)
    except (OSError, ValueError) as exc:
        raise _load_error(ref, is_folder, allow_download, exc) from exc
    image_size, mean, std = _preprocessing(source, hub_kwargs, _vision_config(model.config), family)
    return HFVisionEncoder(
        model,
        name=name or f"hf:{ref}",
        family=family,
        image_size=image_size,
        mean=mean,
        std=std,
        weights_id=weights_id,
    )


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' progress bars and load reports (noise in CLI output; a CLIP/SigLIP
    checkpoint's unused text tower is reported key by key), restoring the previous settings."""
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _resolve(ref: str) -> tuple[str, bool]:
    """A local folder (resolved) or a hub id; a path-looking ref that does not exist is an error."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return str(path.resolve()), True
    if ref.startswith(("/", ".", "~")) or ref.count("/") > 1 or "\\" in ref:
        raise WeightsNotFoundError(f"hf:{ref}: folder not found ({path})")
    return ref, False


def _load_error(ref: str, is_folder: bool, allow_download: bool, exc: Exception) -> EncoderError:
    if is_folder:
        return WeightsNotFoundError(f"hf:{ref}: not a loadable Hugging Face model folder ({exc})")
    if not allow_download:
        return WeightsNotFoundError(
            f"hf:{ref}: not in the local Hugging Face cache and downloads are off; {ALLOW_DOWNLOAD_HINT}"
        )
    return WeightsNotFoundError(f"hf:{ref}: could not be downloaded (offline, or no such model?): {exc}")


def _vision_config(config: Any) -> Any:
    """The vision part of a config (CLIP/SigLIP checkpoints nest it; vision-only ones are it)."""
    return getattr(config, "vision_config", None) or config


def _preprocessing(
    source: str, hub_kwargs: dict[str, Any], vision_cfg: Any, family: _Family
) -> tuple[int, tuple[float, float, float], tuple[float, float, float]]:
    """Square input side, mean and std: the checkpoint's preprocessor config, else family defaults."""
    from transformers.utils import cached_file

    path = cached_file(
        source,
        "preprocessor_config.json",
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
        **hub_kwargs,
    )
    pp = json.loads(Path(path).read_text()) if path else {}
    size = square_side(pp) or _default_side(vision_cfg, family)
    return size, tuple(pp.get("image_mean", family.mean)), tuple(pp.get("image_std", family.std))


def square_side(pp: dict[str, Any]) -> int | None:
    """The network input side a preprocessor config implies (crop size wins over resize size)."""
    crop = pp.get("crop_size") if pp.get("do_center_crop", True) else None
    for spec in (crop, pp.get("size")):
        if isinstance(spec, int):
            return spec
        if isinstance(spec, dict):
            side = spec.get("height") or spec.get("shortest_edge")
            if side:
                return int(side)
    return None


def _default_side(vision_cfg: Any, family: _Family) -> int:
    if family.naflex:  # a NaFlex tower is trained for num_patches patches; use the square that fills them
        return int(math.isqrt(int(vision_cfg.num_patches)) * vision_cfg.patch_size)
    if family.model_class.startswith("Dinov2"):  # config.image_size is the 518 px position grid, not the input
        return 224
    return int(vision_cfg.image_size)


def _naflex_inputs(pixels, patch: int) -> dict[str, Any]:
    """Cut (N, C, H, W) into SigLIP2 NaFlex inputs, in its image processor's (row, col, py, px, C) order."""
    import torch

    n, c, h, w = pixels.shape
    gh, gw = h // patch, w // patch
    patches = pixels[:, :, : gh * patch, : gw * patch].reshape(n, c, gh, patch, gw, patch)
    patches = patches.permute(0, 2, 4, 3, 5, 1).reshape(n, gh * gw, patch * patch * c)
    return {
        "pixel_values": patches,
        "pixel_attention_mask": torch.ones(n, gh * gw, dtype=torch.int32),
        "spatial_shapes": torch.tensor([[gh, gw]] * n, dtype=torch.long),
    }
