"""Query-adaptive stream weights, tried offline on the procedural benchmark (not in the product).

    python benchmarks/adaptive_fusion.py [--split val]

The default's stage 1 fuses appearance and motion with one fixed weight. Appearance is noise on
procedural video and the signal on real footage, so a query might weigh the streams by how much
each one's best window *stands out* among all windows of the gallery ((max − median) / std of the
query's cosines with every stage-1 window). Prints the median standout of each stream, then stage-1
HR@1 / HR@10 (each video scored by its best window) for: the fixed weight 0.3, motion only, weights
from the standout ratio (and its square), and each stream's cosines z-normalized over the gallery
and weighted 0.7 / 0.3.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.data.datasets import BenchmarkFeatures  # noqa: E402
from svmr.features.statistics import FrameStatistics  # noqa: E402
from svmr.models.alignment import window_means  # noqa: E402
from svmr.models.semantic import StepSpace  # noqa: E402
from svmr.train.stage1 import retrieval_metrics  # noqa: E402


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / (np.linalg.norm(rows, axis=-1, keepdims=True) + 1e-6)


def standout(cosines: np.ndarray) -> np.ndarray:
    """``(Q, W)`` cosines → ``(Q,)`` (max − median) / std."""
    return (cosines.max(axis=1) - np.median(cosines, axis=1)) / (cosines.std(axis=1) + 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", default="data/benchmark")
    parser.add_argument("--split", default="val", choices=("val", "test"))
    args = parser.parse_args()
    data = BenchmarkFeatures(args.benchmark, splits=(args.split,))
    motion_mean = StepSpace.load().stored_motion_mean
    references = list(data.references.values())
    statistics = FrameStatistics.from_sums([f.sum(axis=1) for f in references], [f.shape[1] for f in references])
    channels = len(statistics.mean)
    appearance, motion, owner = [], [], []
    for index, ref in enumerate(data.reference_ids):
        sequence = data.sequence("references", ref)
        means = window_means(np.concatenate([sequence.features, sequence.motion]), sequence.rate)[0]
        appearance.append(_unit(means[:, :channels] - statistics.mean))
        motion.append(_unit(means[:, channels:] - motion_mean))
        owner += [index] * len(means)
    appearance, motion, owner = np.concatenate(appearance), np.concatenate(motion), np.array(owner)
    queries = data.benchmark.queries_of(args.split)
    sequences = [data.sequence("queries", q.id) for q in queries]
    cos_a = _unit(np.stack([s.features.mean(axis=1) for s in sequences]) - statistics.mean) @ appearance.T
    cos_m = _unit(np.stack([s.motion.mean(axis=1) for s in sequences]) - motion_mean) @ motion.T

    def hit_rates(scores: np.ndarray) -> dict:
        per_video = np.stack([scores[:, owner == v].max(axis=1) for v in range(len(data.reference_ids))], axis=1)
        metrics = retrieval_metrics(data, queries, per_video)
        return {k: round(metrics[k], 3) for k in ("HR@1", "HR@10")}

    z_a, z_m = standout(cos_a), standout(cos_m)
    print(f"median standout: appearance {np.median(z_a):.2f}, motion {np.median(z_m):.2f}")
    for name, weight in (("fixed 0.3", np.full(len(queries), 0.3)), ("motion only", np.ones(len(queries))),
                         ("standout ratio", z_m / (z_a + z_m)), ("standout ratio squared", z_m ** 2 / (z_a ** 2 + z_m ** 2))):
        fused = (1 - weight[:, None]) * cos_a + weight[:, None] * cos_m
        print(f"{name}: {hit_rates(fused)}, mean weight {weight.mean():.3f}", flush=True)
    normalized = [(c - c.mean(axis=1, keepdims=True)) / c.std(axis=1, keepdims=True) for c in (cos_a, cos_m)]
    print(f"z-normalized 0.7 / 0.3: {hit_rates(0.7 * normalized[0] + 0.3 * normalized[1])}")


if __name__ == "__main__":
    main()
