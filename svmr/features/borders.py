"""Letterbox and pillarbox removal: the picture without the uniform bars around it.

A clip re-shared into another frame shape (a 4:3 camera clip in a 16:9 video, a phone's portrait
clip in a landscape one) gains bars that a global image descriptor sees as much as the picture:
on the real-footage set, a transformed copy of a street-camera clip inside a 16:9 cartoon scored a
frame similarity near 0 with its own query until the bars were cut (0.21 after). Video copy
detection pipelines cut them before describing a frame; so does the extractor
(:class:`~svmr.features.extractor.ExtractorConfig` ``crop_borders``).

A bar is a run of rows (or columns) from the frame's edge, each nearly uniform (standard
deviation ≤ ``tolerance`` grey levels), dark, and of the same grey as the bar's first line.
Bars are cut only in symmetric pairs (top with bottom, left with right, within a few pixels), at
least 2 pixels each, leaving at least 40 % of the frame: a dark sky or floor on one side of a
picture is not a bar.
"""
from __future__ import annotations

import cv2
import numpy as np

#: grey levels: a bar line's largest standard deviation, its brightest mean, its largest drift
TOLERANCE, DARKEST_BAR, DRIFT = 4.0, 60.0, 6.0


def _bar_length(lines: np.ndarray) -> int:
    """Number of leading bar lines of ``lines`` ``(n, m)`` grey values (line by line from the edge)."""
    means, spreads = lines.mean(axis=1), lines.std(axis=1)
    ok = (spreads <= TOLERANCE) & (means <= DARKEST_BAR) & (np.abs(means - means[0]) <= DRIFT)
    return int(np.argmin(ok)) if not ok.all() else len(ok)


def _pair(first: int, second: int, size: int) -> tuple[int, int]:
    """Keep a pair of opposite bars only when both exist, match, and leave enough picture."""
    if min(first, second) < 2 or abs(first - second) > 2 + 0.04 * size or first + second > 0.6 * size:
        return 0, 0
    return first, second


def content_box(frame: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` pixel bounds of the picture inside ``frame`` ``(H, W, 3)``
    (the whole frame when it has no bars)."""
    grey = frame.astype(np.float32).mean(axis=2)
    height, width = grey.shape
    top, bottom = _pair(_bar_length(grey), _bar_length(grey[::-1]), height)
    left, right = _pair(_bar_length(grey.T), _bar_length(grey.T[::-1]), width)
    return top, height - bottom, left, width - right


def crop_borders(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 frames ``(n, H, W, 3)`` → ``(n, size[1], size[0], 3)``: each frame's picture without
    its bars, resized to ``size`` (width, height)."""
    out = np.empty((len(frames), size[1], size[0], 3), np.uint8)
    for k, frame in enumerate(frames):
        top, bottom, left, right = content_box(frame)
        out[k] = cv2.resize(frame[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
    return out
