"""What the search UI does, without any Gradio: turn a form into an index query and a JSON payload.

Kept apart from ``ui.py`` so the query logic, the metadata filter and the file-serving guard can be
unit-tested without a web server, and so the Gradio endpoint and the browser view render the very
same payload (the endpoint returns it; the page draws cards and the SPF plot from it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from vidsearch.retrieval.types import FusionWeights, RankBy, SearchHit

ProgressFn = Callable[[float, str], None]


class UiError(Exception):
    """A user mistake or an unusable input; the message is shown to the user as it is."""


@dataclass(frozen=True)
class ClipFilter:
    """Metadata filter of the form: duration range, a path substring and/or raw SQL, ANDed."""

    min_duration: float | None = None
    max_duration: float | None = None
    path_contains: str = ""
    sql: str = ""

    def to_where(self) -> str | None:
        """DuckDB ``WHERE`` text for ``Index.search(where=...)``; ``None`` when nothing is set.

        The path substring is matched case-insensitively with ``contains`` (no LIKE wildcards to
        escape) and its quotes are doubled, so typed text can never break out of the literal.
        """
        lo, hi = self.min_duration, self.max_duration
        if lo is not None and hi is not None and lo > hi:
            raise UiError(f"Duration range is empty: minimum {lo:g} s is above maximum {hi:g} s.")
        parts = []
        if lo is not None:
            parts.append(f"duration >= {float(lo)!r}")
        if hi is not None:
            parts.append(f"duration <= {float(hi)!r}")
        needle = self.path_contains.strip().lower()
        if needle:
            parts.append(f"contains(lower(path), '{needle.replace(chr(39), chr(39) * 2)}')")
        if self.sql.strip():
            parts.append(f"({self.sql.strip()})")
        return " AND ".join(parts) or None


@dataclass(frozen=True)
class SearchRequest:
    """One query from the form or the API: an uploaded clip (wins if given) or an indexed clip id."""

    video: str | None = None
    clip_id: int | None = None
    top_k: int = 8
    by: RankBy = "both"
    motion_weight: float = 0.7
    filter: ClipFilter = field(default_factory=ClipFilter)


def _curve_fields(curve, max_dev: float, mean_dev: float, breakpoints) -> dict[str, Any]:
    return {
        "spf_curve": [round(float(v), 5) for v in curve],
        "linearity_max": float(max_dev),
        "linearity_mean": float(mean_dev),
        "breakpoints": [int(b) for b in breakpoints],
    }


def _record_curve(record: dict[str, Any]) -> dict[str, Any]:
    return _curve_fields(
        record["spf_curve"], record["linearity_max"], record["linearity_mean"], record.get("breakpoints") or []
    )


def hit_to_json(hit: SearchHit) -> dict[str, Any]:
    """A search hit as plain JSON: scores, the motion score's per-moment split, the SPF curve."""
    return {
        "rank": hit.rank,
        "id": hit.id,
        "path": hit.path,
        "score": float(hit.score),
        "motion": float(hit.motion),
        "pacing": float(hit.pacing),
        "contributions": hit.contributions_by_moment(),
        "duration": float(hit.record.get("duration") or 0.0),
        **_record_curve(hit.record),
    }


class SearchService:
    """Runs UI queries against one opened index and decides which result files may be served.

    Index calls are serialised with a lock: Gradio runs handlers on worker threads and the index
    (FAISS + DuckDB handles, a loaded encoder) is not documented as thread-safe.
    """

    def __init__(self, index):
        self.index = index
        self.roots = [Path(r).resolve() for r in index.roots]
        self._lock = threading.Lock()

    def clip_choices(self) -> list[tuple[str, int]]:
        """(label, id) pairs for the "pick an indexed clip" dropdown, labelled by root-relative path."""
        return [(f"#{r['id']} {self.display_path(r['path'])}", int(r["id"])) for r in self.index.records()]

    def summary(self) -> str:
        """One Markdown line about the index, or the empty-index notice."""
        n = len(self.index)
        if n == 0:
            return f"**The index at `{self.index.dir}` is empty.** Add clips with `vidsearch index` first."
        roots = ", ".join(f"`{r}`" for r in self.roots) or "none"
        return f"{n} clips · backbone `{self.index.config.backbone}` · corpus roots {roots}"

    def media_path(self, path: str) -> str | None:
        """The resolved file to play for a result, or ``None`` when it must not be served.

        Symlinks and ``..`` are resolved first, so a record path cannot point the UI outside the
        corpus roots; Gradio's own ``allowed_paths`` check is the second fence.
        """
        p = Path(path).resolve()
        if not p.is_file() or not any(p.is_relative_to(root) for root in self.roots):
            return None
        return str(p)

    def search(self, req: SearchRequest, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Run one query; returns ``{"query": ..., "by", "weights", "where", "results": [...]}``."""
        from vidsearch.indexers.encoders.errors import EncoderError
        from vidsearch.indexers.video import VideoError
        from vidsearch.retrieval.store import IndexStoreError

        with self._lock:
            self.index.refresh()  # clips indexed since the UI started are searchable at once
        if len(self.index) == 0:
            raise UiError(self.summary().replace("**", ""))
        if not 0.0 <= req.motion_weight <= 1.0:
            raise UiError(f"Motion weight must be between 0 and 1 (got {req.motion_weight}).")
        weights = FusionWeights(motion=req.motion_weight, pacing=1.0 - req.motion_weight)
        where = req.filter.to_where()
        top_k = max(1, int(req.top_k))
        with self._lock:
            try:
                query, query_json = self._query(req, progress)
                if progress:
                    progress(0.8, "Searching the index")
                hits = self.index.search(query, k=top_k, by=req.by, weights=weights, where=where)
            except VideoError as exc:
                name = Path(exc.path).name
                raise UiError(f"Cannot use the uploaded file '{name}': {exc.reason}.") from exc
            except (IndexStoreError, EncoderError, ValueError) as exc:  # FilterError is a ValueError
                raise UiError(str(exc)) from exc
        return {
            "query": query_json,
            "by": req.by,
            "weights": {"motion": weights.motion, "pacing": weights.pacing},
            "where": where,
            "results": [hit_to_json(h) for h in hits],
        }

    def _query(self, req: SearchRequest, progress: ProgressFn | None) -> tuple[Any, dict[str, Any]]:
        """The query to hand to ``Index.search`` and its JSON description (label + SPF)."""
        if req.video:
            name = Path(req.video).name
            if progress:
                progress(0.1, f"Embedding {name}")
            feats = self.index.embed(req.video)
            sig = feats.spf
            meta = {"id": None, "label": f"uploaded {name}", "path": None}
            return feats, {**meta, **_curve_fields(sig.curve, sig.max_dev, sig.mean_dev, sig.breakpoints)}
        if req.clip_id is None:
            raise UiError("Upload a clip or pick an indexed clip to search with.")
        clip_id = int(req.clip_id)
        try:
            record = self.index.get(clip_id)
        except KeyError as exc:
            raise UiError(f"No clip with id {clip_id} in the index.") from exc
        meta = {"id": clip_id, "label": f"#{clip_id} {self.display_path(record['path'])}", "path": record["path"]}
        return clip_id, {**meta, **_record_curve(record)}

    def display_path(self, path: str) -> str:
        """A path relative to the corpus root that holds it (absolute when outside every root)."""
        p = Path(path)
        for root in self.roots:
            if p.is_relative_to(root):
                return str(p.relative_to(root))
        return str(p)
