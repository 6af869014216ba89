"""Search speed and memory on this machine (prints markdown tables).

    python benchmarks/speed.py [--gallery data/speed-gallery] [--benchmark data/benchmark]

1. Stage-1 search: exact max-over-4 cosine against N gallery videos (random unit embeddings).
2. Stage 2 per candidate at l_r = 100: the fused implementation against the straightforward dense
   one (BMN's dense T × (N·T·T) sampling matrix, Conv3d on the full BM map); maps compared.
3. End to end: a 10-second query clip (feature extraction included) against a 100-video gallery
   indexed from the benchmark's reference videos, with the bundled checkpoints.

Each measurement runs in its own process so that its peak resident memory can be reported.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np
import torch


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def stage1_search(num_videos: int) -> dict:
    from svmr.models.retrieval import reference_index, search_index

    generator = torch.Generator().manual_seed(0)
    index = reference_index(torch.randn(num_videos, 512, 4, generator=generator))  # built once per gallery
    e_q = torch.randn(1, 512, generator=generator)
    ms = _median_ms(lambda: torch.topk(search_index(e_q, index, 4)[0], min(10, num_videos)), 5)
    return {"ms": ms, "peak_mib": _peak_mib()}


def stage2_candidate(dense: bool) -> dict:
    from svmr.models.relocalization import ReLocalizationNetwork

    torch.manual_seed(0)
    model = ReLocalizationNetwork().eval()
    query, reference = torch.randn(1, 1280, 40), torch.randn(1, 1280, 100)
    with torch.no_grad():
        run = (lambda: model.dense_forward(query, reference)) if dense else (lambda: model(query, reference))
        ms = _median_ms(run, 3)
        maps = run()
    return {"ms": ms, "peak_mib": _peak_mib(), "m_c": maps[0].numpy()}


def end_to_end(gallery_dir: str, benchmark: str) -> dict:
    from svmr.data.benchmark import Benchmark
    from svmr.data.footage import footage_path
    from svmr.features import FeatureExtractor
    from svmr.gallery import Gallery
    from svmr.search import Searcher

    bench = Benchmark.load(os.path.join(benchmark, "manifest.json"))
    gallery = Gallery(gallery_dir)
    extractor = FeatureExtractor(gallery.config)
    started = time.perf_counter()
    for ref in bench.references[:100]:
        gallery.add(os.path.join(benchmark, "references", f"{ref.id}.mp4"), extractor)
    index_s = time.perf_counter() - started
    searcher = Searcher(gallery, extractor=extractor)
    query = footage_path("vtest.avi") or footage_path("bikes.mp4")
    searcher.search(query, 0.0, 10.0)  # warm-up: stage-1 embeddings of the gallery are computed once
    totals, stages = [], []
    for start in (10.0, 30.0, 50.0):
        result = searcher.search(query, start, start + 10.0)
        totals.append(result.timings["total_s"])
        stages.append(result.timings)
    return {"index_s": index_s, "videos": len(gallery), "total_s": float(np.median(totals)),
            "timings": stages[int(np.argsort(totals)[1])], "peak_mib": _peak_mib()}


def _in_process(fn, *args):
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", default="data/speed-gallery")
    parser.add_argument("--benchmark", default="data/benchmark")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, torch {torch.__version__}\n")
    print("| stage-1 search (exact, max over 4, prebuilt index) | ms / query | peak MiB |\n|---|---:|---:|")
    for n in (100, 1000, 10000, 100000):
        r = _in_process(stage1_search, n)
        print(f"| {n} videos | {r['ms']:.2f} | {r['peak_mib']:.0f} |", flush=True)
    fused, dense = _in_process(stage2_candidate, False), _in_process(stage2_candidate, True)
    diff = float(np.abs(fused["m_c"] - dense["m_c"]).max())
    print("\n| stage 2, one candidate, l_r = 100 | ms | peak MiB |\n|---|---:|---:|")
    print(f"| fused (project, then sparse BM sampling) | {fused['ms']:.0f} | {fused['peak_mib']:.0f} |")
    print(f"| dense (BMN's T × N·T·T matrix, Conv3d on F_r) | {dense['ms']:.0f} | {dense['peak_mib']:.0f} |")
    print(f"\nspeed-up {dense['ms'] / fused['ms']:.1f}×; max |ΔM_C| between the two = {diff:.2e}")
    if os.path.exists(os.path.join(args.benchmark, "manifest.json")):
        r = _in_process(end_to_end, args.gallery, args.benchmark)
        t = r["timings"]
        print(f"\nend to end, 10-s query of vtest.avi against {r['videos']} videos (index built in "
              f"{r['index_s']:.0f} s): median {r['total_s'] * 1000:.0f} ms — query features "
              f"{t['query_features_s'] * 1000:.0f} ms, stage 1 {t['stage1_s'] * 1000:.0f} ms, stage 2 "
              f"{t['stage2_s'] * 1000:.0f} ms (10 candidates); peak {r['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
