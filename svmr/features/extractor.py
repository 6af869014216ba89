"""Video → feature sequence ``f ∈ R^{C_o × L}`` with the timestamp of every step.

Frames are sampled at ``rate`` per second, resized to ``size × size`` while decoding, and fed
to a TSM backbone; the temporal shift runs along the whole sequence of samples (zero padded at
the two ends of the video or range). One feature step per sampled frame; step ``k`` covers
``[times[k], times[k] + 1 / rate)``.

The sequence is processed in windows of ``window`` steps, each with ``context`` extra steps on
both sides whose outputs are dropped. Every shift layer widens the temporal receptive field by
one step, so with ``context`` equal to the number of shift layers (the default) the windowed
features equal those of one pass over the whole sequence. (Cutting the sequence into independent
clips instead would zero-pad every clip end and leave a periodic artefact in the features.)

Runs on the GPU in fp16 when one is present, otherwise on all CPU cores; decoding of the next
chunk overlaps with the network on the current one. Results can be cached on disk, keyed by the
file's content hash, the extractor configuration and the time range.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import queue
import threading
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from .. import video as V
from ..models.motion import SMALL_FRAME_SIZE, small_frames
from .borders import crop_borders
from .regions import RegionTracker, crop_region
from .temporal_shift import TemporalShift, set_num_segments

BACKBONES = ("efficientnet_lite0", "resnet50_tsm")


@dataclass(frozen=True)
class ExtractorConfig:
    """Everything that changes the features (and so the cache key)."""

    backbone: str = "efficientnet_lite0"
    #: weights: required for resnet50_tsm (official or mmaction2 layout); for efficientnet_lite0
    #: a fine-tuned checkpoint (``python -m svmr train backbone``) instead of ImageNet's. A bare
    #: file name is looked up in the repository's ``checkpoints/``.
    checkpoint: str | None = None
    rate: float = 4.0                  # feature steps per second
    size: int = 128                    # frames are resized to size × size
    fold_div: int = 8                  # 1/fold_div of channels shift each way
    #: cut letterbox / pillarbox bars before describing a frame (:mod:`svmr.features.borders`);
    #: frames are then decoded at twice ``size`` and the picture resized to ``size``
    crop_borders: bool = True

    @classmethod
    def from_dict(cls, fields: dict) -> "ExtractorConfig":
        """A stored configuration; fields it predates take the value they had before they existed
        (features stored without ``crop_borders`` were computed with the bars)."""
        return cls(**{"crop_borders": False, **fields})

    def key(self) -> str:
        """Short stable hash of the configuration (and of the weights' content when a checkpoint
        is named, so retrained weights never reuse stale cached features)."""
        fields = asdict(self)
        if not self.crop_borders:   # the features as they were before the option existed: same key
            del fields["crop_borders"]
        if self.checkpoint:
            fields["checkpoint_sha256"] = _digest_cached(self.checkpoint_path())
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def checkpoint_path(self) -> str | None:
        if not self.checkpoint or os.path.dirname(self.checkpoint):
            return self.checkpoint
        from ..checkpoints import REPO_CHECKPOINTS

        return os.path.join(REPO_CHECKPOINTS, self.checkpoint)


@dataclass
class FeatureSequence:
    """Features of (a range of) one video.

    Attributes:
        features: float32 ``(C, L)``.
        times: float64 ``(L,)`` start time in seconds of each step.
        rate: steps per second.
        duration: length in seconds of the whole source video.
        config: the extractor configuration that produced them, as a dict.
        small_frames: uint8 ``(L, S, S)`` grayscale picture of every step (bars cut), for the
            default's motion check (:mod:`svmr.models.motion`); None in files written before it.
        motion: float32 ``(D, L)`` the motion stream's vector of every step
            (:mod:`svmr.models.motion_encoder`, computed from ``small_frames``); None when not
            computed (files written before it: :func:`~svmr.models.motion_encoder.motion_of`
            computes it on demand).
        motion_key: names the encoder that computed ``motion`` (its weights' digest); a stream
            from another encoder is computed again.
    """

    features: np.ndarray
    times: np.ndarray
    rate: float
    duration: float
    config: dict = field(default_factory=dict)
    small_frames: np.ndarray | None = None
    motion: np.ndarray | None = None
    motion_key: str = ""

    def __post_init__(self):
        if self.features.ndim != 2 or self.features.shape[1] != len(self.times):
            raise ValueError(f"features must be (C, L) with L={len(self.times)}, got {self.features.shape}")
        if self.small_frames is not None and (self.small_frames.ndim != 3 or len(self.small_frames) != len(self.times)):
            raise ValueError(f"small_frames must be (L, S, S) with L={len(self.times)}, got {self.small_frames.shape}")
        if self.motion is not None and (self.motion.ndim != 2 or self.motion.shape[1] != len(self.times)):
            raise ValueError(f"motion must be (D, L) with L={len(self.times)}, got {self.motion.shape}")

    @property
    def length(self) -> int:
        return self.features.shape[1]

    def save(self, path: str, dtype=np.float32) -> None:
        """Write atomically (a crash never leaves a half-written file under ``path``); ``dtype``
        float16 halves the file (galleries; read back as float32); uint8 quarters the features
        (:func:`quantize_steps`: 8 bits a number, each step's own range; the motion stream float16)."""
        tmp = f"{path}.{os.getpid()}.tmp"
        extra = {} if self.small_frames is None else {"small_frames": self.small_frames}
        numbers = np.float16 if dtype == np.uint8 else dtype
        if self.motion is not None:
            extra.update(motion=self.motion.astype(numbers, copy=False), motion_key=self.motion_key)
        if dtype == np.uint8:
            extra.update(quantize_steps(self.features))
        else:
            extra["features"] = self.features.astype(dtype, copy=False)
        with open(tmp, "wb") as handle:
            np.savez(handle, times=self.times, rate=self.rate, duration=self.duration, config=json.dumps(self.config),
                     **extra)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "FeatureSequence":
        with np.load(path, allow_pickle=False) as data:
            features = (data["features"].astype(np.float32, copy=False) if "features" in data.files
                        else dequantize_steps(data["features_u8"], data["features_low"], data["features_step"]))
            return cls(features=features, times=data["times"],
                       rate=float(data["rate"]),
                       duration=float(data["duration"]), config=json.loads(str(data["config"])),
                       small_frames=data["small_frames"] if "small_frames" in data.files else None,
                       motion=data["motion"].astype(np.float32, copy=False) if "motion" in data.files else None,
                       motion_key=str(data["motion_key"]) if "motion_key" in data.files else "")

    @staticmethod
    def is_complete(path: str, motion_key: str) -> bool:
        """Whether the file at ``path`` holds small frames and the motion stream of the encoder
        ``motion_key`` (False for an unreadable file, which is then written again)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return "small_frames" in data.files and "motion_key" in data.files and str(data["motion_key"]) == motion_key
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return False


def quantize_steps(features: np.ndarray) -> dict[str, np.ndarray]:
    """``(C, L)`` features → 8 bits a number, each step (column) over its own range:
    ``features_u8`` ``(C, L)`` uint8, ``features_low`` and ``features_step`` ``(L,)`` float32 (the
    error is at most half a step: 1/510 of the column's range)."""
    low = features.min(axis=0).astype(np.float32)
    step = np.maximum(features.max(axis=0) - low, 1e-12).astype(np.float32) / 255
    codes = np.clip(np.rint((features - low) / step), 0, 255).astype(np.uint8)
    return {"features_u8": codes, "features_low": low, "features_step": step}


def dequantize_steps(codes: np.ndarray, low: np.ndarray, step: np.ndarray) -> np.ndarray:
    """:func:`quantize_steps`' arrays → ``(C, L)`` float32 features."""
    return (codes.astype(np.float32) * step[None] + low[None]).astype(np.float32)


def file_digest(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _digest_of(path: str, mtime_ns: int, size: int) -> str:
    return file_digest(path)


def _digest_cached(path: str) -> str:
    """SHA-256 of a file, recomputed only when its size or modification time changes."""
    stat = os.stat(path)
    return _digest_of(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


def pixel_statistics(model: torch.nn.Module, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The backbone's input mean and std in 0–255 units, shaped ``(1, 3, 1, 1)``."""
    return tuple(torch.tensor(v, device=device).view(1, 3, 1, 1) * 255 for v in (model.mean, model.std))


def frames_to_input(frames: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 RGB frames ``(N, H, W, 3)`` → normalized float ``(N, 3, H, W)`` (channels last)."""
    x = frames.permute(0, 3, 1, 2).float()
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_backbone(config: ExtractorConfig) -> torch.nn.Module:
    """The network of ``config.backbone`` with its weights loaded."""
    if config.backbone == "efficientnet_lite0":
        from .efficientnet_lite import EfficientNetLite0TSM

        if config.checkpoint:
            from ..checkpoints import load_checkpoint

            model, meta = load_checkpoint(config.checkpoint_path())
            if meta["config"]["fold_div"] != config.fold_div:
                raise ValueError(f"{config.checkpoint} was trained with fold_div {meta['config']['fold_div']}")
            return model
        return EfficientNetLite0TSM(fold_div=config.fold_div, pretrained=True)
    if config.backbone == "resnet50_tsm":
        from .resnet_tsm import ResNet50TSM, load_tsm_checkpoint

        if not config.checkpoint:
            raise ValueError("resnet50_tsm needs a checkpoint file (official TSM or mmaction2 weights)")
        model = ResNet50TSM(fold_div=config.fold_div)
        load_tsm_checkpoint(model, config.checkpoint)
        return model
    raise ValueError(f"unknown backbone {config.backbone!r}; choose one of {BACKBONES}")


def _tapped(iterator: Iterator, tap: Callable) -> Iterator:
    """``iterator``'s items, each handed to ``tap`` first."""
    for item in iterator:
        tap(item)
        yield item


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
        window: feature steps computed per forward pass (speed/memory only; results do not
            depend on it). 64: vtest.avi extracted in 3.7 s here against 5.1 s at 32 (each window
            recomputes 9 steps of context on each side) and 4.1 s at 128.
    """

    def __init__(self, config: ExtractorConfig = ExtractorConfig(), device: str | torch.device | None = None,
                 cache_dir: str | None = None, window: int = 64, motion: bool = True):
        self.config = config
        self.device = torch.device(device) if device else default_device()
        if self.device.type == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        self.half = self.device.type == "cuda"
        model = build_backbone(config).eval().to(self.device)
        if hasattr(model, "fuse_for_inference"):   # same features (float rounding), half the CPU time
            model = model.fuse_for_inference()
        self.model = model.to(memory_format=torch.channels_last)
        if self.half:
            self.model = self.model.half()
        self.mean, self.std = pixel_statistics(model, self.device)
        self.feature_dim = model.feature_dim
        self.context = sum(isinstance(m, TemporalShift) for m in model.modules())
        self.cache_dir = cache_dir
        self.window = window
        # the shift layers' segment count is module state: one trunk pass at a time per extractor
        self._trunk_lock = threading.Lock()
        #: the motion stream (:mod:`svmr.models.motion_encoder`) computed with the features (False:
        #: left to be computed on demand)
        self.motion = motion

    def _with_motion(self, sequence: "FeatureSequence") -> "FeatureSequence":
        if self.motion:
            from ..models.motion_encoder import motion_of

            motion_of(sequence, str(self.device))
        return sequence

    @torch.no_grad()
    def _stem(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(n, H, W, 3)`` → activations before the first shift layer (per frame)."""
        x = frames_to_input(torch.from_numpy(frames).to(self.device), self.mean, self.std)
        return self.model.frame_stem(x.half() if self.half else x)

    @torch.no_grad()
    def _trunk(self, stem: torch.Tensor) -> np.ndarray:
        """Stem activations of one contiguous stretch of the sequence → float32 ``(n, C)``."""
        with self._trunk_lock:
            set_num_segments(self.model, len(stem))
            return self.model.temporal_trunk(stem).float().cpu().numpy()

    def _forward(self, frames: np.ndarray) -> np.ndarray:
        """The whole network on one contiguous stretch, shifting along all of it: ``(n, C)``."""
        return self._trunk(self._stem(frames))

    def _run(self, chunks: Iterator[np.ndarray], total: int,
             progress: Callable[[int, int], None] | None) -> np.ndarray:
        """Features of a sequence of ``total`` frames delivered in chunks. The per-frame stem runs
        once per frame; the shifted trunk runs window by window with ``context`` steps of overlap
        on each side. Returns float32 ``(C, total)``.

        ``progress(done, total)`` is told after each chunk's stem and each window's trunk, ``done``
        counting half a frame for each pass (so a video shorter than one window reports half way)."""
        margin, outputs = self.context, []
        buffer, buffer_start, next_out = None, 0, 0  # buffer[0] holds frame number buffer_start
        stemmed = 0
        for chunk in itertools.chain(chunks, [None]):
            if chunk is not None:
                stem = self._stem(chunk)
                buffer = stem if buffer is None else torch.cat([buffer, stem])
                stemmed += len(chunk)
                if progress:
                    progress((stemmed + next_out) // 2, total)
            available = buffer_start + (0 if buffer is None else len(buffer))
            while next_out < total and (chunk is None or next_out + self.window + margin <= available):
                lo = max(0, next_out - margin)
                core_end = min(total, next_out + self.window)
                hi = min(available, core_end + margin)
                features = self._trunk(buffer[lo - buffer_start:hi - buffer_start])
                outputs.append(features[next_out - lo:core_end - lo])
                next_out = core_end
                keep_from = max(0, next_out - margin)
                buffer, buffer_start = buffer[keep_from - buffer_start:], keep_from
                if progress:
                    progress((stemmed + next_out) // 2, total)
        if next_out < total:
            raise V.VideoError(f"only {next_out} of {total} frames could be decoded")
        return np.ascontiguousarray(np.concatenate(outputs).T, dtype=np.float32)

    def extract_frames(self, frames: np.ndarray, rate: float) -> FeatureSequence:
        """Features of in-memory uint8 frames ``(L, H, W, 3)`` (already ``size × size``)."""
        chunks = (frames[i:i + self.window] for i in range(0, len(frames), self.window))
        features = self._run(chunks, len(frames), None)
        times = np.arange(len(frames)) / rate
        return self._with_motion(FeatureSequence(features, times, rate, len(frames) / rate, asdict(self.config),
                                                 small_frames(frames)))

    def _cache_path(self, path: str, start: float, end: float) -> str | None:
        if not self.cache_dir:
            return None
        key = f"{file_digest(path)}-{self.config.key()}-{start:.3f}-{end:.3f}-s{SMALL_FRAME_SIZE}"
        return os.path.join(self.cache_dir, key[:2], key + ".npz")

    def extract(self, path: str, start: float = 0.0, end: float | None = None,
                progress: Callable[[int, int], None] | None = None, info: V.VideoInfo | None = None,
                regions: "RegionTracker | None" = None) -> FeatureSequence:
        """Features of ``[start, end)`` of a video file (cached when ``cache_dir`` is set);
        ``info``: the file's :func:`~svmr.video.probe` when the caller has it (probing decodes
        the first and last frames); ``regions``: a tracker fed every decoded frame
        (:class:`~svmr.features.regions.RegionTracker`; the cache is not read then, the frames must be decoded).

        Raises:
            VideoError: the file cannot be used or the range is outside it.
        """
        info = info or V.probe(path)
        start, end = V.check_range(info, start, end)
        cache_path = self._cache_path(path, start, end)
        if cache_path and regions is None and os.path.exists(cache_path):
            try:
                return self._with_motion(FeatureSequence.load(cache_path))
            except (OSError, ValueError, KeyError):
                os.remove(cache_path)  # unreadable cache entry: recompute
        times = V.sample_times(start, end, self.config.rate)
        scale = 2 if self.config.crop_borders else 1       # bars are found at twice the size
        side = scale * self.config.size
        chunks = V.iter_frames(path, times, size=(side, side), info=info, chunk=self.window)
        if regions is not None:
            chunks = _tapped(chunks, regions.feed)
        result = self._from_chunks(chunks, times, info, progress)
        if cache_path:
            os.makedirs(os.path.dirname(cache_path), exist_ok=True)
            result.save(cache_path)
        return result

    def extract_region(self, path: str, start: float, end: float, box: tuple[float, float, float, float],
                       info: V.VideoInfo | None = None) -> FeatureSequence:
        """Features of ``[start, end)`` of a video file seen only inside ``box`` ``(top, bottom, left,
        right)`` (fractions of the frame): a picture inside the picture
        (:mod:`svmr.features.regions`), decoded large enough for the box to hold about twice
        ``size`` pixels a side (at most 4 × ``size``). Its ``times`` are the video's.

        Raises:
            VideoError: the file cannot be used or the range is outside it.
        """
        info = info or V.probe(path)
        start, end = V.check_range(info, start, end)
        times = V.sample_times(start, end, self.config.rate)
        narrowest = max(0.05, min(box[1] - box[0], box[3] - box[2]))
        side = int(min(4 * self.config.size, np.ceil(2 * self.config.size / narrowest / 16) * 16))
        chunks = (np.ascontiguousarray(crop_region(chunk, box))
                  for chunk in V.iter_frames(path, times, size=(side, side), info=info, chunk=self.window))
        return self._from_chunks(chunks, times, info, None)

    def _from_chunks(self, chunks: Iterator[np.ndarray], times: np.ndarray, info: V.VideoInfo,
                     progress: Callable[[int, int], None] | None) -> FeatureSequence:
        """The :class:`FeatureSequence` of decoded frames (chunks ``(n, H, W, 3)`` at ``times``):
        bars cut (when configured) and resized to ``size``, described, small frames and motion added."""
        size = (self.config.size, self.config.size)
        if self.config.crop_borders:
            chunks = (crop_borders(chunk, size) for chunk in chunks)
        else:
            chunks = (_resized(chunk, size) for chunk in chunks)
        small = []                                          # each chunk's small frames, in order
        chunks = _prefetch(_tapped(chunks, lambda chunk: small.append(small_frames(chunk))))
        features = self._run(chunks, len(times), progress)
        return self._with_motion(FeatureSequence(features, times, self.config.rate, info.duration,
                                                 asdict(self.config), np.concatenate(small) if small else None))


def _resized(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 ``(n, H, W, 3)`` → ``(n, size[1], size[0], 3)`` (unchanged when already that size)."""
    if frames.shape[1:3] == (size[1], size[0]):
        return frames
    import cv2

    return np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in frames])
