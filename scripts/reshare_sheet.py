"""One frame from the middle of every copy of the re-share set, labelled, in one picture.

    python scripts/reshare_sheet.py --set data/reshare-set --out assets/reshare_sheet.jpg
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr import video as V  # noqa: E402
from svmr.data.benchmark import Benchmark  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="data/reshare-set")
    parser.add_argument("--out", default="assets/reshare_sheet.jpg")
    parser.add_argument("--columns", type=int, default=7)
    args = parser.parse_args()
    bench = Benchmark.load(os.path.join(args.set, "manifest.json"))
    tiles = []
    for reference in bench.references:
        path = os.path.join(args.set, "references", f"{reference.id}.mp4")
        for segment in reference.segments:
            frame = next(iter(V.iter_frames(path, np.array([(segment.start + segment.end) / 2]))))[0]
            tile = cv2.resize(frame, (240, 180), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, segment.label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 0, 0), 1, cv2.LINE_AA)
            tiles.append(tile)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % args.columns)
    rows = [np.concatenate(tiles[k:k + args.columns], axis=1) for k in range(0, len(tiles), args.columns)]
    cv2.imwrite(args.out, cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(args.out)


if __name__ == "__main__":
    main()
