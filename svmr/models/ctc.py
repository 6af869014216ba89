"""Concept-wise Temporal Convolution (CTC).

A feature tensor ``(B, C, L, F_in)`` is read as ``C`` concepts, each with a length-``L`` signal of
``F_in`` values. One bank of ``F_out`` temporal 1×3 filters (over the ``F_in`` inputs) is applied
to every concept separately, so the same temporal patterns are looked for in all concepts:

    (B, C, L, F_in) ──stack the 3 time shifts──► (B, C, L, 3·F_in) ──@ W (3·F_in, F_out)──► (B, C, L, F_out)

(the same numbers as a ``Conv1d(F_in, F_out, 3, padding=1)`` run over every concept's signal, whose
weights it keeps, but as one matrix product: convolution kernels are slow on ``B·C`` tiny signals).

A plain temporal Conv1D (the paper's ablation, :class:`TemporalConv`) instead mixes all channels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class ConceptTemporalConv(nn.Module):
    """CTC layer: ``(B, C, L, F_in) → (B, C, L, F_out)``, filters shared across concepts."""

    def __init__(self, in_filters: int, out_filters: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(in_filters, out_filters, kernel_size, padding=kernel_size // 2)
        # Start near the identity: every output filter = the mean of the inputs at the centre tap
        # (+ a little of the default random init to break symmetry), bias 0. One bank of filters
        # serves all concepts, so with the default init a 1→1 layer (3 weights and a bias) followed
        # by a ReLU can switch a whole branch off: seen here, the decoders output constants and
        # the reconstruction loss never reached the encoders.
        with torch.no_grad():
            self.conv.weight.mul_(0.1)
            self.conv.weight[:, :, kernel_size // 2] += 1.0 / in_filters
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[-1] == self.conv.in_channels, \
            f"expected (B, C, L, {self.conv.in_channels}), got {tuple(x.shape)}"
        length, kernel = x.shape[2], self.conv.kernel_size[0]
        half = kernel // 2
        if self.conv.in_channels <= self.conv.out_channels:
            # few inputs: stack the shifted inputs, then one product
            padded = F.pad(x, (0, 0, half, half))                                       # pad time
            windows = torch.cat([padded[:, :, k:k + length] for k in range(kernel)], dim=-1)  # (B,C,L,k·F_in)
            return windows @ rearrange(self.conv.weight, "o i k -> (k i) o") + self.conv.bias
        # few outputs: one product per tap, then add the shifted results
        taps = x @ rearrange(self.conv.weight, "o i k -> i (k o)")                       # (B, C, L, k·F_out)
        taps = F.pad(rearrange(taps, "b c l (k o) -> b c l k o", k=kernel), (0, 0, 0, 0, half, half))
        out = sum(taps[:, :, k:k + length, k] for k in range(kernel))                   # output t takes x[t+k-half]
        return out + self.conv.bias


class TemporalConv(nn.Module):
    """The Conv1D ablation with the CTC interface (``F = 1`` in and out): a temporal 1×3
    convolution that mixes all ``C`` channels, ``(B, C, L, 1) → (B, C, L, 1)``."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[-1] == 1, f"expected (B, C, L, 1), got {tuple(x.shape)}"
        return self.conv(x.squeeze(-1)).unsqueeze(-1)
