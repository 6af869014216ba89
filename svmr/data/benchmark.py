"""The SVMR benchmark construction of seed 000 (section 3.2), on annotations only.

1. Annotated videos are merged and split at random into two even halves V1 and V2.
2. Every action instance of V1 becomes a query clip. Classes, in the dataset's class order, are
   split 80 % / 10 % / 10 %: queries of the first 80 % train, of the next 10 % validate, of the
   last 10 % test (class-disjoint).
3. V2 becomes the reference set: one third is kept unchanged; for each video of the next third a
   supplementary video with no common label is drawn from the rest of V2 and some of its action
   segments are inserted into the base video at random background times (at least 2 classes);
   for each video of the last third two supplementary videos are merged in the same way
   (at least 3 classes).

The output (:class:`Benchmark`) lists queries and references; every reference is a list of
:class:`Piece` s (which part of which source video plays when) and its ground truth in the new
timeline, so that videos can be cut from real footage or rendered procedurally afterwards.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .annotations import Segment, VideoAnnotation, class_statistics

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Piece:
    """``[src_start, src_end)`` of source video ``video``, played from ``at`` in the new video."""

    video: str
    src_start: float
    src_end: float
    at: float

    @property
    def end(self) -> float:
        return self.at + self.src_end - self.src_start


def source_at(pieces: Sequence[Piece], t: float) -> tuple[str, float]:
    """Source video and source time shown at time ``t`` of a video made of ``pieces``."""
    for piece in pieces:
        if piece.at <= t < piece.end:
            return piece.video, piece.src_start + (t - piece.at)
    last = pieces[-1]
    return last.video, min(last.src_end, last.src_start + (t - last.at))


@dataclass
class Reference:
    """A reference (gallery) video of the benchmark.

    Attributes:
        group: 1 kept unchanged, 2 or 3: built to hold at least that many classes.
    """

    id: str
    duration: float
    pieces: list[Piece]
    segments: list[Segment]
    group: int

    @property
    def labels(self) -> set[str]:
        return {s.label for s in self.segments}

    def as_annotation(self) -> VideoAnnotation:
        return VideoAnnotation(self.id, self.duration, list(self.segments))

    def source_at(self, t: float) -> tuple[str, float]:
        """Source video and source time shown at time ``t`` of this reference."""
        return source_at(self.pieces, t)


@dataclass(frozen=True)
class Query:
    """A query clip: ``[start, end)`` of source video ``video``, showing ``label``."""

    id: str
    video: str
    start: float
    end: float
    label: str
    split: str


@dataclass
class Benchmark:
    classes: dict[str, list[str]]
    queries: list[Query]
    references: list[Reference]
    seed: int
    info: dict = field(default_factory=dict)

    def pieces_of(self, item: "Query | Reference") -> list[Piece]:
        """The pieces a query clip or a reference video is made of."""
        if isinstance(item, Query):
            return [Piece(item.video, item.start, item.end, 0.0)]
        return item.pieces

    def queries_of(self, split: str) -> list[Query]:
        return [q for q in self.queries if q.split == split]

    def positives(self, query: Query) -> dict[str, np.ndarray]:
        """Reference id → ``(M, 2)`` segments of the query's class in that reference."""
        out = {}
        for ref in self.references:
            segs = [[s.start, s.end] for s in ref.segments if s.label == query.label]
            if segs:
                out[ref.id] = np.array(segs)
        return out

    def moments_by_label(self) -> dict[str, dict[str, list]]:
        """Label → {reference id: [[start, end], ...]}: every annotated moment, grouped."""
        out: dict[str, dict[str, list]] = {}
        for ref in self.references:
            for seg in ref.segments:
                out.setdefault(seg.label, {}).setdefault(ref.id, []).append([seg.start, seg.end])
        return out

    def to_json(self) -> dict:
        return {
            "seed": self.seed, "info": self.info, "classes": self.classes,
            "queries": [asdict(q) for q in self.queries],
            "references": [{"id": r.id, "duration": round(r.duration, 3), "group": r.group,
                            "pieces": [asdict(p) for p in r.pieces],
                            "annotations": [s.to_json() for s in r.segments]} for r in self.references],
        }

    @classmethod
    def from_json(cls, data: dict) -> "Benchmark":
        refs = [Reference(r["id"], r["duration"], [Piece(**p) for p in r["pieces"]],
                          [Segment(a["segment"][0], a["segment"][1], a["label"]) for a in r["annotations"]],
                          r["group"]) for r in data["references"]]
        return cls(data["classes"], [Query(**q) for q in data["queries"]], refs, data["seed"], data.get("info", {}))

    def save(self, path: str) -> None:
        with open(path, "w") as handle:
            json.dump(self.to_json(), handle, indent=1)

    @classmethod
    def load(cls, path: str) -> "Benchmark":
        with open(path) as handle:
            return cls.from_json(json.load(handle))


