"""Training-free baselines with the same interfaces as the two stages, so the searcher, the
evaluation and the app can swap them in.

* :class:`MeanPoolRetrieval` (stage 1): ``e_q`` = mean of the query's standardized features,
  ``e_r[i]`` = mean of the ``i``-th of ``T_emb`` equal parts of the reference; score = max cosine.
* :class:`SlidingWindowLocalizer` (stage 2): every proposal ``(s, d)`` of the ``T``-step map is
  scored by the cosine between its mean feature and the query's mean feature (mapped to [0, 1]);
  ``M_R`` is 1.

Standardization uses per-channel statistics (from data; no learned weights).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .normalization import Standardized
from .retrieval import Stage1Config, resize_features


class MeanPoolRetrieval(Standardized):
    def __init__(self, feature_dim: int = 1280, num_embeddings: int = 4, reference_length: int = 100):
        super().__init__(feature_dim)
        self.config = Stage1Config(feature_dim=feature_dim, num_embeddings=num_embeddings,
                                   reference_length=reference_length)

    def encode_query(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, L) → (B, C)``."""
        return self._normalize(features).mean(dim=-1)

    def encode_reference(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, L) → (B, C, T_emb)``."""
        x = resize_features(self._normalize(features), self.config.reference_length)
        return F.adaptive_avg_pool1d(x, self.config.num_embeddings)


class SlidingWindowLocalizer(Standardized):
    def __init__(self, feature_dim: int = 1280, length: int = 100):
        super().__init__(feature_dim)
        self.length = length

    def encode_query(self, query: torch.Tensor) -> torch.Tensor:
        return self._normalize(query).mean(dim=-1)

    def encode_reference(self, reference: torch.Tensor) -> torch.Tensor:
        return resize_features(self._normalize(reference), self.length)

    def maps_from_encodings(self, f_c: torch.Tensor, f_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C)``, ``(B, C, T)`` → ``(M_C, M_R)`` ``(B, T, D)``: window-mean cosine in [0, 1].

        The window ``[s, s + d + 1)``'s sum is never formed (``B × C × T × D`` numbers): its dot
        product with the query is a difference of the cumulative sum of ``f_r[:, :, t] · f_c``,
        and its squared norm a difference of the 2-D cumulative sum of the Gram matrix
        ``f_r[:, :, t] · f_r[:, :, t']`` (float64), so the cosine costs one ``T × T`` product."""
        steps = torch.arange(self.length, device=f_r.device)
        ends = steps[:, None] + steps[None, :] + 1                             # (T, D) exclusive end
        valid = ends <= self.length
        ends_c = ends.clamp(max=self.length)
        starts = steps[:, None].expand_as(ends_c)
        r = f_r.double()
        dots = F.pad(torch.einsum("bct,bc->bt", r, f_c.double()).cumsum(dim=-1), (1, 0))    # (B, T+1)
        gram = F.pad((r.transpose(1, 2) @ r).cumsum(dim=1).cumsum(dim=2), (1, 0, 1, 0))     # (B, T+1, T+1)
        window_dot = dots[:, ends_c] - dots[:, starts]                                       # (B, T, D)
        norm_sq = (gram[:, ends_c, ends_c] - gram[:, starts, ends_c] - gram[:, ends_c, starts]
                   + gram[:, starts, starts])
        query_norm = f_c.double().norm(dim=1)[:, None, None]
        eps = 1e-8 * (steps[None, :] + 1).double()                                           # cosine_similarity's, on the sum
        cos = window_dot / (norm_sq.clamp(min=0).sqrt().clamp(min=eps) * query_norm.clamp(min=1e-8))
        m_c = ((cos.float() + 1) / 2) * valid
        return m_c, valid.float().expand_as(m_c)

    def forward(self, query: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.maps_from_encodings(self.encode_query(query), self.encode_reference(reference))


def training_free_pair(mean: torch.Tensor | None = None, std: torch.Tensor | None = None,
                       num_embeddings: int = 4) -> tuple[MeanPoolRetrieval, SlidingWindowLocalizer]:
    """Both baselines in eval mode, standardizing with ``mean``/``std`` (``(C,)``; identity when
    None), e.g. the training statistics a learned model carries in its buffers."""
    feature_dim = 1280 if mean is None else mean.shape[0]
    pair = (MeanPoolRetrieval(feature_dim, num_embeddings), SlidingWindowLocalizer(feature_dim))
    for model in pair:
        if mean is not None:
            model.set_normalization(mean, std)
        model.eval()
    return pair
