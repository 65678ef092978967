"""Shared fixtures: real clips, generated clips, a converted-weights cache for the session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_CLIPS = REPO.parent / "shared" / "data" / "real-clips"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Weights converted once per test session into a private cache (never the user's)."""
    if "VIDSEARCH_CACHE" not in os.environ:
        os.environ["VIDSEARCH_CACHE"] = str(tmp_path_factory.mktemp("vidsearch-cache"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def real_clips() -> Path:
    if not REAL_CLIPS.is_dir():
        pytest.fail(f"real test clips missing at {REAL_CLIPS}")
    return REAL_CLIPS


@pytest.fixture(scope="session")
def slot(real_clips) -> np.ndarray:
    """Four seconds of real footage (a pan across cyclists), at most 256 px wide."""
    from vidsearch.indexers.decode.video import decode_all

    return decode_all(real_clips / "bikes.mp4", max_side=256).frames[:100]


def render_pattern(
    n_frames: int = 48,
    size: int = 96,
    motion: str = "linear",
    colour: tuple[int, int, int] = (230, 40, 40),
    background: tuple[int, int, int] = (20, 20, 20),
    texture: str = "solid",
) -> np.ndarray:
    """A square moving over a background: ``motion`` decides the path, the rest the look."""
    t = np.linspace(0, 1, n_frames)
    if motion == "linear":
        xs, ys = 0.1 + 0.7 * t, np.full_like(t, 0.4)
    elif motion == "circle":
        xs, ys = 0.45 + 0.3 * np.cos(2 * np.pi * 2 * t), 0.45 + 0.3 * np.sin(2 * np.pi * 2 * t)
    elif motion == "static":
        xs, ys = np.full_like(t, 0.4), np.full_like(t, 0.4)
    elif motion == "zigzag":
        xs, ys = 0.1 + 0.7 * t, 0.4 + 0.3 * np.sign(np.sin(2 * np.pi * 4 * t)) * (np.abs(np.sin(2 * np.pi * 4 * t)))
    else:
        raise ValueError(motion)
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    frames[:] = background
    side = size // 4
    yy, xx = np.mgrid[0:side, 0:side]
    stripes = ((xx // 4 + yy // 4) % 2).astype(bool)
    for i in range(n_frames):
        x0, y0 = int(xs[i] * (size - side)), int(ys[i] * (size - side))
        patch = np.empty((side, side, 3), np.uint8)
        patch[:] = colour
        if texture == "checker":
            patch[stripes] = 255 - np.asarray(colour, np.uint8)
        frames[i, y0 : y0 + side, x0 : x0 + side] = patch
    return frames


def write_fixed_gop(path: Path, frames: np.ndarray, fps: float, gop: int) -> Path:
    """H.264 with a keyframe exactly every ``gop`` frames (no scene-cut keyframes) and x264's
    default B-frames: a stream whose keyframe positions a test knows."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def make_clip(tmp_path):
    """Write a generated clip and return its path: ``make_clip("a.mp4", motion="circle")``."""
    from vidsearch.indexers.decode.video import write_video

    def _make(name: str, fps: float = 16.0, folder: Path | None = None, **kwargs) -> Path:
        path = (folder or tmp_path) / name
        write_video(path, render_pattern(**kwargs), fps)
        return path

    return _make
