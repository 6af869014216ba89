"""Search every example of the app's demo gallery with every model and print the top moment's tIoU.

    python scripts/check_demo_examples.py [--root data/demo] [--models align ...]
    python scripts/check_demo_examples.py --root data/demo-suite --suite-demo [--fresh]

What counts as right: :mod:`demo.example_outcomes`. ``--suite-demo`` builds (once) and searches the
suite's smaller demo gallery, whose outcomes ``tests/test_model_accuracy.py`` asserts; ``--fresh``
searches with every network of each model freshly initialized instead of trained (the control the
trained weights must beat).
"""
from __future__ import annotations

import argparse

from demo import service as S
from demo.example_outcomes import SUITE_DEMO, example_outcome, tally
from svmr.pipelines import build_pipeline
from svmr.pipelines.networks import with_fresh_networks
from svmr.search import Searcher


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="demo folder (default: the app's)")
    parser.add_argument("--models", nargs="+", default=list(S.MODELS.values()), help="registry names (default: all)")
    parser.add_argument("--suite-demo", action="store_true", help="the test suite's small demo gallery (in --root)")
    parser.add_argument("--fresh", action="store_true", help="networks freshly initialized, not trained")
    args = parser.parse_args()
    if args.suite_demo and not args.root:
        parser.error("--suite-demo needs --root (a folder of its own: it is not the app's demo)")
    demo = S.DemoGallery(args.root or S.DEFAULT_ROOT, synthetic=SUITE_DEMO if args.suite_demo else None).ensure()
    models = {label: name for label, name in S.MODELS.items() if name in args.models}
    searchers = {name: Searcher(demo.gallery, with_fresh_networks(build_pipeline(name)) if args.fresh
                                else build_pipeline(name)) for name in models.values()}
    print("| example | source | " + " | ".join(models.values()) + " |")
    print("|---|---|" + "---:|" * len(models))
    outcomes = {name: [] for name in models.values()}
    for example in demo.examples():
        cells = []
        for label, name in models.items():
            outcome = example_outcome(demo, searchers[name], example)
            outcomes[name].append(outcome)
            cells.append(outcome.summary)
        print(f"| {example['label']} | {example['source']} | " + " | ".join(cells) + " |")
    for name, rows in outcomes.items():
        for source, (videos, moments, count) in tally(rows).items():
            print(f"{name}: {source}: {moments}/{count} right (right video first {videos}/{count})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
