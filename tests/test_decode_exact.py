"""Skipping unreferenced frames between sampled ones must not change a single sampled pixel."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.indexers.decode import video
from vidsearch.indexers.decode.sampling import uniform_indices


@pytest.mark.parametrize("threads", [0, 2])
@pytest.mark.parametrize(
    "clip, frames", [("bikes.mp4", 4), ("bikes.mp4", 32), ("bigbuckbunny.mp4", 3), ("long-gop.mp4", 4)]
)
def test_sampled_frames_equal_a_full_decode(real_clips, make_clip, clip, frames, threads, monkeypatch):
    """Real clips (short GOPs: seeking lands near each target) and a 300-frame clip with one
    keyframe and B-frames (seeking cannot help: frames between targets are walked, skipping),
    single-threaded and with frame threads."""
    monkeypatch.setattr(video, "SAMPLE_DECODE_THREADS", threads)
    path = (
        make_clip(clip, n_frames=300, motion="circle", texture="checker")
        if clip == "long-gop.mp4"
        else real_clips / clip
    )
    full = video.decode_all(path).frames
    expected = np.stack([video.resize_frame(full[i], 64) for i in uniform_indices(len(full), frames)])
    decoded = []
    real_next = video._FrameCursor._next

    def counting(self, target=None):
        item = real_next(self, target)
        decoded.append(self.skipping)
        return item

    monkeypatch.setattr(video._FrameCursor, "_next", counting)
    got = video.sample_frames(path, frames, 64)
    np.testing.assert_array_equal(got, expected)
    if clip == "long-gop.mp4":  # targets 100 frames apart: unreferenced frames were skipped
        assert any(decoded) and len(decoded) < len(full)


@pytest.mark.parametrize("clip", ["bikes.mp4", "long-gop.mp4"])
def test_a_target_skipped_as_non_reference_is_decoded_again(real_clips, make_clip, clip, monkeypatch):
    """With no margin, skipping stays on up to each target, so targets that are non-reference
    B-frames are dropped by the decoder: the cursor must notice it overshot and decode again."""
    monkeypatch.setattr(video, "SKIP_NONREF_MARGIN", 0)
    path = (
        make_clip(clip, n_frames=300, motion="circle", texture="checker")
        if clip == "long-gop.mp4"
        else real_clips / clip
    )
    full = video.decode_all(path).frames
    expected = np.stack([video.resize_frame(full[i], 64) for i in uniform_indices(len(full), 16)])
    redone = []
    real_walk = video._FrameCursor._walk

    def spy(self, index, skip):
        redone.append(not skip)
        return real_walk(self, index, skip)

    monkeypatch.setattr(video._FrameCursor, "_walk", spy)
    np.testing.assert_array_equal(video.sample_frames(path, 16, 64), expected)
    assert any(redone)
