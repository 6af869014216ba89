"""Stage 1 of seed 000: the two-branch auto-encoder that ranks gallery videos.

Query features are resized to ``l_q = 4`` steps and reference features to ``l_r = 100`` by linear
interpolation. Each branch projects every step to ``d_e = 512`` concepts, then applies three CTC
layers (F_out = 1, 32, 1) with average pooling between them, down to 1 step (query: ``e_q``) or
``T_emb = 4`` steps (reference: ``e_r``); decoders mirror the encoders with upsampling and
reconstruct the (normalized) input features.

    query  (B, C, 4)   ─proj─► (B,512,4,1) ─CTC 1→1─ pool→2 ─CTC 1→32─ pool→1 ─CTC 32→1─► e_q (B,512)
    ref    (B, C, 100) ─proj─► (B,512,100,1) ─CTC 1→1─ pool→20 ─CTC 1→32─ pool→4 ─CTC 32→1─► e_r (B,512,4)
    score  p_{q,r} = max_i cos(e_q, e_r[:, i])

Variants (the paper's Table 1): ``layer="conv1d"`` (plain temporal convolutions), ``shared=True``
(one encoder/decoder for both branches), and training without the reconstruction loss.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .ctc import ConceptTemporalConv, TemporalConv
from .normalization import Standardized


@dataclass(frozen=True)
class Stage1Config:
    feature_dim: int = 1280
    embed_dim: int = 512           # d_e
    query_length: int = 4          # l_q
    reference_length: int = 100    # l_r
    num_embeddings: int = 4        # T_emb
    filters: tuple[int, int, int] = (1, 32, 1)
    layer: str = "ctc"             # "ctc" or "conv1d"
    shared: bool = False           # one set of weights for both branches (ablation)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Stage1Config":
        data = dict(data)
        data["filters"] = tuple(data.get("filters", (1, 32, 1)))
        return cls(**data)


def resize_features(features: torch.Tensor, length: int) -> torch.Tensor:
    """Linear interpolation along time: ``(B, C, L) → (B, C, length)``."""
    return F.interpolate(features, size=length, mode="linear", align_corners=False)


def _layer(config: Stage1Config, in_filters: int, out_filters: int) -> nn.Module:
    if config.layer == "ctc":
        return ConceptTemporalConv(in_filters, out_filters)
    if config.layer == "conv1d":
        return TemporalConv(config.embed_dim)
    raise ValueError(f"unknown layer {config.layer!r}")


class Encoder(nn.Module):
    """``(B, C, L) → (B, d_e, L / prod(pools))`` through projection + 3 CTC layers."""

    def __init__(self, config: Stage1Config, pools: tuple[int, int]):
        super().__init__()
        f1, f2, f3 = config.filters if config.layer == "ctc" else (1, 1, 1)
        self.project = nn.Conv1d(config.feature_dim, config.embed_dim, 1)
        self.layers = nn.ModuleList([_layer(config, 1, f1), _layer(config, f1, f2), _layer(config, f2, f3)])
        self.pools = pools

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.project(x)).unsqueeze(-1)                      # (B, D, L, 1)
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index < 2:
                h = F.relu(h)
                pool = self.pools[index]
                if pool > 1:
                    h = F.avg_pool2d(h, kernel_size=(pool, 1))        # time only
        return h.squeeze(-1)                                           # (B, D, L')


class Decoder(nn.Module):
    """Mirror of :class:`Encoder`: ``(B, d_e, L') → (B, C, L)``."""

    def __init__(self, config: Stage1Config, pools: tuple[int, int]):
        super().__init__()
        f1, f2, f3 = config.filters if config.layer == "ctc" else (1, 1, 1)
        self.layers = nn.ModuleList([_layer(config, f3, f2), _layer(config, f2, f1), _layer(config, f1, 1)])
        self.pools = (pools[1], pools[0])
        self.project = nn.Conv1d(config.embed_dim, config.feature_dim, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z.unsqueeze(-1)
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index < 2:
                h = F.relu(h)
                scale = self.pools[index]
                if scale > 1:
                    h = F.interpolate(h, scale_factor=(scale, 1), mode="nearest")
        return self.project(F.relu(h.squeeze(-1)))


class TwoBranchAutoEncoder(Standardized):
    """Stage-1 retrieval model. Inputs are raw features; they are standardized with the
    per-channel ``mean``/``std`` buffers (set from training data) before encoding."""

    def __init__(self, config: Stage1Config = Stage1Config()):
        super().__init__(config.feature_dim)
        self.config = config
        q_pools = (2, config.query_length // 2)
        r_first = 5
        r_pools = (r_first, config.reference_length // r_first // config.num_embeddings)
        assert q_pools[0] * q_pools[1] == config.query_length, "query pooling must reach length 1"
        assert r_pools[0] * r_pools[1] * config.num_embeddings == config.reference_length, \
            "reference pooling must reach T_emb"
        self.query_encoder = Encoder(config, q_pools)
        self.query_decoder = Decoder(config, q_pools)
        if config.shared:
            self.reference_encoder, self.reference_decoder = self.query_encoder, self.query_decoder
        else:
            self.reference_encoder = Encoder(config, r_pools)
            self.reference_decoder = Decoder(config, r_pools)

    def _prepare(self, features: torch.Tensor, length: int) -> torch.Tensor:
        return resize_features(self._normalize(features), length)

    def encode_query(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, L_q)`` raw query features (any length) → ``e_q`` ``(B, d_e)``."""
        x = self._prepare(features, self.config.query_length)
        return self.query_encoder(x).mean(dim=-1)

    def encode_reference(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, L_r)`` raw reference features → ``e_r`` ``(B, d_e, T_emb)``."""
        x = self._prepare(features, self.config.reference_length)
        z = self.reference_encoder(x)
        if z.shape[-1] != self.config.num_embeddings:  # shared weights: query pooling on l_r steps
            z = F.adaptive_avg_pool1d(z, self.config.num_embeddings)
        return z

    def forward(self, query: torch.Tensor, reference: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embeddings, per-quarter cosines ``(B, T_emb)`` and reconstructions (normalized space)."""
        xq = self._prepare(query, self.config.query_length)
        xr = self._prepare(reference, self.config.reference_length)
        zq = self.query_encoder(xq)                      # (B, D, 1)
        zr = self.reference_encoder(xr)                  # (B, D, T_emb) or (B, D, l_r / 4) when shared
        if zr.shape[-1] != self.config.num_embeddings:
            zr_pooled = F.adaptive_avg_pool1d(zr, self.config.num_embeddings)
        else:
            zr_pooled = zr
        e_q = zq.mean(dim=-1)
        cosines = quarter_cosines(e_q, zr_pooled)
        return {"e_q": e_q, "e_r": zr_pooled, "cosines": cosines,
                "query_input": xq, "query_recon": self.query_decoder(zq),
                "reference_input": xr, "reference_recon": self.reference_decoder(zr)}


@torch.no_grad()
def init_from_pca(model: "TwoBranchAutoEncoder", features: torch.Tensor) -> float:
    """Start an auto-encoder at PCA: every encoder projection maps a step to its top
    ``d_e / 2`` principal components and their negatives (``[P; −P]``, so the ReLU after it keeps
    the sign), every decoder projection maps back with ``[Pᵀ, −Pᵀ]``. With the CTC filters'
    near-identity init the untrained model then reconstructs each step's PCA projection and its
    embeddings are local means of that projection — the training-free mean-pool baseline in a
    ``d_e``-dimensional space — and training starts from there instead of from random directions.

    Args:
        features: ``(N, C)`` standardized feature steps (e.g. a sample of the training steps).
    Returns:
        the fraction of the variance the kept components explain.
    """
    centred = features - features.mean(dim=0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    components = min(model.config.embed_dim // 2, vh.shape[0])               # fewer when C < d_e / 2
    basis = vh[:components]                                                  # (k, C)
    encode = torch.cat([basis, -basis])                                      # (2k, C)
    for encoder in {model.query_encoder, model.reference_encoder}:
        encoder.project.weight[:2 * components] = encode[:, :, None]         # other rows keep their init
        encoder.project.bias.zero_()
    for decoder in {model.query_decoder, model.reference_decoder}:
        decoder.project.weight.zero_()
        decoder.project.weight[:, :2 * components] = encode.T[:, :, None]
        decoder.project.bias.zero_()
    variance = singular ** 2
    return float(variance[:components].sum() / variance.sum())


def quarter_cosines(e_q: torch.Tensor, e_r: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` and ``(B, D, T)`` → cosine of the query with each reference embedding ``(B, T)``."""
    return F.cosine_similarity(e_q.unsqueeze(-1), e_r, dim=1)


def reference_index(e_r: torch.Tensor) -> torch.Tensor:
    """``(R, D, T)`` reference embeddings → the unit-norm search matrix ``(R·T, D)`` (row
    ``r·T + i`` is ``e_r[r, :, i]``). Build it once per gallery; searching is one product."""
    return F.normalize(e_r, dim=1).transpose(1, 2).reshape(-1, e_r.shape[1]).contiguous()


def search_index(e_q: torch.Tensor, index: torch.Tensor, num_embeddings: int) -> torch.Tensor:
    """``p_{q,r} = max_i cos(e_q, e_r[:, i])`` for ``(Q, D)`` queries against an index from
    :func:`reference_index`: ``(Q, R)``."""
    return (F.normalize(e_q, dim=1) @ index.T).view(e_q.shape[0], -1, num_embeddings).amax(dim=-1)


def max_cosine_scores(e_q: torch.Tensor, e_r: torch.Tensor) -> torch.Tensor:
    """All-pairs stage-1 scores: ``(Q, D)`` queries × ``(R, D, T)`` references → ``(Q, R)``
    with ``p_{q,r} = max_i cos(e_q, e_r[:, i])``."""
    return search_index(e_q, reference_index(e_r), e_r.shape[-1])


def quarter_labels(positives: list[tuple[float, float]], duration: float, num_embeddings: int = 4) -> torch.Tensor:
    """``g ∈ {1, −1}^T_emb``: 1 where the ``i``-th part of the reference holds the query's class —
    at least half of a positive instance, or a positive covering at least half of the part."""
    labels = torch.full((num_embeddings,), -1.0)
    part = duration / num_embeddings
    for i in range(num_embeddings):
        lo, hi = i * part, (i + 1) * part
        for start, end in positives:
            overlap = min(hi, end) - max(lo, start)
            if overlap > 0 and overlap >= 0.5 * min(end - start, part):
                labels[i] = 1.0
    return labels


def stage1_loss(outputs: dict[str, torch.Tensor], labels: torch.Tensor, use_reconstruction: bool = True,
                similarity_weight: float = 2.0, balanced: bool = True) -> dict[str, torch.Tensor]:
    """L = L_recon(Q) + L_recon(R) + λ·L_sim (λ = 2); L_sim = mean_i (cos_i − g_i)².

    With ``balanced`` the quarters labelled +1 and −1 each carry half of ``L_sim``: about 7 in 8
    labels are −1, and the plain mean lets every embedding collapse to one direction far from all
    references (seen here: test HR@1 = 0 with every query ranking the same reference first).
    """
    errors = (outputs["cosines"] - labels) ** 2
    if balanced:
        positive = (labels > 0).float()
        weights = 0.5 * positive / positive.sum().clamp(min=1) + 0.5 * (1 - positive) / (1 - positive).sum().clamp(min=1)
        similarity = (errors * weights).sum() / weights.sum()
    else:
        similarity = errors.mean()
    recon_q = F.mse_loss(outputs["query_recon"], outputs["query_input"])
    recon_r = F.mse_loss(outputs["reference_recon"], outputs["reference_input"])
    total = similarity_weight * similarity + ((recon_q + recon_r) if use_reconstruction else 0.0)
    return {"loss": total, "similarity": similarity.detach(), "recon_query": recon_q.detach(),
            "recon_reference": recon_r.detach()}


class OneBranchEncoder(Standardized):
    """The one-branch baselines of the paper's Table 3: one CTC encoder for queries and
    references alike, one embedding per video (``e_r`` has ``T_emb = 1``), trained with a
    triplet ranking or an ArcFace loss instead of the auto-encoder."""

    def __init__(self, config: Stage1Config = Stage1Config(), num_classes: int = 0):
        super().__init__(config.feature_dim)
        self.config = config
        self.encoder = Encoder(config, (2, config.query_length // 2))
        self.classes = nn.Parameter(torch.randn(num_classes, config.embed_dim) * 0.01) if num_classes else None

    _prepare = TwoBranchAutoEncoder._prepare

    def encode_query(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, L) → (B, d_e)``."""
        return self.encoder(self._prepare(features, self.config.query_length)).mean(dim=-1)

    def encode_reference(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, L) → (B, d_e, 1)``: the whole reference in one vector."""
        return self.encoder(self._prepare(features, self.config.reference_length)).mean(dim=-1, keepdim=True)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 0.2) -> torch.Tensor:
    """Cosine triplet ranking loss ``max(0, m − cos(a, p) + cos(a, n))``."""
    return F.relu(margin - F.cosine_similarity(anchor, positive) + F.cosine_similarity(anchor, negative)).mean()


def arcface_loss(embeddings: torch.Tensor, classes: torch.Tensor, labels: torch.Tensor,
                 scale: float = 30.0, margin: float = 0.5) -> torch.Tensor:
    """Additive angular margin softmax: the target logit is ``s·cos(θ + m)``."""
    cosine = F.linear(F.normalize(embeddings), F.normalize(classes)).clamp(-1 + 1e-6, 1 - 1e-6)
    target = torch.cos(torch.acos(cosine.gather(1, labels[:, None])) + margin)
    logits = cosine.scatter(1, labels[:, None], target)
    return F.cross_entropy(scale * logits, labels)


from .registry import register  # noqa: E402


@register("stage1")
def _build_stage1(config: dict) -> TwoBranchAutoEncoder:
    return TwoBranchAutoEncoder(Stage1Config.from_dict(config))


@register("stage1_one_branch")
def _build_one_branch(config: dict) -> OneBranchEncoder:
    config = dict(config)
    num_classes = config.pop("num_classes", 0)
    return OneBranchEncoder(Stage1Config.from_dict(config), num_classes)
