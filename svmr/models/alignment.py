"""The default pipeline for real footage: multi-scale window retrieval and frame alignment.

Training-free, on the extractor's per-step features (no statistics from procedural video):

* **Frame descriptors.** Every step is centred with the *gallery's* mean feature and L2
  normalized (:class:`~svmr.features.statistics.FrameStatistics`). ImageNet features are all positive (after ReLU and
  pooling), so raw cosines of unrelated frames sit near 0.8; centring puts them near 0 and
  makes a cosine a measure of what two frames share beyond "a video frame". The step's change
  from the previous step (L2 normalized, weight ``β = 0.5``) is appended, so what moves in a
  shot counts beside what it shows (a street camera's people over its fixed background).
* **Stage 1** (:class:`WindowRetrieval`): each video is stored as the mean descriptors of windows
  of 2, 4, 8 and 16 s (half-window stride; one whole-video vector when it is shorter), so a short
  clip meets windows of about its own length instead of a quarter of the video. Score
  ``p = (1 + max_w cos(mean(Q) − μ, mean(W) − μ)) / 2``, grouped by video.
* **Stage 2** (:class:`AlignmentLocalizer`): the query × reference step similarity matrix ``S``
  (centred cosines); for every start ``s`` (one per step) and duration ``d`` (0.5× to 2× the
  query, in 9 geometric steps) the query is laid over ``[s, s + d)`` and ``M(s, d)`` is the mean
  of ``S`` along that path (linear interpolation): a start × duration map whose resolution follows
  the clip, not the video's length. Each start keeps its best duration; durations within 0.02 of
  the best count as ties, broken towards the query's own length (a still view matches at half its
  length as well as at its own). Its local maxima are the candidates; each is trimmed to the
  run of query steps that actually match (maximum-sum run of ``S − τ`` along the path, ``τ`` half
  the path's mean and at least 0.2), which handles clips only partly present. This is the diagonal-alignment family
  of video copy localization (VCSL's DP/temporal-network methods find runs of high similarity in
  the same matrix) restricted to near-constant speed.

Scores, each in [0, 1]: ``p`` (stage 1, above), ``M_C = (1 + c') / 2`` and ``M_R`` the share of
the query's steps the trimmed match covers. ``c`` is the mean cosine between the query's steps and
the moment's steps along the alignment, and ``c_rev`` the same with the query played backwards over
the same steps: a still scene matches both ways, a copy of moving footage only forwards. The
*order check* moves ``c`` towards 1 by how much the forward order wins, and towards −1 when the
backward order wins: ``c' = c + (1 − c) · tanh(λ (c − c_rev))`` (``λ = 5``; with ``(1 + c)`` when the
difference is negative), so ``c'`` stays inside (−1, 1) and moments do not tie at 0 or 1. This is
what tells a cropped, blurred copy of a street-camera clip from the same street at another time
(the same background, other people): their plain cosines are alike, their order checks are not.
Candidates are picked on the plain mean map; the drawn ``M_C`` map is the order-checked one (each
cell's whole path against the whole query played backwards), so it shows what ranks moments.

A moment's score is ``M_C · M_R``, its own evidence (the default pipeline then raises it with the
motion check of :mod:`svmr.models.motion`: ``1 − (1 − M_C · M_R)(1 − M_V)``); ``p`` only chooses which videos stage 2
aligns (the :data:`~svmr.pipelines.align.RERANK_POOL` best by ``p``), and the videos are ranked by their
best moment. (Multiplying by ``p`` ranked the untransformed street-camera stretches, whose window
means resemble the clip's more, above the transformed copy.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..features.statistics import FrameStatistics

#: stage-1 window lengths in seconds (stride: half a window)
WINDOW_SECONDS = (2.0, 4.0, 8.0, 16.0)
#: stage-2 durations relative to the query's length
DURATION_SCALES = tuple(2.0 ** (k / 4) for k in range(-4, 5))


def window_means(features: np.ndarray, rate: float, seconds=WINDOW_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """Mean raw feature of every window: ``(C, L)`` → ``(V, C)`` means and ``(V, 2)`` step ranges
    ``[start, end)``. Windows of each length in ``seconds`` at half-window stride, the last one
    flush with the end; a video shorter than a window gets one whole-video window instead."""
    length = features.shape[1]
    cumulative = np.concatenate([np.zeros((features.shape[0], 1), np.float64),
                                 np.cumsum(features, axis=1, dtype=np.float64)], axis=1)
    ranges = set()
    for window_s in seconds:
        width = max(1, int(round(window_s * rate)))
        if width >= length:
            ranges.add((0, length))
            continue
        stride = max(1, width // 2)
        starts = list(range(0, length - width + 1, stride))
        if starts[-1] != length - width:
            starts.append(length - width)
        ranges.update((s, s + width) for s in starts)
    spans = np.array(sorted(ranges), dtype=np.int64)
    means = (cumulative[:, spans[:, 1]] - cumulative[:, spans[:, 0]]) / (spans[:, 1] - spans[:, 0])
    return means.T.astype(np.float32), spans


def part_bounds(start, length, parts: int, j: int):
    """Part ``j`` of ``parts`` of the spans ``[start, start + length)`` (integer steps, arrays
    allowed): ``(begin, end)``, every part at least one step."""
    begin = start + (length * j) // parts
    return begin, np.maximum(start + (length * (j + 1)) // parts, begin + 1)


class WindowRetrieval:
    """Stage 1 of the default pipeline (see the module docstring). Vectors are stored raw
    (uncentred) so the gallery's mean can change without recomputing them from features.

    With a ``space`` (:class:`~svmr.models.semantic.StepSpace` holding a motion stream), a raw
    vector is the window's mean appearance feature and its mean motion vector over each of the
    space's parts joined, ``(C + k·D,)``, and :meth:`finalize` fuses them as the space does (the
    appearance centred on the gallery's mean)."""

    name = "windows"

    def __init__(self, seconds=WINDOW_SECONDS, space=None):
        self.seconds = tuple(seconds)
        self.space = space if space is not None and space.motion_mean is not None else None
        #: names the stored vectors (a persisted stage-1 index)
        self.key = "windows-" + "-".join(f"{s:g}" for s in self.seconds) + (f"-{self.space.key}" if self.space else "")

    def reference_vectors(self, sequence) -> np.ndarray:
        """A :class:`~svmr.features.FeatureSequence` → ``(V, C [+ k·D])`` raw window means (with a
        motion stream: each window's mean motion over each of its k parts after its appearance)."""
        means, spans = window_means(sequence.features, sequence.rate, self.seconds)
        if self.space is None:
            return means
        return np.concatenate([means, self._motion_parts(sequence, spans)], axis=1)

    def _motion_parts(self, sequence, spans: np.ndarray) -> np.ndarray:
        """``(V, k·D)``: the motion stream's mean over each of the k parts of each span ``(V, 2)``
        (its background mean — no evidence — where the sequence has none)."""
        from .motion_encoder import motion_of

        motion, parts = motion_of(sequence), self.space.motion_parts
        if motion is None:
            return np.tile(self.space.motion_mean, (len(spans), parts)).astype(np.float32)
        cumulative = np.concatenate([np.zeros((motion.shape[0], 1)), np.cumsum(motion, axis=1, dtype=np.float64)], axis=1)
        out = []
        for j in range(parts):
            begin, end = part_bounds(spans[:, 0], spans[:, 1] - spans[:, 0], parts, j)
            out.append(((cumulative[:, end] - cumulative[:, begin]) / (end - begin)).T)
        return np.concatenate(out, axis=1).astype(np.float32)

    def estimated_rows(self, steps: int, rate: float) -> int:
        """About how many vectors a video of ``steps`` steps gets (at most one per window length
        more than :func:`window_means`, which drops repeats)."""
        rows = 0
        for window_s in self.seconds:
            width = max(1, int(round(window_s * rate)))
            rows += 1 if width >= steps else (steps - width) // max(1, width // 2) + 2
        return rows

    def query_vector(self, sequence) -> np.ndarray:
        """A query's :class:`~svmr.features.FeatureSequence` → ``(C [+ k·D],)`` raw mean."""
        mean = sequence.features.mean(axis=1).astype(np.float32)
        if self.space is None:
            return mean
        return np.concatenate([mean, self._motion_parts(sequence, np.array([[0, sequence.length]]))[0]])

    def finalize(self, vectors: np.ndarray, statistics: FrameStatistics) -> np.ndarray:
        """Raw vectors ``(N, C [+ k·D])`` → centred, unit-norm rows (the search matrix)."""
        if self.space is None:
            centred = vectors - statistics.mean[None]
            return centred / (np.linalg.norm(centred, axis=1, keepdims=True) + 1e-6)
        channels = len(statistics.mean)
        return self.space.fuse(vectors[:, :channels].T, vectors[:, channels:].T, centre=statistics.mean).T

    @staticmethod
    def video_score(cosine: np.ndarray) -> np.ndarray:
        """Max cosine → ``p = (1 + cos) / 2`` in [0, 1]."""
        return (1.0 + np.clip(cosine, -1.0, 1.0)) / 2


