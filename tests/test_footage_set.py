"""The real-footage set: transformed real clips inserted into other real videos."""
import pathlib

import cv2
import numpy as np
import pytest

from svmr import video as V
from svmr.data.benchmark import Benchmark
from svmr.data.footage import footage_path
from svmr.data.footage_set import build_footage_set, letterbox, transform_frame


#: the extended set's longer side here (the evaluation's: ``OUT_SIDE``, 480): a quarter of the pixels to write
SMALL_SIDE = 240


@pytest.fixture(scope="module")
def extended_set(tmp_path_factory, vtest, bikes):
    out = tmp_path_factory.mktemp("footage")
    build_footage_set(str(out), seed=0, extended=True, side=SMALL_SIDE)
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["demo-set", "extended-set"])
def footage_set(request, demo_gallery, extended_set):
    """The demo's set is the one the demo gallery was built with (``build_footage_set(…, seed=0)``,
    read only here); the extended set is built smaller than the evaluation's (the manifest does not
    depend on the size: :func:`test_the_size_changes_no_annotation`)."""
    out = extended_set if request.param else pathlib.Path(demo_gallery.root) / "footage"
    return out, Benchmark.load(str(out / "manifest.json"))


def test_the_size_changes_no_annotation(demo_gallery, extended_set):
    """The extended set begins with the demo's part, drawn from the same seed: written at 240 pixels
    here and at 480 for the demo, its references' pieces, the demo queries' moments and their transforms
    are the same."""
    demo = Benchmark.load(str(pathlib.Path(demo_gallery.root) / "footage" / "manifest.json"))
    small = Benchmark.load(str(extended_set / "manifest.json"))
    assert V.probe(str(extended_set / "references" / "ref_vtest1.mp4")).width == SMALL_SIDE
    assert V.probe(str(pathlib.Path(demo_gallery.root) / "footage" / "references" / "ref_vtest1.mp4")).width == 480
    extended, demo_queries = {r.id: r for r in small.references}, {q.id for q in demo.queries}
    for ref in demo.references:
        # the extended set's own clips cut from a host's file are annotated where the host replays them too
        mine = [seg for seg in extended[ref.id].segments if seg.label in demo_queries]
        assert (extended[ref.id].pieces, mine) == (ref.pieces, ref.segments), ref.id
    assert {k: v for k, v in small.info["transforms"].items() if k in demo.info["transforms"]} == demo.info["transforms"]


def _gray(frame, size=(64, 48)):
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), size).astype(np.float32)


def _source_time(ref, time: float) -> tuple[str, float]:
    """The source file and its time that the reference plays at ``time``."""
    piece = next(p for p in ref.pieces if p.at <= time < p.at + p.src_end - p.src_start)
    return piece.video, piece.src_start + time - piece.at


def test_every_annotated_moment_shows_its_query(footage_set):
    out, bench = footage_set
    transforms = bench.info["transforms"]
    inserted = [(r.id, s.label) for r in bench.references for s in r.segments if f"{r.id}/{s.label}" in transforms]
    assert len(bench.queries) >= 8 and len(inserted) == len(bench.queries) == len(transforms)
    # hosts cut from a query's own file replay it untransformed: annotated too (bikes_a in ref_bikes)
    assert any(r.id == "ref_bikes" and s.label == "bikes_a" for r in bench.references for s in r.segments)
    for ref in bench.references:
        path = str(out / "references" / f"{ref.id}.mp4")
        meta = V.probe(path)
        assert meta.duration == pytest.approx(ref.duration, abs=0.05)
        for seg in ref.segments:
            mid = np.floor((seg.start + seg.end) / 2 * meta.fps) / meta.fps  # a frame's own time
            query = next(q for q in bench.queries if q.id == seg.label)
            video, source_time = _source_time(ref, mid)
            assert video == query.video and query.start <= source_time <= query.end
            # the query's source frame, transformed as the manifest says, is what the reference shows
            source, _ = V.read_frames(footage_path(query.video), times=[source_time])
            params = transforms.get(f"{ref.id}/{query.id}")
            size = (meta.width, meta.height)
            expected = transform_frame(source[0], params, size) if params else letterbox(source[0], size)
            outside_time = seg.start - 0.5 if seg.start > 1 else seg.end + 0.5
            r_frames, _ = V.read_frames(path, times=[mid, outside_time])
            q, inside, outside = (_gray(f) for f in (expected, r_frames[0], r_frames[1]))
            corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
            assert corr(q, inside) > 0.8, f"{ref.id}: {query.id} not found at {mid:.1f}s"
            if _source_time(ref, outside_time)[0] != query.video:   # a neighbouring moment of the same shot may look alike
                assert corr(q, inside) > corr(q, outside)
