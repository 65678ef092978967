"""Motion invariances (issue 25): a mirrored motion matches by default (not with strict direction),
tempo joins pacing so a 2x copy ranks below the normal-speed one, through exact and ANN search.

The flow descriptor's mirror and speed are checked on real decoded footage; the rankings with
the real default backbone on short real clips (slow); older indexes without tempo still search.
"""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.bench.real_footage import change_appearance
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.video import decode_all, write_video
from vidsearch.indexers.descriptors.flow import FLOW_DIM, MIRROR, flow_descriptor, flow_speed, mirror_flow
from vidsearch.indexers.descriptors.spf import SpfSignature
from vidsearch.indexers.features import ClipFeatures
from vidsearch.retrieval import search
from vidsearch.retrieval.calibration import Calibration, estimate
from vidsearch.retrieval.scoring import pacing_with_tempo, segment_rates, tempo_similarity
from vidsearch.retrieval.store import ann
from vidsearch.retrieval.types import FusionWeights


def _sample(frames: np.ndarray, t: int = 16) -> np.ndarray:
    return frames[np.round(np.linspace(0, len(frames) - 1, t)).astype(int)]


def test_mirror_flow_is_the_flipped_clips_descriptor_and_speed_tells_a_2x_copy(slot):
    ref = _sample(slot[:50])
    plain = flow_descriptor(ref)
    flipped = flow_descriptor(np.ascontiguousarray(ref[:, :, ::-1]))
    assert float(mirror_flow(plain) @ flipped) > 0.999 > float(plain @ flipped) + 0.1
    assert np.array_equal(MIRROR[MIRROR], np.arange(FLOW_DIM))  # an involution over every bin
    assert mirror_flow(plain)[-1] == plain[-1]  # the stillness anchor stays
    double = flow_descriptor(_sample(slot[:100:2]))
    assert flow_speed(double) > 1.15 * flow_speed(plain)
    assert flow_speed(flow_descriptor(np.repeat(ref[:1], 16, axis=0))) < 0.1 * flow_speed(plain)


def test_tempo_blends_into_pacing_and_falls_back_to_shape_where_unknown():
    rates = segment_rates([1.0, 2.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0])
    assert rates[0] == 1.0 and rates[1] == 2.0 and np.isnan(rates[2:]).all()
    tempo = tempo_similarity(1.0, rates)
    assert tempo[0] == pytest.approx(1.0) and tempo[1] == pytest.approx(0.5, abs=0.01) and np.isnan(tempo[2:]).all()
    shape = np.array([0.9, 0.9, 0.9, 0.9], np.float32)
    blended = pacing_with_tempo(shape, tempo, FusionWeights(tempo=0.5))
    assert blended[0] > blended[1] and np.array_equal(blended[2:], shape[2:])
    assert np.array_equal(pacing_with_tempo(shape, tempo, FusionWeights(tempo=0.0)), shape)
    with pytest.raises(ValueError, match="tempo share"):
        FusionWeights(tempo=1.5)


def _flows(rng, count):
    v = np.abs(rng.normal(size=(count, FLOW_DIM))).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _query(idx, segment_id, flow=None, seconds=None, activity=None):
    from vidsearch.indexers.decode.video import VideoInfo

    curve = np.linspace(0, 1, 64, dtype=np.float32) ** 1.5
    aux = {} if flow is None else {"flow": flow}
    if activity is not None:
        aux["activity"] = activity
    info = None if seconds is None else VideoInfo(seconds, 16.0, 64, 64, int(16 * seconds))
    return ClipFeatures(idx.moments([segment_id])[0], SpfSignature(curve, 0.0, 0.0, [], curve), info, aux)


def test_mirrored_query_forms_stay_exact_through_the_ann_shortlist(tmp_path, monkeypatch):
    """With the flow histogram's layout stored, the motion shortlist searches the query and its
    mirror image: ANN results equal exact search, strict or not, and the mirror of a stored
    segment's flow finds that segment first unless the search is strict about direction."""
    from benchmarks.store import synthetic_index

    monkeypatch.setattr(ann, "ANN_THRESHOLD", 500)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 500)
    idx = synthetic_index(tmp_path / "syn", 3000, dim=48, chunk=1200, flow=_flows, flow_dim=FLOW_DIM)
    assert idx.ann is not None
    stored = idx._reader.aux(np.array([7]), "flow")[0]
    mirrored = _query(idx, 7, flow=mirror_flow(stored))
    queries = [mirrored, _query(idx, 1500, flow=_flows(np.random.default_rng(1), 1)[0])]
    weights = FusionWeights(flow=0.9)

    def run():
        return [
            [(h.id, round(h.score, 5)) for h in idx.search(q, k=10, by=by, weights=weights, strict_direction=strict)]
            for q in queries
            for by in ("motion", "both")
            for strict in (False, True)
        ]

    fast = run()
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert fast == run()
    assert idx.search(mirrored, k=1, weights=weights)[0].id == 7
    assert idx.search(mirrored, k=1, weights=weights, strict_direction=True)[0].id != 7


