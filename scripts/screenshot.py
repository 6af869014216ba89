"""Drive the app in headless Chromium (Debian's, via Playwright) and save the README screenshot.

    python scripts/screenshot.py [--video PATH] [--start 0.5 --end 4.5] [--out assets]

Starts the app on the bundled demo gallery (built first if missing), uploads the video, trims
it, searches, waits for the results, and saves ``<out>/<name>`` (the whole page).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from demo.browser_flow import browser_page, search_flow, serve  # noqa: E402
from demo.prepare import DEFAULT_ROOT  # noqa: E402
from demo.service import DemoGallery  # noqa: E402
from demo.ui import build_ui  # noqa: E402
from svmr.data.footage import footage_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=footage_path("bikes.mp4"))
    parser.add_argument("--start", type=float, default=0.5)
    parser.add_argument("--end", type=float, default=4.5)
    parser.add_argument("--out", default="assets")
    parser.add_argument("--model", help="model choice as shown in the app (default: the app's default)")
    parser.add_argument("--name", default="screenshot.png")
    args = parser.parse_args()
    demo = DemoGallery(DEFAULT_ROOT).ensure()
    shots = tempfile.mkdtemp()
    with serve(build_ui(demo), allowed_paths=[DEFAULT_ROOT]) as url, browser_page() as page:
        shown = search_flow(page, url, args.video, args.start, args.end, screenshots=shots, model=args.model)
    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(os.path.join(shots, "search.png"), os.path.join(args.out, args.name))
    print(shown["status"])


if __name__ == "__main__":
    main()
