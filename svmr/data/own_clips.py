""""Clip from my own video": clips cut from a gallery of real videos, as is or re-shared.

The gallery is every real sample video we have, as the original files (tree.avi keeps its
variable frame rate), plus one long video made by joining several of them end to end. Clips of
2–8 s are cut from the sample files at deterministic random times; half are written as is
(original size and frame rate), half "re-shared": half size, another frame rate (12.5 or 15
fps) and heavy recompression. A clip's truth is every place in the gallery that plays its
source frames: the original file at the clip's own times, and the joined video where it holds
that part of the file (at least half of the clip).

The manifest uses the :class:`~svmr.data.benchmark.Benchmark` format: queries are the clips
(label = clip id), references the gallery videos with their pieces and labelled segments.

    python -m svmr build-own-clips --out data/own-clips
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np

from .. import clips
from .. import video as V
from .annotations import Segment
from .benchmark import Benchmark, Piece, Query, Reference
from .footage import footage_path

#: gallery videos kept as the original files: (gallery id, file)
ORIGINALS = (("vtest", "vtest.avi"), ("tree", "tree.avi"), ("megamind", "Megamind.avi"),
             ("bikes", "bikes.mp4"), ("bunny", "bigbuckbunny.mp4"), ("carphone", "carphone_pristine.mp4"))
#: (gallery id, [(file, start, end), ...]): long videos made by joining parts of the samples
JOINED = (("joined_long", (("Megamind.avi", 0.0, None), ("bikes.mp4", 0.0, None), ("bigbuckbunny.mp4", 0.0, None),
                           ("carphone_pristine.mp4", 0.0, None), ("tree.avi", 0.0, None))),)
JOINED_FPS = 25.0
JOINED_SIDE = 480
#: clips cut from each sample file
CLIPS_PER_FILE = {"vtest.avi": 14, "tree.avi": 8, "Megamind.avi": 6, "bikes.mp4": 6, "bigbuckbunny.mp4": 3,
                  "carphone_pristine.mp4": 3}
MIN_CLIP, MAX_CLIP = 2.0, 8.0
#: re-sharing: (longer side scale, frame rate, x264 crf)
RESHARE = {"scale": 0.5, "fps": (12.5, 15.0), "crf": (32, 36)}


def _require(name: str) -> str:
    path = footage_path(name)
    if path is None:
        raise FileNotFoundError(f"sample video {name} not found: run scripts/fetch_footage.sh")
    return path


def draw_clips(durations: dict[str, float], seed: int) -> list[tuple[str, str, float, float, bool]]:
    """``(clip id, file, start, end, reshared)`` for every clip, deterministic in ``seed``; every
    second clip is re-shared."""
    rng = np.random.default_rng(seed)
    clips = []
    for name, count in CLIPS_PER_FILE.items():
        duration = durations[name]
        stem = os.path.splitext(name)[0].lower().split("_")[0]
        for k in range(count):
            length = float(rng.uniform(MIN_CLIP, min(MAX_CLIP, duration - 0.5)))
            start = float(rng.uniform(0.0, duration - length - 0.1))
            clips.append((f"{stem}_{k:02d}", name, round(start, 2), round(start + length, 2), len(clips) % 2 == 1))
    return clips


def clip_truth(clip_file: str, start: float, end: float, references: list[Reference],
               min_cover: float = 0.5) -> list[tuple[str, float, float]]:
    """Where the gallery plays the clip's source frames: ``(reference id, start, end)`` in the
    reference's time, for every piece of the clip's file covering at least ``min_cover`` of it."""
    found = []
    for ref in references:
        for piece in ref.pieces:
            if piece.video != clip_file:
                continue
            overlap = min(piece.src_end, end) - max(piece.src_start, start)
            if overlap >= min_cover * (end - start):
                at = piece.at + max(piece.src_start, start) - piece.src_start
                found.append((ref.id, round(at, 3), round(at + overlap, 3)))
    return found


def _write_joined(path: str, parts) -> list[Piece]:
    """Join parts of sample files into one H.264 video at :data:`JOINED_FPS`; returns its pieces."""
    infos = [V.probe(_require(name)) for name, _, _ in parts]
    height = JOINED_SIDE * 9 // 16 // 2 * 2
    size = (JOINED_SIDE, height)
    from .footage_set import letterbox

    pieces, cursor = [], 0.0
    with clips.ClipWriter(path, JOINED_FPS, crf=23) as writer:
        for (name, start, end), info in zip(parts, infos):
            end = info.duration if end is None else end
            times = V.sample_times(start, end, JOINED_FPS)
            length = len(times) / JOINED_FPS
            pieces.append(Piece(name, start, start + length, round(cursor, 4)))
            for chunk in V.iter_frames(info.path, times, info=info):
                for frame in chunk:
                    writer.write(letterbox(frame, size))
            cursor += length
    return pieces


def build_own_clips(out_dir: str, seed: int = 0) -> dict:
    """Write ``gallery/`` (the videos), ``queries/`` (the clips) and ``manifest.json``."""
    for sub in ("gallery", "queries"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    references, durations = [], {}
    for gid, name in ORIGINALS:
        src = _require(name)
        info = V.probe(src)
        durations[name] = info.duration
        dst = os.path.join(out_dir, "gallery", gid + os.path.splitext(name)[1])
        if not os.path.exists(dst):
            shutil.copyfile(src, dst + ".part")
            os.replace(dst + ".part", dst)
        references.append(Reference(gid, info.duration, [Piece(name, 0.0, info.duration, 0.0)], [], 1))
    for gid, parts in JOINED:
        path = os.path.join(out_dir, "gallery", f"{gid}.mp4")
        pieces = _write_joined(path + ".part.mp4", parts)
        os.replace(path + ".part.mp4", path)
        references.append(Reference(gid, V.probe(path).duration, pieces, [], len(pieces)))
    rng = np.random.default_rng(seed + 1)
    queries, reshares = [], {}
    for cid, name, start, end, reshared in draw_clips(durations, seed):
        dst = os.path.join(out_dir, "queries", f"{cid}.mp4")
        if reshared:
            info = V.probe(_require(name))
            params = {"max_side": int(max(info.width, info.height) * RESHARE["scale"]) // 2 * 2,
                      "fps": float(rng.choice(RESHARE["fps"])),
                      "crf": int(rng.integers(RESHARE["crf"][0], RESHARE["crf"][1] + 1))}
            clips.write_clip(_require(name), dst, start, end, **params)
            reshares[cid] = params
        else:
            clips.write_clip(_require(name), dst, start, end, max_side=None)
        queries.append(Query(cid, name, start, end, cid, "test"))
        for rid, s, e in clip_truth(name, start, end, references):
            next(r for r in references if r.id == rid).segments.append(Segment(s, e, cid))
    for ref in references:
        ref.segments.sort(key=lambda seg: seg.start)
    info = {"kind": "clips from own videos", "queries": len(queries), "as_is": len(queries) - len(reshares),
            "reshared": reshares, "references": len(references),
            "annotated_moments": sum(len(r.segments) for r in references)}
    bench = Benchmark({"train": [], "val": [], "test": [q.id for q in queries]}, queries, references, seed, info)
    bench.save(os.path.join(out_dir, "manifest.json"))
    with open(os.path.join(out_dir, "manifest.json")) as handle:
        return json.load(handle)
