"""The real-footage tables with stage 1 in the compact store, forced on, beside exact.

    python benchmarks/compact_store.py [--train-rows 256] [--sets data/own-clips data/footage-set-ext ...]

A gallery of real footage holds a few thousand stage-1 rows, far below the size from which the
``faiss`` backend trains its index (:data:`svmr.backends.faiss_ivf.TRAIN_ROWS`, 20,000 rows: about
3 hours of video) and rotates its rows into the compact store. ``--train-rows`` lowers that size
for this run only, so each set's gallery is searched through the rotation to 256 numbers, IVF-PQ and
the re-rank a 1,000-hour gallery gets: its figures should be exact's (issue 31: within ±0.01), so
small galleries and large ones rank alike. The faiss index is built in the gallery's ``index/``
folder and deleted afterwards. Prints one markdown table (every set, exact and compact).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.backends import faiss_ivf  # noqa: E402
from svmr.search import Searcher  # noqa: E402
from svmr.scoring import COPY_SET_KEYS, SIMILAR_SET_KEYS, real_footage_scores, set_gallery  # noqa: E402

SETS = ("data/own-clips", "data/footage-set-ext", "data/semantic-set", "data/reshare-set")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=256, help="rows from which faiss trains (the compact store forced on)")
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    args = parser.parse_args()
    faiss_ivf.TRAIN_ROWS = args.train_rows
    keys = list(dict.fromkeys(COPY_SET_KEYS + SIMILAR_SET_KEYS))
    keys.remove("median s / search")
    print("| set | stage 1 | " + " | ".join(keys) + " |\n|---|---|" + "---:|" * len(keys))
    for set_dir in args.sets:
        _, gallery, extractor = set_gallery(set_dir)
        searchers = {"exact": Searcher(gallery, extractor=extractor, backend="exact"),
                     "compact store": Searcher(gallery, extractor=extractor, backend="faiss")}
        folder = searchers["compact store"].index.folder
        shutil.rmtree(folder, ignore_errors=True)
        try:
            backend, _ = searchers["compact store"].index.current()
            assert backend.rotation is not None, "the compact store was not used"
            rows = real_footage_scores(set_dir, searchers)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for name, row in rows.items():
            cells = ["—" if row[k] is None else f"{row[k]:.3f}" for k in keys]
            print(f"| {os.path.basename(set_dir)} | {name} ({backend.describe()['stored'] if name != 'exact' else 'exact'}) | "
                  + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
