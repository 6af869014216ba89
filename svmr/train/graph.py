"""Seed 001 on a benchmark's features: TAG's actionness scorer, the graph re-localization model,
the video-level LSTM baseline, and the top-1 evaluation of seed 001's Table 1.

    python -m svmr train actionness --benchmark data/benchmark
    python -m svmr train graph --benchmark data/benchmark [--variant graph|cnn] [--layers n] [--graphs k]
    python -m svmr train video_level --benchmark data/benchmark

Training triplets (section 5.1): a train query clip; a positive reference (it holds the query's
class) and a negative one (it does not: negatives come from other videos, as the paper says); in
each, the TAG proposal with the highest tIoU with that reference's own annotated moments (of the
query's class for the positive). The triplet loss trains everything but the regression module;
the L1 regression loss, on positives only, trains the regression module only, at its own learning
rate (the paper's two Adam optimizers: one Adam with two parameter groups whose gradients never
mix is the same thing). Testing (section 4.8): every TAG proposal of the positive reference is
scored with the query, the best one is refined by the regression formulas.
"""
from __future__ import annotations

import os
from dataclasses import asdict
import numpy as np
import torch

from .. import evaluation as E
from ..checkpoints import load_checkpoint, save_checkpoint
from ..data.datasets import BenchmarkFeatures, features_config
from ..models.graph_baselines import VideoLevelConfig, VideoLevelLSTM, chance_top1, frame_level_localize
from ..models.graph_reloc import (GraphReLocalization, GraphRelocConfig, clip, graph_moments, regression_loss,
                                  regression_targets, triplet_loss)
from ..models.tag import ActionnessConfig, ActionnessScorer, actionness_labels, actionness_loss, tag_proposals
from ..device import network_device, place
from .loop import fit, to_device
from .stage2 import evaluation_pairs

#: a proposal generator: reference id → rows ``(start_s, end_s, score)``
Proposals = dict[str, np.ndarray]


def _meta(data: BenchmarkFeatures, benchmark: str, command: str | None, **training) -> dict:
    return {"training": training, "command": command,
            "data": {"benchmark": benchmark, "benchmark_seed": data.benchmark.seed, "features": data.key,
                     "extractor": asdict(features_config(benchmark, data.key))}}


# ----------------------------------------------------------------------------- actionness (TAG)

