"""The compressed ANN path (IVF-PQ shortlists + exact re-rank) on test-sized indexes with tiny
thresholds: same results as exact search, incremental codes per fragment, tombstones respected."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
from test_store import _windowed_pipeline  # noqa: E402  (the tests folder is on sys.path)

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.descriptors.spf import SpfSignature
from vidsearch.indexers.features import ClipFeatures
from vidsearch.retrieval import search
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store import ann, snapshot


@pytest.fixture
def small_thresholds(monkeypatch):
    monkeypatch.setattr(ann, "ANN_THRESHOLD", 500)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 500)


def _query(idx, segment_id, power=1.5):
    curve = np.linspace(0, 1, 64, dtype=np.float32) ** power
    return ClipFeatures(idx.moments([segment_id])[0], SpfSignature(curve, 0.0, 0.0, [], curve))


def test_ann_shortlists_match_exact_search(tmp_path, monkeypatch, small_thresholds):
    from benchmarks.store import synthetic_index

    idx = synthetic_index(tmp_path / "syn", 4000, dim=48, chunk=1500)
    assert idx.ann is not None and "PQ" in idx.stats()["vector_search"]
    cases = [("motion", None), ("pacing", None), ("both", None), ("motion", "duration > 50"), ("both", "duration > 50")]
    queries = [_query(idx, i, p) for i, p in ((17, 1.5), (2222, 0.7), (3999, 1.0))]
    fast = [[h.id for h in idx.search(q, k=10, by=by, where=w)] for q in queries for by, w in cases]
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    exact = [[h.id for h in idx.search(q, k=10, by=by, where=w)] for q in queries for by, w in cases]
    assert fast == exact
    durations = {r["id"]: r["duration"] for r in idx.page(0, 10_000)}
    assert all(durations[i] > 50 for row in fast[3::5] + fast[4::5] for i in row)


def test_where_filters_after_or_during_the_ann_search_by_selectivity(tmp_path, monkeypatch, small_thresholds):
    """A broad filter (~50 %) filters an unrestricted shortlist, a selective one (~10 %) restricts
    the search with an id bitmap; both equal exact search, and a repeated filter skips DuckDB."""
    from benchmarks.store import synthetic_index
    from vidsearch.retrieval import filters

    monkeypatch.setattr(search, "RERANK_DEPTH", 40)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 40)
    idx = synthetic_index(tmp_path / "syn", 3000, dim=48, chunk=1200)
    selectors = []
    real = ann.PqIndex._search
    monkeypatch.setattr(
        ann.PqIndex,
        "_search",
        lambda self, q, k, nprobe, sel: selectors.append(sel is not None) or real(self, q, k, nprobe, sel),
    )
    queries = [_query(idx, i) for i in (7, 1234, 2900)]
    run = lambda w: [[h.id for h in idx.search(q, k=10, where=w)] for q in queries]  # noqa: E731
    broad, narrow = run("duration > 50"), run("duration > 90")
    assert selectors == [False] * 3 + [True] * 3
    queried = []
    monkeypatch.setattr(filters.MetadataFilter, "_query", lambda self, w: queried.append(w) or np.array([], np.int64))
    assert run("duration > 50") == broad and not queried  # cached per snapshot
    monkeypatch.undo()
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert broad == run("duration > 50") and narrow == run("duration > 90")


def test_motion_index_over_moments_and_flow_ranks_by_the_blended_score(tmp_path, monkeypatch, small_thresholds):
    """With stored flow the motion shortlist comes from the joint [moments, flow] index: for any
    flow share (0, the default, all flow) and with a filter, ANN results equal exact search."""
    from benchmarks.store import synthetic_index
    from vidsearch.retrieval.types import FusionWeights

    def flows(rng, count):
        v = rng.normal(size=(count, 20)).astype(np.float32) + 0.5
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    idx = synthetic_index(tmp_path / "syn", 3000, dim=48, chunk=1200, flow=flows, flow_dim=20)
    assert "moments + flow" in idx.stats()["vector_search"]
    assert idx.ann.layout == {"moments": 48, "flow": 20, "pad": 60}  # 68 zero-padded to 128, a multiple of the PQ size
    rng = np.random.default_rng(5)

    def query(i):
        q = _query(idx, i)
        flow = flows(rng, 1)[0]
        return ClipFeatures(q.moments, q.spf, aux={"flow": flow})

    queries = [query(i) for i in (3, 1500, 2999)]
    cases = [
        ("motion", FusionWeights(), None),
        ("motion", FusionWeights(flow=0.0), None),
        ("motion", FusionWeights(flow=1.0), None),
        ("both", FusionWeights(), None),
        ("motion", FusionWeights(), "duration > 50"),
    ]

    def run():
        return [
            [(h.id, round(h.score, 5)) for h in idx.search(q, k=10, by=by, weights=w, where=wh)]
            for q in queries
            for by, w, wh in cases
        ]

    fast = run()
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert fast == run()
    # the blended score is what the ANN index's inner product computes
    stored = ann._vectors(idx._reader, 0, np.arange(5), "motion", idx.ann.layout)
    q = queries[0]
    blended = ann.motion_query(idx.ann.layout, q.moments, q.aux["flow"], 0.5) @ stored.T
    exact = {h.id: h.motion for h in idx.search(q, k=3000, exclude_self=False) if h.id <= 5}
    assert np.allclose(blended, [exact[i] for i in range(1, 6)], atol=1e-3)
    # the index's estimates (projected 8-bit refine codes + the centring constant) are motion scores, as
    # --by both fuses them with pacing before the exact re-rank
    ids, estimates = idx.ann.motion_search(q.moments, q.aux["flow"], 0.5, 50)
    every = {h.id: h.motion for h in idx.search(q, k=3000, exclude_self=False)}
    assert np.abs(estimates - np.array([every[i] for i in ids])).max() < 0.02


@pytest.mark.parametrize("layout", ["ivf-pq", "ivf-sq8"])
def test_motion_index_of_an_earlier_layout_still_loads_and_grows(tmp_path, monkeypatch, small_thresholds, layout):
    """An index whose motion ANN has an earlier layout (IVF-PQ over the full vectors, no
    projection; or IVF-SQ8 over the projection, no refine codes) opens, gets codes for a new
    fragment without retraining, and still equals exact search; compaction moves it to the
    current layout (4-bit fast-scan codes over the projection + 8-bit refine codes)."""
    from benchmarks.store import synthetic_index
    from vidsearch.retrieval.store.snapshot import commit

    monkeypatch.setattr(ann, *(("MOTION_PCA_DIM", 0) if layout == "ivf-pq" else ("MOTION_CODES", "sq8")))
    synthetic_index(tmp_path / "old", 3000, dim=48, chunk=1200)
    monkeypatch.undo()
    monkeypatch.setattr(ann, "ANN_THRESHOLD", 500)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 500)
    old = snapshot.latest(tmp_path / "old")
    described = Index.open(tmp_path / "old").stats()["vector_search"].split(" motion")[0]
    if layout == "ivf-pq":
        assert "motion_projection" not in old.ann and "PQ" in described
    else:
        assert old.ann["motion_codes"] == "sq8" and "SQ8 over PCA" in described
    # a new fragment (the first one's rows, moved a little, under new ids) is encoded with the old model
    from vidsearch.retrieval.store.fragment import FragmentData, write_fragment
    from vidsearch.retrieval.store.manifest import Manifest
    from vidsearch.retrieval.store.reader import SnapshotReader

    manifest = Manifest.load(tmp_path / "old")
    first = SnapshotReader(tmp_path / "old", manifest, old).fragments[0]
    rows = first.read_columns(None).slice(0, 300)
    rows = rows.set_column(0, "id", pa.array(np.arange(3001, 3301)))
    moments = np.asarray(first.moments[:300], np.float32) + np.random.default_rng(1).normal(
        scale=0.02, size=(300, 48)
    ).astype(np.float32)  # no exact ties
    ref = write_fragment(tmp_path / "old", FragmentData(rows, moments, np.asarray(first.curves[:300]), {}))
    grown = replace(old, fragments=old.fragments + (ref,), next_segment_id=3301)
    grown, _ = ann.update_ann(tmp_path / "old", manifest, grown)
    commit(tmp_path / "old", grown)
    assert grown.ann["motion_model"] == old.ann["motion_model"] and not any(
        "motion_refine" in c for c in grown.ann["codes"].values()
    )
    reopened = Index.open(tmp_path / "old")
    queries = [_query(reopened, i) for i in (5, 1800, 3100)]
    fast = [[h.id for h in reopened.search(q, k=10, by=by)] for q in queries for by in ("motion", "both")]
    assert (
        reopened.ann.refine is None
        and (reopened.ann.projection is None) == (layout == "ivf-pq")
        and any(i > 3000 for row in fast for i in row)
    )
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert fast == [[h.id for h in reopened.search(q, k=10, by=by)] for q in queries for by in ("motion", "both")]
    assert (
        Index.open(tmp_path / "old").compact()
        and "PQ128x4fs over PCA" in Index.open(tmp_path / "old").stats()["vector_search"]
    )


def test_ann_codes_are_incremental_and_tombstones_respected(tmp_path, corpus_files, monkeypatch):
    _windowed_pipeline(monkeypatch, window_s=0.5)
    monkeypatch.setattr(ann, "ANN_THRESHOLD", 8)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 0)
    monkeypatch.setattr(search, "RERANK_DEPTH", 3)
    monkeypatch.setattr(search, "BOTH_RERANK_DEPTH", 3)
    idx = Index.create(
        tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8)
    )
    idx.add([corpus_files[0]])  # 6 segments: exact search only
    assert idx.ann is None and not snapshot.latest(tmp_path / "idx").ann
    idx.add(corpus_files[:3])  # 6 + 6 + 4 segments: models trained, every fragment encoded
    first = snapshot.latest(tmp_path / "idx").ann
    assert first["trained_on"] == 16 and set(first["codes"]) == {
        f.name for f in snapshot.latest(tmp_path / "idx").fragments
    }
    idx.add(corpus_files)  # one more file: only the new fragment gets codes, the models are kept
    second = snapshot.latest(tmp_path / "idx").ann
    assert second["motion_model"] == first["motion_model"] and len(second["codes"]) == len(first["codes"]) + 1
    assert all(second["codes"][name] == codes for name, codes in first["codes"].items())
    ids = np.array([r["id"] for r in idx.records()])
    victim = int(ids[5])
    victim_vector = idx.moments([victim])[0]
    idx.remove([victim])
    reopened = Index.open(tmp_path / "idx")
    calls = []
    real = ann.PqIndex.search
    monkeypatch.setattr(ann.PqIndex, "search", lambda self, *a, **kw: calls.append(1) or real(self, *a, **kw))
    for by in ("motion", "pacing", "both"):
        curve = np.linspace(0, 1, 64, dtype=np.float32)
        query = ClipFeatures(
            victim_vector, SpfSignature(curve, 0.0, 0.0, [], curve)
        )  # the deleted segment's own vector
        hits = reopened.search(query, k=2, by=by, exclude_self=False)
        assert len(hits) == 2 and victim not in {h.id for h in hits}
    assert len(calls) == 4  # motion, pacing, both (two shortlists): the ANN path answered
    # growing past RETRAIN_FACTOR x the training size retrains (here: compaction always does)
    reopened.compact()
    third = snapshot.latest(tmp_path / "idx").ann
    assert third["motion_model"] != first["motion_model"] and third["trained_on"] == len(reopened)


@pytest.fixture
def corpus_files(tmp_path, make_clip):
    folder = tmp_path / "corpus"
    folder.mkdir()
    return [
        make_clip("a.mp4", folder=folder, motion="linear", n_frames=48),
        make_clip("b.mp4", folder=folder, motion="circle", n_frames=48),
        make_clip("c.mp4", folder=folder, motion="zigzag", n_frames=32),
        make_clip("d.mp4", folder=folder, motion="static", n_frames=32, colour=(90, 200, 90)),
    ]


def test_opening_and_searching_an_index_does_not_import_torch(tmp_path, small_thresholds):
    """A process that opens an index and answers queries from features (the UI, a service) never
    loads torch (~300 MB resident): ANN path, flow blending, filters, contributions."""
    import subprocess
    import sys

    from benchmarks.store import synthetic_index

    flows = lambda rng, n: np.abs(rng.normal(size=(n, 8))).astype(np.float32)  # noqa: E731
    synthetic_index(tmp_path / "syn", 1200, dim=48, chunk=600, flow=flows, flow_dim=8)
    script = f"""
