"""``vidsearch ui``: a query-by-example Gradio app over one index.

The page and the API share one named endpoint, ``/search`` (``SearchService.search`` returning a
JSON payload); the page then draws the result cards (each plays its segment), the per-moment "why"
bars and the SPF overlay from that payload, so what a script gets through ``gradio_client`` is
exactly what the browser shows.

Security model (see ``launch`` and ``ui_http``): bind to 127.0.0.1 unless told otherwise, no share
link unless asked, uploads capped in size, requests with a foreign ``Host`` refused (DNS
rebinding), and the only corpus files served are indexed videos, by segment id (Gradio's file route
serves nothing from the corpus). SQL filters run in a DuckDB connection with external access
switched off (``retrieval/filters.py``), so a filter cannot read or write files.
"""

# No ``from __future__ import annotations`` here: Gradio injects event data (``gr.SelectData``) by
# reading the handlers' annotations at run time, and ``gr`` is imported lazily inside build_app.
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

# Gradio reads this when it builds and launches apps: no phoning home (there may be no internet).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from vidsearch.app.ui.cards import (  # noqa: E402
    CSS,
    PLAYER_SCRIPT,
    RANKING_HELP,
    hit_card_html,
    query_preview_html,
    status_markdown,
)
from vidsearch.app.ui.routes import HostPolicy, gradio_app_kwargs, media_url, poster_url  # noqa: E402
from vidsearch.app.ui.service import (  # noqa: E402
    ClipFilter,
    SearchRequest,
    SearchService,
    UiError,
    optional_number,
    segment_span,
)
from vidsearch.retrieval.types import RankBy  # noqa: E402

DEFAULT_MAX_FILE_SIZE = "200mb"
MAX_TOP_K = 50
PICKER_PAGE = 20
CARDS_PER_ROW = 3
PICKER_HEADERS = ["id", "file", "start (s)", "end (s)"]