def split_classes(class_order: Sequence[str], fractions=(0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    """First 80 % of classes train, next 10 % val, the rest test (200 → 160 / 20 / 20)."""
    n = len(class_order)
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return {"train": list(class_order[:n_train]), "val": list(class_order[n_train:n_train + n_val]),
            "test": list(class_order[n_train + n_val:])}


def background_intervals(video: VideoAnnotation) -> list[tuple[float, float]]:
    """Parts of ``[0, duration]`` not covered by any action instance (may be empty)."""
    free, cursor = [], 0.0
    for seg in sorted(video.segments, key=lambda s: s.start):
        if seg.start > cursor:
            free.append((cursor, seg.start))
        cursor = max(cursor, seg.end)
    if cursor < video.duration:
        free.append((cursor, video.duration))
    return free


def random_background_time(video: VideoAnnotation, rng: np.random.Generator) -> float:
    """A time drawn uniformly from the background; a video with none gives 0 or its end."""
    free = background_intervals(video)
    lengths = np.array([b - a for a, b in free])
    if not free or lengths.sum() <= 0:
        return float(rng.choice([0.0, video.duration]))
    i = rng.choice(len(free), p=lengths / lengths.sum())
    return float(rng.uniform(*free[i]))


def insert_segments(base: VideoAnnotation, inserts: list[tuple[str, Segment]], cut_times: list[float],
                    new_id: str, group: int) -> Reference:
    """Insert source segments into ``base`` at the given base times (each inserted clip starts
    there; base content after it moves later). ``inserts[i]`` is ``(source video id, segment)``."""
    order = np.argsort(cut_times, kind="stable")
    pieces, segments = [], []
    cursor_src, cursor_new = 0.0, 0.0
    cuts_done = []  # (base time of the cut, length inserted there)
    for i in order:
        cut = float(np.clip(cut_times[i], 0.0, base.duration))
        if cut > cursor_src:
            pieces.append(Piece(base.id, cursor_src, cut, cursor_new))
            cursor_new += cut - cursor_src
            cursor_src = cut
        source, seg = inserts[i]
        pieces.append(Piece(source, seg.start, seg.end, cursor_new))
        segments.append(Segment(cursor_new, cursor_new + seg.duration, seg.label))
        cursor_new += seg.duration
        cuts_done.append((cut, seg.duration))
    if base.duration > cursor_src:
        pieces.append(Piece(base.id, cursor_src, base.duration, cursor_new))
        cursor_new += base.duration - cursor_src
    for seg in base.segments:
        shift = sum(length for cut, length in cuts_done if cut <= seg.start)
        segments.append(Segment(seg.start + shift, seg.end + shift, seg.label))
    segments.sort(key=lambda s: (s.start, s.end))
    return Reference(new_id, cursor_new, pieces, segments, group)


def _draw_supplements(base: VideoAnnotation, pool: list[VideoAnnotation], count: int,
                      rng: np.random.Generator, tries: int = 200) -> list[VideoAnnotation]:
    """``count`` videos from ``pool`` whose labels are disjoint from each other and the base."""
    chosen, used = [], set(base.labels)
    for _ in range(tries):
        if len(chosen) == count:
            break
        candidate = pool[rng.integers(len(pool))]
        if candidate.id != base.id and candidate.segments and not (candidate.labels & used):
            chosen.append(candidate)
            used |= candidate.labels
    return chosen


def build_benchmark(videos: dict[str, VideoAnnotation], seed: int = 0,
                    class_order: Sequence[str] | None = None) -> Benchmark:
    """Reorganize annotated videos into an SVMR benchmark (see the module docstring).

    Args:
        videos: source videos; those without action instances are ignored.
        class_order: the dataset's class order (default: sorted label names).
    """
    rng = np.random.default_rng(seed)
    annotated = [videos[k] for k in sorted(videos) if videos[k].segments]
    order = rng.permutation(len(annotated))
    half = len(annotated) // 2
    v1 = [annotated[i] for i in order[:half]]
    v2 = [annotated[i] for i in order[half:]]
    labels = sorted({s.label for v in annotated for s in v.segments})
    classes = split_classes(list(class_order) if class_order else labels)
    split_of = {label: split for split, names in classes.items() for label in names}

    queries = []
    for video in v1:
        for seg in video.segments:
            queries.append(Query(f"q{len(queries):06d}", video.id, seg.start, seg.end, seg.label,
                                 split_of[seg.label]))

    third = len(v2) // 3
    references = [Reference(f"r{i:06d}", v.duration, [Piece(v.id, 0.0, v.duration, 0.0)], list(v.segments), 1)
                  for i, v in enumerate(v2[:third])]
    rest = v2[third:]
    for group, bases in ((2, v2[third:2 * third]), (3, v2[2 * third:3 * third])):
        for base in bases:
            inserts = []
            for supplement in _draw_supplements(base, rest, group - 1, rng):
                count = int(rng.integers(1, len(supplement.segments) + 1))
                picks = rng.choice(len(supplement.segments), size=count, replace=False)
                inserts += [(supplement.id, supplement.segments[i]) for i in sorted(picks)]
            cuts = [random_background_time(base, rng) for _ in inserts]
            references.append(insert_segments(base, inserts, cuts, f"r{len(references):06d}", group))
    for v in v2[3 * third:]:  # the remainder of an uneven split stays unchanged
        references.append(Reference(f"r{len(references):06d}", v.duration, [Piece(v.id, 0.0, v.duration, 0.0)],
                                    list(v.segments), 1))

    info = {
        "source_videos": len(annotated), "v1": len(v1), "v2": len(v2),
        "queries": {split: sum(q.split == split for q in queries) for split in SPLITS},
        "references": {f"group{g}": sum(r.group == g for r in references) for g in (1, 2, 3)},
        "before": class_statistics(annotated),
        "after": class_statistics(r.as_annotation() for r in references),
    }
    return Benchmark(classes, queries, references, seed, info)


def reference_path(set_dir: str, video_id: str) -> str:
    """A real-footage set's reference video file (``references/<id>.mp4`` or ``gallery/<id>.*``)."""
    for folder in ("references", "gallery"):
        root = os.path.join(set_dir, folder)
        if os.path.isdir(root):
            match = sorted(f for f in os.listdir(root) if os.path.splitext(f)[0] == video_id)
            if match:
                return os.path.join(root, match[0])
    raise FileNotFoundError(f"no video {video_id} in {set_dir}")
