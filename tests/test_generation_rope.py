"""Model-side ReTime on a tiny randomly initialised diffusers Wan transformer (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.generation.errors import PaceError
from vidsearch.generation.rope import RetimeRopeConfig, band_alphas, timestep_strength, wan_retime, warped_positions

SLOW_THEN_FAST = np.concatenate([np.linspace(0.0, 0.2, 40), np.linspace(0.2, 1.0, 25)[1:]])


@pytest.fixture(scope="module")
def tiny_wan():
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=36,
        in_channels=4,
        out_channels=4,
        text_dim=16,
        freq_dim=16,
        ffn_dim=32,
        num_layers=1,
        rope_max_seq_len=64,
    ).eval()
    inputs = {"hidden_states": torch.randn(1, 4, 9, 8, 8), "encoder_hidden_states": torch.randn(1, 5, 16)}
    return model, inputs


def test_zero_alpha_is_the_identity():
    pos = warped_positions(SLOW_THEN_FAST, 9, band_alphas(6, RetimeRopeConfig(alpha_min=0.0, alpha_max=0.0)))
    np.testing.assert_array_equal(pos, np.tile(np.arange(9.0), (6, 1)))
    np.testing.assert_array_equal(warped_positions(SLOW_THEN_FAST, 9, band_alphas(6), strength=0.0), pos)


def test_positions_are_monotone_and_low_frequency_bands_warp_more():
    alphas = band_alphas(22)
    assert alphas[0] == pytest.approx(0.2) and np.all(np.diff(alphas) > 0) and alphas[-1] > 0.9
    pos = warped_positions(SLOW_THEN_FAST, 21, alphas)
    assert np.all(np.diff(pos, axis=1) >= 0) and np.all(pos[:, 0] == 0) and np.allclose(pos[:, -1], 20)
    shift = np.abs(pos - np.arange(21.0)).max(axis=1)
    assert np.all(np.diff(shift) > 0)  # band 0 is the highest frequency: the least warped
    # The slow first 62 % of the reference is crossed quickly: positions run ahead of t early on.
    assert pos[-1, 5] > 5 + 2


def test_warp_strength_follows_the_denoising_timestep():
    assert timestep_strength(1.0) == pytest.approx(1.0) and timestep_strength(0.0) == 0.0
    values = [timestep_strength(t) for t in np.linspace(0, 1, 11)]
    assert np.all(np.diff(values) > 0) and values[5] < 0.5  # exponential: strong only early
    assert timestep_strength(0.3, "constant") == 1.0 and timestep_strength(0.3, "linear") == pytest.approx(0.3)


def test_adapter_is_exact_at_zero_alpha_and_changes_the_forward_pass(tiny_wan):
    model, inputs = tiny_wan
    timestep = torch.tensor([900])
    with torch.no_grad():
        plain = model(timestep=timestep, **inputs).sample
        base_cos, base_sin = model.rope(inputs["hidden_states"])
        with wan_retime(model, SLOW_THEN_FAST, RetimeRopeConfig(alpha_min=0.0, alpha_max=0.0)) as rope:
            cos, sin = rope(inputs["hidden_states"])
            same = model(timestep=timestep, **inputs).sample
        with wan_retime(model, SLOW_THEN_FAST) as rope:
            warped = model(timestep=timestep, **inputs).sample
            assert rope.strength == pytest.approx(timestep_strength(0.9))
            wcos, _ = rope(inputs["hidden_states"])
    assert torch.equal(cos, base_cos) and torch.equal(sin, base_sin)  # bit for bit
    assert torch.equal(same, plain)
    assert torch.isfinite(warped).all() and not torch.allclose(warped, plain, atol=1e-5)
    # Only the temporal channels changed; the spatial ones are the model's own.
    t_dim = model.rope.t_dim
    assert not torch.allclose(wcos[..., :t_dim], base_cos[..., :t_dim])
    torch.testing.assert_close(wcos[..., t_dim:], base_cos[..., t_dim:])
    assert type(model.rope).__name__ == "WanRotaryPosEmbed"  # restored on exit


def test_non_monotone_spf_and_wrong_theta_are_refused(tiny_wan):
    with pytest.raises(PaceError, match="not monotone"):
        warped_positions([0.0, 0.7, 0.4, 1.0], 8, band_alphas(4))
    with pytest.raises(ValueError, match="theta=500"), wan_retime(tiny_wan[0], SLOW_THEN_FAST, theta=500.0):
        pass
