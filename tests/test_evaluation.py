"""Metrics on cases computed by hand."""
import numpy as np
import pytest

from svmr import evaluation as E


def test_tiou_hand_cases():
    got = E.tiou([[0, 10], [5, 15], [20, 30]], [[0, 10], [10, 20]])
    want = np.array([[1.0, 0.0], [5 / 15, 5 / 15], [0.0, 0.0]])
    np.testing.assert_allclose(got, want)
    assert E.tiou([2, 2], [2, 2])[0, 0] == 0.0  # zero-length union
    assert E.tiou(np.zeros((0, 2)), [[0, 1]]).shape == (0, 1)


def test_hit_rate_and_map_at_k():
    rel = [np.array([0, 1, 0, 1]), np.array([1, 0, 0, 0]), np.array([0, 0, 0, 0])]
    assert E.hit_rate_at_k(rel, 1) == pytest.approx(1 / 3)
    assert E.hit_rate_at_k(rel, 2) == pytest.approx(2 / 3)
    # query 0: relevant at ranks 2 and 4 -> (1/2 + 2/4) / 2 = 0.5 ; query 1: 1 ; query 2: 0
    assert E.average_precision_at_k(rel[0], 4) == pytest.approx(0.5)
    assert E.average_precision_at_k(rel[0], 2) == pytest.approx(0.5)
    assert E.map_at_k(rel, 4) == pytest.approx((0.5 + 1 + 0) / 3)
    assert E.map_at_k(rel, 1) == E.hit_rate_at_k(rel, 1)  # mAP@1 == HR@1 as in the paper's tables


def test_map_at_k_divides_by_min_k_and_the_relevant_videos_in_the_gallery():
    """The usual AP@K divides by min(K, R): one hit at rank 1 with 5 relevant videos in the gallery
    is AP@10 = 1/5, not 1 (the found-relevant denominator, kept as an option, gives 1)."""
    one_hit = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert E.average_precision_at_k(one_hit, 10, num_relevant=5) == pytest.approx(1 / 5)
    assert E.average_precision_at_k(one_hit, 10) == pytest.approx(1.0)
    assert E.average_precision_at_k(one_hit, 1, num_relevant=5) == pytest.approx(1.0)     # min(K, R) = 1
    # relevant at ranks 2 and 4, R = 3: (1/2 + 2/4) / min(4, 3)
    assert E.average_precision_at_k(np.array([0, 1, 0, 1]), 4, num_relevant=3) == pytest.approx(1 / 3)
    assert E.map_at_k([one_hit, np.zeros(10)], 10, [5, 2]) == pytest.approx(0.1)
    # a random ranking of 1000 videos with 10 relevant: near R/N under the usual convention
    rng = np.random.default_rng(0)
    lists = [rng.permutation(np.r_[np.ones(10), np.zeros(990)])[:10] for _ in range(2000)]
    assert E.map_at_k(lists, 10, [10] * 2000) < 0.02 < E.map_at_k(lists, 10)


def test_clip_relevance_uses_strict_tau():
    positives = {"a": np.array([[10.0, 20.0]])}
    clips = [("a", 10, 20), ("a", 10, 30), ("a", 12, 20), ("b", 10, 20)]
    # tIoU: 1.0, 0.5 (not > 0.5), 0.8, no gt
    np.testing.assert_array_equal(E.clip_relevance(clips, positives, tau=0.5), [1, 0, 1, 0])
    np.testing.assert_array_equal(E.video_relevance(["b", "a"], {"a"}), [0, 1])


def test_average_recall_vs_an_hand_case():
    # video 1: gt [0,10]; proposals best first: [50,60] (miss), [0,10] (hit at every tIoU)
    # video 2: gt [0,10]; proposals best first: [0,7] (tIoU 0.7), [30,40] (miss)
    props = [np.array([[50, 60, 0.9], [0, 10, 0.5]]), np.array([[0, 7, 0.8], [30, 40, 0.1]])]
    gts = [np.array([[0, 10]]), np.array([[0, 10]])]
    tious = np.array([0.5, 0.75])
    recall, avg, an = E.average_recall_vs_an(props, gts, max_an=2, tious=tious, steps=2)
    np.testing.assert_allclose(an, [1, 2])
    # AN=1: video 1 misses, video 2 hits at 0.5 only -> recall [0.5, 0.0]
    # AN=2: video 1 hits at both, video 2 hits at 0.5 -> recall [1.0, 0.5]
    np.testing.assert_allclose(recall, [[0.5, 1.0], [0.0, 0.5]])
    np.testing.assert_allclose(avg, [0.25, 0.75])
    assert E.ar_at(avg, an, (1, 2)) == {"AR@1": 0.25, "AR@2": 0.75}
    assert E.auc_ar_an(avg, an) == pytest.approx(0.5 * (0.25 + 0.75) * 1 / 2)


def test_average_recall_skips_videos_without_ground_truth_and_rejects_none():
    props = [np.array([[0, 10, 1.0]]), np.array([[0, 10, 1.0]])]
    recall, avg, an = E.average_recall_vs_an(props, [np.zeros((0, 2)), np.array([[0, 10]])],
                                             max_an=1, steps=1)
    assert avg[0] == 1.0
    with pytest.raises(ValueError):
        E.average_recall_vs_an(props, [np.zeros((0, 2))] * 2)


def test_average_recall_counts_a_video_without_proposals_as_missed():
    """As ActivityNet's proposal evaluation: the second video keeps no proposal, so its ground
    truth is missed: AR reaches 0.5, the area under the curve is 0.2525."""
    props = [np.array([[0, 10, 0.9]]), np.zeros((0, 3))]
    gts = [np.array([[0, 10]]), np.array([[20, 30]])]
    _, average, an = E.average_recall_vs_an(props, gts, max_an=1)
    assert average[-1] == pytest.approx(0.5) and an[-1] == pytest.approx(1.0)
    assert E.auc_ar_an(average, an) == pytest.approx(0.2525)


def test_precision_at_n_counts_short_lists_as_misses():
    rel = [np.array([1, 1, 0]), np.array([1])]
    assert E.precision_at_n(rel, 2) == pytest.approx((1.0 + 0.5) / 2)


def test_map_at_1_thresholds():
    got = E.map_at_1([0.95, 0.72, 0.5, 0.1])
    assert got[0.5] == pytest.approx(0.5)   # 0.5 is not > 0.5
    assert got[0.7] == pytest.approx(0.5)
    assert got[0.75] == pytest.approx(0.25)
    assert got[0.95] == 0.0
    assert list(got) == list(E.GRAPH_RELOC_TIOUS)
