"""Approximate forward FLOPs per image (2 x multiply-accumulates), for the benchmark's GFLOP/s.

Only the matrix products are counted (convolutions, linear layers, attention); norms, activations
and softmax are a few percent and left out, as fvcore and open_clip's profilers do.
"""

from __future__ import annotations


def vit_flops(
    image_size: int, patch_size: int, dim: int, mlp_dim: int, layers: int, extra_tokens: int = 1, channels: int = 3
) -> float:
    """FLOPs of a plain ViT encoder on one square image (patch embedding + ``layers`` blocks)."""
    patches = (image_size // patch_size) ** 2
    tokens = patches + extra_tokens
    patch_embed = patches * dim * channels * patch_size * patch_size
    per_layer = 4 * tokens * dim * dim + 2 * tokens * tokens * dim + 2 * tokens * dim * mlp_dim
    return 2.0 * (patch_embed + layers * per_layer)


def module_flops(module, example) -> float:
    """FLOPs per image of a conv/linear network, measured with hooks during one forward pass.

    Args:
        module: a torch ``nn.Module``.
        example: an input batch (N, C, H, W); the count is divided by N.
    """
    import torch
    from torch import nn

    macs = 0

    def count(layer, _inputs, output) -> None:
        nonlocal macs
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            macs += output.numel() * (layer.in_channels // layer.groups) * kh * kw
        else:
            macs += output.numel() * layer.in_features

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            module(example)
    finally:
        for hook in hooks:
            hook.remove()
    return 2.0 * macs / len(example)
