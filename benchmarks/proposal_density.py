"""What the procedural benchmark's stage-2 AR@100 measures: the similar windows as the default
proposes them (a few local maxima per reference) against every window ranked, 100 per pair.

    python benchmarks/proposal_density.py --benchmark data/benchmark --split val --weights 0,1 [--parts 2]

For each motion weight ``w`` (:class:`~svmr.models.semantic.StepSpace`; 0: appearance only, the
default's similar moments) one JSON line per way of proposing, on the same query–reference pairs as
the stage-2 tables (3 per query): ``peaks`` — :meth:`SimilarWindows.localize
<svmr.models.semantic.SimilarWindows.localize>`, the moments the search shows; ``dense`` — every
window of the same map, best first, dropping one whose tIoU with a better one exceeds 0.7, up to
100. AR@100 rewards the second for covering the reference whatever its ranking is worth; AR@1 and
AR@10 say how good the ranking is.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.data.datasets import BenchmarkFeatures  # noqa: E402
from svmr.evaluation import tiou  # noqa: E402
from svmr.models.semantic import SimilarWindows, StepSpace  # noqa: E402
from svmr.train.stage2 import evaluation_pairs, proposal_metrics  # noqa: E402


def dense_windows(window: np.ndarray, durations: np.ndarray, top_k: int = 100, overlap: float = 0.7) -> np.ndarray:
    """Every window of a map ``W (Lr, D)``, best first, without near-repeats: ``(K, 3)`` rows
    ``(start_step, end_step, W)``."""
    rows = []
    for flat in np.argsort(-np.nan_to_num(window, nan=-np.inf), axis=None):
        start, k = divmod(int(flat), window.shape[1])
        if len(rows) >= top_k or not np.isfinite(window[start, k]):
            break
        span = (float(start), float(start + durations[k]))
        if rows and tiou(span, np.array(rows)[:, :2]).max() > overlap:
            continue
        rows.append((*span, float(window[start, k])))
    return np.array(rows, np.float64).reshape(-1, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", default="data/benchmark")
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--weights", default="0,1", help="the motion stream's weights, comma-separated")
    parser.add_argument("--parts", type=int, default=1, help="the motion stream's parts")
    args = parser.parse_args()
    data = BenchmarkFeatures(args.benchmark, splits=(args.split,))
    pairs = evaluation_pairs(data, args.split, 3)
    windows, background = SimilarWindows(), StepSpace.load()
    for weight in (float(w) for w in args.weights.split(",")):
        space = background.with_weight(weight, args.parts)
        found = {"peaks": [], "dense": []}
        for query, ref, _ in pairs:
            reference = data.sequence("references", ref)
            query_steps, steps, rate = space.steps(data.sequence("queries", query.id)), space.steps(reference), reference.rate
            found["peaks"].append(windows.localize(query_steps, steps, 100).moments * [1 / rate, 1 / rate, 1])
            found["dense"].append(dense_windows(*windows.window_map(query_steps, steps)) * [1 / rate, 1 / rate, 1])
        for name, proposals in found.items():
            metrics = proposal_metrics(proposals, [gt for _, _, gt in pairs])
            print(json.dumps({"split": args.split, "pairs": len(pairs), "motion_weight": weight, "parts": args.parts,
                              "proposals": name, "per_pair": round(float(np.mean([len(p) for p in proposals])), 1),
                              **{k: metrics[k] for k in ("AR@1", "AR@10", "AR@100", "AUC")}}), flush=True)


if __name__ == "__main__":
    main()
