"""The query-by-example UI: search service, file-serving guard, the /search API, and a real browser.

One small real index (tiny-random encoder, synthetic moving-square clips written with PyAV) is
built per module and one server is launched for the HTTP, gradio_client and Playwright tests.
"""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import render_pattern

from vidsearch.app.ui_service import ClipFilter, SearchRequest, SearchService, UiError
from vidsearch.indexers.config import PUBLISHED
from vidsearch.indexers.video import write_video
from vidsearch.retrieval.index import Index

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CONFIG = replace(PUBLISHED, backbone="tiny-random", num_frames=8)  # motion = moments cosine, asserted below
RED, BLUE, GREY = (230, 40, 40), (40, 40, 230), (128, 128, 128)
# name -> render_pattern arguments: clips differ in motion path, colour and texture.
CLIPS = {
    "lin_red": dict(motion="linear", colour=RED),
    "circle_red": dict(motion="circle", colour=RED),
    "zigzag_blue": dict(motion="zigzag", colour=BLUE),
    "static_grey": dict(motion="static", colour=GREY),
    "lin_blue_checker": dict(motion="linear", colour=BLUE, texture="checker"),
    "circle_grey": dict(motion="circle", colour=GREY),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """corpus/ (indexed, index dir inside it), outside/ (a secret and a query copy), the index."""
    base = tmp_path_factory.mktemp("ui")
    root = base / "corpus"
    for name, kwargs in CLIPS.items():
        write_video(root / f"{name}.mp4", render_pattern(n_frames=24, size=64, **kwargs), fps=12)
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the browser")
    shutil.copy(root / "circle_red.mp4", outside / "query_copy.mp4")
    (outside / "notes.mp4").write_text("this is not a video")
    index = Index.create(root / ".vidsearch", CONFIG)
    report = index.add([root])
    assert report.added == len(CLIPS) and not report.failed
    ids = {Path(r["path"]).stem: r["id"] for r in index.records()}
    return {"base": base, "root": root, "outside": outside, "index": index, "ids": ids}


@pytest.fixture(scope="module")
def service(corpus):
    return SearchService(corpus["index"])


def _scores(payload) -> list[float]:
    return [h["score"] for h in payload["results"]]


# ----------------------------------------------------------------- service (no server)
def test_upload_query_finds_its_original_with_ordered_scores(service, corpus):
    steps: list[str] = []
    payload = service.search(SearchRequest(video=str(corpus["outside"] / "query_copy.mp4"), top_k=4), lambda f, d: steps.append(d))
    assert steps == ["Embedding query_copy.mp4", "Searching the index"]  # what the page's progress shows
    json.dumps(payload)  # the API returns it as JSON
    top = payload["results"][0]
    assert top["id"] == corpus["ids"]["circle_red"] and top["motion"] == pytest.approx(1.0, abs=1e-4)
    assert _scores(payload) == sorted(_scores(payload), reverse=True) and len(payload["results"]) == 4
    for hit in payload["results"]:  # the "why": mean + std + skew shares add up to the motion cosine
        assert sum(hit["contributions"].values()) == pytest.approx(hit["motion"], abs=1e-4)
        assert len(hit["spf_curve"]) == CONFIG.spf.resample
    assert payload["query"]["label"] == "uploaded query_copy.mp4"


def test_indexed_clip_query_excludes_itself_and_fuses_with_weights(service, corpus):
    cid = corpus["ids"]["zigzag_blue"]
    payload = service.search(SearchRequest(clip_id=cid, top_k=10, by="both", motion_weight=0.25))
    assert cid not in [h["id"] for h in payload["results"]] and len(payload["results"]) == len(CLIPS) - 1
    for hit in payload["results"]:
        assert hit["score"] == pytest.approx(0.25 * hit["motion"] + 0.75 * hit["pacing"], abs=1e-5)
    assert payload["query"]["spf_curve"] == pytest.approx(corpus["index"].get(cid)["spf_curve"], abs=1e-4)


def test_metadata_filters_restrict_results(service, corpus):
    payload = service.search(SearchRequest(clip_id=corpus["ids"]["static_grey"], top_k=10, filter=ClipFilter(path_contains="RED")))
    assert sorted(Path(h["path"]).stem for h in payload["results"]) == ["circle_red", "lin_red"]
    sql = ClipFilter(sql="width = 64", min_duration=0.5, path_contains="it's")  # a quote stays in its literal
    assert service.search(SearchRequest(clip_id=corpus["ids"]["static_grey"], filter=sql))["results"] == []
    with pytest.raises(UiError, match="Duration range is empty"):
        ClipFilter(min_duration=3, max_duration=1).to_where()
    with pytest.raises(UiError, match="bad filter"):
        service.search(SearchRequest(clip_id=corpus["ids"]["static_grey"], filter=ClipFilter(sql="no_such_column > 1")))


def test_user_errors_are_clear_messages(service, corpus, tmp_path):
    with pytest.raises(UiError, match=r"notes\.mp4.*not a readable video"):
        service.search(SearchRequest(video=str(corpus["outside"] / "notes.mp4")))
    with pytest.raises(UiError, match="Upload a clip or pick"):
        service.search(SearchRequest())
    with pytest.raises(UiError, match="No clip with id 999"):
        service.search(SearchRequest(clip_id=999))
    empty = SearchService(Index.create(tmp_path / "empty", CONFIG))
    with pytest.raises(UiError, match="is empty"):
        empty.search(SearchRequest(clip_id=1))


def test_clips_indexed_after_start_are_searchable(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    write_video(folder / "first.mp4", render_pattern(n_frames=16, size=64, motion="linear"), 16)
    service = SearchService(Index.create(tmp_path / "idx", CONFIG))
    with pytest.raises(UiError, match="is empty"):
        service.search(SearchRequest(video=str(folder / "first.mp4")))
    Index.open(tmp_path / "idx").add([folder])  # e.g. `vidsearch index` run while the UI is open
    write_video(folder / "second.mp4", render_pattern(n_frames=16, size=64, motion="circle"), 16)
    Index.open(tmp_path / "idx").add([folder])
    names = [Path(r["path"]).name for r in service.search(SearchRequest(video=str(folder / "first.mp4")))["results"]]
    assert sorted(names) == ["first.mp4", "second.mp4"]  # an upload is not excluded from its own results


def test_media_path_serves_only_files_under_the_roots(service, corpus):
    root, outside = corpus["root"], corpus["outside"]
    assert service.media_path(str(root / "lin_red.mp4")) == str((root / "lin_red.mp4").resolve())
    assert service.media_path(str(root / ".." / "outside" / "secret.txt")) is None
    assert service.media_path("/etc/passwd") is None
    link = root / "sneaky.mp4"
    link.symlink_to(outside / "query_copy.mp4")
    try:
        assert service.media_path(str(link)) is None
    finally:
        link.unlink()


def test_spf_figure_overlays_query_and_results(service, corpus):
    from vidsearch.app.ui_plot import spf_figure

    payload = service.search(SearchRequest(clip_id=corpus["ids"]["lin_red"], top_k=3))
    ax = spf_figure(payload).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "steady pacing" and len(labels) == 1 + 3 + 1
    assert labels[-1].startswith("query (dev max") and all(f"#{r}" in " ".join(labels) for r in (1, 2, 3))


# ----------------------------------------------------------------- a launched server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(corpus):
    from vidsearch.app.ui import launch

    demo = launch(corpus["index"].dir, port=_free_port(), max_file_size="1mb", prevent_thread_lock=True)
    yield demo.local_url.rstrip("/")
    demo.close()


def test_launch_refuses_a_missing_index(tmp_path):
    from vidsearch.app.ui import launch
    from vidsearch.retrieval.index import IndexNotFoundError

    with pytest.raises(IndexNotFoundError, match=str(tmp_path / "nope")):
        launch(tmp_path / "nope", port=_free_port(), prevent_thread_lock=True)


def _get(server: str, path: str) -> tuple[int, bytes]:
    """GET ``/gradio_api/file=<path>`` sent verbatim (httpx would collapse a ``..`` before sending)."""
    import http.client
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=10)
    try:
        conn.request("GET", f"/gradio_api/file={path}")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_launch_refuses_a_mismatched_index(tmp_path):
    from vidsearch.app.ui import launch
    from vidsearch.retrieval.index import ConfigMismatchError

    index_dir = Index.create(tmp_path / "idx", CONFIG).dir
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["config"]["weights_id"] = "0123456789abcdef"  # built with other weights than installed
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigMismatchError, match="0123456789abcdef"):
        launch(index_dir, port=_free_port(), prevent_thread_lock=True)


