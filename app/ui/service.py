"""What the search UI does, without any Gradio: turn a form into an index query and a JSON payload.

Kept apart from ``ui.py`` so the query logic, the metadata filter, the picker and the media guard
can be unit-tested without a web server, and so the Gradio endpoint and the browser view render the
very same payload (the endpoint returns it; the page draws cards and the SPF plot from it).

The payload never has a ``path`` key: ``gradio_client`` takes any dict with one for a file to
download, which turned every hit into a string on the client side. Files are ``file_path``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from vidsearch.app.ui.media import (
    PLACEHOLDER_SVG,
    OpenedVideo,
    Refusal,
    image_type,
    open_indexed_video,
    poster_from_video,
)
from vidsearch.app.ui.query_cache import Lru, QueryFeatureCache
from vidsearch.app.ui.routes import media_url, poster_url
from vidsearch.errors import VidsearchError
from vidsearch.retrieval.types import FusionWeights, GroupBy, RankBy, SearchHit

ProgressFn = Callable[[float, str], None]


class UiError(VidsearchError):
    """A user mistake or an unusable input; the message is shown to the user as it is."""


@dataclass(frozen=True)
class ClipFilter:
    """Metadata filter of the form: segment duration range, a path substring and/or raw SQL, ANDed."""

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
            parts.append(f"segment_duration >= {float(lo)!r}")
        if hi is not None:
            parts.append(f"segment_duration <= {float(hi)!r}")
        needle = self.path_contains.strip().lower()
        if needle:
            parts.append(f"contains(lower(path), '{needle.replace(chr(39), chr(39) * 2)}')")
        if self.sql.strip():
            parts.append(f"({self.sql.strip()})")
        return " AND ".join(parts) or None


def optional_number(value: str | float | None, what: str, *, integer: bool = False) -> float | int | None:
    """A form field that may be left empty: ``""``/None -> None, else a non-negative number.

    The page uses text boxes for these because Gradio's number box cannot be empty (it sends 0,
    which as a maximum duration filtered everything out); API callers may pass numbers directly.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UiError(f"{what} must be a number, got {value!r}.") from None
    if number < 0 or number != number:
        raise UiError(f"{what} must be 0 or more, got {value!r}.")
    if integer:
        if not number.is_integer():
            raise UiError(f"{what} must be a whole number, got {value!r}.")
        return int(number)
    return number


@dataclass(frozen=True)
class SearchRequest:
    """One query from the form or the API: an uploaded clip (wins if given) or an indexed segment id."""

    video: str | None = None
    segment_id: int | None = None
    top_k: int = 8
    by: RankBy = "both"
    motion_weight: float = 0.7
    filter: ClipFilter = field(default_factory=ClipFilter)
    group_by: GroupBy = "segment"  # "file": only the best segment of each file
    # A moment of the uploaded clip as the query, seconds (None: from its start / to its end).
    query_start_s: float | None = None
    query_end_s: float | None = None
    strict_direction: bool = False  # True: a mirrored motion no longer matches


_DUCKDB_PREFIX = re.compile(r"^\s*[A-Z][A-Za-z ]* Error:\s*")
_PATH_LIKE = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.\-~]+){2,}[\\/]?")


def short_filter_reason(exc: Exception) -> str:
    """A filter error in one line the user can act on, without DuckDB's internals.

    DuckDB appends the echoed query, caret lines, ``INSTALL x; LOAD x;`` advice and extension paths
    on this machine; the user needs the first sentence and the column names.
    """
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    text = (getattr(exc, "reason", None) or str(cause)).strip()
    first = _DUCKDB_PREFIX.sub("", text.splitlines()[0] if text else "invalid filter")
    if "extension" in first.lower():
        name = re.search(r'name "?([\w.]+)"?', first)
        first = f"unknown function {name.group(1)!r}" if name else "that function is not available"
        first += " (DuckDB extensions are not available in filters)"
    first = _PATH_LIKE.sub("…", first).strip()
    first += "" if first.endswith((".", "!", "?")) else "."
    columns = re.search(r"Columns: (.+)$", str(exc))
    return f"Bad filter: {first}" + (f" Columns: {columns.group(1).rstrip('.')}." if columns else "")


