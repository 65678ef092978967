"""The quality/cost frontier: R@1 on the SimMotion test split beside the encoder's frames/s, per
encoder, precision, input size and T, all measured in ONE run on this machine.

    python -m benchmarks.frontier BENCH_ROOT [--per-category 3] [--cache DIR] [--plot docs/assets/frontier.png]
        [--variants fp32,bf16,int8,bf16-196,bf16-168,efficientnet-lite0]

BENCH_ROOT is a set written by ``vidsearch bench make-synthetic``; its ``--split`` (test) is used (the
first ``--per-category`` triplets of each category; each split is its own candidate pool). Every
variant encodes the split's clips once at T = 32 (tokens cached under ``--cache``: a rerun only
times); T = 16 reads the same cached frames, as its sampled frames are a subset. R@1 is the
product's default ranking (direction-aware moments fused with the flow descriptor) and, more
sensitive to the encoder, the direction-aware moments alone. frames/s: best of ``--repeats``
forward passes of 32 frames after a warm-up, on the threads torch has here. Segments/s at T is
frames/s / T: the cost of a segment.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.ingest import cpu_features

VARIANTS = ("fp32", "bf16", "int8", "bf16-196", "bf16-168", "efficientnet-lite0")
FRAME_COUNTS = (32, 16)


@dataclass(frozen=True)
class Variant:
    label: str
    backbone: str
    precision: str  # fp32 | bf16 | int8 (dynamic int8 linear layers, torch's x86 quantisation)
    image_size: int | None = None  # None: the encoder's own


def parse_variant(name: str) -> Variant:
    if name == "efficientnet-lite0":
        return Variant(name, name, "fp32")
    precision, _, size = name.partition("-")
    if precision not in ("fp32", "bf16", "int8") or (size and not size.isdigit()):
        raise ValueError(f"unknown variant {name!r} (e.g. fp32, bf16, int8, bf16-168, efficientnet-lite0)")
    return Variant(f"dinov2-s14 {name}", "dinov2-s14", precision, int(size) if size else None)


def build(variant: Variant):
    """The encoder of ``variant``, placed; its name carries the variant so token caches differ."""
    import torch

    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder(variant.backbone, input_px=variant.image_size or 0)
    if variant.precision == "int8":
        encoder.model = torch.ao.quantization.quantize_dynamic(encoder.model, {torch.nn.Linear}, dtype=torch.qint8)
        encoder.place("cpu", "fp32")
    else:
        encoder.place("cpu", variant.precision)
    encoder.name = f"{variant.backbone}-{variant.precision}"
    return encoder


def frames_per_s(encoder, repeats: int) -> float:
    frames = np.random.default_rng(0).integers(0, 256, (32, encoder.image_size, encoder.image_size, 3), np.uint8)
    encoder.encode(frames[:4])
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        encoder.encode(frames, batch_size=len(frames))
        best = min(best, time.perf_counter() - t0)
    return len(frames) / best


def default_methods(label: str, num_frames: int):
    from vidsearch.bench.methods import is_default, main_suite

    suite = main_suite(num_frames, label)
    fused = next(m for m in suite if is_default(m))
    moments = next(m for m in suite if m.kind == "moments" and any(m.delta_alpha))
    return [replace(fused, name=f"fused T{num_frames}"), replace(moments, name=f"moments T{num_frames}")]


def measure(bench, variant: Variant, cache: Path, repeats: int) -> list[dict]:
    from vidsearch.bench.methods import similarity_matrix
    from vidsearch.bench.protocols import evaluate
    from vidsearch.bench.runner import compute_features
    from vidsearch.bench.tokens import ArrayCache

    encoder = build(variant)
    methods = [m for t in FRAME_COUNTS for m in default_methods(variant.label, t)]
    t0 = time.perf_counter()
    feats, encoded = compute_features(
        bench, methods, ArrayCache(cache), encoders={variant.label: encoder}, progress=lambda _: None
    )
    took = time.perf_counter() - t0
    fps = frames_per_s(encoder, repeats)
    rows = []
    for t in FRAME_COUNTS:
        r1 = {}
        for m in methods:
            if m.num_frames == t:
                r1[m.name.split()[0]] = evaluate(similarity_matrix(m, feats[m.name]), bench.triplets, 1000)["R@1"]
        rows.append(
            {
                "variant": variant.label,
                "T": t,
                "size": encoder.image_size,
                "fused": r1["fused"]["average"],
                "moments": r1["moments"]["average"],
                "frames_s": fps,
                "segments_s": fps / t,
                "encoded": sum(encoded.values()),
                "encode_s": took,
            }
        )
    return rows


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t, marker in zip(FRAME_COUNTS, ("o", "s")):
        sel = [r for r in rows if r["T"] == t]
        ax.scatter([r["segments_s"] for r in sel], [r["fused"].value for r in sel], marker=marker, label=f"T = {t}")
        for r in sel:
            ax.annotate(r["variant"].replace("dinov2-s14 ", ""), (r["segments_s"], r["fused"].value), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("encoder segments/s (frames/s / T), log scale")
    ax.set_ylabel("R@1 % (default ranking), test split")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--per-category", type=int, default=3)
    parser.add_argument("--split", default="test", help="test (the figures) | dev (to choose a preset on)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--plot", type=Path, default=Path("docs/assets/frontier.png"))
    args = parser.parse_args()
    import torch

    from vidsearch.bench.layout import first_per_category, read_synthetic, select_split
    from vidsearch.indexers.encoders.cache import cache_root

    variants = [parse_variant(v) for v in args.variants.split(",")]
    bench = first_per_category(select_split(read_synthetic(args.root), args.split), args.per_category)
    cache = args.cache or cache_root() / "bench"
    cpu = cpu_features()
    print(f"CPU: {cpu}; {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    n, clips = len(bench.triplets), len(bench.paths)
    print(f"{args.split} split: {n} triplets ({args.per_category} per category), {clips} clips")
    rows = []
    for v in variants:
        print(f"{v.label}: load average {os.getloadavg()}", flush=True)
        rows.extend(measure(bench, v, cache, args.repeats))
    print(f"load average at the end: {os.getloadavg()}")
    print(
        f"{'variant':26s} {'T':>3s} {'px':>4s} {'R@1 default':>20s} {'R@1 moments':>20s} {'frames/s':>9s} {'seg/s':>6s}"
    )
    for r in rows:
        print(
            f"{r['variant']:26s} {r['T']:3d} {r['size']:4d} {str(r['fused']):>20s} {str(r['moments']):>20s} "
            f"{r['frames_s']:9.1f} {r['segments_s']:6.2f}"
        )
    title = f"{platform.machine()} {cpu}, {n} {args.split} triplets"
    plot(rows, args.plot, title)
    print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
