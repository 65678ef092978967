"""bf16 on the CPU without autocast: a bf16 copy of the model, its layer norms' weights kept fp32.

WHY: under ``torch.autocast`` on the CPU the weights stay fp32 and every op casts its inputs, so
in the ViT-S/14 forward at batch 8-32 only ~30 % of the time went to the matrix products, ~21 %
to dtype conversions and ~25 % to layer norm/GELU/adds in fp32 (README "Indexing throughput",
``bench/encoder_profile.py``). A copy of the model held in bf16 runs weights and activations in
bf16 end to end. Its layer norms keep fp32 weight and bias: PyTorch's CPU layer norm takes a bf16
input with fp32 parameters and computes in fp32 (mixed-type kernel), as fast as an all-bf16 one and
without rounding the affine parameters (upcasting the input instead cost ~10x per layer norm).
The fp32 model is not touched, so switching back to fp32 (the precision guard's reference pass)
is exact, and the guard compares this copy's moments with fp32's before a run keeps it.
"""

from __future__ import annotations

import copy

import torch


def bf16_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A bf16 copy of ``model`` on the CPU, in eval mode, whose ``LayerNorm`` parameters stay fp32."""
    cast = copy.deepcopy(model).to("cpu", torch.bfloat16).eval()
    for module in cast.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
    return cast
