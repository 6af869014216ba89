"""The default pipeline: window retrieval, frame alignment, their scores, and real-footage search."""
import json

import numpy as np
import pytest

from svmr import clips
from svmr import video as V
from svmr.cli import main
from svmr.features import FeatureExtractor
from svmr.gallery import Gallery
from svmr.features.statistics import FrameStatistics
from svmr.models.alignment import (AlignmentLocalizer, best_run, order_checked, reversed_run,
                                   window_means)
from svmr.search import Searcher


def _unit(x):
    return x / np.linalg.norm(x, axis=0, keepdims=True)


def test_window_means_are_the_means_of_their_windows():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 50)).astype(np.float32)
    means, spans = window_means(features, rate=4.0, seconds=(2.0, 4.0))
    assert {e - s for s, e in spans} == {8, 16} and spans[:, 1].max() == 50   # last window flush with the end
    for mean, (s, e) in zip(means, spans):
        np.testing.assert_allclose(mean, features[:, s:e].mean(axis=1), atol=1e-5)
    short, spans = window_means(features[:, :5], rate=4.0, seconds=(2.0, 4.0))
    assert spans.tolist() == [[0, 5]]                                            # one whole-video window


def test_best_run_finds_the_matching_stretch():
    values = np.array([0.0, 0.1, 0.9, 0.8, 0.85, 0.05, 0.0])
    assert best_run(values, 0.3) == (2, 5)
    assert best_run(np.full(4, -1.0), 0.0)[1] - best_run(np.full(4, -1.0), 0.0)[0] == 1


def test_alignment_finds_a_copy_and_trims_a_partial_one():
    rng = np.random.default_rng(1)
    reference = _unit(rng.normal(size=(64, 200)))
    query = reference[:, 120:140] + 0.3 * _unit(rng.normal(size=(64, 20)))      # a noisy copy of steps 120–139
    found = AlignmentLocalizer().localize(_unit(query), reference, rate=4.0, top_k=3)
    start, end, score, confidence, regression = found.moments[0]
    assert (start, end) == pytest.approx((30.0, 35.0), abs=0.26)
    assert 0 < score <= 1 and 0 < confidence <= 1 and regression == pytest.approx(1.0)
    assert len(set(found.scores)) == len(found.moments)                   # no ties
    assert found.m_c.shape == (200, len(found.durations)) and found.m_c.min() >= 0 and found.m_c.max() <= 1

    # only the second half of the query is in the reference (steps 0–9 of it are elsewhere)
    partial = np.concatenate([_unit(rng.normal(size=(64, 10))), reference[:, 50:60]], axis=1)
    start, end, score, confidence, regression = AlignmentLocalizer().localize(_unit(partial), reference, 4.0).moments[0]
    assert (start, end) == pytest.approx((12.5, 15.0), abs=0.3) and regression == pytest.approx(0.5, abs=0.1)


def test_order_check_rewards_the_clip_in_its_own_order_only():
    # a still scene matches both ways: the cosine stays as it is
    assert order_checked(0.6, 0.6, 5.0) == pytest.approx(0.6)
    # forwards better: towards 1 but below it; backwards better: towards −1 but above it
    assert 0.6 < order_checked(0.6, 0.4, 5.0) < 1.0 and -1.0 < order_checked(0.6, 0.9, 5.0) < 0.6
    assert order_checked(0.6, 0.5, 5.0) < order_checked(0.6, 0.4, 5.0)
    for forward, backward in ((1.0, -1.0), (-1.0, 1.0), (0.99, -0.9), (0.0, 0.0)):
        assert -1.0 <= order_checked(forward, backward, 5.0) <= 1.0


def test_reversed_run_plays_the_query_backwards_over_the_same_steps():
    similarity = np.arange(4 * 10, dtype=np.float64).reshape(4, 10)   # S[i, j] = 10 i + j
    # query of 4 steps laid over reference steps 2–5 (duration 4): forward pairs (i, 2 + i)
    np.testing.assert_allclose(reversed_run(similarity, 2.0, 4.0, 0, 4), [0 + 5, 10 + 4, 20 + 3, 30 + 2])
    np.testing.assert_allclose(reversed_run(similarity, 2.0, 4.0, 1, 3), [10 + 4, 20 + 3])   # the run's own steps


