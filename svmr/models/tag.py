"""Temporal Actionness Grouping (TAG; Zhao et al., "Temporal action detection with structured
segment networks"), the proposal generator seed 001 uses for reference videos.

1. An **actionness scorer** gives each feature step the probability that some action (any
   annotated moment) is happening: :class:`ActionnessScorer`, trained on the training split's
   references with a class-balanced binary cross-entropy.
2. **Grouping** (:func:`group_actionness`), a repurposed watershed: for every flooding threshold
   τ, steps with actionness > τ are "positive"; for every tolerance η, a region starts at a
   positive step and grows while at least a share η of its steps are positive, and ends at its
   last positive step. The regions of all (τ, η) pairs, deduplicated and thinned by NMS at tIoU
   0.95, are the proposals.

Where the seed and TAG's paper leave it open: the scorer is a two-layer temporal convolution on the
standardized features; τ runs over 0.05:0.05:0.95 and η over TAG's published list.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..device import network_device
from .registry import register
from ..evaluation import tiou
from .normalization import Standardized

#: flooding thresholds τ and tolerances η
THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))
TOLERANCES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class ActionnessConfig:
    feature_dim: int = 1280
    hidden: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class ActionnessScorer(Standardized):
    """``(B, C_o, L)`` raw features → ``(B, L)`` actionness probabilities."""

    def __init__(self, config: ActionnessConfig = ActionnessConfig()):
        super().__init__(config.feature_dim)
        self.config = config
        self.net = nn.Sequential(nn.Conv1d(config.feature_dim, config.hidden, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv1d(config.hidden, 1, 1))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(self._normalize(features))[:, 0]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(features))


def actionness_labels(segments, duration: float, length: int) -> torch.Tensor:
    """``(L,)`` 1 where a step's centre lies inside an annotated moment (seconds)."""
    centres = (torch.arange(length, dtype=torch.float32) + 0.5) * duration / length
    labels = torch.zeros(length)
    for start, end in segments:
        labels[(centres >= start) & (centres < end)] = 1.0
    return labels


def actionness_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with positives and negatives weighted to count equally."""
    positive = labels.sum().clamp(min=1.0)
    negative = (1 - labels).sum().clamp(min=1.0)
    weights = labels * (labels.numel() / (2 * positive)) + (1 - labels) * (labels.numel() / (2 * negative))
    return nn.functional.binary_cross_entropy_with_logits(logits, labels, weight=weights)


def _regions(positive: np.ndarray, tolerance: float) -> list[tuple[int, int]]:
    """Regions ``[start, end)`` (steps) grown from each positive step while the positive share stays
    ≥ ``tolerance``, ended at their last positive step.

    In O(L): with ``g[k] = (positives before k) − tolerance · k``, a region from ``s`` keeps step
    ``j`` while ``g[j + 1] ≥ g[s]``, so it breaks at the next ``k > s`` with ``g[k] < g[s]`` (a
    monotonic stack finds it for every ``s`` at once)."""
    length = len(positive)
    positions = np.flatnonzero(positive)
    g = np.concatenate([[0.0], np.cumsum(positive, dtype=np.float64)]) - tolerance * np.arange(length + 1)
    stop, stack = np.full(length + 1, length + 1), []
    for k, value in enumerate((g + 1e-9).tolist()):          # 1e-9: a share exactly at the tolerance keeps growing
        while stack and value < g[stack[-1]]:
            stop[stack.pop()] = k
        stack.append(k)
    regions, next_free = [], 0
    for start in positions.tolist():
        if start < next_free:
            continue
        end = min(int(stop[start]) - 1, length)            # steps start .. end − 1 keep the share
        last = int(positions[np.searchsorted(positions, end) - 1])
        regions.append((start, last + 1))
        next_free = last + 1
    return regions


def nms(segments: np.ndarray, scores: np.ndarray, threshold: float = 0.95) -> np.ndarray:
    """Indices of ``segments`` kept by hard NMS at tIoU ``threshold`` (best score first)."""
    order, kept = np.argsort(-scores, kind="stable"), []
    for index in order:
        if not kept or tiou(segments[index], segments[kept]).max() <= threshold:
            kept.append(index)
    return np.array(kept, dtype=int)


def group_actionness(actionness: np.ndarray, thresholds=THRESHOLDS, tolerances=TOLERANCES,
                     nms_threshold: float = 0.95) -> np.ndarray:
    """TAG proposals of one actionness curve ``(L,)``: rows ``(start_step, end_step, score)``
    (end exclusive; score = the region's mean actionness), best first."""
    found = set()
    for threshold in thresholds:
        positive = actionness > threshold
        for tolerance in tolerances:
            found.update(_regions(positive, tolerance))
    if not found:
        return np.zeros((0, 3))
    segments = np.array(sorted(found), dtype=np.float64)
    scores = np.array([actionness[int(s):int(e)].mean() for s, e in segments])
    kept = nms(segments, scores, nms_threshold)
    return np.concatenate([segments[kept], scores[kept, None]], axis=1)


@torch.no_grad()
def tag_proposals(scorer: ActionnessScorer, features: np.ndarray, duration: float) -> np.ndarray:
    """TAG proposals of one reference: rows ``(start_s, end_s, score)``, best first."""
    scorer.eval()
    device = network_device(scorer)
    curve = scorer(torch.from_numpy(features)[None].to(device))[0].cpu().numpy()
    steps = group_actionness(curve)
    scale = duration / features.shape[1]
    return np.concatenate([steps[:, :2] * scale, steps[:, 2:]], axis=1)



@register("actionness")
def _build_actionness(config: dict) -> ActionnessScorer:
    return ActionnessScorer(ActionnessConfig(**config))
