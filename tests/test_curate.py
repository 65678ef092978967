"""``vidsearch curate`` on real and generated clips, with the real efficientnet-lite0 weights
(fast preset; the dedup thresholds and static cut-offs are calibrated for it and the default).

Corpus: three real clips, the heavily compressed real copy of one (carphone_distorted), a byte
copy and two re-encoded/downscaled copies made here, a generated static clip and a frozen real
frame. Nothing about the expected groups is stored in the files: the test knows which file came
from which source and checks the commands find it from the pixels.
"""

from __future__ import annotations

import json
import os
import shutil

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import render_pattern
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.curation.cluster import ClusterConfig, cluster_segments
from vidsearch.curation.dedup import DedupConfig, deduplicate
from vidsearch.curation.export import export_selection
from vidsearch.curation.filter import FilterConfig, filter_segments
from vidsearch.curation.sample import SampleConfig, sample_segments
from vidsearch.curation.selection import Selection, SelectionError
from vidsearch.curation.source import IndexSource
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.video import decode_all, write_video

BACKBONE = "efficientnet-lite0"
runner = CliRunner()
# The tests on the real corpus fixture (EfficientNet-Lite0 on ten real clips: minutes on a small
# machine) run with the slow tests; tests/test_cli_output.py covers sample and export on a tiny index.
REAL_CORPUS = pytest.mark.slow


def _downscaled_copy(src, dst, crf: int) -> None:
    import cv2

    v = decode_all(src)
    h, w = v.frames.shape[1:3]
    write_video(
        dst, np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in v.frames]), v.fps, crf=crf
    )


def render_motion(kind: str, rng: np.random.Generator, n: int = 48, size: int = 96) -> np.ndarray:
    """A square on a random background colour, in a random colour, moving as ``kind`` says with
    random direction / phase: the look varies inside a motion type, the motion between types."""
    bg, col = rng.integers(10, 80, 3), rng.integers(120, 255, 3)
    frames = np.empty((n, size, size, 3), np.uint8)
    frames[:] = bg
    t = np.linspace(0, 1, n)
    side, ang, phase = size // 4, rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
    for i in range(n):
        s = side
        if kind == "translate":
            cx, cy = 0.5 + 0.35 * np.cos(ang) * (2 * t[i] - 1), 0.5 + 0.35 * np.sin(ang) * (2 * t[i] - 1)
        elif kind == "pulse":
            cx, cy, s = 0.5, 0.5, int(side * (1 + 0.8 * np.sin(2 * np.pi * 3 * t[i] + phase)))
        else:  # orbit
            cx, cy = 0.5 + 0.3 * np.cos(4 * np.pi * t[i] + phase), 0.5 + 0.3 * np.sin(4 * np.pi * t[i] + phase)
        x0, y0 = int(cx * size - s / 2), int(cy * size - s / 2)
        frames[i, max(0, y0) : max(0, y0 + s), max(0, x0) : max(0, x0 + s)] = col
    return frames


def _index(corpus, directory, frames: int = 32) -> IndexSource:
    from vidsearch.retrieval.index import Index

    index = Index.open_or_create(
        directory, ExtractorConfig(segment=SegmentConfig(mode="none"), backbone=BACKBONE, num_frames=frames)
    )
    report = index.add([corpus])
    assert report.ok, report.failed
    return IndexSource(index)


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory, real_clips):
    root = tmp_path_factory.mktemp("curate-real")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in ("bikes", "bigbuckbunny", "carphone_pristine", "carphone_distorted"):
        shutil.copy(real_clips / f"{name}.mp4", corpus / f"{name}.mp4")
    shutil.copy(real_clips / "bikes.mp4", corpus / "bikes_bytecopy.mp4")
    _downscaled_copy(real_clips / "bikes.mp4", corpus / "bikes_half.mp4", crf=28)
    _downscaled_copy(real_clips / "bigbuckbunny.mp4", corpus / "bigbuckbunny_half.mp4", crf=28)
    write_video(corpus / "static_square.mp4", render_pattern(48, 96, "static"), 16)
    frame = decode_all(real_clips / "bikes.mp4", max_side=320).frames[60:61]
    write_video(corpus / "frozen_bikes.mp4", np.repeat(frame, 50, axis=0), 25)
    source = _index(corpus, root / "idx")
    by_name = {r["path"].rsplit("/", 1)[-1][:-4]: r["id"] for r in source.table(source.ids(), ["path"]).to_pylist()}
    return source, by_name, root


