"""Keyframe + pacing plans for first/last-frame video generators.

The clip's dense SPF is resampled to the index's 64-point curve and split by segmented least
squares into near-constant-speed pieces (the same curve and penalty the index uses for its
``segments`` column, so the penalty means the same everywhere). Consecutive segments share their
boundary frame, so the keyframes chain: segment i's last keyframe is segment i+1's first, which
is what a first/last-frame model needs to generate the pieces back to back.

Each segment's new duration is the time the target pacing P needs to cover the segment's semantic
change: total * (P^-1(S_end) - P^-1(S_start)). With the default steady pacing this is simply
proportional to the semantic change, as in the reference method.

Layout written to the plan folder: ``plan.json`` and ``keyframes/frame_NNNNNN.png``.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.files import rounded, write_json, write_png
from vidsearch.generation.measure import MeasuredClip, measure_clip, resolve_encoder
from vidsearch.generation.pacing import CURVE_POINTS, linear_pace, normalize_pace
from vidsearch.indexers.config import SpfConfig
from vidsearch.indexers.descriptors.spf import inverse_progress, resample_curve, segment_curve
from vidsearch.status import report

PLAN_SCHEMA = "vidsearch.plan/1"
PLAN_FILE = "plan.json"
KEYFRAME_DIR = "keyframes"


@dataclass
class PlanSource:
    """Where the keyframes come from, and which clips informed the plan."""

    path: str
    clip_id: int | None = None
    source_clip_ids: list[int] = field(default_factory=list)
    target_from: str = "linear"  # how the target pacing was obtained
    query: dict | None = None  # {"path", "by", "top"} for plans made from a query
    start_s: float = 0.0  # the planned moment's start in the file (0 for a whole clip)


def hit_span(hit) -> tuple[float | None, float | None]:
    """The time range of a search hit's segment, or the whole file when it is the whole file."""
    start, end = float(hit.start_s or 0.0), float(hit.end_s or 0.0)
    return (start, end) if end > start else (None, None)


def segment_bounds(progress: np.ndarray, penalty: float | None, n_segments: int | None) -> list[int]:
    """Frame indices of the segment boundaries, first 0 and last N-1 (consecutive ones distinct)."""
    n = len(progress)
    if n_segments is not None and n_segments > n - 1:
        raise GenerationError(f"--segments {n_segments}: the clip has only {n} frames (at most {n - 1} segments)")
    if n_segments is not None and n_segments > CURVE_POINTS - 1:
        raise GenerationError(f"--segments must be at most {CURVE_POINTS - 1}, got {n_segments}")
    curve = resample_curve(progress, CURVE_POINTS)
    cuts = segment_curve(curve, penalty if penalty is not None else SpfConfig().penalty, n_segments)
    frames = [0] + [int(round(c / (CURVE_POINTS - 1) * (n - 1))) for c in cuts] + [n - 1]
    return sorted(set(frames))


