"""Video I/O: probing, uniform frame sampling with accurate seeks, full decode, H.264 encode.

PyAV is the default backend (it seeks accurately, raises Python errors on bad files and can also
encode); decord is available behind the same ``sample_clip`` call for users who prefer it.
Every failure is raised as :class:`VideoError`, which names the file and the reason, so the
ingestion loop can record it and carry on.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.errors import ConfigError, VidsearchError
from vidsearch.indexers.decode.sampling import Sampling, sampled_indices

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts", ".ogv"}
)
MAX_PIXELS = 8192 * 8192  # larger frames are refused before decoding (one would need > 200 MB)
# Targets further apart than this (in frames) are reached by seeking instead of decoding through.
SEEK_GAP_FRAMES = 48
# While the next wanted frame is further ahead than this, frames no other frame references
# (most B-frames) are not decoded at all: they are never output, so what is output is unchanged.
# The margin covers the usual B-frame reordering (x264: 2); a deeper one that drops the target
# itself is caught (the cursor overshoots) and that approach is decoded again without skipping.
SKIP_NONREF_MARGIN = 4
# Frame threads of the seeking sampler (0: PyAV's default, FFmpeg's slice threads; 2 frame threads
# and "AUTO" were slower on 2 cores). Chosen by benchmarks/ingest.py's decode table.
SAMPLE_DECODE_THREADS = 0
# FFmpeg threads of one decoding process, seeking sampler and straight-through decoder alike:
# 0 = FFmpeg's choice (one per core). A decode pool sets it to its share of the cores, so that N
# processes do not each start a thread per core (same frames either way: slice and frame threading
# are bit-exact). Many decode processes each starting a thread per core slow each other down
# (docs/performance.md, "Indexing on a GPU").
DECODE_THREADS = 0

Decoder = Literal["pyav", "decord"]
ResizeMode = Literal["stretch", "center-crop"]


class VideoError(VidsearchError):
    """A clip that cannot be used; ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds
    fps: float
    width: int
    height: int
    frame_count: int  # from the container when it says, else duration * fps


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 (N, H, W, 3) RGB
    fps: float
    start_s: float = 0.0  # time of the first frame in the file (a decoded range starts later)


def frame_range(path, info: VideoInfo, start_s: float | None, end_s: float | None) -> tuple[int, int]:
    """Frames ``[first, last)`` covering the time range ``[start_s, end_s)`` (whole file by default)."""
    n = max(info.frame_count, 1)
    if start_s is None and end_s is None:
        return 0, n
    fps = info.fps if info.fps > 0 else n / max(info.duration, 1e-9)
    start = 0.0 if start_s is None else float(start_s)
    end = info.duration if end_s is None else float(end_s)
    if start >= info.duration:
        raise VideoError(path, f"time range starts at {start:g} s, after the end of the video ({info.duration:.2f} s)")
    if start < 0 or end <= start:
        raise VideoError(path, f"bad time range {start:g}-{end:g} s (need 0 <= start < end)")
    first = min(int(round(start * fps)), n - 1)
    last = min(max(int(round(end * fps)), first + 1), n)
    return first, last


def _open(path: str | os.PathLike):
    import av

    p = Path(path)
    if not p.exists():
        raise VideoError(path, "file not found")
    if p.is_dir():
        raise VideoError(path, "is a directory")
    if not os.access(p, os.R_OK):
        raise VideoError(path, "permission denied")
    if p.stat().st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(p))
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"not a readable video ({exc.__class__.__name__}: {exc.strerror or exc})") from exc
    except OSError as exc:
        raise VideoError(path, f"cannot open ({exc})") from exc
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise VideoError(path, f"no video stream (contains: {', '.join(kinds)})")
    stream = container.streams.video[0]
    w, h = stream.codec_context.width, stream.codec_context.height
    if w * h > MAX_PIXELS:
        container.close()
        raise VideoError(path, f"resolution {w}x{h} exceeds the {MAX_PIXELS} pixel limit")
    if w <= 0 or h <= 0:
        container.close()
        raise VideoError(path, "video stream has no frame size (corrupt header)")
    return container, stream


