"""Temporal shift, the two backbones and the extractor, on real weights and real footage."""
import os

import cv2
import numpy as np
import pytest
import torch

from svmr import video as V
from svmr.features import ExtractorConfig, FeatureExtractor, FeatureSequence, temporal_shift
from svmr.features.borders import crop_borders
from svmr.features.efficientnet_lite import EfficientNetLite0TSM
from svmr.features.resnet_tsm import ResNet50TSM, canonical_key, load_tsm_checkpoint
from svmr.features.temporal_shift import TemporalShift

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_temporal_shift_moves_one_eighth_each_way_with_zero_padding():
    t, c = 4, 16
    x = torch.arange(1, t + 1, dtype=torch.float32).view(t, 1, 1, 1).expand(t, c, 1, 1).clone()
    out = temporal_shift(x, num_segments=t, fold_div=8)[:, :, 0, 0]
    # channels 0-1 take the next frame's value, channels 2-3 the previous frame's, the rest stay
    np.testing.assert_array_equal(out[:, 0].numpy(), [2, 3, 4, 0])
    np.testing.assert_array_equal(out[:, 2].numpy(), [0, 1, 2, 3])
    np.testing.assert_array_equal(out[:, 4:].numpy(), x[:, 4:, 0, 0].numpy())
    # two clips in one batch never mix
    two = temporal_shift(torch.cat([x, x + 10]), num_segments=t)[:, 0, 0, 0]
    np.testing.assert_array_equal(two.numpy(), [2, 3, 4, 0, 12, 13, 14, 0])
    with pytest.raises(ValueError):
        temporal_shift(torch.zeros(6, 8, 1, 1), num_segments=4)


def test_shift_sits_in_residual_branch_only():
    model = EfficientNetLite0TSM(pretrained=False)
    shifted = [name for name, m in model.named_modules() if isinstance(m, TemporalShift)]
    for name in shifted:
        block = model.net._blocks[int(name.split(".")[2])]
        args = block._block_args
        assert args.stride == 1 and args.input_filters == args.output_filters
    # lite0 stages repeat 1, 2, 2, 3, 3, 4, 1 blocks; all but each stage's first keep the shape
    assert len(shifted) == 0 + 1 + 1 + 2 + 2 + 3 + 0
    resnet = ResNet50TSM(num_classes=0)
    assert sum(isinstance(m, TemporalShift) for m in resnet.modules()) == 16  # every bottleneck's conv1


def _baboon_clip(size=224, frames=8):
    image = cv2.cvtColor(cv2.imread(os.path.join(DATA, "baboon_224.jpg")), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, (size, size))
    return np.repeat(image[None], frames, axis=0)


def test_efficientnet_lite0_carries_real_imagenet_weights():
    model = EfficientNetLite0TSM(num_segments=8).eval()
    clip = torch.from_numpy(_baboon_clip()).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor(model.mean).view(1, 3, 1, 1), torch.tensor(model.std).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = model.classify((clip - mean) / std).softmax(-1)
    assert probs.shape == (8, 1000)
    assert int(probs[3].argmax()) == 372, "ImageNet class 372 is 'baboon'"
    assert float(probs[3, 372]) > 0.5


