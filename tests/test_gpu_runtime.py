"""The settings that make a GPU run decode-bound rather than starved by its own CPU work (measured on
an H200 machine, docs/performance.md, "Indexing on a GPU"), checked where they can be on a CPU: decoder threads per pool
process, the encoder process's torch threads, tokens kept on the device, and the GPU benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode import video
from vidsearch.indexers.encoders import available_cpus, load_encoder
from vidsearch.indexers.features import features_from_encoded
from vidsearch.indexers.runtime import RuntimeConfig


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny-random", num_threads=1)


def test_decoder_thread_count_does_not_change_the_frames(real_clips, monkeypatch):
    """A decode pool gives each process its share of the cores; frame threading must stay bit-exact."""
    clip = real_clips / "bikes.mp4"
    decoded, sampled = {}, {}
    for threads in (0, 1, 3):
        monkeypatch.setattr(video, "DECODE_THREADS", threads)
        decoded[threads] = video.decode_all(clip).frames  # straight through
        sampled[threads] = video.sample_frames(clip, 32, 224)  # the seeking sampler
    assert len(decoded[0]) > 10 and len(sampled[0]) == 32
    for threads in (1, 3):
        assert np.array_equal(decoded[threads], decoded[0])
        assert np.array_equal(sampled[threads], sampled[0])


def test_encoder_threads_on_a_gpu_leave_the_cores_to_the_decoders():
    cpus = available_cpus()
    assert RuntimeConfig().threads("cpu") is None  # the CPU encoder keeps torch's own setting
    assert RuntimeConfig().threads("cuda", decode_workers=1) == max(1, cpus - 1)
    assert RuntimeConfig().threads("cuda", decode_workers=cpus + 4) == 1
    assert RuntimeConfig(encoder_threads=3).threads("cuda", decode_workers=1) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_features_computed_on_the_gpu_match_the_cpu(real_clips, tiny):
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random").with_weights(tiny.weights_id)
    frames = video.sample_frames(real_clips / "bikes.mp4", config.num_frames, tiny.image_size)
    host = features_from_encoded(tiny.place("cpu").encode(frames), config, frames=frames)
    device = features_from_encoded(tiny.place("cuda").encode(frames, on_device=True), config, frames=frames)
    tiny.place("cpu")
    assert float(host.moments @ device.moments) > 0.99999
    np.testing.assert_allclose(host.aux["activity"], device.aux["activity"], rtol=1e-4)


def test_gpu_benchmark_runs_and_reports_every_section(tmp_path, real_clips, capsys):
    """The benchmark the GPU figures of docs/performance.md come from, on the CPU with the tiny encoder."""
    from benchmarks import ingest_gpu

    out = tmp_path / "gpu.json"
    ingest_gpu.main(
        [
            "--device",
            "cpu",
            "--backbone",
            "tiny-random",
            "--clips",
            "2",
            "--hd-clips",
            "1",
            "--seconds",
            "6",
            "--reference-clips",
            "1",
            "--real-clips",
            str(real_clips),
            "--cache",
            str(tmp_path / "corpus"),
            "--out",
            str(out),
        ]
    )
    figures = json.loads(out.read_text())
    assert set(figures["groups"]) == {"real", "360p", "1080p"}
    assert figures["groups"]["360p"]["files"] == 2 and figures["groups"]["1080p"]["files"] == 1
    assert all(row["decode_only_files_per_s"] > 0 for row in figures["workers"].values())
    # 6 s clips in 5 s windows: two segments per file, so twice the encoded frames of one segment per file
    assert figures["windows"]["frames"] == 2 * figures["groups"]["360p"]["frames"]
    assert figures["precision_cosine"]["fp32"][0] > 0.99999  # (min, mean)
    assert "GPU util" in capsys.readouterr().out
