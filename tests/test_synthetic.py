"""The procedural benchmark: classes defined by motion, deterministic rendering, the CLI build."""
import json

import numpy as np
import pytest

from svmr import video as V
from svmr.cli import main
from svmr.data.benchmark import Benchmark
from svmr.data.synthetic import (CLASS_NAMES, CLASS_ORDER, Appearance, SourceRenderer, class_pose,
                                 generate_sources)


def test_at_least_40_classes_each_with_its_own_dynamics():
    assert len(set(CLASS_NAMES)) >= 40 and sorted(CLASS_ORDER) == sorted(CLASS_NAMES)
    look = Appearance("disc", (1, 0, 0), (0, 0, 1), "solid", 0.1, 0.5, 0.5, 1.0)
    times = np.linspace(0, 5.9, 48)
    tracks = {}
    for label in CLASS_NAMES:
        poses = [class_pose(label, t, 6.0, look) for t in times]
        tracks[label] = np.array([[p.x, p.y, p.scale, np.cos(p.angle), np.sin(p.angle), p.visible] for p in poses])
    labels = list(tracks)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert np.abs(tracks[a] - tracks[b]).max() > 0.05, f"{a} and {b} move alike"


def test_appearance_does_not_depend_on_class():
    sources = generate_sources(40, seed=3)
    renderer = SourceRenderer(sources, seed=3)
    looks = {}
    for video_id, video in sources.items():
        for index, seg in enumerate(video.segments):
            looks.setdefault(seg.label, set()).add(renderer.appearance(video_id, index).shape)
    # instances of one class come in several shapes
    assert max(len(shapes) for shapes in looks.values()) >= 3


def test_rendering_is_deterministic_and_shows_the_action():
    sources = generate_sources(5, seed=1)
    video_id, video = next(iter(sources.items()))
    seg = video.segments[0]
    a = SourceRenderer(sources, seed=1).render(video_id, seg.start + 1.0)
    b = SourceRenderer(sources, seed=1).render(video_id, seg.start + 1.0)
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    other = SourceRenderer(sources, seed=2).render(video_id, seg.start + 1.0)
    assert np.abs(a.astype(int) - other.astype(int)).mean() > 5


def test_source_statistics_look_like_activitynet():
    sources = generate_sources(400, seed=0)
    one_class = np.mean([len(v.labels) == 1 for v in sources.values()])
    assert one_class > 0.9
    for video in sources.values():
        assert video.segments and all(0 <= s.start < s.end <= video.duration for s in video.segments)
        ends = [s.end for s in video.segments]
        starts = [s.start for s in video.segments]
        assert all(e <= s for e, s in zip(ends, starts[1:])), "instances do not overlap"


def test_build_benchmark_command_renders_videos_and_manifest(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["build-benchmark", "--out", str(out), "--sources", "12", "--seed", "5", "--workers", "2"]) == 0
    info = json.loads(capsys.readouterr().out)
    bench = Benchmark.load(str(out / "manifest.json"))
    assert info["render"]["rendered_videos"] == len(bench.queries) + len(bench.references)
    assert (out / "contact_sheet.png").stat().st_size > 10000
    for ref in bench.references[:3]:
        meta = V.probe(str(out / "references" / f"{ref.id}.mp4"))
        assert meta.fps == pytest.approx(8.0) and (meta.width, meta.height) == (128, 128)
        assert meta.duration == pytest.approx(ref.duration, abs=1 / 8 + 1e-6)
    query = bench.queries[0]
    meta = V.probe(str(out / "queries" / f"{query.id}.mp4"))
    assert meta.duration == pytest.approx(query.end - query.start, abs=1 / 8 + 1e-6)
    # running it again renders nothing new (resumable)
    assert main(["build-benchmark", "--out", str(out), "--sources", "12", "--seed", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["render"]["rendered_videos"] == 0