def test_fused_for_inference_gives_the_same_features_and_classes():
    """BatchNorms folded, padding moved into the convolutions, ReLU6 in place: the same features
    (to float rounding) at odd, non-square sizes, shifting over time, and the same ImageNet class."""
    import copy

    model = EfficientNetLite0TSM(num_segments=8).eval()
    fused = copy.deepcopy(model).fuse_for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    generator = torch.Generator().manual_seed(0)
    for height, width in ((128, 128), (97, 131)):
        frames = torch.randn(8, 3, height, width, generator=generator)
        with torch.no_grad():
            expected, got = model(frames), fused(frames.clone())
        assert float((got - expected).norm() / expected.norm()) < 1e-5
    clip = torch.from_numpy(_baboon_clip()).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor(model.mean).view(1, 3, 1, 1), torch.tensor(model.std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert int(fused.classify((clip - mean) / std)[3].argmax()) == 372


def _official_state_dict(model: ResNet50TSM) -> dict:
    """The model's weights under the official TSM checkpoint names."""
    out = {}
    for key, value in model.state_dict().items():
        if key.startswith("fc."):
            out["module.new_fc." + key[3:]] = value.clone()
        else:
            out["module.base_model." + key] = value.clone()  # keys keep '.net' like the official ones
    return {"epoch": 50, "state_dict": out}


def _mmaction_state_dict(model: ResNet50TSM) -> dict:
    out = {}
    for key, value in model.state_dict().items():
        key = key.replace(".net.", ".")
        if key.startswith("fc."):
            out["cls_head.fc_cls." + key[3:]] = value.clone()
            continue
        parts = key.split(".")
        if parts[0] in ("conv1", "bn1"):
            name = "conv1.conv." + parts[1] if parts[0] == "conv1" else "conv1.bn." + parts[1]
        elif parts[2].startswith("conv"):
            net = ".net" if parts[2] == "conv1" else ""
            name = f"{parts[0]}.{parts[1]}.{parts[2]}.conv{net}.{parts[3]}"
        elif parts[2].startswith("bn"):
            name = f"{parts[0]}.{parts[1]}.conv{parts[2][2:]}.bn.{parts[3]}"
        else:  # downsample.0 / downsample.1
            kind = "conv" if parts[3] == "0" else "bn"
            name = f"{parts[0]}.{parts[1]}.downsample.{kind}.{parts[4]}"
        out["backbone." + name] = value.clone()
    return {"meta": {}, "state_dict": out}


@pytest.mark.parametrize("layout", [_official_state_dict, _mmaction_state_dict])
def test_resnet50_tsm_loads_checkpoint_layouts(tmp_path, layout):
    torch.manual_seed(0)
    source = ResNet50TSM(num_segments=4).eval()
    for module in source.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "tsm.pth"
    torch.save(layout(source), path)
    target = ResNet50TSM(num_segments=4).eval()
    ignored = load_tsm_checkpoint(target, str(path))
    assert ignored == []
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(target.classify(x, 4), source.classify(x, 4))


def test_canonical_key_examples_and_missing_weights():
    assert canonical_key("module.base_model.layer1.0.conv1.net.weight") == "layer1.0.conv1.weight"
    assert canonical_key("module.new_fc.weight") == "fc.weight"
    assert canonical_key("backbone.layer2.0.downsample.bn.running_var") == "layer2.0.downsample.1.running_var"
    assert canonical_key("optimizer.state") is None
    with pytest.raises(KeyError):
        load_tsm_checkpoint(ResNet50TSM(), {"state_dict": {"module.new_fc.weight": torch.zeros(400, 2048)}})


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor(ExtractorConfig(size=112, rate=4.0))


def test_extract_real_video_range_with_timestamps_and_cache(tmp_path, extractor, bikes):
    cached = FeatureExtractor(extractor.config, cache_dir=str(tmp_path / "cache"))
    calls = []
    seq = cached.extract(bikes, start=1.0, end=4.5, progress=lambda done, total: calls.append((done, total)))
    assert seq.features.shape == (1280, 14) and seq.features.dtype == np.float32
    np.testing.assert_allclose(seq.times, 1.0 + np.arange(14) / 4)
    assert seq.duration == pytest.approx(10.0)
    assert calls == [(7, 14), (14, 14)]          # half way after the per-frame stem: a short clip moves too
    assert np.isfinite(seq.features).all() and seq.features.std() > 0
    files = list((tmp_path / "cache").rglob("*.npz"))
    assert len(files) == 1
    again = cached.extract(bikes, start=1.0, end=4.5)
    np.testing.assert_array_equal(again.features, seq.features)
    # the same frames through the in-memory path give the same features (decoded at twice the
    # size, bars cut, resized: what the extractor does with crop_borders on)
    assert extractor.config.crop_borders
    frames, _ = V.read_frames(bikes, rate=4, start=1.0, end=4.5, size=(224, 224))
    frames = crop_borders(frames, (112, 112))
    np.testing.assert_allclose(extractor.extract_frames(frames, 4.0).features, seq.features, atol=1e-4)


def test_features_follow_content_not_position(extractor, bikes, carphone):
    a = extractor.extract(bikes).features.mean(axis=1)
    b = extractor.extract(bikes, start=5.0).features.mean(axis=1)
    c = extractor.extract(carphone).features.mean(axis=1)
    cos = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    assert cos(a, b) > cos(a, c)


def test_windowed_extraction_equals_one_pass_over_the_whole_sequence(extractor, bikes):
    frames, _ = V.read_frames(bikes, rate=6.0, size=(112, 112))  # 60 frames
    one_pass = extractor._forward(frames).T  # the shift runs along all 60 frames at once
    assert extractor.context == 9  # shift layers in EfficientNet-Lite0 TSM
    window = extractor.window
    try:
        for size in (7, 16, 60):
            extractor.window = size
            np.testing.assert_allclose(extractor.extract_frames(frames, 6.0).features, one_pass, atol=2e-4, rtol=1e-4)
        extractor.context, extractor.window = 0, 8  # independent 8-frame clips differ at clip ends
        assert np.abs(extractor.extract_frames(frames, 6.0).features - one_pass).max() > 0.05
    finally:
        extractor.context, extractor.window = 9, window


def test_feature_sequence_round_trip(tmp_path):
    seq = FeatureSequence(np.random.rand(8, 5).astype(np.float32), np.arange(5) / 2.0, 2.0, 3.0, {"a": 1})
    seq.save(str(tmp_path / "f.npz"))
    back = FeatureSequence.load(str(tmp_path / "f.npz"))
    np.testing.assert_array_equal(back.features, seq.features)
    assert back.config == {"a": 1} and back.rate == 2.0
    with pytest.raises(ValueError):
        FeatureSequence(np.zeros((8, 4)), np.arange(5), 1.0, 5.0)


def test_extract_rejects_bad_inputs(extractor, tmp_path, bikes):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(V.VideoError, match="not a readable video"):
        extractor.extract(str(bad))
    with pytest.raises(V.VideoError, match="outside the video"):
        extractor.extract(bikes, start=30.0)
