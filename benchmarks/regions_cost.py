"""What describing the pictures inside pictures costs at indexing: time and disk per hour of video.

    python benchmarks/regions_cost.py [FILES...]

Indexes the files (default: the real sample footage — vtest.avi, tree.avi, Megamind.avi, bikes,
bigbuckbunny, carphone — and, when ``data/reshare-set`` exists, its 14 references, which hold
picture-in-picture, split screens and caption bars) into two fresh galleries, with and without
regions (:mod:`svmr.features.regions`), one file at a time on this machine's cores, and prints one
JSON line per setting: wall seconds, times real time, regions found, the share of the video's
duration they cover, and the gallery's feature bytes per hour of video.
"""
from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.data.footage import footage_path  # noqa: E402
from svmr.features import FeatureExtractor  # noqa: E402
from svmr.gallery import Gallery  # noqa: E402

SOURCES = ("vtest.avi", "tree.avi", "Megamind.avi", "bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def measure(files: list[str], regions: bool, extractor: FeatureExtractor) -> dict:
    with tempfile.TemporaryDirectory() as root:
        gallery = Gallery(root, extractor.config)
        started = time.perf_counter()
        for path in files:
            gallery.add(path, extractor, regions=regions)
        wall = time.perf_counter() - started
        videos = gallery.list()
        seconds = sum(v.duration for v in videos)
        covered = sum(r["end"] - r["start"] for v in videos for r in v.regions or [])
        disk = sum(os.path.getsize(os.path.join(root, "features", name)) for name in os.listdir(os.path.join(root, "features")))
        return {"regions": regions, "videos": len(videos), "video_s": round(seconds, 1), "wall_s": round(wall, 1),
                "realtime_x": round(seconds / wall, 1), "regions_found": sum(len(v.regions or []) for v in videos),
                "region_share_of_duration": round(covered / seconds, 3),
                "feature_mib_per_hour": round(disk / seconds * 3600 / 2 ** 20, 1)}


def main() -> None:
    files = sys.argv[1:] or [p for p in map(footage_path, SOURCES) if p] + sorted(glob.glob("data/reshare-set/references/*.mp4"))
    extractor = FeatureExtractor()
    extractor.extract(files[0], 0.0, 2.0)                      # warm-up
    for regions in (False, True):
        print(json.dumps(measure(files, regions, extractor)), flush=True)


if __name__ == "__main__":
    main()
