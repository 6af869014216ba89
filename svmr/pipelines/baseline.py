"""``baseline``: the training-free baseline of the paper's tables — mean-pooled features and a
sliding-window cosine, standardized with the paper model's training statistics."""
from __future__ import annotations

import os

from ..checkpoints import load_checkpoint
from .base import Pipeline, register
from .networks import EmbeddingRetriever, MapLocalizer


@register("baseline", summary="training-free baseline of the paper's tables: mean-pooled features + "
                              "sliding-window cosine",
          label="Training-free baseline: mean-pooled features + sliding-window cosine",
          menu="Baseline: mean-pooled features, sliding window (for comparison)",
          order=2, checkpoints={"stage1": "stage1_ctc_ae.safetensors"})
def build_baseline(stage1: str, device="cpu") -> Pipeline:
    """``stage1``: the paper model whose training statistics standardize the features."""
    from ..models.baselines import training_free_pair

    first = load_checkpoint(stage1)[0]
    pooled, window = training_free_pair(first.mean, first.std, first.config.num_embeddings)
    return Pipeline("baseline", EmbeddingRetriever(pooled, device), MapLocalizer(window, device),
                    config={"name": "baseline", "statistics_from": os.path.basename(stage1),
                            "device": str(device)})
