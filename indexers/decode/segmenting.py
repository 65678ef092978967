"""From a file to the sampled frames of each of its segments, in one streaming decode pass.

``open_segments`` is what the ingestion pipeline calls per file: it probes the file, then yields
one :class:`DecodedSegment` at a time (its ``config.num_frames`` frames at the encoder's input
size), so a long file never sits in memory whole and is never decoded once per segment.

The one pass feeds, frame by frame: the shot detector (small frames at its own size), a buffer of
encoder-size frames covering only the segments not yet emitted, and a few poster-size frames.
:class:`SegmentPlanner` decides the segments causally from the cuts and tells which frames are
no longer needed, so the buffer stays below about ``max_seconds + min_seconds`` of frames plus
the detector's look-ahead (``window + stride + min_seconds`` in window mode), whatever the
file's length.

Rules (``SegmentConfig``):

* ``shots``: the detector's cuts split the file into shots. A shot shorter than ``min_seconds``
  is merged into the shot after it (consecutive short shots accumulate until ``min_seconds``); a
  short last shot is merged into the segment before it; a file shorter than ``min_seconds`` is one
  segment (nothing is dropped). A shot (or merged group) longer than ``max_seconds`` is cut into
  windows of ``window`` seconds starting every ``stride`` seconds; the last window ends at the shot
  end and may be shorter than ``window``, unless it would be shorter than ``min_seconds``: then
  the window before it is extended to the shot end instead.
* ``window``: the same windows over the whole file, regardless of content.
* ``none``: the whole file is one segment (sampled with seeks, not decoded throughout).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.sampling import uniform_indices
from vidsearch.indexers.decode.video import (
    VideoError,
    VideoInfo,
    iter_frames,
    resize_frame,
    sample_clip,
)

POSTER_WIDTH = 160
POSTERS_PER_SECOND = 4.0  # poster candidates kept per second of buffered video


@dataclass
class DecodedSegment:
    """One segment's place in its file and its sampled frames (uint8 (T, S, S, 3) RGB)."""

    index: int
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    frames: np.ndarray
    poster: bytes | None = None  # small JPEG thumbnail
    aux: dict[str, np.ndarray] | None = None  # the config's aux descriptors, once computed (decode side)
    indices: np.ndarray | None = None  # the file's frame index of each sampled frame (config.sampling's choice)


@dataclass
class DecodeCounters:
    """What the decode pass cost: frames decoded, and the most encoder-size frames held at once."""

    decoded_frames: int = 0
    peak_buffered_frames: int = 0


@dataclass
class SegmentStream:
    """The probe of a file and an iterator over its decoded segments (raises VideoError).

    When the iterator is exhausted, ``info.frame_count`` is the number of frames actually decoded
    (containers often misreport it) and ``counters`` holds the pass's figures.
    """

    info: VideoInfo
    segments: Iterator[DecodedSegment]
    counters: DecodeCounters = field(default_factory=DecodeCounters)


class SegmentPlanner:
    """Turns cuts into segments causally, as frames stream by (all positions in frames).

    Feed cuts with :meth:`cut` and the detector's settled frontier with :meth:`advance` (no cut
    before it will come); :meth:`take` returns the segments that can no longer change, and
    :meth:`earliest_needed` the first frame a future segment may still start at or cover.
    """

    def __init__(self, config: SegmentConfig, fps: float):
        def frames(seconds: float) -> int:
            return max(1, int(round(seconds * fps)))

        self.min = int(round(config.min_seconds * fps))
        self.window, self.stride = frames(config.window), frames(config.stride)
        # A group longer than this is cut into windows (window mode: every group longer than a window).
        self.long = self.window if config.mode == "window" else frames(config.max_seconds)
        self.group = 0  # start of the current group of shots
        self.next_window = 0  # start of the current group's next window not emitted yet
        self.frontier = 0
        self._ready: deque[tuple[int, int]] = deque()

    def cut(self, frame: int) -> None:
        if frame - self.group >= self.min and frame > self.group:
            self._close(frame)

    def advance(self, frontier: int) -> None:
        self.frontier = max(self.frontier, frontier)
        if self.frontier - self.group <= self.long:
            return
        s = self.next_window
        # Window [s, s+w) is final once the group is known to reach past it and past the point
        # where the next window would be too short to stand alone (then [s, s+w) is not extended).
        while self.frontier >= max(s + self.window + 1, s + self.stride + self.min):
            self._ready.append((s, s + self.window))
            s += self.stride
        self.next_window = s

    def finish(self, frame_count: int) -> None:
        """The file ends at ``frame_count``: a short last group joins the segment before it."""
        if frame_count <= self.group:
            return
        if frame_count - self.group < self.min and self._ready:
            start, _ = self._ready.pop()
            self._ready.append((start, frame_count))
        else:
            self._close(frame_count)
        self.frontier = frame_count

    def take(self, final: bool = False) -> list[tuple[int, int]]:
        """Segments that are final; the last is held back while a short tail could still join it."""
        out = []
        keep = 0 if final or self.frontier - self.group >= self.min else 1
        while len(self._ready) > keep:
            out.append(self._ready.popleft())
        return out

    def earliest_needed(self) -> int:
        return min([s for s, _ in self._ready] + [self.next_window])

    def _close(self, end: int) -> None:
        for w in self._windows(self.group, end):
            if w[0] >= self.next_window:
                self._ready.append(w)
        self.group = self.next_window = end

    def _windows(self, start: int, end: int) -> list[tuple[int, int]]:
        if end - start <= self.long:
            return [(start, end)]
        out, s = [], start
        while end - s > self.window:
            out.append((s, s + self.window))
            s += self.stride
        if s < end:
            if end - s < self.min and out:
                out[-1] = (out[-1][0], end)
            else:
                out.append((s, end))
        return out


