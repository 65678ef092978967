"""A cheap optical-flow baseline: pooled histograms of Farneback flow direction and speed.

This is the "traditional motion-centric input" the paper contrasts with semantic features: it
sees how pixels move but not what moves. Frames are downscaled to 64 px and flow is taken
between consecutive frames of the T uniformly sampled ones; each spatial cell of a 2x2 grid gets
an 8-direction x 4-speed histogram weighted by magnitude, averaged over time, plus the same
histogram of the temporal standard deviation, and a constant "stillness" anchor (so a clip without
motion points at the anchor instead of at normalised noise), L2-normalised. Cosine similarity
compares clips.
"""

from __future__ import annotations

import itertools

import numpy as np
from vidsearch.indexers.video import resize_frame, uniform_indices

FLOW_SIZE = 64
DIRECTIONS, SPEEDS, GRID = 8, 4, 2
SPEED_EDGES = np.array([0.25, 1.0, 3.0])  # pixels per frame at 64 px
STILL_ANCHOR = 0.01  # mean flow magnitude (px/frame) below which a clip reads as still
NAMESPACE = "flow-hist-v2"


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


def flow_descriptor(frames: np.ndarray, num_frames: int = 32) -> np.ndarray:
    """float32 unit vector from a fully decoded clip (uint8 (N, H, W, 3))."""
    import cv2

    idx = uniform_indices(len(frames), num_frames)
    gray = [cv2.cvtColor(resize_frame(frames[i], FLOW_SIZE), cv2.COLOR_RGB2GRAY) for i in idx]
    hists = np.stack([_histogram(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)) for a, b in itertools.pairwise(gray)])
    v = np.concatenate([hists.mean(0), hists.std(0), [STILL_ANCHOR]]).astype(np.float32)
    return v / np.linalg.norm(v)
