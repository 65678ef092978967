"""Damage is detected, never served: a corruption matrix on a small real index. For each kind
of damage ``verify`` names it (exit 1), reads refuse with one line or stay correct, and
``repair`` brings back results equal to a clean build (the sources still exist)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmarks.faults import DAMAGE, answers, fragment_dir, nan_rows
from vidsearch.app.cli import app
from vidsearch.indexers.config import PUBLISHED, SegmentConfig
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.repair import repair
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.manifest import IndexDamagedError, IndexStoreError

CONFIG = replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="window", window=2.0))
CLIPS = ["bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4"]


@pytest.fixture(scope="module")
def clean(real_clips, tmp_path_factory):
    """An index built file by file (one fragment per file), then one segment removed."""
    root = tmp_path_factory.mktemp("integrity")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in CLIPS:
        shutil.copyfile(real_clips / name, corpus / name)
    idx = Index.create(root / "clean", CONFIG)
    for name in CLIPS:
        idx.add([corpus / name])
    idx.remove([idx.records()[1]["id"]])
    idx.add([corpus])  # the roots cover the corpus folder
    return root / "clean", corpus


def _answers(directory, corpus):
    return answers(directory, corpus / "bikes.mp4")


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_named_refused_and_repaired(clean, tmp_path, kind):
    directory, corpus = clean
    expected = _answers(directory, corpus)
    assert Index.open(directory).verify(deep=True).ok
    copy = tmp_path / "idx"
    shutil.copytree(directory, copy)
    DAMAGE[kind](copy)

    result = CliRunner().invoke(app, ["verify", "--deep", "--index", str(copy)])
    assert result.exit_code == 1, result.output
    assert "DAMAGED" in result.output and "Traceback" not in result.output

    try:  # a read either refuses with one line naming verify / repair, or answers exactly as before
        answers = _answers(copy, corpus)
    except IndexDamagedError as exc:
        assert "vidsearch verify" in str(exc) and "vidsearch repair" in str(exc) and "\n" not in str(exc)
        assert str(copy) in str(exc)
    else:
        assert answers == expected, kind
    query = CliRunner().invoke(app, ["query", str(corpus / "bikes.mp4"), "--index", str(copy), "-k", "3"])
    assert query.exit_code in (0, 2) and "Traceback" not in query.output and "nan" not in query.output.lower()

    report = repair(copy)
    assert report.found and report.ok, (report.actions, report.lost, report.after and report.after.lines())
    assert not report.lost or "newest snapshot" in kind
    assert Index.open(copy).verify(deep=True).ok
    assert _answers(copy, corpus) == expected


def test_verify_names_the_fragment_and_segments(clean, tmp_path):
    directory, corpus = clean
    copy = tmp_path / "idx"
    shutil.copytree(directory, copy)
    frag = fragment_dir(copy)
    nan_rows(frag / "moments.npy")
    report = Index.open(copy).verify(deep=True)
    ids = np.load(frag / "ids.npy")
    nan = [p for p in report.problems if "non-finite" in p.what]
    assert [p.fragment for p in nan] == [frag.name] and set(nan[0].segments) == {int(ids[0]), int(ids[-1])}
    assert any("differs from its checksum" in line and frag.name in line for line in report.lines())
    with pytest.raises(IndexDamagedError, match=frag.name):
        Index.open(copy).search(corpus / "bigbuckbunny.mp4", k=20, by="motion")


def _as_before_checksums(directory):
    """The snapshots as an older vidsearch wrote them: no checksums, no chain, no manifest copy."""
    for version in snap.versions(directory):
        path = snap.snapshot_path(directory, version)
        data = json.loads(path.read_text())
        for key in ("checksums", "parent", "manifest"):
            data.pop(key)
        path.write_text(json.dumps(data))
    (directory / "snapshots" / snap.HEAD).unlink()


@pytest.mark.parametrize("kind", ["byte flips in moments", "NaN rows in moments", "NaN rows, no checksums"])
def test_compact_refuses_to_carry_damage_forward(clean, tmp_path, kind):
    directory, _ = clean
    copy = tmp_path / "idx"
    shutil.copytree(directory, copy)
    frag = fragment_dir(copy)
    if kind == "NaN rows, no checksums":  # found by the scan of the rows compact merges
        _as_before_checksums(copy)
        kind = "NaN rows in moments"
    DAMAGE[kind](copy)
    version = snap.latest_version(copy)
    result = CliRunner().invoke(app, ["compact", "--index", str(copy)])
    assert result.exit_code == 2 and frag.name in result.output and "vidsearch repair" in result.output
    assert "Traceback" not in result.output and snap.latest_version(copy) == version
    assert not snap.garbage(copy, [snap.load(copy, v) for v in snap.versions(copy)])


def test_index_without_checksums_opens_and_is_unchecked_until_compacted(clean, tmp_path):
    directory, corpus = clean
    copy = tmp_path / "idx"
    shutil.copytree(directory, copy)
    _as_before_checksums(copy)
    fast = Index.open(copy).verify()
    assert fast.ok and fast.unchecked and "without a checksum" in fast.summary()
    assert _answers(copy, corpus) == _answers(directory, corpus)
    Index.open(copy).compact()
    after = Index.open(copy).verify(deep=True)
    assert after.ok and not after.unchecked


def test_failed_commit_leaves_the_manifest_unchanged_at_zero_bytes_free(clean, tmp_path, monkeypatch):
    import errno
    import os

    directory, corpus = clean
    copy = tmp_path / "idx"
    shutil.copytree(directory, copy)
    more = tmp_path / "more"
    more.mkdir()
    shutil.copyfile(corpus / "carphone_pristine.mp4", more / "again.mp4")

    def full(fd):  # no byte can be written: every atomic write fails
        raise OSError(errno.ENOSPC, "No space left on device")

    idx = Index.open(copy)
    idx.remove([idx.records()[0]["id"]])  # a tombstone for compact to drop
    manifest, version = (copy / "manifest.json").read_bytes(), snap.latest_version(copy)
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(IndexStoreError, match=r"could not commit \(the disk is full\)"):
        Index.open(copy).add([more])
    assert (copy / "manifest.json").read_bytes() == manifest and snap.latest_version(copy) == version
    with pytest.raises(IndexStoreError, match=r"could not commit \(the disk is full\)"):
        Index.open(copy).remove([idx.records()[0]["id"]])
    result = CliRunner().invoke(app, ["compact", "--index", str(copy)])
    assert result.exit_code == 2 and "could not compact (the disk is full)" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3
    monkeypatch.undo()
    assert Index.open(copy).verify(deep=True).ok
