"""A small real-footage localization set from the BSD sample videos.

Queries are clips cut from real camera footage (and two animated samples). Each reference is
another real video (or a part of one) into which transformed copies of one or two query clips
are inserted: cropped, rescaled, brightness-shifted, blurred, resampled to the host's frame
rate and re-encoded. Ground truth: where each inserted copy sits in the reference, and where a
host video replays a query's own frames untransformed (the sample videos are 4–11 s long, so a
host cut from the same file as a query cannot avoid them; such a host holds the query's moment as
much as the inserted copy does, and leaving it out of the truth scored a method that finds it as
wrong). The manifest
uses the same :class:`~svmr.data.benchmark.Benchmark` format as the other benchmarks (the label
of an inserted moment is the id of its query; source video names are file names found by
:func:`~svmr.data.footage.footage_path`).
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np

from ..clips import ClipWriter, write_clip
from .. import video as V
from .annotations import Segment
from .benchmark import Benchmark, Piece, Query, Reference
from .footage import footage_path

#: (query id, source file, start, end) — clips chosen to show one coherent moment each.
QUERY_CLIPS = (
    ("bikes_a", "bikes.mp4", 0.5, 4.5),
    ("bikes_b", "bikes.mp4", 5.5, 9.5),
    ("carphone", "carphone_pristine.mp4", 0.0, 3.8),
    ("tree", "tree.avi", 0.3, 4.3),
    ("megamind_a", "Megamind.avi", 0.5, 4.5),
    ("megamind_b", "Megamind.avi", 6.0, 10.5),
    ("vtest_a", "vtest.avi", 8.0, 14.0),
    ("vtest_b", "vtest.avi", 52.0, 58.0),
    ("bunny", "bigbuckbunny.mp4", 0.4, 4.8),
)
#: (reference id, host file, host start, host end, query ids inserted)
REFERENCES = (
    ("ref_vtest1", "vtest.avi", 20.0, 44.0, ("bikes_a", "megamind_b")),
    ("ref_vtest2", "vtest.avi", 60.0, 79.0, ("carphone",)),
    ("ref_vtest3", "vtest.avi", 0.0, 8.0, ("tree", "bunny")),
    ("ref_bikes", "bikes.mp4", 0.0, 10.0, ("vtest_a",)),
    ("ref_megamind", "Megamind.avi", 0.0, 11.2, ("bikes_b", "vtest_b")),
    ("ref_bunny", "bigbuckbunny.mp4", 0.0, 5.2, ("megamind_a",)),
    ("ref_vtest4", "vtest.avi", 30.0, 50.0, ()),   # a distractor with nothing inserted
)
#: more clips for the evaluation (``extended=True``): 32 queries in all. Clips of one file overlap
#: by at most a third of either, so an inserted copy holds its own query only.
EXTRA_QUERY_CLIPS = (
    ("vtest_c", "vtest.avi", 0.5, 4.5), ("vtest_d", "vtest.avi", 16.0, 20.0), ("vtest_e", "vtest.avi", 22.0, 26.5),
    ("vtest_f", "vtest.avi", 28.0, 32.0), ("vtest_g", "vtest.avi", 34.0, 38.0), ("vtest_h", "vtest.avi", 40.0, 44.5),
    ("vtest_i", "vtest.avi", 46.0, 50.0), ("vtest_j", "vtest.avi", 60.0, 64.0), ("vtest_k", "vtest.avi", 66.0, 70.5),
    ("vtest_l", "vtest.avi", 72.0, 76.0), ("tree_b", "tree.avi", 8.0, 12.0), ("tree_c", "tree.avi", 16.0, 20.0),
    ("tree_d", "tree.avi", 23.0, 27.5), ("vtest_m", "vtest.avi", 5.0, 8.0), ("vtest_n", "vtest.avi", 13.0, 17.0),
    ("vtest_o", "vtest.avi", 19.5, 22.5), ("vtest_p", "vtest.avi", 25.5, 28.5), ("vtest_q", "vtest.avi", 31.0, 34.5),
    ("vtest_r", "vtest.avi", 37.5, 40.5), ("vtest_s", "vtest.avi", 44.0, 46.5), ("vtest_t", "vtest.avi", 49.5, 52.5),
    ("vtest_u", "vtest.avi", 57.5, 60.5), ("vtest_v", "vtest.avi", 76.0, 79.0),
)
EXTRA_REFERENCES = (
    ("ref_tree1", "tree.avi", 0.0, 15.0, ("vtest_c", "vtest_d", "tree_c")),
    ("ref_tree2", "tree.avi", 15.0, 29.6, ("vtest_e", "vtest_f", "tree_b")),
    ("ref_bikes2", "bikes.mp4", 0.0, 10.0, ("vtest_g", "tree_d")),
    ("ref_megamind2", "Megamind.avi", 0.0, 11.2, ("vtest_h", "vtest_i")),
    ("ref_bunny2", "bigbuckbunny.mp4", 0.0, 5.2, ("vtest_j",)),
    ("ref_carphone", "carphone_pristine.mp4", 0.0, 4.0, ("vtest_k",)),
    ("ref_vtest5", "vtest.avi", 0.0, 20.0, ("vtest_l",)),
    ("ref_tree3", "tree.avi", 0.0, 29.6, ("vtest_m", "vtest_n", "vtest_o")),
    ("ref_megamind3", "Megamind.avi", 0.0, 11.2, ("vtest_p", "vtest_q")),
    ("ref_bikes3", "bikes.mp4", 0.0, 10.0, ("vtest_r", "vtest_s")),
    ("ref_bunny3", "bigbuckbunny.mp4", 0.0, 5.2, ("vtest_t",)),
    ("ref_carphone2", "carphone_pristine.mp4", 0.0, 4.0, ("vtest_u", "vtest_v")),
)
OUT_SIDE = 480  # longer side of reference videos, pixels


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``frame`` to fit ``size`` (w, h) keeping its aspect ratio; black bars fill the rest."""
    w, h = size
    scale = min(w / frame.shape[1], h / frame.shape[0])
    fw, fh = max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - fw) // 2, (h - fh) // 2
    out[y0:y0 + fh, x0:x0 + fw] = cv2.resize(frame, (fw, fh), interpolation=cv2.INTER_AREA)
    return out


