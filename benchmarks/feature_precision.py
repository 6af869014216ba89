"""What a gallery keeps on disk per hour of video, and the real-footage tables with 8-bit features.

    python benchmarks/feature_precision.py [--sets data/own-clips data/footage-set-ext ...]

Each real-footage set's references are indexed a second time into ``<set>/gallery-<key>-int8``
(``index --feature-precision int8``: 8 bits a number over each step's range instead of float16)
and every query is searched with the default model in both galleries. Prints one markdown table of
the sets' figures and one of the bytes each gallery keeps per hour of video: features, small
frames and the motion stream of the whole pictures, the regions' files (pictures found inside
the pictures), and the rest (gallery.json, journal, thumbnails).
"""
from __future__ import annotations

import argparse
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.search import Searcher  # noqa: E402
from svmr.scoring import COPY_SET_KEYS, SIMILAR_SET_KEYS, real_footage_scores, set_gallery  # noqa: E402

SETS = ("data/own-clips", "data/footage-set-ext", "data/semantic-set", "data/reshare-set")
MIB = 2 ** 20


def bytes_per_hour(gallery) -> dict[str, float]:
    """MiB per hour of video by what holds them (see the module docstring)."""
    hours = sum(v.steps / gallery.config.rate for v in gallery.list()) / 3600
    parts = {"features": 0, "small frames": 0, "motion": 0, "regions": 0, "other": 0}
    whole = {gallery.feature_path(v.id) for v in gallery.list()}
    for folder, _, files in os.walk(gallery.root):
        for name in files:
            path = os.path.join(folder, name)
            if path in whole:
                with zipfile.ZipFile(path) as archive:
                    for member in archive.infolist():
                        key = member.filename[:-len(".npy")]
                        part = ("features" if key.startswith("features") else "small frames" if key == "small_frames"
                                else "motion" if key == "motion" else "other")
                        parts[part] += member.compress_size
            elif folder.endswith("features") and name.endswith(".npz"):
                parts["regions"] += os.path.getsize(path)
            else:
                parts["other"] += os.path.getsize(path)
    return {k: v / hours / MIB for k, v in parts.items()} | {"hours": hours}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    args = parser.parse_args()
    keys = [k for k in dict.fromkeys(COPY_SET_KEYS + SIMILAR_SET_KEYS) if k != "median s / search"]
    scores, disk = [], []
    for set_dir in args.sets:
        for precision in ("float16", "int8"):
            _, gallery, extractor = set_gallery(set_dir, feature_precision=precision)
            rows = real_footage_scores(set_dir, {precision: Searcher(gallery, extractor=extractor)})
            scores.append((os.path.basename(set_dir), precision, rows[precision]))
            disk.append((os.path.basename(set_dir), precision, bytes_per_hour(gallery)))
            print(f"{set_dir} {precision}: done", file=sys.stderr, flush=True)
    print("| set | features | " + " | ".join(keys) + " |\n|---|---|" + "---:|" * len(keys))
    for name, precision, row in scores:
        print(f"| {name} | {precision} | " + " | ".join("—" if row[k] is None else f"{row[k]:.3f}" for k in keys) + " |")
    parts = ["features", "small frames", "motion", "regions", "other"]
    print("\n| set | features | hours | " + " | ".join(f"{p} MiB/h" for p in parts) + " | total MiB/h |\n|---|---|---:|"
          + "---:|" * (len(parts) + 1))
    for name, precision, row in disk:
        print(f"| {name} | {precision} | {row['hours']:.3f} | " + " | ".join(f"{row[p]:.1f}" for p in parts)
              + f" | {sum(row[p] for p in parts):.1f} |")


if __name__ == "__main__":
    main()
