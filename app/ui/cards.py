"""HTML of the page's cards: a segment player, a result's scores and "why" bar, the query preview.

A player is a plain ``<video>`` that loads nothing until asked (``preload="none"`` + a poster made
at index time), with the media fragment ``#t=start,end`` so the browser seeks to the segment's
start and stops at its end; ``PLAYER_SCRIPT`` enforces the end on replays and seeks (the fragment
alone only applies to the first play) and starts a replay from the segment's start again.
"""

from __future__ import annotations

import html
from typing import Any

MOMENT_LABELS = {
    "mean": "mean",
    "std": "variance (std)",
    "skew": "skew",
    "delta_mean": "direction (mean change)",
    "delta_std": "speed (change spread)",
    "delta_skew": "change skew",
}
MOMENT_COLORS = {
    "mean": "#4c78a8",
    "std": "#f58518",
    "skew": "#54a24b",
    "delta_mean": "#e45756",
    "delta_std": "#72b7b2",
    "delta_skew": "#b279a2",
}
RANKING_HELP = (
    "**motion**: how alike the movement is (SemanticMoments: the mean, variance and skew over time "
    "of every image-patch feature), whatever the people, colours or camera.  \n"
    "**pacing**: how alike the timing is (the SPF curve: when, over the segment, the content "
    "changes fast or stands still), whatever moves.  \n"
    "**both**: a weighted sum of the two (slider below)."
)
CSS = """
.hit-card {padding: 4px 2px; font-size: 0.9em; line-height: 1.35}
.hit-path {word-break: break-all; font-size: 0.95em; font-weight: 600}
.why-bar {display: flex; height: 10px; border-radius: 3px; overflow: hidden; margin: 4px 0; background: #eee}
video.segment-player {width: 100%; aspect-ratio: 16 / 10; background: #111; border-radius: 4px}
"""
# Media events do not bubble, so listen in the capture phase on the document: this covers every
# player, including the ones Gradio re-renders after each search.
PLAYER_SCRIPT = """<script>
(() => {
  const span = v => [parseFloat(v.dataset.start) || 0, parseFloat(v.dataset.end)];
  const isPlayer = v => v instanceof HTMLVideoElement && v.classList.contains("segment-player");
  document.addEventListener("play", e => {
    const v = e.target; if (!isPlayer(v)) return;
    const [start, end] = span(v);
    if (v.currentTime < start - 0.05 || (end && v.currentTime >= end - 0.05)) v.currentTime = start;
  }, true);
  document.addEventListener("timeupdate", e => {
    const v = e.target; if (!isPlayer(v)) return;
    const [, end] = span(v);
    if (end && v.currentTime >= end && !v.paused) { v.pause(); v.currentTime = end; }
  }, true);
})();
</script>"""


def segment_player_html(item: dict[str, Any], label: str) -> str:
    """A ``<video>`` for a segment dict with ``media_url``, ``poster_url``, ``start_s``, ``end_s``."""
    start, end = float(item["start_s"]), float(item["end_s"])
    return (
        f'<video class="segment-player" controls preload="none" playsinline '
        f'src="{html.escape(item["media_url"])}#t={start:.3f},{end:.3f}" poster="{html.escape(item["poster_url"])}" '
        f'data-start="{start:.3f}" data-end="{end:.3f}" aria-label="{html.escape(label)}"></video>'
    )


def _why_bar(contributions: dict[str, float] | None) -> str:
    """Inline bar: each moment's share of the motion cosine (magnitudes; signs are in the text)."""
    if not contributions:
        return ""
    total = sum(abs(v) for v in contributions.values()) or 1.0
    segs = "".join(
        f'<span title="{MOMENT_LABELS[k]} {contributions[k]:+.3f}" '
        f'style="width:{100 * abs(contributions[k]) / total:.1f}%;background:{MOMENT_COLORS[k]}"></span>'
        for k in contributions
    )
    text = " · ".join(f"{MOMENT_LABELS[k]} {contributions[k]:+.3f}" for k in contributions)
    return f'<div class="why-bar">{segs}</div><div>why: {text} (they sum to the moments cosine)</div>'


def _calibrated(pct: float | None) -> str:
    """The calibrated score beside the raw one: closer than ``pct`` % of pairs in this index."""
    if pct is None:
        return ""
    return (
        f'<span class="calibrated" title="closer than {pct:.1f} % of random pairs of '
        f'segments in this index">(percentile {pct:.0f})</span>'
    )


def _flow(cos: float | None) -> str:
    return "" if cos is None else f" · flow {cos:.3f}"


def _span_text(item: dict[str, Any]) -> str:
    return f"{item['start_s']:.1f}–{item['end_s']:.1f} s"


def hit_card_html(hit: dict[str, Any], display_path: str) -> str:
    """Player, scores, the "why" bar and the file of one result, with data-* attributes tests read."""
    return (
        f'<div class="hit-card" data-rank="{hit["rank"]}" data-id="{hit["id"]}" data-score="{hit["score"]:.6f}">'
        f"{segment_player_html(hit, 'result ' + str(hit['rank']))}"
        f"<div><b>#{hit['rank']}</b> score "
        f"<b>{hit['score']:.3f}</b>{_calibrated(hit.get('calibrated'))} · motion "
        f"{hit['motion']:.3f}"
        f"{_flow(hit.get('flow'))} · pacing {hit['pacing']:.3f}</div>"
        f"{_why_bar(hit.get('contributions'))}"
        f'<div class="hit-path">{html.escape(display_path)} · {_span_text(hit)}</div></div>'
    )


def query_preview_html(segment: dict[str, Any] | None, label: str) -> str:
    """The picked indexed segment as the query: its player and label (empty when none is picked)."""
    if segment is None:
        return f'<div class="hit-card">{html.escape(label)}</div>' if label else ""
    player = segment_player_html(segment, label)
    return f'<div class="hit-card" data-id="{segment["id"]}">{player}<div>{html.escape(label)}</div></div>'


def status_markdown(payload: dict[str, Any] | None) -> str:
    if not payload:
        return "Upload a clip or pick an indexed segment, then **Search**."
    w = payload["weights"]
    n = len(payload["results"])
    ranking = (
        f"fused (motion {w['motion']:.2f} / pacing {w['pacing']:.2f})" if payload["by"] == "both" else payload["by"]
    )
    where = f" · filter `{payload['where']}`" if payload["where"] else ""
    where += " · best segment per file" if payload.get("group_by") == "file" else ""
    where += " · same screen direction only" if payload.get("strict_direction") else ""
    found = f"{n} result{'s' * (n != 1)}" if n else "**No segment matches** the query and filter"
    return f"Query **{html.escape(payload['query']['label'])}** · {found} ranked by {ranking}{where}"
