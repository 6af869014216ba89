"""Extract features of many videos into a folder, resumably (one ``<id>.npz`` per video)."""
from __future__ import annotations

import os
import time
from typing import Callable, Iterable

from .. import video as V
from .extractor import FeatureExtractor, FeatureSequence


def extract_many(items: Iterable[tuple[str, str]], out_dir: str, extractor: FeatureExtractor,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    """Features of ``(video_id, path)`` pairs into ``out_dir/<video_id>.npz``.

    Videos whose file exists are skipped (so an interrupted run resumes); each file is written
    atomically. Unreadable videos are reported, not fatal.

    Returns:
        ``{"videos", "skipped", "failed": {id: message}, "frames", "seconds", "frames_per_s"}``.
    """
    items = list(items)
    os.makedirs(out_dir, exist_ok=True)
    frames, done, skipped, failed = 0, 0, 0, {}
    started = time.time()
    for index, (video_id, path) in enumerate(items, 1):
        target = os.path.join(out_dir, f"{video_id}.npz")
        if os.path.exists(target):
            skipped += 1
        else:
            try:
                sequence: FeatureSequence = extractor.extract(path)
                sequence.save(target)
                frames += sequence.length
                done += 1
            except V.VideoError as err:
                failed[video_id] = str(err)
        if progress:
            progress(index, len(items))
    elapsed = time.time() - started
    return {"videos": done, "skipped": skipped, "failed": failed, "frames": frames,
            "seconds": round(elapsed, 1), "frames_per_s": round(frames / elapsed, 1) if elapsed > 0 else 0.0}
