"""Which moments a SemanticGen reference is made of, and their frames at the semantic rate.

SemanticGen's semantic encoder sees frames at 1.6 fps (its VAE at 24 fps), so a reference is
sampled by *rate*, not by a fixed count as the index does: a span of ``d`` seconds gives
``N = max(2, round(d * fps))`` frames, taken at the index's rule ``round(linspace(first, last-1, N))``
over the span's frames (``indexers.video.sample_clip``). The effective rate is then
``N / d``, within half a frame of the request; the exact source time of every sample is recorded,
so a consumer never has to trust the nominal rate.

A reference span is a whole file, an indexed segment (``--id``), or each of the top hits of a
query (``--from-query``); all three end up as :class:`ReferenceSpan`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from vidsearch.generation.errors import GenerationError
from vidsearch.indexers.config import ResizeMode
from vidsearch.indexers.decode.video import VideoInfo, frame_range, probe, sample_clip

SEMANTIC_FPS = 1.6  # SemanticGen's semantic-encoder frame rate


@dataclass(frozen=True)
class ReferenceSpan:
    """A moment of a file: ``[start_s, end_s)`` seconds (None = from the start / to the end)."""

    path: str
    start_s: float | None = None
    end_s: float | None = None
    segment_id: int | None = None  # the indexed segment this span is, if any
    file_id: int | None = None
    score: float | None = None  # retrieval score when the span is a query hit


@dataclass
class SampledReference:
    span: ReferenceSpan
    frames: np.ndarray  # uint8 (N, S, S, 3) at the encoder's input size
    times_s: np.ndarray  # float64 (N,) source time of each frame
    info: VideoInfo
    start_s: float  # the span resolved against the file
    end_s: float

    @property
    def effective_fps(self) -> float:
        return len(self.frames) / max(self.end_s - self.start_s, 1e-9)


def semantic_frame_count(duration_s: float, fps: float) -> int:
    """Frames a span of ``duration_s`` seconds gets at ``fps`` (never fewer than 2: moments and
    SPF need two)."""
    if fps <= 0:
        raise GenerationError(f"--fps must be > 0, got {fps}")
    return max(2, int(round(duration_s * fps)))


def sample_reference(
    span: ReferenceSpan,
    fps: float = SEMANTIC_FPS,
    size: int = 224,
    resize: ResizeMode = "stretch",
    decoder: str = "pyav",
) -> SampledReference:
    """Decode ``span`` at ``fps`` frames per second (raises VideoError for unusable files)."""
    info = probe(span.path)
    file_fps = info.fps if info.fps > 0 else max(info.frame_count, 1) / max(info.duration, 1e-9)
    first, last = frame_range(span.path, info, span.start_s, span.end_s)
    start_s, end_s = first / file_fps, last / file_fps
    n = semantic_frame_count(end_s - start_s, fps)
    sample = sample_clip(span.path, n, size, resize, decoder, span.start_s, span.end_s)
    times = sample.indices / file_fps
    return SampledReference(span, sample.frames, times.astype(np.float64), sample.info, start_s, end_s)


def spans_from_clip(
    path: str | os.PathLike, start_s: float | None = None, end_s: float | None = None
) -> list[ReferenceSpan]:
    if not os.path.exists(path):
        raise GenerationError(f"{path}: no such file")
    return [ReferenceSpan(str(path), start_s, end_s)]


def spans_from_id(index, segment_id: int) -> list[ReferenceSpan]:
    rec = index.get(segment_id)
    return [ReferenceSpan(rec["path"], rec["start_s"], rec["end_s"], int(rec["id"]), int(rec["file_id"]))]


def spans_from_query(index, query: str | os.PathLike, top: int = 1, by: str = "motion") -> list[ReferenceSpan]:
    """The ``top`` hits of a query, best first."""
    if top < 1:
        raise GenerationError(f"--top must be >= 1, got {top}")
    hits = index.search(query, k=top, by=by)
    if not hits:
        raise GenerationError(f"{index.dir}: no segments to take references from (the index is empty)")
    return [ReferenceSpan(h.path, h.start_s, h.end_s, h.id, h.file_id, h.score) for h in hits]


def index_spans(index, max_segments: int | None = None, seed: int = 0) -> list[ReferenceSpan]:
    """Segments of an index (for training the compressor) in id order, read batch by batch
    (no curves or vectors); with ``max_segments``, a seeded uniform sample of that many."""
    spans = []
    for ids, cols in index.iter_batches(["path", "file_id", "start_s", "end_s"]):
        for i, seg_id in enumerate(ids):
            spans.append(
                ReferenceSpan(
                    str(cols["path"][i]),
                    float(cols["start_s"][i]),
                    float(cols["end_s"][i]),
                    int(seg_id),
                    int(cols["file_id"][i]),
                )
            )
    spans.sort(key=lambda s: s.segment_id)
    if max_segments is not None and len(spans) > max_segments:
        keep = np.sort(np.random.default_rng(seed).choice(len(spans), max_segments, replace=False))
        spans = [spans[i] for i in keep]
    return spans
