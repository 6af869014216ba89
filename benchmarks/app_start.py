"""Cold start of the app and searches on its demo gallery, timed from outside.

    python benchmarks/app_start.py [--repeats 3]

Starts ``python app.py`` as a fresh process (port from ``GRADIO_SERVER_PORT``, as Spaces set it),
measures the time until the first page is served, then times searches through gradio_client:
the first (models load on first use) and warm ones, for each model. The demo gallery must be
built already (``python -m demo.prepare``; ``app.py`` builds it itself when missing, and the
script reports that time separately when it happens).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from demo.browser_flow import free_port  # noqa: E402


def start_app(output=subprocess.DEVNULL, **env) -> tuple[subprocess.Popen, str]:
    """Start ``python app.py`` on a free localhost port (extra environment variables in ``env``);
    returns the process and its URL (call :func:`wait_for_page` before using it)."""
    port = free_port()
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                   "GRADIO_ANALYTICS_ENABLED": "False", **env}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environment, stdout=output,
                               stderr=subprocess.STDOUT if output == subprocess.PIPE else subprocess.DEVNULL,
                               text=output == subprocess.PIPE)
    return process, f"http://127.0.0.1:{port}/"


def wait_for_page(url: str, process: subprocess.Popen, timeout: float = 900) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and b"svmr" in response.read():
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    from demo import service as S
    from demo.prepare import DEFAULT_ROOT, load_demo

    prebuilt = load_demo(DEFAULT_ROOT) is not None
    started = time.perf_counter()
    process, url = start_app()
    try:
        first_page = wait_for_page(url, process)
        print(f"cold start to first page: {first_page:.1f} s (demo gallery {'prebuilt' if prebuilt else 'built now'})")
        client = Client(url, verbose=False)
        examples = {e["label"]: e["path"] for e in load_demo(DEFAULT_ROOT)["examples"]}
        query = examples["vtest_a"]
        for model in S.MODELS:
            times = []
            for _ in range(1 + args.repeats):
                mark = time.perf_counter()
                status = client.predict(handle_file(query), 0.0, 6.0, S.DEMO_GALLERY, model, 5, 3, 0.0,
                                        api_name="/search")[0]
                times.append(time.perf_counter() - mark)
            print(f"{model.split(':')[0]}: first search {times[0]:.2f} s, warm median "
                  f"{statistics.median(times[1:]):.2f} s (round trip; server: {status.split('—')[1].strip()})")
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
