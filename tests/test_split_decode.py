"""One file's sampled frames decoded in parts by several processes: the unsplit decode's pixels,
the unsplit events, and a part that crashes or hangs fails its file once."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import render_pattern
from crashing_decoders import misbehaving_part

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode import split as split_decode
from vidsearch.indexers.decode import video
from vidsearch.indexers.decode.events import FileDone, FileFailed, FileOpened, SegmentDecoded
from vidsearch.indexers.decode.pool import DecodePool
from vidsearch.indexers.decode.split import SplitRule
from vidsearch.indexers.decode.video import VideoInfo
from vidsearch.indexers.encoders import load_encoder
from vidsearch.indexers.pipeline import run_pipeline
from vidsearch.indexers.runtime import RuntimeConfig

SIZE = 64


@pytest.fixture(scope="module")
def multi_gop(tmp_path_factory):
    """1200 frames of moving patterns at x264's defaults (GOP 250, B-frames, scene cuts): several
    keyframes, so the parts' seeks land in different GOPs."""
    path = tmp_path_factory.mktemp("gop") / "multi_gop.mp4"

    def frames():
        for k, motion in enumerate(("linear", "circle", "zigzag", "circle", "linear", "zigzag")):
            yield from render_pattern(200, 96, motion, (230, 40 + 30 * k, 40), (20, 20, 20 + 20 * k), "checker")

    video.write_video(path, frames(), 25.0)
    return path


