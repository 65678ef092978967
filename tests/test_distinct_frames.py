"""Segments shorter than T frames: each distinct sampled frame is encoded once, the vectors unchanged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vidsearch.indexers.config import PUBLISHED, SegmentConfig
from vidsearch.indexers.decode.segmenting import open_segments
from vidsearch.indexers.encode_stage import SegmentEncoder
from vidsearch.indexers.encoders import load_encoder
from vidsearch.indexers.features import embed_clip, features_from_encoded, load_clip_frames
from vidsearch.indexers.runtime import RuntimeConfig


class CountingEncoder:
    """Wraps an encoder and counts the frames its ``encode`` is given."""

    def __init__(self, encoder):
        self.inner, self.frames_seen = encoder, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, frames, *args, **kwargs):
        self.frames_seen += len(frames)
        return self.inner.encode(frames, *args, **kwargs)


@pytest.mark.parametrize("mode", ["window", "none"])
def test_short_segments_encode_each_distinct_frame_once(real_clips, mode):
    # 0.4 s windows of a 25 fps clip hold 10 frames, and the 120-frame carphone clip is shorter
    # than T = 160: both sample most frames several times.
    segment = SegmentConfig(mode="window", window=0.4, stride=0.4) if mode == "window" else SegmentConfig(mode="none")
    clip = real_clips / ("bikes.mp4" if mode == "window" else "carphone_pristine.mp4")
    config = replace(PUBLISHED, backbone="tiny-random", segment=segment, num_frames=32 if mode == "window" else 160)
    encoder = load_encoder("tiny-random", num_threads=1)
    stream = open_segments(clip, config, encoder.image_size)
    segments = list(stream.segments)[:6]
    assert all(len(np.unique(s.indices)) < len(s.frames) for s in segments)

    counting = CountingEncoder(encoder)
    stage = SegmentEncoder(counting, config, RuntimeConfig(device="cpu", precision="fp32"))
    deduplicated = stage.encode([(s, stream.info) for s in segments])

    every_frame = np.concatenate([s.frames for s in segments])
    encoded = encoder.encode(every_frame, batch_size=len(every_frame))
    start, expected = 0, []
    for s in segments:
        part = type(encoded)(
            encoded.patch_tokens[start : start + len(s.frames)], encoded.global_embedding[start : start + len(s.frames)]
        )
        expected.append(features_from_encoded(part, config, stream.info, s.frames, s.aux))
        start += len(s.frames)

    assert counting.frames_seen == sum(len(np.unique(s.indices)) for s in segments) < len(every_frame)
    for got, want in zip(deduplicated, expected):
        np.testing.assert_array_equal(got.moments, want.moments)
        np.testing.assert_array_equal(got.spf.curve, want.spf.curve)
        for name in want.aux:
            np.testing.assert_array_equal(got.aux[name], want.aux[name])


def test_a_query_clip_shorter_than_t_is_embedded_as_before(real_clips):
    clip = real_clips / "carphone_pristine.mp4"  # 120 frames, T = 160
    config = replace(PUBLISHED, backbone="tiny-random", segment=SegmentConfig(mode="none"), num_frames=160)
    encoder = load_encoder("tiny-random", num_threads=1)
    counting = CountingEncoder(encoder)
    got = embed_clip(clip, config, counting)
    sample = load_clip_frames(clip, config, encoder)
    frames, info = sample.frames, sample.info
    want = features_from_encoded(encoder.encode(frames), config, info, frames)
    assert counting.frames_seen == 120 < len(frames)
    np.testing.assert_array_equal(got.moments, want.moments)
    np.testing.assert_array_equal(got.spf.curve, want.spf.curve)
    assert got.aux.keys() == want.aux.keys()
    for name in want.aux:
        np.testing.assert_array_equal(got.aux[name], want.aux[name])
