"""Decoding, sampling, clip writing and bad-input handling on real footage."""
import os

import cv2
import numpy as np
import pytest

from svmr import clips
from svmr import video as V


def test_probe_real_video(bikes):
    info = V.probe(bikes)
    assert (info.fps, info.num_frames, info.width, info.height) == (25.0, 250, 640, 272)
    assert info.duration == pytest.approx(10.0)


def test_chunks_of_large_pictures_hold_fewer_frames(bikes, monkeypatch):
    """A chunk holds at most CHUNK_BYTES of pictures: at the source's size (a trim) fewer frames
    than resized for features, and every frame still comes, in order."""
    monkeypatch.setattr(V, "CHUNK_BYTES", 640 * 272 * 3 * 5)            # five of bikes' pictures
    times = V.sample_times(0.0, 2.0, 25.0)
    full = list(V.iter_frames(bikes, times))
    assert [len(c) for c in full] == [5] * 10 and full[0].shape[1:] == (272, 640, 3)
    small = list(V.iter_frames(bikes, times, size=(64, 64)))
    assert [len(c) for c in small] == [50]                                  # DECODE_CHUNK caps it first
    np.testing.assert_array_equal(np.concatenate(full)[7], V.read_frames(bikes, times=[times[7]])[0][0])


def test_sample_times_and_indices(bikes):
    np.testing.assert_allclose(V.sample_times(2.0, 3.0, 4.0), [2.0, 2.25, 2.5, 2.75])
    assert len(V.sample_times(0.0, 0.01, 4.0)) == 1
    info = V.probe(bikes)
    np.testing.assert_array_equal(V.frame_indices(info, [0.0, 0.039, 0.04, 99.0]), [0, 0, 1, 249])


def test_read_range_resized_matches_opencv(bikes):
    frames, times = V.read_frames(bikes, rate=5.0, start=3.0, end=4.0, size=(160, 68))
    assert frames.shape == (5, 68, 160, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(times, [3.0, 3.2, 3.4, 3.6, 3.8])
    cap = cv2.VideoCapture(bikes)
    cap.set(cv2.CAP_PROP_POS_FRAMES, 75)
    ok, frame = cap.read()
    expected = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (160, 68), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[0].astype(int) - expected).mean() < 12


def _opencv_frames(path):
    cap, frames = cv2.VideoCapture(path), []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def test_files_that_seek_wrongly_are_decoded_forward(megamind):
    path = megamind  # packed B-frames: decord's seeking lands on wrong frames
    reference = _opencv_frames(path)
    info = V.probe(path)
    frames, _ = V.read_frames(path, times=np.array([150, 151, 240]) / info.fps)
    for got, index in zip(frames, (150, 151, 240)):
        assert np.abs(got.astype(int) - reference[index]).mean() < 1.0


def test_write_clip_is_h264_of_the_range(bikes, tmp_path):
    out = tmp_path / "clip.mp4"
    info = clips.write_clip(bikes, str(out), 2.0, 5.0, max_side=320)
    assert (info.width, info.height) == (320, 136)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    import av

    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    first, _ = V.read_frames(str(out), times=[0.0], size=(320, 136))
    source, _ = V.read_frames(bikes, times=[2.0], size=(320, 136))
    assert np.abs(first.astype(int) - source).mean() < 10


def test_odd_sizes_are_made_even(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (5, 31, 45, 3), dtype=np.uint8)
    clips.write_frames(str(tmp_path / "odd.mp4"), frames, fps=5)
    info = V.probe(str(tmp_path / "odd.mp4"))
    assert (info.width, info.height, info.num_frames) == (44, 30, 5)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello, I am text", "not a readable video"),
    (os.urandom(5000), "not a readable video"),
])
def test_bad_files_raise_video_error(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(V.VideoError, match=message):
        V.probe(str(path))


def test_truncated_mp4_and_missing_file(tmp_path, bikes):
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(open(bikes, "rb").read()[:100_000])
    with pytest.raises(V.VideoError):
        V.probe(str(truncated))
    with pytest.raises(V.VideoError, match="not found"):
        V.probe(str(tmp_path / "nope.mp4"))
    with pytest.raises(V.VideoError, match="folder"):
        V.probe(str(tmp_path))


def test_messages_say_what_the_file_is(tmp_path, bikes):
    """A pipe, a device, a looping or dangling link: each named for what it is (not "empty" or
    "not found"); a huge start is printed readably."""
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(V.VideoError, match="pipe.mp4: a named pipe, not a video file"):
        V.probe(str(fifo))
    with pytest.raises(V.VideoError, match="zero: a device, not a video file"):
        V.probe("/dev/zero")
    loop = tmp_path / "loop.mp4"
    os.symlink(loop, loop)
    with pytest.raises(V.VideoError, match="loop.mp4: a symbolic link that loops"):
        V.probe(str(loop))
    dangling = tmp_path / "gone.mp4"
    os.symlink(tmp_path / "nothing-here.mp4", dangling)
    with pytest.raises(V.VideoError, match="gone.mp4: a symbolic link to a file that does not exist"):
        V.probe(str(dangling))
    with pytest.raises(V.VideoError) as refused:
        V.check_range(V.probe(bikes), 1e308, None)
    assert "start 1e+308 s is outside" in str(refused.value) and len(str(refused.value)) < 100


def test_bad_ranges(bikes):
    info = V.probe(bikes)
    with pytest.raises(V.VideoError, match="outside"):
        V.check_range(info, 12.0, 13.0)
    with pytest.raises(V.VideoError, match="after its start"):
        V.check_range(info, 5.0, 4.0)
    with pytest.raises(V.VideoError, match="finite"):
        V.check_range(info, float("nan"), 4.0)
    assert V.check_range(info, 5.0, 50.0) == (5.0, 10.0)


def test_writer_refuses_empty_clip(tmp_path):
    with pytest.raises(V.VideoError, match="No frames"):
        with clips.ClipWriter(str(tmp_path / "empty.mp4"), 10):
            pass
    assert not (tmp_path / "empty.mp4").exists()


@pytest.mark.parametrize("degrees, corner", [(90, "bottom-left"), (180, "bottom-right"), (270, "top-right")])
def test_rotated_videos_are_read_upright(tmp_path, degrees, corner):
    """A phone's portrait clip (display rotation in the container) is decoded as it is shown."""
    import av

    from svmr.trim import trim

    path = str(tmp_path / f"rotated_{degrees}.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.set_display_rotation(degrees)
        for _ in range(10):
            picture = np.zeros((64, 96, 3), np.uint8)
            picture[:16, :24] = 255                               # a white block, top left as stored
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = V.probe(path)
    assert (info.width, info.height) == ((96, 64) if degrees == 180 else (64, 96))
    assert not clips.browser_playable(path)
    frames, _ = V.read_frames(path, times=[0.0, 0.5])
    rows, cols = np.nonzero(frames[0].mean(axis=2) > 128)
    vertical = "top" if rows.mean() < frames.shape[1] / 2 else "bottom"
    horizontal = "left" if cols.mean() < frames.shape[2] / 2 else "right"
    assert f"{vertical}-{horizontal}" == corner
    kept = trim(path, str(tmp_path / "cut.mp4"), 0.0, 0.5)
    assert (kept.width, kept.height) == (info.width, info.height)
