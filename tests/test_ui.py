"""The query-by-example UI without a browser: search service, embedding cache, picker, posters,
filter messages, and against a launched server the media routes, the file-serving fences, the
Host-header guard and the documented ``gradio_client`` example."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import render_pattern
from ui_corpus import (  # noqa: F401 - fixtures
    CLIP_SECONDS,
    CLIPS,
    CONFIG,
    SWAPPED,
    corpus,
    free_port,
    mirrored,
    server,
    windowed,
    windowed_server,
)

from vidsearch.app.ui.cards import status_markdown
from vidsearch.app.ui.service import ClipFilter, SearchRequest, SearchService, UiError
from vidsearch.indexers.decode.video import write_video
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.types import FusionWeights

N_INDEXED = len(CLIPS) + 1


@pytest.fixture(scope="module")
def service(corpus):
    return SearchService(corpus["index"])


def _scores(payload) -> list[float]:
    return [h["score"] for h in payload["results"]]


def _counting_embed(monkeypatch, index) -> list[str]:
    calls: list[str] = []
    real = index.embed

    def embed(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(index, "embed", embed)
    return calls


# ----------------------------------------------------------------- search service
def test_upload_query_finds_its_original_with_ordered_scores(corpus):
    service = SearchService(corpus["index"])
    steps: list[tuple[float, str]] = []
    query = str(corpus["outside"] / "query_copy.mp4")
    payload = service.search(SearchRequest(video=query, top_k=4), lambda f, d: steps.append((f, d)))
    fractions = [f for f, _ in steps]
    assert steps[0][1].startswith("Embedding query_copy.mp4") and steps[-1][1] == "Searching the index"
    assert fractions == sorted(fractions) and fractions[0] < fractions[-1]  # the bar only moves forward
    json.dumps(payload)  # the API returns it as JSON
    top = payload["results"][0]
    assert top["id"] == corpus["ids"]["circle_red"] and top["motion"] == pytest.approx(1.0, abs=1e-4)
    assert _scores(payload) == sorted(_scores(payload), reverse=True) and len(payload["results"]) == 4
    for hit in payload["results"]:  # the "why": mean + std + skew shares add up to the motion cosine
        assert sum(hit["contributions"].values()) == pytest.approx(hit["motion"], abs=1e-4)
        assert len(hit["spf_curve"]) == CONFIG.spf.resample
        assert (hit["start_s"], hit["end_s"]) == (0.0, pytest.approx(CLIP_SECONDS, abs=0.1))
        assert hit["media_url"] == f"/vidsearch/media/{hit['id']}" and "path" not in hit
    assert payload["query"]["label"] == "uploaded query_copy.mp4" and "path" not in payload["query"]


def test_an_upload_is_embedded_once_across_modes_weights_and_filters(corpus, monkeypatch, tmp_path):
    service = SearchService(corpus["index"], cache_clips=2)
    calls = _counting_embed(monkeypatch, corpus["index"])
    query = str(corpus["outside"] / "query_copy.mp4")
    motion = service.search(SearchRequest(video=query, top_k=10, by="motion"))
    steps: list[str] = []
    pacing = service.search(SearchRequest(video=query, top_k=10, by="pacing"), lambda f, d: steps.append(d))
    service.search(SearchRequest(video=query, by="both", motion_weight=0.2, filter=ClipFilter(path_contains="red")))
    assert len(calls) == 1 and steps[0] == "Reusing the embedding of query_copy.mp4"
    assert [h["id"] for h in motion["results"]] != [h["id"] for h in pacing["results"]]  # the mode did change
    renamed = tmp_path / "same_content.mp4"  # the same bytes under another name: still cached
    shutil.copy(query, renamed)
    service.search(SearchRequest(video=str(renamed), by="motion"))
    assert len(calls) == 1
    for name in ("lin_red", "zigzag_blue"):  # new content is embedded; the cache stays bounded
        service.search(SearchRequest(video=str(corpus["root"] / f"{name}.mp4")))
    assert len(calls) == 3 and len(service.query_cache) == 2 and not service.query_cache.has(renamed)


def test_indexed_segment_query_excludes_itself_and_fuses_with_weights(service, corpus):
    sid = corpus["ids"]["zigzag_blue"]
    payload = service.search(SearchRequest(segment_id=sid, top_k=10, by="both", motion_weight=0.25))
    assert sid not in [h["id"] for h in payload["results"]] and len(payload["results"]) == N_INDEXED - 1
    for hit in payload["results"]:
        assert hit["score"] == pytest.approx(0.25 * hit["motion"] + 0.75 * hit["pacing"], abs=1e-5)
    assert payload["query"]["spf_curve"] == pytest.approx(corpus["index"].get(sid)["spf_curve"], abs=1e-4)
    assert payload["query"]["label"].startswith(f"#{sid} zigzag_blue.mp4 [0.0–2.0 s]")


def test_strict_direction_stops_a_mirrored_copy_matching(mirrored):
    """ "Same screen direction only" on real footage: by default a mirrored copy of the uploaded clip
    is the same motion (the flipped frames' moments and the flow histogram's mirror permutation
    match it, whatever the encoder); strict, its flow points the other way and its motion score
    falls. An indexed segment as the query mirrors its stored flow the same way unless strict (its
    moments as they are: a weaker mirror form, which counts only past the margin)."""
    ids, service, query = mirrored["ids"], SearchService(mirrored["index"]), str(mirrored["query"])
    original, mirror = ids["original"], ids["mirror"]

    def motion(**kwargs):
        payload = service.search(SearchRequest(top_k=5, by="motion", **kwargs))
        return payload, {h["id"]: h for h in payload["results"]}

    strict_payload, strict = motion(video=query, strict_direction=True)  # embedded without the mirror image
    default_payload, default = motion(video=query)  # so embedded again, with it
    assert strict_payload["strict_direction"] and not default_payload["strict_direction"]
    assert "same screen direction only" in status_markdown(strict_payload)
    assert "direction" not in status_markdown(default_payload)
    assert [h["id"] for h in default_payload["results"]][:2] == [original, mirror]
    assert default[original]["motion"] == pytest.approx(1.0, abs=1e-4)
    assert strict[original]["motion"] == pytest.approx(1.0, abs=1e-4)
    margin = FusionWeights().mirror_margin  # the mirror image's motion counts less the margin
    assert default[mirror]["motion"] == pytest.approx(1.0 - margin, abs=0.01) and default[mirror]["flow"] > 0.99
    assert strict[mirror]["flow"] < default[mirror]["flow"] - 0.1
    assert strict[mirror]["motion"] < default[mirror]["motion"] - 0.02
    assert all(strict[i]["motion"] <= default[i]["motion"] + 1e-6 for i in default)
    by_id = {s: motion(segment_id=original, strict_direction=s)[1][mirror] for s in (False, True)}
    # its mirror form has the stored moments as they are, so it must also pass the margin to count
    assert by_id[False]["motion"] >= by_id[True]["motion"] - 1e-6


def test_optional_numbers_from_the_form():
    from vidsearch.app.ui.service import optional_number

    assert optional_number("", "Max duration") is None and optional_number(None, "x") is None
    assert optional_number(" 2.5 ", "Max duration") == 2.5 and optional_number(3, "Segment id", integer=True) == 3
    with pytest.raises(UiError, match="Max duration must be a number, got 'abc'"):
        optional_number("abc", "Max duration")
    with pytest.raises(UiError, match="Segment id must be a whole number"):
        optional_number("2.5", "Segment id", integer=True)
    with pytest.raises(UiError, match="must be 0 or more"):
        optional_number("-1", "Min duration")


def test_segments_of_files_are_searched_labelled_and_grouped_by_file(windowed):
    index = windowed["index"]
    service = SearchService(index)
    lin = index.segments_of(windowed["root"] / "lin_long.mp4")
    query = lin[1]
    payload = service.search(SearchRequest(segment_id=query["id"], top_k=10, by="motion"))
    assert payload["query"]["label"] == f"#{query['id']} lin_long.mp4 [1.0–2.0 s]"
    assert (payload["query"]["start_s"], payload["query"]["end_s"]) == (1.0, 2.0)
    hits = payload["results"]
    assert len(hits) == len(index) - 1 and query["id"] not in [h["id"] for h in hits]
    spans = {(Path(h["file_path"]).name, h["start_s"], h["end_s"], h["segment_index"]) for h in hits}
    assert ("lin_long.mp4", 0.0, 1.0, 0) in spans and ("lin_long.mp4", 2.0, 3.0, 2) in spans
    assert all(h["duration"] == pytest.approx(1.0) for h in hits)
    grouped = service.search(SearchRequest(segment_id=query["id"], top_k=10, by="motion", group_by="file"))
    best = {}
    for h in hits:  # the best segment of each file in the ungrouped ranking
        best.setdefault(h["file_id"], h["id"])
    assert [h["id"] for h in grouped["results"]] == list(best.values()) and grouped["group_by"] == "file"
    assert "best segment per file" in status_markdown(grouped)
    stored = index.poster(hits[0]["id"])
    assert stored and service.poster(hits[0]["id"]) == (stored, "image/jpeg")  # the index's own poster


def test_a_moment_of_an_upload_is_the_query_and_is_cached_per_range(windowed, monkeypatch, tmp_path):
    index = windowed["index"]
    service = SearchService(index)
    calls = _counting_embed(monkeypatch, index)
    upload = tmp_path / "upload.mp4"  # the user uploads a copy of a file; the query is its 2nd second
    shutil.copy(windowed["root"] / "lin_long.mp4", upload)
    moment = SearchRequest(video=str(upload), by="motion", top_k=3, query_start_s=1.0, query_end_s=2.0)
    payload = service.search(moment)
    top = payload["results"][0]
    assert (Path(top["file_path"]).name, top["start_s"], top["end_s"]) == ("lin_long.mp4", 1.0, 2.0)
    assert top["motion"] == pytest.approx(1.0, abs=1e-3)  # the same frames as that stored segment
    assert payload["query"]["label"] == "uploaded upload.mp4 [1.0–2.0 s]"
    whole = service.search(SearchRequest(video=str(upload), by="motion", top_k=3))
    assert whole["results"][0]["motion"] < top["motion"] - 1e-3  # the whole clip is another query
    service.search(SearchRequest(video=str(upload), by="pacing", query_start_s=1.0, query_end_s=2.0))
    assert len(calls) == 2  # one embedding per (content, range)
    with pytest.raises(UiError, match=r"upload\.mp4.*time range starts at 5 s, after the end of the video"):
        service.search(SearchRequest(video=str(upload), query_start_s=5.0))
    with pytest.raises(UiError, match="bad time range 2-1 s"):
        service.search(SearchRequest(video=str(upload), query_start_s=2.0, query_end_s=1.0))


def test_metadata_filters_restrict_results(service, corpus):
    payload = service.search(
        SearchRequest(segment_id=corpus["ids"]["static_grey"], top_k=10, filter=ClipFilter(path_contains="RED"))
    )
    assert sorted(Path(h["file_path"]).stem for h in payload["results"]) == ["circle_red", "lin_red"]
    sql = ClipFilter(sql="width = 64", min_duration=0.5, path_contains="it's")  # a quote stays in its literal
    assert service.search(SearchRequest(segment_id=corpus["ids"]["static_grey"], filter=sql))["results"] == []
    with pytest.raises(UiError, match="Duration range is empty"):
        ClipFilter(min_duration=3, max_duration=1).to_where()


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("fps >= 24 ANDD width > 1", 'Bad filter: syntax error at or near "ANDD". Columns: id, '),
        ("fsp > 2", 'Bad filter: unknown column "fsp". Columns: id'),
        ("st_area(path) > 1", 'Bad filter: function "st_area" is not allowed in filters. Columns: id'),
    ],
)
def test_a_filter_typo_shows_a_short_reason_not_duckdb_internals(service, corpus, sql, reason):
    with pytest.raises(UiError) as err:
        service.search(SearchRequest(segment_id=corpus["ids"]["static_grey"], filter=ClipFilter(sql=sql)))
    message = str(err.value)
    assert message.startswith(reason)
    assert "\n" not in message and "LINE 1" not in message and "INSTALL" not in message and ".duckdb" not in message


def test_user_errors_are_clear_messages(service, corpus, tmp_path):
    with pytest.raises(UiError, match=r"notes\.mp4.*not a readable video"):
        service.search(SearchRequest(video=str(corpus["outside"] / "notes.mp4")))
    with pytest.raises(UiError, match="Upload a clip or pick"):
        service.search(SearchRequest())
    with pytest.raises(UiError, match="No segment with id 999"):
        service.search(SearchRequest(segment_id=999))
    empty = SearchService(Index.create(tmp_path / "empty", CONFIG))
    with pytest.raises(UiError, match="is empty"):
        empty.search(SearchRequest(segment_id=1))


def test_segments_indexed_after_start_are_counted_listed_and_queryable(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    write_video(folder / "first.mp4", render_pattern(n_frames=16, size=64, motion="linear"), 16)
    service = SearchService(Index.create(tmp_path / "idx", CONFIG))
    assert "is empty" in service.summary() and service.picker_page(0, 10) == ([], False)
    Index.open(tmp_path / "idx").add([folder])  # e.g. `vidsearch index` run while the UI is open
    write_video(folder / "second.mp4", render_pattern(n_frames=16, size=64, motion="circle"), 16)
    Index.open(tmp_path / "idx").add([folder])
    assert service.summary().startswith("**2** indexed segments")
    rows, more = service.picker_page(0, 10, "SECOND")
    assert [r["file"] for r in rows] == ["second.mp4"] and not more
    payload = service.search(SearchRequest(segment_id=rows[0]["id"]))
    assert [Path(h["file_path"]).name for h in payload["results"]] == ["first.mp4"]
    assert service.media_file(rows[0]["id"]) == (folder / "second.mp4").resolve()  # new roots are served


def test_picker_pages_through_segments_without_listing_them_all(service, corpus):
    first, more = service.picker_page(0, 3)
    second, more2 = service.picker_page(3, 3)
    third, more3 = service.picker_page(6, 3)
    assert more and more2 and not more3 and len(first) == len(second) == 3 and len(third) == N_INDEXED - 6
    ids = [r["id"] for r in first + second + third]
    assert sorted(ids) == sorted(corpus["ids"].values()) and len(set(ids)) == N_INDEXED
    assert {r["file"] for r in service.picker_page(0, 10, "circle")[0]} == {"circle_red.mp4", "circle_grey.mp4"}


def test_media_file_serves_only_indexed_videos_as_indexed(service, corpus):
    root, ids = corpus["root"], corpus["ids"]
    assert service.media_file(ids["lin_red"]) == (root / "lin_red.mp4").resolve()
    assert service.media_file(ids[SWAPPED]) is None  # now a symlink out of the corpus
    assert service.media_file(99_999) is None


def _decode(image: bytes) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_posters_show_the_segment_and_fall_back_to_a_placeholder(service, corpus):
    ids = corpus["ids"]
    red, red_type = service.poster(ids["lin_red"])
    blue, _ = service.poster(ids["zigzag_blue"])
    assert red_type == "image/jpeg" and _decode(red).shape == (192, 192, 3)
    r, b = _decode(red).reshape(-1, 3).astype(int), _decode(blue).reshape(-1, 3).astype(int)
    assert ((r[:, 0] > 150) & (r[:, 2] < 100)).sum() > 500 and ((r[:, 2] > 150) & (r[:, 0] < 100)).sum() == 0
    assert ((b[:, 2] > 150) & (b[:, 0] < 100)).sum() > 500  # each poster is its own clip's frame
    assert service.poster(ids[SWAPPED])[1] == "image/svg+xml"  # file not servable: a neutral placeholder
    assert service.poster(99_999) is None


def test_a_poster_stored_at_index_time_is_served_as_stored(corpus, monkeypatch):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    sid = corpus["ids"]["circle_grey"]
    monkeypatch.setattr(corpus["index"], "poster", lambda segment_id: png if segment_id == sid else None)
    service = SearchService(corpus["index"])
    assert service.poster(sid) == (png, "image/png")
    assert service.poster(corpus["ids"]["lin_red"])[1] == "image/jpeg"  # none stored: made from the video


def test_spf_figure_overlays_query_and_results(service, corpus):
    from vidsearch.app.ui.plot import spf_figure

    payload = service.search(SearchRequest(segment_id=corpus["ids"]["lin_red"], top_k=3))
    ax = spf_figure(payload).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "steady pacing" and len(labels) == 1 + 3 + 1
    assert labels[-1].startswith("query (dev max") and all(f"#{r}" in " ".join(labels) for r in (1, 2, 3))


def test_host_policy_accepts_the_bound_address_and_opted_in_names_only():
    from vidsearch.app.ui.routes import HostPolicy

    local = HostPolicy("127.0.0.1")
    assert all(local.allows(h) for h in ("127.0.0.1:7860", "localhost:7860", "LOCALHOST", "[::1]:7860"))
    assert not any(local.allows(h) for h in ("evil.example:7860", "10.0.0.5:7860", "", None, "127.0.0.1:bad", "a b"))
    lan = HostPolicy("0.0.0.0", {"Media-Box.lan"})
    assert lan.allows("192.168.1.20:7860") and lan.allows("[fe80::1]:7860") and lan.allows("media-box.lan:7860")
    assert not lan.allows("rebind.attacker.example:7860")
    assert HostPolicy("127.0.0.1", {"*"}).allows("anything.example")


def test_startup_text_names_the_cli_flag_not_gradio_code():
    from vidsearch.app.ui.blocks import startup_text

    local = startup_text("http://127.0.0.1:7860/", None)
    assert "http://127.0.0.1:7860/" in local and "vidsearch ui --share" in local and "launch()" not in local
    public = startup_text("http://127.0.0.1:7860/", "https://abc.gradio.live")
    assert "https://abc.gradio.live" in public and "--share" not in public


# ----------------------------------------------------------------- a launched server
def test_launch_refuses_a_missing_index(tmp_path):
    from vidsearch.app.ui.blocks import launch
    from vidsearch.retrieval.index import IndexNotFoundError

    with pytest.raises(IndexNotFoundError, match=str(tmp_path / "nope")):
        launch(tmp_path / "nope", port=free_port(), prevent_thread_lock=True)


def test_launch_refuses_a_mismatched_index(tmp_path):
    from vidsearch.app.ui.blocks import launch
    from vidsearch.retrieval.index import ConfigMismatchError

    index_dir = Index.create(tmp_path / "idx", CONFIG).dir
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["config"]["weights_id"] = "0123456789abcdef"  # built with other weights than installed
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigMismatchError, match="0123456789abcdef"):
        launch(index_dir, port=free_port(), prevent_thread_lock=True)


def test_cli_ui_command_reports_a_missing_index_without_traceback(tmp_path):
    from typer.testing import CliRunner

    from vidsearch.app.cli import app

    result = CliRunner().invoke(
        app, ["ui", "--index", str(tmp_path / "nope"), "--port", str(free_port()), "--allow-host", "box.lan"]
    )
    assert result.exit_code == 2 and "no vidsearch index at" in result.output
    assert "Traceback" not in result.output


def _get(server: str, path: str, host: str | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """GET ``path`` sent verbatim (httpx would collapse a ``..`` before sending)."""
    import http.client
    from urllib.parse import urlsplit

    netloc = urlsplit(server).netloc
    conn = http.client.HTTPConnection(netloc, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or netloc)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_media_route_serves_indexed_videos_with_byte_ranges(server, corpus):
    clip = corpus["root"] / "lin_red.mp4"
    sid = corpus["ids"]["lin_red"]
    assert _get(server, f"/vidsearch/media/{sid}") == (200, clip.read_bytes())
    assert _get(server, f"/vidsearch/media/{sid}", headers={"Range": "bytes=100-199"}) == (
        206,
        clip.read_bytes()[100:200],
    )
    status, body = _get(server, f"/vidsearch/poster/{sid}")
    assert status == 200 and body.startswith(b"\xff\xd8\xff")


def test_stored_posters_are_served_as_stored(windowed, windowed_server):
    index = windowed["index"]
    for seg in index.segments_of(windowed["root"] / "circle_long.mp4"):
        assert _get(windowed_server, f"/vidsearch/poster/{seg['id']}") == (200, index.poster(seg["id"]))


def test_no_file_outside_the_indexed_videos_is_served(server, corpus):
    root, index_dir, outside = corpus["root"], corpus["index"].dir, corpus["outside"]
    secrets = [b"not-for-the-browser", b"not for the browser", b"root:", b'"schema', b"PAR1"]
    forbidden = [
        f"/gradio_api/file={root}/.env",
        f"/gradio_api/file={root}/notes.txt",
        f"/gradio_api/file={root}/lin_red.mp4",  # even indexed clips: only by segment id, below
        f"/gradio_api/file={index_dir}/manifest.json",
        f"/gradio_api/file={outside}/secret.txt",
        f"/gradio_api/file={root}/../outside/secret.txt",
        f"/gradio_api/file={root}/%2e%2e/outside/secret.txt",
        f"/gradio_api/file={root}/../../../../../../etc/passwd",
        "/gradio_api/file=/etc/passwd",
        f"/vidsearch/media/{corpus['ids'][SWAPPED]}",  # an indexed path now a symlink out of the corpus
        "/vidsearch/media/99999",
        "/vidsearch/media/..%2f..%2f..%2fetc%2fpasswd",
        "/vidsearch/media/../../../etc/passwd",
        f"/vidsearch/media/{root}/.env",
        "/vidsearch/poster/99999",
        f"/{root}/.env",
        f"/file={root}/.env",
    ]
    for path in forbidden:
        status, body = _get(server, path)
        assert status in (400, 403, 404, 405, 410, 422), (path, status)
        assert not any(s in body for s in secrets), path


def test_requests_for_a_foreign_host_are_refused(server, corpus):
    sid = corpus["ids"]["lin_red"]
    for path in ("/", f"/vidsearch/media/{sid}", "/gradio_api/info", "/config"):
        status, body = _get(server, path, host="rebind.attacker.example:7860")
        assert status == 400 and b"DNS-rebinding" in body, path
    assert _get(server, "/", host="localhost")[0] == 200
    assert _get(server, f"/vidsearch/media/{sid}")[0] == 200


def test_allow_host_opts_a_name_in(windowed):
    from vidsearch.app.ui.blocks import launch

    demo = launch(windowed["index"].dir, port=free_port(), allow_hosts=["Media-Box.lan"], prevent_thread_lock=True)
    try:
        url = demo.local_url.rstrip("/")
        port = url.rsplit(":", 1)[1]
        assert _get(url, "/", host=f"media-box.lan:{port}")[0] == 200
        assert _get(url, "/", host=f"other-box.lan:{port}")[0] == 400
    finally:
        demo.close()


def test_upload_size_is_limited(server):
    import httpx

    resp = httpx.post(f"{server}/gradio_api/upload", files={"files": ("big.mp4", b"\0" * (2 << 20), "video/mp4")})
    assert resp.status_code == 413


def test_the_documented_gradio_client_example_works(server, corpus):
    """The example of docs/ui.md ("The /search API"), as written (files are downloaded by default)."""
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    result = client.predict(
        video=handle_file(str(corpus["outside"] / "query_copy.mp4")),  # or video=None, segment_id=<indexed id>
        segment_id=None,
        top_k=3,
        by="both",
        motion_weight=0.7,
        min_duration=None,
        max_duration=None,
        path_contains="",
        sql="",
        group_by="segment",  # "file": the best segment of each file only
        query_start_s=None,  # a moment of the upload, e.g. 2.0 ... 4.5 (seconds)
        query_end_s=None,
        api_name="/search",
    )
    lines = [
        (
            hit["rank"],
            round(hit["score"], 3),
            hit["motion"],
            hit["pacing"],
            hit["file_path"],
            hit["start_s"],
            hit["end_s"],
        )
        for hit in result["results"]
    ]
    assert [rank for rank, *_ in lines] == [1, 2, 3] and lines[0][4] == str(corpus["root"] / "circle_red.mp4")
    assert [s for _, s, *_ in lines] == sorted((s for _, s, *_ in lines), reverse=True)


def test_gradio_client_by_id_and_errors(server, corpus):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    kwargs = dict(
        top_k=3, by="motion", motion_weight=0.7, min_duration=None, max_duration=None, path_contains="", sql=""
    )
    sid = corpus["ids"]["lin_blue_checker"]
    by_id = client.predict(video=None, segment_id=sid, api_name="/search", **kwargs)
    assert sid not in [h["id"] for h in by_id["results"]] and len(by_id["results"]) == 3
    with pytest.raises(AppError, match="No segment with id 4242"):
        client.predict(video=None, segment_id=4242, api_name="/search", **kwargs)
    with pytest.raises(AppError, match='Bad filter: syntax error at or near "ANDD"'):
        client.predict(video=None, segment_id=sid, api_name="/search", **{**kwargs, "sql": "fps > 1 ANDD"})
