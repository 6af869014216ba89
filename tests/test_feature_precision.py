"""Galleries that store features in 8 bits (``index --feature-precision int8``)."""
import json
import os

import numpy as np
import pytest

from svmr.features import ExtractorConfig, FeatureExtractor, FeatureSequence
from svmr.features.extractor import dequantize_steps, quantize_steps
from svmr.gallery import Gallery
from svmr.search import Searcher

CONFIG = ExtractorConfig(size=96, rate=4.0)


def test_eight_bits_a_number_stay_within_half_a_step_of_each_steps_range():
    rng = np.random.default_rng(0)
    features = (rng.gamma(1.5, 0.4, (1280, 50)) * rng.uniform(0.2, 3.0, 50)).astype(np.float32)
    features[:, 7] = 0.25                                       # a flat step: no range at all
    packed = quantize_steps(features)
    assert packed["features_u8"].dtype == np.uint8 and packed["features_u8"].shape == features.shape
    back = dequantize_steps(packed["features_u8"], packed["features_low"], packed["features_step"])
    span = features.max(axis=0) - features.min(axis=0)
    assert np.all(np.abs(back - features) <= span / 510 + 1e-6)
    assert np.allclose(back[:, 7], 0.25)
    cosines = np.sum(back * features, 0) / np.linalg.norm(back, axis=0) / np.linalg.norm(features, axis=0)
    assert cosines.min() > 0.999


def test_an_int8_gallery_keeps_its_precision_and_finds_a_real_clip_where_float16_does(tmp_path, bikes, carphone):
    extractor = FeatureExtractor(CONFIG)
    galleries = {}
    for precision in ("float16", "int8"):
        gallery = Gallery(str(tmp_path / precision), CONFIG, precision)
        for path in (bikes, carphone):
            gallery.add(path, extractor)
        galleries[precision] = gallery
    with open(os.path.join(galleries["int8"].root, "gallery.json")) as handle:
        assert json.load(handle)["storage"] == {"features": "int8"}
    assert Gallery(galleries["int8"].root).feature_precision == "int8"          # reopened: its own
    assert Gallery(galleries["int8"].root, CONFIG, "float16").feature_precision == "int8"
    sizes = {p: os.path.getsize(g.feature_path("bikes")) for p, g in galleries.items()}
    wide, narrow = (FeatureSequence.load(g.feature_path("bikes")) for g in galleries.values())
    assert narrow.features.dtype == np.float32 and narrow.features.shape == wide.features.shape
    assert np.abs(narrow.features - wide.features).max() < 0.05 * np.abs(wide.features).max()
    # the whole-picture features are most of the file: 8 bits save about a third of it
    assert sizes["int8"] < 0.8 * sizes["float16"]
    results = {p: Searcher(g, extractor=extractor).search(bikes, 3.0, 7.0, top_videos=2) for p, g in galleries.items()}
    for result in results.values():
        top = result.moments[0]
        assert top.video == "bikes" and abs(top.start - 3.0) < 0.5 and abs(top.end - 7.0) < 0.5
    assert results["int8"].moments[0].score == pytest.approx(results["float16"].moments[0].score, abs=0.02)
    with pytest.raises(ValueError, match="unknown feature precision"):
        Gallery(str(tmp_path / "other"), CONFIG, "int4")
