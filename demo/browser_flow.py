"""The app's main flow in a real headless Chromium (Debian's, driven by Playwright).

Used by the browser test and by ``scripts/screenshot.py``: upload a query video, trim it, search
the demo gallery, wait for the results to render, and optionally save screenshots.
"""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(app, **launch):
    """Run a Gradio app on a free local port; yields its URL."""
    from .ui import LAUNCH

    launch = {**LAUNCH, **launch}
    port = free_port()
    app.queue(default_concurrency_limit=2).launch(server_name="127.0.0.1", server_port=port,
                                                  prevent_thread_lock=True, quiet=True, **launch)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A page in headless Chromium (never ``playwright install``: the Debian build is used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def text_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def wait_text(page, elem_id: str, needle: str, timeout_ms: int = 180_000) -> str:
    """Wait until the element's text contains ``needle``; returns the text."""
    page.wait_for_function(
        "([id, needle]) => (document.querySelector('#' + id)?.innerText || '').includes(needle)",
        arg=[elem_id, needle], timeout=timeout_ms)
    return text_of(page, elem_id)


def set_number(page, elem_id: str, value: float) -> None:
    """Type a value into a number box and commit it (as a user does)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def choose(page, elem_id: str, option: str) -> None:
    """Pick an option of a Gradio dropdown."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def search_flow(page, url: str, video: str, start: float, end: float, screenshots: str | None = None,
                model: str | None = None) -> dict:
    """Upload ``video``, trim to ``[start, end)``, search the demo gallery (with ``model`` when
    given); returns what the page shows (status texts and the number of result rows)."""
    page.goto(url)
    wait_text(page, "gallery_note", "Demo gallery", 120_000)
    page.locator("#query_video input[type=file]").set_input_files(video)
    info = wait_text(page, "video_info", "fps", 120_000)
    page.wait_for_selector("#query_player video", timeout=120_000)
    set_number(page, "range_start", start)
    set_number(page, "range_end", end)
    range_note = wait_text(page, "range_note", f"{start:.2f}–{end:.2f} s", 120_000)
    page.wait_for_selector("#query_preview video", timeout=120_000)
    if model:
        choose(page, "model", model)
    page.locator("#search").click()
    status = wait_text(page, "search_status", "total", 300_000)
    page.wait_for_selector("#results_section", state="visible", timeout=60_000)
    page.wait_for_selector("#timeline img", timeout=120_000)
    page.wait_for_selector("#heatmap img", timeout=120_000)
    page.wait_for_selector("#moment_clip video", timeout=120_000)
    rows = result_rows(page)
    page.wait_for_timeout(1000)
    if screenshots:
        os.makedirs(screenshots, exist_ok=True)
        page.screenshot(path=os.path.join(screenshots, "search.png"), full_page=True)
    return {"info": info, "range_note": range_note, "status": status, "rows": rows,
            "clip_src": page.locator("#moment_clip video").get_attribute("src")}


#: the example the README's screenshot shows: a 6-s clip of vtest.avi, inserted (cropped, recoloured,
#: re-encoded) into the bikes video of the demo gallery
README_EXAMPLE = ("real footage: vtest_a", "vtest_a")
#: the README's second screenshot: a moment like the query, no copy in the gallery
SIMILAR_EXAMPLE = ("similar moments: face", "face_wolfgang_a")


def example_search_flow(page, url: str, label: str, file_name: str, screenshots: str | None = None) -> dict:
    """Click the example ``label`` (its file is named ``file_name``), search the demo gallery with
    the default settings and wait for the results; returns the status and the top row
    ``(video, start, end)``, and saves ``search.png`` (the whole page) into ``screenshots``."""
    page.goto(url)
    wait_text(page, "gallery_note", "Demo gallery", 120_000)
    info = click_example(page, label, file_name)
    page.wait_for_selector("#query_player video", timeout=120_000)
    page.locator("#search").click()
    status = wait_text(page, "search_status", "total", 300_000)
    page.wait_for_selector("#results_section", state="visible", timeout=60_000)
    for element in ("timeline img", "heatmap img", "moment_clip video"):
        page.wait_for_selector(f"#{element}", timeout=120_000)
    top = (cell(page, "results_table", 0, 1).inner_text().strip(),
           *(float(cell(page, "results_table", 0, c).inner_text()) for c in (2, 3)))
    page.wait_for_timeout(1000)
    if screenshots:
        os.makedirs(screenshots, exist_ok=True)
        page.screenshot(path=os.path.join(screenshots, "search.png"), full_page=True)
    return {"info": info, "status": status, "top": top, "rows": result_rows(page)}


