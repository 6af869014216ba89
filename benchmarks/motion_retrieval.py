"""Stage-1 window retrieval on a procedural split for a grid of motion weights, motion parts and a
candidate motion encoder: one JSON line per weight.

    python benchmarks/motion_retrieval.py --split val --weights 0,0.3,1 --parts 2 [--encoder FILE]

The default's stage 1 (:class:`~svmr.models.alignment.WindowRetrieval`: the window means of every
reference, appearance centred on the references' mean, the motion stream centred on its background;
the max fused cosine per reference) computed once per stream, so every weight costs one pass over
the cosines. ``--encoder``: a candidate encoder instead of the bundled one (``python -m svmr
train-motion --out FILE``); its motion background is recomputed the way ``python -m svmr calibrate``
computes the bundled one, over the real-footage sets' gallery videos (``--sets``, indexed on first
use). Each row: HR@1, HR@10, mAP@10 and what the best window of the top reference shows when that
reference is wrong — a class with the query's trajectory (``same_trajectory``), with its
modulation, another class, or no class (``background``). Tune on ``val`` only.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.calibrate import background  # noqa: E402
from svmr.data.datasets import BenchmarkFeatures  # noqa: E402
from svmr.features.statistics import FrameStatistics  # noqa: E402
from svmr.models.alignment import WindowRetrieval, window_means  # noqa: E402
from svmr.models.motion_encoder import use_encoder  # noqa: E402
from svmr.models.semantic import StepSpace  # noqa: E402
from svmr.train.stage1 import retrieval_metrics  # noqa: E402

SETS = "data/own-clips,data/footage-set-ext,data/semantic-set"


class WindowCosines:
    """Every window of every reference, each stream apart: appearance ``(W, C)`` and motion
    ``(W, k·D)`` unit rows (each part unit, scaled by 1/√k), their reference and span in seconds."""

    def __init__(self, data: BenchmarkFeatures, motion_mean: np.ndarray, parts: int):
        refs = list(data.references.values())
        self.statistics = FrameStatistics.from_sums([f.sum(axis=1) for f in refs], [f.shape[1] for f in refs])
        #: motion only (weight 1): the search's fusion gives each stream's unit rows (:meth:`split`)
        self.space = StepSpace(self.statistics.mean, motion_mean, 1.0, parts)
        self.retriever = WindowRetrieval(space=self.space)
        self.data = data
        appearance, motion, owner, spans = [], [], [], []
        for k, ref in enumerate(data.reference_ids):
            sequence = data.sequence("references", ref)
            a, m = self.split(self.retriever.reference_vectors(sequence))
            appearance.append(a), motion.append(m), owner.append(np.full(len(a), k))
            spans.append(window_means(sequence.features, sequence.rate, self.retriever.seconds)[1] / sequence.rate)
        self.appearance, self.motion = np.concatenate(appearance), np.concatenate(motion)
        self.owner, self.spans = np.concatenate(owner), np.concatenate(spans)
        #: where each reference's windows begin and end in the rows
        self.bounds = np.r_[0, np.flatnonzero(np.diff(self.owner)) + 1]
        self.ends = np.r_[self.bounds[1:], len(self.owner)]

    def split(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw ``(N, C + k·D)`` stage-1 vectors → the two streams' unit rows, as the search's own
        fusion makes them (:meth:`~svmr.models.semantic.StepSpace.fuse` at motion weight 0, then 1)."""
        channels, centre = len(self.statistics.mean), self.statistics.mean
        appearance = self.space.with_weight(0.0).fuse(vectors[:, :channels].T, None, centre=centre).T
        motion = self.space.fuse(vectors[:, :channels].T, vectors[:, channels:].T, centre=centre).T[:, channels:]
        return appearance.astype(np.float32), motion.astype(np.float32)

    def query(self, query_id: str) -> tuple[np.ndarray, np.ndarray]:
        a, m = self.split(self.retriever.query_vector(self.data.sequence("queries", query_id))[None])
        return a[0], m[0]


def top_window_kind(query, reference, span) -> str:
    """What the best window of the top reference shows when the reference is wrong."""
    if query.label in reference.labels:
        return "right"
    start, end = span
    shown = [s.label for s in reference.segments if min(end, s.end) - max(start, s.start) > 0.5 * (end - start)]
    if not shown:
        return "background"
    trajectory, modulation = query.label.split("+")
    other_trajectory, other_modulation = shown[0].split("+")
    return ("same_trajectory" if other_trajectory == trajectory else
            "same_modulation" if other_modulation == modulation else "other_class")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", default="data/benchmark")
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--weights", default="0,0.3,1", help="motion weights, comma-separated")
    parser.add_argument("--parts", type=int, default=1, help="consecutive parts a span's motion is cut in")
    parser.add_argument("--encoder", default=None, help="a candidate motion encoder (default: the bundled one)")
    parser.add_argument("--sets", default=SETS, help="real-footage sets whose gallery videos give a candidate's "
                                                     "motion background (comma-separated)")
    args = parser.parse_args()
    stream = use_encoder(args.encoder)
    motion_mean = (background(args.sets.split(",")) if args.encoder else StepSpace.load()).stored_motion_mean
    data = BenchmarkFeatures(args.benchmark, splits=(args.split,))
    windows = WindowCosines(data, motion_mean, args.parts)
    queries = data.benchmark.queries_of(args.split)
    parts = [windows.query(q.id) for q in queries]
    appearance = np.stack([a for a, _ in parts]) @ windows.appearance.T      # (Q, W)
    motion = np.stack([m for _, m in parts]) @ windows.motion.T
    references = {r.id: r for r in data.benchmark.references}
    for weight in (float(w) for w in args.weights.split(",")):
        fused = (1 - weight) * appearance + weight * motion
        scores = np.maximum.reduceat(fused, windows.bounds, axis=1)
        metrics = retrieval_metrics(data, queries, scores)
        kinds = collections.Counter()
        for query, row, cosines in zip(queries, scores, fused):
            top = int(row.argmax())
            best = windows.bounds[top] + int(cosines[windows.bounds[top]:windows.ends[top]].argmax())
            kinds[top_window_kind(query, references[data.reference_ids[top]], windows.spans[best])] += 1
        print(json.dumps({"split": args.split, "encoder": stream.key, "parts": args.parts, "motion_weight": weight,
                          "queries": len(queries), **{k: metrics[k] for k in ("HR@1", "HR@10", "mAP@10")},
                          "top_when_wrong": {k: v for k, v in kinds.items() if k != "right"}}), flush=True)


if __name__ == "__main__":
    main()
