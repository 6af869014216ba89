"""``graph``: seed 001's re-localization — the default's window retrieval for stage 1, then each
video's TAG proposals scored against the query by the multi-graph model and the best refined."""
from __future__ import annotations

import os

import numpy as np
import torch

from ..checkpoints import load_checkpoint
from ..features import FeatureSequence
from ..models.alignment import Alignment, WindowRetrieval
from .base import Pipeline, register


class GraphLocalizer:
    """Seed 001's localizer (:func:`~svmr.models.graph_reloc.graph_moments`): a video's TAG
    proposals, each scored with the query by the graph model, the best after NMS refined. A
    moment's frame match is its score mapped to 0–1 (``(s + 1) / 2``); there is no boundary map
    (M_R = 1). The drawn map holds every proposal's score at its (start, duration) bin."""

    #: bins of the drawn map's start and duration axes
    MAP_BINS = 50

    def __init__(self, model: torch.nn.Module, scorer: torch.nn.Module):
        self.model, self.scorer = model.eval(), scorer.eval()

    def prepare_query(self, sequence: FeatureSequence, statistics) -> np.ndarray:
        return sequence.features

    def localize(self, query: np.ndarray, reference: FeatureSequence, duration: float, statistics,
                 top_k: int) -> Alignment:
        from ..models.graph_reloc import graph_moments
        from ..models.tag import tag_proposals

        proposals = tag_proposals(self.scorer, reference.features, duration)
        bins, step = self.MAP_BINS, duration / self.MAP_BINS
        m_c = np.zeros((bins, bins))
        found, scores = graph_moments(self.model, query, reference.features, duration, proposals, top_k)
        if len(proposals):
            scores = (scores + 1) / 2
            starts = np.clip((proposals[:, 0] / step).astype(int), 0, bins - 1)
            lengths = np.clip(((proposals[:, 1] - proposals[:, 0]) / step).astype(int) - 1, 0, bins - 1)
            np.maximum.at(m_c, (starts, lengths), scores)
        match = (found[:, 2] + 1) / 2
        moments = np.stack([found[:, 0], found[:, 1], match, match, np.ones_like(match)], axis=1)
        return Alignment(moments, m_c, np.ones_like(m_c), np.arange(bins) * step, (np.arange(bins) + 1) * step)


@register("graph", summary="seed 001's localizer: TAG proposals scored by multi-graph feature fusion "
                           "(stage 1 as the default's)",
          label="Seed 001: window retrieval + TAG proposals scored by multi-graph feature fusion",
          menu="Seed 001: graph re-localization (procedural video; places real moments poorly)",
          order=3, checkpoints={"stage2": "graph_2x3.safetensors", "actionness": "actionness.safetensors"})
def build_graph(stage2: str, actionness: str, device="cpu") -> Pipeline:
    """Runs on the CPU whatever ``device`` says (its proposal scoring takes NumPy arrays)."""
    localizer = GraphLocalizer(load_checkpoint(stage2)[0], load_checkpoint(actionness)[0])
    return Pipeline("graph", WindowRetrieval(), localizer,
                    config={"name": "graph", "stage2": os.path.basename(stage2),
                            "actionness": os.path.basename(actionness), "device": "cpu"})
