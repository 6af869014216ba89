"""Pictures inside a picture (``svmr/features/regions.py``): a real clip put inside real host
footage is found where it was put, whole frames and letterbox bars give no region, a still inset is
left out, and the tracker finds the inset's stretch whatever the chunks it is fed."""
import cv2
import numpy as np
import pytest

from svmr import video as V
from svmr.features.regions import RegionTracker, crop_region, picture_regions

SIDE = 256
#: where the clip is put: (top, bottom, left, right) in fractions
INSET = (0.55, 0.9, 0.06, 0.42)


def _frames(path: str, start: float, count: int, rate: float = 4.0) -> np.ndarray:
    times = start + np.arange(count) / rate
    return np.concatenate(list(V.iter_frames(path, times, size=(SIDE, SIDE))))


@pytest.fixture(scope="module")
def host(vtest):
    return _frames(vtest, 10.0, 24)


@pytest.fixture(scope="module")
def clip(megamind):
    return _frames(megamind, 1.0, 24)


def _inset(host: np.ndarray, clip: np.ndarray, box=INSET) -> np.ndarray:
    """``clip`` scaled into ``box`` of ``host`` (no line drawn around it)."""
    out = host.copy()
    y0, y1, x0, x1 = (int(round(f * SIDE)) for f in box)
    for k in range(len(out)):
        out[k, y0:y1, x0:x1] = cv2.resize(clip[k], (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return out


def test_a_clip_put_inside_other_footage_is_found_where_it_was_put(host, clip):
    regions = picture_regions(_inset(host[:8], clip[:8]))
    assert regions, "the inset was not found"
    np.testing.assert_allclose(regions[0], INSET, atol=0.02)
    split = np.concatenate([clip[:8, :, ::2], host[:8, :, ::2]], axis=2)    # a split screen: clip left
    assert any(np.allclose(region, (0.0, 1.0, 0.0, 0.5), atol=0.02) for region in picture_regions(split))


def test_a_split_screens_dark_letterboxed_half_is_the_other_half_of_an_outlined_one(megamind, bikes):
    frames = np.zeros((8, SIDE, SIDE, 3), np.uint8)
    half = SIDE // 2
    frames[:, 64:192, :half] = _frames(bikes, 1.0, 8)[:, ::2, ::2][:, :128]      # the host, bright, letterboxed
    dark = (_frames(megamind, 5.0, 8)[:, ::2, ::2][:, :128] * 0.5).astype(np.uint8)
    frames[:, 64:192, half:] = dark                                              # the clip, dark: no outline of its own
    regions = picture_regions(frames)
    assert any(np.allclose(region, (0.0, 1.0, 0.5, 1.0), atol=0.02) for region in regions), regions


def test_whole_frames_and_letterbox_bars_give_no_region(host, clip, carphone):
    # (a still scene's own straight lines can outline a rectangle: Megamind's table and candle at
    # 1-3 s do; that costs a region's description at indexing, never a wrong match)
    plain = _frames(carphone, 0.5, 8)
    assert picture_regions(plain) == []
    pillarboxed = np.zeros_like(plain)
    pillarboxed[:, :, 32:224] = plain[:, :, 32:224]
    assert picture_regions(pillarboxed) == []                 # the bar cut describes it alone
    assert picture_regions(_inset(host[:3], clip[:3])) == []  # too few frames to tell an outline


def test_a_still_inset_is_no_clip(host, clip):
    still = np.repeat(clip[:1], 8, axis=0)
    assert picture_regions(_inset(host[:8], still)) == []
    assert picture_regions(_inset(host[:8], clip[:8])) != []


def test_the_tracker_finds_the_insets_stretch_whatever_the_chunks(host, clip):
    video = host.copy()
    video[8:20] = _inset(host[8:20], clip[8:20])              # 2 s to 5 s at 4 frames a second
    found = []
    for sizes in ([24], [1] * 24, [5, 7, 3, 9]):
        tracker = RegionTracker(4.0, start=10.0)
        at = 0
        for size in sizes:
            tracker.feed(video[at:at + size])
            at += size
        found.append([(t.start, t.end, tuple(np.round(t.box, 3))) for t in tracker.tracks()])
    assert found[0] == found[1] == found[2]
    inset = [t for t in found[0] if np.allclose(t[2], INSET, atol=0.02)]
    assert len(inset) == 1 and 11.5 <= inset[0][0] <= 12.0 and 15.0 <= inset[0][1] <= 15.5


def test_crop_region_keeps_what_is_inside():
    frames = np.arange(2 * 10 * 20 * 3, dtype=np.uint8).reshape(2, 10, 20, 3)
    np.testing.assert_array_equal(crop_region(frames, (0.2, 0.6, 0.5, 1.0)), frames[:, 2:6, 10:20])
    assert crop_region(frames, (0.5, 0.5, 0.5, 0.5)).shape[1:3] == (2, 2)


@pytest.fixture(scope="module")
def pip_gallery(tmp_path_factory, vtest, megamind, bikes):
    """A gallery of real host footage (vtest) showing Megamind's 1-5 s inside it from 4 s to 8 s,
    and bikes beside it."""
    from svmr.clips import write_frames
    from svmr.features import ExtractorConfig, FeatureExtractor
    from svmr.gallery import Gallery

    root = tmp_path_factory.mktemp("pip")
    rate, width, height = 10.0, 384, 288
    host, _ = V.read_frames(vtest, rate=rate, start=20.0, end=32.0, size=(width, height))
    inset, _ = V.read_frames(megamind, rate=rate, start=1.0, end=5.0, size=(width, height))
    y0, y1, x0, x1 = int(INSET[0] * height), int(INSET[1] * height), int(INSET[2] * width), int(INSET[3] * width)
    for k in range(len(inset)):
        host[40 + k, y0:y1, x0:x1] = cv2.resize(inset[k], (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    video = write_frames(str(root / "reshared.mp4"), host, rate)
    gallery = Gallery(str(root / "gallery"), ExtractorConfig())
    extractor = FeatureExtractor(gallery.config)
    for path in (video, bikes):
        gallery.add(path, extractor)
    return gallery, extractor, video


def test_a_clip_shown_inside_a_gallery_video_is_found_there_as_a_copy(pip_gallery, megamind):
    from svmr.evaluation import tiou
    from svmr.pipelines.align import build_align
    from svmr.search import Searcher

    gallery, extractor, _ = pip_gallery
    entry = gallery.videos["reshared"]
    assert any(np.allclose(r["box"], INSET, atol=0.03) and r["start"] <= 4.5 and r["end"] >= 7.5 for r in entry.regions)
    top = Searcher(gallery, extractor=extractor).search(megamind, 1.0, 5.0, top_videos=2).moments[0]
    assert top.video == "reshared" and top.match == "copy"
    np.testing.assert_allclose(top.region, INSET, atol=0.03)            # said in the result and its JSON
    assert tiou((top.start, top.end), [(4.0, 8.0)])[0][0] >= 0.5
    # the same gallery searched without its regions: the host's whole pictures hide the copy
    whole = Searcher(gallery, build_align(regions=False), extractor=extractor).search(megamind, 1.0, 5.0, top_videos=2)
    assert whole.moments[0].match != "copy"


def test_a_query_showing_the_clip_inside_other_footage_finds_the_original(pip_gallery, tmp_path, megamind, bikes):
    from svmr.gallery import Gallery
    from svmr.pipelines.align import build_align
    from svmr.search import Searcher

    _, extractor, reshared = pip_gallery
    originals = Gallery(str(tmp_path / "originals"), extractor.config)
    for path in (megamind, bikes):
        originals.add(path, extractor, regions=False)
    result = Searcher(originals, extractor=extractor).search(reshared, 4.0, 8.0, top_videos=2)
    top = result.moments[0]
    assert top.video == "Megamind" and top.match == "copy" and abs(top.start - 1.0) < 0.6 and abs(top.end - 5.0) < 0.6
    np.testing.assert_allclose(result.query["region"], INSET, atol=0.03)
    whole = Searcher(originals, build_align(regions=False), extractor=extractor).search(reshared, 4.0, 8.0, top_videos=2)
    assert whole.moments[0].match != "copy" and "region" not in whole.query
    # as the app searches: features read elsewhere, the file named as their source, regions read by a callable
    asked = []

    def read_region(*args):
        asked.append(args)
        return extractor.extract_region(*args)

    features = extractor.extract(reshared, 4.0, 8.0)
    again = Searcher(originals, extractor=extractor).search(features, top_videos=2, source=reshared, read_region=read_region)
    assert len(asked) == 1 and asked[0][0] == reshared and again.moments[0].match == "copy"
    assert again.query["region"] == result.query["region"]


def test_a_videos_region_files_go_with_it(pip_gallery):
    import os

    gallery = pip_gallery[0]
    paths = gallery.region_paths("reshared")
    assert paths and all(os.path.exists(p) for p in paths)
    views = gallery.views("reshared")
    assert len(views) == len(paths) + 1 and all(v.times[0] > 0 for v in views[1:])
    gallery.remove("reshared")
    assert not any(os.path.exists(p) for p in paths)


def test_index_no_regions_keeps_the_whole_pictures_only(tmp_path, pip_gallery, capsys):
    import json

    from svmr.cli import main
    from svmr.gallery import Gallery

    reshared = pip_gallery[2]
    assert main(["index", "--gallery", str(tmp_path / "g"), "--no-regions", reshared]) == 0
    assert json.loads(capsys.readouterr().out)["indexed"] == 1
    entry = Gallery(str(tmp_path / "g")).videos["reshared"]
    assert entry.regions == [] and Gallery(str(tmp_path / "g")).region_paths("reshared") == []
