"""The Gradio app: choose a query clip, search a gallery, inspect and trim the moments found.

Event handlers are plain functions of the UI values (their API names are in the README); every
handler turns bad input into a message in the page instead of an exception.
"""
from __future__ import annotations

import os
import tempfile
import time

import gradio as gr

from svmr import video as V
from svmr.data.footage import footage_path
from svmr.gallery import Gallery
from svmr.trim import trim

from . import service as S
from .render import feature_figure, heatmap_figure, timeline_figure

PREVIEW_MAX_SECONDS = 60.0
RESULT_COLUMNS = ["rank", "video", "start (s)", "end (s)", "score", "video score p", "M_C", "M_R"]
GALLERY_COLUMNS = ["video", "duration (s)", "size", "source", "annotated moments"]
INTRO = """# svmr — semantic video moments retrieval
Give a **query clip**; svmr finds the gallery videos holding the same or similar moments and
localizes them (stage 1 ranks videos, stage 2 scores every start × duration in the best ones).
Pick an example or upload a video, trim the query, choose a gallery and press **Search**."""
SCORES_NOTE = """**Reading the scores** (each in 0–1; score = p · M_C · M_R):
**p** — how much the video as a whole resembles the query (stage 1: its best-matching stretch).
**M_C** — how closely the moment's frames match the query's frames, in order (default model: mean
frame similarity along the alignment; paper model: BM confidence). **M_R** — how well the moment's
boundaries fit (default model: the share of the query that the moment covers; paper model: predicted
overlap with the true moment)."""


def _message(kind: str, text: str) -> str:
    return f"**{kind}.** {text}"


def _work_dir() -> str:
    return tempfile.mkdtemp(prefix="svmr_ui_")


# ----------------------------------------------------------------------------- query
def on_query_upload(path: str | None):
    """New query video: metadata, sliders set to the whole video, a playable preview."""
    if not path:
        return ("Upload a video or pick an example.", *_full_range(V.MAX_DURATION_S), None)
    try:
        info = V.probe(path)
    except V.VideoError as err:
        return (_message("Cannot use this file", str(err)), *_full_range(V.MAX_DURATION_S),
                None)
    duration = round(info.duration, 2)
    text = (f"**{os.path.basename(path)}** — {info.duration:.2f} s, {info.num_frames} frames at "
            f"{info.fps:.2f} fps, {info.width}×{info.height}")
    preview, note = _preview(path, 0.0, duration)
    return (text + note, *_full_range(duration), preview)


def _full_range(maximum: float) -> tuple:
    """Start and end sliders set to ``[0, maximum]`` (the bound follows the video; without one it
    is the longest video accepted, so API clients can pass any range)."""
    return gr.update(value=0, maximum=maximum), gr.update(value=maximum, maximum=maximum)


def _preview(path: str, start: float, end: float) -> tuple[str | None, str]:
    """A small H.264 clip of ``[start, end)`` (at most ``PREVIEW_MAX_SECONDS``) and a note."""
    shown_end = min(end, start + PREVIEW_MAX_SECONDS)
    clip = os.path.join(_work_dir(), "query.mp4")
    V.write_clip(path, clip, start, shown_end, max_side=360)
    note = f" — preview shows the first {PREVIEW_MAX_SECONDS:.0f} s of the range" if shown_end < end else ""
    return clip, note


def on_range(path: str | None, start: float, end: float):
    """Trim the query to ``[start, end)`` for the preview (called when a slider is released)."""
    if not path:
        return None, "Upload a video or pick an example."
    try:
        V.check_range(V.probe(path), start, end)
        clip, note = _preview(path, start, end)
    except V.VideoError as err:
        return None, _message("Cannot use this range", str(err))
    return clip, f"Query clip: {start:.2f}–{end:.2f} s ({end - start:.2f} s){note}"


def on_whole(path: str | None):
    """Reset the range to the whole video."""
    if not path:
        return gr.update(), gr.update()
    try:
        duration = round(V.probe(path).duration, 2)
    except V.VideoError:
        return gr.update(), gr.update()
    return gr.update(value=0), gr.update(value=duration)


def on_analyze(path: str | None, start: float, end: float, progress=gr.Progress()):
    """Trim the chosen range to a playable clip and plot its features."""
    if not path:
        return None, None, "Upload a video first."
    try:
        progress(0, desc="Trimming")
        clip = os.path.join(_work_dir(), "clip.mp4")
        V.write_clip(path, clip, start, end)
        started = time.time()
        sequence = S.extractor().extract(path, start, end,
                                         progress=lambda done, total: progress(done / total, desc="Extracting features"))
        elapsed = time.time() - started
    except V.VideoError as err:
        return None, None, _message("Cannot use this range", str(err))
    status = (f"{sequence.length} feature steps × {sequence.features.shape[0]} channels "
              f"({sequence.rate:g} per second) in {elapsed:.2f} s — {sequence.length / elapsed:.0f} frames/s "
              f"on {S.extractor().device}")
    return clip, feature_figure(sequence), status