def _stream_info(path, container, stream) -> VideoInfo:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = 0.0
    frames = int(stream.frames or 0)
    if frames <= 0 and fps > 0 and duration > 0:
        frames = int(round(duration * fps))
    if duration <= 0 and fps > 0 and frames > 0:
        duration = frames / fps
    if fps <= 0 and duration > 0 and frames > 0:
        fps = frames / duration
    return VideoInfo(duration, fps, stream.codec_context.width, stream.codec_context.height, frames)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Container metadata without decoding (raises :class:`VideoError`)."""
    container, stream = _open(path)
    try:
        return _stream_info(path, container, stream)
    finally:
        container.close()


def resize_frame(rgb: np.ndarray, size: int, mode: ResizeMode = "stretch") -> np.ndarray:
    """Square ``size`` frame: ``stretch`` as the reference (cv2 bilinear, aspect not kept), or
    ``center-crop`` (shorter side to ``size``, then the centre square)."""
    import cv2

    if mode == "stretch":
        return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(resized[top : top + size, left : left + size])


def _frame_index(pts: int | None, stream, fps: float) -> int:
    """The frame index of a timestamp (-1 without one): what the sampler's targets count."""
    if pts is None or stream.time_base is None or fps <= 0:
        return -1
    return int(round(float((pts - (stream.start_time or 0)) * stream.time_base) * fps))


def _timestamp(stream, fps: float, index: int) -> int:
    """The stream timestamp of frame ``index`` (inverse of :func:`_frame_index`)."""
    return (stream.start_time or 0) + int(Fraction(index) / Fraction(fps).limit_denominator(100000) / stream.time_base)


def keyframe_indices(path: str | os.PathLike, first: int = 0, last: int | None = None) -> np.ndarray:
    """Frame indices of the keyframes from the one at or before ``first`` up to ``last``
    (exclusive; the end of the file by default), from demuxing packets: nothing is decoded.
    Packets without timestamps are not counted (their frames cannot be placed)."""
    import av

    container, stream = _open(path)
    try:
        fps = _stream_info(path, container, stream).fps
        if first > 0 and stream.time_base is not None and fps > 0:
            container.seek(_timestamp(stream, fps, first), stream=stream, backward=True, any_frame=False)
        keys = []
        for packet in container.demux(stream):
            if not packet.is_keyframe or not packet.size:
                continue
            index = _frame_index(packet.pts, stream, fps)
            if last is not None and index >= last:
                break
            if index >= 0:
                keys.append(index)
        return np.unique(np.asarray(keys, np.int64))
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"demux failed ({exc.__class__.__name__}: {exc.strerror or exc})") from exc
    finally:
        container.close()


