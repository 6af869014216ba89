"""Writing browser-playable clips (PyAV, libx264): :class:`ClipWriter` for frames,
:func:`write_clip` to cut a range of a video, and :func:`browser_playable` to tell whether a file
needs such a copy at all. Reading is :mod:`svmr.video`'s.
"""
from __future__ import annotations

import os
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from . import limits
from . import video as V
from .decodable import even

#: containers and codecs every current browser plays in a ``<video>`` element
BROWSER_CONTAINERS = {"mp4", "mov", "webm"}
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}


def browser_playable(path: str) -> bool:
    """True when a browser can play the file as it is (an mp4/webm of H.264, VP8, VP9 or AV1 in
    4:2:0, not rotated); anything else needs a playable copy (:func:`write_clip`)."""
    import av

    try:
        stat = os.stat(path)
        if V.container_check(str(path), stat.st_size, stat.st_mtime_ns) != (None, 0):
            return False
        with av.open(path) as container:
            formats = set(container.format.name.split(","))
            codec = container.streams.video[0].codec_context
            return (bool(formats & BROWSER_CONTAINERS) and codec.name in BROWSER_CODECS
                    and codec.format is not None and codec.format.name in ("yuv420p", "yuvj420p"))
    except (av.error.FFmpegError, IndexError, OSError, ValueError):
        return False


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
            raise V.VideoError("No frames were written; the clip would be empty.")

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
               fps: float | None = None, crf: int = 23, progress: Callable[[int, int], None] | None = None) -> V.VideoInfo:
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
    info = V.probe(src)
    start, end = V.check_range(info, start, end)
    out_fps = float(fps or info.fps)
    size = V.fit_size(info.width, info.height, min(max_side or limits.max_side(), limits.max_side()))
    tmp = f"{dst}.part.mp4"
    times = V.sample_times(start, end, out_fps)
    try:
        with ClipWriter(tmp, out_fps, crf=crf) as writer:
            for chunk in V.iter_frames(src, times, size=size, info=info):
                for frame in chunk:
                    writer.write(frame)
                if progress:
                    progress(writer.frames_written, len(times))
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return V.probe(dst)
