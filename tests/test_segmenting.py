"""Segmentation at ingestion: the planner's rules, the one streaming decode pass, posters."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.segmenting import SegmentPlanner, open_segments

FPS = 10.0


def plan(cuts, n, frontier_step=None, **kw):
    """Run the planner as the stream does: cuts arrive as the settled frontier passes them."""
    planner = SegmentPlanner(SegmentConfig(**kw), FPS)
    out = []
    pending = sorted(cuts)
    for f in range(1, n + 1, frontier_step or n + 1):
        while pending and pending[0] < f:
            planner.cut(pending.pop(0))
        planner.advance(f)
        out += planner.take()
        assert planner.earliest_needed() <= min([s for s, _ in planner._ready] + [f])
    for c in pending:
        planner.cut(c)
    planner.finish(n)
    return out + planner.take(final=True)


@pytest.mark.parametrize("step", [None, 1, 7])
def test_shots_short_ones_merge_forward_and_long_ones_become_windows(step):
    kw = dict(mode="shots", min_seconds=1.0, max_seconds=4.0, window=2.0, stride=2.0)
    # shots (frames, 10 fps): 0-30, 30-35 (short: joins the next), 35-60, 60-150 (9 s: windows), 150-155 (short tail)
    segs = plan([30, 35, 60, 150], 155, step, **kw)
    assert segs == [(0, 30), (30, 60), (60, 80), (80, 100), (100, 120), (120, 140), (140, 155)]


@pytest.mark.parametrize("step", [None, 1])
def test_short_file_is_one_segment_and_short_last_window_extends_the_one_before(step):
    assert plan([3], 8, step, mode="shots", min_seconds=1.0) == [(0, 8)]
    # window mode: 5 s windows every 5 s over 10.4 s: the 0.4 s tail joins the second window
    assert plan([], 104, step, mode="window", window=5.0, stride=5.0, min_seconds=1.0) == [(0, 50), (50, 104)]
    # overlapping windows (stride < window); a tail long enough stands alone
    assert plan([], 80, step, mode="window", window=4.0, stride=2.0, min_seconds=1.0) == [(0, 40), (20, 60), (40, 80)]
    assert plan([], 75, step, mode="window", window=3.0, stride=3.0, min_seconds=1.0) == [(0, 30), (30, 60), (60, 75)]


def test_streaming_planner_equals_planning_with_every_cut_known():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(5, 400))
        cuts = sorted(set(rng.integers(1, n, int(rng.integers(0, 12))).tolist()))
        kw = dict(
            mode="shots",
            min_seconds=float(rng.choice([0.0, 0.5, 1.0])),
            max_seconds=6.0,
            window=float(rng.choice([2.0, 3.0])),
            stride=float(rng.choice([1.0, 2.0, 3.0])),
        )
        whole = plan(cuts, n, None, **kw)
        assert plan(cuts, n, 1, **kw) == whole
        starts = [s for s, _ in whole]
        assert whole[0][0] == 0 and starts == sorted(starts) and all(e > s for s, e in whole)
        if kw["stride"] <= kw["window"]:  # no gaps: every frame is in a segment
            assert whole[-1][1] == n and all(b[0] <= a[1] for a, b in zip(whole, whole[1:]))


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
def test_window_segments_stream_from_either_decoder_and_match_range_sampling(real_clips, decoder):
    """Window mode on a real clip: frames sampled in the one pass equal a seek-based range sample."""
    if decoder == "decord":
        pytest.importorskip("decord")
    from vidsearch.indexers.decode.video import sample_clip

    path = real_clips / "bikes.mp4"  # 250 frames at 25 fps
    config = ExtractorConfig(
        backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="window", window=3.0, stride=3.0)
    )
    stream = open_segments(path, config, 56, decoder)
    segments = list(stream.segments)
    assert [(s.start_frame, s.end_frame) for s in segments] == [
        (0, 75),
        (75, 150),
        (150, 225),
        (225, 250),
    ]  # 1 s tail: not < min
    assert stream.counters.decoded_frames == 250
    seg = segments[1]
    expected = sample_clip(path, 8, 56, "stretch", decoder, seg.start_s, seg.end_s).frames
    np.testing.assert_array_equal(seg.frames, expected)
