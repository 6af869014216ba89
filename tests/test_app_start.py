"""`python app.py` as a user starts it: the server comes up and serves the page."""
import os
import subprocess
import sys
import urllib.request

from benchmarks.app_start import wait_for_page
from demo.browser_flow import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_app_py_starts_and_serves_the_page(demo_gallery):
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               SVMR_DEMO_ROOT=demo_gallery.root)
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
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
