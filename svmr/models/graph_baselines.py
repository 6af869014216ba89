"""The baselines of seed 001's Table 1 (after Feng et al., "Video re-localization", 2018).

* **Frame-level** (no training, :func:`frame_level_localize`): L2-normalized features, the distance
  table ``D[i, j] = ‖q_i − r_j‖²``, and the path through it from the query's first step to its
  last (moving one step in the query, the reference or both) with the smallest mean distance, found
  by dynamic programming; the output is the reference stretch the path covers.
* **Video-level** (:class:`VideoLevelLSTM`): an LSTM encodes a clip; its L2-normalized last hidden
  state represents it. Trained with a margin ranking loss on clips of the query's own reference
  (positives tIoU > 0.8 with the moment, negatives < 0.2); at test time the proposal whose
  representation is closest to the query's wins.
* **Chance**: a proposal drawn at random (:func:`chance_top1`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .registry import register
from .graph_reloc import standardized_steps
from .normalization import Standardized


def frame_level_localize(query: np.ndarray, reference: np.ndarray) -> tuple[int, int, float]:
    """The reference stretch ``[start, end)`` (steps) whose alignment with the whole query has the
    smallest mean squared distance, and that mean.

    Args:
        query: ``(C, m)``, reference: ``(C, n)`` features (any scale: rows are L2-normalized here).
    """
    q = query / np.linalg.norm(query, axis=0, keepdims=True).clip(min=1e-8)
    r = reference / np.linalg.norm(reference, axis=0, keepdims=True).clip(min=1e-8)
    distance = np.clip(2.0 - 2.0 * (q.T @ r), 0.0, None)                       # (m, n)
    m, n = distance.shape
    total = np.full((m, n), np.inf)
    count = np.zeros((m, n), dtype=np.int64)
    origin = np.zeros((m, n), dtype=np.int64)
    total[0], count[0], origin[0] = distance[0], 1, np.arange(n)              # a path may start anywhere
    for i in range(m):
        for j in range(n):
            if i == 0 and j == 0:
                continue
            best = (total[i, j], count[i, j], origin[i, j]) if i == 0 else (np.inf, 0, 0)
            for pi, pj in ((i - 1, j - 1), (i - 1, j), (i, j - 1)):
                if pi < 0 or pj < 0 or not np.isfinite(total[pi, pj]):
                    continue
                candidate = (total[pi, pj] + distance[i, j], count[pi, pj] + 1, origin[pi, pj])
                if candidate[0] / candidate[1] < best[0] / max(best[1], 1) or not np.isfinite(best[0]):
                    best = candidate
            total[i, j], count[i, j], origin[i, j] = best
    mean = total[m - 1] / np.maximum(count[m - 1], 1)
    end = int(np.argmin(mean))
    return int(origin[m - 1, end]), end + 1, float(mean[end])


def chance_top1(proposals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of ``proposals`` (rows ``(start, end, ...)``) drawn uniformly."""
    return proposals[rng.integers(len(proposals))]


@dataclass(frozen=True)
class VideoLevelConfig:
    feature_dim: int = 1280
    steps: int = 40
    hidden: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class VideoLevelLSTM(Standardized):
    """``encode(sequences)`` → L2-normalized last LSTM hidden states ``(B, d)``."""

    def __init__(self, config: VideoLevelConfig = VideoLevelConfig()):
        super().__init__(config.feature_dim)
        self.config = config
        self.lstm = nn.LSTM(config.feature_dim, config.hidden, batch_first=True)

    def encode(self, sequences: list[torch.Tensor]) -> torch.Tensor:
        padded, mask = standardized_steps(self, sequences, self.config.steps)
        outputs = self.lstm(padded.transpose(1, 2))[0]                                   # (B, T, d)
        last = outputs[torch.arange(len(sequences), device=mask.device), mask.sum(1) - 1]   # the last real step
        return F.normalize(last, dim=1)

    def forward(self, queries: list[torch.Tensor], clips: list[torch.Tensor]) -> torch.Tensor:
        """Cosine similarity of each query with its clip ``(B,)``."""
        return (self.encode(queries) * self.encode(clips)).sum(1)


@register("video_level")
def _build_video_level(config: dict) -> VideoLevelLSTM:
    return VideoLevelLSTM(VideoLevelConfig(**config))
