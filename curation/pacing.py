"""Pacing classes from a segment's SPF curve, for balancing a training set by how clips unfold.

``steady``: the curve stays within ``STEADY_DEVIATION`` of the diagonal (constant semantic
speed). Otherwise the signed area between curve and diagonal decides: mostly above it is
``fast-start`` (the change happens early, then settles), mostly below is ``slow-start`` (a quiet
lead-in, then the change), and a curve that crosses the diagonal so that neither side dominates
(pauses, bursts, S-shapes) is ``uneven``.
"""

from __future__ import annotations

import numpy as np

PACING_CLASSES = ("steady", "fast-start", "slow-start", "uneven")
STEADY_DEVIATION = 0.1  # max |SPF - diagonal| below which pacing counts as steady
DOMINANT_SHARE = 0.5  # |signed area| / unsigned area above which one side dominates


def pacing_classes(curves: np.ndarray, linearity_max: np.ndarray) -> np.ndarray:
    """Class name of each segment, from (n, 64) curves and their max deviation: an object array
    whose entries share the four names (8 bytes a segment, not a string each)."""
    curves = np.asarray(curves, dtype=np.float64).reshape(len(curves), -1)
    diag = np.linspace(0.0, 1.0, curves.shape[1])
    dev = curves - diag
    signed, unsigned = dev.mean(axis=1), np.abs(dev).mean(axis=1) + 1e-12
    code = np.where(signed > 0, PACING_CLASSES.index("fast-start"), PACING_CLASSES.index("slow-start"))
    code[np.abs(signed) / unsigned < DOMINANT_SHARE] = PACING_CLASSES.index("uneven")
    code[np.asarray(linearity_max) < STEADY_DEVIATION] = PACING_CLASSES.index("steady")
    return np.array(PACING_CLASSES, dtype=object)[code]
