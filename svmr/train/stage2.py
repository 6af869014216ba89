"""Training and evaluation of the stage-2 re-localization network on a benchmark's features.

    python -m svmr train stage2 --benchmark data/benchmark [--steps 1500] [--fusion attn_prod]

Training pairs: a train-split query and a reference holding its class (other classes in the
reference are background). Validation: AR@AN / AUC over (val query, positive reference) pairs;
the best weights by val AUC are kept and written with config, metrics and command.
"""
from __future__ import annotations

import os
from dataclasses import asdict

import numpy as np
import torch

from .. import evaluation as E
from ..checkpoints import save_checkpoint
from ..data.datasets import BenchmarkFeatures, features_config
from ..models import video_reloc
from ..models.relocalization import ReLocalizationNetwork, Stage2Config
from ..models.tan2d import Tan2dConfig, VideoQueryTAN, scaled_iou_loss
from ..models.video_reloc import CrossGatedMatching, VideoRelocConfig, boundary_labels
from .bmn_targets import boundary_loss, boundary_targets, gt_iou_map, proposal_loss
from ..pipelines.networks import map_moments
from ..postprocess import PAPER_POSTPROCESSING, PostProcessing
from ..device import network_device, place
from .loop import fit, to_device


def evaluation_pairs(data: BenchmarkFeatures, split: str, per_query: int, seed: int = 0) -> list[tuple]:
    """Up to ``per_query`` (query, reference id, positive segments) pairs per query of ``split``."""
    rng = np.random.default_rng(seed)
    pairs = []
    for query in data.benchmark.queries_of(split):
        positives = data.positives(query)
        refs = sorted(positives)
        for ref in rng.permutation(refs)[:per_query]:
            pairs.append((query, str(ref), positives[str(ref)]))
    return pairs


@torch.no_grad()
def localize(model: ReLocalizationNetwork, data: BenchmarkFeatures, query_id: str, ref_id: str,
             top_k: int = 100, post: PostProcessing = PAPER_POSTPROCESSING) -> np.ndarray:
    """Soft-NMS'd proposals ``(K, 5)`` rows ``(start_s, end_s, score, m_c, m_r)`` for one pair:
    the search's own stage 2 (:func:`~svmr.pipelines.networks.map_moments`)."""
    device = network_device(model)
    query = model.encode_query(torch.from_numpy(data.queries[query_id])[None].to(device))
    return map_moments(model, query, data.references[ref_id], data.durations[ref_id], top_k, post).moments


#: the tIoU threshold sets AR can average over: ActivityNet's and BMN's, and seed 000's text
TIOU_SETS = {"activitynet": E.ACTIVITYNET_TIOUS, "seed000": E.SVMR_TIOUS}
TIOU_LABELS = {"activitynet": "0.5:0.05:0.95", "seed000": "0.5:0.1:0.9"}


def localization_metrics(model: ReLocalizationNetwork, data: BenchmarkFeatures, pairs: list[tuple],
                         top_k: int = 100, tious: str = "activitynet",
                         post: PostProcessing = PAPER_POSTPROCESSING) -> dict:
    """AR@1/5/10/100 and AUC over query–reference pairs, recall averaged over the ``tious`` set
    (:data:`TIOU_SETS`), and the AUC over the other set too (``AUC <thresholds>``); with
    ``top_k = 1`` only AR@1 is meaningful."""
    model.eval()
    proposals = [localize(model, data, q.id, ref, top_k=top_k, post=post)[:, :3] for q, ref, _ in pairs]
    return proposal_metrics(proposals, [gt for _, _, gt in pairs], top_k, tious)


def proposal_metrics(proposals: list[np.ndarray], ground_truth: list, top_k: int = 100,
                     tious: str = "activitynet") -> dict:
    """:func:`localization_metrics` of given proposals: ``(K, 3)`` rows ``(start_s, end_s, score)``
    per pair, best first, and each pair's ground-truth segments."""
    _, average, an = E.average_recall_vs_an(proposals, ground_truth, max_an=100, tious=TIOU_SETS[tious])
    if top_k == 1:
        return {"AR@1": round(float(average[-1]), 4)}
    metrics = E.ar_at(average, an, (1, 5, 10, 100))
    metrics["AUC"] = E.auc_ar_an(average, an)
    for name, thresholds in TIOU_SETS.items():
        if name != tious:
            _, other, other_an = E.average_recall_vs_an(proposals, ground_truth, max_an=100, tious=thresholds)
            metrics[f"AUC {TIOU_LABELS[name]}"] = E.auc_ar_an(other, other_an)
    return {k: round(v, 4) for k, v in metrics.items()}


def _iou_targets(batch: list[tuple[list, float]], length: int) -> torch.Tensor:
    return torch.stack([gt_iou_map(segments, duration, length) for segments, duration in batch])


