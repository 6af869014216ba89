"""What a search starts from: a query, and the features a pipeline compares made from it.

Every pipeline today searches with a stretch of a video: :class:`ClipQuery` (a file and a range),
or :class:`FeatureQuery` (that stretch's features computed elsewhere, e.g. in the app's worker
process). Each query class names its ``kind`` and its ``source`` (the file it was read from, whose
pictures are looked into for a picture inside them; None for a query no file holds); a pipeline
lists the kinds it takes (:attr:`~svmr.pipelines.Pipeline.query_kinds`) and encodes a query itself
(:meth:`~svmr.pipelines.Pipeline.encode_query`), so an image or a text query is a new class here
and a pipeline that lists its kind and encodes it — the searcher and the other pipelines unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from . import video as V
from .features import FeatureExtractor, FeatureSequence


@dataclass(frozen=True)
class ClipQuery:
    """``[start, end)`` seconds of a video file (``end`` None: to its end)."""

    path: str
    start: float = 0.0
    end: float | None = None
    kind: ClassVar[str] = "clip"

    @property
    def source(self) -> str:
        """The file the query's pictures are read from."""
        return self.path


@dataclass(frozen=True)
class FeatureQuery:
    """A clip's features, extracted already; ``source``: the file they were read from (None: unknown,
    so no picture inside its pictures is looked for)."""

    sequence: FeatureSequence
    source: str | None = None
    kind: ClassVar[str] = "clip"


Query = Union[ClipQuery, FeatureQuery]


def as_query(query: "str | FeatureSequence | Query", start: float = 0.0, end: float | None = None,
             source: str | None = None) -> Query:
    """A query from what :meth:`~svmr.search.Searcher.search` is given: a query object as it is, a
    file path with its range, or features with the file they came from."""
    if isinstance(query, str):
        return ClipQuery(query, start, end)
    if isinstance(query, FeatureSequence):
        return FeatureQuery(query, source)
    return query


def check_query_length(seconds: float, longest: float, rate: float) -> None:
    """Raises ValueError when a query of ``seconds`` is longer than the longest gallery video
    (``longest`` seconds; one feature step of slack at ``rate`` steps per second)."""
    if seconds > longest + 1 / rate:
        raise ValueError(f"The query ({seconds:.1f} s) is longer than every video in the gallery "
                         f"(longest {longest:.1f} s): choose a shorter clip.")


def query_features(extractor: FeatureExtractor, path: str, start: float, end: float | None, longest: float,
                   progress=None) -> FeatureSequence:
    """Features of ``[start, end)`` of the query file; the range is checked against the file and
    against a gallery whose longest video lasts ``longest`` seconds before the (slow) extraction,
    so a query that cannot fit fails at once.

    Raises:
        VideoError: unusable file or range; ValueError: the clip is longer than every gallery video.
    """
    start, end = V.check_range(V.probe(path), start, end)
    check_query_length(end - start, longest, extractor.config.rate)
    return extractor.extract(path, start, end, progress=progress)
