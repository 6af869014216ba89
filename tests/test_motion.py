"""The default's motion check: small frames kept per step, motion maps compared under crops and shifts."""
from dataclasses import replace

import cv2
import numpy as np

from svmr.data.footage_set import transform_frame
from svmr.features import FeatureExtractor, FeatureSequence
from svmr.gallery import Gallery
from svmr.models.motion import MotionCheck, crop_boxes, crop_resize, motion_maps, small_frames
from svmr.models.motion_encoder import bundled_stream
from svmr.pipelines.align import FrameAlignment
from svmr.search import Searcher
from svmr.scoring import top_moment_tiou


def test_crop_resize_averages_the_box_like_opencv():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 32, 32)).astype(np.float32)
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.25, 0.0, 0.75, 0.5]])
    out = crop_resize(maps, boxes, out=16)
    assert out.shape == (2, 3, 16, 16)
    for k in range(3):
        whole = cv2.resize(maps[k], (16, 16), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(out[0, k], whole, atol=1e-5)
        np.testing.assert_allclose(out[1, k], maps[k, 0:16, 8:24], atol=1e-5)   # a 16-pixel box, unscaled
    boxes = crop_boxes()
    assert tuple(boxes[0]) == (0.0, 0.0, 1.0, 1.0) and len(boxes) == 49
    assert np.all((boxes >= 0) & (boxes <= 1)) and np.all(boxes[:, 2:] > boxes[:, :2])


def _walk(path, background, steps=24, size=128):
    """Frames of a dark square crossing a textured still background along ``path(t)`` → (x, y)."""
    frames = []
    for t in range(steps):
        frame = background.copy()
        x, y = (int(v * size) for v in path(t / steps))
        frame[max(0, y - 10):y + 10, max(0, x - 10):x + 10] = 20
        frames.append(frame)
    return np.stack(frames)


def _transformed(frames):
    """The footage set's transform: cropped 12 % / 4 % / 7 % / 2 %, contrast 0.85, +30, blurred."""
    params = {"crop": [0.12, 0.04, 0.93, 0.98], "contrast": 0.85, "brightness": 30.0, "blur": 1.2}
    return np.stack([transform_frame(frame, params, frame.shape[1::-1]) for frame in frames])


def test_a_transformed_copy_moves_like_its_query_and_a_look_alike_does_not():
    rng = np.random.default_rng(1)
    texture = np.tile(np.linspace(40, 220, 128)[None, :, None], (128, 1, 3))   # a still scene: a gradient,
    for _ in range(6):                                                           # and a few big blocks
        x, y = rng.integers(0, 100, 2)
        w, h = rng.integers(20, 60, 2)
        texture[y:y + h, x:x + w] = rng.integers(30, 230)
    texture = texture.astype(np.uint8)
    query = _walk(lambda t: (0.2 + 0.6 * t, 0.3 + 0.4 * t), texture)
    other = _walk(lambda t: (0.8 - 0.5 * t, 0.6), texture)                 # same place, someone else
    check = MotionCheck(small_frames(query))
    copy = small_frames(_transformed(query))
    look_alike = small_frames(other)
    # the copy sits at steps 10–34 of a longer reference, the look-alike at 10–34 of another
    padded = lambda clip: np.concatenate([np.repeat(clip[:1], 10, 0), clip, np.repeat(clip[-1:], 10, 0)])
    assert check.score(padded(copy), 10, 34) > 0.8
    assert check.score(padded(copy), 11, 35) > 0.8                        # the alignment a step off
    assert check.score(padded(look_alike), 10, 34) < 0.5
    # plain pictures cannot tell them apart: the look-alike's frames are closer to the query's
    picture = lambda clip: clip.astype(np.float32).ravel() - clip.mean()
    cosine = lambda a, b: float(picture(a) @ picture(b) / np.linalg.norm(picture(a)) / np.linalg.norm(picture(b)))
    assert cosine(small_frames(query), look_alike) > cosine(small_frames(query), copy)


def test_a_mirrored_copy_moves_like_its_query_mirrored():
    """A re-share flipped left to right: its motion matches the query's only when the check also
    tries the query mirrored — and the look-alike stays apart either way."""
    rng = np.random.default_rng(2)
    texture = rng.integers(40, 220, (8, 8, 3)).repeat(16, 0).repeat(16, 1).astype(np.uint8)
    query = _walk(lambda t: (0.15 + 0.5 * t, 0.2 + 0.5 * t * t), texture)
    mirrored = small_frames(np.ascontiguousarray(_transformed(query)[:, :, ::-1]))
    look_alike = small_frames(_walk(lambda t: (0.8 - 0.5 * t, 0.6), texture))
    assert MotionCheck(small_frames(query)).score(mirrored, 0, 24) > 0.8
    assert MotionCheck(small_frames(query), mirrored=False).score(mirrored, 0, 24) < 0.5
    assert MotionCheck(small_frames(query)).score(look_alike, 0, 24) < 0.5


def test_a_still_or_short_query_is_not_checked():
    still = np.full((24, 32, 32), 90, np.uint8)
    assert MotionCheck(still).score(np.random.default_rng(0).integers(0, 255, (40, 32, 32), dtype=np.uint8), 0, 24) == 0
    moving = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    assert not MotionCheck(moving).usable
    maps = motion_maps(still)
    assert maps.shape == still.shape and maps.max() == 0


def test_small_frames_are_stored_with_the_features(tmp_path, bikes):
    extractor = FeatureExtractor()
    sequence = extractor.extract(bikes, 1.0, 3.0)
    assert sequence.small_frames.shape == (sequence.length, 32, 32) and sequence.small_frames.dtype == np.uint8
    path = str(tmp_path / "f.npz")
    sequence.save(path, dtype=np.float16)
    np.testing.assert_array_equal(FeatureSequence.load(path).small_frames, sequence.small_frames)
    # a file written before small frames (or the motion stream) existed loads without them, and its
    # video is indexed again
    gallery = Gallery(str(tmp_path / "g"))
    gallery.add(bikes, extractor, video_id="bikes")
    assert gallery.is_current("bikes")
    stored = FeatureSequence.load(gallery.feature_path("bikes"))
    assert stored.motion.shape == (128, stored.length) and stored.motion_key == bundled_stream().key
    old = FeatureSequence.load(gallery.feature_path("bikes"))
    old.small_frames = old.motion = None
    old.save(gallery.feature_path("bikes"), dtype=np.float16)
    assert FeatureSequence.load(gallery.feature_path("bikes")).small_frames is None and not gallery.is_current("bikes")
    gallery.add(bikes, extractor, video_id="bikes")
    assert gallery.is_current("bikes") and len(gallery) == 1
    with open(gallery.feature_path("bikes"), "wb") as handle:     # a damaged file is written again
        handle.write(b"not a feature file")
    assert not gallery.is_current("bikes")
    gallery.add(bikes, extractor, video_id="bikes")
    assert FeatureSequence.load(gallery.feature_path("bikes")).small_frames is not None


def test_motion_check_finds_the_cropped_blurred_copy_of_a_street_clip(demo_gallery):
    """The demo's vtest_a: a street-camera clip whose only annotated copy is cropped, brightened and
    blurred inside another video, beside untransformed stretches of the same camera at other times."""
    example = next(e for e in demo_gallery.examples() if e["label"] == "vtest_a")
    truth = {v: [[s["start"], s["end"]] for s in demo_gallery.truth(v)["segments"] if s["label"] == "vtest_a"]
             for v in demo_gallery.gallery.videos if demo_gallery.truth(v)}
    truth = {v: segments for v, segments in truth.items() if segments}
    searcher = demo_gallery.searcher("align")
    result = searcher.search(example["path"], top_videos=10, moments_per_video=5)
    top = result.moments[0]
    assert top.video == "ref_bikes" and top_moment_tiou(result, truth) >= 0.5 and top.motion > 0.6
    assert all(m.motion < top.motion for m in result.moments if m.video.startswith("ref_vtest"))
    # without the check the same street at another time comes first
    unchecked = replace(searcher.pipeline, localizer=FrameAlignment(motion_checks=0))
    plain = Searcher(demo_gallery.gallery, unchecked, extractor=searcher.extractor)
    result = plain.search(example["path"], top_videos=10, moments_per_video=5)
    assert result.moments[0].video.startswith("ref_vtest") and top_moment_tiou(result, truth) < 0.5
