"""SemanticMoments against an independent float64 NumPy implementation of the published formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.indexers.descriptors.moments import moment_stack, semantic_moments
from vidsearch.retrieval.scoring import moment_contributions


def reference_moments(tokens: np.ndarray, alpha, aggregation: str) -> np.ndarray:
    """methods.md, written out in float64: unbiased std, skew with eps 1e-6, patch mean, L2, alpha."""
    x = tokens.astype(np.float64)
    t = x.shape[0]
    m1 = x.sum(axis=0) / t
    m2 = np.sqrt(((x - m1) ** 2).sum(axis=0) / (t - 1))
    m3 = ((x - m1) ** 3).sum(axis=0) / t / (m2**3 + 1e-6)
    blocks = []
    for m, a in zip((m1, m2, m3), alpha):
        v = m.mean(axis=0)
        blocks.append(a * v / np.linalg.norm(v))
    v = np.concatenate(blocks) if aggregation == "concat" else np.sum(blocks, axis=0)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("aggregation", ["concat", "sum"])
@pytest.mark.parametrize("alpha", [(1, 8, 4), (1, 0, 0), (1, 1, 1), (1, 8, 0)])
def test_matches_float64_reference(aggregation, alpha):
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(32, 256, 384)).astype(np.float32) * rng.uniform(0.5, 3, size=384).astype(np.float32)
    tokens += np.linspace(0, 2, 32, dtype=np.float32)[:, None, None] ** 2  # a skewed trend
    ours = semantic_moments(torch.from_numpy(tokens), alpha, aggregation).numpy()
    ref = reference_moments(tokens, alpha, aggregation)
    assert ours.shape == ref.shape == ((3 * 384,) if aggregation == "concat" else (384,))
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_numpy_input_and_unit_norm():
    tokens = np.random.default_rng(1).normal(size=(8, 16, 32)).astype(np.float32)
    v = semantic_moments(tokens)
    assert v.shape == (96,)
    assert abs(float(v.norm()) - 1) < 1e-6


def test_order_free_time_reversal_gives_same_vector():
    tokens = torch.randn(32, 16, 24)
    a = semantic_moments(tokens)
    b = semantic_moments(tokens.flip(0))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    shuffled = semantic_moments(tokens[torch.randperm(32)])
    torch.testing.assert_close(a, shuffled, atol=1e-5, rtol=0)


def test_static_clip_has_zero_std_and_skew_and_is_distinguished_from_moving():
    frame = torch.randn(1, 16, 24)
    static = frame.repeat(32, 1, 1)
    m = moment_stack(static)
    assert torch.allclose(m[1], torch.zeros(24)) and torch.allclose(m[2], torch.zeros(24))
    moving = static + torch.linspace(0, 1, 32).view(32, 1, 1) * torch.randn(1, 16, 24)
    assert float(semantic_moments(static) @ semantic_moments(moving)) < 0.99


def test_frame_pooling_differs_from_patch_pooling():
    tokens = torch.randn(16, 8, 12)
    assert not torch.allclose(moment_stack(tokens, "patch"), moment_stack(tokens, "frame"))


def test_contributions_sum_to_cosine():
    rng = np.random.default_rng(2)
    q = semantic_moments(rng.normal(size=(16, 8, 12)).astype(np.float32)).numpy()
    others = np.stack([semantic_moments(rng.normal(size=(16, 8, 12)).astype(np.float32)).numpy() for _ in range(5)])
    parts = moment_contributions(q, others, 12)
    np.testing.assert_allclose(parts.sum(axis=1), others @ q, atol=1e-6)


def test_rejects_single_frame():
    with pytest.raises(ValueError, match="T>=2"):
        semantic_moments(torch.randn(1, 4, 4))


def test_temporal_std_is_torch_std():
    """The moments' fast spread equals torch.std over time (within float32 rounding), on tokens
    whose mean is far from zero as well as centred ones."""
    from vidsearch.indexers.descriptors.moments import centred_in_time, temporal_std

    gen = torch.Generator().manual_seed(0)
    for offset in (0.0, 50.0):
        x = torch.randn(32, 16, 24, generator=gen) * torch.rand(1, 16, 24, generator=gen) + offset
        torch.testing.assert_close(temporal_std(centred_in_time(x)), x.std(dim=0, unbiased=True), rtol=1e-4, atol=1e-6)
