"""A corpus of hostile and unusual video files, generated (never committed as binaries).

``build_corpus(folder, source)`` writes the files and returns one :class:`Case` per file: its path
and what a correct outcome is. ``"ok"``: the file is a usable video and must be handled
(probed, indexed, searched) correctly; ``"refused"``: it must be refused with a message naming
it; ``"either"``: a usable result or a message are both right (e.g. a 1-frame video); ``"damaged"``: a
damaged file that keeps decodable pictures — it must be indexed for what decodes, its lost stretch
stated (``Case.lost``: a word the statement holds).
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np


@dataclass
class Case:
    name: str
    path: str
    expect: str                    # "ok", "refused", "either" or "damaged"
    duration: float | None = None  # the true length of a usable file, when known
    note: str = ""
    lost: str = ""                 # "damaged": what the damage statement must say ("ends at", "could not be decoded")


def _pictures(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """Moving, textured RGB pictures (not flat: encoders and features have something to see)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (height // 4 + 2, width // 4 + 2, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((4, 4, 1), dtype=np.uint8))
    return [np.ascontiguousarray(np.roll(base, 2 * i, axis=1)[:height, :width]) for i in range(count)]


def write_video(path: str, *, codec: str = "libx264", fmt: str | None = None, count: int = 20, fps: int = 10,
                width: int = 96, height: int = 64, pix_fmt: str = "yuv420p", times: list[float] | None = None,
                rotation: int = 0, options: dict | None = None, container_options: dict | None = None) -> str:
    """Encode ``count`` pictures with PyAV; ``times`` (seconds) gives each frame's own time."""
    with av.open(path, mode="w", format=fmt, options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if options:
            stream.options = options
        if rotation:
            stream.set_display_rotation(rotation)
        if times is not None:                                     # frame times in milliseconds
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        for index, picture in enumerate(_pictures(count, width, height)):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = int(round(times[index] * 1000)), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio(path: str, seconds: float = 2.0, fmt: str | None = None) -> str:
    with av.open(path, mode="w", format=fmt) as container:
        stream = container.add_stream("aac", rate=44100)
        samples = int(seconds * 44100)
        for start in range(0, samples, 1024):
            chunk = np.sin(np.arange(start, start + 1024) * 0.05).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _patch_box(data: bytearray, box: bytes, offset: int, value: bytes) -> bytearray:
    """Overwrite bytes at ``offset`` after the type of the first ``box`` in an ISO-BMFF file."""
    at = data.find(box)
    if at < 0:
        raise ValueError(f"no {box!r} box")
    data[at + 4 + offset: at + 4 + offset + len(value)] = value
    return data


def build_corpus(folder: str, source: str) -> list[Case]:
    """Write the corpus into ``folder`` (``source``: a real mp4 to cut and damage)."""
    os.makedirs(folder, exist_ok=True)
    cases: list[Case] = []

    def path(name: str) -> str:
        return os.path.join(folder, name)

    def add(name: str, expect: str, duration: float | None = None, note: str = "", lost: str = "") -> None:
        cases.append(Case(name, path(name), expect, duration, note, lost))

    rng = np.random.default_rng(7)
    real = open(source, "rb").read()

    # --- not videos at all
    open(path("empty.mp4"), "wb").close()
    add("empty.mp4", "refused")
    for ext in ("mp4", "avi", "mkv", "webm", "mov"):
        with open(path(f"random.{ext}"), "wb") as handle:
            handle.write(rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())
        add(f"random.{ext}", "refused")
    for name, text in (("notes.mp4", "these are my notes, not a video\n" * 50),
                       ("page.mp4", "<html><body>not a video</body></html>"),
                       ("data.mp4", '{"frames": [1, 2, 3]}'),
                       ("script.avi", "#!/bin/sh\nrm -rf /\n")):
        with open(path(name), "w") as handle:
            handle.write(text)
        add(name, "refused")
    with open(path("zeros.mp4"), "wb") as handle:
        handle.write(bytes(50_000))
    add("zeros.mp4", "refused")

    # --- damaged real files
    for share in (10, 50, 90):
        with open(path(f"truncated_{share}.mp4"), "wb") as handle:
            handle.write(real[: len(real) * share // 100])
        add(f"truncated_{share}.mp4", "either", note="a cut file may keep a playable start")
    moov = bytearray(real)
    at = moov.find(b"moov")
    moov[at: at + 4] = b"xxxx"
    open(path("no_moov.mp4"), "wb").write(bytes(moov))
    add("no_moov.mp4", "refused")
    header = bytearray(real)
    header[:64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    open(path("bad_header.mp4"), "wb").write(bytes(header))
    add("bad_header.mp4", "either")
    scrambled = bytearray(real)
    middle = len(scrambled) // 2
    scrambled[middle: middle + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    open(path("corrupt_middle.mp4"), "wb").write(bytes(scrambled))
    add("corrupt_middle.mp4", "damaged", lost="could not be decoded")

    # --- damaged camera-style files whose index comes first (as phones and faststart write them): the
    # pictures before the damage decode, so the file is kept with its lost stretch stated
    front = bytearray(open(write_video(path("faststart.mp4"), count=120, width=160, height=96, fps=10,
                                       options={"g": "10"},
                                       container_options={"movflags": "+faststart"}), "rb").read())
    os.remove(path("faststart.mp4"))
    for share in (25, 60, 95):
        with open(path(f"cut_at_{share}.mp4"), "wb") as handle:
            handle.write(front[: len(front) * share // 100])
        add(f"cut_at_{share}.mp4", "damaged", lost="ends at")
    garbage = bytearray(front)
    middle = len(garbage) // 2
    garbage[middle: middle + len(garbage) // 8] = rng.integers(0, 256, len(garbage) // 8, dtype=np.uint8).tobytes()
    open(path("garbage_middle.mp4"), "wb").write(bytes(garbage))
    add("garbage_middle.mp4", "damaged", 12.0, lost="could not be decoded")

    # --- audio only
    write_audio(path("audio_only.m4a"))
    add("audio_only.m4a", "refused")
    write_audio(path("audio_only.mp4"), fmt="mp4")
    add("audio_only.mp4", "refused")

    # --- sizes and lengths
    write_video(path("one_frame.mp4"), count=1)
    add("one_frame.mp4", "either")
    write_video(path("two_frames.mp4"), count=2)
    add("two_frames.mp4", "either")
    for width, height in ((2, 2), (8, 8), (16, 16), (48, 64)):     # VideoReader refuses these sizes: upscaled
        write_video(path(f"tiny_{width}x{height}.mp4"), width=width, height=height)
        add(f"tiny_{width}x{height}.mp4", "ok", 2.0)
    write_video(path("odd_99x77.mp4"), width=99, height=77, pix_fmt="yuv444p")
    add("odd_99x77.mp4", "ok", 2.0)
    write_video(path("huge_7680x4320.mp4"), width=7680, height=4320, count=3, fps=3,
                options={"preset": "ultrafast"})
    add("huge_7680x4320.mp4", "ok", 1.0)
    write_video(path("short_0.1s.mp4"), count=1, fps=10)
    add("short_0.1s.mp4", "either")
    write_video(path("fps_240.mp4"), count=120, fps=240)
    add("fps_240.mp4", "ok", 0.5)
    write_video(path("fps_1.mp4"), count=6, fps=1)
    add("fps_1.mp4", "ok", 6.0)

    # --- timestamps
    write_video(path("claims_hours.mkv"), fmt="matroska", count=3, times=[0.0, 1.0, 5 * 3600.0])
    add("claims_hours.mkv", "either", note="a 5-h gap: long, or refused by the duration limit")
    claims = bytearray(open(write_video(path("mvhd_hours.mp4")), "rb").read())
    # mvhd version 0: version/flags(4) creation(4) modification(4) timescale(4) duration(4)
    _patch_box(claims, b"mvhd", 16, struct.pack(">I", 1000 * 3600 * 3))
    open(path("mvhd_hours.mp4"), "wb").write(bytes(claims))
    add("mvhd_hours.mp4", "either")
    vfr = [0.0, 0.04, 0.08, 0.5, 0.54, 1.5, 1.52, 1.56, 2.5, 3.0]
    write_video(path("variable_rate.mp4"), count=len(vfr), times=vfr)
    add("variable_rate.mp4", "ok", 3.0 + (3.0 - 2.5), note="VFR: the real length, not frames / fps")
    write_video(path("variable_rate.mkv"), fmt="matroska", count=len(vfr), times=vfr)
    add("variable_rate.mkv", "ok", 3.5)
    write_video(path("stream.h264"), fmt="h264")
    add("stream.h264", "either", note="a raw H.264 stream has no timestamps")
    # two transport streams joined byte for byte: the second restarts its clock at 0
    first, second = (open(write_video(path(f"part{i}.ts"), fmt="mpegts"), "rb").read() for i in (1, 2))
    open(path("jumps_back.ts"), "wb").write(first + second)
    for i in (1, 2):
        os.remove(path(f"part{i}.ts"))
    add("jumps_back.ts", "either")

    # --- rotation and colour
    for degrees in (90, 180, 270):
        write_video(path(f"rotated_{degrees}.mp4"), rotation=degrees)
        add(f"rotated_{degrees}.mp4", "ok", 2.0)
    write_video(path("grayscale.mkv"), fmt="matroska", codec="ffv1", pix_fmt="gray")
    add("grayscale.mkv", "ok", 2.0)
    write_video(path("ten_bit.mp4"), pix_fmt="yuv420p10le")
    add("ten_bit.mp4", "ok", 2.0)
    write_video(path("yuv444.mp4"), pix_fmt="yuv444p")
    add("yuv444.mp4", "ok", 2.0)

    # --- codecs and containers
    for name, codec, fmt, pix in (("mpeg4.mp4", "mpeg4", None, "yuv420p"), ("mpeg4.avi", "mpeg4", None, "yuv420p"),
                                  ("mjpeg.avi", "mjpeg", None, "yuvj420p"), ("vp9.webm", "libvpx-vp9", None, "yuv420p"),
                                  ("vp8.webm", "libvpx", None, "yuv420p"), ("ffv1.mkv", "ffv1", None, "yuv420p"),
                                  ("animation.gif", "gif", None, "rgb8"), ("mpeg2.mpg", "mpeg2video", "mpeg", "yuv420p"),
                                  ("mpeg1.mpg", "mpeg1video", "mpeg", "yuv420p"), ("h264.mkv", "libx264", None, "yuv420p"),
                                  ("h264.mov", "libx264", None, "yuv420p"), ("vp9.mkv", "libvpx-vp9", None, "yuv420p"),
                                  ("raw.avi", "rawvideo", None, "bgr24"), ("png.mov", "png", None, "rgb24"),
                                  ("flv1.flv", "flv", None, "yuv420p"), ("wmv2.wmv", "wmv2", "asf", "yuv420p"),
                                  ("h263.3gp", "h263", None, "yuv420p")):
        width, height = (128, 96) if codec == "h263" else (96, 64)
        try:
            write_video(path(name), codec=codec, fmt=fmt, pix_fmt=pix, width=width, height=height,
                        fps=10 if codec not in ("mpeg2video", "mpeg1video") else 25,
                        count=20 if codec not in ("mpeg2video", "mpeg1video") else 50)
        except (av.error.FFmpegError, ValueError) as err:       # an encoder missing from this PyAV build
            raise RuntimeError(f"cannot write {name}: {err}") from err
        add(name, "ok", 2.0)

    # --- names
    base = write_video(path("named.mp4"))
    for name in ("with spaces.mp4", "ünïcødé – 视频.mp4", "new\nline.mp4", "-leading-dash.mp4",
                 "..%2F..%2Fescape.mp4", "x" * 251 + ".mp4", "UPPER.MP4", "two.dots.in.name.mp4",
                 "semi;colon&amp.mp4", "quote'and\"double.mp4"):
        with open(base, "rb") as src, open(path(name), "wb") as dst:
            dst.write(src.read())
        add(name, "ok", 2.0)
    add("named.mp4", "ok", 2.0)
    os.makedirs(path("folder.mp4"), exist_ok=True)
    add("folder.mp4", "refused")
    outside = os.path.join(os.path.dirname(os.path.abspath(folder)), "outside_secret.mp4")
    with open(base, "rb") as src, open(outside, "wb") as dst:
        dst.write(src.read())
    if os.path.lexists(path("link.mp4")):
        os.remove(path("link.mp4"))
    os.symlink(outside, path("link.mp4"))
    add("link.mp4", "either", note="a link to a readable video: used, or refused as a link")
    os.symlink(os.path.join(folder, "does_not_exist.mp4"), path("dangling.mp4"))
    add("dangling.mp4", "refused")
    return cases
