"""`python app.py` as a user starts it: the server comes up and serves the page."""
import subprocess
import urllib.request

from benchmarks.app_start import start_app, wait_for_page


def test_app_py_starts_and_serves_the_page(demo_gallery):
    server, url = start_app(output=subprocess.PIPE, SVMR_DEMO_ROOT=demo_gallery.root)
    try:
        try:
            wait_for_page(url, server, timeout=300)
        except RuntimeError:
            raise AssertionError(f"app.py exited: {server.communicate(timeout=30)[0]}") from None
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200 and "svmr" in page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert "Traceback" not in output, output
