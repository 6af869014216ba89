"""Builds the procedural benchmark as real video files plus its manifest.

Layout of the output folder::

    sources.json        procedural source videos, ActivityNet "flat" annotation format
    manifest.json       the benchmark (queries, references with pieces and ground truth)
    queries/<id>.mp4    one H.264 clip per query
    references/<id>.mp4 one H.264 video per reference
    contact_sheet.png   a few frames of a few classes

Rendering is parallel over processes, deterministic from the seed, and resumable: finished
videos are skipped, and each is written to a temporary name and renamed when complete.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from typing import Callable

import numpy as np

from .. import clips
from .. import video as V
from .annotations import VideoAnnotation, load_annotations
from .benchmark import Benchmark, Piece, build_benchmark, source_at
from .synthetic import CLASS_ORDER, SourceRenderer, generate_sources

_WORKER: dict = {}


def _init_worker(sources: dict[str, VideoAnnotation], seed: int, size: tuple[int, int], fps: float) -> None:
    import torch  # rendering is numpy; keep BLAS/torch from oversubscribing the cores

    torch.set_num_threads(1)
    _WORKER.update(renderer=SourceRenderer(sources, seed, size), fps=fps)


def render_pieces(renderer: SourceRenderer, pieces: list[Piece], fps: float, path: str, noise_key: int) -> int:
    """Render a video made of source pieces to ``path`` (atomically); returns frames written."""
    duration = pieces[-1].end
    tmp = f"{path}.part.mp4"
    with clips.ClipWriter(tmp, fps, crf=20) as writer:
        for t in V.sample_times(0.0, duration, fps):
            video_id, src_t = source_at(pieces, float(t))
            writer.write(renderer.render(video_id, src_t, noise_key))
        frames = writer.frames_written
    os.replace(tmp, path)
    return frames


def _render_job(job: tuple[str, list[Piece], int]) -> tuple[str, int]:
    path, pieces, noise_key = job
    return path, render_pieces(_WORKER["renderer"], pieces, _WORKER["fps"], path, noise_key)


def video_path(root: str, kind: str, item_id: str) -> str:
    return os.path.join(root, kind, f"{item_id}.mp4")


def build_synthetic_benchmark(out_dir: str, num_sources: int = 2200, seed: int = 0, size: int = 128,
                              fps: float = 8.0, workers: int | None = None, num_classes: int | None = None,
                              progress: Callable[[int, int], None] | None = None) -> Benchmark:
    """Generate, reorganize (seed 000's recipe) and render the procedural benchmark.

    Args:
        num_classes: use only the first classes of the class order (small test benchmarks).

    Returns:
        The benchmark; ``info["render"]`` holds sizes and timings.
    """
    os.makedirs(os.path.join(out_dir, "queries"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "references"), exist_ok=True)
    classes = CLASS_ORDER[:num_classes] if num_classes else CLASS_ORDER
    sources = generate_sources(num_sources, seed, classes=classes)
    with open(os.path.join(out_dir, "sources.json"), "w") as handle:
        json.dump({k: v.to_json() for k, v in sources.items()}, handle)
    sources = load_annotations(os.path.join(out_dir, "sources.json"))  # exactly what was saved
    bench = build_benchmark(sources, seed=seed, class_order=classes)
    jobs = []
    for kind, items in (("queries", bench.queries), ("references", bench.references)):
        for index, item in enumerate(items):
            path = video_path(out_dir, kind, item.id)
            if not os.path.exists(path):
                jobs.append((path, bench.pieces_of(item), index))
    started, frames = time.time(), 0
    workers = workers or os.cpu_count() or 1
    with mp.get_context("fork").Pool(workers, _init_worker, (sources, seed, (size, size), fps)) as pool:
        for done, (_, count) in enumerate(pool.imap_unordered(_render_job, jobs, chunksize=4), 1):
            frames += count
            if progress:
                progress(done, len(jobs))
    elapsed = time.time() - started
    bench.info["render"] = {
        "size": size, "fps": fps, "num_sources": num_sources, "rendered_videos": len(jobs),
        "rendered_frames": frames, "seconds": round(elapsed, 1),
        "query_seconds": round(sum(q.end - q.start for q in bench.queries), 1),
        "reference_seconds": round(sum(r.duration for r in bench.references), 1),
    }
    bench.save(os.path.join(out_dir, "manifest.json"))
    contact_sheet(SourceRenderer(sources, seed, (size, size)), sources,
                  os.path.join(out_dir, "contact_sheet.png"))
    return bench


def contact_sheet(renderer: SourceRenderer, sources: dict[str, VideoAnnotation], path: str,
                  num_classes: int = 8, frames_per_class: int = 4) -> str:
    """PNG grid: one row per class, frames at evenly spaced moments of one instance."""
    import cv2

    rows, seen = [], set()
    for video_id, video in sources.items():
        for seg in video.segments:
            if seg.label in seen or len(rows) == num_classes:
                continue
            seen.add(seg.label)
            times = seg.start + (np.arange(frames_per_class) + 0.5) / frames_per_class * seg.duration
            tiles = [cv2.resize(renderer.render(video_id, float(t)), (160, 160), interpolation=cv2.INTER_NEAREST)
                     for t in times]
            label = np.full((160, 190, 3), 255, np.uint8)
            for line, text in enumerate(seg.label.split("+")):
                cv2.putText(label, text + ("+" if line == 0 else ""), (8, 70 + 34 * line),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.75, (20, 20, 20), 2, cv2.LINE_AA)
            rows.append(np.concatenate([label] + tiles, axis=1))
    from PIL import Image

    sheet = np.concatenate(rows, axis=0)
    Image.fromarray(sheet).quantize(colors=256).save(path, optimize=True)  # palette PNG: a few 100 kB
    return path
