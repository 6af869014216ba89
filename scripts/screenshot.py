"""Drive the app in headless Chromium (Debian's, via Playwright) and save a README screenshot.

    python scripts/screenshot.py                                   # the README's: example vtest_a
    python scripts/screenshot.py --similar --name similar.png      # the README's second: a similar moment
    python scripts/screenshot.py --video PATH --start 0.5 --end 4.5 [--model NAME] --name other.png

Starts the app on the bundled demo gallery (built first if missing), clicks the example (or uploads
``--video`` and trims it), searches, waits for the results, and saves ``<out>/<name>`` (the whole
page). The browser test clicks the same example and checks its top moment against the truth.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from demo.browser_flow import README_EXAMPLE, SIMILAR_EXAMPLE, browser_page, example_search_flow, search_flow, serve  # noqa: E402
from demo.prepare import DEFAULT_ROOT  # noqa: E402
from demo.service import DemoGallery  # noqa: E402
from demo.ui import build_ui  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", help="upload this file instead of clicking the example")
    parser.add_argument("--start", type=float, default=0.5)
    parser.add_argument("--end", type=float, default=4.5)
    parser.add_argument("--out", default="assets")
    parser.add_argument("--model", help="model choice as shown in the app (with --video; default: the app's default)")
    parser.add_argument("--name", default="screenshot.png")
    parser.add_argument("--similar", action="store_true", help="click the similar-moments example instead")
    args = parser.parse_args()
    demo = DemoGallery(DEFAULT_ROOT).ensure()
    shots = tempfile.mkdtemp()
    with serve(build_ui(demo), allowed_paths=[DEFAULT_ROOT]) as url, browser_page() as page:
        if args.video:
            shown = search_flow(page, url, args.video, args.start, args.end, screenshots=shots, model=args.model)
        else:
            shown = example_search_flow(page, url, *(SIMILAR_EXAMPLE if args.similar else README_EXAMPLE),
                                        screenshots=shots)
    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(os.path.join(shots, "search.png"), os.path.join(args.out, args.name))
    print(shown["status"])


if __name__ == "__main__":
    main()
