"""2D-TAN with its sentence branch replaced by a video-query branch (the paper's Table 8 baseline).

    reference (B, C_o, L) ─resize to N clips─► conv ─► f (B, H, N)
        ─max-pool over every [s, s+d]─► 2D map (B, H, N, D)
    query (B, C_o, L_q) ─conv, mean over time─► q (B, H)
    fused = normalize(map ⊙ q) ─► 4 × Conv2d(k=5) ─► 1×1 conv ─► σ ─► score map (B, N, D)

Trained with 2D-TAN's scaled-IoU binary cross entropy. Maps are indexed ``[start, duration]``
(zero where ``start + duration ≥ N``) so they plug into the same post-processing; ``M_R`` is 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register
from .normalization import Standardized
from .retrieval import resize_features


@dataclass(frozen=True)
class Tan2dConfig:
    feature_dim: int = 1280
    clips: int = 64          # N
    hidden: int = 128
    layers: int = 4
    kernel: int = 5

    def to_dict(self) -> dict:
        return asdict(self)


class VideoQueryTAN(Standardized):
    def __init__(self, config: Tan2dConfig = Tan2dConfig()):
        super().__init__(config.feature_dim)
        self.config = config
        h = config.hidden
        self.reference_conv = nn.Conv1d(config.feature_dim, h, 1)
        self.query_conv = nn.Conv1d(config.feature_dim, h, 1)
        convs = []
        for _ in range(config.layers):
            convs += [nn.Conv2d(h, h, config.kernel, padding=config.kernel // 2), nn.ReLU(inplace=True)]
        self.map_convs = nn.Sequential(*convs)
        self.score = nn.Conv2d(h, 1, 1)
        n = config.clips
        self.register_buffer("valid", (torch.arange(n)[:, None] + torch.arange(n)[None, :]) < n, persistent=False)

    def encode_query(self, query: torch.Tensor) -> torch.Tensor:
        """``(B, C_o, L_q) → (B, H)``."""
        return self.query_conv(self._normalize(query)).mean(dim=-1)

    def encode_reference(self, reference: torch.Tensor) -> torch.Tensor:
        """``(B, C_o, L) → (B, H, N)``."""
        return self.reference_conv(resize_features(self._normalize(reference), self.config.clips))

    def proposal_map(self, clips: torch.Tensor) -> torch.Tensor:
        """Max-pooled features of every ``[s, s + d]``: ``(B, H, N) → (B, H, N, D)``."""
        n = clips.shape[-1]
        columns, running = [clips], clips
        for d in range(1, n):
            running = torch.maximum(running[..., :-1], clips[..., d:])          # covers [s, s + d]
            columns.append(F.pad(running, (0, d)))
        return torch.stack(columns, dim=-1)

    def maps_from_encodings(self, q: torch.Tensor, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fused = F.normalize(self.proposal_map(clips) * q[:, :, None, None], dim=1)
        scores = torch.sigmoid(self.score(self.map_convs(fused)))[:, 0] * self.valid
        return scores, self.valid.float().expand_as(scores)

    def forward(self, query: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.maps_from_encodings(self.encode_query(query), self.encode_reference(reference))


def scaled_iou_loss(scores: torch.Tensor, iou: torch.Tensor, valid: torch.Tensor,
                    low: float = 0.5, high: float = 1.0) -> torch.Tensor:
    """2D-TAN's loss: BCE against ``clamp((IoU − low) / (high − low), 0, 1)`` on valid entries."""
    target = ((iou - low) / (high - low)).clamp(0, 1)
    loss = F.binary_cross_entropy(scores.clamp(1e-6, 1 - 1e-6), target, reduction="none")
    return (loss * valid).sum() / valid.sum().clamp(min=1) / scores.shape[0]


@register("tan2d")
def _build(config: dict) -> VideoQueryTAN:
    return VideoQueryTAN(Tan2dConfig(**config))
