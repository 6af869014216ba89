"""The ``faiss`` backend: an IVF-PQ index for candidates, an exact re-rank of the candidate videos.

Layout of its folder::

    vectors.f16    every stored row, float16, appended (memory-mapped for the re-rank)
    videos.json    ids, each video's first row and row count, the index parameters (atomic)
    index.faiss    the trained IVF-PQ index over the live rows (ids = row numbers)
    index.json     the rows the saved index holds (a mismatch with videos.json → rebuilt)

Search: the query's ``fetch`` nearest rows by the compressed (PQ) inner product in ``nprobe`` of
``nlist`` cells; each fetched row is scored exactly (its float16 row → float32) and a video's score
is the max over its fetched rows (its best row is the one most likely fetched), so the cost of a
query does not grow with the rows per video. Below :data:`TRAIN_ROWS` rows there is no index: every live row is
scored exactly. In RAM: the PQ codes (``m`` bytes a row), 8-byte ids and a 4-byte owner per row;
the float16 rows stay on disk.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..files import write_json
from .base import SearchBackend, register_backend, top_k

#: rows from which an index is trained (fewer: exact over the rows)
TRAIN_ROWS = 20_000
#: rows a training sample holds per cell (faiss warns below 39)
SAMPLE_PER_CELL = 64


def default_parameters(rows: int, dim: int) -> dict:
    """Index parameters for ``rows`` stored rows of ``dim`` dimensions: ``nlist`` ≈ 4 √rows (a
    power of two, 64–65536), ``m`` = dim / 8 sub-quantizers of 8 bits (``dim`` bytes / 8 a row),
    ``nprobe`` 32, ``fetch`` 1024 rows, 10 k-means iterations."""
    nlist = int(np.clip(2 ** round(np.log2(max(1, 4 * np.sqrt(rows)))), 64, 65536))
    m = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m and dim % m == 0)
    return {"nlist": nlist, "m": m, "nbits": 8, "niter": 10, "nprobe": 32, "fetch": 1024}


@register_backend("faiss")
class FaissBackend(SearchBackend):
    """See the module docstring. ``folder`` None keeps everything in a temporary folder."""

    name = "faiss"

    @classmethod
    def open(cls, folder: str | None, dim: int, uri: str | None = None, collection: str = "svmr") -> "FaissBackend":
        return cls(folder, dim)

    def __init__(self, folder: str | None, dim: int, parameters: dict | None = None):
        import tempfile

        if folder is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="svmr-faiss-")
            folder = self._temporary.name
        os.makedirs(folder, exist_ok=True)
        self.folder, self.dim = folder, dim
        self.parameters = dict(parameters or {})
        self.ids: list[str] = []             # video number → id ("" once removed)
        self.first: list[int] = []           # video number → first row
        self.count: list[int] = []           # video number → rows
        self.where: dict[str, int] = {}      # id → video number
        self.rows = 0
        self.index = None
        self._memmap = None
        self._first = None                   # (first, count) as arrays (searches)
        self._load()

    # ---- persistence -------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def _load(self) -> None:
        meta_path = self._path("videos.json")
        if os.path.exists(meta_path):
            with open(meta_path) as handle:
                meta = json.load(handle)
            if meta["dim"] != self.dim:
                raise ValueError(f"this faiss index holds {meta['dim']}-d vectors, not {self.dim}-d")
            self.ids, self.first, self.count = meta["ids"], meta["first"], meta["count"]
            self.rows, self.parameters = meta["rows"], meta["parameters"] or self.parameters
            self.where = {video: n for n, video in enumerate(self.ids) if video}
        store = self._path("vectors.f16")
        row_bytes = 2 * self.dim
        if os.path.exists(store) and os.path.getsize(store) != self.rows * row_bytes:
            with open(store, "r+b") as handle:      # rows written after the last commit: dropped
                handle.truncate(self.rows * row_bytes)
        if self.rows >= TRAIN_ROWS:
            self.index = self._read_index()
            if self.index is None:
                self._train()

    def _read_index(self):
        import faiss

        if not (os.path.exists(self._path("index.faiss")) and os.path.exists(self._path("index.json"))):
            return None
        with open(self._path("index.json")) as handle:
            saved = json.load(handle)
        if saved != {"rows": self.rows, "live": self._live_rows()}:
            return None                               # saved before a later add or remove: rebuild
        return faiss.read_index(self._path("index.faiss"))

    def _live_rows(self) -> int:
        return int(sum(c for video, c in zip(self.ids, self.count) if video))

    def save(self) -> None:
        meta = {"dim": self.dim, "rows": self.rows, "parameters": self.parameters,
                "ids": self.ids, "first": self.first, "count": self.count}
        write_json(self._path("videos.json"), meta)
        if self.index is not None:
            import faiss

            tmp = self._path(f"index.faiss.{os.getpid()}.tmp")
            faiss.write_index(self.index, tmp)
            os.replace(tmp, self._path("index.faiss"))
            write_json(self._path("index.json"), {"rows": self.rows, "live": self._live_rows()})

    def describe(self) -> dict:
        return {"backend": self.name, "trained": self.index is not None, **self.parameters}

    # ---- storage -----------------------------------------------------------------------------
    def _vectors(self) -> np.ndarray:
        """Every stored row ``(rows, dim)`` float16, memory-mapped."""
        if self._memmap is None or len(self._memmap) != self.rows:
            self._memmap = (np.memmap(self._path("vectors.f16"), np.float16, "r", shape=(self.rows, self.dim))
                            if self.rows else np.zeros((0, self.dim), np.float16))
        return self._memmap

    def videos(self) -> set[str]:
        return set(self.where)

    def add(self, video: str, vectors: np.ndarray) -> None:
        self.add_many([video], [vectors])

    def add_many(self, videos: list[str], vectors: list[np.ndarray]) -> None:
        for video in videos:
            self.remove(video)
        blocks = [np.asarray(v, np.float16).reshape(-1, self.dim) for v in vectors]
        with open(self._path("vectors.f16"), "ab") as handle:
            for block in blocks:
                handle.write(block.tobytes())
        start = self.rows
        for video, block in zip(videos, blocks):
            self.where[video] = len(self.ids)
            self.ids.append(video)
            self.first.append(self.rows)
            self.count.append(len(block))
            self.rows += len(block)
        if self.index is None and self.rows >= TRAIN_ROWS:
            self._train()
        elif self.index is not None:
            if self.rows > 16 * self.parameters.get("trained_rows", self.rows):
                self._train()                         # the cells were sized for far fewer rows
            else:
                self._index_rows(start, self.rows)

    def remove(self, video: str) -> None:
        number = self.where.pop(video, None)
        if number is None:
            return
        if self.index is not None:
            import faiss

            first = self.first[number]
            self.index.remove_ids(faiss.IDSelectorRange(first, first + self.count[number]))
        self.ids[number] = ""

    # ---- the index ---------------------------------------------------------------------------
    def _owner(self) -> np.ndarray:
        """Video number of every row ``(rows,)``; −1 for rows of removed videos."""
        owner = np.full(self.rows, -1, np.int64)
        for number, video in enumerate(self.ids):
            if video:
                owner[self.first[number]:self.first[number] + self.count[number]] = number
        return owner

    def _train(self) -> None:
        """Size the parameters for the live rows, train IVF-PQ on a sample, add every live row."""
        import faiss

        live = np.flatnonzero(self._owner() >= 0)
        chosen = default_parameters(len(live), self.dim)
        chosen.update({k: v for k, v in self.parameters.items() if k in ("nprobe", "fetch")})
        self.parameters = {**chosen, "trained_rows": len(live)}
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(quantizer, self.dim, chosen["nlist"], chosen["m"], chosen["nbits"],
                                 faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = chosen["niter"]
        rng = np.random.default_rng(0)
        size = min(len(live), max(SAMPLE_PER_CELL * chosen["nlist"], 39 * 2 ** chosen["nbits"]))  # IVF's and PQ's needs
        sample = np.sort(rng.choice(live, size, replace=False))
        index.train(np.asarray(self._vectors()[sample], np.float32))
        self.index = index
        for start in range(0, len(live), 100_000):
            rows = live[start:start + 100_000]
            index.add_with_ids(np.asarray(self._vectors()[rows], np.float32), rows.astype(np.int64))

    def _index_rows(self, start: int, stop: int) -> None:
        for first in range(start, stop, 100_000):
            last = min(stop, first + 100_000)
            self.index.add_with_ids(np.asarray(self._vectors()[first:last], np.float32),
                                    np.arange(first, last, dtype=np.int64))

    # ---- search ------------------------------------------------------------------------------
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``first`` and ``count`` as arrays ``(videos,)`` (rebuilt after adds)."""
        if self._first is None or len(self._first[0]) != len(self.first):
            self._first = (np.asarray(self.first, np.int64), np.asarray(self.count, np.int64))
        return self._first

    def _exact(self, query: np.ndarray, rows: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Exact inner products of ``query`` with ``rows`` (float16 → float32), max per video:
        video numbers (ascending) and their scores."""
        if not len(rows):
            return [], np.zeros(0, np.float32)
        first, _ = self._arrays()
        rows = np.sort(rows)                                                      # rows of a video: one run
        products = np.asarray(self._vectors()[rows], np.float32) @ query
        owners = np.searchsorted(first, rows, side="right") - 1
        starts = np.flatnonzero(np.concatenate([[True], owners[1:] != owners[:-1]]))
        return owners[starts].tolist(), np.maximum.reduceat(products, starts)

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        query = np.asarray(query, np.float32)
        if self.index is None:
            rows = np.concatenate([np.arange(self.first[n], self.first[n] + self.count[n])
                                   for n, video in enumerate(self.ids) if video] or [np.zeros(0, np.int64)])
        else:
            self.index.nprobe = self.parameters["nprobe"]
            _, found = self.index.search(query[None], max(self.parameters["fetch"], 4 * k))
            rows = found[0][found[0] >= 0]
        numbers, scores = self._exact(query, rows)
        alive = [i for i, n in enumerate(numbers) if self.ids[n]]
        return top_k([self.ids[numbers[i]] for i in alive], scores[alive], k)