def test_cli_ui_command_reports_a_missing_index_without_traceback(tmp_path):
    from typer.testing import CliRunner

    from vidsearch.app.cli import app

    result = CliRunner().invoke(app, ["ui", "--index", str(tmp_path / "nope"), "--port", str(_free_port())])
    assert result.exit_code == 2 and "no vidsearch index at" in result.output
    assert "Traceback" not in result.output


def test_file_route_serves_corpus_files_only(server, corpus):
    root, clip = corpus["root"], corpus["root"] / "lin_red.mp4"
    assert _get(server, str(clip)) == (200, clip.read_bytes())
    forbidden = [
        "/etc/passwd",
        str(corpus["outside"] / "secret.txt"),
        f"{root}/../outside/secret.txt",
        f"{root}/%2e%2e/outside/secret.txt",
        f"{root}/../../../../../../etc/passwd",
        str(corpus["index"].dir / "manifest.json"),  # the index dir is blocked even inside a root
    ]
    for path in forbidden:
        status, body = _get(server, path)
        assert status in (403, 404), path
        assert b"not for the browser" not in body and b"root:" not in body


def test_upload_size_is_limited(server):
    import httpx

    resp = httpx.post(f"{server}/gradio_api/upload", files={"files": ("big.mp4", b"\0" * (2 << 20), "video/mp4")})
    assert resp.status_code == 413


