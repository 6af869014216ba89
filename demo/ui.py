"""The Gradio app's layout and wiring: choose a query clip, search a gallery, inspect and trim
the moments found.

The handlers live in :mod:`demo.query`, :mod:`demo.galleries` and :mod:`demo.results` (plain
functions of the UI values; their API names are in the README).
"""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from svmr import limits
from svmr.data.footage import footage_path

from . import service as S
from . import sessions, temp_files
from .components import runtime_choices
from .galleries import GALLERY_COLUMNS, add_videos, play_gallery_video, remove_video, show_gallery
from .query import (END_FROM_PLAYER_JS, START_FROM_PLAYER_JS, on_analyze, on_query_upload, on_range,
                    on_whole, query_controls_visible)
from .results import (RESULT_COLUMNS, SCORES_NOTE, clear_results, forget_removed, moment_menu, on_row,
                      results_visible, run_search, show_moment, stale_note)

INTRO = """# svmr — semantic video moments retrieval
Give a **query clip**; svmr finds the gallery videos holding the same or similar moments and
localizes them (stage 1 ranks videos, stage 2 scores every start × duration in the best ones).
Pick an example or upload a video, set the clip's start and end, choose a gallery and press **Search**."""

def _on_unload(request: gr.Request) -> None:
    """The visitor's page closed: delete their uploads and features now."""
    sessions.drop_session(request.session_hash)

#: launch settings of the app: no run history (Gradio keeps every run's inputs and outputs in the
#: browser and can send them to a Hugging Face bucket; a visitor's videos stay private instead,
#: and their session files are deleted when the page closes, which would leave it broken links)
LAUNCH = {"run_history": False, "max_file_size": limits.max_upload_bytes()}


def _kept_in_cache(app: gr.Blocks) -> set[str]:
    """The files Gradio keeps in its cache for the server's life (examples, default values)."""
    return {path for block in app.blocks.values() for path in getattr(block, "keep_in_cache", ())}


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


def _query_column(example_paths: list[str], example_labels: list[str]) -> SimpleNamespace:
    """Step 1: the query video, the examples, its player and the clip's range."""
    with gr.Column(min_width=340):
        gr.Markdown("### 1. Query")
        # no file_types filter: every file reaches the app's own checks, which name the file
        # and say what is wrong (Gradio's filter refuses by extension, without either)
        query = gr.File(label="Query video (any format)", type="filepath",
                        elem_id="query_video", height=120)
        gr.Examples(example_paths, inputs=query, example_labels=example_labels, label="Examples",
                    examples_per_page=max(10, len(example_paths)))     # every example on one page
        info = gr.Markdown(label="Query video info", elem_id="video_info")
        player = gr.Video(label="Query video", interactive=False, elem_id="query_player", height=280,
                          visible=False)
        # shown once a video is loaded; no upper bound on the boxes (the app checks the range
        # against the video and says what is wrong)
        with gr.Column(visible=False, elem_id="range_controls") as range_controls:
            with gr.Row():
                start = gr.Number(label="Start (s)", step=0.05, elem_id="range_start", min_width=90)
                end = gr.Number(label="End (s)", step=0.05, elem_id="range_end", min_width=90)
            with gr.Row():
                from_player_start = gr.Button("Start = player position", size="sm",
                                              elem_id="start_from_player")
                from_player_end = gr.Button("End = player position", size="sm", elem_id="end_from_player")
                whole = gr.Button("Whole video", size="sm", elem_id="whole_video")
        range_note = gr.Markdown(label="Query clip note", elem_id="range_note")
        preview = gr.Video(label="Query clip (the range searched)", interactive=False, elem_id="query_preview",
                           height=220, visible=False)
    return SimpleNamespace(query=query, info=info, player=player, range_controls=range_controls, start=start,
                           end=end, from_player_start=from_player_start, from_player_end=from_player_end,
                           whole=whole, range_note=range_note, preview=preview)


