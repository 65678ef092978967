"""``vidsearch ui``: a query-by-example Gradio app over one index.

The page and the API share one named endpoint, ``/search`` (``SearchService.search`` returning a
JSON payload); the page then draws playable result cards, the per-moment "why" bars and the SPF
overlay from that payload, so what a script gets through ``gradio_client`` is exactly what the
browser shows.

Security model (see ``launch``): bind to 127.0.0.1 unless told otherwise, no share link unless
asked, uploads capped in size, and only files under the index's corpus roots are served (the index
directory itself is blocked). SQL filters run in a DuckDB connection with external access switched
off (``retrieval/filters.py``), so a filter cannot read or write files.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, get_args

# Gradio reads this when it builds and launches apps: no phoning home (there may be no internet).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from vidsearch.app.ui_service import ClipFilter, SearchRequest, SearchService, UiError  # noqa: E402
from vidsearch.retrieval.types import RankBy  # noqa: E402

DEFAULT_MAX_FILE_SIZE = "200mb"
MAX_TOP_K = 50
MOMENT_LABELS = {
    "mean": "mean",
    "std": "variance (std)",
    "skew": "skew",
    "delta_mean": "direction (mean change)",
    "delta_std": "speed (change spread)",
    "delta_skew": "change skew",
}
MOMENT_COLORS = {"mean": "#4c78a8", "std": "#f58518", "skew": "#54a24b", "delta_mean": "#e45756", "delta_std": "#72b7b2", "delta_skew": "#b279a2"}
CSS = """
.hit-card {padding: 4px 2px; font-size: 0.9em; line-height: 1.35}
.hit-path {color: var(--body-text-color-subdued); word-break: break-all; font-size: 0.85em}
.why-bar {display: flex; height: 10px; border-radius: 3px; overflow: hidden; margin: 4px 0; background: #eee}
"""


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
    return f' <span class="calibrated" title="closer than {pct:.1f} % of random pairs of segments in this index">(percentile {pct:.0f})</span>'


def _flow(cos: float | None) -> str:
    return "" if cos is None else f" · flow {cos:.3f}"


def hit_card_html(hit: dict[str, Any], display_path: str, served: bool) -> str:
    """Scores, the "why" bar and the path of one result, with data-* attributes tests can read."""
    note = "" if served else "<div><b>file not served</b> (missing or outside the corpus roots)</div>"
    return (
        f'<div class="hit-card" data-rank="{hit["rank"]}" data-id="{hit["id"]}" data-score="{hit["score"]:.6f}">'
        f"<div><b>#{hit['rank']}</b> score <b>{hit['score']:.3f}</b>{_calibrated(hit.get('calibrated'))} · motion {hit['motion']:.3f}"
        f"{_flow(hit.get('flow'))} · pacing {hit['pacing']:.3f}</div>"
        f"{_why_bar(hit.get('contributions'))}{note}"
        f'<div class="hit-path">{html.escape(display_path)} · {hit["duration"]:.1f} s</div></div>'
    )


def status_markdown(payload: dict[str, Any] | None) -> str:
    if not payload:
        return "Upload a clip or pick an indexed clip, then **Search**."
    w = payload["weights"]
    n = len(payload["results"])
    ranking = f"fused (motion {w['motion']:.2f} / pacing {w['pacing']:.2f})" if payload["by"] == "both" else payload["by"]
    where = f" · filter `{payload['where']}`" if payload["where"] else ""
    found = f"{n} result{'s' * (n != 1)}" if n else "**No clip matches** the query and filter"
    return f"Query **{html.escape(payload['query']['label'])}** · {found} ranked by {ranking}{where}"


def build_app(index, *, max_top_k: int = MAX_TOP_K):
    """The Blocks app over an opened ``Index`` (not launched; ``launch`` adds the security settings)."""
    import gradio as gr

    from vidsearch.app.ui_plot import spf_figure

    service = SearchService(index)

    def search(
        video: str | None,
        clip_id: int | None,
        top_k: float,
        by: str,
        motion_weight: float,
        min_duration: float | None,
        max_duration: float | None,
        path_contains: str,
        sql: str,
        progress=gr.Progress(),
    ) -> dict[str, Any]:
        """Query by an uploaded clip (``video``, wins if given) or an indexed ``clip_id``."""
        req = SearchRequest(
            video=video,
            clip_id=clip_id,
            top_k=int(top_k),
            by=by,
            motion_weight=float(motion_weight),
            filter=ClipFilter(min_duration, max_duration, path_contains or "", sql or ""),
        )
        try:
            return service.search(req, progress=lambda frac, desc: progress(frac, desc=desc))
        except UiError as exc:
            raise gr.Error(str(exc), title="Cannot search", print_exception=False) from exc

    with gr.Blocks(title="vidsearch", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# vidsearch · find clips that move alike")
        gr.Markdown(service.summary(), elem_id="index-summary")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                video = gr.Video(label="Query clip", sources=["upload"], include_audio=True, elem_id="query-video")
                clip = gr.Dropdown(
                    choices=service.clip_choices(),
                    value=None,
                    label="…or pick an indexed clip",
                    filterable=True,
                    elem_id="query-clip",
                )
                top_k = gr.Slider(1, max_top_k, value=8, step=1, label="Top-k", elem_id="top-k")
                by = gr.Radio(list(get_args(RankBy)), value="both", label="Rank by (both = fused)", elem_id="rank-by")
                motion_weight = gr.Slider(
                    0, 1, value=0.7, step=0.05, label="Motion weight in the fused score (pacing = 1 − motion)"
                )
                with gr.Accordion("Metadata filter", open=False):
                    min_duration = gr.Number(label="Min duration (s)", minimum=0)
                    max_duration = gr.Number(label="Max duration (s)", minimum=0)
                    path_contains = gr.Textbox(label="Path contains")
                    sql = gr.Textbox(
                        label="SQL over the clip columns (DuckDB WHERE clause)",
                        placeholder="fps >= 24 AND width >= 640",
                    )
                search_btn = gr.Button("Search", variant="primary", elem_id="search-btn")
            with gr.Column(scale=2):
                status = gr.Markdown(status_markdown(None), elem_id="status")
                # Rendered below in the "Raw results" accordion; created first so the cards can use it.
                results = gr.JSON(elem_id="results-json", render=False)

                @gr.render(inputs=results)
                def result_cards(payload: dict[str, Any] | None) -> None:
                    hits = (payload or {}).get("results", [])
                    for start in range(0, len(hits), 3):
                        with gr.Row(equal_height=True):
                            for hit in hits[start : start + 3]:
                                _result_card(hit)

                plot = gr.Plot(spf_figure(None), label="SPF curves", format="png", elem_id="spf-plot")
                with gr.Accordion("Raw results (JSON, as the /search API returns them)", open=False):
                    results.render()

        query_inputs = [video, clip, top_k, by, motion_weight, min_duration, max_duration, path_contains, sql]

        def _result_card(hit: dict[str, Any]) -> None:
            served = service.media_path(hit["path"])
            with gr.Column(min_width=220, elem_classes="result"):
                gr.Video(served, label=f"#{hit['rank']}", interactive=False, height=180, key=f"v{hit['id']}")
                gr.HTML(hit_card_html(hit, service.display_path(hit["path"]), served is not None))
                more = gr.Button("More like this", size="sm", elem_classes="more-like-this")
                more.click(
                    lambda hid=hit["id"]: (None, hid), outputs=[video, clip], api_visibility="private"
                ).then(search, query_inputs, results, api_visibility="private", show_progress_on=[status])

        search_btn.click(search, query_inputs, results, api_name="search", show_progress_on=[status])
        results.change(lambda p: (status_markdown(p), spf_figure(p)), results, [status, plot], api_visibility="private")
        # One query source at a time: a new upload clears the picked clip and vice versa.
        video.upload(lambda: None, outputs=clip, api_visibility="private")
        clip.input(lambda: None, outputs=video, api_visibility="private")
    return demo


def offline_theme():
    """Gradio's default theme with system fonts: the stock one fetches Google Fonts on every load."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def launch(
    index_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    *,
    max_file_size: str | int = DEFAULT_MAX_FILE_SIZE,
    prevent_thread_lock: bool = False,
):
    """Open the index at ``index_dir`` and serve the UI; returns the launched ``gr.Blocks``.

    Fails fast, before any server starts, with the core's own clear errors: ``IndexNotFoundError``
    (no index there), ``ConfigMismatchError`` (the index's encoder weights differ from the ones
    installed) or an ``EncoderError`` (weights missing); the encoder is loaded here so the first
    uploaded query does not pay for it. ``prevent_thread_lock=True`` returns at once (tests);
    stop the server with ``.close()``.
    """
    from vidsearch.retrieval.index import Index

    index = Index.open(index_dir)
    index.encoder  # noqa: B018 - load and check the weights now, not on the first upload
    demo = build_app(index)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        allowed_paths=[str(Path(r).resolve()) for r in index.roots],
        blocked_paths=[str(Path(index.dir).resolve())],
        max_file_size=max_file_size,
        prevent_thread_lock=prevent_thread_lock,
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        footer_links=["api"],
        theme=offline_theme(),
        css=CSS,
        quiet=prevent_thread_lock,
    )
    return demo
