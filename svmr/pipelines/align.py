"""``align``, the default: multi-scale window retrieval (appearance and the motion stream), then in
each candidate video the copies of the query (frame alignment and the motion check) and the moments
like it (windows at the query's scale), each labelled from calibrated thresholds; no training but
those thresholds and the motion stream's pretraining (:mod:`svmr.models.alignment`,
:mod:`svmr.models.motion`, :mod:`svmr.models.motion_encoder`, :mod:`svmr.models.semantic`,
:mod:`svmr.models.match`)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..features import FeatureSequence
from ..features.statistics import FrameStatistics
from ..models.alignment import SPAN, Alignment, AlignmentLocalizer, WindowRetrieval
from ..models.match import MatchCalibration
from ..models.motion_encoder import bundled_stream
from ..models.motion import MotionCheck
from ..evaluation import tiou
from ..models.semantic import (RETRIEVAL_MOTION_PARTS, RETRIEVAL_MOTION_WEIGHT, SIMILAR_MOTION_PARTS, SIMILAR_MOTION_WEIGHT,
                               SimilarWindows, StepSpace)
from ..postprocess import soft_nms
from .base import Pipeline, register

#: how many stage-1 candidates are aligned before the videos are ranked by their best moment
RERANK_POOL = 10
#: moments of each video whose motion is checked (the best by ``M_C · M_R``)
MOTION_CHECKS = 3


class FrameAlignment:
    """:class:`~svmr.models.alignment.AlignmentLocalizer` on descriptors centred on ``centre`` (the
    default pipeline: the fixed background mean of :class:`~svmr.models.semantic.StepSpace`,
    so a moment's ``M_C`` does not depend on what else the gallery holds; None: the gallery's
    mean), then the motion check (:mod:`svmr.models.motion`) on each video's best ``motion_checks`` moments.
    Its moments are scored on their own: ``1 − (1 − M_C · M_R)(1 − M_V)``, where ``M_V`` is the
    motion match (0 when either side has no small frames, or the query is still)."""

    def __init__(self, localizer: AlignmentLocalizer | None = None, motion_checks: int = MOTION_CHECKS,
                 centre: np.ndarray | None = None):
        self.localizer = localizer or AlignmentLocalizer()
        self.motion_checks = motion_checks
        #: a fixed centre for the descriptors instead of the gallery's mean (None: the gallery's)
        self.fixed = FrameStatistics(np.asarray(centre, np.float32)) if centre is not None else None

    def prepare_query(self, sequence: FeatureSequence, statistics: FrameStatistics) -> tuple:
        """``(descriptors (2C, Lq), MotionCheck or None)``."""
        statistics = self.fixed or statistics
        check = MotionCheck(sequence.small_frames) if sequence.small_frames is not None else None
        return statistics.descriptors(sequence.features), check

    def localize(self, query: tuple, reference: FeatureSequence, duration: float,
                 statistics: FrameStatistics, top_k: int) -> Alignment:
        statistics = self.fixed or statistics
        descriptors, check = query
        found = self.localizer.localize(descriptors, statistics.descriptors(reference.features), reference.rate, top_k)
        if check is None or reference.small_frames is None or not len(found.moments):
            return found
        motion = np.zeros(len(found.moments))
        for k in range(min(len(motion), self.motion_checks)):
            start, end = found.spans[k] * reference.rate
            motion[k] = max(0.0, check.score(reference.small_frames, start, end))
        own = 1 - (1 - found.confidence * found.regression) * (1 - motion)
        # soft-NMS again on the new scores, so an overlapping moment stays below the one it overlaps
        kept = soft_nms(np.column_stack([found.spans, own, found.confidence, found.regression, motion]),
                        sigma=0.4, top_k=top_k)
        found.moments, found.motion = kept[:, :5], kept[:, 5]
        return found


#: the lowest score of a copy; every other moment scores below it
COPY_FLOOR = 0.5


class Kept(NamedTuple):
    """A moment :class:`CopyOrSimilar` keeps, with its label and evidence."""

    row: np.ndarray              # (start_s, end_s, score, M_C, M_R)
    match: str                   # copy, partial copy, similar, weak
    copy_probability: float
    similarity: float
    motion: float                # M_V


class CopyOrSimilar:
    """The default's stage 2: in one reference, the query's copies, else the moments like it.

    1. :class:`FrameAlignment` finds where the query's own frames play; each of its moments gets
       ``P(copy)`` from the calibration, and those at one half or more are kept as copies
       (``partial copy`` when shorter than half the query).
    2. :class:`~svmr.models.semantic.SimilarWindows` finds windows of 0.5–2× the query whose
       content is like the query's; with the alignment's other moments at least half as long as
       the query, those not overlapping a copy are added after the copies by similarity, labelled
       ``similar`` or ``weak`` by the calibrated similarity threshold. The alignment's shorter
       moments (the slivers it trims to when nothing matches in order) are dropped.

    Rows ``(start, end, score, M_C, M_R)``: a copy keeps the alignment's score (at least
    :data:`COPY_FLOOR`); a similar or weak moment scores ``(1 + similarity) / 4``, below every copy,
    and its ``M_C``/``M_R`` are the alignment's at that window when one overlaps it, else 0. So the
    score alone ranks copies first, then similar moments, then weak ones.
    """

    def __init__(self, alignment: FrameAlignment | None = None, windows: SimilarWindows | None = None,
                 calibration: MatchCalibration | None = None, space: StepSpace | None = None):
        self.alignment = alignment or FrameAlignment()
        self.windows = windows or SimilarWindows()
        self.calibration = calibration or MatchCalibration.load()
        self.space = space or StepSpace.load()

    def prepare_query(self, sequence: FeatureSequence, statistics: FrameStatistics) -> tuple:
        """``(alignment's prepared query, the query's :class:`~svmr.models.semantic.Steps`)``."""
        return self.alignment.prepare_query(sequence, statistics), self.space.steps(sequence)

    def localize(self, query: tuple, reference: FeatureSequence, duration: float,
                 statistics: FrameStatistics, top_k: int) -> Alignment:
        prepared, query_steps = query
        found = self.alignment.localize(prepared, reference, duration, statistics, top_k)
        steps = self.space.steps(reference)
        if found.motion is None:
            found.motion = np.zeros(len(found.moments))
        p_copy = self.calibration.copy_probability(found.confidence, found.motion, found.regression)
        copies = self._copies(found, p_copy, query_steps, steps, reference.rate)
        kept = copies + self._similar(found, p_copy, query_steps, steps, reference.rate, copies, top_k - len(copies))
        found.moments = np.array([m.row for m in kept], np.float64).reshape(-1, 5)
        found.matches = [m.match for m in kept]
        found.copy_probability = np.array([m.copy_probability for m in kept], np.float64)
        found.similarity = np.array([m.similarity for m in kept], np.float64)
        found.motion = np.array([m.motion for m in kept], np.float64)
        return found

    def _copies(self, found: Alignment, p_copy: np.ndarray, query_steps: np.ndarray, steps: np.ndarray,
                rate: float) -> list[Kept]:
        """The alignment's moments with ``P(copy) ≥ 0.5``, best first, scored at least :data:`COPY_FLOOR`."""
        kept = []
        for k in np.flatnonzero(p_copy >= 0.5):
            start, end, score, confidence, regression = found.moments[k]
            partial = (end - start) * rate < query_steps.length / 2
            kept.append(Kept(np.array([start, end, max(score, COPY_FLOOR), confidence, regression]),
                             self.calibration.label(p_copy[k], 0.0, partial), float(p_copy[k]),
                             self.windows.similarity(query_steps, steps, start * rate, end * rate),
                             float(found.motion[k])))
        return kept

    def _similar(self, found: Alignment, p_copy: np.ndarray, query_steps: np.ndarray, steps: np.ndarray,
                 rate: float, copies: list[Kept], count: int) -> list[Kept]:
        """At most ``count`` moments that are not copies, by similarity: the similar windows, and the
        alignment's moments at least half as long as the query (where it follows a diagonal, its
        bounds are the better ones); none overlaps a copy, none repeats a better one
        (:meth:`~svmr.models.semantic.SimilarWindows.redundant`). Each takes ``M_C``, ``M_R``, ``M_V``
        and ``P(copy)`` from the alignment's moment it is (or the first it overlaps), 0 without one."""
        spans = found.spans
        candidates = [(cosine, start / rate, end / rate, None) for start, end, cosine in
                      self.windows.localize(query_steps, steps, count + len(copies)).moments]
        candidates += [(self.windows.similarity(query_steps, steps, *(spans[k] * rate)), *spans[k], k)
                       for k in range(len(spans))
                       if p_copy[k] < 0.5 and (spans[k, 1] - spans[k, 0]) * rate >= query_steps.length / 2]
        kept, taken = [], [tuple(c.row[SPAN]) for c in copies]
        for cosine, start, end, k in sorted(candidates, key=lambda c: -c[0]):
            if len(kept) >= count:
                break
            span = (start, end)
            touches_copy = bool(copies) and bool((tiou(span, taken[:len(copies)])[0] > 0).any())
            if touches_copy or self.windows.redundant(span, taken[len(copies):]):
                continue
            if k is None:
                touching = np.flatnonzero(tiou(span, spans)[0] > 0) if len(spans) else []
                k = int(touching[0]) if len(touching) else None
            confidence, regression, motion, probability = (
                (found.confidence[k], found.regression[k], found.motion[k], p_copy[k]) if k is not None
                else (0.0, 0.0, 0.0, 0.0))
            kept.append(Kept(np.array([start, end, (1 + cosine) / 4, confidence, regression]),
                             self.calibration.label(0.0, cosine), float(probability), float(cosine), float(motion)))
            taken.append(span)
        return kept


