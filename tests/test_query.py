"""Queries: a clip as a path, a query object or its features searches alike; a kind of query a
pipeline does not take is refused in one sentence before anything is read."""
from dataclasses import dataclass
from typing import ClassVar

import pytest

from svmr.features import ExtractorConfig, FeatureExtractor
from svmr.gallery import Gallery
from svmr.pipelines import build_pipeline
from svmr.query import ClipQuery, FeatureQuery, as_query
from svmr.search import Searcher

CONFIG = ExtractorConfig(size=96, rate=2.0)


@dataclass(frozen=True)
class TextQuery:
    """A kind of query no pipeline takes yet."""

    text: str
    kind: ClassVar[str] = "text"
    source: ClassVar[None] = None


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, bikes, carphone):
    extractor = FeatureExtractor(CONFIG)
    gallery = Gallery(str(tmp_path_factory.mktemp("g")), CONFIG)
    gallery.add(bikes, extractor)
    gallery.add(carphone, extractor)
    return Searcher(gallery, "align", extractor)


def _rows(result):
    return [(m.video, m.start, m.end, round(m.score, 6), m.match) for m in result.moments]


def test_a_clip_searches_alike_as_a_path_a_query_object_and_its_features(searcher, bikes):
    by_path = searcher.search(bikes, 1.0, 4.0, top_videos=2)
    assert by_path.moments[0].video == "bikes" and by_path.moments[0].start == pytest.approx(1.0, abs=0.5)
    assert _rows(searcher.search(ClipQuery(bikes, 1.0, 4.0), top_videos=2)) == _rows(by_path)
    features = searcher.query_features(ClipQuery(bikes, 1.0, 4.0))
    assert _rows(searcher.search(FeatureQuery(features, source=bikes), top_videos=2)) == _rows(by_path)
    assert _rows(searcher.search(features, source=bikes, top_videos=2)) == _rows(by_path)


def test_as_query_keeps_the_range_and_the_source(bikes):
    assert as_query(bikes, 2.0, 3.5) == ClipQuery(bikes, 2.0, 3.5) and ClipQuery(bikes).source == bikes
    query = ClipQuery(bikes, 1.0)
    assert as_query(query, 5.0, 6.0) is query                 # a query object keeps its own range


def test_a_kind_of_query_the_pipeline_does_not_take_is_refused_before_anything_is_read(searcher):
    def extractor():
        raise AssertionError("nothing is extracted for a refused query")

    with pytest.raises(ValueError, match=r"^The align model searches with clip queries, not text queries\.$"):
        build_pipeline("align").encode_query(TextQuery("a dog catching a frisbee"), extractor, 60.0)
    with pytest.raises(ValueError, match="not text queries"):
        searcher.search(TextQuery("a dog catching a frisbee"))