# ----------------------------------------------------------------------------- galleries
def _gallery_view(gallery, demo: S.DemoGallery | None):
    """Table rows and thumbnails of a gallery."""
    rows, thumbs = [], []
    for video in gallery.list():
        truth = demo.truth(video.id) if demo else None
        rows.append([video.id, round(video.duration, 2), f"{video.width}×{video.height}",
                     truth["source"] if truth else "upload", len(truth["segments"]) if truth else ""])
        thumb = gallery.thumbnail(video.id)
        if thumb:
            thumbs.append((thumb, f"{video.id} ({video.duration:.1f} s)"))
    return rows, thumbs


def show_gallery(choice: str, session: S.Session | None, demo: S.DemoGallery):
    """What the chosen gallery holds, and the ids that can be removed (own uploads only)."""
    if choice == S.DEMO_GALLERY:
        rows, thumbs = _gallery_view(demo.ensure().gallery, demo)
        note = f"Demo gallery: {len(rows)} videos with ground truth (read-only)."
        removable = []
    else:
        gallery = session.gallery if session else None
        rows, thumbs = _gallery_view(gallery, None) if gallery else ([], [])
        note = (f"Your gallery: {len(rows)} videos (private to this browser session)." if rows else
                "Your gallery is empty: upload videos below and press “Add to my gallery”.")
        removable = [r[0] for r in rows]
    return note, rows or None, thumbs, gr.update(choices=removable, value=None)


def add_videos(files: list | None, session: S.Session | None, request: gr.Request = None,
               progress=gr.Progress()):
    """Index uploads into the visitor's own gallery (each file on its own: one bad file does not
    stop the others, and nothing already indexed is lost). The upload box is emptied afterwards,
    so pressing Add again does not index the same files twice."""
    session = session or S.session_for(getattr(request, "session_hash", None))
    paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
    if not paths:
        return (session, *show_gallery(S.MY_GALLERY, session, None), "Choose one or more video files first.",
                gr.update(value=S.MY_GALLERY), gr.update())
    added, failed = [], []
    for number, path in enumerate(paths):
        name = os.path.basename(path)
        progress((number, len(paths)), desc=f"Indexing {name}")

        def update(done: int, total: int, number=number, name=name):
            progress(number + done / max(total, 1), total=len(paths), desc=f"Indexing {name}")

        try:
            added.append(session.add(path, progress=update))
        except (V.VideoError, ValueError) as err:
            failed.append(f"{name}: {err}")
    note, table, thumbs, removable = show_gallery(S.MY_GALLERY, session, None)
    status = f"Added {len(added)} video(s): {', '.join(added)}." if added else "Nothing was added."
    if failed:
        status += "\n\n" + _message("Skipped", "") + "\n" + "\n".join(f"- {line}" for line in failed)
    return session, note, table, thumbs, removable, status, gr.update(value=S.MY_GALLERY), None


def remove_video(video_id: str | None, session: S.Session | None):
    if not video_id or session is None or video_id not in session.gallery:
        return (session, *show_gallery(S.MY_GALLERY, session, None), "Choose one of your videos to remove.")
    session.remove(video_id)
    return (session, *show_gallery(S.MY_GALLERY, session, None), f"Removed {video_id}.")


# ----------------------------------------------------------------------------- search
def _moment_choices(result) -> list[tuple[str, int]]:
    return [(f"#{i + 1} {m.video} {m.start:.2f}–{m.end:.2f} s (score {m.score:.3f})", i)
            for i, m in enumerate(result.moments)]


