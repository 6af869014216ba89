"""Similar moments: windows at the query's scale ranked by what they show (training-free).

The frame alignment (:mod:`svmr.models.alignment`) answers "where is this clip?": it needs the
query's steps, in order, along a diagonal of the similarity matrix. A moment *like* the query —
the same kind of scene, filmed another time — has no such diagonal; what it shares is its content
taken as a whole. This localizer compares **sets** of steps:

* Each step is the appearance feature centred on a **fixed background mean** and scaled to unit
  norm (:class:`StepSpace`; the mean of 31 real videos of every kind, bundled in ``checkpoints/``;
  a space can add the motion stream as a second stream of :class:`Steps`, weighted, its spans
  optionally cut in consecutive parts — the default's stage 1 does, its similar windows do not:
  :data:`SIMILAR_MOTION_WEIGHT`). Not the gallery's own mean, as the frame alignment uses: centred
  on a three-video gallery, anything unlike its videos looks alike, and a similarity threshold
  fitted on one gallery would not hold in another. The query is one vector ``q``: the unit mean of
  its steps.
* For every start ``s`` (one per step) and duration ``d`` (0.5× to 2× the query, 9 geometric
  steps) the window ``[s, s + d)`` is the unit mean of its steps, and ``W(s, d) = cos(q, window)``
  (cumulative sums: one pass over the reference per duration; with several streams or parts, the
  weighted mean of their cosines).
* Each start keeps its best duration, durations within :attr:`SimilarWindows.duration_tolerance`
  of the best counting as ties broken towards the query's own length; the local maxima of that
  profile (one per half query) are the moments, so a moment lasts 0.5–2× the query and never
  shrinks to a sliver; one overlapping a better one (tIoU above one half) or lying mostly inside
  it (four fifths of the shorter one) is dropped.

A moment's ``similarity`` is ``W`` there (a cosine in [−1, 1]); what counts as "similar" and what
as "nothing close" is decided from calibrated thresholds (:mod:`svmr.models.match`), not here.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints as C
from ..evaluation import shorter_overlap, tiou
from ..features.statistics import unit_columns
from .alignment import DURATION_SCALES, part_bounds
from .motion_encoder import bundled_stream, motion_of


BACKGROUND_FILE = "match_background.safetensors"
#: the motion stream's share of the cosine in the default's stage 1 (:class:`StepSpace`), which
#: only chooses the candidates stage 2 examines. Measured (docs/benchmarks.md, "The motion
#: stream"): on the procedural benchmark's validation classes, stage-1 HR@1 0.08 / 0.21 / 0.19 /
#: 0.22 / 0.32 and HR@10 0.42 / 0.66 / 0.72 / 0.77 / 0.82 at w = 0 / 0.3 / 0.5 / 0.7 / 1; on real
#: footage 0.3 keeps both copy sets where they were and 0.5 loses a footage-set clip (its copy drops
#: out of the 10 candidates)
RETRIEVAL_MOTION_WEIGHT = 0.3
#: the motion stream's share of a similar moment's similarity (what is shown, thresholded and
#: ranked in stage 2). 0: with the bundled encoder, weight 0.3 separated same-kind windows of real
#: footage less well (balanced accuracy 0.881 against 0.899), moved a top moment of the similar set
#: out of its span and said "nothing close" for 9 instead of 11 of 14 unrelated searches, for a
#: procedural AR@100 of 0.22 against 0.17 (docs/benchmarks.md)
SIMILAR_MOTION_WEIGHT = 0.0
#: into how many consecutive parts a span's motion is cut before comparing (:class:`StepSpace`):
#: stage 1's and the similar moments'
RETRIEVAL_MOTION_PARTS = 1
SIMILAR_MOTION_PARTS = 1


class StepSpace:
    """Steps as the semantic search compares them: the appearance feature centred on a fixed
    background mean and scaled to unit norm, and the motion stream's vector
    (:mod:`svmr.models.motion_encoder`) centred on its own background mean and scaled to unit norm,
    weighted so that two spans compare by ``(1 − w)·cos_appearance + w·cos_motion``. With
    ``motion_parts`` k > 1 a span's motion is the mean of each of its k consecutive equal parts,
    compared part by part (``cos_motion`` is the mean of the k cosines), so the order of what moves
    counts: a fall and a rise, a growth and a shrinking, have the same mean motion but not the
    same halves.

    Attributes:
        mean: ``(C,)`` the appearance background.
        motion_mean: ``(D,)`` the motion background (None: appearance only, ``w = 0``).
        motion_weight: ``w`` in [0, 1].
        motion_parts: k ≥ 1.
    """

    def __init__(self, mean: np.ndarray, motion_mean: np.ndarray | None = None, motion_weight: float = 0.0,
                 motion_parts: int = 1):
        self.mean = np.asarray(mean, np.float32)
        self.motion_weight = float(motion_weight) if motion_mean is not None else 0.0
        self.motion_mean = None if motion_mean is None or self.motion_weight <= 0 else np.asarray(motion_mean, np.float32)
        self.motion_parts = max(1, int(motion_parts))
        #: the motion background even when this space does not use it (:meth:`with_weight`)
        self.stored_motion_mean = None if motion_mean is None else np.asarray(motion_mean, np.float32)

    def with_weight(self, motion_weight: float, motion_parts: int | None = None) -> "StepSpace":
        """The same backgrounds with another motion weight (0: appearance only) and, when given,
        another number of parts."""
        return StepSpace(self.mean, self.stored_motion_mean, motion_weight,
                         self.motion_parts if motion_parts is None else motion_parts)

    @property
    def key(self) -> str:
        """Names what fused vectors depend on beyond the features (a persisted index's vectors):
        the weight, the parts, the motion background and the encoder."""
        if self.motion_mean is None:
            return "appearance"
        digest = hashlib.sha256(self.motion_mean.tobytes() + bundled_stream().key.encode()).hexdigest()[:8]
        parts = f"x{self.motion_parts}" if self.motion_parts > 1 else ""
        return f"motion{self.motion_weight:g}{parts}-{digest}"

    def appearance_steps(self, features: np.ndarray) -> np.ndarray:
        """``(C, L)`` raw features → ``(C, L)`` unit steps."""
        return unit_columns(features - self.mean[:, None])

    def fuse(self, appearance: np.ndarray, motion: np.ndarray | None, centre: np.ndarray | None = None) -> np.ndarray:
        """Raw ``(C, N)`` appearance columns and ``(k·D, N)`` motion columns (span means: the k
        parts' means one under the other) → ``(C [+ k·D], N)`` unit fused columns whose dot products
        are the weighted cosines; a missing motion stream counts as no evidence (zeros).
        ``centre``: the appearance's centre instead of the fixed background (stage 1: the gallery's)."""
        unit = unit_columns(appearance - (self.mean if centre is None else centre)[:, None])
        if self.motion_mean is None:
            return unit
        dim, parts = len(self.motion_mean), self.motion_parts
        if motion is None:
            moving = np.zeros((parts * dim, unit.shape[1]), np.float32)
        else:
            moving = np.concatenate([unit_columns(motion[j * dim:(j + 1) * dim] - self.motion_mean[:, None])
                                     for j in range(parts)])
        weights = np.float32(np.sqrt(1 - self.motion_weight)), np.float32(np.sqrt(self.motion_weight / parts))
        return np.concatenate([weights[0] * unit, weights[1] * moving])

    def steps(self, sequence) -> "Steps":
        """A :class:`~svmr.features.FeatureSequence` → its :class:`Steps` in this space."""
        appearance = self.appearance_steps(sequence.features)
        if self.motion_mean is None:
            return Steps.single(appearance)
        motion = motion_of(sequence)
        moving = (np.zeros((len(self.motion_mean), appearance.shape[1]), np.float32) if motion is None
                  else unit_columns(motion - self.motion_mean[:, None]))
        return Steps((appearance, moving), (1 - self.motion_weight, self.motion_weight), (1, self.motion_parts))

    def save(self, path: str) -> None:
        """Write the safetensors file (a bundled one is recorded in ``checkpoints/SHA256SUMS``)."""
        from safetensors.numpy import save_file

        arrays = {"mean": self.mean}
        if self.stored_motion_mean is not None:
            arrays["motion_mean"] = self.stored_motion_mean
        save_file(arrays, path)
        os.chmod(path, 0o644)
        C.record_if_bundled(path)

    @classmethod
    def load(cls, path: str | None = None, motion_weight: float = 0.0, motion_parts: int = 1) -> "StepSpace":
        """Read a background file (the bundled one by default, checked against its SHA-256)."""
        from safetensors.numpy import load_file

        arrays = load_file(C.bundled_path(path, BACKGROUND_FILE))
        return cls(arrays["mean"], arrays.get("motion_mean"), motion_weight, motion_parts)

    @classmethod
    def from_videos(cls, features: list[np.ndarray], motions: list[np.ndarray] | None = None,
                    motion_weight: float = 0.0) -> "StepSpace":
        """The mean of each video's mean (every video weighs the same) of ``(C, L)`` features and,
        when given, of ``(D, L)`` motion streams."""
        motion_mean = np.mean([m.mean(axis=1) for m in motions], axis=0) if motions else None
        return cls(np.mean([f.mean(axis=1) for f in features], axis=0), motion_mean, motion_weight)


@dataclass
class Steps:
    """A sequence's unit steps, stream by stream (:meth:`StepSpace.steps`). Two spans compare by
    ``Σ_s weight_s · mean_j cos(mean of part j of stream s in one, the same in the other)``.

    Attributes:
        blocks: ``(C_s, L)`` unit steps of each stream (appearance first).
        weights: each stream's share (they sum to 1).
        parts: into how many consecutive equal parts each stream's span is cut.
    """

    blocks: tuple
    weights: tuple
    parts: tuple

    @classmethod
    def single(cls, steps: np.ndarray) -> "Steps":
        """One stream, compared as a whole."""
        return cls((steps,), (1.0,), (1,))

    @property
    def length(self) -> int:
        return self.blocks[0].shape[1]


def _as_steps(steps) -> Steps:
    return steps if isinstance(steps, Steps) else Steps.single(np.asarray(steps))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-6)


@dataclass
class SimilarMoments:
    """One reference's similar moments.

    Attributes:
        moments: ``(K, 3)`` rows ``(start_step, end_step, similarity)``, best first (steps are
            fractional reference steps; divide by the rate for seconds).
        window_map: ``(Lr, D)`` ``W(s, d)`` (NaN where the window leaves the reference).
        durations: ``(D,)`` window lengths in steps.
    """

    moments: np.ndarray
    window_map: np.ndarray
    durations: np.ndarray


class SimilarWindows:
    """Windows at the query's scale, ranked by the cosine of their mean step with the query's."""

    name = "similar-windows"

    def __init__(self, scales=DURATION_SCALES, duration_tolerance: float = 0.02, overlap: float = 0.5,
                 containment: float = 0.8):
        self.scales = tuple(scales)
        #: windows whose cosine is this close to a start's best count as ties, broken towards the
        #: query's own length (a uniform scene matches as well at half the length as at its own)
        self.duration_tolerance = duration_tolerance
        #: a moment overlapping a better one by more than this (tIoU) is dropped
        self.overlap = overlap
        #: so is one sharing more than this share of the shorter one's length with a better one (a
        #: moment inside another is not shown twice)
        self.containment = containment

    def redundant(self, span: tuple[float, float], taken) -> bool:
        """Whether ``span`` repeats one of the ``taken`` spans ``(K, 2)`` (:attr:`overlap`,
        :attr:`containment`)."""
        if not len(taken):
            return False
        return bool(tiou(span, taken).max() > self.overlap or shorter_overlap(span, taken).max() > self.containment)

    def window_map(self, query, steps) -> tuple[np.ndarray, np.ndarray]:
        """``W (Lr, D)`` and the durations ``(D,)`` in steps, for the query's and the reference's
        :class:`Steps` (or plain unit steps ``(C, Lq)`` and ``(C, Lr)``: one stream); NaN where a
        window leaves the reference."""
        query, steps = _as_steps(query), _as_steps(steps)
        lr, lq = steps.length, query.length
        # at least half the query (rounded up): a similar moment is never a sliver
        durations = np.unique(np.clip(np.round(np.array(self.scales) * lq), (lq + 1) // 2, None).clip(1, lr))
        durations = durations.astype(np.int64)
        out = np.full((lr, len(durations)), np.nan, np.float32)
        total = [np.zeros(lr - d + 1) for d in durations]
        for query_block, block, weight, parts in zip(query.blocks, steps.blocks, steps.weights, steps.parts):
            cumulative = np.concatenate([np.zeros((block.shape[0], 1)), np.cumsum(block, axis=1, dtype=np.float64)],
                                        axis=1)                                       # (C, Lr + 1)
            for j in range(parts):
                q_begin, q_end = part_bounds(0, lq, parts, j)
                projected = _unit_rows(query_block[:, q_begin:q_end].mean(axis=1)) @ cumulative   # (Lr + 1,)
                for k, d in enumerate(durations):
                    count = lr - d + 1                                                # starts
                    begin, end = (int(v) for v in part_bounds(0, d, parts, j))        # the part, from each start
                    sums = cumulative[:, end:end + count] - cumulative[:, begin:begin + count]    # (C, S) part sums
                    total[k] += (weight / parts * (projected[end:end + count] - projected[begin:begin + count])
                                 / (np.linalg.norm(sums, axis=0) + 1e-6))
        for k, d in enumerate(durations):
            out[:lr - d + 1, k] = total[k]
        return out, durations

    @staticmethod
    def similarity(query, steps, start: float, end: float) -> float:
        """How alike the query and the reference span ``[start, end)`` are (fractional steps,
        rounded; at least one step): the weighted cosines of their streams' part means
        (:class:`Steps`; plain unit steps: the cosine of the two mean steps)."""
        query, steps = _as_steps(query), _as_steps(steps)
        a = int(np.clip(round(start), 0, steps.length - 1))
        b = int(np.clip(round(end), a + 1, steps.length))
        total = 0.0
        for query_block, block, weight, parts in zip(query.blocks, steps.blocks, steps.weights, steps.parts):
            for j in range(parts):
                q_begin, q_end = part_bounds(0, query.length, parts, j)
                begin, end_ = part_bounds(a, b - a, parts, j)
                total += weight / parts * float(_unit_rows(query_block[:, q_begin:q_end].mean(axis=1))
                                                @ _unit_rows(block[:, begin:end_].mean(axis=1)))
        return total

    def localize(self, query: np.ndarray, steps: np.ndarray, top_k: int = 5) -> SimilarMoments:
        """Moments of the reference like the query.

        Args:
            query: the query's :class:`Steps` (or unit step descriptors ``(C, Lq)``).
            steps: the reference's :class:`Steps` (or unit step descriptors ``(C, Lr)``).
        """
        query_steps = _as_steps(query).length
        window, durations = self.window_map(query, steps)
        filled = np.where(np.isfinite(window), window, -np.inf)
        profile = filled.max(axis=1)
        closeness = np.where(filled >= profile[:, None] - self.duration_tolerance,
                             -np.abs(np.log2(durations / max(query_steps, 1)))[None, :], -np.inf)
        best_k = closeness.argmax(axis=1)
        radius = max(1, query_steps // 2)
        rows = []
        for s in np.argsort(-profile):
            if not np.isfinite(profile[s]) or len(rows) >= top_k:
                break
            if profile[s] < profile[max(0, s - radius):s + radius + 1].max():
                continue
            start, end = float(s), float(s + durations[best_k[s]])
            if self.redundant((start, end), np.array(rows).reshape(-1, 3)[:, :2]):
                continue
            rows.append((start, end, float(filled[s, best_k[s]])))
        return SimilarMoments(np.array(rows, np.float64).reshape(-1, 3), window, durations.astype(np.float64))

