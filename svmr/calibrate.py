"""Fit the default's match labels (:mod:`svmr.models.match`) on real footage.

    python -m svmr calibrate --own-clips data/own-clips --footage data/footage-set-ext \\
        --semantic data/semantic-set --out checkpoints/match_calibration.json

writes the calibration and, beside it, ``match_background.safetensors``.

* **Copy model** — every query of the three sets is searched with the default's frame alignment
  alone (5 videos, 3 moments each). A moment that overlaps one of the query's copies (tIoU ≥ 0.5;
  the copy sets) is a positive; a moment that overlaps none (tIoU < 0.1) and every moment found in
  the similar-moments set (it holds no copy) is a negative. Logistic regression on
  :func:`~svmr.models.match.copy_features`, the classes weighted equally.
* **Background** — the mean feature of every gallery video of the three sets (each video weighs
  the same): the similar windows' fixed centre (:class:`~svmr.models.semantic.StepSpace`), for
  the appearance features and the motion stream.
* **Similar threshold** — each query of the similar-moments set against every gallery video:
  :class:`~svmr.models.semantic.SimilarWindows`' 3 best windows; a window at least half inside a
  span of the query's kind is a positive, any other a negative; the threshold of best balanced
  accuracy (:func:`~svmr.models.match.fit_threshold`).

Held-out figures go into the file's record: the copy model refitted with each set left out and
judged on that set's top moments, the threshold refitted with each kind left out.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from . import evaluation as E
from .models.match import MatchCalibration, copy_features, fit_logistic, fit_threshold
from .models.semantic import RETRIEVAL_MOTION_PARTS, RETRIEVAL_MOTION_WEIGHT, SIMILAR_MOTION_PARTS, SIMILAR_MOTION_WEIGHT

#: the search each query of a set gets when evidence is gathered
TOP_VIDEOS, MOMENTS_PER_VIDEO = 5, 3


def _evidence_searcher(set_dir: str, space):
    """``(Benchmark, Searcher)`` of a set with the default's retrieval and frame alignment only
    (no labels: what is being calibrated)."""
    from .models.alignment import WindowRetrieval
    from .pipelines.align import RERANK_POOL, FrameAlignment
    from .pipelines.base import Pipeline
    from .search import Searcher
    from .scoring import set_gallery

    bench, gallery, extractor = set_gallery(set_dir)
    pipeline = Pipeline("align-evidence", WindowRetrieval(space=space.with_weight(RETRIEVAL_MOTION_WEIGHT, RETRIEVAL_MOTION_PARTS)), FrameAlignment(centre=space.mean), ranking="best_moment",
                        rerank_pool=RERANK_POOL)
    return bench, Searcher(gallery, pipeline, extractor=extractor)


def copy_evidence(set_dir: str, holds_copies: bool, space) -> list[dict]:
    """Alignment moments of every query of a set: ``{"query", "rank", "features" (3,), "copy"}``
    (``copy`` None for moments neither clearly a copy nor clearly not)."""
    bench, searcher = _evidence_searcher(set_dir, space)
    truth = bench.moments_by_label()
    rows = []
    for query in bench.queries:
        result = searcher.search(os.path.join(set_dir, "queries", f"{query.id}.mp4"), top_videos=TOP_VIDEOS,
                                 moments_per_video=MOMENTS_PER_VIDEO)
        spans = truth.get(query.label, {})
        for rank, moment in enumerate(result.moments):
            overlap = float(E.tiou([moment.start, moment.end], spans[moment.video]).max()) if spans.get(moment.video) else 0.0
            is_copy = None
            if not holds_copies or overlap < 0.1:
                is_copy = False
            elif overlap >= 0.5:
                is_copy = True
            rows.append({"query": query.id, "rank": rank, "copy": is_copy,
                         "features": copy_features(moment.confidence, moment.motion, moment.regression)[0]})
    return rows


def background(set_dirs: list[str]):
    """The :class:`~svmr.models.semantic.StepSpace` of every gallery video of the sets."""
    from .models.motion_encoder import motion_of
    from .models.semantic import StepSpace
    from .scoring import set_gallery

    features, motions = [], []
    for folder in set_dirs:
        _, gallery, _ = set_gallery(folder)
        for video in gallery.list():
            sequence = gallery.features(video.id)
            features.append(sequence.features)
            motions.append(motion_of(sequence))
    return StepSpace.from_videos(features, motions)


def similar_evidence(set_dir: str, space) -> list[dict]:
    """Similar windows of every query of the similar-moments set in every gallery video:
    ``{"query", "kind", "similarity", "similar"}``."""
    from .models.semantic import SimilarWindows

    bench, searcher = _evidence_searcher(set_dir, space)
    gallery = searcher.gallery
    windows = SimilarWindows()
    truth = bench.moments_by_label()
    space = space.with_weight(SIMILAR_MOTION_WEIGHT, SIMILAR_MOTION_PARTS)             # the similarity stage 2 shows
    rows = []
    for query in bench.queries:
        query_steps = space.steps(searcher.query_features(os.path.join(set_dir, "queries", f"{query.id}.mp4")))
        for video in gallery.list():
            reference = gallery.features(video.id)
            steps = space.steps(reference)
            for start, end, cosine in windows.localize(query_steps, steps, MOMENTS_PER_VIDEO).moments:
                share = E.inside_share(start / reference.rate, end / reference.rate,
                                     truth.get(query.label, {}).get(video.id, []))
                rows.append({"query": query.id, "kind": query.label, "similarity": float(cosine),
                             "similar": share >= 0.5})
    return rows


#: the copy model's L2 penalty: the moments are nearly separable, so only a touch (it keeps the
#: weights finite); the classes keep their natural proportions (unweighted): a copy is rarer than
#: a moment that is not one, and weighting them equally labelled same-street look-alikes copies
COPY_L2 = 1e-4


def _fit_copy(rows: list[dict]) -> np.ndarray:
    known = [r for r in rows if r["copy"] is not None]
    return fit_logistic(np.array([r["features"] for r in known]), np.array([r["copy"] for r in known], np.float64),
                        l2=COPY_L2, balanced=False)


def _top_labels(rows: list[dict], weights: np.ndarray) -> dict:
    """On each query's top moment: the share of copies labelled copy and of non-copies labelled copy."""
    top = [r for r in rows if r["rank"] == 0 and r["copy"] is not None]
    z = weights[0] + np.array([r["features"] for r in top]).reshape(-1, 3) @ weights[1:]
    labelled = 1 / (1 + np.exp(-z)) >= 0.5
    copies = np.array([r["copy"] for r in top], bool)
    return {"top_copies": int(copies.sum()), "top_copies_labelled_copy": float(labelled[copies].mean()) if copies.any() else None,
            "top_non_copies": int((~copies).sum()),
            "top_non_copies_labelled_copy": float(labelled[~copies].mean()) if (~copies).any() else None}


