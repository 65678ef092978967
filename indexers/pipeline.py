"""The ingestion pipeline: decode the next clips in background threads while the encoder runs.

Decoding (FFmpeg, releases the GIL) and encoding (torch, its own threads) overlap, so on a small
machine the wall time approaches max(decode, encode) instead of their sum. Clips are encoded a few
at a time in one batched forward pass. Each file yields a :class:`FileResult` holding one
:class:`SegmentResult` per segment (one for the whole file with ``segment.mode == "none"``); a file
that fails yields its error and the pipeline goes on.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.encoders.base import EncodedFrames, Encoder
from vidsearch.indexers.features import ClipFeatures, features_from_encoded
from vidsearch.indexers.runtime import RuntimeConfig
from vidsearch.indexers.segmenting import DecodedSegment, open_segments
from vidsearch.indexers.video import VideoError, VideoInfo


@dataclass
class PipelineStats:
    clips: int = 0
    frames: int = 0
    failed: int = 0
    decode_s: float = 0.0  # summed over decode threads (overlaps with encoding)
    encode_s: float = 0.0  # encoder forward passes + moments + SPF
    started: float = field(default_factory=time.perf_counter)

    @property
    def wall_s(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class SegmentResult:
    """One segment of a file: where it lies (frames ``[start_frame, end_frame)``) and its features."""

    index: int  # 0-based position in its file
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    features: ClipFeatures
    poster: bytes | None = None  # small JPEG thumbnail made from the decoded frames, if any


@dataclass
class FileResult:
    """Everything the index stores about one file, or why it could not be indexed."""

    path: str
    info: VideoInfo | None = None
    segments: list[SegmentResult] = field(default_factory=list)
    error: str | None = None  # "<reason>" when the file failed


@dataclass
class _Decoded:
    path: str
    segments: list[DecodedSegment] | None
    info: VideoInfo | None
    error: str | None
    seconds: float

    @property
    def frames(self) -> np.ndarray:
        return np.concatenate([s.frames for s in self.segments])


def _decode(path: str, config: ExtractorConfig, encoder: Encoder, decoder: str) -> _Decoded:
    t0 = time.perf_counter()
    try:
        stream = open_segments(path, config, encoder.image_size, decoder)
        return _Decoded(path, list(stream.segments), stream.info, None, time.perf_counter() - t0)
    except VideoError as exc:
        return _Decoded(path, None, None, exc.reason, time.perf_counter() - t0)
    except MemoryError:
        return _Decoded(path, None, None, "out of memory while decoding", time.perf_counter() - t0)
    except Exception as exc:  # an unexpected decoder failure must not stop the corpus
        return _Decoded(path, None, None, f"unexpected decode error: {exc.__class__.__name__}: {exc}", time.perf_counter() - t0)


def _split(encoded: EncodedFrames, counts: list[int]) -> Iterator[EncodedFrames]:
    start = 0
    for n in counts:
        yield EncodedFrames(encoded.patch_tokens[start : start + n], encoded.global_embedding[start : start + n])
        start += n


def run_pipeline(
    paths: Iterable[str],
    config: ExtractorConfig,
    encoder: Encoder,
    *,
    runtime: RuntimeConfig = RuntimeConfig(),
    clips_per_batch: int = 2,
    decode_workers: int = 1,
    prefetch: int = 4,
    stats: PipelineStats | None = None,
    on_result: Callable[[FileResult], None],
) -> PipelineStats:
    """Feature-extract every path, calling ``on_result`` once per file.

    Successful clips are reported in input order; a clip that fails to decode is reported as soon
    as its decode fails, possibly before earlier clips still waiting in the encoder batch.
    """
    stats = stats or PipelineStats()
    pending: deque[Future[_Decoded]] = deque()
    batch: list[_Decoded] = []
    path_iter = iter(paths)

    def flush() -> None:
        if not batch:
            return
        t0 = time.perf_counter()
        segments = [s for d in batch for s in d.segments]
        encoded = encoder.encode(np.concatenate([s.frames for s in segments]))
        parts = iter(_split(encoded, [len(s.frames) for s in segments]))
        results = [
            FileResult(
                d.path,
                d.info,
                [
                    SegmentResult(s.index, s.start_frame, s.end_frame, s.start_s, s.end_s, features_from_encoded(next(parts), config, d.info, s.frames), s.poster)
                    for s in d.segments
                ],
            )
            for d in batch
        ]
        stats.encode_s += time.perf_counter() - t0
        for d, r in zip(batch, results):
            stats.clips += 1
            stats.frames += len(d.frames)
            on_result(r)
        batch.clear()

    with ThreadPoolExecutor(max_workers=decode_workers, thread_name_prefix="vidsearch-decode") as pool:

        def top_up() -> None:
            while len(pending) < prefetch:
                path = next(path_iter, None)
                if path is None:
                    return
                pending.append(pool.submit(_decode, path, config, encoder, runtime.decoder))

        top_up()
        try:
            while pending:
                decoded = pending.popleft().result()
                top_up()
                stats.decode_s += decoded.seconds
                if decoded.error is not None:
                    stats.failed += 1
                    on_result(FileResult(decoded.path, error=decoded.error))
                    continue
                batch.append(decoded)
                if len(batch) >= clips_per_batch:
                    flush()
            flush()
        finally:
            for fut in pending:
                fut.cancel()
    return stats
