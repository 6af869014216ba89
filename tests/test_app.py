"""The app end to end through gradio_client against a running server (a small demo gallery:
the real-footage set plus a few procedural videos, built once for the module)."""
import json
import os
import shutil

import pytest
from gradio_client import Client, handle_file     # a broken install fails here, never skips

from demo import service as S
from demo import sessions
from demo.browser_flow import serve
from demo.results import RESULT_COLUMNS
from demo.ui import build_ui
from svmr import video as V


@pytest.fixture(scope="module")
def url(demo_gallery):
    with serve(build_ui(demo_gallery), allowed_paths=[demo_gallery.root]) as address:
        yield address


@pytest.fixture
def client(url):
    """A fresh client: a new visitor with their own session."""
    return Client(url, verbose=False)


def _search(client, query, start=0.0, end=None, gallery=S.DEMO_GALLERY, model=S.ALIGN, top=5, per_video=3,
            threshold=0.0):
    if end is None:
        try:
            end = V.probe(query).duration
        except V.VideoError:
            end = 1.0
    return client.predict(handle_file(query), start, end, gallery, model, top,
                          per_video, threshold, api_name="/search")


def _rows(table) -> list:
    return table["data"] if table else []


def _path(value):
    return value["video"] if isinstance(value, dict) and "video" in value else value


def _plot_size(plot) -> tuple[int, int]:
    """Width and height of the picture a ``gr.Plot`` sent (a matplotlib figure as a base64 PNG)."""
    import base64
    import io

    from PIL import Image

    data = plot["plot"] if isinstance(plot, dict) else plot
    return Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[-1]))).size


def test_probe_and_analyze_a_real_video(client, bikes):
    info, start, end, preview = client.predict(handle_file(bikes), api_name="/probe")
    assert "10.00 s" in info and "640×272" in info
    assert (start, end) == (0.0, pytest.approx(10.0))          # plain numbers, as the API describes them
    assert V.probe(_path(preview)).duration == pytest.approx(10.0, abs=0.1)
    clip, plot, status = client.predict(handle_file(bikes), 2.0, 6.0, api_name="/analyze")
    assert V.probe(_path(clip)).duration == pytest.approx(4.0, abs=0.05)
    assert "16 feature steps × 1280 channels" in status
    width, height = _plot_size(plot)
    assert width > 300 and height > 100


def test_a_similar_moment_is_labelled_so(client, demo_gallery):
    """The demo's Blupi example has no copy in the gallery: the app says so and shows Blupi
    elsewhere in the film, a moment of the query's length labelled similar."""
    example = next(e for e in demo_gallery.examples() if e["label"] == "blupi")
    status, table, json_file, *_ = _search(client, example["path"])
    column = {name: k for k, name in enumerate(RESULT_COLUMNS)}
    top = _rows(table)[0]
    assert "No copy of the query in this gallery" in status
    assert top[column["video"]] == "blupi_face" and top[column["match"]] == "similar"
    span = next(s for s in demo_gallery.truth("blupi_face")["segments"] if s["label"] == "blupi")
    assert span["start"] <= top[column["start (s)"]] < top[column["end (s)"]] <= span["end"]
    assert top[column["end (s)"]] - top[column["start (s)"]] >= V.probe(example["path"]).duration / 2
    with open(json_file) as handle:
        results = json.load(handle)
    assert results["verdict"] == "similar moments" and results["moments"][0]["match"] == "similar"


def test_demo_gallery_is_listed_with_thumbnails(client, demo_gallery):
    note, table, thumbs, removable = client.predict(S.DEMO_GALLERY, api_name="/show_gallery")
    names = [row[0] for row in _rows(table)]
    assert "ref_vtest1" in names and any(n.startswith("synthetic_") for n in names)
    assert f"{len(demo_gallery.gallery)} videos" in note
    assert len(thumbs) == len(names)
    assert removable["choices"] == []  # the demo gallery is read-only


@pytest.mark.parametrize("model", S.MODELS)
def test_search_demo_gallery_with_an_example_query(client, demo_gallery, model, tmp_path):
    example = next(e for e in demo_gallery.examples() if e["label"] == "bikes_a")
    status, table, json_file, timeline, heatmap, clip, clip_file = _search(client, example["path"], model=model)
    assert "total" in status and "stage 1" in status and "stage 2" in status
    rows = _rows(table)
    assert rows and [r[0] for r in rows] == list(range(1, len(rows) + 1))
    column = {name: k for k, name in enumerate(RESULT_COLUMNS)}
    scores = [r[column["score"]] for r in rows]
    assert scores == sorted(scores, reverse=True)
    # the default says what matched: this example is a transformed copy of a gallery clip
    assert (rows[0][column["match"]] == "copy") == (S.MODELS[model] == "align")
    assert ("Copy found" in status) == (S.MODELS[model] == "align")
    with open(json_file) as handle:
        results = json.load(handle)
    # the menu's choice reached the library: the pipeline that ran says its name
    assert results["query"]["pipeline"]["name"] == S.MODELS[model] and len(results["moments"]) == len(rows)
    # every model finds this example (a re-shared clip of bikes.mp4) in the right video first
    assert rows[0][column["video"]] == "ref_bikes"
    assert {"m_c", "m_r"} <= set(results["videos"][0])
    best = results["moments"][0]
    assert best["video"] == rows[0][1] and best["start"] < best["end"]
    assert V.probe(_path(clip)).duration == pytest.approx(best["end"] - best["start"], abs=0.15)
    assert min(_plot_size(timeline)) > 100 and min(_plot_size(heatmap)) > 100


