"""The benchmark harness on a tiny generated set: token cache, variants, reports and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import pytest
from typer.testing import CliRunner

from vidsearch.bench.cli import app
from vidsearch.bench.layout import read_synthetic
from vidsearch.bench.methods import Method, is_product_both, main_suite, similarity_matrix, suite
from vidsearch.bench.protocols import AVERAGE, METRICS
from vidsearch.bench.report import results_csv, results_markdown, write_report
from vidsearch.bench.runner import run_suite
from vidsearch.bench.synthetic import CATEGORIES, PRESETS, generate
from vidsearch.bench.tokens import ArrayCache, clip_tokens


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """The CI preset, shortened: 5 triplets of 1.5 s at 64 px."""
    out = tmp_path_factory.mktemp("simmotion") / "set"
    generate(out, dataclasses.replace(PRESETS["ci"], triplets_per_category=1, size=64, seconds=1.5))
    return out


@pytest.fixture(scope="module")
def tiny_encoder():
    from vidsearch.indexers.encoders import load_encoder

    return load_encoder("tiny-random")


def test_cached_tokens_are_exactly_the_sampled_frames(tiny_set, tiny_encoder, tmp_path):
    from vidsearch.indexers.corpus import content_hash
    from vidsearch.indexers.decode.video import sample_frames

    path = str(tiny_set / "view" / "example_0" / "ref.mp4")
    cache = ArrayCache(tmp_path)
    tokens, new = clip_tokens(cache, path, content_hash(path), tiny_encoder, [4, 16])
    assert new == len(np.unique(np.concatenate([np.round(np.linspace(0, 23, t)) for t in (4, 16)])))
    for t in (4, 16):
        direct = tiny_encoder.encode(sample_frames(path, t, tiny_encoder.image_size))
        patch, glob = tokens.sample(t)
        np.testing.assert_allclose(patch, direct.patch_tokens.numpy(), atol=2e-2, rtol=1e-2)
        np.testing.assert_allclose(glob, direct.global_embedding.numpy(), atol=2e-2, rtol=1e-2)
    with pytest.raises(KeyError, match="T=8"):
        tokens.sample(8)
    again, new = clip_tokens(cache, path, content_hash(path), tiny_encoder, [16, 4])
    assert new == 0 and np.array_equal(again.indices, tokens.indices)
    grown, new = clip_tokens(cache, path, content_hash(path), tiny_encoder, [8])
    assert 0 < new <= 8 and set(tokens.indices) < set(grown.indices)
    np.testing.assert_array_equal(grown.sample(16)[0], tokens.sample(16)[0])  # old rows untouched


def test_similarity_matrix_fuses_motion_and_pacing():
    feats = [
        {"vector": np.array([1.0, 0.0]), "curve": np.linspace(0, 1, 64)},
        {"vector": np.array([0.6, 0.8]), "curve": np.linspace(0, 1, 64) ** 2},
    ]
    fused = similarity_matrix(Method("f", "fused"), feats)
    motion = similarity_matrix(Method("m", "moments"), [{"vector": f["vector"]} for f in feats])
    pacing = similarity_matrix(Method("p", "pacing"), [{"curve": f["curve"]} for f in feats])
    np.testing.assert_allclose(fused, 0.7 * motion + 0.3 * pacing, atol=1e-6)
    assert pacing[0, 0] == pytest.approx(1.0) and pacing[0, 1] < 1.0


def test_mirror_aware_fusion_takes_the_better_form_and_a_file_query_its_flipped_moments():
    """A mirrored candidate: its flow is the query's mirror permutation and its moments are the
    query's flipped frames'. The indexed-query form mirrors the flow only; the file-query form
    also compares the flipped moments, so it scores the candidate exactly; strict scores neither."""
    from vidsearch.indexers.descriptors.flow import FLOW_DIM, mirror_flow

    rng = np.random.default_rng(0)
    flow = np.abs(rng.normal(size=FLOW_DIM))
    flow /= np.linalg.norm(flow)
    v, flipped = rng.normal(size=(2, 8))
    v, flipped = v / np.linalg.norm(v), flipped / np.linalg.norm(flipped)
    query = {"vector": v, "flow": flow, "mirror_vector": flipped}
    candidate = {"vector": flipped, "flow": mirror_flow(flow)}
    fusion = (1.0, 0.0, 0.5)
    strict, indexed, file_query = (
        similarity_matrix(Method("m", "fused", fusion=fusion, **kw), [query, candidate])[0, 1]
        for kw in ({}, {"mirror": True}, {"mirror": True, "flip_query": True})
    )
    assert file_query == pytest.approx(1.0, abs=1e-6)
    assert indexed == pytest.approx(0.5 * float(v @ flipped) + 0.5, abs=1e-6)
    assert strict == pytest.approx(0.5 * float(v @ flipped) + 0.5 * float(flow @ mirror_flow(flow)), abs=1e-6)
    assert strict < indexed < file_query


def test_run_suite_and_reports(tiny_set, tmp_path):
    bench = read_synthetic(tiny_set)
    methods = main_suite(num_frames=8, backbone="tiny-random")
    lines: list[str] = []
    result = run_suite(bench, methods, tmp_path / "cache", n_boot=50, progress=lines.append)
    assert len(lines) == len(bench.paths) and lines[-1].startswith("[15/15]")
    # the file-query methods also encode each of the 5 queries' flipped frames once
    assert result.frames_encoded == {"raw-pixels": 15 * 8, "tiny-random": 15 * 8 + 5 * 8}
    for m in methods:
        for metric in METRICS:
            for cat in [*CATEGORIES, AVERAGE]:
                e = result.scores[m.name][metric][cat]
                assert 0.0 <= e.low <= e.value <= e.high <= 100.0
    md = results_markdown(result, "vidsearch bench simmotion --root X")
    assert "Generated by `vidsearch bench make-synthetic`: seed 0, 1 triplets per category, 64 px" in md
    assert (
        "reported (different data)" in md
        and "SemanticMoments (1,8,4)" in md
        and "`vidsearch bench simmotion --root X`" in md
    )
    rows = list(csv.DictReader(io.StringIO(results_csv(result))))
    assert len(rows) == len(methods) * len(METRICS) * (len(CATEGORIES) + 1)
    # the defaults are compared, paired, with the published method and the flow baseline; the
    # mirror-aware, tempo-aware --by both also with the strict, shape-only one it replaces
    default = next(m.name for m in methods if m.name.startswith("Fused direction-aware + flow"))
    both = next(m.name for m in methods if is_product_both(m))
    strict = next(m.name for m in methods if m.name.startswith("--by both") and not m.mirror)
    assert set(result.paired) == {
        f"{d} - {b}" for d in (default, both) for b in ("SemanticMoments (1,8,4)", "Optical-flow histogram")
    } | {f"{both} - {strict}"}
    for name, d in result.paired.items():
        a, b = name.split(" - ")
        assert d[AVERAGE].value == pytest.approx(
            result.scores[a]["R@1"][AVERAGE].value - result.scores[b]["R@1"][AVERAGE].value
        )
    assert "Paired Recall@1 differences" in md
    paths = write_report(result, tmp_path / "out")
    assert all(p.exists() for p in paths.values())
    rerun = run_suite(bench, methods, tmp_path / "cache", n_boot=50, progress=lines.append)
    assert rerun.frames_encoded == {"raw-pixels": 0, "tiny-random": 0}  # resumed from the cache
    assert rerun.scores == result.scores


def test_suites():
    assert [m.num_frames for m in suite("frames")] == [4, 8, 16, 32, 64]
    names = [m.name for m in suite("all")]
    assert len(names) == len(set(names)) == len(main_suite()) + 4
    assert {m.backbone for m in suite("cheap")} == {"raw-pixels", ""}
    with pytest.raises(ValueError, match="unknown suite"):
        suite("nope")


def test_cli_make_synthetic_and_simmotion(tmp_path, tiny_set):
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "simmotion",
            "--root",
            str(tiny_set),
            "--backbone",
            "tiny-random",
            "--frames",
            "4",
            "--per-category",
            "1",
            "--cache",
            str(tmp_path / "c"),
            "--out",
            str(tmp_path / "o"),
            "--boot",
            "20",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "| method |" in res.stdout and (tmp_path / "o" / "results.csv").exists()
    bad = runner.invoke(app, ["simmotion", "--root", str(tmp_path / "missing")])
    assert bad.exit_code == 2 and "missing: not a folder" in bad.output
    real = runner.invoke(app, ["simmotion", "--root", str(tiny_set), "--real"])
    assert real.exit_code == 2 and "no 'examples' folder" in real.output
    gen = runner.invoke(app, ["make-synthetic", str(tiny_set), "--preset", "ci", "--seed", "3"])
    assert gen.exit_code == 2 and "different generated set" in gen.output


def test_cli_run_generates_then_evaluates(tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "run",
            str(tmp_path / "d"),
            "--preset",
            "ci",
            "--suite",
            "cheap",
            "--frames",
            "4",
            "--per-category",
            "1",
            "--cache",
            str(tmp_path / "c"),
            "--boot",
            "20",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "d").glob("*/example_*/ref.mp4"))) == 10  # the whole CI preset was written
    assert "Raw-pixel moments (1,8,4)" in res.stdout and "5 triplets, 15 clips" in res.output


def test_read_real_layout_with_distractors(tiny_set, tmp_path):
    from vidsearch.bench.layout import LayoutError, read_real

    for i, cat in enumerate(("view", "style")):
        ex = tmp_path / "real" / "examples" / f"clip{i}"
        ex.mkdir(parents=True)
        for role in ("ref", "positive", "negative"):
            (ex / f"{role}.mp4").symlink_to(tiny_set / cat / "example_0" / f"{role}.mp4")
    (tmp_path / "k400").mkdir()
    (tmp_path / "k400" / "a.mp4").symlink_to(tiny_set / "static_object" / "example_0" / "ref.mp4")
    bench = read_real(tmp_path / "real", tmp_path / "k400")
    assert bench.kind == "real" and bench.categories == ["real"]
    assert len(bench.triplets) == 2 and len(bench.paths) == 7
    assert bench.paths[-1].endswith("ref.mp4") and "static_object" in bench.paths[-1]  # distractor: candidate only
    with pytest.raises(LayoutError, match="distractor folder not found"):
        read_real(tmp_path / "real", tmp_path / "nope")
