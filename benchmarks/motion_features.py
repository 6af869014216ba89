"""What the motion stream adds: clip-level class retrieval among unseen classes, and its cost.

    python benchmarks/motion_features.py --benchmark data/benchmark [--split test] [--encoder FILE]

On the procedural benchmark's queries of one split (classes unseen by every trained model), each
clip is one vector — the mean of its steps — and the leave-one-out nearest neighbour (cosine)
should be a clip of the same class. Printed for the ImageNet appearance features (centred on the
split's mean), the motion stream alone, and the two fused as the default fuses them
(:class:`~svmr.models.semantic.StepSpace` with the bundled background), with mAP over each
query's same-class clips; then the encoder's speed on this CPU (steps per second, one video of
4,000 steps) and its bytes per hour of video stored as float16. One JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.data.datasets import BenchmarkFeatures  # noqa: E402
from svmr.models.motion_encoder import MotionStream  # noqa: E402
from svmr.models.semantic import RETRIEVAL_MOTION_WEIGHT, StepSpace  # noqa: E402


def retrieval(vectors: np.ndarray, labels: np.ndarray) -> dict:
    """Leave-one-out 1-NN accuracy and mAP of unit ``(N, D)`` rows."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1)[:, :-1]
    hits = labels[order] == labels[:, None]
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    ap = (precision * hits).sum(axis=1) / np.maximum(hits.sum(axis=1), 1)
    return {"1nn": round(float(hits[:, 0].mean()), 4), "map": round(float(ap.mean()), 4)}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", default="data/benchmark")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--encoder", help="motion encoder (default: the bundled one)")
    args = parser.parse_args()
    data = BenchmarkFeatures(args.benchmark, splits=(args.split,))
    stream = MotionStream.load(args.encoder)
    space = StepSpace.load(motion_weight=RETRIEVAL_MOTION_WEIGHT)
    queries = data.benchmark.queries_of(args.split)
    labels = np.array([q.label for q in queries])
    sequences = [data.sequence("queries", q.id) for q in queries]
    for sequence in sequences:
        sequence.motion = stream.encode(sequence.small_frames)
    appearance = np.stack([s.features.mean(axis=1) for s in sequences])
    motion = np.stack([s.motion.mean(axis=1) for s in sequences])
    fused = np.stack([space.fuse(s.features, s.motion).mean(axis=1) for s in sequences])
    frames = np.concatenate([s.small_frames for s in sequences])[:4000]
    started = time.perf_counter()
    stream.encode(frames)
    steps_per_s = len(frames) / (time.perf_counter() - started)
    rate = sequences[0].rate
    print(json.dumps({
        "split": args.split, "queries": len(queries), "classes": len(set(labels)),
        "imagenet": retrieval(_unit(appearance - appearance.mean(axis=0)), labels),
        "motion": retrieval(_unit(motion - space.motion_mean), labels),
        "fused": retrieval(_unit(fused), labels), "motion_weight": space.motion_weight,
        "encoder_steps_per_s": round(steps_per_s, 1), "encoder_x_real_time": round(steps_per_s / rate, 1),
        "motion_bytes_per_hour": int(stream.dim * 2 * rate * 3600)}))


if __name__ == "__main__":
    main()
