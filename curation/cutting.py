"""Cut one segment out of its file: stream copy when the cut allows it, re-encode otherwise.

A stream copy (packets copied, no quality loss, ~instant) is only correct when the segment starts
on a keyframe (the first packet must decode on its own) and ends on a keyframe or at the end of
the stream (no kept frame may reference a dropped one). Any other range is decoded and re-encoded
as H.264 (CRF 18, yuv420p) at the source frame rate, frames ``[start_s, end_s)``. Only the video
stream is written. The caller learns which happened per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from vidsearch.atomic import atomic_path
from vidsearch.indexers.decode.video import VideoError

CutMode = Literal["copy", "reencode"]
CRF = 18


@dataclass
class CutResult:
    path: Path
    mode: CutMode
    frames: int
    duration_s: float


def keyframe_times(path: str) -> tuple[list[float], float, float]:
    """(keyframe times in seconds, stream end in seconds, frame duration), from demuxing alone."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        keys, end, step = [], 0.0, 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = packet.pts * tb
            if packet.is_keyframe:
                keys.append(t)
            if packet.duration:
                step = step or packet.duration * tb
            end = max(end, t + (packet.duration or 0) * tb)
        rate = stream.average_rate
        step = step or (1.0 / float(rate) if rate else 0.04)
    return sorted(keys), end, step


def cut_segment(path: str, start_s: float, end_s: float, out: Path, allow_copy: bool = True) -> CutResult:
    """Write ``[start_s, end_s)`` of ``path`` to ``out`` (an .mp4), atomically."""
    import av

    try:
        keys, stream_end, step = keyframe_times(path)
        on_key = lambda t: any(abs(k - t) < step / 2 for k in keys)  # noqa: E731
        copy = allow_copy and on_key(start_s) and (end_s >= stream_end - step / 2 or on_key(end_s))
        with atomic_path(out, suffix=".mp4") as tmp:
            frames = _copy(path, start_s, min(end_s, stream_end), tmp) if copy else _reencode(path, start_s, end_s, tmp)
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"cannot cut {start_s:g}-{end_s:g} s ({exc.__class__.__name__}: {exc})") from exc
    if frames == 0:
        raise VideoError(path, f"no frames in {start_s:g}-{end_s:g} s")
    return CutResult(
        out, "copy" if copy else "reencode", frames, min(end_s, stream_end) - start_s if copy else frames * step
    )


def _copy(path: str, start_s: float, end_s: float, tmp: Path) -> int:
    import av

    with av.open(path) as src, av.open(str(tmp), mode="w", format="mp4") as dst:
        stream = src.streams.video[0]
        tb = float(stream.time_base)
        out = dst.add_stream_from_template(stream)
        offset, frames = None, 0
        for packet in src.demux(stream):
            if packet.pts is None:
                continue
            t = packet.pts * tb
            if t < start_s - tb or t >= end_s - tb / 2:
                continue
            if offset is None:
                offset = packet.pts
            packet.pts -= offset
            if packet.dts is not None:
                packet.dts -= offset
            packet.stream = out
            dst.mux(packet)
            frames += 1
    return frames


def _reencode(path: str, start_s: float, end_s: float, tmp: Path) -> int:
    import av

    with av.open(path) as src, av.open(str(tmp), mode="w", format="mp4") as dst:
        stream = src.streams.video[0]
        rate = stream.average_rate or Fraction(25)
        out = dst.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
        out.width, out.height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
        out.pix_fmt = "yuv420p"
        out.options = {"crf": str(CRF), "preset": "veryfast"}
        frame_tb = Fraction(1, 1) / Fraction(rate).limit_denominator(1001)
        out.codec_context.time_base = frame_tb
        if start_s > 0:
            src.seek(int(start_s / float(stream.time_base)), stream=stream, backward=True)
        half = 0.5 / float(rate)
        frames = 0
        for frame in src.decode(stream):
            t = frame.time or 0.0
            if t < start_s - half:
                continue
            if t >= end_s - half:
                break
            image = frame.reformat(width=out.width, height=out.height, format="yuv420p")
            image.pts, image.time_base = frames, frame_tb
            for packet in out.encode(image):
                dst.mux(packet)
            frames += 1
        for packet in out.encode():
            dst.mux(packet)
    return frames
