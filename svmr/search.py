"""The search facade: query clip → ranked moments in the gallery.

    query ──extract──► f_Q ──stage 1──► top videos by p = max_i cos(e_q, e_r[i])
          ──stage 2 on each──► M_C, M_R ──soft-NMS──► moments, score = p · M_R · M_C
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .checkpoints import REPO_CHECKPOINTS, load_checkpoint
from .features import FeatureExtractor, FeatureSequence
from .gallery import Gallery
from .models.retrieval import TwoBranchAutoEncoder, reference_index, search_index
from .postprocess import map_proposals, soft_nms

DEFAULT_STAGE1 = os.path.join(REPO_CHECKPOINTS, "stage1_ctc_ae.safetensors")
DEFAULT_STAGE2 = os.path.join(REPO_CHECKPOINTS, "stage2_attn_prod.safetensors")


@dataclass
class Moment:
    video: str
    start: float
    end: float
    score: float          # p · M_R · M_C (after soft-NMS decay)
    video_score: float    # p, stage 1
    confidence: float     # M_C at the proposal
    regression: float     # M_R at the proposal


@dataclass
class VideoHit:
    video: str
    video_score: float
    duration: float
    moments: list[Moment]
    m_c: np.ndarray | None = field(default=None, repr=False)   # (T, D) start × duration
    m_r: np.ndarray | None = field(default=None, repr=False)


@dataclass
class SearchResult:
    moments: list[Moment]          # all videos' moments, best first
    videos: list[VideoHit]         # stage-1 order
    timings: dict[str, float]
    query: dict

    def to_json(self, with_maps: bool = False) -> dict:
        out = {"moments": [asdict(m) for m in self.moments], "timings": self.timings, "query": self.query,
               "videos": [{"video": h.video, "video_score": h.video_score, "duration": h.duration}
                          for h in self.videos]}
        if with_maps:
            for entry, hit in zip(out["videos"], self.videos):
                entry["m_c"], entry["m_r"] = hit.m_c.tolist(), hit.m_r.tolist()
        return out


class Searcher:
    """Searches a :class:`Gallery` with the two-stage model.

    Args:
        gallery: the indexed videos.
        stage1, stage2: models (defaults: the bundled checkpoints).
        extractor: feature extractor matching the gallery's configuration (built if None).
    """

    def __init__(self, gallery: Gallery, stage1: TwoBranchAutoEncoder | None = None, stage2=None,
                 extractor: FeatureExtractor | None = None):
        self.gallery = gallery
        self.stage1 = stage1 if stage1 is not None else load_checkpoint(DEFAULT_STAGE1)[0]
        self.stage2 = stage2 if stage2 is not None else load_checkpoint(DEFAULT_STAGE2)[0]
        self.extractor = extractor or FeatureExtractor(gallery.config)
        self._embeddings: dict[str, tuple[str, torch.Tensor]] = {}   # id -> (digest, e_r (D, T_emb))
        self._index: tuple[tuple, torch.Tensor] | None = None        # (ids + digests, (N·T_emb, D) matrix)
        self._lock = threading.Lock()  # the caches above are shared by concurrent searches

    @torch.no_grad()
    def _reference_embeddings(self) -> tuple[list[str], torch.Tensor]:
        """Gallery ids and the stage-1 search matrix ``(N·T_emb, D)``; embeddings are computed
        once per file and the matrix once per gallery state."""
        with self._lock:
            return self._update_index()

    def _update_index(self) -> tuple[list[str], torch.Tensor]:
        ids = [v.id for v in self.gallery.list()]
        for video in self.gallery.list():
            cached = self._embeddings.get(video.id)
            if cached is None or cached[0] != video.digest:
                features = torch.from_numpy(self.gallery.features(video.id).features)[None]
                self._embeddings[video.id] = (video.digest, self.stage1.encode_reference(features)[0])
        for stale in set(self._embeddings) - set(ids):
            del self._embeddings[stale]
        if not ids:
            return [], torch.zeros(0)
        state = tuple((i, self._embeddings[i][0]) for i in ids)
        if self._index is None or self._index[0] != state:
            self._index = (state, reference_index(torch.stack([self._embeddings[i][1] for i in ids])))
        return ids, self._index[1]

    def query_features(self, query: str | FeatureSequence, start: float = 0.0, end: float | None = None) -> FeatureSequence:
        if isinstance(query, FeatureSequence):
            return query
        return self.extractor.extract(query, start, end)

    @torch.no_grad()
    def search(self, query: str | FeatureSequence, start: float = 0.0, end: float | None = None,
               top_videos: int = 10, moments_per_video: int = 5, min_score: float = -1.0) -> SearchResult:
        """Find the gallery videos most similar to the query clip and localize the moments.

        Args:
            query: a video file (its ``[start, end)`` is the query clip) or precomputed features.
        Raises:
            VideoError: unusable query file or range; ValueError: empty gallery.
        """
        if not len(self.gallery):
            raise ValueError("The gallery is empty: add videos before searching.")
        timings = {}
        started = time.perf_counter()
        sequence = self.query_features(query, start, end)
        timings["query_features_s"] = time.perf_counter() - started
        query_seconds = sequence.length / sequence.rate
        longest = max(v.duration for v in self.gallery.list())
        if query_seconds > longest + 1 / sequence.rate:
            raise ValueError(f"The query ({query_seconds:.1f} s) is longer than every video in the gallery "
                             f"(longest {longest:.1f} s): choose a shorter clip.")

        mark = time.perf_counter()
        ids, index = self._reference_embeddings()
        q = torch.from_numpy(sequence.features)[None]
        scores = search_index(self.stage1.encode_query(q), index, self.stage1.config.num_embeddings)[0].numpy()
        order = np.argsort(-scores, kind="stable")[:top_videos]
        timings["stage1_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        hits, moments = [], []
        f_c = self.stage2.encode_query(q)
        for index in order:
            video = self.gallery.videos[ids[index]]
            reference = torch.from_numpy(self.gallery.features(video.id).features)[None]
            m_c, m_r = (m[0].numpy() for m in self.stage2.maps_from_encodings(f_c, self.stage2.encode_reference(reference)))
            p = float(scores[index])
            proposals = map_proposals(m_c, m_r, video.duration)
            kept = soft_nms(proposals, sigma=0.4, top_k=moments_per_video)
            video_moments = [Moment(video.id, float(s), float(e), p * float(sc), p, float(c), float(r))
                             for s, e, sc, c, r in kept if p * sc >= min_score]
            hits.append(VideoHit(video.id, p, video.duration, video_moments, m_c, m_r))
            moments += video_moments
        timings["stage2_s"] = time.perf_counter() - mark
        timings["total_s"] = time.perf_counter() - started
        moments.sort(key=lambda m: -m.score)
        query_info = {"start": float(sequence.times[0]), "end": float(sequence.times[-1] + 1 / sequence.rate),
                      "steps": sequence.length}
        return SearchResult(moments, hits, {k: round(v, 4) for k, v in timings.items()}, query_info)