class _FrameCursor:
    """Walks a PyAV stream forward, seeking when the next wanted frame is far ahead.

    A seek lands on the keyframe before the target, so it only pays when a keyframe lies between
    the current position and the target. The GOP length is unknown up front: start by seeking
    for gaps over ``SEEK_GAP_FRAMES``, and whenever a seek lands at or before where we already
    were, raise the threshold to the distance it fell back (a lower bound on the GOP).
    Frames between wanted ones are decoded only as far as references need (see
    ``SKIP_NONREF_MARGIN``). ``SAMPLE_DECODE_THREADS`` > 1 turns on frame threading (same
    frames, bit for bit: tested). When the caller already demuxed the ``keyframes`` (keyframe
    sampling does), no guessing: it seeks exactly when a keyframe lies after the current frame and
    at or before the target, so a target that is a keyframe costs one decoded frame.
    """

    def __init__(self, container, stream, fps: float, keyframes: np.ndarray | None = None):
        self.container, self.stream = container, stream
        self.keyframes = keyframes
        if SAMPLE_DECODE_THREADS > 1:
            stream.thread_type = "FRAME"
            stream.thread_count = SAMPLE_DECODE_THREADS
        else:
            stream.thread_count = DECODE_THREADS
        self.fps = fps
        self.iter = None
        self.last = None  # (index, frame)
        self.min_gap = SEEK_GAP_FRAMES
        self.decoded = 0
        self.skipping = False
        self.skipped = False  # some frame was pulled with non-ref skipping on, since get() began

    def _seek(self, index: int) -> None:
        self.container.seek(
            _timestamp(self.stream, self.fps, index), stream=self.stream, backward=True, any_frame=False
        )
        self.iter = None
        self.last = None

    def _skip_nonref(self, skip: bool) -> None:
        if skip != self.skipping:
            self.stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self.skipping = skip

    def _next(self, target: int | None = None):
        if self.iter is None:
            self.iter = self.container.decode(self.stream)
        # only with timestamps: without them frames are counted, and skipped ones would not be
        far = (
            target is not None and self.last is not None and self.last[2] and target - self.last[0] > SKIP_NONREF_MARGIN
        )
        self._skip_nonref(bool(far))
        self.skipped |= self.skipping
        frame = next(self.iter, None)
        if frame is None:
            return None
        self.decoded += 1
        idx = _frame_index(frame.pts, self.stream, self.fps)
        timed = idx >= 0
        if not timed:  # no timestamps: count frames
            idx = 0 if self.last is None else self.last[0] + 1
        self.last = (idx, frame, timed)
        return self.last

    def get(self, index: int):
        """The decoded frame whose index is ``index`` (or the last one if the stream ends early)."""
        if self.last is not None and self.last[0] == index:
            return self.last[1]
        self.skipped = False
        frame = self._approach(index)
        if self.skipped and self.last is not None and self.last[0] > index:
            # overshot while skipping: the target may itself have been a skipped non-reference
            # frame (deeper B-frame reordering than the margin): decode its approach again, whole
            self._seek(index)
            frame = self._walk(index, skip=False)
        return frame

    def _approach(self, index: int):
        # a fresh cursor seeks too: a decode that starts late in the file (a time range) must not
        # walk from frame 0
        before = -1 if self.last is None else self.last[0]
        if index < before or self._worth_seeking(before, index):
            self._seek(index)
            landed = self._next(index)
            if landed is not None and landed[0] <= before:
                self.min_gap = max(self.min_gap, index - landed[0])
            if landed is not None and landed[0] >= index:
                return landed[1]
        return self._walk(index, skip=True)

    def _worth_seeking(self, before: int, index: int) -> bool:
        if self.keyframes is None:
            return index - max(before, 0) > self.min_gap
        return before < 0 or bool(np.any((self.keyframes > before) & (self.keyframes <= index)))

    def _walk(self, index: int, skip: bool):
        """Decode forward to the first frame at or after ``index`` (the last one at the end)."""
        previous = self.last
        while True:
            item = self._next(index if skip else None)
            if item is None:
                return previous[1] if previous else None
            if item[0] >= index:
                return item[1]
            previous = item


Span = tuple[float | None, float | None]


@dataclass
class Sample:
    """Sampled frames of a clip, the file's probe, and the frame
    indices in the file the frames are (the targets ``sampling`` chose; repeated frames repeat)."""

    frames: list[np.ndarray] | np.ndarray
    info: VideoInfo
    indices: np.ndarray


def _sample_pyav(path, num_frames: int, span: Span = (None, None), sampling: Sampling = "exact") -> Sample:
    import av

    container, stream = _open(path)
    try:
        info = _stream_info(path, container, stream)
        if info.frame_count <= 0:
            raise VideoError(path, "video stream has no frames")
        first, last = frame_range(path, info, *span)
        keyframes = keyframe_indices(path, first, last) if sampling == "keyframes" else None
        targets = sampled_indices(first, last, num_frames, keyframes)
        cursor = _FrameCursor(container, stream, info.fps, keyframes)
        frames: list[np.ndarray] = []
        cache: dict[int, np.ndarray] = {}
        for idx in targets.tolist():
            if idx not in cache:
                frame = cursor.get(idx)
                if frame is None:
                    raise VideoError(path, "no decodable frames")
                cache = {idx: frame.to_ndarray(format="rgb24")}
            frames.append(cache[idx])
        return Sample(frames, info, targets)
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"decode failed ({exc.__class__.__name__}: {exc.strerror or exc})") from exc
    finally:
        container.close()


