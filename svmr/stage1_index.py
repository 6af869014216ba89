"""Stage 1's index of a gallery: a search backend kept in step with the gallery's videos.

Two ways, by backend (:mod:`svmr.backends`):

* ``exact`` (small galleries): the retriever's raw vectors of every video are computed once per
  feature file and kept in memory; the search matrix is rebuilt (centred with the gallery's
  current mean feature) whenever the gallery changes. Nothing is written.
* ``faiss`` and ``milvus`` (persisted): the vectors are finalized with the gallery's mean as it was
  when the index was first built (``state.json``: that mean and the digest of every video stored),
  so adding a video never rewrites the others; only videos added or changed since are read. The
  folder is ``<gallery>/index/<retriever key>-<backend>/``; a Milvus server gets a collection named
  after the retriever and the gallery's path. ``python -m svmr index --rebuild-index`` refits the
  mean and rebuilds.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading

import numpy as np

from .features import FeatureSequence
from .files import write_json
from .formats import INDEX_FORMAT, migrate_index_state
from .backends import ExactBackend, SearchBackend, backend_class, open_backend, resolve_backend
from .gallery import Gallery
from .features.statistics import FrameStatistics

#: videos read and added per committed batch while a persisted index catches up
SYNC_BATCH = 256


def _choice_path(root: str) -> str:
    return os.path.join(root, "index", "choice.json")


def save_choice(root: str, backend: str, milvus_uri: str | None = None) -> None:
    """Make ``backend`` (and its Milvus URI) what searches of the gallery at ``root`` use when
    they ask for ``auto`` (``auto`` itself: forget the choice)."""
    path = _choice_path(root)
    if backend == "auto":
        if os.path.exists(path):
            os.remove(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json(path, {"backend": backend, "milvus_uri": milvus_uri})


def load_choice(root: str) -> dict:
    """The backend saved by :func:`save_choice` (``{}`` when none)."""
    try:
        with open(_choice_path(root)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


class Stage1Index:
    """The stage-1 backend of ``gallery`` for ``retriever`` (``backend``: a name of
    :data:`svmr.backends.BACKENDS`; ``auto`` picks by the gallery's size; ``regions``: a video's
    rows include those of the pictures found inside its pictures, :meth:`Gallery.views`)."""

    def __init__(self, gallery: Gallery, retriever, backend: str = "auto", milvus_uri: str | None = None,
                 regions: bool = False):
        self.gallery, self.retriever, self.regions = gallery, retriever, regions
        if backend == "auto":
            chosen = load_choice(gallery.root)
            backend, milvus_uri = chosen.get("backend", "auto"), milvus_uri or chosen.get("milvus_uri")
        self.milvus_uri = milvus_uri
        self.backend_name = resolve_backend(backend, self.estimated_floats() if backend == "auto" else 0)
        self.backend_class = backend_class(self.backend_name)
        # exact: id -> (digest, raw vectors (V, D), feature sum (C,), steps)
        self._vectors: dict[str, tuple[str, np.ndarray, np.ndarray, int]] = {}
        self._state: int | None = None          # the gallery version the backend matches
        self._backend: SearchBackend | None = None
        self._statistics: FrameStatistics | None = None
        self._stored: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def folder(self) -> str:
        return os.path.join(self.gallery.root, "index", f"{self.retriever.key}-{self.backend_name}")

    def current(self) -> tuple[SearchBackend, FrameStatistics]:
        """The backend, in step with the gallery, and the statistics its vectors are centred with."""
        with self._lock:
            self.gallery.refresh()
            state = self.gallery.version
            if self._state != state:
                if self.backend_class.in_memory:
                    self._sync_exact()
                else:
                    self._sync_persisted()
                self._state = state
            return self._backend, self._statistics

    def estimated_floats(self) -> float:
        """Numbers the gallery's stage-1 vectors would hold (rows from each video's steps × the
        dimension of the first video's vectors)."""
        videos = self.gallery.list()
        if not videos:
            return 0.0
        rate = self.gallery.config.rate
        rows = sum(self.retriever.estimated_rows(v.steps, rate) for v in videos)
        return float(rows * self._dimension())

    def stored_videos(self) -> int:
        """Videos the backend holds (after :meth:`current`)."""
        return len(self._backend or ()) if self.backend_class.in_memory else len(self._stored)

    def search(self, query: FeatureSequence, k: int) -> tuple[list[str], np.ndarray, FrameStatistics]:
        """The ``k`` best videos for a query clip's features: ids, max cosines and the
        statistics the vectors are centred with. A persisted backend is searched under the lock
        (faiss and a Milvus client are not safe to search while another thread adds to them); the
        exact backend is replaced, never changed, so its searches run in parallel."""
        backend, statistics = self.current()
        vector = self.query_vector(query, statistics)
        if isinstance(backend, ExactBackend):
            return *backend.search(vector, k), statistics
        with self._lock:
            return *backend.search(vector, k), statistics

    def query_vector(self, query: FeatureSequence, statistics: FrameStatistics) -> np.ndarray:
        """The query's ``(D,)`` search vector, finalized like the stored ones."""
        return self.retriever.finalize(self.retriever.query_vector(query)[None], statistics)[0].astype(np.float32)

    # ---- exact --------------------------------------------------------------------------------
    def _sync_exact(self) -> None:
        videos = self.gallery.list()
        for video in videos:
            cached = self._vectors.get(video.id)
            if cached is None or cached[0] != self._version(video):
                views = self._views(video.id)
                self._vectors[video.id] = (self._version(video), self._reference_vectors(views),
                                           views[0].features.sum(axis=1, dtype=np.float64), views[0].length)
        ids = [v.id for v in videos]
        for stale in set(self._vectors) - set(ids):
            del self._vectors[stale]
        entries = [self._vectors[i] for i in ids]
        self._statistics = FrameStatistics.from_sums([e[2] for e in entries], [e[3] for e in entries])
        if entries:
            matrix = self.retriever.finalize(np.concatenate([e[1] for e in entries]), self._statistics)
        else:
            matrix = np.zeros((0, 0), np.float32)
        self._backend = ExactBackend.from_matrix(ids, matrix.astype(np.float32), np.array([len(e[1]) for e in entries]))

    # ---- persisted ----------------------------------------------------------------------------
    def _state_path(self) -> str:
        return os.path.join(self.folder, "state.json")

    def _sync_persisted(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        where = (self.milvus_uri or "") if self.backend_class.at_uri else ""
        state = {"format": INDEX_FORMAT, "uri": where, "mean": None, "videos": {}}
        if os.path.exists(self._state_path()):
            with open(self._state_path()) as handle:
                saved = migrate_index_state(json.load(handle), self._state_path())
            if saved["uri"] == where:                  # another Milvus database holds none of it
                state = saved
        if not state["mean"]:
            state["mean"] = self._gallery_mean().tolist()
        self._statistics = FrameStatistics(np.asarray(state["mean"], np.float32))
        if not len(self._statistics.mean):             # an empty gallery: nothing to store yet
            self._backend = ExactBackend()
            return
        if self._backend is None or isinstance(self._backend, ExactBackend):
            self._backend = self._open(self._dimension())
        stored: dict[str, str] = state["videos"]
        self._stored = stored
        wanted = {v.id: self._version(v) for v in self.gallery.list()}
        gone = [video for video in stored if video not in wanted]
        for video in gone:
            self._backend.remove(video)
            del stored[video]
        if gone:
            self._commit(state)
        changed = [video for video, digest in wanted.items() if stored.get(video) != digest]
        for start in range(0, len(changed), SYNC_BATCH):
            batch = changed[start:start + SYNC_BATCH]
            vectors = []
            for video in batch:
                raw = self._reference_vectors(self._views(video))
                vectors.append(self.retriever.finalize(raw, self._statistics).astype(np.float32))
            self._backend.add_many(batch, vectors)
            stored.update({video: wanted[video] for video in batch})
            self._commit(state)

    def _version(self, video) -> str:
        """What this index stores of a video is current while this stays the same."""
        return video.version if self.regions else video.digest

    def _views(self, video_id: str) -> list:
        """The feature sequences a video's rows come from: its own, and its regions' when searched."""
        return self.gallery.views(video_id) if self.regions else [self.gallery.features(video_id)]

    def _reference_vectors(self, views: list) -> np.ndarray:
        """One video's raw stage-1 rows: its whole pictures' and each region's (:meth:`Gallery.views`)."""
        return np.concatenate([self.retriever.reference_vectors(view) for view in views])

    def _commit(self, state: dict) -> None:
        """Backend first, then the state naming what it holds (a kill between the two re-adds a
        batch next time, never loses one)."""
        self._backend.save()
        write_json(self._state_path(), state)

    def _gallery_mean(self) -> np.ndarray:
        sums, counts = [], []
        for video in self.gallery.list():
            features = self.gallery.features(video.id).features
            sums.append(features.sum(axis=1, dtype=np.float64))
            counts.append(features.shape[1])
        return FrameStatistics.from_sums(sums, counts).mean

    def _dimension(self) -> int:
        videos = self.gallery.list()
        if not videos:
            return len(self._statistics.mean)
        sequence = self.gallery.features(videos[0].id)
        return int(self.retriever.reference_vectors(sequence).shape[1])

    def _open(self, dim: int) -> SearchBackend:
        place = hashlib.sha256(os.path.abspath(self.gallery.root).encode()).hexdigest()[:8]
        collection = f"svmr_{self.retriever.key}_{place}"
        return open_backend(self.backend_name, self.folder, dim, self.milvus_uri, collection)

    def rebuild(self) -> None:
        """Forget the persisted index (its mean and vectors) and build it again from the gallery."""
        with self._lock:
            if self.backend_class.at_uri and self._backend is None and os.path.exists(self._state_path()):
                self._backend = self._open(self._dimension())
            if self._backend is not None:
                self._backend.drop()
            self._backend, self._state = None, None
            if os.path.isdir(self.folder):
                shutil.rmtree(self.folder)
        self.current()
