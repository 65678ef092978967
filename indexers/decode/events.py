"""One file's decode as a stream of events, the unit every engine moves between processes.

``decode_events`` turns ``open_segments`` (or a drop-in replacement) into
``FileOpened, SegmentDecoded*, FileDone`` or ``..., FileFailed``: small picklable messages that a
decode worker process sends over a pipe, a Ray task returns, or the in-process path yields. Each
segment carries its pixel-level aux descriptors (optical flow), computed here so that they run
beside the encoder rather than between its forward passes. This module imports no torch, so a
decode process starts in a fraction of a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Union

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.segmenting import DecodedSegment, SegmentStream, open_segments
from vidsearch.indexers.decode.video import VideoError, VideoInfo
from vidsearch.indexers.descriptors.pixels import aux_descriptors

DecodeFn = Callable[[str, ExtractorConfig, int, str], SegmentStream]


@dataclass
class FileOpened:
    path: str
    info: VideoInfo


@dataclass
class SegmentDecoded:
    path: str
    segment: DecodedSegment


@dataclass
class FileDone:
    path: str
    segments: int
    seconds: float  # decode time of the whole file


@dataclass
class FileFailed:
    path: str
    reason: str
    seconds: float = 0.0
    systemic: bool = False  # not the file's fault (its decode worker could not start)


DecodeEvent = Union[FileOpened, SegmentDecoded, FileDone, FileFailed]


def failure_reason(exc: Exception) -> str:
    """What a file's ``FileFailed`` says for an exception raised while decoding it."""
    if isinstance(exc, VideoError):
        return exc.reason
    if isinstance(exc, MemoryError):
        return "out of memory while decoding"
    return f"unexpected decode error: {exc.__class__.__name__}: {exc}"


def decode_events(
    path: str, config: ExtractorConfig, image_size: int, decoder: str, decode: DecodeFn = open_segments
) -> Iterator[DecodeEvent]:
    """Decode ``path`` into its segments; any failure ends the stream with one ``FileFailed``."""
    t0 = time.perf_counter()
    count = 0
    try:
        stream = decode(path, config, image_size, decoder)
        yield FileOpened(path, stream.info)
        for segment in stream.segments:
            segment.aux = aux_descriptors(config, segment.frames)
            yield SegmentDecoded(path, segment)
            count += 1
    except Exception as exc:  # an unexpected decoder failure must cost only this file
        yield FileFailed(path, failure_reason(exc), time.perf_counter() - t0)
        return
    if count == 0:
        yield FileFailed(path, "no segments decoded", time.perf_counter() - t0)
        return
    yield FileDone(path, count, time.perf_counter() - t0)


def decode_inline(
    paths, config: ExtractorConfig, image_size: int, decoder: str, decode: DecodeFn = open_segments
) -> Iterator[DecodeEvent]:
    """Every file's events, decoded one after another in this process (``decode_workers=0``)."""
    for path in paths:
        yield from decode_events(str(path), config, image_size, decoder, decode)
