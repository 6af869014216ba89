"""The app end to end through gradio_client against a running server."""
import socket

import pytest

gradio = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

from demo.ui import build_ui  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = build_ui().queue()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    app.close()


def test_probe_and_analyze_a_real_video(client, bikes):
    info, start, end = client.predict(handle_file(bikes), api_name="/probe")
    assert "10.00 s" in info and "640×272" in info
    clip, plot, status = client.predict(handle_file(bikes), 2.0, 6.0, api_name="/analyze")
    path = clip["video"] if isinstance(clip, dict) else clip
    assert path.endswith(".mp4")
    from svmr import video as V

    assert V.probe(path).duration == pytest.approx(4.0, abs=0.05)
    assert "16 feature steps × 1280 channels" in status
    assert plot is not None


def test_bad_upload_gets_a_message_not_a_trace(client, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    clip, plot, status = client.predict(handle_file(str(bad)), 0.0, 1.0, api_name="/analyze")
    assert clip is None and "not a readable video" in status
