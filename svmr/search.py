"""The search facade: query clip → ranked moments in the gallery.

    query ──extract──► f_Q ──stage 1 (retriever)──► top videos by p = max_i cos(e_q, e_r[i])
          ──stage 2 on each (localizer)──► moments with M_C, M_R ──► score = p · M_R · M_C

Which retriever and localizer: a :class:`~svmr.pipelines.Pipeline` (``align`` by default). A
pipeline ranked by best moment (``align``) changes the last steps: stage 2 aligns its
``rerank_pool`` stage-1 candidates, a moment's score is its own ``M_R · M_C``, raised by its motion
match ``M_V`` to ``1 − (1 − M_R · M_C)(1 − M_V)``, and the videos are ranked by their best moment.

A pipeline that searches regions (``align``) also looks inside pictures (:mod:`svmr.features.regions`):
where a candidate's whole picture holds no copy, each picture found inside it at indexing is aligned
too; where the whole query finds no copy, each picture found inside the query is searched as a
query of its own. A copy found so says where it plays (``Moment.region``, ``query["region"]``).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import video as V
from .features import FeatureExtractor, FeatureSequence
from .features.regions import picture_regions
from .gallery import Gallery
from .models.match import verdict
from .pipelines import DEFAULT_PIPELINE, Pipeline, build_pipeline
from .query import ClipQuery, Query, as_query, check_query_length
from .stage1_index import Stage1Index

__all__ = ["Moment", "VideoHit", "SearchResult", "Searcher", "query_damage"]


@dataclass
class Moment:
    video: str
    start: float
    end: float
    score: float          # p · M_R · M_C (after soft-NMS decay); the default: 1 − (1 − M_R · M_C)(1 − M_V) for a
                          # copy (≥ 0.5), (1 + similarity) / 4 (< 0.5) for a moment that is not
    video_score: float    # p, stage 1
    confidence: float     # M_C at the proposal
    regression: float     # M_R at the proposal
    motion: float = 0.0   # M_V, the motion match (the default's motion check; 0 for the other models)
    match: str = ""       # what matched (the default): copy, partial copy, similar or weak; "" for the other models
    copy_probability: float = 0.0   # the default's calibrated P(same footage)
    similarity: float = 0.0         # the default's content similarity (cosine of mean gallery-centred features)
    #: found inside part of its video's picture (picture-in-picture, split screen, caption bar): that
    #: part as (top, bottom, left, right) fractions of the frame; empty for the whole picture
    region: list[float] = field(default_factory=list)


@dataclass
class VideoHit:
    video: str
    video_score: float
    duration: float
    moments: list[Moment]
    m_c: np.ndarray | None = field(default=None, repr=False)   # (S, D) start × duration
    m_r: np.ndarray | None = field(default=None, repr=False)
    map_starts: np.ndarray | None = field(default=None, repr=False)     # (S,) seconds
    map_durations: np.ndarray | None = field(default=None, repr=False)  # (D,) seconds
    damage: str = ""      # a damaged file indexed for what decodes: what was lost ("" when intact)


@dataclass
class SearchResult:
    moments: list[Moment]          # all videos' moments, best first
    videos: list[VideoHit]         # stage-1 order, or by best moment for a re-ranking localizer
    timings: dict[str, float]
    query: dict
    verdict: str = ""              # the default: "copy found", "similar moments" or "nothing close"

    def to_json(self, with_maps: bool = False) -> dict:
        out = {"moments": [asdict(m) for m in self.moments], "timings": self.timings, "query": self.query,
               "videos": [{"video": h.video, "video_score": h.video_score, "duration": h.duration,
                           **({"damage": h.damage} if h.damage else {})} for h in self.videos]}
        if self.verdict:
            out["verdict"] = self.verdict
        if with_maps:
            for entry, hit in zip(out["videos"], self.videos):
                entry["m_c"], entry["m_r"] = hit.m_c.tolist(), hit.m_r.tolist()
                entry["map_starts"], entry["map_durations"] = hit.map_starts.tolist(), hit.map_durations.tolist()
        return out


def query_damage(path: str) -> str:
    """What a damaged query file lost, as one sentence ("" when it read whole): the damage found
    while its clip was read (the file is read through its decodable copy from then on)."""
    return V.probe(path).damage.describe() if V.salvaged(path) else ""


class Searcher:
    """Searches a :class:`Gallery` with a :class:`~svmr.pipelines.Pipeline`.

    Args:
        gallery: the indexed videos.
        pipeline: a pipeline, or the registry name of one (default ``align``).
        extractor: feature extractor matching the gallery's configuration (built if None).
        backend: stage 1's search backend (:mod:`svmr.backends`; ``auto``: by the gallery's size);
            ``milvus_uri`` the Milvus database it talks to (default: a milvus-lite file in the gallery).
    """

    def __init__(self, gallery: Gallery, pipeline: Pipeline | str = DEFAULT_PIPELINE,
                 extractor: FeatureExtractor | None = None, backend: str = "auto", milvus_uri: str | None = None):
        self.gallery = gallery
        self.pipeline = build_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
        self._extractor = extractor
        self.index = Stage1Index(gallery, self.pipeline.retriever, backend, milvus_uri, self.pipeline.regions)

    @property
    def extractor(self) -> FeatureExtractor:
        """The feature extractor for query files (built on first use: a searcher given features
        never loads the network)."""
        if self._extractor is None:
            self._extractor = FeatureExtractor(self.gallery.config)
        return self._extractor

    def query_features(self, query: str | FeatureSequence | Query, start: float = 0.0,
                       end: float | None = None) -> FeatureSequence:
        """The features the pipeline compares for a query (:meth:`Pipeline.encode_query` against this
        gallery; a path: ``[start, end)`` of that file)."""
        return self.pipeline.encode_query(as_query(query, start, end), lambda: self.extractor, self.gallery.longest_s())

    def _localize(self, prepared, video, statistics, top_k: int):
        """Stage 2 on one video: on its whole pictures, then, with a pipeline that searches regions
        and no copy found in them, on each picture found inside them (:meth:`Gallery.views`); a
        region's moments replace the whole pictures' when it holds a copy (a clip inside another
        video is a copy there, while the whole picture shows the host too). Returns the localizer's
        output and the region it came from (``[]``: the whole picture)."""
        localizer = self.pipeline.localizer
        best = localizer.localize(prepared, self.gallery.features(video.id), video.duration, statistics, top_k)
        region: list[float] = []
        if not self.pipeline.regions or _copy_score(best) >= 0:
            return best, region
        for entry, path in zip(video.regions or [], self.gallery.region_paths(video.id)):
            view = FeatureSequence.load(path)
            found = _offset(localizer.localize(prepared, view, video.duration, statistics, top_k), float(view.times[0]))
            if _copy_score(found) > max(_copy_score(best), -0.5):
                best, region = found, list(entry["box"])
        return best, region

    def search(self, query: str | FeatureSequence | Query, start: float = 0.0, end: float | None = None,
               top_videos: int = 10, moments_per_video: int = 5, min_score: float = -1.0,
               source: str | None = None, read_region=None) -> SearchResult:
        """Find the gallery videos most similar to the query clip and localize the moments.

        Args:
            query: a :mod:`~svmr.query` object, a video file (its ``[start, end)`` is the query clip)
                or precomputed features.
            source: the file precomputed features were read from (a file query is its own): with a
                pipeline that searches regions, its pictures are looked at for a picture inside
                them when the whole clip finds no copy.
            read_region: ``(path, start, end, box) → FeatureSequence``, how such a region is read
                (default: this searcher's extractor; the app reads it in its worker process).
        Raises:
            VideoError: unusable query file or range; ValueError: empty gallery.
        """
        if not len(self.gallery):
            raise ValueError("The gallery is empty: add videos before searching.")
        started = time.perf_counter()
        query = as_query(query, start, end, source)
        sequence = self.query_features(query)
        timings = {"query_features_s": time.perf_counter() - started}
        check_query_length(sequence.length / sequence.rate, self.gallery.longest_s(), sequence.rate)
        moments, hits, labels = self._search(sequence, top_videos, moments_per_video, min_score, timings)
        query_info = {"start": float(sequence.times[0]), "end": float(sequence.times[-1] + 1 / sequence.rate),
                      "steps": sequence.length, "pipeline": self.pipeline.config}
        path = query.source
        if path and self.pipeline.regions and _best_copy(moments) < 0:
            mark = time.perf_counter()
            read = read_region or self.extractor.extract_region
            for region in self._query_regions(path, float(sequence.times[0]), query_info["end"]):
                view = read(path, float(sequence.times[0]), query_info["end"], region)
                found = self._search(view, top_videos, moments_per_video, min_score, {})
                if _best_copy(found[0]) > max(_best_copy(moments), -0.5):   # the clip inside the query is the copy
                    moments, hits, labels = found
                    query_info["region"] = [round(x, 4) for x in region]
            timings["query_regions_s"] = time.perf_counter() - mark
        timings["total_s"] = time.perf_counter() - started
        damage = query_damage(query.path) if isinstance(query, ClipQuery) else ""
        if damage:
            query_info["damage"] = damage
        return SearchResult(moments, hits, {k: round(v, 4) for k, v in timings.items()}, query_info,
                            verdict(labels) if labels is not None else "")

    def _query_regions(self, path: str, start: float, end: float) -> list[tuple[float, float, float, float]]:
        """The pictures found inside the query clip's pictures (:func:`~svmr.features.regions.picture_regions`
        on :data:`QUERY_LOOKS` frames spread over it, decoded as the extractor decodes them)."""
        side = 2 * self.gallery.config.size
        times = np.linspace(start, end, QUERY_LOOKS, endpoint=False)
        try:
            frames = np.concatenate(list(V.iter_frames(path, times, size=(side, side))))
        except V.VideoError:        # a damaged stretch: the clip is searched whole, as read
            return []
        return picture_regions(frames)

    def _search(self, sequence: FeatureSequence, top_videos: int, moments_per_video: int, min_score: float,
                timings: dict) -> tuple[list[Moment], list[VideoHit], list[str] | None]:
        """Stages 1 and 2 for a query clip's features: ``(moments best first, videos, every localized
        moment's label or None)``; adds the stages' seconds to ``timings``."""
        pipeline = self.pipeline
        mark = time.perf_counter()
        ids, cosines, statistics = self.index.search(sequence, pipeline.candidates(top_videos))
        scores = pipeline.retriever.video_score(cosines)
        timings["stage1_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        hits, labels = [], None        # labels: every localized moment's, before the score threshold
        prepared = pipeline.localizer.prepare_query(sequence, statistics)
        for video_id, score in zip(ids, scores):
            video = self.gallery.videos[video_id]
            found, region = self._localize(prepared, video, statistics, moments_per_video)
            if found.matches is not None:
                labels = (labels or []) + list(found.matches)
            p = float(score)
            weight = pipeline.moment_weight(p)
            video_moments = [moment for moment in _moments(video.id, video.duration, found, p, weight, region)
                             if moment.score >= min_score]
            hits.append(VideoHit(video.id, p, video.duration, video_moments, found.m_c, found.m_r,
                                 found.starts, found.durations, video.damage_note))
        if pipeline.ranking == "best_moment":
            hits = sorted(hits, key=_best_moment_score, reverse=True)[:top_videos]
        moments = sorted((moment for hit in hits for moment in hit.moments), key=lambda m: -m.score)
        timings["stage2_s"] = time.perf_counter() - mark
        return moments, hits, labels


#: frames of the query looked at for pictures inside its pictures
QUERY_LOOKS = 12


def _best_copy(moments: list[Moment]) -> float:
    """The best score among moments labelled copies (−1 with none)."""
    return max((m.score for m in moments if m.copy_probability >= 0.5), default=-1.0)


def _offset(found, seconds: float):
    """A localizer's output for a view starting ``seconds`` into its video, moved to the video's time."""
    if seconds:
        found.spans[:] += seconds
        found.starts = found.starts + seconds
    return found


def _copy_score(found) -> float:
    """The best score among a localizer's moments labelled copies (−1 with none, or no labels)."""
    if found.copy_probability is None or not len(found.moments):
        return -1.0
    copies = found.copy_probability >= 0.5
    return float(found.scores[copies].max()) if copies.any() else -1.0


