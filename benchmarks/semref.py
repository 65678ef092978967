"""SemanticGen references: how well compressed semantic tokens keep content and motion.

    python -m benchmarks.semref --corpus DIR [--backbone dinov2-s14] [--dims 4,8,16] [--kl-weights 1e-3]

Every clip of the corpus (recursively) is sampled at the semantic rate and encoded once; the clips
are split into training and held-out ones (seeded), and for each latent dimension x KL weight a
compressor is trained on the training tokens. Printed side by side, from one run: held-out
reconstruction MSE relative to predicting the training mean (1.0 = no better than the mean), the
same for PCA at the same dimension (the best *linear* code, a reference point the Gaussian MLP
should approach or beat), KL per token, and whether motion retrieval survives: SemanticMoments of
each clip's reconstructed tokens against every original (recall@1, mean cosine). On a SimMotion
layout (``vidsearch bench make-synthetic``) also the benchmark's Recall@1 (the positive must be
the ref's nearest clip) with SemanticMoments of the original tokens, of the reconstructed ones
and of the latent means themselves. Then the semantic-space retime: mean |SPF - target| before
and after warping each clip's sequence to the steady pace and to a late rush, and the time each stage took.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.bench.layout import LayoutError, read_synthetic
from vidsearch.bench.protocols import positive_ranks
from vidsearch.generation.semref.compressor import CompressorConfig, TokenSource
from vidsearch.generation.semref.retime import retime_sequence
from vidsearch.generation.semref.sampling import SEMANTIC_FPS, ReferenceSpan
from vidsearch.generation.semref.training import (
    SegmentTokens,
    collect_tokens,
    motion_survival,
    split_segments,
    train_on_segments,
)
from vidsearch.indexers.corpus import discover_videos


def pca_ratio(train: np.ndarray, held: np.ndarray, dim: int) -> float:
    """Held-out MSE of the rank-``dim`` PCA reconstruction over the mean baseline (standardised)."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    a, b = (train - mean) / std, (held - mean) / std
    basis = np.linalg.svd(a, full_matrices=False)[2][:dim]
    recon = b @ basis.T @ basis
    return float(np.mean((recon - b) ** 2) / np.mean(b**2))


def tokens_of(paths: list[str], encoder, grid: int, fps: float, cache: Path | None):
    """Sample + encode every clip once; with ``cache``, reuse a previous run's tokens (same
    encoder, weights, grid, rate and clips) from that .npz file."""
    key = "|".join([encoder.name, encoder.weights_id, str(grid), repr(fps), *paths])
    if cache is not None and cache.exists():
        data = np.load(cache)
        if str(data["key"]) == key:
            print(f"tokens from {cache}")
            return (
                [SegmentTokens(ReferenceSpan(p, segment_id=i), data[f"t{i}"]) for i, p in enumerate(paths)],
                [],
                int(data["grid"]),
            )
    segments, skipped, side = collect_tokens(
        [ReferenceSpan(p, segment_id=i) for i, p in enumerate(paths)], encoder, grid, fps
    )
    if cache is not None and not skipped:
        with atomic_path(cache, suffix=".npz") as tmp:
            np.savez(tmp, key=key, grid=side, **{f"t{i}": seg.tokens for i, seg in enumerate(segments)})
    return segments, skipped, side


