"""The ``faiss`` backend: an IVF-PQ index for candidates, an exact re-rank of the candidate videos.

Layout of its folder::

    vectors.f16    every stored row, float16, appended (memory-mapped for the re-rank)
    reduced.f16    the same rows rotated to ``reduce`` dimensions (the compact store, below),
                   which then replaces vectors.f16
    rotation.npy   the compact store's rotation ``(dim, reduce)`` float32
    videos.json    ids, each video's first row and row count, the index parameters (atomic)
    index.faiss    the trained IVF-PQ index over the live rows (ids = row numbers)
    index.json     the rows the saved index holds (a mismatch with videos.json → rebuilt)

Search: the query's ``fetch`` nearest rows by the compressed (PQ) inner product in ``nprobe`` of
``nlist`` cells; each fetched row is scored exactly (its float16 row → float32) and a video's score
is the max over its fetched rows (its best row is the one most likely fetched), so the cost of a
query does not grow with the rows per video. Below :data:`TRAIN_ROWS` rows there is no index: every live row is
scored exactly. In RAM: the PQ codes (``m`` bytes a row), 8-byte ids and a 4-byte owner per row;
the float16 rows stay on disk.

**The compact store** (rows longer than :data:`REDUCE_ABOVE` numbers, e.g. the default pipeline's
1,408-number windows): when the index is first trained, a rotation to the :data:`REDUCED_DIM`
directions that carry most of the stored rows' inner products (the top eigenvectors of their
uncentred second moment, fitted on the training sample) is saved; from then on rows are stored,
indexed and re-ranked rotated (a query is rotated the same way), and the full rows are deleted:
a fifth of the disk, PQ codes of 64 bytes, a re-rank that stays in the page cache. A video's
overlapping windows of one shot are near-identical and come back together, crowding out other
videos, so the compact store looks wider: ``nprobe`` at least 64 (a 32nd of the cells from
2,048 cells on), ``fetch`` 4096 (``benchmarks/scale.py --model align``, docs/scaling.md). The rotation is
kept when the index is retrained as the gallery grows; ``python -m svmr index --rebuild-index``
fits it again. Many cells (``nlist`` ≥ :data:`HNSW_FROM`) are found through an HNSW graph of their
centroids instead of a scan of all of them.
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
#: rows of more numbers than this are kept in the compact store, rotated to :data:`REDUCED_DIM`
REDUCE_ABOVE = 512
REDUCED_DIM = 256
#: cells from which the coarse quantizer is an HNSW graph (a flat scan of 4,096 centroids of 256
#: numbers per added row would dominate building an index of millions of rows)
HNSW_FROM = 2048


def default_parameters(rows: int, dim: int) -> dict:
    """Index parameters for ``rows`` stored rows of ``dim`` dimensions: ``reduce`` (the compact
    store's dimensions, 0: none); ``nlist`` ≈ 4 √rows cells (2 √rows in the compact store, whose
    k-means would otherwise take most of a build), a power of two up to 65536 with at least 39 rows
    a cell (at least 64 without ``reduce``, as measured before); ``m`` = width / 8 sub-quantizers
    of 8 bits (width / 8 bytes a row; width / 4 in the compact store); ``nprobe`` 32, ``fetch`` 1024
    rows (in the compact store, module docstring: ``nprobe`` 64 or a 32nd of the cells, whichever is
    more, and ``fetch`` 4096), 10 k-means iterations."""
    reduce = REDUCED_DIM if dim > REDUCE_ABOVE else 0
    width = reduce or dim
    cells = (2 if reduce else 4) * np.sqrt(rows)
    nlist = min(2 ** round(np.log2(max(1.0, cells))), 65536, 2 ** int(np.log2(max(1, rows // 39))))
    nlist = int(nlist if reduce else max(nlist, 64))
    m = next(m for m in (width // (4 if reduce else 8), width // 4, width // 2, width) if m and width % m == 0)
    if reduce:                                        # a 32nd of the cells from 2,048 of them
        return {"nlist": nlist, "m": m, "nbits": 8, "niter": 10, "nprobe": max(64, nlist // 32), "fetch": 4096,
                "reduce": reduce}
    return {"nlist": nlist, "m": m, "nbits": 8, "niter": 10, "nprobe": 32, "fetch": 1024, "reduce": 0}


def fit_rotation(sample: np.ndarray, dims: int) -> np.ndarray:
    """``(dim, dims)`` orthonormal columns: the top eigenvectors of ``sample``'s uncentred second
    moment ``(n, dim)`` — the directions that keep inner products (not distances to a mean) best."""
    moment = sample.T.astype(np.float64) @ sample.astype(np.float64)
    values, vectors = np.linalg.eigh(moment)
    return np.ascontiguousarray(vectors[:, np.argsort(values)[::-1][:dims]], dtype=np.float32)


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
        self.rotation: np.ndarray | None = None   # (dim, reduce): rows are stored rotated
        self._memmap = None
        self._first = None                   # (first, count) as arrays (searches)
        self._load()

    # ---- persistence -------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    @property
    def width(self) -> int:
        """Numbers in a stored row: ``dim``, or ``reduce`` once the compact store's rotation is fitted."""
        return self.dim if self.rotation is None else self.rotation.shape[1]

    def _store(self) -> str:
        return self._path("vectors.f16" if self.rotation is None else "reduced.f16")

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
            if meta.get("stored") == "reduced":
                rotation = self._path("rotation.npy")
                self.rotation = np.load(rotation, allow_pickle=False)
                self._drop_full_rows()
        row_bytes = 2 * self.width
        if os.path.exists(self._store()) and os.path.getsize(self._store()) != self.rows * row_bytes:
            with open(self._store(), "r+b") as handle:      # rows written after the last commit: dropped
                handle.truncate(self.rows * row_bytes)
        if self.rows >= TRAIN_ROWS:
            self.index = self._read_index()
            if self.index is None:
                self._train()

    def _drop_full_rows(self) -> None:
        """The full rows, once the committed state names the rotated ones."""
        if os.path.exists(self._path("vectors.f16")):
            os.remove(self._path("vectors.f16"))

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
                "stored": "full" if self.rotation is None else "reduced",
                "ids": self.ids, "first": self.first, "count": self.count}
        write_json(self._path("videos.json"), meta)
        if self.rotation is not None:
            self._drop_full_rows()
        if self.index is not None:
            import faiss

            tmp = self._path(f"index.faiss.{os.getpid()}.tmp")
            faiss.write_index(self.index, tmp)
            os.replace(tmp, self._path("index.faiss"))
            write_json(self._path("index.json"), {"rows": self.rows, "live": self._live_rows()})

    def describe(self) -> dict:
        return {"backend": self.name, "trained": self.index is not None,
                "stored": "full" if self.rotation is None else f"rotated to {self.width}", **self.parameters}

    # ---- storage -----------------------------------------------------------------------------
    def _vectors(self) -> np.ndarray:
        """Every stored row ``(rows, width)`` float16, memory-mapped."""
        if self._memmap is None or self._memmap.shape != (self.rows, self.width):
            self._memmap = (np.memmap(self._store(), np.float16, "r", shape=(self.rows, self.width))
                            if self.rows else np.zeros((0, self.width), np.float16))
        return self._memmap

    def _stored_form(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``(n, dim)`` (or one ``(dim,)`` query) as stored: rotated in the compact store."""
        rows = np.asarray(rows, np.float32)
        return rows if self.rotation is None else rows @ self.rotation

    def videos(self) -> set[str]:
        return set(self.where)

    def add(self, video: str, vectors: np.ndarray) -> None:
        self.add_many([video], [vectors])

    def add_many(self, videos: list[str], vectors: list[np.ndarray]) -> None:
        for video in videos:
            self.remove(video)
        blocks = [np.asarray(v, np.float32).reshape(-1, self.dim) for v in vectors]
        with open(self._store(), "ab") as handle:
            for block in blocks:
                handle.write(self._stored_form(block).astype(np.float16).tobytes())
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
        """Size the parameters for the live rows, fit the compact store's rotation (the first time),
        train IVF-PQ on a sample, add every live row."""
        import faiss

        live = np.flatnonzero(self._owner() >= 0)
        chosen = default_parameters(len(live), self.dim)
        if "trained_rows" in self.parameters:           # retrained: values tuned by hand are kept, defaults follow the size
            before = default_parameters(self.parameters["trained_rows"], self.dim)
            chosen.update({k: v for k, v in self.parameters.items() if k in ("nprobe", "fetch") and v != before[k]})
        else:
            chosen.update({k: v for k, v in self.parameters.items() if k in ("nprobe", "fetch")})
        size = min(len(live), max(SAMPLE_PER_CELL * chosen["nlist"], 39 * 2 ** chosen["nbits"]))  # IVF's and PQ's needs
        sample = np.sort(np.random.default_rng(0).choice(live, size, replace=False))
        if chosen["reduce"] and self.rotation is None:
            self._rotate_store(fit_rotation(np.asarray(self._vectors()[sample], np.float32), chosen["reduce"]))
        self.parameters = {**chosen, "trained_rows": len(live)}
        quantizer = f"IVF{chosen['nlist']}_HNSW32" if chosen["nlist"] >= HNSW_FROM else f"IVF{chosen['nlist']}"
        index = faiss.index_factory(self.width, f"{quantizer},PQ{chosen['m']}x{chosen['nbits']}",
                                    faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = chosen["niter"]
        faiss.downcast_index(faiss.extract_index_ivf(index)).do_polysemous_training = False  # factory default: slow, unused
        index.train(np.asarray(self._vectors()[sample], np.float32))
        self.index = index
        for start in range(0, len(live), 100_000):
            rows = live[start:start + 100_000]
            index.add_with_ids(np.asarray(self._vectors()[rows], np.float32), rows.astype(np.int64))

    def _rotate_store(self, rotation: np.ndarray) -> None:
        """Write every stored row rotated (``reduced.f16``) and the rotation; the full rows go once
        :meth:`save` has committed the state that names the rotated ones."""
        full = self._vectors()
        tmp = self._path(f"reduced.f16.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            for start in range(0, self.rows, 100_000):
                handle.write((np.asarray(full[start:start + 100_000], np.float32) @ rotation).astype(np.float16).tobytes())
        with open(self._path(f"rotation.{os.getpid()}.tmp.npy"), "wb") as handle:
            np.save(handle, rotation)
        os.replace(self._path(f"rotation.{os.getpid()}.tmp.npy"), self._path("rotation.npy"))
        os.replace(tmp, self._path("reduced.f16"))
        self.rotation, self._memmap = rotation, None

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
        """Exact inner products of ``query`` (as stored) with ``rows`` (float16 → float32), max per
        video: video numbers (ascending) and their scores."""
        if not len(rows):
            return [], np.zeros(0, np.float32)
        first, _ = self._arrays()
        rows = np.sort(rows)                                                      # rows of a video: one run
        products = np.asarray(self._vectors()[rows], np.float32) @ query
        owners = np.searchsorted(first, rows, side="right") - 1
        starts = np.flatnonzero(np.concatenate([[True], owners[1:] != owners[:-1]]))
        return owners[starts].tolist(), np.maximum.reduceat(products, starts)

    def _set_probes(self) -> None:
        import faiss

        self.index.nprobe = self.parameters["nprobe"]
        if self.parameters["nlist"] >= HNSW_FROM:         # the centroids' graph looks at least this wide
            faiss.downcast_index(self.index.quantizer).hnsw.efSearch = max(64, 2 * self.parameters["nprobe"])

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        query = self._stored_form(query)
        if self.index is None:
            rows = np.concatenate([np.arange(self.first[n], self.first[n] + self.count[n])
                                   for n, video in enumerate(self.ids) if video] or [np.zeros(0, np.int64)])
        else:
            self._set_probes()
            _, found = self.index.search(query[None], max(self.parameters["fetch"], 4 * k))
            rows = found[0][found[0] >= 0]
        numbers, scores = self._exact(query, rows)
        alive = [i for i, n in enumerate(numbers) if self.ids[n]]
        return top_k([self.ids[numbers[i]] for i in alive], scores[alive], k)