@pytest.fixture(scope="module")
def motion_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("curate-motion")
    corpus = root / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    for kind in ("translate", "pulse", "orbit"):
        for j in range(4):
            write_video(corpus / f"{kind}_{j}.mp4", render_motion(kind, rng), 16)
    source = _index(corpus, root / "idx", frames=16)
    kinds = {
        r["id"]: r["path"].rsplit("/", 1)[-1].split("_")[0] for r in source.table(source.ids(), ["path"]).to_pylist()
    }
    return source, kinds, root


@REAL_CORPUS
def test_dedup_groups_copies_with_their_source_and_keeps_the_best(real_corpus):
    source, ids, _ = real_corpus
    result = deduplicate(source, Selection.everything(source), DedupConfig.for_backbone(BACKBONE))
    groups = {frozenset(g.members): g for g in result.groups}
    bikes = frozenset(ids[n] for n in ("bikes", "bikes_bytecopy", "bikes_half"))
    bunny = frozenset(ids[n] for n in ("bigbuckbunny", "bigbuckbunny_half"))
    assert bikes in groups and bunny in groups, [sorted(g.members) for g in result.groups]
    # The only other group allowed: the real heavily compressed copy of carphone with its original
    # (efficientnet-lite0 does not join them, 0.65 / 0.76 cosines; the default backbone does).
    others = [g for g in result.groups if frozenset(g.members) not in (bikes, bunny)]
    assert all(set(g.members) == {ids["carphone_pristine"], ids["carphone_distorted"]} for g in others)
    # Keep rule: full resolution beats the half-size copies; same resolution -> higher bitrate.
    assert groups[bikes].keep in (ids["bikes"], ids["bikes_bytecopy"])
    assert groups[bunny].keep == ids["bigbuckbunny"]
    assert all(g.keep == ids["carphone_pristine"] for g in others)
    assert result.report.removed == {"exact duplicates": 1, "near duplicates": 2 + len(others)}
    assert len(result.selection) == len(source) - 3 - len(others)
    kept = dict(zip(result.selection.ids, result.selection.columns["dup_count"]))
    assert kept[groups[bikes].keep] == 2


@REAL_CORPUS
def test_exact_duplicates_alone_and_scaled_search_agree(real_corpus):
    source, ids, _ = real_corpus
    exact = deduplicate(source, Selection.everything(source), DedupConfig.for_backbone(BACKBONE, near=False))
    assert [sorted(g.members) for g in exact.groups] == [sorted([ids["bikes"], ids["bikes_bytecopy"]])]
    assert exact.groups[0].kind == "exact"
    # The k-means path (several clusters, probe 3) finds the same groups as one exact cluster here.
    full = deduplicate(source, Selection.everything(source), DedupConfig.for_backbone(BACKBONE))
    clustered = deduplicate(
        source, Selection.everything(source), DedupConfig.for_backbone(BACKBONE, clusters=3, probe=3)
    )
    assert sorted(map(sorted, (g.members for g in clustered.groups))) == sorted(
        map(sorted, (g.members for g in full.groups))
    )


@REAL_CORPUS
def test_filter_drops_static_segments_and_reports_each_rule(real_corpus):
    source, ids, _ = real_corpus
    sel, report = filter_segments(source, Selection.everything(source), FilterConfig())
    kept = set(sel.ids.tolist())
    assert ids["static_square"] not in kept and ids["frozen_bikes"] not in kept
    assert {ids[n] for n in ("bikes", "bigbuckbunny", "carphone_pristine", "carphone_distorted")} <= kept
    assert report.removed["semantic change"] + report.removed["token motion"] == 2
    assert report.before == len(source) and report.after == len(source) - 2
    assert np.all(sel.columns["token_motion"] > 0.03)

    sel2, report2 = filter_segments(source, sel, FilterConfig(None, None, where="width >= 640", max_linearity=1.0))
    assert report2.removed == {"linearity": 0, "where": len(sel) - len(sel2)}
    widths = source.table(sel2.ids, ["width"]).column("width").to_pylist()
    assert widths and min(widths) >= 640 and ids["carphone_pristine"] not in sel2.ids


