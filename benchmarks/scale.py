"""Stage-1 search at scale: synthetic, clustered gallery vectors, one backend against exact.

    python benchmarks/scale.py --videos 1000000 --backend faiss [--json]

The gallery: ``--videos`` videos of ``--per-video`` unit vectors of ``--dim`` dimensions (default
4 × 512: the shape seed 000's stage 1 stores, ``T_emb = 4`` embeddings of 512). Each video belongs
to one of ``--clusters`` topics (its vectors: topic centre + a video offset + noise), so
neighbours are many and close, as in real galleries. Queries: a stored vector of a random video
plus noise (a clip of that video, seen again), so the right video and its topic's neighbours
compete for the top 10.

Prints a table, or with ``--json`` one line::

    {"backend": B, "videos": N, "vectors": V, "median_ms": x, "p95_ms": x, "recall_at_10": x,
     "exact_median_ms": x, "build_s": x, "bytes_per_video": x}

``recall_at_10``: the share of exact's top-10 videos the backend returns in its top 10 (exact's
top 10 are computed for every query in batches). ``median_ms``/``p95_ms``: one query at a time,
after 5 warm-up queries. ``bytes_per_video``: what the backend holds in RAM per video (faiss: the
IVF-PQ index and its row bookkeeping; the float16 rows used for the re-rank stay on disk;
exact: the float32 matrix).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svmr.backends import ExactBackend, open_backend  # noqa: E402

CHUNK = 50_000  # videos generated (and scored exactly) at a time


def generate(videos: int, per_video: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    """``(videos · per_video, dim)`` float32 unit rows, video-major."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((videos * per_video, dim), np.float32)
    for start in range(0, videos, CHUNK):
        n = min(CHUNK, videos - start)
        topic = centres[rng.integers(0, clusters, n)]
        video = topic + 0.7 * rng.standard_normal((n, dim), dtype=np.float32)
        rows = np.repeat(video, per_video, axis=0) + 0.5 * rng.standard_normal((n * per_video, dim), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out[start * per_video:(start + n) * per_video] = rows
    return out


def make_queries(matrix: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    picked = matrix[rng.integers(0, len(matrix), count)]
    queries = picked + 0.3 * rng.standard_normal(picked.shape, dtype=np.float32) / np.sqrt(matrix.shape[1])
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def exact_truth(matrix: np.ndarray, per_video: int, queries: np.ndarray, k: int) -> list[set[int]]:
    """Exact top-``k`` video numbers of every query (batched matrix products, chunk by chunk)."""
    videos = len(matrix) // per_video
    best_scores = np.full((len(queries), k), -np.inf, np.float32)
    best_ids = np.zeros((len(queries), k), np.int64)
    for start in range(0, videos, CHUNK):
        n = min(CHUNK, videos - start)
        block = matrix[start * per_video:(start + n) * per_video] @ queries.T          # (n·V, Q)
        per = block.reshape(n, per_video, -1).max(axis=1).T                              # (Q, n)
        scores = np.concatenate([best_scores, per], axis=1)
        ids = np.concatenate([best_ids, np.broadcast_to(np.arange(start, start + n), per.shape)], axis=1)
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores, best_ids = np.take_along_axis(scores, keep, 1), np.take_along_axis(ids, keep, 1)
    return [set(row.tolist()) for row in best_ids]


def time_queries(search, queries: np.ndarray) -> np.ndarray:
    for q in queries[:5]:
        search(q)
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--backend", choices=("exact", "faiss", "milvus"), default="faiss")
    parser.add_argument("--per-video", type=int, default=4)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30, help="queries timed on exact (it is slow)")
    parser.add_argument("--nprobe", type=int, help="faiss: cells visited (default: the backend's)")
    parser.add_argument("--fetch", type=int, help="faiss: rows fetched before the re-rank (default: the backend's)")
    parser.add_argument("--folder", help="where the faiss/milvus index is built (default: a temporary folder); "
                                         "an index built there for the same --videos and --seed is reused")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    started = time.perf_counter()
    matrix = generate(args.videos, args.per_video, args.dim, args.clusters, args.seed)
    queries = make_queries(matrix, args.queries, args.seed)
    log(f"generated {len(matrix):,} vectors in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    truth = exact_truth(matrix, args.per_video, queries, 10)
    log(f"exact top 10 of {len(queries)} queries in {time.perf_counter() - started:.0f} s")

    ids = [str(i) for i in range(args.videos)]
    counts = np.full(args.videos, args.per_video)
    exact = ExactBackend.from_matrix(ids, matrix, counts)
    exact_ms = time_queries(lambda q: exact.search(q, 10), queries[:args.exact_queries])
    log(f"exact: median {np.median(exact_ms):.1f} ms")

    if args.backend == "exact":
        backend, build_s, held = exact, 0.0, matrix.nbytes + 16 * args.videos
    else:
        folder = args.folder or tempfile.mkdtemp(prefix="svmr-scale-")
        started = time.perf_counter()
        backend = open_backend(args.backend, folder, args.dim, os.path.join(folder, "milvus.db"), "scale")
        built = os.path.join(folder, "build.json")
        if os.path.exists(built) and len(backend) == args.videos:     # the same gallery, built by an earlier run
            with open(built) as handle:
                build_s = json.load(handle)["build_s"]
            log(f"{args.backend}: reusing the index in {folder} (built in {build_s:.0f} s)")
        else:
            backend.add_many(ids, [matrix[i * args.per_video:(i + 1) * args.per_video] for i in range(args.videos)])
            backend.save()
            build_s = time.perf_counter() - started
            with open(built, "w") as handle:
                json.dump({"build_s": build_s, "videos": args.videos, "seed": args.seed}, handle)
        held = in_memory_bytes(backend, folder)
        if args.nprobe:
            backend.parameters["nprobe"] = args.nprobe
        if args.fetch:
            backend.parameters["fetch"] = args.fetch
        log(f"{args.backend}: built in {build_s:.0f} s, {backend.describe()}")
    del matrix

    found = [backend.search(q, 10)[0] for q in queries]
    recall = float(np.mean([len({int(v) for v in got} & want) / 10 for got, want in zip(found, truth)]))
    backend_ms = exact_ms if args.backend == "exact" else time_queries(lambda q: backend.search(q, 10), queries)
    result = {"backend": args.backend, "videos": args.videos, "vectors": args.videos * args.per_video,
              "median_ms": round(float(np.median(backend_ms)), 3),
              "p95_ms": round(float(np.percentile(backend_ms, 95)), 3), "recall_at_10": round(recall, 4),
              "exact_median_ms": round(float(np.median(exact_ms)), 3), "build_s": round(build_s, 1),
              "bytes_per_video": int(held / args.videos)}
    if args.json:
        print(json.dumps(result))
    else:
        print("| backend | videos | vectors | median ms | p95 ms | recall@10 | exact median ms | speed-up | build s | "
              "RAM bytes/video |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {args.backend} | {args.videos:,} | {result['vectors']:,} | {result['median_ms']:.2f} | "
              f"{result['p95_ms']:.2f} | {recall:.3f} | {result['exact_median_ms']:.1f} | "
              f"{result['exact_median_ms'] / result['median_ms']:.0f}× | {result['build_s']:.0f} | "
              f"{result['bytes_per_video']} |")


def in_memory_bytes(backend, folder: str) -> int:
    """faiss: the saved index's size (what it holds in RAM) + 16 bytes of row bookkeeping and the
    id per video; milvus: the database file (the engine holds it)."""
    if backend.name == "faiss":
        index = os.path.getsize(os.path.join(folder, "index.faiss")) if backend.index is not None else 0
        return index + sum(16 + len(v) + 49 for v in backend.ids)   # first/count + a str object
    return sum(os.path.getsize(os.path.join(dirpath, f)) for dirpath, _, files in os.walk(folder) for f in files)


if __name__ == "__main__":
    main()
