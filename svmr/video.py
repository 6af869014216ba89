"""Video reading (decord) and browser-playable clip writing (PyAV, libx264).

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
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterator, Sequence

import numpy as np

from . import limits

#: Frames decoded per decord call when streaming (bounds memory for long ranges).
DECODE_CHUNK = 64


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
def _container_check(path: str, size: int, mtime_ns: int) -> tuple[str | None, int]:
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
        return unreadable, 0


DECODABLE_DIR = os.path.join(tempfile.gettempdir(), "svmr_decodable")
COPY_TIME_BASE = Fraction(1, 90000)


@functools.lru_cache(maxsize=64)
def _decodable_copy(path: str, size: int, mtime_ns: int, rotation: int) -> str:
    """An H.264 copy (high quality, the same frame times) that VideoReader can read, for a file
    PyAV decodes but VideoReader cannot use as it is: rotated videos (their pictures turned
    upright here), animated GIFs, raw streams. Made once per file version and reused."""
    import hashlib

    import av

    key = hashlib.sha256(f"{os.path.abspath(path)}|{size}|{mtime_ns}".encode()).hexdigest()[:24]
    copy = os.path.join(DECODABLE_DIR, f"{key}.mp4")
    if os.path.exists(copy):
        return copy
    os.makedirs(DECODABLE_DIR, exist_ok=True)
    tmp = f"{copy}.{os.getpid()}.part.mp4"
    try:
        with av.open(path) as source, av.open(tmp, mode="w") as out:
            stream_in = source.streams.video[0]
            rate = float(stream_in.average_rate or stream_in.guessed_rate or 25)
            stream, last = None, -1
            for index, frame in enumerate(source.decode(stream_in)):
                picture = np.rot90(frame.to_ndarray(format="rgb24"), k=rotation // 90)
                if stream is None:
                    stream = out.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
                    stream.height, stream.width = even(picture.shape[0]), even(picture.shape[1])
                    stream.pix_fmt, stream.time_base = "yuv420p", COPY_TIME_BASE
                    stream.options = {"crf": "12", "preset": "veryfast", "bf": "0"}
                    first = frame.time
                # the frame's own time when it has one (variable rates stay), else its place in the stream
                seconds = frame.time - (first or 0.0) if frame.time is not None and first is not None else index / rate
                upright = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(picture[:stream.height, :stream.width]), format="rgb24")
                last = max(last + 1, int(round(seconds / COPY_TIME_BASE)))
                upright.pts, upright.time_base = last, COPY_TIME_BASE
                for packet in stream.encode(upright):
                    out.mux(packet)
            if stream is None:
                raise VideoError(f"{_name(path)}: the video has no frames.")
            for packet in stream.encode():
                out.mux(packet)
        os.replace(tmp, copy)
    except (av.error.FFmpegError, ValueError) as err:
        raise VideoError(f"{_name(path)}: not a readable video file (its frames cannot be decoded).") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return copy


def _open_reader(path: str, width: int = -1, height: int = -1):
    """Open a decord VideoReader, turning every failure into a VideoError."""
    import decord

    _quiet_decoder()

    path = str(path)
    problem = _file_problem(path)
    if problem:
        raise VideoError(f"{_name(path)}: {problem}")
    stat = os.stat(path)
    problem, rotation = _container_check(path, stat.st_size, stat.st_mtime_ns)
    if problem:
        raise VideoError(f"{_name(path)}: {problem}")
    if rotation:
        path = _decodable_copy(path, stat.st_size, stat.st_mtime_ns, rotation)
    if _reads_as_is(path, stat.st_size, stat.st_mtime_ns, width, height):
        return _reader(decord, path, width, height)
    if os.path.dirname(path) == DECODABLE_DIR:
        raise VideoError(f"{_name(path)}: not a readable video file (its frames cannot be decoded).")
    # PyAV reads this file but VideoReader cannot, or returns other than RGB pictures (GIFs, raw
    # streams, PNG frames): read a decodable copy instead
    copy = _decodable_copy(path, stat.st_size, stat.st_mtime_ns, 0)
    copy_stat = os.stat(copy)
    if not _reads_as_is(copy, copy_stat.st_size, copy_stat.st_mtime_ns, width, height):
        raise VideoError(f"{_name(path)}: the decoder cannot give pictures of this video at "
                         f"{'its own size' if width < 0 else f'{width}×{height}'}.")
    return _reader(decord, copy, width, height)


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
    num_frames = len(reader)
    fps = float(reader.get_avg_fps() or 0.0)
    if num_frames <= 0:
        raise VideoError(f"{_name(path)}: the video has no frames.")
    if not np.isfinite(fps) or fps <= 0:
        raise VideoError(f"{_name(path)}: the video has no usable frame rate.")
    try:
        first = reader[0].asnumpy()
        reader[num_frames - 1].asnumpy()
    except Exception as err:
        raise VideoError(f"{_name(path)}: the video is truncated or corrupt "
                         f"(its frames cannot all be decoded).") from err
    height, width = first.shape[:2]
    starts, end_time = _frame_times(reader, num_frames, fps, str(path))
    info = VideoInfo(path=str(path), fps=fps, num_frames=num_frames, width=width, height=height,
                     frame_starts=starts, end_time=end_time)
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
def _seeking_is_exact(path: str, mtime_ns: int, size: int) -> bool:
    """Whether decord's random access returns the right frames for this file.

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
        uint8 RGB arrays of shape ``(n, H, W, 3)`` with ``n <= chunk``, in time order.
    """
    info = info or probe(path)
    width, height = size if size else (-1, -1)
    reader = _open_reader(path, width=width, height=height)
    indices = frame_indices(info, times)
    stat = os.stat(path)
    forward = None if _seeking_is_exact(str(path), stat.st_mtime_ns, stat.st_size) else _ForwardDecoder(reader, chunk)
    for lo in range(0, len(indices), chunk):
        wanted = indices[lo:lo + chunk]
        try:
            if forward is None:
                yield reader.get_batch(wanted.tolist()).asnumpy()
            else:  # this file seeks wrongly: decode every frame from the start instead
                yield forward.frames(wanted)
        except Exception as err:
            raise VideoError(f"{_name(path)}: decoding failed near "
                             f"{float(np.asarray(times)[lo]):.1f} s (corrupt data).") from err


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


#: containers and codecs every current browser plays in a ``<video>`` element
BROWSER_CONTAINERS = {"mp4", "mov", "webm"}
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}


def browser_playable(path: str) -> bool:
    """True when a browser can play the file as it is (an mp4/webm of H.264, VP8, VP9 or AV1 in
    4:2:0, not rotated); anything else needs a playable copy (:func:`write_clip`)."""
    import av

    try:
        stat = os.stat(path)
        if _container_check(str(path), stat.st_size, stat.st_mtime_ns) != (None, 0):
            return False
        with av.open(path) as container:
            formats = set(container.format.name.split(","))
            codec = container.streams.video[0].codec_context
            return (bool(formats & BROWSER_CONTAINERS) and codec.name in BROWSER_CODECS
                    and codec.format is not None and codec.format.name in ("yuv420p", "yuvj420p"))
    except (av.error.FFmpegError, IndexError, OSError, ValueError):
        return False


def even(value: int) -> int:
    """The largest even size ≤ ``value`` (at least 2): H.264 4:2:0 needs even sizes."""
    return max(2, int(value) // 2 * 2)


class ClipWriter:
    """Writes RGB frames to a browser-playable H.264 mp4 (yuv420p, faststart).

    Use as a context manager; frames are ``(H, W, 3)`` uint8 RGB arrays of one size.
    Odd sizes are cropped by one pixel (H.264 4:2:0 needs even sizes).
    """

    def __init__(self, path: str, fps: float, *, crf: int = 23, preset: str = "veryfast"):
        import av

        self.path = str(path)
        self._av = av
        self._container = av.open(self.path, mode="w", options={"movflags": "+faststart"})
        self._rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=self._rate)
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": preset}
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        if self._size is None:
            self._size = (even(frame.shape[1]), even(frame.shape[0]))
            self._stream.width, self._stream.height = self._size
        width, height = self._size
        frame = np.ascontiguousarray(frame[:height, :width, :3])
        video_frame = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        if self._container is None:
            return
        if self.frames_written:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
        self._container = None
        if not self.frames_written:
            if os.path.exists(self.path):
                os.remove(self.path)
            raise VideoError("No frames were written; the clip would be empty.")

    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_frames(path: str, frames: np.ndarray | Sequence[np.ndarray], fps: float, **kw) -> str:
    """Write a sequence of ``(H, W, 3)`` uint8 RGB frames as H.264 mp4; returns ``path``."""
    with ClipWriter(path, fps, **kw) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def write_clip(src: str, dst: str, start: float, end: float, *, max_side: int | None = 640,
               fps: float | None = None, crf: int = 23, progress: Callable[[int, int], None] | None = None) -> VideoInfo:
    """Cut ``[start, end)`` of ``src`` into a browser-playable H.264 mp4 at ``dst``.

    Args:
        max_side: downscale so the longer side is at most this many pixels (None: the source's size,
            up to ``SVMR_MAX_SIDE``).
        fps: output frame rate (default: the source's).
        crf: x264 quality (higher: smaller file, more compression artefacts).
        progress: called with ``(frames written, frames in all)`` after each decoded chunk.
    Returns:
        The written clip's :class:`VideoInfo`.
    """
    info = probe(src)
    start, end = check_range(info, start, end)
    out_fps = float(fps or info.fps)
    size = fit_size(info.width, info.height, min(max_side or limits.max_side(), limits.max_side()))
    tmp = f"{dst}.part.mp4"
    times = sample_times(start, end, out_fps)
    try:
        with ClipWriter(tmp, out_fps, crf=crf) as writer:
            for chunk in iter_frames(src, times, size=size, info=info):
                for frame in chunk:
                    writer.write(frame)
                if progress:
                    progress(writer.frames_written, len(times))
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return probe(dst)
