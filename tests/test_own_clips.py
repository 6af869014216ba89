"""The "clip from my own video" set: deterministic clips, half re-shared, truth where the frames are."""
import cv2
import numpy as np
import pytest

from svmr import video as V
from svmr.data.benchmark import Benchmark
from svmr.data.footage import footage_path
from svmr.data.footage_set import letterbox
from svmr.data.own_clips import build_own_clips, draw_clips
from svmr.data.benchmark import reference_path


@pytest.fixture(scope="module")
def own_clips(tmp_path_factory, vtest, bikes, tree):
    out = tmp_path_factory.mktemp("own")
    build_own_clips(str(out), seed=0)
    return out, Benchmark.load(str(out / "manifest.json"))


def _gray(frame, size=(64, 48)):
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), size).astype(np.float32)


def test_clips_are_deterministic_and_half_reshared(own_clips):
    out, bench = own_clips
    durations = {q.video: V.probe(footage_path(q.video)).duration for q in bench.queries}
    assert draw_clips(durations, 0) == draw_clips(durations, 0)
    assert len(bench.queries) >= 40 and len(bench.info["reshared"]) == len(bench.queries) // 2
    for query in bench.queries:
        assert 2.0 <= query.end - query.start <= 8.0
        clip = V.probe(str(out / "queries" / f"{query.id}.mp4"))
        assert clip.duration == pytest.approx(query.end - query.start, abs=0.15)
        params = bench.info["reshared"].get(query.id)
        source = V.probe(footage_path(query.video))
        if params:
            assert max(clip.width, clip.height) <= max(source.width, source.height) // 2 + 1
            assert clip.fps == pytest.approx(params["fps"], abs=0.01)
        else:
            assert (clip.width, clip.height) == (source.width // 2 * 2, source.height // 2 * 2)


def test_truth_is_where_the_gallery_plays_the_clip(own_clips):
    out, bench = own_clips
    checked = 0
    for query in bench.queries:
        places = [(r, s) for r in bench.references for s in r.segments if s.label == query.id]
        # the original file at the clip's own times, and the joined video where it holds them
        assert any(s.start == pytest.approx(query.start, abs=0.01) and s.end == pytest.approx(query.end, abs=0.01)
                   for _, s in places)
        for ref, seg in places:
            mid = (seg.start + seg.end) / 2
            path = reference_path(str(out), ref.id)
            shown, _ = V.read_frames(path, times=[mid])
            piece = next(p for p in ref.pieces if p.at <= mid < p.at + p.src_end - p.src_start)
            source, _ = V.read_frames(footage_path(query.video), times=[piece.src_start + mid - piece.at])
            expected = letterbox(source[0], (shown.shape[2], shown.shape[1]))
            corr = float(np.corrcoef(_gray(expected).ravel(), _gray(shown[0]).ravel())[0, 1])
            assert corr > 0.9, f"{query.id} not at {mid:.2f} s of {ref.id}"
            checked += 1
    assert checked > len(bench.queries)      # clips of joined files are found twice
