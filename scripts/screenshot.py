"""Drive the app in headless Chromium (Debian's, via Playwright) and save a screenshot.

    python scripts/screenshot.py [--video PATH] [--start 2 --end 6] [--out assets/screenshot.png]

Starts the app on a free local port, uploads the video, sets the range, runs the analysis,
waits for the plot, and saves a full-page PNG.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from playwright.sync_api import sync_playwright  # noqa: E402

from demo.ui import build_ui  # noqa: E402
from svmr.data.footage import footage_path  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def set_number(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=footage_path("vtest.avi") or footage_path("bikes.mp4"))
    parser.add_argument("--start", type=float, default=10.0)
    parser.add_argument("--end", type=float, default=40.0)
    parser.add_argument("--out", default="assets/screenshot.png")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = build_ui().queue()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#query_video input[type=file]").set_input_files(args.video)
            page.wait_for_function("document.querySelector('#video_info').innerText.includes('fps')", timeout=60000)
            set_number(page, "range_start", args.start)
            set_number(page, "range_end", args.end)
            page.locator("#analyze").click()
            page.wait_for_selector("#feature_plot img, #feature_plot canvas, #feature_plot svg", timeout=180000)
            page.wait_for_function("document.querySelector('#status').innerText.includes('frames/s')", timeout=180000)
            page.wait_for_timeout(1500)
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            print(page.locator("#status").inner_text())
            browser.close()
    finally:
        app.close()


if __name__ == "__main__":
    main()
