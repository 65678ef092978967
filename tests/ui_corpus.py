"""Shared fixtures of the UI tests: one small real index and one launched server per test module.

The corpus holds generated moving-square clips (tiny-random encoder), plus what must never be
served: a ``.env`` and ``notes.txt`` beside the clips, the index folder inside the corpus, and an
indexed clip later swapped for a symlink to a file outside the corpus. ``outside/`` holds a secret,
a byte copy of one clip for the upload tests (the upload path, not the ranking, is under test there)
and a text file named ``.mp4``. A second corpus of real footage holds a clip and its mirror image.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import render_pattern

from vidsearch.indexers.config import PUBLISHED, SegmentConfig
from vidsearch.indexers.decode.video import write_video
from vidsearch.retrieval.index import Index

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CONFIG = replace(PUBLISHED, backbone="tiny-random", num_frames=8)  # motion = moments cosine, asserted in the tests
RED, BLUE, GREY = (230, 40, 40), (40, 40, 230), (128, 128, 128)
# name -> render_pattern arguments: clips differ in motion path, colour and texture.
CLIPS = {
    "lin_red": dict(motion="linear", colour=RED),
    "circle_red": dict(motion="circle", colour=RED),
    "zigzag_blue": dict(motion="zigzag", colour=BLUE),
    "static_grey": dict(motion="static", colour=GREY),
    "lin_blue_checker": dict(motion="linear", colour=BLUE, texture="checker"),
    "circle_grey": dict(motion="circle", colour=GREY),
}
SWAPPED = "swapped"  # indexed, then replaced by a symlink pointing out of the corpus
CLIP_SECONDS = 2.0  # 24 frames at 12 fps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("ui")
    root = base / "corpus"
    for name, kwargs in CLIPS.items():
        write_video(root / f"{name}.mp4", render_pattern(n_frames=24, size=64, **kwargs), fps=12)
    write_video(root / f"{SWAPPED}.mp4", render_pattern(n_frames=24, size=64, motion="zigzag", colour=GREY), fps=12)
    (root / ".env").write_text("API_KEY=not-for-the-browser")
    (root / "notes.txt").write_text("not for the browser")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the browser")
    shutil.copy(root / "circle_red.mp4", outside / "query_copy.mp4")
    (outside / "notes.mp4").write_text("this is not a video")
    index = Index.create(root / ".vidsearch", CONFIG)
    report = index.add([root])
    assert report.added == len(CLIPS) + 1 and not report.failed
    (root / f"{SWAPPED}.mp4").unlink()
    (root / f"{SWAPPED}.mp4").symlink_to(outside / "query_copy.mp4")
    ids = {Path(r["path"]).stem: r["id"] for r in index.records()}
    return {"base": base, "root": root, "outside": outside, "index": index, "ids": ids}


@pytest.fixture(scope="module")
def server(corpus):
    from vidsearch.app.ui.blocks import launch

    demo = launch(corpus["index"].dir, port=free_port(), max_file_size="1mb", prevent_thread_lock=True)
    yield demo.local_url.rstrip("/")
    demo.close()


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory, slot):
    """Two seconds of a real pan (``original``), its horizontally mirrored copy and the next two
    seconds of the pan (``window``), indexed with the flow histogram, whose mirror image is a
    permutation of its bins whatever the encoder; ``query.mp4`` outside the corpus is a byte copy
    of the original, to upload."""
    base = tmp_path_factory.mktemp("ui-mirrored")
    root = base / "corpus"
    original = slot[:50]
    clips = {"original": original, "mirror": np.ascontiguousarray(original[:, :, ::-1]), "window": slot[50:100]}
    for name, frames in clips.items():
        write_video(root / f"{name}.mp4", frames, 25.0)
    shutil.copy(root / "original.mp4", base / "query.mp4")
    config = replace(CONFIG, aux_descriptors=("flow",), segment=SegmentConfig(mode="none"))
    index = Index.create(root / ".vidsearch", config)
    report = index.add([root])
    assert report.added == len(clips) and not report.failed
    ids = {Path(r["path"]).stem: r["id"] for r in index.records()}
    return {"root": root, "query": base / "query.mp4", "index": index, "ids": ids}


@pytest.fixture(scope="module")
def mirrored_server(mirrored):
    from vidsearch.app.ui.blocks import launch

    demo = launch(mirrored["index"].dir, port=free_port(), prevent_thread_lock=True)
    yield demo.local_url.rstrip("/")
    demo.close()


WINDOWED_CLIPS = {"lin_long": dict(motion="linear", colour=RED), "circle_long": dict(motion="circle", colour=BLUE)}


@pytest.fixture(scope="module")
def windowed(tmp_path_factory):
    """An index whose files hold several segments each: 1 s windows cut by the real segmenting
    pipeline, each decoded and embedded on its own, with the poster it makes at index time."""
    root = tmp_path_factory.mktemp("ui-windowed") / "corpus"
    for name, kwargs in WINDOWED_CLIPS.items():
        write_video(root / f"{name}.mp4", render_pattern(n_frames=36, size=64, **kwargs), fps=12)
    config = replace(CONFIG, segment=SegmentConfig(mode="window", window=1.0, stride=1.0))
    index = Index.create(root / ".vidsearch", config)
    report = index.add([root])
    assert report.added == len(WINDOWED_CLIPS) and len(index) == 3 * len(WINDOWED_CLIPS)
    return {"root": root, "index": index}


@pytest.fixture(scope="module")
def windowed_server(windowed):
    from vidsearch.app.ui.blocks import launch

    demo = launch(windowed["index"].dir, port=free_port(), prevent_thread_lock=True)
    yield demo.local_url.rstrip("/")
    demo.close()
