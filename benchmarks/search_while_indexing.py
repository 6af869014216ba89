"""Does one visitor's indexing slow another visitor's search? Timed from outside.

    python benchmarks/search_while_indexing.py --video LONG.mp4 [--searches 8]

Starts ``python app.py`` (the demo gallery must be built: ``python -m demo.prepare``), times
searches of a demo example through gradio_client with the server idle, then again while a second
client adds ``--video`` (a long upload, e.g. ten minutes) to its own gallery, and prints the
median and worst search time in both cases and how long the indexing took.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.app_start import start_app, wait_for_page  # noqa: E402


def _search_times(client, example: str, count: int, stop: threading.Event | None = None) -> list[float]:
    from demo import service as S

    times = []
    for _ in range(count):
        if stop is not None and stop.is_set():
            break
        started = time.perf_counter()
        status, *_ = client.predict(example, 0.0, 4.0, S.DEMO_GALLERY, S.ALIGN, 5, 3, 0.0, api_name="/search")
        assert "total" in status, status
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, help="a long video for the second visitor to add")
    parser.add_argument("--searches", type=int, default=8)
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    from demo.prepare import DEFAULT_ROOT, load_demo

    example = handle_file(next(e["path"] for e in load_demo(DEFAULT_ROOT)["examples"]))
    server, url = start_app()
    try:
        wait_for_page(url, server)
        searcher, uploader = Client(url, verbose=False), Client(url, verbose=False)
        _search_times(searcher, example, 2)                       # models load on first use
        idle = _search_times(searcher, example, args.searches)

        done = threading.Event()
        indexing = {}

        def add() -> None:
            started = time.perf_counter()
            *_, message, _, _ = uploader.predict([handle_file(args.video)], api_name="/add_videos")
            indexing.update(seconds=time.perf_counter() - started, message=message)
            done.set()

        thread = threading.Thread(target=add)
        thread.start()
        time.sleep(3.0)                                           # the upload is copied and indexing has begun
        busy = _search_times(searcher, example, args.searches, stop=done)
        thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"| server | searches | median s | worst s |\n|---|---:|---:|---:|")
    print(f"| idle | {len(idle)} | {statistics.median(idle):.2f} | {max(idle):.2f} |")
    if busy:
        print(f"| while another visitor indexes | {len(busy)} | {statistics.median(busy):.2f} | {max(busy):.2f} |")
    print(f"indexing {os.path.basename(args.video)}: {indexing['seconds']:.1f} s — {indexing['message'].splitlines()[0]}")


if __name__ == "__main__":
    main()
