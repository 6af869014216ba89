"""From confidence maps to moments: scoring, soft-NMS, conversion to seconds."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluation import tiou


def map_proposals(m_c: np.ndarray, m_r: np.ndarray, duration: float, keep: np.ndarray | None = None) -> np.ndarray:
    """All valid proposals of ``(T, D)`` maps as rows ``(start_s, end_s, m_c·m_r, m_c, m_r)``.

    Proposal ``(s, d)`` covers steps ``[s, s + d + 1)`` of a reference resized to ``T`` steps.
    ``keep``: ``(T, D)`` bool, only those proposals (e.g. BMN's boundary filter).
    """
    length = m_c.shape[0]
    valid = np.add.outer(np.arange(length), np.arange(m_c.shape[1])) < length
    starts, durations = np.nonzero(valid if keep is None else valid & keep)
    step = duration / length
    c, r = m_c[starts, durations], m_r[starts, durations]
    return np.stack([starts * step, (starts + durations + 1) * step, c * r, c, r], axis=1)


#: BMN's soft-NMS gate ``(low, high)``: a proposal's score decays only when its tIoU with the
#: chosen one exceeds ``low + (high − low) × width``, the chosen one's width relative to the video
BMN_GATE = (0.5, 0.9)


def soft_nms(proposals: np.ndarray, sigma: float = 0.4, top_k: int = 100, min_score: float = 0.0,
             gate: tuple[float, float] | None = None, duration: float | None = None) -> np.ndarray:
    """Gaussian soft-NMS: take the best proposal, decay every other's score by
    ``exp(-tIoU² / sigma)``, repeat. Rows are ``(start, end, score, ...)``; returns up to
    ``top_k`` rows with their decayed scores, best first.

    Args:
        gate: None (the paper's text: every overlapping proposal decays) or ``(low, high)``
            (BMN's post-processing, :data:`BMN_GATE`): only proposals with tIoU above
            ``low + (high − low) × width / duration`` decay, so wide chosen proposals spare more.
        duration: the video's length, for the gate's relative width.
    """
    if gate is not None and not duration:
        raise ValueError("a gated soft-NMS needs the video's duration")
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
            decay = np.exp(-(overlap ** 2) / sigma)
            if gate is not None:
                low, high = gate
                threshold = low + (high - low) * (chosen[1] - chosen[0]) / duration
                decay = np.where(overlap > threshold, decay, 1.0)
            rows[:, 2] *= decay
    return np.array(kept).reshape(-1, proposals.shape[1])


@dataclass(frozen=True)
class PostProcessing:
    """How maps become proposals: Gaussian soft-NMS as the paper writes it (every overlap decays)
    or gated as BMN's code (:data:`BMN_GATE`); optionally BMN's start/end filter (only proposals
    whose start and end are TEM peaks, :func:`boundary_mask`). The
    score stays ``M_C · M_R``."""
    gate: tuple[float, float] | None = None
    boundary_filter: bool = False

    def describe(self) -> str:
        nms = "soft-NMS gated as BMN" if self.gate else "soft-NMS (paper)"
        return nms + (" + start/end filter" if self.boundary_filter else "")


#: the paper's post-processing (what the app and ``search`` use)
PAPER_POSTPROCESSING = PostProcessing()


def boundary_candidates(probabilities: np.ndarray) -> np.ndarray:
    """BMN's post-processing filter on one boundary curve ``(T,)``: steps that are a local peak
    or above half the curve's maximum, plus the first step (for starts; pass the reversed curve
    for ends to get the last). Returns ``(T,)`` bool."""
    keep = probabilities > 0.5 * probabilities.max()
    keep[1:-1] |= (probabilities[1:-1] > probabilities[:-2]) & (probabilities[1:-1] > probabilities[2:])
    keep[0] = True
    return keep


def boundary_mask(probabilities: np.ndarray, max_duration: int | None = None) -> np.ndarray:
    """``(T, D)`` bool: proposals ``(s, d)`` whose start step s and end step s + d are both
    candidates (:func:`boundary_candidates`) of the ``(2, T)`` start / end curves."""
    starts = boundary_candidates(probabilities[0])
    ends = boundary_candidates(probabilities[1][::-1])[::-1]
    length = probabilities.shape[1]
    durations = np.arange(max_duration or length)
    end_steps = np.arange(length)[:, None] + durations[None, :]
    inside = end_steps < length
    return starts[:, None] & inside & ends[np.minimum(end_steps, length - 1)]