def test_clusters_separate_generated_motion_types(motion_corpus):
    source, kinds, _ = motion_corpus
    result = cluster_segments(source, Selection.everything(source), ClusterConfig(k=3))
    labels = dict(zip(result.selection.ids.tolist(), result.selection.columns["cluster"].tolist()))
    truth = np.array([kinds[i] for i in labels])
    pred = np.array(list(labels.values()))
    purity = sum(np.unique(truth[pred == c], return_counts=True)[1].max() for c in np.unique(pred)) / len(pred)
    assert purity >= 0.8, (purity, list(zip(truth, pred)))
    for info in result.clusters:
        assert info.medoid == info.members[0] and labels[info.medoid] == info.cluster and info.size == len(info.members)


def test_sample_covers_every_cluster_and_pacing_balance(motion_corpus):
    source, kinds, _ = motion_corpus
    clustered = cluster_segments(source, Selection.everything(source), ClusterConfig(k=3)).selection
    quota, report = sample_segments(source, clustered, SampleConfig(6, method="quota"))
    assert len(quota) == 6 and report.removed == {"not sampled": 6}
    assert sorted(np.bincount(quota.columns["cluster"]).tolist()) == [2, 2, 2]
    fps, _ = sample_segments(source, Selection.everything(source), SampleConfig(3))
    assert len({kinds[i] for i in fps.ids.tolist()}) >= 2  # farthest points spread over motion types
    balanced, _ = sample_segments(source, Selection.everything(source), SampleConfig(4, balance_pacing=True))
    assert len(balanced) == 4 and "pacing_class" in balanced.columns


@REAL_CORPUS
def test_export_round_trips_and_cuts_decode_with_the_right_durations(real_corpus, tmp_path):
    source, ids, _ = real_corpus
    picked = Selection.everything(source).take(np.isin(source.ids(), [ids["bikes"], ids["carphone_pristine"]]))
    picked = picked.with_columns(cluster=np.array([0, 1], np.int32))
    result = export_selection(
        source, picked, tmp_path / "out", tmp_path / "out" / "clips", tmp_path / "out" / "shards", shard_size=1
    )
    table = pq.read_table(result.manifest_parquet).to_pylist()
    lines = [json.loads(line) for line in result.manifest_jsonl.read_text().splitlines()]
    assert [r["id"] for r in table] == [r["id"] for r in lines] == picked.ids.tolist()
    assert [r["cluster"] for r in table] == [0, 1] and len(table[0]["spf_curve"]) == 64
    assert result.copied == 2 and result.reencoded == 0 and not result.failed  # whole files: stream copy
    shutil.move(tmp_path / "out", tmp_path / "moved")  # the dataset moves as one folder: files stay found
    for row in table:
        assert not os.path.isabs(row["file"])
        with av.open(str(tmp_path / "moved" / row["file"])) as c:
            n = sum(1 for _ in c.decode(c.streams.video[0]))
            rate = float(c.streams.video[0].average_rate)
        assert row["cut"] == "copy" and abs(n / rate - row["duration_s"]) < 0.1, (row, n, rate)
    import tarfile

    assert len(result.shards) == 2
    with tarfile.open(tmp_path / "moved" / "shards" / result.shards[1].name) as tar:
        assert tar.getnames() == ["000001.mp4", "000001.json"]
        assert json.loads(tar.extractfile("000001.json").read())["id"] == ids["carphone_pristine"]