def _sample_decord(path, num_frames: int, span: Span = (None, None), sampling: Sampling = "exact") -> Sample:
    try:
        import decord
    except ImportError as exc:
        raise VideoError(path, "decoder 'decord' is not installed (pip install 'vidsearch[decord]')") from exc
    info = probe(path)  # same validation and metadata as the PyAV path
    try:
        reader = decord.VideoReader(str(path))
        n = len(reader)
        if n <= 0:
            raise VideoError(path, "video stream has no frames")
        info = VideoInfo(info.duration, info.fps, info.width, info.height, n)
        first, last = frame_range(path, info, *span)
        keyframes = np.asarray(reader.get_key_indices(), np.int64) if sampling == "keyframes" else None
        targets = sampled_indices(first, last, num_frames, keyframes)
        batch = reader.get_batch(targets.tolist()).asnumpy()
    except decord.DECORDError as exc:
        raise VideoError(path, f"decode failed (decord: {exc})") from exc
    return Sample(list(batch), info, targets)


def sample_clip(
    path: str | os.PathLike,
    num_frames: int = 32,
    size: int = 224,
    resize: ResizeMode = "stretch",
    decoder: Decoder = "pyav",
    start_s: float | None = None,
    end_s: float | None = None,
    sampling: Sampling = "exact",
) -> Sample:
    """``num_frames`` RGB frames sampled as ``sampling`` says (``indexers/decode/sampling.py``: exact
    ``round(linspace)`` by default), resized to ``size`` x ``size``, with the probe and indices.

    With ``start_s`` / ``end_s`` the frames are sampled from that time range only (a moment of a
    longer file), by the same rule as a whole clip.
    """
    if decoder == "pyav":
        raw = _sample_pyav(path, num_frames, (start_s, end_s), sampling)
    elif decoder == "decord":
        raw = _sample_decord(path, num_frames, (start_s, end_s), sampling)
    else:
        raise ConfigError(f"unknown decoder {decoder!r} (choose 'pyav' or 'decord')")
    return Sample(np.stack([resize_frame(f, size, resize) for f in raw.frames]), raw.info, raw.indices)


def sample_frames(
    path: str | os.PathLike,
    num_frames: int = 32,
    size: int = 224,
    resize: ResizeMode = "stretch",
    decoder: Decoder = "pyav",
) -> np.ndarray:
    """uint8 (T, size, size, 3): frames ``round(linspace(0, n-1, T))`` of the clip."""
    return sample_clip(path, num_frames, size, resize, decoder).frames


@dataclass
class FrameStream:
    """The probe of a file and its frames in decode order (uint8 (H, W, 3) RGB), decoded lazily.

    ``first`` is the index of the first frame yielded (0 unless a time range was asked for);
    ``decoded`` counts the frames the decoder produced so far (seek fall-back included), so
    callers and tests can check that a file is decoded once.
    """

    info: VideoInfo
    first: int
    frames: Iterator[np.ndarray]
    decoded: int = 0


def iter_frames(
    path: str | os.PathLike, decoder: Decoder = "pyav", start_s: float | None = None, end_s: float | None = None
) -> FrameStream:
    """Stream the frames of a file (or of ``[start_s, end_s)``) once, without holding them.

    Raises :class:`VideoError` for an unusable file, before or while streaming.
    """
    if decoder == "pyav":
        return _iter_pyav(path, (start_s, end_s))
    if decoder == "decord":
        return _iter_decord(path, (start_s, end_s))
    raise ConfigError(f"unknown decoder {decoder!r} (choose 'pyav' or 'decord')")


