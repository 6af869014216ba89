"""Video → feature sequence ``f ∈ R^{C_o × L}`` with the timestamp of every step.

Frames are sampled at ``rate`` per second, resized to ``size × size`` while decoding, and fed
to a TSM backbone in clips of ``num_segments`` consecutive samples (the temporal shift mixes
neighbouring samples inside a clip). One feature step per sampled frame; step ``k`` covers
``[times[k], times[k] + 1 / rate)``.

Runs on the GPU in fp16 when one is present, otherwise on all CPU cores; decoding of the next
chunk overlaps with the network on the current one. Results can be cached on disk, keyed by the
file's content hash, the extractor configuration and the time range.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from .. import video as V
from .temporal_shift import set_num_segments

BACKBONES = ("efficientnet_lite0", "resnet50_tsm")


@dataclass(frozen=True)
class ExtractorConfig:
    """Everything that changes the features (and so the cache key)."""

    backbone: str = "efficientnet_lite0"
    checkpoint: str | None = None      # ResNet-50 TSM weights (official or mmaction2 layout)
    rate: float = 4.0                  # feature steps per second
    size: int = 128                    # frames are resized to size × size
    num_segments: int = 8              # TSM clip length, in sampled frames
    fold_div: int = 8                  # 1/fold_div of channels shift each way

    def key(self) -> str:
        """Short stable hash of the configuration."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class FeatureSequence:
    """Features of (a range of) one video.

    Attributes:
        features: float32 ``(C, L)``.
        times: float64 ``(L,)`` start time in seconds of each step.
        rate: steps per second.
        duration: length in seconds of the whole source video.
        config: the extractor configuration that produced them, as a dict.
    """

    features: np.ndarray
    times: np.ndarray
    rate: float
    duration: float
    config: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.features.ndim != 2 or self.features.shape[1] != len(self.times):
            raise ValueError(f"features must be (C, L) with L={len(self.times)}, got {self.features.shape}")

    @property
    def length(self) -> int:
        return self.features.shape[1]

    def save(self, path: str) -> None:
        """Write atomically (a crash never leaves a half-written file under ``path``)."""
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            np.savez(handle, features=self.features, times=self.times, rate=self.rate,
                     duration=self.duration, config=json.dumps(self.config))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "FeatureSequence":
        with np.load(path, allow_pickle=False) as data:
            return cls(features=data["features"], times=data["times"], rate=float(data["rate"]),
                       duration=float(data["duration"]), config=json.loads(str(data["config"])))


