"""Whether a search of each demo example finds it: the right video first, and the right moment.

An example is found in the right video when the search's first video holds a moment of the
example's label; its moment is right when the top moment of the whole search overlaps (tIoU ≥ 0.5)
an annotated moment of that label in the video it was found in — for the similar-moments
examples, whose labelled spans are whole scenes, when at least half of it lies inside one.
Shared by ``scripts/check_demo_examples.py`` and the suite (``tests/test_model_accuracy.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

from svmr.evaluation import inside_share
from svmr.search import Searcher
from svmr.scoring import top_moment_tiou

#: the example source whose moments are judged by lying inside a labelled span
SIMILAR_SOURCE = "similar moments"
#: the suite's small demo gallery (``tests/conftest.py: demo_gallery``): the app's real footage and
#: 8 procedural source videos of 4 classes (the app's: :data:`demo.prepare.SYNTHETIC`)
SUITE_DEMO = dict(num_sources=8, seed=5, num_classes=4, size=96)


@dataclass
class Outcome:
    """One example searched with one pipeline."""

    label: str
    source: str
    video_right: bool
    moment_right: bool
    match: str            # what the top moment is labelled ("" for models that do not label)
    summary: str          # the top moment in words, for a table cell


def example_outcome(demo, searcher: Searcher, example: dict) -> Outcome:
    """Search one example (``demo``: a :class:`demo.service.DemoGallery`) with ``searcher``."""
    result = searcher.search(example["path"], top_videos=10, moments_per_video=5)

    def spans(video: str) -> list:
        """The example's labelled moments in ``video`` (``[[start, end], ...]``)."""
        return [[s["start"], s["end"]] for s in (demo.truth(video) or {}).get("segments", [])
                if s["label"] == example["label"]]

    if not result.moments:
        return Outcome(example["label"], example["source"], False, False, "", "no moment")
    top = result.moments[0]
    overlap = top_moment_tiou(result, {top.video: spans(top.video)})
    inside = inside_share(top.start, top.end, spans(top.video))
    right = inside >= 0.5 if example["source"] == SIMILAR_SOURCE else overlap >= 0.5
    shown = f" {top.match}" if top.match else ""
    return Outcome(example["label"], example["source"], bool(spans(result.videos[0].video)), right, top.match,
                   f"{top.video} {top.start:.1f}–{top.end:.1f} s{shown}, tIoU {overlap:.2f}, inside {inside:.2f}")


def tally(outcomes: list[Outcome]) -> dict[str, tuple[int, int, int]]:
    """``source → (right videos, right moments, examples)``."""
    out = {}
    for source in sorted({o.source for o in outcomes}):
        rows = [o for o in outcomes if o.source == source]
        out[source] = (sum(o.video_right for o in rows), sum(o.moment_right for o in rows), len(rows))
    return out
