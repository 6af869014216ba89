"""Search every example of the app's demo gallery with every model and print the top moment's tIoU.

    python scripts/check_demo_examples.py [--root data/demo] [--models align ...]

What counts as right: :mod:`demo.example_outcomes` (the suite checks the same with
``tests/test_model_accuracy.py``).
"""
from __future__ import annotations

import argparse

from demo import service as S
from demo.example_outcomes import example_outcome, tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="demo folder (default: the app's)")
    parser.add_argument("--models", nargs="+", default=list(S.MODELS.values()), help="registry names (default: all)")
    args = parser.parse_args()
    demo = S.DemoGallery(args.root) if args.root else S.DemoGallery()
    models = {label: name for label, name in S.MODELS.items() if name in args.models}
    print("| example | source | " + " | ".join(models.values()) + " |")
    print("|---|---|" + "---:|" * len(models))
    outcomes = {name: [] for name in models.values()}
    for example in demo.examples():
        cells = []
        for label, name in models.items():
            outcome = example_outcome(demo, demo.searcher(label), example)
            outcomes[name].append(outcome)
            cells.append(outcome.summary)
        print(f"| {example['label']} | {example['source']} | " + " | ".join(cells) + " |")
    for name, rows in outcomes.items():
        for source, (videos, moments, count) in tally(rows).items():
            print(f"{name}: {source}: {moments}/{count} right (right video first {videos}/{count})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
