"""PySceneDetect's ContentDetector (HSV + edge change between consecutive frames), as a stream.

The frames come from our own decode pass, downscaled to about 256 px wide as PySceneDetect's
``SceneManager`` does by default, so the detector sees what ``scenedetect detect-content`` sees.
Defaults are the package's (threshold 27, min_scene_len 15 frames, flash filter MERGE).
"""

from __future__ import annotations

import numpy as np

from vidsearch.indexers.shots.base import ShotDetector

ANALYSIS_WIDTH = 256


class ContentShotDetector(ShotDetector):
    name = "scenedetect"

    def __init__(self, fps: float, width: int, height: int):
        super().__init__(fps, width, height)
        try:
            from scenedetect import ContentDetector, FrameTimecode
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RuntimeError("shot detector 'scenedetect' needs the package scenedetect-headless") from exc
        self._timecode = FrameTimecode
        self.detector = ContentDetector()
        w = min(ANALYSIS_WIDTH, width)
        self.size = (max(2, w), max(2, round(height * w / max(width, 1))))
        self._pushed = 0

    def push(self, frame: np.ndarray) -> None:
        bgr = np.ascontiguousarray(frame[:, :, ::-1])
        found = self.detector.process_frame(self._timecode(self._pushed, self.fps), bgr)
        self._cuts.extend(int(t.frame_num) for t in found if int(t.frame_num) > 0)
        self._pushed += 1
        self.settled = max(0, self._pushed - int(self.detector.event_buffer_length) - 1)

    def finish(self) -> None:
        if self._pushed:
            found = self.detector.post_process(self._timecode(self._pushed - 1, self.fps))
            self._cuts.extend(int(t.frame_num) for t in found if int(t.frame_num) > 0)
        self.settled = self._pushed
