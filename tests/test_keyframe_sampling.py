"""Keyframe-snapped sampling (``ExtractorConfig.sampling == "keyframes"``) on real decoded video:
snapped frames are keyframes within the tolerance, used once, in time order, pixel-exact; the
exact sampling is untouched; the setting is part of the config and its fingerprint."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from conftest import render_pattern, write_fixed_gop

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode import video
from vidsearch.indexers.decode.sampling import snap_to_keyframes, snap_tolerance, uniform_indices
from vidsearch.indexers.decode.segmenting import open_segments

SIZE = 64


@pytest.fixture(scope="module")
def gop_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gop")
    frames = render_pattern(400, 96, "circle", texture="checker")
    return {gop: write_fixed_gop(folder / f"gop{gop}.mp4", frames, 25, gop) for gop in (20, 100)}


def _decoded(path) -> tuple[np.ndarray, set[int]]:
    """Every frame, and the indices of those the decoder flags as keyframes (a full decode)."""
    import av

    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return np.stack([f.to_ndarray(format="rgb24") for f in frames]), {i for i, f in enumerate(frames) if f.key_frame}


def _clips(real_clips, gop_clips):
    return [*sorted(real_clips.glob("*.mp4")), *gop_clips.values()]


def test_demuxed_keyframes_are_the_decoded_keyframes(real_clips, gop_clips):
    for clip in _clips(real_clips, gop_clips):
        _, keys = _decoded(clip)
        assert video.keyframe_indices(clip).tolist() == sorted(keys), clip
    _, keys = _decoded(gop_clips[100])
    assert len(keys) > 1  # the generated clips really have several GOPs


@pytest.mark.parametrize("num_frames", [8, 32])
def test_snapped_frames_are_unused_keyframes_within_the_tolerance(real_clips, gop_clips, num_frames):
    snapped_somewhere = kept_somewhere = False
    for clip in _clips(real_clips, gop_clips):
        full, keys = _decoded(clip)
        sample = video.sample_clip(clip, num_frames, SIZE, sampling="keyframes")
        exact = uniform_indices(len(full), num_frames)
        tolerance = snap_tolerance(len(full), num_frames)
        got = sample.indices
        assert np.all(np.diff(got) >= 0), clip  # time order
        moved = got != exact
        assert all(int(i) in keys for i in got[moved]), clip
        assert np.all(np.abs(got - exact)[moved] <= tolerance), clip
        assert len(set(got[moved].tolist())) == moved.sum() and not set(got[moved].tolist()) & set(
            got[~moved].tolist()
        ), clip
        # a target stays exact only where no free keyframe was within reach
        for i in np.flatnonzero(~moved):
            near = {k for k in keys if abs(k - exact[i]) <= tolerance} - set(got.tolist())
            assert exact[i] in keys or not near, (clip, exact[i], near)
        np.testing.assert_array_equal(
            sample.frames, np.stack([video.resize_frame(full[i], SIZE) for i in got]), err_msg=str(clip)
        )
        snapped_somewhere |= bool(moved.any())
        kept_somewhere |= bool((~moved & ~np.isin(exact, list(keys))).any())
    assert snapped_somewhere and kept_somewhere  # both branches were exercised


def test_exact_sampling_is_unchanged(real_clips, gop_clips):
    for clip in _clips(real_clips, gop_clips):
        full, _ = _decoded(clip)
        exact = video.sample_clip(clip, 32, SIZE)
        np.testing.assert_array_equal(exact.indices, uniform_indices(len(full), 32))
        np.testing.assert_array_equal(
            exact.frames, np.stack([video.resize_frame(full[i], SIZE) for i in exact.indices])
        )
        np.testing.assert_array_equal(video.sample_frames(clip, 32, SIZE), exact.frames)


def test_snapped_targets_cost_one_decoded_frame(gop_clips, monkeypatch):
    """GOP 20, 8 targets 57 frames apart: every target has a keyframe within reach, so keyframe
    sampling outputs one frame per target, where exact sampling walks through GOPs."""
    clip = gop_clips[20]
    counts = []
    real_init = video._FrameCursor.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        counts.append(self)

    monkeypatch.setattr(video._FrameCursor, "__init__", spy)
    snapped = video.sample_clip(clip, 8, SIZE, sampling="keyframes")
    video.sample_clip(clip, 8, SIZE)
    keys = set(video.keyframe_indices(clip).tolist())
    assert set(snapped.indices.tolist()) <= keys
    assert counts[0].decoded == len(snapped.indices) < counts[1].decoded


def test_snapping_rule():
    # 9 and 11 equally near 10: the earlier; 24 within 5 of 20; none within 5 of 30
    assert snap_to_keyframes(np.array([0, 10, 20, 30]), np.array([0, 9, 11, 24]), 5).tolist() == [0, 9, 24, 30]
    assert snap_to_keyframes(np.array([0, 10, 20]), np.array([0, 15]), 5).tolist() == [
        0,
        15,
        20,
    ]  # 10 wins 15, 20 stays
    assert snap_to_keyframes(np.array([0, 10, 20]), np.array([0, 16]), 5).tolist() == [0, 10, 16]  # only 20 reaches 16
    assert snap_to_keyframes(np.array([0, 10, 20]), np.array([0, 20]), 5).tolist() == [
        0,
        10,
        20,
    ]  # a target on a keyframe keeps it
    # a tolerance wider than the spacing can cross targets over: still returned in time order
    assert snap_to_keyframes(np.array([10, 20]), np.array([7, 12]), 13).tolist() == [7, 12]
    short = uniform_indices(5, 8)  # shorter than T: targets under a frame apart, nothing moves
    assert snap_to_keyframes(short, np.array([0, 2, 4]), snap_tolerance(5, 8)).tolist() == short.tolist()


def test_segments_record_the_snapped_indices(gop_clips):
    clip = gop_clips[100]
    config = ExtractorConfig(num_frames=32, segment=SegmentConfig(mode="none"), sampling="keyframes")
    segment = next(open_segments(str(clip), config, SIZE).segments)
    whole = video.sample_clip(clip, 32, SIZE, sampling="keyframes")
    np.testing.assert_array_equal(segment.indices, whole.indices)
    np.testing.assert_array_equal(segment.frames, whole.frames)
    assert not np.array_equal(whole.indices, uniform_indices(400, 32))


def test_a_time_range_snaps_inside_the_range(gop_clips):
    clip = gop_clips[20]
    info = video.probe(clip)
    sample = video.sample_clip(clip, 4, SIZE, start_s=6.0, end_s=12.0, sampling="keyframes")
    first, last = video.frame_range(clip, info, 6.0, 12.0)
    assert np.all((sample.indices >= first) & (sample.indices < last))
    full, keys = _decoded(clip)
    assert set(sample.indices.tolist()) <= keys
    np.testing.assert_array_equal(sample.frames, np.stack([video.resize_frame(full[i], SIZE) for i in sample.indices]))


def test_sampling_is_part_of_the_config():
    exact = ExtractorConfig(segment=SegmentConfig(mode="none"))
    snapped = ExtractorConfig(segment=SegmentConfig(mode="none"), sampling="keyframes")
    assert snapped.fingerprint() != ExtractorConfig(segment=SegmentConfig(mode="none")).fingerprint()
    assert ExtractorConfig.from_dict(snapped.to_dict()) == snapped
    # a manifest written before the option (no "sampling" key, nor the later "input_px") is the
    # exact sampling, and exact configs keep the fingerprint they had then (the hash of that dict)
    old = {k: v for k, v in exact.to_dict().items() if k not in ("sampling", "input_px")}
    assert ExtractorConfig.from_dict(old) == exact
    assert exact.fingerprint() == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert any(
        d.startswith("sampling:") for d in snapped.differences(ExtractorConfig(segment=SegmentConfig(mode="none")))
    )
    with pytest.raises(ValueError, match="segment mode 'none'"):
        ExtractorConfig(segment=SegmentConfig(mode="shots"), sampling="keyframes")
    with pytest.raises(ValueError, match="sampling must be"):
        ExtractorConfig(sampling="nearest")


def test_decord_snaps_to_the_same_keyframes(real_clips, gop_clips):
    pytest.importorskip("decord")
    for clip in [real_clips / "bikes.mp4", gop_clips[100]]:
        pyav = video.sample_clip(clip, 32, SIZE, sampling="keyframes")
        decord = video.sample_clip(clip, 32, SIZE, decoder="decord", sampling="keyframes")
        np.testing.assert_array_equal(decord.indices, pyav.indices)
        np.testing.assert_array_equal(decord.frames, pyav.frames)
        assert not np.array_equal(pyav.indices, uniform_indices(len(_decoded(clip)[0]), 32))
