"""What the app does, without the UI: models, the demo gallery, per-visitor galleries, search.

One feature extractor and one copy of each model serve every visitor (they are read-only; the
extractor serializes its stateful part). The demo gallery is shared and read-only; every
visitor's own uploads go to a private gallery folder that is deleted when their session ends.
"""
from __future__ import annotations

import functools
import json
import os
import threading
import time

from svmr import limits
from svmr import video as V
from svmr.features import ExtractorConfig
from svmr.features.extractor import file_digest
from svmr.gallery import Gallery
from svmr.pipelines import DEFAULT_PIPELINE, Pipeline, build_pipeline, registry
from svmr.search import SearchResult, Searcher, query_damage

from . import jobs
from .extraction import extractor
from .prepare import DEFAULT_ROOT, load_demo, needs_build, prepare_demo
from .sessions import Session
from .workers import Worker

#: the pipelines the app offers (:mod:`svmr.pipelines`): those whose checkpoints are bundled
_PIPELINES = {name: spec for name, spec in registry().items() if spec.available()}
#: menu label (the value API clients pass; a registry name is accepted too) → registry name
MODELS = {spec.label: name for name, spec in _PIPELINES.items()}
#: label → what the model menu shows (short enough for a narrow screen)
MODEL_MENU = {spec.label: spec.menu for spec in _PIPELINES.values()}
ALIGN = _PIPELINES[DEFAULT_PIPELINE].label
DEMO_GALLERY = "Demo gallery"
MY_GALLERY = "My videos"


#: files the app itself offers (its examples): the only paths outside Gradio's upload folder that
#: a request may name
_EXAMPLE_FILES: set[str] = set()


def allow_examples(paths) -> None:
    _EXAMPLE_FILES.update(os.path.realpath(p) for p in paths)


def upload_folder() -> str:
    """Where Gradio keeps what visitors upload (its own ``get_upload_folder``), resolved."""
    from gradio.utils import get_upload_folder

    return os.path.realpath(get_upload_folder())


def checked_upload(path: str) -> str:
    """``path`` when it names a file this visitor may use: one they uploaded (in Gradio's upload
    folder) or one of the app's examples. A request naming any other file on the server (another
    visitor's video, ``/etc/passwd``) is refused without opening it.

    Raises:
        VideoError: naming the file.
    """
    real = os.path.realpath(path)
    if real in _EXAMPLE_FILES or os.path.commonpath([real, upload_folder()]) == upload_folder():
        return path
    raise V.VideoError(f"{os.path.basename(path)}: not a file uploaded to this app; upload it first.")


def model_name(model: str) -> str:
    """The short name of a model label or registry name (as the menu shows it)."""
    label = next((label for label, name in MODELS.items() if model in (label, name)), None)
    if label is None:
        raise ValueError(f"Unknown model {model!r}: choose one of {', '.join(MODELS.values())}.")
    return MODEL_MENU[label]


@functools.lru_cache(maxsize=1)
def indexer() -> Worker:
    """The worker that indexes visitors' uploads (:func:`demo.jobs.index_upload`): minutes per
    upload, so at a lower priority and on half the cores, leaving the rest to searches."""
    return Worker("svmr-indexing", limits.decode_budget_s, "SVMR_DECODE_BUDGET_S", niceness=10,
                  threads=max(1, (os.cpu_count() or 2) // 2))


@functools.lru_cache(maxsize=1)
def reader() -> Worker:
    """The worker that reads query files (probe, playable copy, features: :mod:`demo.jobs`)."""
    return Worker("svmr-reading", limits.read_budget_s, "SVMR_READ_BUDGET_S")


@functools.lru_cache(maxsize=None)
def pipeline(model: str) -> Pipeline:
    """The pipeline of a menu label (or a registry name), built once and shared by every visitor."""
    return build_pipeline(MODELS.get(model, model))


class DemoGallery:
    """The bundled gallery (built on first use when missing) and its ground truth."""

    def __init__(self, root: str = DEFAULT_ROOT, synthetic: dict | None = None):
        self.root = root
        self.synthetic = synthetic
        self._lock = threading.Lock()
        self._searchers: dict[str, Searcher] = {}
        self.info: dict | None = None
        self.gallery: Gallery | None = None

    def ensure(self, log=print) -> "DemoGallery":
        with self._lock:
            if self.gallery is None:
                info = load_demo(self.root)
                if reason := needs_build(info, ExtractorConfig().key()):
                    log(f"demo: {reason}")
                    info = prepare_demo(self.root, extractor(), log=log, synthetic=self.synthetic)
                self.info = info
                self.gallery = Gallery(os.path.join(self.root, "gallery"))
        return self

    def searcher(self, model: str) -> Searcher:
        self.ensure()
        with self._lock:
            if model not in self._searchers:
                self._searchers[model] = Searcher(self.gallery, pipeline(model))
            return self._searchers[model]

    def examples(self) -> list[dict]:
        return self.ensure().info["examples"]

    def truth(self, video_id: str) -> dict | None:
        return self.ensure().info["videos"].get(video_id)

    def label_of(self, query_path: str | None) -> str | None:
        """The ground-truth label of a query that is one of the examples (same content; only
        files of an example's exact size are hashed, so big uploads cost nothing per search)."""
        if not query_path or not os.path.exists(query_path):
            return None
        size = os.path.getsize(query_path)
        candidates = [e for e in self.examples() if os.path.exists(e["path"]) and os.path.getsize(e["path"]) == size]
        if not candidates:
            return None
        digest = file_digest(query_path)
        return next((e["label"] for e in candidates if _example_digest(e["path"]) == digest), None)


@functools.lru_cache(maxsize=64)
def _example_digest(path: str) -> str:
    return file_digest(path)


def search(gallery_choice: str, model: str, session: Session | None, demo: DemoGallery, query: str,
           start: float, end: float, top_videos: int, moments_per_video: int, min_score: float,
           progress=None) -> tuple[SearchResult, Gallery]:
    """Run one search on the chosen gallery; returns the result and the gallery searched. The
    query file is read in the reader worker (:func:`reader`), the search runs here.

    Raises:
        VideoError / ValueError with a message for the user.
    """
    model_name(model)                                   # an unknown model: its message, before any work
    if gallery_choice == DEMO_GALLERY:
        searcher = demo.searcher(model)
    else:
        if session is None or not len(session.gallery):
            raise ValueError("Your gallery is empty: add videos under “My videos” first, or search the demo gallery.")
        searcher = Searcher(session.gallery, pipeline(model))
    started = time.perf_counter()
    sequence = reader().call(jobs.query_clip_features, (query, start, end, searcher.gallery.longest_s()),
                             about=os.path.basename(query), progress=progress)
    reading = time.perf_counter() - started
    result = searcher.search(sequence, top_videos=top_videos, moments_per_video=moments_per_video,
                             min_score=min_score, source=query,
                             read_region=lambda *args: reader().call(jobs.query_region_features, args,
                                                                     about=os.path.basename(query)))
    result.timings["query_features_s"] = round(reading, 4)
    damage = query_damage(query)        # found while the worker read the clip: the result says so
    if damage:
        result.query["damage"] = damage
    result.timings["total_s"] = round(result.timings["total_s"] + reading, 4)
    return result, searcher.gallery


def result_json(result: SearchResult, gallery_choice: str, model: str, path: str) -> str:
    """Write all results (with the maps) as JSON; returns ``path``."""
    data = {"gallery": gallery_choice, "model": model, **result.to_json(with_maps=True)}
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path
