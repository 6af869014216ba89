"""Seed 001's Table 3 (graph layers n × graphs k) over several training seeds.

Trains ``graph_<n>x<k>`` for every n, k and seed into ``<out>/seed<S>/`` (skipping models already
there), scores each on the test split's query–reference pairs (the pairs of the README's Table 1)
right after it is trained, and prints the mean ± standard deviation over the seeds of mAP@1 at
tIoU 0.5 and averaged over seed 001's eight thresholds, for the test and the validation split.

    python scripts/table3_seeds.py --benchmark data/benchmark --out data/table3 --seeds 0 1 2 --jobs 2

Each job runs ``python -m svmr train graph ... --steps 400 --eval-every 100`` on one thread with the
bundled TAG actionness scorer (``checkpoints/actionness.safetensors``), two jobs at a time by default.
Rerunning after an interruption continues where it stopped. ``--variants graph cnn`` adds seed 001's
"Ours (CNN)" ablation (1×1 convolutions instead of graph convolutions, n = 2, k = 3) for each seed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def model_name(layers: int, graphs: int, variant: str = "graph") -> str:
    """The checkpoint name ``train graph`` writes: ``graph_<n>x<k>``, or ``graph_cnn`` for the ablation."""
    return "graph_cnn" if variant == "cnn" else f"graph_{layers}x{graphs}"


def model_path(out: str, seed: int, layers: int, graphs: int, variant: str = "graph") -> str:
    return os.path.join(out, f"seed{seed}", f"{model_name(layers, graphs, variant)}.safetensors")


def test_path(out: str, seed: int, layers: int, graphs: int, variant: str = "graph") -> str:
    return os.path.join(out, f"seed{seed}", f"{model_name(layers, graphs, variant)}.test.json")


def run_job(args, seed: int, layers: int, graphs: int, variant: str = "graph") -> str:
    """Train one model (unless present) and score it on the test pairs, each in a one-thread process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    folder = os.path.join(args.out, f"seed{seed}")
    os.makedirs(folder, exist_ok=True)
    name = f"seed {seed}, {variant}, n = {layers}, k = {graphs}"
    log = os.path.join(folder, f"{model_name(layers, graphs, variant)}.log")
    with open(log, "a") as stream:
        if not os.path.exists(model_path(args.out, seed, layers, graphs, variant)):
            subprocess.run([sys.executable, "-m", "svmr", "train", "graph", "--benchmark", args.benchmark,
                            "--out", folder, "--actionness", args.actionness, "--layers", str(layers),
                            "--graphs", str(graphs), "--steps", str(args.steps), "--eval-every",
                            str(args.eval_every), "--seed", str(seed), "--variant", variant],
                           cwd=ROOT, env=env, stdout=stream, stderr=stream, check=True)
        if not os.path.exists(test_path(args.out, seed, layers, graphs, variant)):
            subprocess.run([sys.executable, os.path.abspath(__file__), "--score-one", str(seed), str(layers),
                            str(graphs), "--benchmark", args.benchmark, "--out", args.out,
                            "--actionness", args.actionness, "--score-variant", variant],
                           cwd=ROOT, env=env, stdout=stream, stderr=stream, check=True)
    return name


def score_one(args, seed: int, layers: int, graphs: int, variant: str = "graph") -> None:
    """Test-split mAP@1 of one trained model, written beside it as JSON."""
    import torch

    from svmr.checkpoints import load_checkpoint
    from svmr.data.datasets import BenchmarkFeatures
    from svmr.train import graph as G
    from svmr.train.stage2 import evaluation_pairs

    torch.set_num_threads(1)
    data = BenchmarkFeatures(args.benchmark)
    pairs = evaluation_pairs(data, "test", 3)
    scorer = load_checkpoint(args.actionness)[0]
    proposals = G.reference_proposals(data, scorer, sorted({p[1] for p in pairs}))
    model, meta = load_checkpoint(model_path(args.out, seed, layers, graphs, variant))
    row = G.table_row(G.graph_top1_tious(model, data, pairs, proposals))
    result = {"test": {t: round(v, 4) for t, v in row.items()}, "val": meta["metrics"]["val"],
              "pairs": len(pairs), "train_seconds": meta.get("train_seconds")}
    with open(test_path(args.out, seed, layers, graphs, variant), "w") as stream:
        json.dump(result, stream, indent=1)