def inside_video(start: float, end: float, duration: float) -> tuple[float, float]:
    """A moment moved to lie inside its video: the last feature step runs past the video's end (a
    step lasts ``1 / rate`` from its time), so a moment ending after ``duration`` is moved back by
    as much, keeping its length (down to the video's start)."""
    over = max(0.0, end - duration)
    return max(0.0, start - over), min(end, duration)


def _moments(video_id: str, duration: float, found, p: float, weight: float, region: list[float]) -> list[Moment]:
    """A localizer's rows for one video as :class:`Moment` objects (moved inside the video)."""
    count = len(found.moments)
    motion = found.motion if found.motion is not None else np.zeros(count)
    matches = found.matches if found.matches is not None else [""] * count
    probability = found.copy_probability if found.copy_probability is not None else np.zeros(count)
    similarity = found.similarity if found.similarity is not None else np.zeros(count)
    return [Moment(video_id, *map(float, inside_video(s, e, duration)), weight * float(sc), p, float(c), float(r),
                   float(motion[k]), matches[k], float(probability[k]), float(similarity[k]), list(region))
            for k, (s, e, sc, c, r) in enumerate(found.moments)]


def _best_moment_score(hit: VideoHit) -> float:
    """A video's rank key when a pipeline ranks by best moment: that moment's score (−1 with none kept)."""
    return max((moment.score for moment in hit.moments), default=-1.0)
