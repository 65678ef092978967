"""SemanticGen references: sampling at the semantic rate, the token compressor, semantic-space
retiming and the conditioning package, on the real clips with the seeded tiny encoder."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.pacing import pace_deviation
from vidsearch.generation.semref.builder import SemrefOptions, build_package
from vidsearch.generation.semref.compressor import CompressorConfig, load_compressor
from vidsearch.generation.semref.package import PACKAGE_SCHEMA, load_package
from vidsearch.generation.semref.retime import retime_sequence
from vidsearch.generation.semref.sampling import ReferenceSpan, sample_reference, semantic_frame_count
from vidsearch.generation.semref.tokens import pool_tokens, semantic_tokens, sequence_embeddings
from vidsearch.generation.semref.training import index_spans, split_segments, train_from_index
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.video import probe, sample_clip
from vidsearch.indexers.descriptors.spf import compute_spf
from vidsearch.indexers.encoders import load_encoder

FPS = 4.0  # denser than SemanticGen's 1.6 so the short real clips give enough tokens to learn from
GRID = 4


@pytest.fixture(scope="module")
def encoder():
    return load_encoder("tiny-random")


@pytest.fixture(scope="module")
def index(real_clips, tmp_path_factory):
    from vidsearch.retrieval.index import Index

    idx = Index.create(
        tmp_path_factory.mktemp("semref") / "idx",
        ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8),
    )
    assert idx.add([str(real_clips)]).ok
    return idx


@pytest.fixture(scope="module")
def trained(index, tmp_path_factory):
    config = CompressorConfig(latent_dim=8, hidden_dim=32, epochs=20, batch_size=512, lr=3e-3, holdout=0.25)
    result = train_from_index(index, config, grid=GRID, fps=FPS, device="cpu")
    result.compressor.save(tmp_path_factory.mktemp("semref-comp") / "compressor")
    return result


def test_frame_count_follows_the_rate_and_times_are_the_decoded_frames(real_clips, encoder):
    clip = real_clips / "bikes.mp4"
    info = probe(clip)
    span = ReferenceSpan(str(clip), 2.0, 6.0)
    ref = sample_reference(span, 1.6, encoder.image_size)
    assert len(ref.frames) == semantic_frame_count(4.0, 1.6) == round(4.0 * 1.6)
    assert ref.times_s[0] == pytest.approx(2.0) and ref.times_s[-1] < 6.0
    assert abs(ref.effective_fps - 1.6) <= 1.6 / len(ref.frames)
    # Each recorded time is the frame actually decoded there (a one-frame sample at that time).
    for k in (0, len(ref.frames) // 2):
        t = ref.times_s[k]
        single = sample_clip(clip, 1, encoder.image_size, start_s=t, end_s=t + 0.5 / info.fps).frames
        np.testing.assert_array_equal(single[0], ref.frames[k])
    with pytest.raises(GenerationError, match="--fps must be > 0"):
        semantic_frame_count(4.0, 0)


def test_pooling_averages_grid_blocks_and_never_upsamples():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 16, 5)).astype(np.float32)
    pooled, grid = pool_tokens(x, 2)
    maps = x.reshape(3, 4, 4, 5)
    expected = maps.reshape(3, 2, 2, 2, 2, 5).mean(axis=(2, 4)).reshape(3, 4, 5)
    np.testing.assert_allclose(pooled, expected, rtol=1e-6, atol=1e-6)
    same, grid = pool_tokens(x, 8)
    assert grid.side == 4 and grid.native == 4
    np.testing.assert_array_equal(same, x)
    with pytest.raises(GenerationError, match="not a square grid"):
        pool_tokens(rng.normal(size=(2, 12, 5)), 2)


def test_compressor_reconstructs_heldout_segments_better_than_the_mean(trained, index, encoder):
    metrics = trained.metrics
    assert trained.heldout_segments and set(trained.heldout_segments).isdisjoint(trained.train_segments)
    assert metrics["heldout"]["recon_mse"] < metrics["heldout"]["mean_baseline_mse"]
    # Independent of the metric code: raw token space, baseline = the training tokens' mean.
    spans = {s.segment_id: s for s in index_spans(index)}

    def tokens_of(seg_id):
        ref = sample_reference(spans[seg_id], FPS, encoder.image_size)
        return semantic_tokens(ref.frames, encoder, GRID)[0].reshape(-1, encoder.dim)

    train_mean = np.concatenate([tokens_of(i) for i in trained.train_segments]).mean(0)
    held = np.concatenate([tokens_of(i) for i in trained.heldout_segments])
    recon = load_compressor(trained.compressor.path).reconstruct(held)
    assert np.mean((recon - held) ** 2) < np.mean((train_mean - held) ** 2)
    motion = metrics["motion"]
    assert motion["segments"] == len(index) and 0 <= motion["motion_recall_at_1"] <= 1
    assert -1 <= motion["motion_cosine_min"] <= motion["motion_cosine_mean"] <= 1
    assert metrics["heldout"]["kl"] > 0


def test_split_is_seeded_and_keeps_segments_apart():
    train, held = split_segments(10, 0.2, seed=3)
    assert len(held) == 2 and len(train) == 8 and set(train).isdisjoint(held)
    assert np.array_equal(split_segments(10, 0.2, seed=3)[1], held)
    assert len(split_segments(1, 0.5, 0)[1]) == 0  # a single segment is never held out


def test_package_round_trip_shapes_rates_and_keyframes(trained, real_clips, encoder, tmp_path):
    clip = real_clips / "bigbuckbunny.mp4"
    options = SemrefOptions(fps=1.6, grid=GRID, include_tokens=True, seed=7)
    manifest = build_package([ReferenceSpan(str(clip))], tmp_path / "pkg", encoder, trained.compressor, options)
    pkg = load_package(tmp_path / "pkg")
    assert pkg.manifest == manifest and manifest["schema"] == PACKAGE_SCHEMA
    n = round(probe(clip).duration * 1.6)
    ref = pkg.references[0]
    assert ref["semantic_frames"] == ref["steps"] == n
    assert manifest["sampling"]["fps"] == 1.6 and manifest["grid"]["tokens_per_frame"] == GRID * GRID
    assert manifest["encoder"]["name"] == "tiny-random" and manifest["compressor"]["latent_dim"] == 8
    assert pkg.tensor(0, "latent").shape == (n, GRID * GRID, 8)
    assert pkg.tensor(0, "latent_logvar").shape == (n, GRID * GRID, 8)
    assert pkg.tensor(0, "tokens").shape == (n, GRID * GRID, encoder.dim)
    times = pkg.tensor(0, "times_s")
    assert np.all(np.diff(times) > 0) and abs(np.diff(times).mean() - 1 / ref["effective_fps"]) < 0.1
    # The stored latents are what the compressor gives for the stored tokens; the sample is seeded.
    again = trained.compressor.encode(pkg.tensor(0, "tokens"), seed=7)
    np.testing.assert_allclose(pkg.tensor(0, "latent_mean"), again["latent_mean"], atol=1e-5)
    np.testing.assert_allclose(pkg.tensor(0, "latent"), again["latent"], atol=1e-5)
    # Keyframes are the frames the encoder saw, losslessly.
    frames = sample_clip(clip, n, encoder.image_size).frames
    for k, kf in enumerate(ref["keyframes"]):
        rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "pkg" / kf["file"])), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(rgb, frames[k])
    pacing = json.loads((tmp_path / "pkg" / "pacing.json").read_text())
    assert len(pacing["references"][0]["source_spf"]) == n and pacing["target"] is None
    # Rewriting the folder with a shorter reference leaves no stale keyframes behind.
    short = build_package([ReferenceSpan(str(clip), 0.0, 2.0)], tmp_path / "pkg", encoder, trained.compressor, options)
    kept = sorted(p.name for p in (tmp_path / "pkg" / "keyframes").iterdir())
    assert kept == sorted(kf["file"].split("/")[1] for kf in short["references"][0]["keyframes"]) and len(kept) < n


def test_package_refuses_a_compressor_of_another_encoder(trained, real_clips, tmp_path):
    other = load_encoder("raw-pixels")
    with pytest.raises(GenerationError, match="trained on tokens of tiny-random"):
        build_package(
            [ReferenceSpan(str(real_clips / "bikes.mp4"))], tmp_path / "p", other, trained.compressor, SemrefOptions()
        )
    assert not (tmp_path / "p").exists()  # refused before any work


def test_retimed_semantic_sequence_follows_the_target_pacing(real_clips, encoder):
    ref = sample_reference(ReferenceSpan(str(real_clips / "bikes.mp4")), FPS, encoder.image_size)
    tokens, _ = semantic_tokens(ref.frames, encoder, GRID)
    u = np.linspace(0, 1, 64)
    late_rush = np.where(u < 0.6, u / 6, 0.1 + (u - 0.6) / 0.4 * 0.9)
    for target, gain in ((u, 1.0), (late_rush, 0.5)):  # the clip is near-steady already: a knee must move it
        warped = retime_sequence(tokens, target, num_steps=48)
        assert warped.tokens.shape == (48, GRID * GRID, encoder.dim)
        assert np.all(np.diff(warped.positions) >= 0)
        # Re-measured independently: the SPF of the warped sequence, against the target.
        after = pace_deviation(compute_spf(sequence_embeddings(warped.tokens)), target)
        assert after.mean == pytest.approx(warped.after.mean)
        assert after.mean < gain * warped.before.mean
    with pytest.raises(GenerationError, match="not monotone"):
        retime_sequence(tokens, [0, 0.5, 0.2, 1])


@pytest.mark.slow
def test_default_backbone_package_from_a_compressor_trained_on_real_dinov2_tokens(real_clips, tmp_path):
    """With the real default weights: held-out tokens reconstruct better than the mean, and a
    package built from the index's own backbone carries its 384-d token source."""
    from vidsearch.retrieval.index import Index

    idx = Index.create(tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none"), num_frames=8))
    assert idx.add([str(real_clips)]).ok
    config = CompressorConfig(latent_dim=8, hidden_dim=64, epochs=30, batch_size=512, lr=3e-3, holdout=0.25)
    result = train_from_index(idx, config, grid=GRID, fps=1.6, device="cpu")
    held = result.metrics["heldout"]
    assert held["recon_mse"] < held["mean_baseline_mse"]
    manifest = build_package(
        [ReferenceSpan(str(real_clips / "bikes.mp4"), 0.0, 5.0)],
        tmp_path / "pkg",
        idx.encoder,
        result.compressor,
        SemrefOptions(grid=GRID),
    )
    assert manifest["encoder"]["name"] == "dinov2-s14" and manifest["encoder"]["token_dim"] == 384
    assert manifest["references"][0]["semantic_frames"] == 8
    assert load_package(tmp_path / "pkg").tensor(0, "latent").shape == (8, GRID * GRID, 8)
