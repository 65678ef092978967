"""Files ``index`` does not decode again on purpose: one that failed and has not changed since
(retried with ``retry_failed`` or once it changes), and one the user removed (an exclusion stored
in the snapshot; added back when it changes, with ``include_removed``, or never excluded with
``remove(allow_readd=True)``). Real clips, tiny-random encoder, one segment per file."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.indexers.config import PUBLISHED, SegmentConfig
from vidsearch.retrieval import index as index_module
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import snapshot

CONFIG = replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="none"))
runner = CliRunner()


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """The file names each ``add`` hands to the decoding pipeline."""
    seen: list[str] = []
    real = index_module.run_pipeline

    def spy(paths, *args, **kwargs):
        seen.extend(Path(p).name for p in paths)
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(index_module, "run_pipeline", spy)
    return seen


@pytest.fixture
def corpus(tmp_path, real_clips) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(real_clips / "carphone_distorted.mp4", folder / "good.mp4")
    shutil.copy(real_clips / "carphone_pristine.mp4", folder / "other.mp4")
    (folder / "bad.mp4").write_bytes((real_clips / "bikes.mp4").read_bytes()[:4000])  # truncated: no frames
    return folder


def _cli_index(corpus: Path, index_dir: Path, *extra: str):
    args = ["index", str(corpus), "--index", str(index_dir), "-b", "tiny-random", "-T", "8", "--segment", "none"]
    return runner.invoke(app, [*args, "--decode-workers", "0", *extra])


def test_a_failed_file_is_skipped_until_it_changes_or_a_retry_is_asked(tmp_path, corpus, decoded, real_clips):
    idx = Index.create(tmp_path / "idx", CONFIG)
    first = idx.add([corpus])
    assert [Path(p).name for p, _ in first.failed] == ["bad.mp4"] and first.added == 2
    reason = first.failed[0][1]
    decoded.clear()
    again = idx.add([corpus])
    assert decoded == [] and again.failed == [] and again.ok
    assert again.failed_earlier == [(str((corpus / "bad.mp4").resolve()), reason)] and again.skipped == 2
    retried = idx.add([corpus], retry_failed=True)
    assert decoded == ["bad.mp4"] and [Path(p).name for p, _ in retried.failed] == ["bad.mp4"]
    decoded.clear()
    shutil.copy(real_clips / "bikes.mp4", corpus / "bad.mp4")  # repaired: another size and mtime
    fixed = idx.add([corpus])
    assert decoded == ["bad.mp4"] and fixed.added == 1 and not fixed.failed and idx.errors() == []


def test_the_cli_counts_failed_earlier_files_and_stats_lists_them(tmp_path, corpus):
    index_dir = tmp_path / "idx"
    assert _cli_index(corpus, index_dir).exit_code == 1
    second = _cli_index(corpus, index_dir)
    assert second.exit_code == 0, second.output
    summary = " ".join(second.output.split())
    assert "failed 0, failed earlier 1 (unchanged; --retry-failed decodes them again)" in summary
    retried = _cli_index(corpus, index_dir, "--retry-failed")
    assert retried.exit_code == 1 and "bad.mp4" in retried.output
    stats = runner.invoke(app, ["stats", "--index", str(index_dir)])
    assert stats.exit_code == 0 and "failed_files" in stats.output and "bad.mp4" in stats.output


def test_a_removed_file_stays_out_until_it_changes_or_is_asked_back(tmp_path, corpus, decoded, real_clips):
    (corpus / "bad.mp4").unlink()
    idx = Index.create(tmp_path / "idx", CONFIG)
    idx.add([corpus])
    good = corpus / "good.mp4"
    before_remove = snapshot.latest_version(tmp_path / "idx")
    assert idx.remove([s["id"] for s in idx.segments_of(good)]) == 1
    assert [Path(e["path"]).name for e in idx.exclusions()] == ["good.mp4"]
    assert snapshot.load(tmp_path / "idx", before_remove).exclusions is None  # versioned with the snapshot
    decoded.clear()
    again = idx.add([corpus])
    assert (again.added, again.excluded, decoded) == (0, [str(good.resolve())], []) and idx.segments_of(good) == []
    os.utime(good, (1_000_000, 1_000_000))  # touched, same content: still removed
    assert idx.add([corpus]).excluded == [str(good.resolve())] and idx.segments_of(good) == []
    idx.compact()  # the exclusion survives compaction
    assert (
        idx.add([corpus]).excluded == [str(good.resolve())]
        and Index.open(tmp_path / "idx").stats()["excluded_files"] == 1
    )
    back = idx.add([corpus], include_removed=True)
    assert back.added == 1 and len(idx.segments_of(good)) == 1 and idx.exclusions() == []
    idx.remove([s["id"] for s in idx.segments_of(good)])
    shutil.copy(real_clips / "bikes.mp4", good)  # new content at the removed path
    changed = idx.add([corpus])
    assert changed.added == 1 and changed.excluded == [] and idx.exclusions() == []
    idx.remove([s["id"] for s in idx.segments_of(good)], allow_readd=True)
    assert idx.exclusions() == [] and idx.add([corpus]).added == 1


def test_cli_remove_and_index_flags_for_exclusions(tmp_path, corpus):
    (corpus / "bad.mp4").unlink()
    index_dir = tmp_path / "idx"
    assert _cli_index(corpus, index_dir).exit_code == 0
    sid = Index.open(index_dir).segments_of(corpus / "good.mp4")[0]["id"]
    assert runner.invoke(app, ["remove", str(sid), "--index", str(index_dir)]).exit_code == 0
    second = _cli_index(corpus, index_dir)
    assert second.exit_code == 0 and "excluded 1 (removed with `vidsearch remove`; --include-removed adds them)" in (
        " ".join(second.output.split())
    )
    stats = runner.invoke(app, ["stats", "--index", str(index_dir)])
    assert "excluded" in stats.output and "good.mp4" in stats.output
    third = _cli_index(corpus, index_dir, "--include-removed")
    assert third.exit_code == 0 and "indexed 1 new/changed" in third.output
    sid = Index.open(index_dir).segments_of(corpus / "good.mp4")[0]["id"]
    assert runner.invoke(app, ["remove", str(sid), "--index", str(index_dir), "--allow-readd"]).exit_code == 0
    assert "indexed 1 new/changed" in _cli_index(corpus, index_dir).output
