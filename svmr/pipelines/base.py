"""The seams a search works through, a pipeline that joins them, and the registry of pipelines.

* A **retriever** (stage 1) turns a video's features into one or more stored vectors and a query
  clip into one vector; a video's score is the max cosine over its vectors.
* A **localizer** (stage 2) turns the query and one reference into scored moments and the maps to
  draw (:class:`~svmr.models.alignment.Alignment`).
* A :class:`Pipeline` is one retriever, one localizer and the rule that ranks the results: by
  stage 1 (a moment's score weighted by its video's ``p``; the paper's rule), or by each video's
  best moment (moments scored on their own, ``rerank_pool`` stage-1 candidates localized).

Each pipeline lives in its own module of this package and registers its builder there with
:func:`register`; the command line, the app's menu and the tables read :func:`registry`.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, runtime_checkable

import numpy as np
import torch

from ..checkpoints import REPO_CHECKPOINTS
from ..features import FeatureSequence
from ..features.statistics import FrameStatistics
from ..models.alignment import Alignment
from ..query import ClipQuery, FeatureQuery, Query, query_features

DEFAULT_PIPELINE = "align"
Ranking = Literal["stage1", "best_moment"]


@runtime_checkable
class Retriever(Protocol):
    """Stage 1: stored vectors per video, one vector per query clip."""

    key: str                                  # names the stored vectors (a persisted index)

    def estimated_rows(self, steps: int, rate: float) -> int:
        """Vectors a video of ``steps`` feature steps at ``rate`` per second gets."""

    def reference_vectors(self, sequence: FeatureSequence) -> np.ndarray:
        """A video's features → ``(V, D)`` raw vectors (before :meth:`finalize`)."""

    def query_vector(self, sequence: FeatureSequence) -> np.ndarray:
        """A query clip's features → ``(D,)`` raw vector."""

    def finalize(self, vectors: np.ndarray, statistics: FrameStatistics | None) -> np.ndarray:
        """``(N, D)`` raw vectors → unit vectors compared by inner product."""

    def video_score(self, cosine: np.ndarray) -> np.ndarray:
        """Best cosines ``(K,)`` → the videos' scores ``p`` in 0–1."""


@runtime_checkable
class Localizer(Protocol):
    """Stage 2: moments of one reference video for a prepared query."""

    def prepare_query(self, sequence: FeatureSequence, statistics: FrameStatistics | None) -> Any:
        """What :meth:`localize` needs of the query, computed once per search."""

    def localize(self, query: Any, reference: FeatureSequence, duration: float,
                 statistics: FrameStatistics | None, top_k: int) -> Alignment:
        """At most ``top_k`` moments ``(start, end, score, M_C, M_R)`` and the maps drawn."""


@dataclass
class Pipeline:
    """A retriever and a localizer, with the rule that ranks what they find.

    Attributes:
        ranking: ``stage1`` — videos in stage-1 order, a moment's score ``p`` × its own;
            ``best_moment`` — moments scored on their own, videos ranked by their best moment.
        rerank_pool: with ``best_moment``, how many stage-1 candidates are localized (at least the
            number of videos asked for).
        config: what built it (the pipeline's name, its checkpoints, its settings), recorded with
            every result (``SearchResult.query["pipeline"]``).
        regions: search the pictures found inside gallery videos' pictures too
            (:meth:`~svmr.gallery.Gallery.views`): stage 1 stores their vectors with their video's,
            stage 2 localizes in each and keeps a region's moments where they are a better copy.
        query_kinds: the kinds of :mod:`~svmr.query` object it searches with (``clip``: a stretch of
            a video, or its features).
    """

    name: str
    retriever: Retriever
    localizer: Localizer
    ranking: Ranking = "stage1"
    rerank_pool: int = 0
    config: dict = field(default_factory=dict)
    regions: bool = False
    query_kinds: tuple[str, ...] = ("clip",)

    def __post_init__(self):
        if self.ranking not in ("stage1", "best_moment"):
            raise ValueError(f"unknown ranking {self.ranking!r}: stage1 or best_moment")

    def encode_query(self, query: Query, extractor: Callable[[], Any], longest_s: float) -> FeatureSequence:
        """The features the retriever and the localizer compare for ``query``: a clip's, extracted by
        ``extractor()`` (called only when needed) after its range is checked against the file and
        against a gallery whose longest video lasts ``longest_s``.

        Raises:
            ValueError: a kind of query this pipeline does not take (or a clip longer than every video);
            VideoError: an unusable file or range.
        """
        if query.kind not in self.query_kinds:
            raise ValueError(f"The {self.name} model searches with {' or '.join(self.query_kinds)} queries, "
                             f"not {query.kind} queries.")
        if isinstance(query, FeatureQuery):
            return query.sequence
        if isinstance(query, ClipQuery):
            return query_features(extractor(), query.path, query.start, query.end, longest_s)
        raise TypeError(f"no encoding for {type(query).__name__} (kind {query.kind!r})")

    def candidates(self, top_videos: int) -> int:
        """How many stage-1 videos stage 2 localizes when ``top_videos`` are asked for."""
        return max(top_videos, self.rerank_pool) if self.ranking == "best_moment" else top_videos

    def moment_weight(self, video_score: float) -> float:
        """What a moment's own score is multiplied by: its video's ``p`` (stage-1 ranking) or 1."""
        return video_score if self.ranking == "stage1" else 1.0

    @classmethod
    def from_networks(cls, stage1, stage2, name: str = "custom", device: str | torch.device = "cpu") -> "Pipeline":
        """A stage-1 and a stage-2 network (or a retriever and a localizer) as a pipeline ranked by
        stage 1 (the paper's rule)."""
        from .networks import EmbeddingRetriever, MapLocalizer

        retriever = EmbeddingRetriever(stage1, device) if isinstance(stage1, torch.nn.Module) else stage1
        localizer = MapLocalizer(stage2, device) if isinstance(stage2, torch.nn.Module) else stage2
        if not isinstance(retriever, Retriever) or not isinstance(localizer, Localizer):
            raise TypeError("stage1 must be a retriever or a stage-1 network, stage2 a localizer or a stage-2 network")
        return cls(name, retriever, localizer, config={"name": name})