import sys, numpy as np
from vidsearch.retrieval.index import Index
from vidsearch.indexers.features import ClipFeatures
from vidsearch.indexers.descriptors.spf import SpfSignature
idx = Index.open({str(tmp_path / "syn")!r})
assert idx.ann is not None
c = np.linspace(0, 1, 64, dtype=np.float32)
flow = np.ones(8, np.float32) / 8 ** 0.5
q = ClipFeatures(idx.moments([5])[0], SpfSignature(c, 0.0, 0.0, [], c), aux={{"flow": flow}})
for by in ("motion", "pacing", "both"):
    assert len(idx.search(q, k=5, by=by, where="duration > 20")) == 5
assert len(idx.search(5, k=5)) == 5
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flow_arrays_survive_reopen_compaction_and_older_parquet_fragments(tmp_path, monkeypatch):
    """Flow lives in a memory-mapped float16 array per fragment, still read back as the segment's
    ``aux_flow``; fragments written with flow in Parquet (before) read the same, and compaction
    rewrites them as arrays without changing a result."""
    from benchmarks.store import synthetic_index
    from vidsearch.retrieval.store import fragment

    rng = np.random.default_rng(3)
    flows = rng.normal(size=(900, 12)).astype(np.float32)
    draw = iter([flows[:300], flows[300:600], flows[600:]])
    monkeypatch.setattr(fragment, "ARRAY_AUX", ())  # the first fragment in the older layout
    idx = synthetic_index(tmp_path / "syn", 900, dim=16, chunk=300, flow=lambda r, n: next(draw), flow_dim=12)
    monkeypatch.undo()
    idx = Index.open(tmp_path / "syn")
    folders = sorted((tmp_path / "syn" / "fragments").iterdir())
    assert not any((f / "aux_flow.npy").exists() for f in folders)
    q = ClipFeatures(idx.moments([10])[0], _query(idx, 10).spf, aux={"flow": flows[10]})
    before = [(h.id, round(h.motion, 4)) for h in idx.search(q, k=8)]
    assert np.allclose(idx.get(10)["aux_flow"], flows[9], atol=1e-6)  # ids start at 1
    idx.remove([1, 2])
    idx.compact()
    folders = sorted((tmp_path / "syn" / "fragments").iterdir())
    assert all((f / "aux_flow.npy").exists() for f in folders)
    assert all(
        "aux_flow" not in __import__("pyarrow.parquet").parquet.read_schema(f / "segments.parquet").names
        for f in folders
    )
    idx = Index.open(tmp_path / "syn")
    assert np.allclose(idx.get(10)["aux_flow"], flows[9], atol=2e-3)  # float16
    assert np.allclose(idx.features_of(500).aux["flow"], flows[499], atol=2e-3)
    assert [(h.id, round(h.motion, 2)) for h in idx.search(q, k=8)] == [
        (i, round(m, 2)) for i, m in before if i not in (1, 2)
    ][:8]


