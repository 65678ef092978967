"""What a procedural clip looks like: background, static props, moving actors, style, camera view.

Appearance is data, separate from motion (:mod:`vidsearch.bench.motion`), so each SimMotion
category can swap exactly one aspect of a scene (:mod:`vidsearch.bench.synthetic`) while the
motion object is shared untouched between a reference and its positive.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, replace

import numpy as np

from vidsearch.bench.motion import ClipMotion

RGB = tuple[int, int, int]
SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross", "ellipse", "diamond")
FIGURES = ("stick", "block")  # articulated figures
TEXTURES = ("solid", "stripes", "checker", "dots", "gradient")
BACKGROUNDS = ("gradient", "noise", "stripes", "checker", "tiles", "footage")
RENDERS = ("plain", "cartoon", "ink", "pixel", "grain", "watercolor")


@dataclass(frozen=True)
class Look:
    """A sprite's or figure's appearance; ``size`` is its half extent in world units."""

    shape: str
    color: RGB
    color2: RGB
    texture: str = "solid"
    size: float = 0.1
    outline: bool = False

    @property
    def articulated(self) -> bool:
        return self.shape in FIGURES


@dataclass(frozen=True)
class Actor:
    look: Look
    end_look: Look | None = None  # dynamic appearance: the look blends into this over the clip


@dataclass(frozen=True)
class Prop:
    """A static object, baked into the background."""

    look: Look
    x: float
    y: float
    angle: float = 0.0


@dataclass(frozen=True)
class Background:
    kind: str
    color: RGB
    color2: RGB
    angle: float = 0.0
    freq: float = 6.0
    seed: int = 0
    footage: str = ""  # path of a real clip (kind "footage")
    footage_pos: float = 0.0  # which frame of it, as a fraction of its length


@dataclass(frozen=True)
class Style:
    hue_shift: int = 0  # OpenCV hue units (0..179)
    saturation: float = 1.0
    render: str = "plain"


@dataclass(frozen=True)
class View:
    """A fixed camera change (the View category): zoom, roll (degrees) and offset."""

    zoom: float = 1.0
    angle: float = 0.0
    dx: float = 0.0
    dy: float = 0.0


@dataclass(frozen=True)
class Scene:
    background: Background
    props: tuple[Prop, ...]
    actors: tuple[Actor, ...]
    style: Style = Style()
    view: View = View()


@dataclass(frozen=True)
class ClipSpec:
    scene: Scene
    motion: ClipMotion


def random_color(
    rng: np.random.Generator, saturation=(0.55, 1.0), value=(0.6, 1.0), avoid_hue: float | None = None
) -> RGB:
    """A random colour; ``avoid_hue`` keeps the hue at least 0.2 (of the circle) away from it."""
    hue = float(rng.uniform(0, 1))
    if avoid_hue is not None:
        hue = (avoid_hue + 0.2 + 0.6 * hue) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, float(rng.uniform(*saturation)), float(rng.uniform(*value)))
    return (round(r * 255), round(g * 255), round(b * 255))


def hue_of(color: RGB) -> float:
    return colorsys.rgb_to_hsv(*(c / 255 for c in color))[0]


def random_look(
    rng: np.random.Generator, articulated: bool = False, exclude_shape: str | None = None, size: float | None = None
) -> Look:
    if articulated:
        shape = str(rng.choice([s for s in FIGURES if s != exclude_shape]))
        return Look(shape, random_color(rng), random_color(rng), "solid", size or float(rng.uniform(0.12, 0.17)))
    shape = str(rng.choice([s for s in SHAPES if s != exclude_shape]))
    color = random_color(rng)
    return Look(
        shape,
        color,
        random_color(rng, avoid_hue=hue_of(color)),
        str(rng.choice(TEXTURES)),
        size or float(rng.uniform(0.07, 0.12)),
        bool(rng.random() < 0.4),
    )


def random_props(rng: np.random.Generator) -> tuple[Prop, ...]:
    n = int(rng.integers(1, 4))
    return tuple(
        Prop(
            random_look(rng, size=float(rng.uniform(0.05, 0.1))),
            float(rng.uniform(0.08, 0.92)),
            float(rng.uniform(0.08, 0.92)),
            float(rng.uniform(0, 2 * math.pi)),
        )
        for _ in range(n)
    )


def random_background(
    rng: np.random.Generator, footage: tuple[str, ...], exclude_kind: str | None = None
) -> Background:
    kinds = [k for k in BACKGROUNDS if k != exclude_kind and (k != "footage" or footage)]
    kind = str(rng.choice(kinds))
    color = random_color(rng, saturation=(0.1, 0.6), value=(0.25, 0.95))
    return Background(
        kind,
        color,
        random_color(rng, saturation=(0.1, 0.6), value=(0.25, 0.95), avoid_hue=hue_of(color)),
        angle=float(rng.uniform(0, math.pi)),
        freq=float(rng.uniform(3, 12)),
        seed=int(rng.integers(0, 2**31 - 1)),
        footage=str(rng.choice(footage)) if kind == "footage" else "",
        footage_pos=float(rng.uniform(0, 1)),
    )


def random_style(rng: np.random.Generator, exclude_render: str | None = None, plain_share: float = 0.6) -> Style:
    """A reference's style (``exclude_render`` None: mostly plain, never recoloured), or a new
    style for the Style category's positive: another rendering plus a palette change."""
    if exclude_render is None:
        if rng.random() < plain_share:
            return Style()
        return Style(render=str(rng.choice(RENDERS)))
    render = str(rng.choice([r for r in RENDERS if r != exclude_render]))
    return Style(int(rng.integers(25, 155)), float(rng.uniform(0.5, 1.5)), render)


def random_view(rng: np.random.Generator) -> View:
    """A clearly different but still readable viewpoint."""
    zoom = float(rng.choice([rng.uniform(0.75, 0.88), rng.uniform(1.15, 1.35)]))
    angle = float(rng.choice([-1, 1]) * rng.uniform(10, 30))
    dx, dy = (float(rng.choice([-1, 1]) * rng.uniform(0.04, 0.1)) for _ in range(2))
    return View(zoom, angle, dx, dy)


def random_scene(rng: np.random.Generator, footage: tuple[str, ...] = ()) -> Scene:
    """1 actor mostly, 2-3 ("several objects") in a third of the scenes; a third are figures."""
    n_actors = 1 if rng.random() < 0.67 else int(rng.integers(2, 4))
    actors = tuple(Actor(random_look(rng, articulated=bool(rng.random() < 0.3))) for _ in range(n_actors))
    return Scene(random_background(rng, footage), random_props(rng), actors, random_style(rng))


def recolor(look: Look, rng: np.random.Generator) -> Look:
    """Same object, other colours and texture (for appearance that changes over time)."""
    color = random_color(rng, avoid_hue=hue_of(look.color))
    texture = look.texture if look.articulated else str(rng.choice([t for t in TEXTURES if t != look.texture]))
    return replace(look, color=color, color2=random_color(rng, avoid_hue=hue_of(color)), texture=texture)