def test_cut_mid_file_range_reencodes_and_keyframe_range_copies(real_clips, tmp_path):
    from vidsearch.curation.cutting import cut_segment, keyframe_times

    src = str(real_clips / "bikes.mp4")
    keys, end, step = keyframe_times(src)
    assert len(keys) > 2 and abs(end - 10.0) < 0.05
    copied = cut_segment(src, keys[1], keys[2], tmp_path / "a.mp4")
    reenc = cut_segment(src, keys[1] + 0.2, keys[1] + 1.7, tmp_path / "b.mp4")
    assert copied.mode == "copy" and reenc.mode == "reencode"
    for cut, expected in ((copied, keys[2] - keys[1]), (reenc, 1.5)):
        with av.open(str(cut.path)) as c:
            n = sum(1 for _ in c.decode(c.streams.video[0]))
        assert n == cut.frames and abs(n * step - expected) <= 1.5 * step, (cut, n, expected)


@REAL_CORPUS
def test_cli_chain_dry_run_and_errors(real_corpus, tmp_path):
    _, _, root = real_corpus
    idx = ["--index", str(root / "idx")]
    s1, s2, s3, s4 = (tmp_path / f"s{i}.parquet" for i in range(1, 5))
    r = runner.invoke(app, ["curate", "dedup", *idx, "--dry-run"])
    assert r.exit_code == 0 and "dry run" in r.output and not s1.exists()
    r = runner.invoke(app, ["curate", "dedup", *idx, "-o", str(s1), "--groups", str(tmp_path / "g.jsonl")])
    assert r.exit_code == 0, r.output
    groups = [json.loads(line) for line in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert "exact duplicates: removed 1" in r.output and len(groups) >= 2
    r = runner.invoke(app, ["curate", "filter", *idx, "--from", str(s1), "-o", str(s2)])
    kept = len(Selection.read(s1)) - 2  # the static and the frozen clip go
    assert r.exit_code == 0 and f"-> {kept} segments" in r.output, r.output
    summary = tmp_path / "clusters.json"
    r = runner.invoke(
        app,
        ["curate", "cluster", *idx, "--from", str(s2), "-o", str(s3), "-k", "2", "--sheets", str(tmp_path / "sheets")]
        + ["--json", str(summary)],
    )
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "sheets").glob("cluster-*.png"))) == 2
    clustered = Selection.read(s3)
    for c in json.loads(summary.read_text()):  # members as plain JSON ids, each in its cluster
        assert c["medoid"] == c["members"][0] and c["size"] == len(c["members"])
        assert set(c["members"]) == set(clustered.ids[clustered.columns["cluster"] == c["cluster"]].tolist())
    r = runner.invoke(app, ["curate", "sample", *idx, "--from", str(s3), "-n", "500", "--dry-run"])
    assert r.exit_code == 0 and f"asked for 500 segments but the selection has {len(Selection.read(s3))}" in r.output
    r = runner.invoke(app, ["curate", "sample", *idx, "--from", str(s3), "-n", "3", "--method", "quota", "-o", str(s4)])
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    steps = [s["step"] for s in Selection.read(s4).steps]
    assert steps == ["dedup", "filter", "cluster", "sample"]
    r = runner.invoke(app, ["curate", "export", *idx, "--from", str(s4), "-o", str(tmp_path / "ds")])
    assert r.exit_code == 0 and pq.read_table(tmp_path / "ds" / "manifest.parquet").num_rows == 3
    r = runner.invoke(app, ["curate", "report", *idx, "--from", str(s3), "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "rep" / "index.html").read_text()
    assert (
        "histograms.png" in html
        and "cluster-000.png" in html
        and (tmp_path / "rep" / "histograms.png").stat().st_size > 1000
    )

    for args in (
        ["curate", "dedup", *idx],
        ["curate", "filter", *idx, "--from", str(tmp_path / "nope.parquet"), "--dry-run"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "error:" in r.output and "Traceback" not in r.output, r.output


@REAL_CORPUS
def test_selection_from_another_index_is_refused(real_corpus, motion_corpus, tmp_path):
    real, _, _ = real_corpus
    motion, _, _ = motion_corpus
    path = Selection.everything(real).write(tmp_path / "s.parquet")
    assert len(Selection.read(path, real)) == len(real)
    with pytest.raises(SelectionError, match="another index"):
        Selection.read(path, motion)
