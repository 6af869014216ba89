"""Temporal action annotations in the ActivityNet / HACS JSON format.

Accepted layouts:

* flat: ``{video_id: {"duration_second": D, "annotations": [{"segment": [s, e], "label": L}]}}``
  (the per-video file the BMN repositories use; ``duration`` is accepted for ``duration_second``);
* official: ``{"database": {video_id: {"subset": ..., "duration": D, "annotations": [...]}}, ...}``
  (ActivityNet-1.3 and HACS), of which ``subsets`` are kept (train + validation by default).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Segment:
    """One action instance: ``[start, end)`` seconds and its class label."""

    start: float
    end: float
    label: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict:
        return {"segment": [round(self.start, 3), round(self.end, 3)], "label": self.label}


@dataclass
class VideoAnnotation:
    """A video's length and its action instances (sorted by start)."""

    id: str
    duration: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def labels(self) -> set[str]:
        return {s.label for s in self.segments}

    def to_json(self) -> dict:
        return {"duration_second": round(self.duration, 3),
                "annotations": [s.to_json() for s in self.segments]}


def parse_annotations(data: dict, subsets: Iterable[str] = ("training", "validation")) -> dict[str, VideoAnnotation]:
    """Parse either layout into ``{video_id: VideoAnnotation}``; segments are clipped into
    ``[0, duration]`` and empty ones dropped."""
    subsets = set(subsets)
    if "database" in data:
        entries = {k: v for k, v in data["database"].items() if v.get("subset", "training") in subsets}
    else:
        entries = data
    videos = {}
    for video_id, entry in entries.items():
        duration = float(entry.get("duration_second", entry.get("duration", 0.0)))
        segments = []
        for ann in entry.get("annotations", []):
            start, end = (float(x) for x in ann["segment"])
            start, end = max(0.0, start), min(duration, end)
            if end > start:
                segments.append(Segment(start, end, str(ann["label"])))
        segments.sort(key=lambda s: (s.start, s.end))
        videos[video_id] = VideoAnnotation(video_id, duration, segments)
    return videos


def load_annotations(path: str, **kw) -> dict[str, VideoAnnotation]:
    """Read an annotation JSON file (see :func:`parse_annotations`)."""
    with open(path) as handle:
        return parse_annotations(json.load(handle), **kw)


def class_statistics(videos: Iterable[VideoAnnotation]) -> dict:
    """Share of videos with exactly one action class, and with exactly one action instance.

    Only videos with at least one instance are counted.
    """
    annotated = [v for v in videos if v.segments]
    if not annotated:
        return {"videos": 0, "one_class": 0.0, "one_instance": 0.0, "mean_classes": 0.0, "mean_instances": 0.0}
    n = len(annotated)
    return {
        "videos": n,
        "one_class": sum(len(v.labels) == 1 for v in annotated) / n,
        "one_instance": sum(len(v.segments) == 1 for v in annotated) / n,
        "mean_classes": sum(len(v.labels) for v in annotated) / n,
        "mean_instances": sum(len(v.segments) for v in annotated) / n,
    }
