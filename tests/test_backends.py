"""Stage-1 search backends (exact, faiss, milvus-lite) agree; the gallery's journal takes several
writers; sharded indexing builds the same gallery as one run."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from svmr.backends import ExactBackend, open_backend, resolve_backend, top_k
from svmr.backends import faiss_ivf
from svmr.features import FeatureSequence
from svmr.gallery import Gallery
from svmr.indexing import gather, in_shard, parse_shard
from svmr.search import Searcher

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clustered(videos: int, per_video: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors ``(videos · per_video, dim)`` around 100 centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, dim))
    x = centres[rng.integers(0, 100, videos * per_video)] + 0.6 * rng.standard_normal((videos * per_video, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _exact_and_faiss(x: np.ndarray, per_video: int, dim: int, tmp_path):
    """Videos of ``per_video`` rows of ``x`` each: their ids and blocks, an exact backend holding
    them all, an empty faiss backend and its folder."""
    videos = len(x) // per_video
    ids = [f"v{i}" for i in range(videos)]
    blocks = [x[i * per_video:(i + 1) * per_video] for i in range(videos)]
    exact = ExactBackend()
    exact.add_many(ids, blocks)
    folder = str(tmp_path / "faiss")
    return ids, blocks, exact, open_backend("faiss", folder, dim), folder


def test_exact_backend_takes_the_max_over_each_videos_vectors():
    backend = ExactBackend()
    backend.add("a", np.array([[1, 0], [0, 1]], np.float32))
    backend.add("b", np.array([[0.8, 0.6]], np.float32))
    ids, scores = backend.search(np.array([0.6, 0.8], np.float32), 5)
    assert ids == ["b", "a"] and np.allclose(scores, [0.96, 0.8])     # a: max(0.6, 0.8)
    ids, scores = backend.search(np.array([1.0, 0.0], np.float32), 1)
    assert ids == ["a"] and np.isclose(scores[0], 1.0)
    backend.remove("a")
    assert backend.search(np.array([1.0, 0.0], np.float32), 5)[0] == ["b"]
    assert top_k(["x", "y", "z"], np.array([0.5, 0.9, 0.5]), 3)[0] == ["y", "x", "z"]   # ties: earlier id first


def test_faiss_finds_the_exact_top_videos_and_survives_reopening(tmp_path, monkeypatch):
    monkeypatch.setattr(faiss_ivf, "TRAIN_ROWS", 6000)
    videos, per_video, dim = 3000, 4, 32
    x = clustered(videos, per_video, dim)
    ids, blocks, exact, faiss, folder = _exact_and_faiss(x, per_video, dim, tmp_path)
    faiss.add_many(ids[:1000], blocks[:1000])          # below the training size: exact over its rows
    assert faiss.index is None
    faiss.add_many(ids[1000:], blocks[1000:])          # trained now
    assert faiss.index is not None and faiss.describe()["trained"]
    rng = np.random.default_rng(1)
    queries = x[rng.integers(0, len(x), 30)] + 0.05 * rng.standard_normal((30, dim)).astype(np.float32)
    recall = np.mean([len(set(exact.search(q, 10)[0]) & set(faiss.search(q, 10)[0])) / 10 for q in queries])
    assert recall >= 0.95
    found, scores = faiss.search(queries[0], 10)
    assert np.allclose(scores, exact.scores(queries[0])[1][[ids.index(i) for i in found]], atol=2e-3)  # re-ranked exactly

    faiss.remove("v7")
    exact.remove("v7")
    faiss.save()
    again = open_backend("faiss", folder, dim)
    assert len(again) == videos - 1 and "v7" not in again.videos() and again.index is not None
    assert again.search(x[7 * per_video], 3)[0] == exact.search(x[7 * per_video], 3)[0]

    with open(os.path.join(folder, "vectors.f16"), "ab") as handle:   # a writer killed after writing rows
        handle.write(b"\0" * 100)                                      # it had not committed
    os.remove(os.path.join(folder, "index.json"))                       # and before saving the index
    rebuilt = open_backend("faiss", folder, dim)
    assert rebuilt.index is not None and len(rebuilt) == videos - 1
    assert rebuilt.search(queries[3], 5)[0] == exact.search(queries[3], 5)[0]


def test_the_compact_store_keeps_rotated_rows_only_and_survives_reopening_and_growth(tmp_path, monkeypatch):
    monkeypatch.setattr(faiss_ivf, "TRAIN_ROWS", 4000)
    videos, per_video, dim = 1500, 4, 600                     # rows longer than REDUCE_ABOVE: compact
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.standard_normal((dim, 64)))[0].T   # the rows live in 64 of the 600 directions,
    x = clustered(videos, per_video, 64) @ basis.astype(np.float32)   # so a rotation to 256 keeps them exactly
    ids, blocks, exact, faiss, folder = _exact_and_faiss(x, per_video, dim, tmp_path)
    faiss.add_many(ids[:900], blocks[:900])
    assert faiss.rotation is None and os.path.exists(os.path.join(folder, "vectors.f16"))   # exact, full rows
    faiss.add_many(ids[900:1200], blocks[900:1200])           # 4,800 rows: trained, the store rotated
    assert faiss.rotation.shape == (dim, faiss_ivf.REDUCED_DIM) and faiss.width == faiss_ivf.REDUCED_DIM
    assert os.path.exists(os.path.join(folder, "vectors.f16"))      # until a save commits the rotated store
    faiss.save()
    assert not os.path.exists(os.path.join(folder, "vectors.f16"))
    assert os.path.getsize(os.path.join(folder, "reduced.f16")) == 1200 * per_video * faiss_ivf.REDUCED_DIM * 2
    assert faiss.describe()["stored"] == "rotated to 256"

    again = open_backend("faiss", folder, dim)                 # reopened: the rotated rows, the same answers
    assert again.rotation is not None and len(again) == 1200
    again.add_many(ids[1200:], blocks[1200:])                  # rows added later are stored rotated too
    again.save()
    assert os.path.getsize(os.path.join(folder, "reduced.f16")) == videos * per_video * faiss_ivf.REDUCED_DIM * 2
    queries = x[rng.integers(0, len(x), 30)] + 0.05 * rng.standard_normal((30, dim)).astype(np.float32) / 8
    recall = np.mean([len(set(exact.search(q, 10)[0]) & set(again.search(q, 10)[0])) / 10 for q in queries])
    assert recall >= 0.95
    found, scores = again.search(queries[0], 10)
    assert np.allclose(scores, exact.scores(queries[0])[1][[ids.index(i) for i in found]], atol=3e-3)

    monkeypatch.setattr(faiss_ivf, "TRAIN_ROWS", 1000)          # a retrain (16× the trained rows) keeps the rotation
    rotation = again.rotation.copy()
    again.parameters.update(trained_rows=300, fetch=1234)     # a fetch tuned by hand
    again.add_many(["extra"], [blocks[0]])
    assert np.array_equal(again.rotation, rotation) and again.parameters["trained_rows"] == videos * per_video + per_video
    sized = faiss_ivf.default_parameters(videos * per_video + per_video, dim)
    assert again.parameters["fetch"] == 1234 and again.parameters["nlist"] == sized["nlist"]   # kept; resized
    assert again.search(x[5], 1)[0][0] in ("v1", "extra")


def test_a_killed_rotation_leaves_the_full_rows_in_use(tmp_path, monkeypatch):
    """Rotated rows written but the state naming them never committed: the full rows are read."""
    monkeypatch.setattr(faiss_ivf, "TRAIN_ROWS", 3000)
    dim, x = 600, clustered(1000, 4, 600)
    folder = str(tmp_path / "faiss")
    faiss = open_backend("faiss", folder, dim)
    faiss.add_many([f"v{i}" for i in range(500)], [x[i * 4:(i + 1) * 4] for i in range(500)])
    faiss.save()                                              # 2,000 rows: full, committed
    faiss.add_many([f"v{i}" for i in range(500, 1000)], [x[i * 4:(i + 1) * 4] for i in range(500, 1000)])
    assert faiss.rotation is not None                          # rotated in memory, never saved: a kill here
    again = open_backend("faiss", folder, dim)
    assert again.rotation is None and len(again) == 500 and again.index is None
    assert again.search(x[4 * 7], 1)[0] == ["v7"]


def test_auto_backend_follows_the_gallery_size():
    assert resolve_backend("auto", 10 ** 6) == "exact" and resolve_backend("auto", 10 ** 9) == "faiss"
    with pytest.raises(ValueError, match="choose one of"):
        resolve_backend("annoy", 10)


@pytest.fixture()
def demo_copy(demo_gallery, tmp_path):
    """A private copy of the demo gallery (real footage and procedural videos, indexed)."""
    target = tmp_path / "gallery"
    shutil.copytree(os.path.join(demo_gallery.root, "gallery"), target, ignore=shutil.ignore_patterns("index"))
    return Gallery(str(target))


def _queries(gallery: Gallery) -> list[FeatureSequence]:
    """4-s clips of every real video in the gallery (features cut from its own)."""
    clips = []
    for video in gallery.list():
        if video.id.startswith("ref_"):
            sequence = gallery.features(video.id)
            width = int(4 * sequence.rate)
            start = max(0, sequence.length // 3)
            clips.append(FeatureSequence(sequence.features[:, start:start + width], sequence.times[start:start + width],
                                         sequence.rate, sequence.duration, sequence.config))
    return clips


def test_milvus_lite_returns_the_same_top_videos_as_exact_on_real_footage(demo_copy, tmp_path):
    queries = _queries(demo_copy)
    assert len(queries) >= 3
    exact = Searcher(demo_copy, backend="exact")
    uri = str(tmp_path / "milvus" / "svmr.db")
    milvus = Searcher(demo_copy, backend="milvus", milvus_uri=uri)
    faiss = Searcher(demo_copy, backend="faiss")
    for query in queries:
        want = exact.search(query, top_videos=5)
        for other in (milvus, faiss):
            got = other.search(query, top_videos=5)
            assert [h.video for h in got.videos] == [h.video for h in want.videos]
            assert np.allclose([h.video_score for h in got.videos], [h.video_score for h in want.videos], atol=1e-3)
    assert os.path.exists(uri)
    # a video removed from the gallery leaves the persisted indexes at the next search
    gone = [h.video for h in exact.search(queries[0], top_videos=1).videos][0]
    demo_copy.remove(gone)
    assert gone not in [h.video for h in milvus.search(queries[0], top_videos=10).videos]
    assert gone not in [h.video for h in faiss.search(queries[0], top_videos=10).videos]


def test_the_compact_store_forced_on_real_footage_ranks_as_exact(demo_copy, monkeypatch):
    """A gallery far below the training size, indexed with the compact store anyway: the same top
    videos as exact, scores within the rotation's loss (how small galleries and large ones rank alike)."""
    monkeypatch.setattr(faiss_ivf, "TRAIN_ROWS", 256)
    queries = _queries(demo_copy)
    exact = Searcher(demo_copy, backend="exact").index
    compact = Searcher(demo_copy, backend="faiss").index
    backend, _ = compact.current()
    assert backend.index is not None and backend.rotation is not None and backend.width == faiss_ivf.REDUCED_DIM
    for query in queries:
        want, want_scores, _ = exact.search(query, 5)
        got, got_scores, _ = compact.search(query, 5)
        assert got[:3] == want[:3]
        assert np.allclose(got_scores, want_scores, atol=0.01)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"no Milvus server on port {port} after {seconds} s")