@register("align", summary="default: multi-scale window retrieval + frame alignment + motion check "
                           "(training-free, fits the gallery)",
          label="Default: multi-scale windows + frame alignment (best on real footage)",
          menu="Default: copies and similar moments (best on real footage)")
def build_align(device="cpu", motion_checks: int = MOTION_CHECKS, rerank_pool: int = RERANK_POOL,
                retrieval_weight: float = RETRIEVAL_MOTION_WEIGHT, similar_weight: float = SIMILAR_MOTION_WEIGHT,
                retrieval_parts: int = RETRIEVAL_MOTION_PARTS, similar_parts: int = SIMILAR_MOTION_PARTS,
                regions: bool = True) -> Pipeline:
    """Runs on the CPU whatever ``device`` says (NumPy and a small motion network); the weights:
    the motion stream's share of stage 1's cosine and of the similar moments' similarity; the
    parts: into how many consecutive parts each cuts a span's motion
    (:class:`~svmr.models.semantic.StepSpace`); ``regions``: search the pictures found inside the
    gallery's pictures too (:class:`~svmr.pipelines.Pipeline`)."""
    calibration, background = MatchCalibration.load(), StepSpace.load()
    space = background.with_weight(similar_weight, similar_parts)
    retriever = WindowRetrieval(space=background.with_weight(retrieval_weight, retrieval_parts))
    aligner, windows = AlignmentLocalizer(), SimilarWindows()
    settings = {"windows_s": list(retriever.seconds), "duration_scales": list(aligner.scales), "trim": aligner.trim,
                "min_match": aligner.min_match, "order_weight": aligner.order_weight,
                "duration_tolerance": aligner.duration_tolerance}
    settings.update(similar_scales=list(windows.scales), copy_weights=list(calibration.copy_weights),
                    similar_threshold=calibration.similar_threshold, retrieval_motion_weight=retrieval_weight,
                    similar_motion_weight=similar_weight, retrieval_motion_parts=retrieval_parts,
                    similar_motion_parts=similar_parts, motion_encoder=bundled_stream().key)
    localizer = CopyOrSimilar(FrameAlignment(aligner, motion_checks, centre=space.mean), windows, calibration, space)
    return Pipeline("align", retriever, localizer, ranking="best_moment", rerank_pool=rerank_pool,
                    config={"name": "align", **settings, "rerank_pool": rerank_pool, "motion_checks": motion_checks,
                            "regions": regions, "device": "cpu"}, regions=regions)
