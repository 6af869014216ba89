"""Search every example of the app's demo gallery with every model and print the top moment's tIoU.

    python scripts/check_demo_examples.py [--root data/demo] [--models align ...]

An example is right when the top moment of the whole search overlaps (tIoU ≥ 0.5) an annotated
moment of the example's label in the video it was found in — for the similar-moments examples,
whose labelled spans are whole scenes, when at least half of it lies inside one.
"""
from __future__ import annotations

import argparse

from demo import service as S
from svmr.evaluation import inside_share
from svmr.tables import top_moment_tiou


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="demo folder (default: the app's)")
    parser.add_argument("--models", nargs="+", default=list(S.MODELS.values()), help="registry names (default: all)")
    args = parser.parse_args()
    demo = S.DemoGallery(args.root) if args.root else S.DemoGallery()
    models = {label: name for label, name in S.MODELS.items() if name in args.models}
    print("| example | source | " + " | ".join(models.values()) + " |")
    print("|---|---|" + "---:|" * len(models))
    right = {name: [] for name in models.values()}
    for example in demo.examples():
        cells = []
        for label, name in models.items():
            result = demo.searcher(label).search(example["path"], top_videos=10, moments_per_video=5)
            top = result.moments[0]
            truth = {top.video: [[s["start"], s["end"]] for s in (demo.truth(top.video) or {}).get("segments", [])
                                 if s["label"] == example["label"]]}
            overlap = top_moment_tiou(result, truth)
            inside = inside_share(top.start, top.end, truth[top.video])
            ok = inside >= 0.5 if example["source"] == "similar moments" else overlap >= 0.5
            right[name].append((example["source"], ok))
            match = f" {top.match}" if top.match else ""
            cells.append(f"{top.video} {top.start:.1f}–{top.end:.1f} s{match}, tIoU {overlap:.2f}, inside {inside:.2f}")
        print(f"| {example['label']} | {example['source']} | " + " | ".join(cells) + " |")
    for name, rows in right.items():
        for source in sorted({s for s, _ in rows}):
            hits = [ok for s, ok in rows if s == source]
            print(f"{name}: {source}: {sum(hits)}/{len(hits)} right")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
