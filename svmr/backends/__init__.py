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

import importlib

from .base import _BACKENDS, ExactBackend, SearchBackend, register_backend, top_k

__all__ = ["AUTO_FAISS_FLOATS", "BACKENDS", "ExactBackend", "SearchBackend", "backend_class", "open_backend",
           "register_backend", "resolve_backend", "top_k"]

#: the backends' modules (imported when a backend is opened: faiss and pymilvus load only when used)
_MODULES = {"exact": "base", "faiss": "faiss_ivf", "milvus": "milvus"}
BACKENDS = ("auto", *_MODULES)
#: stored numbers (rows × dimensions) from which ``auto`` picks ``faiss`` over ``exact``: 200 MB of
#: float32, about 20 ms a query exact on 2 cores (the default pipeline stores ~2,400 numbers per
#: second of video, so about 5.8 hours of video; seed 000's stage 1 2,048 per video, 24,000 videos)
AUTO_FAISS_FLOATS = 50_000_000


def backend_class(name: str) -> type[SearchBackend]:
    """The backend class registered as ``name`` (its module imported on first use).

    Raises:
        ValueError: not a backend's name.
    """
    if name not in _MODULES:
        raise ValueError(f"unknown search backend {name!r}; choose one of {', '.join(BACKENDS)}")
    importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return _BACKENDS[name]


def open_backend(name: str, folder: str | None, dim: int, milvus_uri: str | None = None,
                 collection: str = "svmr") -> SearchBackend:
    """A backend by name (``exact``, ``faiss`` or ``milvus``); ``folder`` holds a persisted
    index, ``milvus_uri`` the Milvus database (default: ``<folder>/milvus.db``)."""
    return backend_class(name).open(folder, dim, milvus_uri, collection)


def resolve_backend(name: str, floats: float) -> str:
    """``auto`` → ``exact`` or ``faiss`` by the numbers the gallery's vectors hold (rows ×
    dimensions); other names as given."""
    if name not in BACKENDS:
        raise ValueError(f"unknown search backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "faiss" if floats >= AUTO_FAISS_FLOATS else "exact"
    return name