def segment_span(record: dict[str, Any]) -> tuple[float, float]:
    """``(start_s, end_s)`` of a segment record."""
    return float(record["start_s"]), float(record["end_s"])


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


def _segment_fields(segment_id: int, file_path: str, start_s: float, end_s: float) -> dict[str, Any]:
    """Where a segment is and where the page (or an API user) can fetch it."""
    return {
        "file_path": file_path,
        "start_s": round(float(start_s), 3),
        "end_s": round(float(end_s), 3),
        "media_url": media_url(segment_id),
        "poster_url": poster_url(segment_id),
    }


def hit_to_json(hit: SearchHit) -> dict[str, Any]:
    """A search hit as plain JSON: scores, the motion score's per-moment split, the segment, its SPF."""
    return {
        "rank": hit.rank,
        "id": hit.id,
        "file_id": hit.file_id,
        "segment_index": hit.segment_index,
        "score": float(hit.score),
        "calibrated": None if hit.calibrated is None else float(hit.calibrated),
        "motion": float(hit.motion),
        "flow": None if hit.flow is None else float(hit.flow),
        "pacing": float(hit.pacing),
        "contributions": hit.contributions_by_moment(),
        **_segment_fields(hit.id, hit.path, hit.start_s, hit.end_s),
        "duration": round(float(hit.end_s - hit.start_s), 3),
        **_record_curve(hit.record),
    }


T = TypeVar("T")


