"""``vidsearch semref train-compressor``: tokens of an index's segments -> a trained compressor.

Every segment of the index is decoded at the semantic rate and encoded (tokens pooled to the grid),
exactly as ``vidsearch semref`` will encode a reference; segments are split by a seeded shuffle
into training and held-out ones, so the reported reconstruction figures are on segments the
compressor never saw. Besides reconstruction error and KL, the report says whether *motion*
survives compression: the SemanticMoments vector of each segment's reconstructed tokens is
compared with those of every original segment (recall@1: its own segment is the nearest; mean
cosine to its own). A compressor that keeps appearance but flattens the temporal statistics would
reconstruct well on average and still fail here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.semref.compressor import (
    Compressor,
    CompressorConfig,
    TokenSource,
    fit_compressor,
    reconstruction_metrics,
)
from vidsearch.generation.semref.sampling import SEMANTIC_FPS, ReferenceSpan, index_spans, sample_reference
from vidsearch.generation.semref.tokens import DEFAULT_GRID, semantic_tokens
from vidsearch.indexers.decode.video import VideoError
from vidsearch.indexers.encoders.precision import resolve_device


@dataclass
class SegmentTokens:
    span: ReferenceSpan
    tokens: np.ndarray  # float32 (N, G, D)


@dataclass
class TrainingResult:
    compressor: Compressor
    metrics: dict
    train_segments: list[int | None]
    heldout_segments: list[int | None]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of unusable segments


def collect_tokens(
    spans: list[ReferenceSpan],
    encoder,
    grid: int,
    fps: float,
    resize: str = "stretch",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[SegmentTokens], list[tuple[str, str]], int]:
    """Sample + encode every span; unusable files are skipped and reported, never fatal."""
    out, skipped, grid_side = [], [], grid
    for i, span in enumerate(spans):
        try:
            ref = sample_reference(span, fps, encoder.image_size, resize)
        except VideoError as exc:
            skipped.append((span.path, str(exc)))
            continue
        tokens, token_grid = semantic_tokens(ref.frames, encoder, grid)
        grid_side = token_grid.side
        out.append(SegmentTokens(span, tokens))
        if progress is not None:
            progress(i + 1, len(spans))
    return out, skipped, grid_side


def motion_survival(
    originals: list[np.ndarray], reconstructed: list[np.ndarray], alpha=(1.0, 8.0, 4.0)
) -> dict[str, float]:
    """SemanticMoments of reconstructed token sequences against the originals' (same order)."""
    from vidsearch.indexers.descriptors.moments import semantic_moments

    orig = np.stack([semantic_moments(t, alpha).numpy() for t in originals])
    rec = np.stack([semantic_moments(t, alpha).numpy() for t in reconstructed])
    sims = rec @ orig.T
    own = np.diag(sims)
    return {
        "motion_recall_at_1": float(np.mean(np.argmax(sims, axis=1) == np.arange(len(orig)))),
        "motion_cosine_mean": float(own.mean()),
        "motion_cosine_min": float(own.min()),
        "segments": len(orig),
    }


def split_segments(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle into (train, held-out) positions; at least one of each when n >= 2 and holdout > 0."""
    order = np.random.default_rng(seed).permutation(n)
    n_held = 0 if holdout == 0 or n < 2 else min(n - 1, max(1, int(round(n * holdout))))
    return np.sort(order[n_held:]), np.sort(order[:n_held])


def train_on_segments(
    segments: list[SegmentTokens],
    config: CompressorConfig,
    source: TokenSource,
    device: str = "cpu",
    alpha=(1.0, 8.0, 4.0),
    log=None,
) -> tuple[Compressor, dict, np.ndarray, np.ndarray]:
    if not segments:
        raise GenerationError("no segments to train the compressor on")
    train_pos, held_pos = split_segments(len(segments), config.holdout, config.seed)

    def flat(pos: np.ndarray) -> np.ndarray:
        return np.concatenate([segments[i].tokens.reshape(-1, source.token_dim) for i in pos])

    compressor = fit_compressor(flat(train_pos), config, source, device, log)
    metrics = {"train": reconstruction_metrics(compressor, flat(train_pos))}
    if len(held_pos):
        metrics["heldout"] = reconstruction_metrics(compressor, flat(held_pos))
    originals = [s.tokens for s in segments]
    metrics["motion"] = motion_survival(originals, [compressor.reconstruct(t) for t in originals], alpha)
    metrics["tokens_train"] = int(sum(segments[i].tokens.shape[0] * segments[i].tokens.shape[1] for i in train_pos))
    compressor.metrics = metrics
    return compressor, metrics, train_pos, held_pos


def train_from_index(
    index,
    config: CompressorConfig = CompressorConfig(),
    *,
    grid: int = DEFAULT_GRID,
    fps: float = SEMANTIC_FPS,
    device: str = "cpu",
    encoder=None,
    max_segments: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    log=None,
) -> TrainingResult:
    """Train on the segments of ``index`` (all, or a seeded sample of ``max_segments``) with its
    own backbone (or ``encoder``)."""
    device = resolve_device(device)
    enc = encoder or index.encoder
    spans = index_spans(index, max_segments, config.seed)
    if len(spans) < 2:
        raise GenerationError(f"{index.dir}: has {len(spans)} segment(s); training needs at least 2")
    segments, skipped, grid_side = collect_tokens(spans, enc, grid, fps, index.config.resize, progress)
    source = TokenSource(enc.name, enc.weights_id, enc.dim, grid_side, fps, index.config.resize)
    compressor, metrics, train_pos, held_pos = train_on_segments(
        segments, config, source, device, index.config.alpha, log
    )
    metrics["trained_on"] = {"index": str(index.dir), "device": device}
    return TrainingResult(
        compressor,
        metrics,
        [segments[i].span.segment_id for i in train_pos],
        [segments[i].span.segment_id for i in held_pos],
        skipped,
    )
