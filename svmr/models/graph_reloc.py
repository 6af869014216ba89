"""Seed 001: video re-localization by multi-graph feature fusion (graph convolutions over the
query's and a proposal's time steps).

    query    f_Q (B, C_o, L_q) ─resample to T─► LSTM_q ─► H_q (B, T, d)
    proposal f_P (B, C_o, L_p) ─resample to T─► LSTM_p ─► H_p (B, T, d)
    H⁽⁰⁾ = [H_q; H_p] (B, 2T, d): 2T nodes
    n × multi-graph fusion layer:  H̃ = Conv1×1(H);  H' = Conv1×1([tanh(Â_1 H̃ W_1), …, tanh(Â_K H̃ W_K)])
    h_global = AvgPool over the 2T nodes ─► score MLP → s ∈ [−1, 1] (triplet loss)
                                        └─► regression MLP → (T_c, T_l) (L1, its own optimizer)

Resampling to T (:func:`to_steps`): a longer sequence keeps T equidistant steps, a shorter one is
zero-padded at the end, as the paper says (section 5.2).

Adjacency (:func:`adjacency`, section 4.3): ``Â_k`` is ``2T × 2T`` and binary. Within a video a
node links to the nodes at most k steps away (itself included); query node i links to proposal
nodes i, i ± k, i ± 2k, … (the same time step and every k-th on both sides); symmetric. The
fusion layer uses the graphs ``Â_1 … Â_K`` ("k = 1, 2, 3 to build multiple graphs": K graphs).

Choices where the paper is silent (also listed in docs/benchmarks.md next to the tables):

* the adjacency is used as the paper writes it, binary and unnormalized (``normalize=True`` divides
  each row by its degree instead);
* padded nodes stay in the graph as the paper's zero padding leaves them (``mask_padding=True``
  removes their edges and leaves them out of the average pool);
* hidden size d = 128 for the LSTMs and the fusion layers (the paper's C3D/PCA inputs had 500).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..device import network_device
from .registry import register
from .normalization import Standardized


@dataclass(frozen=True)
class GraphRelocConfig:
    feature_dim: int = 1280
    steps: int = 40              # T: nodes per video
    hidden: int = 128            # d
    layers: int = 2              # n multi-graph fusion layers
    graphs: int = 3              # K: Â_1 … Â_K per layer
    dropout: float = 0.2         # on the LSTMs' inputs (the paper uses dropout in the LSTM module)
    convolution: str = "graph"   # "graph" (the paper) or "cnn" (the ablation: 1×1 convs instead of Â_k)
    normalize: bool = False      # divide Â_k's rows by their degree (the paper: binary, unnormalized)
    mask_padding: bool = False   # drop padded nodes' edges and pooling (the paper: they stay)

    def to_dict(self) -> dict:
        return asdict(self)


def adjacency(steps: int, k: int) -> torch.Tensor:
    """The binary ``(2T, 2T)`` adjacency ``Â_k`` of section 4.3 (query nodes first).

    Intra-video: ``Â[i, max(0, i−k) : min(T−1, i+k) + 1] = 1`` in each video. Inter-video: query
    node i and proposal node j are linked when ``(j − i)`` is a multiple of k; symmetric.
    """
    index = torch.arange(steps)
    gap = index[:, None] - index[None, :]
    intra = (gap.abs() <= k).float()
    inter = (gap % k == 0).float()
    return torch.cat([torch.cat([intra, inter], 1), torch.cat([inter.T, intra], 1)], 0)


def to_steps(features: torch.Tensor, steps: int) -> tuple[torch.Tensor, int]:
    """``(C, L)`` → ``(C, T)``: T equidistant steps of a longer sequence, or the sequence then
    zeros; returns it and the number of real (unpadded) steps."""
    length = features.shape[1]
    if length >= steps:
        picks = torch.linspace(0, length - 1, steps).round().long()
        return features[:, picks], steps
    return torch.cat([features, features.new_zeros(features.shape[0], steps - length)], 1), length


def standardized_steps(model: Standardized, sequences: list[torch.Tensor], steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw ``(C_o, L)`` sequences → standardized, resampled / zero-padded ``(B, C_o, T)`` and the
    real-step masks ``(B, T)`` (padding is zero after standardization)."""
    resampled, real = zip(*(to_steps((s - model.mean[:, None]) / model.std[:, None], steps) for s in sequences))
    device = sequences[0].device
    mask = torch.arange(steps, device=device)[None, :] < torch.tensor(real, device=device)[:, None]
    return torch.stack(resampled) * mask[:, None, :], mask


