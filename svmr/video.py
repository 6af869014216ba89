"""Video reading (decord; PyAV for what decord cannot open as it is, :mod:`svmr.decodable`);
writing clips is :mod:`svmr.clips`'s.

Every failure to read a file surfaces as :class:`VideoError`, whose message is
meant for the person who gave us the file ("this file is not a video ...").

Times are seconds of the original video, taken from the container's timestamps: frame ``i`` is
shown from its presentation time until the next frame's, so variable-frame-rate files (tree.avi:
68 frames over 29.6 s behind a 15-fps header) keep their real length. Files whose timestamps are
unusable (missing, non-monotonic, or garbage as in some AVIs with packed B-frames) fall back to
``i / fps``. Sampling at ``rate`` frames per second over ``[start, end)`` takes the frame shown at
``start + k / rate`` for ``k = 0, 1, ...``.
"""
from __future__ import annotations

import errno
import functools
import os
import stat as stat_mode
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from . import decodable, limits
from .decodable import Damage, even

#: Frames decoded per decord call when streaming (bounds memory for long ranges).
DECODE_CHUNK = 64
#: the most bytes of pictures one decoded chunk holds: a chunk of large pictures (a trim at the
#: source's resolution) has fewer frames, so a server's memory does not jump by hundreds of MiB
CHUNK_BYTES = 32 * 2**20


class VideoError(ValueError):
    """A video cannot be used; ``str(err)`` is a message for the user."""


@dataclass(frozen=True)
class VideoInfo:
    """What we know about a video file before decoding its pixels."""

    path: str
    fps: float             # the stream's nominal (average) rate
    num_frames: int
    width: int
    height: int
    #: start time in seconds of every frame ``(num_frames,)`` from the container, or None when
    #: the file's timestamps are unusable (then frame ``i`` starts at ``i / fps``)
    frame_starts: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: end of the last frame (seconds), with ``frame_starts``
    end_time: float | None = field(default=None, compare=False)
    #: what of a damaged file could not be decoded (it is read for what decodes)
    damage: Damage = field(default_factory=Damage, compare=False)

    @property
    def duration(self) -> float:
        """Length in seconds: the end of the last frame (``num_frames / fps`` without timestamps)."""
        return self.end_time if self.end_time is not None else self.num_frames / self.fps

    def start_times(self) -> np.ndarray:
        """Start time in seconds of every frame ``(num_frames,)``: the container's, or ``i / fps``."""
        return self.frame_starts if self.frame_starts is not None else np.arange(self.num_frames) / self.fps

    @property
    def variable_rate(self) -> bool:
        """Whether the frames are unevenly spaced in time (more than 10 % off ``i / fps``)."""
        if self.frame_starts is None:
            return False
        nominal = np.arange(self.num_frames) / self.fps
        return bool(np.abs(self.frame_starts - nominal).max() > 0.1 * self.duration + 1 / self.fps)


def _name(path: str) -> str:
    return os.path.basename(str(path)) or str(path)


def _seconds(value: float) -> str:
    """A time in seconds as a reader wants it: ``12.35`` — or ``1e+308`` for a number no video reaches."""
    return f"{value:.2f}" if abs(value) < 1e7 else f"{value:.3g}"


def _file_problem(path: str) -> str | None:
    """What keeps ``path`` from being read as a file, in words (None: a readable regular file)."""
    try:
        info = os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link that loops back on itself, not a video file."
        if err.errno == errno.EACCES:
            return "cannot be read: permission denied."
        if os.path.islink(path):
            return "a symbolic link to a file that does not exist."
        return "file not found."
    if stat_mode.S_ISDIR(info.st_mode):
        return "is a folder, not a video file."
    if not stat_mode.S_ISREG(info.st_mode):
        kind = "a named pipe" if stat_mode.S_ISFIFO(info.st_mode) else \
            "a device" if stat_mode.S_ISCHR(info.st_mode) or stat_mode.S_ISBLK(info.st_mode) else "a socket"
        return f"{kind}, not a video file (only regular files are read)."
    if info.st_size == 0:
        return "the file is empty (0 bytes)."
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        return "cannot be read: permission denied."
    return None


