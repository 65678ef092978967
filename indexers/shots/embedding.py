"""A shot detector on our own per-frame embeddings, at an analysis rate.

Every ``1/analysis_fps`` seconds one frame goes through the index's encoder (the frames are
already decoded at its input size for the segments); a cut is declared between two analysis frames
whose global embeddings are far apart (cosine distance above ``threshold`` and ``ratio`` times the
median of the recent distances, so steady camera motion does not trigger it). The cut is then
placed on the frame between them where a 32x32 grey thumbnail changes most, so the boundary is
frame-accurate although only a few frames per second are embedded.
"""

from __future__ import annotations

import functools
import threading
from collections import deque

import numpy as np

from vidsearch.indexers.shots.base import ShotDetector

ANALYSIS_FPS = 4.0
THRESHOLD = 0.05  # cosine distance between consecutive analysis frames (calibrated on the joined real clips)
RATIO = 2.5  # ... and this many times the median of the last HISTORY distances
HISTORY = 8
BATCH = 8  # analysis frames encoded per forward pass
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _encoder(backbone: str):
    from vidsearch.indexers.encoders import load_encoder

    return load_encoder(backbone)


def _thumb(frame: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


class EmbeddingShotDetector(ShotDetector):
    name = "embedding"

    def __init__(
        self, fps: float, width: int, height: int, backbone: str, image_size: int, analysis_fps: float = ANALYSIS_FPS
    ):
        super().__init__(fps, width, height)
        with _LOCK:
            self.encoder = _encoder(backbone)
        self.size = (image_size, image_size)
        self.step = max(1, round(self.fps / analysis_fps))
        self._pushed = 0
        self._thumbs: list[np.ndarray] = []  # from the last encoded analysis frame on
        self._thumb_start = 0
        self._batch: list[tuple[int, np.ndarray]] = []  # (frame index, frame) waiting for the encoder
        self._previous: np.ndarray | None = None  # last analysis embedding (unit norm)
        self._previous_index = 0
        self._last: np.ndarray | None = None
        self._distances: deque[float] = deque(maxlen=HISTORY)

    def push(self, frame: np.ndarray) -> None:
        self._thumbs.append(_thumb(frame))
        self._last = frame
        if self._pushed % self.step == 0:
            self._batch.append((self._pushed, frame))
            if len(self._batch) >= BATCH:
                self._encode()
        self._pushed += 1

    def finish(self) -> None:
        if self._pushed and (self._pushed - 1) % self.step:
            self._batch.append((self._pushed - 1, self._last))  # the last frame closes the last interval
        self._encode()
        self.settled = self._pushed

    def _encode(self) -> None:
        if not self._batch:
            return
        emb = self.encoder.encode(np.stack([f for _, f in self._batch])).global_embedding.numpy().astype(np.float64)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        for (index, _), e in zip(self._batch, emb):
            if self._previous is not None:
                d = float(1.0 - self._previous @ e)
                baseline = float(np.median(self._distances)) if self._distances else 0.0
                if d > THRESHOLD and d > RATIO * baseline:
                    self._cuts.append(self._locate(self._previous_index, index))
                self._distances.append(d)
            self._previous, self._previous_index = e, index
        self._batch.clear()
        self._drop_thumbs_before(self._previous_index)
        self.settled = self._previous_index + 1

    def _locate(self, a: int, b: int) -> int:
        """Frame in (a, b] that differs most from the frame before it."""
        diffs = [
            np.abs(self._thumbs[i - self._thumb_start] - self._thumbs[i - 1 - self._thumb_start]).mean()
            for i in range(a + 1, b + 1)
        ]
        return a + 1 + int(np.argmax(diffs))

    def _drop_thumbs_before(self, index: int) -> None:
        drop = index - self._thumb_start
        if drop > 0:
            del self._thumbs[:drop]
            self._thumb_start = index
