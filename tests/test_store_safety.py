"""Readers never block or see partial state; kill -9 during a commit or a compaction leaves the
last snapshot readable and a rerun completes; a full disk gives one clear error."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import snapshot
from vidsearch.retrieval.store.manifest import IndexStoreError

TINY = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8)

# A writer that keeps committing (copies of indexed clips: features reused, no encoder needed),
# removing segments and compacting; optionally slowed inside the commit so a kill lands there.
WRITER = textwrap.dedent(
    """
    import shutil, sys, time
    from pathlib import Path
    from vidsearch.retrieval.store import compaction, fragment
    from vidsearch.retrieval.index import Index

    index_dir, corpus, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    if mode != "loop":  # widen the window between writing data files and the snapshot rename
        real_write = fragment.write_files if mode == "commit" else compaction.write_fragment
        def slow(*a, **kw):
            out = real_write(*a, **kw)
            print("in-commit", flush=True)
            time.sleep(0.5)
            return out
        if mode == "commit":
            import vidsearch.retrieval.store.transaction as ingest
            ingest.write_files = slow
        else:
            compaction.write_fragment = slow
    if mode == "loop":  # ANN indexes from a handful of segments on, so readers use them too
        from vidsearch.retrieval.store import ann
        ann.ANN_THRESHOLD = 4
    idx = Index.open(index_dir)
    if mode == "compact":
        compaction.TARGET_ROWS = 2  # many output fragments: a long compaction
        idx.compact()
        sys.exit(0)
    sources = sorted(corpus.glob("src_*.mp4"))
    for i in range(1000):
        shutil.copyfile(sources[i % len(sources)], corpus / f"copy_{i:04d}.mp4")
        idx.add([corpus])
        if mode == "loop" and i % 3 == 2:
            idx.remove([idx.records()[0]["id"]])
        if mode == "loop" and i % 4 == 3:
            idx.compact()
        print("committed", i, flush=True)
    """
)


@pytest.fixture
def seeded(tmp_path, make_clip):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, motion in enumerate(["linear", "circle", "zigzag", "static"]):
        make_clip(f"src_{i}.mp4", folder=corpus, motion=motion, n_frames=16, size=64)
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    return tmp_path / "idx", corpus


def _writer(index_dir, corpus, mode):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(index_dir), str(corpus), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_reader_searches_while_writer_commits_and_compacts(seeded, monkeypatch):
    from vidsearch.retrieval import search

    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 0)
    monkeypatch.setattr(search, "RERANK_DEPTH", 2)
    monkeypatch.setattr(search, "BOTH_RERANK_DEPTH", 2)
    index_dir, corpus = seeded
    reader = Index.open(index_dir)
    query = corpus / "src_0.mp4"
    child = _writer(index_dir, corpus, "loop")
    versions, searches, used_ann = set(), 0, 0
    try:
        deadline = time.time() + 40
        while time.time() < deadline and len(versions) < 12:
            reader.refresh()
            versions.add(reader.version)
            n = len(reader)
            records = reader.records()
            assert len(records) == n and len({r["id"] for r in records}) == n  # a whole snapshot, never a partial one
            hits = reader.search(query, k=50, by="both", exclude_self=False)
            # a search whose snapshot was compacted away meanwhile answers from the newest one
            assert len(hits) == min(50, len(reader)) and all(h.path for h in hits)
            for by in ("motion", "both"):  # ANN shortlists once the writer built them, and a filter
                assert len(reader.search(query, k=1, by=by, where="size > 0")) == 1
            used_ann += reader.ann is not None
            searches += 1
            assert child.poll() is None, child.stderr.read()
    finally:
        child.kill()
        child.wait()
    assert len(versions) >= 4 and searches >= 4 and used_ann >= 2, (versions, searches, used_ann)


@pytest.mark.parametrize("mode", ["commit", "compact"])
def test_kill_during_commit_or_compaction_then_rerun(seeded, mode):
    index_dir, corpus = seeded
    if mode == "compact":  # several fragments and tombstones to compact
        idx = Index.open(index_dir)
        for i in range(3):
            shutil.copyfile(corpus / f"src_{i}.mp4", corpus / f"extra_{i}.mp4")
            idx.add([corpus])
        idx.remove([idx.records()[0]["id"]])
    before = Index.open(index_dir)
    before_ids = sorted(r["id"] for r in before.records())
    child = _writer(index_dir, corpus, mode)
    seen = 0
    for line in child.stdout:
        seen += line.startswith("in-commit")
        if seen >= 2:  # inside the second commit (or the second compacted fragment)
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    assert seen >= 2, child.stderr.read()

    after = Index.open(index_dir)  # the last committed snapshot, whole
    records = after.records()
    assert len(records) == len(after) and after.search(corpus / "src_1.mp4", k=3)
    if mode == "compact":
        assert sorted(r["id"] for r in records) == before_ids  # the compaction never became visible
        result = after.compact()  # a rerun completes and removes the killed run's leftovers
        assert result["segments"] == len(before_ids) and snapshot.versions(index_dir) == [result["snapshot"]]
    else:
        assert len(after) > len(before_ids)  # the first commit landed, the killed one did not
        report = after.add([corpus])
        assert report.ok and len(after) == len(list(corpus.glob("*.mp4")))
    final = snapshot.latest(index_dir)
    assert not snapshot.garbage(index_dir, [snapshot.load(index_dir, v) for v in snapshot.versions(index_dir)])
    assert not list(index_dir.rglob(".*.tmp")) and len(Index.open(index_dir)) == final.live_segments


def test_disk_full_during_commit_is_one_clear_error(seeded, monkeypatch, make_clip):
    from typer.testing import CliRunner

    from vidsearch.app.cli import app
    from vidsearch.retrieval.store import fragment

    index_dir, corpus = seeded
    version = snapshot.latest_version(index_dir)
    n = len(Index.open(index_dir))
    make_clip("new.mp4", folder=corpus, motion="circle", colour=(10, 200, 10), n_frames=16, size=64)
    real = fragment.np.save

    def full(fh, array):  # the disk fills while the fragment's vectors are written
        real(fh, array[: len(array) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fragment.np, "save", full)
    with pytest.raises(IndexStoreError, match="could not commit \\(the disk is full\\)") as err:
        Index.open(index_dir).add([corpus])
    assert str(index_dir) in str(err.value) and f"snapshot {version} is intact" in str(err.value)
    result = CliRunner().invoke(
        app, ["index", str(corpus), "--index", str(index_dir), "-b", "tiny-random", "-T", "8", "--segment", "none"]
    )
    assert result.exit_code == 2 and "disk is full" in result.output and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if "disk is full" in line or "Error" in line] == [
        result.output.splitlines()[0]
    ]
    assert snapshot.latest_version(index_dir) == version and len(Index.open(index_dir)) == n
    assert not snapshot.garbage(index_dir, [snapshot.latest(index_dir)]) and not list(index_dir.rglob(".*.tmp"))
    monkeypatch.setattr(fragment.np, "save", real)
    assert Index.open(index_dir).add([corpus]).added == 1  # space freed: the rerun completes