#: the columns of a localizer's moment rows: ``(start_s, end_s, score, M_C, M_R)``
START, END, SCORE, CONFIDENCE, REGRESSION = range(5)
#: a moment row's ``(start_s, end_s)``
SPAN = slice(START, END + 1)


@dataclass
class Alignment:
    """A localizer's output for one reference video.

    Attributes:
        moments: ``(K, 5)`` rows ``(start_s, end_s, score, confidence, regression)``, best first
            (columns :data:`START`, :data:`END`, :data:`SCORE`, :data:`CONFIDENCE`, :data:`REGRESSION`;
            the properties below name them).
        m_c, m_r: ``(S, D)`` maps over start × duration (``M_C`` and ``M_R``).
        starts, durations: ``(S,)`` and ``(D,)`` seconds: the maps' axes.
        motion: ``(K,)`` each moment's motion match ``M_V`` in [0, 1] (:mod:`svmr.models.motion`),
            None when the localizer does not check motion.
        matches: each moment's label (:mod:`svmr.models.match`: copy, partial copy, similar, weak),
            None when the localizer does not label its moments.
        copy_probability, similarity: ``(K,)`` the label's evidence (with ``matches``).
    """

    moments: np.ndarray
    m_c: np.ndarray
    m_r: np.ndarray
    starts: np.ndarray
    durations: np.ndarray
    motion: np.ndarray | None = None
    matches: list[str] | None = None
    copy_probability: np.ndarray | None = None
    similarity: np.ndarray | None = None

    @property
    def spans(self) -> np.ndarray:
        """``(K, 2)`` each moment's ``(start_s, end_s)`` (a view: writing it moves the moments)."""
        return self.moments[:, SPAN]

    @property
    def scores(self) -> np.ndarray:
        """``(K,)`` each moment's score."""
        return self.moments[:, SCORE]

    @property
    def confidence(self) -> np.ndarray:
        """``(K,)`` each moment's ``M_C``."""
        return self.moments[:, CONFIDENCE]

    @property
    def regression(self) -> np.ndarray:
        """``(K,)`` each moment's ``M_R``."""
        return self.moments[:, REGRESSION]


