"""What a user sees: 80-column tables, answers from stored segments, and non-answers that say why."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from vidsearch.app.cli import app

runner = CliRunner()
COLS = {"COLUMNS": "80"}


def _indexed(tmp_path, make_clip):
    corpus = tmp_path / "a_rather_long_folder_name" / "with_another_level_below_it" / "and_one_more_level"
    corpus.mkdir(parents=True)
    for motion in ("linear", "circle", "zigzag"):
        make_clip(f"clip_moving_{motion}_for_the_table.mp4", folder=corpus, motion=motion, n_frames=40)
    idx = tmp_path / "idx"
    r = runner.invoke(app, ["index", str(corpus), "-i", str(idx), "-b", "tiny-random", "-T", "8", "--segment", "none"])
    assert r.exit_code == 0, r.output
    return corpus, idx


def test_query_and_stats_fit_80_columns_with_whole_numbers(tmp_path, make_clip, monkeypatch):
    corpus, idx = _indexed(tmp_path, make_clip)
    query = corpus / "clip_moving_linear_for_the_table.mp4"

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder was loaded for an indexed query")

    monkeypatch.setattr("vidsearch.indexers.encoders.load_encoder", no_encoder)
    r = runner.invoke(app, ["query", str(query), "-i", str(idx)], env=COLS)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, r.stdout
    rows = [line for line in lines if re.match(r"\s+\d+\s+\d+\s", line)]
    assert len(rows) == 2
    for row in rows:  # complete scores, and the file name kept where the path is cut from the left
        assert re.search(r"\s[01]\.\d{4}\s", row) and "…" in row and row.rstrip().endswith("_for_the_table.mp4")
    assert "cal %" in r.stdout and "share of this index's segment pairs" in r.stdout
    assert "using the stored segment" in r.stderr and "embedding" not in r.stderr

    monkeypatch.undo()
    other = make_clip("not_indexed.mp4", motion="zigzag", n_frames=40)
    embedded = runner.invoke(app, ["query", str(other), "-i", str(idx), "--json"])
    assert embedded.exit_code == 0 and len(json.loads(embedded.stdout)) == 3, embedded.output
    assert "not in the index" in embedded.stderr and f"working on: decoding and embedding {other}" in embedded.stderr

    wide = runner.invoke(app, ["query", str(query), "-i", str(idx), "--wide"], env=COLS)
    assert wide.exit_code == 0 and str(corpus) in wide.stdout and "moments" in wide.stdout

    stats = runner.invoke(app, ["stats", "-i", str(idx)], env=COLS)
    assert stats.exit_code == 0, stats.output
    lines = stats.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, stats.stdout
    assert "config:" in lines and "  backbone: tiny-random" in lines and not any("{" in line for line in lines)
    assert json.loads(runner.invoke(app, ["stats", "-i", str(idx), "--json"]).stdout)["segments"] == 3


def test_info_hides_long_descriptors_unless_full(tmp_path, make_clip):
    _, idx = _indexed(tmp_path, make_clip)
    short = runner.invoke(app, ["info", "1", "-i", str(idx)], env=COLS)
    assert short.exit_code == 0 and "aux_flow: 257 values (--full shows them)" in short.stdout, short.output
    full = runner.invoke(app, ["info", "1", "-i", str(idx), "--full"], env=COLS)
    assert full.exit_code == 0 and "257 values" not in full.stdout and full.stdout.count(",") > 256


def test_non_answers_say_what_happened(tmp_path, make_clip):
    empty = tmp_path / "empty"
    empty.mkdir()
    idx = tmp_path / "idx"
    r = runner.invoke(app, ["index", str(empty), "-i", str(idx), "-b", "tiny-random", "-T", "8"])
    assert r.exit_code == 1 and f"no videos found under {empty}" in r.output and "-:--:--" not in r.output
    clip = make_clip("a.mp4")
    r = runner.invoke(app, ["query", str(clip), "-i", str(idx)])
    assert r.exit_code == 1 and "is empty" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["index", str(clip), "-i", str(idx), "-b", "tiny-random", "-T", "8"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["remove", "999", "-i", str(idx)])
    assert r.exit_code == 1 and "no segment 999" in r.output and "removed" not in r.output
    r = runner.invoke(app, ["query", str(clip), "-i", str(idx)])
    assert r.exit_code == 1 and "no results: no other segment in the index" in r.output
    r = runner.invoke(app, ["remove", "1", "999", "-i", str(idx)])
    assert r.exit_code == 1 and "removed 1 segment(s); 0 left" in r.output and "no segment 999" in r.output


def test_models_mark_the_default_and_test_only_encoders():
    r = runner.invoke(app, ["models"])
    lines = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert "(default)" in lines["dinov2-s14"] and "(default)" not in lines["tiny-random"]
    assert "TEST ONLY" in lines["tiny-random"] and "TEST ONLY" not in lines["dinov2-s14"]


def test_curate_sample_warns_and_an_exported_dataset_moves_as_one_folder(tmp_path, make_clip):
    import shutil

    import pyarrow.parquet as pq

    _, idx = _indexed(tmp_path, make_clip)
    r = runner.invoke(app, ["curate", "sample", "-i", str(idx), "-n", "500", "--dry-run"])
    assert r.exit_code == 0 and "asked for 500 segments but the selection has 3" in r.output, r.output
    r = runner.invoke(app, ["curate", "sample", "-i", str(idx), "-n", "2", "--dry-run"])
    assert r.exit_code == 0 and "warning" not in r.output
    r = runner.invoke(app, ["curate", "export", "-i", str(idx), "-o", str(tmp_path / "ds"), "--cut"])
    assert r.exit_code == 0, r.output
    shutil.move(tmp_path / "ds", tmp_path / "moved")
    rows = pq.read_table(tmp_path / "moved" / "manifest.parquet").to_pylist()
    lines = [json.loads(line) for line in (tmp_path / "moved" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and [r["file"] for r in rows] == [r["file"] for r in lines]
    assert all(r["file"].startswith("clips/") and (tmp_path / "moved" / r["file"]).is_file() for r in rows)
