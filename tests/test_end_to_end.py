"""Train both stages on a tiny benchmark, index videos, search through the command line."""
import json

import pytest

from learning import assert_learns
from svmr.checkpoints import load_checkpoint
from svmr.cli import main


def test_train_index_search(tiny_benchmark, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    assert main(["train", "stage1", "--benchmark", tiny_benchmark, "--out", str(ckpt), "--steps", "20",
                 "--eval-every", "20", "--batch-size", "16"]) == 0
    assert main(["train", "stage2", "--benchmark", tiny_benchmark, "--out", str(ckpt), "--steps", "16",
                 "--eval-every", "8", "--batch-size", "4"]) == 0
    # stage 1's learning is asserted in test_stage1; stage 2's here
    assert_learns(load_checkpoint(str(ckpt / "stage2_attn_prod.safetensors"))[1]["history"])
    capsys.readouterr()
    gallery = tmp_path / "gallery"
    refs = sorted((tmp_path.parent / tiny_benchmark).glob("references/*.mp4"))[:3]
    assert main(["index", "--gallery", str(gallery), *map(str, refs), "--size", "96"]) == 0
    assert json.loads(capsys.readouterr().out)["videos"] == 3
    query = sorted((tmp_path.parent / tiny_benchmark).glob("queries/*.mp4"))[0]
    assert main(["search", "--gallery", str(gallery), "--query", str(query), "--top-videos", "2", "--json",
                 "--stage1", str(ckpt / "stage1_ctc_ae.safetensors"),
                 "--stage2", str(ckpt / "stage2_attn_prod.safetensors")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len({m["video"] for m in result["moments"]}) == 2
    first = result["moments"][0]
    assert {"video", "start", "end", "score", "video_score"} <= set(first)
    assert first["score"] == max(m["score"] for m in result["moments"])
    assert result["timings"]["total_s"] > 0


def test_default_pipeline_rows_on_a_benchmark(tiny_benchmark):
    """The procedural tables' `align` rows: stage 1 scores each reference by its best window
    (checked against the searcher's retriever on one pair), stage 2 proposes moments inside the
    reference, best first."""
    import numpy as np

    from svmr.data.datasets import BenchmarkFeatures
    from svmr.features.statistics import FrameStatistics
    from svmr.pipelines import build_pipeline
    from svmr.scoring import align_proposals, align_retrieval_scores
    from svmr.train.stage2 import evaluation_pairs

    data = BenchmarkFeatures(tiny_benchmark)
    queries, scores = align_retrieval_scores(data, "test")
    assert scores.shape == (len(queries), len(data.reference_ids)) and np.isfinite(scores).all()
    references = list(data.references.values())
    statistics = FrameStatistics.from_sums([f.sum(axis=1) for f in references], [f.shape[1] for f in references])
    retrieval = build_pipeline("align").retriever         # appearance and motion (small frames stored)
    ref = data.reference_ids[1]
    windows = retrieval.finalize(retrieval.reference_vectors(data.sequence("references", ref)), statistics)
    query = retrieval.finalize(retrieval.query_vector(data.sequence("queries", queries[0].id))[None], statistics)[0]
    assert scores[0, 1] == pytest.approx(float((windows @ query).max()), abs=1e-6)   # float32 sums
    pairs = evaluation_pairs(data, "test", 1)[:3]
    for proposals, (_, ref, _) in zip(align_proposals(data, pairs), pairs):
        assert proposals.shape[1] == 3 and len(proposals)
        assert (proposals[:, 0] < proposals[:, 1]).all() and proposals[:, 1].max() <= data.durations[ref] + 0.5
        assert (np.diff(proposals[:, 2]) <= 1e-9).all()
