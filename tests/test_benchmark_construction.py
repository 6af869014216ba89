"""The paper's benchmark construction on small hand-made annotations and on ActivityNet-1.3."""
import os

import numpy as np
import pytest

from svmr.data.annotations import Segment, VideoAnnotation, class_statistics, load_annotations, parse_annotations
from svmr.data.benchmark import Benchmark, background_intervals, build_benchmark, insert_segments


def test_insert_segments_moves_base_content_and_labels_inserts():
    base = VideoAnnotation("b", 30.0, [Segment(5, 10, "run"), Segment(20, 25, "run")])
    inserts = [("s", Segment(2, 6, "jump")), ("s", Segment(8, 9, "jump"))]
    ref = insert_segments(base, inserts, cut_times=[15.0, 12.0], new_id="r", group=2)
    assert ref.duration == pytest.approx(35.0)
    got = [(round(s.start, 6), round(s.end, 6), s.label) for s in ref.segments]
    # cuts pair with inserts by index: [8,9] goes in at base 12, then [2,6] at base 15 (now 16);
    # base [20,25] moves by the 5 s inserted before it
    assert got == [(5, 10, "run"), (12, 13, "jump"), (16, 20, "jump"), (25, 30, "run")]
    starts = [p.at for p in ref.pieces]
    assert starts[0] == 0 and all(abs(a.end - b.at) < 1e-9 for a, b in zip(ref.pieces, ref.pieces[1:]))
    assert ref.pieces[-1].end == pytest.approx(ref.duration)
    assert ref.source_at(12.5) == ("s", 8.5)
    assert ref.source_at(26.0) == ("b", 21.0)


def test_background_intervals():
    video = VideoAnnotation("v", 10.0, [Segment(0, 3, "a"), Segment(2, 5, "a"), Segment(7, 10, "a")])
    assert background_intervals(video) == [(5, 7)]


def _toy_dataset(n_videos=60, n_classes=20, seed=3):
    rng = np.random.default_rng(seed)
    videos = {}
    for i in range(n_videos):
        duration = float(rng.uniform(30, 60))
        label = f"c{rng.integers(n_classes):02d}"
        segments, t = [], float(rng.uniform(0, 5))
        for _ in range(int(rng.integers(1, 4))):
            length = float(rng.uniform(2, 6))
            if t + length > duration:
                break
            segments.append(Segment(t, t + length, label))
            t += length + float(rng.uniform(1, 8))
        videos[f"v{i:03d}"] = VideoAnnotation(f"v{i:03d}", duration, segments)
    return videos


def test_build_benchmark_follows_the_recipe():
    videos = _toy_dataset()
    bench = build_benchmark(videos, seed=7)
    assert bench.info["v1"] == bench.info["v2"] == 30
    classes = bench.classes
    assert (len(classes["train"]), len(classes["val"]), len(classes["test"])) == (16, 2, 2)
    assert not set(classes["train"]) & set(classes["test"])
    query_videos = {q.video for q in bench.queries}
    ref_sources = {p.video for r in bench.references for p in r.pieces if r.group == 1}
    assert not query_videos & ref_sources, "V1 and V2 are disjoint"
    for q in bench.queries:
        assert q.label in classes[q.split]
        assert any(s.start == q.start and s.label == q.label for s in videos[q.video].segments)
    groups = [r.group for r in bench.references]
    assert groups.count(1) == groups.count(2) == groups.count(3) == 10
    for ref in bench.references:
        assert len(ref.labels) >= ref.group
        # every ground-truth segment plays its labelled source action
        for seg in ref.segments:
            source, t = ref.source_at((seg.start + seg.end) / 2)
            assert any(s.label == seg.label and s.start <= t <= s.end for s in videos[source].segments)
    assert bench.info["before"]["one_class"] == 1.0
    assert bench.info["after"]["one_class"] == pytest.approx(1 / 3)
    again = build_benchmark(videos, seed=7)
    assert again.to_json() == bench.to_json()


def test_benchmark_json_round_trip(tmp_path):
    bench = build_benchmark(_toy_dataset(), seed=1)
    bench.save(str(tmp_path / "m.json"))
    back = Benchmark.load(str(tmp_path / "m.json"))
    assert back.to_json() == bench.to_json()
    query = back.queries_of("test")[0]
    positives = back.positives(query)
    assert all(query.label in back.references[int(r[1:])].labels for r in positives)


def test_parse_official_layout_filters_subsets():
    data = {"database": {
        "a": {"subset": "training", "duration": 10, "annotations": [{"segment": [1, 12], "label": "x"}]},
        "b": {"subset": "testing", "duration": 10, "annotations": []}}}
    videos = parse_annotations(data)
    assert list(videos) == ["a"] and videos["a"].segments == [Segment(1.0, 10.0, "x")]
    assert class_statistics(videos.values())["one_instance"] == 1.0


def test_activitynet_statistics_match_the_paper(shared_dir):
    videos = load_annotations(os.path.join(shared_dir, "data", "activitynet-1.3-annotations.json"))
    bench = build_benchmark(videos, seed=0)
    before, after = bench.info["before"], bench.info["after"]
    assert before["one_class"] > 0.99 and before["one_instance"] > 0.75  # as the paper says
    assert after["one_class"] < 0.34 and after["one_instance"] < 0.34
    assert {k: len(v) for k, v in bench.classes.items()} == {"train": 160, "val": 20, "test": 20}
