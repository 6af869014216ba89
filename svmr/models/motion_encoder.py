"""The motion stream: a small 3-D network over the index's 32-pixel frames, one vector per step.

ImageNet frame features say what a picture shows, not how it moves. This network reads what the
index already keeps of every step — a 32 × 32 grayscale picture (:mod:`svmr.models.motion`) — and
gives each step a vector describing the motion around it (about two seconds: its temporal
receptive field is :attr:`MotionEncoder.reach` steps either side). It is convolutional in time,
so a whole video is encoded in one pass, and a clip's motion is the mean of its steps' vectors,
just as its appearance is the mean of its appearance features.

Trained with a contrastive objective on random motion programs (:mod:`svmr.data.motion_programs`,
:mod:`svmr.train.motion`): two instances of one program — other objects, other scenes, other
speeds and lengths — should have close mean vectors, instances of other programs far ones. It
never sees natural video or the benchmark's classes.

Input: each picture standardized on its own (brightness and contrast drop out), and its
difference from the previous one, as two channels. Shapes: ``(N, 2, L, 32, 32)`` →
``(N, D, L)``.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .. import checkpoints as C

ENCODER_FILE = "motion_encoder.safetensors"


@dataclass(frozen=True)
class MotionEncoderConfig:
    channels: tuple[int, ...] = (16, 32, 64, 96)
    dim: int = 128              # output vector per step
    frame_size: int = 32
    #: each layer's dilation in time (steps): a longer reach for slow changes at the same cost
    dilations: tuple[int, ...] = (1, 1, 1, 1)


class MotionEncoder(nn.Module):
    """``(N, L, S, S)`` uint8 or float small frames → ``(N, D, L)`` per-step motion vectors (not unit)."""

    def __init__(self, config: MotionEncoderConfig = MotionEncoderConfig()):
        super().__init__()
        self.config = config
        layers, width = [], 2
        dilations = tuple(config.dilations) + (1,) * (len(config.channels) - len(config.dilations))
        for k, (channels, dilation) in enumerate(zip(config.channels, dilations)):
            spatial = 2 if k < 3 else 1
            layers += [nn.Conv3d(width, channels, (3, 3, 3), stride=(1, spatial, spatial), padding=(dilation, 1, 1),
                                 dilation=(dilation, 1, 1), bias=False),
                       nn.BatchNorm3d(channels), nn.ReLU(inplace=True)]
            width = channels
        self.body = nn.Sequential(*layers)
        side = config.frame_size // 8
        self.head = nn.Conv1d(width * side * side, config.dim, 1)
        #: steps either side of a step that reach its vector
        self.reach = sum(dilations)

    @staticmethod
    def standardize(frames: torch.Tensor) -> torch.Tensor:
        """``(N, L, S, S)`` → ``(N, 2, L, S, S)``: each picture standardized on its own (so a step's
        input does not depend on how much of the video is encoded with it), and its change from
        the previous step (0 at the first)."""
        x = frames.float()
        x = (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True) + 4.0)
        change = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        return torch.stack([x, change], dim=1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.body(self.standardize(frames))              # (N, C, L, s, s)
        n, c, length = x.shape[:3]
        x = x.permute(0, 1, 3, 4, 2).reshape(n, -1, length)  # (N, C·s·s, L)
        return self.head(x)


class MotionStream:
    """A trained :class:`MotionEncoder` applied to whole videos: ``(L, S, S)`` small frames →
    ``(D, L)`` float32 per-step vectors (encoded in overlapping chunks; no gradient)."""

    def __init__(self, encoder: MotionEncoder, chunk: int = 256, device: str | torch.device = "cpu", key: str = ""):
        self.device = torch.device(device)
        self.encoder = encoder.eval().to(self.device)
        self.chunk = chunk
        #: names the weights (the digest of their file; "" for an encoder not loaded from one)
        self.key = key

    @property
    def dim(self) -> int:
        return self.encoder.config.dim

    @torch.no_grad()
    def encode(self, small_frames: np.ndarray) -> np.ndarray:
        length = len(small_frames)
        if length == 0:
            return np.zeros((self.dim, 0), np.float32)
        frames = torch.from_numpy(np.ascontiguousarray(small_frames)).to(self.device)
        margin, out = 2 * self.encoder.reach, []
        for start in range(0, length, self.chunk):
            lo, hi = max(0, start - margin), min(length, start + self.chunk + margin)
            encoded = self.encoder(frames[None, lo:hi])[0]
            out.append(encoded[:, start - lo:start - lo + min(self.chunk, length - start)])
        return torch.cat(out, dim=1).float().cpu().numpy()

    def save(self, path: str, record: dict) -> None:
        """The weights (safetensors) and ``<path minus .safetensors>.json`` (config + record)."""
        from safetensors.torch import save_file

        save_file({k: v.contiguous().cpu() for k, v in self.encoder.state_dict().items()}, path)
        with open(path[:-len(".safetensors")] + ".json", "w") as handle:
            json.dump({"config": asdict(self.encoder.config), **record}, handle, indent=1)
        for file in (path, path[:-len(".safetensors")] + ".json"):
            os.chmod(file, 0o644)
            C.record_if_bundled(file)

    @classmethod
    def load(cls, path: str | None = None, device: str | torch.device = "cpu") -> "MotionStream":
        """The bundled encoder by default (checked against ``checkpoints/SHA256SUMS``)."""
        from safetensors.torch import load_file

        path = C.bundled_path(path, ENCODER_FILE)
        with open(path[:-len(".safetensors")] + ".json") as handle:
            config = json.load(handle)["config"]
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}   # JSON lists
        encoder = MotionEncoder(MotionEncoderConfig(**config))
        encoder.load_state_dict(load_file(path))
        return cls(encoder, device=device, key=C.sha256(path)[:16])


#: an encoder standing in for the bundled one in this process (:func:`use_encoder`)
_stand_in: MotionStream | None = None


def use_encoder(path: str | None) -> MotionStream:
    """Make the encoder in ``path`` (None: the bundled one again) the one this process encodes with:
    benchmarks compare a candidate before it is bundled. Its key differs, so stored streams and
    stage-1 vectors made with another encoder are recomputed, never mixed in. Returns it."""
    global _stand_in
    _stand_in = MotionStream.load(path) if path else None
    return bundled_stream()


def bundled_stream(device: str = "cpu") -> MotionStream:
    """The bundled encoder (or the one :func:`use_encoder` put in its place), loaded once per
    process and device."""
    return _stand_in if _stand_in is not None else _load_bundled(device)


@functools.lru_cache(maxsize=4)
def _load_bundled(device: str) -> MotionStream:
    return MotionStream.load(device=device)


def motion_of(sequence, device: str = "cpu") -> np.ndarray | None:
    """A :class:`~svmr.features.FeatureSequence`'s motion stream ``(D, L)``: the stored one when the
    bundled encoder computed it, else computed from its small frames with the bundled encoder (and
    kept on the object); None when it has no small frames."""
    stream = bundled_stream(device)
    if sequence.small_frames is not None and (sequence.motion is None or sequence.motion_key != stream.key):
        sequence.motion, sequence.motion_key = stream.encode(sequence.small_frames), stream.key
    return sequence.motion
