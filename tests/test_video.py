"""Decoding: uniform sampling with seeks equals full decoding; bad files give clear errors."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest
from conftest import write_fixed_gop

from vidsearch.indexers.decode import video as V
from vidsearch.indexers.decode.sampling import uniform_indices
from vidsearch.indexers.decode.video import VideoError, probe, sample_frames, write_video


def _numbered_frames(n: int, size: int = 80) -> np.ndarray:
    """Frame i shows the number i in binary as black/white bars: robust to compression."""
    frames = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        for bit in range(12):
            if (i >> bit) & 1:
                frames[i, :, bit * 6 : bit * 6 + 6] = 255
    return frames


def _frame_number(rgb: np.ndarray) -> int:
    return sum(1 << bit for bit in range(12) if rgb[:, bit * 6 + 2 : bit * 6 + 4].mean() > 127)


def test_uniform_indices_match_reference_rule():
    np.testing.assert_array_equal(uniform_indices(250, 32), np.round(np.linspace(0, 249, 32)).astype(int))
    short = uniform_indices(5, 8)  # shorter than T: frames repeat
    assert short.tolist() == [0, 1, 1, 2, 2, 3, 3, 4]


def test_seeking_sampler_returns_exact_frames_of_long_clip(tmp_path, monkeypatch):
    path = write_fixed_gop(tmp_path / "long.mp4", _numbered_frames(1200), 25, gop=30)
    cursors = []
    real_init = V._FrameCursor.__init__
    monkeypatch.setattr(V._FrameCursor, "__init__", lambda self, *a: (cursors.append(self), real_init(self, *a))[1])
    frames = sample_frames(path, 16, size=80)
    assert [_frame_number(f) for f in frames] == uniform_indices(1200, 16).tolist()
    assert cursors[0].decoded < 1200 / 2, "long clips must be sampled by seeking, not decoded throughout"


def test_sampler_exact_when_gop_is_long(tmp_path):
    path = write_fixed_gop(tmp_path / "gop.mp4", _numbered_frames(700), 25, gop=250)
    frames = sample_frames(path, 16, size=80)
    assert [_frame_number(f) for f in frames] == uniform_indices(700, 16).tolist()


def test_sampler_matches_full_decode_on_real_clips(real_clips):
    for name in ("bikes.mp4", "carphone_pristine.mp4"):
        path = real_clips / name
        with av.open(str(path)) as c:
            every = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        sample = V._sample_pyav(path, 32)
        assert sample.info.frame_count == len(every)
        np.testing.assert_array_equal(sample.indices, uniform_indices(len(every), 32))
        for got, idx in zip(sample.frames, uniform_indices(len(every), 32)):
            np.testing.assert_array_equal(got, every[idx])


def test_short_clip_sampled_with_repetition(tmp_path):
    path = write_video(tmp_path / "short.mp4", _numbered_frames(5), 10)
    frames = sample_frames(path, 8, size=80)
    assert [_frame_number(f) for f in frames] == [0, 1, 1, 2, 2, 3, 3, 4]


def test_resize_modes(real_clips):
    stretch = sample_frames(real_clips / "bikes.mp4", 2, size=56, resize="stretch")
    crop = sample_frames(real_clips / "bikes.mp4", 2, size=56, resize="center-crop")
    assert stretch.shape == crop.shape == (2, 56, 56, 3)
    assert not np.array_equal(stretch, crop)


def test_probe_real_clip(real_clips):
    info = probe(real_clips / "bigbuckbunny.mp4")
    assert (info.width, info.height, info.frame_count) == (1280, 720, 132)
    assert info.fps == pytest.approx(25.0) and info.duration == pytest.approx(5.28, abs=0.05)


def test_decord_backend_agrees_with_pyav(real_clips):
    pytest.importorskip("decord")
    a = sample_frames(real_clips / "carphone_pristine.mp4", 8, size=64, decoder="pyav")
    b = sample_frames(real_clips / "carphone_pristine.mp4", 8, size=64, decoder="decord")
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 3.0


def _audio_only(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "file not found"),
        ("empty", "empty file"),
        ("text", "not a readable video"),
        ("truncated", ""),
        ("audio", "no video stream"),
        ("directory", "is a directory"),
    ],
)
def test_bad_inputs_raise_video_error_naming_file(tmp_path, real_clips, kind, reason):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "truncated":
        data = (real_clips / "bikes.mp4").read_bytes()
        path.write_bytes(data[: len(data) // 50])
    elif kind == "audio":
        path = tmp_path / "audio.m4a"
        _audio_only(path)
    elif kind == "directory":
        path.mkdir()
    with pytest.raises(VideoError) as err:
        sample_frames(path, 8, size=32)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_gigantic_resolution_refused_before_decoding(tmp_path, monkeypatch, real_clips):
    path = tmp_path / "big.mp4"
    shutil.copyfile(real_clips / "bigbuckbunny.mp4", path)
    monkeypatch.setattr(V, "MAX_PIXELS", 640 * 480)
    with pytest.raises(VideoError, match="1280x720 exceeds"):
        sample_frames(path, 4)


def test_write_video_is_atomic_and_crops_odd_sizes(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, size=(6, 33, 47, 3), dtype=np.uint8)
    out = write_video(tmp_path / "o.mp4", frames, 12)
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (46, 32, 6)
    assert [p.name for p in tmp_path.iterdir()] == ["o.mp4"]
    with pytest.raises(ValueError):
        write_video(tmp_path / "bad.mp4", np.zeros((0, 8, 8, 3), np.uint8), 12)
    assert not (tmp_path / "bad.mp4").exists()
