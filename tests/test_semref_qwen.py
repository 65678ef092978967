"""The Qwen2.5-VL vision tower as an ``hf:`` encoder, checked against transformers' own image
processor + tower on a tiny randomly initialised Qwen2.5-VL checkpoint saved to a local folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.generation.semref.tokens import semantic_tokens
from vidsearch.indexers.encoders import load_encoder


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "vocab_size": 128,
            "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]},
            "bos_token_id": 0,
            "eos_token_id": 1,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_heads": 2,
            "out_hidden_size": 24,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
        },
    )
    torch.manual_seed(0)
    model = transformers.Qwen2_5_VLForConditionalGeneration(config).eval()
    folder = tmp_path_factory.mktemp("qwen") / "tiny-qwen2.5-vl"
    model.save_pretrained(folder)
    return folder, model


def test_tower_tokens_match_the_official_processor_and_tower(qwen_folder):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    folder, full = qwen_folder
    encoder = load_encoder(f"hf:{folder}")
    assert encoder.image_size == 448 and encoder.dim == 24
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 448, 448, 3), dtype=np.uint8)
    out = encoder.encode(frames)
    assert out.patch_tokens.shape == (2, 16 * 16, 24) and out.global_embedding.shape == (2, 24)

    processor = Qwen2VLImageProcessorPil(min_pixels=448 * 448, max_pixels=448 * 448)
    inputs = processor(images=list(frames), return_tensors="pt")
    with torch.no_grad():
        reference = full.model.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"]).pooler_output
    torch.testing.assert_close(out.patch_tokens.reshape(-1, 24), reference, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.global_embedding, reference.reshape(2, -1, 24).mean(1), atol=1e-4, rtol=1e-4)

    pooled, grid = semantic_tokens(frames, encoder, 8)
    assert pooled.shape == (2, 64, 24) and grid.native == 16
