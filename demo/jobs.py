"""What the app's workers do with a visitor's file (:mod:`demo.workers`): the only code of the app
that decodes an uploaded file. Each job runs in a worker process and returns picklable values;
the server calls them through :func:`demo.service.indexer` and :func:`demo.service.reader`.
"""
from __future__ import annotations

import os
import time

from svmr import clips
from svmr import video as V
from svmr.features import FeatureSequence
from svmr.query import query_features

from .extraction import extractor
from .sessions import Session
from .temp_files import work_dir

#: the longer side of playable copies and previews, in pixels
PREVIEW_SIDE = 480


def index_upload(session_root: str, upload: str, progress=None) -> str:
    """Copy ``upload`` into the visitor's session and index it; returns the video id."""
    return Session(session_root).add(upload, progress=progress)


def probe(path: str) -> V.VideoInfo:
    return V.probe(path)


#: playable copies made so far, (path, size, mtime, start, end) → clip path (the worker's memory)
_CLIPS: dict[tuple, str] = {}
#: how many copies :data:`_CLIPS` remembers (the oldest is forgotten first)
CLIPS_KEPT = 32


def h264_clip(path: str, start: float, end: float | None, progress=None) -> str:
    """A browser-playable copy of ``[start, end)`` (``end`` None: to the end of the video), made
    once per file version and range."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns, round(start, 3), None if end is None else round(end, 3))
    if key in _CLIPS and os.path.exists(_CLIPS[key]):
        return _CLIPS[key]
    clip = os.path.join(work_dir(), os.path.splitext(os.path.basename(path))[0] + "_playable.mp4")
    clips.write_clip(path, clip, key[3], V.probe(path).duration if end is None else key[4], max_side=PREVIEW_SIDE,
                 progress=progress)
    _CLIPS[key] = clip
    while len(_CLIPS) > CLIPS_KEPT:
        del _CLIPS[next(iter(_CLIPS))]
    return clip


def load_query(path: str, progress=None) -> tuple[V.VideoInfo, str]:
    """A query video's :class:`VideoInfo` and what the page's player plays: the file itself when a
    browser can play it, otherwise an H.264 copy of the whole video (same timeline, so the
    player's position is a time in the original)."""
    info = V.probe(path)
    return info, path if clips.browser_playable(path) else h264_clip(path, 0.0, None, progress)


def query_clip_features(path: str, start: float, end: float | None, longest: float, progress=None) -> FeatureSequence:
    """The query clip's features (checked against a gallery whose longest video lasts ``longest``
    seconds first)."""
    return query_features(extractor(), path, start, end, longest, progress=progress)


def query_region_features(path: str, start: float, end: float, box: tuple[float, float, float, float]) -> FeatureSequence:
    """The features of ``[start, end)`` of the query file seen inside ``box`` (a picture inside its
    pictures: :meth:`~svmr.features.FeatureExtractor.extract_region`)."""
    return extractor().extract_region(path, start, end, box)


def analyze(path: str, start: float, end: float, progress=None) -> tuple[str, FeatureSequence, float, str]:
    """Trim ``[start, end)`` to a playable clip and extract its features; returns the clip, the
    features, the extraction's seconds and the device it ran on."""
    clip = os.path.join(work_dir(), "clip.mp4")
    clips.write_clip(path, clip, start, end, progress=progress)
    started = time.time()
    sequence = extractor().extract(path, start, end, progress=progress)
    return clip, sequence, time.time() - started, str(extractor().device)