def path_similarities(similarity: np.ndarray, starts: np.ndarray, duration: float) -> np.ndarray:
    """``S`` ``(Lq, Lr)`` sampled along the query laid over ``[s, s + duration)`` for each start:
    ``(len(starts), Lq)``, linear interpolation between reference steps."""
    lq = similarity.shape[0]
    positions = starts[:, None] + (np.arange(lq)[None, :] + 0.5) * duration / lq - 0.5   # (S, Lq)
    return _interpolated(similarity, np.arange(lq)[None, :], positions)


def _interpolated(similarity: np.ndarray, rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``similarity[rows, positions]`` with fractional reference positions (linear, clipped to
    the reference); ``rows`` and ``positions`` broadcast together."""
    positions = np.clip(positions, 0, similarity.shape[1] - 1)
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, similarity.shape[1] - 1)
    weight = positions - lo
    return similarity[rows, lo] * (1 - weight) + similarity[rows, hi] * weight


def reversed_run(similarity: np.ndarray, start: float, duration: float, a: int, b: int) -> np.ndarray:
    """The query's steps ``[a, b)`` played backwards over the reference steps the forward path
    gives them (query laid over ``[start, start + duration)``): ``(b − a,)`` similarities, query
    step ``a + k`` against the position of step ``b − 1 − k``."""
    positions = start + (np.arange(a, b) + 0.5) * duration / similarity.shape[0] - 0.5
    return _interpolated(similarity, np.arange(a, b), positions[::-1])


def order_checked(forward, backward, weight: float):
    """``c' = c + (1 − c) · tanh(λ d)`` for ``d = c − c_rev ≥ 0``, ``c + (1 + c) · tanh(λ d)``
    otherwise: in [−1, 1] whenever ``c`` is, equal to ``c`` when the order does not matter.
    Scalars or arrays (element-wise)."""
    forward = np.clip(forward, -1.0, 1.0)
    gain = np.tanh(weight * (forward - backward))
    return forward + np.where(gain >= 0, 1.0 - forward, 1.0 + forward) * gain


def best_run(values: np.ndarray, threshold: float) -> tuple[int, int]:
    """``[a, b)``: the contiguous run maximizing ``Σ (values − threshold)`` (at least one step)."""
    gains = values - threshold
    best, best_span, current, start = -np.inf, (0, 1), 0.0, 0
    for index, gain in enumerate(gains):
        if current <= 0:
            current, start = 0.0, index
        current += gain
        if current > best:
            best, best_span = current, (start, index + 1)
    return best_span


class AlignmentLocalizer:
    """Stage 2 of the default pipeline (see the module docstring)."""

    name = "alignment"

    def __init__(self, scales=DURATION_SCALES, trim: float = 0.5, min_match: float = 0.2, order_weight: float = 5.0,
                 duration_tolerance: float = 0.02):
        self.scales = tuple(scales)
        self.trim = trim
        self.min_match = min_match
        self.order_weight = order_weight   # λ of the order check
        #: durations whose mean path similarity is this close to a start's best count as ties,
        #: broken towards the query's own length
        self.duration_tolerance = duration_tolerance

    def maps(self, similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``S (Lq, Lr)`` → ``M (Lr, D)`` mean path similarity (NaN where the path leaves the
        reference), the durations in steps ``(D,)``, the coverage map ``(Lr, D)`` (share of
        path steps above half the map's peak) and the order-checked map ``(Lr, D)`` (``c'`` of
        the whole path against the whole query played backwards; NaN outside)."""
        lq, lr = similarity.shape
        durations = np.unique(np.clip(np.round(np.array(self.scales) * lq), 1, lr)).astype(np.float64)
        starts = np.arange(lr, dtype=np.float64)
        mean_map = np.full((lr, len(durations)), np.nan, np.float32)
        checked = np.full_like(mean_map, np.nan)
        paths = []
        for k, duration in enumerate(durations):
            valid = starts + duration <= lr
            values = path_similarities(similarity, starts[valid], duration)
            mean_map[valid, k] = values.mean(axis=1)
            backwards = path_similarities(similarity[::-1], starts[valid], duration).mean(axis=1)
            checked[valid, k] = order_checked(mean_map[valid, k], backwards, self.order_weight)
            paths.append((valid, values))
        peak = max(float(np.nanmax(mean_map)), 1e-6) if np.isfinite(mean_map).any() else 1e-6
        coverage = np.full_like(mean_map, np.nan)
        for k, (valid, values) in enumerate(paths):
            coverage[valid, k] = (values >= 0.5 * peak).mean(axis=1)
        return mean_map, durations, coverage, checked

    def localize(self, query: np.ndarray, reference: np.ndarray, rate: float, top_k: int = 5,
                 sigma: float = 0.4) -> Alignment:
        """Moments of ``reference`` like ``query``.

        Args:
            query, reference: step descriptors ``(C, Lq)`` and ``(C, Lr)`` (:meth:`~svmr.features.statistics.FrameStatistics.descriptors`).
            rate: steps per second (both).
        """
        from ..postprocess import soft_nms

        similarity = query.T @ reference                                    # (Lq, Lr)
        lq, lr = similarity.shape
        if lr < 1 or lq < 1:
            raise ValueError("empty feature sequence")
        mean_map, durations, coverage, checked = self.maps(similarity)
        filled = np.where(np.isfinite(mean_map), mean_map, -np.inf)
        profile = filled.max(axis=1)                                        # best duration per start
        # of the durations within the tolerance of that best, the one closest to the query's length
        closeness = np.where(filled >= profile[:, None] - self.duration_tolerance,
                             -np.abs(np.log2(durations / lq))[None, :], -np.inf)
        best_k = closeness.argmax(axis=1)
        radius = max(1, lq // 2)
        candidates = [s for s in range(lr) if np.isfinite(profile[s])
                      and profile[s] >= profile[max(0, s - radius):s + radius + 1].max()]
        rows = []
        for s in candidates:
            duration = durations[best_k[s]]
            values = path_similarities(similarity, np.array([float(s)]), duration)[0]     # (Lq,)
            a, b = best_run(values, max(self.trim * float(values.mean()), self.min_match))
            backwards = reversed_run(similarity, float(s), duration, a, b)
            confidence = float((1.0 + order_checked(values[a:b].mean(), backwards.mean(), self.order_weight)) / 2)
            regression = (b - a) / lq
            start = (s + a * duration / lq) / rate
            end = (s + b * duration / lq) / rate
            rows.append((start, end, confidence * regression, confidence, regression))
        proposals = np.array(rows, dtype=np.float64).reshape(-1, 5)
        kept = soft_nms(proposals, sigma=sigma, top_k=top_k)
        return Alignment(kept, np.nan_to_num((1 + checked) / 2), np.nan_to_num(coverage),
                         np.arange(lr) / rate, durations / rate)
