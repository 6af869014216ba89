"""What every stage-1 search backend is (:class:`SearchBackend`), the exact one, and the registry
that :func:`svmr.backends.open_backend` builds backends from (each backend module registers itself
with :func:`register_backend`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
import numpy as np

#: name → backend class (:meth:`SearchBackend.open` builds one)
_BACKENDS: dict[str, type] = {}


def register_backend(name: str):
    """Class decorator: a :class:`SearchBackend` registered under ``name``."""
    def wrap(backend: type) -> type:
        _BACKENDS[name] = backend
        return backend
    return wrap


class SearchBackend(ABC):
    """The top-K-videos seam of stage 1. Vectors are unit rows; a video's score is the max inner
    product of the query with its rows."""

    name = "?"
    #: the vectors live in memory only (rebuilt from the gallery at each start), not on disk
    in_memory = False
    #: stored at a URI (a database) rather than in the index's own folder
    at_uri = False

    @classmethod
    def open(cls, folder: str | None, dim: int, uri: str | None = None, collection: str = "svmr") -> "SearchBackend":
        """The backend persisted in ``folder`` (or at ``uri``) for ``dim``-dimensional vectors."""
        return cls()

    def drop(self) -> None:
        """Delete everything stored outside the index's folder (the folder itself is the index's)."""

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


@register_backend("exact")
class ExactBackend(SearchBackend):
    """Every vector in one float32 matrix ``(N, D)``; ``search`` is a matrix product and a max
    per video (rows of a video are contiguous). In memory only."""

    name = "exact"
    in_memory = True

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