class MultiGraphFusion(nn.Module):
    """One multi-graph feature fusion layer: ``(B, 2T, d) → (B, 2T, d)``."""

    def __init__(self, hidden: int, graphs: int, convolution: str = "graph"):
        super().__init__()
        self.project = nn.Linear(hidden, hidden)                 # Conv1×1 over nodes
        self.weights = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(graphs))
        self.fuse = nn.Linear(graphs * hidden, hidden)           # Conv1×1 over the concatenation
        self.convolution = convolution

    def forward(self, nodes: torch.Tensor, adjacencies: torch.Tensor) -> torch.Tensor:
        """``nodes (B, N, d)``, ``adjacencies (B, K, N, N)`` (unused by the "cnn" ablation)."""
        projected = self.project(nodes)
        branches = []
        for k, weight in enumerate(self.weights):
            mixed = projected if self.convolution == "cnn" else adjacencies[:, k] @ projected
            branches.append(torch.tanh(weight(mixed)))
        return self.fuse(torch.cat(branches, dim=-1))


def _mlp(hidden: int, outputs: int) -> nn.Sequential:
    """The score / regression modules (Figure 10): FC, BatchNorm, ReLU, FC."""
    return nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, outputs))


class GraphReLocalization(Standardized):
    """``forward(query, proposal)`` → ``(score (B,) in [−1, 1], offsets (B, 2) = (T_c, T_l))``."""

    def __init__(self, config: GraphRelocConfig = GraphRelocConfig()):
        super().__init__(config.feature_dim)
        if config.convolution not in ("graph", "cnn"):
            raise ValueError("convolution must be 'graph' or 'cnn'")
        self.config = config
        d = config.hidden
        self.dropout = nn.Dropout(config.dropout)
        self.query_lstm = nn.LSTM(config.feature_dim, d, batch_first=True)
        self.proposal_lstm = nn.LSTM(config.feature_dim, d, batch_first=True)
        self.layers = nn.ModuleList(MultiGraphFusion(d, config.graphs, config.convolution)
                                    for _ in range(config.layers))
        self.score_head = _mlp(d, 1)
        self.regression_head = _mlp(d, 2)
        graphs = torch.stack([adjacency(config.steps, k) for k in range(1, config.graphs + 1)])
        self.register_buffer("adjacencies", graphs, persistent=False)                  # (K, 2T, 2T)

    def regression_parameters(self) -> list[nn.Parameter]:
        """The regression module's parameters (trained by their own optimizer on L_reg only)."""
        return list(self.regression_head.parameters())

    def triplet_parameters(self) -> list[nn.Parameter]:
        """Every other parameter (trained on the triplet loss)."""
        own = {id(p) for p in self.regression_parameters()}
        return [p for p in self.parameters() if id(p) not in own]

    def _nodes(self, lstm: nn.LSTM, sequences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw ``(C_o, L)`` sequences → LSTM outputs ``(B, T, d)`` and real-step masks ``(B, T)``."""
        padded, mask = standardized_steps(self, sequences, self.config.steps)           # (B, C, T), (B, T)
        return lstm(self.dropout(padded.transpose(1, 2)))[0], mask

    def global_feature(self, queries: list[torch.Tensor], proposals: list[torch.Tensor]) -> torch.Tensor:
        """``h_global (B, d)`` of query–proposal pairs (raw ``(C_o, L)`` feature sequences)."""
        h_q, mask_q = self._nodes(self.query_lstm, queries)
        h_p, mask_p = self._nodes(self.proposal_lstm, proposals)
        nodes = torch.cat([h_q, h_p], dim=1)                                             # (B, 2T, d)
        mask = torch.cat([mask_q, mask_p], dim=1).float()                                # (B, 2T)
        adjacencies = self.adjacencies[None].expand(len(nodes), -1, -1, -1)
        if self.config.mask_padding:
            adjacencies = adjacencies * mask[:, None, :, None] * mask[:, None, None, :]
        if self.config.normalize:
            adjacencies = adjacencies / adjacencies.sum(-1, keepdim=True).clamp(min=1.0)
        for layer in self.layers:
            nodes = layer(nodes, adjacencies)
        if self.config.mask_padding:
            return (nodes * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return nodes.mean(dim=1)

    def forward(self, queries: list[torch.Tensor], proposals: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h_global = self.global_feature(queries, proposals)
        score = torch.tanh(self.score_head(h_global))[:, 0]
        offsets = self.regression_head(h_global.detach())   # L_reg trains the regression module only
        return score, offsets


def triplet_loss(positive: torch.Tensor, negative: torch.Tensor, parameters: list[nn.Parameter],
                 margin: float = 0.5, weight_decay: float = 5e-3) -> torch.Tensor:
    """``Σ_i max(0, γ − S(q, p) + S(q, n)) + λ‖θ‖²`` (section 4.7.1: γ = 0.5, λ = 5·10⁻³)."""
    ranking = torch.clamp(margin - positive + negative, min=0).sum()
    return ranking + weight_decay * sum((p ** 2).sum() for p in parameters)


def regression_targets(proposals: torch.Tensor, truths: torch.Tensor) -> torch.Tensor:
    """``(T_c*, T_l*)`` of section 4.7.2 for ``(B, 2)`` proposals and ground truths (start, end):
    ``T_c* = (loc − loc*) / len*``, ``T_l* = log(len / len*)``."""
    loc, length = proposals.mean(1), (proposals[:, 1] - proposals[:, 0]).clamp(min=1e-6)
    loc_true, length_true = truths.mean(1), (truths[:, 1] - truths[:, 0]).clamp(min=1e-6)
    return torch.stack([(loc - loc_true) / length_true, torch.log(length / length_true)], dim=1)


def refine(proposals: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Section 4.8.2: ``len* = exp(−T_l) · len``, ``loc* = loc − T_c · len*``; ``(B, 2)`` → ``(B, 2)``."""
    loc, length = proposals.mean(1), proposals[:, 1] - proposals[:, 0]
    refined_length = torch.exp(-offsets[:, 1]) * length
    refined_loc = loc - offsets[:, 0] * refined_length
    return torch.stack([refined_loc - refined_length / 2, refined_loc + refined_length / 2], dim=1)


def regression_loss(offsets: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(1/N) Σ |T_c − T_c*| + |T_l − T_l*|``."""
    return (offsets - targets).abs().sum(1).mean()


def clip(features: np.ndarray, duration: float, start: float, end: float) -> torch.Tensor:
    """The feature steps of ``[start, end)`` seconds (at least one): ``(C, n)``."""
    length = features.shape[1]
    lo = int(np.clip(np.floor(start / duration * length), 0, length - 1))
    hi = int(np.clip(np.ceil(end / duration * length), lo + 1, length))
    return torch.from_numpy(features[:, lo:hi])


@torch.no_grad()
def score_proposals(model: GraphReLocalization, query: np.ndarray, reference: np.ndarray, duration: float,
                    proposals: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """Every proposal (rows ``(start_s, end_s, ...)``) scored with the query: scores ``(P,)`` in
    [−1, 1] and regression offsets ``(P, 2)``."""
    model.eval()
    device = network_device(model)
    clips = [clip(reference, duration, s, e).to(device) for s, e in proposals[:, :2]]
    scores, offsets = model([torch.from_numpy(query).to(device)] * len(clips), clips)
    return scores.cpu().numpy(), offsets.cpu()


def pick_and_refine(proposals: np.ndarray, scores: np.ndarray, offsets: torch.Tensor, duration: float,
                    top_k: int = 1, nms_threshold: float = 0.5) -> np.ndarray:
    """Seed 001's test procedure: the best ``top_k`` proposals (after NMS at ``nms_threshold``),
    refined by the regression formulas. Rows ``(start_s, end_s, score)``, best first."""
    from .tag import nms

    if not len(proposals):
        return np.zeros((0, 3))
    kept = nms(proposals[:, :2], scores, nms_threshold)[:top_k]
    refined = refine(torch.from_numpy(proposals[kept, :2]).float(), offsets[kept]).numpy().clip(0, duration)
    return np.concatenate([refined, scores[kept, None]], axis=1)


def graph_moments(model: GraphReLocalization, query: np.ndarray, reference: np.ndarray, duration: float,
                  proposals: np.ndarray, top_k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`score_proposals` then :func:`pick_and_refine` on one query–reference pair: the search's
    stage 2 (``svmr.pipelines.graph``) and the evaluation's. Returns the moments ``(K, 3)`` rows
    ``(start_s, end_s, score)`` and every proposal's score ``(P,)``."""
    if not len(proposals):
        return np.zeros((0, 3)), np.zeros(0)
    scores, offsets = score_proposals(model, query, reference, duration, proposals)
    return pick_and_refine(proposals, scores, offsets, duration, top_k), scores


@register("graph_reloc")
def _build_graph_reloc(config: dict) -> GraphReLocalization:
    return GraphReLocalization(GraphRelocConfig(**config))
