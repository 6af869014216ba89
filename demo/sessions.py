"""Visitors' own galleries: a private folder per browser session (copied uploads and their
features), deleted when the session ends, and at server start for sessions a stopped server left."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field

from svmr import decodable, limits
from svmr import video as V
from svmr.features import ExtractorConfig
from svmr.features.extractor import file_digest
from svmr.gallery import Gallery, safe_id

from .extraction import extractor

SESSIONS_ROOT = os.path.join(tempfile.gettempdir(), "svmr_sessions")

#: the sessions' galleries this server process has open, by folder (a :class:`Session` is a plain
#: value the page's state may copy; the open gallery, with its lock and journal position, stays here)
_OPEN: dict[str, Gallery] = {}
_OPEN_LOCK = threading.Lock()


@dataclass
class Session:
    """One visitor's private gallery (a folder of copied uploads and their features)."""

    root: str = field(default_factory=lambda: os.path.join(SESSIONS_ROOT, uuid.uuid4().hex))

    @property
    def gallery(self) -> Gallery:
        """The session's gallery: opened once per server process and brought up to date on each use
        (what a worker process added is read from its journal); opened anew when its folder was
        deleted meanwhile (the visitor's page closed)."""
        folder = os.path.join(self.root, "gallery")
        with _OPEN_LOCK:
            gallery = _OPEN.get(folder)
            if gallery is None or not os.path.exists(os.path.join(folder, "gallery.json")):
                gallery = _OPEN[folder] = Gallery(folder, ExtractorConfig())
                return gallery
        gallery.refresh()
        return gallery

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
            decodable.remove_copy(path)
            os.remove(path)

    def close(self) -> None:
        """Delete the session: its videos, their decodable copies (:mod:`svmr.decodable`), features."""
        with _OPEN_LOCK:
            _OPEN.pop(os.path.join(self.root, "gallery"), None)
        folder = os.path.join(self.root, "videos")
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            decodable.remove_copy(os.path.join(folder, name))
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
    with _OPEN_LOCK:
        _OPEN.clear()
    if not os.path.isdir(SESSIONS_ROOT):
        return 0
    folders = os.listdir(SESSIONS_ROOT)
    for name in folders:
        shutil.rmtree(os.path.join(SESSIONS_ROOT, name), ignore_errors=True)
    return len(folders)
