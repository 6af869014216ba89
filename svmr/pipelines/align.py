"""``align``, the default: multi-scale window retrieval, frame alignment and the motion check;
training-free (:mod:`svmr.models.alignment`, :mod:`svmr.models.motion`)."""
from __future__ import annotations

import numpy as np

from ..features import FeatureSequence
from ..models.alignment import Alignment, AlignmentLocalizer, FrameStatistics, WindowRetrieval
from ..models.motion import MotionCheck
from ..postprocess import soft_nms
from .base import Pipeline, register

#: how many stage-1 candidates are aligned before the videos are ranked by their best moment
RERANK_POOL = 10
#: moments of each video whose motion is checked (the best by ``M_C · M_R``)
MOTION_CHECKS = 3


class FrameAlignment:
    """:class:`~svmr.models.alignment.AlignmentLocalizer` on the gallery-centred descriptors, then
    the motion check (:mod:`svmr.models.motion`) on each video's best ``motion_checks`` moments.
    Its moments are scored on their own: ``1 − (1 − M_C · M_R)(1 − M_V)``, where ``M_V`` is the
    motion match (0 when either side has no small frames, or the query is still)."""

    def __init__(self, localizer: AlignmentLocalizer | None = None, motion_checks: int = MOTION_CHECKS):
        self.localizer = localizer or AlignmentLocalizer()
        self.motion_checks = motion_checks

    def prepare_query(self, sequence: FeatureSequence, statistics: FrameStatistics) -> tuple:
        """``(descriptors (2C, Lq), MotionCheck or None)``."""
        check = MotionCheck(sequence.small_frames) if sequence.small_frames is not None else None
        return statistics.descriptors(sequence.features), check

    def localize(self, query: tuple, reference: FeatureSequence, duration: float,
                 statistics: FrameStatistics, top_k: int) -> Alignment:
        descriptors, check = query
        found = self.localizer.localize(descriptors, statistics.descriptors(reference.features), reference.rate, top_k)
        if check is None or reference.small_frames is None or not len(found.moments):
            return found
        moments, motion = found.moments, np.zeros(len(found.moments))
        for k in range(min(len(moments), self.motion_checks)):
            start, end = moments[k, :2] * reference.rate
            motion[k] = max(0.0, check.score(reference.small_frames, start, end))
        own = 1 - (1 - moments[:, 3] * moments[:, 4]) * (1 - motion)
        # soft-NMS again on the new scores, so an overlapping moment stays below the one it overlaps
        kept = soft_nms(np.column_stack([moments[:, :2], own, moments[:, 3:5], motion]), sigma=0.4, top_k=top_k)
        found.moments, found.motion = kept[:, :5], kept[:, 5]
        return found


@register("align", summary="default: multi-scale window retrieval + frame alignment + motion check "
                           "(training-free, fits the gallery)",
          label="Default: multi-scale windows + frame alignment (best on real footage)",
          menu="Default: frame alignment (best on real footage)")
def build_align(device="cpu", motion_checks: int = MOTION_CHECKS, rerank_pool: int = RERANK_POOL) -> Pipeline:
    """Runs on the CPU whatever ``device`` says (NumPy; no network)."""
    retriever, aligner = WindowRetrieval(), AlignmentLocalizer()
    settings = {"windows_s": list(retriever.seconds), "duration_scales": list(aligner.scales), "trim": aligner.trim,
                "min_match": aligner.min_match, "order_weight": aligner.order_weight,
                "duration_tolerance": aligner.duration_tolerance}
    return Pipeline("align", retriever, FrameAlignment(aligner, motion_checks), ranking="best_moment",
                    rerank_pool=rerank_pool, config={"name": "align", **settings, "rerank_pool": rerank_pool,
                                                     "motion_checks": motion_checks, "device": "cpu"})