def run_search(query: str | None, start: float, end: float, gallery_choice: str, model: str, top_videos: int,
               moments_per_video: int, min_score: float, session: S.Session | None, demo: S.DemoGallery,
               progress=gr.Progress()):
    """Search; returns status, results table, JSON file, moment chooser, state and the details
    of the best moment."""
    empty = ("", None, None, gr.update(choices=[], value=None), None, None, None, None, None)
    if not query:
        return (_message("No query", "Upload a video or pick an example first."), *empty[1:])
    try:
        progress(0.1, desc="Searching")
        result, gallery = S.search(gallery_choice, model, session, demo, query, start, end, int(top_videos),
                                   int(moments_per_video), float(min_score))
    except (V.VideoError, ValueError) as err:
        return (_message("Cannot search", str(err)), *empty[1:])
    t = result.timings
    status = (f"{len(result.moments)} moments in {len(result.videos)} videos — query features "
              f"{t['query_features_s'] * 1000:.0f} ms, stage 1 {t['stage1_s'] * 1000:.0f} ms, stage 2 "
              f"{t['stage2_s'] * 1000:.0f} ms, total {t['total_s'] * 1000:.0f} ms ({model.split(':')[0]})")
    if not result.moments:
        status += "\n\nNo moment reaches the score threshold: lower it or ask for more videos."
    rows = [[i + 1, m.video, round(m.start, 2), round(m.end, 2), round(m.score, 4), round(m.video_score, 4),
             round(m.confidence, 4), round(m.regression, 4)] for i, m in enumerate(result.moments)]
    json_path = S.result_json(result, gallery_choice, model, os.path.join(_work_dir(), "svmr_results.json"))
    state = {"result": result, "gallery": gallery.root, "choice": gallery_choice,
             "label": demo.label_of(query) if gallery_choice == S.DEMO_GALLERY else None}
    choices = _moment_choices(result)
    details = show_moment(0, state, demo) if result.moments else (None, None, None, None)
    return (status, rows or None, json_path, gr.update(choices=choices, value=0 if choices else None), state, *details)


def show_moment(index: int | None, state: dict | None, demo: S.DemoGallery):
    """Timeline, BM heatmap and the trimmed clip of one retrieved moment."""
    if state is None or index is None or not state["result"].moments:
        return None, None, None, None
    result = state["result"]
    moment = result.moments[int(index)]
    hit = next(h for h in result.videos if h.video == moment.video)
    truth = demo.truth(moment.video) if state["choice"] == S.DEMO_GALLERY else None
    timeline = timeline_figure(hit, moment, truth["segments"] if truth else None, state["label"])
    heatmap = heatmap_figure(hit, moment)
    source = Gallery(state["gallery"]).videos[moment.video].path
    clip = os.path.join(_work_dir(), f"{moment.video}_{moment.start:.2f}-{moment.end:.2f}.mp4")
    try:
        trim(source, clip, moment.start, moment.end)   # the source's resolution and sound
    except V.VideoError:
        clip = None
    return timeline, heatmap, clip, clip


def _on_unload(request: gr.Request) -> None:
    """The visitor's page closed: delete their uploads and features now."""
    S.drop_session(request.session_hash)


# ----------------------------------------------------------------------------- layout
def _example_paths(demo: S.DemoGallery) -> tuple[list[str], list[str]]:
    """Demo query clips, plus whole sample videos to trim a query from."""
    paths, labels = [], []
    for name in ("bikes.mp4", "vtest.avi"):
        if path := footage_path(name):
            paths.append(path)
            labels.append(f"{name} (whole video: trim it)")
    for example in demo.examples():
        paths.append(example["path"])
        labels.append(f"{example['source']}: {example['label']}")
    return paths, labels