def test_segments_without_flow_stay_null_in_the_flow_array():
    import pyarrow as pa

    from vidsearch.retrieval.store.fragment import _as_column, _dense

    column = pa.chunked_array([pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float32(), 2))])
    dense = _dense(column)
    assert dense.dtype == np.float16 and np.isnan(dense[1]).all()
    assert _as_column(dense).to_pylist() == [[1.0, 2.0], None, [3.0, 4.0]]


@pytest.mark.parametrize("codec, size_ratio, min_cosine", [("int8", 0.52, 0.999), ("int6", 0.39, 0.99)])
def test_integer_codecs_search_like_float16_and_survive_compaction(
    tmp_path, monkeypatch, small_thresholds, codec, size_ratio, min_cosine
):
    """An index storing integer codes: moments in 8 (6) bits, flow in float16 (8 bits), curves in
    float16; ANN equals exact search over what is stored, top-10 close to the float16 twin's, and compaction keeps
    the representation."""
    from benchmarks.store import synthetic_index

    def flows(rng, count):
        v = np.abs(rng.normal(size=(count, 12))).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    twins = {
        c: synthetic_index(tmp_path / c, 3000, dim=48, chunk=1200, flow=flows, flow_dim=12, moments_codec=c)
        for c in ("float16", codec)
    }
    sizes = {
        c: {
            kind: sum(p.stat().st_size for p in (tmp_path / c / "fragments").rglob(f"{kind}*"))
            for kind in ("moments", "curves", "aux_flow")
        }
        for c in twins
    }
    assert (
        sizes[codec]["moments"] < size_ratio * sizes["float16"]["moments"]
        and sizes[codec]["curves"] == sizes["float16"]["curves"]
    )
    assert (sizes[codec]["aux_flow"] < 0.6 * sizes["float16"]["aux_flow"]) == (
        codec == "int6"
    )  # int6 stores flow in 8 bits
    idx = twins[codec]
    ids = np.arange(1, 3001)
    original = twins["float16"].moments(ids)
    assert (np.sum(idx.moments(ids) * original, axis=1) > min_cosine).all()
    assert np.array_equal(idx._reader.curves(ids), twins["float16"]._reader.curves(ids))
    stored_flow, float_flow = idx._reader.aux(ids, "flow"), twins["float16"]._reader.aux(ids, "flow")
    cosine = (
        np.sum(stored_flow * float_flow, axis=1)
        / np.linalg.norm(stored_flow, axis=1)
        / np.linalg.norm(float_flow, axis=1)
    )
    assert (cosine > 0.999).all() and (codec == "int6") != np.array_equal(stored_flow, float_flow)
    rng = np.random.default_rng(1)
    queries = [
        ClipFeatures(original[i], _query(idx, i + 1).spf, aux={"flow": flows(rng, 1)[0]}) for i in (4, 1800, 2950)
    ]

    def run(index):
        return [
            [h.id for h in index.search(q, k=10, by=by, exclude_self=False)]
            for q in queries
            for by in ("motion", "both")
        ]

    fast = run(idx)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(fast, run(twins["float16"]))])
    assert overlap >= 0.9
    idx.remove([5, 6])
    idx.compact()
    bits = codec[3:]
    assert not list((tmp_path / codec / "fragments").rglob("moments.npy")) and list(
        (tmp_path / codec / "fragments").rglob(f"moments.u{bits}.npy")
    )
    assert bool(list((tmp_path / codec / "fragments").rglob("aux_flow.u8.npy"))) == (codec == "int6")
    reopened = Index.open(tmp_path / codec)
    assert reopened.manifest.moments_codec == codec
    after = run(reopened)
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert after == run(reopened)  # ANN equals exact search over the stored codes
    assert not {5, 6} & {i for row in after for i in row}


