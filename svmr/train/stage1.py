"""Training and evaluation of the stage-1 retrieval model on a benchmark's features.

    python -m svmr train stage1 --benchmark data/benchmark [--steps 3000] [--variant ctc_ae]

Trains on the train split's queries (50 % positive pairs), validates HR/mAP on the val split
every ``eval_every`` steps, keeps the best weights by val mAP@10, and writes the checkpoint,
its config, the metrics (val and test) and the command into ``checkpoints/``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, replace

import numpy as np
import torch

from .. import evaluation as E
from ..checkpoints import save_checkpoint
from ..data.datasets import BenchmarkFeatures, Stage1Pairs, features_config
from ..models.retrieval import (OneBranchEncoder, Stage1Config, TwoBranchAutoEncoder, arcface_loss, max_cosine_scores,
                                init_from_pca, resize_features, stage1_loss, triplet_loss)
from ..device import network_device, place
from .loop import fit, to_device

#: The paper's Table 1 configurations.
VARIANTS = {
    "ctc_ae": ({"layer": "ctc"}, True),             # the paper's model: CTC layers + AE loss
    "ctc_no_ae": ({"layer": "ctc"}, False),         # CTC w/o AE
    "conv1d_ae": ({"layer": "conv1d"}, True),       # Conv1D w/ AE
    "ctc_ae_shared": ({"layer": "ctc", "shared": True}, True),  # shared weights
}
#: The paper's Table 3 one-branch baselines (trained by :func:`train_one_branch`).
ONE_BRANCH = ("triplet", "arcface")


def stack_queries(queries: list[torch.Tensor], length: int) -> torch.Tensor:
    """Variable-length ``(C, L)`` tensors → ``(B, C, length)`` by linear interpolation."""
    return torch.cat([resize_features(q[None], length) for q in queries])


@torch.no_grad()
def retrieval_scores(model: TwoBranchAutoEncoder, data: BenchmarkFeatures, split: str,
                     references: torch.Tensor | None = None) -> tuple[list, np.ndarray]:
    """Stage-1 scores of every query of ``split`` against every reference: ``(Q, R)`` (on the
    model's device)."""
    model.eval()
    device = network_device(model)
    if references is None:
        references = data.resized_references(model.config.reference_length)
    e_r = torch.cat([model.encode_reference(references[i:i + 256].to(device)) for i in range(0, len(references), 256)])
    queries = data.benchmark.queries_of(split)
    feats = [torch.from_numpy(data.queries[q.id]) for q in queries]
    e_q = torch.cat([model.encode_query(stack_queries(feats[i:i + 512], model.config.query_length).to(device))
                     for i in range(0, len(feats), 512)])
    return queries, max_cosine_scores(e_q, e_r).cpu().numpy()


def retrieval_metrics(data: BenchmarkFeatures, queries: list, scores: np.ndarray,
                      ks=(1, 5, 10, 50), map_ks=(1, 5, 10, 50, 100)) -> dict:
    """HR@K and mAP@K; a retrieved video is relevant when it holds a moment of the query's class.

    ``mAP@K`` divides each query's AP by min(K, R), R = its relevant videos in the gallery (the
    usual convention); ``mAP@K found`` by the relevant videos found in the top K (earlier tables'
    convention, which a single hit at rank 1 makes 1.0): see :func:`E.average_precision_at_k`."""
    relevance, num_relevant = [], []
    gallery = set(data.reference_ids)
    for query, row in zip(queries, scores):
        order = np.argsort(-row, kind="stable")
        ranked = [data.reference_ids[i] for i in order[:max(max(ks), max(map_ks))]]
        positives = data.positives(query)
        relevance.append(E.video_relevance(ranked, positives))
        num_relevant.append(len(gallery.intersection(positives)))
    metrics = {f"HR@{k}": E.hit_rate_at_k(relevance, k) for k in ks}
    metrics.update({f"mAP@{k}": E.map_at_k(relevance, k, num_relevant) for k in map_ks})
    metrics.update({f"mAP@{k} found": E.map_at_k(relevance, k) for k in map_ks})
    return {k: round(v, 4) for k, v in metrics.items()}


def train_stage1(benchmark: str, out: str, variant: str = "ctc_ae", steps: int = 3000, batch_size: int = 64,
                 lr: float = 1e-3, seed: int = 0, eval_every: int = 250, key: str | None = None,
                 data: BenchmarkFeatures | None = None, command: str | None = None, init: str = "random",
                 freeze_projection: bool = False, log=print, device: str | torch.device = "cpu") -> dict:
    """Train one stage-1 variant on ``device``; returns its metadata (config, metrics, timings).

    ``init="pca"`` starts the projections at the training features' principal components
    (:func:`~svmr.models.retrieval.init_from_pca`) instead of PyTorch's random init;
    ``freeze_projection`` then keeps them there, so training shapes only the CTC filters, which are
    shared by all concepts and so cannot learn the training classes' directions in feature space.
    """
    torch.manual_seed(seed)
    data = data or BenchmarkFeatures(benchmark, key)
    overrides, use_reconstruction = VARIANTS[variant]
    config = replace(Stage1Config(feature_dim=data.feature_dim), **overrides)
    model = TwoBranchAutoEncoder(config)
    model.set_normalization(*data.normalization("train"))
    explained = None
    if freeze_projection and init != "pca":
        raise ValueError("freeze_projection keeps the projections where init='pca' put them; random ones would stay random")
    if init == "pca":
        sample = torch.from_numpy(data.sample_steps("train", 20000, seed))                  # (C, N) raw
        explained = init_from_pca(model, model._normalize(sample[None])[0].T)
        log(f"[{variant}] PCA init: the kept components explain {explained:.3f} of the variance")
    if freeze_projection:
        for name, parameter in model.named_parameters():
            if ".project." in name:
                parameter.requires_grad_(False)
    pairs = Stage1Pairs(data, "train", config.reference_length, config.num_embeddings, seed=seed)
    device = torch.device(device)
    place(model, device)

    def step() -> dict:
        queries, references, labels = pairs.batch(batch_size)
        queries, references, labels = to_device((stack_queries(queries, config.query_length), references, labels), device)
        return stage1_loss(model(queries, references), labels, use_reconstruction=use_reconstruction)

    def validate() -> dict:
        return retrieval_metrics(data, *retrieval_scores(model, data, "val", pairs.references))

    history, train_seconds = fit(model, step, validate, "mAP@10", steps, lr, eval_every, variant, log,
                                 validate_first=True)
    metrics = {}
    for split in ("val", "test"):
        split_queries, scores = retrieval_scores(model, data, split, pairs.references)
        metrics[split] = retrieval_metrics(data, split_queries, scores)
    meta = {
        "metrics": metrics, "history": history, "train_seconds": round(train_seconds, 1),
        "training": {"variant": variant, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "reconstruction_loss": use_reconstruction, "similarity_weight": 2.0, "init": init,
                     "freeze_projection": freeze_projection,
                     "pca_explained_variance": explained},
        "data": {"benchmark": benchmark, "benchmark_seed": data.benchmark.seed,
                 "features": data.key,
                 "extractor": asdict(features_config(benchmark, data.key)),
                 "train_queries": len(pairs.queries), "references": len(data.reference_ids)},
        "command": command,
    }
    path = os.path.join(out, f"stage1_{variant}.safetensors")
    save_checkpoint(model, path, "stage1", config.to_dict(), **meta)
    log(f"[{variant}] wrote {path}: test {metrics['test']}")
    return meta


def train_one_branch(benchmark: str, out: str, loss: str = "triplet", steps: int = 3000, batch_size: int = 64,
                     lr: float = 1e-3, seed: int = 0, eval_every: int = 250, key: str | None = None,
                     data: BenchmarkFeatures | None = None, command: str | None = None, log=print,
                     device: str | torch.device = "cpu") -> dict:
    """Train a one-branch baseline (``loss`` = "triplet" or "arcface") with the same data, on ``device``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = data or BenchmarkFeatures(benchmark, key)
    config = Stage1Config(feature_dim=data.feature_dim, shared=True)
    train_classes = data.benchmark.classes["train"]
    model = OneBranchEncoder(config, num_classes=len(train_classes) if loss == "arcface" else 0)
    model.set_normalization(*data.normalization("train"))
    device = torch.device(device)
    place(model, device)
    references = data.resized_references(config.reference_length)
    index = {r: i for i, r in enumerate(data.reference_ids)}
    queries = [q for q in data.benchmark.queries_of("train") if data.positives(q)]
    class_index = {c: i for i, c in enumerate(train_classes)}
    labelled_refs = [(i, [class_index[s.label] for s in ref.segments if s.label in class_index])
                     for i, ref in enumerate(data.benchmark.references)]
    labelled_refs = [(i, labels) for i, labels in labelled_refs if labels]

    def query_batch(size: int) -> tuple[list, torch.Tensor]:
        chosen = [queries[rng.integers(len(queries))] for _ in range(size)]
        feats = stack_queries([torch.from_numpy(data.queries[q.id]) for q in chosen], config.query_length)
        return chosen, model.encode_query(feats.to(device))

    def step() -> dict:
        if loss == "triplet":
            chosen, e_q = query_batch(batch_size)
            positive, negative = [], []
            for query in chosen:
                positives = sorted(data.positives(query))
                positive.append(index[positives[rng.integers(len(positives))]])
                while (neg := data.reference_ids[rng.integers(len(data.reference_ids))]) in data.positives(query):
                    pass
                negative.append(index[neg])
            e_p = model.encode_reference(references[positive].to(device))[..., 0]
            e_n = model.encode_reference(references[negative].to(device))[..., 0]
            return {"loss": triplet_loss(e_q, e_p, e_n)}
        chosen, e_q = query_batch(batch_size // 2)
        picks = [labelled_refs[rng.integers(len(labelled_refs))] for _ in range(batch_size - len(chosen))]
        e_r = model.encode_reference(references[[i for i, _ in picks]].to(device))[..., 0]
        labels = torch.tensor([class_index[q.label] for q in chosen]
                              + [labels[rng.integers(len(labels))] for _, labels in picks], device=device)
        return {"loss": arcface_loss(torch.cat([e_q, e_r]), model.classes, labels)}

    def validate() -> dict:
        return retrieval_metrics(data, *retrieval_scores(model, data, "val", references))

    history, train_seconds = fit(model, step, validate, "mAP@10", steps, lr, eval_every, loss, log)
    metrics = {split: retrieval_metrics(data, *retrieval_scores(model, data, split, references))
               for split in ("val", "test")}
    meta = {"metrics": metrics, "history": history, "train_seconds": round(train_seconds, 1),
            "training": {"variant": loss, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed},
            "data": {"benchmark": benchmark, "benchmark_seed": data.benchmark.seed,
                     "features": data.key,
                 "extractor": asdict(features_config(benchmark, data.key)), "train_queries": len(queries)},
            "command": command}
    path = os.path.join(out, f"stage1_{loss}.safetensors")
    save_checkpoint(model, path, "stage1_one_branch", {**config.to_dict(), "num_classes": len(train_classes)
                                                       if loss == "arcface" else 0}, **meta)
    log(f"[{loss}] wrote {path}: test {metrics['test']}")
    return meta
