"""The app in a real headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright), as a
user walks it: what the page shows, what the players play, what the downloads hold."""
import os
import re

import pytest

from demo import service as S
from demo.browser_flow import (CHROMIUM, README_EXAMPLE, browser_page, cell, choose, click_example, download,
                               example_search_flow, play, progress_texts, result_rows, search_flow, seek, serve,
                               set_number, text_of, wait_text)
from demo.ui import build_ui
from svmr import video as V
from svmr.gallery import Gallery


@pytest.fixture(scope="module")
def url(demo_gallery):
    with serve(build_ui(demo_gallery), allowed_paths=[demo_gallery.root]) as address:
        yield address


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (scripts/test.sh does)")
    with browser_page() as page:
        yield page


def test_upload_trim_search_and_results_render(page, url, bikes, tmp_path):
    shown = search_flow(page, url, bikes, 0.5, 4.5, screenshots=str(tmp_path))
    assert "bikes.mp4" in shown["info"] and "640×272" in shown["info"]
    assert shown["range_note"].startswith("Query clip: 0.50–4.50 s (4.00 s)")
    assert "moments in" in shown["status"] and "stage 2" in shown["status"]
    assert shown["rows"] >= 1 and shown["clip_src"].endswith(".mp4")
    assert os.path.getsize(tmp_path / "search.png") > 50_000


def _tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def test_the_readme_example_finds_its_moment(page, url, demo_gallery, tmp_path):
    """The README's screenshot, as a newcomer makes it: click the example, press Search; the top
    moment is where the clip was inserted (ground truth of the demo gallery)."""
    label, name = README_EXAMPLE
    shown = example_search_flow(page, url, label, name, screenshots=str(tmp_path))
    video, start, end = shown["top"]
    truth = [(seg["start"], seg["end"]) for seg in (demo_gallery.truth(video) or {"segments": []})["segments"]
             if seg["label"] == name]
    assert truth, f"the top moment is in {video}, which does not hold {name}"
    assert max(_tiou((start, end), t) for t in truth) >= 0.5, (video, start, end, truth)
    # one numbering everywhere: the table's rank 1 is the menu's #1 and the timeline's lane #1
    assert page.locator("#moment_choice input").input_value().startswith(f"#1 {video} ")

    # a new query file: the results and the status of the last one go
    click_example(page, "real footage: bikes_a", "bikes_a")
    page.wait_for_function("() => !(document.querySelector('#search_status')?.innerText || '').includes('total')",
                           timeout=60_000)
    assert not page.locator("#results_section").is_visible()

    # a file that is not a video: one sentence, under the file, and nothing stale below it
    page.locator("#search").click()
    wait_text(page, "search_status", "total", 300_000)
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    page.locator("#query_video button[aria-label='Clear']").click()      # as a user replaces the file
    page.locator("#query_video input[type=file]").set_input_files(str(bad))
    info = wait_text(page, "video_info", "Cannot use this file", 60_000)
    assert "notes.mp4" in info
    page.wait_for_timeout(1500)
    assert "notes.mp4" not in text_of(page, "range_note") and "Cannot" not in text_of(page, "range_note")
    assert text_of(page, "search_status").strip() == "" and not page.locator("#results_section").is_visible()