def test_choosing_another_moment_renders_its_clip(client, demo_gallery):
    example = next(e for e in demo_gallery.examples() if e["label"] == "vtest_a")
    _, table, *_ = _search(client, example["path"], top=3, per_video=2)
    second = _rows(table)[1]
    timeline, heatmap, clip, clip_file = client.predict(2, api_name="/show_moment")   # ranks count from 1
    assert V.probe(_path(clip)).duration == pytest.approx(second[3] - second[2], abs=0.15)
    assert client.predict(len(_rows(table)) + 1, api_name="/show_moment") == (None, None, None, None)


def test_score_threshold_filters_moments(client, demo_gallery):
    example = demo_gallery.examples()[0]
    status, table, *_ = _search(client, example["path"], threshold=1.0)
    assert not _rows(table)
    assert "No moment reaches the score threshold" in status


def test_bad_inputs_get_messages_not_traces(client, tmp_path, bikes):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    clip, plot, status = client.predict(handle_file(str(bad)), 0.0, 1.0, api_name="/analyze")
    assert clip is None and "not a readable video" in status
    status, *_ = _search(client, str(bad))
    assert status.startswith("**Cannot search.**") and "not a readable video" in status
    status, *_ = _search(client, bikes, start=12.0, end=15.0)
    assert status.startswith("**Cannot search.**") and "10.00" in status
    info, *_ = client.predict(handle_file(str(bad)), api_name="/probe")
    assert "Cannot use this file" in info


def test_own_gallery_is_private_and_checked(url, bikes, carphone, tmp_path):
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    status, *_ = _search(alice, bikes, end=4.0, gallery=S.MY_GALLERY)
    assert "Your gallery is empty" in status

    broken = tmp_path / "broken.avi"
    broken.write_bytes(os.urandom(5000))
    session_out = alice.predict([handle_file(carphone), handle_file(str(broken))], api_name="/add_videos")
    note, table, thumbs, removable, message, choice, uploads = session_out
    assert "Added 1 video: carphone_pristine." in message and "Skipped" in message and "broken.avi" in message
    assert [row[0] for row in _rows(table)] == ["carphone_pristine"] and len(thumbs) == 1
    assert uploads is None                      # the upload box is emptied: Add twice does not re-index

    # the same content again, under another name: refused by content, not copied as carphone_2
    again = tmp_path / "same_as_carphone.mp4"
    shutil.copyfile(carphone, again)
    *_, message, choice, uploads = alice.predict([handle_file(str(again))], api_name="/add_videos")
    assert "already in your gallery as carphone_pristine" in message and "Nothing was added" in message

    # Bob sees none of Alice's videos
    note, table, thumbs, removable = bob.predict(S.MY_GALLERY, api_name="/show_gallery")
    assert "empty" in note and removable["choices"] == []

    # a 10-s query against a gallery whose only video lasts 4.2 s
    status, *_ = _search(alice, bikes, gallery=S.MY_GALLERY)
    assert "longer than every video in the gallery" in status
    status, table, *_ = _search(alice, bikes, start=1.0, end=3.0, gallery=S.MY_GALLERY)
    assert "total" in status and {row[1] for row in _rows(table)} == {"carphone_pristine"}

    note, table, thumbs, removable, message = alice.predict("carphone_pristine", api_name="/remove_video")
    assert message == "Removed carphone_pristine." and "empty" in note


def test_session_folders_are_deleted_on_unload_and_at_start_up(tmp_path, monkeypatch, carphone):
    monkeypatch.setattr(sessions, "SESSIONS_ROOT", str(tmp_path / "sessions"))
    visitor = sessions.session_for("abc123")
    assert visitor.root == str(tmp_path / "sessions" / "abc123")
    visitor.add(carphone)
    assert os.listdir(os.path.join(visitor.root, "videos"))
    sessions.drop_session("abc123")                       # the page's unload event
    assert not os.path.exists(visitor.root)
    for name in ("left", "over"):                  # folders of a server that was killed
        os.makedirs(tmp_path / "sessions" / name / "videos")
    assert sessions.clear_sessions() == 2 and os.listdir(tmp_path / "sessions") == []
