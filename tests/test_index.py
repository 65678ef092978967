"""The Index API on generated clips with the tiny random encoder: incremental, atomic, searchable."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace

import numpy as np
import pytest

from vidsearch.indexers.config import PUBLISHED, ExtractorConfig, SegmentConfig
from vidsearch.retrieval.filters import FilterError
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import manifest as store
from vidsearch.retrieval.store.manifest import ConfigMismatchError, IndexLockedError, IndexNotFoundError
from vidsearch.retrieval.types import FusionWeights

# The published moments (motion = moments cosine), which these store/search tests assert on.
TINY = replace(PUBLISHED, backbone="tiny-random", num_frames=8)


@pytest.fixture
def corpus(tmp_path, make_clip):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    make_clip("lin_red.mp4", folder=folder, motion="linear")
    make_clip("circle_red.mp4", folder=folder, motion="circle")
    make_clip("zig_blue.mp4", folder=folder / "sub", motion="zigzag", colour=(40, 40, 230))
    make_clip("static_grey.mp4", folder=folder / "sub", motion="static", colour=(128, 128, 128))
    return folder


def _count_embedded(monkeypatch):
    """Patch the pipeline to record which paths get decoded + embedded."""
    from vidsearch.retrieval import index as index_module

    seen: list[str] = []
    real = index_module.run_pipeline

    def spy(paths, *args, **kwargs):
        paths = list(paths)
        seen.extend(paths)
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(index_module, "run_pipeline", spy)
    return seen


def test_add_rerun_modify_prune_remove(tmp_path, corpus, make_clip, monkeypatch):
    embedded = _count_embedded(monkeypatch)
    idx = Index.create(tmp_path / "idx", TINY)
    report = idx.add([corpus])
    assert (report.added, report.skipped, report.failed) == (4, 0, [])
    assert len(embedded) == 4 and len(idx) == 4

    embedded.clear()
    report = Index.open(tmp_path / "idx").add([corpus])
    assert (report.added, report.skipped) == (0, 4) and embedded == []

    # touched but identical content: nothing recomputed
    os.utime(corpus / "lin_red.mp4", (time.time() + 5, time.time() + 5))
    # modified content: only that file recomputed
    make_clip("circle_red.mp4", folder=corpus, motion="zigzag")
    # same content at a new path: features reused
    shutil.copyfile(corpus / "sub" / "static_grey.mp4", corpus / "copy_of_static.mp4")
    idx = Index.open(tmp_path / "idx")
    report = idx.add([corpus])
    assert [os.path.basename(p) for p in embedded] == ["circle_red.mp4"]
    assert (report.added, report.reused, report.removed) == (1, 1, 1)
    assert len(idx) == 5
    paths = {os.path.basename(r["path"]): r for r in idx.records()}
    assert paths["copy_of_static.mp4"]["hash"] == paths["static_grey.mp4"]["hash"]

    (corpus / "sub" / "zig_blue.mp4").unlink()
    report = idx.add([corpus], prune=True)
    assert report.removed == 1 and len(idx) == 4
    reopened = Index.open(tmp_path / "idx")
    assert len(reopened) == 4 and len(reopened.records()) == 4
    some_id = reopened.records()[0]["id"]
    assert reopened.remove([some_id, 10_000]) == 1
    after = Index.open(tmp_path / "idx")
    assert len(after) == 3 and some_id not in {r["id"] for r in after.records()}
    with pytest.raises(KeyError):
        after.get(some_id)
    assert all(h.id != some_id for h in after.search(corpus / "lin_red.mp4", k=10, exclude_self=False))


def test_search_modes_scores_and_self_exclusion(tmp_path, corpus):
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    query = corpus / "lin_red.mp4"
    for by in ("motion", "pacing", "both"):
        hits = idx.search(query, k=3, by=by)
        assert len(hits) == 3 and all(h.path != str(query) for h in hits)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert [h.rank for h in hits] == [1, 2, 3]
    both = idx.search(query, k=3, by="both", weights=FusionWeights(0.5, 0.5))
    for h in both:
        assert h.score == pytest.approx(0.5 * h.motion + 0.5 * h.pacing, abs=1e-6)
        assert sum(h.moment_contributions) == pytest.approx(h.motion, abs=1e-5)
    with_self = idx.search(query, k=1, exclude_self=False)
    assert with_self[0].path == str(query) and with_self[0].motion == pytest.approx(1.0, abs=1e-5)
    by_id = idx.search(with_self[0].id, k=2)
    assert [h.id for h in by_id] == [h.id for h in idx.search(query, k=2)]


def test_query_clip_outside_index_is_embedded_with_index_config(tmp_path, corpus, make_clip):
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    outside = make_clip("outside.mp4", motion="linear", colour=(40, 230, 40))
    hits = idx.search(outside, k=4)
    feats = idx.embed(outside)
    assert feats.moments.shape == (idx.manifest.moments_dim,)
    ids = np.array([r["id"] for r in idx.records()])
    exact = ids[np.argsort(-(idx.moments(ids) @ feats.moments))][:4]
    assert [h.id for h in hits] == exact.tolist()


def test_filters_sql_and_curve_cast(tmp_path, corpus):
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    hits = idx.search(corpus / "lin_red.mp4", k=10, where="path LIKE '%/sub/%'")
    assert {os.path.basename(h.path) for h in hits} == {"zig_blue.mp4", "static_grey.mp4"}
    matched = idx.filter_ids("array_cosine_similarity(spf_curve, spf_curve) > 0.99")
    assert set(matched.tolist()) == {r["id"] for r in idx.records() if any(r["spf_curve"])}
    assert set(idx.filter_ids("duration > 100").tolist()) == set()
    with pytest.raises(FilterError, match="Columns"):
        idx.filter_ids("no_such_column > 1")
    with pytest.raises(FilterError):
        idx.filter_ids("1=1; DROP TABLE clips")
    with pytest.raises(FilterError):  # external access is off: filters cannot read files
        idx.filter_ids("EXISTS (SELECT * FROM read_csv('/etc/passwd'))")


def test_bad_files_recorded_and_run_continues(tmp_path, corpus, real_clips):
    (corpus / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (corpus / "empty.mkv").write_bytes(b"")
    (corpus / "notes.mp4").write_text("hello")
    data = (real_clips / "bikes.mp4").read_bytes()
    (corpus / "truncated.mp4").write_bytes(data[: len(data) // 40])
    idx = Index.create(tmp_path / "idx", TINY)
    report = idx.add([corpus])
    failed = {os.path.basename(p): reason for p, reason in report.failed}
    assert {"broken.mp4", "empty.mkv", "notes.mp4"} <= set(failed)
    assert "empty file" in failed["empty.mkv"]
    assert report.added >= 4 and not report.ok
    errors = {os.path.basename(e["path"]) for e in Index.open(tmp_path / "idx").errors()}
    assert set(failed) == errors
    # fixing a file clears its error and indexes it; nothing indexed before is lost
    shutil.copyfile(real_clips / "carphone_distorted.mp4", corpus / "notes.mp4")
    before = {r["path"] for r in idx.records()}
    report = idx.add([corpus])
    assert "notes.mp4" not in {os.path.basename(p) for p, _ in report.failed}
    assert before < {r["path"] for r in idx.records()}


def test_config_mismatch_and_missing_index(tmp_path, corpus):
    Index.create(tmp_path / "idx", TINY).add([corpus])
    with pytest.raises(ConfigMismatchError, match="num_frames"):
        Index.open(
            tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=16)
        )
    with pytest.raises(ConfigMismatchError, match="alpha"):
        Index.open_or_create(
            tmp_path / "idx",
            ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8, alpha=(1, 1, 1)),
        )
    rebuilt = Index.open_or_create(
        tmp_path / "idx",
        ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=16),
        rebuild=True,
    )
    assert len(rebuilt) == 0 and rebuilt.config.num_frames == 16
    with pytest.raises(IndexNotFoundError, match="no vidsearch index"):
        Index.open(tmp_path / "nothing")


def test_second_writer_is_refused(tmp_path, corpus):
    from filelock import FileLock

    idx = Index.create(tmp_path / "idx", TINY)
    with FileLock(str(tmp_path / "idx" / store.LOCK)):
        with pytest.raises(IndexLockedError, match="another vidsearch process"):
            idx.add([corpus])


def test_discover_walks_recursively_safely(tmp_path, make_clip):
    from vidsearch.indexers.corpus import discover_videos

    root = tmp_path / "root"
    (root / "deep" / "er").mkdir(parents=True)
    make_clip("clip é ünïcode 動画.mp4", folder=root)
    make_clip("x.MOV", folder=root / "deep" / "er")
    (root / "readme.txt").write_text("not a video")
    (root / ".hidden.mp4").write_bytes(b"")
    (root / "deep" / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop
    (root / "dangling.mp4").symlink_to(tmp_path / "gone.mp4")
    found = discover_videos([root])
    assert [p.rsplit("/", 1)[-1] for p in found] == ["x.MOV", "clip é ünïcode 動画.mp4"] or sorted(
        p.rsplit("/", 1)[-1] for p in found
    ) == sorted(["x.MOV", "clip é ünïcode 動画.mp4"])
    assert len(found) == 2
    idx = Index.create(tmp_path / "idx", TINY)
    report = idx.add([root])
    assert report.added == 2 and report.ok


def test_long_lived_reader_refreshes_after_another_writer_commits(tmp_path, corpus, make_clip):
    writer = Index.create(tmp_path / "idx", TINY)
    writer.add([corpus / "sub"])
    reader = Index.open(tmp_path / "idx")
    assert len(reader) == 2 and not reader.refresh()
    Index.open(tmp_path / "idx").add([corpus])
    assert reader.refresh() and len(reader) == 4
    hits = reader.search(corpus / "lin_red.mp4", k=5, exclude_self=False)
    assert hits[0].path.endswith("lin_red.mp4") and len(reader.records()) == 4