def mean_sd(values) -> str:
    """``mean ± sample standard deviation`` (0 for a single value)."""
    import numpy as np

    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}"


def summary(args) -> str:
    """The Table 3 grid: per cell, mean ± sd over the seeds found (test mean of thresholds / at 0.5)."""
    import numpy as np

    cell = mean_sd

    lines = ["| n, k | seeds | test mAP@1 mean of 8 tIoUs | test mAP@1 at 0.5 | val mAP@1 mean (selection) |",
             "|---|---:|---:|---:|---:|"]
    per_seed = {}
    cells = [(n, k, "graph") for n in args.layers for k in args.graphs] + [(2, 3, "cnn")]
    for layers, graphs, variant in cells:
        seeds = [s for s in args.seeds if os.path.exists(test_path(args.out, s, layers, graphs, variant))]
        found = [json.load(open(test_path(args.out, s, layers, graphs, variant))) for s in seeds]
        if found:
            means = [float(np.mean(list(r["test"].values()))) for r in found]
            label = f"n = {layers}, k = {graphs}" if variant == "graph" else "CNN (n = 2, k = 3)"
            per_seed[label] = dict(zip(seeds, means))
            lines.append(f"| {label} | {len(found)} | {cell(means)} | "
                         f"{cell([r['test']['0.5'] for r in found])} | {cell([r['val']['mAP@1 mean'] for r in found])} |")
    per_seed_lines = [f"{label}: " + ", ".join(f"{v:.3f}" for v in values.values()) for label, values in per_seed.items()]
    return "\n".join([*lines, "", "Per seed, test mAP@1 mean of 8 tIoUs:", *per_seed_lines, "",
                      "Marginals (each seed's average over the other factor's cells; mean ± sd over the seeds):",
                      *marginals(per_seed, args)])


def marginals(per_seed: dict, args) -> list[str]:
    """Depth n averaged over k, and graphs k averaged over n, per seed (a seed's models share its
    triplet sequence, so the comparison pairs them), then mean ± sd over the seeds. ``per_seed``:
    cell label → {seed: test mean}; a level is left out unless all its cells have the same seeds."""
    import numpy as np

    lines = []
    for label, factor, levels, others in (("n", 0, args.layers, args.graphs), ("k", 1, args.graphs, args.layers)):
        for level in levels:
            cells = [per_seed.get(f"n = {level}, k = {o}" if factor == 0 else f"n = {o}, k = {level}") for o in others]
            if any(c is None for c in cells) or len({tuple(c) for c in cells}) != 1:
                continue
            per_seed_mean = np.mean([[c[s] for s in cells[0]] for c in cells], axis=0)   # (seeds,)
            lines.append(f"{label} = {level}: {mean_sd(per_seed_mean)} "
                         f"(per seed {', '.join(f'{v:.3f}' for v in per_seed_mean)})")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", default="data/benchmark")
    parser.add_argument("--out", default="data/table3")
    parser.add_argument("--actionness", default=os.path.join(ROOT, "checkpoints", "actionness.safetensors"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--graphs", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["graph"], choices=("graph", "cnn"),
                        help="graph: the n × k grid; cnn: the 1×1-convolution ablation (n = 2, k = 3), per seed")
    parser.add_argument("--summary-only", action="store_true", help="print the table of the runs already scored")
    parser.add_argument("--score-one", type=int, nargs=3, metavar=("SEED", "N", "K"), help=argparse.SUPPRESS)
    parser.add_argument("--score-variant", default="graph", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score_one:
        score_one(args, *args.score_one, variant=args.score_variant)
        return 0
    if not args.summary_only:
        jobs = [(s, n, k, "graph") for s in args.seeds for n in args.layers for k in args.graphs
                if "graph" in args.variants]                                         # a seed's grid first
        jobs += [(s, 2, 3, "cnn") for s in args.seeds if "cnn" in args.variants]
        with ThreadPoolExecutor(args.jobs) as pool:
            for name in pool.map(lambda job: run_job(args, *job), jobs):
                print(f"done: {name}", flush=True)
    print(summary(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