def _build(method: str, feature_dim: int, generator: torch.Generator, device: torch.device):
    """``(model, checkpoint kind, config, map length, loss(model, f_c, f_r, batch))`` for a
    stage-2 method, the model on ``device``; ``batch`` lists ``(positive segments, duration)`` per
    item (its targets are made on the CPU and moved to ``device``)."""
    if method == "tan2d":
        config = Tan2dConfig(feature_dim=feature_dim)
        model = place(VideoQueryTAN(config), device)

        def loss(model, f_c, f_r, batch):
            scores, _ = model.maps_from_encodings(f_c, f_r)
            return {"loss": scaled_iou_loss(scores, _iou_targets(batch, config.clips).to(device), model.valid.float())}
        return model, "tan2d", config, config.clips, loss
    if method == "video_reloc":
        config = VideoRelocConfig(feature_dim=feature_dim)
        model = place(CrossGatedMatching(config), device)

        def loss(model, f_c, f_r, batch):
            labels = torch.stack([boundary_labels(segments, duration, config.length)
                                  for segments, duration in batch]).to(device)
            return {"loss": video_reloc.boundary_loss(model.step_logits(f_c, f_r), labels)}
        return model, "video_reloc", config, config.length, loss
    config = Stage2Config(feature_dim=feature_dim, fusion=method)
    model = place(ReLocalizationNetwork(config), device)
    valid = model.bm.valid_mask().to(device)

    def loss(model, f_c, f_r, batch):
        m_c, m_r = model.maps_from_encodings(f_c, f_r)
        losses = proposal_loss(m_c, m_r, _iou_targets(batch, config.length).to(device), valid, generator=generator)
        if model.tem is not None:     # the paper: temporal and proposal evaluation losses jointly (BMN's sum)
            targets = torch.stack([boundary_targets(segments, duration, config.length)
                                   for segments, duration in batch]).to(device)
            tem = boundary_loss(model.boundary_probabilities(f_r), targets)
            losses = {**losses, "loss": losses["loss"] + tem, "tem": tem.detach()}
        return losses
    return model, "stage2", config, config.length, loss


def train_stage2(benchmark: str, out: str, fusion: str = "attn_prod", steps: int = 3000, batch_size: int = 8,
                 lr: float = 1e-3, seed: int = 0, eval_every: int = 250, val_pairs_per_query: int = 1,
                 key: str | None = None, data: BenchmarkFeatures | None = None, command: str | None = None,
                 log=print, device: str | torch.device = "cpu") -> dict:
    """Train one stage-2 method (an ATLN fusion, ``"none"`` for BMN, or ``"tan2d"``) on ``device``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = data or BenchmarkFeatures(benchmark, key)
    generator = torch.Generator().manual_seed(seed)
    device = torch.device(device)
    model, kind, config, length, loss_fn = _build(fusion, data.feature_dim, generator, device)
    model.set_normalization(*data.normalization("train"))
    references = data.resized_references(length)
    index = {r: i for i, r in enumerate(data.reference_ids)}
    train_queries = [q for q in data.benchmark.queries_of("train") if data.positives(q)]
    val_pairs = evaluation_pairs(data, "val", val_pairs_per_query, seed)
    top_k = 1 if kind == "video_reloc" else 100  # that method predicts one moment per video

    def step() -> dict:
        queries, refs, batch = [], [], []
        for _ in range(batch_size):
            query = train_queries[rng.integers(len(train_queries))]
            positives = data.positives(query)
            ref = sorted(positives)[rng.integers(len(positives))]
            queries.append(torch.from_numpy(data.queries[query.id]))
            refs.append(references[index[ref]])
            batch.append(([tuple(s) for s in positives[ref]], data.durations[ref]))
        f_c = torch.cat([model.encode_query(q[None]) for q in to_device(queries, device)])
        return loss_fn(model, f_c, model.encode_reference(torch.stack(refs).to(device)), batch)

    select = "AR@1" if top_k == 1 else "AUC"
    history, train_seconds = fit(model, step, lambda: localization_metrics(model, data, val_pairs, top_k), select,
                                 steps, lr, eval_every, fusion, log)
    metrics = {"val": localization_metrics(model, data, val_pairs, top_k)}
    meta = {
        "metrics": metrics, "history": history, "train_seconds": round(train_seconds, 1),
        "training": {"method": fusion, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                     "loss": {"tan2d": "scaled-IoU BCE", "video_reloc": "boundary BCE"}.get(
                         kind, "BMN: TEM (start/end) + L_C + 10 L_R" if getattr(model, "tem", None) is not None
                         else "BMN proposal evaluation: L_C + 10 L_R")},
        "data": {"benchmark": benchmark, "benchmark_seed": data.benchmark.seed,
                 "features": data.key,
                 "extractor": asdict(features_config(benchmark, data.key)), "train_queries": len(train_queries)},
        "command": command,
    }
    path = os.path.join(out, f"stage2_{fusion}.safetensors")
    save_checkpoint(model, path, kind, config.to_dict(), **meta)
    log(f"[{fusion}] wrote {path}: val {metrics['val']}")
    return meta
