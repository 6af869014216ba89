"""Crash safety: ``python -m svmr index`` killed with SIGKILL at random moments (12 times),
resumed each time; every listed entry stays consistent, and the finished gallery equals an
uninterrupted build."""
import os
import random
import signal
import subprocess
import sys

import numpy as np

from svmr.features.extractor import file_digest
from svmr.gallery import Gallery

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILLS = 12


def index(gallery: str, folder: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "svmr", "index", "--gallery", gallery, "--size", "96", folder],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def consistent(root: str) -> dict:
    """Load a gallery as a reader would; every listed entry must load, match its file and its
    step count. Returns ``{id: (digest, steps, features)}``."""
    gallery = Gallery(root)
    leftovers = [name for _, _, files in os.walk(root) for name in files if ".tmp" in name]
    assert not leftovers, leftovers                       # a killed writer's temporaries are cleared
    found = {}
    for video in gallery.list():
        features = gallery.features(video.id)
        assert features.length == video.steps and features.features.shape == (1280, video.steps), video.id
        assert file_digest(video.path) == video.digest, video.id
        found[video.id] = (video.digest, video.steps, features.features)
    return found


def test_index_survives_random_kills(tmp_path, bikes, carphone):
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(6):                                    # about 6 s of indexing after a 2.5-s start
        os.symlink(bikes, folder / f"bikes_{i}.mp4")
        os.symlink(carphone, folder / f"carphone_{i}.mp4")
    reference = str(tmp_path / "reference")
    done = index(reference, str(folder))
    assert done.wait(timeout=600) == 0, done.stderr.read()
    expected = consistent(reference)
    assert len(expected) == 12

    rng = random.Random(20261203)
    kills, rounds, mid_gallery = 0, 0, 0
    while kills < KILLS:
        rounds += 1
        gallery = str(tmp_path / f"killed_{rounds}")
        # resume until a run finishes; a run killed before it added anything gets twice the time
        # next (a loaded machine may need more than the first few seconds to index one video)
        patience, listed = 1.0, 0
        for _ in range(200):
            run = index(gallery, str(folder))
            try:
                finished = run.wait(timeout=patience * rng.uniform(1.5, 4.5)) == 0
            except subprocess.TimeoutExpired:
                run.send_signal(signal.SIGKILL)
                run.wait()
                kills += 1
                finished = False
            now = len(consistent(gallery)) if os.path.exists(os.path.join(gallery, "gallery.json")) else 0
            mid_gallery += not finished and 0 < now < len(expected)
            patience, listed = (1.0 if now > listed else 2 * patience), now
            if finished:
                break
        final = consistent(gallery)
        assert final.keys() == expected.keys()
        for video_id, (digest, steps, features) in expected.items():
            assert final[video_id][:2] == (digest, steps), video_id
            np.testing.assert_allclose(final[video_id][2], features, atol=1e-5, err_msg=video_id)
    # the kills were not all before the first video or after the last: some left a gallery half
    # written, and the next run resumed it
    assert mid_gallery >= 1
