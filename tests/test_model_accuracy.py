"""Every model the app offers, judged by what it finds: the demo gallery's examples (real-footage
copies, similar moments, procedural clips) with today's outcomes as floors, and the trained models
against the same networks with fresh (untrained) weights, which must fall below the same bars."""
import pytest

from demo.example_outcomes import example_outcome, tally
from svmr.models.match import COPY, SIMILAR
from svmr.pipelines import Pipeline, build_pipeline
from svmr.pipelines.networks import fresh_network, with_fresh_networks
from svmr.search import Searcher

#: each model on the suite's demo gallery (``demo_gallery``: 9 real-footage copies, 2 similar
#: moments, 3 procedural clips): at least this many (right videos first, right top moments) by
#: kind of example (:mod:`demo.example_outcomes`), as measured when the suite was written
EXPECTED = {
    "align": {"real footage": (9, 9), "similar moments": (2, 2), "procedural": (2, 0)},
    "paper": {"real footage": (7, 1), "similar moments": (1, 1), "procedural": (0, 0)},
    "baseline": {"real footage": (8, 4), "similar moments": (1, 1), "procedural": (1, 0)},
    "graph": {"real footage": (7, 0), "similar moments": (2, 2), "procedural": (3, 0)},
}


def outcomes(demo, pipeline: Pipeline, source: str | None = None) -> list:
    """Each example's outcome (only those from ``source`` when given)."""
    searcher = Searcher(demo.gallery, pipeline)
    return [example_outcome(demo, searcher, example) for example in demo.examples()
            if source in (None, example["source"])]


@pytest.fixture(scope="module")
def bundled(demo_gallery) -> dict[str, list]:
    """Every model's outcomes on the demo examples, with its bundled weights (searched once)."""
    return {model: outcomes(demo_gallery, build_pipeline(model)) for model in EXPECTED}


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_demo_examples_are_found_as_before(bundled, model):
    found = tally(bundled[model])
    assert set(found) == set(EXPECTED[model])
    for kind, (videos, moments) in EXPECTED[model].items():
        assert found[kind][0] >= videos and found[kind][1] >= moments, (model, kind, found[kind])


def test_the_default_labels_what_it_finds(bundled):
    """A real example is a copy of gallery footage; a similar-moments example has none: the
    calibrated labels say so (random calibration weights break this). Two real examples are not
    labelled copies today although their top moment is right: ``tree`` (a still scene filmed at
    2.3 frames a second; P(copy) 0.08) and ``megamind_a`` (P(copy) 0.12, similarity 0.97: its
    motion match is 0.46), both called similar."""
    labels = {}
    for outcome in bundled["align"]:
        labels.setdefault(outcome.source, []).append(outcome.match)
    assert labels["real footage"].count(COPY) >= 7, labels
    assert labels["similar moments"] == [SIMILAR, SIMILAR], labels
    assert COPY not in labels["procedural"], labels      # another instance of a class, never a copy


def test_the_paper_model_beats_its_untrained_networks(bundled, demo_gallery, tiny_benchmark):
    """Stage 1 and 2 trained: most real examples in the right video first; on procedural pairs
    (another instance of the class in a reference) stage 2's proposals recall the moment
    (AR@100 ≥ 0.4). The same networks freshly initialized fall below both bars."""
    from svmr.checkpoints import bundled_path, load_checkpoint
    from svmr.data.datasets import BenchmarkFeatures
    from svmr.train.stage2 import evaluation_pairs, localization_metrics

    untrained = tally(outcomes(demo_gallery, with_fresh_networks(build_pipeline("paper")), "real footage"))
    untrained = untrained["real footage"][0]
    assert tally(bundled["paper"])["real footage"][0] >= 5 > untrained
    data = BenchmarkFeatures(tiny_benchmark)
    pairs = [pair for split in ("train", "val", "test") for pair in evaluation_pairs(data, split, 1)]
    network = lambda: load_checkpoint(bundled_path(None, "stage2_attn_prod.safetensors"))[0]
    trained = localization_metrics(network(), data, pairs)["AR@100"]
    untrained = localization_metrics(fresh_network(network()), data, pairs)["AR@100"]
    assert trained >= 0.4 > untrained, (trained, untrained)


def test_the_graph_model_beats_its_untrained_networks_on_similar_moments(bundled, demo_gallery):
    """Seed 001's model (TAG proposals scored by the graph network) puts both similar-moments
    examples' top moment inside a span of their kind; fresh weights put neither."""
    untrained = tally(outcomes(demo_gallery, with_fresh_networks(build_pipeline("graph")), "similar moments"))
    untrained = untrained["similar moments"][1]
    assert tally(bundled["graph"])["similar moments"][1] == 2 and untrained == 0