@functools.lru_cache(maxsize=1)
def _quiet_decoder() -> None:
    """Silence the decoder's own log (``[h264 …] decode_slice_header error`` for every damaged
    frame: 52 lines for one corrupted 2.5-s clip) once per process; a file that cannot be used
    raises a VideoError with a sentence instead."""
    import decord.logging

    decord.logging.set_level(decord.logging.QUIET)


@functools.lru_cache(maxsize=256)
def container_check(path: str, size: int, mtime_ns: int) -> tuple[str | None, int]:
    """``(why the container cannot give video frames or None, display rotation in degrees)``,
    found by reading its header and first frame with PyAV before the decoder behind VideoReader
    opens it: that decoder prints a C++ error line for every file it cannot open, says nothing
    about why, and returns scrambled pictures for rotated videos (phones' portrait clips)."""
    import av

    unreadable = "not a readable video file (the decoder could not open it)."
    try:
        with av.open(path) as container:
            if not container.streams.video:
                kinds = sorted({stream.type for stream in container.streams})
                return "it holds no video stream" + (f" (only {', '.join(kinds)})" if kinds else "") + ".", 0
            rotation = 0
            try:
                for frame in container.decode(video=0):
                    rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
                    break
            except av.error.FFmpegError:
                pass                                  # no first frame: the decoder below says so
            return None, rotation if rotation in (90, 180, 270) else 0
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return (_INCOMPLETE if _index_missing(path) else unreadable), 0


_INCOMPLETE = ("an incomplete MP4/MOV file: its index (the moov box, which cameras write last) is missing, so "
               "it was cut short or never finished and no picture in it can be placed in time.")


def _index_missing(path: str) -> bool:
    """Whether an ISO-BMFF file (MP4, MOV: it starts with an ``ftyp`` box) has no ``moov`` box among
    its top-level boxes (a recording cut before its end was written)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            offset, kinds = 0, []
            while offset + 8 <= size and len(kinds) < 1000:
                handle.seek(offset)
                header = handle.read(16)
                length, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if length == 1 and len(header) == 16:
                    length = int.from_bytes(header[8:16], "big")
                kinds.append(kind)
                if length < 8:
                    break
                offset += length
    except OSError:
        return False
    return bool(kinds) and kinds[0] == b"ftyp" and b"moov" not in kinds


def _open_reader(path: str, width: int = -1, height: int = -1):
    """Open a decord VideoReader on the file, or on its decodable copy (:mod:`svmr.decodable`)
    when VideoReader cannot use the file as it is; every failure becomes a VideoError."""
    import decord

    _quiet_decoder()
    path = str(path)
    problem = _file_problem(path)
    if problem:
        raise VideoError(f"{_name(path)}: {problem}")
    copy = decodable.existing_copy(path)
    if copy is None:
        stat = os.stat(path)
        problem, rotation = container_check(path, stat.st_size, stat.st_mtime_ns)
        if problem:
            raise VideoError(f"{_name(path)}: {problem}")
        if not rotation and _reads_as_is(path, stat.st_size, stat.st_mtime_ns, width, height):
            return _reader(decord, path, width, height)
        # rotated, or PyAV reads this file but VideoReader cannot (GIFs, raw streams, PNG frames,
        # small pictures, damage): read a decodable copy instead
        copy = _make_copy(path, rotation)
    copy_stat = os.stat(copy)
    if not _reads_as_is(copy, copy_stat.st_size, copy_stat.st_mtime_ns, width, height):
        raise VideoError(f"{_name(path)}: the decoder cannot give pictures of this video at "
                         f"{'its own size' if width < 0 else f'{width}×{height}'}.")
    return _reader(decord, copy, width, height)


def _make_copy(path: str, rotation: int = 0) -> str:
    """The decodable copy of the file's current version (made now if needed)."""
    stat = os.stat(path)
    try:
        return decodable.make_copy(path, stat.st_size, stat.st_mtime_ns, rotation)
    except decodable.Undecodable as err:
        raise VideoError(f"{_name(path)}: not a readable video file ({err}).") from err


