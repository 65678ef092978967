"""The encoder registry and the fast encoders (tiny-random, raw-pixels, efficientnet-lite0, hf: folders)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from vidsearch.errors import ConfigError
from vidsearch.indexers.encoders import (
    DEFAULT_ENCODER,
    EncoderError,
    WeightsNotFoundError,
    available_encoders,
    describe_encoders,
    load_encoder,
)
from vidsearch.indexers.encoders.cache import publish_dir


def _frames(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --- registry -------------------------------------------------------------------------------------


def test_registry_names_and_default():
    names = available_encoders()
    assert names == ["dinov2-s14", "efficientnet-lite0", "tiny-random", "raw-pixels"]
    assert DEFAULT_ENCODER in names
    assert set(describe_encoders()) == set(names) and all(describe_encoders().values())


def test_unknown_name_lists_registered_names_before_importing_torch():
    code = (
        "import sys\n"
        "from vidsearch.indexers.encoders import load_encoder\n"
        "try:\n"
        "    load_encoder('dinov3-huge')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    message, imported = out.strip().splitlines()
    assert "dinov3-huge" in message
    assert all(name in message for name in available_encoders()) and "hf:" in message
    assert imported == "False False"


def test_empty_hf_reference_is_rejected():
    with pytest.raises(ValueError, match="hf:"):
        load_encoder("hf:  ")


def test_num_threads_is_applied_and_validated():
    before = torch.get_num_threads()
    try:
        load_encoder("raw-pixels", num_threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="num_threads"):
        load_encoder("raw-pixels", num_threads=0)


def test_publish_dir_keeps_the_first_complete_folder(tmp_path):
    final = tmp_path / "model"
    first, second = tmp_path / ".tmp-a", tmp_path / ".tmp-b"
    for folder, tag in ((first, "a"), (second, "b")):
        folder.mkdir()
        (folder / "weights").write_text(tag)
    assert publish_dir(first, final) == final
    assert publish_dir(second, final) == final  # lost the race: theirs is kept, ours removed
    assert (final / "weights").read_text() == "a"
    assert not first.exists() and not second.exists()


# --- tiny-random ----------------------------------------------------------------------------------


def test_tiny_random_shapes_determinism_and_content_dependence():
    frames = _frames(5, 56)
    a, b = load_encoder("tiny-random"), load_encoder("tiny-random")
    assert a.weights_id == b.weights_id
    out_a, out_b = a.encode(frames, batch_size=2), b.encode(frames)
    assert out_a.patch_tokens.shape == (5, 16, 32) and out_a.global_embedding.shape == (5, 32)
    assert out_a.patch_tokens.dtype == torch.float32
    torch.testing.assert_close(out_a.patch_tokens, out_b.patch_tokens, rtol=0, atol=1e-6)  # batching-invariant too
    other = a.encode(_frames(5, 56, seed=1))
    assert (other.patch_tokens - out_a.patch_tokens).abs().max() > 1e-2
    assert (other.global_embedding - out_a.global_embedding).abs().max() > 1e-3


def test_tiny_random_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_encoder("tiny-random")
    assert torch.equal(torch.rand(3), expected)


# --- raw-pixels -----------------------------------------------------------------------------------


def test_raw_pixels_tokens_are_normalised_14px_blocks():
    encoder = load_encoder("raw-pixels")
    frames = _frames(2, 112)
    out = encoder.encode(frames)
    assert out.patch_tokens.shape == (2, 64, 588) and out.global_embedding.shape == (2, 588)
    norm = (frames / 255.0 - np.array(encoder.mean)) / np.array(encoder.std)
    # block (row 2, col 5) of frame 1 is token 2 * 8 + 5, flattened as (y, x, rgb)
    block = norm[1, 28:42, 70:84].reshape(-1)
    np.testing.assert_allclose(out.patch_tokens[1, 21].numpy(), block, atol=1e-5)
    torch.testing.assert_close(out.global_embedding, out.patch_tokens.mean(dim=1))
    assert load_encoder("raw-pixels").weights_id == encoder.weights_id


# --- efficientnet-lite0 ---------------------------------------------------------------------------


def test_efficientnet_lite0_on_real_frames(real_clips):
    from vidsearch.indexers.decode.video import sample_frames

    encoder = load_encoder("efficientnet-lite0")
    assert (encoder.image_size, encoder.dim) == (224, 1280)
    frames = sample_frames(real_clips / "bikes.mp4", num_frames=2, size=encoder.image_size)
    out = encoder.encode(frames)
    assert out.patch_tokens.shape == (2, 49, 1280) and out.global_embedding.shape == (2, 1280)
    assert torch.isfinite(out.patch_tokens).all()
    assert out.patch_tokens.min() >= 0 and out.patch_tokens.max() <= 6  # the head's ReLU6
    torch.testing.assert_close(out.global_embedding, out.patch_tokens.mean(dim=1))
    assert 0.7e9 < encoder.flops_per_image < 0.85e9  # EfficientNet-Lite0: ~0.39 GMACs


# --- hf: local folders ----------------------------------------------------------------------------

_VISION = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32, patch_size=8
)
_TEXT = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, vocab_size=99)


def _tiny_checkpoint(kind: str):
    """A randomly initialised model laid out as on the hub, plus its vision tower for reference."""
    import transformers as T

    torch.manual_seed(0)
    if kind == "dinov2":
        model = T.Dinov2Model(
            T.Dinov2Config(
                hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2, image_size=32, patch_size=8
            )
        )
        return model, model
    if kind == "clip":
        model = T.CLIPModel(T.CLIPConfig(text_config=_TEXT, vision_config=_VISION, projection_dim=16))
        return model, model.vision_model
    model = T.SiglipModel(T.SiglipConfig(text_config=_TEXT, vision_config=_VISION))
    return model, model.vision_model


@pytest.mark.parametrize(
    "kind, first_patch, mean",
    [("dinov2", 1, (0.1, 0.2, 0.3)), ("clip", 1, (0.1, 0.2, 0.3)), ("siglip", 0, (0.5, 0.5, 0.5))],
)
def test_hf_local_folder(tmp_path, kind, first_patch, mean):
    model, tower = _tiny_checkpoint(kind)
    model.save_pretrained(tmp_path)
    if kind != "siglip":  # siglip: no preprocessor config -> its family's defaults (0.5 / 0.5, config size)
        pp = {
            "crop_size": {"height": 32, "width": 32},
            "size": {"shortest_edge": 40},
            "image_mean": mean,
            "image_std": [0.25] * 3,
        }
        (tmp_path / "preprocessor_config.json").write_text(json.dumps(pp))
    encoder = load_encoder(f"hf:{tmp_path}")
    assert encoder.name == f"hf:{tmp_path}" and encoder.image_size == 32 and encoder.dim == 32
    assert encoder.mean == pytest.approx(mean)
    frames = _frames(3, 32)
    out = encoder.encode(frames)
    assert out.patch_tokens.shape == (3, 16, 32) and out.global_embedding.shape == (3, 32)
    with torch.inference_mode():
        ref = tower.eval()(pixel_values=encoder.preprocess(frames))
    torch.testing.assert_close(out.patch_tokens, ref.last_hidden_state[:, first_patch:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.global_embedding, ref.pooler_output, rtol=1e-5, atol=1e-5)


def test_hf_siglip2_naflex_folder(tmp_path):
    import transformers as T

    torch.manual_seed(0)
    vision = dict(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, num_patches=16, patch_size=8
    )
    T.Siglip2Model(T.Siglip2Config(text_config=_TEXT, vision_config=vision)).save_pretrained(tmp_path)
    encoder = load_encoder(f"hf:{tmp_path}")
    assert encoder.image_size == 32  # the square that fills num_patches
    out = encoder.encode(_frames(2, 32))
    assert out.patch_tokens.shape == (2, 16, 32) and out.global_embedding.shape == (2, 32)
    assert (out.patch_tokens[0] - out.patch_tokens[1]).abs().max() > 1e-3


def test_hf_hub_id_not_cached_says_how_to_fix(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="--allow-download") as info:
        load_encoder("hf:facebook/dinov2-small", cache_dir=tmp_path)
    assert "hf:facebook/dinov2-small" in str(info.value) and "local folder" in str(info.value)


def test_hf_missing_folder_and_unsupported_model(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="folder not found"):
        load_encoder(f"hf:{tmp_path / 'nope'}")
    import transformers as T

    T.BertModel(
        T.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
    ).save_pretrained(tmp_path / "bert")
    with pytest.raises(EncoderError, match="'bert' is not a supported vision backbone"):
        load_encoder(f"hf:{tmp_path / 'bert'}")


def test_hf_dinov2_reads_another_input_size(tmp_path):
    model, tower = _tiny_checkpoint("dinov2")
    model.save_pretrained(tmp_path)
    encoder = load_encoder(f"hf:{tmp_path}", input_px=48)
    assert encoder.image_size == 48
    frames = _frames(2, 48)
    out = encoder.encode(frames)
    assert out.patch_tokens.shape == (2, 36, 32)
    with torch.inference_mode():
        ref = tower.eval()(pixel_values=encoder.preprocess(frames))  # Dinov2Model interpolates itself
    torch.testing.assert_close(out.patch_tokens, ref.last_hidden_state[:, 1:], rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="multiple of its 8 px patches"):
        load_encoder(f"hf:{tmp_path}", input_px=44)
