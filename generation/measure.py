"""Dense SPF: progress at every frame of a clip, for retiming and planning.

The index stores an SPF from ``num_frames`` (32) samples, enough to compare pacing; warping time
needs progress at every output frame, so here the frames are embedded at the full frame rate (or a
chosen analysis rate, the curve then interpolated to every frame). Frames are resized to the
encoder's square input exactly as the index does, so the curves are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsearch.generation.errors import GenerationError
from vidsearch.indexers.config import ResizeMode, SpfConfig
from vidsearch.indexers.decode.video import VideoError, decode_all, resize_frame
from vidsearch.indexers.descriptors.spf import compute_spf
from vidsearch.status import report

# Frames embedded per step of the progress report (a multiple of the encoder's batch: same vectors).
EMBED_CHUNK = 128


@dataclass
class MeasuredClip:
    frames: np.ndarray  # uint8 (N, H, W, 3) RGB, as decoded
    fps: float
    progress: np.ndarray  # float64 (N,), the SPF at every frame, 0 -> 1
    start_s: float = 0.0  # where the measured frames start in the file (a moment of a longer file)


def resolve_encoder(encoder):
    """An Encoder object as is, or a registry name loaded through ``load_encoder``."""
    if isinstance(encoder, str):
        from vidsearch.indexers.encoders import load_encoder

        report(f"loading the encoder {encoder}")
        return load_encoder(encoder)
    return encoder


def analysis_indices(n_frames: int, fps: float, analysis_fps: float | None) -> np.ndarray:
    """Frames to embed: all of them, or about ``analysis_fps`` per second (never fewer than 2)."""
    if analysis_fps is None or fps <= 0 or analysis_fps >= fps:
        return np.arange(n_frames)
    if analysis_fps <= 0:
        raise GenerationError(f"analysis rate must be > 0 frames per second, got {analysis_fps}")
    count = max(2, int(round(n_frames * analysis_fps / fps)))
    return np.unique(np.round(np.linspace(0, n_frames - 1, count)).astype(np.int64))


def frames_progress(
    frames: np.ndarray,
    fps: float,
    encoder,
    spf: SpfConfig = SpfConfig(),
    analysis_fps: float | None = None,
    resize: ResizeMode = "stretch",
) -> np.ndarray:
    """SPF (N,) of in-memory frames: embed the analysis frames, solve, interpolate to every frame."""
    if len(frames) < 2:
        raise GenerationError(f"the SPF needs at least 2 frames, got {len(frames)}")
    idx = analysis_indices(len(frames), fps, analysis_fps)
    embeddings = []
    for start in range(0, len(idx), EMBED_CHUNK):
        report(f"embedding {len(idx)} frames", start, len(idx))
        batch = np.stack(
            [resize_frame(frames[i], encoder.image_size, resize) for i in idx[start : start + EMBED_CHUNK]]
        )
        embeddings.append(encoder.encode(batch).global_embedding.numpy())
    report(f"embedding {len(idx)} frames", len(idx), len(idx))
    progress = compute_spf(np.concatenate(embeddings), spf)
    return np.interp(np.arange(len(frames)), idx, progress)


def measure_clip(
    path,
    encoder,
    spf: SpfConfig = SpfConfig(),
    analysis_fps: float | None = None,
    max_side: int | None = None,
    resize: ResizeMode = "stretch",
    start_s: float | None = None,
    end_s: float | None = None,
) -> MeasuredClip:
    """Decode a clip, or its ``[start_s, end_s)`` moment, and compute its dense SPF (raises
    :class:`VideoError` for unusable clips or ranges)."""
    report(f"decoding {path}")
    video = decode_all(path, max_side=max_side, start_s=start_s, end_s=end_s)
    if len(video.frames) < 2:
        raise VideoError(path, f"has {len(video.frames)} frame; pacing needs at least 2 frames")
    progress = frames_progress(video.frames, video.fps, encoder, spf, analysis_fps, resize)
    return MeasuredClip(video.frames, video.fps, progress, video.start_s)
