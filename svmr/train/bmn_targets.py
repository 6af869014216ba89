"""BMN's training targets and losses, as stage 2 of seed 000 (:mod:`svmr.models.relocalization`)
is trained with them (:mod:`svmr.train.stage2`): the proposals' tIoU map, the temporal evaluation
module's boundary labels, and the two losses."""
from __future__ import annotations

import torch


def gt_iou_map(segments: list[tuple[float, float]], duration: float, length: int) -> torch.Tensor:
    """``(T, D)`` max tIoU of proposal ``[s, s + d + 1)`` steps with the positive segments."""
    starts = torch.arange(length, dtype=torch.float32)[:, None]
    ends = starts + torch.arange(1, length + 1, dtype=torch.float32)[None, :]
    out = torch.zeros(length, length)
    for start, end in segments:
        gs, ge = start / duration * length, end / duration * length
        inter = (torch.minimum(ends, torch.tensor(ge)) - torch.maximum(starts, torch.tensor(gs))).clamp(min=0)
        union = (ends - starts) + (ge - gs) - inter
        out = torch.maximum(out, inter / union.clamp(min=1e-6))
    return out * (ends <= length).float()  # valid where start + duration < T


def boundary_targets(segments: list[tuple[float, float]], duration: float, length: int) -> torch.Tensor:
    """BMN's TEM labels ``(2, T)``: for each step, the largest share of its boundary anchor that
    lies within 3 steps centred on a positive segment's start (row 0) or end (row 1).

    The start anchor of step t spans ``[t − 0.5, t + 0.5]`` around the step's beginning, its end
    anchor ``[t + 0.5, t + 1.5]`` around the step's end (in steps of a reference resized to T).
    """
    steps = torch.arange(length, dtype=torch.float32)
    out = torch.zeros(2, length)
    for row, (anchor_lo, anchor_hi) in enumerate(((steps - 0.5, steps + 0.5), (steps + 0.5, steps + 1.5))):
        for start, end in segments:
            centre = (start if row == 0 else end) / duration * length
            inter = (torch.minimum(anchor_hi, torch.tensor(centre + 1.5))
                     - torch.maximum(anchor_lo, torch.tensor(centre - 1.5))).clamp(min=0)
            out[row] = torch.maximum(out[row], inter / (anchor_hi - anchor_lo))
    return out


def boundary_loss(probabilities: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BMN's TEM loss: a class-balanced binary logistic loss for starts plus one for ends
    (positives: label > 0.5). ``probabilities``, ``targets``: ``(B, 2, T)``."""
    eps = 1e-6
    total = probabilities.new_zeros(())
    for row in range(2):
        p, label = probabilities[:, row].reshape(-1), targets[:, row].reshape(-1)
        positive = (label > 0.5).float()
        ratio = len(positive) / positive.sum().clamp(min=1.0)
        coef_positive = 0.5 * ratio
        coef_negative = 0.5 * ratio / (ratio - 1).clamp(min=eps)
        total = total - (coef_positive * torch.log(p + eps) * positive
                         + coef_negative * torch.log(1 - p + eps) * (1 - positive)).mean()
    return total


def proposal_loss(m_c: torch.Tensor, m_r: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor,
                  reg_weight: float = 10.0, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """BMN's proposal evaluation loss: weighted binary logistic ``L_C`` (positives tIoU > 0.9)
    + ``reg_weight`` × balanced L2 ``L_R``. Guarded: no NaN when a batch has no positives.

    Args:
        m_c, m_r, gt: ``(B, T, D)``; valid: ``(T, D)`` bool.
    """
    eps = 1e-6
    valid = valid.float().expand_as(gt)
    positive = (gt > 0.9).float() * valid
    negative = (gt <= 0.9).float() * valid
    entries = valid.sum()
    num_positive = positive.sum()
    ratio = entries / num_positive.clamp(min=1.0)
    coef_positive = 0.5 * ratio
    coef_negative = 0.5 * ratio / (ratio - 1).clamp(min=eps)
    cls = -(coef_positive * torch.log(m_c + eps) * positive
            + coef_negative * torch.log(1 - m_c + eps) * negative).sum() / entries.clamp(min=1.0)

    high = (gt > 0.7).float() * valid
    medium = ((gt > 0.3) & (gt <= 0.7)).float() * valid
    low = (gt <= 0.3).float() * valid
    n_high, n_medium, n_low = high.sum(), medium.sum(), low.sum()
    # drawn on the generator's device (the CPU: the same draws wherever the maps are), then moved
    keep_medium = torch.rand(gt.shape, generator=generator).to(gt.device) < (n_high / n_medium.clamp(min=1.0))
    keep_low = torch.rand(gt.shape, generator=generator).to(gt.device) < (n_high / n_low.clamp(min=1.0))
    weights = high + medium * keep_medium.float() + low * keep_low.float()  # all zero without high entries
    reg = 0.5 * (((m_r - gt) ** 2) * weights).sum() / weights.sum().clamp(min=1.0)
    return {"loss": cls + reg_weight * reg, "cls": cls.detach(), "reg": reg.detach()}
