"""The model registry and the two seams the searcher works through.

* A **retriever** (stage 1) turns a video's features into one or more stored vectors and a query
  clip into one vector; a video's score is the max cosine over its vectors.
* A **localizer** (stage 2) turns the query and one reference into scored moments and the maps to
  draw (:class:`~svmr.models.alignment.Alignment`). By default a moment's score is weighted by its
  video's stage-1 score ``p`` and the videos keep stage 1's order (the paper's rule); a localizer
  with a ``rerank_pool`` (the default's) scores moments on their own, aligns that many stage-1
  candidates and ranks the videos by their best moment.

Names users type (``python -m svmr search --model NAME``, the app's model menu):

* ``align`` (default): multi-scale window retrieval + frame alignment, its best moments checked
  for the query's motion; training-free (:mod:`svmr.models.alignment`, :mod:`svmr.models.motion`);
* ``paper``: seed 000's two-stage model as bundled (CTC auto-encoder + attention re-localization);
* ``baseline``: the training-free baseline of the paper's tables (mean-pooled features +
  sliding-window cosine, standardized with the paper model's training statistics);
* ``graph``: the default's stage 1, and seed 001's graph re-localization for stage 2 (TAG
  proposals of each video scored against the query, the best refined; bundled checkpoints).
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoints import REPO_CHECKPOINTS, load_checkpoint
from .features import FeatureSequence
from .models.alignment import Alignment, AlignmentLocalizer, FrameStatistics, WindowRetrieval
from .models.motion import MotionCheck
from .postprocess import map_proposals, soft_nms

DEFAULT_STAGE1 = os.path.join(REPO_CHECKPOINTS, "stage1_ctc_ae.safetensors")
DEFAULT_STAGE2 = os.path.join(REPO_CHECKPOINTS, "stage2_attn_prod.safetensors")
DEFAULT_ACTIONNESS = os.path.join(REPO_CHECKPOINTS, "actionness.safetensors")
DEFAULT_GRAPH = os.path.join(REPO_CHECKPOINTS, "graph_2x3.safetensors")

#: name → what it is, one line (``search --help``, the README, the app's menu)
PIPELINES = {
    "align": "default: multi-scale window retrieval + frame alignment + motion check (training-free, fits the gallery)",
    "paper": "seed 000's two-stage model: CTC auto-encoder + attention re-localization (bundled checkpoints)",
    "baseline": "training-free baseline of the paper's tables: mean-pooled features + sliding-window cosine",
    "graph": "seed 001's localizer: TAG proposals scored by multi-graph feature fusion (stage 1 as the default's)",
}
DEFAULT_PIPELINE = "align"


class EmbeddingRetriever:
    """A stage-1 network (``encode_query`` / ``encode_reference``, e.g. the CTC auto-encoder or
    the mean-pool baseline) as a retriever: a video's vectors are its ``T_emb`` embeddings."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

    @property
    def key(self) -> str:
        """Names the stored vectors (a persisted stage-1 index): the network's class and weights."""
        import hashlib

        digest = hashlib.sha256()
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
        return f"{type(self.model).__name__.lower()}-{digest.hexdigest()[:12]}"

    def estimated_rows(self, steps: int, rate: float) -> int:
        """Vectors a video gets: ``T_emb`` whatever its length."""
        return int(getattr(getattr(self.model, "config", None), "num_embeddings", 4))

    @torch.no_grad()
    def reference_vectors(self, features: np.ndarray, rate: float) -> np.ndarray:
        """``(C, L)`` → ``(T_emb, D)``."""
        return self.model.encode_reference(torch.from_numpy(features)[None])[0].T.numpy()

    @torch.no_grad()
    def query_vector(self, features: np.ndarray) -> np.ndarray:
        """``(C, L)`` → ``(D,)``."""
        return self.model.encode_query(torch.from_numpy(features)[None])[0].numpy()

    @staticmethod
    def finalize(vectors: np.ndarray, statistics: FrameStatistics | None) -> np.ndarray:
        return F.normalize(torch.from_numpy(np.ascontiguousarray(vectors)), dim=1).numpy()

    @staticmethod
    def video_score(cosine: np.ndarray) -> np.ndarray:
        return cosine