@dataclass(frozen=True)
class PipelineSpec:
    """A registered pipeline: its names and how to build it.

    Attributes:
        summary: one line (``search --help``, the tables).
        label: the app's value for it (what HTTP clients pass; the registry name is accepted too).
        menu: the app's menu text (short).
        checkpoints: builder option → file name in a checkpoint folder (none: training-free).
        order: place in menus and tables (lower first).
    """

    name: str
    summary: str
    label: str
    menu: str
    build: Callable[..., Pipeline]
    checkpoints: dict = field(default_factory=dict)
    order: int = 100

    def checkpoint_paths(self, directory: str = REPO_CHECKPOINTS) -> dict[str, str]:
        """The builder's checkpoint options for the files in ``directory``."""
        return {option: os.path.join(directory, file) for option, file in self.checkpoints.items()}

    def available(self, directory: str = REPO_CHECKPOINTS) -> bool:
        """Whether its checkpoints are in ``directory``."""
        return all(os.path.exists(path) for path in self.checkpoint_paths(directory).values())


_REGISTRY: dict[str, PipelineSpec] = {}
_DISCOVERED: list[bool] = []          # the package's modules were imported (once per process)


def register(name: str, *, summary: str, label: str, menu: str, checkpoints: dict | None = None,
             order: int = 100):
    """Decorator: ``builder(device, **checkpoint paths) -> Pipeline`` registered as ``name``."""
    def wrap(builder: Callable[..., Pipeline]) -> Callable[..., Pipeline]:
        if name in _REGISTRY:
            raise ValueError(f"pipeline {name!r} is registered twice")
        _REGISTRY[name] = PipelineSpec(name, summary, label, menu, builder, dict(checkpoints or {}), order)
        return builder
    return wrap


def registry() -> dict[str, PipelineSpec]:
    """Every registered pipeline, the default first, then by ``order`` (each module of this package is imported once,
    so a new pipeline is a new module that calls :func:`register`)."""
    if not _DISCOVERED:
        package = __name__.rsplit(".", 1)[0]
        for module in pkgutil.iter_modules([os.path.dirname(__file__)]):
            importlib.import_module(f"{package}.{module.name}")
        _DISCOVERED.append(True)
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[0] != DEFAULT_PIPELINE, item[1].order, item[0])))


def build_pipeline(name: str = DEFAULT_PIPELINE, device: str | torch.device = "cpu", **checkpoints) -> Pipeline:
    """The pipeline registered as ``name``; ``checkpoints`` replace its bundled files (the paper
    model's ``stage1`` / ``stage2``, the graph model's ``stage2`` / ``actionness``).

    Raises:
        ValueError: an unknown name, or a checkpoint option the pipeline does not take.
    """
    specs = registry()
    if name not in specs:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(specs)}")
    spec = specs[name]
    given = {option: path for option, path in checkpoints.items() if path}
    unknown = set(given) - set(spec.checkpoints)
    if unknown:
        raise ValueError(f"model {name!r} takes no {', '.join(sorted(unknown))} checkpoint")
    return spec.build(device=device, **{**spec.checkpoint_paths(), **given})
