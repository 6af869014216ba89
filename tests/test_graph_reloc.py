"""Seed 001: the graphs of section 4.3 against hand-drawn matrices, the model's shapes and losses,
its regression formulas, TAG grouping on a hand-made curve, and the frame-level DP baseline on a
planted copy."""
import numpy as np
import pytest
import torch

from learning import assert_learns
from svmr.models.graph_baselines import VideoLevelLSTM, VideoLevelConfig, frame_level_localize
from svmr.models.graph_reloc import (GraphReLocalization, GraphRelocConfig, adjacency, refine, regression_loss,
                                     regression_targets, to_steps, triplet_loss)
from svmr.models.tag import _regions, group_actionness

# Figure 6's case, T = 8 and k = 3, drawn by hand: rows 0-7 are query nodes, 8-15 proposal nodes.
# Within a video: |i - j| <= 3. Query node i to proposal node j: j - i a multiple of 3.
FIGURE_6 = """
1111000010010010
1111100001001001
1111110000100100
1111111010010010
0111111101001001
0011111100100100
0001111110010010
0000111101001001
1001001011110000
0100100111111000
0010010011111100
1001001011111110
0100100101111111
0010010000111111
1001001000011111
0100100100001111
"""


def test_adjacency_matches_the_hand_drawn_figure_6_case():
    drawn = torch.tensor([[float(c) for c in row] for row in FIGURE_6.split()])
    assert torch.equal(adjacency(8, 3), drawn)
    assert torch.equal(adjacency(8, 3), adjacency(8, 3).T)


def test_adjacency_with_k_1_links_neighbours_and_every_proposal_node():
    graph = adjacency(4, 1)
    assert graph[0, :4].tolist() == [1, 1, 0, 0] and graph[0, 4:].tolist() == [1, 1, 1, 1]
    assert graph[5, 4:].tolist() == [1, 1, 1, 0]


def test_sequences_are_resampled_or_zero_padded_to_t_steps():
    long = torch.arange(100, dtype=torch.float32)[None].repeat(3, 1)
    resampled, real = to_steps(long, 40)
    assert resampled.shape == (3, 40) and real == 40 and resampled[0, 0] == 0 and resampled[0, -1] == 99
    short, real = to_steps(long[:, :7], 40)
    assert real == 7 and torch.equal(short[:, :7], long[:, :7]) and (short[:, 7:] == 0).all()


SMALL = dict(feature_dim=16, steps=8, hidden=12, layers=2, graphs=3)


@pytest.mark.parametrize("convolution", ["graph", "cnn"])
def test_model_scores_in_range_and_trains_each_loss_on_its_own_parameters(convolution):
    torch.manual_seed(0)
    model = GraphReLocalization(GraphRelocConfig(convolution=convolution, **SMALL))
    queries = [torch.randn(16, 5), torch.randn(16, 20)]
    proposals = [torch.randn(16, 12), torch.randn(16, 3)]
    score, offsets = model(queries, proposals)
    assert score.shape == (2,) and offsets.shape == (2, 2) and (score.abs() <= 1).all()
    # the regression loss reaches only the regression module; the triplet loss never reaches it
    regression_loss(offsets, torch.zeros(2, 2)).backward()
    assert all(p.grad is None for p in model.triplet_parameters())
    assert all(p.grad is not None for p in model.regression_parameters())
    model.zero_grad(set_to_none=True)
    negative, _ = model(queries, [torch.randn(16, 9), torch.randn(16, 9)])
    score, _ = model(queries, proposals)
    triplet_loss(score, negative, model.triplet_parameters()).backward()
    assert all(p.grad is None for p in model.regression_parameters())


def test_graph_and_cnn_differ_only_by_the_adjacency():
    """The ablation replaces Â_k H̃ by H̃: with identity adjacencies the two are the same network."""
    torch.manual_seed(0)
    graph = GraphReLocalization(GraphRelocConfig(**SMALL)).eval()
    cnn = GraphReLocalization(GraphRelocConfig(convolution="cnn", **SMALL)).eval()
    cnn.load_state_dict(graph.state_dict())
    graph.adjacencies = torch.eye(16)[None].repeat(3, 1, 1)
    queries, proposals = [torch.randn(16, 8)], [torch.randn(16, 8)]
    with torch.no_grad():
        torch.testing.assert_close(graph(queries, proposals)[0], cnn(queries, proposals)[0])


def test_triplet_loss_is_the_margin_ranking_sum_plus_l2():
    weights = [torch.ones(2, 2)]
    loss = triplet_loss(torch.tensor([0.9, 0.1]), torch.tensor([0.2, 0.3]), weights)
    assert loss.item() == pytest.approx(max(0, 0.5 - 0.9 + 0.2) + (0.5 - 0.1 + 0.3) + 5e-3 * 4)