def _gallery_column() -> SimpleNamespace:
    """Step 2: which gallery, its videos, and adding or removing one's own."""
    with gr.Column(min_width=340):
        gr.Markdown("### 2. Gallery")
        gallery_choice = gr.Radio([S.DEMO_GALLERY, S.MY_GALLERY], value=S.DEMO_GALLERY, label="Search in",
                                  elem_id="gallery_choice")
        gallery_note = gr.Markdown(label="Gallery summary", elem_id="gallery_note")
        thumbs = gr.Gallery(label="Videos", columns=4, height=220, allow_preview=False,
                            elem_id="gallery_thumbs")
        gallery_player = gr.Video(label="Gallery video", interactive=False, visible=False,
                                  elem_id="gallery_player", height=240)
        # fixed widths: a long source (a damaged upload's note) wraps in its cell instead of
        # squeezing the other columns' headers into letters
        gallery_table = gr.Dataframe(headers=GALLERY_COLUMNS, interactive=False, elem_id="gallery_table",
                                     max_height=220, wrap=True, label="Gallery videos",
                                     column_widths=["24%", "14%", "14%", "30%", "18%"])
        with gr.Accordion("Add or remove your own videos", open=False):
            uploads = gr.File(label="Videos to add", file_count="multiple",
                              elem_id="gallery_uploads", height=120)
            add = gr.Button("Add to my gallery", elem_id="add_videos")
            gallery_status = gr.Markdown(label="Gallery message", elem_id="gallery_status")
            with gr.Row():
                removable = runtime_choices({"type": "string", "description": "id of one of your videos"},
                                            label="Your video", elem_id="remove_choice")
                remove = gr.Button("Remove", size="sm", elem_id="remove_video")
    return SimpleNamespace(gallery_choice=gallery_choice, gallery_note=gallery_note, thumbs=thumbs,
                           gallery_player=gallery_player, gallery_table=gallery_table, uploads=uploads, add=add,
                           gallery_status=gallery_status, removable=removable, remove=remove)


def _search_controls() -> SimpleNamespace:
    """Step 3: the model, how much to show, and the search button."""
    gr.Markdown("### 3. Search")
    with gr.Row():
        # API clients may pass a label or a registry name ("align", "paper", ...): custom values allowed
        model = gr.Dropdown([(S.model_name(label), label) for label in S.MODELS], value=S.ALIGN, label="Model",
                            allow_custom_value=True,
                            elem_id="model", scale=3, min_width=260)
        top_videos = gr.Slider(1, 20, value=5, step=1, label="Top videos", elem_id="top_videos", min_width=160)
        moments_per_video = gr.Slider(1, 10, value=3, step=1, label="Moments per video",
                                      elem_id="moments_per_video", min_width=160)
        min_score = gr.Slider(0, 1, value=0, step=0.01, label="Score threshold", elem_id="min_score",
                              min_width=160)
    search = gr.Button("Search", variant="primary", elem_id="search")
    search_status = gr.Markdown(label="Search status", elem_id="search_status")
    return SimpleNamespace(model=model, top_videos=top_videos, moments_per_video=moments_per_video,
                           min_score=min_score, search=search, search_status=search_status)


