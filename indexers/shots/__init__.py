"""Shot detectors behind one factory: ``make_detector(name, info, backbone, image_size)``.

``transnetv2``: the reference learned detector. ``embedding``: cuts in our own encoder's per-frame
embeddings at a few frames per second. ``scenedetect``: PySceneDetect's ContentDetector. The
default is ``SegmentConfig.detector`` in ``indexers/config.py``.
Each module imports its heavy dependency only when a detector is built.
"""

from __future__ import annotations

from vidsearch.errors import ConfigError
from vidsearch.indexers.shots.base import ShotDetector

DETECTORS = ("transnetv2", "embedding", "scenedetect")


def make_detector(name: str, fps: float, width: int, height: int, backbone: str, image_size: int) -> ShotDetector:
    """A fresh streaming detector for one file (``backbone``/``image_size`` serve ``embedding``)."""
    if name == "transnetv2":
        from vidsearch.indexers.shots.transnet import TransNetV2Detector

        return TransNetV2Detector(fps, width, height)
    if name == "embedding":
        from vidsearch.indexers.shots.embedding import EmbeddingShotDetector

        return EmbeddingShotDetector(fps, width, height, backbone, image_size)
    if name == "scenedetect":
        from vidsearch.indexers.shots.content import ContentShotDetector

        return ContentShotDetector(fps, width, height)
    raise ConfigError(f"unknown shot detector {name!r}; choose one of {', '.join(DETECTORS)}")


def detect_cuts(
    path, name: str = "transnetv2", backbone: str = "tiny-random", image_size: int = 224
) -> tuple[list[int], float, int]:
    """Cuts of a whole file with detector ``name``: (cut frames, seconds spent in the detector,
    frames). Decoding is not counted, so detectors compare by their own cost; for the benchmark and
    the tests (ingestion runs the detector inside its single decode pass instead)."""
    import time

    import cv2

    from vidsearch.indexers.decode.video import iter_frames, resize_frame

    source = iter_frames(path)
    info = source.info
    detector = make_detector(name, info.fps, info.width, info.height, backbone, image_size)
    cuts, spent, count = [], 0.0, 0
    for rgb in source.frames:
        w, h = detector.size
        small = (
            resize_frame(rgb, w)
            if (w, h) == (image_size, image_size)
            else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        )
        t0 = time.perf_counter()
        detector.push(small)
        cuts += detector.take_cuts()
        spent += time.perf_counter() - t0
        count += 1
    t0 = time.perf_counter()
    detector.finish()
    cuts += detector.take_cuts()
    return cuts, spent + time.perf_counter() - t0, count


__all__ = ["DETECTORS", "ShotDetector", "detect_cuts", "make_detector"]