def whole_file_segment(info: VideoInfo, frames: np.ndarray, indices: np.ndarray) -> DecodedSegment:
    """The one segment of ``segment.mode == "none"``: the whole file, from its sampled frames
    and their indices (decoded in one process or reassembled from parts: the same segment
    either way)."""
    return DecodedSegment(0, 0, max(info.frame_count, 1), 0.0, info.duration, frames, indices=indices)


def open_segments(path, config: ExtractorConfig, image_size: int, decoder: str = "pyav") -> SegmentStream:
    """Decode ``path`` into segments as ``config.segment`` says (see the module docstring)."""
    if config.segment.mode == "none":
        sample = sample_clip(path, config.num_frames, image_size, config.resize, decoder, sampling=config.sampling)
        return SegmentStream(sample.info, iter([whole_file_segment(sample.info, sample.frames, sample.indices)]))
    frames = iter_frames(path, decoder)
    stream = SegmentStream(frames.info, iter(()))
    stream.segments = _stream_segments(path, config, image_size, frames, stream)
    return stream


def _stream_segments(
    path, config: ExtractorConfig, image_size: int, source, stream: SegmentStream
) -> Iterator[DecodedSegment]:
    import cv2

    info = source.info
    fps = info.fps if info.fps > 0 else 25.0
    planner = SegmentPlanner(config.segment, fps)
    detector = None
    if config.segment.mode == "shots":
        from vidsearch.indexers.shots import make_detector

        detector = make_detector(config.segment.detector, fps, info.width, info.height, config.backbone, image_size)
    buffer = _FrameBuffer(max(1, int(round(fps / POSTERS_PER_SECOND))))
    counters = stream.counters
    emitted = 0

    def emit(final: bool = False) -> Iterator[DecodedSegment]:
        nonlocal emitted
        for start, end in planner.take(final):
            idx = start + uniform_indices(end - start, config.num_frames)
            yield DecodedSegment(
                emitted,
                start,
                end,
                start / fps,
                end / fps,
                np.stack([buffer.frame(int(i)) for i in idx]),
                buffer.poster((start + end - 1) // 2),
                indices=idx,
            )
            emitted += 1
        buffer.drop_before(planner.earliest_needed())

    count = 0
    for rgb in source.frames:
        poster = None
        if buffer.wants_poster(count):
            w = min(POSTER_WIDTH, rgb.shape[1])
            poster = cv2.resize(rgb, (w, max(2, round(rgb.shape[0] * w / rgb.shape[1]))), interpolation=cv2.INTER_AREA)
        encoder_frame = resize_frame(rgb, image_size, config.resize)
        buffer.append(encoder_frame, poster)
        count += 1
        counters.peak_buffered_frames = max(counters.peak_buffered_frames, len(buffer))
        if detector is None:
            planner.advance(count)
        else:
            detector.push(_detector_frame(rgb, encoder_frame, detector.size))
            for cut in detector.take_cuts():
                planner.cut(cut)
            planner.advance(detector.settled)
        counters.decoded_frames = source.decoded
        yield from emit()
    counters.decoded_frames = source.decoded
    if count == 0:
        raise VideoError(path, "video stream has no frames")
    if detector is not None:
        detector.finish()
        for cut in detector.take_cuts():
            planner.cut(cut)
    planner.finish(count)
    if count != info.frame_count:
        stream.info = VideoInfo(count / fps, fps, info.width, info.height, count)
    yield from emit(final=True)


def _detector_frame(rgb: np.ndarray, encoder_frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if encoder_frame.shape[1::-1] == size:
        return encoder_frame
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class _FrameBuffer:
    """Encoder-size frames from ``start`` on, and poster-size frames every ``poster_step`` frames."""

    def __init__(self, poster_step: int):
        self.start = 0
        self.frames: deque[np.ndarray] = deque()
        self.posters: dict[int, np.ndarray] = {}
        self.poster_step = poster_step

    def __len__(self) -> int:
        return len(self.frames)

    def wants_poster(self, index: int) -> bool:
        return index % self.poster_step == 0

    def append(self, frame: np.ndarray, poster: np.ndarray | None) -> None:
        if poster is not None:
            self.posters[self.start + len(self.frames)] = poster
        self.frames.append(frame)

    def frame(self, index: int) -> np.ndarray:
        return self.frames[index - self.start]

    def poster(self, index: int) -> bytes | None:
        """JPEG of the kept poster frame nearest ``index`` (at or before it, else just after)."""
        import cv2

        kept = index - index % self.poster_step
        image = self.posters.get(kept, self.posters.get(kept + self.poster_step))
        if image is None:
            return None
        ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 80])
        return jpeg.tobytes() if ok else None

    def drop_before(self, index: int) -> None:
        while self.frames and self.start < index:
            self.frames.popleft()
            self.posters.pop(self.start, None)
            self.start += 1
