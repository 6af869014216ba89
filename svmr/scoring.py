"""The evaluation runners: the models run over a benchmark's features and over the real-footage
sets, each giving the scores a table is made of (:mod:`svmr.tables` writes the report; the
calibration, the benchmarks and the tests read the same scores)."""
from __future__ import annotations

import os

import numpy as np

from . import evaluation as E
from .backends import ExactBackend
from .data.benchmark import reference_path
from .data.datasets import BenchmarkFeatures, features_config
from .features.statistics import FrameStatistics
from .pipelines import build_pipeline


def _align_parts(data: BenchmarkFeatures, pipeline=None):
    """The default pipeline (or ``pipeline``), the frame statistics it would have on this
    benchmark's references as its gallery, and the features' steps per second."""
    references = list(data.references.values())
    statistics = FrameStatistics.from_sums([f.sum(axis=1) for f in references], [f.shape[1] for f in references])
    return pipeline or build_pipeline("align"), statistics, features_config(data.root, data.key).rate


def align_retrieval_scores(data: BenchmarkFeatures, split: str, pipeline=None) -> tuple[list, np.ndarray]:
    """The default pipeline's stage 1 (or ``pipeline``'s), as the search runs it (its retriever's
    vectors in the exact backend): ``(Q, R)`` max window cosines, each reference at its own length."""
    pipeline, statistics, _ = _align_parts(data, pipeline)
    retriever, backend = pipeline.retriever, ExactBackend()
    for ref in data.reference_ids:
        backend.add(ref, retriever.finalize(retriever.reference_vectors(data.sequence("references", ref)), statistics))
    queries = data.benchmark.queries_of(split)
    column = {ref: index for index, ref in enumerate(data.reference_ids)}
    scores = np.zeros((len(queries), len(column)), np.float32)
    for row, query in enumerate(queries):
        vector = retriever.finalize(retriever.query_vector(data.sequence("queries", query.id))[None], statistics)[0]
        ids, best = backend.scores(vector.astype(np.float32))
        scores[row, [column[ref] for ref in ids]] = best
    return queries, scores


def align_proposals(data: BenchmarkFeatures, pairs: list[tuple], top_k: int = 100, pipeline=None) -> list[np.ndarray]:
    """The default pipeline's stage 2, as the search runs it, on each query–reference pair: ``(K, 3)``
    rows ``(start_s, end_s, score)``."""
    pipeline, statistics, _ = _align_parts(data, pipeline)
    localizer, out = pipeline.localizer, []
    for query, ref, _ in pairs:
        prepared = localizer.prepare_query(data.sequence("queries", query.id), statistics)
        found = localizer.localize(prepared, data.sequence("references", ref), data.durations[ref], statistics, top_k)
        out.append(found.moments[:, :3])
    return out


def top_moment_tiou(result, truth: dict[str, list]) -> float:
    """tIoU of a search's best-ranked moment with the query's moments in its video
    (``truth``: video id → ``[[start, end], ...]``); 0 when that video holds none."""
    top = result.moments[0]
    return float(E.tiou([top.start, top.end], truth[top.video]).max()) if truth.get(top.video) else 0.0


def _query_cells(result, moments: dict[str, list]) -> dict:
    """One search's cells of :func:`real_footage_scores` (``moments``: video id → the query's
    moments there); a search that found nothing (untrained weights do) is a miss."""
    from .models.match import COPY, NOTHING_CLOSE, PARTIAL_COPY

    length = result.query["end"] - result.query["start"]
    cells = {"nothing": result.verdict == NOTHING_CLOSE, "seconds": result.timings["total_s"]}
    if not result.moments:
        return {"hit": False, "tiou": 0.0, "inside": False, "ratio": 0.0, "short": True, "copy": None, **cells}
    top = result.moments[0]
    return {"hit": result.videos[0].video in moments, "tiou": top_moment_tiou(result, moments),
            "inside": E.inside_share(top.start, top.end, moments.get(top.video, [])) >= 0.5,
            "ratio": (top.end - top.start) / length,
            "short": (top.end - top.start) < length / 2 and top.match != PARTIAL_COPY,
            "copy": top.match in (COPY, PARTIAL_COPY) if top.match else None, **cells}


