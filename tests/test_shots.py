"""Shot detection on real footage with cuts at known frames, and TransNetV2 as published."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.cutlist import BIKES_CUTS, join_clips, match_cuts
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.segmenting import SegmentPlanner, open_segments
from vidsearch.indexers.decode.video import probe
from vidsearch.indexers.shots import detect_cuts

TOLERANCE = 2  # frames


@pytest.fixture(scope="module")
def joined(real_clips, tmp_path_factory):
    """carphone | bikes | bigbuckbunny at 25 fps: junction cuts at 120 and 370, plus bikes' own five
    (its last shot is 8 frames long)."""
    clips = [real_clips / "carphone_pristine.mp4", real_clips / "bikes.mp4", real_clips / "bigbuckbunny.mp4"]
    video = join_clips(clips, tmp_path_factory.mktemp("joined") / "joined.mp4", size=(256, 144))
    bikes_start = video.spans[1][1]
    return video, sorted(video.cuts + [bikes_start + c for c in BIKES_CUTS])


@pytest.mark.slow
def test_transnetv2_stream_equals_the_packages_predict_frames(real_clips):
    """Our streaming run (a few windows in memory) gives the published whole-video predictions."""
    import cv2
    import torch

    from vidsearch.indexers.decode.video import iter_frames
    from vidsearch.indexers.shots.transnet import TransNetV2Detector, load_transnetv2

    frames = [
        cv2.resize(f, (48, 27), interpolation=cv2.INTER_AREA) for f in iter_frames(real_clips / "bikes.mp4").frames
    ][:123]
    expected, _ = load_transnetv2().predict_frames(torch.from_numpy(np.stack(frames)), quiet=True)
    det = TransNetV2Detector(25.0, 640, 272)
    det.record = True
    for f in frames:
        det.push(f)
    det.finish()
    got = np.concatenate(det.probabilities)
    assert got.shape == (123,)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    assert det.settled == 123


@pytest.mark.slow
def test_transnetv2_segmentation_splits_joined_real_clips_at_every_known_cut(joined):
    """TransNetV2 inside the one decode pass: every true cut is a segment
    boundary within +-2 frames (min_seconds 0.2 s keeps bikes' 8-frame last shot a segment)."""
    video, truth = joined
    config = ExtractorConfig(
        backbone="tiny-random",
        segment=SegmentConfig(mode="shots", detector="transnetv2", min_seconds=0.2, max_seconds=30.0),
    )
    stream = open_segments(video.path, config, 56)
    segments = list(stream.segments)
    boundaries = [s.start_frame for s in segments[1:]]
    tp, fp, fn = match_cuts(boundaries, truth, TOLERANCE)
    assert (tp, fp, fn) == (len(truth), 0, 0), (boundaries, truth)
    # one decode pass served detection, sampling and posters
    assert stream.counters.decoded_frames == video.frame_count == stream.info.frame_count
    assert segments[-1].end_frame == video.frame_count
    assert all(s.frames.shape == (32, 56, 56, 3) for s in segments)
    assert segments[0].poster[:2] == b"\xff\xd8"  # JPEG
    assert abs(segments[1].start_s - segments[1].start_frame / 25.0) < 1e-9


def _planned(cuts, n, segment):
    planner = SegmentPlanner(segment, 25.0)
    for c in cuts:
        planner.cut(c)
    planner.finish(n)
    return planner.take(final=True)


def test_default_segments_of_joined_real_clips_are_those_of_the_true_cuts(joined):
    """The default (PySceneDetect, min_seconds 1 s): segment boundaries within +-2 frames of the
    segmentation the true cuts give (bikes' 8-frame last shot joins the clip after it in both)."""
    video, truth = joined
    config = ExtractorConfig(backbone="tiny-random", segment=SegmentConfig(mode="shots"))
    assert config.segment.detector == "scenedetect"
    stream = open_segments(video.path, config, 56)
    got = [s.start_frame for s in stream.segments][1:]
    expected = [s for s, _ in _planned(truth, video.frame_count, config.segment)][1:]
    assert len(expected) == len(truth) - 1
    tp, fp, fn = match_cuts(got, expected, TOLERANCE)
    assert (fp, fn) == (0, 0), (got, expected)
    assert stream.counters.decoded_frames == video.frame_count


def test_scenedetect_detector_alone_finds_the_cuts_but_one_eight_frames_after_another(joined):
    video, truth = joined
    cuts, _, n = detect_cuts(video.path, "scenedetect")
    assert n == video.frame_count
    tp, fp, fn = match_cuts(cuts, truth, TOLERANCE)
    assert (tp, fp, fn) == (len(truth) - 1, 0, 1), (cuts, truth)  # its 15-frame minimum scene drops 370


def test_a_pre_cut_clip_is_one_segment(real_clips):
    config = ExtractorConfig(backbone="tiny-random", segment=SegmentConfig(mode="shots"))
    stream = open_segments(real_clips / "carphone_pristine.mp4", config, 56)
    segments = list(stream.segments)
    assert [(s.start_frame, s.end_frame) for s in segments] == [
        (0, probe(real_clips / "carphone_pristine.mp4").frame_count)
    ]