def test_main_flow_example_trim_search_choose_play_download(page, url, demo_gallery, tmp_path):
    page.goto(url)
    wait_text(page, "gallery_note", "Demo gallery", 120_000)
    # before any video: no empty players, no range controls, no results placeholders
    assert not page.locator("#query_player").is_visible() and not page.locator("#range_controls").is_visible()
    assert not page.locator("#results_section").is_visible()

    # the AVI example plays (a browser-playable copy) and is not a second trim tool
    info = click_example(page, "vtest.avi (whole video: trim it)", "vtest.avi")
    assert "768×576" in info and "browser-playable copy" in info
    assert page.locator("#query_video video").count() == 0
    playing = play(page, "query_player", 1.0)
    assert playing["time"] > 0.3 and playing["width"] > 0 and playing["video_bytes"] > 0
    assert "the whole video (79.50 s)" in text_of(page, "range_note")

    # a value past the end: the app's own message, not a toast from the widget
    field = page.locator("#range_end input[type=number]")
    field.fill("999")
    field.press("Enter")
    note = wait_text(page, "range_note", "is past the video's end: set to 79.50 s", 60_000)
    assert page.locator("#range_end input[type=number]").input_value() == "79.5"
    assert page.locator(".toast-body, [data-testid='toast-body']").count() == 0
    field = page.locator("#range_start input[type=number]")
    field.fill("85")
    field.press("Enter")
    note = wait_text(page, "range_note", "Cannot use this range", 60_000)
    assert "start 85.00 s is outside the video (0 to 79.50 s)" in note

    # trim with the player: start and end taken from its position
    page.evaluate("document.querySelector('#query_player video').pause()")
    seek(page, "query_player", 30.0)
    page.locator("#start_from_player").click()
    seek(page, "query_player", 34.0)
    page.locator("#end_from_player").click()
    note = wait_text(page, "range_note", "Query clip: 30.00–34.00 s (4.00 s)", 120_000)
    assert "Cannot" not in note
    assert play(page, "query_preview", 0.5)["width"] > 0          # the clip searched, playable

    page.locator("#search").click()
    status = wait_text(page, "search_status", "total", 300_000)
    # the verdict first (the demo gallery holds this stretch of vtest.avi), then the counts
    assert status.startswith("Copy found") and re.search(r"^\d+ moments in \d+ videos", status, re.M)
    page.wait_for_selector("#results_section", state="visible")
    assert result_rows(page) >= 2
    page.wait_for_selector("#timeline img")

    # click the second row: the chooser, the clip and the download follow it
    video_id = cell(page, "results_table", 1, 1).inner_text().strip()
    start, end = (float(cell(page, "results_table", 1, c).inner_text()) for c in (2, 3))
    cell(page, "results_table", 1, 1).click()
    page.wait_for_function("() => (document.querySelector('#moment_choice input')?.value || '').startsWith('#2 ')",
                           timeout=120_000)
    page.wait_for_function("() => (document.querySelector('#moment_file a')?.getAttribute('href') || '')"
                           f".includes('{video_id}_{start:.2f}-{end:.2f}')", timeout=120_000)
    playing = play(page, "moment_clip", 1.0)
    assert playing["time"] > 0.3 and playing["video_bytes"] > 0
    kept = V.probe(download(page, "moment_file", str(tmp_path / "moment.mp4")))
    source = Gallery(os.path.join(demo_gallery.root, "gallery")).videos[video_id]
    assert (kept.width, kept.height) == (source.width, source.height)       # the source's resolution
    assert kept.duration == pytest.approx(end - start, abs=0.15)

    # a new range: the results stay, and the status says which range they were found for
    set_number(page, "range_start", 31)
    wait_text(page, "search_status", "Results of an earlier range", 60_000)
    assert "30.00 s–34.00 s of the query; press Search to search 31.00 s–34.00 s" in text_of(page, "search_status")
    assert page.locator("#results_section").is_visible()

    # no run history kept in the browser for private videos
    assert page.locator("footer").get_by_text("Runs", exact=True).count() == 0

    # a phone-width screen: everything stacks, nothing runs off the side
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_upload_flow_add_progress_search_remove(page, url, bunny, carphone):
    page.goto(url)
    wait_text(page, "gallery_note", "Demo gallery", 120_000)
    page.get_by_text("Add or remove your own videos").click()
    page.locator("#gallery_uploads input[type=file]").set_input_files([bunny, carphone])
    page.wait_for_selector("#gallery_uploads .file-name, #gallery_uploads a", timeout=60_000)
    page.locator("#add_videos").click()
    seen = progress_texts(page, "gallery_status", "Added")
    percents = [float(p) for text in seen for p in re.findall(r"([\d.]+)%", text)]
    assert percents and max(percents) <= 100.0, seen
    assert any("Indexing" in text for text in seen), seen
    # the first file moves the bar before it is done (a file is half of the batch: below 50 %)
    first = [float(p) for text in seen if "(1 of 2)" in text for p in re.findall(r"([\d.]+)%", text)]
    assert any(0 < p < 50 for p in first), seen
    assert text_of(page, "gallery_status").startswith("Added 2 videos: bigbuckbunny, carphone_pristine.")
    assert "Your gallery: 2 videos" in text_of(page, "gallery_note")
    listed = [cell(page, "gallery_table", r, 0).inner_text().strip() for r in range(2)]
    assert sorted(listed) == ["bigbuckbunny", "carphone_pristine"]
    page.locator("#add_videos").click()                           # the upload box was emptied
    wait_text(page, "gallery_status", "Choose one or more video files first.", 30_000)

    # search the visitor's own gallery with a clip of one of its videos: the moment has sound
    page.locator("#query_video input[type=file]").set_input_files(bunny)
    wait_text(page, "video_info", "fps", 60_000)
    for box, value in (("range_start", 2), ("range_end", 5)):
        field = page.locator(f"#{box} input[type=number]")
        field.fill(str(value))
        field.press("Enter")
    wait_text(page, "range_note", "Query clip: 2.00–5.00 s", 60_000)
    page.locator("#search").click()
    wait_text(page, "search_status", "total", 300_000)
    page.wait_for_selector("#results_section", state="visible")
    assert cell(page, "results_table", 0, 1).inner_text().strip() == "bigbuckbunny"
    playing = play(page, "moment_clip", 2.0)
    assert (playing["width"], playing["height"]) == (1280, 720)
    assert playing["audio_bytes"] > 0 and playing["time"] > 0.5

    # remove it: its rows leave the results, the other video's rows stay, ranked from 1
    shown = [cell(page, "results_table", r, 1).inner_text().strip() for r in range(result_rows(page))]
    assert {"bigbuckbunny", "carphone_pristine"} <= set(shown), shown
    choose(page, "remove_choice", "bigbuckbunny")
    page.locator("#remove_video").click()
    wait_text(page, "gallery_status", "Removed bigbuckbunny.", 60_000)
    wait_text(page, "search_status", "bigbuckbunny removed", 60_000)
    assert page.locator("#results_section").is_visible()
    page.wait_for_function("() => document.querySelectorAll('#results_table .virtual-row').length === "
                           f"{shown.count('carphone_pristine')}", timeout=60_000)
    kept = [cell(page, "results_table", r, c).inner_text().strip() for r in range(result_rows(page)) for c in (0, 1)]
    assert kept[1::2] == ["carphone_pristine"] * shown.count("carphone_pristine")
    assert kept[0::2] == [str(r) for r in range(1, len(kept) // 2 + 1)]
    page.wait_for_function("() => (document.querySelector('#moment_choice input')?.value || '')"
                           ".startsWith('#1 carphone_pristine')", timeout=60_000)
    page.locator("#search").click()
    wait_text(page, "search_status", "total", 300_000)
    page.wait_for_selector("#results_section", state="visible")
    shown = {cell(page, "results_table", r, 1).inner_text().strip() for r in range(result_rows(page))}
    assert shown == {"carphone_pristine"}
    assert S.MY_GALLERY in page.locator("#gallery_choice input:checked").evaluate("e => e.value")