def transform_frame(frame: np.ndarray, params: dict, size: tuple[int, int]) -> np.ndarray:
    """Crop, letterbox into ``size`` (w, h), change brightness/contrast and blur one RGB frame."""
    h, w = frame.shape[:2]
    x0, y0 = int(params["crop"][0] * w), int(params["crop"][1] * h)
    x1, y1 = int(params["crop"][2] * w), int(params["crop"][3] * h)
    out = letterbox(frame[y0:y1, x0:x1], size)
    out = out.astype(np.float32) * params["contrast"] + params["brightness"]
    if params["blur"] > 0:
        out = cv2.GaussianBlur(out, (0, 0), params["blur"])
    return np.clip(out, 0, 255).astype(np.uint8)


def _draw_params(rng: np.random.Generator) -> dict:
    left, top = rng.uniform(0, 0.15, size=2)
    right, bottom = 1 - rng.uniform(0, 0.15, size=2)
    return {"crop": [round(float(v), 3) for v in (left, top, right, bottom)],
            "contrast": round(float(rng.uniform(0.8, 1.15)), 3),
            "brightness": round(float(rng.uniform(-25, 25)), 1),
            "blur": round(float(rng.choice([0.0, rng.uniform(0.6, 1.6)])), 2)}


def missing_footage(extended: bool = False) -> list[str]:
    """The sample videos the set is cut from that are not on this machine (none: it can be built)."""
    names = {name for _, name, _, _ in QUERY_CLIPS + (EXTRA_QUERY_CLIPS if extended else ())}
    names |= {host for _, host, *_ in REFERENCES + (EXTRA_REFERENCES if extended else ())}
    return sorted(name for name in names if footage_path(name) is None)


def _require(name: str) -> str:
    path = footage_path(name)
    if path is None:
        raise FileNotFoundError(f"sample video {name} not found: run scripts/fetch_footage.sh")
    return path