def test_a_milvus_server_indexes_and_searches_real_footage_and_keeps_it_across_a_restart(demo_copy, tmp_path):
    """milvus-lite's gRPC server (the scale-out path: a Milvus standalone or cluster takes the same
    URI) started and stopped here: indexed by URI, the same top videos as exact, still there after
    the server restarts."""
    port, data = _free_port(), str(tmp_path / "milvus-server")
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", data, "--host", "127.0.0.1",
               "--port", str(port)]
    uri = f"http://127.0.0.1:{port}"
    queries = _queries(demo_copy)
    exact = Searcher(demo_copy, backend="exact")
    wanted = [[h.video for h in exact.search(q, top_videos=3).videos] for q in queries]
    stored = None
    for attempt in ("first", "after a restart"):
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_for_port(port, server)
            if stored:                                           # what the server kept, before anything is added
                assert len(open_backend("milvus", None, *stored)) == len(demo_copy.list())
            searcher = Searcher(demo_copy, backend="milvus", milvus_uri=uri)
            backend, _ = searcher.index.current()
            assert backend.name == "milvus" and len(backend) == len(demo_copy.list()), attempt
            stored = (backend.dim, uri, backend.collection)
            for query, want in zip(queries, wanted):
                got = [h.video for h in searcher.search(query, top_videos=3).videos]
                assert got[0] == want[0], attempt                # the clip's own video first
                assert set(got) & set(want[1:]) or len(want) == 1, attempt
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert server.returncode is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0        # stopped


