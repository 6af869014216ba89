"""What the app does, without the UI: models, the demo gallery, per-visitor galleries, search.

One feature extractor and one copy of each model serve every visitor (they are read-only; the
extractor serializes its stateful part). The demo gallery is shared and read-only; every
visitor's own uploads go to a private gallery folder that is deleted when their session ends.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

from svmr import limits
from svmr import video as V
from svmr.features import ExtractorConfig, FeatureExtractor
from svmr.features.extractor import file_digest
from svmr.gallery import Gallery, safe_id
from svmr.pipelines import DEFAULT_ACTIONNESS, DEFAULT_GRAPH, build_pipeline
from svmr.search import SearchResult, Searcher

from . import jobs
from .prepare import DEFAULT_ROOT, load_demo, needs_build, prepare_demo
from .workers import Worker

ALIGN = "Default: multi-scale windows + frame alignment (best on real footage)"
PAPER = "Two-stage model (paper): CTC auto-encoder + attention re-localization"
BASELINE = "Training-free baseline: mean-pooled features + sliding-window cosine"
GRAPH = "Seed 001: window retrieval + TAG proposals scored by multi-graph feature fusion"
#: menu label → registry name (:mod:`svmr.pipelines`); seed 001's model when its checkpoints are bundled
MODELS = {ALIGN: "align", PAPER: "paper", BASELINE: "baseline",
          **({GRAPH: "graph"} if os.path.exists(DEFAULT_GRAPH) and os.path.exists(DEFAULT_ACTIONNESS) else {})}
#: what the model menu shows (short enough for a narrow screen); its values stay the labels above,
#: which API clients pass (or a registry name)
MODEL_MENU = {ALIGN: "Default: frame alignment (best on real footage)",
              PAPER: "Paper: CTC auto-encoder + attention re-localization",
              BASELINE: "Baseline: mean-pooled features, sliding window",
              GRAPH: "Seed 001: graph re-localization"}
DEMO_GALLERY = "Demo gallery"
MY_GALLERY = "My videos"
SESSIONS_ROOT = os.path.join(tempfile.gettempdir(), "svmr_sessions")


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
def extractor() -> FeatureExtractor:
    return FeatureExtractor(ExtractorConfig())


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
def models(name: str) -> tuple:
    """``(retriever, localizer)`` for a menu label (or a registry name)."""
    return build_pipeline(MODELS.get(name, name))


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
                stage1, stage2 = models(model)
                self._searchers[model] = Searcher(self.gallery, stage1, stage2)
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


@dataclass
class Session:
    """One visitor's private gallery (a folder of copied uploads and their features)."""

    root: str = field(default_factory=lambda: os.path.join(SESSIONS_ROOT, uuid.uuid4().hex))

    @property
    def gallery(self) -> Gallery:
        return Gallery(os.path.join(self.root, "gallery"), ExtractorConfig())

    def add(self, upload: str, progress=None) -> str:
        """Copy an upload into the session and index it; returns the video id.

        Raises:
            VideoError: not a usable video (nothing is kept then).
        """
        gallery = self.gallery
        name = os.path.basename(upload)
        if len(gallery) >= limits.max_session_videos():
            raise V.VideoError(f"{name}: your gallery already holds {len(gallery)} video(s), the most allowed "
                               f"here; remove some first.")
        size, largest = os.path.getsize(upload), limits.max_upload_bytes()
        if size > largest:
            raise V.VideoError(f"{name}: the file is {limits.describe_bytes(size)}; uploads may be at most "
                               f"{limits.describe_bytes(largest)} here.")
        info = V.probe(upload)
        digest = file_digest(upload)
        same = next((v.id for v in gallery.list() if v.digest == digest), None)
        if same is not None:
            raise V.VideoError(f"{os.path.basename(upload)} is already in your gallery as {same}; not added again.")
        if info.duration > limits.max_upload_duration_s():
            raise V.VideoError(f"{name} lasts {limits.describe_seconds(info.duration)}; gallery videos may last "
                               f"at most {limits.describe_seconds(limits.max_upload_duration_s())} here.")
        video_id = safe_id(upload)
        base, n = video_id, 2
        while video_id in gallery:
            video_id, n = f"{base}_{n}", n + 1
        folder = os.path.join(self.root, "videos")
        os.makedirs(folder, exist_ok=True)
        kept = os.path.join(folder, video_id + os.path.splitext(upload)[1].lower())
        shutil.copyfile(upload, kept)
        try:
            gallery.add(kept, extractor(), video_id=video_id, progress=progress)
        except BaseException:
            os.remove(kept)
            raise
        return video_id

    def remove(self, video_id: str) -> None:
        gallery = self.gallery
        path = gallery.videos[video_id].path
        gallery.remove(video_id)
        if os.path.dirname(path) == os.path.join(self.root, "videos") and os.path.exists(path):
            os.remove(path)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def session_for(session_hash: str | None) -> Session:
    """A visitor's session, its folder named after Gradio's session hash (so the page's unload
    event, which only knows the hash, can delete it)."""
    if not session_hash:
        return Session()
    return Session(os.path.join(SESSIONS_ROOT, safe_id(session_hash)))


def close_session(session: Session | None) -> None:
    """Gradio's delete callback for a visitor's state."""
    if session is not None:
        session.close()


def drop_session(session_hash: str | None) -> None:
    """Delete a visitor's uploads and features when their page closes."""
    if session_hash:
        session_for(session_hash).close()


def clear_sessions() -> int:
    """Delete every session folder left by an earlier run of the server (at start-up); returns
    how many there were."""
    if not os.path.isdir(SESSIONS_ROOT):
        return 0
    folders = os.listdir(SESSIONS_ROOT)
    for name in folders:
        shutil.rmtree(os.path.join(SESSIONS_ROOT, name), ignore_errors=True)
    return len(folders)


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
        stage1, stage2 = models(model)
        searcher = Searcher(session.gallery, stage1, stage2)
    started = time.perf_counter()
    sequence = reader().call(jobs.query_clip_features, (query, start, end, searcher.gallery.longest_s()),
                             about=os.path.basename(query), progress=progress)
    reading = time.perf_counter() - started
    result = searcher.search(sequence, top_videos=top_videos, moments_per_video=moments_per_video,
                             min_score=min_score)
    result.timings["query_features_s"] = round(reading, 4)
    result.timings["total_s"] = round(result.timings["total_s"] + reading, 4)
    return result, searcher.gallery


def result_json(result: SearchResult, gallery_choice: str, model: str, path: str) -> str:
    """Write all results (with the maps) as JSON; returns ``path``."""
    data = {"gallery": gallery_choice, "model": model, **result.to_json(with_maps=True)}
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path