def result_rows(page) -> int:
    """Rows the results table shows (Gradio's table is virtualized: the visible ones)."""
    return page.locator("#results_table .virtual-row").count()


def cell(page, elem_id: str, row: int, col: int):
    """One cell of a Gradio table (0-based row and column)."""
    return page.locator(f"#{elem_id} [role=gridcell][data-row='{row}'][data-col='{col}']")


def seek(page, elem_id: str, seconds: float) -> None:
    """Move a video player's position (as a user drags its bar) and wait for the frame."""
    page.evaluate("([id, t]) => { const v = document.querySelector('#' + id + ' video'); v.currentTime = t; }",
                  [elem_id, seconds])
    page.wait_for_function("([id, t]) => { const v = document.querySelector('#' + id + ' video');"
                           " return v && !v.seeking && Math.abs(v.currentTime - t) < 0.2; }",
                           arg=[elem_id, seconds], timeout=30_000)


#: how far a player must have played before :func:`play` reports (seconds of the video)
PLAYED = 0.35


def play(page, elem_id: str, seconds: float = 2.0) -> dict:
    """Play a player (muted, as autoplay rules require) for ``seconds``, and on a slow machine on
    until it has played :data:`PLAYED` s of the video or reached its end (at most a minute);
    returns what the browser decoded: position, picture size, and video and audio bytes decoded."""
    page.wait_for_function("id => (document.querySelector('#' + id + ' video')?.readyState || 0) >= 2",
                           arg=elem_id, timeout=60_000)
    page.evaluate("id => { const v = document.querySelector('#' + id + ' video'); v.muted = true; v.play(); }",
                  elem_id)
    page.wait_for_timeout(int(seconds * 1000))
    page.wait_for_function("([id, t]) => { const v = document.querySelector('#' + id + ' video');"
                           " return v.currentTime >= t || v.ended; }", arg=[elem_id, PLAYED], timeout=60_000)
    return page.evaluate("id => { const v = document.querySelector('#' + id + ' video'); return {"
                         " time: v.currentTime, width: v.videoWidth, height: v.videoHeight,"
                         " video_bytes: v.webkitVideoDecodedByteCount, audio_bytes: v.webkitAudioDecodedByteCount,"
                         " src: v.currentSrc}; }", elem_id)


def download(page, elem_id: str, path: str) -> str:
    """Fetch the file a gr.File component offers for download into ``path``."""
    href = page.locator(f"#{elem_id} a[href]").first.get_attribute("href")
    response = page.request.get(href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/"))
    assert response.ok, f"download of {href} failed: {response.status}"
    with open(path, "wb") as handle:
        handle.write(response.body())
    return path


def progress_texts(page, elem_id: str, until: str, timeout_s: float = 300.0) -> list[str]:
    """Every text shown over ``elem_id`` (progress included) until its text contains ``until``:
    recorded in the page by a MutationObserver, so a state shown for a few milliseconds counts."""
    page.evaluate("""id => {
        const seen = window.__svmrTexts = [];
        const root = document.querySelector('#' + id).parentElement;
        const note = () => { const t = root.innerText; if (t && seen[seen.length - 1] !== t) seen.push(t); };
        new MutationObserver(note).observe(root, {subtree: true, childList: true, characterData: true});
        note();
    }""", elem_id)
    page.wait_for_function("([id, until]) => (document.querySelector('#' + id)?.innerText || '').includes(until)",
                           arg=[elem_id, until], timeout=timeout_s * 1000)
    return page.evaluate("() => window.__svmrTexts")


def click_example(page, label: str, file_name: str, timeout_ms: int = 120_000) -> str:
    """Click an example and wait until the page describes its file (a click that lands before the
    page has wired its examples is repeated once); returns the description."""
    for attempt in range(2):
        page.get_by_text(label).click()
        try:
            return wait_text(page, "video_info", file_name, timeout_ms // 2)
        except Exception:
            if attempt:
                raise