def test_gallery_journal_takes_writers_from_several_objects_and_ignores_a_torn_line(demo_copy, monkeypatch):
    other = Gallery(demo_copy.root)                       # as another process would hold it
    first = demo_copy.list()[0]
    copy = replace(first, id="copy_of_first")
    with other._locked():
        other._commit({"add": copy.__dict__})
    assert demo_copy.refresh() and "copy_of_first" in demo_copy
    with open(os.path.join(demo_copy.root, "journal.jsonl"), "ab") as handle:
        handle.write(b'{"add": {"id": "torn"')           # a writer killed mid-line
    fresh = Gallery(demo_copy.root)
    assert "copy_of_first" in fresh and "torn" not in fresh
    monkeypatch.setattr("svmr.gallery.COMPACT_EVERY", 1)  # the next commit folds the journal into the snapshot
    fresh.remove("copy_of_first")
    assert demo_copy.refresh() and "copy_of_first" not in demo_copy
    assert os.path.getsize(os.path.join(demo_copy.root, "journal.jsonl")) == 0
    assert sorted(Gallery(demo_copy.root).videos) == sorted(demo_copy.videos)


def test_inputs_folders_lists_and_shards(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/one.mp4", "a/deep/two.AVI", "a/notes.txt", "three.mkv"):
        (tmp_path / name).write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text("# my videos\nthree.mkv\n\na/one.mp4\n")
    (tmp_path / "empty.list").write_text("# nothing yet\n")
    inputs = gather([str(tmp_path / "a"), str(listing), str(tmp_path / "empty.list")])
    names = [os.path.relpath(p, tmp_path) for p in inputs.paths]
    assert names == ["a/deep/two.AVI", "a/one.mp4", "three.mkv"]          # once each, in the order given
    assert list(inputs.problems) == [str(tmp_path / "empty.list")]
    paths = [f"/videos/{k}.mp4" for k in range(200)]
    shards = [[p for p in paths if in_shard(p, i, 3)] for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(paths) and all(40 < len(s) < 90 for s in shards)
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) == (0, 1)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def _index(gallery: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "svmr", "index", "--gallery", gallery, "--size", "96", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


@pytest.mark.slow
def test_two_shards_at_once_build_the_same_gallery_as_one_run(tmp_path, bikes, carphone):
    folder = tmp_path / "videos"
    folder.mkdir()
    for k, source in enumerate((bikes, carphone, bikes, carphone)):
        shutil.copyfile(source, folder / f"v{k}{os.path.splitext(source)[1]}")
    (folder / "broken.mp4").write_bytes(b"not a video")
    one = str(tmp_path / "one")
    assert _index(one, str(folder)).wait(timeout=600) == 0
    shared = str(tmp_path / "shared")
    runs = [_index(shared, str(folder), "--shard", f"{i}/2") for i in range(2)]
    reports = [json.loads(run.communicate(timeout=600)[0].strip().splitlines()[-1]) for run in runs]
    assert sum(r["indexed"] for r in reports) == 4 and all("wall_s" in r and "realtime_x" in r for r in reports)
    want, got = Gallery(one), Gallery(shared)
    assert sorted(want.videos) == sorted(got.videos) == ["v0", "v1", "v2", "v3"]
    for video in want.list():
        assert got.videos[video.id].digest == video.digest
        assert np.array_equal(got.features(video.id).features, want.features(video.id).features)
    again = json.loads(_index(shared, str(folder), "--workers", "2").communicate(timeout=600)[0].strip().splitlines()[-1])
    assert again["indexed"] == 0 and again["skipped"] == 4 and list(again["failed"]) == [str(folder / "broken.mp4")]