def test_moving_copy_beats_a_still_look_alike():
    """A transformed copy whose frames change (people walking) against a stretch that resembles
    every query frame alike (the same street at another time) and has the higher plain mean
    cosine: the order check puts the copy first and leaves the still stretch's cosine as it is."""
    rng = np.random.default_rng(3)
    dim, lq = 64, 16
    background = _unit(rng.normal(size=(dim, 1)))
    motion = _unit(rng.normal(size=(dim, lq)))
    query = _unit(background + 0.8 * motion)
    copy = _unit(background + 0.8 * motion + 1.1 * _unit(rng.normal(size=(dim, lq))))   # transformed copy
    still = np.repeat(_unit(background + 0.25 * _unit(motion.sum(axis=1, keepdims=True))), lq, axis=1)
    reference = np.concatenate([_unit(rng.normal(size=(dim, 30))), copy, _unit(rng.normal(size=(dim, 30))), still,
                                _unit(rng.normal(size=(dim, 30)))], axis=1)
    plain = AlignmentLocalizer(order_weight=0.0).localize(query, reference, rate=4.0, top_k=2).moments
    checked = AlignmentLocalizer().localize(query, reference, rate=4.0, top_k=2).moments
    copy_at, still_at = 30 / 4.0, (30 + lq + 30) / 4.0
    assert plain[0][0] == pytest.approx(still_at, abs=0.5) and plain[1][0] == pytest.approx(copy_at, abs=0.5)
    assert checked[0][0] == pytest.approx(copy_at, abs=0.5) and checked[1][0] == pytest.approx(still_at, abs=0.5)
    assert checked[1][3] == pytest.approx(plain[0][3], abs=0.01)        # the still stretch keeps its cosine
    assert checked[0][3] < 1.0


def test_a_still_clip_keeps_its_own_length():
    """A still view matches nearly every duration alike: here the first 2 s of the still stretch
    are exact and the rest 0.99-close, so half the query's length wins by 0.005; the tie-break
    gives the query's own length (4 s) instead."""
    rng = np.random.default_rng(4)
    still = _unit(rng.normal(size=(64, 1)))
    nearly = _unit(still + 0.14 * _unit(rng.normal(size=(64, 32))))
    assert 0.985 < float((nearly.T @ still).mean()) < 0.995
    reference = np.concatenate([_unit(rng.normal(size=(64, 40))), np.repeat(still, 8, axis=1), nearly,
                                _unit(rng.normal(size=(64, 40)))], axis=1)
    query = np.repeat(still, 16, axis=1)
    start, end = AlignmentLocalizer().localize(query, reference, rate=4.0, top_k=1).moments[0][:2]
    assert start == pytest.approx(10.0, abs=0.3) and end - start == pytest.approx(4.0, abs=0.01)
    start, end = AlignmentLocalizer(duration_tolerance=0.0).localize(query, reference, rate=4.0, top_k=1).moments[0][:2]
    assert start == pytest.approx(10.0, abs=0.3) and end - start == pytest.approx(2.0, abs=0.01)   # the shortest


def test_frame_statistics_centre_on_the_gallery():
    sums, counts = [np.full(3, 2.0), np.full(3, 4.0)], [1, 1]
    statistics = FrameStatistics.from_sums(sums, counts)
    np.testing.assert_allclose(statistics.mean, [3.0, 3.0, 3.0])
    descriptors = statistics.descriptors(np.array([[4.0, 2.0], [3.0, 3.0], [3.0, 3.0]]))
    np.testing.assert_allclose(np.linalg.norm(descriptors, axis=0), 1.0, atol=1e-5)


def test_variable_frame_rate_times_come_from_the_container(tree, tmp_path):
    info = V.probe(tree)
    assert info.num_frames == 68 and info.fps == pytest.approx(15.0, abs=0.01)
    assert info.duration == pytest.approx(29.6, abs=0.05) and info.variable_rate   # not 68 / 15 = 4.5 s
    # the frame shown at t is the last one starting at or before t
    times = [0.0, 10.0, 20.0, 29.55]
    expected = [int(np.searchsorted(info.frame_starts, t + 1e-6, side="right") - 1) for t in times]
    np.testing.assert_array_equal(V.frame_indices(info, times), expected)
    assert expected[-1] == 67 and expected[1] > 15
    import decord
    frames, _ = V.read_frames(tree, times=times[1:3])
    reader = decord.VideoReader(tree)
    direct = reader.get_batch(expected[1:3]).asnumpy()
    assert np.abs(frames.astype(int) - direct).mean() < 2.0
    # a gallery records the real duration, and a clip of its last seconds can be cut
    gallery = Gallery(str(tmp_path / "g"))
    assert gallery.add(tree, FeatureExtractor(gallery.config)).duration == pytest.approx(29.6, abs=0.05)
    assert clips.write_clip(tree, str(tmp_path / "end.mp4"), 25.0, 29.0).duration == pytest.approx(4.0, abs=0.1)


