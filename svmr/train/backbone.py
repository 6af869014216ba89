"""Fine-tune the EfficientNet-Lite0 TSM backbone on the train classes' query clips.

The analogue of TSM's Kinetics pre-training: ImageNet weights know appearance but their shift
layers were never trained, and the benchmark's classes differ by motion. The network learns to
classify the 40 train classes from short clips (consecutive feature steps at the extractor's
rate and size, the shift running along the clip as it does during extraction); batch-norm
statistics stay frozen at their ImageNet values, so extraction (eval mode) sees the same
normalization as training. Validation and test classes are never seen: the selection metric is
class-retrieval mAP among the val queries, each clip mean-pooled, cosine similarity.

    clip (T, 128, 128, 3) uint8 ──backbone (shift over T)──► (T, 1280) ──mean──► (1280,) ──linear──► 40 logits
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import video as V
from ..checkpoints import save_checkpoint
from ..data.benchmark import Benchmark
from ..features.efficientnet_lite import EfficientNetLite0TSM
from ..features.extractor import ExtractorConfig, frames_to_input, pixel_statistics
from ..features.temporal_shift import set_num_segments
from .loop import fit


def load_clips(root: str, split: str, config: ExtractorConfig) -> tuple[list[np.ndarray], list[str]]:
    """Decoded query clips of one split: uint8 ``(L_i, size, size, 3)`` each, and their labels."""
    benchmark = Benchmark.load(os.path.join(root, "manifest.json"))
    clips, labels = [], []
    for query in benchmark.queries_of(split):
        path = os.path.join(root, "queries", f"{query.id}.mp4")
        frames, _ = V.read_frames(path, rate=config.rate, size=(config.size, config.size))
        clips.append(frames)
        labels.append(query.label)
    return clips, labels


class ClipClassifier(torch.nn.Module):
    """Backbone + linear head; ``forward`` takes normalized frames ``(B*T, 3, H, W)``."""

    def __init__(self, num_classes: int, fold_div: int = 8, train_from_block: int = 0):
        super().__init__()
        self.backbone = EfficientNetLite0TSM(fold_div=fold_div, pretrained=True)
        net = self.backbone.net
        for module in [net._conv_stem, net._bn0, *net._blocks[:train_from_block]]:
            module.requires_grad_(False)
        self.head = torch.nn.Linear(self.backbone.feature_dim, num_classes)
        pixel_mean, pixel_std = pixel_statistics(self.backbone)
        self.register_buffer("pixel_mean", pixel_mean, persistent=False)
        self.register_buffer("pixel_std", pixel_std, persistent=False)

    def train(self, mode: bool = True):
        super().train(mode)
        # the backbone always runs as in extraction: frozen batch-norm statistics, and no
        # stochastic depth (it would drop residual branches frame by frame)
        self.backbone.eval()
        return self

    def clip_features(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, T, H, W, 3)`` → per-step features ``(B, T, 1280)``."""
        b, t = clips.shape[:2]
        x = frames_to_input(clips.flatten(0, 1), self.pixel_mean, self.pixel_std)
        set_num_segments(self.backbone, t)
        return self.backbone(x).view(b, t, -1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.clip_features(clips).mean(dim=1))


def random_windows(clips: list[np.ndarray], indices: np.ndarray, length: int,
                   rng: np.random.Generator) -> np.ndarray:
    """A random window of ``length`` consecutive steps from each chosen clip (short clips are
    padded by repeating their last frame): uint8 ``(B, length, H, W, 3)``."""
    out = []
    for index in indices:
        clip = clips[index]
        if len(clip) < length:
            clip = np.concatenate([clip, np.repeat(clip[-1:], length - len(clip), axis=0)])
        start = int(rng.integers(0, len(clip) - length + 1))
        out.append(clip[start:start + length])
    return np.stack(out)


@torch.no_grad()
def pooled_features(model: ClipClassifier, clips: list[np.ndarray]) -> torch.Tensor:
    """Each whole clip through the backbone, mean-pooled and L2-normalized: ``(N, 1280)``."""
    model.eval()
    device = model.pixel_mean.device
    return F.normalize(torch.stack([model.clip_features(torch.from_numpy(c)[None].to(device))[0].mean(0).cpu()
                                    for c in clips]), dim=1)


