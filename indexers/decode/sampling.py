"""Which frames of a segment are sampled: the published rule, or that rule snapped to keyframes.

``exact`` (the default) is the published method's ``round(linspace(first, last - 1, T))``.

``keyframes`` exists for speed on long files. An exact target costs a seek to the keyframe before
it and the decode of every *referenced* frame up to it: on a 5-minute 1080p x264 clip (GOP 250,
B-pyramid) about 1,800 decoded frames for 32 targets, so decoding bounds indexing however fast the
encoder is (docs/performance.md). A keyframe decodes alone after one seek. So each target that
has a keyframe within half the spacing between targets, not already taken by another target,
uses that keyframe instead; the others stay exact. Other frames mean
other vectors than the published method's, hence a distinct extractor setting
(``ExtractorConfig.sampling``), recorded in the index's config and fingerprint, never the default.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Sampling = Literal["exact", "keyframes"]
SAMPLINGS: tuple[str, ...] = ("exact", "keyframes")


def uniform_indices(frame_count: int, num_frames: int) -> np.ndarray:
    """``round(linspace(0, n-1, T))`` as the reference; clips shorter than T repeat frames."""
    return np.round(np.linspace(0, frame_count - 1, num_frames)).astype(np.int64)


def snap_tolerance(frame_count: int, num_frames: int) -> float:
    """Half the spacing between targets: a snapped frame stays in its own target's slot, so the
    sample still covers the segment evenly (and a segment shorter than ``num_frames`` frames, whose
    targets are under a frame apart, only keeps targets that are keyframes already)."""
    return 0.5 * (frame_count - 1) / max(num_frames - 1, 1)


def snap_to_keyframes(targets: np.ndarray, keyframes: np.ndarray, tolerance: float) -> np.ndarray:
    """``targets`` (ascending frame indices) with each one that is not a keyframe replaced by the
    nearest keyframe at most ``tolerance`` frames away that no other target uses (the earlier
    target wins a keyframe two could take); returned in time order, because the SPF and the
    moments of temporal differences read the frames as a sequence."""
    keys = np.unique(np.asarray(keyframes, np.int64))
    out = np.asarray(targets, np.int64).copy()
    taken = set(np.intersect1d(out, keys).tolist())  # targets that are keyframes keep theirs
    for i, target in enumerate(out.tolist()):
        if target in taken:
            continue
        near = keys[np.abs(keys - target) <= tolerance]
        free = [k for k in sorted(near.tolist(), key=lambda k: (abs(k - target), k)) if k not in taken]
        if free:
            out[i] = free[0]
            taken.add(free[0])
    return np.sort(out)


def sampled_indices(first: int, last: int, num_frames: int, keyframes: np.ndarray | None = None) -> np.ndarray:
    """The frames to sample from ``[first, last)``: exact, or snapped to ``keyframes`` (file
    indices; those outside the range are ignored) when they are given."""
    targets = first + uniform_indices(last - first, num_frames)
    if keyframes is None:
        return targets
    keyframes = np.asarray(keyframes, np.int64)
    inside = keyframes[(keyframes >= first) & (keyframes < last)]
    return snap_to_keyframes(targets, inside, snap_tolerance(last - first, num_frames))
