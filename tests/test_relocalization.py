"""Stage 2: ATLN shapes and ablations, the fused path against a dense reference, the BMN loss."""
import numpy as np
import pytest
import torch

from svmr.checkpoints import load_checkpoint, save_checkpoint
from svmr.models.relocalization import FUSIONS, ReLocalizationNetwork, Stage2Config
from svmr.postprocess import boundary_candidates, boundary_mask
from svmr.train.bmn_targets import boundary_loss, boundary_targets, gt_iou_map, proposal_loss

SMALL = dict(feature_dim=16, length=20, num_bins=4, channels=8, hidden_3d=12, hidden_2d=8)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_maps_shapes_and_validity(fusion):
    model = ReLocalizationNetwork(Stage2Config(fusion=fusion, **SMALL))
    m_c, m_r = model(torch.randn(2, 16, 5), torch.randn(2, 16, 37))
    assert m_c.shape == m_r.shape == (2, 20, 20)
    valid = model.bm.valid_mask()
    assert (m_c[:, ~valid] == 0).all() and (m_c[:, valid] > 0).all() and (m_c <= 1).all()


@pytest.mark.parametrize("attention", ["cosine", "dot"])
def test_fused_atln_equals_dense_reference(attention):
    torch.manual_seed(0)
    model = ReLocalizationNetwork(Stage2Config(attention=attention, **SMALL)).eval()
    query, reference = torch.randn(2, 16, 6), torch.randn(2, 16, 20)
    with torch.no_grad():
        fast = model(query, reference)
        slow = model.dense_forward(query, reference)
    torch.testing.assert_close(fast[0], slow[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast[1], slow[1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("attention", ["cosine", "dot"])
def test_fused_atln_equals_dense_reference_with_trained_biases(attention):
    """Non-zero biases, as after training: BMN's dense layer gives ReLU(bias) (not 0) where the BM
    map is zero, which the 3×3 heads see along the valid triangle's edge; the fused path must too."""
    torch.manual_seed(1)
    model = ReLocalizationNetwork(Stage2Config(attention=attention, **SMALL)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "bias" in name:
                parameter.copy_(torch.randn_like(parameter))
        query, reference = torch.randn(2, 16, 6), torch.randn(2, 16, 20)
        fast = model(query, reference)
        slow = model.dense_forward(query, reference)
    assert model.head_3d_bias.abs().min() > 0
    torch.testing.assert_close(fast[0], slow[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast[1], slow[1], atol=1e-5, rtol=1e-4)


def test_cosine_attention_stays_off_the_sigmoid_ends():
    """The dot-product attention saturates once features grow (seen in training: all 1 or all 0,
    no gradient); the cosine form is bounded by σ(±s) whatever the scale of the features."""
    torch.manual_seed(0)
    for attention in ("cosine", "dot"):
        model = ReLocalizationNetwork(Stage2Config(attention=attention, **SMALL))
        f_c, f_r = 50 * torch.rand(2, 8), 50 * torch.rand(2, 8, 20)     # large ReLU-like features
        att = model.attention_map(f_c, f_r)
        saturated = ((att < 1e-3) | (att > 1 - 1e-3)).float().mean()
        if attention == "cosine":
            bound = torch.sigmoid(torch.tensor(model.config.attention_scale))
            assert saturated == 0 and (att <= bound + 1e-6).all() and (att >= 1 - bound - 1e-6).all()
        else:
            assert saturated > 0.5


def test_checkpoints_without_the_attention_option_load_as_dot(tmp_path):
    config = {k: v for k, v in Stage2Config(**SMALL).to_dict().items() if k not in ("attention", "attention_scale")}
    model = ReLocalizationNetwork(Stage2Config(attention="dot", **SMALL))
    save_checkpoint(model, str(tmp_path / "old.safetensors"), "stage2", config)
    assert load_checkpoint(str(tmp_path / "old.safetensors"))[0].config.attention == "dot"


def test_gt_iou_map():
    gt = gt_iou_map([(2.0, 4.0)], duration=10.0, length=10)   # steps [2, 4)
    assert gt[2, 1] == pytest.approx(1.0)                       # start 2, duration index 1 -> [2, 4)
    assert gt[2, 0] == pytest.approx(0.5)                       # [2, 3)
    assert gt[9, 1] == 0.0                                      # invalid: 9 + 1 >= 10


def test_loss_has_no_nan_without_positives_and_is_lower_for_the_truth():
    valid = torch.ones(10, 10).triu().flip(1).bool()            # start + duration < 10
    gt = gt_iou_map([(2.0, 4.0)], 10.0, 10)[None]
    good = proposal_loss(gt.clamp(0.01, 0.99), gt.clamp(0.01, 0.99), gt, valid, generator=torch.Generator().manual_seed(0))
    bad = proposal_loss(1 - gt.clamp(0.01, 0.99), 1 - gt.clamp(0.01, 0.99), gt, valid,
                        generator=torch.Generator().manual_seed(0))
    assert good["loss"] < bad["loss"]
    empty = proposal_loss(torch.full((1, 10, 10), 0.5), torch.full((1, 10, 10), 0.5), torch.zeros(1, 10, 10), valid)
    assert torch.isfinite(empty["loss"]) and empty["reg"] == 0


def test_2dtan_proposal_map_is_window_max():
    from svmr.models.tan2d import Tan2dConfig, VideoQueryTAN, scaled_iou_loss

    model = VideoQueryTAN(Tan2dConfig(feature_dim=6, clips=8, hidden=4, layers=1, kernel=3))
    clips = torch.randn(2, 4, 8)
    pooled = model.proposal_map(clips)
    assert pooled.shape == (2, 4, 8, 8)
    for s, d in [(0, 0), (1, 3), (0, 7), (5, 2)]:
        torch.testing.assert_close(pooled[:, :, s, d], clips[:, :, s:s + d + 1].amax(-1))
    scores, ones = model(torch.randn(2, 6, 3), torch.randn(2, 6, 20))
    assert scores.shape == (2, 8, 8) and (scores[:, 7, 1] == 0).all() and ones[0, 0, 0] == 1
    iou = torch.zeros(1, 8, 8)
    iou[0, 2, 1] = 1.0
    valid = model.valid.float()
    good, bad = torch.full((1, 8, 8), 0.01), torch.full((1, 8, 8), 0.99)
    good[0, 2, 1] = 0.99
    assert scaled_iou_loss(good, iou, valid) < scaled_iou_loss(bad, iou, valid)


def test_video_reloc_maps_and_labels():
    from svmr.models.video_reloc import CrossGatedMatching, VideoRelocConfig, boundary_labels, boundary_loss

    model = CrossGatedMatching(VideoRelocConfig(feature_dim=6, length=10, hidden=8, factors=4))
    m_c, m_r = model(torch.randn(2, 6, 3), torch.randn(2, 6, 25))
    assert m_c.shape == (2, 10, 10) and (m_c[:, 9, 1] == 0).all()
    labels = boundary_labels([(2.0, 5.0)], duration=10.0, length=10)
    assert labels[:, 0].nonzero().flatten().tolist() == [2]
    assert labels[:, 1].nonzero().flatten().tolist() == [4]
    assert labels[:, 2].nonzero().flatten().tolist() == [2, 3, 4]
    logits = model.step_logits(model.encode_query(torch.randn(1, 6, 3)), model.encode_reference(torch.randn(1, 6, 10)))
    assert torch.isfinite(boundary_loss(logits, labels[None]))


def test_boundary_targets_follow_bmn_labels():
    """A moment from 4.5 to 8.5 steps (of 20): the start region is the 3 steps [3, 6], covering
    half of step 3's start anchor [2.5, 3.5], all of steps 4 and 5's, half of step 6's; the end
    region [7, 10] likewise covers the end anchors [t + 0.5, t + 1.5] of steps 6 (half) to 9 (half)."""
    targets = boundary_targets([(2.25, 4.25)], duration=10.0, length=20)
    start, end = targets[0].tolist(), targets[1].tolist()
    assert start == pytest.approx([0, 0, 0, 0.5, 1, 1, 0.5] + [0] * 13)
    assert end == pytest.approx([0] * 6 + [0.5, 1, 1, 0.5] + [0] * 10)


def test_boundary_loss_prefers_the_true_boundaries():
    targets = boundary_targets([(2.25, 4.25)], duration=10.0, length=20)[None]
    right = targets.clamp(0.05, 0.95)
    wrong = (1 - targets).clamp(0.05, 0.95)
    assert boundary_loss(right, targets) < boundary_loss(wrong, targets)
    assert torch.isfinite(boundary_loss(torch.full((1, 2, 20), 0.5), torch.zeros(1, 2, 20)))   # no positives


def test_boundary_mask_keeps_peaks_and_strong_steps_only():
    """BMN's filter: a start at a local peak or above half the maximum (and the first step), an end
    likewise (and the last step)."""
    starts = np.array([0.1, 0.2, 0.9, 0.3, 0.35, 0.3, 0.1, 0.1])      # peaks at 2 and 4; 0.9 > half max
    ends = np.array([0.1, 0.1, 0.1, 0.1, 0.2, 0.1, 0.8, 0.1])         # peaks at 4 and 6; the last step
    np.testing.assert_array_equal(boundary_candidates(starts), [1, 0, 1, 0, 1, 0, 0, 0])
    mask = boundary_mask(np.stack([starts, ends]))                    # (T, D)
    kept = {(s, s + d) for s, d in zip(*np.nonzero(mask))}
    assert kept == {(s, e) for s in (0, 2, 4) for e in (4, 6, 7) if e >= s}


def test_tem_branch_is_trained_and_older_checkpoints_load_without_it(tmp_path):
    model = ReLocalizationNetwork(Stage2Config(**SMALL))
    probabilities = model.boundary_probabilities(model.encode_reference(torch.randn(2, 16, 37)))
    assert probabilities.shape == (2, 2, 20) and ((probabilities > 0) & (probabilities < 1)).all()
    old = {k: v for k, v in Stage2Config(boundaries=False, **SMALL).to_dict().items() if k != "boundaries"}
    save_checkpoint(ReLocalizationNetwork(Stage2Config(boundaries=False, **SMALL)), str(tmp_path / "old.safetensors"),
                    "stage2", old)
    loaded = load_checkpoint(str(tmp_path / "old.safetensors"))[0]
    assert loaded.tem is None
    with pytest.raises(ValueError, match="no boundary"):
        loaded.boundary_probabilities(torch.zeros(1, 8, 20))
