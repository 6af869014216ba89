"""`python app.py` as a user starts it: the server comes up, serves the page, and stops cleanly."""
import subprocess
import urllib.request

from gradio_client import Client, handle_file

from benchmarks.app_start import start_app, wait_for_page


def test_app_py_starts_serves_the_page_and_stops_cleanly(demo_gallery, bikes):
    server, url = start_app(output=subprocess.PIPE, SVMR_DEMO_ROOT=demo_gallery.root)
    try:
        try:
            wait_for_page(url, server, timeout=300)
        except RuntimeError:
            raise AssertionError(f"app.py exited: {server.communicate(timeout=30)[0]}") from None
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200 and "svmr" in page
        # a visitor's file starts the reading worker (a process with its queues)
        info, start, end, _ = Client(url, verbose=False).predict(handle_file(bikes), api_name="/probe")
        assert "bikes.mp4" in info and end == 10.0
    finally:
        server.terminate()                                      # SIGTERM, as a service manager stops it
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "Traceback" not in output and "leaked" not in output, output