@pytest.fixture(scope="module")
def real_gallery(tmp_path_factory, bikes, carphone, vtest):
    gallery = Gallery(str(tmp_path_factory.mktemp("real")))
    extractor = FeatureExtractor(gallery.config)
    for path in (bikes, carphone, vtest):
        gallery.add(path, extractor)
    return gallery, extractor


@pytest.mark.parametrize("source, start, end, reshare", [("vtest", 31.0, 35.0, False), ("vtest", 61.5, 66.5, True),
                                                          ("bikes", 5.0, 8.0, True)])
def test_default_search_finds_real_clips(real_gallery, tmp_path, source, start, end, reshare):
    """A clip of a gallery video, as is or re-shared (half size, 12.5 fps, crf 34): the default
    search puts its top moment on the clip's own place, with scores in [0, 1]."""
    gallery, extractor = real_gallery
    path = gallery.videos[source].path
    query = str(tmp_path / "clip.mp4")
    info = V.probe(path)
    clips.write_clip(path, query, start, end, max_side=max(info.width, info.height) // 2 if reshare else None,
                 fps=12.5 if reshare else None, crf=34 if reshare else 23)
    result = Searcher(gallery, extractor=extractor).search(query, top_videos=3, moments_per_video=3)
    top = result.moments[0]
    assert result.videos[0].video == source and top.video == source
    overlap = min(top.end, end) - max(top.start, start)
    assert overlap / (max(top.end, end) - min(top.start, start)) >= 0.5
    assert top.match == "copy" and top.copy_probability >= 0.5 and result.verdict == "copy found"
    for moment in result.moments:
        assert 0 < moment.score < 1 and 0 <= moment.video_score <= 1 and 0 <= moment.motion < 1
        if moment.match in ("copy", "partial copy"):
            # a copy's own evidence, frames or motion: 1 − (1 − M_C · M_R)(1 − M_V); soft-NMS only decays
            own = 1 - (1 - moment.confidence * moment.regression) * (1 - moment.motion)
            assert moment.score >= 0.5 and (moment.score == pytest.approx(own, abs=1e-6) or moment.score < own)
        else:   # not a copy: below every copy, by content similarity
            assert moment.match in ("similar", "weak") and moment.copy_probability < 0.5
            assert moment.score == pytest.approx((1 + moment.similarity) / 4, abs=1e-6)
            assert moment.end - moment.start >= (end - start) / 2 - 0.25     # never a sliver
    assert top.motion > 0.5        # a copy moves as its query does
    scores = [m.score for m in result.moments]
    assert len(set(scores)) == len(scores) and scores == sorted(scores, reverse=True)
    # videos ranked by their best moment
    best = [max(m.score for m in hit.moments) for hit in result.videos if hit.moments]
    assert best == sorted(best, reverse=True)


def test_cli_search_models(real_gallery, capsys, bikes):
    gallery, _ = real_gallery
    for model in ("align", "paper", "baseline"):
        assert main(["search", "--gallery", gallery.root, "--query", bikes, "--start", "2", "--end", "6",
                     "--top-videos", "2", "--json", "--model", model]) == 0
        result = json.loads(capsys.readouterr().out)
        # the default adds what matched; the keys every model has stay
        assert set(result) == {"moments", "videos", "timings", "query"} | ({"verdict"} if model == "align" else set())
        assert set(result["moments"][0]) == {"video", "start", "end", "score", "video_score", "confidence",
                                             "regression", "motion", "match", "copy_probability", "similarity", "region"}
        assert (result["moments"][0]["match"] != "") == (model == "align")
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    assert "align" in capsys.readouterr().out
