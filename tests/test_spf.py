"""Semantic Progress Function: exactness of the banded solve and recovery of known pacing."""

from __future__ import annotations

import itertools
import time
import tracemalloc

import numpy as np
import pytest

from vidsearch.indexers.config import SpfConfig
from vidsearch.indexers.descriptors.spf import (
    SpfError,
    compute_spf,
    inverse_progress,
    linearity,
    resample_curve,
    segment_curve,
    solve_progress,
    spf_signature,
)

RNG = np.random.default_rng(1234)


def dense_reference(z: np.ndarray, k: int, sigma: float, lam: float) -> np.ndarray:
    """Textbook solve: explicit A (one row per pair), W, and dense normal equations."""
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    t = len(z)
    pairs = [(i, j) for i in range(t) for j in range(i + 1, min(t, i + k + 1))]
    a = np.zeros((len(pairs), t))
    b = np.zeros(len(pairs))
    w = np.zeros(len(pairs))
    for row, (i, j) in enumerate(pairs):
        a[row, i], a[row, j] = -1.0, 1.0
        b[row] = np.arccos(np.clip(z[i] @ z[j], -1.0, 1.0))
        w[row] = np.exp(-((j - i) ** 2) / (2 * sigma**2))
    lhs = a.T @ (w[:, None] * a) + lam * np.eye(t)
    return np.linalg.solve(lhs, a.T @ (w * b))


def great_circle(theta: np.ndarray, dim: int = 64, noise: float = 0.0) -> np.ndarray:
    """Unit-ish vectors rotating by angle theta(t) in a 2-D plane of a dim-D space, plus noise."""
    z = np.zeros((len(theta), dim))
    z[:, 0], z[:, 1] = np.cos(theta), np.sin(theta)
    return z + noise * RNG.standard_normal(z.shape)


def slow_then_fast(t_count: int) -> np.ndarray:
    """Normalised progress: 30 % of the change in the first 70 % of the time, then the rest."""
    t = np.linspace(0.0, 1.0, t_count)
    return np.where(t < 0.7, t * 0.3 / 0.7, 0.3 + (t - 0.7) / 0.3 * 0.7)


@pytest.mark.parametrize(
    ("t_count", "k", "sigma", "lam"), [(57, 30, 20.0, 1e-5), (20, 30, 20.0, 1e-5), (40, 5, 3.0, 1e-3)]
)
def test_banded_solve_equals_dense_reference(t_count, k, sigma, lam):
    z = RNG.standard_normal((t_count, 16))
    sparse = solve_progress(z, SpfConfig(k=k, sigma=sigma, lam=lam))
    dense = dense_reference(z, k, sigma, lam)
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-8 * max(1.0, np.abs(dense).max()))


@pytest.mark.parametrize(("t_count", "noise"), [(32, 0.0), (32, 0.01), (64, 0.01)])
def test_recovers_slow_then_fast_profile_with_reference_defaults(t_count, noise):
    truth = slow_then_fast(t_count)
    spf = compute_spf(great_circle(2.5 * truth, noise=noise), SpfConfig())
    assert np.abs(spf - truth).max() < 0.05
    assert spf[0] == 0.0 and spf[-1] == pytest.approx(1.0) and np.all(np.diff(spf) >= 0)
    # The knee at 70 % is the one breakpoint of the resampled curve.
    breaks = segment_curve(resample_curve(spf, 64), penalty=0.02)
    assert len(breaks) == 1 and abs(breaks[0] / 63 - 0.7) < 0.05
    assert linearity(spf)[0] > 0.3


def test_abrupt_semantic_jump_shows_as_a_step():
    theta = np.where(np.arange(50) < 35, np.linspace(0, 0.2, 50), np.linspace(0, 0.2, 50) + 1.5)
    spf = compute_spf(great_circle(theta, noise=0.005))
    steps = np.diff(spf)
    assert int(np.argmax(steps)) == 34 and steps[34] > 0.6


def test_steady_pace_is_near_diagonal_and_unsegmented():
    spf = compute_spf(great_circle(np.linspace(0, 2.0, 48), noise=0.01))
    max_dev, mean_dev = linearity(spf)
    assert max_dev < 0.03 and mean_dev < 0.015
    assert segment_curve(resample_curve(spf, 64), penalty=0.02) == []


def test_time_reversal_mirrors_the_curve():
    z = great_circle(2.5 * slow_then_fast(40), noise=0.01)
    np.testing.assert_allclose(compute_spf(z[::-1]), 1.0 - compute_spf(z)[::-1], atol=1e-9)


def test_static_clip_gets_the_linear_curve():
    spf = compute_spf(np.tile(RNG.standard_normal(8), (10, 1)))
    np.testing.assert_allclose(spf, np.linspace(0, 1, 10))


def test_long_clip_is_solved_without_a_dense_matrix():
    z = RNG.standard_normal((2000, 384)).astype(np.float32)
    tracemalloc.start()
    start = time.perf_counter()
    spf = compute_spf(z, SpfConfig(k=30, sigma=20.0))
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert spf.shape == (2000,) and np.isfinite(spf).all()
    assert elapsed < 2.0
    assert peak < 40e6  # the embeddings in float64 are 6 MB; a dense A would be ~960 MB


