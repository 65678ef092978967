"""One long file's sampled frames decoded by several decode processes at once, then reassembled.

WHY: with ``segment.mode == "none"`` a file is one segment of ``num_frames`` sampled frames, each
reached by a seek that decodes from the keyframe before it. On a 5-minute 1080p clip that is
~6 s in one process (with FFmpeg's own threads): on a machine with more cores than those
threads use, the others (and the encoder, which needs < 1 s) wait. Here the
worker that opens such a file answers ``FileSplit`` instead, decodes the first contiguous run of
the targets itself and the pool hands the other runs (``PartJob``) to idle decode processes;
each part seeks on its own (``video.part_targets``), so the concatenated parts are the unsplit
decode's pixels, bit for bit (tested on real and multi-GOP clips). The driver puts the parts
back in order (:class:`PartAssembler`) and emits the usual ``FileOpened, SegmentDecoded,
FileDone`` events, so encoders and engines do not know a file was split.

When to split (:class:`SplitRule`): only files of mode ``none`` whose decode is expensive: the
frames x pixels of the file divided by a part's minimum (``MIN_PART_PIXEL_FRAMES``) gives the
most useful parts, capped by the decode processes that would otherwise be idle (``capacity``,
from the pool). Where FFmpeg's own threads already use the cores it gains nothing
(docs/performance.md), so by default only idle decode workers take parts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.events import (
    DecodeEvent,
    DecodeFn,
    FileDone,
    FileFailed,
    FileOpened,
    SegmentDecoded,
    decode_events,
    failure_reason,
)
from vidsearch.indexers.decode.segmenting import whole_file_segment
from vidsearch.indexers.decode.video import Part, Sample, VideoInfo, probe, sample_clip
from vidsearch.indexers.descriptors.pixels import aux_descriptors

# Frames x pixels a part must have for a split to pay for reopening the file and one more seek
# per part (benchmarks/decode_split.py): short clips and 60 s 640x360 clips (4.1e8) are never
# split; a 5-minute 1080p clip (1.9e10) may be, into up to 9 parts.
MIN_PART_PIXEL_FRAMES = 2.0e9


@dataclass(frozen=True)
class SplitRule:
    """Into how many parts to decode a file (1: not split)."""

    # read when a rule is made (not when the class is), so a bench or test can lower the constant
    min_part_pixel_frames: float = field(default_factory=lambda: MIN_PART_PIXEL_FRAMES)

    def parts(self, info: VideoInfo, config: ExtractorConfig, capacity: int) -> int:
        if config.segment.mode != "none" or capacity < 2:
            return 1
        worth = int(max(info.frame_count, 0) * info.width * info.height // self.min_part_pixel_frames)
        return max(1, min(capacity, worth, config.num_frames))


@dataclass(frozen=True)
class FileJob:
    """Decode a whole file; it may be split into at most ``capacity`` parts."""

    path: str
    capacity: int = 1


@dataclass(frozen=True)
class PartJob:
    """Decode run ``part`` of the file's sampled targets (``video.part_targets``)."""

    path: str
    part: Part


DecodeJob = FileJob | PartJob


@dataclass
class FileSplit:
    """The file is decoded in ``parts`` parts; part 0 follows from the same worker."""

    path: str
    info: VideoInfo
    parts: int


@dataclass
class PartDone:
    path: str
    part: int
    sample: Sample
    seconds: float


PartDecodeFn = Callable[[str, ExtractorConfig, int, str, Part], Sample]


def sample_part(path: str, config: ExtractorConfig, image_size: int, decoder: str, part: Part) -> Sample:
    """The encoder-size frames (and their indices) of one part of the file's sample."""
    return sample_clip(path, config.num_frames, image_size, config.resize, decoder, part=part, sampling=config.sampling)


@dataclass(frozen=True)
class JobRunner:
    """What a decode worker does with a job (picklable: it travels to the spawned processes)."""

    config: ExtractorConfig
    image_size: int
    decoder: str
    decode: DecodeFn
    decode_part: PartDecodeFn = sample_part
    rule: SplitRule | None = None  # None: files are never split

    def events(self, job: DecodeJob) -> Iterator[DecodeEvent | FileSplit | PartDone]:
        if isinstance(job, PartJob):
            yield self._part(job.path, job.part)
            return
        info, parts = None, 1
        if self.rule is not None and job.capacity > 1 and self.config.segment.mode == "none":
            try:
                info = probe(job.path)
            except Exception:  # unreadable: the unsplit decode below reports why
                pass
            else:
                parts = self.rule.parts(info, self.config, job.capacity)
        if info is None or parts < 2:
            yield from decode_events(job.path, self.config, self.image_size, self.decoder, self.decode)
            return
        yield FileSplit(job.path, info, parts)
        yield self._part(job.path, (0, parts))

    def _part(self, path: str, part: Part) -> PartDone | FileFailed:
        t0 = time.perf_counter()
        try:
            sample = self.decode_part(path, self.config, self.image_size, self.decoder, part)
        except Exception as exc:  # as decode_events: a failure costs only this file
            return FileFailed(path, failure_reason(exc), time.perf_counter() - t0)
        return PartDone(path, part[0], sample, time.perf_counter() - t0)


@dataclass
class _Split:
    info: VideoInfo
    parts: dict[int, PartDone] = field(default_factory=dict)
    expected: int = 1


class PartAssembler:
    """Driver side: the parts of split files, until each file is whole (or failed once)."""

    def __init__(self, config: ExtractorConfig) -> None:
        self.config = config
        self.open: dict[str, _Split] = {}
        self.failed: set[str] = set()  # split files already reported failed

    def split(self, event: FileSplit) -> list[DecodeEvent]:
        self.failed.discard(event.path)  # the same path listed again is a new file
        self.open[event.path] = _Split(event.info, expected=event.parts)
        return [FileOpened(event.path, event.info)]

    def part(self, event: PartDone) -> list[DecodeEvent]:
        """The file's segment and ``FileDone`` once its last part arrived, else nothing."""
        f = self.open.get(event.path)
        if f is None:  # the file failed in another part meanwhile
            return []
        f.parts[event.part] = event
        if len(f.parts) < f.expected:
            return []
        del self.open[event.path]
        frames = np.concatenate([f.parts[k].sample.frames for k in range(f.expected)])
        segment = whole_file_segment(
            f.info, frames, np.concatenate([f.parts[k].sample.indices for k in range(f.expected)])
        )
        try:
            segment.aux = aux_descriptors(self.config, frames)
        except Exception as exc:
            return [FileFailed(event.path, failure_reason(exc))]
        seconds = sum(p.seconds for p in f.parts.values())
        return [SegmentDecoded(event.path, segment), FileDone(event.path, 1, seconds)]

    def fail(self, event: FileFailed) -> list[DecodeEvent]:
        """A part failed: the file's one ``FileFailed`` the first time, nothing after."""
        if event.path in self.failed:
            return []
        self.open.pop(event.path, None)
        self.failed.add(event.path)
        return [event]
