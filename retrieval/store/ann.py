"""Compressed ANN indexes over the segments: FAISS IVF shortlists, re-ranked exactly.

Two indexes, same mechanism: **motion** over the SemanticMoments (inner product) and **pacing**
over the SPF curves (L2 on the codes as the proxy; the exact re-rank uses the real pacing score,
one minus the mean absolute difference). Motion searches a PCA projection of the vectors
(``projection.py``, ``MOTION_PCA_DIM`` values: it orders a shortlist well enough that a shallow
exact re-rank suffices) in two steps: an ``IndexIVFPQFastScan`` with one 4-bit sub-quantizer per
projected value (64 B a segment, scanned with SIMD table lookups: several times faster than
8-bit scalar codes over the same lists; stored as the equivalent 4-bit ``IndexIVFPQ`` lists and
converted after the merge, because FAISS 1.15's merge into fast-scan lists overruns its buffer
when a list already holds a multiple of 2,048 entries) finds ``2 k`` (at least ``FASTSCAN_DEPTH``) candidates,
then 8-bit codes of the same projected vectors (``vectors.py``'s int8, one array per fragment in
row order, memory-mapped) re-score them, the estimate the caller ranks by. Indexes written before
are an ``IndexIVFScalarQuantizer`` over the projection (whose scores are the estimate), or an
``IndexIVFPQ`` over the full vectors, and still load. Pacing is an ``IndexIVFPQ``. Each is trained
once on a sample of the stored vectors (``ann/<model>.faiss``, empty); every fragment then gets its own file of codes
(``ann/<code>.faiss``: the model with that fragment's vectors added; motion also its refine codes),
written with the commit that adds the fragment, so a commit never rewrites the codes of older
fragments. A reader loads the model, merges the fragments' inverted lists into it
(``merge_from``) and removes tombstoned ids: in memory per segment that is the codes
(``MOTION_PCA_DIM / 2`` + ``PACING_PQ_M`` bytes) and two ids; the refine codes are mapped.

Where the index stores the ``flow`` descriptor, the motion index holds the concatenation
``[unit moments, unit flow]`` (zero-padded to a multiple of the PQ size) and a query is
``[(1 - f) q_moments, f q_flow]`` for its flow share ``f``: the inner product is then the
blended motion score (up to the projection's loss and a constant per query)
``(1 - f) cos(moments) + f cos(flow)`` (``scoring.motion_with_flow``) for any share chosen at
query time, so the shortlist is ranked by the score the re-rank uses.

Below ``ANN_THRESHOLD`` live segments there is no ANN index: the exact scan is fast enough.
Retraining: when the live segments exceed ``RETRAIN_FACTOR`` times the count the model was
trained on (its lists are then ~4x longer than planned), the next commit trains new models and
re-encodes every fragment; ``compact`` always retrains.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.retrieval.scoring import top_k
from vidsearch.retrieval.store.codecs import CodedRows, load_array, write_array
from vidsearch.retrieval.store.manifest import IndexStoreError, Manifest
from vidsearch.retrieval.store.projection import CHECK_QUERIES, FIT_ROWS, Projection, depth_for
from vidsearch.retrieval.store.reader import SnapshotReader, fragment_aux, unit_rows
from vidsearch.retrieval.store.snapshot import ANN, Snapshot

ANN_THRESHOLD = 20_000  # live segments above which the ANN indexes exist
RETRAIN_FACTOR = 4
TRAIN_SAMPLE = 65_536  # vectors the coarse quantizer and PQ codebooks are trained on (at least, when there are)
TRAIN_PER_LIST = 40  # ... and at least this many per inverted list (FAISS asks >= 39 per centroid)
TRAIN_CAP = 262_144  # ... but never more (about 1.3 GB of float32 [moments, flow] vectors)
# The motion vector is zero-padded to a multiple of this (the layout older IVF-PQ motion indexes use).
MOTION_PQ_M = 128
# The leading principal directions of [moments, flow] the motion index searches; 0: IVF-PQ over the
# full vector (an earlier layout).
MOTION_PCA_DIM = 128
# How the projection is coded: "fastscan" (4-bit fast-scan codes + 8-bit refine codes) or "sq8"
# (the layout before: IVF-SQ8, one pass; kept so that tests can write such an index).
MOTION_CODES = "fastscan"
# Fast-scan candidates re-scored from the refine codes: at least this many, or twice the asked
# depth. Measured at 1M (53 real queries, nprobe 256): the exact top-10 sat within the refined
# top 194 of 256 / 512 / 1,024 fast-scan candidates for 0.988 / 0.993 / 0.993 of them (SQ8: 0.993).
FASTSCAN_DEPTH = 512
FASTSCAN_MIN_TRAIN = (
    256  # fewer training vectors (tests' tiny thresholds) train SQ8 instead: 4-bit PQ needs 16+ per centroid set
)
PACING_PQ_M = 16  # bytes per pacing code (64-point curves: 4 points per sub-quantizer)
# Lists a search probes: at least NPROBE (motion) / PACING_NPROBE, or that share of the lists, so
# that the share of the data scanned (what recall depends on, for look-alikes without cluster
# structure) stays the same as the lists multiply with the segments (sqrt(N)). The motion estimate
# orders each list almost exactly, so what a search misses is the lists it skips. The curves
# cluster far better: their top-10 are as complete at a sixteenth of the lists as at a quarter
# (the sweep: docs/performance.md, "Store at scale").
NPROBE = 256
NPROBE_SHARE = 1 / 4
PACING_NPROBE = 64
PACING_NPROBE_SHARE = 1 / 16
POST_FILTER_SHARE = 0.25  # filters admitting at least this share of the rows filter an unrestricted shortlist


def _faiss():
    try:
        import faiss  # lazy: keeps `vidsearch --help` fast
    except ImportError as exc:
        raise IndexStoreError(
            "FAISS is not installed: pip install 'vidsearch[cpu]' (or 'vidsearch[gpu]' on CUDA machines)"
        ) from exc
    return faiss


@contextmanager
def _one_thread():
    """Train/encode with one OpenMP thread: FAISS's many short parallel regions spin-wait, and on
    a small shared machine two threads ran many times slower than one."""
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def nlist_for(n: int) -> int:
    """Inverted lists for ``n`` vectors: ~sqrt(n), at least 39 training points per list."""
    return int(max(1, min(2 ** round(np.log2(max(np.sqrt(n), 1))), n // 39)))


def train_rows(nlist: int) -> int:
    """Vectors a model with ``nlist`` lists trains on: ``TRAIN_SAMPLE``, or ``TRAIN_PER_LIST`` per
    list where that is more (4,096 lists at 10M: 163,840), capped at ``TRAIN_CAP``."""
    return min(max(TRAIN_SAMPLE, TRAIN_PER_LIST * nlist), TRAIN_CAP)


def nprobe_for(kind: str, nlist: int) -> int:
    """Lists a ``kind`` search probes in an index of ``nlist`` lists (see ``NPROBE``)."""
    if kind == "motion":
        return max(NPROBE, int(nlist * NPROBE_SHARE))
    return max(PACING_NPROBE, int(nlist * PACING_NPROBE_SHARE))


def _pq_m(dim: int, wanted: int) -> int:
    m = min(wanted, dim)
    while dim % m:
        m -= 1
    return m


def motion_layout(manifest: Manifest) -> dict[str, int]:
    """Widths of the motion index's vector: moments, flow (0 without flow) and the zero padding."""
    moments, flow = manifest.moments_dim, int(manifest.aux_dims.get("flow", 0))
    pad = -(moments + flow) % MOTION_PQ_M
    return {"moments": moments, "flow": flow, "pad": pad}


