"""Speed and memory of the default search (``align``) over 100 indexed videos.

    python benchmarks/search_default.py [--videos 100] [--gallery data/speed-default]

The gallery holds the real sample videos (vtest.avi 79.5 s, tree.avi 29.6 s, Megamind.avi, bikes,
bigbuckbunny, carphone), each indexed once (feature extraction) and then entered again under new
ids until there are ``--videos`` entries: search cost depends on the videos' lengths, not on their
content. Queries: 5-s clips of vtest.avi (copies: the gallery holds them) and, where
``scripts/fetch_semantic_footage.sh`` brought it, 5-s clips of a woman's face that no gallery video
holds (similar moments, or nothing close). Prints the median search time of each (features of the
query, stage 1, stage 2 on the top 10 videos) and the memory the index keeps per video.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.data.footage import footage_path  # noqa: E402
from svmr.features import FeatureExtractor  # noqa: E402
from svmr.gallery import Gallery  # noqa: E402
from svmr.search import Searcher  # noqa: E402

SOURCES = ("vtest.avi", "tree.avi", "Megamind.avi", "bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def build(root: str, count: int) -> Gallery:
    gallery = Gallery(root)
    extractor = FeatureExtractor(gallery.config)
    originals = [gallery.add(path, extractor) for path in map(footage_path, SOURCES) if path]
    for k in range(len(gallery), count):
        entry = originals[k % len(originals)]
        copy = dataclasses.replace(entry, id=f"{entry.id}_{k:03d}")    # shares the original's feature files
        if not gallery.is_current(copy.id):     # absent, or listed before small frames or the motion stream existed
            gallery.add_entry(copy)
    return gallery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--gallery", default="data/speed-default")
    args = parser.parse_args()
    gallery = build(args.gallery, args.videos)
    searcher = Searcher(gallery)
    query = footage_path("vtest.avi")
    started = time.perf_counter()
    searcher.search(query, 0.0, 5.0)              # first search: stage-1 vectors of every video
    first_s = time.perf_counter() - started
    columns = {"copy in the gallery (vtest.avi)": [searcher.search(query, start, start + 5.0).timings
                                                   for start in (12.0, 31.0, 47.0, 58.0, 70.0)]}
    face = footage_path("feat_wolfgang.mp4")
    if face:
        columns["no copy (a face)"] = [searcher.search(face, start, start + 5.0).timings
                                       for start in (0.0, 3.5, 7.0, 10.5, 14.0)]
    medians = {name: {k: float(np.median([r[k] for r in runs])) for k in runs[0]} for name, runs in columns.items()}
    seconds = sum(v.duration for v in gallery.list())
    vectors = sum(len(searcher.index._vectors[v.id][1]) for v in gallery.list())
    dim = searcher.index._vectors[gallery.list()[0].id][1].shape[1]
    feature_bytes = sum(os.path.getsize(gallery.feature_path(v.id)) for v in gallery.list())
    print(f"{len(gallery)} videos, {seconds / 60:.1f} min of video; {os.cpu_count()} cores")
    print("| 5-s query, default search, top 10 videos, ms | " + " | ".join(medians) + " |")
    print("|---|" + "---:|" * len(medians))
    for key in ("query_features_s", "stage1_s", "stage2_s", "total_s"):
        print(f"| {key[:-2].replace('_', ' ')} (median of 5) | "
              + " | ".join(f"{m[key] * 1000:.0f}" for m in medians.values()) + " |")
    print(f"| first search (stage-1 vectors of the whole gallery) | {first_s * 1000:.0f} |" + " |" * (len(medians) - 1))
    print(f"\nstage-1 vectors: {vectors / len(gallery):.0f} per video ({dim} float32 each) = "
          f"{vectors * dim * 4 / len(gallery) / 1024:.0f} KiB per video in RAM; features on disk "
          f"{feature_bytes / len(gallery) / 1024:.0f} KiB per video ({feature_bytes / seconds / 1024:.1f} KiB per "
          f"second of video)")


if __name__ == "__main__":
    main()