def test_regression_targets_and_refinement_invert_each_other():
    proposals = torch.tensor([[10.0, 20.0], [3.0, 4.0]])
    truths = torch.tensor([[12.0, 26.0], [2.0, 5.0]])
    targets = regression_targets(proposals, truths)
    assert targets[0].tolist() == pytest.approx([(15 - 19) / 14, np.log(10 / 14)])
    torch.testing.assert_close(refine(proposals, targets), truths)


def test_tag_grouping_on_a_hand_made_actionness_curve():
    curve = np.array([0.1, 0.9, 0.8, 0.2, 0.85, 0.1, 0.1, 0.1, 0.7, 0.75, 0.1])
    # threshold 0.5: positives at 1, 2, 4, 8, 9
    positive = curve > 0.5
    assert _regions(positive, 1.0) == [(1, 3), (4, 5), (8, 10)]                  # strict: only runs
    assert _regions(positive, 0.6) == [(1, 5), (8, 10)]                          # 1-4 holds 3/4 positive
    assert _regions(positive, 0.05) == [(1, 10)]                                 # everything joins
    proposals = group_actionness(curve, thresholds=(0.5,), tolerances=(1.0, 0.6, 0.05))
    found = {(int(s), int(e)) for s, e, _ in proposals}
    assert found == {(1, 3), (4, 5), (8, 10), (1, 5), (1, 10)}
    assert proposals[0, 2] == pytest.approx(0.85)                                # best first: mean of 1-2
    assert group_actionness(np.zeros(5)).shape == (0, 3)


def test_frame_level_baseline_finds_a_planted_copy():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(32, 120))
    query = reference[:, 40:56] + 0.05 * rng.normal(size=(32, 16))
    start, end, mean = frame_level_localize(query, reference)
    assert (start, end) == (40, 56) and mean < 0.05
    # a slowed copy (each query step twice) is still found: the path may move along the reference only
    slowed = np.repeat(reference[:, 70:80], 2, axis=1)
    start, end, _ = frame_level_localize(slowed, reference)
    assert (start, end) == (70, 80)


def test_video_level_lstm_gives_unit_vectors():
    model = VideoLevelLSTM(VideoLevelConfig(feature_dim=16, steps=8, hidden=6))
    codes = model.encode([torch.randn(16, 3), torch.randn(16, 30)])
    torch.testing.assert_close(codes.norm(dim=1), torch.ones(2))


def test_seed_001_trains_and_fills_its_tables_on_a_tiny_benchmark(tiny_benchmark, tmp_path):
    from svmr.checkpoints import load_checkpoint
    from svmr.cli import main
    from svmr.data.datasets import BenchmarkFeatures
    from svmr.tables import graph_tables

    ckpt = str(tmp_path / "ckpt")
    common = ["--benchmark", tiny_benchmark, "--out", ckpt, "--eval-every", "3"]
    assert main(["train", "actionness", *common, "--steps", "6", "--batch-size", "4"]) == 0
    assert main(["train", "graph", *common, "--steps", "6", "--batch-size", "4"]) == 0
    assert main(["train", "graph", *common, "--steps", "6", "--batch-size", "4", "--variant", "cnn"]) == 0
    assert main(["train", "video_level", "--benchmark", tiny_benchmark, "--out", ckpt, "--eval-every", "10",
                 "--steps", "20", "--batch-size", "8"]) == 0
    # the graph model: in six steps at its learning rate (1e-4) its triplet loss barely moves and
    # its regression term is noisy (28.45 → 27.07 in one run, 28.24 → 28.74 in another): its
    # weights must move, its loss is not asserted
    for name, fall in (("actionness", 0.95), ("graph_2x3", None), ("video_level", 0.95)):
        assert_learns(load_checkpoint(f"{ckpt}/{name}.safetensors")[1]["history"], fall)
    model, meta = load_checkpoint(f"{ckpt}/graph_2x3.safetensors")
    assert model.config.graphs == 3 and "mAP@1 mean" in meta["metrics"]["val"]
    table1, table3 = graph_tables(BenchmarkFeatures(tiny_benchmark), ckpt)
    for row in ("Chance", "Frame-level", "Video-level", "Ours (graph", "Ours (CNN)", "sliding-window"):
        assert row in table1
    assert "n = 2, k = 3" in table3
    values = [float(v) for line in table1.splitlines()[2:] for v in line.split("|")[2:-1]]
    assert values and all(0.0 <= v <= 1.0 for v in values)
    # the open choices reach the saved model: adjacency options, the triplet loss's λ
    assert main(["train", "graph", *common, "--steps", "2", "--batch-size", "4", "--layers", "1", "--graphs", "1",
                 "--normalize-adjacency", "--mask-padding", "--triplet-l2", "0"]) == 0
    model, meta = load_checkpoint(f"{ckpt}/graph_1x1.safetensors")
    assert model.config.normalize and model.config.mask_padding and "λ 0)" in meta["training"]["loss"]
