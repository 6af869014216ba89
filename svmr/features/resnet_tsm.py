"""ResNet-50 TSM for the official TSM Kinetics checkpoints (and mmaction2's layout).

The network is the standard bottleneck ResNet-50 (torchvision naming, written here so that
torchvision is not needed), with the temporal shift wrapping ``conv1`` of every bottleneck
("blockres"). Output: the 2048-channel ``layer4`` activation, average pooled over space.

    frames (N*T, 3, H, W) ──conv1/bn1/relu/maxpool──► layer1..layer4 (shift before each conv1)
                         ──mean(h, w)──► (N*T, 2048)

:func:`canonical_key` maps checkpoint names of either layout onto one spelling, and
:func:`load_tsm_checkpoint` loads a file (``torch.load(weights_only=True)``) or a state dict.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import nn

from .temporal_shift import TemporalShift

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FEATURE_DIM = 2048


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50TSM(nn.Module):
    """ResNet-50 with a temporal shift before ``conv1`` of every bottleneck.

    Args:
        num_segments: frames per clip along the batch dimension (8 for the official models).
        fold_div: 1/fold_div of channels shift each way (8 in TSM).
        num_classes: size of the classifier ``fc`` (400 for Kinetics); 0 for none.
    """

    feature_dim = FEATURE_DIM
    mean = IMAGENET_MEAN
    std = IMAGENET_STD

    def __init__(self, num_segments: int = 8, fold_div: int = 8, num_classes: int = 400):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for index, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
            layer = []
            for block_index in range(blocks):
                block_stride = stride if block_index == 0 else 1
                downsample = None
                if block_index == 0 and (block_stride != 1 or inplanes != planes * 4):
                    downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=block_stride, bias=False),
                                               nn.BatchNorm2d(planes * 4))
                block = Bottleneck(inplanes, planes, block_stride, downsample)
                block.conv1 = TemporalShift(block.conv1, num_segments, fold_div)
                layer.append(block)
                inplanes = planes * 4
            setattr(self, f"layer{index + 1}", nn.Sequential(*layer))
        self.fc = nn.Linear(FEATURE_DIM, num_classes) if num_classes else None

    def frame_stem(self, frames: torch.Tensor) -> torch.Tensor:
        """The layers before the first temporal shift (per frame, no mixing over time)."""
        return self.maxpool(self.relu(self.bn1(self.conv1(frames))))

    def temporal_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """layer1..layer4 (shifted) and spatial pooling → ``(N*T, 2048)``."""
        return self.layer4(self.layer3(self.layer2(self.layer1(x)))).mean(dim=(2, 3))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N*T, 3, H, W)`` normalized frames → ``(N*T, 2048)`` features."""
        return self.temporal_trunk(self.frame_stem(frames))

    def classify(self, frames: torch.Tensor, num_segments: int) -> torch.Tensor:
        """Clip logits ``(N, num_classes)``: frame logits averaged over each clip (TSM's consensus)."""
        logits = self.fc(self.forward(frames))
        return logits.view(-1, num_segments, logits.shape[-1]).mean(dim=1)


_MMACTION_RENAMES = [
    (re.compile(r"^(conv1|layer\d+\.\d+\.conv\d)\.conv\."), r"\1."),        # ConvModule conv
    (re.compile(r"^conv1\.bn\."), "bn1."),                                     # stem bn
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d)\.bn\."), r"\1.bn\2."),            # block bns
    (re.compile(r"^(layer\d+\.\d+\.downsample)\.conv\."), r"\1.0."),
    (re.compile(r"^(layer\d+\.\d+\.downsample)\.bn\."), r"\1.1."),
]


def canonical_key(key: str) -> str | None:
    """Map a checkpoint key to this module's naming without ``.net`` (None: not a backbone/fc key).

    Official TSM: ``module.base_model.layer1.0.conv1.net.weight`` → ``layer1.0.conv1.weight``,
    ``module.new_fc.weight`` → ``fc.weight``.
    mmaction2: ``backbone.layer1.0.conv1.conv.net.weight`` → ``layer1.0.conv1.weight``,
    ``backbone.layer1.0.conv1.bn.weight`` → ``layer1.0.bn1.weight``,
    ``cls_head.fc_cls.weight`` → ``fc.weight``.
    """
    key = key.replace(".net.", ".")
    if key.startswith("module."):
        key = key[len("module."):]
    for prefix, replacement in (("new_fc.", "fc."), ("cls_head.fc_cls.", "fc."), ("base_model.", ""),
                                ("backbone.", "")):
        if key.startswith(prefix):
            key = replacement + key[len(prefix):]
            break
    else:
        return None
    if key.startswith("fc.") and key.count(".") > 1:
        return None
    for pattern, replacement in _MMACTION_RENAMES:
        key = pattern.sub(replacement, key)
    return key


def load_tsm_checkpoint(model: ResNet50TSM, checkpoint: str | Mapping[str, torch.Tensor],
                        load_fc: bool = True) -> list[str]:
    """Load official-TSM or mmaction2 weights into ``model`` (strictly for the backbone).

    Args:
        checkpoint: a path (read with ``weights_only=True``) or a mapping; a dict holding a
            ``state_dict`` entry is unwrapped.
        load_fc: also load the classifier (skipped with a note when sizes differ).
    Returns:
        Keys of the checkpoint that were ignored.
    Raises:
        KeyError: backbone weights missing from the checkpoint.
    """
    if isinstance(checkpoint, (str, bytes)) or hasattr(checkpoint, "__fspath__"):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = checkpoint.get("state_dict", checkpoint)
    own = {k.replace(".net.", "."): k for k in model.state_dict()}
    mapped, ignored = {}, []
    for key, value in state.items():
        name = canonical_key(key)
        if name is None or name not in own or (name.startswith("fc.") and not load_fc):
            ignored.append(key)
            continue
        if name.startswith("fc.") and model.state_dict()[own[name]].shape != value.shape:
            ignored.append(key)
            continue
        mapped[own[name]] = value
    missing = [k for k in model.state_dict() if k not in mapped and not k.startswith("fc.")
               and not k.endswith("num_batches_tracked")]  # older checkpoints lack the counters
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} backbone weights, e.g. {missing[:3]}")
    model.load_state_dict(mapped, strict=False)
    return ignored
