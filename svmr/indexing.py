"""Indexing many files: ``python -m svmr index --gallery DIR FOLDERS_OR_LISTS... [--shard i/n] [--workers K]``.

* Inputs: video files, folders (walked, sub-folders too) and lists (a ``.txt`` / ``.list`` file,
  one path a line, relative paths from the list's folder, ``#`` comments).
* ``--shard i/n`` keeps the files whose path hashes to ``i`` (0 ≤ i < n): n processes or machines
  given the same inputs split them without talking to each other, and may write into one gallery
  at once (the gallery's journal takes each commit under a lock; :mod:`svmr.gallery`).
* ``--workers K`` extracts K files at a time in K processes (each with cores / K threads).
* A file already in the gallery (same id, same content) is skipped, so a killed run, run again,
  finishes the job. Progress reports videos per second and video-seconds per wall second.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
LIST_EXTENSIONS = (".txt", ".list", ".lst")


@dataclass
class Inputs:
    paths: list[str]                                        # video files, in the order given
    problems: dict[str, str] = field(default_factory=dict)  # input → why it gave nothing


def gather(items: list[str]) -> Inputs:
    """Video files from files, folders (recursively) and lists, without repeats."""
    found, problems = [], {}
    for item in items:
        if os.path.isdir(item):
            videos = sorted(os.path.join(folder, name) for folder, _, names in os.walk(item)
                            for name in names if name.lower().endswith(VIDEO_EXTENSIONS))
            if not videos:
                problems[item] = f"{os.path.basename(os.path.normpath(item))}: a folder with no video files in it."
            found += videos
        elif item.lower().endswith(LIST_EXTENSIONS) and os.path.isfile(item):
            base = os.path.dirname(os.path.abspath(item))
            with open(item, encoding="utf-8", errors="replace") as handle:
                lines = [line.strip() for line in handle]
            listed = [os.path.join(base, line) for line in lines if line and not line.startswith("#")]
            if not listed:
                problems[item] = f"{os.path.basename(item)}: a list with no paths in it."
            found += listed
        else:
            found.append(item)
    return Inputs(list(dict.fromkeys(found)), problems)


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` → ``(i, n)`` with 0 ≤ i < n; None → ``(0, 1)``.

    Raises:
        ValueError: with a message saying what a shard looks like.
    """
    if not text:
        return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/n, e.g. 0/4 (shards are numbered from 0)") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: need 0 ≤ i < n (shards are numbered from 0)")
    return index, count


def in_shard(path: str, index: int, count: int) -> bool:
    """Whether ``path`` belongs to shard ``index`` of ``count`` (by a hash of its absolute path,
    so every process given the same inputs agrees, whatever order it lists them in)."""
    digest = hashlib.sha1(os.path.abspath(path).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count == index


# ---- one worker process ---------------------------------------------------------------------------
_WORKER: dict = {}


def _start_worker(root: str, threads: int, device: str = "auto", regions: bool = True) -> None:
    import torch

    from .device import resolve_device
    from .features import FeatureExtractor
    from .gallery import Gallery

    gallery = Gallery(root)
    _WORKER["gallery"] = gallery
    _WORKER["regions"] = regions
    _WORKER["extractor"] = FeatureExtractor(gallery.config, device=resolve_device(device))
    torch.set_num_threads(threads)


def _index_one(path: str) -> tuple[str, float, str | None, bool, str]:
    """``(path, video seconds, error or None, skipped, what of a damaged file was lost or "")``."""
    from . import video as V
    from .gallery import safe_id

    gallery, extractor = _WORKER["gallery"], _WORKER["extractor"]
    try:
        gallery.refresh()
        before = gallery.videos.get(safe_id(path))
        entry = gallery.add(path, extractor, regions=_WORKER["regions"])
        return path, entry.duration, None, before == entry, entry.damage_note
    except V.VideoError as err:
        return path, 0.0, str(err), False, ""


@dataclass
class Report:
    gallery: str
    videos: int                    # in the gallery at the end
    indexed: int                   # added by this run
    skipped: int                   # already there
    failed: dict[str, str]
    video_seconds: float           # of the videos added
    wall_seconds: float
    damaged: dict[str, str] = field(default_factory=dict)   # indexed for what decodes: path → what was lost

    def to_json(self) -> dict:
        wall = max(self.wall_seconds, 1e-9)
        return {"gallery": self.gallery, "videos": self.videos, "indexed": self.indexed, "skipped": self.skipped,
                "failed": self.failed, "damaged": self.damaged, "wall_s": round(self.wall_seconds, 1),
                "videos_per_s": round(self.indexed / wall, 3),
                "realtime_x": round(self.video_seconds / wall, 2)}


def index_files(root: str, paths: list[str], config, workers: int = 1, progress=None,
                device: str = "auto", regions: bool = True, feature_precision: str | None = None) -> Report:
    """Index ``paths`` into the gallery at ``root`` (created with ``config`` and
    ``feature_precision`` if new: :data:`~svmr.gallery.FEATURE_PRECISIONS`) with
    ``workers`` processes, extracting on ``device`` (:func:`~svmr.device.resolve_device`);
    ``progress(done, total, realtime_x)`` after each file; ``regions``: look for pictures inside
    the videos' pictures and describe them apart (:meth:`~svmr.gallery.Gallery.add`).

    Raises:
        ValueError: ``device`` names a GPU this machine does not have (before anything is read).
    """
    from .device import resolve_device
    from .gallery import Gallery

    resolve_device(device)
    gallery = Gallery(root, config, feature_precision)
    if feature_precision and gallery.feature_precision != feature_precision:
        print(f"note: this gallery stores features as {gallery.feature_precision}; --feature-precision applies "
              f"to new galleries", file=sys.stderr)
    started, seconds, indexed, skipped, failed, damaged = time.perf_counter(), 0.0, 0, 0, {}, {}
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))

    def account(result, done):
        nonlocal seconds, indexed, skipped
        path, duration, error, was_there, damage = result
        if error:
            failed[path] = error
            print(f"skipped: {error}", file=sys.stderr)
        elif was_there:
            skipped += 1
        else:
            indexed, seconds = indexed + 1, seconds + duration
        if damage:
            damaged[path] = damage
            print(f"indexed what decodes: {os.path.basename(path)}: {damage}", file=sys.stderr)
        if progress:
            progress(done, len(paths), seconds / max(time.perf_counter() - started, 1e-9))

    if workers <= 1:
        _start_worker(root, threads, device, regions)
        for done, path in enumerate(paths, 1):
            account(_index_one(path), done)
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(root, threads, device, regions)) as pool:
            futures = [pool.submit(_index_one, path) for path in paths]
            for done, future in enumerate(as_completed(futures), 1):
                account(future.result(), done)
    gallery.refresh()
    return Report(root, len(gallery), indexed, skipped, failed, seconds, time.perf_counter() - started, damaged)
