"""From confidence maps to moments: scoring, soft-NMS, conversion to seconds."""
from __future__ import annotations

import numpy as np

from .evaluation import tiou


def map_proposals(m_c: np.ndarray, m_r: np.ndarray, duration: float) -> np.ndarray:
    """All valid proposals of ``(T, D)`` maps as rows ``(start_s, end_s, m_c·m_r, m_c, m_r)``.

    Proposal ``(s, d)`` covers steps ``[s, s + d + 1)`` of a reference resized to ``T`` steps.
    """
    length = m_c.shape[0]
    starts, durations = np.nonzero(np.add.outer(np.arange(length), np.arange(m_c.shape[1])) < length)
    step = duration / length
    c, r = m_c[starts, durations], m_r[starts, durations]
    return np.stack([starts * step, (starts + durations + 1) * step, c * r, c, r], axis=1)


def soft_nms(proposals: np.ndarray, sigma: float = 0.4, top_k: int = 100, min_score: float = 0.0) -> np.ndarray:
    """Gaussian soft-NMS: take the best proposal, decay every other's score by
    ``exp(-tIoU² / sigma)``, repeat. Rows are ``(start, end, score, ...)``; returns up to
    ``top_k`` rows with their decayed scores, best first."""
    rows = proposals.copy()
    kept = []
    while len(rows) and len(kept) < top_k:
        best = int(np.argmax(rows[:, 2]))
        if rows[best, 2] < min_score:
            break
        chosen = rows[best].copy()
        kept.append(chosen)
        rows = np.delete(rows, best, axis=0)
        if len(rows):
            overlap = tiou(rows[:, :2], chosen[None, :2])[:, 0]
            rows[:, 2] *= np.exp(-(overlap ** 2) / sigma)
    return np.array(kept).reshape(-1, proposals.shape[1])