def _results_section() -> SimpleNamespace:
    """The moments found: table, timeline, confidence map and the moment's clip (hidden until a search)."""
    with gr.Column(visible=False, elem_id="results_section") as results_section:
        table = gr.Dataframe(headers=RESULT_COLUMNS, interactive=False, elem_id="results_table", max_height=640,
                             label="Moments found (click a row)")
        with gr.Accordion("What the scores mean", open=False):
            gr.Markdown(SCORES_NOTE, elem_id="scores_note")
        with gr.Row():
            chooser = runtime_choices({"type": "integer", "description": "rank of a moment found, 1 = the best"},
                                      label="Moment shown", elem_id="moment_choice", scale=3, min_width=260)
            json_file = gr.File(label="All results (JSON)", elem_id="results_json", scale=1, min_width=200)
        timeline = gr.Plot(label="Timeline", show_label=False, elem_id="timeline")
        with gr.Row():
            heatmap = gr.Plot(label="Confidence map", show_label=False, elem_id="heatmap", min_width=320)
            with gr.Column(min_width=320):
                clip = gr.Video(label="The moment (source resolution and sound)", interactive=False,
                                elem_id="moment_clip", height=300)
                clip_file = gr.File(label="Download the moment", elem_id="moment_file")
    return SimpleNamespace(results_section=results_section, table=table, chooser=chooser, json_file=json_file,
                           timeline=timeline, heatmap=heatmap, clip=clip, clip_file=clip_file)


def _features_section() -> SimpleNamespace:
    """The query clip's features, on request."""
    with gr.Accordion("Inspect the query's features", open=False):
        analyze = gr.Button("Extract features of the query clip", elem_id="analyze")
        with gr.Row():
            trimmed = gr.Video(label="Trimmed clip (H.264)", elem_id="trimmed_clip")
            plot = gr.Plot(label="Features", elem_id="feature_plot")
        analyze_status = gr.Markdown(label="Features status", elem_id="status")
    return SimpleNamespace(analyze=analyze, trimmed=trimmed, plot=plot, analyze_status=analyze_status)


def build_ui(demo: S.DemoGallery | None = None) -> gr.Blocks:
    demo = (demo or S.DemoGallery()).ensure()
    example_paths, example_labels = _example_paths(demo)
    S.allow_examples(example_paths)
    # Gradio's cache of uploaded and served files, and the app's own work files: what is older than
    # an hour goes (demo.temp_files), but for the examples Gradio keeps
    with gr.Blocks(title="svmr — semantic video moments", delete_cache=temp_files.delete_cache()) as app:
        session = gr.State(None, delete_callback=sessions.close_session)
        results = gr.State(None)
        gr.Markdown(INTRO)
        with gr.Row():
            query_side, gallery_side = _query_column(example_paths, example_labels), _gallery_column()
        ui = SimpleNamespace(app=app, session=session, results=results, **vars(query_side), **vars(gallery_side),
                             **vars(_search_controls()), **vars(_results_section()), **vars(_features_section()))
        _wire_query(ui)
        _wire_gallery(ui, demo)
        _wire_search(ui, demo)
        app.unload(_on_unload)
        temp_files.start_sweeper(keep=lambda: _kept_in_cache(app))
    return app


# ----------------------------------------------------------------------------- wiring
def _wire_query(ui: SimpleNamespace) -> None:
    """Loading a query, its range boxes and buttons (each change re-cuts the preview and says
    whether the results shown are for another clip)."""
    range_io = dict(fn=on_range, inputs=[ui.query, ui.start, ui.end], outputs=[ui.preview, ui.range_note, ui.end],
                    api_name=False, concurrency_limit=1, concurrency_id="preview", trigger_mode="always_last",
                    show_progress_on=[ui.preview])
    stale_io = dict(fn=stale_note, inputs=[ui.results, ui.query, ui.start, ui.end], outputs=ui.search_status,
                    api_name=False)
    result_views = [ui.results, ui.search_status, ui.results_section, ui.chooser]
    ui.query.change(clear_results, None, result_views, api_name=False).then(
        on_query_upload, ui.query, [ui.info, ui.start, ui.end, ui.player], api_name="probe",
        show_progress_on=[ui.info]).then(
        query_controls_visible, ui.start, [ui.player, ui.range_controls], api_name=False).then(**range_io)
    for box in (ui.start, ui.end):
        box.submit(**range_io).then(**stale_io)
        box.blur(**range_io).then(**stale_io)
    ui.from_player_start.click(None, [ui.start, ui.end], [ui.start, ui.end], js=START_FROM_PLAYER_JS).then(
        **range_io).then(**stale_io)
    ui.from_player_end.click(None, [ui.start, ui.end], [ui.start, ui.end], js=END_FROM_PLAYER_JS).then(
        **range_io).then(**stale_io)
    ui.whole.click(on_whole, ui.query, [ui.start, ui.end], api_name=False).then(**range_io).then(**stale_io)


