"""The Temporal Shift Module (TSM, Lin et al. 2019).

Frames of a clip are stacked in the batch: ``x`` has shape ``(N * T, C, H, W)`` with the ``T``
frames of each of the ``N`` clips consecutive. Of the ``C`` channels, the first ``C // fold_div``
are shifted one step towards earlier frames (frame t receives frame t+1's values), the next
``C // fold_div`` one step towards later frames (frame t receives frame t-1's), and the rest stay;
positions shifted in from outside the clip are zero.

In the "blockres" placement the shift sits in the residual branch, before the first convolution
of a block, which :class:`TemporalShift` provides by wrapping that convolution as ``.net`` (so
parameter names carry ``.net`` as in the official checkpoints).
"""
from __future__ import annotations

import torch
from torch import nn


def temporal_shift(x: torch.Tensor, num_segments: int, fold_div: int = 8) -> torch.Tensor:
    """Shift 1/fold_div of channels backward and 1/fold_div forward in time, zero padded.

    Args:
        x: ``(N * num_segments, C, H, W)`` (any trailing dims after C are allowed).
    Returns:
        Tensor of the same shape.
    """
    nt, channels = x.shape[:2]
    if nt % num_segments:
        raise ValueError(f"batch of {nt} frames is not a multiple of num_segments={num_segments}")
    clips = x.view(nt // num_segments, num_segments, *x.shape[1:])
    fold = channels // fold_div
    out = torch.zeros_like(clips)
    out[:, :-1, :fold] = clips[:, 1:, :fold]                   # from the next frame
    out[:, 1:, fold:2 * fold] = clips[:, :-1, fold:2 * fold]   # from the previous frame
    out[:, :, 2 * fold:] = clips[:, :, 2 * fold:]
    return out.view_as(x)


class TemporalShift(nn.Module):
    """Applies :func:`temporal_shift` then the wrapped layer ``net``."""

    def __init__(self, net: nn.Module, num_segments: int = 8, fold_div: int = 8):
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.fold_div = fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(temporal_shift(x, self.num_segments, self.fold_div))

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, fold_div={self.fold_div}"


def set_num_segments(model: nn.Module, num_segments: int) -> None:
    """Change the clip length every TemporalShift in ``model`` expects."""
    for module in model.modules():
        if isinstance(module, TemporalShift):
            module.num_segments = num_segments