class MapLocalizer:
    """A boundary-matching network (``maps_from_encodings``: the ATLN, BMN, the sliding window)
    as a localizer: ``T × T`` maps over the reference resized to ``T`` steps, proposals scored
    ``M_C · M_R``, Gaussian soft-NMS."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

    @torch.no_grad()
    def prepare_query(self, sequence: FeatureSequence, statistics) -> torch.Tensor:
        return self.model.encode_query(torch.from_numpy(sequence.features)[None])

    @torch.no_grad()
    def localize(self, query: torch.Tensor, reference: FeatureSequence, duration: float, statistics,
                 top_k: int) -> Alignment:
        f_r = self.model.encode_reference(torch.from_numpy(reference.features)[None])
        m_c, m_r = (m[0].numpy() for m in self.model.maps_from_encodings(query, f_r))
        kept = soft_nms(map_proposals(m_c, m_r, duration), sigma=0.4, top_k=top_k)
        step = duration / m_c.shape[0]
        return Alignment(kept, m_c, m_r, np.arange(m_c.shape[0]) * step, (np.arange(m_c.shape[1]) + 1) * step)


class FrameAlignment:
    """:class:`~svmr.models.alignment.AlignmentLocalizer` on the gallery-centred descriptors, then
    the motion check (:mod:`svmr.models.motion`) on each video's best ``motion_checks`` moments.
    Its moments are scored on their own: ``1 − (1 − M_C · M_R)(1 − M_V)``, where ``M_V`` is the
    motion match (0 when either side has no small frames, or the query is still); it aligns the
    ``rerank_pool`` best videos by stage 1 (at least the number asked for) and ranks the videos by
    their best moment."""

    #: how many stage-1 candidates are aligned before the videos are ranked by their best moment
    rerank_pool = 10
    #: moments of each video whose motion is checked (the best by ``M_C · M_R``)
    motion_checks = 3

    def __init__(self, localizer: AlignmentLocalizer | None = None):
        self.localizer = localizer or AlignmentLocalizer()

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


class GraphLocalizer:
    """Seed 001's localizer (:func:`~svmr.models.graph_reloc.graph_moments`): a video's TAG
    proposals, each scored with the query by the graph model, the best after NMS refined. A
    moment's frame match is its score mapped to 0–1 (``(s + 1) / 2``); there is no boundary map
    (M_R = 1). The drawn map holds every proposal's score at its (start, duration) bin."""

    name = "graph"
    #: bins of the drawn map's start and duration axes
    MAP_BINS = 50

    def __init__(self, model: torch.nn.Module, scorer: torch.nn.Module):
        self.model, self.scorer = model.eval(), scorer.eval()

    def prepare_query(self, sequence: FeatureSequence, statistics) -> np.ndarray:
        return sequence.features

    def localize(self, query: np.ndarray, reference: FeatureSequence, duration: float, statistics,
                 top_k: int) -> Alignment:
        from .models.graph_reloc import pick_and_refine, score_proposals
        from .models.tag import tag_proposals

        proposals = tag_proposals(self.scorer, reference.features, duration)
        bins, step = self.MAP_BINS, duration / self.MAP_BINS
        m_c, found = np.zeros((bins, bins)), np.zeros((0, 3))
        if len(proposals):
            scores, offsets = score_proposals(self.model, query, reference.features, duration, proposals)
            found = pick_and_refine(proposals, scores, offsets, duration, top_k)
            scores = (scores + 1) / 2
            starts = np.clip((proposals[:, 0] / step).astype(int), 0, bins - 1)
            lengths = np.clip(((proposals[:, 1] - proposals[:, 0]) / step).astype(int) - 1, 0, bins - 1)
            np.maximum.at(m_c, (starts, lengths), scores)
        match = (found[:, 2] + 1) / 2
        moments = np.stack([found[:, 0], found[:, 1], match, match, np.ones_like(match)], axis=1)
        return Alignment(moments, m_c, np.ones_like(m_c), np.arange(bins) * step, (np.arange(bins) + 1) * step)


def build_pipeline(name: str = DEFAULT_PIPELINE, stage1: str | None = None, stage2: str | None = None,
                   actionness: str | None = None):
    """``(retriever, localizer)`` for a registry name; ``stage1``/``stage2`` replace the bundled
    checkpoints of ``paper`` (and ``stage1`` the statistics ``baseline`` standardizes with;
    ``stage2`` the graph model of ``graph``, ``actionness`` its TAG scorer)."""
    if name == "align":
        return WindowRetrieval(), FrameAlignment()
    if name not in PIPELINES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PIPELINES)}")
    if name == "graph":
        return WindowRetrieval(), GraphLocalizer(load_checkpoint(stage2 or DEFAULT_GRAPH)[0],
                                                 load_checkpoint(actionness or DEFAULT_ACTIONNESS)[0])
    first = load_checkpoint(stage1 or DEFAULT_STAGE1)[0]
    if name == "paper":
        return EmbeddingRetriever(first), MapLocalizer(load_checkpoint(stage2 or DEFAULT_STAGE2)[0])
    from .models.baselines import training_free_pair

    pooled, window = training_free_pair(first.mean, first.std, first.config.num_embeddings)
    return EmbeddingRetriever(pooled), MapLocalizer(window)


def as_retriever(model):
    """A retriever from a retriever or a stage-1 network."""
    return model if hasattr(model, "finalize") else EmbeddingRetriever(model)


def as_localizer(model):
    """A localizer from a localizer or a stage-2 network."""
    return model if hasattr(model, "prepare_query") else MapLocalizer(model)
