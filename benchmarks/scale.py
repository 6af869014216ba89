"""Stage-1 search at scale: synthetic gallery vectors, one backend against exact.

    python benchmarks/scale.py --model align --hours 1000 [--backend faiss] [--json]
    python benchmarks/scale.py --videos 1000000 --backend faiss [--json]          # --model paper

``--model align`` (the default pipeline's own shape): ``--hours`` of synthetic video streamed
video by video from :mod:`window_gallery` (windows of 2–16 s, 1,408 numbers, ~6,750 rows an hour,
scenes shared between videos, shots, re-uploads); queries are half copies (a clip of a stored
video, noisy), half similar moments (a new shot of a stored scene). Exact's answer is computed
chunk by chunk while the backend is built, so the gallery is never held in RAM; exact's time is
one query's matrix products and per-video maxima summed over the chunks (what exact would take if
the float32 rows all fitted in RAM). With ``--folder``, the index and exact's answers are kept
there, and a later run for the same gallery reuses both (``--nprobe`` / ``--fetch`` tried in a
minute). One JSON line::

    {"model", "hours", "videos", "vectors", "median_ms", "p95_ms", "recall_at_10",
     "recall_at_10_copies", "recall_at_10_similar", "exact_median_ms", "speedup", "build_s",
     "ram_bytes", "disk_bytes", "rerank_bytes", ...}

``ram_bytes``: what the backend holds in RAM (faiss: the saved index — PQ codes, ids, cells —,
the rotation and its per-video bookkeeping); ``rerank_bytes``: the memory-mapped float16 rows it
re-ranks with (on disk, in the page cache when there is room); ``disk_bytes``: its whole folder.
``--fit-spectrum GALLERY...`` prints the real galleries' spectrum and cosines beside the synthetic ones.

``--model paper`` (seed 000's stage-1 shape):

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
from svmr.stage1_index import SYNC_BATCH  # noqa: E402  (align: videos generated, scored and added at a time)

import window_gallery  # noqa: E402  (benchmarks/, on the path as this script's folder)

CHUNK = 50_000  # paper: videos generated (and scored exactly) at a time


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
    parser.add_argument("--model", choices=("paper", "align"), default="paper",
                        help="whose stage-1 shape: seed 000's (--videos) or the default pipeline's (--hours)")
    parser.add_argument("--hours", type=float, default=100.0, help="align: hours of video in the gallery")
    parser.add_argument("--videos", type=int, default=100_000, help="paper: videos in the gallery")
    parser.add_argument("--backend", choices=("exact", "faiss", "milvus"), default="faiss")
    parser.add_argument("--per-video", type=int, default=4)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30, help="paper: queries timed on exact (it is slow; align times 5)")
    parser.add_argument("--nprobe", type=int, help="faiss: cells visited (default: the backend's)")
    parser.add_argument("--fetch", type=int, help="faiss: rows fetched before the re-rank (default: the backend's)")
    parser.add_argument("--folder", help="where the faiss/milvus index is built (default: a temporary folder); "
                                         "an index built there for the same gallery and --seed is reused")
    parser.add_argument("--fit-spectrum", nargs="+", metavar="GALLERY",
                        help="print the default pipeline's rows of these galleries: spectrum and cosines, "
                             "beside the synthetic gallery's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    if args.fit_spectrum:
        print(json.dumps(compare_spectrum(args.fit_spectrum)))
        return
    result = run_windows(args, log) if args.model == "align" else run_paper(args, log)
    if args.json:
        print(json.dumps(result))
        return
    print("| model | backend | videos | vectors | median ms | p95 ms | recall@10 | exact median ms | speed-up | "
          "build s | RAM |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {result['model']} | {args.backend} | {result['videos']:,} | {result['vectors']:,} | "
          f"{result['median_ms']:.2f} | {result['p95_ms']:.2f} | {result['recall_at_10']:.3f} | "
          f"{result['exact_median_ms']:.1f} | {result['exact_median_ms'] / result['median_ms']:.0f}× | "
          f"{result['build_s']:.0f} | {result['ram_bytes'] / 2 ** 20:.1f} MiB |")


def open_built(args, dim: int, size: dict, log):
    """The backend in ``--folder`` (or a temporary one) and whether it already holds the gallery
    ``size`` describes (built by an earlier run with the same ``--seed``): ``(backend, folder, build_s)``,
    ``build_s`` None when it has to be built."""
    folder = args.folder or tempfile.mkdtemp(prefix="svmr-scale-")
    backend = open_backend(args.backend, folder, dim, os.path.join(folder, "milvus.db"), "scale")
    built = os.path.join(folder, "build.json")
    if os.path.exists(built):
        with open(built) as handle:
            saved = json.load(handle)
        if {k: saved.get(k) for k in (*size, "seed")} == {**size, "seed": args.seed} and len(backend) == size["videos"]:
            log(f"{args.backend}: reusing the index in {folder} (built in {saved['build_s']:.0f} s)")
            return backend, folder, saved["build_s"]
    return backend, folder, None


def finish_build(args, backend, folder: str, size: dict, build_s: float, log) -> None:
    with open(os.path.join(folder, "build.json"), "w") as handle:
        json.dump({"build_s": build_s, **size, "seed": args.seed}, handle)
    if args.nprobe:
        backend.parameters["nprobe"] = args.nprobe
    if args.fetch:
        backend.parameters["fetch"] = args.fetch
    log(f"{args.backend}: built in {build_s:.0f} s, {backend.describe()}")


def recall(found: list[list[str]], truth: list[set[int]]) -> float:
    """Mean share of each query's exact top 10 among the backend's top 10."""
    return float(np.mean([len({int(v) for v in got} & want) / 10 for got, want in zip(found, truth)]))


def run_windows(args, log) -> dict:
    """``--model align``: see the module docstring."""
    gallery = window_gallery.WindowGallery(args.hours, args.seed)
    queries, about = gallery.queries(args.queries)
    size = {"model": "align", "hours": args.hours, "videos": len(gallery)}
    backend, folder, build_s = open_built(args, window_gallery.DIM, size, log)
    building, build_s = build_s is None, build_s or 0.0
    answers = os.path.join(folder, f"exact-{len(queries)}.npz")     # exact's answers, kept with the index
    if not building and os.path.exists(answers):
        with np.load(answers, allow_pickle=False) as saved:
            exact, exact_s, vectors = saved["exact"], saved["seconds"], int(saved["vectors"])
        log(f"reusing exact's answers in {answers}")
    else:
        exact, exact_s, vectors, build_s = stream_gallery(gallery, queries, backend if building else None, build_s, log)
        np.savez(answers, exact=exact, seconds=exact_s, vectors=vectors)
    finish_build(args, backend, folder, size, build_s, log)
    truth = [set(np.argsort(-exact[:, q], kind="stable")[:10].tolist()) for q in range(len(queries))]
    found = [backend.search(q, 10)[0] for q in queries]
    kinds = np.array([a["kind"] for a in about])
    hits = np.array([len({int(v) for v in got} & want) / 10 for got, want in zip(found, truth)])
    first_right = [int(got[0]) == a["video"] for got, a in zip(found, about) if a["kind"] == "copy" and got]
    exact_first = [int(np.argmax(exact[:, q])) == a["video"] for q, a in enumerate(about) if a["kind"] == "copy"]
    ms = time_queries(lambda q: backend.search(q, 10), queries)
    exact_ms = exact_s * 1000
    held = in_memory_bytes(backend, folder)
    rerank = os.path.getsize(backend._store()) if backend.name == "faiss" else 0
    return {"model": "align", "backend": args.backend, "hours": args.hours, "videos": len(gallery), "vectors": vectors,
            "dim": window_gallery.DIM, "median_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3), "recall_at_10": round(float(hits.mean()), 4),
            "recall_at_10_copies": round(float(hits[kinds == "copy"].mean()), 4),
            "recall_at_10_similar": round(float(hits[kinds == "similar"].mean()), 4),
            "copy_source_first": round(float(np.mean(first_right)), 4),
            "copy_source_first_exact": round(float(np.mean(exact_first)), 4),
            "exact_median_ms": round(float(np.median(exact_ms)), 1),
            "speedup": round(float(np.median(exact_ms) / np.median(ms)), 1), "build_s": round(build_s, 1),
            "ram_bytes": int(held), "rerank_bytes": int(rerank), "disk_bytes": folder_bytes(folder),
            "index": backend.describe() if backend.name != "faiss" else
            {k: v for k, v in backend.describe().items() if k in ("nlist", "m", "nprobe", "fetch", "reduce", "stored")}}


def stream_gallery(gallery, queries: np.ndarray, backend, build_s: float, log) -> tuple:
    """Generate ``gallery`` a batch of videos at a time: every video's max cosine with each query
    ``(videos, Q)``, exact's seconds for each of the first 5 queries (summed over the batches), the
    rows made, and ``build_s`` plus the seconds spent adding them to ``backend`` (None: not added)."""
    exact = np.full((len(gallery), len(queries)), -np.inf, np.float32)
    timed = queries[:5]
    exact_s, vectors, started = np.zeros(len(timed)), 0, time.perf_counter()
    for first in range(0, len(gallery), SYNC_BATCH):
        numbers = range(first, min(len(gallery), first + SYNC_BATCH))
        rows = [gallery.rows(n) for n in numbers]
        matrix = np.concatenate(rows)
        starts = np.concatenate([[0], np.cumsum([len(r) for r in rows])[:-1]])
        exact[first:first + len(rows)] = np.maximum.reduceat(matrix @ queries.T, starts, axis=0)
        for t, query in enumerate(timed):           # one query, exactly, over this batch's rows
            tick = time.perf_counter()
            np.maximum.reduceat(matrix @ query, starts)
            exact_s[t] += time.perf_counter() - tick
        vectors += len(matrix)
        if backend is not None:
            tick = time.perf_counter()
            backend.add_many([str(n) for n in numbers], rows)
            build_s += time.perf_counter() - tick
        log(f"{numbers.stop:,} of {len(gallery):,} videos, {vectors:,} rows, {time.perf_counter() - started:.0f} s")
    if backend is not None:
        tick = time.perf_counter()
        backend.save()
        build_s += time.perf_counter() - tick
    return exact, exact_s, vectors, build_s


def run_paper(args, log) -> dict:
    """``--model paper``: see the module docstring."""
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

    folder = None
    if args.backend == "exact":
        backend, build_s, held = exact, 0.0, matrix.nbytes + 16 * args.videos
    else:
        size = {"videos": args.videos}
        backend, folder, build_s = open_built(args, args.dim, size, log)
        if build_s is None:
            started = time.perf_counter()
            backend.add_many(ids, [matrix[i * args.per_video:(i + 1) * args.per_video] for i in range(args.videos)])
            backend.save()
            build_s = time.perf_counter() - started
        finish_build(args, backend, folder, size, build_s, log)
        held = in_memory_bytes(backend, folder)
    del matrix

    found = [backend.search(q, 10)[0] for q in queries]
    backend_ms = exact_ms if args.backend == "exact" else time_queries(lambda q: backend.search(q, 10), queries)
    return {"model": "paper", "backend": args.backend, "videos": args.videos, "vectors": args.videos * args.per_video,
            "median_ms": round(float(np.median(backend_ms)), 3),
            "p95_ms": round(float(np.percentile(backend_ms, 95)), 3), "recall_at_10": round(recall(found, truth), 4),
            "exact_median_ms": round(float(np.median(exact_ms)), 3), "build_s": round(build_s, 1),
            "bytes_per_video": int(held / args.videos), "ram_bytes": int(held),
            "disk_bytes": folder_bytes(folder) if folder else 0}


def compare_spectrum(galleries: list[str]) -> dict:
    """The default pipeline's stage-1 rows of real ``galleries``: their spectrum's power-law fit and
    cosine percentiles, beside a synthetic gallery's."""
    from svmr.gallery import Gallery
    from svmr.pipelines import build_pipeline
    from svmr.stage1_index import Stage1Index

    retriever, videos = build_pipeline("align").retriever, []
    for root in galleries:
        backend, _ = Stage1Index(Gallery(root), retriever, backend="exact").current()
        ids, matrix, starts = backend._pack()
        videos.extend(np.split(matrix, starts[1:]))
    i0, alpha, values = window_gallery.fit_spectrum(np.concatenate(videos))
    synthetic = window_gallery.WindowGallery(10, seed=0)
    made = [synthetic.rows(n) for n in range(len(synthetic))]
    share = window_gallery.spectrum() ** 2
    return {"rows": int(sum(len(v) for v in videos)), "fit_i0_alpha": [i0, round(alpha, 2)],
            "real": {"top": values[:4].round(3).tolist(), "variance_in_256": round(float(values[:256].sum()), 4),
                     **window_gallery.cosine_profile(videos)},
            "synthetic": {"spectrum": list(window_gallery.SPECTRUM), "top": share[:4].round(3).tolist(),
                          "variance_in_256": round(float(share[:256].sum()), 4), **window_gallery.cosine_profile(made)}}


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def in_memory_bytes(backend, folder: str) -> int:
    """faiss: the saved index's size (what it holds in RAM), its rotation, and 16 bytes of row
    bookkeeping and the id per video; milvus: the database's files (the engine holds them)."""
    if backend.name == "faiss":
        index = os.path.getsize(os.path.join(folder, "index.faiss")) if backend.index is not None else 0
        rotation = backend.rotation.nbytes if backend.rotation is not None else 0
        return index + rotation + sum(16 + len(v) + 49 for v in backend.ids)   # first/count + a str object
    return folder_bytes(folder)


if __name__ == "__main__":
    main()
