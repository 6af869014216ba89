"""Stage 2: ATLN shapes and ablations, the fused path against a dense reference, the BMN loss."""
import pytest
import torch

from svmr.models.relocalization import (FUSIONS, ReLocalizationNetwork, Stage2Config, gt_iou_map,
                                        proposal_loss)

SMALL = dict(feature_dim=16, length=20, num_bins=4, channels=8, hidden_3d=12, hidden_2d=8)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_maps_shapes_and_validity(fusion):
    model = ReLocalizationNetwork(Stage2Config(fusion=fusion, **SMALL))
    m_c, m_r = model(torch.randn(2, 16, 5), torch.randn(2, 16, 37))
    assert m_c.shape == m_r.shape == (2, 20, 20)
    valid = model.bm.valid_mask()
    assert (m_c[:, ~valid] == 0).all() and (m_c[:, valid] > 0).all() and (m_c <= 1).all()


def test_fused_atln_equals_dense_reference():
    torch.manual_seed(0)
    model = ReLocalizationNetwork(Stage2Config(**SMALL)).eval()
    query, reference = torch.randn(2, 16, 6), torch.randn(2, 16, 20)
    with torch.no_grad():
        fast = model(query, reference)
        slow = model.dense_forward(query, reference)
    torch.testing.assert_close(fast[0], slow[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast[1], slow[1], atol=1e-5, rtol=1e-4)


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
