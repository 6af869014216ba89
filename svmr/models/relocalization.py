"""Stage 2 of seed 000: the attention-based re-localization network (ATLN) on BMN.

    query f_Q (B, C_o, l_q) ─base─► mean over time ─► f_c (B, C)
    ref   f_R (B, C_o, T)   ─base─► f_r (B, C, T) ─BM layer─► F_r (B, C, N, T, D)  (never built)
    attention  Att = σ(s · cos(Conv3d_{N×1×1}(F_r), f_c))       (B, T, D)   (paper: σ(⟨·,·⟩), see below)
    fusion     F'_r = (Att · F_r) ⊙ f_c                          (B, C, N, T, D)
    head       Conv3d_{N×1×1} C→512, ReLU ─► 2D convs ─► σ ─► M_C, M_R   (B, T, D) each

Both ``Conv3d_{N×1×1}`` layers are linear in ``F_r``, and ``Att`` and ``f_c`` are per-proposal
and per-channel factors, so they are folded into the projection before sampling
(:meth:`BoundaryMatching.project_and_sample`): the same maps as the dense implementation at a
fraction of its cost. ``fusion`` selects the paper's ablations: ``"attn_prod"`` (the paper's),
``"prod"``, ``"attn"``, ``"attn_concat"``, and ``"none"`` (BMN without the query branch).

``attention="dot"`` is the paper's formula as written: the sigmoid of a plain dot product over
``C = 128`` channels. Trained here, its logits grew until every proposal's attention was exactly 1
(Attn+Prod: the attention did nothing) or exactly 0 (Attn: the maps became constant, val AUC 0.107),
and a saturated sigmoid passes no gradient back. ``attention="cosine"`` (default) bounds the
logit: ``s · cos`` with a fixed ``s = 5`` (attention in [0.007, 0.993]).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register
from .boundary_matching import BoundaryMatching
from .normalization import Standardized
from .retrieval import resize_features

FUSIONS = ("attn_prod", "prod", "attn", "attn_concat", "none")


@dataclass(frozen=True)
class Stage2Config:
    feature_dim: int = 1280
    length: int = 100            # l_r = T
    num_bins: int = 32           # N
    channels: int = 128          # C
    hidden_3d: int = 512         # BMN's Conv3d width
    hidden_2d: int = 128
    fusion: str = "attn_prod"
    attention: str = "cosine"    # or "dot" (the paper's formula; saturates, see the module docstring)
    attention_scale: float = 5.0  # s, for "cosine"
    boundaries: bool = True      # BMN's temporal evaluation module (start/end probabilities), trained jointly
    hidden_tem: int = 256        # its Conv1d width (BMN's)

    def to_dict(self) -> dict:
        return asdict(self)


class BaseModule(nn.Module):
    """BMN's base module (two temporal convolutions), shared by query and reference."""

    def __init__(self, feature_dim: int, channels: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(feature_dim, hidden, 3, padding=1, groups=4), nn.ReLU(inplace=True),
                                 nn.Conv1d(hidden, channels, 3, padding=1, groups=4), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ReLocalizationNetwork(Standardized):
    """ATLN and its ablations; ``forward(query, reference)`` → ``(M_C, M_R)``, each ``(B, T, D)``
    indexed ``[start, duration]`` and zero where ``start + duration ≥ T``."""

    def __init__(self, config: Stage2Config = Stage2Config()):
        super().__init__(config.feature_dim)
        if config.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}")
        if config.attention not in ("cosine", "dot"):
            raise ValueError("attention must be 'cosine' or 'dot'")
        self.config = config
        c, n = config.channels, config.num_bins
        self.base = BaseModule(config.feature_dim, c)
        self.bm = BoundaryMatching(config.length, n)
        self.attention = nn.Parameter(torch.empty(c, c, n))            # Conv3d N×1×1, C→C (downsampling)
        self.attention_bias = nn.Parameter(torch.zeros(c))
        in_head = 2 * c if config.fusion == "attn_concat" else c
        self.head_3d = nn.Parameter(torch.empty(config.hidden_3d, in_head, n))
        self.head_3d_bias = nn.Parameter(torch.zeros(config.hidden_3d))
        self.head_2d = nn.Sequential(
            nn.Conv2d(config.hidden_3d, config.hidden_2d, 1), nn.ReLU(inplace=True),
            nn.Conv2d(config.hidden_2d, config.hidden_2d, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(config.hidden_2d, 2, 1))
        for weight in (self.attention, self.head_3d):
            nn.init.kaiming_uniform_(weight.view(weight.shape[0], -1), a=5 ** 0.5)
        # BMN's temporal evaluation module on the reference's base features: start / end logits
        self.tem = nn.Sequential(nn.Conv1d(c, config.hidden_tem, 3, padding=1, groups=4), nn.ReLU(inplace=True),
                                 nn.Conv1d(config.hidden_tem, 2, 1)) if config.boundaries else None

    def encode_query(self, query: torch.Tensor) -> torch.Tensor:
        """``(B, C_o, L_q)`` raw query features → ``f_c`` ``(B, C)``."""
        return self.base(self._normalize(query)).mean(dim=-1)

    def encode_reference(self, reference: torch.Tensor) -> torch.Tensor:
        """``(B, C_o, L)`` raw features (any length; resized to T) → ``f_r`` ``(B, C, T)``."""
        return self.base(resize_features(self._normalize(reference), self.config.length))

    def boundary_probabilities(self, f_r: torch.Tensor) -> torch.Tensor:
        """BMN's TEM: ``f_r (B, C, T)`` → ``(B, 2, T)`` probabilities that a moment starts at the
        beginning of step t (row 0) and ends at the end of step t (row 1).

        Raises:
            ValueError: the model has no TEM (``boundaries=False``, e.g. an older checkpoint).
        """
        if self.tem is None:
            raise ValueError("this stage-2 model has no boundary (TEM) branch")
        return torch.sigmoid(self.tem(f_r))

    def attention_map(self, f_c: torch.Tensor, f_r: torch.Tensor) -> torch.Tensor:
        """``Att`` per valid proposal ``(B, P)``: ``σ(s · cos(f_c, W_d * F_r + b))`` ("cosine") or
        ``σ(Σ_c f_c[c] · (W_d * F_r + b)[c])`` ("dot")."""
        if self.config.attention == "dot":
            weight = torch.einsum("bc,ckn->bkn", f_c, self.attention).unsqueeze(1)      # (B, 1, C, N)
            logits = self.bm.project_and_sample(f_r, weight).squeeze(1)                  # (B, P)
            return torch.sigmoid(logits + (f_c * self.attention_bias).sum(dim=1, keepdim=True))
        down = self.bm.project_and_sample(f_r, self.attention) + self.attention_bias[None, :, None]  # (B, C, P)
        cosine = F.cosine_similarity(down, f_c[:, :, None], dim=1, eps=1e-6)                         # (B, P)
        return torch.sigmoid(self.config.attention_scale * cosine)

    def proposal_features(self, f_c: torch.Tensor, f_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's Conv3d applied to the fused BM map, before its ReLU: ``(B, hidden_3d, P)``
        at the valid proposals, and ``(B, hidden_3d)`` at the invalid ones (``start + duration ≥
        T``), where the BM map is zero, so the Conv3d gives its bias (plus the query's part for
        Attn+Concat) — what BMN's dense layer puts there."""
        fusion, c = self.config.fusion, self.config.channels
        bias = self.head_3d_bias[None, :].expand(len(f_c), -1)
        if fusion in ("prod", "attn_prod"):
            projected = self.bm.project_and_sample(f_r * f_c[:, :, None], self.head_3d)
        elif fusion == "attn_concat":
            reference_part = self.bm.project_and_sample(f_r, self.head_3d[:, :c])
            # f_c is constant over (n, s, d): its Conv3d contribution is Σ_{c,n} W[o, C + c, n] f_c[c]
            query_part = torch.einsum("ocn,bc->bo", self.head_3d[:, c:], f_c)
            projected = reference_part  # attention below scales the reference part only
            bias = bias + query_part
        else:  # "attn" or "none"
            projected = self.bm.project_and_sample(f_r, self.head_3d)
        if fusion.startswith("attn"):
            projected = projected * self.attention_map(f_c, f_r)[:, None, :]
        return projected + bias[:, :, None], bias

    def forward(self, query: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f_c = self.encode_query(query)
        f_r = self.encode_reference(reference)
        return self.maps_from_encodings(f_c, f_r)

    def maps_from_encodings(self, f_c: torch.Tensor, f_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``f_c (B, C)``, ``f_r (B, C, T)`` → ``(M_C, M_R)`` ``(B, T, D)``."""
        valid_part, invalid_part = self.proposal_features(f_c, f_r)
        hidden = F.relu(self.bm.to_map(valid_part, invalid_part))                    # (B, H, T, D)
        maps = torch.sigmoid(self.head_2d(hidden)) * self.bm.valid_mask().to(hidden.device)
        return maps[:, 0], maps[:, 1]

    def dense_forward(self, query: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The straightforward implementation (paper's "attn_prod" only), for checks and speed
        comparisons: builds the dense BM map ``F_r (B, C, N, D, T)`` with BMN's ``T × (N·D·T)``
        matrix and applies every layer as written. Same maps as :meth:`forward`."""
        assert self.config.fusion == "attn_prod", "the dense reference covers the paper's fusion"
        f_c, f_r = self.encode_query(query), self.encode_reference(reference)
        bm = self.bm.dense_feature_map(f_r)                                            # (B, C, N, D, S)
        down = torch.einsum("ckn,bknds->bcds", self.attention, bm) + self.attention_bias[None, :, None, None]
        if self.config.attention == "dot":
            attention = torch.sigmoid(torch.einsum("bcds,bc->bds", down, f_c))         # (B, D, S)
        else:
            cosine = F.cosine_similarity(down, f_c[:, :, None, None], dim=1, eps=1e-6)
            attention = torch.sigmoid(self.config.attention_scale * cosine)
        fused = attention[:, None, None] * bm * f_c[:, :, None, None, None]
        hidden = F.relu(torch.einsum("ocn,bcnds->bods", self.head_3d, fused)
                        + self.head_3d_bias[None, :, None, None])
        maps = torch.sigmoid(self.head_2d(hidden.transpose(-1, -2))) * self.bm.valid_mask().to(hidden.device)
        return maps[:, 0], maps[:, 1]


@register("stage2")
def _build_stage2(config: dict) -> ReLocalizationNetwork:
    # checkpoints written before the "attention" option used the paper's dot product, and those
    # written before the TEM branch have none
    return ReLocalizationNetwork(Stage2Config(**{"attention": "dot", "boundaries": False, **config}))
