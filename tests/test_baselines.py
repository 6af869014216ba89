"""Training-free baselines: definitions checked against brute force."""
import torch

from svmr.models.baselines import MeanPoolRetrieval, SlidingWindowLocalizer


def test_sliding_window_map_is_window_mean_cosine():
    model = SlidingWindowLocalizer(feature_dim=6, length=10)
    query, reference = torch.randn(1, 6, 4), torch.randn(1, 6, 10)
    m_c, m_r = model(query, reference)
    q = query.mean(-1)[0]
    for s, d in [(0, 0), (2, 3), (5, 4), (0, 9)]:
        window = reference[0, :, s:s + d + 1].mean(-1)
        want = (torch.nn.functional.cosine_similarity(window, q, dim=0) + 1) / 2
        assert torch.isclose(m_c[0, s, d], want, atol=1e-5)
    assert m_c[0, 5, 5] == 0 and m_r[0, 5, 5] == 0 and m_r[0, 0, 0] == 1


def test_mean_pool_retrieval_quarters():
    model = MeanPoolRetrieval(feature_dim=3, reference_length=8)
    reference = torch.arange(24, dtype=torch.float32).view(1, 3, 8)
    e_r = model.encode_reference(reference)
    assert e_r.shape == (1, 3, 4)
    torch.testing.assert_close(e_r[0, 0], torch.tensor([0.5, 2.5, 4.5, 6.5]))
    assert model.encode_query(torch.ones(2, 3, 5)).shape == (2, 3)


def test_sliding_window_map_everywhere_in_a_batch_with_a_large_common_part():
    """Every valid window of two references whose steps share a large common part (the cumulative
    sums' precision), against the window means formed one by one."""
    torch.manual_seed(3)
    model = SlidingWindowLocalizer(feature_dim=8, length=12)
    query, reference = torch.randn(2, 8, 5), torch.randn(2, 8, 12) + 20.0
    m_c, _ = model(query, reference)
    for b in range(2):
        q = query[b].mean(-1)
        for s in range(12):
            for d in range(12 - s):
                want = (torch.nn.functional.cosine_similarity(reference[b, :, s:s + d + 1].mean(-1), q, dim=0) + 1) / 2
                assert torch.isclose(m_c[b, s, d], want, atol=1e-5), (b, s, d)