def salvaged(path: str) -> bool:
    """Whether the file (its current version) is read through a copy that records damage."""
    copy = decodable.existing_copy(str(path))
    return copy is not None and bool(decodable.damage_of(copy))


def _salvage(path: str) -> bool:
    """Read a file that failed mid-decode through its tolerant copy from now on; False when it is
    already read through one (nothing more can be recovered)."""
    if decodable.existing_copy(path) is not None:
        return False
    stat = os.stat(path)
    _make_copy(path, container_check(path, stat.st_size, stat.st_mtime_ns)[1])
    return True


@functools.lru_cache(maxsize=512)
def _reads_as_is(path: str, size: int, mtime_ns: int, width: int, height: int) -> bool:
    """Whether VideoReader opens this file version and gives ``(H, W, 3)`` pictures in a batch at
    this size (decided once: it costs an open and a decoded frame)."""
    import decord

    try:
        return _reader(decord, path, width, height).get_batch([0]).shape[-1] == 3
    except Exception:  # decord raises DECORDError / RuntimeError with C++ traces
        return False


def _reader(decord, path: str, width: int, height: int):
    return decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=height,
                              num_threads=max(1, os.cpu_count() or 1))


def probe(path: str) -> VideoInfo:
    """Read a video's metadata and check that its first and last frames decode.

    Raises:
        VideoError: missing, empty, non-video, truncated, zero-length or over-long files.
    """
    reader = _open_reader(path)
    try:
        reader[0].asnumpy()
        reader[len(reader) - 1].asnumpy()
    except Exception:                   # damaged: read what decodes, through the tolerant copy
        if _salvage(str(path)):
            return probe(path)
        raise VideoError(f"{_name(path)}: the video is truncated or corrupt (its frames cannot be decoded).")
    num_frames = len(reader)
    fps = float(reader.get_avg_fps() or 0.0)
    if num_frames <= 0:
        raise VideoError(f"{_name(path)}: the video has no frames.")
    if not np.isfinite(fps) or fps <= 0:
        raise VideoError(f"{_name(path)}: the video has no usable frame rate.")
    height, width = reader[0].shape[:2]
    copy = decodable.existing_copy(str(path))
    starts, end_time = _frame_times(reader, num_frames, fps, copy or str(path))
    info = VideoInfo(path=str(path), fps=fps, num_frames=num_frames, width=width, height=height,
                     frame_starts=starts, end_time=end_time,
                     damage=decodable.damage_of(copy) if copy else decodable.Damage())
    longest = limits.max_duration_s()
    if info.duration > longest:
        raise VideoError(f"{_name(path)}: the video lasts {limits.describe_seconds(info.duration)}; the limit is "
                         f"{limits.describe_seconds(longest)} (SVMR_MAX_DURATION_S).")
    return info


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """``(width, height)`` scaled down (even numbers) so the longer side is at most ``max_side``,
    or None when the picture already fits (or there is no bound)."""
    if not max_side or max(width, height) <= max_side:
        return None
    scale = max_side / max(width, height)
    return even(max(2, round(width * scale))), even(max(2, round(height * scale)))


def _frame_times(reader, num_frames: int, fps: float, path: str) -> tuple[np.ndarray | None, float | None]:
    """Every frame's ``(start, end)`` presentation time from the container, shifted so the first
    frame starts at 0; ``(None, None)`` when they are missing, non-finite or out of order. Where
    VideoReader has no usable times, the container's packets are read for them (PyAV)."""
    try:
        stamps = np.asarray(reader.get_frame_timestamp(np.arange(num_frames)), dtype=np.float64)
    except Exception:
        stamps = None
    if stamps is None or stamps.shape != (num_frames, 2) or not np.isfinite(stamps).all() or np.abs(stamps).max() > 1e12:
        return _packet_times(path, num_frames, fps)
    starts, ends = stamps[:, 0] - stamps[0, 0], stamps[:, 1] - stamps[0, 0]
    if abs(stamps[0, 0]) > 1.0 or (np.diff(starts) <= 0).any() or ends[-1] <= starts[-1]:
        return None, None
    return starts, float(ends[-1])