def class_retrieval_map(embeddings: torch.Tensor, labels: list[str]) -> dict:
    """Each clip queries all others by cosine similarity: mAP and 1-NN accuracy of the class."""
    similarity = embeddings @ embeddings.T
    similarity.fill_diagonal_(float("-inf"))
    target = np.array(labels)
    aps, hits = [], []
    for i in range(len(labels)):
        order = torch.argsort(similarity[i], descending=True)[:-1].numpy()
        relevant = target[order] == target[i]
        if not relevant.any():
            continue
        precision = np.cumsum(relevant) / np.arange(1, len(relevant) + 1)
        aps.append(float((precision * relevant).sum() / relevant.sum()))
        hits.append(bool(relevant[0]))
    return {"map": float(np.mean(aps)), "nn_acc": float(np.mean(hits))}


def finetune_backbone(root: str, steps: int = 1500, batch_size: int = 6, length: int = 12, lr: float = 3e-5,
                      eval_every: int = 250, seed: int = 0, train_from_block: int = 6,
                      config: ExtractorConfig = ExtractorConfig(), log=print,
                      device: str | torch.device = "cpu") -> tuple[EfficientNetLite0TSM, dict]:
    """Fine-tune on the train split on ``device``, select by val class-retrieval mAP.

    Returns:
        ``(backbone with the best weights, metrics)``; metrics hold the val (and test) retrieval
        scores before and after, the history and the training time.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.time()
    train_clips, train_labels = load_clips(root, "train", config)
    val_clips, val_labels = load_clips(root, "val", config)
    log(f"[backbone] decoded {len(train_clips)} train / {len(val_clips)} val clips ({time.time() - started:.0f} s)")
    classes = sorted(set(train_labels))
    device = torch.device(device)
    targets = torch.tensor([classes.index(label) for label in train_labels], device=device)
    model = ClipClassifier(len(classes), config.fold_div, train_from_block).to(device, memory_format=torch.channels_last)

    def step() -> dict:
        chosen = rng.integers(0, len(train_clips), batch_size)
        batch = torch.from_numpy(random_windows(train_clips, chosen, length, rng)).to(device)
        logits = model(batch)
        loss = F.cross_entropy(logits, targets[chosen])
        return {"loss": loss, "acc": (logits.argmax(1) == targets[chosen]).float().mean()}

    def validate() -> dict:
        return class_retrieval_map(pooled_features(model, val_clips), val_labels)

    before = validate()
    log(f"[backbone] val before fine-tuning: {before}")
    # the new classifier learns much faster than the pretrained layers (Adam moves every weight
    # by about lr per step: 1e-4 on all layers wrecked the ImageNet features here)
    lr_scale = {"head.": 30.0}
    history, seconds = fit(model, step, validate, "map", steps, lr, eval_every, "backbone", log, lr_scale=lr_scale)
    after = validate()
    test_clips, test_labels = load_clips(root, "test", config)
    metrics = {"val_before": before, "val": after, "history": history, "train_seconds": round(seconds, 1),
               "test": class_retrieval_map(pooled_features(model, test_clips), test_labels),
               "classes": classes,
               "settings": {"steps": steps, "batch_size": batch_size, "length": length, "lr": lr,
                            "lr_scale": lr_scale, "train_from_block": train_from_block, "seed": seed}}
    with torch.no_grad():
        pretrained = ClipClassifier(1, config.fold_div).to(device)
        metrics["test_before"] = class_retrieval_map(pooled_features(pretrained, test_clips), test_labels)
    log(f"[backbone] val after {after} test before {metrics['test_before']} after {metrics['test']}")
    return model.backbone.cpu().eval(), metrics


def save_backbone(root: str, out: str, name: str = "backbone_motion", command: str = "", **kw) -> str:
    """Fine-tune (see :func:`finetune_backbone`) and write ``out/<name>.safetensors`` + JSON."""
    config = ExtractorConfig()
    backbone, metrics = finetune_backbone(root, config=config, **kw)
    settings = metrics.pop("settings")
    return save_checkpoint(backbone, os.path.join(out, f"{name}.safetensors"), "efficientnet_lite0_tsm",
                           {"fold_div": config.fold_div}, metrics=metrics, training=settings,
                           data={"benchmark": os.path.abspath(root), "split": "train", "rate": config.rate,
                                 "size": config.size}, command=command)
