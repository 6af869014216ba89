"""Decodable copies: an H.264 copy, with the same frame times, of a file that VideoReader cannot
use as it is — rotated videos (pictures turned upright), animated GIFs, raw streams, pictures too
small for its scaler (upscaled), and damaged files (a corrupt stretch, a truncated end), which are
read for what decodes, the way a player shows them, with what was lost recorded beside the copy.

A copy is made once per file version (path, size, modification time) under :data:`COPIES_DIR` and
reused by every process; :func:`existing_copy` finds it. This module decodes with PyAV only.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import numpy as np

COPIES_DIR = os.path.join(tempfile.gettempdir(), "svmr_decodable")
COPY_TIME_BASE = Fraction(1, 90000)

#: pictures whose shorter side is under this many pixels are upscaled in the copy (VideoReader's
#: scaler refuses some small sizes: 48×64 and 16×16 fail, 64×48 works)
MIN_SIDE = 64


class Undecodable(Exception):
    """Nothing of the file decodes; ``str(err)`` says why, without the file's name."""


def even(value: int) -> int:
    """The largest even size ≤ ``value`` (at least 2): H.264 4:2:0 needs even sizes."""
    return max(2, int(value) // 2 * 2)


def _seconds(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Damage:
    """What of a damaged file could not be decoded. Times are seconds of the readable video."""

    #: ``(start, end)`` stretches inside the video whose pictures could not be decoded (a player
    #: shows the last good picture there, and so do the features)
    lost: tuple[tuple[float, float], ...] = ()
    #: the length the file claims when its data ends before it (a truncated file), else None
    claimed_s: float | None = None
    #: where the readable data ends (seconds), with ``claimed_s``
    readable_s: float | None = None

    def __bool__(self) -> bool:
        return bool(self.lost) or self.claimed_s is not None

    def describe(self) -> str:
        """One sentence for the user: ``damaged: 12.4–18.9 s could not be decoded; …``."""
        parts = []
        if self.lost:
            stretches = ", ".join(f"{_seconds(a)}–{_seconds(b)} s" for a, b in self.lost)
            parts.append(f"{stretches} could not be decoded (the last good picture stands in)")
        if self.claimed_s is not None:
            parts.append(f"the file ends at {_seconds(self.readable_s or 0.0)} s of the "
                         f"{_seconds(self.claimed_s)} s it claims (the rest is missing)")
        return "damaged: " + "; ".join(parts) + "." if parts else ""

    def summary(self) -> str:
        """A few words for a table cell: ``damaged: 12.4–18.9 s lost; ends at 17.3 of 32.7 s``."""
        parts = [f"{_seconds(a)}–{_seconds(b)} s lost" for a, b in self.lost]
        if self.claimed_s is not None:
            parts.append(f"ends at {_seconds(self.readable_s or 0.0)} of {_seconds(self.claimed_s)} s")
        return "damaged: " + "; ".join(parts) if parts else ""

    def to_json(self) -> dict:
        return {"lost": [list(pair) for pair in self.lost], "claimed_s": self.claimed_s, "readable_s": self.readable_s}

    @classmethod
    def from_json(cls, record: dict | None) -> "Damage":
        record = record or {}
        return cls(tuple((float(a), float(b)) for a, b in record.get("lost", ())),
                   record.get("claimed_s"), record.get("readable_s"))


#: bumped when copies are made differently (2: tolerant of damage, small pictures upscaled; 3: the
#: encoder on the 90-kHz clock)
COPY_VERSION = 3


def _key(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(f"{COPY_VERSION}|{os.path.abspath(path)}|{size}|{mtime_ns}".encode()).hexdigest()[:24]


def copy_path(path: str, size: int, mtime_ns: int) -> str:
    """Where the decodable copy of this file version is (or would be)."""
    return os.path.join(COPIES_DIR, f"{_key(path, size, mtime_ns)}.mp4")


def _sidecar(copy: str) -> str:
    """The JSON file beside a copy: its source, that file's version, and what was lost."""
    return copy[:-len(".mp4")] + ".json"


def existing_copy(path: str) -> str | None:
    """The decodable copy of the file's current version, when one was made (else None)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    copy = copy_path(path, stat.st_size, stat.st_mtime_ns)
    return copy if os.path.exists(copy) else None


def remove_copy(path: str) -> None:
    """Delete the decodable copy of the file's current version, if any (before the file goes)."""
    copy = existing_copy(path)
    for stale in ((copy, _sidecar(copy)) if copy else ()):
        try:
            os.remove(stale)
        except OSError:
            pass


def damage_of(copy: str) -> Damage:
    """The damage recorded beside a copy (no damage for a copy of an intact file)."""
    try:
        with open(_sidecar(copy)) as handle:
            return Damage.from_json(json.load(handle))
    except (OSError, ValueError):
        return Damage()


def prune(older_than_s: float = 60.0) -> int:
    """Delete the copies whose file is gone or changed (a visitor's upload deleted, a video
    replaced), and copies from older versions of this module; returns how many. Files younger
    than ``older_than_s`` are left alone (a copy may be in the making)."""
    if not os.path.isdir(COPIES_DIR):
        return 0
    removed, limit = 0, time.time() - older_than_s
    for name in os.listdir(COPIES_DIR):
        path = os.path.join(COPIES_DIR, name)
        if not name.endswith(".mp4") or ".part." in name:
            continue
        try:
            if os.path.getmtime(path) > limit or _source_current(_sidecar(path)):
                continue
            for stale in (path, _sidecar(path)):
                if os.path.exists(stale):
                    os.remove(stale)
            removed += 1
        except OSError:
            continue
    return removed


def _source_current(sidecar: str) -> bool:
    """Whether the file a copy was made from is still there, unchanged."""
    try:
        with open(sidecar) as handle:
            record = json.load(handle)
        stat = os.stat(record["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return stat.st_size == record.get("size") and stat.st_mtime_ns == record.get("mtime_ns")


class _TolerantDecoder:
    """The frames of a video stream in time order, decoded packet by packet: a packet that fails
    to decode is skipped, a read error ends the stream (a truncated file), frames that come out of
    time order after damage are dropped. Once iteration ends, ``times`` holds the kept frames'
    times, ``failed_times`` the times of the packets that failed (when they carry one) and
    ``failed_between`` the pairs of kept frame times between which packets failed (``-inf``:
    before the first picture)."""

    def __init__(self, container, stream):
        self.container, self.stream = container, stream
        self.times: list[float] = []
        self.failed_times: list[float] = []
        self.failed_between: list[tuple[float, float]] = []
        self.errors = 0

    @property
    def lost_start(self) -> bool:
        """Whether packets failed before the first picture (known once it is yielded)."""
        return bool(self.failed_between) and self.failed_between[0][0] == -math.inf

    def __iter__(self) -> Iterator:
        import av

        packets = self.container.demux(self.stream)
        failed = False
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.error.FFmpegError, OSError):
                self.errors += 1         # the file's data ends here
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.errors += 1
                failed = True
                if packet.pts is not None and packet.time_base is not None:
                    self.failed_times.append(float(packet.pts * packet.time_base))
                continue
            for frame in frames:
                time = frame.time
                if time is not None and self.times and time <= self.times[-1]:
                    continue             # garbage decoded out of order after a damaged stretch
                if failed and time is not None:
                    self.failed_between.append((self.times[-1] if self.times else -math.inf, time))
                    failed = False
                if time is not None:
                    self.times.append(time)
                yield frame

    def lost(self, step: float) -> list[tuple[float, float]]:
        """Stretches ``(a, b)`` of the stream's times with no picture: the gaps between kept
        frames (longer than 1.5 frames) that packets failed in, joined where one frame apart."""
        starts = [-math.inf] + self.times
        stretches: list[tuple[float, float]] = []
        for before, after in zip(starts[:-1], starts[1:]):
            failed_here = (before, after) in self.failed_between or any(before < t < after for t in self.failed_times)
            if not failed_here or after - before <= 1.5 * step:
                continue
            begin = before + step
            if stretches and begin - stretches[-1][1] <= 1.5 * step:
                stretches[-1] = (stretches[-1][0], after)
            else:
                stretches.append((begin, after))
        return stretches


def _upscale_factor(width: int, height: int) -> int:
    return max(1, math.ceil(MIN_SIDE / max(1, min(width, height))))


def make_copy(path: str, size: int, mtime_ns: int, rotation: int = 0) -> str:
    """Write (once) the decodable copy of this file version and return its path: pictures turned
    upright by ``rotation`` degrees, upscaled when small, every frame that decodes at its own
    time (high quality x264, no B-frames); what could not be decoded recorded beside it.

    Raises:
        Undecodable: not one frame decodes.
    """
    import av

    copy = copy_path(path, size, mtime_ns)
    if os.path.exists(copy):
        return copy
    os.makedirs(COPIES_DIR, exist_ok=True)
    tmp = f"{copy}.{os.getpid()}.part.mp4"
    try:
        with av.open(path) as source, av.open(tmp, mode="w") as out:
            stream_in = source.streams.video[0]
            rate = float(stream_in.average_rate or stream_in.guessed_rate or 25)
            decoder = _TolerantDecoder(source, stream_in)
            stream, last, first, factor, end = None, -1, None, 1, 0.0
            for index, frame in enumerate(decoder):
                picture = np.rot90(frame.to_ndarray(format="rgb24"), k=rotation // 90)
                if stream is None:
                    factor = _upscale_factor(picture.shape[1], picture.shape[0])
                    stream = out.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
                    stream.height = even(picture.shape[0] * factor)
                    stream.width = even(picture.shape[1] * factor)
                    stream.pix_fmt = "yuv420p"
                    stream.time_base = stream.codec_context.time_base = COPY_TIME_BASE   # exact frame times
                    stream.options = {"crf": "12", "preset": "veryfast", "bf": "0"}
                    # a damaged start is kept as lost time: the copy starts where the stream does
                    first = _stream_start(stream_in) if decoder.lost_start else frame.time
                if factor > 1:
                    picture = picture.repeat(factor, axis=0).repeat(factor, axis=1)
                # the frame's own time when it has one (variable rates stay), else its place in the stream
                seconds = frame.time - first if frame.time is not None and first is not None else index / rate
                upright = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(picture[:stream.height, :stream.width]), format="rgb24")
                last = max(last + 1, int(round(seconds / COPY_TIME_BASE)))
                upright.pts, upright.time_base = last, COPY_TIME_BASE
                end = float(last * COPY_TIME_BASE) + 1 / rate
                for packet in stream.encode(upright):
                    out.mux(packet)
            if stream is None:
                raise Undecodable("not one of its frames can be decoded" if decoder.errors else "the video has no frames")
            for packet in stream.encode():
                out.mux(packet)
            damage = _damage(decoder, first or 0.0, rate, end, _claimed_seconds(source, stream_in))
        with open(_sidecar(copy), "w") as handle:
            json.dump({**damage.to_json(), "source": os.path.abspath(path), "size": size, "mtime_ns": mtime_ns}, handle)
        os.replace(tmp, copy)
    except (av.error.FFmpegError, ValueError) as err:
        raise Undecodable("its frames cannot be decoded") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return copy


def _stream_start(stream) -> float | None:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else None


def _claimed_seconds(container, stream) -> float | None:
    """The length the container or stream states (seconds), or None."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1e6
    return None


def _damage(decoder: _TolerantDecoder, first: float, rate: float, end: float, claimed: float | None) -> Damage:
    """What the tolerant decode lost, in the copy's times (its first frame at 0): stretches between
    good pictures, and a truncated end (data ending over half a second and two frames before the
    stated length). Nothing for a file that decoded without an error."""
    if not decoder.errors:
        return Damage()
    lost = tuple((max(0.0, round(a - first, 3)), round(b - first, 3)) for a, b in decoder.lost(1.0 / rate))
    cut_short = claimed is not None and claimed - end > max(0.5, 2 / rate)
    return Damage(lost, round(claimed, 3) if cut_short else None, round(end, 3) if cut_short else None)