def _packet_times(path: str, num_frames: int, fps: float) -> tuple[np.ndarray | None, float | None]:
    """Frame start times from the video packets' timestamps (demuxed, not decoded), when there is
    one per frame; the last frame lasts as long as the typical frame."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stamps = sorted(float(p.pts * p.time_base) for p in container.demux(stream)
                            if p.pts is not None and p.time_base is not None and p.size)
    except (av.error.FFmpegError, IndexError, OSError, ValueError):
        return None, None
    if len(stamps) != num_frames or num_frames < 1:
        return None, None
    starts = np.asarray(stamps) - stamps[0]
    if (np.diff(starts) <= 0).any():
        return None, None
    step = min(float(np.median(np.diff(starts))), 1.0 / fps) if num_frames > 1 else 1.0 / fps
    return starts, float(starts[-1] + step)


def check_range(info: VideoInfo, start: float = 0.0, end: float | None = None) -> tuple[float, float]:
    """Validate a time range: ``start`` must lie in the video and ``end`` after it. Returns
    ``(start, end)`` with a missing ``end`` filled in and an ``end`` past the video clamped to it."""
    end = info.duration if end is None else float(end)
    start = float(start)
    if not (np.isfinite(start) and np.isfinite(end)):
        raise VideoError("The time range must be finite numbers of seconds.")
    if start < 0 or start >= info.duration:
        raise VideoError(f"{_name(info.path)}: start {_seconds(start)} s is outside the video "
                         f"(0 to {info.duration:.2f} s).")
    if end <= start:
        raise VideoError(f"The range end ({_seconds(end)} s) must be after its start ({_seconds(start)} s).")
    return start, min(end, info.duration)


def sample_times(start: float, end: float, rate: float) -> np.ndarray:
    """Timestamps ``start + k / rate`` in ``[start, end)``; at least one (``start``).

    Returns:
        float64 array of shape ``(L,)``.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    count = max(1, int(np.ceil((end - start) * rate - 1e-9)))
    return start + np.arange(count, dtype=np.float64) / rate


def frame_indices(info: VideoInfo, times: Sequence[float]) -> np.ndarray:
    """Index of the frame shown at each time (the last frame starting at or before it, clamped
    into the video)."""
    times = np.asarray(times, dtype=np.float64)
    if info.frame_starts is not None:
        idx = np.searchsorted(info.frame_starts, times + 1e-6, side="right") - 1
    else:
        idx = np.floor(times * info.fps + 1e-6).astype(np.int64)
    return np.clip(idx, 0, info.num_frames - 1)


@functools.lru_cache(maxsize=512)
def _seeking_is_exact(path: str, mtime_ns: int, size: int, through_copy: bool) -> bool:
    """Whether decord's random access returns the right frames for this file (or its decodable
    copy, ``through_copy``).

    Some AVI files (packed B-frames) seek to wrong frames. We decode sequentially up to just past
    the last keyframe among the first 1000 frames and compare with a random access there (once
    per file version).
    """
    keys = [k for k in _open_reader(path, 64, 64).get_key_indices() if 0 < k <= 1000]
    if not keys:
        return True  # nothing to seek to cheaply: decoding starts from the first frame anyway
    target = max(keys) + 1
    try:
        sequential = _open_reader(path, 64, 64).get_batch(list(range(target + 1))).asnumpy()[-1]
        direct = _open_reader(path, 64, 64).get_batch([target]).asnumpy()[0]
    except Exception:
        return False
    return float(np.abs(sequential.astype(np.int16) - direct).mean()) < 2.0


