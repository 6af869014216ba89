"""Concept-wise Temporal Convolution (CTC).

A feature tensor ``(B, C, L, F_in)`` is read as ``C`` concepts, each with a length-``L`` signal of
``F_in`` values. One bank of ``F_out`` temporal 1×3 filters (over the ``F_in`` inputs) is applied
to every concept separately, so the same temporal patterns are looked for in all concepts:

    (B, C, L, F_in) ──rearrange──► (B·C, F_in, L) ──Conv1d(F_in→F_out, k=3)──► (B, C, L, F_out)

A plain temporal Conv1D (the paper's ablation, :class:`TemporalConv`) instead mixes all channels.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


class ConceptTemporalConv(nn.Module):
    """CTC layer: ``(B, C, L, F_in) → (B, C, L, F_out)``, filters shared across concepts."""

    def __init__(self, in_filters: int, out_filters: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(in_filters, out_filters, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[-1] == self.conv.in_channels, \
            f"expected (B, C, L, {self.conv.in_channels}), got {tuple(x.shape)}"
        batch = x.shape[0]
        y = self.conv(rearrange(x, "b c l f -> (b c) f l"))
        return rearrange(y, "(b c) f l -> b c l f", b=batch)


class TemporalConv(nn.Module):
    """The Conv1D ablation with the CTC interface (``F = 1`` in and out): a temporal 1×3
    convolution that mixes all ``C`` channels, ``(B, C, L, 1) → (B, C, L, 1)``."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[-1] == 1, f"expected (B, C, L, 1), got {tuple(x.shape)}"
        return self.conv(x.squeeze(-1)).unsqueeze(-1)
