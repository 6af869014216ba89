"""`python app.py` as a user starts it: the server comes up, serves the page, and stops cleanly,
leaving nothing of its visitors behind."""
import os
import subprocess
import time
import urllib.request

from gradio_client import Client, handle_file

from benchmarks.app_start import start_app, wait_for_page
from demo.temp_files import GRADIO_PARENT, WORK_PARENT


def files_under(folder: str) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(folder) for f in names]


def test_app_py_starts_serves_the_page_and_stops_cleanly(demo_gallery, bikes):
    """Also: a killed server's leftovers go at start; a visitor's files (work files and Gradio's
    copies) go within the age the server is given (20 s here: longer than any request of the test) and a sweep; the server's own
    folders go when it stops."""
    finished = subprocess.Popen(["true"])
    finished.wait()                                             # a process id nothing runs under now
    leftovers = [os.path.join(parent, str(finished.pid), "ui_left") for parent in (WORK_PARENT, GRADIO_PARENT)]
    for folder in leftovers:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, "trim.mp4"), "wb").close()
    server, url = start_app(output=subprocess.PIPE, SVMR_DEMO_ROOT=demo_gallery.root, SVMR_TEMP_MAX_AGE_S="20",
                            GRADIO_TEMP_DIR="")
    work, cache = (os.path.join(parent, str(server.pid)) for parent in (WORK_PARENT, GRADIO_PARENT))
    try:
        try:
            wait_for_page(url, server, timeout=300)
        except RuntimeError:
            raise AssertionError(f"app.py exited: {server.communicate(timeout=30)[0]}") from None
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200 and "svmr" in page
        # a visitor's file starts the reading worker (a process with its queues)
        assert not any(os.path.exists(os.path.dirname(folder)) for folder in leftovers)
        client = Client(url, verbose=False)
        info, start, end, _ = client.predict(handle_file(bikes), api_name="/probe")
        assert "bikes.mp4" in info and end == 10.0
        client.predict(handle_file(bikes), 1.0, 3.0, api_name="/analyze")      # a trimmed clip
        assert files_under(work) and files_under(cache), (files_under(work), files_under(cache))
        deadline = time.time() + 60
        while (files_under(work) or files_under(cache)) and time.time() < deadline:
            time.sleep(0.5)
        assert not files_under(work) and not files_under(cache), (files_under(work), files_under(cache))
    finally:
        server.terminate()                                      # SIGTERM, as a service manager stops it
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "Traceback" not in output and "leaked" not in output, output
    assert not os.path.exists(work) and not os.path.exists(cache)