def _brute_force_cost(y: np.ndarray, cuts: tuple[int, ...]) -> float:
    bounds = [0, *cuts, len(y)]
    total = 0.0
    for s, e in itertools.pairwise(bounds):
        x = np.arange(s, e, dtype=float)
        if e - s > 1:
            coef = np.polyfit(x, y[s:e], 1)
            total += float(((np.polyval(coef, x) - y[s:e]) ** 2).sum())
    return total


def test_segmented_least_squares_matches_brute_force():
    y = np.cumsum(RNG.random(10) ** 3)
    y /= y[-1]
    all_cuts = [c for r in range(10) for c in itertools.combinations(range(1, 10), r)]
    penalty = 0.01
    best = min(all_cuts, key=lambda c: _brute_force_cost(y, c) + penalty * (len(c) + 1))
    assert segment_curve(y, penalty=penalty) == list(best)
    for count in (1, 2, 3, 5):
        best_k = min((c for c in all_cuts if len(c) == count - 1), key=lambda c: _brute_force_cost(y, c))
        assert segment_curve(y, n_segments=count) == list(best_k)


def test_inverse_progress_skips_flat_parts_and_is_monotone():
    curve = np.array([0.0, 0.0, 0.0, 0.5, 1.0])
    times = inverse_progress(curve, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(times, [0.0, 2.5, 3.0, 3.5, 4.0])
    dense = inverse_progress(compute_spf(great_circle(2.5 * slow_then_fast(32))), np.linspace(0, 1, 100))
    assert np.all(np.diff(dense) >= 0) and dense[0] == 0 and dense[-1] == pytest.approx(31)
    np.testing.assert_allclose(inverse_progress(np.linspace(0, 1, 7), np.linspace(0, 1, 7)), np.arange(7))


def test_signature_fields():
    sig = spf_signature(great_circle(2.5 * slow_then_fast(32), noise=0.01), SpfConfig(resample=64))
    assert sig.curve.dtype == np.float32 and sig.curve.shape == (64,)
    assert sig.raw.shape == (32,) and 0 < sig.mean_dev < sig.max_dev
    assert sig.breakpoints and all(type(b) is int and 0 < b < 64 for b in sig.breakpoints)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compute_spf(np.ones((1, 4))), "at least 2 frames"),
        (lambda: compute_spf(np.full((4, 4), np.nan)), "NaN"),
        (lambda: compute_spf(np.ones(4)), r"\(T, D\)"),
        (lambda: inverse_progress([0.0, 0.6, 0.4, 1.0], [0.5]), "non-decreasing"),
        (lambda: inverse_progress([0.0, 1.0], [1.5]), "must lie in"),
        (lambda: segment_curve([0.0, 1.0], n_segments=3), "n_segments"),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(SpfError, match=message):
        call()


def _published_spf(z: np.ndarray, k: int = 30, sigma: float = 20.0, lam: float = 1e-5) -> np.ndarray:
    """An independent port of the published solver: dense A, np.linalg.solve, np.gradient post-processing."""
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z)
    rows, dists, weights = [], [], []
    for i in range(n):
        for j in range(i + 1, min(n, i + k + 1)):
            row = np.zeros(n)
            row[i], row[j] = -1.0, 1.0
            rows.append(row)
            dists.append(np.arccos(np.clip(float(z[i] @ z[j]), -1 + 1e-7, 1 - 1e-7)))
            weights.append(np.exp(-((i - j) ** 2) / (2 * sigma**2)))
    a, b, w = np.array(rows), np.array(dists), np.array(weights)
    x = np.linalg.solve(a.T @ (a * w[:, None]) + lam * np.eye(n), (a * w[:, None]).T @ b)
    x = np.cumsum(np.clip(np.gradient(x), 0, None))
    x -= x.min()
    return x / x.max() if x.max() > 0 else x


@pytest.mark.parametrize("t", [8, 32, 90])
def test_reference_variant_matches_published_code(t):
    z = np.random.default_rng(t).normal(size=(t, 24)).cumsum(axis=0)
    ours = compute_spf(z, SpfConfig(variant="reference"))
    np.testing.assert_allclose(ours, _published_spf(z), atol=1e-8)


def test_static_clip_reference_floor_versus_default_linear():
    z = np.tile(np.random.default_rng(0).normal(size=(1, 16)), (12, 1))
    # the published 1e-7 cosine clip gives identical frames a 4.5e-4 rad distance: a ramp from nothing
    np.testing.assert_allclose(compute_spf(z, SpfConfig(variant="reference")), _published_spf(z), atol=1e-8)
    assert compute_spf(z, SpfConfig(variant="reference"))[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(compute_spf(z, SpfConfig()), np.linspace(0, 1, 12), atol=1e-12)
    with pytest.raises(ValueError, match="variant"):
        SpfConfig(variant="other")
