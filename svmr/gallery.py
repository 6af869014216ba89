"""The gallery: indexed reference videos on disk.

Layout of a gallery folder::

    gallery.json           extractor configuration and one entry per video (written atomically)
    features/<id>.npz      the video's feature sequence (written atomically)

Adding a video extracts its features and records it; an interrupted indexing run loses nothing
already added (each video is committed on its own) and, run again, skips what is there. Stage-1
embeddings are computed from the features when a searcher opens the gallery (they depend on the
model), kept in memory, and searched exactly (a matrix product over all ``4·N`` vectors).
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

from . import video as V
from .features import ExtractorConfig, FeatureExtractor, FeatureSequence
from .features.extractor import file_digest


@dataclass
class GalleryVideo:
    id: str
    path: str
    duration: float
    fps: float
    width: int
    height: int
    steps: int
    digest: str
    added: float
    features: str = ""     # its feature file under features/ ("" in older galleries: <id>.npz)


#: longest video id (ids name files, and file names may have at most 255 bytes)
MAX_ID_LENGTH = 80


def safe_id(name: str) -> str:
    """A file-system-safe video id from a file name (its stem): letters of any script, digits,
    ``.``, ``_`` and ``-``; at most ``MAX_ID_LENGTH`` characters (a long name keeps its start and
    a short hash of the rest, so two long names stay apart)."""
    stem = os.path.splitext(os.path.basename(name))[0]
    cleaned = re.sub(r"[^\w.-]+", "_", stem).strip("._-") or "video"
    if len(cleaned) > MAX_ID_LENGTH:
        import hashlib

        cleaned = cleaned[:MAX_ID_LENGTH - 9] + "_" + hashlib.sha256(cleaned.encode()).hexdigest()[:8]
    return cleaned


#: the temporary files of the gallery's atomic writes: ``<name>.<pid>[.<thread>].tmp[.jpg]``
_TEMPORARY = re.compile(r"\.(\d+)(?:\.\d+)?\.tmp(?:\.jpg)?$")


def _remove_stale_temporaries(root: str) -> None:
    """Delete temporaries left by a writer that was killed (its process is gone); they are never
    read, this only frees the space."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            match = _TEMPORARY.search(name)
            if match and not _process_alive(int(match.group(1))):
                try:
                    os.remove(os.path.join(dirpath, name))
                except OSError:
                    pass


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Gallery:
    """An on-disk collection of indexed videos (thread-safe for one process).

    Args:
        root: the gallery folder (created if missing).
        config: extractor configuration for new galleries (an existing gallery keeps its own).
    """

    def __init__(self, root: str, config: ExtractorConfig | None = None):
        self.root = root
        os.makedirs(os.path.join(root, "features"), exist_ok=True)
        _remove_stale_temporaries(root)
        self._lock = threading.Lock()
        manifest = os.path.join(root, "gallery.json")
        if os.path.exists(manifest):
            with open(manifest) as handle:
                data = json.load(handle)
            self.config = ExtractorConfig.from_dict(data["extractor"])
            self.videos = {k: GalleryVideo(**v) for k, v in data["videos"].items()}
        else:
            self.config = config or ExtractorConfig()
            self.videos = {}
            self._save()

    def _save(self) -> None:
        path = os.path.join(self.root, "gallery.json")
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as handle:
            json.dump({"extractor": asdict(self.config), "videos": {k: asdict(v) for k, v in self.videos.items()}},
                      handle, indent=1)
        os.replace(tmp, path)

    def feature_path(self, video_id: str) -> str:
        """The feature file of a listed video (each version of a video has its own file, so an
        entry never points at features of another version, even after a crash mid-update)."""
        entry = self.videos.get(video_id)
        return os.path.join(self.root, "features", entry.features if entry and entry.features else f"{video_id}.npz")

    def features(self, video_id: str) -> FeatureSequence:
        return FeatureSequence.load(self.feature_path(video_id))

    def __len__(self) -> int:
        return len(self.videos)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self.videos

    def list(self) -> list[GalleryVideo]:
        return sorted(self.videos.values(), key=lambda v: v.id)

    def longest_s(self) -> float:
        """The longest video's duration in seconds (0 for an empty gallery)."""
        return max((v.duration for v in self.videos.values()), default=0.0)

    def add(self, path: str, extractor: FeatureExtractor, video_id: str | None = None,
            progress: Callable[[int, int], None] | None = None) -> GalleryVideo:
        """Index one video (skipped when the same file is already in under this id).

        Raises:
            VideoError: the file cannot be used (nothing is changed then).
        """
        if extractor.config != self.config:
            raise ValueError("the extractor's configuration differs from this gallery's")
        video_id = safe_id(video_id or path)
        info = V.probe(path)
        digest = file_digest(path)
        existing = self.videos.get(video_id)
        if existing and existing.digest == digest and os.path.exists(self.feature_path(video_id)):
            return existing
        sequence = extractor.extract(path, progress=progress)
        features = f"{video_id}.{digest[:12]}.npz"
        sequence.save(os.path.join(self.root, "features", features))
        entry = GalleryVideo(video_id, os.path.abspath(path), info.duration, info.fps, info.width, info.height,
                             sequence.length, digest, time.time(), features)
        with self._lock:
            replaced = self.feature_path(video_id) if video_id in self.videos else None
            self.videos[video_id] = entry
            self._save()
        if replaced and replaced != self.feature_path(video_id):
            for stale in (replaced, os.path.join(self.root, "thumbs", f"{video_id}.jpg")):
                if os.path.exists(stale):
                    os.remove(stale)
        return entry

    def thumbnail(self, video_id: str, width: int = 160) -> str | None:
        """A JPEG of the video's middle frame (made once, kept in ``thumbs/``); None when the
        video file is gone."""
        path = os.path.join(self.root, "thumbs", f"{video_id}.jpg")
        if not os.path.exists(path):
            video = self.videos[video_id]
            try:
                frames, _ = V.read_frames(video.path, times=[video.duration / 2])
            except V.VideoError:
                return None
            import cv2

            frame = frames[0]
            height = max(2, round(frame.shape[0] * width / frame.shape[1]))
            small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp.jpg"
            cv2.imwrite(tmp, cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
            os.replace(tmp, path)
        return path

    def remove(self, video_id: str) -> None:
        with self._lock:
            if video_id not in self.videos:
                raise KeyError(f"{video_id} is not in the gallery")
            features = self.feature_path(video_id)
            del self.videos[video_id]
            self._save()
        for path in (features, os.path.join(self.root, "thumbs", f"{video_id}.jpg")):
            if os.path.exists(path):
                os.remove(path)