def test_integer_codes_round_trip_within_half_a_step_and_keep_missing_rows():
    """Packing four 6-bit values in three bytes is lossless; decoding lands within half a step of
    every value inside the range (int6 clips only the outer 0.05 % of each dimension); rows that
    were NaN (no flow computed) stay NaN, and a single row reads like an array's."""
    from vidsearch.retrieval.store.codecs import BITS, CodedRows, _pack6, _unpack6, encode

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 64, (9, 7)).astype(np.uint8)
    assert (_unpack6(_pack6(codes), 7) == codes).all() and _pack6(codes).shape == (9, 6)
    x = rng.standard_normal((3000, 40)).astype(np.float32)
    x[17] = np.nan
    for codec, bits in BITS.items():
        packed, (low, step) = encode(x, bits)
        rows = CodedRows(packed, low, step, bits, np.array([17]))
        decoded = rows[np.arange(len(x))]
        inside = (x >= low - 1e-5) & (x <= low + step * (2**bits - 1) + 1e-5)  # (float rounding at the edges)
        assert np.isnan(decoded[17]).all() and not np.isnan(np.delete(decoded, 17, axis=0)).any(), codec
        assert (np.abs(decoded - x)[inside] <= step.repeat(len(x)).reshape(40, -1).T[inside] / 2 + 1e-6).all(), codec
        present = inside[~np.isnan(x).any(axis=1)]
        assert present.mean() > 0.99 if bits == 6 else present.all(), codec  # int8: the min-max range holds every value
        assert np.array_equal(rows[5], decoded[5], equal_nan=True) and rows[5].shape == (40,)


