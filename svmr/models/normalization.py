"""Per-channel feature standardization shared by every model (statistics set from training data)."""
from __future__ import annotations

import torch
from torch import nn


class Standardized(nn.Module):
    """Base for models on raw feature sequences ``(B, C, L)``: holds ``mean``/``std`` buffers
    (saved with the weights) and standardizes inputs with them."""

    def __init__(self, feature_dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("std", torch.ones(feature_dim))

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=1e-3))

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean[None, :, None]) / self.std[None, :, None]
