"""Rasterise a :class:`~vidsearch.bench.scene.ClipSpec` into uint8 RGB frames with OpenCV.

The world is drawn on a canvas 1.5x the output size (world units [-0.25, 1.25]) so camera pans,
zooms and the View category's offsets show real scenery instead of borders. Static parts
(background and props) are drawn once per clip; per frame only the actors are drawn and the
camera is one ``warpAffine``, which keeps the full preset (750 clips x 80 frames) to minutes.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from vidsearch.bench.motion import Pose
from vidsearch.bench.scene import Background, ClipSpec, Look, Style

MARGIN = 0.25  # world units drawn beyond each side of the default view
_POLYGONS = {
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    "diamond": [(0, -1.25), (1.0, 0), (0, 1.25), (-1.0, 0)],
    "triangle": [(0, -1.15), (1.1, 0.85), (-1.1, 0.85)],
    "hexagon": [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]],
    "star": [
        (
            (1.15 if i % 2 == 0 else 0.5) * math.cos(a - math.pi / 2),
            (1.15 if i % 2 == 0 else 0.5) * math.sin(a - math.pi / 2),
        )
        for i, a in enumerate(np.linspace(0, 2 * math.pi, 11)[:-1])
    ],
    "cross": [
        (-0.35, -1),
        (0.35, -1),
        (0.35, -0.35),
        (1, -0.35),
        (1, 0.35),
        (0.35, 0.35),
        (0.35, 1),
        (-0.35, 1),
        (-0.35, 0.35),
        (-1, 0.35),
        (-1, -0.35),
        (-0.35, -0.35),
    ],
}
# Figure skeleton in units of the figure's half height: (parent joint, length, rest angle) per bone.
_NECK, _HEAD_R = (0.0, -0.85), 0.2
_LIMB_REST = (-0.35, 0.35, 0.0, 0.0, -0.15, 0.15, 0.0, 0.0)  # l_arm r_arm l_elbow r_elbow l_leg r_leg l_knee r_knee


def _texture(look: Look, side: int) -> np.ndarray:
    """(side, side, 3) float32 fill pattern in sprite space (so it turns with the sprite)."""
    c1, c2 = np.array(look.color, np.float32), np.array(look.color2, np.float32)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / max(side, 1)
    if look.texture == "solid":
        mix = np.zeros_like(xx)
    elif look.texture == "stripes":
        mix = (np.sin(xx * 2 * math.pi * 5) > 0).astype(np.float32)
    elif look.texture == "checker":
        mix = ((np.floor(xx * 6) + np.floor(yy * 6)) % 2).astype(np.float32)
    elif look.texture == "dots":
        mix = (((xx * 6) % 1 - 0.5) ** 2 + ((yy * 6) % 1 - 0.5) ** 2 < 0.09).astype(np.float32)
    elif look.texture == "gradient":
        mix = yy
    else:
        raise ValueError(f"unknown texture {look.texture!r}")
    return c1 * (1 - mix[..., None]) + c2 * mix[..., None]


@functools.lru_cache(maxsize=256)
def sprite(look: Look, px_per_unit: float) -> np.ndarray:
    """(S, S, 4) float32 RGBA sprite centred in its square, alpha in [0, 1]."""
    half = look.size * px_per_unit
    side = 2 * math.ceil(half * 1.5) + 4  # room for the rotated shape
    c = side / 2
    mask = np.zeros((side, side), np.uint8)
    if look.shape == "circle":
        cv2.circle(mask, (round(c), round(c)), round(half), 255, -1, cv2.LINE_AA)
    elif look.shape == "ellipse":
        cv2.ellipse(
            mask, (round(c), round(c)), (round(half * 1.3), round(half * 0.65)), 0, 0, 360, 255, -1, cv2.LINE_AA
        )
    elif look.shape in _POLYGONS:
        pts = np.array([(c + x * half, c + y * half) for x, y in _POLYGONS[look.shape]], np.float32)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    else:
        raise ValueError(f"unknown shape {look.shape!r}")
    rgb = _texture(look, side)
    if look.outline:
        edge = cv2.morphologyEx(
            mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8), iterations=max(1, round(half / 10))
        )
        rgb = np.where((edge > 0)[..., None], rgb * 0.3, rgb)
    return np.dstack([rgb, mask.astype(np.float32) / 255.0])


def paste(canvas: np.ndarray, rgba: np.ndarray, x: float, y: float, angle: float, scale: float) -> None:
    """Alpha-blend a centred sprite onto ``canvas`` (float32 RGB) at pixel (x, y), in place."""
    side = rgba.shape[0]
    reach = side / 2 * scale
    x0, y0 = max(0, math.floor(x - reach)), max(0, math.floor(y - reach))
    x1, y1 = min(canvas.shape[1], math.ceil(x + reach) + 1), min(canvas.shape[0], math.ceil(y + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    m = cv2.getRotationMatrix2D((side / 2, side / 2), math.degrees(angle), scale)
    m[:, 2] += (x - side / 2 - x0, y - side / 2 - y0)
    warped = cv2.warpAffine(
        rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    alpha = warped[..., 3:4]
    roi = canvas[y0:y1, x0:x1]
    roi *= 1 - alpha
    roi += warped[..., :3] * alpha


def draw_figure(
    canvas: np.ndarray, look: Look, color: np.ndarray, pose: Pose, px_per_unit: float, origin: float
) -> None:
    """An articulated stick ("stick") or block ("block") figure, hip at the pose position."""
    unit = look.size * px_per_unit * pose.scale
    ca, sa = math.cos(pose.angle), math.sin(pose.angle)
    hip = ((pose.x + origin) * px_per_unit, (pose.y - pose.lift + origin) * px_per_unit)

    def to_px(p: tuple[float, float]) -> tuple[int, int]:
        # Screen y points down, so a counter-clockwise turn is (x, y) -> (x c + y s, -x s + y c).
        x, y = p[0] * unit, p[1] * unit
        return (round((hip[0] + x * ca + y * sa) * 16), round((hip[1] - x * sa + y * ca) * 16))

    z = [r + o for r, o in zip(_LIMB_REST, pose.limbs or (0.0,) * 8)]

    def limb(start, a, length):
        return (start[0] + length * math.sin(a), start[1] + length * math.cos(a))

    bones = [((0.0, 0.0), _NECK)]
    for side in (0, 1):
        elbow = limb(_NECK, z[side], 0.42)
        bones += [(_NECK, elbow), (elbow, limb(elbow, z[side] + z[2 + side], 0.38))]
        knee = limb((0.0, 0.0), z[4 + side], 0.5)
        bones += [((0.0, 0.0), knee), (knee, limb(knee, z[4 + side] + z[6 + side], 0.5))]
    thick = max(1, round(unit * (0.16 if look.shape == "block" else 0.07)))
    col = tuple(float(v) for v in color)
    for a, b in bones:
        cv2.line(canvas, to_px(a), to_px(b), col, thick, cv2.LINE_AA, shift=4)
    head = (_NECK[0], _NECK[1] - _HEAD_R)
    if look.shape == "block":
        r = _HEAD_R * 1.1
        corners = [to_px((head[0] + dx * r, head[1] + dy * r)) for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        cv2.fillConvexPoly(canvas, np.array(corners, np.int32), col, cv2.LINE_AA, shift=4)
    else:
        cv2.circle(canvas, to_px(head), round(_HEAD_R * unit * 16), col, -1, cv2.LINE_AA, shift=4)


@functools.lru_cache(maxsize=8)
def _footage_frames(path: str, side: int) -> np.ndarray:
    from vidsearch.indexers.decode.video import decode_all

    frames = decode_all(path, max_side=max(side, 64)).frames
    return np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in frames])


def draw_background(bg: Background, side: int) -> np.ndarray:
    """(side, side, 3) float32 backdrop."""
    c1, c2 = np.array(bg.color, np.float32), np.array(bg.color2, np.float32)
    if bg.kind == "footage":
        frames = _footage_frames(bg.footage, side)
        return frames[min(len(frames) - 1, int(bg.footage_pos * len(frames)))].astype(np.float32)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    u = xx * math.cos(bg.angle) + yy * math.sin(bg.angle)
    if bg.kind == "gradient":
        mix = (u - u.min()) / max(float(np.ptp(u)), 1e-6)
    elif bg.kind == "stripes":
        mix = 0.5 + 0.5 * np.sin(u * 2 * math.pi * bg.freq)
    elif bg.kind == "checker":
        mix = ((np.floor(xx * bg.freq) + np.floor(yy * bg.freq)) % 2).astype(np.float32)
    elif bg.kind == "tiles":
        mix = (((xx * bg.freq) % 1 < 0.9) & ((yy * bg.freq) % 1 < 0.9)).astype(np.float32)
    elif bg.kind == "noise":
        coarse = np.random.default_rng(bg.seed).random(
            (max(2, round(bg.freq)), max(2, round(bg.freq))), dtype=np.float32
        )
        mix = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    else:
        raise ValueError(f"unknown background {bg.kind!r}")
    return c1 * (1 - mix[..., None]) + c2 * mix[..., None]


def apply_style(frame: np.ndarray, style: Style, grain: np.ndarray | None) -> np.ndarray:
    """Palette (hue/saturation) and rendering style on a uint8 RGB frame."""
    if style.hue_shift or style.saturation != 1.0:
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int16) + style.hue_shift) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * style.saturation, 0, 255)
        frame = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    r = style.render
    if r == "plain":
        return frame
    if r == "cartoon":
        edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 60, 150) > 0
        out = (frame // 64) * 64 + 32
        out[edges] = 20
        return out
    if r == "ink":
        edges = cv2.dilate(cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 50, 130), np.ones((2, 2), np.uint8)) > 0
        out = (0.35 * frame + 0.65 * 235).astype(np.uint8)
        out[edges] = 30
        return out
    if r == "pixel":
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if r == "grain":
        assert grain is not None
        return np.clip(frame.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    if r == "watercolor":
        return (cv2.GaussianBlur(frame, (0, 0), 2.5) // 40) * 40 + 20
    raise ValueError(f"unknown render style {r!r}")


def _camera_matrix(spec: ClipSpec, t: float, size: int) -> np.ndarray:
    """2x3 map from canvas pixels to output pixels: camera motion at ``t`` then the fixed view."""
    cx, cy, zoom = spec.motion.camera.state(t)
    v = spec.scene.view
    k = v.zoom * zoom
    a = math.radians(v.angle)
    lin = k * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    shift = size * np.array([0.5 + v.dx, 0.5 + v.dy]) - lin @ (size * np.array([MARGIN + cx, MARGIN + cy]))
    return np.hstack([lin, shift[:, None]])


def render_clip(spec: ClipSpec, size: int, num_frames: int) -> np.ndarray:
    """uint8 (num_frames, size, size, 3) RGB frames; frame i shows time i / (num_frames - 1)."""
    side = round(size * (1 + 2 * MARGIN))
    static = draw_background(spec.scene.background, side)
    for prop in spec.scene.props:
        paste(
            static, sprite(prop.look, float(size)), (prop.x + MARGIN) * size, (prop.y + MARGIN) * size, prop.angle, 1.0
        )
    grain = None
    if spec.scene.style.render == "grain":
        grain = np.random.default_rng(spec.scene.background.seed).normal(0, 18, (size, size, 1)).astype(np.int16)
    out = np.empty((num_frames, size, size, 3), np.uint8)
    for i in range(num_frames):
        t = i / max(num_frames - 1, 1)
        canvas = static.copy()
        for actor, motion in zip(spec.scene.actors, spec.motion.actors):
            pose = motion.pose(t)
            _draw_actor(canvas, actor.look, actor.end_look, t, pose, size)
        world = np.clip(canvas, 0, 255).astype(np.uint8)
        frame = cv2.warpAffine(
            world, _camera_matrix(spec, t, size), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
        )
        out[i] = apply_style(frame, spec.scene.style, grain)
    return out


def _draw_actor(canvas: np.ndarray, look: Look, end_look: Look | None, t: float, pose: Pose, size: int) -> None:
    w = t if end_look is not None else 0.0
    if look.articulated:
        color = np.array(look.color, np.float32)
        if end_look is not None:
            color = (1 - w) * color + w * np.array(end_look.color, np.float32)
        draw_figure(canvas, look, color, pose, float(size), MARGIN)
        return
    rgba = sprite(look, float(size))
    if end_look is not None:
        rgba = (1 - w) * rgba + w * sprite(end_look, float(size))
    paste(canvas, rgba, (pose.x + MARGIN) * size, (pose.y + MARGIN) * size, pose.angle, pose.scale)
