"""The frame-encoder contract every backbone in the registry satisfies.

An encoder turns a batch of RGB frames into, from ONE forward pass, the per-frame patch tokens
(for SemanticMoments) and a per-frame global embedding (for the SPF signature).

torch is imported inside the methods, not at module level, so that ``vidsearch.indexers.encoders``
(which re-exports these names) stays cheap to import on the CLI start-up path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vidsearch.errors import ConfigError

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class EncodedFrames:
    patch_tokens: torch.Tensor  # (N, P, D) float32
    global_embedding: torch.Tensor  # (N, D_g) float32, not normalised


class Encoder:
    """Base class: subclasses set the attributes and implement ``forward``.

    Attributes:
        name: registry name (e.g. ``dinov2-s14``).
        image_size: square input side in pixels the frames must be resized to.
        mean, std: per-channel normalisation applied in ``preprocess``.
        dim: patch-token dimension D.
        weights_id: stable hash of the weights, stored in the index manifest.
        flops_per_image: approximate forward FLOPs for one frame (for the benchmark's GFLOP/s).
        device, precision: where and how ``encode`` runs (set by ``place``; fp32 on the CPU by
            default). Neither changes what a vector means beyond the precision guard's tolerance.
    """

    name: str = ""
    image_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    dim: int = 0
    weights_id: str = ""
    flops_per_image: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"
    # Whether bf16 on the CPU may run a bf16 copy of ``model`` (layer norm weights in fp32) instead
    # of autocast: faster there (``encoders/cpu_bf16.py``). Encoders whose forward reads ``model``
    # as ``run_model()`` and takes bf16 pixels set it.
    cpu_bf16_copy: bool = False
    _bf16_model = None  # the copy, made on first use
    # Whether ``set_input_size`` may change ``image_size`` (a CNN, or a ViT that interpolates its
    # position embeddings); encoders with a fixed position table keep their own size.
    resizable_input: bool = False

    def set_input_size(self, side: int) -> Encoder:
        """Read frames of ``side`` x ``side`` pixels from now on (a ViT interpolates its position
        embeddings); a ViT needs a multiple of its patch size. The FLOPs estimate follows."""
        if side != self.image_size and not self.resizable_input:
            raise ConfigError(f"encoder {self.name!r} reads {self.image_size} px frames only (got {side})")
        patch = getattr(self, "patch_size", None)
        if patch and side % patch:
            raise ConfigError(
                f"encoder {self.name!r} needs an input size that is a multiple of its {patch} px patches "
                f"(got {side}; e.g. {max(patch, side // patch * patch)} or {(side // patch + 1) * patch})"
            )
        if side != self.image_size:
            self.flops_per_image = self._flops_at(side)
            self.image_size = side
        return self

    def _flops_at(self, side: int) -> float:
        """The FLOPs estimate at input ``side`` (convolutional: in proportion to the pixels)."""
        return self.flops_per_image * (side / self.image_size) ** 2

    def place(self, device: str = "cpu", precision: str = "fp32") -> Encoder:
        """Move the weights to ``device`` (resolved: ``cpu`` | ``cuda[:i]`` | ``mps``) and run
        forward passes at ``precision`` (``fp32`` | ``bf16`` | ``fp16``) from now on: under
        autocast, or for bf16 on the CPU with the bf16 copy where ``cpu_bf16_copy`` allows it.

        The fp32 weights are never changed, so switching back to fp32 is exact.
        """
        model = getattr(self, "model", None)
        if model is not None:
            model.to(device)
        self.device, self.precision = device, precision
        if self._runs_copy(device, precision) and self._bf16_model is None:
            from .cpu_bf16 import bf16_copy

            self._bf16_model = bf16_copy(model)
        return self

    def _runs_copy(self, device: str, precision: str) -> bool:
        return (
            self.cpu_bf16_copy and device == "cpu" and precision == "bf16" and getattr(self, "model", None) is not None
        )

    def compute(self, device: str | None = None, precision: str | None = None) -> str:
        """How forward passes run at ``device`` and ``precision`` (default: as placed now), e.g.
        ``bf16 autocast`` or ``bf16 copy``: measurements of a precision that
        are cached (the bf16 probe, the guard's cosine) are keyed by it, as the two differ."""
        device, precision = device or self.device, precision or self.precision
        if precision == "fp32":
            return "fp32"
        return f"{precision} copy" if self._runs_copy(device, precision) else f"{precision} autocast"

    def run_model(self):
        """The torch module a forward pass runs now: ``model``, or its bf16 copy."""
        return self._bf16_model if self._runs_copy(self.device, self.precision) else self.model

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, 3) RGB at ``image_size`` -> normalised float (N, 3, H, W) on ``device``.

        The uint8 frames travel to the device (4x fewer bytes than floats), from pinned memory
        and without blocking on CUDA, and are normalised there.
        """
        import torch

        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 (N, H, W, 3) frames, got {frames.dtype} {frames.shape}")
        x = torch.from_numpy(np.ascontiguousarray(frames))
        if self.device.startswith("cuda"):
            x = x.pin_memory().to(self.device, non_blocking=True)
        elif self.device != "cpu":
            x = x.to(self.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def forward(self, pixels: torch.Tensor) -> EncodedFrames:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, frames: np.ndarray, batch_size: int = 32, on_device: bool = False) -> EncodedFrames:
        """Encode uint8 frames in batches under ``torch.inference_mode`` (and autocast when the
        precision is reduced); the outputs are float32 tensors, on the CPU unless ``on_device``:
        then they stay where the encoder ran, so that the per-segment reductions (moments,
        activity) run there too and only their small results cross back (a batch of 256 frames
        is 100 MB of float32 patch tokens)."""
        import torch

        from .precision import autocast

        patches, globals_ = [], []
        copy = self._runs_copy(self.device, self.precision)
        with torch.inference_mode(), autocast(self.device, "fp32" if copy else self.precision):
            for start in range(0, len(frames), batch_size):
                pixels = self.preprocess(frames[start : start + batch_size])
                out = self.forward(pixels.bfloat16() if copy else pixels)
                patches.append(out.patch_tokens.float())  # stays on the device: copying it back
                globals_.append(out.global_embedding.float())  # now would stall the next batch
        encoded = EncodedFrames(torch.cat(patches), torch.cat(globals_))
        return encoded if on_device else EncodedFrames(encoded.patch_tokens.cpu(), encoded.global_embedding.cpu())

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, image_size={self.image_size}, dim={self.dim}, "
            f"weights_id={self.weights_id!r})"
        )
