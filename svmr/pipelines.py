"""The model registry and the two seams the searcher works through.

* A **retriever** (stage 1) turns a video's features into one or more stored vectors and a query
  clip into one vector; a video's score is the max cosine over its vectors.
* A **localizer** (stage 2) turns the query and one reference into scored moments and the maps to
  draw (:class:`~svmr.models.alignment.Alignment`).

Names users type (``python -m svmr search --model NAME``, the app's model menu):

* ``align`` (default): multi-scale window retrieval + frame alignment, training-free
  (:mod:`svmr.models.alignment`);
* ``paper``: seed 000's two-stage model as bundled (CTC auto-encoder + attention re-localization);
* ``baseline``: the training-free baseline of the paper's tables (mean-pooled features +
  sliding-window cosine, standardized with the paper model's training statistics).
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoints import REPO_CHECKPOINTS, load_checkpoint
from .features import FeatureSequence
from .models.alignment import Alignment, AlignmentLocalizer, FrameStatistics, WindowRetrieval
from .postprocess import map_proposals, soft_nms

DEFAULT_STAGE1 = os.path.join(REPO_CHECKPOINTS, "stage1_ctc_ae.safetensors")
DEFAULT_STAGE2 = os.path.join(REPO_CHECKPOINTS, "stage2_attn_prod.safetensors")

#: name → what it is, one line (``search --help``, the README, the app's menu)
PIPELINES = {
    "align": "default: multi-scale window retrieval + frame alignment (training-free, fits the gallery)",
    "paper": "seed 000's two-stage model: CTC auto-encoder + attention re-localization (bundled checkpoints)",
    "baseline": "training-free baseline of the paper's tables: mean-pooled features + sliding-window cosine",
}
DEFAULT_PIPELINE = "align"


class EmbeddingRetriever:
    """A stage-1 network (``encode_query`` / ``encode_reference``, e.g. the CTC auto-encoder or
    the mean-pool baseline) as a retriever: a video's vectors are its ``T_emb`` embeddings."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

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
    """:class:`~svmr.models.alignment.AlignmentLocalizer` on the gallery-centred descriptors."""

    def __init__(self, localizer: AlignmentLocalizer | None = None):
        self.localizer = localizer or AlignmentLocalizer()

    def prepare_query(self, sequence: FeatureSequence, statistics: FrameStatistics) -> np.ndarray:
        return statistics.descriptors(sequence.features)

    def localize(self, query: np.ndarray, reference: FeatureSequence, duration: float,
                 statistics: FrameStatistics, top_k: int) -> Alignment:
        return self.localizer.localize(query, statistics.descriptors(reference.features), reference.rate, top_k)



def build_pipeline(name: str = DEFAULT_PIPELINE, stage1: str | None = None, stage2: str | None = None):
    """``(retriever, localizer)`` for a registry name; ``stage1``/``stage2`` replace the bundled
    checkpoints of ``paper`` (and ``stage1`` the statistics ``baseline`` standardizes with)."""
    if name == "align":
        return WindowRetrieval(), FrameAlignment()
    if name not in PIPELINES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PIPELINES)}")
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
