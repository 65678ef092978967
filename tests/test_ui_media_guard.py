"""The UI serves a segment's video only while the file at the indexed path is still the file that
was indexed: a hard-link or copy swapped in answers 410 (unread when its size differs), a restored
identical copy is served after its content hash matches, byte ranges come from the verified
descriptor, segments committed while the UI runs are served without a search first, and a video
reached through a symlink out of the corpus has both its media and its poster."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from test_ui import _get
from ui_corpus import free_port

from vidsearch.app.ui import media
from vidsearch.app.ui.media import Refusal
from vidsearch.app.ui.routes import byte_range
from vidsearch.app.ui.service import SearchService
from vidsearch.indexers.config import PUBLISHED, SegmentConfig
from vidsearch.retrieval.index import Index

CONFIG = replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="none"))
SECRET = b"root:x:0:0:not-for-the-browser\n"


def _hash_calls(monkeypatch) -> list[int]:
    """Count the content hashes the media guard computes (it imports ``stream_hash`` per call)."""
    from vidsearch.indexers import corpus

    calls: list[int] = []
    original = corpus.stream_hash
    monkeypatch.setattr(corpus, "stream_hash", lambda fh: calls.append(1) or original(fh))
    return calls


@pytest.fixture
def swap_corpus(tmp_path, real_clips):
    corpus = tmp_path / "corpus"
    outside = tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    shutil.copy(real_clips / "carphone_distorted.mp4", corpus / "swap.mp4")
    shutil.copy(real_clips / "carphone_pristine.mp4", outside / "elsewhere.mp4")
    (corpus / "linked.mp4").symlink_to(outside / "elsewhere.mp4")
    (outside / "passwd").write_bytes(SECRET)
    index = Index.create(tmp_path / "idx", CONFIG)
    report = index.add([corpus])
    assert report.added == 2 and not report.failed
    ids = {Path(r["path"]).name: r["id"] for r in index.records()}
    return {
        "corpus": corpus,
        "outside": outside,
        "index": index,
        "ids": ids,
        "original": (corpus / "swap.mp4").read_bytes(),
    }


@pytest.fixture
def swap_server(swap_corpus):
    from vidsearch.app.ui.blocks import launch

    demo = launch(swap_corpus["index"].dir, port=free_port(), prevent_thread_lock=True)
    yield demo.local_url.rstrip("/")
    demo.close()


def test_a_hard_link_swapped_in_at_an_indexed_path_is_refused_unread(swap_corpus, swap_server, monkeypatch):
    swap, sid = swap_corpus["corpus"] / "swap.mp4", swap_corpus["ids"]["swap.mp4"]
    assert _get(swap_server, f"/vidsearch/media/{sid}") == (200, swap_corpus["original"])
    hashed = _hash_calls(monkeypatch)
    swap.unlink()
    os.link(swap_corpus["outside"] / "passwd", swap)  # `rm swap.mp4; ln /etc/passwd swap.mp4`
    for headers in (None, {"Range": "bytes=0-9"}):
        status, body = _get(swap_server, f"/vidsearch/media/{sid}", headers=headers)
        assert status == 410 and b"changed since it was indexed" in body and SECRET[:4] not in body
    assert not hashed  # another size: refused without reading the file


def test_a_same_size_copy_is_hashed_once_and_refused_and_a_restored_copy_is_served(swap_corpus, monkeypatch):
    service = SearchService(swap_corpus["index"])
    swap, sid, original = swap_corpus["corpus"] / "swap.mp4", swap_corpus["ids"]["swap.mp4"], swap_corpus["original"]
    hashed = _hash_calls(monkeypatch)
    swap.unlink()
    swap.write_bytes((SECRET * (len(original) // len(SECRET) + 1))[: len(original)])  # `cp .env swap.mp4`, padded
    for _ in range(3):
        refused = service.open_media(sid)
        assert isinstance(refused, Refusal) and refused.status == 410
    assert len(hashed) == 1  # the verdict is cached for this very file
    swap.unlink()
    swap.write_bytes(original)  # the indexed content again: another inode and mtime, the same hash
    opened = service.open_media(sid)
    try:
        assert os.pread(opened.fd, opened.size, 0) == original and len(hashed) == 2
    finally:
        opened.close()


def test_symlinks_and_vanished_files_are_refused(swap_corpus):
    service = SearchService(swap_corpus["index"])
    swap, sid = swap_corpus["corpus"] / "swap.mp4", swap_corpus["ids"]["swap.mp4"]
    swap.unlink()
    swap.symlink_to(swap_corpus["outside"] / "passwd")
    assert service.open_media(sid) == Refusal(410, media.SYMLINK_REASON)
    swap.unlink()
    assert service.open_media(sid).status == 404 and service.media_file(sid) is None
    assert service.open_media(987_654).status == 404


def test_an_index_without_file_identity_falls_back_to_the_content_hash(swap_corpus, monkeypatch):
    service = SearchService(swap_corpus["index"])
    sid = swap_corpus["ids"]["swap.mp4"]
    record = {**service.record(sid), "inode": None, "device": None}  # as written before identity was stored
    monkeypatch.setattr(service, "record", lambda segment_id: record)
    hashed = _hash_calls(monkeypatch)
    for _ in range(2):
        opened = service.open_media(sid)
        assert opened.size == len(swap_corpus["original"])
        opened.close()
    assert len(hashed) == 1
    monkeypatch.setitem(record, "hash", "0" * 32)
    assert service.open_media(sid).status == 410


def test_a_symlinked_video_outside_the_corpus_has_its_media_and_its_poster(swap_corpus, swap_server):
    sid = swap_corpus["ids"]["elsewhere.mp4"]  # recorded at its resolved path, outside the corpus root
    target = swap_corpus["outside"] / "elsewhere.mp4"
    assert _get(swap_server, f"/vidsearch/media/{sid}") == (200, target.read_bytes())
    status, body = _get(swap_server, f"/vidsearch/poster/{sid}")
    assert status == 200 and body.startswith(b"\xff\xd8\xff")
    target.unlink()
    target.symlink_to(swap_corpus["outside"] / "passwd")
    assert _get(swap_server, f"/vidsearch/media/{sid}")[0] == 410


def test_segments_committed_while_the_ui_runs_are_served_without_a_search(swap_corpus, swap_server, real_clips):
    late = swap_corpus["corpus"] / "late.mp4"
    shutil.copy(real_clips / "bikes.mp4", late)
    writer = Index.open(swap_corpus["index"].dir)  # `vidsearch index` in another process
    assert writer.add([swap_corpus["corpus"]]).added == 1
    sid = writer.segments_of(late)[0]["id"]
    assert _get(swap_server, f"/vidsearch/poster/{sid}")[0] == 200
    assert _get(swap_server, f"/vidsearch/media/{sid}", headers={"Range": "bytes=100-199"}) == (
        206,
        late.read_bytes()[100:200],
    )


def test_byte_ranges():
    assert byte_range(None, 100) is None and byte_range("bytes=0-1,5-6", 100) is None
    assert byte_range("bytes=10-19", 100) == (10, 19) and byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=-10", 100) == (90, 99) and byte_range("bytes=95-500", 100) == (95, 99)
    assert byte_range("bytes=100-", 100) == "unsatisfiable" and byte_range("bytes=5-2", 100) == "unsatisfiable"


def test_files_parts_written_before_file_identity_read_it_as_null(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vidsearch.retrieval.store.fragment import read_files
    from vidsearch.retrieval.store.schema import FILES_SCHEMA

    old_schema = pa.schema([f for f in FILES_SCHEMA if f.name not in ("inode", "device")])
    row = {"file_id": 1, "path": "/v/a.mp4", "size": 10, "mtime": 1.0, "hash": "ab", "duration": 1.0, "fps": 25.0}
    (tmp_path / "files").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=old_schema), tmp_path / "files" / "old.parquet")
    files = read_files(tmp_path, "old.parquet")
    assert files.schema == FILES_SCHEMA and files.to_pylist()[0]["inode"] is None
    assert files.to_pylist()[0]["path"] == "/v/a.mp4"
