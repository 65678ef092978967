"""The schema-2 store: segments, snapshots, tombstones, compaction, migration, filters."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidsearch.indexers.config import PUBLISHED
from vidsearch.indexers.decode.video import probe
from vidsearch.indexers.features import embed_clip
from vidsearch.indexers.pipeline import FileResult, SegmentResult
from vidsearch.retrieval.filters import FilterError
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import snapshot
from vidsearch.retrieval.store.manifest import LegacySchemaError
from vidsearch.retrieval.types import FusionWeights, RangeQuery

# The published moments (motion = moments cosine), which these store/search tests assert on.
TINY = replace(PUBLISHED, backbone="tiny-random", num_frames=8)
WINDOW_S = 1.0


def _windowed_pipeline(monkeypatch, window_s: float = WINDOW_S):
    """Replace the pipeline by one that cuts each file into ``window_s`` windows (real decoding and
    embedding of each time range), as a segmenting pipeline would hand them to ``Index.add``."""
    from vidsearch.retrieval import index as index_module

    def windowed(paths, config, encoder, *, runtime, stats, on_result):
        for path in paths:
            info = probe(path)
            bounds = np.arange(0.0, info.duration, window_s)
            segments = []
            for i, start in enumerate(bounds):
                end = min(start + window_s, info.duration)
                feats = embed_clip(path, config, encoder, start_s=float(start), end_s=float(end))
                poster = f"jpeg-{os.path.basename(path)}-{i}".encode()
                segments.append(
                    SegmentResult(
                        i, int(start * info.fps), int(end * info.fps), float(start), float(end), feats, poster
                    )
                )
            stats.clips += 1
            on_result(FileResult(path, info, segments))
        return stats

    monkeypatch.setattr(index_module, "run_pipeline", windowed)


@pytest.fixture
def corpus(tmp_path, make_clip):
    folder = tmp_path / "corpus"
    folder.mkdir()
    make_clip("lin.mp4", folder=folder, motion="linear", n_frames=48)  # 3 s at 16 fps
    make_clip("circle.mp4", folder=folder, motion="circle", n_frames=48)
    make_clip("zig.mp4", folder=folder, motion="zigzag", n_frames=32, colour=(40, 40, 230))
    return folder


def test_segments_stored_searched_and_grouped(tmp_path, corpus, monkeypatch):
    _windowed_pipeline(monkeypatch)
    idx = Index.create(tmp_path / "idx", TINY)
    report = idx.add([corpus])
    assert report.added == 3 and report.segments == 3 + 3 + 2 and len(idx) == 8
    segs = idx.segments_of(corpus / "lin.mp4")
    assert [(s["segment_index"], s["start_s"], s["end_s"]) for s in segs] == [
        (0, 0.0, 1.0),
        (1, 1.0, 2.0),
        (2, 2.0, 3.0),
    ]
    assert idx.segments_of(segs[0]["file_id"]) == segs
    rec = idx.get(segs[1]["id"])
    assert (
        rec["path"] == str(corpus / "lin.mp4") and rec["duration"] == pytest.approx(3.0) and len(rec["spf_curve"]) == 64
    )
    assert idx.poster(segs[1]["id"]) == b"jpeg-lin.mp4-1"

    # an indexed segment id as query: itself excluded, others ranked by exact cosine
    hits = idx.search(segs[1]["id"], k=7)
    assert segs[1]["id"] not in [h.id for h in hits] and len(hits) == 7
    ids = np.array([r["id"] for r in idx.records()])
    q = idx.moments([segs[1]["id"]])[0]
    exact = [i for i in ids[np.argsort(-(idx.moments(ids) @ q), kind="stable")] if i != segs[1]["id"]][:7]
    assert [h.id for h in hits] == exact
    # group by file: one hit per file, the best segment of each
    grouped = idx.search(segs[1]["id"], k=5, group_by="file")
    assert len(grouped) == 3 and len({h.file_id for h in grouped}) == 3
    for h in grouped:
        same_file = [x for x in hits if x.file_id == h.file_id]
        assert not same_file or h.score >= max(x.score for x in same_file) - 1e-6

    # a range query equal to a stored segment reuses it (and excludes it); another range is embedded
    reused = idx.search(RangeQuery(str(corpus / "lin.mp4"), 1.0, 2.0), k=3)
    assert [h.id for h in reused] == [h.id for h in hits[:3]]
    lin = RangeQuery(str(corpus / "lin.mp4"), 0.5, 1.5)
    embedded = idx.search(lin, k=8, exclude_self=False, strict_direction=True)
    feats = idx.embed(corpus / "lin.mp4", 0.5, 1.5)
    assert embedded[0].motion == pytest.approx(float(np.max(idx.moments(ids) @ feats.moments)), abs=1e-5)
    # by default the mirrored query counts too: its score is the better of the two forms, the
    # mirror's less the mirror margin
    mirrored = idx.embed(corpus / "lin.mp4", 0.5, 1.5, mirror=True).mirror_moments
    margin = FusionWeights().mirror_margin
    both_forms = np.maximum(idx.moments(ids) @ feats.moments, idx.moments(ids) @ mirrored - margin)
    default = idx.search(lin, k=8, exclude_self=False)
    assert default[0].motion == pytest.approx(float(np.max(both_forms)), abs=1e-5)
    assert len(embedded) == 8  # nothing excluded: the range is not a stored segment

    # a multi-segment file as query: searched with its stored segments, none of them come back
    by_file = idx.search(corpus / "lin.mp4", k=8)
    assert len(by_file) == 5 and not {s["id"] for s in segs} & {h.id for h in by_file}

    # pickers page through segments without loading everything
    page = idx.page(0, 3) + idx.page(3, 10)
    assert [r["id"] for r in page] == sorted(ids.tolist()) and "spf_curve" not in page[0]
    assert {r["path"] for r in idx.page(0, 100, contains="ZIG")} == {str(corpus / "zig.mp4")}
    # batches cover every live segment once, with file columns joined
    seen = {}
    for batch_ids, cols in idx.iter_batches(["moments", "spf_curve", "path", "start_s"], batch_size=3):
        assert cols["moments"].shape == (len(batch_ids), idx.manifest.moments_dim) and len(cols["path"]) == len(
            batch_ids
        )
        seen.update(zip(batch_ids.tolist(), cols["path"].tolist()))
    assert sorted(seen) == sorted(ids.tolist()) and seen[segs[0]["id"]] == str(corpus / "lin.mp4")


def test_indexed_files_and_ranges_query_with_stored_segments_without_the_encoder(tmp_path, corpus, monkeypatch):
    _windowed_pipeline(monkeypatch)
    Index.create(tmp_path / "idx", TINY).add([corpus])
    idx = Index.open(tmp_path / "idx")

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder was loaded for a query the index already holds")

    monkeypatch.setattr("vidsearch.indexers.encoders.load_encoder", no_encoder)
    lin = [s["id"] for s in idx.segments_of(corpus / "lin.mp4")]
    ids = np.array([r["id"] for r in idx.records()])
    others = ids[~np.isin(ids, lin)]
    best = (idx.moments(others) @ idx.moments(lin).T).max(axis=1)  # each hit at its best query segment

    plan = idx.plan_query(corpus / "lin.mp4")
    assert plan.stored == tuple(lin) and "using the 3 stored segments of" in plan.describe()
    hits = idx.search(corpus / "lin.mp4", k=len(others))
    assert [h.id for h in hits] == others[np.argsort(-best, kind="stable")].tolist()
    np.testing.assert_allclose([h.motion for h in hits], np.sort(best)[::-1], atol=1e-5)
    grouped = idx.search(corpus / "lin.mp4", k=5, group_by="file")
    assert len(grouped) == 2 and grouped[0].id == hits[0].id

    # a range made of stored segments (frames as the decoder would pick them) uses them
    two = idx.plan_query(RangeQuery(str(corpus / "lin.mp4"), 1.0, 3.0))
    assert two.stored == tuple(lin[1:]) and "using the 2 stored segments" in two.describe()
    near = RangeQuery(str(corpus / "lin.mp4"), 1.02, 1.98)  # frames 16-32: exactly segment 1
    assert idx.plan_query(near).stored == (lin[1],)
    near_hits = idx.search(near, k=len(ids))
    assert lin[1] not in [h.id for h in near_hits] and len(near_hits) == len(ids) - 1

    # a range cutting through segments is embedded (the encoder is needed) and leaves out the
    # stored segments it overlaps, unless asked to keep them
    with pytest.raises(AssertionError, match="encoder was loaded"):
        idx.search(RangeQuery(str(corpus / "lin.mp4"), 0.5, 1.5), k=3)
    monkeypatch.undo()
    cut = RangeQuery(str(corpus / "lin.mp4"), 0.5, 1.5)
    assert idx.plan_query(cut).needs_embedding and set(idx.plan_query(cut).own) == set(lin[:2])
    default = idx.search(cut, k=len(ids))
    assert not set(lin[:2]) & {h.id for h in default} and len(default) == len(ids) - 2
    kept = idx.search(cut, k=len(ids), keep_overlapping=True)
    assert len(kept) == len(ids) and set(lin[:2]) <= {h.id for h in kept}


def test_changed_file_replaces_its_segments_and_deleted_rows_never_return(tmp_path, corpus, make_clip, monkeypatch):
    _windowed_pipeline(monkeypatch)
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    old = {s["id"] for s in idx.segments_of(corpus / "lin.mp4")}
    make_clip("lin.mp4", folder=corpus, motion="circle", n_frames=32)  # changed content, now 2 s
    report = idx.add([corpus])
    assert (report.added, report.removed, report.skipped) == (1, 1, 2)
    new = idx.segments_of(corpus / "lin.mp4")
    assert len(new) == 2 and not old & {s["id"] for s in new} and len(idx) == 7
    for sid in old:
        with pytest.raises(KeyError):
            idx.get(sid)
    removed = next(iter({s["id"] for s in idx.segments_of(corpus / "zig.mp4")}))
    assert idx.remove([removed]) == 1 and len(idx) == 6
    gone = old | {removed}
    for by in ("motion", "pacing", "both"):
        hits = idx.search(new[0]["id"], k=10, by=by, exclude_self=False)
        assert len(hits) == 6 and not gone & {h.id for h in hits}
    assert not gone & set(idx.filter_ids("1 = 1").tolist())
    # compaction drops the tombstones and old snapshots; ids and results are unchanged
    before = [(h.id, round(h.score, 5)) for h in idx.search(new[0]["id"], k=10)]
    summary = idx.compact()
    assert summary["tombstones_dropped"] == len(gone) and summary["fragments_after"] == 1
    assert snapshot.versions(tmp_path / "idx") == [summary["snapshot"]]
    fresh = Index.open(tmp_path / "idx")
    assert [(h.id, round(h.score, 5)) for h in fresh.search(new[0]["id"], k=10)] == before
    assert fresh.poster(new[1]["id"]) == b"jpeg-lin.mp4-1"
    # removing a file's last segment removes the file: the next run leaves it out until asked
    zig = [s["id"] for s in fresh.segments_of(corpus / "zig.mp4")]
    fresh.remove(zig)
    assert fresh.segments_of(corpus / "zig.mp4") == [] and fresh.add([corpus]).added == 0
    assert fresh.add([corpus], include_removed=True).added == 1


def test_filters_over_fragments_and_clean_errors(tmp_path, corpus, monkeypatch):
    _windowed_pipeline(monkeypatch)
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus / "lin.mp4"])
    idx.add([corpus])  # two commits: the filter reads both fragments
    assert len(snapshot.latest(tmp_path / "idx").fragments) == 2
    late = idx.filter_ids("start_s >= 1 AND path LIKE '%zig%'")
    assert [idx.get(i)["start_s"] for i in late] == [1.0]
    assert len(idx.filter_ids("duration > 2.5")) == 6 and len(idx.filter_ids("segment_duration < 1.5")) == 8
    hits = idx.search(corpus / "circle.mp4", k=10, where="path NOT LIKE '%lin%'")
    assert hits and all("lin" not in h.path for h in hits)
    with pytest.raises(FilterError) as err:
        idx.filter_ids("no_such_column > 1")
    message = str(err.value)
    assert (
        "no_such_column" in message
        and "Columns: id, file_id" in message
        and "LINE" not in message
        and "/" not in message.split("Columns")[0]
    )
    with pytest.raises(FilterError, match="Columns"):
        idx.filter_ids("nonexistent_fn(start_s) > 1")
    with pytest.raises(FilterError):  # only the index's own fragments are readable
        idx.filter_ids("EXISTS (SELECT * FROM read_csv('/etc/passwd'))")


def test_file_and_segment_level_filters_match_the_general_query(tmp_path, corpus, monkeypatch):
    """Conditions over file columns only skip the segment rows, conditions over segment columns
    only skip the join with the files; with two fragments (one read from Parquet, written before
    the Arrow tables) and a deleted segment they admit exactly the ids of the general query."""
    from vidsearch.retrieval import filters
    from vidsearch.retrieval.store.fragment import SEGMENT_TABLE

    _windowed_pipeline(monkeypatch)
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus / "lin.mp4"])
    next((tmp_path / "idx" / "fragments").rglob(SEGMENT_TABLE)).unlink()  # the first fragment as written before
    idx.add([corpus])
    idx.remove([idx.segments_of(corpus / "circle.mp4")[0]["id"]])
    idx = Index.open(tmp_path / "idx")
    by_file = [
        "duration > 2.5",
        "path LIKE '%zig%' OR width < 0",
        "fps = 16 AND duration < 2.5",
        "1 = 1",
        "duration > 1e9",
    ]
    by_segment = ["segment_duration < 1.5", "start_s >= 1 AND segment_index < 2", "end_s > 1e9", "linearity_max >= 0"]
    roads: list[str] = []
    real = {name: getattr(filters.MetadataFilter, name) for name in ("_file_level", "_segment_level")}

    def spy(name):
        def road(self, where):
            found = real[name](self, where)
            roads.append(name if found is not None else "")
            return found

        return road

    for name in real:
        monkeypatch.setattr(filters.MetadataFilter, name, spy(name))
    fast = [idx.filter_ids(w).tolist() for w in by_file + by_segment]
    assert [r for r in roads if r] == ["_file_level"] * len(by_file) + ["_segment_level"] * len(by_segment)
    roads.clear()
    assert idx.filter_ids("start_s >= 1 AND path LIKE '%zig%'").tolist() and not any(
        roads
    )  # both kinds: the general query
    for name in real:
        monkeypatch.setattr(filters.MetadataFilter, name, lambda self, w: None)
    general = filters.MetadataFilter(idx._reader)
    assert fast == [general.ids(w).tolist() for w in by_file + by_segment]
    assert (
        fast[0] and fast[4] == [] and len(fast[3]) == len(idx) == 7 and fast[5] and fast[7] == [] and len(fast[8]) == 7
    )


SCHEMA_1 = pa.schema(
    [
        ("id", pa.int64()), ("path", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()), ("hash", pa.string()),
        ("duration", pa.float64()), ("fps", pa.float64()), ("width", pa.int32()), ("height", pa.int32()),
        ("frame_count", pa.int64()), ("spf_curve", pa.list_(pa.float32(), 64)), ("linearity_max", pa.float32()),
        ("linearity_mean", pa.float32()), ("segments", pa.list_(pa.int32())), ("moments", pa.list_(pa.float32(), 96)),
        ("indexed_at", pa.timestamp("s", tz="UTC")),
    ]
)  # fmt: skip


def _write_schema_1(directory, clips, encoder):
    """An index exactly as vidsearch 0.1 wrote it: manifest v1 + one clips.parquet (+ errors)."""
    from vidsearch.indexers.corpus import content_hash, stat_file

    config = TINY.with_weights(encoder.weights_id)
    directory.mkdir()
    rows = []
    for i, clip in enumerate(clips, start=3):  # ids need not start at 1
        f = embed_clip(clip, config, encoder)
        st = stat_file(clip)
        rows.append(
            dict(
                id=i,
                path=st.path,
                size=st.size,
                mtime=st.mtime,
                hash=content_hash(clip),
                duration=f.info.duration,
                fps=f.info.fps,
                width=f.info.width,
                height=f.info.height,
                frame_count=f.info.frame_count,
                spf_curve=f.spf.curve.tolist(),
                linearity_max=f.spf.max_dev,
                linearity_mean=f.spf.mean_dev,
                segments=list(f.spf.breakpoints),
                moments=f.moments.tolist(),
                indexed_at=None,
            )
        )
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA_1), directory / "clips.parquet")
    (directory / "moments-abc.faiss").write_bytes(b"old faiss")
    manifest = {
        "schema_version": 1,
        "created_at": "2026-11-24T00:00:00+00:00",
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint(),
        "moments_dim": 96,
        "roots": [str(clips[0].parent)],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return rows


def test_schema_1_index_is_refused_clearly_then_migrated(tmp_path, corpus):
    from typer.testing import CliRunner

    from vidsearch.app.cli import app
    from vidsearch.indexers.encoders import load_encoder

    clips = sorted(corpus.glob("*.mp4"))
    rows = _write_schema_1(tmp_path / "old", clips, load_encoder("tiny-random"))
    with pytest.raises(LegacySchemaError, match="vidsearch migrate"):
        Index.open(tmp_path / "old")
    runner = CliRunner()
    refused = runner.invoke(app, ["stats", "--index", str(tmp_path / "old")])
    assert refused.exit_code == 2 and "migrate" in refused.output and "Traceback" not in refused.output
    result = runner.invoke(app, ["migrate", "--index", str(tmp_path / "old")])
    assert result.exit_code == 0, result.output
    idx = Index.open(tmp_path / "old")
    assert (
        len(idx) == 3
        and not (tmp_path / "old" / "clips.parquet").exists()
        and not list((tmp_path / "old").glob("*.faiss"))
    )
    for row in rows:  # ids kept, one whole-file segment each, vectors as stored (float16 precision)
        rec = idx.get(row["id"])
        assert (rec["path"], rec["file_id"], rec["start_s"], rec["end_s"]) == (
            row["path"],
            row["id"],
            0.0,
            row["duration"],
        )
        np.testing.assert_allclose(idx.moments([row["id"]])[0], row["moments"], atol=2e-3)
        np.testing.assert_allclose(rec["spf_curve"], row["spf_curve"], atol=1e-3)
    assert idx.config.segment.mode == "none"
    hits = idx.search(clips[0], k=2)  # the file is recognised as indexed: its segment is the query
    assert len(hits) == 2 and all(h.path != str(clips[0]) for h in hits)
    assert idx.add([corpus]).skipped == 3  # nothing re-embedded after migration


def test_aux_descriptors_stored_as_columns(tmp_path, corpus, monkeypatch):
    from vidsearch.retrieval import index as index_module

    real = index_module.run_pipeline

    def with_aux(paths, config, encoder, **kw):
        on_result = kw.pop("on_result")

        def add_aux(result):
            for seg in result.segments:  # a per-segment descriptor derived from the real features
                seg.features.aux["flow"] = seg.features.moments[:5] * 2
            on_result(result)

        return real(paths, config, encoder, on_result=add_aux, **kw)

    monkeypatch.setattr(index_module, "run_pipeline", with_aux)
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    assert Index.open(tmp_path / "idx").manifest.aux_dims == {
        "activity": 2,
        "flow": 5,
    }  # activity is always kept (curation)
    sid = idx.records()[0]["id"]
    np.testing.assert_allclose(idx.get(sid)["aux_flow"], idx.moments([sid])[0][:5] * 2, atol=2e-3)
    np.testing.assert_allclose(idx.features_of(sid).aux["flow"], idx.get(sid)["aux_flow"])
    ids, cols = next(idx.iter_batches(["aux_flow"], 10))
    assert cols["aux_flow"].shape == (len(ids), 5)


def test_cli_segments_range_query_info_compact(tmp_path, corpus, monkeypatch):
    from typer.testing import CliRunner

    from vidsearch.app.cli import app

    _windowed_pipeline(monkeypatch)
    runner = CliRunner()
    index = ["--index", str(tmp_path / "idx")]
    assert runner.invoke(app, ["index", str(corpus), *index, "-b", "tiny-random", "-T", "8"]).exit_code == 0
    result = runner.invoke(
        app, ["query", str(corpus / "lin.mp4"), "--start", "1", "--end", "2", *index, "--json", "-k", "3"]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and all({"start_s", "end_s", "file_id", "segment_index"} <= set(h) for h in hits)
    assert not any(h["path"].endswith("lin.mp4") and h["start_s"] == 1.0 for h in hits)  # the stored range itself
    grouped = json.loads(
        runner.invoke(app, ["query", str(corpus / "zig.mp4"), *index, "--json", "--group-by", "file"]).stdout
    )
    assert sorted(os.path.basename(h["path"]) for h in grouped) == ["circle.mp4", "lin.mp4"]
    info = runner.invoke(app, ["info", str(corpus / "lin.mp4"), *index])
    assert info.exit_code == 0 and "segments: 3" in info.output and "1.00-2.00 s" in info.output
    bad = runner.invoke(app, ["query", "--id", "1", "--start", "1", *index])
    assert bad.exit_code == 2 and "--start/--end" in bad.output
    sid = hits[0]["id"]
    assert runner.invoke(app, ["remove", str(sid), *index]).exit_code == 0
    compacted = runner.invoke(app, ["compact", *index])
    assert compacted.exit_code == 0 and "1 deleted rows" in compacted.output
    stats = json.loads(runner.invoke(app, ["stats", *index, "--json"]).stdout)
    assert (stats["segments"], stats["deleted_segments"], stats["fragments"]) == (7, 0, 1)


def test_fragments_without_the_arrow_table_read_the_same_from_parquet(tmp_path, corpus, monkeypatch):
    """Records, pages, filters and searches of fragments written before the memory-mapped Arrow
    table (``segments.arrow``) come from their Parquet rows, identical to the table's."""
    from vidsearch.retrieval.store.fragment import SEGMENT_TABLE

    _windowed_pipeline(monkeypatch, window_s=0.5)
    idx = Index.create(tmp_path / "idx", TINY)
    idx.add([corpus])
    tables = list((tmp_path / "idx" / "fragments").rglob(SEGMENT_TABLE))
    assert tables

    def observe(index: Index) -> tuple:
        records = index.records()
        query = index.features_of(records[2]["id"])
        hits = [
            (h.id, h.start_s, h.record["breakpoints"], h.record["indexed_at"])
            for h in index.search(query, k=5, by="both")
        ]
        return (
            records,
            index.page(1, 3),
            index.filter_ids("start_s >= 0.5").tolist(),
            hits,
            index.segments_of(records[0]["path"]),
        )

    with_table = observe(Index.open(tmp_path / "idx"))
    for path in tables:
        path.unlink()
    assert observe(Index.open(tmp_path / "idx")) == with_table
