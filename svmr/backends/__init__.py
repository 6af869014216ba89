"""Stage-1 search backends: top-K videos by the max inner product over each video's vectors.

A retriever (:mod:`svmr.pipelines`) turns every gallery video into one or more unit vectors
``(V, D)``; a video's stage-1 score is the max cosine between the query vector and its vectors.
A backend stores those vectors, grouped by video, and answers "the K best videos" for a query:

* ``exact`` (:class:`ExactBackend`): one matrix product over every vector, the max per video;
  the reference every other backend's recall is measured against.
* ``faiss`` (:class:`~svmr.backends.faiss_ivf.FaissBackend`): an IVF-PQ index over every vector
  (``faiss-cpu``), over-fetched, grouped by video, the candidate videos re-ranked exactly over all
  their vectors (kept as float16 on disk, memory-mapped).
* ``milvus`` (:class:`~svmr.backends.milvus.MilvusBackend`): a Milvus collection through
  ``pymilvus.MilvusClient``: an embedded milvus-lite file, a Milvus server or a cluster, by URI;
  results grouped by video in the engine (``group_by_field``).

``auto`` (the default) is ``exact`` while the gallery's vectors hold fewer than
:data:`AUTO_FAISS_FLOATS` numbers and ``faiss`` from there (measured with ``benchmarks/scale.py``; see docs/scaling.md).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

BACKENDS = ("auto", "exact", "faiss", "milvus")
#: stored numbers (rows × dimensions) from which ``auto`` picks ``faiss`` over ``exact``: 200 MB of
#: float32, about 20 ms a query exact on 2 cores (the default pipeline stores ~2,400 numbers per
#: second of video, so about 5.8 hours of video; seed 000's stage 1 2,048 per video, 24,000 videos)
AUTO_FAISS_FLOATS = 50_000_000


class SearchBackend(ABC):
    """The top-K-videos seam of stage 1. Vectors are unit rows; a video's score is the max inner
    product of the query with its rows."""

    name = "?"

    @abstractmethod
    def add(self, video: str, vectors: np.ndarray) -> None:
        """Store a video's ``(V, D)`` vectors (replacing what was stored under that id)."""

    def add_many(self, videos: list[str], vectors: list[np.ndarray]) -> None:
        """:meth:`add` for several videos (backends override it to batch)."""
        for video, rows in zip(videos, vectors):
            self.add(video, rows)

    @abstractmethod
    def remove(self, video: str) -> None:
        """Forget a video (no error when it is not stored)."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        """The ``k`` best videos for a ``(D,)`` query: ids and max inner products ``(k,)``, best
        first (fewer when fewer videos are stored)."""

    @abstractmethod
    def videos(self) -> set[str]:
        """Ids of the stored videos."""

    def __len__(self) -> int:
        return len(self.videos())

    def save(self) -> None:
        """Persist what is not yet on disk (backends without a folder do nothing)."""

    def describe(self) -> dict:
        """Name and parameters (for ``--json`` outputs and the index's metadata)."""
        return {"backend": self.name}


class ExactBackend(SearchBackend):
    """Every vector in one float32 matrix ``(N, D)``; ``search`` is a matrix product and a max
    per video (rows of a video are contiguous). In memory only."""

    name = "exact"

    def __init__(self):
        self._rows: dict[str, np.ndarray] = {}
        self._packed: tuple[list[str], np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_matrix(cls, ids: list[str], matrix: np.ndarray, counts: np.ndarray) -> "ExactBackend":
        """A backend over ``matrix`` ``(N, D)`` whose rows belong to ``ids`` in order, ``counts[i]``
        rows each (no copy of the matrix)."""
        backend = cls()
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        backend._packed = (list(ids), np.ascontiguousarray(matrix, dtype=np.float32), starts)
        backend._rows = {video: matrix[s:s + c] for video, s, c in zip(ids, starts, counts)}
        return backend

    def add(self, video: str, vectors: np.ndarray) -> None:
        self._rows[video] = np.asarray(vectors, np.float32)
        self._packed = None

    def remove(self, video: str) -> None:
        if self._rows.pop(video, None) is not None:
            self._packed = None

    def videos(self) -> set[str]:
        return set(self._rows)

    def _pack(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        if self._packed is None:
            ids = list(self._rows)
            blocks = [self._rows[i] for i in ids]
            counts = np.array([len(b) for b in blocks], np.int64)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            matrix = np.concatenate(blocks) if blocks else np.zeros((0, 0), np.float32)
            self._packed = (ids, matrix, starts)
        return self._packed

    def scores(self, query: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Every stored video's max inner product with ``query``: ids and ``(N_videos,)``."""
        ids, matrix, starts = self._pack()
        if not ids:
            return [], np.zeros(0, np.float32)
        return ids, np.maximum.reduceat(matrix @ np.asarray(query, np.float32), starts)

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        ids, scores = self.scores(query)
        return top_k(ids, scores, k)


def top_k(ids: list[str], scores: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
    """The ``k`` largest ``scores`` with their ids, best first (ties: the earlier id)."""
    k = min(k, len(ids))
    if k <= 0:
        return [], np.zeros(0, np.float32)
    best = np.argpartition(-scores, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    best = best[np.lexsort((best, -scores[best]))]
    return [ids[i] for i in best], scores[best]


def open_backend(name: str, folder: str | None, dim: int, milvus_uri: str | None = None,
                 collection: str = "svmr") -> SearchBackend:
    """A backend by name (``exact``, ``faiss`` or ``milvus``); ``folder`` holds a persisted
    faiss index, ``milvus_uri`` the Milvus database (default: ``<folder>/milvus.db``)."""
    import os

    if name == "exact":
        return ExactBackend()
    if name == "faiss":
        from .faiss_ivf import FaissBackend

        return FaissBackend(folder, dim)
    if name == "milvus":
        from .milvus import MilvusBackend

        return MilvusBackend(milvus_uri or os.path.join(folder, "milvus.db"), dim, collection)
    raise ValueError(f"unknown search backend {name!r}; choose one of {', '.join(BACKENDS)}")


def resolve_backend(name: str, floats: float) -> str:
    """``auto`` → ``exact`` or ``faiss`` by the numbers the gallery's vectors hold (rows ×
    dimensions); other names as given."""
    if name not in BACKENDS:
        raise ValueError(f"unknown search backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "faiss" if floats >= AUTO_FAISS_FLOATS else "exact"
    return name