def build_ui(demo: S.DemoGallery | None = None) -> gr.Blocks:
    demo = (demo or S.DemoGallery()).ensure()
    example_paths, example_labels = _example_paths(demo)
    with gr.Blocks(title="svmr — semantic video moments") as app:
        session = gr.State(None, delete_callback=S.close_session)
        results = gr.State(None)
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                gr.Markdown("### 1. Query")
                query = gr.Video(label="Query video", sources=["upload"], elem_id="query_video", height=300)
                gr.Examples(example_paths, inputs=query, example_labels=example_labels, label="Examples")
                info = gr.Markdown(elem_id="video_info")
                # bounds follow the uploaded video; until then any range a video may have (API clients)
                start = gr.Slider(0, V.MAX_DURATION_S, value=0, step=0.05, label="Query start (s)", elem_id="range_start")
                end = gr.Slider(0, V.MAX_DURATION_S, value=V.MAX_DURATION_S, step=0.05, label="Query end (s)",
                                elem_id="range_end")
                whole = gr.Button("Use the whole video", size="sm")
                preview = gr.Video(label="Query clip (trimmed preview)", interactive=False, elem_id="query_preview",
                                   height=240)
                range_note = gr.Markdown(elem_id="range_note")
            with gr.Column():
                gr.Markdown("### 2. Gallery")
                gallery_choice = gr.Radio([S.DEMO_GALLERY, S.MY_GALLERY], value=S.DEMO_GALLERY, label="Search in",
                                          elem_id="gallery_choice")
                gallery_note = gr.Markdown(elem_id="gallery_note")
                gallery_table = gr.Dataframe(headers=GALLERY_COLUMNS, interactive=False, elem_id="gallery_table",
                                             max_height=260)
                thumbs = gr.Gallery(label="Thumbnails", columns=5, height=180, elem_id="gallery_thumbs")
                with gr.Accordion("Add or remove your own videos", open=False):
                    uploads = gr.File(label="Videos to add", file_count="multiple", file_types=["video"],
                                      elem_id="gallery_uploads")
                    add = gr.Button("Add to my gallery", elem_id="add_videos")
                    with gr.Row():
                        removable = gr.Dropdown([], label="Your video", elem_id="remove_choice")
                        remove = gr.Button("Remove", size="sm", elem_id="remove_video")
                    gallery_status = gr.Markdown(elem_id="gallery_status")
        gr.Markdown("### 3. Search")
        with gr.Row():
            model = gr.Dropdown(list(S.MODELS), value=S.ALIGN, label="Model", elem_id="model", scale=3)
            top_videos = gr.Slider(1, 20, value=5, step=1, label="Top videos", elem_id="top_videos")
            moments_per_video = gr.Slider(1, 10, value=3, step=1, label="Moments per video", elem_id="moments_per_video")
            min_score = gr.Slider(0, 1, value=0, step=0.01, label="Score threshold", elem_id="min_score")
        search = gr.Button("Search", variant="primary", elem_id="search")
        search_status = gr.Markdown(elem_id="search_status")
        table = gr.Dataframe(headers=RESULT_COLUMNS, interactive=False, elem_id="results_table", max_height=300)
        gr.Markdown(SCORES_NOTE, elem_id="scores_note")
        with gr.Row():
            chooser = gr.Dropdown([], label="Moment", elem_id="moment_choice", scale=3)
            json_file = gr.File(label="All results (JSON)", elem_id="results_json", scale=1)
        with gr.Row():
            timeline = gr.Plot(label="Timeline", elem_id="timeline")
            heatmap = gr.Plot(label="Confidence map M_C (start × duration)", elem_id="heatmap")
        with gr.Row():
            clip = gr.Video(label="Moment clip", interactive=False, elem_id="moment_clip", height=320)
            clip_file = gr.File(label="Download the moment", elem_id="moment_file")
        with gr.Accordion("Inspect the query's features", open=False):
            analyze = gr.Button("Extract features of the query clip", elem_id="analyze")
            with gr.Row():
                trimmed = gr.Video(label="Trimmed clip (H.264)", elem_id="trimmed_clip")
                plot = gr.Plot(label="Features", elem_id="feature_plot")
            analyze_status = gr.Markdown(elem_id="status")

        def search_fn(q, s, e, g, m, k, n, t, sess, progress=gr.Progress()):
            return run_search(q, s, e, g, m, k, n, t, sess, demo, progress)

        def gallery_fn(choice, sess):
            return show_gallery(choice, sess, demo)

        query.change(on_query_upload, query, [info, start, end, preview], api_name="probe")
        for slider in (start, end):
            # one preview at a time, in order: the last range the user set is the one shown
            slider.release(on_range, [query, start, end], [preview, range_note], api_name=False,
                           concurrency_limit=1, concurrency_id="preview", trigger_mode="always_last")
        whole.click(on_whole, query, [start, end], api_name=False).then(
            on_range, [query, start, end], [preview, range_note], api_name=False, concurrency_id="preview")
        app.load(gallery_fn, [gallery_choice, session], [gallery_note, gallery_table, thumbs, removable],
                 api_name=False)
        gallery_choice.change(gallery_fn, [gallery_choice, session], [gallery_note, gallery_table, thumbs, removable],
                              api_name="show_gallery")
        add.click(add_videos, [uploads, session],
                  [session, gallery_note, gallery_table, thumbs, removable, gallery_status, gallery_choice, uploads],
                  api_name="add_videos", concurrency_limit=1)
        remove.click(remove_video, [removable, session],
                     [session, gallery_note, gallery_table, thumbs, removable, gallery_status], api_name="remove_video")
        search.click(search_fn, [query, start, end, gallery_choice, model, top_videos, moments_per_video, min_score,
                                 session],
                     [search_status, table, json_file, chooser, results, timeline, heatmap, clip, clip_file],
                     api_name="search", concurrency_limit=2)
        chooser.input(lambda i, st: show_moment(i, st, demo), [chooser, results], [timeline, heatmap, clip, clip_file],
                      api_name="show_moment")
        app.unload(_on_unload)
        analyze.click(on_analyze, [query, start, end], [trimmed, plot, analyze_status], api_name="analyze",
                      concurrency_limit=2)
    return app

