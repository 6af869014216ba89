"""Decode and feature-extraction throughput on this machine (prints a markdown table).

    python benchmarks/throughput.py [--repeats 3]

* decode: decord, frames sampled at 4 per second and resized to 128×128 while decoding, on the
  real sample footage (frames delivered per second of wall time);
* network: backbone forward passes on batches of 32 real frames (4 clips of 8), median of N;
* end to end: ``FeatureExtractor.extract`` on a whole real video (decode + network, overlapped),
  without and with the motion stream.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import torch

from svmr import video as V
from svmr.data.footage import footage_path
from svmr.features import ExtractorConfig, FeatureExtractor
from svmr.features.resnet_tsm import ResNet50TSM


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def decode_rows(repeats: int) -> list[tuple]:
    rows = []
    for name in ("vtest.avi", "bikes.mp4", "Megamind.avi"):
        path = footage_path(name)
        if not path:
            continue
        info = V.probe(path)
        times = V.sample_times(0, info.duration, 4.0)
        seconds = _median_time(lambda: list(V.iter_frames(path, times, size=(128, 128), info=info)), repeats)
        rows.append((f"decode {name} ({info.width}×{info.height}, {info.fps:g} fps) → 4/s at 128 px",
                     len(times) / seconds))
    return rows


def network_rows(repeats: int) -> list[tuple]:
    path = footage_path("vtest.avi") or footage_path("bikes.mp4")
    rows = []
    for size in (112, 128, 160, 224):
        extractor = FeatureExtractor(ExtractorConfig(size=size))
        frames, _ = V.read_frames(path, rate=4.0, start=0, end=8.0, size=(size, size))
        frames = frames[:32]
        seconds = _median_time(lambda: extractor._forward(frames), repeats)
        rows.append((f"EfficientNet-Lite0 TSM forward, {size} px, batch 32 ({extractor.device})", 32 / seconds))
    model = ResNet50TSM(num_segments=8, num_classes=0).eval().to(memory_format=torch.channels_last)
    x = torch.randn(32, 3, 160, 160).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        seconds = _median_time(lambda: model(x), max(1, repeats // 2))
    rows.append(("ResNet-50 TSM forward, 160 px, batch 32 (cpu; speed only)", 32 / seconds))
    return rows


def end_to_end_rows() -> list[tuple]:
    """Whole videos, with and without the motion stream (:mod:`svmr.models.motion_encoder`)."""
    rows = []
    for motion in (False, True):
        extractor = FeatureExtractor(ExtractorConfig(), motion=motion)
        for name in ("vtest.avi", "bikes.mp4"):
            path = footage_path(name)
            if not path:
                continue
            started = time.perf_counter()
            sequence = extractor.extract(path)
            seconds = time.perf_counter() - started
            stream = "appearance and motion" if motion else "appearance only"
            rows.append((f"extract {name} end to end (128 px, 4/s; {stream})", sequence.length / seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, threads {torch.get_num_threads()}")
    print("\n| measurement | frames/s |\n|---|---:|")
    for label, value in decode_rows(args.repeats) + network_rows(args.repeats) + end_to_end_rows():
        print(f"| {label} | {value:.0f} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