def run_with_progress(
    fn: Callable[[], T], progress: ProgressFn | None, span: tuple[float, float], desc: str, expected_s: float
) -> T:
    """Run ``fn`` while the progress bar creeps from ``span[0]`` towards ``span[1]`` (never past
    it), so a long embedding shows a moving bar and the elapsed time instead of a frozen one."""
    if progress is None:
        return fn()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread below
            result["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    t0 = time.monotonic()
    worker.start()
    lo, hi = span
    while worker.is_alive():
        elapsed = time.monotonic() - t0
        progress(lo + (hi - lo) * (1 - 0.5 ** (elapsed / max(expected_s, 0.1))), f"{desc} ({elapsed:.0f} s)")
        worker.join(0.25)
    if "error" in result:
        raise result["error"]
    return result["value"]


class SearchService:
    """Runs UI queries against one opened index and decides which result files may be served.

    Index calls are serialised with a lock: Gradio runs handlers on worker threads and the index
    (FAISS + DuckDB handles, a loaded encoder) is not documented as thread-safe. Embedding an
    upload happens outside the lock, so the page keeps serving media and posters meanwhile.
    """

    def __init__(self, index, *, cache_clips: int = 32):
        self.index = index
        self.roots = [Path(r).resolve() for r in index.roots]
        self._blocked = [Path(index.dir).resolve()]
        self._lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self.query_cache: QueryFeatureCache = QueryFeatureCache(cache_clips)
        self._posters: Lru[tuple[bytes, str]] = Lru(512)
        self._hashes: Lru[bool] = Lru(256)  # content-hash verdicts of files whose identity moved
        self._embed_seconds = 2.0 + index.config.num_frames / 10.0  # until a real one is measured

    # ------------------------------------------------------------------ index state
    def refresh(self) -> None:
        """Pick up segments committed by another process (``vidsearch index`` while the UI runs)."""
        with self._lock:
            if self.index.refresh():
                self.roots = [Path(r).resolve() for r in self.index.roots]

    def summary(self) -> str:
        """One Markdown line about the index, or the empty-index notice (fresh on every call)."""
        self.refresh()
        n = len(self.index)
        if n == 0:
            return f"**The index at `{self.index.dir}` is empty.** Add clips with `vidsearch index` first."
        roots = ", ".join(f"`{r}`" for r in self.roots) or "none"
        return f"**{n:,}** indexed segments · backbone `{self.index.config.backbone}` · corpus roots {roots}"

    def record(self, segment_id: int) -> dict[str, Any] | None:
        """A segment's record; an unknown id first refreshes the index (cheap: one folder listing),
        so media of segments committed since the last search is found."""
        for attempt in range(2):
            with self._lock:
                try:
                    return self.index.get(int(segment_id))
                except KeyError:
                    pass
            if attempt == 0:
                self.refresh()
        return None

    def picker_page(self, offset: int, limit: int, contains: str = "") -> tuple[list[dict[str, Any]], bool]:
        """One page of segments for the picker (``[{id, file, start_s, end_s}]``) and whether more
        follow; ``contains`` matches the file path case-insensitively."""
        self.refresh()
        with self._lock:
            rows = self.index.page(max(0, int(offset)), int(limit) + 1, contains=contains.strip() or None)
        items = []
        for r in rows[:limit]:
            start, end = segment_span(r)
            items.append({"id": int(r["id"]), "file": self.display_path(r["path"]), "start_s": start, "end_s": end})
        return items, len(rows) > limit

    # ------------------------------------------------------------------ media
    def open_media(self, segment_id: int) -> OpenedVideo | Refusal:
        """The segment's indexed video, open and verified to be the file that was indexed (the
        caller closes it), or why not: 404 unknown id or file gone, 410 the file changed."""
        record = self.record(segment_id)
        if record is None:
            return Refusal(404, "no such indexed segment")
        return open_indexed_video(record, self._blocked, self._hashes)

    def media_file(self, segment_id: int) -> Path | None:
        """The path :meth:`open_media` would serve, or None."""
        opened = self.open_media(segment_id)
        if isinstance(opened, Refusal):
            return None
        opened.close()
        return opened.path

    def poster(self, segment_id: int) -> tuple[bytes, str] | None:
        """``(image bytes, MIME type)`` of a segment's thumbnail: the one stored at index time, else
        a frame of the segment made now (cached), else a neutral placeholder. None for unknown ids."""
        from vidsearch.indexers.decode.video import VideoError

        record = self.record(segment_id)
        if record is None:
            return None
        cached = self._posters.get(int(segment_id))
        if cached is not None:
            return cached
        try:
            with self._lock:
                stored = self.index.poster(int(segment_id))
        except KeyError:  # removed by a refresh on another thread since ``record``
            return None
        if stored:
            image = (stored, image_type(stored))
        else:
            opened = open_indexed_video(record, self._blocked, self._hashes)
            image = None
            if isinstance(opened, OpenedVideo):
                try:
                    image = (poster_from_video(opened.readable_path, *segment_span(record)), "image/jpeg")
                except (VideoError, ValueError):
                    image = None
                finally:
                    opened.close()
            image = image or (PLACEHOLDER_SVG, "image/svg+xml")
        self._posters.put(int(segment_id), image)
        return image

    # ------------------------------------------------------------------ search
    def search(self, req: SearchRequest, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Run one query; returns ``{"query": ..., "by", "weights", "where", "results": [...]}``."""
        from vidsearch.indexers.decode.video import VideoError
        from vidsearch.indexers.encoders.errors import EncoderError
        from vidsearch.retrieval.filters import FilterError
        from vidsearch.retrieval.store.manifest import IndexStoreError

        self.refresh()  # segments indexed since the UI started are searchable at once
        if len(self.index) == 0:
            raise UiError(self.summary().replace("**", ""))
        if not 0.0 <= req.motion_weight <= 1.0:
            raise UiError(f"Motion weight must be between 0 and 1 (got {req.motion_weight}).")
        weights = FusionWeights(motion=req.motion_weight, pacing=1.0 - req.motion_weight)
        where = req.filter.to_where()
        top_k = max(1, int(req.top_k))
        try:
            query, query_json = self._query(req, progress)
            if progress:
                progress(0.9, "Searching the index")
            with self._lock:
                hits = self.index.search(
                    query,
                    k=top_k,
                    by=req.by,
                    weights=weights,
                    where=where,
                    group_by=req.group_by,
                    strict_direction=req.strict_direction,
                )
        except VideoError as exc:
            raise UiError(f"Cannot use the uploaded file '{Path(exc.path).name}': {exc.reason}.") from exc
        except FilterError as exc:
            raise UiError(short_filter_reason(exc)) from exc
        except (IndexStoreError, EncoderError, ValueError) as exc:
            raise UiError(str(exc)) from exc
        return {
            "query": query_json,
            "by": req.by,
            "group_by": req.group_by,
            "strict_direction": req.strict_direction,
            "weights": {"motion": weights.motion, "pacing": weights.pacing},
            "where": where,
            "results": [hit_to_json(h) for h in hits],
        }

    def _query(self, req: SearchRequest, progress: ProgressFn | None) -> tuple[Any, dict[str, Any]]:
        """The query to hand to ``Index.search`` and its JSON description (label, segment, SPF)."""
        if req.video:
            span = (req.query_start_s, req.query_end_s)
            mirror = not req.strict_direction and req.by != "pacing"  # as Index.search embeds a path
            feats = self._upload_features(req.video, span, mirror, progress)
            sig = feats.spf
            start = req.query_start_s or 0.0
            end = (
                req.query_end_s if req.query_end_s is not None else (float(feats.info.duration) if feats.info else 0.0)
            )
            label = f"uploaded {Path(req.video).name}" + (f" [{start:.1f}–{end:.1f} s]" if span != (None, None) else "")
            meta = {"id": None, "label": label, "file_path": None, "start_s": start, "end_s": end}
            return feats, {**meta, **_curve_fields(sig.curve, sig.max_dev, sig.mean_dev, sig.breakpoints)}
        if req.segment_id is None:
            raise UiError("Upload a clip or pick an indexed segment to search with.")
        segment_id = int(req.segment_id)
        record = self.record(segment_id)
        if record is None:
            raise UiError(f"No segment with id {segment_id} in the index.")
        start, end = segment_span(record)
        meta = {"id": segment_id, "label": self.segment_label(segment_id, record)}
        return segment_id, {**meta, **_segment_fields(segment_id, record["path"], start, end), **_record_curve(record)}

    def _upload_features(
        self, video: str, span: tuple[float | None, float | None], mirror: bool, progress: ProgressFn | None
    ):
        """Features of an uploaded clip (or of its ``span``), from the cache when embedded before.
        ``mirror``: with the flipped frames' moments, so a mirrored motion matches as it does for a
        path given to ``Index.search``; cached features without them are embedded again."""

        def embed(path):
            with self._embed_lock:  # one embedding at a time: the encoder already uses every core
                t0 = time.monotonic()
                feats = self.index.embed(path, *span, mirror=mirror)
                self._embed_seconds = time.monotonic() - t0
                return feats

        usable = (lambda feats: feats.mirror_moments is not None) if mirror else None
        name = Path(video).name
        if self.query_cache.has(video, span, usable):
            if progress:
                progress(0.5, f"Reusing the embedding of {name}")
            return self.query_cache.features(video, embed, span, usable)
        compute = lambda: self.query_cache.features(video, embed, span, usable)  # noqa: E731
        return run_with_progress(compute, progress, (0.05, 0.85), f"Embedding {name}", self._embed_seconds)

    def segment_label(self, segment_id: int, record: dict[str, Any]) -> str:
        start, end = segment_span(record)
        return f"#{segment_id} {self.display_path(record['path'])} [{start:.1f}–{end:.1f} s]"

    def display_path(self, path: str) -> str:
        """A path relative to the corpus root that holds it (absolute when outside every root)."""
        p = Path(path)
        for root in self.roots:
            if p.is_relative_to(root):
                return str(p.relative_to(root))
        return str(p)
