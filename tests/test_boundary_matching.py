"""The BM layer: the reference sampling mask and the fused sparse path that replaces it."""
import numpy as np
import torch

from svmr.models.boundary_matching import BoundaryMatching, sampling_mask


def test_mask_follows_the_reference_rules():
    mask = sampling_mask(20, num_bins=8)                       # (T, N, D, S)
    assert mask.shape == (20, 8, 20, 20)
    # invalid proposals (start + duration >= T) sample nothing
    assert np.abs(mask[:, :, 10, 15]).sum() == 0
    # a proposal well inside the sequence: every bin's weights sum to 1 (3 interpolated points)
    s, d = 8, 3   # region [8 - 2, 11 + 2] = [6, 13]
    np.testing.assert_allclose(mask[:, :, d, s].sum(axis=0), 1.0, atol=1e-6)
    # its first bin averages points 6, 6.2917, 6.5833 (spacing 7 / 23)
    step = 7 / 23
    expected = np.zeros(20)
    for point in (6, 6 + step, 6 + 2 * step):
        expected[int(point)] += 1 - (point % 1)
        expected[int(np.ceil(point))] += point % 1
    np.testing.assert_allclose(mask[:, 0, d, s], expected / 3, atol=1e-6)
    # samples outside the sequence are dropped (proposal at the very start)
    assert mask[:, 0, 5, 0].sum() < 1


def test_fused_projection_equals_dense_map_then_conv3d():
    torch.manual_seed(0)
    layer = BoundaryMatching(length=24, num_bins=8)
    features = torch.randn(2, 6, 24)
    conv = torch.nn.Conv3d(6, 5, kernel_size=(8, 1, 1), bias=False)
    dense = conv(layer.dense_feature_map(features)).squeeze(2)          # (B, O, D, S)
    fused = layer.to_map(layer.project_and_sample(features, conv.weight[..., 0, 0]))  # (B, O, S, D)
    torch.testing.assert_close(fused, dense.transpose(-1, -2) * layer.valid_mask(), atol=1e-4, rtol=1e-4)
    assert layer.num_proposals == 24 * 25 // 2


def test_fused_path_backpropagates():
    layer = BoundaryMatching(length=16, num_bins=4)
    features = torch.randn(1, 3, 16, requires_grad=True)
    weight = torch.randn(2, 3, 4, requires_grad=True)
    layer.project_and_sample(features, weight).sum().backward()
    assert features.grad.abs().sum() > 0 and weight.grad.abs().sum() > 0