def stored_layout(state: dict[str, Any], dim: int) -> dict[str, int]:
    """The motion layout an ANN state was trained with; states written before flow joined the
    motion index have none and hold the moments alone (``dim`` wide)."""
    return state.get("motion_layout") or {"moments": dim, "flow": 0, "pad": 0}


def motion_query(layout: dict[str, int], moments: np.ndarray, flow: np.ndarray | None, share: float) -> np.ndarray:
    """The query whose inner product with a stored motion vector is the blended motion score."""
    q = np.zeros(layout["moments"] + layout["flow"] + layout["pad"], np.float32)
    if not layout["flow"] or flow is None:
        share = 0.0
    q[: layout["moments"]] = (1.0 - share) * np.asarray(moments, np.float32)
    if share:
        q[layout["moments"] : layout["moments"] + layout["flow"]] = share * np.asarray(flow, np.float32)
    return q


class PqIndex:
    """One merged IVF index in memory (motion: SQ8 over the projection, or PQ; pacing: PQ)."""

    def __init__(self, index, nprobe: int):
        self.index, self.nprobe = index, nprobe

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, FAISS scores) of the ``k`` best codes, among ``allowed`` (sorted ids) if given.

        A filter that admits at least ``POST_FILTER_SHARE`` of the rows is applied after an
        unrestricted search ``1 / share`` times deeper (the same lists probed, no bitmap to
        build); a more selective one restricts the search with an id bitmap and probes wider."""
        if allowed is None:
            return self._search(query, k, self.nprobe, None)
        share = len(allowed) / max(self.index.ntotal, 1)
        if share >= POST_FILTER_SHARE:
            found, scores = self._search(query, int(np.ceil(1.25 * k / share)), self.nprobe, None)
            pos = np.minimum(np.searchsorted(allowed, found), len(allowed) - 1)
            kept = allowed[pos] == found
            if kept.sum() >= k:
                return found[kept][:k], scores[kept][:k]
        nprobe = int(
            min(self.index.nlist, self.nprobe * min(8.0, 1.0 / max(share, 1e-9)))
        )  # sparse filters: probe wider
        mask = np.zeros(int(allowed[-1]) + 1 if len(allowed) else 1, bool)
        mask[allowed] = True
        bits = np.packbits(mask, bitorder="little")  # FAISS reads bit (id & 7) of byte id >> 3
        faiss = _faiss()
        return self._search(query, k, nprobe, faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)))

    def _search(self, query: np.ndarray, k: int, nprobe: int, sel) -> tuple[np.ndarray, np.ndarray]:
        # nprobe above nlist: FAISS's fast-scan search then scores garbage (seen: 2e31 for every hit)
        params = _faiss().SearchParametersIVF(nprobe=min(nprobe, self.index.nlist), sel=sel)
        scores, ids = self.index.search(np.asarray(query, np.float32).reshape(1, -1), int(k), params=params)
        found = ids[0] >= 0
        return ids[0][found], scores[0][found]


class AnnSet:
    """The motion and pacing indexes of one snapshot (and the motion refine codes, if any,
    one array per fragment of ``reader``)."""

    def __init__(self, motion: PqIndex, pacing: PqIndex, state: dict[str, Any], projection: Projection | None = None,
                 refine: tuple[SnapshotReader, list[CodedRows]] | None = None):  # fmt: skip
        self.motion, self.pacing, self.state, self.projection, self.refine = motion, pacing, state, projection, refine
        self.layout = stored_layout(state, motion.index.d if projection is None else len(projection.mean))

    def motion_search(
        self, moments: np.ndarray, flow: np.ndarray | None, share: float, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, estimated blended motion scores) of the ``k`` best segments by that estimate.

        The projected vectors were centred: adding ``query . mean`` to their score gives the
        estimate of the motion score itself, so it can be fused with other scores."""
        query = motion_query(self.layout, moments, flow, share)
        if self.projection is None:
            return self.motion.search(query, k, allowed)
        projected = self.projection.query(query)
        if self.refine is None:
            ids, scores = self.motion.search(projected, k, allowed)
        else:
            ids, _ = self.motion.search(projected, max(2 * k, FASTSCAN_DEPTH), allowed)
            scores = self._refined(ids, projected[0])
            best = top_k(scores, k)
            ids, scores = ids[best], scores[best]
        return ids, scores + float(query @ self.projection.mean)

    def _refined(self, ids: np.ndarray, projected: np.ndarray) -> np.ndarray:
        """Scores of ``ids`` against the projected query from their 8-bit refine codes."""
        reader, codes = self.refine
        ok, frag, row = reader.locate(ids)
        out = np.full(len(ids), -np.inf, np.float32)
        for f in np.unique(frag[ok]):
            sel = np.flatnonzero(ok & (frag == f))
            sel = sel[np.argsort(row[sel])]  # mapped pages in file order
            out[sel] = codes[f][row[sel]] @ projected
        return out

    @classmethod
    def load(cls, reader: SnapshotReader) -> AnnSet | None:
        state = reader.snapshot.ann
        if not state:
            return None
        folder = reader.dir / ANN
        built = []
        for kind in ("motion", "pacing"):
            index = _read_index(folder / state[f"{kind}_model"])
            for frag in reader.snapshot.fragments:
                part = _read_index(folder / state["codes"][frag.name][kind])
                part.own_fields = False  # borrow the model's centroids (code files are written without: _write_lists)
                part.quantizer = index.quantizer
                index.merge_from(part, 0)
            if len(reader.deleted):
                index.remove_ids(_faiss().IDSelectorBatch(reader.deleted))
            if kind == "motion" and state.get("motion_codes") == "fastscan":
                index = _fast_scan(index)
            built.append(PqIndex(index, nprobe_for(kind, index.nlist)))
        projection = Projection.load(folder / state["motion_projection"]) if "motion_projection" in state else None
        refine = None
        if state.get("motion_codes") == "fastscan":
            refine = (
                reader,
                [load_array(folder, state["codes"][frag.name]["motion_refine"]) for frag in reader.snapshot.fragments],
            )
        return cls(built[0], built[1], state, projection, refine)

    def motion_depth(self, rows: int, k: int) -> int:
        """Candidates a motion shortlist over ``rows`` stored rows needs for the exact top ``k``,
        by the projection's self-check at training (``projection.depth_for``). Indexes trained
        before keep the rule they were trained with (``motion_excess_per_row``: linear in the rows;
        none: ``k``) until they are retrained."""
        s = self.state
        if "motion_excess" in s:
            return depth_for(s["motion_excess"], s["motion_excess_rows"], rows, k)
        return int(np.ceil(k + float(s.get("motion_excess_per_row", 0.0)) * rows))

    def describe(self) -> str:
        s = self.state
        flow = " (moments + flow)" if self.layout["flow"] else ""
        if self.projection is None:
            motion = f"PQ{s['motion_m']}"
        elif self.refine is None:
            motion = f"SQ8 over PCA-{self.projection.dim}"
        else:
            motion = f"PQ{self.projection.dim}x4fs over PCA-{self.projection.dim} (8-bit refine of >= {FASTSCAN_DEPTH})"
        checked = (
            f"; the projection's self-check asks a motion re-rank of "
            f"{self.motion_depth(s['trained_on'], 10):,} at that size"
            if "motion_excess" in s or "motion_excess_per_row" in s
            else ""
        )
        return (
            f"IVF{s['nlist']}-{motion} motion{flow} + IVF{s['nlist']}-PQ{s['pacing_m']} pacing "
            f"(nprobe {self.motion.nprobe} / {self.pacing.nprobe}, trained on "
            f"{s['trained_on']:,}{checked})"
        )


