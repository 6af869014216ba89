"""The ``milvus`` backend: one Milvus collection through ``pymilvus.MilvusClient``.

The same code talks to

* an embedded milvus-lite database: a file path (``gallery/index/.../milvus.db``, the default),
* a Milvus server or cluster: ``http://host:19530`` (``--milvus-uri``; a token in
  ``SVMR_MILVUS_TOKEN`` when the server wants one).

Each stored row is ``(pk, video, vector)``; a search asks the engine for the top ``k`` groups by
``video`` (``group_by_field``), which is the max inner product over a video's rows. The index type
is ``FLAT`` (exact) in a milvus-lite file and Milvus' ``AUTOINDEX`` (the engine's choice) on a server.
"""
from __future__ import annotations

import os
import re

import logging

import numpy as np

from .base import SearchBackend, register_backend

logging.getLogger("pymilvus").setLevel(logging.ERROR)   # query_iterator warns on every milvus-lite call

#: groups asked for per group wanted
OVERFETCH = 2
#: longest video id a collection stores (ids are at most 80 characters, :data:`svmr.gallery.MAX_ID_LENGTH`)
ID_LENGTH = 256


@register_backend("milvus")
class MilvusBackend(SearchBackend):
    """See the module docstring. ``uri``: a milvus-lite file path or a server's URL."""

    name = "milvus"
    at_uri = True

    @classmethod
    def open(cls, folder: str | None, dim: int, uri: str | None = None, collection: str = "svmr") -> "MilvusBackend":
        """``uri`` None: a milvus-lite file in ``folder``."""
        return cls(uri or os.path.join(folder, "milvus.db"), dim, collection)

    def drop(self) -> None:
        """Delete the collection from the database."""
        self.client.drop_collection(self.collection)

    def __init__(self, uri: str, dim: int, collection: str = "svmr", index_type: str | None = None):
        from pymilvus import DataType, MilvusClient

        # an embedded file: FLAT, exact (with milvus-lite's AUTOINDEX, the demo gallery's 1,233 rows
        # gave some videos a lower max than their best window's, 1,180 did not); a server: AUTOINDEX
        index_type = index_type or ("AUTOINDEX" if "://" in uri else "FLAT")
        if "://" not in uri:
            os.makedirs(os.path.dirname(os.path.abspath(uri)), exist_ok=True)
        self.uri, self.dim, self.collection = uri, dim, _collection_name(collection)
        self.client = MilvusClient(uri, token=os.environ.get("SVMR_MILVUS_TOKEN", ""))
        if not self.client.has_collection(self.collection):
            schema = MilvusClient.create_schema(auto_id=True)
            schema.add_field("pk", DataType.INT64, is_primary=True)
            schema.add_field("video", DataType.VARCHAR, max_length=ID_LENGTH)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self.client.prepare_index_params()
            index.add_index("vector", index_type=index_type, metric_type="IP")
            self.client.create_collection(self.collection, schema=schema, index_params=index)
        else:
            stored = next(f for f in self.client.describe_collection(self.collection)["fields"] if f["name"] == "vector")
            if int(stored["params"]["dim"]) != dim:
                raise ValueError(f"Milvus collection {self.collection} holds {stored['params']['dim']}-d vectors, not {dim}-d")
        self.client.load_collection(self.collection)

    def describe(self) -> dict:
        return {"backend": self.name, "uri": self.uri, "collection": self.collection}

    def add_many(self, videos: list[str], vectors: list[np.ndarray]) -> None:
        self.remove_many(videos)
        rows = [{"video": video, "vector": row.tolist()}
                for video, block in zip(videos, vectors) for row in np.asarray(block, np.float32)]
        for start in range(0, len(rows), 5000):
            self.client.insert(self.collection, rows[start:start + 5000])

    def add(self, video: str, vectors: np.ndarray) -> None:
        self.add_many([video], [vectors])

    def remove(self, video: str) -> None:
        self.remove_many([video])

    def remove_many(self, videos: list[str]) -> None:
        for start in range(0, len(videos), 1000):
            chosen = ", ".join(_quoted(v) for v in videos[start:start + 1000])
            self.client.delete(self.collection, filter=f"video in [{chosen}]")

    def videos(self) -> set[str]:
        found, iterator = set(), self.client.query_iterator(self.collection, batch_size=10000, output_fields=["video"])
        while True:
            batch = iterator.next()
            if not batch:
                iterator.close()
                return found
            found.update(row["video"] for row in batch)

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        if k <= 0:
            return [], np.zeros(0, np.float32)
        # the engine may return fewer groups than asked when a few videos own most of the nearest
        # rows: ask for more, keep the best k
        hits = self.client.search(self.collection, data=[np.asarray(query, np.float32).tolist()],
                                  limit=min(OVERFETCH * k + 10, 16384), group_by_field="video",
                                  output_fields=["video"], search_params={"metric_type": "IP"})[0]
        hits = sorted(hits, key=lambda h: -h["distance"])[:k]
        return [h["entity"]["video"] for h in hits], np.array([h["distance"] for h in hits], np.float32)

    def save(self) -> None:
        self.client.flush(self.collection)

    def close(self) -> None:
        self.client.close()


def _collection_name(name: str) -> str:
    """Milvus collection names: letters, digits and ``_``, starting with a letter or ``_``."""
    cleaned = re.sub(r"\W", "_", name, flags=re.ASCII)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else "_" + cleaned


def _quoted(text: str) -> str:
    """A Milvus filter string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
