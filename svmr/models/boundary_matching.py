"""BMN's boundary-matching (BM) layer, dense and fused.

For a proposal starting at step ``s`` with duration index ``d`` (it ends at ``s + d``), BMN
samples the region ``[s − 0.5(d+1), s + d + 0.5(d+1)]`` at ``N·3`` evenly spaced points, gives
each point linear-interpolation weights on its two neighbouring steps, and averages 3 points per
bin, giving ``N`` bins. Stacked over all proposals this is a ``T × (N·D·T)`` matrix; the BM
feature map is ``F_r[c, n, d, s] = Σ_t f[c, t] · mask[t, n, d, s]`` (valid where ``s + d < T``).

The public BMN code multiplies by that dense matrix and then applies a ``Conv3d`` with kernel
``(N, 1, 1)``. Both are linear, so they commute: projecting the sequence first,
``G[o, n, t] = Σ_c W[o, c, n] f[c, t]``, and then sampling ``G`` with the (very sparse) mask gives
the same numbers with a fraction of the work (:meth:`BoundaryMatching.project_and_sample`).

Maps are indexed ``[start, duration]`` (``(T, D)``), entries with ``s + d ≥ T`` are zero.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn


def _bin_weights(xmin: float, xmax: float, length: int, num_bins: int, per_bin: int) -> np.ndarray:
    """``(length, num_bins)`` interpolation weights of one proposal (BMN's reference rules,
    including its handling of sample points left of step 0 through ``math.modf``)."""
    step = (xmax - xmin) / (num_bins * per_bin - 1.0)
    points = [xmin + step * i for i in range(num_bins * per_bin)]
    weights = np.zeros((length, num_bins))
    for n in range(num_bins):
        for point in points[n * per_bin:(n + 1) * per_bin]:
            fraction, floor = math.modf(point)
            lower, upper = int(floor), int(math.ceil(point))
            if 0 <= lower < length:
                weights[lower, n] += 1 - fraction
            if 0 <= upper < length:
                weights[upper, n] += fraction
    return weights / per_bin


def sampling_mask(length: int, num_bins: int = 32, max_duration: int | None = None, per_bin: int = 3,
                  boundary_ratio: float = 0.5) -> np.ndarray:
    """The dense BM sampling mask ``(T, N, D, T)``: ``[t, n, d, s]`` (zero where ``s + d ≥ T``)."""
    durations = max_duration or length
    mask = np.zeros((length, num_bins, durations, length), dtype=np.float32)
    for s in range(length):
        for d in range(durations):
            if s + d < length:
                margin = (d + 1) * boundary_ratio
                mask[:, :, d, s] = _bin_weights(s - margin, s + d + margin, length, num_bins, per_bin)
    return mask


class BoundaryMatching(nn.Module):
    """The BM layer for sequences of ``length`` steps.

    Args:
        length: ``T`` (l_r = 100 in the paper).
        num_bins: ``N`` samples per proposal (32).
        max_duration: ``D`` (default ``T``).
    """

    def __init__(self, length: int = 100, num_bins: int = 32, max_duration: int | None = None):
        super().__init__()
        self.length, self.num_bins = length, num_bins
        self.max_duration = max_duration or length
        dense = sampling_mask(length, num_bins, self.max_duration)                   # (T, N, D, S)
        starts, durations = np.nonzero(np.add.outer(np.arange(length), np.arange(self.max_duration)) < length)
        self.register_buffer("valid_start", torch.from_numpy(starts), persistent=False)
        self.register_buffer("valid_duration", torch.from_numpy(durations), persistent=False)
        # sparse (P, N·T): row p = proposal (starts[p], durations[p]); column n·T + t
        per_proposal = dense[:, :, durations, starts]                                 # (T, N, P)
        rows = torch.from_numpy(per_proposal.transpose(2, 1, 0).reshape(len(starts), num_bins * length))
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the ops used here are stable
            warnings.simplefilter("ignore", UserWarning)
            self.register_buffer("sparse_mask", rows.to_sparse_csr(), persistent=False)

    @property
    def num_proposals(self) -> int:
        return len(self.valid_start)

    def dense_feature_map(self, features: torch.Tensor) -> torch.Tensor:
        """The reference BM feature map: ``(B, C, T) → (B, C, N, D, T_start)`` by one dense
        ``T × (N·D·T)`` matrix product, as in the public BMN code."""
        batch, channels, _ = features.shape
        dense = torch.from_numpy(sampling_mask(self.length, self.num_bins, self.max_duration))
        out = features @ dense.reshape(self.length, -1).to(features)
        return out.view(batch, channels, self.num_bins, self.max_duration, self.length)

    def project_and_sample(self, features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``Conv3d(kernel=(N,1,1))`` applied to the BM feature map, without building it.

        Args:
            features: ``(B, C, T)``.
            weight: ``(O, C, N)`` (a Conv3d weight ``(O, C, N, 1, 1)`` squeezed), or ``(B, O, C, N)``
                for a different weight per batch item.
        Returns:
            ``(B, O, P)``: one value per valid proposal (no bias).
        """
        batch, outputs = features.shape[0], weight.shape[-3]
        if weight.ndim == 3:
            projected = torch.einsum("ocn,bct->bont", weight, features)              # (B, O, N, T)
        else:
            projected = torch.einsum("bocn,bct->bont", weight, features)
        flat = projected.reshape(batch * outputs, -1).T                               # (N·T, B·O)
        sampled = torch.sparse.mm(self.sparse_mask.to(flat.dtype), flat)              # (P, B·O)
        return sampled.T.reshape(batch, outputs, -1)

    def to_map(self, values: torch.Tensor, fill: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, O, P)`` per-proposal values → ``(B, O, T_start, D)`` maps; invalid entries hold
        ``fill`` ``(B, O)`` (per channel; zeros when None)."""
        batch, channels, _ = values.shape
        if fill is None:
            out = values.new_zeros(batch, channels, self.length, self.max_duration)
        else:
            out = fill[:, :, None, None].expand(batch, channels, self.length, self.max_duration).clone()
        out[:, :, self.valid_start, self.valid_duration] = values
        return out

    def valid_mask(self) -> torch.Tensor:
        """``(T_start, D)`` boolean: where ``start + duration < T``."""
        mask = torch.zeros(self.length, self.max_duration, dtype=torch.bool)
        mask[self.valid_start, self.valid_duration] = True
        return mask
