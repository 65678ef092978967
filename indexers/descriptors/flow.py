"""Low-level motion beside semantic motion: pooled histograms of Farneback optical flow.

SemanticMoments see *what* changes; this sees *how pixels move* (direction and speed), whatever
the object. It runs on the frames already sampled for the encoder (no second decode): they are
downscaled to 64 px and flow is taken between consecutive sampled frames. Each cell of a 2x2
grid gets an 8-direction x 4-speed histogram weighted by magnitude; the descriptor is the mean
of those histograms over time, their standard deviation, and a constant "stillness" anchor (so
a clip without motion points at the anchor instead of at normalised noise), L2-normalised:
cosine similarity compares clips. Direction bins make it order-aware (a reversed clip's flow
points the other way) and speed bins make it speed-aware. 257 floats; cost per clip is measured
by ``python -m vidsearch.bench.flow_cost``.

A horizontally mirrored clip's descriptor is a fixed permutation of this one (``mirror_flow``):
left and right cells swap and every direction bin maps to its mirror image, so a search can
score a query in both screen directions without decoding it twice.
"""

from __future__ import annotations

import itertools

import numpy as np

FLOW_SIZE = 64
DIRECTIONS, SPEEDS, GRID = 8, 4, 2
SPEED_EDGES = np.array([0.25, 1.0, 3.0])  # pixels per frame at 64 px
STILL_ANCHOR = 0.01  # mean flow magnitude (px/frame) below which a clip reads as still
FLOW_DIM = 2 * GRID * GRID * DIRECTIONS * SPEEDS + 1


def _histogram(flow: np.ndarray) -> np.ndarray:
    """(GRID*GRID*DIRECTIONS*SPEEDS,) magnitude-weighted histogram of one flow field."""
    mag = np.hypot(flow[..., 0], flow[..., 1])
    ang = (np.arctan2(flow[..., 1], flow[..., 0]) + np.pi) / (2 * np.pi) * DIRECTIONS
    d = np.minimum(ang.astype(np.int64), DIRECTIONS - 1)
    s = np.searchsorted(SPEED_EDGES, mag)
    h, w = mag.shape
    cy = np.minimum(np.arange(h) * GRID // h, GRID - 1)[:, None]
    cx = np.minimum(np.arange(w) * GRID // w, GRID - 1)[None, :]
    cell = cy * GRID + cx
    bins = ((cell * DIRECTIONS + d) * SPEEDS + s).ravel()
    return np.bincount(bins, weights=mag.ravel(), minlength=GRID * GRID * DIRECTIONS * SPEEDS) / (h * w)


def flow_descriptor(frames: np.ndarray) -> np.ndarray:
    """float32 (FLOW_DIM,) unit vector from sampled frames, uint8 (T >= 2, H, W, 3) RGB."""
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) < 2:
        raise ValueError(f"flow descriptor needs (T>=2, H, W, 3) frames, got shape {frames.shape}")
    gray = [
        cv2.cvtColor(cv2.resize(f, (FLOW_SIZE, FLOW_SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        for f in frames
    ]
    hists = np.stack(
        [
            _histogram(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0))
            for a, b in itertools.pairwise(gray)
        ]
    )
    v = np.concatenate([hists.mean(0), hists.std(0), [STILL_ANCHOR]]).astype(np.float32)
    return v / np.linalg.norm(v)


def _mirror_permutation() -> np.ndarray:
    """Index map of one histogram under a horizontal flip: (u, v) -> (-u, v), x -> W - 1 - x.

    Direction bin d covers angles [-pi + d pi/4, -pi + (d + 1) pi/4); the mirror angle pi - theta
    falls in bin (3 - d) mod 8. Speed is unchanged."""
    cell, d, s = np.meshgrid(np.arange(GRID * GRID), np.arange(DIRECTIONS), np.arange(SPEEDS), indexing="ij")
    cy, cx = cell // GRID, cell % GRID
    mirrored = ((cy * GRID + (GRID - 1 - cx)) * DIRECTIONS + (3 - d) % DIRECTIONS) * SPEEDS + s
    src = np.empty(GRID * GRID * DIRECTIONS * SPEEDS, np.int64)
    src[mirrored.ravel()] = ((cell * DIRECTIONS + d) * SPEEDS + s).ravel()
    half = len(src)
    return np.concatenate([src, half + src, [2 * half]])


MIRROR = _mirror_permutation()


def mirror_flow(descriptor: np.ndarray) -> np.ndarray:
    """The descriptor of the horizontally mirrored clip (exact up to bin-edge rounding)."""
    return np.asarray(descriptor)[..., MIRROR]


def flow_speed(descriptors: np.ndarray) -> np.ndarray:
    """Mean flow magnitude behind each unit descriptor (rows of a (N, FLOW_DIM) array), read back
    from the stillness anchor: it was ``STILL_ANCHOR`` before the L2 normalisation, so the norm of
    the histograms was ``sqrt((STILL_ANCHOR / last)^2 - STILL_ANCHOR^2)``. NaN where not stored."""
    last = np.asarray(descriptors, np.float64)[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.sqrt(np.maximum((STILL_ANCHOR / last) ** 2 - STILL_ANCHOR**2, 0.0))
    return np.where(last > 0, norm, np.nan)
