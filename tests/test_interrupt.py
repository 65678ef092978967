"""kill -9 in the middle of indexing leaves a readable index, and a rerun completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import snapshot

CHILD = textwrap.dedent(
    """
    import sys, time
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.retrieval.index import Index

    def slow(result, stats, total):  # the public progress hook, slowed so the kill lands mid-run
        time.sleep(0.15)

    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8)
    idx = Index.open_or_create(sys.argv[1], config)
    idx.add([sys.argv[2]], progress=slow, commit_every_s=0.0)
    """
)


def _committed_segments(index_dir) -> int:
    try:
        return snapshot.latest(index_dir).live_segments
    except FileNotFoundError:
        return 0


def test_kill_during_indexing_then_resume(tmp_path, make_clip):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    motions = ["linear", "circle", "zigzag", "static"]
    for i in range(40):
        make_clip(
            f"clip_{i:02d}.mp4",
            folder=corpus,
            motion=motions[i % 4],
            colour=(50 + 5 * i, 40, 200 - 4 * i),
            n_frames=16,
            size=64,
        )
    index_dir = tmp_path / "idx"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(index_dir), str(corpus)], stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if _committed_segments(index_dir) >= 5:
            break
        assert child.poll() is None, child.stderr.read().decode()
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    partial = Index.open(index_dir)
    done = len(partial)
    assert 5 <= done < 40, f"the kill should land mid-run (had {done} clips)"
    assert len(partial.records()) == done and partial.moments([r["id"] for r in partial.records()]).shape[0] == done
    assert partial.search(corpus / "clip_00.mp4", k=3)  # readable and searchable

    report = Index.open(index_dir).add([corpus])
    assert report.skipped == done and report.added == 40 - done
    final = Index.open(index_dir)
    assert len(final) == 40 and len(final.records()) == 40
    assert len({r["path"] for r in final.records()}) == 40
    assert not list(index_dir.glob(".*.tmp")), "no temp files left behind"
