"""Real-footage SimMotion categories and the dev/test split, on real decoded video."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.bench.layout import read_synthetic, select_split, split_of
from vidsearch.bench.real_footage import APPEARANCE_CHANGES, REAL_CATEGORIES, change_appearance, generate_real, slots
from vidsearch.indexers.decode.video import decode_all


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _energy(frames: np.ndarray) -> np.ndarray:
    """How much the picture changes from each frame to the next (a per-frame motion profile)."""
    g = frames.astype(np.float32).mean(axis=-1)
    g = (g - g.mean()) / (g.std() + 1e-6)
    return np.abs(g[1:] - g[:-1]).mean(axis=(1, 2))


@pytest.fixture(scope="module")
def real_set(real_clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("real-set")
    generate_real(root, [str(real_clips / "bikes.mp4")], seed=0, window_s=1.0)
    return root


def test_real_categories_change_appearance_for_the_positive_and_motion_for_the_negative(real_set):
    bench = read_synthetic(real_set)
    assert bench.categories == sorted(REAL_CATEGORIES) and len(bench.triplets) == 5  # 10 s of 25 fps / 2 s slots
    for t in bench.triplets:
        ref, pos, neg = (decode_all(bench.paths[i]).frames for i in (t.ref, t.positive, t.negative))
        assert len(ref) == len(pos) == len(neg) == 25
        assert _diff(ref, pos) > 3  # another look ...
        assert np.corrcoef(_energy(pos), _energy(ref))[0, 1] > 0.6  # ... moving the same way, frame by frame
        if t.category == "real_reverse":
            assert _diff(neg, ref[::-1]) < 0.5 * _diff(neg, ref)  # the very frames (up to coding), backwards
        if t.category == "real_speed":
            assert _diff(neg[12], ref[24]) < 0.5 * _diff(neg[12], ref[12])  # same start, twice as fast
        if t.category == "real_window":
            assert _diff(neg[0], ref[0]) > _diff(ref[0], ref[1])  # the next moment of the same video
    refs = [decode_all(bench.paths[t.ref]).frames[0] for t in bench.triplets]
    assert min(_diff(a, b) for i, a in enumerate(refs) for b in refs[i + 1 :]) > 1  # no slot twice


def test_real_set_is_deterministic_and_resumable(real_set, real_clips, tmp_path):
    again = tmp_path / "again"
    generate_real(again, [str(real_clips / "bikes.mp4")], seed=0, window_s=1.0)
    for p in sorted(real_set.glob("*/example_*/positive.mp4")):
        a, b = decode_all(p).frames, decode_all(again / p.relative_to(real_set)).frames
        np.testing.assert_array_equal(a, b)
    before = {p: p.stat().st_mtime_ns for p in real_set.glob("*/*/*.mp4")}
    generate_real(real_set, [str(real_clips / "bikes.mp4")], seed=0, window_s=1.0)
    assert {p: p.stat().st_mtime_ns for p in real_set.glob("*/*/*.mp4")} == before
    with pytest.raises(ValueError, match="too short"):
        generate_real(tmp_path / "short", [str(real_clips / "bikes.mp4")], window_s=4.0)


def test_slots_are_disjoint_and_appearance_changes_keep_shape(real_clips):
    s = slots([("a.mp4", 100, 10.0), ("b.mp4", 19, 10.0), ("c.mp4", 20, 10.0)], 1.0)
    assert [(x.source, x.start) for x in s] == [
        ("a.mp4", 0),
        ("a.mp4", 20),
        ("a.mp4", 40),
        ("a.mp4", 60),
        ("a.mp4", 80),
        ("c.mp4", 0),
    ]
    frames = decode_all(real_clips / "carphone_pristine.mp4").frames[:4]
    for kind in APPEARANCE_CHANGES:
        out = change_appearance(frames, kind, np.random.default_rng(0))
        assert out.shape == frames.shape and out.dtype == np.uint8 and _diff(out, frames) > 1, kind
    with pytest.raises(ValueError, match="unknown appearance change"):
        change_appearance(frames, "sepia", np.random.default_rng(0))


def test_dev_test_split_is_by_example_parity(real_set):
    assert [split_of(f"example_{i}") for i in range(4)] == ["dev", "test", "dev", "test"]
    bench = read_synthetic(real_set)
    dev, test = select_split(bench, "dev"), select_split(bench, "test")
    assert len(dev.triplets) + len(test.triplets) == len(bench.triplets)
    assert not set(dev.paths) & set(test.paths) and len(dev.paths) == 3 * len(dev.triplets)
    assert all(split_of(t.name) == "test" for t in test.triplets)
    with pytest.raises(ValueError, match="unknown split"):
        select_split(bench, "train")


def test_invariance_categories_mirror_or_zoom_the_positive_and_slow_the_negative(real_clips, tmp_path):
    from vidsearch.bench.real_footage import INVARIANCE_CATEGORIES

    generate_real(tmp_path, [str(real_clips / "bikes.mp4")], seed=0, window_s=1.0, categories=INVARIANCE_CATEGORIES)
    bench = read_synthetic(tmp_path)
    assert bench.categories == sorted(INVARIANCE_CATEGORIES) and len(bench.triplets) == 5
    for t in bench.triplets:
        ref, pos, neg = (decode_all(bench.paths[i]).frames for i in (t.ref, t.positive, t.negative))
        if t.category == "real_mirror":
            assert _diff(pos, ref[:, :, ::-1]) < 0.2 * _diff(pos, ref)  # the same frames, left for right
        if t.category == "real_zoom":
            assert _diff(pos, ref) > 3 and np.corrcoef(_energy(pos), _energy(ref))[0, 1] > 0.6
        if t.category in ("real_mirror", "real_zoom"):
            assert _diff(neg[0], ref[0]) > _diff(ref[0], ref[1])  # the next moment of the same video
        if t.category == "real_slow":
            assert _diff(neg[:24:2], ref[:12]) < 0.5 * _diff(neg[:12], ref[:12])  # the same start, half as fast
    with pytest.raises(ValueError, match="unknown real categories"):
        generate_real(tmp_path / "x", [str(real_clips / "bikes.mp4")], categories=("real_sideways",))
