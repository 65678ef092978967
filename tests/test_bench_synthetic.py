"""The procedural SimMotion-like generator: determinism, what each category changes, the layout."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from vidsearch.bench.layout import LayoutError, read_synthetic
from vidsearch.bench.motion import (
    TRAJECTORIES,
    ActorMotion,
    ClipMotion,
    Trajectory,
    different_motion,
    random_actor_motion,
)
from vidsearch.bench.render import render_clip
from vidsearch.bench.synthetic import CATEGORIES, PRESETS, GeneratorError, generate, make_triplet

SIZE, FRAMES = 64, 12
# The one Scene field each category may change for its positive.
CHANGED = {
    "static_object": "props",
    "dynamic_object": "actors",
    "dynamic_appearance": "actors",
    "style": "style",  # rendering only: background, layout and objects stay (official definition)
    "view": "view",
}


def test_triplet_specs_and_frames_are_deterministic_for_a_seed():
    a, b = make_triplet("view", 3, seed=7), make_triplet("view", 3, seed=7)
    assert a == b
    np.testing.assert_array_equal(render_clip(a.ref, SIZE, FRAMES), render_clip(b.ref, SIZE, FRAMES))
    assert make_triplet("view", 3, seed=8) != a
    assert make_triplet("view", 4, seed=7) != a


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_changes_only_what_it_claims(category):
    for index in range(4):
        t = make_triplet(category, index, seed=0)
        # Positive: the very same motion, and only the category's aspect of the scene differs.
        assert t.positive.motion == t.ref.motion
        fields = CHANGED[category] if isinstance(CHANGED[category], tuple) else (CHANGED[category],)
        for f in dataclasses.fields(t.ref.scene):
            same = getattr(t.ref.scene, f.name) == getattr(t.positive.scene, f.name)
            assert same or f.name in fields, f"{category}: positive changed {f.name}"
        assert any(getattr(t.ref.scene, f) != getattr(t.positive.scene, f) for f in fields)
        if category == "dynamic_appearance":
            assert all(a.end_look is not None and a.end_look != a.look for a in t.positive.scene.actors)
        if category == "dynamic_object":
            assert all(p.look.shape != r.look.shape for p, r in zip(t.positive.scene.actors, t.ref.scene.actors))
        # Negative: the ref's scene, another motion from the same start.
        assert t.negative.scene == t.ref.scene
        assert t.negative.motion != t.ref.motion
        ref, neg = render_clip(t.ref, SIZE, FRAMES), render_clip(t.negative, SIZE, FRAMES)
        np.testing.assert_array_equal(neg[0], ref[0])  # the hard negative starts exactly like the ref
        assert np.abs(neg[1:].astype(int) - ref[1:]).mean() > 0.5
        pos = render_clip(t.positive, SIZE, FRAMES)
        if category != "dynamic_appearance":  # that positive starts with the ref's look, then drifts
            assert np.abs(pos[0].astype(int) - ref[0]).mean() > 0.5
        assert np.abs(pos[-1].astype(int) - ref[-1]).mean() > 0.5


def test_every_motion_starts_at_its_start_pose_and_negatives_change_the_program():
    rng = np.random.default_rng(0)
    for kind in TRAJECTORIES:
        assert Trajectory(kind, 0.3, 0.8, 2.0, 0.1).offset(0.0) == pytest.approx((0.0, 0.0))
    for i in range(40):
        m = ClipMotion((random_actor_motion(rng, articulated=bool(i % 2)),))
        d = different_motion(m, rng)
        a, b = m.actors[0], d.actors[0]
        assert a.pose(0.0) == b.pose(0.0)
        assert a.trajectory.kind != b.trajectory.kind
        if a.action != "none":
            assert a.action != b.action
        poses = [a.pose(t) for t in np.linspace(0, 1, 17)]
        assert all(0.12 - 1e-9 <= p.x <= 0.88 + 1e-9 and 0.12 - 1e-9 <= p.y <= 0.88 + 1e-9 for p in poses)
        assert (
            len({(round(p.x, 4), round(p.y, 4), round(p.angle, 4), round(p.scale, 4), p.limbs) for p in poses}) > 1
        )  # it moves


def test_fast_trajectories_bounce_off_the_walls():
    fast = ActorMotion((0.5, 0.5), Trajectory("linear", 0.0, 3.0))
    xs = [fast.pose(t).x for t in np.linspace(0, 1, 50)]
    assert max(xs) <= 0.88 + 1e-9 and min(xs) >= 0.12 - 1e-9
    assert np.any(np.diff(xs) < 0) and np.any(np.diff(xs) > 0)


def test_generate_writes_the_official_layout_and_resumes(tmp_path):
    from vidsearch.indexers.decode.video import decode_all, probe

    cfg = dataclasses.replace(PRESETS["ci"], triplets_per_category=1, size=64, seconds=1.0)
    out = tmp_path / "set"
    folders = generate(out, cfg, workers=1)
    assert len(folders) == len(CATEGORIES)
    bench = read_synthetic(out)
    assert sorted(bench.categories) == sorted(CATEGORIES)
    assert len(bench.paths) == 15 and len(bench.triplets) == 5
    info = probe(bench.paths[0])
    assert (info.width, info.height, info.frame_count) == (64, 64, cfg.num_frames)
    assert info.fps == pytest.approx(16.0)
    t = bench.triplets[0]
    ref, neg = decode_all(bench.paths[t.ref]).frames, decode_all(bench.paths[t.negative]).frames
    assert np.abs(ref[0].astype(int) - neg[0]).mean() < 3.0  # same first frame up to H.264 noise
    mtimes = {p: (out / p).stat().st_mtime_ns for p in ("view/example_0/ref.mp4",)}
    generate(out, cfg, workers=1)  # resuming rewrites nothing
    assert all((out / p).stat().st_mtime_ns == m for p, m in mtimes.items())
    assert json.loads((out / "simmotion_synthetic.json").read_text())["seed"] == 0
    with pytest.raises(GeneratorError, match="different generated set.*seed"):
        generate(out, dataclasses.replace(cfg, seed=1), workers=1)


def test_bad_generator_settings_are_refused():
    with pytest.raises(ValueError, match="triplets per category must be >= 1"):
        dataclasses.replace(PRESETS["ci"], triplets_per_category=0)
    with pytest.raises(ValueError, match="frame size must be >= 32 px"):
        dataclasses.replace(PRESETS["ci"], size=8)


def test_layout_errors_name_the_folder(tmp_path):
    with pytest.raises(LayoutError, match="no <category>"):
        read_synthetic(tmp_path)
    broken = tmp_path / "view" / "example_0"
    broken.mkdir(parents=True)
    (broken / "ref.mp4").write_bytes(b"x")
    with pytest.raises(LayoutError, match=r"example_0: incomplete triplet \(missing positive.mp4, negative.mp4\)"):
        read_synthetic(tmp_path)
