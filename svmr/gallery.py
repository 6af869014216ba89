"""The gallery: indexed reference videos on disk.

Layout of a gallery folder::

    gallery.json           format number (:mod:`svmr.formats`), extractor configuration, feature precision
                           and one entry per video (a snapshot, atomic)
    journal.jsonl          changes since the snapshot, one JSON line each: {"add": entry} / {"remove": id}
    features/<id>.<digest>.npz   the video's feature sequence, float16 or 8-bit (written atomically)
    features/<id>.<digest>.r<k>.npz   the k-th picture found inside its pictures, described apart
    index/                 persisted stage-1 indexes (:mod:`svmr.stage1_index`)

Adding a video extracts its features, then appends one line to the journal under an
inter-process lock (``.lock``): a commit costs the same at 10 or 10⁶ videos, several processes
(``index --shard i/n``) can add to one gallery at once, and an indexing run killed at any moment
loses nothing already committed (a torn last line is ignored) and, run again, skips what is there.
The journal is folded into the snapshot every :data:`COMPACT_EVERY` lines. Other processes'
changes are read by :meth:`Gallery.refresh`.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from . import video as V
from .features import ExtractorConfig, FeatureExtractor, FeatureSequence
from .features.extractor import file_digest
from .features.regions import RegionTracker
from .files import process_alive, write_json
from .formats import GALLERY_FORMAT, migrate_gallery, migrate_gallery_entry
from .models.motion_encoder import bundled_stream


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
    features: str = ""     # its feature file under features/
    #: a damaged file's lost stretches and truncation (:class:`svmr.decodable.Damage` as JSON);
    #: empty for an intact file
    damage: dict = field(default_factory=dict)
    #: pictures found inside the video's pictures (:mod:`svmr.features.regions`), each described
    #: apart: ``{"start", "end", "box": [top, bottom, left, right], "features": file}``; None in
    #: entries indexed before they were looked for
    regions: list | None = None

    @property
    def version(self) -> str:
        """Names what is indexed of the video: its content digest, and how many regions were
        described apart when there are any (stage 1 re-reads a video whose version changed)."""
        return f"{self.digest}+{len(self.regions)}r" if self.regions else self.digest

    @property
    def damage_note(self) -> str:
        """One sentence on what of the file could not be decoded ("" for an intact file)."""
        return V.Damage.from_json(self.damage).describe() if self.damage else ""


#: journal lines after which the journal is folded into the snapshot
COMPACT_EVERY = 1000

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
            if match and not process_alive(int(match.group(1))):
                try:
                    os.remove(os.path.join(dirpath, name))
                except OSError:
                    pass


#: how a gallery stores its features (``index --feature-precision``): float16, or 8 bits a number over
#: each step's range (:func:`~svmr.features.extractor.quantize_steps`): 5 instead of 10 KiB a second
#: of video at the defaults, galleries 38–40 % smaller (``benchmarks/feature_precision.py``, docs/scaling.md)
FEATURE_PRECISIONS = {"float16": np.float16, "int8": np.uint8}


class Gallery:
    """An on-disk collection of indexed videos (thread-safe for one process).

    Args:
        root: the gallery folder (created if missing).
        config: extractor configuration for new galleries (an existing gallery keeps its own).
        feature_precision: how a new gallery stores features, a key of :data:`FEATURE_PRECISIONS`
            (an existing gallery keeps its own; None: float16).
    """

    def __init__(self, root: str, config: ExtractorConfig | None = None, feature_precision: str | None = None):
        if feature_precision is not None and feature_precision not in FEATURE_PRECISIONS:
            raise ValueError(f"unknown feature precision {feature_precision!r}: {', '.join(FEATURE_PRECISIONS)}")
        self.root = root
        os.makedirs(os.path.join(root, "features"), exist_ok=True)
        _remove_stale_temporaries(root)
        self._lock = threading.RLock()
        #: changes whenever the list of videos may have changed (searchers re-sync stage 1 then)
        self.version = 0
        self.videos: dict[str, GalleryVideo] = {}
        self._snapshot_id = None      # (inode, mtime) of the snapshot read
        self._journal_offset = 0      # bytes of the journal applied
        self._journal_lines = 0
        self._longest = (None, 0.0)   # (version, longest duration): longest_s's cache
        self._read_format = GALLERY_FORMAT   # the format of the snapshot read and its journal's lines
        with self._locked():
            if not os.path.exists(self._manifest):
                self.config = config or ExtractorConfig()
                self.feature_precision = feature_precision or "float16"
                self._write_snapshot()
            self._reload()
            if self._read_format < GALLERY_FORMAT:      # written by an older version: stored migrated
                self._write_snapshot()

    @property
    def _manifest(self) -> str:
        return os.path.join(self.root, "gallery.json")

    @property
    def _journal(self) -> str:
        return os.path.join(self.root, "journal.jsonl")

    @contextmanager
    def _locked(self):
        """This thread and process alone may write the manifest and journal."""
        with self._lock, open(os.path.join(self.root, ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _reload(self) -> None:
        """Read the snapshot again and the whole journal."""
        with open(self._manifest) as handle:
            data = json.load(handle)
            stat = os.fstat(handle.fileno())
        data, self._read_format = migrate_gallery(data, self._manifest)
        self.config = ExtractorConfig.from_dict(data["extractor"])
        self.feature_precision = data["storage"]["features"]
        self.videos = {k: GalleryVideo(**v) for k, v in data["videos"].items()}
        self._snapshot_id = (stat.st_ino, stat.st_mtime_ns)
        self._journal_offset, self._journal_lines = 0, 0
        self._replay()
        self.version += 1

    def _replay(self) -> bool:
        """Apply the journal's complete lines past what was read; True when any were."""
        if not os.path.exists(self._journal):
            return False
        with open(self._journal, "rb") as handle:
            handle.seek(self._journal_offset)
            tail = handle.read()
        applied = False
        for line in tail.split(b"\n")[:-1]:           # the last piece: empty, or a torn write
            self._journal_offset += len(line) + 1
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self._journal_lines += 1
            if "add" in record:
                self.videos[record["add"]["id"]] = GalleryVideo(**migrate_gallery_entry(record["add"], self._read_format))
            elif "remove" in record:
                self.videos.pop(record["remove"], None)
            applied = True
        return applied

    def refresh(self) -> bool:
        """Take in what other processes committed since the last look; True when anything did."""
        with self._lock:
            try:
                stat = os.stat(self._manifest)
                journal = os.path.getsize(self._journal) if os.path.exists(self._journal) else 0
            except OSError:
                return False
            if (stat.st_ino, stat.st_mtime_ns) != self._snapshot_id or journal < self._journal_offset:
                self._reload()
                return True
            if journal > self._journal_offset and self._replay():
                self.version += 1
                return True
            return False

    def _commit(self, record: dict) -> None:
        """Append one change to the journal (under the lock, after taking in other writers')."""
        self.refresh()
        line = (json.dumps(record) + "\n").encode()
        with open(self._journal, "ab+") as handle:
            if handle.tell() and (handle.seek(-1, os.SEEK_END), handle.read(1))[1] != b"\n":
                line = b"\n" + line                     # end a line torn by a killed writer first
            handle.write(line)
        self._replay()
        self.version += 1
        if self._journal_lines >= COMPACT_EVERY:
            self._write_snapshot()

    def _write_snapshot(self) -> None:
        """Fold everything into ``gallery.json`` and empty the journal (replaying a journal over a
        snapshot that already holds it changes nothing, so a kill between the two is harmless)."""
        write_json(self._manifest, {"format": GALLERY_FORMAT, "extractor": asdict(self.config),
                                    "storage": {"features": self.feature_precision},
                                    "videos": {k: asdict(v) for k, v in self.videos.items()}}, indent=1)
        if os.path.exists(self._journal):
            os.truncate(self._journal, 0)
        self._read_format = GALLERY_FORMAT
        stat = os.stat(self._manifest)
        self._snapshot_id = (stat.st_ino, stat.st_mtime_ns)
        self._journal_offset, self._journal_lines = 0, 0

    def feature_path(self, video_id: str) -> str:
        """The feature file of a listed video (each version of a video has its own file, so an
        entry never points at features of another version, even after a crash mid-update)."""
        return os.path.join(self.root, "features", self.videos[video_id].features)

    def features(self, video_id: str) -> FeatureSequence:
        return FeatureSequence.load(self.feature_path(video_id))

    def region_paths(self, video_id: str) -> list[str]:
        """The feature files of the pictures found inside a listed video's pictures."""
        entry = self.videos.get(video_id)
        return [os.path.join(self.root, "features", region["features"]) for region in (entry.regions or [])] if entry else []

    def views(self, video_id: str) -> list[FeatureSequence]:
        """The video's feature sequence, then one for each picture found inside its pictures (its
        ``times`` the video's: a view of a stretch starts at that stretch)."""
        return [self.features(video_id)] + [FeatureSequence.load(path) for path in self.region_paths(video_id)]

    def __len__(self) -> int:
        return len(self.videos)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self.videos

    def list(self) -> list[GalleryVideo]:
        return sorted(self.videos.values(), key=lambda v: v.id)

    def longest_s(self) -> float:
        """The longest video's duration in seconds (0 for an empty gallery; computed once per version)."""
        if self._longest[0] != self.version:
            self._longest = (self.version, max((v.duration for v in self.videos.values()), default=0.0))
        return self._longest[1]

    def add(self, path: str, extractor: FeatureExtractor, video_id: str | None = None,
            progress: Callable[[int, int], None] | None = None, regions: bool = True) -> GalleryVideo:
        """Index one video (skipped when the same file is already in under this id, with small
        frames, the motion stream and its regions looked for: a video indexed before they existed
        is indexed again). ``regions``: look for pictures inside its pictures
        (:mod:`svmr.features.regions`) and describe each apart.

        Raises:
            VideoError: the file cannot be used (nothing is changed then).
        """
        if extractor.config != self.config:
            raise ValueError("the extractor's configuration differs from this gallery's")
        video_id = safe_id(video_id or path)
        info = V.probe(path)
        digest = file_digest(path)
        self.refresh()                                  # another process may have indexed it meanwhile
        existing = self.videos.get(video_id)
        if existing and existing.digest == digest and self.is_current(video_id):
            return existing
        tracker = RegionTracker(extractor.config.rate) if regions else None
        sequence = extractor.extract(path, progress=progress, info=info, regions=tracker)
        if not info.damage and V.salvaged(path):          # damage found mid-file: read what decodes
            info = V.probe(path)
        features = f"{video_id}.{digest[:12]}.npz"
        sequence.save(os.path.join(self.root, "features", features), dtype=FEATURE_PRECISIONS[self.feature_precision])
        found = self._describe_regions(path, extractor, info, tracker, features[:-len(".npz")]) if tracker else []
        entry = GalleryVideo(video_id, os.path.abspath(path), info.duration, info.fps, info.width, info.height,
                             sequence.length, digest, time.time(), features,
                             info.damage.to_json() if info.damage else {}, found)
        with self._locked():
            self.refresh()
            replaced = self._files_of(video_id) if video_id in self.videos else []
            self._commit({"add": asdict(entry)})
        if replaced and replaced[0] != self.feature_path(video_id):     # another version: its files and thumbnail go
            kept = set(self._files_of(video_id)[:-1])
            for stale in replaced:
                if stale not in kept and os.path.exists(stale):
                    os.remove(stale)
        return entry

    def add_entry(self, entry: GalleryVideo) -> None:
        """List a video whose feature files are already under ``features/`` (a benchmark's copies of
        an indexed video under other ids), committed as :meth:`add` commits."""
        with self._locked():
            self._commit({"add": asdict(entry)})

    def _describe_regions(self, path: str, extractor: FeatureExtractor, info: V.VideoInfo, tracker: RegionTracker,
                          stem: str) -> list[dict]:
        """Each of ``tracker``'s tracks described apart and saved as ``<stem>.r<k>.npz``; their entries."""
        found = []
        for k, track in enumerate(tracker.tracks()):
            end = min(track.end, info.duration)
            if end - track.start < 1 / extractor.config.rate:
                continue
            try:
                view = extractor.extract_region(path, track.start, end, track.box, info)
            except V.VideoError:            # a stretch that no longer decodes: the video is kept without it
                continue
            name = f"{stem}.r{k}.npz"
            view.save(os.path.join(self.root, "features", name), dtype=FEATURE_PRECISIONS[self.feature_precision])
            found.append({"start": round(track.start, 3), "end": round(end, 3),
                          "box": [round(x, 4) for x in track.box], "features": name})
        return found

    def _files_of(self, video_id: str) -> list[str]:
        """A listed video's files: features, regions' features, thumbnail."""
        return [self.feature_path(video_id), *self.region_paths(video_id),
                os.path.join(self.root, "thumbs", f"{video_id}.jpg")]

    def is_current(self, video_id: str) -> bool:
        """Whether the video is in with a feature file that holds small frames and the motion stream,
        and its regions looked for (one indexed before they existed is not: adding it again
        re-indexes it)."""
        return video_id in self.videos and os.path.exists(self.feature_path(video_id)) \
            and self.videos[video_id].regions is not None \
            and FeatureSequence.is_complete(self.feature_path(video_id), bundled_stream().key)

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
        with self._locked():
            self.refresh()
            if video_id not in self.videos:
                raise KeyError(f"{video_id} is not in the gallery")
            files = self._files_of(video_id)
            self._commit({"remove": video_id})
        for path in files:
            if os.path.exists(path):
                os.remove(path)
