"""Gallery handlers: list the demo gallery or the visitor's own, add and remove the visitor's
videos, and play any gallery video."""
from __future__ import annotations

import os

import gradio as gr

from svmr import video as V
from svmr.gallery import Gallery

from . import jobs
from . import service as S
from . import sessions
from .query import message, playable
from .results import plural

GALLERY_COLUMNS = ["video", "duration (s)", "size", "source", "annotated moments"]


def _gallery_view(gallery: Gallery, demo: S.DemoGallery | None):
    """Table rows and captioned thumbnails of a gallery."""
    rows, thumbs = [], []
    for video in gallery.list():
        truth = demo.truth(video.id) if demo else None
        # a damaged upload says so where it says where it came from (the table has no room for more)
        source = truth["source"] if truth else " — ".join(
            filter(None, ["upload", V.Damage.from_json(video.damage).summary()]))
        rows.append([video.id, round(video.duration, 2), f"{video.width}×{video.height}", source,
                     len(truth["segments"]) if truth else ""])
        thumb = gallery.thumbnail(video.id)
        if thumb:
            thumbs.append((thumb, video.id))
    return rows, thumbs


def show_gallery(choice: str, session: S.Session | None, demo: S.DemoGallery):
    """What the chosen gallery holds, and the ids that can be removed (own uploads only).

    Returns ``(summary, table, thumbnails, removable ids)``."""
    if choice == S.DEMO_GALLERY:
        rows, thumbs = _gallery_view(demo.ensure().gallery, demo)
        note = f"Demo gallery: {plural(len(rows), 'video')} with ground truth (read-only). Click a thumbnail to play it."
        removable = []
    else:
        gallery = session.gallery if session else None
        rows, thumbs = _gallery_view(gallery, None) if gallery else ([], [])
        note = (f"Your gallery: {plural(len(rows), 'video')} (private to this browser session). Click a thumbnail "
                f"to play it." if rows else
                "Your gallery is empty: open “Add or remove your own videos” below, choose files and press "
                "“Add to my gallery”.")
        removable = [r[0] for r in rows]
    return note, rows or None, thumbs, gr.update(choices=removable, value=None)


def add_videos(videos: list | None, session: S.Session | None, request: gr.Request = None,
               progress=gr.Progress()):
    """Index uploads into the visitor's own gallery (each file on its own: one bad file does not
    stop the others, and nothing already indexed is lost). The upload box is emptied afterwards,
    so pressing Add again does not index the same files twice.

    Returns ``(session, summary, table, thumbnails, removable ids, message, gallery choice, uploads)``."""
    session = session or sessions.session_for(getattr(request, "session_hash", None))
    paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (videos or [])]
    if not paths:
        return (session, *show_gallery(S.MY_GALLERY, session, None), "Choose one or more video files first.",
                gr.update(value=S.MY_GALLERY), gr.update())
    added, failed = [], []
    for number, path in enumerate(paths):
        name = os.path.basename(path)
        label = f"Indexing {name} ({number + 1} of {len(paths)})"
        progress(number / len(paths), desc=label)

        def update(done: int, total: int, number=number, label=label):
            progress(min(1.0, (number + done / max(total, 1)) / len(paths)), desc=label)

        try:
            added.append(S.indexer().call(jobs.index_upload, (session.root, S.checked_upload(path)), about=name,
                                         progress=update))
        except (V.VideoError, ValueError) as err:
            failed.append(str(err) if name in str(err) else f"{name}: {err}")
    note, table, thumbs, removable = show_gallery(S.MY_GALLERY, session, None)
    status = f"Added {plural(len(added), 'video')}: {', '.join(added)}." if added else "Nothing was added."
    own = session.gallery.videos
    damaged = [f"- {video_id}: {own[video_id].damage_note}" for video_id in added
               if video_id in own and own[video_id].damage_note]
    if damaged:
        status += "\n\n**Indexed for what decodes** (a damaged file is kept, not refused):\n" + "\n".join(damaged)
    if failed:
        status += "\n\n" + message("Skipped", "") + "\n" + "\n".join(f"- {line}" for line in failed)
    return session, note, table, thumbs, removable, status, gr.update(value=S.MY_GALLERY), None


def remove_video(video_id: str | None, session: S.Session | None):
    """Returns ``(session, summary, table, thumbnails, removable ids, message)``."""
    if not video_id or session is None or video_id not in session.gallery:
        return (session, *show_gallery(S.MY_GALLERY, session, None), "Choose one of your videos to remove.")
    session.remove(video_id)
    return (session, *show_gallery(S.MY_GALLERY, session, None), f"Removed {video_id}.")


def play_gallery_video(choice: str, session: S.Session | None, demo: S.DemoGallery, evt: gr.SelectData):
    """A click on a thumbnail or a table row: play that gallery video (a playable copy when the
    browser cannot play the file). Returns the player's update."""
    value = evt.value if evt is not None else None
    if isinstance(value, dict):                       # a thumbnail: its caption is the video id
        video_id = value.get("caption")
    else:                                             # a table row: its first cell
        video_id = (evt.row_value or [None])[0] if evt is not None else None
    gallery = demo.ensure().gallery if choice == S.DEMO_GALLERY else (session.gallery if session else None)
    if not video_id or gallery is None or video_id not in gallery:
        return gr.update(value=None, visible=False)
    try:
        path = playable(gallery.videos[video_id].path)
    except V.VideoError as err:
        return gr.update(value=None, visible=True, label=f"{video_id}: {err}")
    return gr.update(value=path, visible=True, label=f"Gallery video: {video_id}")
