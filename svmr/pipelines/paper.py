"""``paper``: seed 000's two-stage model as bundled — the CTC auto-encoder ranks videos, attention
re-localization on the boundary-matching map places the moments."""
from __future__ import annotations

import os

from ..checkpoints import load_checkpoint
from .base import Pipeline, register
from .networks import EmbeddingRetriever, MapLocalizer


@register("paper", summary="seed 000's two-stage model: CTC auto-encoder + attention re-localization "
                           "(bundled checkpoints)",
          label="Two-stage model (paper): CTC auto-encoder + attention re-localization",
          menu="Paper model (trained on procedural video; places real moments poorly)",
          order=1, checkpoints={"stage1": "stage1_ctc_ae.safetensors", "stage2": "stage2_attn_prod.safetensors"})
def build_paper(stage1: str, stage2: str, device="cpu") -> Pipeline:
    retriever = EmbeddingRetriever(load_checkpoint(stage1, device)[0], device)
    localizer = MapLocalizer(load_checkpoint(stage2, device)[0], device)
    return Pipeline("paper", retriever, localizer,
                    config={"name": "paper", "stage1": os.path.basename(stage1),
                            "stage2": os.path.basename(stage2), "device": str(device)})
