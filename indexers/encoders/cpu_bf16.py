"""bf16 on the CPU without autocast: a bf16 copy of the model, its layer norms' weights kept fp32,
its linear layers run by oneDNN with the bias added inside the matrix product.

WHY: under ``torch.autocast`` on the CPU the weights stay fp32 and every op casts its inputs, so
much of the forward goes to dtype conversions and fp32 layer norm/GELU/adds rather than matrix
products (``benchmarks/encoder_profile.py``). A copy of the model held in bf16 runs weights and
activations in bf16 end to end. Its layer norms keep fp32 weight and bias: PyTorch's CPU layer norm takes a bf16
input with fp32 parameters and computes in fp32 (mixed-type kernel), as fast as an all-bf16 one and
without rounding the affine parameters (upcasting the input instead is much slower).
The fp32 model is not touched, so switching back to fp32 (the precision guard's reference pass)
is exact, and the guard compares this copy's moments with fp32's before a run keeps it.

``nn.Linear`` on the CPU calls ``addmm``, which first copies the bias into every row of the output
and then accumulates the product onto it, a visible share of the forward. oneDNN's linear (the
kernel torch.compile's CPU backend uses) adds the bias inside the product with bit-identical
outputs (speed-up: docs/performance.md). Where this torch has no such kernel, or it disagrees with
``nn.Linear`` on a probe, the copy keeps ``nn.Linear``.
"""

from __future__ import annotations

import copy

import torch


class OneDNNLinear(torch.nn.Linear):
    """An ``nn.Linear`` whose forward is oneDNN's linear with the bias fused into the product."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


def bf16_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A bf16 copy of ``model`` on the CPU, in eval mode, whose ``LayerNorm`` parameters stay fp32
    and whose ``Linear`` layers run as :class:`OneDNNLinear` where this torch build agrees."""
    cast = copy.deepcopy(model).to("cpu", torch.bfloat16).eval()
    for module in cast.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
    if onednn_linear_agrees():
        for module in cast.modules():
            if type(module) is torch.nn.Linear:
                module.__class__ = OneDNNLinear  # same parameters and attributes, other kernel
    return cast


def onednn_linear_agrees() -> bool:
    """Whether oneDNN's fused linear exists here and gives ``nn.Linear``'s bf16 result on a probe."""
    if not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (
        torch.randn(*shape, generator=generator).to(torch.bfloat16) for shape in ((2, 33, 64), (48, 64), (48,))
    )
    try:
        with torch.inference_mode():
            fused = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    except (AttributeError, RuntimeError):  # no such kernel in this build
        return False
    plain = torch.nn.functional.linear(x, weight, bias)
    return fused.shape == plain.shape and torch.allclose(fused.float(), plain.float(), rtol=1e-2, atol=1e-2)