def _wire_gallery(ui: SimpleNamespace, demo: S.DemoGallery) -> None:
    """Showing a gallery, playing its videos, adding and removing one's own."""
    def gallery_fn(gallery, session):
        return show_gallery(gallery, session, demo)

    def play_fn(choice, sess, evt: gr.SelectData):
        return play_gallery_video(choice, sess, demo, evt)

    gallery_views = [ui.gallery_note, ui.gallery_table, ui.thumbs, ui.removable]
    ui.app.load(gallery_fn, [ui.gallery_choice, ui.session], gallery_views, api_name=False)
    ui.gallery_choice.change(gallery_fn, [ui.gallery_choice, ui.session], gallery_views,
                             api_name="show_gallery").then(
        lambda: gr.update(value=None, visible=False), None, ui.gallery_player, api_name=False)
    for source in (ui.thumbs, ui.gallery_table):
        source.select(play_fn, [ui.gallery_choice, ui.session], ui.gallery_player, api_name=False)
    # indexing runs one upload batch at a time, apart from searches (its own concurrency group)
    ui.add.click(add_videos, [ui.uploads, ui.session],
                 [ui.session, *gallery_views, ui.gallery_status, ui.gallery_choice, ui.uploads],
                 api_name="add_videos", concurrency_limit=1, concurrency_id="indexing",
                 show_progress_on=[ui.gallery_status])
    ui.remove.click(remove_video, [ui.removable, ui.session], [ui.session, *gallery_views, ui.gallery_status],
                    api_name="remove_video", show_progress_on=[ui.gallery_status]).then(
        lambda st, sess: forget_removed(st, sess, demo), [ui.results, ui.session],
        [ui.results, ui.search_status, ui.results_section, ui.table, ui.chooser, ui.timeline, ui.heatmap, ui.clip,
         ui.clip_file],
        api_name=False)


def _wire_search(ui: SimpleNamespace, demo: S.DemoGallery) -> None:
    """The search, choosing a moment (menu or table row), and the query's features."""
    def search_fn(query, start, end, gallery, model, top_videos, moments_per_video, min_score, session,
                  progress=gr.Progress()):
        return run_search(query, start, end, gallery, model, top_videos, moments_per_video, min_score, session,
                          demo, progress)

    def row_fn(state, evt: gr.SelectData):
        return on_row(state, demo, evt)

    moment_views = [ui.timeline, ui.heatmap, ui.clip, ui.clip_file]
    ui.search.click(search_fn, [ui.query, ui.start, ui.end, ui.gallery_choice, ui.model, ui.top_videos,
                                ui.moments_per_video, ui.min_score, ui.session],
                    [ui.search_status, ui.table, ui.json_file, ui.results, *moment_views],
                    api_name="search", concurrency_limit=2, concurrency_id="search",
                    show_progress_on=[ui.search_status]).then(
        lambda st: (results_visible(st), moment_menu(st)), ui.results, [ui.results_section, ui.chooser],
        api_name=False)
    ui.chooser.input(lambda rank, st: show_moment(rank, st, demo), [ui.chooser, ui.results], moment_views,
                     api_name="show_moment", show_progress_on=[ui.timeline])
    ui.table.select(row_fn, ui.results, [ui.chooser, *moment_views], api_name=False, show_progress_on=[ui.timeline])
    ui.analyze.click(on_analyze, [ui.query, ui.start, ui.end], [ui.trimmed, ui.plot, ui.analyze_status],
                     api_name="analyze", concurrency_limit=2, show_progress_on=[ui.analyze_status])
