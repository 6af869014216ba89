"""Search every example of the app's demo gallery with every model and print the top moment's tIoU.

    python scripts/check_demo_examples.py [--root data/demo]

An example is right when the top moment of the whole search overlaps (tIoU ≥ 0.5) an annotated
moment of the example's label in the video it was found in.
"""
from __future__ import annotations

import argparse

from demo import service as S
from svmr.tables import top_moment_tiou


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="demo folder (default: the app's)")
    args = parser.parse_args()
    demo = S.DemoGallery(args.root) if args.root else S.DemoGallery()
    print("| example | source | " + " | ".join(S.MODELS.values()) + " |")
    print("|---|---|" + "---:|" * len(S.MODELS))
    right = {name: [] for name in S.MODELS.values()}
    for example in demo.examples():
        cells = []
        for label, name in S.MODELS.items():
            result = demo.searcher(label).search(example["path"], top_videos=10, moments_per_video=5)
            top = result.moments[0]
            truth = {top.video: [[s["start"], s["end"]] for s in (demo.truth(top.video) or {}).get("segments", [])
                                 if s["label"] == example["label"]]}
            overlap = top_moment_tiou(result, truth)
            right[name].append((example["source"], overlap >= 0.5))
            cells.append(f"{top.video} {top.start:.1f}–{top.end:.1f} s, tIoU {overlap:.2f}")
        print(f"| {example['label']} | {example['source']} | " + " | ".join(cells) + " |")
    for name, rows in right.items():
        for source in sorted({s for s, _ in rows}):
            hits = [ok for s, ok in rows if s == source]
            print(f"{name}: {source}: {sum(hits)}/{len(hits)} with top-moment tIoU ≥ 0.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
