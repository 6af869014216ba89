"""Decodable copies (``svmr/decodable.py``): damaged files read for what decodes, with the loss
measured against where the damage was put; tiny pictures upscaled; copies pruned when their file
goes. And the app's temp-file sweep (``demo/temp_files.py``)."""
import json
import os
import time

import numpy as np
import pytest

from hostile import write_video
from svmr import decodable as D
from svmr import video as V

SECONDS, FPS = 12, 10


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> bytes:
    """A 12-s, 10-fps H.264 file with its index first (as phones write them), a keyframe a second."""
    path = str(tmp_path_factory.mktemp("camera") / "camera.mp4")
    write_video(path, count=SECONDS * FPS, width=160, height=96, fps=FPS, options={"g": "10"},
                container_options={"movflags": "+faststart"})
    return open(path, "rb").read()


def test_a_cut_file_is_read_to_where_its_data_ends(camera_file, tmp_path):
    path = str(tmp_path / "cut.mp4")
    open(path, "wb").write(camera_file[: len(camera_file) * 60 // 100])
    info = V.probe(path)
    # 60 % of the bytes hold about 60 % of the pictures (every second costs about the same)
    assert 0.4 * SECONDS < info.duration < 0.75 * SECONDS
    assert info.damage.claimed_s == pytest.approx(SECONDS, abs=0.2)
    assert info.damage.readable_s == pytest.approx(info.duration, abs=0.15)
    assert "ends at" in info.damage.describe() and f"{SECONDS:.1f} s it claims" in info.damage.describe()
    assert info.damage.summary().startswith("damaged: ends at")
    frames, times = V.read_frames(path, rate=2, size=(64, 64))
    assert len(frames) == len(times) == int(np.ceil(info.duration * 2 - 1e-9))
    assert frames.std() > 5                                     # pictures, not an empty stand-in


def test_a_corrupt_stretch_is_stated_where_it_is(camera_file, tmp_path):
    path = str(tmp_path / "garbage.mp4")
    data = bytearray(camera_file)
    lo, hi = len(data) * 45 // 100, len(data) * 55 // 100          # a tenth of the bytes, mid-file
    data[lo:hi] = np.random.default_rng(0).integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    open(path, "wb").write(bytes(data))
    frames, times = V.read_frames(path, rate=2, size=(64, 64))  # the damage shows while reading
    info = V.probe(path)
    assert info.duration == pytest.approx(SECONDS, abs=0.15) and len(frames) == 2 * SECONDS
    assert info.damage.claimed_s is None and len(info.damage.lost) == 1
    start, end = info.damage.lost[0]
    # the garbage covers about 45–55 % of the file: the loss lies around that share of the time
    # (give or take the second the keyframes are apart, and the frames that depend on lost ones)
    assert 0.3 * SECONDS < start < end < 0.75 * SECONDS and end - start >= 0.5
    assert "could not be decoded" in info.damage.describe()
    # a trim across the lost stretch: the pictures around it at their times (the stretch frozen)
    from svmr.trim import trim

    clip = trim(path, str(tmp_path / "across.mp4"), start - 1.0, end + 1.0)
    assert clip.duration == pytest.approx(end - start + 2.0, abs=0.2)


def test_an_intact_file_has_no_damage_and_no_copy(camera_file, tmp_path):
    path = str(tmp_path / "intact.mp4")
    open(path, "wb").write(camera_file)
    info = V.probe(path)
    assert not info.damage and info.damage.describe() == "" and D.existing_copy(path) is None


@pytest.mark.parametrize("width,height", [(2, 2), (16, 16), (48, 64)])
def test_tiny_pictures_are_upscaled_not_refused(tmp_path, width, height):
    path = write_video(str(tmp_path / f"tiny_{width}x{height}.mp4"), width=width, height=height,
                       pix_fmt="yuv444p" if width < 4 else "yuv420p")
    info = V.probe(path)
    assert min(info.width, info.height) >= D.MIN_SIDE and info.width * height == info.height * width
    frames, _ = V.read_frames(path, rate=5, size=(32, 32))
    assert frames.shape == (10, 32, 32, 3)


def test_copies_go_with_their_files(camera_file, tmp_path, monkeypatch):
    monkeypatch.setattr(D, "COPIES_DIR", str(tmp_path / "copies"))   # other runs' copies are not this test's
    path = str(tmp_path / "cut.mp4")
    open(path, "wb").write(camera_file[: len(camera_file) // 2])
    V.probe(path)
    copy = D.existing_copy(path)
    assert copy and os.path.exists(copy)
    D.remove_copy(path)
    assert D.existing_copy(path) is None and not os.path.exists(copy[:-4] + ".json")
    V.probe(path)
    copy = D.existing_copy(path)
    os.remove(path)                                             # the file goes (a visitor's upload)
    assert D.prune(older_than_s=3600) == 0 and os.path.exists(copy)   # young copies are left alone
    assert D.prune(older_than_s=0) == 1 and not os.path.exists(copy)


def test_the_sweep_deletes_old_work_files_but_kept_ones(tmp_path, monkeypatch):
    from demo import temp_files as T

    monkeypatch.setenv(T.WORK_ROOT_ENV, str(tmp_path / "work"))
    old, young, kept = (T.work_dir() for _ in range(3))
    for folder in (old, young, kept):
        open(os.path.join(folder, "clip.mp4"), "wb").close()
    hour_ago = time.time() - 3600
    for folder in (old, kept):
        os.utime(folder, (hour_ago, hour_ago))
    assert T.sweep(older_than_s=600, keep=[os.path.join(kept, "clip.mp4")]) == 1
    assert not os.path.exists(old) and os.path.exists(young) and os.path.exists(kept)


def test_a_cached_copy_handed_out_again_is_young(tmp_path, monkeypatch):
    """Gradio touches a cached copy when it hands it out again (a gallery's thumbnail listed anew),
    not the folder it sits in: the sweep must age the folder by its youngest file, or a visitor
    fetches a thumbnail deleted under them (a 403 seen in a 30-minute load run)."""
    from demo import temp_files as T

    monkeypatch.setattr(T, "GRADIO_PARENT", str(tmp_path / "gradio"))
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    monkeypatch.setenv(T.WORK_ROOT_ENV, str(tmp_path / "work"))   # the sweep reads this process's work folder too
    cache = T.own_gradio_cache()
    listed, forgotten = (os.path.join(cache, digest) for digest in ("a1", "b2"))
    for folder in (listed, forgotten):
        os.makedirs(folder)
        open(os.path.join(folder, "visitor_video.jpg"), "wb").close()
    time.sleep(1.2)
    os.utime(os.path.join(listed, "visitor_video.jpg"))       # what Gradio does when it reuses a copy
    assert T.sweep(older_than_s=1.0) == 1
    assert os.path.exists(listed) and not os.path.exists(forgotten)


def test_a_damaged_query_says_so_in_the_search_result(camera_file, tmp_path, capsys):
    """A query whose damage shows only while its clip is read (its first and last pictures decode):
    the search's JSON names what was lost; an intact query's has no such key."""
    from svmr.cli import main

    intact, damaged = str(tmp_path / "camera.mp4"), str(tmp_path / "query.mp4")
    open(intact, "wb").write(camera_file)
    data = bytearray(camera_file)
    lo, hi = len(data) * 45 // 100, len(data) * 55 // 100
    data[lo:hi] = np.random.default_rng(1).integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    open(damaged, "wb").write(bytes(data))
    gallery = str(tmp_path / "g")
    assert main(["index", "--gallery", gallery, "--size", "96", intact]) == 0
    capsys.readouterr()
    for query, expected in ((intact, False), (damaged, True)):
        assert main(["search", "--gallery", gallery, "--query", query, "--start", "3", "--end", "9", "--json"]) == 0
        found = json.loads(capsys.readouterr().out)
        assert ("damage" in found["query"]) == expected
    assert "could not be decoded" in found["query"]["damage"]