def test_projection_self_check_measures_the_order_it_loses():
    """On rank-8 data a rank-8 projection ranks exactly (no excess); a rank-2 one does not."""
    from vidsearch.retrieval.store.projection import Projection

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8)) @ rng.normal(size=(8, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rows, queries = x[:2800], x[2800:]
    assert Projection.fit(rows, 8).excess(rows, queries) == 0.0
    assert Projection.fit(rows, 2).excess(rows, queries) > 20


def test_shortlist_depth_grows_with_the_square_root_of_the_rows():
    from vidsearch.retrieval.store.projection import depth_for

    assert depth_for(5.0, 16_384, 16_384, 10) == 15
    assert depth_for(5.0, 16_384, 4 * 16_384, 10) == 20 and depth_for(5.0, 16_384, 100 * 16_384, 10) == 60
    assert depth_for(0.0, 16_384, 10**9, 10) == 10


def test_motion_shortlist_deepens_to_what_the_projection_self_check_asks(tmp_path, monkeypatch, small_thresholds):
    """A projection far smaller than the data's rank misorders the shortlist: the depth measured at
    training keeps the motion results those of exact search, where the fixed depth alone does not."""
    from benchmarks.store import synthetic_index

    monkeypatch.setattr(ann, "MOTION_PCA_DIM", 6)
    monkeypatch.setattr(search, "RERANK_DEPTH", 16)
    idx = synthetic_index(tmp_path / "syn", 4000, dim=48, chunk=1500)
    searcher_ann = idx.ann
    assert searcher_ann.projection is not None and searcher_ann.motion_depth(4000, 10) > 16
    assert (
        f"self-check asks a motion re-rank of {searcher_ann.motion_depth(4000, 10):,}" in idx.stats()["vector_search"]
    )
    queries = [_query(idx, i) for i in (3, 777, 1500, 2222, 3100, 3999)]

    def results():
        return [[h.id for h in idx.search(q, k=10, by="motion")] for q in queries]

    calibrated = results()
    monkeypatch.setattr(ann.AnnSet, "motion_depth", lambda self, rows, k: 0)
    fixed = results()
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    exact = results()
    overlap = lambda got: np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact)])  # noqa: E731
    assert overlap(calibrated) >= 0.95 and overlap(fixed) < overlap(calibrated)


