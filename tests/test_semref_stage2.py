"""Stage-2 conditioning: a package's tokens in context with the latents of a tiny random
Flux-style diffusers transformer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.semref.package import load_package, write_package
from vidsearch.generation.semref.stage2 import (
    SemanticInContextTransformer,
    add_semantic_noise,
    package_sequence,
    sample_noise_std,
    semantic_position_ids,
)

LATENT_C, LAT_T, LAT_H, LAT_W = 4, 3, 4, 4
STEPS, SIDE, SEM_D = 5, 2, 8


@pytest.fixture(scope="module")
def transformer():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    return diffusers.FluxTransformer2DModel(
        patch_size=1,
        in_channels=LATENT_C,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=16,
        pooled_projection_dim=16,
        axes_dims_rope=(4, 6, 6),
    ).eval()


@pytest.fixture
def package(tmp_path):
    """A minimal package written by the package writer (the full pipeline is tested in test_semref)."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(STEPS, SIDE * SIDE, SEM_D)).astype(np.float32)
    tensors = {"r0.latent": latent, "r0.latent_mean": latent, "r0.times_s": np.arange(STEPS) / 1.6}
    manifest = {"schema": "vidsearch.semref/1", "grid": {"side": SIDE}, "references": [{"key_prefix": "r0"}]}
    write_package(tmp_path / "pkg", manifest, {"references": []}, tensors, {})
    return load_package(tmp_path / "pkg")


def _latent_inputs(batch: int = 2):
    g = torch.Generator().manual_seed(1)
    t, h, w = torch.meshgrid(torch.arange(LAT_T), torch.arange(LAT_H), torch.arange(LAT_W), indexing="ij")
    return {
        "hidden_states": torch.randn(batch, LAT_T * LAT_H * LAT_W, LATENT_C, generator=g),
        "img_ids": torch.stack([t, h, w], -1).reshape(-1, 3).float(),
        "encoder_hidden_states": torch.randn(batch, 3, 16, generator=g),
        "txt_ids": torch.zeros(3, 3),
        "pooled_projections": torch.randn(batch, 16, generator=g),
        "timestep": torch.tensor([0.5] * batch),
    }


def test_package_sequence_places_tokens_in_time_and_on_the_latent_grid(package):
    tokens, where = package_sequence(package, 0)
    assert tokens.shape == (STEPS * SIDE * SIDE, SEM_D)
    np.testing.assert_array_equal(tokens[SIDE * SIDE : 2 * SIDE * SIDE], package.tensor(0, "latent")[1])
    ids = semantic_position_ids(where, SIDE, latent_fps=6.0, latent_hw=(LAT_H, LAT_W))
    # Step 1 sits at 1/1.6 s = 3.75 latent frames at 6 latent frames/s; cell (1, 0) at the centre
    # of the lower-left quarter of a 4 x 4 latent.
    k = SIDE * SIDE + SIDE  # step 1, row 1, col 0
    assert ids[k].tolist() == pytest.approx([6.0 / 1.6, 2.5, 0.5])
    with pytest.raises(GenerationError, match="no reference 3"):
        package_sequence(package, 3)
    with pytest.raises(GenerationError, match="has no 'tokens' tensor"):
        package_sequence(package, 0, "tokens")


def test_in_context_conditioning_keeps_the_latent_shape_and_uses_the_semantics(transformer, package):
    tokens, where = package_sequence(package, 0)
    sem = torch.from_numpy(tokens)
    ids = semantic_position_ids(where, SIDE, 6.0, (LAT_H, LAT_W))
    model = SemanticInContextTransformer(transformer, SEM_D)
    inputs = _latent_inputs()
    with torch.no_grad():
        out = model(**inputs, semantics=sem, semantic_ids=ids)
        plain = transformer(**inputs, return_dict=False)[0]
        other = model(**inputs, semantics=sem.flip(0), semantic_ids=ids)
    assert out.shape == plain.shape == inputs["hidden_states"].shape
    assert not torch.allclose(out, plain, atol=1e-4)  # the semantic tokens take part in attention
    assert not torch.allclose(out, other, atol=1e-4)  # and their content matters
    # Gradients reach the projection, so it can be learned with the model.
    model(**_latent_inputs(), semantics=sem, semantic_ids=ids).pow(2).mean().backward()
    assert model.semantics.proj.weight.grad.abs().sum() > 0


def test_zero_projection_makes_the_output_independent_of_semantic_content(transformer, package):
    tokens, where = package_sequence(package, 0)
    sem = torch.from_numpy(tokens)
    ids = semantic_position_ids(where, SIDE, 6.0, (LAT_H, LAT_W))
    model = SemanticInContextTransformer(transformer, SEM_D, zero_init=True)
    with torch.no_grad():
        a = model(**_latent_inputs(), semantics=sem, semantic_ids=ids)
        b = model(**_latent_inputs(), semantics=sem * 3 + 1, semantic_ids=ids)
    torch.testing.assert_close(a, b)


def test_rae_style_noise_is_seeded_and_has_the_requested_scale(transformer, package):
    z = torch.zeros(4, 20000)
    noisy = add_semantic_noise(z, 0.3, torch.Generator().manual_seed(0))
    assert noisy.std().item() == pytest.approx(0.3, rel=0.02)
    per_sample = add_semantic_noise(z, torch.tensor([0.0, 0.1, 0.2, 0.4]), torch.Generator().manual_seed(0))
    assert per_sample.std(dim=1).tolist() == pytest.approx([0.0, 0.1, 0.2, 0.4], rel=0.03, abs=1e-6)
    assert add_semantic_noise(z, 0.0) is z
    std = sample_noise_std(10000, 0.5, torch.Generator().manual_seed(0))
    assert (std >= 0).all() and std.mean().item() == pytest.approx(0.5 * np.sqrt(2 / np.pi), rel=0.05)

    tokens, where = package_sequence(package, 0)
    sem, ids = torch.from_numpy(tokens), semantic_position_ids(where, SIDE, 6.0, (LAT_H, LAT_W))
    model = SemanticInContextTransformer(transformer, SEM_D)
    with torch.no_grad():
        clean = model(**_latent_inputs(), semantics=sem, semantic_ids=ids)
        n1 = model(
            **_latent_inputs(),
            semantics=sem,
            semantic_ids=ids,
            noise_std=0.5,
            generator=torch.Generator().manual_seed(3),
        )
        n2 = model(
            **_latent_inputs(),
            semantics=sem,
            semantic_ids=ids,
            noise_std=0.5,
            generator=torch.Generator().manual_seed(3),
        )
    torch.testing.assert_close(n1, n2)
    assert not torch.allclose(clean, n1, atol=1e-4)
