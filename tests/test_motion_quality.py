"""Motion quality (issue 11): direction-aware moments, the flow descriptor, calibrated scores.

Real decoded footage throughout; the ranking test for the default configuration uses the real
default weights (slow). The published SemanticMoments stay equal to a float64 reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.bench.real_footage import change_appearance
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.video import decode_all, resize_frame
from vidsearch.indexers.descriptors.flow import FLOW_DIM, flow_descriptor
from vidsearch.indexers.descriptors.moments import direction_aware_moments, semantic_moments
from vidsearch.retrieval.calibration import Calibration, estimate, sample_items
from vidsearch.retrieval.types import FusionWeights

# The tiny random encoder with the direction-aware moments and the flow descriptor, whole files.
TINY_FLOW = ExtractorConfig(
    segment=SegmentConfig(mode="none"),
    backbone="tiny-random",
    num_frames=8,
    delta_alpha=(2, 4, 2),
    aux_descriptors=("flow",),
)


def _float64_blocks(x: np.ndarray, alpha) -> list[np.ndarray]:
    """methods.md's moments in float64: unbiased std, skew eps 1e-6, patch mean, L2, alpha."""
    t = x.shape[0]
    m1 = x.sum(axis=0) / t
    m2 = np.sqrt(((x - m1) ** 2).sum(axis=0) / (t - 1))
    m3 = ((x - m1) ** 3).sum(axis=0) / t / (m2**3 + 1e-6)
    return [a * m.mean(axis=0) / np.linalg.norm(m.mean(axis=0)) for m, a in zip((m1, m2, m3), alpha)]


def _tokens(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 64, 48)).astype(np.float32)
    return x + (np.linspace(0, 2, 32, dtype=np.float32) ** 2)[:, None, None] * rng.normal(size=(1, 64, 48)).astype(
        np.float32
    )


def test_direction_aware_moments_match_float64_reference_and_zero_delta_is_published():
    x = _tokens()
    alpha, delta = (1.0, 8.0, 4.0), (2.0, 4.0, 2.0)
    x64 = x.astype(np.float64)
    ref = np.concatenate(_float64_blocks(x64, alpha) + _float64_blocks(x64[1:] - x64[:-1], delta))
    ours = direction_aware_moments(torch.from_numpy(x), alpha, delta).numpy()
    np.testing.assert_allclose(ours, ref / np.linalg.norm(ref), atol=1e-5)
    published = np.concatenate(_float64_blocks(x64, alpha))
    np.testing.assert_allclose(
        direction_aware_moments(x, alpha, (0.0, 0.0, 0.0)).numpy(), published / np.linalg.norm(published), atol=1e-5
    )
    assert torch.equal(direction_aware_moments(x, alpha, (0, 0, 0)), semantic_moments(x, alpha))


def test_direction_aware_moments_tell_a_reversed_clip_apart_where_published_ones_cannot():
    x = _tokens(1)
    rev = x[::-1].copy()
    assert float(semantic_moments(x) @ semantic_moments(rev)) > 0.9999  # order-free by design

    def da(t):
        return direction_aware_moments(t, (1, 8, 4), (2, 4, 2))

    assert float(da(x) @ da(rev)) < 0.9

    def shifted(t):
        return direction_aware_moments(t, (0, 8, 4), (2, 4, 2))

    assert float(shifted(x) @ shifted(x + 3.0)) > 0.9999  # a constant offset leaves spread and differences alone


def test_config_validates_and_old_manifests_load_as_the_published_method():
    old = ExtractorConfig(segment=SegmentConfig(mode="none")).to_dict()
    del old["delta_alpha"], old["aux_descriptors"]
    cfg = ExtractorConfig.from_dict(old)
    assert cfg.delta_alpha == (0.0, 0.0, 0.0) and cfg.aux_descriptors == () and cfg.moment_blocks == 3
    cfg = ExtractorConfig(segment=SegmentConfig(mode="none"), delta_alpha=(1, 2, 3), aux_descriptors=("flow", "flow"))
    assert cfg.moment_blocks == 6 and cfg.aux_descriptors == ("flow",)
    assert ExtractorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="concat"):
        ExtractorConfig(delta_alpha=(1, 1, 1), aggregation="sum")
    with pytest.raises(ValueError, match="unknown aux descriptor"):
        ExtractorConfig(aux_descriptors=("sift",))
    with pytest.raises(ValueError, match="non-negative"):
        ExtractorConfig(delta_alpha=(-1, 0, 0))