def test_fast_scan_lists_merge_past_whole_blocks(tmp_path, monkeypatch, small_thresholds):
    """One inverted list that already holds 2,048 entries (a whole number of fast-scan blocks) when
    the next fragment's codes are merged in: FAISS 1.15's fast-scan merge overran its buffer there
    (the 10M benchmark aborted with "malloc(): corrupted top size"); the 4-bit lists merge as plain
    PQ lists and become fast-scan once, and the search still equals exact search."""
    from benchmarks.store import synthetic_index

    monkeypatch.setattr(ann, "nlist_for", lambda n: 1)
    idx = synthetic_index(tmp_path / "syn", 2 * 2048 + 100, dim=48, chunk=2048)  # merges at 0, 2,048 and 4,096 entries
    assert idx.ann.refine is not None and idx.ann.motion.index.ntotal == len(idx) == 4196
    queries = [_query(idx, i) for i in (1, 2100, 4150)]
    fast = [[h.id for h in idx.search(q, k=10, by=by)] for q in queries for by in ("motion", "both")]
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert fast == [[h.id for h in idx.search(q, k=10, by=by)] for q in queries for by in ("motion", "both")]


def test_both_motion_shortlist_grows_with_the_segments_searched(tmp_path, monkeypatch, small_thresholds):
    """--by both fuses a motion shortlist that grows with the square root of the segments searched
    (all of them, or those a filter admits), and still equals exact search."""
    from benchmarks.store import synthetic_index

    idx = synthetic_index(tmp_path / "syn", 4000, dim=48, chunk=1500)
    monkeypatch.setattr(search, "BOTH_MOTION_DEPTH", 150)
    monkeypatch.setattr(search, "BOTH_DEPTH_ROWS", 1000)
    asked = []
    real = ann.AnnSet.motion_search
    monkeypatch.setattr(ann.AnnSet, "motion_search", lambda self, *a: asked.append(a[3]) or real(self, *a))
    queries = [_query(idx, i, p) for i, p in ((17, 1.5), (2222, 0.7))]
    cases = [None, "duration > 80"]  # every segment, then those a filter admits
    fast = [[h.id for h in idx.search(q, k=10, by="both", where=w)] for w in cases for q in queries]
    admitted = len(idx.filter_ids("duration > 80"))
    assert 500 < admitted < 4000 and asked == [300, 300] + [search.both_motion_depth(admitted)] * 2
    monkeypatch.setattr(search, "EXACT_SCORING_LIMIT", 10**9)
    assert fast == [[h.id for h in idx.search(q, k=10, by="both", where=w)] for w in cases for q in queries]
