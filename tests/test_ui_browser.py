"""The web UI in headless Chromium: upload and search, segment players that start at the segment's
start and stop at its end without loading videos up front, "More like this", the paged picker with
a segment indexed after the page was opened, "Same screen direction only", and clean error toasts."""

from __future__ import annotations

import re

import pytest
from conftest import render_pattern
from ui_corpus import (  # noqa: F401 - fixtures
    ARTIFACTS,
    CHROMIUM,
    CLIP_SECONDS,
    CLIPS,
    corpus,
    mirrored,
    mirrored_server,
    server,
    windowed,
    windowed_server,
)

from vidsearch.app.ui.service import SearchRequest
from vidsearch.indexers.decode.video import write_video
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.types import FusionWeights

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
N_INDEXED = len(CLIPS) + 1
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
# Plays a player and resolves with the first position it reported playing from and where it stopped.
PLAY_AND_WATCH = """async v => {
  const first = new Promise(res => v.addEventListener("timeupdate", () => res(v.currentTime), {once: true}));
  const stopped = new Promise(res => v.addEventListener("pause", () => res(), {once: true}));
  v.muted = true;
  await v.play();
  const from = await first;
  await Promise.race([stopped, new Promise(res => setTimeout(res, 8000))]);
  await new Promise(res => setTimeout(res, 300));
  return {from, at: v.currentTime, paused: v.paused};
}"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.requested = []  # every URL the page asked for, to tell what was loaded up front
    page.on("request", lambda r: page.requested.append(r.url))
    page.goto(url, wait_until="domcontentloaded")
    return page


@pytest.fixture(scope="module")
def page(browser, server):
    page = _open(browser, server)
    yield page
    page.close()


def _upload_and_search(page, corpus):
    from playwright.sync_api import expect

    page.locator("#query-video input[type=file]").set_input_files(str(corpus["outside"] / "query_copy.mp4"))
    expect(page.locator("#query-video video")).to_have_count(1, timeout=15_000)
    page.locator("#search-btn").click()
    cards = page.locator(".hit-card")
    expect(cards).to_have_count(N_INDEXED, timeout=30_000)  # top-k 8 > corpus size
    return cards


def test_upload_search_cards_posters_and_no_video_loaded_up_front(page, corpus):
    """Whole-file segments (an index without segmentation): the cards play the whole clip."""
    from playwright.sync_api import expect

    expect(page.locator("#index-summary")).to_contain_text(f"{N_INDEXED} indexed segments", timeout=15_000)
    cards = _upload_and_search(page, corpus)
    scores = [float(s) for s in cards.evaluate_all("els => els.map(e => e.dataset.score)")]
    assert scores == sorted(scores, reverse=True)
    assert cards.first.get_attribute("data-id") == str(corpus["ids"]["circle_red"])
    expect(page.locator("#status")).to_contain_text("uploaded query_copy.mp4")
    plot = page.locator("#spf-plot img")
    expect(plot).to_have_count(1, timeout=10_000)
    assert plot.evaluate("img => img.complete && img.naturalWidth > 300")
    players = page.locator(".result video.segment-player")
    expect(players).to_have_count(N_INDEXED)
    assert set(players.evaluate_all("vs => vs.map(v => v.preload)")) == {"none"}
    posters = players.evaluate_all("vs => vs.map(v => v.poster)")
    page.wait_for_function(
        "urls => Promise.all(urls.map(u => fetch(u).then(r => r.ok))).then(oks => oks.every(Boolean))", arg=posters
    )
    assert not [u for u in page.requested if "/vidsearch/media/" in u]  # nothing but posters loaded
    page.screenshot(path=str(ARTIFACTS / "ui_search.png"), full_page=True)
    whole = players.first.evaluate(PLAY_AND_WATCH)
    assert whole["from"] < 0.3 and whole["paused"] and whole["at"] == pytest.approx(CLIP_SECONDS, abs=0.15)


def test_a_result_plays_its_segment_from_start_to_end(browser, windowed, windowed_server):
    from playwright.sync_api import expect

    index = windowed["index"]
    query = index.segments_of(windowed["root"] / "lin_long.mp4")[0]
    page = _open(browser, windowed_server)
    try:
        page.locator("#query-id textarea, #query-id input").first.fill(str(query["id"]))
        expect(page.locator("#query-preview")).to_contain_text("lin_long.mp4 [0.0–1.0 s]", timeout=15_000)
        page.locator("#search-btn").click()
        expect(page.locator(".result .hit-card")).to_have_count(len(index) - 1, timeout=30_000)
        assert not [u for u in page.requested if "/vidsearch/media/" in u]  # nothing loaded before play
        later = page.locator(".result video.segment-player[data-start='2.000']").first
        start, end = 2.0, 3.0
        run = later.evaluate(PLAY_AND_WATCH)
        assert start - 0.05 <= run["from"] <= start + 0.3  # the player began at the segment's start ...
        assert run["paused"] and run["at"] == pytest.approx(end, abs=0.1)  # ... and stopped at its end
        middle = page.locator(".result video.segment-player[data-start='1.000']").first
        run = middle.evaluate(PLAY_AND_WATCH)  # a segment inside the file: it stops before the file ends
        assert 0.95 <= run["from"] <= 1.3 and run["paused"] and run["at"] == pytest.approx(2.0, abs=0.1)
        again = middle.evaluate(PLAY_AND_WATCH)  # a replay starts over at the segment's start
        assert 0.95 <= again["from"] <= 1.3 and again["at"] == pytest.approx(2.0, abs=0.1)
        middle.evaluate(
            "v => { v.currentTime = 0.2; return new Promise(r => v.addEventListener('seeked', r, {once: true})); }"
        )
        after_seek = middle.evaluate(PLAY_AND_WATCH)  # played from before the segment: back to its start
        assert after_seek["from"] >= 0.95 and after_seek["at"] == pytest.approx(2.0, abs=0.1)
        posters = page.locator(".result video.segment-player").evaluate_all("vs => vs.map(v => v.poster)")
        assert page.evaluate(
            "urls => Promise.all(urls.map(u => fetch(u).then(r => r.headers.get('content-type'))))", posters
        ) == ["image/jpeg"] * len(posters)
        page.screenshot(path=str(ARTIFACTS / "ui_segments.png"), full_page=True)
    finally:
        page.close()


def test_more_like_this_queries_by_the_result(page, corpus):
    from playwright.sync_api import expect

    cards = page.locator(".hit-card")
    second = int(cards.nth(1).get_attribute("data-id"))
    page.locator(".more-like-this").nth(1).click()
    expect(page.locator("#status")).to_contain_text(f"#{second} ", timeout=30_000)
    expect(page.locator("#query-preview video.segment-player")).to_have_count(1)
    ids = [int(i) for i in page.locator(".result .hit-card").evaluate_all("els => els.map(e => e.dataset.id)")]
    assert second not in ids and len(ids) == N_INDEXED - 1
    page.screenshot(path=str(ARTIFACTS / "ui_more_like_this.png"), full_page=True)


def test_a_segment_indexed_after_the_page_opened_can_be_found_picked_and_searched(page, corpus, tmp_path):
    from playwright.sync_api import expect

    late = tmp_path / "late-root"
    write_video(
        late / "late_arrival.mp4", render_pattern(n_frames=24, size=64, motion="zigzag", colour=(40, 200, 40)), 12
    )
    Index.open(corpus["index"].dir).add([late])  # `vidsearch index` in another process, UI still open
    page.locator("#picker-find textarea, #picker-find input").first.fill("late_arr")
    rows = page.locator("#picker-table [role=row].virtual-row")
    expect(rows).to_have_count(1, timeout=15_000)  # the search box narrowed the page to the new file
    expect(rows.first).to_contain_text("late_arrival.mp4")
    rows.first.get_by_text("late_arrival.mp4").click()
    expect(page.locator("#query-preview")).to_contain_text("late_arrival.mp4", timeout=15_000)
    page.locator("#search-btn").click()
    expect(page.locator("#status")).to_contain_text("late_arrival.mp4", timeout=30_000)
    expect(page.locator(".result .hit-card")).to_have_count(N_INDEXED, timeout=15_000)
    expect(page.locator("#index-summary")).to_contain_text(f"{N_INDEXED + 1} indexed segments", timeout=15_000)
    assert page.locator("#query-preview video").evaluate("v => fetch(v.src.split('#')[0]).then(r => r.status)") == 200
    page.screenshot(path=str(ARTIFACTS / "ui_picker.png"), full_page=True)


def _shown_scores(page, segment_id: int) -> tuple[float, float]:
    """(score, flow cosine) as the result card of ``segment_id`` shows them."""
    card = page.locator(f".result .hit-card[data-id='{segment_id}']")
    return float(card.get_attribute("data-score")), float(re.search(r"flow (\d\.\d+)", card.inner_text()).group(1))


def test_same_screen_direction_only_lowers_a_mirrored_copy(browser, mirrored, mirrored_server):
    """The checkbox reaches the search (see test_ui.py for the scores): a mirrored copy of the
    uploaded clip ranks next to the original by default, ticked its flow and score shown fall,
    unticked they are back."""
    from playwright.sync_api import expect

    ids = mirrored["ids"]
    original, mirror = ids["original"], ids["mirror"]
    page = _open(browser, mirrored_server)
    try:
        page.locator("#query-video input[type=file]").set_input_files(str(mirrored["query"]))
        expect(page.locator("#query-video video")).to_have_count(1, timeout=15_000)
        page.locator("#search-btn").click()
        cards = page.locator(".result .hit-card")
        expect(cards).to_have_count(len(ids), timeout=60_000)
        expect(page.locator("#status")).not_to_contain_text("same screen direction")
        shown = [int(i) for i in cards.evaluate_all("els => els.map(e => e.dataset.id)")]
        assert shown[:2] == [original, mirror]
        default, default_flow = _shown_scores(page, mirror)
        # the mirror image's motion counts less the mirror margin, in the UI's default --by both
        below = SearchRequest().motion_weight * FusionWeights().mirror_margin
        assert default == pytest.approx(_shown_scores(page, original)[0] - below, abs=0.02) and default_flow > 0.99
        mirror_card = page.locator(f".result .hit-card[data-id='{mirror}']")
        default_text = mirror_card.get_attribute("data-score")

        checkbox = page.locator("#strict-direction input[type=checkbox]")
        checkbox.check()
        page.locator("#search-btn").click()
        expect(page.locator("#status")).to_contain_text("same screen direction only", timeout=60_000)
        expect(mirror_card).not_to_have_attribute("data-score", default_text, timeout=30_000)
        strict, strict_flow = _shown_scores(page, mirror)
        assert strict < default - 0.01 and strict_flow < default_flow - 0.1
        assert cards.first.get_attribute("data-id") == str(original)
        page.screenshot(path=str(ARTIFACTS / "ui_strict_direction.png"), full_page=True)

        checkbox.uncheck()
        page.locator("#search-btn").click()
        expect(page.locator("#status")).not_to_contain_text("same screen direction", timeout=60_000)
        expect(mirror_card).to_have_attribute("data-score", default_text, timeout=30_000)
    finally:
        page.close()


def test_bad_upload_and_filter_typo_show_short_messages(page, corpus):
    from playwright.sync_api import expect

    page.locator("#query-video input[type=file]").set_input_files(str(corpus["outside"] / "notes.mp4"))
    page.locator("#search-btn").click()  # a text file named .mp4: a clear toast, no traceback
    expect(page.get_by_text("Cannot use the uploaded file 'notes.mp4'")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "ui_bad_upload.png"), full_page=True)
    page.reload(wait_until="domcontentloaded")  # a fresh page: no earlier toasts stacked over the new one
    page.locator("#query-id textarea, #query-id input").first.fill(str(corpus["ids"]["lin_red"]))
    page.get_by_text("Metadata filter").click()
    for box in ("#min-duration", "#max-duration"):  # opened but left empty: no duration limit
        assert page.locator(f"{box} textarea, {box} input").first.input_value() == ""
    page.locator("#search-btn").click()
    expect(page.locator("#status")).to_contain_text(f"{N_INDEXED} results", timeout=20_000)
    page.locator("#sql textarea, #sql input").first.fill("fps > 1 ANDD width > 2")
    page.locator("#search-btn").click()
    expect(page.get_by_text('Bad filter: syntax error at or near "ANDD"')).to_be_visible(timeout=20_000)
    content = page.content()
    assert "Traceback" not in content and "LINE 1" not in content and "extensions/" not in content
    page.screenshot(path=str(ARTIFACTS / "ui_filter_error.png"), full_page=True)
