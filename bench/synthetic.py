"""The procedural SimMotion-like set: five categories of (ref, positive, negative) triplets.

Each category changes exactly one aspect of the reference's scene for the positive while sharing
its motion object verbatim; the hard negative keeps the reference's scene (so its first frame is
the reference's first frame) and gets :func:`~vidsearch.bench.motion.different_motion`.
Everything is drawn from ``numpy.random.default_rng([seed, category, example])``, so a triplet
does not depend on how many were asked for or on the order workers render them.

Output layout is the official one: ``OUT/<category>/example_<N>/{ref,positive,negative}.mp4``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from vidsearch.bench.motion import CameraMotion, ClipMotion, different_motion, random_actor_motion, random_camera
from vidsearch.bench.scene import (
    Actor,
    ClipSpec,
    Scene,
    random_look,
    random_props,
    random_scene,
    random_style,
    random_view,
    recolor,
)
from vidsearch.errors import ConfigError, VidsearchError

CATEGORIES = ("static_object", "dynamic_object", "dynamic_appearance", "style", "view")
ROLES = ("ref", "positive", "negative")
MANIFEST = "simmotion_synthetic.json"


class GeneratorError(VidsearchError):
    """The output folder holds a different generated set (or is not writable)."""


@dataclass(frozen=True)
class GeneratorConfig:
    triplets_per_category: int = 50
    seed: int = 0
    size: int = 256
    fps: int = 16
    seconds: float = 5.0
    footage: tuple[str, ...] = ()  # real clips whose frames may serve as backgrounds

    def __post_init__(self) -> None:
        if self.triplets_per_category < 1:
            raise ConfigError(f"triplets per category must be >= 1 (got {self.triplets_per_category})")
        if self.size < 32:
            raise ConfigError(f"frame size must be >= 32 px (got {self.size})")
        if self.fps <= 0 or self.seconds <= 0:
            raise ConfigError(f"fps and seconds must be positive (got {self.fps} fps, {self.seconds} s)")

    @property
    def num_frames(self) -> int:
        return max(2, round(self.fps * self.seconds))


PRESETS = {
    # Small enough for the test suite: 10 triplets of 2 s at 96 px.
    "ci": GeneratorConfig(triplets_per_category=2, size=96, seconds=2.0),
    # The benchmark: same size as the official set (50 per category), 5 s at 16 fps.
    "full": GeneratorConfig(),
}


@dataclass(frozen=True)
class TripletSpec:
    category: str
    index: int
    ref: ClipSpec
    positive: ClipSpec
    negative: ClipSpec

    def clips(self) -> dict[str, ClipSpec]:
        return {"ref": self.ref, "positive": self.positive, "negative": self.negative}


def _positive_scene(category: str, scene: Scene, rng: np.random.Generator) -> Scene:
    """The reference scene with only ``category``'s aspect changed."""
    if category == "static_object":
        return replace(scene, props=random_props(rng))
    if category == "dynamic_object":
        actors = tuple(
            Actor(
                random_look(
                    rng,
                    a.look.articulated,
                    exclude_shape=a.look.shape,
                    size=a.look.size * float(rng.uniform(0.85, 1.2)),
                )
            )
            for a in scene.actors
        )
        return replace(scene, actors=actors)
    if category == "dynamic_appearance":
        return replace(scene, actors=tuple(Actor(a.look, recolor(a.look, rng)) for a in scene.actors))
    if category == "style":
        # Only the rendering changes (as in the official category): motion, layout, background and
        # objects stay, so the style transfer is the single difference.
        return replace(scene, style=random_style(rng, exclude_render=scene.style.render))
    if category == "view":
        return replace(scene, view=random_view(rng))
    raise ConfigError(f"unknown category {category!r} (choose from {', '.join(CATEGORIES)})")


def make_triplet(category: str, index: int, seed: int, footage: tuple[str, ...] = ()) -> TripletSpec:
    """The deterministic specification of one triplet."""
    rng = np.random.default_rng([seed, CATEGORIES.index(category), index])
    scene = random_scene(rng, footage)
    actors = tuple(random_actor_motion(rng, a.look.articulated) for a in scene.actors)
    camera = random_camera(rng, exclude="none") if rng.random() < 0.25 else CameraMotion()  # pans and zooms
    motion = ClipMotion(actors, camera)
    ref = ClipSpec(scene, motion)
    positive = ClipSpec(_positive_scene(category, scene, rng), motion)
    negative = ClipSpec(scene, different_motion(motion, rng))
    return TripletSpec(category, index, ref, positive, negative)


def triplet_dir(root: Path, category: str, index: int) -> Path:
    return Path(root) / category / f"example_{index}"


def _render_and_write(job: tuple[TripletSpec, GeneratorConfig, str]) -> str:
    from vidsearch.bench.render import render_clip
    from vidsearch.indexers.decode.video import write_video

    spec, cfg, root = job
    out = triplet_dir(Path(root), spec.category, spec.index)
    for role, clip in spec.clips().items():
        path = out / f"{role}.mp4"
        if not path.exists():  # resumable: writes are atomic, so an existing file is complete
            write_video(path, render_clip(clip, cfg.size, cfg.num_frames), cfg.fps)
    return str(out)


def _check_manifest(root: Path, cfg: GeneratorConfig) -> None:
    """Refuse to mix two different generated sets in one folder; record ours otherwise."""
    path = root / MANIFEST
    wanted = asdict(cfg) | {"footage": [Path(f).name for f in cfg.footage]}
    if path.exists():
        try:
            found = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise GeneratorError(f"{path}: unreadable manifest ({exc})") from exc
        if found != wanted:
            diff = ", ".join(
                f"{k}: {found.get(k)!r} there, {v!r} asked" for k, v in wanted.items() if found.get(k) != v
            )
            raise GeneratorError(f"{root}: already holds a different generated set ({diff}); use another folder")
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(wanted, indent=2))
    except OSError as exc:
        raise GeneratorError(f"{root}: cannot write the generated set ({exc})") from exc


def generate(
    root: str | os.PathLike,
    cfg: GeneratorConfig,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Write the whole set under ``root`` (resumable); returns the triplet folders."""
    root = Path(root)
    _check_manifest(root, cfg)
    jobs = [
        (make_triplet(cat, i, cfg.seed, cfg.footage), cfg, str(root))
        for cat in CATEGORIES
        for i in range(cfg.triplets_per_category)
    ]
    done: list[str] = []
    if workers <= 1:
        results = map(_render_and_write, jobs)
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_render_and_write, jobs, chunksize=2)
    try:
        for folder in results:
            done.append(folder)
            if progress:
                progress(len(done), len(jobs))
    finally:
        if workers > 1:
            pool.shutdown()
    return done
