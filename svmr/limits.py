"""Limits on what svmr accepts, each settable by an environment variable (read when used, so a
server picks up the value it was started with and tests can change them).

| variable | default | what |
|---|---|---|
| ``SVMR_MAX_DURATION_S`` | 14400 (4 h) | longest video the library reads |
| ``SVMR_MAX_SIDE`` | 3840 | longer side of the pictures written (trims, playable copies); larger videos are decoded downscaled |
| ``SVMR_MAX_UPLOAD_MB`` | 1024 | largest file a visitor may upload (the app) |
| ``SVMR_MAX_UPLOAD_DURATION_S`` | 1200 (20 min) | longest video a visitor may add to their gallery |
| ``SVMR_MAX_SESSION_VIDEOS`` | 20 | videos in one visitor's gallery |
| ``SVMR_DECODE_BUDGET_S`` | 600 | seconds an upload's indexing may go without progress before it is given up |
| ``SVMR_READ_BUDGET_S`` | 60 | seconds reading a query file (probe, playable copy, features) may go without progress (the app) |
"""
from __future__ import annotations

import os

DEFAULTS = {
    "SVMR_MAX_DURATION_S": 4 * 3600.0,
    "SVMR_MAX_SIDE": 3840,
    "SVMR_MAX_UPLOAD_MB": 1024.0,
    "SVMR_MAX_UPLOAD_DURATION_S": 20 * 60.0,
    "SVMR_MAX_SESSION_VIDEOS": 20,
    "SVMR_DECODE_BUDGET_S": 600.0,
    "SVMR_READ_BUDGET_S": 60.0,
}


def limit(name: str) -> float | int:
    """The limit ``name`` (one of :data:`DEFAULTS`): the environment's value when set and valid,
    otherwise the default (a value that is not a positive number is ignored)."""
    default = DEFAULTS[name]
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = type(default)(float(raw)) if isinstance(default, int) else float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def max_duration_s() -> float:
    return limit("SVMR_MAX_DURATION_S")


def max_side() -> int:
    return limit("SVMR_MAX_SIDE")


def max_upload_bytes() -> int:
    return int(limit("SVMR_MAX_UPLOAD_MB") * 1024 * 1024)


def max_upload_duration_s() -> float:
    return limit("SVMR_MAX_UPLOAD_DURATION_S")


def max_session_videos() -> int:
    return limit("SVMR_MAX_SESSION_VIDEOS")


def decode_budget_s() -> float:
    return limit("SVMR_DECODE_BUDGET_S")


def read_budget_s() -> float:
    return limit("SVMR_READ_BUDGET_S")


def describe_seconds(seconds: float) -> str:
    """``"45 s"``, ``"1.3 min"`` or ``"2.0 h"``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def describe_bytes(size: float) -> str:
    """``"0.4 MB"``, ``"35 MB"`` or ``"1.2 GB"``."""
    megabytes = size / 2 ** 20
    if megabytes < 10:
        return f"{megabytes:.1f} MB"
    return f"{megabytes:.0f} MB" if megabytes < 1024 else f"{megabytes / 1024:.1f} GB"