def test_a_mirrored_match_counts_only_past_the_mirror_margin(tmp_path):
    """The mirror image's motion score counts less the margin: a segment matched better by the
    mirror scores max(direct, mirror - margin), and a margin of 1 is the strict ranking."""
    from benchmarks.store import synthetic_index

    idx = synthetic_index(tmp_path / "syn", 400, dim=48, chunk=400, flow=_flows, flow_dim=FLOW_DIM)
    stored = idx._reader.aux(np.array([7]), "flow")[0]
    query = _query(idx, 7, flow=mirror_flow(stored))

    def scores(**kw) -> dict[int, float]:
        hits = idx.search(query, k=400, weights=FusionWeights(flow=0.9, **kw.pop("margin", {})), **kw)
        return {h.id: h.score for h in hits}

    free = scores(margin={"mirror_margin": 0.0})
    default = scores()
    strict = scores(strict_direction=True)
    margin = FusionWeights().mirror_margin
    assert margin > 0
    for sid in free:
        assert default[sid] == pytest.approx(max(strict[sid], free[sid] - margin), abs=1e-5)
    assert free[7] - strict[7] > margin  # the mirrored copy wins by more than the margin: still first
    assert max(default, key=default.get) == 7
    assert scores(margin={"mirror_margin": 1.0}) == pytest.approx(strict, abs=1e-6)
    with pytest.raises(ValueError, match="mirror margin"):
        FusionWeights(mirror_margin=-0.1)


def test_an_index_without_tempo_descriptors_searches_by_shape(tmp_path):
    """Older indexes (no flow, no activity stored): pacing is the curves' shape, whatever the
    tempo share, and a stored calibration of the previous version is re-estimated, not misread."""
    from benchmarks.store import synthetic_index

    idx = synthetic_index(tmp_path / "old", 300, dim=24)
    assert "activity" not in idx.manifest.aux_dims and "flow" not in idx.manifest.aux_dims
    q = _query(idx, 3, seconds=2.0, activity=np.array([0.8, 0.1], np.float32))
    for by in ("pacing", "both"):
        with_tempo = idx.search(q, k=5, by=by)
        shape_only = idx.search(q, k=5, by=by, weights=FusionWeights(tempo=0.0))
        assert [(h.id, h.score) for h in with_tempo] == [(h.id, h.score) for h in shape_only]
    ids = np.arange(1, 11)
    cal = estimate(idx.moments(ids), idx._reader.curves(ids))
    path = cal.save(tmp_path / "old")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "version"}
    np.savez(path, **arrays)  # as version 1 wrote it
    assert Calibration.load(tmp_path / "old") is None


@pytest.mark.slow
def test_default_search_matches_a_mirrored_real_clip_unless_strict_and_ranks_a_2x_copy_below(real_clips, tmp_path):
    """The default encoder and configuration on real footage (a rabbit walking across the frame).
    A mirrored copy queried as a new clip finds its original first by default; with strict
    direction a recoloured copy moving the query's way on screen wins instead. A recoloured copy
    at normal speed ranks above a 2x copy of the same footage, and tempo lowers the 2x copy's pacing."""
    from vidsearch.retrieval.index import Index

    slot = decode_all(real_clips / "bigbuckbunny.mp4", max_side=256).frames[:100]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    ref = slot[:50]
    mirror = np.ascontiguousarray(ref[:, :, ::-1])
    clips = {
        "ref": ref,
        "recoloured": change_appearance(ref, "recolour", np.random.default_rng(0)),
        "mirror_recoloured": change_appearance(mirror, "recolour", np.random.default_rng(1)),
        "double": slot[:100:2],
        "reversed": ref[::-1],
        "window": slot[50:100],
    }
    paths = {name: str(write_video(corpus / f"{name}.mp4", frames, 25.0)) for name, frames in clips.items()}
    query = str(write_video(tmp_path / "mirror.mp4", mirror, 25.0))
    index = Index.open_or_create(tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none")))
    assert index.add([corpus]).ok
    assert index.search(query, k=1, by="both")[0].path == paths["ref"]
    assert index.search(query, k=1, by="both", strict_direction=True)[0].path == paths["mirror_recoloured"]
    ranked = [h.path for h in index.search(paths["ref"], k=5, by="both")]
    assert ranked.index(paths["recoloured"]) < ranked.index(paths["double"])
    pacing = {h.path: h.pacing for h in index.search(paths["ref"], k=5, by="pacing")}
    shape = {h.path: h.pacing for h in index.search(paths["ref"], k=5, by="pacing", weights=FusionWeights(tempo=0))}
    assert shape[paths["double"]] - pacing[paths["double"]] > shape[paths["recoloured"]] - pacing[paths["recoloured"]]


def test_cli_strict_direction_and_tempo_share(tmp_path, make_clip):
    """The query options reach the search: the mirror-aware motion score is the max over the
    query's two forms, so it is never below the strict one; a tempo share outside 0..1 is one
    clear error."""
    import json

    from typer.testing import CliRunner

    from vidsearch.app.cli import app

    runner = CliRunner()
    corpus = tmp_path / "c"
    corpus.mkdir()
    for name, motion in (("a.mp4", "linear"), ("b.mp4", "circle"), ("c.mp4", "zigzag")):
        make_clip(name, folder=corpus, motion=motion)
    index = ["--index", str(tmp_path / "idx")]
    made = runner.invoke(app, ["index", str(corpus), *index, "-b", "tiny-random", "-T", "8"])
    assert made.exit_code == 0, made.output

    def query(*extra):
        result = runner.invoke(app, ["query", str(corpus / "a.mp4"), *index, "--json", *extra])
        assert result.exit_code == 0, result.output
        return {h["path"]: h for h in json.loads(result.stdout)}

    default, strict = query("--by", "motion"), query("--by", "motion", "--strict-direction")
    assert set(default) == set(strict)
    assert all(default[p]["motion"] >= strict[p]["motion"] - 1e-6 for p in default)
    shape = query("--by", "pacing", "--tempo-share", "0")
    assert all(0.0 <= h["pacing"] <= 1.0 for h in shape.values())
    bad = runner.invoke(app, ["query", str(corpus / "a.mp4"), *index, "--tempo-share", "1.5"])
    assert bad.exit_code == 2 and "tempo share" in bad.output and "Traceback" not in bad.output
