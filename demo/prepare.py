"""The bundled demo gallery, built ahead so the app's first search is fast.

    python -m demo.prepare [--out data/demo]

It holds two kinds of videos, each with ground truth:

* real footage (:mod:`svmr.data.footage_set`): 7 real videos into which transformed copies of
  9 real query clips were inserted; the label of an inserted moment is its query's id;
* similar moments (:mod:`svmr.data.semantic_set`, when ``scripts/fetch_semantic_footage.sh``
  brought its videos): one real video of the animated Blupi, a woman's face and a bulldozer, and
  two queries of *other* footage of the same kinds (the woman later in the take, Blupi in the snow): no copy;
  the label of a moment is its kind;
* procedural videos (:mod:`svmr.data.render`): a small benchmark of the synthetic motion
  classes, the label of a moment is its class.

Layout of ``out``::

    footage/    queries/, references/, manifest.json     (the real-footage set)
    similar/    queries/, gallery/, manifest.json        (the similar-moments part)
    synthetic/  queries/, references/, manifest.json     (the procedural mini benchmark)
    gallery/    gallery.json, features/                  (every reference, indexed)
    demo.json   ground truth per gallery video and the example queries

Everything is rebuilt from the sample footage and code (no downloads); parts already present
are kept, so an interrupted build resumes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from typing import Callable

from svmr.data.benchmark import Benchmark
from svmr.features import ExtractorConfig, FeatureExtractor
from svmr.gallery import Gallery

DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo")
SYNTHETIC = dict(num_sources=24, seed=7, num_classes=8, size=128)
MAX_SYNTHETIC_QUERIES = 6
#: version of what a finished build holds; 2: feature files with small frames (the motion check);
#: 3: the similar-moments part; 4: feature files with the motion stream
DEMO_FORMAT = 4


def _annotations(bench: Benchmark, source: str) -> dict[str, dict]:
    """Gallery video id → its source kind and labelled segments."""
    return {r.id: {"source": source, "duration": r.duration,
                   "segments": [{"label": s.label, "start": s.start, "end": s.end} for s in r.segments]}
            for r in bench.references}


def _examples(bench: Benchmark, folder: str, source: str, limit: int | None = None) -> list[dict]:
    """Example queries whose label occurs in at least one gallery video."""
    present = {s.label for r in bench.references for s in r.segments}
    chosen, seen = [], set()
    for query in bench.queries:
        if query.label in present and query.label not in seen:
            seen.add(query.label)
            chosen.append({"path": os.path.join(folder, "queries", f"{query.id}.mp4"), "label": query.label,
                           "source": source, "id": query.id})
    return chosen[:limit]


def prepare_demo(root: str = DEFAULT_ROOT, extractor: FeatureExtractor | None = None,
                 log: Callable[[str], None] = print, synthetic: dict | None = None) -> dict:
    """Build (or finish building) the demo gallery under ``root``; returns ``demo.json``'s content.

    Args:
        synthetic: arguments of the procedural part (default :data:`SYNTHETIC`; tests make it smaller).
    """
    from svmr.data.footage_set import build_footage_set
    from svmr.data.render import build_synthetic_benchmark
    from svmr.data.semantic_set import DEMO_GALLERY, DEMO_QUERIES, build_semantic_set, missing_semantic_footage

    started = time.time()
    footage_dir, synthetic_dir = os.path.join(root, "footage"), os.path.join(root, "synthetic")
    similar_dir = os.path.join(root, "similar")
    if not os.path.exists(os.path.join(footage_dir, "manifest.json")):
        log("demo: cutting the real-footage set")
        try:
            build_footage_set(footage_dir, seed=0)
        except FileNotFoundError as err:  # Debian's opencv-doc absent: the procedural part still works
            shutil.rmtree(footage_dir, ignore_errors=True)     # a part-built set is not a set
            log(f"demo: no real footage ({err}); the demo gallery holds procedural videos only")
    if not os.path.exists(os.path.join(similar_dir, "manifest.json")) \
            and not missing_semantic_footage(DEMO_GALLERY, DEMO_QUERIES):
        log("demo: joining the similar-moments video")
        build_semantic_set(similar_dir, DEMO_GALLERY, DEMO_QUERIES)
    if not os.path.exists(os.path.join(synthetic_dir, "manifest.json")):
        log("demo: rendering procedural videos")
        build_synthetic_benchmark(synthetic_dir, **(synthetic or SYNTHETIC))
    parts = [(name, folder, Benchmark.load(os.path.join(folder, "manifest.json")))
             for name, folder in (("real footage", footage_dir), ("similar moments", similar_dir),
                                  ("procedural", synthetic_dir))
             if os.path.exists(os.path.join(folder, "manifest.json"))]

    extractor = extractor or FeatureExtractor(ExtractorConfig())
    config = extractor.config
    gallery_dir = os.path.join(root, "gallery")
    if os.path.exists(gallery_dir) and Gallery(gallery_dir).config != config:
        log("demo: the feature extractor changed; re-indexing")
        shutil.rmtree(gallery_dir)
    gallery = Gallery(gallery_dir, config)
    from svmr.data.benchmark import reference_path

    prefix = {"real footage": "", "similar moments": "", "procedural": "synthetic_"}
    videos = [(reference_path(folder, r.id), prefix[name] + r.id) for name, folder, bench in parts
              for r in bench.references]
    for done, (path, video_id) in enumerate(videos, 1):
        if not gallery.is_current(video_id):
            log(f"demo: indexing {video_id} ({done}/{len(videos)})")
            gallery.add(path, extractor, video_id=video_id)
    truth, examples = {}, []
    for name, folder, bench in parts:
        truth.update({prefix[name] + k: v for k, v in _annotations(bench, name).items()})
        examples += _examples(bench, folder, name, None if name == "real footage" else MAX_SYNTHETIC_QUERIES)
    demo = {"videos": truth, "examples": examples, "extractor_key": gallery.config.key(), "format": DEMO_FORMAT,
            "real_footage": any(name == "real footage" for name, _, _ in parts),
            "similar_footage": any(name == "similar moments" for name, _, _ in parts)}
    tmp = os.path.join(root, "demo.json.tmp")
    with open(tmp, "w") as handle:
        json.dump(demo, handle, indent=1)
    os.replace(tmp, os.path.join(root, "demo.json"))
    log(f"demo: {len(gallery)} videos indexed, {len(demo['examples'])} example queries ({time.time() - started:.0f} s)")
    return demo


def needs_build(info: dict | None, extractor_key: str) -> str | None:
    """Why the demo gallery described by ``info`` (its ``demo.json``) must be built (again), or
    None when it is complete: missing, made by another feature extractor or format, or made
    without the real footage that this machine now has."""
    from svmr.data.footage_set import missing_footage
    from svmr.data.semantic_set import DEMO_GALLERY, DEMO_QUERIES, missing_semantic_footage

    if info is None:
        return "building the demo gallery"
    if info.get("extractor_key") != extractor_key or info.get("format") != DEMO_FORMAT:
        return "the demo gallery was made by another version: building it again"
    if not info.get("real_footage") and not missing_footage():
        return "the sample footage is here now: adding the real-footage videos to the demo gallery"
    if not info.get("similar_footage") and not missing_semantic_footage(DEMO_GALLERY, DEMO_QUERIES):
        return "the similar-moments footage is here now: adding it to the demo gallery"
    return None


def load_demo(root: str = DEFAULT_ROOT) -> dict | None:
    """``demo.json`` of a finished build, or None."""
    path = os.path.join(root, "demo.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_ROOT)
    prepare_demo(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