def calibrate(own_clips: str, footage: str, semantic: str, log=lambda line: None):
    """Gather the evidence of the three sets and fit (see the module docstring); returns the
    :class:`~svmr.models.match.MatchCalibration` and the
    :class:`~svmr.models.semantic.StepSpace` (the background means of the sets' videos)."""
    sets = {"own_clips": (own_clips, True), "footage": (footage, True), "semantic": (semantic, False)}
    space = background([own_clips, footage, semantic])
    evidence = {}
    for name, (folder, holds_copies) in sets.items():
        evidence[name] = copy_evidence(folder, holds_copies, space)
        log(f"{name}: {len(evidence[name])} alignment moments")
    weights = _fit_copy([r for rows in evidence.values() for r in rows])
    held_out = {name: _top_labels(evidence[name], _fit_copy([r for other, rows in evidence.items() if other != name
                                                             for r in rows]))
                for name in evidence}
    windows = similar_evidence(semantic, space)
    positives = np.array([r["similarity"] for r in windows if r["similar"]])
    negatives = np.array([r["similarity"] for r in windows if not r["similar"]])
    threshold, accuracy = fit_threshold(positives, negatives)
    by_kind = {}
    for kind in sorted({r["kind"] for r in windows}):
        rest = [r for r in windows if r["kind"] != kind]
        cut, _ = fit_threshold(np.array([r["similarity"] for r in rest if r["similar"]]),
                               np.array([r["similarity"] for r in rest if not r["similar"]]))
        mine = [r for r in windows if r["kind"] == kind]
        by_kind[kind] = {"threshold": round(cut, 4), "balanced_accuracy": round(float(
            (np.mean([r["similarity"] >= cut for r in mine if r["similar"]] or [np.nan])
             + np.mean([r["similarity"] < cut for r in mine if not r["similar"]] or [np.nan])) / 2), 4)}
    record = {
        "command": "python -m svmr " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["calibrate"] else "",
        "data": {name: folder for name, (folder, _) in sets.items()},
        "copy_model": {"features": ["logit(M_C)", "M_V", "M_R"], "moments": {
            name: {"copies": sum(r["copy"] is True for r in rows), "non_copies": sum(r["copy"] is False for r in rows)}
            for name, rows in evidence.items()},
            "in_sample": {name: _top_labels(rows, weights) for name, rows in evidence.items()},
            "held_out_set": held_out},
        "similar_threshold": {"positives": int(len(positives)), "negatives": int(len(negatives)),
                              "balanced_accuracy": round(accuracy, 4), "held_out_kind": by_kind},
    }
    return MatchCalibration(tuple(round(float(w), 4) for w in weights), round(threshold, 4), record), space
