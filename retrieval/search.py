"""Query planning and ranking over one snapshot.

Two stages: *candidates* (every matching segment when that is cheap, else ANN shortlists: motion
from the moments index, pacing from the SPF-curve index, both for ``by="both"``), then an *exact
re-rank* of the candidates from the vectors on disk (float16 or int8 moments, float16 flow and
curves: cosine of moments blended with the flow cosine, 1 - mean |SPF difference|, fused). The
motion shortlist already ranks by an estimate of the blended score (``ann.motion_query``), close
enough that the exact re-rank is shallow; cheap intermediate scores (exact pacing from the curves,
fused with the motion estimates for ``both``) cut the deeper pacing and both shortlists down to
that depth before any moments row is read. Without an ANN index
(small indexes) the exact scan runs fragment by fragment in chunks, keeping only a running top
list, so memory stays bounded either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vidsearch.errors import ConfigError
from vidsearch.indexers.descriptors.flow import FLOW_DIM, mirror_flow
from vidsearch.indexers.features import ClipFeatures
from vidsearch.retrieval.scoring import (
    fused,
    motion_scores,
    motion_with_flow,
    pacing_scores,
    pacing_with_tempo,
    segment_rates,
    tempo_amount,
    tempo_similarity,
    tempo_source,
    top_k,
)
from vidsearch.retrieval.store.reader import SnapshotReader, checked_unit_rows, fragment_aux, fragment_rates
from vidsearch.retrieval.types import FusionWeights, GroupBy, RankBy, SearchHit

if TYPE_CHECKING:
    from vidsearch.retrieval.store.ann import AnnSet

# Up to this many candidate segments are scored exactly instead of going through the ANN indexes
# (when they exist): below this, scoring every candidate costs less than a shortlist.
EXACT_SCORING_LIMIT = 4_096
# Segments re-ranked exactly from the vectors on disk (at least this many, or 8 k). The motion
# index's estimate (refined codes over the PCA projection) orders its shortlist almost exactly
# (what it misses are lists not probed), so a shallow re-rank suffices (the sweep:
# docs/performance.md, "Store at scale").
RERANK_DEPTH = 128
# Ceiling of the depth the motion projection's self-check may ask for (``AnnSet.motion_depth``).
MAX_RERANK_DEPTH = 4_096
# --by both: the motion shortlist this deep (at up to BOTH_DEPTH_ROWS segments searched, then
# growing with the square root of their number: ``both_motion_depth``) is fused with exact pacing
# (the curves: 128 B a row) using the index's motion estimates, and the best BOTH_RERANK_DEPTH of
# that fusion, with the pacing shortlist's segments that could still reach them, are re-ranked
# exactly. Why it grows: the fused top 10 sit further down the motion order as segments multiply
# (recall at 10M with and without the rule: docs/performance.md, "Store at scale").
BOTH_MOTION_DEPTH = 1_024
BOTH_DEPTH_ROWS = 1_000_000
BOTH_PACING_DEPTH = 256
BOTH_RERANK_DEPTH = 128
# --by pacing: the pacing shortlist this deep is scored exactly from the curves alone (128 B a
# row: PQ16 codes order it only roughly), the best RERANK_DEPTH then re-ranked with every vector.
PACING_DEPTH = 1_024
SCAN_CHUNK = 65_536


def both_motion_depth(pool: int) -> int:
    """The motion shortlist ``--by both`` fuses, for ``pool`` segments searched (see ``BOTH_MOTION_DEPTH``)."""
    return int(np.ceil(BOTH_MOTION_DEPTH * np.sqrt(max(pool / BOTH_DEPTH_ROWS, 1.0))))


@dataclass(frozen=True)
class SearchRequest:
    feats: ClipFeatures
    k: int
    by: RankBy
    weights: FusionWeights
    allowed: np.ndarray | None  # sorted segment ids a filter admits, None = all
    exclude: np.ndarray  # segment ids to leave out (the query itself: a segment, or a file's segments)
    group_by: GroupBy
    strict_direction: bool = False  # True: no mirror image of the query (same screen direction only)


def query_rate(feats: ClipFeatures, source: str | None) -> float | None:
    """The query's tempo (``tempo_amount`` of ``source`` per second), None where unknown."""
    stored = None if source is None else feats.aux.get(source)
    if stored is None or feats.info is None:
        return None
    rate = float(segment_rates(tempo_amount(source, np.asarray(stored, np.float32)[None])[0], feats.info.duration))
    return None if np.isnan(rate) else rate


