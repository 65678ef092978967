"""The ingestion pipeline: decode processes feed one encoder; a batch is frames, not a clip.

Files are decoded in a pool of worker processes (``indexers/decode_pool.py``: crash isolation,
per-file timeout, back-pressure) while the encoder runs on the chosen device and precision
(``indexers/encode_stage.py``). Decoded segments of any files are gathered until
``runtime.batch_frames`` frames are waiting, then encoded in one forward pass, so short clips do
not starve a GPU and a long file never waits for a clip boundary. Each file yields one
:class:`FileResult` once all its segments are encoded (one segment for the whole file with
``segment.mode == "none"``); a file that fails yields its error and the pipeline goes on.
``runtime.engine == "ray"`` runs the same stages on Ray Data instead (``indexers/ray_engine.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decoding import DecodeEvent, DecodeFn, FileDone, FileFailed, FileOpened, SegmentDecoded, decode_inline
from vidsearch.indexers.encode_stage import GuardReport, SegmentEncoder
from vidsearch.indexers.encoders.base import Encoder
from vidsearch.indexers.features import ClipFeatures
from vidsearch.indexers.runtime import RuntimeConfig
from vidsearch.indexers.segmenting import DecodedSegment, open_segments
from vidsearch.indexers.video import VideoInfo


@dataclass
class PipelineStats:
    clips: int = 0
    frames: int = 0
    failed: int = 0
    decode_s: float = 0.0  # summed over decode workers (overlaps with encoding)
    encode_s: float = 0.0  # encoder forward passes + moments + SPF
    device: str = ""  # where the encoder ran ("cpu", "cuda", ...)
    precision: str = ""  # the precision the vectors were computed at, after the guard
    min_cosine: float | None = None  # the guard's worst moments cosine vs fp32 (None: fp32)
    decode_workers: int = 0
    workers_replaced: int = 0  # decode processes that crashed or hung and were replaced
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
class _OpenFile:
    """A file whose segments are still being decoded or encoded."""

    info: VideoInfo
    segments: dict[int, SegmentResult] = field(default_factory=dict)
    expected: int | None = None  # known once decoding finished


class _Assembler:
    """Gathers segments across files into encoder batches and emits each file when complete."""

    def __init__(self, stage: SegmentEncoder, batch_frames: int, stats: PipelineStats, on_result: Callable[[FileResult], None]):
        self.stage, self.batch_frames, self.stats, self.on_result = stage, batch_frames, stats, on_result
        self.files: dict[str, _OpenFile] = {}
        self.waiting: list[tuple[str, DecodedSegment]] = []
        self.waiting_frames = 0

    def accept(self, event: DecodeEvent) -> None:
        if isinstance(event, FileOpened):
            self.files[event.path] = _OpenFile(event.info)
        elif isinstance(event, SegmentDecoded):
            self.waiting.append((event.path, event.segment))
            self.waiting_frames += len(event.segment.frames)
            if self.waiting_frames >= self.batch_frames:
                self.flush()
        elif isinstance(event, FileDone):
            self.stats.decode_s += event.seconds
            self.files[event.path].expected = event.segments
            self._emit_complete()
        elif isinstance(event, FileFailed):
            self.stats.decode_s += event.seconds
            self.stats.failed += 1
            self.files.pop(event.path, None)
            self.waiting = [(p, s) for p, s in self.waiting if p != event.path]
            self.waiting_frames = sum(len(s.frames) for _, s in self.waiting)
            self.on_result(FileResult(event.path, error=event.reason))

    def flush(self) -> None:
        if not self.waiting:
            return
        batch, self.waiting, self.waiting_frames = self.waiting, [], 0
        features = self.stage.encode([(s, self.files[p].info) for p, s in batch])
        for (path, s), f in zip(batch, features):
            self.files[path].segments[s.index] = SegmentResult(s.index, s.start_frame, s.end_frame, s.start_s, s.end_s, f, s.poster)
            self.stats.frames += len(s.frames)
        self._emit_complete()

    def _emit_complete(self) -> None:
        done = [p for p, f in self.files.items() if f.expected is not None and len(f.segments) == f.expected]
        for path in done:
            f = self.files.pop(path)
            self.stats.clips += 1
            self.on_result(FileResult(path, f.info, [f.segments[i] for i in sorted(f.segments)]))

    def finish(self) -> None:
        self.flush()
        for path in list(self.files):  # decoding ended without a FileDone: cannot happen by contract
            self.files.pop(path)
            self.stats.failed += 1
            self.on_result(FileResult(path, error="decoding ended before the file was complete"))


def record_guard(stats: PipelineStats, device: str, guard: GuardReport | None, requested: str) -> None:
    stats.device = device
    if guard is not None:
        stats.precision, stats.min_cosine = guard.precision, guard.min_cosine
    else:  # nothing was encoded: report what would have been tried
        stats.precision = requested


def decode_stream(paths: list[str], config: ExtractorConfig, encoder: Encoder, runtime: RuntimeConfig, device: str, decode: DecodeFn, stats: PipelineStats) -> Iterator[DecodeEvent]:
    """The decode events of every path: from worker processes, or inline with ``decode_workers=0``."""
    workers = min(runtime.workers(device), max(len(paths), 1))
    stats.decode_workers = workers
    if workers == 0:
        yield from decode_inline(paths, config, encoder.image_size, runtime.decoder, decode)
        return
    from vidsearch.indexers.decode_pool import DecodePool

    pool = DecodePool(workers, config, encoder.image_size, runtime.decoder, timeout_s=runtime.decode_timeout_s, decode=decode)
    try:
        yield from pool.events(paths)
    finally:
        stats.workers_replaced = pool.replaced


def run_pipeline(
    paths: Iterable[str],
    config: ExtractorConfig,
    encoder: Encoder,
    *,
    runtime: RuntimeConfig = RuntimeConfig(),
    stats: PipelineStats | None = None,
    on_result: Callable[[FileResult], None],
    decode: DecodeFn = open_segments,
) -> PipelineStats:
    """Feature-extract every path, calling ``on_result`` once per file (in completion order).

    ``decode`` is the per-file decode (a picklable top-level function, as it runs in the worker
    processes); ``runtime`` says where and how (device, precision, workers, engine).

    Raises:
        ValueError: a runtime setting this machine cannot honour (before any decoding).
        PrecisionError: an explicit reduced precision fails the guard on the first batch.
    """
    stats = stats or PipelineStats()
    paths = [str(p) for p in paths]
    if runtime.engine == "ray":
        from vidsearch.indexers.ray_engine import run_ray

        return run_ray(paths, config, encoder, runtime=runtime, stats=stats, on_result=on_result, decode=decode)
    stage = SegmentEncoder(encoder, config, runtime)
    assembler = _Assembler(stage, runtime.batch_frames, stats, on_result)
    try:
        for event in decode_stream(paths, config, encoder, runtime, stage.device, decode, stats):
            assembler.accept(event)
        assembler.finish()
    finally:
        stats.encode_s = stage.seconds
        record_guard(stats, stage.device, stage.guard, stage.precision)
    return stats
