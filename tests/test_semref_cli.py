"""``vidsearch semref`` and ``vidsearch semref train-compressor`` through the CLI, on real clips."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def index_dir(real_clips, tmp_path_factory):
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.retrieval.index import Index

    path = tmp_path_factory.mktemp("semref-cli") / "idx"
    assert (
        Index.create(path, ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8))
        .add([str(real_clips)])
        .ok
    )
    return path


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_train_then_build_from_id_query_and_clip(index_dir, real_clips, tmp_path):
    res = _run(
        "semref",
        "train-compressor",
        "--index",
        index_dir,
        "--epochs",
        3,
        "--hidden",
        16,
        "--grid",
        4,
        "--dim",
        4,
        "--device",
        "cpu",
    )
    assert res.exit_code == 0, res.output
    assert "heldout" in res.output and "recall@1" in res.output
    saved = json.loads((index_dir / "semref-compressor" / "compressor.json").read_text())
    assert saved["config"]["latent_dim"] == 4 and saved["source"]["grid"] == 4 and saved["metrics"]["heldout"]

    res = _run("semref", "--id", 2, "--index", index_dir, "-o", tmp_path / "by-id")
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "by-id" / "manifest.json").read_text())
    assert manifest["references"][0]["segment_id"] == 2 and manifest["compressor"]["latent_dim"] == 4
    assert manifest["grid"]["side"] == 4  # taken from the compressor

    query = real_clips / "bikes.mp4"
    res = _run(
        "semref",
        "--from-query",
        query,
        "--top",
        2,
        "--index",
        index_dir,
        "-o",
        tmp_path / "q",
        "--pace",
        "0,0.1,1",
        "--steps",
        10,
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "q" / "manifest.json").read_text())
    assert len(manifest["references"]) == 2 and manifest["query"]["top"] == 2
    assert all(r["steps"] == 10 and r["retime"]["deviation_after"] for r in manifest["references"])
    assert manifest["tensors"]["r1.latent"]["shape"] == [10, 16, 4]

    res = _run("semref", query, "--start", 1, "--end", 4, "--index", index_dir, "-o", tmp_path / "clip", "--fps", 2)
    assert res.exit_code == 0, res.output
    ref = json.loads((tmp_path / "clip" / "manifest.json").read_text())["references"][0]
    assert ref["semantic_frames"] == 6 and ref["start_s"] == pytest.approx(1.0)


def test_uncompressed_package_needs_no_compressor(real_clips, tmp_path):
    res = _run(
        "semref",
        real_clips / "carphone_pristine.mp4",
        "--no-compress",
        "--encoder",
        "tiny-random",
        "--index",
        tmp_path / "none",
        "-o",
        tmp_path / "p",
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["compressor"] is None and set(manifest["tensors"]) == {"r0.tokens", "r0.times_s"}


def test_user_errors_are_one_line(index_dir, real_clips, tmp_path):
    res = _run("semref", "-o", tmp_path / "x", "--index", index_dir)
    assert res.exit_code == 2 and "exactly one reference" in res.output
    res = _run("semref", real_clips / "bikes.mp4", "--id", 1, "-o", tmp_path / "x", "--index", index_dir)
    assert res.exit_code == 2 and "exactly one reference" in res.output
    res = _run("semref", real_clips / "bikes.mp4", "--index", tmp_path / "empty", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "no compressor" in res.output
    res = _run("semref", real_clips / "bikes.mp4", "--compressor", tmp_path, "-o", tmp_path / "x")
    assert res.exit_code == 2 and "train-compressor" in res.output
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    res = _run(
        "semref", bad, "--no-compress", "--encoder", "tiny-random", "--index", tmp_path / "none", "-o", tmp_path / "x"
    )
    assert res.exit_code == 2 and "notes.mp4" in res.output and "Traceback" not in res.output
    res = _run("semref", "--id", 1, "--index", index_dir, "-o", tmp_path / "x", "--pace", "0,1,0.5")
    assert res.exit_code == 2 and "not monotone" in res.output


def test_train_on_a_missing_gpu_is_a_clear_error(index_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    res = _run("semref", "train-compressor", "--index", index_dir, "--device", "cuda")
    assert res.exit_code == 2 and "no CUDA GPU" in res.output
