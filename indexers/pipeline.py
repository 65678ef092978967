"""The ingestion pipeline: decode processes feed one encoder; a batch is frames, not a clip.

Files are decoded in a pool of worker processes (``indexers/decode/pool.py``: crash isolation,
per-file timeout, back-pressure) while the encoder runs on the chosen device and precision
(``indexers/encode_stage.py``). Decoded segments of any files are gathered until
``runtime.frames_per_batch(device)`` frames are waiting, then encoded in one forward pass, so short clips do
not starve a GPU and a long file never waits for a clip boundary. Each file yields one
:class:`FileResult` once all its segments are encoded (one segment for the whole file with
``segment.mode == "none"``); a file that fails yields its error and the pipeline goes on.
``runtime.engine == "ray"`` runs the same stages on Ray Data instead (``indexers/ray_engine.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.events import (
    DecodeEvent,
    DecodeFn,
    FileDone,
    FileFailed,
    FileOpened,
    SegmentDecoded,
    decode_inline,
)
from vidsearch.indexers.decode.segmenting import DecodedSegment, open_segments
from vidsearch.indexers.decode.video import VideoInfo
from vidsearch.indexers.encode_stage import GuardReport, SegmentEncoder
from vidsearch.indexers.encoders.base import Encoder
from vidsearch.indexers.encoders.precision import resolve_device
from vidsearch.indexers.features import ClipFeatures
from vidsearch.indexers.runtime import RuntimeConfig, torch_threads


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
    guard_cached: bool = False  # the guard's verdict came from an earlier run on this machine
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
    systemic: bool = False  # it failed through no fault of its own (a decode worker could not start)


@dataclass
class _OpenFile:
    """A file whose segments are still being decoded or encoded."""

    info: VideoInfo | None = None
    segments: dict[int, SegmentResult] = field(default_factory=dict)
    expected: int | None = None  # known once decoding finished


class FileTracker:
    """Collects each file's info and encoded segments (in any order) and calls ``on_result`` once
    per file: when it is complete, or when it failed (its other segments are then dropped)."""

    def __init__(self, stats: PipelineStats, on_result: Callable[[FileResult], None]) -> None:
        self.stats, self.on_result = stats, on_result
        self.files: dict[str, _OpenFile] = {}
        self.finished: set[str] = set()

    def _file(self, path: str) -> _OpenFile:
        return self.files.setdefault(path, _OpenFile())

    def opened(self, path: str, info: VideoInfo) -> None:
        self._file(path).info = info
        self._emit_if_complete(path)

    def encoded(self, path: str, result: SegmentResult, frames: int) -> None:
        if path in self.finished:  # the file failed meanwhile
            return
        self._file(path).segments[result.index] = result
        self.stats.frames += frames
        self._emit_if_complete(path)

    def done(self, path: str, segments: int, seconds: float) -> None:
        self.stats.decode_s += seconds
        self._file(path).expected = segments
        self._emit_if_complete(path)

    def failed(self, path: str, reason: str, seconds: float = 0.0, systemic: bool = False) -> None:
        self.stats.decode_s += seconds
        if path in self.finished:
            return
        self.files.pop(path, None)
        self.finished.add(path)
        self.stats.failed += 1
        self.on_result(FileResult(path, error=reason, systemic=systemic))

    def _emit_if_complete(self, path: str) -> None:
        f = self.files.get(path)
        if f is None or f.info is None or f.expected is None or len(f.segments) < f.expected:
            return
        del self.files[path]
        self.finished.add(path)
        self.stats.clips += 1
        self.on_result(FileResult(path, f.info, [f.segments[i] for i in sorted(f.segments)]))

    def fail_unfinished(self, paths: Iterable[str], reason: str) -> None:
        """Every path not reported yet fails with ``reason`` (the engine lost it)."""
        for path in paths:
            if path not in self.finished:
                self.failed(path, reason)


class _Assembler:
    """Gathers decoded segments across files into encoder batches of ``batch_frames`` frames."""

    def __init__(self, stage: SegmentEncoder, batch_frames: int, tracker: FileTracker):
        self.stage, self.batch_frames, self.tracker = stage, batch_frames, tracker
        self.info: dict[str, VideoInfo] = {}
        self.waiting: list[tuple[str, DecodedSegment]] = []
        self.waiting_frames = 0

    def accept(self, event: DecodeEvent) -> None:
        if isinstance(event, FileOpened):
            self.info[event.path] = event.info
            self.tracker.opened(event.path, event.info)
        elif isinstance(event, SegmentDecoded):
            self.waiting.append((event.path, event.segment))
            self.waiting_frames += len(event.segment.frames)
            if self.waiting_frames >= self.batch_frames:
                self.flush()
        elif isinstance(event, FileDone):
            self.tracker.done(event.path, event.segments, event.seconds)
        elif isinstance(event, FileFailed):
            self.waiting = [(p, s) for p, s in self.waiting if p != event.path]
            self.waiting_frames = sum(len(s.frames) for _, s in self.waiting)
            self.tracker.failed(event.path, event.reason, event.seconds, event.systemic)

    def flush(self) -> None:
        if not self.waiting:
            return
        batch, self.waiting, self.waiting_frames = self.waiting, [], 0
        features = self.stage.encode([(s, self.info[p]) for p, s in batch])
        for (path, s), f in zip(batch, features):
            self.tracker.encoded(path, segment_result(s, f), len(s.frames))


def segment_result(s: DecodedSegment, features: ClipFeatures) -> SegmentResult:
    return SegmentResult(s.index, s.start_frame, s.end_frame, s.start_s, s.end_s, features, s.poster)


def record_guard(stats: PipelineStats, device: str, guard: GuardReport | None, requested: str) -> None:
    stats.device = device
    if guard is not None:
        stats.precision, stats.min_cosine, stats.guard_cached = guard.precision, guard.min_cosine, guard.cached
    else:  # nothing was encoded: report what would have been tried
        stats.precision = requested


def decode_stream(
    paths: list[str],
    config: ExtractorConfig,
    encoder: Encoder,
    runtime: RuntimeConfig,
    decode: DecodeFn,
    stats: PipelineStats,
) -> Iterator[DecodeEvent]:
    """The decode events of every path: from ``stats.decode_workers`` worker processes, or inline
    when that is 0."""
    workers = stats.decode_workers
    if workers == 0:
        yield from decode_inline(paths, config, encoder.image_size, runtime.decoder, decode)
        return
    from vidsearch.indexers.decode.pool import DecodePool

    pool = DecodePool(
        workers, config, encoder.image_size, runtime.decoder, timeout_s=runtime.decode_timeout_s, decode=decode
    )
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
    device = resolve_device(runtime.device)
    stats.decode_workers = min(runtime.workers(device), max(len(paths), 1))
    if stats.decode_workers:
        from vidsearch.indexers.decode.pool import start_decode_server

        start_decode_server()  # its imports overlap the encoder's placement below
    with torch_threads(
        runtime.threads(device, stats.decode_workers)
    ):  # before the bf16 probe, which is per thread count
        stage = SegmentEncoder(encoder, config, runtime)
        tracker = FileTracker(stats, on_result)
        assembler = _Assembler(stage, runtime.frames_per_batch(stage.device), tracker)
        try:
            for event in decode_stream(paths, config, encoder, runtime, decode, stats):
                assembler.accept(event)
            assembler.flush()
            tracker.fail_unfinished(paths, "decoding ended before the file was complete")
        finally:
            stats.encode_s = stage.seconds
            record_guard(stats, stage.device, stage.guard, stage.precision)
    return stats