def build_footage_set(out_dir: str, seed: int = 0, extended: bool = False, side: int = OUT_SIDE) -> dict:
    """Write ``queries/``, ``references/`` (H.264) and ``manifest.json`` into ``out_dir``.

    Args:
        extended: also the :data:`EXTRA_QUERY_CLIPS` and :data:`EXTRA_REFERENCES` (the evaluation's
            set; the app's demo gallery uses the first part only). The first part is the same
            either way.
        side: the longer side of every written video, pixels (the manifest does not depend on it;
            a smaller one writes faster)
    """
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, "queries"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "references"), exist_ok=True)
    query_clips = QUERY_CLIPS + (EXTRA_QUERY_CLIPS if extended else ())
    clips = {qid: (name, start, end) for qid, name, start, end in query_clips}
    queries = []
    for qid, (name, start, end) in clips.items():
        write_clip(_require(name), os.path.join(out_dir, "queries", f"{qid}.mp4"), start, end, max_side=side)
        queries.append(Query(qid, name, start, end, qid, "test"))
    references, transforms = [], {}
    for rid, host, h_start, h_end, inserted in REFERENCES + (EXTRA_REFERENCES if extended else ()):
        info = V.probe(_require(host))
        fps = info.fps
        scale = side / max(info.width, info.height)
        size = (int(info.width * scale) // 2 * 2, int(info.height * scale) // 2 * 2)
        # insertion points inside the host range, in host time, sorted
        cuts = sorted(float(rng.uniform(h_start + 0.5, h_end - 0.5)) for _ in inserted)
        pieces, segments, cursor_host, cursor_new = [], [], h_start, 0.0
        host_pieces = []   # the host's own footage (an inserted clip may come from the host's file too)
        plan = []  # (kind, source, start, end, params)
        for cut, qid in zip(cuts, inserted):
            plan.append(("host", host, cursor_host, cut, None))
            name, q_start, q_end = clips[qid]
            params = _draw_params(rng)
            transforms[f"{rid}/{qid}"] = params
            plan.append(("insert", name, q_start, q_end, params))
            cursor_host = cut
        plan.append(("host", host, cursor_host, h_end, None))
        path = os.path.join(out_dir, "references", f"{rid}.mp4")
        with ClipWriter(path, fps, crf=int(rng.integers(23, 31))) as writer:
            for kind, name, start, end, params in plan:
                if end - start <= 0:
                    continue
                times = V.sample_times(start, end, fps)
                length = len(times) / fps  # what is written, to the frame
                pieces.append(Piece(name, start, start + length, cursor_new))
                if kind == "insert":
                    segments.append(Segment(cursor_new, cursor_new + length, _query_of(name, start, clips)))
                else:
                    host_pieces.append(pieces[-1])
                src = _require(name)
                for chunk in V.iter_frames(src, times):
                    for frame in chunk:
                        writer.write(transform_frame(frame, params, size) if params else letterbox(frame, size))
                cursor_new += length
        segments = sorted(segments + host_copies(host_pieces, clips, host), key=lambda seg: seg.start)
        references.append(Reference(rid, cursor_new, pieces, segments, 1 + len(inserted)))
    bench = Benchmark({"train": [], "val": [], "test": [q for q, *_ in query_clips]}, queries, references, seed,
                      {"kind": "real footage", "transforms": transforms,
                       "queries": len(queries), "references": len(references),
                       "inserted_moments": len(transforms),
                       "host_replays": sum(len(r.segments) for r in references) - len(transforms)})
    bench.save(os.path.join(out_dir, "manifest.json"))
    with open(os.path.join(out_dir, "manifest.json")) as handle:
        return json.load(handle)


def host_copies(pieces: list[Piece], clips: dict, host: str, min_cover: float = 0.5) -> list[Segment]:
    """Segments where a piece of the ``host`` file replays at least ``min_cover`` of a query
    clip cut from that file: the overlap, in the reference's time, labelled with the query id."""
    found = []
    for piece in pieces:
        if piece.video != host:
            continue
        for qid, (name, q_start, q_end) in clips.items():
            overlap = min(piece.src_end, q_end) - max(piece.src_start, q_start)
            if name == host and overlap >= min_cover * (q_end - q_start):
                start = piece.at + max(piece.src_start, q_start) - piece.src_start
                found.append(Segment(round(start, 3), round(start + overlap, 3), qid))
    return found


def _query_of(name: str, start: float, clips: dict) -> str:
    return next(qid for qid, (n, s, _) in clips.items() if n == name and s == start)
