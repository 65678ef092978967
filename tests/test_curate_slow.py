"""Dedup and the static filter with the real default weights (dinov2-s14), whose calibrated
thresholds are the defaults users get. Slow: indexing 9 real clips at ~13 frames/s."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import render_pattern

from vidsearch.curation.dedup import DedupConfig, deduplicate
from vidsearch.curation.filter import FilterConfig, filter_segments
from vidsearch.curation.selection import Selection
from vidsearch.curation.source import IndexSource
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.video import decode_all, write_video

pytestmark = pytest.mark.slow


def _variant(src, dst, kind: str) -> None:
    import cv2

    v = decode_all(src, max_side=640)
    f = v.frames
    h, w = f.shape[1:3]
    if kind == "half":
        out, crf = np.stack([cv2.resize(x, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for x in f]), 30
    elif kind == "crop":
        out, crf = f[:, h // 10 : h - h // 10, w // 10 : w - w // 10], 18
    else:  # recolour: channels swapped and a gamma curve
        out, crf = (255 * (f[..., ::-1] / 255.0) ** 0.7).astype(np.uint8), 18
    write_video(dst, out, v.fps, crf=crf)


def test_default_backbone_groups_copies_and_drops_static(tmp_path, real_clips):
    from vidsearch.retrieval.index import Index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("bikes", "bigbuckbunny", "carphone_pristine", "carphone_distorted"):
        shutil.copy(real_clips / f"{name}.mp4", corpus)
    _variant(real_clips / "bikes.mp4", corpus / "bikes_recol.mp4", "recolour")
    _variant(real_clips / "bikes.mp4", corpus / "bikes_half.mp4", "half")
    _variant(real_clips / "bigbuckbunny.mp4", corpus / "bigbuckbunny_crop.mp4", "crop")
    write_video(corpus / "static.mp4", render_pattern(48, 96, "static"), 16)
    frame = decode_all(real_clips / "bikes.mp4", max_side=320).frames[60:61]
    write_video(corpus / "frozen.mp4", np.repeat(frame, 50, axis=0), 25)
    index = Index.open_or_create(tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none")))
    assert index.add([corpus]).ok
    source = IndexSource(index)
    name = {r["id"]: r["path"].rsplit("/", 1)[-1][:-4] for r in source.table(source.ids(), ["path"]).to_pylist()}

    moving, report = filter_segments(source, Selection.everything(source), FilterConfig())
    assert sorted(set(name.values()) - {name[i] for i in moving.ids}) == ["frozen", "static"], report

    result = deduplicate(source, moving, DedupConfig.for_backbone("dinov2-s14"))
    groups = sorted(sorted(name[i] for i in g.members) for g in result.groups)
    assert groups == [
        ["bigbuckbunny", "bigbuckbunny_crop"],
        ["bikes", "bikes_half", "bikes_recol"],
        ["carphone_distorted", "carphone_pristine"],
    ]
    kept = {name[g.keep] for g in result.groups}
    # Resolution first (the crop and the half-size copy lose), then bitrate: the recoloured copy,
    # re-encoded at CRF 18, may carry more bits than the original and then wins the tie.
    assert {"bigbuckbunny", "carphone_pristine"} <= kept and kept & {"bikes", "bikes_recol"}
