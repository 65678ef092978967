"""A long generated video: one decode pass, a bounded frame buffer, the expected segments, indexed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import render_pattern

from benchmarks.cutlist import match_cuts
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.segmenting import open_segments
from vidsearch.indexers.decode.video import write_video

FPS = 10.0
# One cycle of shots (seconds): a normal shot, a long one (windows), a short one (joins the next), a normal one.
CYCLE = (7.0, 25.0, 1.6, 6.4)
CYCLES = 4  # 160 s, 1600 frames
SEGMENT = SegmentConfig(mode="shots", detector="scenedetect", min_seconds=2.0, max_seconds=10.0, window=5.0, stride=5.0)
MOTIONS = ("linear", "circle", "zigzag", "static")


def _shots():
    start = 0
    for k, seconds in enumerate(itertools.chain.from_iterable([CYCLE] * CYCLES)):
        n = int(round(seconds * FPS))
        yield k, start, n
        start += n


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    rng = np.random.default_rng(0)

    def frames():
        for k, _, n in _shots():
            colour = tuple(int(c) for c in rng.integers(60, 255, 3))
            background = tuple(int(c) for c in rng.integers(0, 60, 3))
            yield from render_pattern(n, 64, MOTIONS[k % 4], colour, background, "checker")

    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_video(path, frames(), FPS)
    return path


def _expected_segments() -> list[tuple[int, int]]:
    out = []
    for cycle in range(CYCLES):
        base = cycle * 400
        out.append((base, base + 70))
        out += [(base + 70 + 50 * i, base + 120 + 50 * i) for i in range(5)]  # 25 s shot: five 5 s windows
        out.append((base + 320, base + 400))  # 1.6 s shot merged into the 6.4 s one after it
    return out


def test_long_video_is_decoded_once_with_a_bounded_buffer(long_video):
    config = ExtractorConfig(backbone="tiny-random", segment=SEGMENT)
    stream = open_segments(long_video, config, 56)
    segments = list(stream.segments)
    got = [(s.start_frame, s.end_frame) for s in segments]
    expected = _expected_segments()
    assert len(got) == len(expected)
    tp, fp, fn = match_cuts([s for s, _ in got[1:]], [s for s, _ in expected[1:]], tolerance=1)
    assert (fp, fn) == (0, 0), got
    assert [s.index for s in segments] == list(range(len(expected)))
    n = CYCLES * 400
    assert stream.counters.decoded_frames == n == stream.info.frame_count  # no per-segment re-decoding
    # The buffer never held more than the longest pending stretch (max + min seconds) plus look-ahead.
    bound = (SEGMENT.max_seconds + SEGMENT.min_seconds) * FPS + 20
    assert stream.counters.peak_buffered_frames <= bound < n / 10


def test_long_video_indexes_segment_by_segment(long_video, tmp_path):
    from vidsearch.retrieval.index import Index

    index = Index.open_or_create(
        tmp_path / "idx", ExtractorConfig(backbone="tiny-random", num_frames=8, segment=SEGMENT)
    )
    report = index.add([long_video])
    assert report.ok and report.added == 1
    if not hasattr(index, "segments_of"):
        pytest.skip("the segment store (branch store) is not on main yet: this index keeps one entry per file")
    segments = index.segments_of(str(long_video))
    assert len(segments) == len(_expected_segments()) == len(index)
    assert [round(s["start_s"] * FPS) for s in segments][:3] == [0, 70, 120]
