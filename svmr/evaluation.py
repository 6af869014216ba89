"""Metrics of the two papers.

Segments are ``(start, end)`` pairs in seconds (or any common unit).

* :func:`tiou` — temporal intersection over union.
* Stage 1 (seed 000): :func:`hit_rate_at_k` (HR@K) and :func:`map_at_k` (mAP@K) over ranked
  relevance lists; :func:`video_relevance` / :func:`clip_relevance` build those lists
  (a retrieved clip is relevant when its tIoU with a positive ground truth exceeds ``tau``).
* Stage 2 (seed 000, after the ActivityNet proposal evaluation): :func:`average_recall_vs_an`
  gives AR at each average number of proposals (AN) per video, recall averaged over the tIoU
  thresholds, and :func:`auc_ar_an` the area under that curve.
* End to end (seed 000): :func:`precision_at_n`.
* Seed 001: :func:`map_at_1` at its tIoU thresholds.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

#: Thresholds of the ActivityNet proposal evaluation (0.5:0.05:0.95), used by default for AR.
ACTIVITYNET_TIOUS = np.linspace(0.5, 0.95, 10)
#: Thresholds seed 000 states for AR (0.5:0.1:0.9).
SVMR_TIOUS = np.linspace(0.5, 0.9, 5)
#: Thresholds of seed 001's mAP@1 table.
GRAPH_RELOC_TIOUS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def tiou(segments: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Temporal IoU of every segment with every target.

    Args:
        segments: ``(N, 2)`` (or ``(2,)``) start/end pairs.
        targets: ``(M, 2)`` (or ``(2,)``) start/end pairs.
    Returns:
        ``(N, M)`` array in [0, 1]; zero-length unions give 0.
    """
    seg, tgt, inter = _intersections(segments, targets)
    union = (seg[:, None, 1] - seg[:, None, 0]) + (tgt[None, :, 1] - tgt[None, :, 0]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _intersections(segments, targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, 2)`` segments, ``(M, 2)`` targets and the ``(N, M)`` lengths they share."""
    seg = np.atleast_2d(np.asarray(segments, dtype=np.float64)).reshape(-1, 2)
    tgt = np.atleast_2d(np.asarray(targets, dtype=np.float64)).reshape(-1, 2)
    inter = (np.minimum(seg[:, None, 1], tgt[None, :, 1])
             - np.maximum(seg[:, None, 0], tgt[None, :, 0])).clip(min=0)
    return seg, tgt, inter


# ----------------------------------------------------------------------------- stage 1

def shorter_overlap(segments: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The share of the shorter of each segment and each target that lies in both: ``(N, M)`` in
    [0, 1] for ``(N, 2)`` and ``(M, 2)`` start/end pairs (1 when one holds the other; zero-length
    segments give 0)."""
    seg, tgt, inter = _intersections(segments, targets)
    shorter = np.minimum(seg[:, None, 1] - seg[:, None, 0], tgt[None, :, 1] - tgt[None, :, 0])
    return np.divide(inter, shorter, out=np.zeros_like(inter), where=shorter > 0)


def inside_share(start: float, end: float, spans) -> float:
    """The largest share of ``[start, end)`` that lies inside one of ``spans`` ``[[s, e], ...]``
    (0 with none)."""
    length = max(end - start, 1e-9)
    return max((max(0.0, min(e, end) - max(s, start)) / length for s, e in spans), default=0.0)


def video_relevance(ranked_videos: Sequence[str], positives: set[str] | Mapping) -> np.ndarray:
    """1 where a ranked video contains a positive moment for the query (``positives``: ids)."""
    return np.array([video in positives for video in ranked_videos], dtype=bool)


def clip_relevance(ranked_clips: Sequence[tuple[str, float, float]],
                   positives: Mapping[str, np.ndarray], tau: float = 0.5) -> np.ndarray:
    """1 where a ranked clip ``(video, start, end)`` has tIoU > ``tau`` with a positive
    ground truth of its video (``positives``: video id → ``(M, 2)`` segments)."""
    rel = []
    for video, start, end in ranked_clips:
        gt = positives.get(video)
        rel.append(gt is not None and len(gt) > 0 and bool((tiou([start, end], gt) > tau).any()))
    return np.array(rel, dtype=bool)


def hit_rate_at_k(relevance: Sequence[np.ndarray], k: int) -> float:
    """HR@K: share of queries with at least one relevant item in their top K."""
    if not len(relevance):
        return 0.0
    return float(np.mean([bool(np.asarray(rel[:k]).any()) for rel in relevance]))


def average_precision_at_k(relevance: np.ndarray, k: int, num_relevant: int | None = None) -> float:
    """AP@K of one ranked list: the sum of precision@i over the relevant ranks i <= K, divided by

    * ``min(K, num_relevant)`` when ``num_relevant`` (R, the relevant items in the whole gallery)
      is given — the usual convention: missing a relevant item lowers AP;
    * the number of relevant items found in the top K when it is None — a single hit at rank 1
      then gives AP@K = 1 whatever else was missed (the convention of earlier svmr tables).

    0 when no relevant item is in the top K (or R = 0). AP@1 equals the hit at rank 1 either way.
    """
    rel = np.asarray(relevance[:k], dtype=np.float64)
    if rel.sum() == 0:
        return 0.0
    precision = np.cumsum(rel) / np.arange(1, len(rel) + 1)
    denominator = rel.sum() if num_relevant is None else min(k, num_relevant)
    return float((precision * rel).sum() / denominator)


def map_at_k(relevance: Sequence[np.ndarray], k: int, num_relevant: Sequence[int] | None = None) -> float:
    """mAP@K: AP@K averaged over queries (``num_relevant``: R per query, see
    :func:`average_precision_at_k`; None: the found-relevant denominator)."""
    if not len(relevance):
        return 0.0
    counts = [None] * len(relevance) if num_relevant is None else num_relevant
    return float(np.mean([average_precision_at_k(rel, k, r) for rel, r in zip(relevance, counts)]))


# ----------------------------------------------------------------------------- stage 2

def average_recall_vs_an(proposals: Sequence[np.ndarray], ground_truth: Sequence[np.ndarray],
                         max_an: float = 100.0, tious: np.ndarray = ACTIVITYNET_TIOUS,
                         steps: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average recall against the average number of proposals per video (ActivityNet style).

    Each "video" is one evaluation unit (for SVMR: one query–reference pair). Its proposals are
    taken best first; a ground truth counts as recalled at threshold t when any kept proposal
    has tIoU >= t with it. As in the ActivityNet evaluation, every video keeps the same fraction
    of its proposals, scaled so that on average ``max_an`` are kept at the last step.

    Args:
        proposals: per video, ``(P, 3)`` rows ``(start, end, score)`` (any order).
        ground_truth: per video, ``(G, 2)`` segments (videos without any are skipped).
        tious: tIoU thresholds; recall is averaged over them.
    Returns:
        ``(recall, average_recall, an)``: ``(len(tious), steps)``, ``(steps,)`` and the average
        number of proposals per video at each step ``(steps,)``.
    """
    pairs = [(np.asarray(p, dtype=np.float64).reshape(-1, 3), np.asarray(g, dtype=np.float64).reshape(-1, 2))
             for p, g in zip(proposals, ground_truth) if len(g)]
    if not pairs:
        raise ValueError("no ground truth to evaluate against")
    total = sum(len(p) for p, _ in pairs)
    if total == 0:
        zeros = np.zeros(steps)
        return np.zeros((len(tious), steps)), zeros, zeros
    ratio = max_an * len(pairs) / total
    scores, kept_total = [], 0
    for props, gt in pairs:
        props = props[np.argsort(-props[:, 2], kind="stable")]
        keep = min(int(len(props) * ratio), len(props))
        kept_total += keep
        scores.append(tiou(gt, props[:keep, :2]))  # (G, keep)
    fractions = np.arange(1, steps + 1) / steps * (max_an * len(pairs) / max(kept_total, 1))
    positives = sum(s.shape[0] for s in scores)
    recall = np.zeros((len(tious), steps))
    for score in scores:
        if score.shape[1] == 0:                   # a video that kept no proposal: its ground truth is missed
            continue
        counts = np.minimum((score.shape[1] * fractions).astype(int), score.shape[1])   # (steps,)
        for ti, threshold in enumerate(tious):
            hits = score >= threshold                                                   # (G, keep)
            first = np.where(hits.any(axis=1), hits.argmax(axis=1), np.iinfo(np.int64).max)
            recall[ti] += (first[:, None] < counts[None, :]).sum(axis=0)              # recalled within n
    recall /= positives
    an = fractions * kept_total / len(pairs)
    return recall, recall.mean(axis=0), an


def ar_at(average_recall: np.ndarray, an: np.ndarray, values: Sequence[float] = (1, 5, 10, 100)) -> dict:
    """AR at given AN values (the last step whose AN does not exceed each value)."""
    out = {}
    for value in values:
        idx = np.searchsorted(an, value + 1e-9) - 1
        out[f"AR@{value:g}"] = float(average_recall[idx]) if idx >= 0 else 0.0
    return out


def auc_ar_an(average_recall: np.ndarray, an: np.ndarray) -> float:
    """Area under the AR–AN curve, normalised by the largest AN (so in [0, 1])."""
    if len(an) < 2 or an[-1] <= 0:
        return 0.0
    return float(np.trapezoid(average_recall, an) / an[-1])


# ----------------------------------------------------------------------------- end to end

def precision_at_n(ranked_relevance: Sequence[np.ndarray], n: int) -> float:
    """Prec@N: per query, the share of its top-N retrieved clips that are relevant (a list
    shorter than N counts its missing entries as misses); averaged over queries."""
    if not len(ranked_relevance):
        return 0.0
    return float(np.mean([np.asarray(rel[:n], dtype=np.float64).sum() / n for rel in ranked_relevance]))


# ----------------------------------------------------------------------------- seed 001

def map_at_1(top1_tious: Sequence[float], thresholds: Sequence[float] = GRAPH_RELOC_TIOUS) -> dict:
    """Seed 001's mAP@1: the share of queries whose top-1 prediction has tIoU > threshold.

    Args:
        top1_tious: per query, the tIoU of its single best prediction with its ground truth.
    Returns:
        ``{threshold: value}``.
    """
    values = np.asarray(top1_tious, dtype=np.float64)
    if values.size == 0:
        return {float(t): 0.0 for t in thresholds}
    return {float(t): float((values > t).mean()) for t in thresholds}