def file_digest(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_backbone(config: ExtractorConfig) -> torch.nn.Module:
    """The network of ``config.backbone`` with its weights loaded."""
    if config.backbone == "efficientnet_lite0":
        from .efficientnet_lite import EfficientNetLite0TSM

        return EfficientNetLite0TSM(config.num_segments, config.fold_div, pretrained=True)
    if config.backbone == "resnet50_tsm":
        from .resnet_tsm import ResNet50TSM, load_tsm_checkpoint

        if not config.checkpoint:
            raise ValueError("resnet50_tsm needs a checkpoint file (official TSM or mmaction2 weights)")
        model = ResNet50TSM(config.num_segments, config.fold_div)
        load_tsm_checkpoint(model, config.checkpoint)
        return model
    raise ValueError(f"unknown backbone {config.backbone!r}; choose one of {BACKBONES}")


def _prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Run ``iterator`` in a background thread, ``depth`` items ahead (errors are re-raised)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def worker():
        try:
            for item in iterator:
                items.put(item)
        except BaseException as err:  # handed to the consumer
            items.put(err)
        items.put(done)

    threading.Thread(target=worker, daemon=True).start()
    while (item := items.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


class FeatureExtractor:
    """Turns videos (or frame arrays) into :class:`FeatureSequence`.

    Args:
        config: what to compute.
        device: torch device (default: CUDA when available, else CPU with all cores).
        cache_dir: folder for cached features (None: no cache).
        clips_per_batch: clips of ``num_segments`` frames per forward pass.
    """

    def __init__(self, config: ExtractorConfig = ExtractorConfig(), device: str | torch.device | None = None,
                 cache_dir: str | None = None, clips_per_batch: int = 4):
        self.config = config
        self.device = torch.device(device) if device else default_device()
        if self.device.type == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        self.half = self.device.type == "cuda"
        model = build_backbone(config).eval().to(self.device)
        self.model = model.to(memory_format=torch.channels_last)
        if self.half:
            self.model = self.model.half()
        self.mean = torch.tensor(model.mean, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(model.std, device=self.device).view(1, 3, 1, 1) * 255
        self.feature_dim = model.feature_dim
        self.cache_dir = cache_dir
        self.clips_per_batch = clips_per_batch

    @property
    def frames_per_batch(self) -> int:
        return self.config.num_segments * self.clips_per_batch

    @torch.no_grad()
    def _forward(self, frames: np.ndarray) -> np.ndarray:
        """uint8 ``(n, H, W, 3)`` with ``n`` a multiple of num_segments → float32 ``(n, C)``."""
        x = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float()
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        set_num_segments(self.model, self.config.num_segments)
        if self.half:
            x = x.half()
        return self.model(x).float().cpu().numpy()

    def _run(self, chunks: Iterator[np.ndarray], total: int,
             progress: Callable[[int, int], None] | None) -> np.ndarray:
        """Features of ``total`` frames delivered in chunks; pads the last clip by repeating
        its final frame and drops the padded outputs. Returns float32 ``(C, total)``."""
        segment = self.config.num_segments
        outputs, pending, done = [], None, 0
        for chunk in chunks:
            pending = chunk if pending is None else np.concatenate([pending, chunk])
            usable = len(pending) // segment * segment
            if usable:
                outputs.append(self._forward(pending[:usable]))
                pending = pending[usable:]
                done += usable
                if progress:
                    progress(min(done, total), total)
        if pending is not None and len(pending):
            pad = segment - len(pending)
            padded = np.concatenate([pending, np.repeat(pending[-1:], pad, axis=0)])
            outputs.append(self._forward(padded)[:len(pending)])
            if progress:
                progress(total, total)
        features = np.concatenate(outputs, axis=0)[:total]
        return np.ascontiguousarray(features.T, dtype=np.float32)

    def extract_frames(self, frames: np.ndarray, rate: float) -> FeatureSequence:
        """Features of in-memory uint8 frames ``(L, H, W, 3)`` (already ``size × size``)."""
        chunks = (frames[i:i + self.frames_per_batch] for i in range(0, len(frames), self.frames_per_batch))
        features = self._run(chunks, len(frames), None)
        times = np.arange(len(frames)) / rate
        return FeatureSequence(features, times, rate, len(frames) / rate, asdict(self.config))

    def _cache_path(self, path: str, start: float, end: float) -> str | None:
        if not self.cache_dir:
            return None
        key = f"{file_digest(path)}-{self.config.key()}-{start:.3f}-{end:.3f}"
        return os.path.join(self.cache_dir, key[:2], key + ".npz")

    def extract(self, path: str, start: float = 0.0, end: float | None = None,
                progress: Callable[[int, int], None] | None = None) -> FeatureSequence:
        """Features of ``[start, end)`` of a video file (cached when ``cache_dir`` is set).

        Raises:
            VideoError: the file cannot be used or the range is outside it.
        """
        info = V.probe(path)
        start, end = V.check_range(info, start, end)
        cache_path = self._cache_path(path, start, end)
        if cache_path and os.path.exists(cache_path):
            try:
                return FeatureSequence.load(cache_path)
            except (OSError, ValueError, KeyError):
                os.remove(cache_path)  # unreadable cache entry: recompute
        times = V.sample_times(start, end, self.config.rate)
        size = (self.config.size, self.config.size)
        chunks = _prefetch(V.iter_frames(path, times, size=size, info=info, chunk=self.frames_per_batch))
        features = self._run(chunks, len(times), progress)
        result = FeatureSequence(features, times, self.config.rate, info.duration, asdict(self.config))
        if cache_path:
            os.makedirs(os.path.dirname(cache_path), exist_ok=True)
            result.save(cache_path)
        return result
