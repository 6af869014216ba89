"""The default search on the procedural benchmark, by motion weight: one JSON line per weight.

    python benchmarks/default_procedural.py --benchmark data/benchmark --split val --weights 0,0.3,1 [--stage2]

For each weight ``w`` of the motion stream (:class:`~svmr.models.semantic.StepSpace`, with the
bundled backgrounds; ``w = 0``: appearance only, as before the motion stream), the default's
stage 1 as the search runs it (:func:`svmr.scoring.align_retrieval_scores`: HR@1, HR@10, mAP@10 of
the split's queries over all 1,100 references) and, with ``--stage2``, its stage 2 on the same
query–reference pairs as the stage-2 tables (:func:`svmr.scoring.align_proposals`: AR@1, AR@10,
AR@100, AUC). Tune on ``val``; ``test`` holds the classes no choice may look at. Needs only the
split's queries and the references extracted (``python -m svmr extract-benchmark``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.data.datasets import BenchmarkFeatures  # noqa: E402
from svmr.models.semantic import RETRIEVAL_MOTION_PARTS, SIMILAR_MOTION_PARTS, SIMILAR_MOTION_WEIGHT  # noqa: E402
from svmr.pipelines.align import build_align  # noqa: E402
from svmr.scoring import align_proposals, align_retrieval_scores  # noqa: E402
from svmr.train.stage1 import retrieval_metrics  # noqa: E402
from svmr.train.stage2 import evaluation_pairs, proposal_metrics  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", default="data/benchmark")
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--weights", default="0,0.3", help="stage 1's motion weights, comma-separated")
    parser.add_argument("--similar-weight", type=float, default=SIMILAR_MOTION_WEIGHT,
                        help="the motion weight of the similar moments' similarity (stage 2)")
    parser.add_argument("--parts", type=int, default=RETRIEVAL_MOTION_PARTS,
                        help="stage 1's motion parts (svmr.models.semantic.StepSpace)")
    parser.add_argument("--similar-parts", type=int, default=SIMILAR_MOTION_PARTS,
                        help="the similar moments' motion parts")
    parser.add_argument("--stage2", action="store_true", help="also the stage-2 proposals (slower)")
    args = parser.parse_args()
    data = BenchmarkFeatures(args.benchmark, splits=(args.split,))
    for weight in (float(w) for w in args.weights.split(",")):
        pipeline = build_align(retrieval_weight=weight, similar_weight=args.similar_weight, retrieval_parts=args.parts,
                              similar_parts=args.similar_parts)
        queries, scores = align_retrieval_scores(data, args.split, pipeline)
        metrics = retrieval_metrics(data, queries, scores)
        row = {"split": args.split, "queries": len(queries), "motion_weight": weight, "similar_weight": args.similar_weight,
               "parts": args.parts, "similar_parts": args.similar_parts,
               **{k: round(metrics[k], 4) for k in ("HR@1", "HR@10", "mAP@10")}}
        if args.stage2:
            pairs = evaluation_pairs(data, args.split, 3)
            found = proposal_metrics(align_proposals(data, pairs, pipeline=pipeline), [gt for _, _, gt in pairs])
            row.update({"pairs": len(pairs), **{k: round(found[k], 4) for k in ("AR@1", "AR@10", "AR@100", "AUC")}})
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