def _vectors(
    reader: SnapshotReader, frag_index: int, rows: np.ndarray | None, kind: str, layout: dict[str, int]
) -> np.ndarray:
    """The vectors one index stores for ``rows`` of a fragment (all rows if None)."""
    f = reader.fragments[frag_index]
    if rows is None:
        rows = np.arange(f.ref.segments)
    if kind == "pacing":
        return np.asarray(f.curves[rows], np.float32)
    parts = [unit_rows(f.moments[rows])]
    if layout["flow"]:
        parts.append(unit_rows(fragment_aux(f, rows, "flow", layout["flow"])))
    if layout["pad"]:
        parts.append(np.zeros((len(rows), layout["pad"]), np.float32))
    return np.ascontiguousarray(np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0])


def _train(
    reader: SnapshotReader, kind: str, nlist: int, layout: dict[str, int], motion_codes: str
) -> tuple[Any, Projection | None, tuple[float, int]]:
    """Train an empty IVF model on a uniform sample of the live vectors (the one place
    training happens: a GPU helper, if present, would be called here): IVF-SQ8 over a fitted
    projection for motion (with the projection's self-check: the excess and the rows it was
    measured over), IVF-PQ for pacing."""
    faiss = _faiss()
    live = list(reader.iter_live())
    total = sum(len(rows) for _, rows in live)
    rng = np.random.default_rng(0)
    take = min(total, train_rows(nlist))
    picks = np.sort(rng.choice(total, take, replace=False))
    parts, offset = [], 0
    for f, rows in live:
        mine = picks[(picks >= offset) & (picks < offset + len(rows))] - offset
        offset += len(rows)
        if len(mine):
            parts.append(_vectors(reader, reader.fragments.index(f), rows[mine], kind, layout))
    sample = np.ascontiguousarray(np.concatenate(parts), np.float32)
    if kind == "motion" and MOTION_PCA_DIM:
        projection = Projection.fit(sample, MOTION_PCA_DIM)
        excess = _projection_excess(sample, projection, layout)
        sample = projection.stored(sample)
        quantizer = faiss.IndexFlatIP(projection.dim)
        if motion_codes == "fastscan":  # 4-bit PQ lists, searched as fast-scan once merged (_fast_scan)
            index = faiss.IndexIVFPQ(quantizer, projection.dim, nlist, projection.dim, 4, faiss.METRIC_INNER_PRODUCT)
            index.by_residual = True  # codes of the residual to the list's centroid: a finer estimate
        else:
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, projection.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        index.cp.max_points_per_centroid = 32
        index.cp.niter = 10
        index.train(sample)
        return index, projection, excess
    dim = sample.shape[1]
    m = _pq_m(dim, MOTION_PQ_M if kind == "motion" else PACING_PQ_M)
    metric = faiss.METRIC_INNER_PRODUCT if kind == "motion" else faiss.METRIC_L2
    quantizer = faiss.IndexFlatIP(dim) if kind == "motion" else faiss.IndexFlatL2(dim)
    nbits = int(min(8, max(1, np.log2(len(sample) / 39))))  # 256 centroids per sub-quantizer need ~10k points
    index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, nbits, metric)
    index.cp.max_points_per_centroid = 32  # coarse k-means on <= 32 points per list
    index.cp.niter = 10
    index.pq.cp.max_points_per_centroid = 64  # PQ codebooks on <= 16k points
    index.pq.cp.niter = 15
    index.train(sample)
    return index, None, (0.0, 0)