def iter_frames(path: str, times: Sequence[float], *, size: tuple[int, int] | None = None,
                info: VideoInfo | None = None, chunk: int = DECODE_CHUNK) -> Iterator[np.ndarray]:
    """Decode the frames at ``times`` in chunks (sequentially where seeking is unreliable).

    Args:
        size: ``(width, height)`` to resize to while decoding, or None for the original size.
    Yields:
        uint8 RGB arrays of shape ``(n, H, W, 3)`` with ``n <= chunk`` (and at most
        :data:`CHUNK_BYTES` of pictures), in time order.
    """
    info = info or probe(path)
    times = np.asarray(times, dtype=np.float64)
    width, height = size if size else (info.width, info.height)
    chunk = max(1, min(chunk, CHUNK_BYTES // max(1, width * height * 3)))
    done = 0
    while True:
        try:
            for frames in _decode_chunks(path, times[done:], size, info, chunk):
                done += len(frames)
                yield frames
            return
        except _ChunkFailed as failure:
            # a corrupt stretch the first and last frames did not show: from here on read what
            # decodes, through the tolerant copy (the times stay those of the video)
            if not _salvage(str(path)):
                raise VideoError(f"{_name(path)}: decoding failed between {failure.start:.1f} and "
                                 f"{failure.end:.1f} s (corrupt data).") from failure
            info = probe(path)


class _ChunkFailed(Exception):
    def __init__(self, start: float, end: float):
        super().__init__(f"{start}–{end} s")
        self.start, self.end = start, end


def _decode_chunks(path: str, times: np.ndarray, size: tuple[int, int] | None, info: VideoInfo,
                   chunk: int) -> Iterator[np.ndarray]:
    """:func:`iter_frames`'s decoding; a chunk that fails raises :class:`_ChunkFailed`."""
    width, height = size if size else (-1, -1)
    reader = _open_reader(path, width=width, height=height)
    indices = frame_indices(info, times)
    stat = os.stat(path)
    exact = _seeking_is_exact(str(path), stat.st_mtime_ns, stat.st_size, decodable.existing_copy(str(path)) is not None)
    forward = None if exact else _ForwardDecoder(reader, chunk)
    for lo in range(0, len(indices), chunk):
        wanted = indices[lo:lo + chunk]
        try:
            frames = reader.get_batch(wanted.tolist()).asnumpy() if forward is None else forward.frames(wanted)
        except Exception as err:       # decord raises DECORDError / RuntimeError with C++ traces
            raise _ChunkFailed(float(times[lo]), float(times[min(lo + chunk, len(times)) - 1])) from err
        yield frames


class _ForwardDecoder:
    """Frames at increasing indices, decoding consecutive frames only (never seeking)."""

    def __init__(self, reader, block: int):
        self.reader, self.block = reader, block
        self.position, self.cache = 0, {}

    def frames(self, wanted: np.ndarray) -> np.ndarray:
        out = []
        for index in wanted.tolist():
            while index not in self.cache:
                if self.position >= len(self.reader):
                    raise IndexError(f"frame {index} requested out of order")
                block = list(range(self.position, min(self.position + self.block, len(self.reader))))
                self.cache = dict(zip(block, self.reader.get_batch(block).asnumpy()))
                self.position = block[-1] + 1
            out.append(self.cache[index])
        return np.stack(out)


def read_frames(path: str, *, rate: float | None = None, times: Sequence[float] | None = None,
                start: float = 0.0, end: float | None = None,
                size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read frames sampled at ``rate`` over ``[start, end)``, or at explicit ``times``.

    Returns:
        ``(frames, times)``: uint8 ``(L, H, W, 3)`` RGB and float64 ``(L,)`` seconds.
    """
    info = probe(path)
    if times is None:
        start, end = check_range(info, start, end)
        times = sample_times(start, end, rate if rate else info.fps)
    times = np.asarray(times, dtype=np.float64)
    if times.size == 0:
        raise VideoError("No timestamps to read.")
    frames = np.concatenate(list(iter_frames(path, times, size=size, info=info)), axis=0)
    return frames, times
