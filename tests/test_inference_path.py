"""One inference path: the search's stage 2 and the evaluation's (the tables, `evaluate`) give the
same moments for the same query and video."""
import numpy as np

from svmr.data.datasets import BenchmarkFeatures
from svmr.features import FeatureSequence
from svmr.pipelines import build_pipeline
from svmr.postprocess import BMN_GATE, PostProcessing
from svmr.train.stage2 import evaluation_pairs, localize


def _sequence(features: np.ndarray, duration: float) -> FeatureSequence:
    rate = 4.0
    return FeatureSequence(features, np.arange(features.shape[1]) / rate, rate, duration, {})


def test_search_and_evaluation_localize_alike(tiny_benchmark):
    data = BenchmarkFeatures(tiny_benchmark)
    pairs = evaluation_pairs(data, "test", per_query=1)[:4]
    assert pairs
    for name in ("paper", "baseline"):
        pipeline = build_pipeline(name)
        localizer = pipeline.localizer
        for query, ref, _ in pairs:
            prepared = localizer.prepare_query(_sequence(data.queries[query.id], 1.0), None)
            searched = localizer.localize(prepared, _sequence(data.references[ref], data.durations[ref]),
                                          data.durations[ref], None, 10)
            evaluated = localize(localizer.model, data, query.id, ref, top_k=10)
            assert len(evaluated) == 10
            np.testing.assert_array_equal(searched.moments, evaluated)
    # the post-processing the tables compare is the localizer's own option, not a second copy
    gated = build_pipeline("paper").localizer
    gated.post = PostProcessing(gate=BMN_GATE)
    query, ref, _ = pairs[0]
    prepared = gated.prepare_query(_sequence(data.queries[query.id], 1.0), None)
    searched = gated.localize(prepared, _sequence(data.references[ref], data.durations[ref]), data.durations[ref],
                              None, 10)
    evaluated = localize(gated.model, data, query.id, ref, top_k=10, post=PostProcessing(gate=BMN_GATE))
    np.testing.assert_array_equal(searched.moments, evaluated)
    assert not np.array_equal(evaluated, localize(gated.model, data, query.id, ref, top_k=10))


def test_graph_search_and_evaluation_localize_alike(tiny_benchmark):
    """Seed 001's localizer: the search's moments are the evaluation's (:func:`graph_moments` on the
    video's TAG proposals), its frame match the graph score mapped to 0–1."""
    from svmr.models.graph_reloc import graph_moments
    from svmr.models.tag import tag_proposals

    data = BenchmarkFeatures(tiny_benchmark)
    localizer = build_pipeline("graph").localizer
    for query, ref, _ in evaluation_pairs(data, "test", per_query=1)[:3]:
        duration = data.durations[ref]
        proposals = tag_proposals(localizer.scorer, data.references[ref], duration)
        evaluated, _ = graph_moments(localizer.model, data.queries[query.id], data.references[ref], duration,
                                     proposals, top_k=5)
        prepared = localizer.prepare_query(_sequence(data.queries[query.id], 1.0), None)
        found = localizer.localize(prepared, _sequence(data.references[ref], duration), duration, None, 5)
        np.testing.assert_array_equal(found.moments[:, :2], evaluated[:, :2])
        np.testing.assert_allclose(found.scores, (evaluated[:, 2] + 1) / 2)
