"""Nothing outside the app's own folders is served or read: file URLs, and server paths sent
where an uploaded file is expected."""
import json
import os
import shutil
import urllib.error
import urllib.request

import pytest

from demo import service as S
from demo.browser_flow import serve
from demo.sessions import SESSIONS_ROOT
from demo.ui import build_ui


@pytest.fixture(scope="module")
def url(demo_gallery):
    with serve(build_ui(demo_gallery), allowed_paths=[demo_gallery.root]) as address:
        yield address


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _call(url: str, api: str, data: list) -> str:
    """A raw API call (no client-side upload): the event stream's text."""
    request = urllib.request.Request(f"{url}gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.load(response)["event_id"]
    return _get(f"{url}gradio_api/call/{api}/{event}")[1].decode()


def test_file_urls_outside_the_app_are_refused(url, demo_gallery, tmp_path):
    other = tmp_path / "svmr_sessions_other" / "videos"
    other.mkdir(parents=True)
    (other / "secret.mp4").write_bytes(b"another visitor's video")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for target in ("/etc/passwd", "../../../../etc/passwd", "%2Fetc%2Fpasswd", "/proc/self/environ",
                   f"{root}/app.py", f"{root}/checkpoints/stage2_none.json", str(other / "secret.mp4"),
                   f"{SESSIONS_ROOT}/x/videos/y.mp4"):
        status, body = _get(f"{url}gradio_api/file={target}")
        assert status in (403, 404), (target, status)
        assert b"root:" not in body and b"another visitor" not in body
    status, _ = _get(f"{url}gradio_api/file={demo_gallery.root}/demo.json")   # the demo is public
    assert status == 200


def test_server_paths_sent_as_files_are_not_opened(url, tmp_path):
    secret = tmp_path / "secret.mp4"
    shutil.copyfile(os.path.join(os.path.dirname(__file__), "..", "assets", "screenshot.png"), secret)
    for target in ("/etc/passwd", str(secret)):
        data = {"path": target, "meta": {"_type": "gradio.FileData"}}
        for api, args in (("probe", [data]), ("search", [data, 0, 1, S.DEMO_GALLERY, S.ALIGN, 3, 1, 0]),
                          ("add_videos", [[data]])):
            text = _call(url, api, args)
            assert "event: error" in text, (api, target, text[:300])
            assert "root:" not in text and "secret" not in text


def test_the_app_refuses_paths_that_were_not_uploaded():
    """Past Gradio's own check, the handlers check again (defence in depth)."""
    from svmr import video as V

    with pytest.raises(V.VideoError, match="passwd: not a file uploaded to this app"):
        S.checked_upload("/etc/passwd")
    uploaded = os.path.join(S.upload_folder(), "abc", "clip.mp4")
    assert S.checked_upload(uploaded) == uploaded
    with pytest.raises(V.VideoError):
        S.checked_upload(os.path.join(S.upload_folder(), "..", "elsewhere.mp4"))
