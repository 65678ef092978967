"""Real-footage SimMotion categories: windows of real videos with controlled changes.

The procedural set's motions are drawn by us; these categories test the same question on real
footage. Each source video is cut into disjoint slots of ``2 * window`` seconds; a slot's first
``window`` seconds are the reference. The **positive** is the reference with one controlled
appearance change (recolour, blur, zoom-crop, contrast/gamma, grey, sensor noise: the motion is
untouched). The **negative** keeps the reference's appearance and changes its motion, one kind per
category:

- ``real_window``: the next ``window`` seconds of the same video (same scene, other moment);
- ``real_speed``: the reference's slot played at double speed (same first frame, faster motion);
- ``real_reverse``: the reference played backwards (same frames, opposite direction).

The invariance categories (``INVARIANCE_CATEGORIES``, opt-in: ``make-synthetic --invariances``)
ask whether a change a user still calls the same motion keeps the positive first:

- ``real_mirror``: the positive is the reference mirrored left-right; the negative the next window;
- ``real_zoom``: the positive is a crop of the reference scaled back up; the negative the next window;
- ``real_slow``: the negative is the reference's first half at half speed (each frame twice).

Slots are dealt round-robin to the chosen categories, so no frame appears in two triplets (a copy
of a reference elsewhere in the pool would make every query unwinnable). Everything is drawn
from ``numpy.random.default_rng([seed, 1000 + category, example])``: deterministic for a seed.
Layout as the synthetic set: ``OUT/<category>/example_<N>/{ref,positive,negative}.mp4``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsearch.errors import ConfigError

REAL_CATEGORIES = ("real_window", "real_speed", "real_reverse")
INVARIANCE_CATEGORIES = ("real_mirror", "real_zoom", "real_slow")
_SEED_ORDER = REAL_CATEGORIES + INVARIANCE_CATEGORIES  # a category's seed stream, whichever are chosen
APPEARANCE_CHANGES = ("recolour", "blur", "zoom-crop", "contrast", "grey", "noise")
MAX_SIDE = 256  # frames are downscaled to this longest side (the procedural set's size)


@dataclass(frozen=True)
class RealSlot:
    """``window`` seconds of ``source`` starting at frame ``start`` (plus as much again after it)."""

    source: str
    start: int
    length: int  # frames in the reference window


def slots(sources: Sequence[tuple[str, int, float]], window_s: float) -> list[RealSlot]:
    """Disjoint ``2 * window`` slots of every source, ``(path, frame_count, fps)`` each, in order."""
    out = []
    for path, frame_count, fps in sources:
        length = max(2, round(window_s * fps))
        out += [RealSlot(path, s, length) for s in range(0, frame_count - 2 * length + 1, 2 * length)]
    return out


def change_appearance(frames: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The same frames with one appearance change, identical on every frame (motion untouched)."""
    import cv2

    f = frames.astype(np.float32)
    if kind == "recolour":
        hsv = np.stack([cv2.cvtColor(x, cv2.COLOR_RGB2HSV) for x in frames])
        hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(rng.integers(40, 140))) % 180
        return np.stack([cv2.cvtColor(x, cv2.COLOR_HSV2RGB) for x in hsv])
    if kind == "blur":
        sigma = float(rng.uniform(1.5, 3.0))
        return np.stack([cv2.GaussianBlur(x, (0, 0), sigma) for x in frames])
    if kind == "zoom-crop":
        h, w = frames.shape[1:3]
        keep = float(rng.uniform(0.7, 0.85))
        ch, cw = round(h * keep), round(w * keep)
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        return np.stack(
            [cv2.resize(x[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR) for x in frames]
        )
    if kind == "contrast":
        gain, gamma = float(rng.uniform(0.6, 1.4)), float(rng.uniform(0.6, 1.6))
        f = 255.0 * (f / 255.0) ** gamma
        f = (f - 128.0) * gain + 128.0
    elif kind == "grey":
        g = f @ np.array([0.299, 0.587, 0.114], np.float32)
        f = np.repeat(g[..., None], 3, axis=-1)
    elif kind == "noise":
        f = f + rng.normal(0, float(rng.uniform(8, 16)), f.shape[1:]).astype(np.float32)  # fixed pattern
    else:
        raise ConfigError(f"unknown appearance change {kind!r} (choose from {', '.join(APPEARANCE_CHANGES)})")
    return np.clip(f, 0, 255).astype(np.uint8)


def motion_negative(category: str, slot_frames: np.ndarray, length: int) -> np.ndarray:
    """The negative's frames from the whole ``2 * length`` slot: other window, 2x / 0.5x speed or reversed."""
    if category in ("real_window", "real_mirror", "real_zoom"):
        return slot_frames[length : 2 * length]
    if category == "real_speed":
        return slot_frames[: 2 * length : 2]
    if category == "real_reverse":
        return slot_frames[:length][::-1]
    if category == "real_slow":
        return np.repeat(slot_frames[: (length + 1) // 2], 2, axis=0)[:length]
    raise ConfigError(f"unknown real category {category!r} (choose from {', '.join(_SEED_ORDER)})")


def positive(category: str, ref: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The positive: the mirrored or zoomed reference for those categories, else one random
    appearance change."""
    if category == "real_mirror":
        return np.ascontiguousarray(ref[:, :, ::-1])
    kind = "zoom-crop" if category == "real_zoom" else str(rng.choice(APPEARANCE_CHANGES))
    return change_appearance(ref, kind, rng)


def _downscale(frames: np.ndarray) -> np.ndarray:
    import cv2

    h, w = frames.shape[1:3]
    if max(h, w) <= MAX_SIDE:
        return frames
    s = MAX_SIDE / max(h, w)
    size = (max(2, round(w * s)), max(2, round(h * s)))
    return np.stack([cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in frames])


def generate_real(
    root: str | os.PathLike,
    footage: Sequence[str],
    seed: int = 0,
    window_s: float = 2.0,
    progress: Callable[[int, int], None] | None = None,
    categories: Sequence[str] = REAL_CATEGORIES,
) -> list[str]:
    """Write the real-footage ``categories`` under ``root`` (resumable); returns the triplet folders."""
    from vidsearch.bench.synthetic import triplet_dir
    from vidsearch.indexers.decode.video import decode_all, probe, write_video

    infos = {p: probe(p) for p in footage}
    all_slots = slots([(p, i.frame_count, i.fps) for p, i in infos.items()], window_s)
    unknown = [c for c in categories if c not in _SEED_ORDER]
    if unknown or not categories:
        raise ValueError(f"unknown real categories {unknown} (choose from {', '.join(_SEED_ORDER)})")
    if len(all_slots) < len(categories):
        raise ValueError(
            f"real footage too short: {len(all_slots)} slots of {2 * window_s:g} s, need at least {len(categories)}"
        )
    decoded: dict[str, np.ndarray] = {}
    done: list[str] = []
    for n, slot in enumerate(all_slots):
        category, index = categories[n % len(categories)], n // len(categories)
        out = triplet_dir(Path(root), category, index)
        roles = [out / f"{r}.mp4" for r in ("ref", "positive", "negative")]
        if not all(p.exists() for p in roles):
            if slot.source not in decoded:
                decoded = {slot.source: _downscale(decode_all(slot.source).frames)}  # one source in memory
            frames = decoded[slot.source][slot.start : slot.start + 2 * slot.length]
            rng = np.random.default_rng([seed, 1000 + _SEED_ORDER.index(category), index])
            ref = frames[: slot.length]
            clips = (ref, positive(category, ref, rng), motion_negative(category, frames, slot.length))
            fps = infos[slot.source].fps
            for path, clip in zip(roles, clips):
                if not path.exists():
                    write_video(path, clip, fps)
        done.append(str(out))
        if progress:
            progress(len(done), len(all_slots))
    return done
