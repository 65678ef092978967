"""The CLI's contract: exit codes, one-line errors, JSON output (tiny random encoder)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vidsearch.app.cli import app

runner = CliRunner()


def _index(tmp_path, corpus, *extra):
    return runner.invoke(
        app, ["index", str(corpus), "--index", str(tmp_path / "idx"), "-b", "tiny-random", "-T", "8", *extra]
    )


def test_index_query_and_failures_exit_codes(tmp_path, make_clip):
    corpus = tmp_path / "c"
    corpus.mkdir()
    make_clip("a.mp4", folder=corpus, motion="linear")
    make_clip("b.mp4", folder=corpus, motion="circle")
    result = _index(tmp_path, corpus)
    assert result.exit_code == 0, result.output
    (corpus / "bad.mp4").write_text("not a video")
    result = _index(tmp_path, corpus)
    assert result.exit_code == 1
    assert "bad.mp4" in result.output and "not a readable video" in result.output and "Traceback" not in result.output

    result = runner.invoke(
        app, ["query", str(corpus / "a.mp4"), "--index", str(tmp_path / "idx"), "--json", "--by", "both"]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == [1] and hits[0]["path"].endswith("b.mp4")
    # The default index: direction-aware moments (six blocks), the flow descriptor, a calibrated score.
    assert set(hits[0]["moment_contributions"]) == {"mean", "std", "skew", "delta_mean", "delta_std", "delta_skew"}
    assert hits[0]["flow"] is not None and 0.0 <= hits[0]["calibrated"] <= 100.0


def test_user_errors_are_one_line(tmp_path, make_clip):
    corpus = tmp_path / "c"
    corpus.mkdir()
    make_clip("a.mp4", folder=corpus)
    cases = [
        ["query", str(corpus / "a.mp4"), "--index", str(tmp_path / "missing")],
        ["index", str(corpus), "--index", str(tmp_path / "idx"), "-b", "no-such-model"],
        ["index", str(corpus), "--index", str(tmp_path / "idx"), "-b", "tiny-random", "--alpha", "1,2"],
        ["index", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"), "-b", "tiny-random"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "error:" in result.output and "Traceback" not in result.output
    assert _index(tmp_path, corpus).exit_code == 0
    mismatch = _index(tmp_path, corpus, "--alpha", "1,1,1")
    assert mismatch.exit_code == 2 and "alpha" in mismatch.output and "--rebuild" in mismatch.output
    assert _index(tmp_path, corpus, "--alpha", "1,1,1", "--rebuild").exit_code == 0
    bad_query = runner.invoke(app, ["query", str(tmp_path / "c" / "nothing.mp4"), "--index", str(tmp_path / "idx")])
    assert bad_query.exit_code == 2 and "file not found" in bad_query.output
    bad_where = runner.invoke(app, ["query", "--id", "1", "--index", str(tmp_path / "idx"), "--where", "nonsense ="])
    assert bad_where.exit_code == 2 and "bad filter" in bad_where.output


def test_demo_builds_corpus_indexes_and_queries(tmp_path):
    """The README's main command, with the tiny encoder (the real one runs in scripts/demo.sh)."""
    result = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "-b", "tiny-random"])
    assert result.exit_code == 0, result.output
    originals = sorted(p.name for p in (tmp_path / "demo" / "corpus" / "originals").iterdir())
    twins = sorted(p.name for p in (tmp_path / "demo" / "corpus" / "recoloured").iterdir())
    assert originals == twins and len(originals) >= 4
    assert "recoloured queries found their original first" in result.stdout
    again = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "-b", "tiny-random"])
    assert again.exit_code == 0 and "0 embedded now" in again.output


def test_index_with_integer_codecs(tmp_path, make_clip):
    """--moments-codec int8 / int6 on decoded clips: the vectors are stored as integer codes, a
    query finds the same neighbour as float16 would, and a mismatching codec or a bad name is one line."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    make_clip("a.mp4", folder=corpus, motion="linear")
    make_clip("b.mp4", folder=corpus, motion="circle")
    assert _index(tmp_path, corpus, "--moments-codec", "int8").exit_code == 0
    assert list((tmp_path / "idx" / "fragments").rglob("moments.u8.npy")) and not list(
        (tmp_path / "idx" / "fragments").rglob("moments.npy")
    )
    result = runner.invoke(app, ["query", str(corpus / "a.mp4"), "--index", str(tmp_path / "idx"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["path"].endswith("b.mp4")
    assert (
        runner.invoke(
            app,
            [
                "index",
                str(corpus),
                "--index",
                str(tmp_path / "six"),
                "-b",
                "tiny-random",
                "-T",
                "8",
                "--moments-codec",
                "int6",
            ],
        ).exit_code
        == 0
    )
    assert list((tmp_path / "six" / "fragments").rglob("moments.u6.npy")) and list(
        (tmp_path / "six" / "fragments").rglob("aux_flow.u8.npy")
    )
    result = runner.invoke(app, ["query", str(corpus / "a.mp4"), "--index", str(tmp_path / "six"), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["path"].endswith("b.mp4"), result.output
    result = _index(tmp_path, corpus, "--moments-codec", "float16")
    assert result.exit_code != 0 and "stores moments as int8" in result.output and "Traceback" not in result.output
    result = _index(tmp_path / "other", corpus, "--moments-codec", "int4")
    assert (
        result.exit_code != 0 and "moments codec must be one of" in result.output and "Traceback" not in result.output
    )


def test_index_with_keyframe_sampling(tmp_path, real_clips):
    """--sampling keyframes is an extractor setting: recorded in the index, refused where it
    saves nothing (shots), a mismatch with the index is one line; queries embed the same way."""
    import dataclasses

    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.indexers.features import embed_clip

    idx = tmp_path / "idx"
    args = ["index", str(real_clips), "--index", str(idx), "-b", "tiny-random", "-T", "8"]
    refused = runner.invoke(app, [*args, "--sampling", "keyframes"])
    assert refused.exit_code == 2 and "segment mode 'none'" in refused.output and "Traceback" not in refused.output
    result = runner.invoke(app, [*args, "--segment", "none", "--sampling", "keyframes"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((idx / "manifest.json").read_text())
    assert ExtractorConfig.from_dict(manifest["config"]).sampling == "keyframes"
    assert (
        manifest["config_fingerprint"]
        != ExtractorConfig.from_dict({**manifest["config"], "sampling": "exact"}).fingerprint()
    )
    mismatch = runner.invoke(app, [*args, "--segment", "none"])
    assert mismatch.exit_code == 2 and "sampling" in mismatch.output
    from vidsearch.retrieval.index import Index

    index = Index.open(idx)
    bikes = real_clips / "bikes.mp4"  # keyframes near some of its 8 targets: snapping changes its frames
    stored = index.moments([index.segments_of(str(bikes))[0]["id"]])[0]
    assert float(index.embed(bikes).moments @ stored) > 0.999  # a query is sampled as the index (float16 storage)
    exact = embed_clip(bikes, dataclasses.replace(index.config, sampling="exact"), index.encoder)
    assert float(exact.moments @ stored) < float(index.embed(bikes).moments @ stored)