def _keyframes(path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(packet.is_keyframe for packet in container.demux(container.streams.video[0]) if packet.size)


def _clips(real_clips, multi_gop):
    return [*sorted(real_clips.glob("*.mp4")), multi_gop]


@pytest.mark.parametrize("frames, parts", [(32, 2), (32, 3), (7, 2), (5, 5)])
def test_parts_concatenate_to_the_unsplit_sample(real_clips, multi_gop, frames, parts):
    assert _keyframes(multi_gop) >= 4
    for clip in _clips(real_clips, multi_gop):
        whole = video.sample_clip(clip, frames, SIZE)
        split = [video.sample_clip(clip, frames, SIZE, part=(k, parts)) for k in range(parts)]
        assert all(s.info == whole.info for s in split)
        np.testing.assert_array_equal(np.concatenate([s.frames for s in split]), whole.frames, err_msg=str(clip))


def test_a_part_equals_a_full_decode_of_its_frames(multi_gop):
    """The last part starts with a seek deep into the file, not a walk from frame 0: its frames
    are still exactly the fully decoded ones."""
    full = video.decode_all(multi_gop).frames
    targets = video.uniform_indices(len(full), 8)
    got = video.sample_clip(multi_gop, 8, SIZE, part=(1, 2)).frames
    expected = np.stack([video.resize_frame(full[i], SIZE) for i in video.part_targets(targets, (1, 2))])
    np.testing.assert_array_equal(got, expected)


def test_split_rule():
    config = ExtractorConfig(num_frames=32)
    long_1080p = VideoInfo(300.0, 30.0, 1920, 1080, 9000)
    clip_60s = VideoInfo(60.0, 30.0, 640, 360, 1800)
    rule = SplitRule(2.0e9)
    assert rule.parts(long_1080p, config, 2) == 2
    assert rule.parts(long_1080p, config, 16) == 9  # 1.87e10 frame-pixels / 2e9 per part
    assert rule.parts(long_1080p, config, 1) == 1
    assert rule.parts(clip_60s, config, 2) == 1
    assert rule.parts(long_1080p, ExtractorConfig(num_frames=4), 16) == 4  # never more parts than frames
    shots = ExtractorConfig(segment=SegmentConfig(mode="shots"))
    assert rule.parts(long_1080p, shots, 2) == 1  # shots decode every frame in one pass


def _events_by_path(events):
    out: dict[str, list] = {}
    for e in events:
        out.setdefault(e.path, []).append(e)
    return out


def test_a_split_file_gives_the_unsplit_events(real_clips, multi_gop):
    config = ExtractorConfig(backbone="tiny-random", num_frames=16)
    paths = [str(multi_gop), str(real_clips / "bikes.mp4"), str(real_clips / "carphone_pristine.mp4")]
    plain = _events_by_path(DecodePool(1, config, SIZE).events(paths))
    pool = DecodePool(1, config, SIZE, split=SplitRule(1.0), part_workers=3)
    split = _events_by_path(pool.events(paths))
    assert pool.split_files == 3 and pool.replaced == 0
    for path in paths:
        assert [type(e) for e in split[path]] == [FileOpened, SegmentDecoded, FileDone]
        assert split[path][0].info == plain[path][0].info
        a, b = split[path][1].segment, plain[path][1].segment
        np.testing.assert_array_equal(a.frames, b.frames)
        assert (a.index, a.start_frame, a.end_frame, a.start_s, a.end_s) == (
            b.index,
            b.start_frame,
            b.end_frame,
            b.start_s,
            b.end_s,
        )
        assert a.aux.keys() == b.aux.keys() == {"flow"}
        np.testing.assert_array_equal(a.aux["flow"], b.aux["flow"])


def test_a_crashing_or_hanging_part_fails_its_file_once(tmp_path, real_clips, multi_gop):
    config = ExtractorConfig(backbone="tiny-random", num_frames=8)
    bad = {}
    for name in ("segv.mp4", "hang.mp4", "abort.mp4"):
        bad[name] = tmp_path / name
        shutil.copy(multi_gop, bad[name])
    good = [str(multi_gop), str(real_clips / "bikes.mp4")]
    paths = [str(bad["segv.mp4"]), good[0], str(bad["hang.mp4"]), good[1], str(bad["abort.mp4"])]
    pool = DecodePool(1, config, SIZE, timeout_s=4, split=SplitRule(1.0), part_workers=2, decode_part=misbehaving_part)
    events = _events_by_path(pool.events(paths))
    assert sorted(events) == sorted(paths)
    for path, evs in events.items():
        ends = [e for e in evs if isinstance(e, (FileDone, FileFailed))]
        assert len(ends) == 1, (path, evs)
    assert "SIGSEGV" in events[str(bad["segv.mp4"])][-1].reason
    assert "SIGABRT" in events[str(bad["abort.mp4"])][-1].reason
    assert "timed out" in events[str(bad["hang.mp4"])][-1].reason
    assert pool.replaced == 3 and pool.split_files == len(paths)
    for path in good:
        assert isinstance(events[path][-1], FileDone)
        expected = video.sample_frames(path, 8, SIZE)
        np.testing.assert_array_equal(
            next(e for e in events[path] if isinstance(e, SegmentDecoded)).segment.frames, expected
        )


def test_the_pipeline_splits_a_long_file_and_gets_the_same_vectors(real_clips, multi_gop, monkeypatch):
    """Through ``run_pipeline`` with its defaults for splitting (one decode worker, helpers up to
    ``part_workers``) and the threshold lowered so these clips count as long."""
    monkeypatch.setattr(split_decode, "MIN_PART_PIXEL_FRAMES", 1.0)
    tiny = load_encoder("tiny-random", num_threads=1)
    config = ExtractorConfig(backbone="tiny-random", num_frames=8).with_weights(tiny.weights_id)
    paths = [str(multi_gop), str(real_clips / "bikes.mp4")]

    def index(**runtime):
        results = {}
        stats = run_pipeline(
            paths,
            config,
            tiny,
            runtime=RuntimeConfig(precision="fp32", **runtime),
            on_result=lambda r: results.setdefault(r.path, r),
        )
        return results, stats

    split, stats = index(decode_workers=1, part_workers=2)
    assert stats.split_files == 2 and stats.clips == 2
    inline, _ = index(decode_workers=0)
    whole, unsplit_stats = index(decode_workers=1, part_workers=1)
    assert unsplit_stats.split_files == 0
    # default part_workers: no helpers; 2 workers, 2 files: the first is not split (the other
    # worker takes the second file), the last one is (nothing is left for the idle worker)
    idle, idle_stats = index(decode_workers=2)
    assert idle_stats.split_files == 1
    for path in paths:
        for other in (inline, whole, idle):
            np.testing.assert_allclose(
                split[path].segments[0].features.moments, other[path].segments[0].features.moments, atol=1e-6
            )
