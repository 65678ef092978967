"""Where the encoder's forward time goes, per precision and batch, beside the GEMM peak of the same
precision measured in the same run.

    python -m benchmarks.encoder_profile [--backbone dinov2-s14] [--batches 8,16,32]
        [--variants fp32,bf16-autocast,bf16-weights] [--threads 2] [--compile] [--repeats 3]

Variants: ``fp32``; ``bf16-autocast`` (fp32 weights, autocast casts per op: what ``--precision
bf16`` ran on the CPU before the bf16 copy); ``bf16-weights`` (the model converted to bf16, inputs
bf16: no per-call weight casts, but layer norms and softmax in bf16 too); ``bf16-copy`` (what
``--precision bf16`` runs on the CPU now, ``encoders/cpu_bf16.py``: a bf16 copy of the model whose
layer norms keep fp32 weights); ``--compile`` adds ``torch.compile`` (inductor)
of the bf16-autocast model, with its compile time. For each: frames/s (best of ``--repeats`` after a
warm-up at the same shape), achieved GFLOP/s (matrix products only, ``encoders/flops.py``), the
share of the same-precision GEMM peak, the patch tokens' worst cosine vs fp32, and a
``torch.profiler`` breakdown of one pass into GEMMs, attention, elementwise/norm ops and dtype
conversions (the patch tokens are compared, as they feed SemanticMoments).
"""

from __future__ import annotations

import argparse
import copy
import platform
import time
from datetime import UTC, datetime

from benchmarks.throughput import gemm_peak_gflops

CATEGORIES = {
    "gemm": {"addmm", "mm", "bmm", "matmul", "linear", "mkldnn_convolution", "convolution", "_convolution"},
    "attention": {"_scaled_dot_product_flash_attention_for_cpu", "scaled_dot_product_attention", "softmax", "_softmax"},
    "conversion": {"copy_", "_to_copy", "to", "contiguous", "clone"},
    "norm/act/elementwise": {
        "native_layer_norm",
        "layer_norm",
        "gelu",
        "add",
        "mul",
        "div",
        "sub",
        "cat",
        "upsample_bicubic2d",
    },
}
PRECISION_OF = {
    "fp32": "float32",
    "bf16-autocast": "bfloat16",
    "bf16-weights": "bfloat16",
    "bf16-copy": "bfloat16",
    "bf16-compiled": "bfloat16",
}


def category(op_name: str) -> str:
    """The op's category; compiled (inductor) kernels are counted as ``other``."""
    name = op_name.removeprefix("aten::")
    return next((cat for cat, ops in CATEGORIES.items() if name in ops), "other")


class Variant:
    """One way of running the encoder's forward: a callable on a float (N, 3, H, W) batch."""

    def __init__(self, label: str, encoder) -> None:
        import torch

        self.label = label
        self.autocast = label in ("bf16-autocast", "bf16-compiled")
        self.encoder = encoder
        if label == "bf16-weights":
            self.encoder = copy.deepcopy(encoder)
            self.encoder.model.to(torch.bfloat16)
        if label == "bf16-copy":
            self.encoder = copy.copy(encoder).place("cpu", "bf16")
        self.compile_s = 0.0
        self.compiled = label == "bf16-compiled"
        if self.compiled:
            self.encoder = copy.copy(encoder)
            self.encoder.model = torch.compile(encoder.model)

    def __call__(self, pixels):
        import torch

        if self.label in ("bf16-weights", "bf16-copy"):
            pixels = pixels.bfloat16()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            return self.encoder.forward(pixels).patch_tokens.float()


def time_variant(variant: Variant, pixels, repeats: int) -> float:
    """Best seconds per pass after a warm-up at this shape (oneDNN and inductor specialise per shape)."""
    t0 = time.perf_counter()
    variant(pixels)
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        variant(pixels)
        best = min(best, time.perf_counter() - t0)
    if variant.compiled and not variant.compile_s:
        variant.compile_s = first - best
    return best


def breakdown(variant: Variant, pixels) -> dict[str, float]:
    """Share of self CPU time per op category in one profiled pass."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        variant(pixels)
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        totals[category(event.key)] = totals.get(category(event.key), 0.0) + event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--batches", default="8,16,32")
    parser.add_argument("--variants", default="fp32,bf16-autocast,bf16-weights,bf16-copy")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the CPUs)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile the bf16-autocast model")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder(args.backbone, num_threads=args.threads)
    if getattr(encoder, "model", None) is None:
        raise SystemExit(f"{args.backbone}: not a torch module encoder; nothing to profile")
    names = args.variants.split(",") + (["bf16-compiled"] if args.compile else [])
    if not encoder.cpu_bf16_copy and "bf16-copy" in names:  # it would run autocast: nothing to compare
        print(f"{args.backbone} has no bf16 copy on the CPU: variant bf16-copy left out")
        names.remove("bf16-copy")
    print(f"# encoder forward profile, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.backbone}")
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    peaks = {d: gemm_peak_gflops(dtype=d) for d in sorted(set(PRECISION_OF[n] for n in names))}
    print("GEMM peak (1024^3, best of 20): " + ", ".join(f"{d} {p:.0f} GFLOP/s" for d, p in peaks.items()))
    variants = [Variant(n, encoder) for n in names]
    print(
        "\n| batch | variant | frames/s | GFLOP/s | % of same-precision GEMM peak | token cos vs fp32 (min) | time: "
        + " / ".join(CATEGORIES)
        + " / other |"
    )
    print("|---|---|---|---|---|---|---|")
    generator = torch.Generator().manual_seed(0)
    for batch in (int(b) for b in args.batches.split(",")):
        pixels = torch.randn(batch, 3, encoder.image_size, encoder.image_size, generator=generator)
        exact = Variant("fp32", encoder)(pixels)
        for v in variants:
            seconds = time_variant(v, pixels, args.repeats)
            cos = (
                torch.nn.functional.cosine_similarity(v(pixels).flatten(0, 1), exact.flatten(0, 1), dim=-1).min().item()
            )
            gflops = encoder.flops_per_image * batch / seconds / 1e9
            shares = breakdown(v, pixels)
            split = " / ".join(f"{shares.get(c, 0.0):.0%}" for c in [*CATEGORIES, "other"])
            print(
                f"| {batch} | {v.label} | {batch / seconds:.1f} | {gflops:.0f} | "
                f"{gflops / peaks[PRECISION_OF[v.label]]:.0%} | {cos:.5f} | {split} |",
                flush=True,
            )
    for v in variants:
        if v.compiled:
            print(
                f"\ntorch.compile: first call per shape {v.compile_s:.1f} s more than a warm call (compile + autotune)"
            )


if __name__ == "__main__":
    main()
