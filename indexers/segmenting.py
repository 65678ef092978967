"""From a file to the sampled frames of each of its segments, in one streaming decode pass.

``open_segments`` is what the ingestion pipeline calls per file: it probes the file, then yields
one :class:`DecodedSegment` at a time (its ``config.num_frames`` frames at the encoder's input
size), so a long file never sits in memory whole and is never decoded once per segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.video import VideoInfo, sample_frames_with_info


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


@dataclass
class SegmentStream:
    """The probe of a file and an iterator over its decoded segments (raises VideoError)."""

    info: VideoInfo
    segments: Iterator[DecodedSegment]


def open_segments(path, config: ExtractorConfig, image_size: int, decoder: str = "pyav") -> SegmentStream:
    """Decode ``path`` into segments as ``config.segment`` says (``none``: the whole file)."""
    if config.segment.mode != "none":
        raise NotImplementedError(f"segment mode {config.segment.mode!r} is not implemented yet")
    frames, info = sample_frames_with_info(path, config.num_frames, image_size, config.resize, decoder)
    whole = DecodedSegment(0, 0, max(info.frame_count, 1), 0.0, info.duration, frames)
    return SegmentStream(info, iter([whole]))