@pytest.fixture(scope="module")
def bikes(real_clips) -> np.ndarray:
    """Two seconds of real footage (a pan across cyclists), at most 256 px wide."""
    frames = decode_all(real_clips / "bikes.mp4", max_side=256).frames
    return frames[:50]


def test_flow_descriptor_on_real_footage_keeps_appearance_and_tells_direction(bikes):
    rng = np.random.default_rng(0)

    def sample(f):
        return f[np.round(np.linspace(0, len(f) - 1, 16)).astype(int)]

    ref = flow_descriptor(sample(bikes))
    assert ref.shape == (FLOW_DIM,) and np.linalg.norm(ref) == pytest.approx(1.0, abs=1e-5)
    recoloured = flow_descriptor(sample(change_appearance(bikes, "recolour", rng)))
    reversed_ = flow_descriptor(sample(bikes[::-1]))
    still = flow_descriptor(np.repeat(bikes[:1], 16, axis=0))
    assert float(ref @ recoloured) > float(ref @ reversed_) + 0.2
    assert still[-1] > 0.8 and ref[-1] < 0.1  # no motion: mostly the stillness anchor
    with pytest.raises(ValueError, match="T>=2"):
        flow_descriptor(bikes[:1])


def test_features_carry_flow_aux_and_need_the_frames(bikes):
    from vidsearch.indexers.encoders import load_encoder
    from vidsearch.indexers.features import features_from_encoded

    tiny_encoder = load_encoder("tiny-random")
    cfg = TINY_FLOW
    frames = np.stack([resize_frame(f, tiny_encoder.image_size) for f in bikes[:8]])
    feats = features_from_encoded(tiny_encoder.encode(frames), cfg, None, frames)
    assert feats.aux["flow"].shape == (FLOW_DIM,) and feats.moments.shape == (6 * tiny_encoder.dim,)
    with pytest.raises(ValueError, match="need the sampled frames"):
        features_from_encoded(tiny_encoder.encode(frames), cfg)


def _pairs(seed: int, n: int = 60, d: int = 24):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d)).astype(np.float32) + 2.0
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    curves = np.sort(rng.random((n, 64)), axis=1).astype(np.float32)
    flows = np.abs(rng.normal(size=(n, 10))).astype(np.float32)
    flows /= np.linalg.norm(flows, axis=1, keepdims=True)
    return v, curves, flows


def test_calibrated_scores_are_monotone_percentiles_of_the_pair_distribution():
    v, curves, flows = _pairs(0)
    cal = estimate(v, curves, flows)
    assert len(cal.pair_scores["motion"]) == 60 * 59 // 2
    raw = np.linspace(-1, 1.01, 500)
    for by, w in (("motion", FusionWeights()), ("pacing", FusionWeights()), ("both", FusionWeights(0.5, 0.2, 0.3))):
        pct = cal.percentile(raw, by, w)
        assert np.all(np.diff(pct) >= 0) and pct[0] == 0.0 and pct[-1] == 100.0
    # It is the share of sampled pairs at or below the score: the median pair reads ~50.
    moments_only = FusionWeights(flow=0.0)
    median = float(np.median(cal.pair_scores["motion"]))
    assert cal.percentile(median, "motion", moments_only) == pytest.approx(50.0, abs=0.1)
    # Raw motion cosines crowd in a narrow band; the calibrated ones spread over 0..100.
    lo, hi = np.percentile(cal.pair_scores["motion"], [5, 95])
    spread = cal.percentile(hi, "motion", moments_only) - cal.percentile(lo, "motion", moments_only)
    assert hi - lo < 0.5 and spread == pytest.approx(90.0, abs=0.5)


