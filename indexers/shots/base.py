"""The streaming shot-detector contract shared by every detector.

A detector is fed the frames of one file in decode order, each at the small analysis size it asks
for, and reports cuts as the frame index where a new shot starts. It may need some frames of
look-ahead before it can decide (TransNetV2 looks 25 frames ahead, the embedding detector up to
one analysis step): ``settled`` tells the segmenter up to which frame no further cut can appear,
so segments before it can be emitted and their frames dropped (memory stays bounded).
"""

from __future__ import annotations

import numpy as np


class ShotDetector:
    """Base class. Subclasses set ``size`` and implement ``push``/``finish``.

    Attributes:
        size: (width, height) of the analysis frames this detector wants.
        settled: every cut at a frame index < ``settled`` has been reported already.
    """

    name: str = ""
    size: tuple[int, int] = (48, 27)

    def __init__(self, fps: float, width: int, height: int):
        self.fps = fps if fps > 0 else 25.0
        self.width, self.height = width, height
        self.settled = 0
        self._cuts: list[int] = []

    def push(self, frame: np.ndarray) -> None:
        """Feed the next frame (uint8 (h, w, 3) RGB at ``size``)."""
        raise NotImplementedError

    def finish(self) -> None:
        """No more frames: decide the remaining cuts (``settled`` becomes the frame count)."""
        raise NotImplementedError

    def take_cuts(self) -> list[int]:
        """Cuts found since the last call, in increasing order (frame index of each new shot)."""
        cuts, self._cuts = self._cuts, []
        return cuts


class TransitionRuns:
    """Turns per-frame transition probabilities, fed in order, into cuts: one cut per run of
    frames above ``threshold``, on the first frame after the run (the first frame of the new
    shot, where TransNetV2's ``predictions_to_scenes`` starts its next scene). A run touching the
    start of the file is no cut, nor is one still open when the file ends."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.count = 0  # probabilities seen
        self._run_start: int | None = None

    def feed(self, probs: np.ndarray) -> list[int]:
        cuts = []
        for p in np.asarray(probs, dtype=np.float64).ravel():
            above = p > self.threshold
            if above and self._run_start is None:
                self._run_start = self.count
            elif not above and self._run_start is not None:
                if self._run_start > 0:
                    cuts.append(self.count)
                self._run_start = None
            self.count += 1
        return cuts
