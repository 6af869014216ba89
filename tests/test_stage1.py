"""Stage 1: CTC layers, the two-branch auto-encoder, its loss and labels, checkpoints, training."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from learning import assert_learns
from svmr.checkpoints import load_checkpoint, save_checkpoint
from svmr.models.ctc import ConceptTemporalConv, TemporalConv
from svmr.models.retrieval import (Stage1Config, TwoBranchAutoEncoder, init_from_pca, max_cosine_scores, quarter_labels,
                                   stage1_loss)


def test_ctc_filters_are_shared_across_concepts():
    layer = ConceptTemporalConv(1, 32)
    x = torch.randn(2, 5, 10, 1)
    y = layer(x)
    assert y.shape == (2, 5, 10, 32)
    # concept 3 given concept 0's signal gives concept 0's output: same filters for every concept
    x2 = x.clone()
    x2[:, 3] = x[:, 0]
    torch.testing.assert_close(layer(x2)[:, 3], y[:, 0])
    # and no mixing across concepts
    x3 = x.clone()
    x3[:, 4] += 1
    torch.testing.assert_close(layer(x3)[:, :4], y[:, :4])
    assert sum(p.numel() for p in layer.parameters()) == 32 * 3 + 32
    assert TemporalConv(5)(x).shape == (2, 5, 10, 1)


@pytest.mark.parametrize("overrides", [{}, {"layer": "conv1d"}, {"shared": True}])
def test_two_branch_shapes(overrides):
    config = Stage1Config(feature_dim=24, embed_dim=16, **overrides)
    model = TwoBranchAutoEncoder(config)
    out = model(torch.randn(3, 24, 4), torch.randn(3, 24, 100))
    assert out["e_q"].shape == (3, 16) and out["e_r"].shape == (3, 16, 4)
    assert out["cosines"].shape == (3, 4)
    assert out["query_recon"].shape == (3, 24, 4) and out["reference_recon"].shape == (3, 24, 100)
    # any input length is resized (l_q = 4, l_r = 100)
    assert model.encode_query(torch.randn(2, 24, 17)).shape == (2, 16)
    assert model.encode_reference(torch.randn(2, 24, 333)).shape == (2, 16, 4)
    if overrides.get("shared"):
        assert model.query_encoder is model.reference_encoder


def test_max_cosine_matches_the_definition():
    e_q, e_r = torch.randn(3, 8), torch.randn(5, 8, 4)
    scores = max_cosine_scores(e_q, e_r)
    for q in range(3):
        for r in range(5):
            want = max(float(torch.nn.functional.cosine_similarity(e_q[q], e_r[r, :, i], dim=0)) for i in range(4))
            assert scores[q, r].item() == pytest.approx(want, abs=1e-5)


def test_quarter_labels():
    # 40 s reference, quarters of 10 s
    assert quarter_labels([], 40.0).tolist() == [-1, -1, -1, -1]
    assert quarter_labels([(12.0, 16.0)], 40.0).tolist() == [-1, 1, -1, -1]
    # an instance straddling a boundary counts where at least half of it lies
    assert quarter_labels([(18.0, 21.0)], 40.0).tolist() == [-1, 1, -1, -1]
    # a long instance marks every quarter it covers by at least half a quarter
    assert quarter_labels([(5.0, 40.0)], 40.0).tolist() == [1, 1, 1, 1]


def test_loss_terms_and_no_ae_variant():
    model = TwoBranchAutoEncoder(Stage1Config(feature_dim=12, embed_dim=8))
    out = model(torch.randn(2, 12, 4), torch.randn(2, 12, 100))
    labels = torch.tensor([[1.0, -1, -1, -1], [-1.0, -1, -1, -1]])
    full = stage1_loss(out, labels)
    sim_only = stage1_loss(out, labels, use_reconstruction=False)
    assert full["loss"].item() == pytest.approx(2 * full["similarity"].item() + full["recon_query"].item()
                                               + full["recon_reference"].item(), rel=1e-5)
    assert sim_only["loss"].item() == pytest.approx(2 * full["similarity"].item(), rel=1e-5)
    perfect = {**out, "cosines": labels}
    assert stage1_loss(perfect, labels)["similarity"].item() == 0.0


def test_checkpoint_round_trip(tmp_path):
    for shared in (False, True):
        config = Stage1Config(feature_dim=12, embed_dim=8, shared=shared)
        model = TwoBranchAutoEncoder(config).eval()
        model.set_normalization(torch.rand(12), torch.rand(12) + 0.5)
        path = save_checkpoint(model, str(tmp_path / f"m{shared}.safetensors"), "stage1", config.to_dict(),
                               metrics={"val": {"HR@1": 0.5}}, command="test")
        loaded, meta = load_checkpoint(path)
        assert meta["metrics"]["val"]["HR@1"] == 0.5 and meta["command"] == "test"
        q, r = torch.randn(2, 12, 9), torch.randn(3, 12, 50)
        torch.testing.assert_close(loaded.encode_query(q), model.encode_query(q))
        torch.testing.assert_close(loaded.encode_reference(r), model.encode_reference(r))


def test_tiny_training_run_writes_a_loadable_checkpoint(tiny_benchmark, tmp_path):
    from svmr.data.datasets import BenchmarkFeatures
    from svmr.train.stage1 import retrieval_scores, train_stage1

    data = BenchmarkFeatures(tiny_benchmark)
    meta = train_stage1(tiny_benchmark, str(tmp_path), steps=30, batch_size=16, eval_every=15, data=data,
                        command="pytest", log=lambda line: None)
    assert set(meta["metrics"]) == {"val", "test"} and "HR@1" in meta["metrics"]["test"]
    assert meta["history"][-1]["step"] == 30
    assert_learns(meta["history"])
    model, saved = load_checkpoint(str(tmp_path / "stage1_ctc_ae.safetensors"))
    assert saved["metrics"] == json.loads(json.dumps(meta["metrics"]))
    queries, scores = retrieval_scores(model, data, "test")
    assert scores.shape == (len(queries), len(data.reference_ids)) and np.isfinite(scores).all()


def test_one_branch_training_learns(tiny_benchmark, tmp_path):
    from svmr.data.datasets import BenchmarkFeatures
    from svmr.train.stage1 import train_one_branch

    meta = train_one_branch(tiny_benchmark, str(tmp_path), steps=20, batch_size=16, eval_every=10,
                            data=BenchmarkFeatures(tiny_benchmark), log=lambda line: None)
    assert_learns(meta["history"])


def test_one_branch_losses():
    from svmr.models.retrieval import OneBranchEncoder, arcface_loss, triplet_loss

    model = OneBranchEncoder(Stage1Config(feature_dim=12, embed_dim=8, shared=True), num_classes=3)
    assert model.encode_query(torch.randn(2, 12, 7)).shape == (2, 8)
    assert model.encode_reference(torch.randn(2, 12, 300)).shape == (2, 8, 1)
    a = torch.tensor([[1.0, 0.0]])
    assert triplet_loss(a, a, -a).item() == 0.0                      # perfectly ranked
    assert triplet_loss(a, -a, a).item() == pytest.approx(2.2)        # 0.2 - (-1) + 1
    classes = torch.eye(3, 8)
    good = arcface_loss(classes * 5, classes, torch.arange(3))
    bad = arcface_loss(classes * 5, classes, torch.tensor([1, 2, 0]))
    assert good < bad


@pytest.mark.parametrize("f_in, f_out", [(1, 32), (4, 6), (32, 1), (6, 4)])
def test_ctc_matches_a_conv1d_over_each_concept(f_in, f_out):
    from einops import rearrange

    layer = ConceptTemporalConv(f_in, f_out)
    x = torch.randn(2, 5, 9, f_in)
    want = rearrange(layer.conv(rearrange(x, "b c l f -> (b c) f l")), "(b c) f l -> b c l f", b=2)
    torch.testing.assert_close(layer(x), want, atol=1e-5, rtol=1e-5)


def test_balanced_similarity_loss_resists_collapse():
    labels = torch.tensor([[1.0, -1, -1, -1], [-1.0, -1, -1, -1]])
    collapsed = {"cosines": torch.full((2, 4), -1.0), "query_recon": torch.zeros(1), "query_input": torch.zeros(1),
                 "reference_recon": torch.zeros(1), "reference_input": torch.zeros(1)}
    # every cosine at -1: the one positive quarter carries half the weight -> 0.5 * (−1 − 1)² = 2
    assert stage1_loss(collapsed, labels)["similarity"].item() == pytest.approx(2.0)
    assert stage1_loss(collapsed, labels, balanced=False)["similarity"].item() == pytest.approx(4 / 8)


@pytest.mark.parametrize("seed", range(5))
def test_reconstruction_loss_reaches_both_encoders(seed):
    """CTC filters are shared by all concepts: a badly initialized 1→1 layer + ReLU switched whole
    decoders off (constant output, zero gradient into the encoders) for most seeds."""
    torch.manual_seed(seed)
    model = TwoBranchAutoEncoder(Stage1Config(feature_dim=64))
    out = model(torch.randn(4, 64, 7), torch.randn(4, 64, 50))
    recon = F.mse_loss(out["query_recon"], out["query_input"]) + F.mse_loss(out["reference_recon"], out["reference_input"])
    recon.backward()
    assert model.query_encoder.project.weight.grad.norm() > 1e-3
    assert model.reference_encoder.project.weight.grad.norm() > 1e-3
    assert out["query_recon"].std() > 1e-2


def test_pca_init_starts_as_a_pca_auto_encoder():
    """Data on a 6-dimensional subspace of 24 channels: with the PCA init the untrained model
    reconstructs every step (up to the CTC filters' small random part and the query's pooling in
    time) and ranks by the subspace coordinates; with the random init it does not."""
    torch.manual_seed(0)
    config = Stage1Config(feature_dim=24, embed_dim=12)
    basis = torch.linalg.qr(torch.randn(24, 6))[0]                      # (24, 6) orthonormal
    steps = torch.randn(5000, 6) @ basis.T                               # (N, 24) on the subspace
    pca, random_init = TwoBranchAutoEncoder(config), TwoBranchAutoEncoder(config)
    assert init_from_pca(pca, steps) == pytest.approx(1.0, abs=1e-5)     # 6 components explain all
    reference = (torch.randn(8, 6) @ basis.T)[:, :, None].expand(8, 24, 100)  # constant in time
    query = torch.randn(8, 24, 4)
    errors = {}
    for name, model in (("pca", pca), ("random", random_init)):
        out = model(query, reference)
        errors[name] = F.mse_loss(out["reference_recon"], out["reference_input"]).item()
    assert errors["pca"] < 0.05 * F.mse_loss(reference, torch.zeros_like(reference)).item()
    assert errors["pca"] < 0.1 * errors["random"]
    # each reference is most similar to a query showing the same content
    scores = max_cosine_scores(pca.encode_query(reference[:, :, :4]), pca.encode_reference(reference))
    assert (scores.argmax(dim=1) == torch.arange(8)).all()


def test_pca_init_training_records_the_initial_validation(tiny_benchmark, tmp_path):
    from svmr.data.datasets import BenchmarkFeatures
    from svmr.train.stage1 import train_stage1

    data = BenchmarkFeatures(tiny_benchmark)
    # the PCA sample: the steps the normalization uses, all of them when fewer than asked
    every = np.concatenate([data.queries[q.id] for q in data.benchmark.queries_of("train")]
                           + list(data.references.values()), axis=1)
    picked = data.sample_steps("train", 50, seed=3)
    assert picked.shape == (every.shape[0], 50)
    assert {col.tobytes() for col in picked.T} <= {col.tobytes() for col in every.T}
    np.testing.assert_array_equal(data.sample_steps("train", 10 ** 9), every)

    meta = train_stage1(tiny_benchmark, str(tmp_path), steps=4, batch_size=4, eval_every=2, init="pca",
                        freeze_projection=True, data=data, log=lambda *_: None)
    assert meta["history"][0]["step"] == 0 and "mAP@10" in meta["history"][0]
    assert meta["training"]["init"] == "pca" and 0 < meta["training"]["pca_explained_variance"] <= 1
    model, _ = load_checkpoint(str(tmp_path / "stage1_ctc_ae.safetensors"))
    torch.manual_seed(0)                                   # the trainer's seed: the same initial weights
    fresh = TwoBranchAutoEncoder(model.config)
    fresh.set_normalization(model.mean, model.std)
    init_from_pca(fresh, fresh._normalize(torch.from_numpy(data.sample_steps("train", 20000))[None])[0].T)
    # frozen: the projections are still exactly the PCA ones; the CTC filters moved
    torch.testing.assert_close(model.reference_encoder.project.weight, fresh.reference_encoder.project.weight)
    assert not torch.equal(model.reference_encoder.layers[1].conv.weight, fresh.reference_encoder.layers[1].conv.weight)
    torch.testing.assert_close(model.query_decoder.project.weight, fresh.query_decoder.project.weight)
    with pytest.raises(ValueError, match="init='pca'"):
        train_stage1(tiny_benchmark, str(tmp_path), steps=1, freeze_projection=True, data=data, log=lambda *_: None)
