"""Trained networks as a retriever and a localizer (:mod:`svmr.pipelines.base`): the seam the
paper's model, its baselines and any stage-1 / stage-2 network plug into."""
from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from ..device import network_device
from ..features import FeatureSequence
from ..features.statistics import FrameStatistics
from ..models.alignment import Alignment
from ..postprocess import PAPER_POSTPROCESSING, PostProcessing, map_proposals, soft_nms


class EmbeddingRetriever:
    """A stage-1 network (``encode_query`` / ``encode_reference``, e.g. the CTC auto-encoder or
    the mean-pool baseline) as a retriever: a video's vectors are its ``T_emb`` embeddings."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @property
    def key(self) -> str:
        """Names the stored vectors (a persisted stage-1 index): the network's class and weights."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
        return f"{type(self.model).__name__.lower()}-{digest.hexdigest()[:12]}"

    def estimated_rows(self, steps: int, rate: float) -> int:
        """Vectors a video gets: ``T_emb`` whatever its length."""
        return int(getattr(getattr(self.model, "config", None), "num_embeddings", 4))

    def _tensor(self, features: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(features))[None].to(self.device)

    @torch.no_grad()
    def reference_vectors(self, sequence: FeatureSequence) -> np.ndarray:
        """``(C, L)`` features → ``(T_emb, D)``."""
        return self.model.encode_reference(self._tensor(sequence.features))[0].T.float().cpu().numpy()

    @torch.no_grad()
    def query_vector(self, sequence: FeatureSequence) -> np.ndarray:
        """``(C, L)`` features → ``(D,)``."""
        return self.model.encode_query(self._tensor(sequence.features))[0].float().cpu().numpy()

    @staticmethod
    def finalize(vectors: np.ndarray, statistics: FrameStatistics | None) -> np.ndarray:
        return F.normalize(torch.from_numpy(np.ascontiguousarray(vectors)), dim=1).numpy()

    @staticmethod
    def video_score(cosine: np.ndarray) -> np.ndarray:
        return cosine


@torch.no_grad()
def map_moments(model: torch.nn.Module, query: torch.Tensor, reference: np.ndarray, duration: float, top_k: int,
                post: PostProcessing = PAPER_POSTPROCESSING) -> Alignment:
    """A boundary-matching network's moments of one reference: the search's stage 2 and the
    evaluation's (``svmr.train.stage2.localize``, the tables) both run this.

    Args:
        query: the network's query encoding (``encode_query``), on the network's device.
        reference: raw features ``(C, L)``.
    Returns:
        up to ``top_k`` rows ``(start_s, end_s, M_C · M_R after soft-NMS, M_C, M_R)`` and the
        ``T × T`` maps over the reference resized to ``T`` steps.
    """
    device = network_device(model)
    f_r = model.encode_reference(torch.from_numpy(np.ascontiguousarray(reference))[None].to(device))
    m_c, m_r = (m[0].float().cpu().numpy() for m in model.maps_from_encodings(query, f_r))
    keep = None
    if post.boundary_filter and getattr(model, "tem", None) is not None:
        from ..postprocess import boundary_mask

        keep = boundary_mask(model.boundary_probabilities(f_r)[0].float().cpu().numpy(), m_c.shape[1])
    kept = soft_nms(map_proposals(m_c, m_r, duration, keep), sigma=0.4, top_k=top_k, gate=post.gate,
                    duration=duration)
    step = duration / m_c.shape[0]
    return Alignment(kept, m_c, m_r, np.arange(m_c.shape[0]) * step, (np.arange(m_c.shape[1]) + 1) * step)


class MapLocalizer:
    """A boundary-matching network (``maps_from_encodings``: the ATLN, BMN, the sliding window)
    as a localizer (:func:`map_moments`): ``T × T`` maps over the reference resized to ``T`` steps,
    proposals scored ``M_C · M_R``, Gaussian soft-NMS (``post``: the paper's by default)."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu",
                 post: PostProcessing = PAPER_POSTPROCESSING):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.post = post

    @torch.no_grad()
    def prepare_query(self, sequence: FeatureSequence, statistics) -> torch.Tensor:
        return self.model.encode_query(torch.from_numpy(sequence.features)[None].to(self.device))

    def localize(self, query: torch.Tensor, reference: FeatureSequence, duration: float, statistics,
                 top_k: int) -> Alignment:
        return map_moments(self.model, query, reference.features, duration, top_k, self.post)


def fresh_network(network: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """``network`` with its parameters re-drawn as PyTorch initializes an untrained one (its
    buffers, e.g. normalization statistics, kept): the control trained weights must beat."""
    torch.manual_seed(seed)
    for module in network.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return network


def with_fresh_networks(pipeline, seed: int = 0):
    """A :class:`~svmr.pipelines.base.Pipeline` whose retriever's and localizer's networks
    (``model``, ``scorer``) are made :func:`fresh_network`, in place; returns it."""
    for part in (pipeline.retriever, pipeline.localizer):
        for network in (getattr(part, "model", None), getattr(part, "scorer", None)):
            if isinstance(network, torch.nn.Module):
                fresh_network(network, seed)
    return pipeline
