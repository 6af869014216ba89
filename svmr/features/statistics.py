"""The gallery's mean feature and the step descriptors centred on it: what the stage-1 index keeps
for a gallery (from per-video sums) and what the models compare, so neither layer owns the other's type."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FrameStatistics:
    """The gallery's mean feature ``(C,)``, from per-video sums (so adding or removing a video
    updates it without reading the others)."""

    mean: np.ndarray
    change_weight: float = 0.5   # β

    @classmethod
    def from_sums(cls, sums: list[np.ndarray], counts: list[int]) -> "FrameStatistics":
        """Per-video feature sums ``(C,)`` and step counts → the mean over every step."""
        total = np.sum(sums, axis=0) if sums else None
        count = max(1, int(np.sum(counts)))
        return cls((total / count).astype(np.float32) if total is not None else np.zeros(0, np.float32))

    def descriptors(self, features: np.ndarray) -> np.ndarray:
        """``(C, L)`` raw features → unit-norm step descriptors ``(2C, L)``: the centred step and
        ``β`` × its change from the previous step (the first step uses the second's change)."""
        appearance = unit_columns(features - self.mean[:, None])
        change = np.diff(features, axis=1)
        change = np.concatenate([change[:, :1], change], axis=1) if change.shape[1] else np.zeros_like(features)
        return unit_columns(np.concatenate([appearance, self.change_weight * unit_columns(change)]))


def unit_columns(x: np.ndarray) -> np.ndarray:
    """``(C, L)`` → every column scaled to unit L2 norm (float32; a zero column stays zero)."""
    return (x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-6)).astype(np.float32)
