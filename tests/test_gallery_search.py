"""Gallery persistence and the search facade's mechanics (small untrained models)."""
import json

import numpy as np
import pytest
import torch

from svmr import video as V
from svmr.features import ExtractorConfig, FeatureExtractor
from svmr.gallery import Gallery, safe_id
from svmr.models.relocalization import ReLocalizationNetwork, Stage2Config
from svmr.models.retrieval import Stage1Config, TwoBranchAutoEncoder
from svmr.postprocess import BMN_GATE, map_proposals, soft_nms
from svmr.pipelines import Pipeline
from svmr.search import Searcher

CONFIG = ExtractorConfig(size=96, rate=2.0)


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor(CONFIG)


@pytest.fixture()
def gallery(tmp_path, extractor, bikes, carphone):
    g = Gallery(str(tmp_path / "g"), CONFIG)
    g.add(bikes, extractor)
    g.add(carphone, extractor, video_id="phone call!")
    return g


def _models():
    torch.manual_seed(0)
    return (TwoBranchAutoEncoder(Stage1Config(feature_dim=1280, embed_dim=32)).eval(),
            ReLocalizationNetwork(Stage2Config(feature_dim=1280, length=20, num_bins=4, channels=16,
                                               hidden_3d=16, hidden_2d=8)).eval())


def test_gallery_persists_and_skips_known_files(gallery, extractor, bikes, tmp_path):
    assert [v.id for v in gallery.list()] == ["bikes", "phone_call"]
    again = Gallery(gallery.root)
    assert [v.id for v in again.list()] == ["bikes", "phone_call"] and again.config == CONFIG
    assert again.videos["bikes"].duration == pytest.approx(10.0)
    before = again.videos["bikes"].added
    again.add(bikes, extractor)               # same content: nothing recomputed
    assert again.videos["bikes"].added == before
    again.remove("phone_call")
    assert [v.id for v in Gallery(gallery.root).list()] == ["bikes"]
    with pytest.raises(KeyError):
        again.remove("phone_call")


def test_bad_file_leaves_gallery_untouched(gallery, extractor, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(V.VideoError):
        gallery.add(str(bad), extractor)
    assert len(Gallery(gallery.root)) == 2


def test_safe_ids():
    assert safe_id("/a/b/My Video (1).MP4") == "My_Video_1"
    assert safe_id("...") == "video"


def test_search_returns_ranked_moments_with_factors(gallery, extractor, bikes):
    stage1, stage2 = _models()
    searcher = Searcher(gallery, Pipeline.from_networks(stage1, stage2), extractor)
    result = searcher.search(bikes, 2.0, 5.0, top_videos=2, moments_per_video=3)
    # both videos, each once, ranked by stage 1's score (untrained networks: the mechanics only)
    assert sorted(h.video for h in result.videos) == sorted(gallery.videos)
    video_scores = [h.video_score for h in result.videos]
    assert video_scores == sorted(video_scores, reverse=True)
    assert len(result.moments) == 6
    scores = [m.score for m in result.moments]
    assert scores == sorted(scores, reverse=True)
    for m in result.moments:
        duration = gallery.videos[m.video].duration
        assert 0 <= m.start < m.end <= duration + 1e-6
        assert m.score <= m.video_score * m.confidence * m.regression + 1e-6
    assert result.videos[0].m_c.shape == (20, 20)
    assert set(result.timings) >= {"query_features_s", "stage1_s", "stage2_s", "total_s"}
    json.dumps(result.to_json())


def test_search_empty_gallery_is_a_clear_error(tmp_path, extractor, bikes):
    stage1, stage2 = _models()
    searcher = Searcher(Gallery(str(tmp_path / "empty"), CONFIG), Pipeline.from_networks(stage1, stage2), extractor)
    with pytest.raises(ValueError, match="empty"):
        searcher.search(bikes)


def test_soft_nms_decays_overlaps():
    proposals = np.array([[0, 10, 0.9], [0, 9, 0.85], [20, 30, 0.8]], dtype=float)
    kept = soft_nms(proposals, sigma=0.4, top_k=3)
    np.testing.assert_array_equal(kept[:2, :2], [[0, 10], [20, 30]])
    assert kept[2, 2] == pytest.approx(0.85 * np.exp(-0.81 / 0.4))
    rows = map_proposals(np.ones((4, 4)) * 0.5, np.ones((4, 4)), duration=8.0)
    assert len(rows) == 10 and rows[:, 1].max() == 8.0 and (rows[:, 2] == 0.5).all()
    keep = np.zeros((4, 4), dtype=bool)
    keep[1, 2] = keep[3, 3] = True                                  # (3, 3) is not a valid proposal
    np.testing.assert_array_equal(map_proposals(np.ones((4, 4)), np.ones((4, 4)), 8.0, keep)[:, :2], [[2, 8]])


def test_soft_nms_gated_as_bmn_spares_overlaps_below_its_width_threshold():
    """BMN's gate: decay only when tIoU > 0.5 + 0.4 × (chosen width / duration). Chosen [0, 50] of
    100 s: threshold 0.7; [0, 30] (tIoU 0.6) keeps its score, [0, 45] (tIoU 0.9) decays."""
    chosen, below, above = [0, 50, 0.9], [0, 30, 0.8], [0, 45, 0.7]
    gated = soft_nms(np.array([chosen, below]), sigma=0.4, gate=BMN_GATE, duration=100.0)
    assert gated[1, 2] == pytest.approx(0.8)
    gated = soft_nms(np.array([chosen, above]), sigma=0.4, gate=BMN_GATE, duration=100.0)
    assert gated[1, 2] == pytest.approx(0.7 * np.exp(-0.81 / 0.4))
    paper = soft_nms(np.array([chosen, below]), sigma=0.4)                 # the paper's text: every overlap
    assert paper[1, 2] == pytest.approx(0.8 * np.exp(-0.36 / 0.4))
    proposals = np.array([chosen, below])
    with pytest.raises(ValueError, match="duration"):
        soft_nms(proposals, gate=BMN_GATE)


def test_bundled_checkpoints_search_real_footage(tmp_path, bikes, carphone):
    """The paper model's path: bundled stage-1/stage-2 weights, default extractor, real videos
    (what the trained weights are worth: tests/test_model_accuracy.py)."""
    gallery = Gallery(str(tmp_path / "default"))
    extractor = FeatureExtractor(gallery.config)
    for path in (bikes, carphone):
        gallery.add(path, extractor)
    searcher = Searcher(gallery, "paper", extractor=extractor)
    result = searcher.search(bikes, 3.0, 6.0, top_videos=2, moments_per_video=3)
    assert result.videos[0].video == "bikes"          # the clip's own video first
    assert result.videos[0].m_c.shape == (100, 100)
    top = result.moments[0]
    assert 0 <= top.start < top.end <= 10.0 + 1e-6 and np.isfinite(top.score)