def real_footage_scores(set_dir: str, searchers: dict, groups: dict[str, str] | None = None) -> dict[str, dict]:
    """Every query of a real-footage set (Benchmark format) searched with each ``name → Searcher``.

    A query's moments are the spans labelled with its label (its own id in the copy sets, its kind
    in the similar-moments set). Per method: HR@1 (a video holding one of them comes first), top
    tIoU ≥ 0.5 (the best-ranked moment overall overlaps one), the mean of that tIoU (0 when the top
    moment's video holds none), top inside (at least half of the top moment lies inside one), the
    median of the top moment's length over the query's, short (the share of top moments shorter
    than half the query and not labelled a partial copy), labelled copy (the share of top moments
    labelled copy or partial copy; None for models that do not label), nothing close (the share
    of searches saying so) and the median search time.

    ``groups`` (query id → group name): also one row per method and group, keyed ``(name, group)``.
    """
    from .data.benchmark import Benchmark

    bench = Benchmark.load(os.path.join(set_dir, "manifest.json"))
    truth = bench.moments_by_label()
    queries = [(query.id, os.path.join(set_dir, "queries", f"{query.id}.mp4"), 0.0, None, truth.get(query.label, {}))
               for query in bench.queries]
    return query_scores(searchers, queries, groups)


def query_scores(searchers: dict, queries: list[tuple], groups: dict[str, str] | None = None) -> dict[str, dict]:
    """:func:`real_footage_scores`' rows for ``queries``: each ``(id, file, start, end, {video id:
    [[start, end], ...]})``, the clip ``[start, end)`` of the file searched (top 3 videos, 5
    moments each) and scored against its moments."""
    rows = {}
    for name, searcher in searchers.items():
        cells = []
        for query_id, path, start, end, moments in queries:
            result = searcher.search(path, start, end, top_videos=3, moments_per_video=5)
            cells.append((query_id, _query_cells(result, moments)))
        rows[name] = _summary([c for _, c in cells])
        for group in sorted(set((groups or {}).values())):
            rows[name, group] = _summary([c for query, c in cells if groups.get(query) == group])
    return rows


def _summary(cells: list[dict]) -> dict:
    """:func:`real_footage_scores`' row from its searches' :func:`_query_cells`."""
    column = {key: [c[key] for c in cells] for key in cells[0]}
    labelled = [c for c in column["copy"] if c is not None]
    return {"HR@1": float(np.mean(column["hit"])), "top tIoU ≥ 0.5": float(np.mean(np.array(column["tiou"]) >= 0.5)),
            "mean top tIoU": float(np.mean(column["tiou"])), "top inside": float(np.mean(column["inside"])),
            "length / query": float(np.median(column["ratio"])), "short": float(np.mean(column["short"])),
            "labelled copy": float(np.mean(labelled)) if labelled else None,
            "nothing close": float(np.mean(column["nothing"])),
            "median s / search": float(np.median(column["seconds"]))}


#: the columns of each kind of real-footage set
COPY_SET_KEYS = ["HR@1", "top tIoU ≥ 0.5", "mean top tIoU", "short", "labelled copy", "median s / search"]
SIMILAR_SET_KEYS = ["HR@1", "top inside", "length / query", "short", "labelled copy", "nothing close",
                    "median s / search"]


def set_gallery(set_dir: str, config=None, feature_precision: str = "float16"):
    """A real-footage set's ``(Benchmark, Gallery, FeatureExtractor)``: its references indexed into
    ``<set>/gallery-<extractor key>`` on first use (``-<precision>`` after it for features stored
    otherwise than float16: :data:`~svmr.gallery.FEATURE_PRECISIONS`)."""
    from .data.benchmark import Benchmark
    from .features import ExtractorConfig, FeatureExtractor
    from .gallery import Gallery

    bench = Benchmark.load(os.path.join(set_dir, "manifest.json"))
    config = config or ExtractorConfig()
    suffix = "" if feature_precision == "float16" else f"-{feature_precision}"
    gallery = Gallery(os.path.join(set_dir, f"gallery-{config.key()}{suffix}"), config, feature_precision)
    extractor = FeatureExtractor(gallery.config)
    for ref in bench.references:
        gallery.add(reference_path(set_dir, ref.id), extractor, video_id=ref.id)
    return bench, gallery, extractor