def simmotion_recall(sequences: list[np.ndarray], triplets) -> float:
    """Benchmark Recall@1 with SemanticMoments (1, 8, 4) of token sequences (in ``paths`` order)."""
    from vidsearch.indexers.descriptors.moments import semantic_moments

    vecs = np.stack([semantic_moments(t).numpy() for t in sequences])
    return float(np.mean(positive_ranks(vecs @ vecs.T, triplets) == 1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--fps", type=float, default=SEMANTIC_FPS)
    parser.add_argument("--grid", type=int, default=8)
    parser.add_argument("--dims", default="4,8,16")
    parser.add_argument("--kl-weights", default="1e-3")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--holdout", type=float, default=0.25)
    parser.add_argument("--max-clips", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="reuse / store the encoded tokens in this .npz file")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all CPUs)")
    args = parser.parse_args(argv)

    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder(args.backbone, num_threads=args.threads)
    try:
        bench = read_synthetic(args.corpus)
        paths, triplets = bench.paths, bench.triplets
    except LayoutError:
        paths, triplets = sorted(discover_videos([args.corpus]))[: args.max_clips], None
    t0 = time.perf_counter()
    segments, skipped, grid = tokens_of(paths, encoder, args.grid, args.fps, args.cache)
    t_tokens = time.perf_counter() - t0
    frames = sum(len(s.tokens) for s in segments)
    print(
        f"# semref compressor, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {encoder.name}, "
        f"{len(segments)} clips from {args.corpus}, {args.epochs} epochs"
    )
    print(
        f"sampling + encoding: {frames} frames at {args.fps:g} fps, grid {grid}x{grid}, "
        f"{encoder.dim}-d tokens, {t_tokens:.1f} s ({frames / t_tokens:.1f} frames/s); "
        f"skipped {len(skipped)}"
    )
    source = TokenSource(encoder.name, encoder.weights_id, encoder.dim, grid, args.fps)
    train_pos, held_pos = split_segments(len(segments), args.holdout, 0)
    flat = {
        name: np.concatenate([segments[i].tokens.reshape(-1, encoder.dim) for i in pos])
        for name, pos in (("train", train_pos), ("held", held_pos))
    }
    print(
        f"train {len(train_pos)} clips ({len(flat['train'])} tokens), held out "
        f"{len(held_pos)} clips ({len(flat['held'])} tokens)\n"
    )
    if triplets is not None and not skipped:  # segments are then in the order of paths
        print(
            f"SimMotion Recall@1 over {len(triplets)} triplets, SemanticMoments of the original tokens: "
            f"{simmotion_recall([s.tokens for s in segments], triplets):.3f}\n"
        )
    else:
        triplets = None
    print(
        "| latent dim | KL weight | held-out MSE / mean baseline | PCA same dim | KL per "
        "token | motion recall@1 | motion cosine (mean / min) | SimMotion R@1 "
        "reconstructed / latent | train s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for dim in (int(d) for d in args.dims.split(",")):
        for kl in (float(k) for k in args.kl_weights.split(",")):
            config = CompressorConfig(latent_dim=dim, kl_weight=kl, epochs=args.epochs, holdout=args.holdout)
            t1 = time.perf_counter()
            compressor, m, _, _ = train_on_segments(segments, config, source)
            secs = time.perf_counter() - t1
            mo = m["motion"]
            bench_cell = "n/a"
            if triplets is not None:
                recon = [compressor.reconstruct(s.tokens) for s in segments]
                latent = [compressor.encode(s.tokens)["latent_mean"] for s in segments]
                bench_cell = f"{simmotion_recall(recon, triplets):.3f} / {simmotion_recall(latent, triplets):.3f}"
            print(
                f"| {dim} | {kl:g} | {m['heldout']['recon_vs_baseline']:.3f} | "
                f"{pca_ratio(flat['train'], flat['held'], dim):.3f} | "
                f"{m['heldout']['kl']:.2f} | {mo['motion_recall_at_1']:.3f} | "
                f"{mo['motion_cosine_mean']:.4f} / {mo['motion_cosine_min']:.4f} | {bench_cell} | "
                f"{secs:.1f} |"
            )
    originals = [s.tokens for s in segments]
    print(
        "\nuncompressed tokens: motion recall@1 "
        f"{motion_survival(originals, originals)['motion_recall_at_1']:.3f} (by construction 1.0 unless duplicates)"
    )
    u = np.linspace(0, 1, 64)
    targets = {"steady": u, "late rush": np.where(u < 0.6, u / 6, 0.1 + (u - 0.6) / 0.4 * 0.9)}
    print("\n| semantic retime target | mean |SPF - target| before | after | clips |")
    print("|---|---|---|---|")
    for name, target in targets.items():
        runs = [retime_sequence(t, target, num_steps=max(len(t), 16)) for t in originals if len(t) >= 3]
        print(
            f"| {name} | {np.mean([r.before.mean for r in runs]):.3f} | "
            f"{np.mean([r.after.mean for r in runs]):.3f} | {len(runs)} |"
        )


if __name__ == "__main__":
    main()
