"""The re-share set's transforms (``svmr/data/reshare_set.py``): each family puts the clip where
its parameters say, plays it at its speed, and drops the frames it says; the set's queries never
share frames and its hosts are never a query's source."""
import numpy as np
import pytest

from svmr.data import reshare_set as R
from svmr.data.footage_set import letterbox

WIDTH, HEIGHT = R.OUT_SIZE


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)        # 4:3, as the output
    host = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    return clip, host


def test_every_family_draws_its_own_transform():
    rng = np.random.default_rng(0)
    for family in R.FAMILIES:
        for index in (0, 1):
            params = R.draw_params(family, index, rng)
            if family == "combination":
                assert len(params) == 2 and set(params) <= set(R.COMBINABLE) | {"speed"}
            else:
                assert set(params) == {family}
    assert R.draw_params("speed", 0, rng)["speed"] < 1 < R.draw_params("speed", 1, rng)["speed"]
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [R.draw_params(f, 0, a) for f in R.FAMILIES] == [R.draw_params(f, 0, b) for f in R.FAMILIES]


def test_mirror_split_and_pip_put_the_clip_where_they_say(frames):
    clip, host = frames
    mirrored = R.transform_frame(clip, host, {"mirror": True}, 0)
    np.testing.assert_array_equal(mirrored, letterbox(np.ascontiguousarray(clip[:, ::-1]), R.OUT_SIZE))
    split = R.transform_frame(clip, host, {"split": "right"}, 0)
    np.testing.assert_array_equal(split[:, :WIDTH // 2], letterbox(host, (WIDTH // 2, HEIGHT)))
    np.testing.assert_array_equal(split[:, WIDTH // 2:], letterbox(clip, (WIDTH - WIDTH // 2, HEIGHT)))
    pip = R.transform_frame(clip, host, {"pip": {"scale": 0.5, "x": 1.0, "y": 0.0}}, 0)
    w, h = WIDTH // 2, HEIGHT // 2
    inner = pip[2:h - 2, WIDTH - w + 2:WIDTH - 2]                          # inside the white frame line
    np.testing.assert_array_equal(inner, letterbox(clip, (w, h))[2:-2, 2:-2])
    np.testing.assert_array_equal(pip[h + 2:], letterbox(host, R.OUT_SIZE)[h + 2:])   # the host plays on below


def test_a_caption_bar_takes_its_share_and_the_clip_shrinks_into_the_rest(frames):
    clip, host = frames
    params = {"caption": {"height": 0.2, "top": True, "text": "no way!!", "colour": [250, 220, 40]}}
    out = R.transform_frame(clip, host, params, 0)
    bar = int(HEIGHT * 0.2)
    assert np.mean(np.all(out[:bar] == [250, 220, 40], axis=-1)) > 0.8      # the bar, with its text
    np.testing.assert_array_equal(out[bar:], letterbox(clip, (WIDTH, HEIGHT - bar)))


def test_speed_and_dropped_frames_change_the_timeline_as_drawn():
    slow = R.copy_times(10.0, 14.0, {"speed": 0.5})
    assert len(slow) == int(4 / 0.5 * R.OUT_FPS) and slow[0] == 10.0 and slow[-1] < 14.0
    assert np.diff(slow) == pytest.approx(0.5 / R.OUT_FPS)
    dropped = R.copy_times(10.0, 14.0, {"frame_drop": {"share": 0.5, "seed": 3}})
    assert len(dropped) == int(4 * R.OUT_FPS) and np.all(np.diff(dropped) >= 0)
    repeated = np.mean(np.diff(dropped) == 0)
    assert 0.3 < repeated < 0.7                                            # about half shows the frame before


def test_queries_share_no_frames_and_no_host_is_a_query_source():
    assert len(R.QUERY_CLIPS) == 2 * len(R.FAMILIES)
    for k, (name, start, end) in enumerate(R.QUERY_CLIPS):
        assert name not in R.HOST_FILES
        for other, o_start, o_end in R.QUERY_CLIPS[k + 1:]:
            assert name != other or min(end, o_end) <= max(start, o_start)
