"""Trim a moment out of a video as a file to keep: the source's resolution, its sound, exact times.

    python -m svmr trim VIDEO --start S --end E --out OUT.mp4

The picture is re-encoded to H.264 (yuv420p, x264 ``crf`` 18 by default, at the
source's size, odd sizes cropped by one pixel) and the sound to AAC, so the file plays in every
browser whatever the source's codecs (an AVI's MPEG-4 part 2 or Cinepak does not). A stream copy
would keep the bits but can only cut at keyframes, seconds away from the moment; the range here is
exact to the frame (the frames on screen during ``[start, end)``, the first one from 0) and to the audio sample.
Frame times are the container's, so a variable-frame-rate source keeps its timing.
"""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from . import limits
from . import video as V

#: output time base of the picture (90 kHz, the MPEG convention: exact for every usual rate)
VIDEO_TIME_BASE = Fraction(1, 90000)


def _frame_times(info: V.VideoInfo, start: float, end: float) -> np.ndarray:
    """Start times of the frames on screen during ``[start, end)``: the one showing at ``start``
    through the last one starting before ``end`` (1 ms of slack: ``frame_indices`` counts a frame
    starting within a microsecond after a time as shown at it)."""
    first, last = V.frame_indices(info, [start, end - 1e-3])
    return info.start_times()[first:last + 1]


def _decoded(container, stream):
    """Frames of ``stream`` from where the container stands; a packet that does not decode (a
    damaged one, or the tail of a frame cut by the seek) is skipped, as players do."""
    import av

    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.InvalidDataError:
            continue


def _audio_samples(path: str, start: float, end: float) -> tuple[np.ndarray, int, str] | None:
    """The first audio stream's samples in ``[start, end)``: float32 ``(channels, n)``, the sample
    rate and the channel layout name; None without audio."""
    import av

    with av.open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or 48000
        layout = "stereo" if (stream.codec_context.channels or 2) >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        container.seek(max(0, int((start - 1.0) / stream.time_base)) if stream.time_base else 0, stream=stream)
        chunks, first_time = [], None
        for frame in _decoded(container, stream):
            if frame.time is None:
                continue
            if frame.time >= end:
                break
            for out in resampler.resample(frame):
                array = out.to_ndarray()
                if first_time is None:
                    first_time = frame.time
                chunks.append(array)
        if not chunks:
            return None
        samples = np.concatenate(chunks, axis=1)
        begin = int(round((start - first_time) * rate))
        samples = samples[:, max(0, begin):max(0, begin) + int(round((end - start) * rate))]
        if begin < 0:   # the sound starts after the range does: pad with silence
            samples = np.concatenate([np.zeros((samples.shape[0], -begin), np.float32), samples], axis=1)
        return np.ascontiguousarray(samples, dtype=np.float32), rate, layout


def trim(src: str, dst: str, start: float, end: float | None = None, crf: int = 18) -> V.VideoInfo:
    """Write ``[start, end)`` of ``src`` to ``dst`` (H.264 + AAC mp4, the source's size and sound;
    a picture larger than ``SVMR_MAX_SIDE`` is scaled down to it).

    Raises:
        VideoError: unusable file or range, or nothing to write.
    """
    import av

    info = V.probe(src)
    start, end = V.check_range(info, start, end)
    sound = _audio_samples(src, start, end)
    tmp = f"{dst}.part.mp4"
    try:
        times = _frame_times(info, start, end)
        with av.open(tmp, mode="w", options={"movflags": "+faststart"}) as out:
            video = out.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(1001))
            size = V.fit_size(info.width, info.height, limits.max_side())     # None: the source's size
            video.width, video.height = size or (V.even(info.width), V.even(info.height))
            video.pix_fmt = "yuv420p"
            # the encoder counts in the same 90 kHz clock (at its default of 1 / the average rate,
            # two frames of an uneven file could round to one tick: the muxer refuses that)
            video.time_base = video.codec_context.time_base = VIDEO_TIME_BASE
            video.options = {"crf": str(crf), "preset": "veryfast", "bf": "0"}   # no B-frames: uneven frame times mux safely
            audio = None
            if sound is not None:
                audio = out.add_stream("aac", rate=sound[1], layout=sound[2])
            last_pts = -1
            frames = (f for chunk in V.iter_frames(src, times + 1e-4, size=size, info=info) for f in chunk)
            for time, picture in zip(times, frames):
                encoded = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture[:video.height, :video.width]),
                                                     format="rgb24")
                pts = max(last_pts + 1, int(round(max(0.0, time - start) / VIDEO_TIME_BASE)))
                encoded.pts, encoded.time_base, last_pts = pts, VIDEO_TIME_BASE, pts
                for packet in video.encode(encoded):
                    out.mux(packet)
            for packet in video.encode():
                out.mux(packet)
            if audio is not None:
                _encode_audio(out, audio, *sound)
        os.replace(tmp, dst)
    except av.FFmpegError as err:
        raise V.VideoError(f"{os.path.basename(src)}: cannot trim ({err}).") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return V.probe(dst)


def _encode_audio(out, stream, samples: np.ndarray, rate: int, layout: str, block: int = 1024) -> None:
    """Encode float32 planar ``samples`` ``(channels, n)`` into ``stream`` from time 0."""
    import av

    for offset in range(0, samples.shape[1], block):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, offset:offset + block]),
                                           format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, offset, Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