def test_gradio_client_search_endpoint(server, corpus):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False, download_files=False)
    kwargs = dict(clip_id=None, top_k=3, by="motion", motion_weight=0.7, min_duration=None, max_duration=None, path_contains="", sql="")
    payload = client.predict(video=handle_file(str(corpus["outside"] / "query_copy.mp4")), api_name="/search", **kwargs)
    assert payload["results"][0]["id"] == corpus["ids"]["circle_red"] and len(payload["results"]) == 3
    assert _scores(payload) == sorted(_scores(payload), reverse=True)
    by_id = client.predict(video=None, **{**kwargs, "clip_id": corpus["ids"]["lin_blue_checker"]}, api_name="/search")
    assert corpus["ids"]["lin_blue_checker"] not in [h["id"] for h in by_id["results"]]
    with pytest.raises(AppError, match=r"notes\.mp4.*not a readable video"):
        client.predict(video=handle_file(str(corpus["outside"] / "notes.mp4")), api_name="/search", **kwargs)


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_browser_upload_search_and_more_like_this(server, corpus):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        try:
            page.goto(server, wait_until="domcontentloaded")
            page.locator("#query-video input[type=file]").set_input_files(str(corpus["outside"] / "query_copy.mp4"))
            expect(page.locator("#query-video video")).to_have_count(1, timeout=15_000)
            page.locator("#search-btn").click()
            cards = page.locator(".hit-card")
            expect(cards).to_have_count(len(CLIPS), timeout=20_000)  # top-k 8 > corpus size
            scores = [float(s) for s in cards.evaluate_all("els => els.map(e => e.dataset.score)")]
            assert scores == sorted(scores, reverse=True)
            assert cards.first.get_attribute("data-id") == str(corpus["ids"]["circle_red"])
            expect(page.locator("#status")).to_contain_text("uploaded query_copy.mp4")
            plot = page.locator("#spf-plot img")
            expect(plot).to_have_count(1, timeout=10_000)
            assert plot.evaluate("img => img.complete && img.naturalWidth > 300")
            videos = page.locator(".result video")
            expect(videos).to_have_count(len(CLIPS))
            page.wait_for_function("() => [...document.querySelectorAll('.result video')].every(v => v.readyState >= 1)", timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "ui_search.png"), full_page=True)

            second = int(cards.nth(1).get_attribute("data-id"))
            page.locator(".more-like-this").nth(1).click()
            expect(page.locator("#status")).to_contain_text(f"#{second} ", timeout=20_000)
            ids = [int(i) for i in cards.evaluate_all("els => els.map(e => e.dataset.id)")]
            assert second not in ids and len(ids) == len(CLIPS) - 1
            page.screenshot(path=str(ARTIFACTS / "ui_more_like_this.png"), full_page=True)

            page.locator("#query-video input[type=file]").set_input_files(str(corpus["outside"] / "notes.mp4"))
            page.locator("#search-btn").click()  # a text file named .mp4: a clear toast, no traceback
            expect(page.get_by_text("Cannot use the uploaded file 'notes.mp4'")).to_be_visible(timeout=20_000)
            assert "Traceback" not in page.content()
            page.screenshot(path=str(ARTIFACTS / "ui_bad_upload.png"), full_page=True)
        finally:
            browser.close()