def test_calibration_is_stable_across_save_and_reload(tmp_path):
    v, curves, flows = _pairs(1)
    cal = estimate(v, curves, flows, n_items=1000)
    cal.save(tmp_path)
    again = Calibration.load(tmp_path)
    assert again is not None and again.n_items == 1000
    raw = np.random.default_rng(2).uniform(-1, 1, 200)
    np.testing.assert_array_equal(
        again.percentile(raw, "both", FusionWeights(0.6, 0.1, 0.3)),
        cal.percentile(raw, "both", FusionWeights(0.6, 0.1, 0.3)),
    )
    assert not again.is_stale(1100) and again.is_stale(1300) and again.is_stale(700)
    np.testing.assert_array_equal(sample_items(5000, 400, seed=3), sample_items(5000, 400, seed=3))
    (tmp_path / "calibration.npz").write_bytes(b"not a zip")
    assert Calibration.load(tmp_path) is None  # unreadable: re-estimated, never fatal


def _copies(bikes: np.ndarray, folder) -> dict[str, str]:
    """A real clip, its recoloured copy (same motion) and its time-reversed copy (same look)."""
    from vidsearch.indexers.decode.video import write_video

    folder.mkdir(parents=True, exist_ok=True)
    clips = {
        "ref": bikes,
        "recoloured": change_appearance(bikes, "recolour", np.random.default_rng(0)),
        "reversed": bikes[::-1],
    }
    return {name: str(write_video(folder / f"{name}.mp4", frames, 25.0)) for name, frames in clips.items()}


def test_index_stores_flow_ranks_with_it_and_calibrated_scores_survive_reopening(bikes, real_clips, tmp_path):
    from vidsearch.retrieval.index import Index

    paths = _copies(bikes, tmp_path / "corpus")
    cfg = TINY_FLOW
    index = Index.open_or_create(tmp_path / "idx", cfg)
    report = index.add([tmp_path / "corpus", real_clips / "carphone_pristine.mp4", real_clips / "bigbuckbunny.mp4"])
    assert report.ok and len(index) == 5 and (tmp_path / "idx" / "calibration.npz").exists()
    weights = FusionWeights(flow=0.5)
    hits = index.search(paths["ref"], k=4, weights=weights)
    assert all(h.flow is not None and h.calibrated is not None for h in hits)
    assert [h.calibrated for h in hits] == sorted((h.calibrated for h in hits), reverse=True)  # monotone in the score
    for h in hits:  # motion = half moments cosine, half flow cosine
        assert h.motion == pytest.approx(0.5 * sum(h.moment_contributions) + 0.5 * h.flow, abs=1e-4)
    assert len(hits[0].moment_contributions) == 6
    moments_only = index.search(paths["ref"], k=4, weights=FusionWeights(flow=0.0))
    assert all(h.flow is None for h in moments_only)
    again = Index.open(tmp_path / "idx").search(paths["ref"], k=4, weights=weights)
    assert [(h.id, h.calibrated) for h in again] == [(h.id, h.calibrated) for h in hits]
    assert Index.open(tmp_path / "idx").calibration.n_items == 5


@pytest.mark.slow
def test_default_configuration_ranks_a_reversed_real_clip_below_a_recoloured_one(bikes, tmp_path):
    """The issue's check, with the default encoder and configuration: a time-reversed copy (same
    frames, opposite motion) must rank below a recoloured copy (other look, same motion)."""
    from vidsearch.retrieval.index import Index

    paths = _copies(bikes, tmp_path / "corpus")
    index = Index.open_or_create(tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none")))
    assert index.add([tmp_path / "corpus"]).ok
    hits = index.search(paths["ref"], k=2)
    assert [h.path for h in hits] == [paths["recoloured"], paths["reversed"]]
    assert hits[0].calibrated > hits[1].calibrated


def test_published_configuration_stores_exactly_the_float64_reference_moments(bikes):
    from dataclasses import replace

    from vidsearch.indexers.config import PUBLISHED
    from vidsearch.indexers.encoders import load_encoder
    from vidsearch.indexers.features import features_from_encoded

    encoder = load_encoder("tiny-random")
    frames = np.stack([resize_frame(f, encoder.image_size) for f in bikes[:: len(bikes) // 16][:16]])
    encoded = encoder.encode(frames)
    feats = features_from_encoded(encoded, replace(PUBLISHED, backbone="tiny-random", num_frames=16), None, frames)
    ref = np.concatenate(_float64_blocks(encoded.patch_tokens.numpy().astype(np.float64), PUBLISHED.alpha))
    np.testing.assert_allclose(feats.moments, ref / np.linalg.norm(ref), atol=1e-5)
    assert set(feats.aux) == {"activity"} and PUBLISHED.moment_blocks == 3  # no flow; activity is always kept