def _iter_pyav(path, span: Span) -> FrameStream:
    import av

    container, stream = _open(path)
    try:
        info = _stream_info(path, container, stream)
        first, last = frame_range(path, info, *span)
    except BaseException:
        container.close()
        raise
    stream.thread_type = "AUTO"  # frame-threaded decoding: a long file is read once, fast
    stream.thread_count = DECODE_THREADS

    def frames() -> Iterator[np.ndarray]:
        cursor = _FrameCursor(container, stream, info.fps)
        try:
            if first > 0:
                frame = cursor.get(first)
                if frame is None:
                    raise VideoError(path, "no decodable frames")
                result.decoded = cursor.decoded
                yield frame.to_ndarray(format="rgb24")
            index = first if first > 0 else -1
            while span == (None, None) or index + 1 < last:
                item = cursor._next()
                result.decoded = cursor.decoded
                if item is None:
                    break
                index = item[0] if span != (None, None) else index + 1
                if index < first:
                    continue
                if span != (None, None) and index >= last:
                    break
                yield item[1].to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"decode failed ({exc.__class__.__name__}: {exc.strerror or exc})") from exc
        finally:
            container.close()

    result = FrameStream(info, first, frames())
    return result


def _iter_decord(path, span: Span) -> FrameStream:
    try:
        import decord
    except ImportError as exc:
        raise VideoError(path, "decoder 'decord' is not installed (pip install 'vidsearch[decord]')") from exc
    info = probe(path)
    try:
        reader = decord.VideoReader(str(path))
    except decord.DECORDError as exc:
        raise VideoError(path, f"decode failed (decord: {exc})") from exc
    info = VideoInfo(info.duration, info.fps, info.width, info.height, len(reader))
    first, last = frame_range(path, info, *span)

    def frames() -> Iterator[np.ndarray]:
        try:
            for index in range(first, last):
                batch = reader.get_batch([index]).asnumpy()
                result.decoded += 1
                yield batch[0]
        except decord.DECORDError as exc:
            raise VideoError(path, f"decode failed (decord: {exc})") from exc

    result = FrameStream(info, first, frames())
    return result


def decode_all(
    path: str | os.PathLike, max_side: int | None = None, start_s: float | None = None, end_s: float | None = None
) -> DecodedVideo:
    """Every frame of the clip, or of its ``[start_s, end_s)`` range (for dense SPF and retiming),
    optionally downscaled so the longer side is at most ``max_side``."""
    import cv2

    stream = iter_frames(path, "pyav", start_s, end_s)
    frames = []
    for rgb in stream.frames:
        if max_side and max(rgb.shape[:2]) > max_side:
            s = max_side / max(rgb.shape[:2])
            rgb = cv2.resize(
                rgb, (max(2, round(rgb.shape[1] * s)), max(2, round(rgb.shape[0] * s))), interpolation=cv2.INTER_AREA
            )
        frames.append(rgb)
    if not frames:
        raise VideoError(path, "video stream has no frames")
    fps = stream.info.fps or 25.0
    return DecodedVideo(np.stack(frames), fps, stream.first / fps)


def write_video(path: str | os.PathLike, frames, fps: float, crf: int = 18) -> Path:
    """Encode uint8 RGB frames (an (N, H, W, 3) array, or an iterable of (H, W, 3) frames of one
    size, streamed so a long video never sits in memory) as H.264 (yuv420p) atomically: temp file
    + rename. Odd frame sizes are cropped by one pixel because yuv420p needs even dimensions.
    """
    import av

    if isinstance(frames, np.ndarray) and (frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0):
        raise ValueError(f"expected non-empty (N, H, W, 3) frames, got shape {frames.shape}")
    frame_iter = iter(frames)
    first = next(frame_iter, None)
    if first is None or np.asarray(first).ndim != 3 or np.asarray(first).shape[-1] != 3:
        raise ValueError("expected non-empty (N, H, W, 3) frames")
    h, w = np.asarray(first).shape[0] // 2 * 2, np.asarray(first).shape[1] // 2 * 2
    out = Path(path)
    with atomic_path(out, suffix=out.suffix or ".mp4") as tmp, av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in itertools.chain([first], frame_iter):
            rgb = np.ascontiguousarray(np.asarray(rgb)[:h, :w], dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out
