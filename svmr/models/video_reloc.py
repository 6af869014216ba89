"""Video re-localization by cross-gated bilinear matching (Feng et al., 2018): the paper's
Table 8 baseline that predicts one moment per reference video.

    query (B, C_o, L_q) ─LSTM─► h_q (B, L_q, H)
    ref   (B, C_o, T)   ─LSTM─► h_r (B, T, H)
    attention: a_t = Σ_i softmax_i(wᵀ tanh(W_q h_q,i + W_r h_r,t)) h_q,i
    cross gating: h̃_r,t = h_r,t ⊙ σ(G_a a_t),  ã_t = a_t ⊙ σ(G_r h_r,t)
    factorized bilinear matching m_t, aggregated by a bidirectional LSTM
    per step: P(start), P(end), P(inside) — the moment maximizing P_s(s)·P_e(e), s ≤ e

Maps: ``M_C[s, d] = P_s(s) · P_e(s + d)`` (start × duration), ``M_R = 1``; keep only the top-1
moment when evaluating, as the method is designed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register
from .normalization import Standardized
from .retrieval import resize_features


@dataclass(frozen=True)
class VideoRelocConfig:
    feature_dim: int = 1280
    length: int = 100
    hidden: int = 128
    factors: int = 32         # bilinear matching output size

    def to_dict(self) -> dict:
        return asdict(self)


class CrossGatedMatching(Standardized):
    def __init__(self, config: VideoRelocConfig = VideoRelocConfig()):
        super().__init__(config.feature_dim)
        self.config = config
        h = config.hidden
        self.project = nn.Linear(config.feature_dim, h)
        self.query_lstm = nn.LSTM(h, h, batch_first=True)
        self.reference_lstm = nn.LSTM(h, h, batch_first=True)
        self.att_q, self.att_r, self.att_w = nn.Linear(h, h, bias=False), nn.Linear(h, h), nn.Linear(h, 1, bias=False)
        self.gate_a, self.gate_r = nn.Linear(h, h), nn.Linear(h, h)
        self.bilinear_a, self.bilinear_r = nn.Linear(h, config.factors), nn.Linear(h, config.factors)
        self.aggregate = nn.LSTM(config.factors, h, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(2 * h, 3)        # start, end, inside logits (independent sigmoids)
        n = config.length
        self.register_buffer("valid", (torch.arange(n)[:, None] + torch.arange(n)[None, :]) < n, persistent=False)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.project(self._normalize(x).transpose(1, 2)))            # (B, L, H)

    def encode_query(self, query: torch.Tensor) -> torch.Tensor:
        """``(B, C_o, L_q) → h_q (B, 4, H)`` (resized to 4 steps so batches stack)."""
        return self.query_lstm(self._embed(resize_features(query, 4)))[0]

    def encode_reference(self, reference: torch.Tensor) -> torch.Tensor:
        """``(B, C_o, L) → h_r (B, T, H)``."""
        return self.reference_lstm(self._embed(resize_features(reference, self.config.length)))[0]

    def step_logits(self, h_q: torch.Tensor, h_r: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3)`` start / end / inside logits."""
        scores = self.att_w(torch.tanh(self.att_q(h_q)[:, None] + self.att_r(h_r)[:, :, None])).squeeze(-1)
        attended = torch.einsum("bti,bih->bth", scores.softmax(dim=-1), h_q)   # (B, T, H)
        gated_r = h_r * torch.sigmoid(self.gate_a(attended))
        gated_a = attended * torch.sigmoid(self.gate_r(h_r))
        matched = self.bilinear_a(gated_a) * self.bilinear_r(gated_r)
        return self.classify(self.aggregate(matched)[0])

    def maps_from_encodings(self, h_q: torch.Tensor, h_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.step_logits(h_q, h_r)
        p_start, p_end = torch.sigmoid(logits[..., 0]), torch.sigmoid(logits[..., 1])
        n = self.config.length
        steps = torch.arange(n, device=logits.device)
        ends = (steps[:, None] + steps[None, :]).clamp(max=n - 1)                       # (T, D)
        m_c = p_start[:, :, None] * p_end[:, ends] * self.valid
        return m_c, self.valid.float().expand_as(m_c)

    def forward(self, query: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.maps_from_encodings(self.encode_query(query), self.encode_reference(reference))


def boundary_labels(segments: list[tuple[float, float]], duration: float, length: int) -> torch.Tensor:
    """``(T, 3)`` targets: the step where a positive starts, where it ends, and steps inside."""
    labels = torch.zeros(length, 3)
    for start, end in segments:
        s = min(length - 1, int(start / duration * length))
        e = max(s, min(length - 1, int(end / duration * length - 1e-6)))
        labels[s, 0] = labels[e, 1] = 1.0
        labels[s:e + 1, 2] = 1.0
    return labels


def boundary_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross entropy per step, positives of start/end up-weighted by their rarity."""
    positives = labels.sum(dim=(0, 1)).clamp(min=1)
    weight = 1 + labels * (labels.shape[0] * labels.shape[1] / positives - 1).clamp(min=0) * 0.5
    return F.binary_cross_entropy_with_logits(logits, labels, weight=weight)


@register("video_reloc")
def _build(config: dict) -> CrossGatedMatching:
    return CrossGatedMatching(VideoRelocConfig(**config))