def build_plan(
    measured: MeasuredClip,
    out_dir: str | os.PathLike,
    source: PlanSource,
    *,
    target=None,
    penalty: float | None = None,
    n_segments: int | None = None,
    duration: float | None = None,
) -> dict:
    """Segment, export keyframe PNGs and ``plan.json`` into ``out_dir``; returns the plan."""
    if penalty is not None and n_segments is not None:
        raise GenerationError("give either --segments or --penalty, not both")
    if n_segments is not None and n_segments < 1:
        raise GenerationError(f"--segments must be >= 1, got {n_segments}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GenerationError(f"{out}: exists and is not a folder")
    pace = normalize_pace(linear_pace() if target is None else target, "target pacing")
    progress, fps = measured.progress, measured.fps
    bounds = segment_bounds(progress, penalty, n_segments)
    total = duration if duration is not None else len(progress) / fps
    if total <= 0:
        raise GenerationError(f"--duration must be > 0 seconds, got {total}")

    (out / KEYFRAME_DIR).mkdir(parents=True, exist_ok=True)
    keyframes = []
    for f in bounds:
        rel = f"{KEYFRAME_DIR}/frame_{f:06d}.png"
        write_png(out / rel, measured.frames[f])
        keyframes.append({"file": rel, "frame": f, "time_s": source.start_s + f / fps})
    # Output time at which the target pacing reaches each boundary's progress.
    at = inverse_progress(pace, progress[bounds]) / (len(pace) - 1) * total
    segments = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        segments.append(
            {
                "index": i,
                "first_frame": a,
                "last_frame": b,
                "first_keyframe": keyframes[i]["file"],
                "last_keyframe": keyframes[i + 1]["file"],
                "source_start_s": source.start_s + a / fps,
                "source_end_s": source.start_s + b / fps,
                "semantic_change": float(progress[b] - progress[a]),
                "duration_s": float(at[i + 1] - at[i]),
                "source_clip_id": source.clip_id,
            }
        )
    plan = {
        "schema": PLAN_SCHEMA,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "path": source.path,
            "clip_id": source.clip_id,
            "fps": fps,
            "start_s": source.start_s,  # frame numbers in the plan count from here; times are file times
            "end_s": source.start_s + len(progress) / fps,
            "frame_count": len(progress),
            "duration_s": len(progress) / fps,
        },
        "query": source.query,
        "source_clip_ids": source.source_clip_ids,
        "segmentation": {
            "method": "segmented-least-squares",
            "curve_points": CURVE_POINTS,
            "penalty": None if n_segments is not None else (penalty if penalty is not None else SpfConfig().penalty),
            "segments": n_segments,
        },
        "total_duration_s": total,
        "target_pacing": rounded(resample_curve(pace, CURVE_POINTS)),
        "target_pacing_from": source.target_from,
        "source_spf": rounded(resample_curve(progress, CURVE_POINTS)),
        "keyframes": keyframes,
        "segments": segments,
    }
    write_json(out / PLAN_FILE, plan)
    return plan


def plan_clip(
    clip: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    encoder,
    spf: SpfConfig = SpfConfig(),
    penalty: float | None = None,
    n_segments: int | None = None,
    duration: float | None = None,
    analysis_fps: float | None = None,
    max_side: int | None = None,
    resize: str = "stretch",
    start_s: float | None = None,
    end_s: float | None = None,
    clip_id: int | None = None,
) -> dict:
    """Plan from one clip, or from its ``[start_s, end_s)`` moment: its own keyframes, steady
    target pacing (``clip_id`` records the indexed segment it came from, if any)."""
    measured = measure_clip(clip, resolve_encoder(encoder), spf, analysis_fps, max_side, resize, start_s, end_s)
    source = PlanSource(str(clip), clip_id=clip_id, start_s=measured.start_s)
    return build_plan(measured, out_dir, source, penalty=penalty, n_segments=n_segments, duration=duration)


def plan_from_query(
    query: str | os.PathLike,
    index,
    out_dir: str | os.PathLike,
    *,
    top: int = 3,
    by: str = "both",
    penalty: float | None = None,
    n_segments: int | None = None,
    duration: float | None = None,
    analysis_fps: float | None = None,
    max_side: int | None = None,
) -> dict:
    """Plan from retrieval: the best hit gives the keyframes, the mean SPF of the top hits the pacing.

    The mean of monotone curves is monotone, so the consensus pacing is a valid target; it keeps
    what the top matches share and averages out one clip's idiosyncrasies.
    """
    if top < 1:
        raise GenerationError(f"--top must be >= 1, got {top}")
    report(index.plan_query(query).describe())
    hits = index.search(query, k=top, by=by)
    if not hits:
        raise GenerationError(f"{index.dir}: no clips to plan from (the index is empty or everything was filtered out)")
    best = hits[0]
    ids = [h.id for h in hits]
    pacing = np.mean([np.asarray(h.record["spf_curve"], dtype=np.float64) for h in hits], axis=0)
    # The best hit is a segment: plan from that moment, not from its whole file.
    measured = measure_clip(
        best.path, index.encoder, index.config.spf, analysis_fps, max_side, index.config.resize, *hit_span(best)
    )
    source = PlanSource(
        start_s=measured.start_s,
        path=best.path,
        clip_id=best.id,
        source_clip_ids=ids,
        target_from=f"mean SPF of clips {ids}",
        query={"path": str(query), "by": by, "top": top},
    )
    return build_plan(
        measured, out_dir, source, target=pacing, penalty=penalty, n_segments=n_segments, duration=duration
    )