def _fast_scan(index):
    """The merged 4-bit ``IndexIVFPQ`` as an ``IndexIVFPQFastScan`` (same codes, repacked into
    SIMD blocks: 10M segments in ~1 s); the new index takes over the coarse quantizer."""
    fast = _faiss().IndexIVFPQFastScan(index)
    index.own_fields, fast.own_fields = False, True
    return fast


def _projection_excess(sample: np.ndarray, projection: Projection, layout: dict[str, int]) -> tuple[float, int]:
    """(``Projection.excess``, rows it ranked) on the training sample, with sample rows as queries
    weighted as a default search weights them (moments and flow at the default flow share)."""
    from vidsearch.retrieval.types import DEFAULT_FLOW_SHARE

    picks = np.random.default_rng(1).permutation(len(sample))
    n_queries = min(CHECK_QUERIES, len(sample) // 8)
    if n_queries < 1:
        return 0.0, 0
    m, f = layout["moments"], layout["flow"]
    queries = np.stack(
        [
            motion_query(layout, v[:m], v[m : m + f] if f else None, DEFAULT_FLOW_SHARE)
            for v in sample[picks[:n_queries]]
        ]
    )
    ranked = sample[picks[n_queries : n_queries + FIT_ROWS]]
    return projection.excess(ranked, queries), len(ranked)


def _write_lists(folder: Path, part) -> str:
    """Write a fragment's codes without the coarse centroids (the model has them; ``merge_from``
    uses only the inverted lists): at 1M, 11 MB of motion centroids fewer per fragment file."""
    faiss = _faiss()
    empty = faiss.IndexFlatIP(part.d) if part.metric_type == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(part.d)
    original, part.quantizer = part.quantizer, empty
    try:
        return _write_index(folder, part)
    finally:
        part.quantizer = original  # `empty` goes out of scope with this call


def _read_index(path: Path):
    """A FAISS file; FileNotFoundError (not FAISS's RuntimeError) when a concurrent ``compact``
    removed it, so the reader moves to the newest snapshot."""
    if not path.exists():
        raise FileNotFoundError(str(path))
    return _faiss().read_index(str(path))


def _write_index(folder: Path, index) -> str:
    name = f"{os.urandom(8).hex()}.faiss"
    with atomic_path(folder / name) as tmp:
        _faiss().write_index(index, str(tmp))
    return name


def update_ann(
    directory: Path, manifest: Manifest, snapshot: Snapshot, rebuild: bool = False
) -> tuple[Snapshot, list[Path]]:
    """The snapshot with ANN state for its fragments (new codes written, models trained when
    needed); returns it and the files written (removed by the caller if the commit fails)."""
    live = snapshot.live_segments
    if live <= ANN_THRESHOLD:
        return replace(snapshot, ann={}), []
    with _one_thread():
        return _update(directory, manifest, snapshot, rebuild, live)


def _update(
    directory: Path, manifest: Manifest, snapshot: Snapshot, rebuild: bool, live: int
) -> tuple[Snapshot, list[Path]]:
    faiss = _faiss()
    folder = directory / ANN
    reader = SnapshotReader(directory, manifest, snapshot)
    state = dict(snapshot.ann)
    written: list[Path] = []
    retrain = rebuild or not state or live > RETRAIN_FACTOR * state["trained_on"]
    if retrain:
        nlist = nlist_for(live)
        state = {
            "nlist": nlist,
            "trained_on": live,
            "train_sample": min(live, train_rows(nlist)),
            "codes": {},
            "motion_layout": motion_layout(manifest),
        }
        if MOTION_PCA_DIM:
            state["motion_codes"] = MOTION_CODES if min(live, train_rows(nlist)) >= FASTSCAN_MIN_TRAIN else "sq8"
        for kind in ("motion", "pacing"):
            model, projection, excess = _train(
                reader, kind, nlist, state["motion_layout"], state.get("motion_codes", "")
            )
            state[f"{kind}_model"] = _write_index(folder, model)
            state[f"{kind}_m"] = int(model.pq.M) if projection is None else projection.dim
            written.append(folder / state[f"{kind}_model"])
            if projection is not None:
                state["motion_projection"] = projection.save(folder)
                state["motion_excess"], state["motion_excess_rows"] = excess
                written.append(folder / state["motion_projection"])
    codes = {name: files for name, files in state["codes"].items() if name in {f.name for f in snapshot.fragments}}
    models = {kind: _read_index(folder / state[f"{kind}_model"]) for kind in ("motion", "pacing")}
    projection = Projection.load(folder / state["motion_projection"]) if "motion_projection" in state else None
    layout = stored_layout(state, models["motion"].d if projection is None else len(projection.mean))
    refine = state.get("motion_codes") == "fastscan"
    for i, frag in enumerate(snapshot.fragments):
        if frag.name in codes:
            continue
        codes[frag.name] = {}
        ids = np.asarray(reader.fragments[i].ids, np.int64)
        for kind, model in models.items():
            part = faiss.clone_index(model)
            projected = []
            for start in range(0, len(ids), TRAIN_SAMPLE):
                rows = np.arange(start, min(start + TRAIN_SAMPLE, len(ids)))
                vectors = _vectors(reader, i, rows, kind, layout)
                if kind == "motion" and projection is not None:
                    vectors = projection.stored(vectors)
                    projected.append(vectors)
                part.add_with_ids(vectors, ids[rows])
            codes[frag.name][kind] = _write_lists(folder, part)
            written.append(folder / codes[frag.name][kind])
            if kind == "motion" and refine:
                stem = os.urandom(8).hex()
                names = write_array(
                    folder,
                    stem,
                    np.concatenate(projected) if projected else np.empty((0, projection.dim), np.float32),
                    "int8",
                )
                codes[frag.name]["motion_refine"] = stem
                codes[frag.name]["motion_refine_files"] = names
                written.extend(folder / n for n in names)
    state["codes"] = codes
    own = [state["motion_model"], state["pacing_model"]] + (
        [state["motion_projection"]] if projection is not None else []
    )
    state["files"] = [*own, *(n for files in codes.values() for n in _code_files(files))]
    return replace(snapshot, ann=state), written


def _code_files(files: dict[str, Any]) -> list[str]:
    """The files in ``ann/`` one fragment's codes occupy (FAISS lists, refine arrays)."""
    return [files["motion"], files["pacing"], *files.get("motion_refine_files", [])]
