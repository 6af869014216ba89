"""Query handlers: load a video (any format: the page plays a browser-playable copy), set the
clip's start and end (typed, or taken from the player's position), preview the clip, inspect its
features.

Every handler turns bad input into a message on the page instead of an exception.
"""
from __future__ import annotations

import os

import gradio as gr

from svmr import video as V

from . import jobs
from . import service as S
from .render import feature_figure

#: longest stretch the query-clip preview plays (a longer range still searches in full)
PREVIEW_MAX_SECONDS = 60.0


def message(kind: str, text: str) -> str:
    return f"**{kind}.** {text}"


def read(job, *args, path: str, progress=None):
    """``job(*args)`` (one of :mod:`demo.jobs`) in the reader worker, for the file ``path``."""
    return S.reader().call(job, args, about=os.path.basename(path), progress=progress)


def playable(path: str) -> str:
    """What a player plays for ``path``: the file, or its browser-playable copy (:func:`jobs.load_query`).

    Raises:
        VideoError: the file cannot be decoded.
    """
    return read(jobs.load_query, path, path=path)[1]


def on_query_upload(video: str | None):
    """New query video: what it is, the range set to the whole video (start and end in seconds;
    None when the file cannot be used, which hides the range controls), and what the player plays.

    Returns ``(info, start, end, player)``."""
    if not video:
        return "Upload a video or pick an example.", None, None, None
    try:
        info, player = read(jobs.load_query, S.checked_upload(video), path=video)
    except V.VideoError as err:
        return message("Cannot use this file", str(err)), None, None, None
    duration = round(info.duration, 2)
    copy_note = "" if player == video else " — the player shows a browser-playable copy"
    text = (f"**{os.path.basename(video)}** — {info.duration:.2f} s, {info.num_frames} frames at "
            f"{info.fps:.2f} fps, {info.width}×{info.height}{copy_note}")
    if info.damage:                     # read for what decodes: say what was lost
        note = info.damage.describe()
        text += "\n\n" + note[:1].upper() + note[1:]
    return text, 0.0, duration, player


def query_controls_visible(start: float | None):
    """The player and the range controls show while a usable video is loaded (its start is set).
    Returns ``(player, range controls)`` updates."""
    return gr.update(visible=start is not None), gr.update(visible=start is not None)


def on_range(path: str | None, start: float | None, end: float | None):
    """The query clip ``[start, end)``: a note and a preview of it (none when the range is the
    whole video, which the player above already shows); an end past the video is set to the
    video's end, in the box too. Returns ``(preview, note, end)``."""
    if not path or (start is None and end is None):   # no usable video loaded: its own message says why
        return gr.update(value=None, visible=False), "", gr.update()
    try:
        info = read(jobs.probe, S.checked_upload(path), path=path)
        start, clamped = V.check_range(info, 0.0 if start is None else float(start),
                                       None if end is None else float(end))
    except V.VideoError as err:
        return gr.update(value=None, visible=False), message("Cannot use this range", str(err)), gr.update()
    clip, note = _range_preview(path, info, start, clamped)
    if end is not None and float(end) > info.duration + 0.01:
        note += f"\n\nThe end you typed ({float(end):.2f} s) is past the video's end: set to {clamped:.2f} s."
        return gr.update(value=clip, visible=clip is not None), note, gr.update(value=round(clamped, 2))
    return gr.update(value=clip, visible=clip is not None), note, gr.update()


def _range_preview(path: str, info: V.VideoInfo, start: float, end: float) -> tuple[str | None, str]:
    """A preview clip of ``[start, end)`` (None for the whole video) and the note about it."""
    if start <= 0 and end >= info.duration - 0.01:
        return None, (f"Query clip: the whole video ({info.duration:.2f} s). Set a start and an end (type them, or "
                      f"play the video and use the two buttons) to search for a part of it.")
    shown_end = min(end, start + PREVIEW_MAX_SECONDS)
    try:
        clip = read(jobs.h264_clip, path, start, shown_end, path=path)
    except V.VideoError as err:
        return None, message("Cannot preview this range", str(err))
    note = f" — the preview plays its first {PREVIEW_MAX_SECONDS:.0f} s" if shown_end < end else ""
    return clip, f"Query clip: {start:.2f}–{end:.2f} s ({end - start:.2f} s){note}"


def on_whole(path: str | None):
    """Reset the range to the whole video."""
    try:
        duration = round(read(jobs.probe, S.checked_upload(path), path=path).duration, 2) if path else None
    except V.VideoError:
        duration = None
    if duration is None:
        return gr.update(), gr.update()
    return gr.update(value=0), gr.update(value=duration)


#: browser-side: the query player's current position (rounded to 0.05 s) into start or end
PLAYER_TIME_JS = """(start, end) => {{
  const player = document.querySelector('#query_player video');
  if (!player) return [start, end];
  const now = Math.round(player.currentTime * 20) / 20;
  return {order};
}}"""
START_FROM_PLAYER_JS = PLAYER_TIME_JS.format(order="[now, end]")
END_FROM_PLAYER_JS = PLAYER_TIME_JS.format(order="[start, now]")


def on_analyze(video: str | None, start: float, end: float, progress=gr.Progress()):
    """Trim the chosen range to a playable clip and plot its features."""
    if not video:
        return None, None, "Upload a video first."
    try:
        progress(0, desc="Trimming and extracting features")
        clip, sequence, elapsed, device = read(jobs.analyze, S.checked_upload(video), start, end, path=video,
                                       progress=lambda done, total: progress(done / total,
                                                                             desc="Trimming and extracting features"))
    except V.VideoError as err:
        return None, None, message("Cannot use this range", str(err))
    status = (f"{sequence.length} feature steps × {sequence.features.shape[0]} channels "
              f"({sequence.rate:g} per second) in {elapsed:.2f} s — {sequence.length / elapsed:.0f} frames/s "
              f"on {device}")
    return clip, feature_figure(sequence), status