def validate(k: int, by: str, group_by: str) -> None:
    if by not in ("motion", "pacing", "both"):
        raise ConfigError(f"by must be 'motion', 'pacing' or 'both', got {by!r}")
    if group_by not in ("segment", "file"):
        raise ConfigError(f"group_by must be 'segment' or 'file', got {group_by!r}")
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")


class Searcher:
    def __init__(self, reader: SnapshotReader, ann: AnnSet | None, contributions):
        self.reader, self.ann, self._contributions = reader, ann, contributions

    def _query_flow(self, req: SearchRequest) -> np.ndarray | None:
        """The query's flow descriptor when the motion score should use it (index and query
        both have flow, a non-zero flow share, a ranking that includes motion)."""
        if req.by == "pacing" or not req.weights.flow or "flow" not in self.reader.manifest.aux_dims:
            return None
        q = req.feats.aux.get("flow")
        return None if q is None else np.asarray(q, np.float32)

    def _forms(self, req: SearchRequest) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(moments, flow) of the query, then of its mirror image unless the request is strict
        about screen direction: the flow's mirror is a permutation of its bins; the moments'
        mirror is the flipped frames' where the query was embedded, else the moments as they are."""
        moments, flow = np.asarray(req.feats.moments, np.float32), self._query_flow(req)
        forms = [(moments, flow)]
        flippable = flow is not None and len(flow) == FLOW_DIM  # the flow histogram's layout
        if req.strict_direction or req.by == "pacing" or (not flippable and req.feats.mirror_moments is None):
            return forms
        mirrored = moments if req.feats.mirror_moments is None else np.asarray(req.feats.mirror_moments, np.float32)
        return forms + [(mirrored, mirror_flow(flow) if flippable else flow)]

    def _motion(self, forms, vectors: np.ndarray, flows: np.ndarray | None, weights: FusionWeights):
        """(motion score, flow cosine or None, which form gave them) of each row: the best over
        the query's forms."""
        best, best_flow, won = None, None, None
        for form, (moments, q_flow) in enumerate(forms):
            flow = None if q_flow is None or flows is None else motion_scores(q_flow, flows)
            score = motion_with_flow(motion_scores(moments, vectors), flow, weights)
            if form:
                score = score - np.float32(weights.mirror_margin)  # the mirror counts past the margin
            if best is None:
                best, best_flow, won = score, flow, np.zeros(len(vectors), np.int64)
                continue
            better = score > best
            best = np.where(better, score, best)
            won = np.where(better, form, won)
            if flow is not None:
                best_flow = np.where(better, flow, best_flow)
        return best, best_flow, won

    def _contributions_of(self, forms, won: np.ndarray, vectors: np.ndarray) -> np.ndarray | None:
        """Each row's per-moment split of the moments cosine, from the form of the query that gave
        its motion score (a mirrored match is explained by the mirror image's moments)."""
        parts = [self._contributions(moments, vectors) for moments, _ in forms]
        return None if parts[0] is None else np.stack(parts)[won, np.arange(len(won))]

    def _motion_shortlist(self, req: SearchRequest, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The motion index's ``k`` best for each form of the query, merged: each id once, with
        its best estimate (the max over forms, as the exact score takes it)."""
        found = [self.ann.motion_search(m, f, req.weights.flow, k, req.allowed) for m, f in self._forms(req)]
        ids = np.concatenate([f[0] for f in found])
        margin = np.float32(req.weights.mirror_margin)  # the mirror form's estimates count past it, as its scores
        est = np.concatenate([f[1] - margin if form else f[1] for form, f in enumerate(found)])
        order = np.argsort(-est, kind="stable")
        ids, est = ids[order], est[order]
        first = np.sort(np.unique(ids, return_index=True)[1])
        return ids[first], est[first]

    def _pacing(self, req: SearchRequest, ids: np.ndarray, curves: np.ndarray | None = None) -> np.ndarray:
        """Exact pacing scores of ``ids``: curve shape, blended with tempo where it is known."""
        shape = pacing_scores(req.feats.spf.curve, self.reader.curves(ids) if curves is None else curves)
        return pacing_with_tempo(shape, self._tempo(req, lambda: self.reader.rates(ids)), req.weights)

    def _tempo(self, req: SearchRequest, rates) -> np.ndarray | None:
        """Tempo similarities of the query with ``rates()`` (called only when needed), or None."""
        if not req.weights.tempo or req.by == "motion":
            return None
        q = query_rate(req.feats, tempo_source(self.reader.manifest.aux_dims))
        stored = None if q is None else rates()
        return None if stored is None else tempo_similarity(q, stored)

    def search(self, req: SearchRequest) -> list[SearchHit]:
        pool = len(self.reader) if req.allowed is None else len(req.allowed)
        if pool == 0:
            return []
        want = req.k + len(req.exclude)
        depth = want if req.group_by == "segment" else 8 * want
        while True:
            ids = self._candidates(req, depth, pool)
            hits = self._rank(req, ids)
            if len(hits) >= req.k or depth >= pool:
                return hits[: req.k]
            depth *= 4  # grouping by file folded too many candidates together: widen

    # ------------------------------------------------------------------ candidates
    def _candidates(self, req: SearchRequest, depth: int, pool: int) -> np.ndarray:
        shortlist = max(depth, BOTH_RERANK_DEPTH if req.by == "both" else RERANK_DEPTH, 8 * req.k)
        if self.ann is not None and req.by != "pacing":  # as deep as the projection's self-check says the data needs
            shortlist = max(shortlist, min(MAX_RERANK_DEPTH, self.ann.motion_depth(pool, req.k)))
        if self.ann is None or pool <= max(EXACT_SCORING_LIMIT, shortlist):
            return self._exact_top(req, depth) if pool > depth else self._all(req)
        if req.by == "both":
            return self._both_candidates(req, shortlist, pool)
        if req.by == "motion":
            return self.reader.live_ids(np.unique(self._motion_shortlist(req, shortlist)[0]))
        ids = self.reader.live_ids(
            np.unique(self.ann.pacing.search(req.feats.spf.curve, max(shortlist, PACING_DEPTH), req.allowed)[0])
        )
        if len(ids) <= shortlist:
            return ids
        return ids[top_k(self._pacing(req, ids), shortlist)]

    def _both_candidates(self, req: SearchRequest, depth: int, pool: int) -> np.ndarray:
        """The ``depth`` best segments by the fused score with the motion part estimated by the
        index (exact pacing from the curves), from a motion shortlist sized for the ``pool`` of
        segments searched. Pacing-shortlist segments outside the motion shortlist compete with the
        shortlist's lowest motion estimate: about the most their motion can be, so they are kept
        only where their pacing could carry them."""
        m_ids, m_est = self._motion_shortlist(req, max(depth, both_motion_depth(pool)))
        p_ids = self.ann.pacing.search(req.feats.spf.curve, max(depth, BOTH_PACING_DEPTH), req.allowed)[0]
        p_ids = p_ids[~np.isin(p_ids, m_ids)]
        ids = np.concatenate([m_ids, p_ids])
        est = np.concatenate([m_est, np.full(len(p_ids), m_est.min() if len(m_est) else 0.0, np.float32)])
        keep = self.reader.locate(ids)[0]  # tombstoned ids out
        ids, est = ids[keep], est[keep]
        if len(ids) <= depth:
            return ids
        fused_est = fused(est, self._pacing(req, ids), "both", req.weights)
        return ids[top_k(fused_est, depth)]

    def _all(self, req: SearchRequest) -> np.ndarray:
        if req.allowed is not None:
            return self.reader.live_ids(req.allowed)
        return np.concatenate([np.asarray(f.ids)[rows] for f, rows in self.reader.iter_live()])

    def _exact_top(self, req: SearchRequest, depth: int) -> np.ndarray:
        """The ``depth`` best segments by the exact score, scanning fragments chunk by chunk."""
        q_c = np.asarray(req.feats.spf.curve, np.float32)
        forms, q_f = self._forms(req), self._query_flow(req)
        best_ids, best_scores = np.empty(0, np.int64), np.empty(0, np.float32)
        for f, rows in self.reader.iter_live():
            if req.allowed is not None:
                rows = rows[np.isin(np.asarray(f.ids)[rows], req.allowed)]
            for start in range(0, len(rows), SCAN_CHUNK):
                part = rows[start : start + SCAN_CHUNK]
                motion = 0.0
                if req.by != "pacing":
                    flows = None if q_f is None else fragment_aux(f, part, "flow", len(q_f))
                    motion = self._motion(forms, checked_unit_rows(f, part), flows, req.weights)[0]
                pacing = 0.0
                if req.by != "motion":
                    tempo = self._tempo(
                        req, lambda f=f, part=part: fragment_rates(f, part, self.reader.manifest.aux_dims)
                    )
                    pacing = pacing_with_tempo(
                        pacing_scores(q_c, np.asarray(f.curves[part], np.float32)), tempo, req.weights
                    )
                score = np.broadcast_to(fused(motion, pacing, req.by, req.weights), (len(part),))
                if not np.isfinite(score).all():  # NaN would sort anywhere: refuse
                    bad = np.asarray(f.ids[part])[~np.isfinite(score)]
                    raise self.reader.damaged_rows(bad, "vectors", "NaN scores")
                ids = np.concatenate([best_ids, np.asarray(f.ids[part], np.int64)])
                scores = np.concatenate([best_scores, score.astype(np.float32)])
                keep = top_k(scores, depth)
                best_ids, best_scores = ids[keep], scores[keep]
        return best_ids

    # ------------------------------------------------------------------ exact re-rank
    def _rank(self, req: SearchRequest, ids: np.ndarray) -> list[SearchHit]:
        if len(req.exclude):
            ids = ids[~np.isin(ids, req.exclude)]
        if not len(ids):
            return []
        q_f = self._query_flow(req)
        vectors, stored_flow, curves = self.reader.scoring_rows(
            ids, 0 if q_f is None else self.reader.manifest.aux_dims["flow"]
        )
        forms = self._forms(req)
        motion, flow, won = self._motion(forms, vectors, stored_flow, req.weights)
        pacing = self._pacing(req, ids, curves)
        score = fused(motion, pacing, req.by, req.weights)
        if not np.isfinite(score).all():
            raise self.reader.damaged_rows(ids[~np.isfinite(score)], "vectors", "NaN scores")
        order = top_k(score, len(ids) if req.group_by == "file" else req.k)
        if req.group_by == "file":  # the best segment of each file: file ids first, records for the picks only
            _, first = np.unique(self.reader.file_ids(ids[order]), return_index=True)
            order = order[np.sort(first)[: req.k]]
        records = self.reader.records(
            ids[order], curves=curves[order], with_aux=False
        )  # a hit's record: metadata, no vectors
        contrib = self._contributions_of(forms, won[order], vectors[order])
        return [
            SearchHit(
                rank=rank,
                id=int(rec["id"]),
                path=rec["path"],
                score=float(score[pos]),
                motion=float(motion[pos]),
                pacing=float(pacing[pos]),
                moment_contributions=None if contrib is None else tuple(float(c) for c in contrib[rank - 1]),
                record=rec,
                file_id=int(rec["file_id"]),
                segment_index=int(rec["segment_index"]),
                start_s=float(rec["start_s"]),
                end_s=float(rec["end_s"]),
                flow=None if flow is None else float(flow[pos]),
            )
            for rank, (pos, rec) in enumerate(zip(order, records), start=1)
        ]
