"""``dinov2-s14`` runs in plain torch (``encoders/vit.py``): the vectors transformers' ``Dinov2Model``
gives on the same converted folder, at fp32 and through the CPU bf16 copy, without importing transformers.

The transformers reference is ``load_hf_encoder`` on the converted folder, the path ``dinov2-s14``
took before; the frames are real decoded video.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch

from vidsearch.indexers.decode.video import sample_frames
from vidsearch.indexers.encoders import ConversionError, dinov2_onnx, load_encoder
from vidsearch.indexers.encoders.hf import load_hf_encoder
from vidsearch.indexers.encoders.vit import load_dinov2_folder


@pytest.fixture(scope="module")
def converted():
    return dinov2_onnx.ensure_converted()


@pytest.fixture(scope="module")
def pair(converted):
    """(native, transformers) encoders of the same converted weights, placed fp32 again afterwards."""
    folder, info = converted
    native = load_encoder("dinov2-s14", num_threads=2)
    reference = load_hf_encoder(str(folder), name="dinov2-s14", weights_id=dinov2_onnx.weights_id(info))
    yield native, reference
    native.place("cpu", "fp32")


def _max_rel_diff(got: torch.Tensor, expected: torch.Tensor) -> float:
    """Max absolute difference relative to the reference's largest magnitude."""
    return float((got - expected).abs().max() / expected.abs().max())


def test_the_encoder_is_described_as_before(pair):
    native, reference = pair
    assert type(native).__name__ != type(reference).__name__  # really the plain-torch path
    for attribute in ("name", "weights_id", "image_size", "mean", "std", "dim", "patch_size", "flops_per_image"):
        assert getattr(native, attribute) == getattr(reference, attribute), attribute
    assert native.cpu_bf16_copy and native.compute("cpu", "bf16") == reference.compute("cpu", "bf16")


@pytest.mark.parametrize("size", [224, 280])  # 16x16 and 20x20 patch grids, both resized from 37x37
def test_fp32_vectors_equal_transformers_on_real_frames(pair, real_clips, size):
    native, reference = pair
    native.place("cpu", "fp32")
    reference.place("cpu", "fp32")
    frames = sample_frames(real_clips / "bikes.mp4", num_frames=8, size=size)
    got, expected = native.encode(frames), reference.encode(frames)
    grid = (size // 14) ** 2
    assert got.patch_tokens.shape == expected.patch_tokens.shape == (8, grid, 384)
    assert got.global_embedding.shape == expected.global_embedding.shape == (8, 384)
    assert _max_rel_diff(got.patch_tokens, expected.patch_tokens) < 1e-5
    assert _max_rel_diff(got.global_embedding, expected.global_embedding) < 1e-5


def test_non_square_input_resizes_the_position_grid_as_transformers(pair, real_clips):
    native, reference = pair
    frames = sample_frames(real_clips / "bikes.mp4", num_frames=2, size=280)
    pixels = native.preprocess(frames)[:, :, 28:252, :]  # 224 x 280: a 16 x 20 patch grid
    with torch.inference_mode():
        got = native.model(pixels)
        expected = reference.model(pixel_values=pixels).last_hidden_state
    assert got.shape == expected.shape == (2, 1 + 16 * 20, 384)
    assert _max_rel_diff(got, expected) < 1e-5


def test_bf16_copy_matches_transformers_bf16_copy(pair, real_clips):
    native, reference = pair
    frames = sample_frames(real_clips / "bikes.mp4", num_frames=8, size=224)
    native.place("cpu", "fp32")
    exact = native.encode(frames)
    native.place("cpu", "bf16")
    reference.place("cpu", "bf16")
    try:
        copy = native.run_model()
        assert copy is not native.model and copy.blocks[0].attn.q.weight.dtype == torch.bfloat16
        assert copy.norm.weight.dtype == torch.float32
        got, expected = native.encode(frames), reference.encode(frames)
    finally:
        native.place("cpu", "fp32")
        reference.place("cpu", "fp32")
    assert _max_rel_diff(got.patch_tokens, expected.patch_tokens) < 2e-2
    assert _max_rel_diff(got.global_embedding, expected.global_embedding) < 2e-2
    cosine = torch.nn.functional.cosine_similarity(got.global_embedding, exact.global_embedding, dim=-1)
    assert float(cosine.min()) > 0.99  # bf16 is near fp32, not something else


def test_loading_and_encoding_does_not_import_transformers(converted, real_clips):
    code = (
        "import sys\n"
        "from vidsearch.indexers.decode.video import sample_frames\n"
        "from vidsearch.indexers.encoders import load_encoder\n"
        "encoder = load_encoder('dinov2-s14', num_threads=1)\n"
        f"out = encoder.encode(sample_frames({str(real_clips / 'bikes.mp4')!r}, num_frames=1, size=224))\n"
        "print(tuple(out.patch_tokens.shape), 'transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1,", "256,", "384)", "False"]


def test_a_damaged_folder_is_refused_naming_it(converted, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(converted[0], folder)
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ConversionError, match="damaged converted DINOv2 folder.*delete it") as info:
        load_dinov2_folder(folder)
    assert str(folder) in str(info.value)


def test_an_unsupported_dinov2_variant_is_refused(converted, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(converted[0], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_register_tokens": 4}))
    with pytest.raises(ConversionError, match="not a plain DINOv2.*num_register_tokens"):
        load_dinov2_folder(folder)