def build_app(service: SearchService, *, max_top_k: int = MAX_TOP_K):
    """The Blocks app over a ``SearchService`` (not launched; ``launch`` adds the security settings)."""
    import gradio as gr

    from vidsearch.app.ui.plot import spf_figure

    def search(
        video: str | None,
        segment_id: str | int | None,
        top_k: float,
        by: str,
        motion_weight: float,
        min_duration: str | float | None,
        max_duration: str | float | None,
        path_contains: str,
        sql: str,
        group_by: str = "segment",
        query_start_s: str | float | None = None,
        query_end_s: str | float | None = None,
        strict_direction: bool = False,
        progress=gr.Progress(),
    ) -> dict[str, Any]:
        """Query by an uploaded clip (``video``, wins if given) or an indexed ``segment_id``."""
        try:
            lo = optional_number(min_duration, "Min segment length")
            hi = optional_number(max_duration, "Max segment length")
            req = SearchRequest(
                video=video,
                segment_id=optional_number(segment_id, "Segment id", integer=True),
                top_k=int(top_k),
                by=by,
                motion_weight=float(motion_weight),
                filter=ClipFilter(lo, hi, path_contains or "", sql or ""),
                group_by=group_by or "segment",
                query_start_s=optional_number(query_start_s, "Query from"),
                query_end_s=optional_number(query_end_s, "Query to"),
                strict_direction=bool(strict_direction),
            )
            return service.search(req, progress=lambda frac, desc: progress(frac, desc=desc))
        except UiError as exc:
            raise gr.Error(str(exc), title="Cannot search", print_exception=False) from exc

    def picker(contains: str, offset: int):
        """One page of the segment picker, its "rows a-b" line and the offset it shows."""
        offset = max(0, int(offset))
        rows, more = service.picker_page(offset, PICKER_PAGE, contains or "")
        data = [[r["id"], r["file"], round(r["start_s"], 2), round(r["end_s"], 2)] for r in rows]
        if rows:
            info = f"rows {offset + 1}–{offset + len(rows)}" + (" (more: ▶)" if more else "")
        else:
            info = "no segment matches" if contains else "the index is empty"
        return (
            {"headers": PICKER_HEADERS, "data": data},
            info,
            offset,
            gr.update(interactive=offset > 0),
            gr.update(interactive=more),
        )

    def preview(segment_id: str | None) -> str:
        """The picked segment, playable, so the user sees what the query is."""
        try:
            sid = optional_number(segment_id, "Segment id", integer=True)
        except UiError as exc:
            return query_preview_html(None, str(exc))
        if sid is None:
            return ""
        record = service.record(sid)
        if record is None:
            return query_preview_html(None, f"No segment with id {sid} in the index.")
        start, end = segment_span(record)
        segment = {
            "id": sid,
            "media_url": media_url(sid),
            "poster_url": poster_url(sid),
            "start_s": start,
            "end_s": end,
        }
        return query_preview_html(segment, f"Query: {service.segment_label(sid, record)}")

    def picked(evt: gr.SelectData):
        return str(evt.row_value[0]), None

    with gr.Blocks(title="vidsearch", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# vidsearch · find moments that move alike")
        summary = gr.Markdown(elem_id="index-summary")
        offset = gr.State(0)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                video = gr.Video(
                    label="Query clip (upload)", sources=["upload"], include_audio=True, elem_id="query-video"
                )
                with gr.Row():  # a moment of a longer upload as the query
                    query_start = gr.Textbox(
                        label="Use from (s)", placeholder="start", elem_id="query-start", min_width=100
                    )
                    query_end = gr.Textbox(label="to (s)", placeholder="end", elem_id="query-end", min_width=100)
                with gr.Accordion("…or pick an indexed segment", open=True):
                    find = gr.Textbox(label="Find by file name", placeholder="part of a path", elem_id="picker-find")
                    table = gr.Dataframe(
                        headers=PICKER_HEADERS, interactive=False, max_height=260, elem_id="picker-table"
                    )
                    with gr.Row():
                        prev_btn = gr.Button("◀", size="sm", min_width=40, elem_id="picker-prev")
                        page_info = gr.Markdown(elem_id="picker-info")
                        next_btn = gr.Button("▶", size="sm", min_width=40, elem_id="picker-next")
                    segment_id = gr.Textbox(
                        label="Segment id (type one, or click a row)", placeholder="e.g. 42", elem_id="query-id"
                    )
                query_view = gr.HTML(elem_id="query-preview")
                top_k = gr.Slider(1, max_top_k, value=8, step=1, label="Top-k", elem_id="top-k")
                by = gr.Radio(list(get_args(RankBy)), value="both", label="Rank by", elem_id="rank-by")
                gr.Markdown(RANKING_HELP, elem_id="ranking-help")
                motion_weight = gr.Slider(
                    0, 1, value=0.7, step=0.05, label="Motion weight in “both” (pacing = 1 − motion)"
                )
                group_by = gr.Radio(
                    [("every matching segment", "segment"), ("best segment per file", "file")],
                    value="segment",
                    label="Results",
                    elem_id="group-by",
                )
                strict_direction = gr.Checkbox(
                    value=False,
                    label="Same screen direction only (a mirrored motion no longer matches)",
                    elem_id="strict-direction",
                )
                with gr.Accordion("Metadata filter", open=False):
                    with gr.Row():
                        min_duration = gr.Textbox(
                            label="Min segment length (s)", placeholder="any", elem_id="min-duration"
                        )
                        max_duration = gr.Textbox(
                            label="Max segment length (s)", placeholder="any", elem_id="max-duration"
                        )
                    path_contains = gr.Textbox(label="Path contains")
                    sql = gr.Textbox(
                        label="SQL over the segment columns (DuckDB WHERE clause)",
                        placeholder="fps >= 24 AND width >= 640",
                        elem_id="sql",
                    )
                search_btn = gr.Button("Search", variant="primary", elem_id="search-btn")
                # Where the progress bar shows next to the button (the status line may be scrolled away).
                near_button = gr.Markdown(elem_id="search-progress", min_height=64)
            with gr.Column(scale=2):
                status = gr.Markdown(status_markdown(None), elem_id="status")
                # Rendered below in the "Raw results" accordion; created first so the cards can use it.
                results = gr.JSON(elem_id="results-json", render=False)

                @gr.render(inputs=results)
                def result_cards(payload: dict[str, Any] | None) -> None:
                    hits = (payload or {}).get("results", [])
                    for start in range(0, len(hits), CARDS_PER_ROW):
                        with gr.Row(equal_height=True):
                            row = hits[start : start + CARDS_PER_ROW]
                            for hit in row:
                                _result_card(hit)
                            for _ in range(CARDS_PER_ROW - len(row)):  # keep a short last row's cards card-sized
                                gr.Column(min_width=220)

                plot = gr.Plot(spf_figure(None), label="SPF curves", format="png", elem_id="spf-plot")
                with gr.Accordion("Raw results (JSON, as the /search API returns them)", open=False):
                    results.render()

        query_inputs = [
            video,
            segment_id,
            top_k,
            by,
            motion_weight,
            min_duration,
            max_duration,
            path_contains,
            sql,
            group_by,
            query_start,
            query_end,
            strict_direction,
        ]
        picker_outputs = [table, page_info, offset, prev_btn, next_btn]

        def _result_card(hit: dict[str, Any]) -> None:
            with gr.Column(min_width=220, elem_classes="result"):
                gr.HTML(hit_card_html(hit, service.display_path(hit["file_path"])), key=f"card{hit['id']}")
                more = gr.Button("More like this", size="sm", elem_classes="more-like-this")
                more.click(
                    lambda hid=hit["id"]: (None, str(hid)), outputs=[video, segment_id], api_visibility="private"
                ).then(
                    search, query_inputs, results, api_visibility="private", show_progress_on=[status, near_button]
                ).then(service.summary, outputs=summary, api_visibility="private")

        search_btn.click(search, query_inputs, results, api_name="search", show_progress_on=[status, near_button]).then(
            service.summary, outputs=summary, api_visibility="private"
        )
        results.change(lambda p: (status_markdown(p), spf_figure(p)), results, [status, plot], api_visibility="private")
        # The header and the picker are built per page load: segments indexed after the UI started
        # are counted, listed and usable as queries without a restart.
        demo.load(service.summary, outputs=summary, api_visibility="private")
        demo.load(lambda text: picker(text, 0), find, picker_outputs, api_visibility="private")
        find.change(
            lambda text: picker(text, 0), find, picker_outputs, api_visibility="private", trigger_mode="always_last"
        )
        prev_btn.click(
            lambda text, off: picker(text, off - PICKER_PAGE), [find, offset], picker_outputs, api_visibility="private"
        )
        next_btn.click(
            lambda text, off: picker(text, off + PICKER_PAGE), [find, offset], picker_outputs, api_visibility="private"
        )
        table.select(picked, None, [segment_id, video], api_visibility="private")
        segment_id.change(preview, segment_id, query_view, api_visibility="private")
        # One query source at a time: a new upload clears the picked segment and vice versa.
        video.upload(lambda: None, outputs=segment_id, api_visibility="private")
        segment_id.input(lambda: None, outputs=video, api_visibility="private")
    return demo


def offline_theme():
    """Gradio's default theme with system fonts: the stock one fetches Google Fonts on every load."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def startup_text(local_url: str, share_url: str | None) -> str:
    """What ``vidsearch ui`` prints once serving: where, and how to share (the CLI's flag)."""
    lines = [f"* Serving the index on {local_url} (Ctrl+C stops it)"]
    if share_url:
        lines.append(f"* Public link (anyone with it can search this index): {share_url}")
    else:
        lines.append("* Only this machine can open it; `vidsearch ui --share` adds a public gradio.live link")
    return "\n".join(lines)


def launch(
    index_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    *,
    allow_hosts: Sequence[str] = (),
    max_file_size: str | int = DEFAULT_MAX_FILE_SIZE,
    prevent_thread_lock: bool = False,
):
    """Open the index at ``index_dir`` and serve the UI; returns the launched ``gr.Blocks``.

    Fails fast, before any server starts, with the core's own clear errors: ``IndexNotFoundError``
    (no index there), ``ConfigMismatchError`` (the index's encoder weights differ from the ones
    installed) or an ``EncoderError`` (weights missing); the encoder is loaded here so the first
    uploaded query does not pay for it. ``allow_hosts`` are extra ``Host`` names to answer (a
    reverse proxy's name; ``"*"`` turns the check off). ``prevent_thread_lock=True`` returns at
    once (tests); stop the server with ``.close()``.
    """
    from vidsearch.retrieval.index import Index

    index = Index.open(index_dir)
    index.encoder  # noqa: B018 - load and check the weights now, not on the first upload
    service = SearchService(index)
    policy = HostPolicy(bind=host, extra=set(allow_hosts))
    demo = build_app(service)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        app_kwargs=gradio_app_kwargs(service, policy),
        blocked_paths=[str(Path(index.dir).resolve())],
        max_file_size=max_file_size,
        prevent_thread_lock=True,  # the share link's Host is allowed below, before serving anyone
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        footer_links=["api"],
        theme=offline_theme(),
        css=CSS,
        head=PLAYER_SCRIPT,
        quiet=True,  # gradio's own start-up text tells the user to edit launch(); ours names the CLI flag
    )
    if share and demo.share_url:  # the tunnel forwards the public name as the Host header
        policy.allow(urlsplit(demo.share_url).hostname or "")
    if not prevent_thread_lock:
        print(startup_text(demo.local_url, demo.share_url if share else None), flush=True)
        demo.block_thread()
    return demo
