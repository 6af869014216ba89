"""The main flow in a real headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright):
upload a video, trim it, search the demo gallery, and check the results render."""
import os

import pytest

from demo.browser_flow import CHROMIUM, browser_page, search_flow, serve
from demo.ui import build_ui


@pytest.fixture(scope="module")
def page():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (scripts/test.sh does)")
    with browser_page() as page:
        yield page


def test_upload_trim_search_and_results_render(page, demo_gallery, bikes, tmp_path):
    with serve(build_ui(demo_gallery), allowed_paths=[demo_gallery.root]) as url:
        shown = search_flow(page, url, bikes, 0.5, 4.5, screenshots=str(tmp_path))
        assert "bikes.mp4" in shown["info"] and "640×272" in shown["info"]
        assert shown["range_note"].startswith("Query clip: 0.50–4.50 s (4.00 s)")
        assert "moments in" in shown["status"] and "stage 2" in shown["status"]
        assert shown["rows"] >= 1 and shown["clip_src"].endswith(".mp4")
        # the preview the user saw is the trimmed range, not the whole upload
        assert page.locator("#range_note").inner_text().startswith("Query clip: 0.50–4.50 s")
        assert os.path.getsize(tmp_path / "search.png") > 50_000
