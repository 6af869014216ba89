"""The real-footage set: transformed real clips inserted into other real videos."""
import cv2
import numpy as np
import pytest

from svmr import video as V
from svmr.data.benchmark import Benchmark
from svmr.data.footage import footage_path
from svmr.data.footage_set import build_footage_set, transform_frame


@pytest.fixture(scope="module")
def footage_set(tmp_path_factory, vtest, bikes):
    out = tmp_path_factory.mktemp("footage")
    build_footage_set(str(out), seed=0)
    return out, Benchmark.load(str(out / "manifest.json"))


def _gray(frame, size=(64, 48)):
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), size).astype(np.float32)


def test_inserted_moments_show_their_query(footage_set):
    out, bench = footage_set
    assert len(bench.queries) >= 8 and sum(len(r.segments) for r in bench.references) == len(bench.queries)
    for ref in bench.references:
        path = str(out / "references" / f"{ref.id}.mp4")
        meta = V.probe(path)
        assert meta.duration == pytest.approx(ref.duration, abs=0.05)
        for seg in ref.segments:
            mid = np.floor((seg.start + seg.end) / 2 * meta.fps) / meta.fps  # a frame's own time
            query = next(q for q in bench.queries if q.id == seg.label)
            # the query's source frame, transformed as the manifest says, is what the reference shows
            source, _ = V.read_frames(footage_path(query.video), times=[query.start + mid - seg.start])
            params = bench.info["transforms"][f"{ref.id}/{query.id}"]
            expected = transform_frame(source[0], params, (meta.width, meta.height))
            r_frames, _ = V.read_frames(path, times=[mid, seg.start - 0.5 if seg.start > 1 else seg.end + 0.5])
            q, inside, outside = (_gray(f) for f in (expected, r_frames[0], r_frames[1]))
            corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
            assert corr(q, inside) > 0.8, f"{ref.id}: inserted {query.id} not found at {mid:.1f}s"
            assert corr(q, inside) > corr(q, outside)
