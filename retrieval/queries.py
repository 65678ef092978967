"""What a query is made of before anything is scored: stored features where the index has them.

A query that is an indexed segment, an indexed (unchanged) file, or a time range of one whose
frames are exactly those of stored segments is answered from the stored features: nothing is
decoded and the encoder is never loaded. A file or range stored as several segments searches with
each of them and keeps each hit's best score. Anything else is embedded, with the index's
configuration. The plan also says which stored segments are the query itself (left out of the
results): the segment, the file's segments, or for a time range the segments it overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vidsearch.indexers.features import ClipFeatures
from vidsearch.retrieval.types import RangeQuery, SearchHit


@dataclass(frozen=True)
class QueryPlan:
    """The features to search with and the segments to leave out.

    ``stored`` are the segment ids whose stored features are the query (empty: ``path`` and the
    range are embedded at search time); ``own`` are left out of the results."""

    path: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    stored: tuple[int, ...] = ()
    own: tuple[int, ...] = ()
    features: ClipFeatures | None = field(default=None, compare=False)

    @property
    def needs_embedding(self) -> bool:
        return self.features is None and not self.stored

    def describe(self) -> str:
        """One line for the user: where the query's features come from."""
        what = self.path if self.path is not None else "the query"
        if self.start_s is not None or self.end_s is not None:
            lo = 0.0 if self.start_s is None else self.start_s
            what += f" {lo:g}-{'end' if self.end_s is None else f'{self.end_s:g}'} s"
        if self.features is not None:
            return "using the given features"
        if not self.stored:
            return f"embedding {what} (not in the index as it is)"
        if self.path is None:
            return f"using stored segment #{self.stored[0]}"
        if len(self.stored) == 1:
            return f"using the stored segment #{self.stored[0]} of {what}"
        return f"using the {len(self.stored)} stored segments of {what}"


def plan_query(index, query, keep_overlapping: bool = False) -> QueryPlan:
    """Where ``query``'s features come from (``index``: an ``Index``); reads metadata only."""
    if isinstance(query, QueryPlan):
        return query
    if isinstance(query, ClipFeatures):
        return QueryPlan(features=query)
    if isinstance(query, (int, np.integer)):
        sid = int(query)
        index.get(sid)  # an unknown id is a KeyError here, before any work
        return QueryPlan(stored=(sid,), own=(sid,))
    if isinstance(query, RangeQuery) and query.start_s is None and query.end_s is None:
        query = query.path
    if not isinstance(query, RangeQuery):
        path = str(query)
        segments = index.segments_of(path) if index.find_path(path) is not None else []
        ids = tuple(int(s["id"]) for s in segments)
        return QueryPlan(path=path, stored=ids, own=ids)
    segments = index.segments_of(query.path) if index.find_path(query.path) is not None else []
    matched = _matching_segments(segments, query)
    start = 0.0 if query.start_s is None else query.start_s
    end = float("inf") if query.end_s is None else query.end_s
    overlapped = tuple(int(s["id"]) for s in segments if s["start_s"] < end and s["end_s"] > start)
    own = matched if keep_overlapping else tuple(sorted(set(matched) | set(overlapped)))
    return QueryPlan(str(query.path), query.start_s, query.end_s, stored=matched, own=own)


def _matching_segments(segments: list[dict], query: RangeQuery) -> tuple[int, ...]:
    """The run of stored segments whose frames are exactly the range's (as the decoder would
    pick them: ``frame_range``), or () when the range cuts through a segment."""
    if not segments:
        return ()
    fps = float(segments[0]["fps"])
    last_frame = max(int(s["end_frame"]) for s in segments)
    start = 0.0 if query.start_s is None else float(query.start_s)
    first = int(round(start * fps))
    last = last_frame if query.end_s is None else min(max(int(round(float(query.end_s) * fps)), first + 1), last_frame)
    run = [s for s in segments if int(s["start_frame"]) >= first and int(s["end_frame"]) <= last]
    if not run or int(run[0]["start_frame"]) != first or int(run[-1]["end_frame"]) != last:
        return ()
    if any(int(a["end_frame"]) != int(b["start_frame"]) for a, b in zip(run, run[1:])):
        return ()  # a gap between stored segments: the range holds frames no segment has
    return tuple(int(s["id"]) for s in run)


def merge_hits(lists: list[list[SearchHit]], k: int, group_by: str) -> list[SearchHit]:
    """One ranking from the rankings of several query segments: each hit at its best score
    (each file at its best segment with ``group_by="file"``), the ``k`` best, ranks renumbered."""
    best: dict[int, SearchHit] = {}
    for hits in lists:
        for h in hits:
            key = h.file_id if group_by == "file" else h.id
            if key not in best or h.score > best[key].score:
                best[key] = h
    merged = sorted(best.values(), key=lambda h: (-h.score, h.id))[:k]
    for rank, h in enumerate(merged, start=1):
        h.rank = rank
    return merged