def actionness_targets(data: BenchmarkFeatures, reference, classes: set[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(labels, weights)`` ``(L,)`` for one :class:`Reference`: 1 inside moments of ``classes``;
    steps inside moments of other classes get weight 0 (their annotations belong to other splits)."""
    length = data.references[reference.id].shape[1]
    inside = [(s.start, s.end) for s in reference.segments if s.label in classes]
    elsewhere = [(s.start, s.end) for s in reference.segments if s.label not in classes]
    labels = actionness_labels(inside, reference.duration, length)
    weights = 1.0 - actionness_labels(elsewhere, reference.duration, length) * (1 - labels)
    return labels, weights


def train_actionness(benchmark: str, out: str, steps: int = 600, batch_size: int = 16, lr: float = 1e-3,
                     seed: int = 0, eval_every: int = 100, key: str | None = None,
                     data: BenchmarkFeatures | None = None, command: str | None = None, log=print,
                     device: str | torch.device = "cpu") -> dict:
    """Train TAG's actionness scorer on the train classes' moments, on ``device``; select by balanced
    accuracy on the val classes' moments against background."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = data or BenchmarkFeatures(benchmark, key)
    device = torch.device(device)
    model = ActionnessScorer(ActionnessConfig(feature_dim=data.feature_dim))
    model.set_normalization(*data.normalization("train"))
    place(model, device)
    train_classes, val_classes = set(data.benchmark.classes["train"]), set(data.benchmark.classes["val"])
    targets = {r.id: to_device(actionness_targets(data, r, train_classes), device) for r in data.benchmark.references}
    val_targets = {r.id: actionness_targets(data, r, val_classes)
                   for r in [r for r in data.benchmark.references if r.labels & val_classes][:200]}
    val_refs = list(val_targets)

    def step() -> dict:
        losses = []
        for index in rng.integers(len(data.reference_ids), size=batch_size):
            ref = data.reference_ids[index]
            labels, weights = targets[ref]
            keep = weights > 0
            if keep.any():
                logits = model.logits(torch.from_numpy(data.references[ref])[None].to(device))[0]
                losses.append(actionness_loss(logits[keep], labels[keep]))
        return {"loss": torch.stack(losses).mean()}

    def validate() -> dict:
        hits = {1: [], 0: []}
        for ref in val_refs:
            labels, weights = val_targets[ref]
            predicted = model(torch.from_numpy(data.references[ref])[None].to(device))[0].cpu() > 0.5
            for value in (0, 1):
                chosen = (labels == value) & (weights > 0)
                hits[value] += (predicted[chosen] == bool(value)).tolist()
        recall = {v: float(np.mean(h)) if h else 0.0 for v, h in hits.items()}
        return {"balanced accuracy": round((recall[0] + recall[1]) / 2, 4), "action recall": round(recall[1], 4)}

    history, seconds = fit(model, step, validate, "balanced accuracy", steps, lr, eval_every, "actionness", log)
    meta = {"metrics": {"val": validate()}, "history": history, "train_seconds": round(seconds, 1),
            **_meta(data, benchmark, command, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                    loss="class-balanced BCE on train-class moments")}
    save_checkpoint(model, os.path.join(out, "actionness.safetensors"), "actionness", model.config.to_dict(), **meta)
    return meta


def reference_proposals(data: BenchmarkFeatures, scorer: ActionnessScorer, ids: list[str] | None = None) -> Proposals:
    return {r: tag_proposals(scorer, data.references[r], data.durations[r]) for r in (ids or data.reference_ids)}


def best_matching(proposals: np.ndarray, truths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The proposal with the highest tIoU with any of ``truths`` ``(M, 2)``, and that truth."""
    overlaps = E.tiou(proposals[:, :2], truths)                                   # (P, M)
    p, m = np.unravel_index(np.argmax(overlaps), overlaps.shape)
    return proposals[p, :2], truths[m]


# ----------------------------------------------------------------------------- the graph model

def _annotated(data: BenchmarkFeatures) -> dict[str, np.ndarray]:
    return {r.id: np.array([[s.start, s.end] for s in r.segments]).reshape(-1, 2) for r in data.benchmark.references}


def train_graph(benchmark: str, out: str, actionness: str, convolution: str = "graph", layers: int = 2,
                graphs: int = 3, steps: int = 3000, batch_size: int = 32, lr: float = 1e-4,
                regression_lr: float = 0.1, seed: int = 0, eval_every: int = 250, key: str | None = None,
                data: BenchmarkFeatures | None = None, command: str | None = None, name: str | None = None,
                weight_decay: float = 5e-3, normalize: bool = False, mask_padding: bool = False, log=print,
                device: str | torch.device = "cpu") -> dict:
    """Train the graph re-localization model (or its CNN ablation) on ``device`` (TAG's proposals
    are made once, on the CPU); select by val mAP@1 averaged
    over seed 001's thresholds. Writes ``<out>/<name>.safetensors`` (default ``graph_<n>x<k>``
    or ``graph_cnn``). ``weight_decay``: λ of the triplet loss's ``λ‖θ‖²`` (seed 001: 5e-3);
    ``normalize``, ``mask_padding``: the adjacency options of :class:`GraphRelocConfig`."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = data or BenchmarkFeatures(benchmark, key)
    model = GraphReLocalization(GraphRelocConfig(feature_dim=data.feature_dim, layers=layers, graphs=graphs,
                                                 convolution=convolution, normalize=normalize,
                                                 mask_padding=mask_padding))
    model.set_normalization(*data.normalization("train"))
    device = torch.device(device)
    place(model, device)
    scorer = load_checkpoint(actionness)[0]
    log(f"[graph] TAG proposals of {len(data.reference_ids)} references")
    proposals = reference_proposals(data, scorer)
    annotated = _annotated(data)
    usable = {r for r, p in proposals.items() if len(p) and len(annotated[r])}
    train_queries = [q for q in data.benchmark.queries_of("train") if set(data.positives(q)) & usable]
    val_pairs = [p for p in evaluation_pairs(data, "val", 1, seed) if p[1] in usable]

    def triplet() -> tuple:
        query = train_queries[rng.integers(len(train_queries))]
        positives = data.positives(query)
        positive = sorted(set(positives) & usable)[rng.integers(len(set(positives) & usable))]
        negatives = sorted(usable - set(positives))
        negative = negatives[rng.integers(len(negatives))]
        p_span, truth = best_matching(proposals[positive], positives[positive])
        n_span, _ = best_matching(proposals[negative], annotated[negative])
        return (torch.from_numpy(data.queries[query.id]), clip(data.references[positive], data.durations[positive], *p_span),
                clip(data.references[negative], data.durations[negative], *n_span), p_span, truth)

    def step() -> dict:
        batch = [triplet() for _ in range(batch_size)]
        queries, positives, negatives, spans, truths = zip(*batch)
        queries, positives, negatives = to_device((list(queries), list(positives), list(negatives)), device)
        score_p, offsets = model(queries, positives)
        score_n, _ = model(queries, negatives)
        tri = triplet_loss(score_p, score_n, model.triplet_parameters(), weight_decay=weight_decay)
        targets = regression_targets(torch.tensor(np.array(spans), dtype=torch.float32),
                                     torch.tensor(np.array(truths), dtype=torch.float32))
        reg = regression_loss(offsets, targets.to(device))
        return {"loss": tri + reg, "triplet": tri.detach(), "regression": reg.detach()}

    def validate() -> dict:
        values = E.map_at_1(graph_top1_tious(model, data, val_pairs, proposals))
        return {"mAP@1 mean": round(float(np.mean(list(values.values()))), 4), "mAP@1 0.5": round(values[0.5], 4)}

    name = name or ("graph_cnn" if convolution == "cnn" else f"graph_{layers}x{graphs}")
    history, seconds = fit(model, step, validate, "mAP@1 mean", steps, lr, eval_every, name, log,
                           lr_scale={"regression_head.": regression_lr / lr if lr > 0 else 0.0})
    meta = {"metrics": {"val": validate()}, "history": history, "train_seconds": round(seconds, 1),
            "actionness": os.path.basename(actionness),
            **_meta(data, benchmark, command, steps=steps, batch_size=batch_size, lr=lr, regression_lr=regression_lr,
                    seed=seed, loss=f"triplet (γ 0.5, λ {weight_decay:g}) + L1 regression (μ 1, regression module only)")}
    save_checkpoint(model, os.path.join(out, f"{name}.safetensors"), "graph_reloc", model.config.to_dict(), **meta)
    return meta


def graph_top1_tious(model: GraphReLocalization, data: BenchmarkFeatures, pairs: list[tuple],
                     proposals: Proposals) -> list[float]:
    """Per pair, the tIoU of the refined best proposal with the pair's moments."""
    out = []
    for query, ref, truth in pairs:
        found, _ = graph_moments(model, data.queries[query.id], data.references[ref], data.durations[ref],
                                 proposals[ref])
        out.append(float(E.tiou(found[0, :2], truth).max()) if len(found) else 0.0)
    return out


# ----------------------------------------------------------------------------- baselines

def frame_level_top1_tious(data: BenchmarkFeatures, pairs: list[tuple]) -> list[float]:
    out = []
    for query, ref, truth in pairs:
        start, end, _ = frame_level_localize(data.queries[query.id], data.references[ref])
        scale = data.durations[ref] / data.references[ref].shape[1]
        out.append(float(E.tiou([start * scale, end * scale], truth).max()))
    return out


def chance_top1_tious(pairs: list[tuple], proposals: Proposals, seed: int = 0, draws: int = 20) -> list[float]:
    """The tIoU of a random TAG proposal, averaged over ``draws`` draws per pair."""
    rng = np.random.default_rng(seed)
    return [float(np.mean([E.tiou(chance_top1(proposals[ref], rng)[:2], truth).max() for _ in range(draws)]))
            if len(proposals[ref]) else 0.0 for _, ref, truth in pairs]


def train_video_level(benchmark: str, out: str, steps: int = 2000, batch_size: int = 32, lr: float = 1e-3,
                      margin: float = 0.2, seed: int = 0, eval_every: int = 250, key: str | None = None,
                      actionness: str | None = None, data: BenchmarkFeatures | None = None,
                      command: str | None = None, log=print, device: str | torch.device = "cpu") -> dict:
    """Train the video-level LSTM baseline on ``device``: clips of the query's reference with tIoU >
    0.8 (positives) and < 0.2 (negatives) with its moment, ranked by cosine with a margin."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = data or BenchmarkFeatures(benchmark, key)
    device = torch.device(device)
    model = VideoLevelLSTM(VideoLevelConfig(feature_dim=data.feature_dim))
    model.set_normalization(*data.normalization("train"))
    place(model, device)
    train_queries = [q for q in data.benchmark.queries_of("train") if data.positives(q)]
    scorer = load_checkpoint(actionness)[0] if actionness else None
    val_pairs = evaluation_pairs(data, "val", 1, seed)
    val_proposals = reference_proposals(data, scorer, sorted({p[1] for p in val_pairs})) if scorer else None

    def window(duration: float, truth: np.ndarray, positive: bool) -> tuple[float, float]:
        for _ in range(100):
            length = (truth[1] - truth[0]) * rng.uniform(0.7, 1.3)
            start = rng.uniform(0, max(duration - length, 1e-3))
            overlap = E.tiou([start, start + length], truth[None])[0, 0]
            if (overlap > 0.8) if positive else (overlap < 0.2):
                return start, start + length
        return (float(truth[0]), float(truth[1])) if positive else (0.0, min(duration, 1.0))

    def step() -> dict:
        queries, positives, negatives = [], [], []
        for _ in range(batch_size):
            query = train_queries[rng.integers(len(train_queries))]
            moments = data.positives(query)
            ref = sorted(moments)[rng.integers(len(moments))]
            truth = moments[ref][rng.integers(len(moments[ref]))]
            features, duration = data.references[ref], data.durations[ref]
            queries.append(torch.from_numpy(data.queries[query.id]))
            positives.append(clip(features, duration, *window(duration, truth, True)))
            negatives.append(clip(features, duration, *window(duration, truth, False)))
        queries, positives, negatives = to_device((queries, positives, negatives), device)
        loss = torch.clamp(margin - model(queries, positives) + model(queries, negatives), min=0).mean()
        return {"loss": loss}

    def validate() -> dict:
        if val_proposals is None:
            return {"mAP@1 0.5": 0.0}
        values = E.map_at_1(video_level_top1_tious(model, data, val_pairs, val_proposals))
        return {"mAP@1 0.5": round(values[0.5], 4), "mAP@1 mean": round(float(np.mean(list(values.values()))), 4)}

    history, seconds = fit(model, step, validate, "mAP@1 0.5", steps, lr, eval_every, "video_level", log)
    meta = {"metrics": {"val": validate()}, "history": history, "train_seconds": round(seconds, 1),
            **_meta(data, benchmark, command, steps=steps, batch_size=batch_size, lr=lr, margin=margin, seed=seed,
                    loss="margin ranking on cosine, positives tIoU > 0.8, negatives < 0.2 in the same reference")}
    save_checkpoint(model, os.path.join(out, "video_level.safetensors"), "video_level", model.config.to_dict(), **meta)
    return meta


@torch.no_grad()
def video_level_top1_tious(model: VideoLevelLSTM, data: BenchmarkFeatures, pairs: list[tuple],
                           proposals: Proposals) -> list[float]:
    """The proposal closest to the query (cosine of the LSTM codes) per pair: its tIoU."""
    model.eval()
    out = []
    for query, ref, truth in pairs:
        candidates = proposals[ref]
        if not len(candidates):
            out.append(0.0)
            continue
        device = network_device(model)
        clips = [clip(data.references[ref], data.durations[ref], s, e).to(device) for s, e in candidates[:, :2]]
        scores = model([torch.from_numpy(data.queries[query.id]).to(device)] * len(clips), clips)
        out.append(float(E.tiou(candidates[int(scores.argmax()), :2], truth).max()))
    return out


def map_localizer_top1_tious(model, data: BenchmarkFeatures, pairs: list[tuple]) -> list[float]:
    """A seed-000 map localizer (ATLN, BMN, the sliding window) on the same pairs: its best moment."""
    from .stage2 import localize

    out = []
    for query, ref, truth in pairs:
        best = localize(model, data, query.id, ref, top_k=1)
        out.append(float(E.tiou(best[0, :2], truth).max()) if len(best) else 0.0)
    return out


def table_row(tious: list[float]) -> dict:
    """Seed 001's Table 1 row: mAP@1 at each threshold (keys ``"0.5"`` …)."""
    return {f"{t:g}": v for t, v in E.map_at_1(tious).items()}

