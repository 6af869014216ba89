"""Every trainer puts its network and its batches on the device it is given.

No GPU is lent to most runs, so the check uses PyTorch's ``meta`` device: it holds shapes and no
data, and any operation that meets a tensor left on the CPU raises "not on the expected device" —
what a forgotten ``.to(device)`` does on a GPU. Each trainer runs its real step (batch, forward,
loss, backward) on ``meta`` through a stand-in for the shared loop that does one step and then
validates; validation stops at its first copy back to the host, past the networks.
The boundary-matching sampler of the ATLN and BMN multiplies by a sparse matrix, which ``meta`` has
no kernel for: their training step is checked on a GPU (``tests/test_device.py``) when one is lent;
TAG's actionness step keeps the steps whose weight is not 0 (a shape that depends on data, which
``meta`` does not hold), so its step runs only on the CPU here.
"""
import numpy as np
import pytest
import torch

from svmr.data.datasets import BenchmarkFeatures

META = torch.device("meta")
#: what a tensor on ``meta`` says when its values are asked for (a mismatch says "not on the expected device")
HOST_COPY = "no data|cannot be called on meta tensors"


class Validated(Exception):
    """The trainer's step ran on the device and its validation reached its first host copy."""


def one_step(model, step, validate, *args, **kwargs):
    """The shared loop's stand-in: one training step on the device, then validation."""
    assert {p.device for p in model.parameters()} == {META}
    model.train()
    losses = step()
    assert losses["loss"].device == META
    losses["loss"].backward()
    assert all(p.grad is None or p.grad.device == META for p in model.parameters())
    assert any(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad(), pytest.raises((NotImplementedError, RuntimeError), match=HOST_COPY):
        validate()
    raise Validated


@pytest.fixture(scope="module")
def data(tiny_benchmark):
    return BenchmarkFeatures(tiny_benchmark)


@pytest.mark.parametrize("variant", ["ctc_ae", "triplet", "arcface"])
def test_stage1_trains_on_its_device(tiny_benchmark, data, tmp_path, monkeypatch, variant):
    from svmr.train import stage1

    monkeypatch.setattr(stage1, "fit", one_step)
    train = stage1.train_stage1 if variant in stage1.VARIANTS else stage1.train_one_branch
    option = {"variant": variant} if variant in stage1.VARIANTS else {"loss": variant}
    with pytest.raises(Validated):
        train(tiny_benchmark, str(tmp_path), batch_size=4, data=data, log=lambda *_: None, device=META, **option)


@pytest.mark.parametrize("method", ["tan2d", "video_reloc"])    # the ATLN / BMN: test_device.py, on a GPU
def test_stage2_trains_on_its_device(tiny_benchmark, data, tmp_path, monkeypatch, method):
    from svmr.train import stage2

    monkeypatch.setattr(stage2, "fit", one_step)
    with pytest.raises(Validated):
        stage2.train_stage2(tiny_benchmark, str(tmp_path), fusion=method, batch_size=2, data=data,
                            log=lambda *_: None, device=META)


def test_seed_001s_models_train_on_their_device(tiny_benchmark, data, tmp_path, monkeypatch):
    from svmr.train import graph

    graph.train_actionness(tiny_benchmark, str(tmp_path), steps=2, eval_every=2, data=data,
                           log=lambda *_: None)          # the scorer TAG's proposals come from, trained on the CPU
    monkeypatch.setattr(graph, "fit", one_step)
    for train in (lambda *a, **k: graph.train_graph(*a, str(tmp_path / "actionness.safetensors"), **k),
                  lambda *a, **k: graph.train_video_level(*a, actionness=str(tmp_path / "actionness.safetensors"), **k)):
        with pytest.raises(Validated):
            train(tiny_benchmark, str(tmp_path / "out"), batch_size=4, data=data, log=lambda *_: None, device=META)


def test_the_motion_encoder_trains_on_its_device(monkeypatch):
    from svmr.train import motion

    rng = np.random.default_rng(0)
    groups = [[rng.integers(0, 255, (10, 32, 32), dtype=np.uint8) for _ in range(2)] for _ in range(4)]
    real_probe = motion.probe

    def probe(stream, *args, **kwargs):                 # the encoder's first vectors come back to the host here
        assert next(stream.encoder.parameters()).device == META and stream.device == META
        with pytest.raises((NotImplementedError, RuntimeError), match=HOST_COPY):
            real_probe(stream, *args, **kwargs)
        raise Validated

    monkeypatch.setattr(motion, "probe", probe)
    with pytest.raises(Validated):
        motion.train_motion_encoder(groups, groups, steps=1, batch=4, window=(8, 8), log=lambda *_: None, device=META)
