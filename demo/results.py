"""Search handlers: run a search, show one moment (timeline, confidence map, trimmed clip), and
keep the results consistent with the gallery they came from."""
from __future__ import annotations

import os
from dataclasses import replace

import gradio as gr

from svmr import video as V
from svmr.gallery import Gallery
from svmr.models.match import FOUND_COPY, FOUND_SIMILAR, NOTHING_CLOSE
from svmr.trim import trim

from . import service as S
from .query import message
from .render import heatmap_figure, timeline_figure
from .temp_files import work_dir

RESULT_COLUMNS = ["rank", "video", "start (s)", "end (s)", "match", "score", "video match p", "frame match M_C",
                  "boundary fit M_R", "motion match M_V", "similarity"]
SCORES_NOTE = """**match** (default model) — what the moment is: **copy**, the query's own footage (re-shared,
cropped, recoloured… — a calibrated probability of at least one half from the frame, boundary and
motion evidence); **partial copy**, a copy of less than half the query; **…, in part of the picture**:
a copy playing inside part of the video's picture (picture-in-picture, one half of a split screen,
above a caption bar), found there because that part was also described alone; **similar**, other footage
showing the same kind of moment (its **similarity** — the cosine of the moment's mean picture content
with the query's — at or above a threshold fitted on pairs of real videos); **weak**, neither. When
every moment is weak the search says *nothing close*. Each score is in 0–1. **score** ranks the
moments: for the default model a copy's **1 − (1 − M_C · M_R)(1 − M_V)** (at least 0.5) and below
every copy **(1 + similarity) / 4** — copies first, then similar moments, then weak ones; its videos are
listed by their best moment; **p · M_C · M_R** for the paper's models.
**video match p** — how much the video as a whole resembles the query (stage 1: its best-matching
stretch; for the default model it only chooses which videos are aligned). **frame match M_C** — how
closely the moment's frames match the query's frames, in order (default model: frame similarity
along the alignment, raised when the clip matches better forwards than played backwards, which
tells a copy from a look-alike still scene; paper model: BM confidence). **boundary fit M_R** — how
well the moment's start and end fit (default model: the share of the query the moment covers;
paper model: predicted overlap with the true moment). **motion match M_V** — whether things move in
the moment where they move in the query, even cropped, brightened or blurred (default model: the
correlation of the two clips' motion maps; 0 when nothing moves or for other models): it tells a
copy of a fixed-camera clip from the same view at another time. Click a row to see its moment."""


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def moment_choices(result) -> list[tuple[str, int]]:
    """The moment menu: ``(label, rank)`` with ranks from 1 (the best), as the table numbers them."""
    return [(f"#{rank} {m.video} {m.start:.2f}–{m.end:.2f} s ({m.match + ', ' if m.match else ''}score {m.score:.3f})",
             rank) for rank, m in enumerate(result.moments, 1)]


def result_rows(result) -> list[list] | None:
    """The results table: one row per moment, ranked from 1."""
    rows = [[rank, m.video, round(m.start, 2), round(m.end, 2), _match_text(m), round(m.score, 4),
             round(m.video_score, 4), round(m.confidence, 4), round(m.regression, 4), round(m.motion, 4),
             round(m.similarity, 4) if m.match else "–"]
            for rank, m in enumerate(result.moments, 1)]
    return rows or None


def _match_text(moment) -> str:
    """A moment's match as the table shows it, saying when it plays in part of its video's picture."""
    if not moment.match:
        return "–"
    return f"{moment.match}, in part of the picture" if moment.region else moment.match


def region_line(box: list[float]) -> str:
    """Where in a picture a part of it lies, in words (``box``: top, bottom, left, right fractions)."""
    top, bottom, left, right = box
    return (f"{(right - left) * 100:.0f} % × {(bottom - top) * 100:.0f} % of the picture, from "
            f"{left * 100:.0f} % across and {top * 100:.0f} % down")


#: what a search's verdict tells the user (the default model)
VERDICTS = {
    FOUND_COPY: "**Copy found** — the query's own footage is in the gallery; the copies come first.",
    FOUND_SIMILAR: "**No copy of the query in this gallery — similar moments** (other footage of the same kind).",
    NOTHING_CLOSE: "**Nothing close** — no moment in this gallery is a copy of the query or like it; the moments "
                   "below are only the least unlike ones.",
}


def verdict_line(result) -> str:
    """The verdict as the status's first line ("" for models that do not label their moments)."""
    return VERDICTS[result.verdict] + "\n\n" if result.verdict in VERDICTS else ""


def run_search(query: str | None, start: float, end: float, gallery_choice: str, model: str, top_videos: int,
               moments_per_video: int, min_score: float, session: S.Session | None, demo: S.DemoGallery,
               progress=gr.Progress()):
    """Search; returns status, results table, JSON file, state and the details of the best moment
    (timeline, heatmap, clip, clip file). The moment menu follows the state (:func:`moment_menu`)."""
    empty = (None, None, None, None, None, None, None)
    if not query:
        return (message("No query", "Upload a video or pick an example first."), *empty)
    try:
        progress(0.05, desc="Reading the query")
        result, gallery = S.search(gallery_choice, model, session, demo, S.checked_upload(query), float(start or 0.0),
                                   None if end is None else float(end), int(top_videos), int(moments_per_video),
                                   float(min_score),
                                   progress=lambda done, total: progress(0.05 + 0.6 * done / max(total, 1),
                                                                         desc="Reading the query"))
    except (V.VideoError, ValueError) as err:
        return (message("Cannot search", str(err)), *empty)
    t = result.timings
    status = verdict_line(result) + (f"{plural(len(result.moments), 'moment')} in {plural(len(result.videos), 'video')} — query features "
              f"{t['query_features_s'] * 1000:.0f} ms, stage 1 {t['stage1_s'] * 1000:.0f} ms, stage 2 "
              f"{t['stage2_s'] * 1000:.0f} ms, total {t['total_s'] * 1000:.0f} ms ({S.model_name(model)})")
    if result.query.get("region"):
        status += ("\n\n**The copy plays in part of the query's picture** (picture-in-picture, split screen or a "
                   f"caption bar): searched there, {region_line(result.query['region'])}.")
    inside = [f"- #{rank} {m.video}: {region_line(m.region)}" for rank, m in enumerate(result.moments, 1) if m.region][:3]
    if inside:
        status += "\n\n**Found in part of a video's picture** (picture-in-picture, split screen or a caption bar):\n" \
                  + "\n".join(inside)
    if result.query.get("damage"):
        lost = result.query["damage"].removeprefix("damaged: ")
        status += f"\n\n**The query file is damaged**, searched for what decodes: {lost}"
    damaged = [f"- {hit.video}: {hit.damage}" for hit in result.videos if hit.damage]
    if damaged:
        status += "\n\n**Damaged videos** (searched for what decodes):\n" + "\n".join(damaged)
    if not result.moments:
        status += "\n\nNo moment reaches the score threshold: lower it or ask for more videos."
    json_path = S.result_json(result, gallery_choice, model, os.path.join(work_dir(), "svmr_results.json"))
    state = {"result": result, "gallery": gallery.root, "choice": gallery_choice,
             "label": demo.label_of(query) if gallery_choice == S.DEMO_GALLERY else None,
             "query": {"path": query, "start": float(start or 0.0), "end": None if end is None else float(end)}}
    details = show_moment(1, state, demo) if result.moments else (None, None, None, None)
    return (status, result_rows(result), json_path, state, *details)


def moment_menu(state: dict | None):
    """The moment menu for the results in ``state`` (the best moment chosen)."""
    choices = moment_choices(state["result"]) if state else []
    return gr.update(choices=choices, value=1 if choices else None)


def show_moment(rank: int | None, state: dict | None, demo: S.DemoGallery):
    """Timeline, BM heatmap and the trimmed clip (source resolution, with its sound) of the moment
    ranked ``rank`` (1 = the best, as in the results table); returns ``(timeline, heatmap, clip,
    clip file)``, all None for a rank the results do not hold."""
    try:
        rank = int(rank)
    except (TypeError, ValueError):
        return None, None, None, None
    if state is None or not 1 <= rank <= len(state["result"].moments):
        return None, None, None, None
    result = state["result"]
    moment = result.moments[rank - 1]
    hit = next(h for h in result.videos if h.video == moment.video)
    truth = demo.truth(moment.video) if state["choice"] == S.DEMO_GALLERY else None
    ranks = {id(m): number for number, m in enumerate(result.moments, 1)}
    timeline = timeline_figure(hit, moment, truth["segments"] if truth else None, state["label"], ranks)
    heatmap = heatmap_figure(hit, moment)
    video = Gallery(state["gallery"]).videos.get(moment.video)
    clip = os.path.join(work_dir(), f"{moment.video}_{moment.start:.2f}-{moment.end:.2f}.mp4")
    try:
        trim(video.path, clip, moment.start, moment.end)
    except (V.VideoError, AttributeError):   # the video was removed since the search
        clip = None
    return timeline, heatmap, clip, clip


def on_row(state: dict | None, demo: S.DemoGallery, evt: gr.SelectData):
    """A click on a results row: that moment (by its rank, whatever order the table is sorted in)."""
    row = evt.row_value if evt is not None else None
    if state is None or not row:
        return (gr.update(), None, None, None, None)
    rank = int(row[0])
    return (gr.update(value=rank), *show_moment(rank, state, demo))


def results_visible(state: dict | None):
    """The results section shows once a search found moments."""
    return gr.update(visible=bool(state and state["result"].moments))


def clear_results():
    """A new query file: the results, the moment menu and the search status of the last query go.
    Returns ``(state, status, section, menu)``."""
    return None, "", gr.update(visible=False), gr.update(choices=[], value=None)


def stale_note(state: dict | None, query: str | None, start: float | None, end: float | None):
    """The search status after the query's range changed: the results shown are for the range
    searched, and the status says so (unchanged while the range is the one searched)."""
    if not state or not query or start is None:
        return gr.update()
    searched = state["query"]

    def shown(value: float | None) -> str:
        return "the end" if value is None else f"{value:.2f} s"

    now = (round(float(start), 2), None if end is None else round(float(end), 2))
    before = (round(searched["start"], 2), None if searched["end"] is None else round(searched["end"], 2))
    if searched["path"] == query and now == before:
        return gr.update()
    return message("Results of an earlier range", f"the moments below were found for {before[0]:.2f} s–"
                   f"{shown(before[1])} of the query; press Search to search {now[0]:.2f} s–{shown(now[1])}.")


def forget_removed(state: dict | None, session: S.Session | None, demo: S.DemoGallery):
    """After a video is removed from the visitor's gallery, its moments leave the results; the
    moments of the other videos stay, ranked again from 1.

    Returns ``(state, status, section, table, menu, timeline, heatmap, clip, clip file)``."""
    unchanged = (gr.update(),) * 9
    if not state or state["choice"] != S.MY_GALLERY:
        return unchanged
    kept = set(session.gallery.videos) if session else set()
    result = state["result"]
    gone = {hit.video for hit in result.videos} - kept
    if not gone:
        return unchanged
    result = replace(result, moments=[m for m in result.moments if m.video in kept],
                     videos=[h for h in result.videos if h.video in kept])
    state = {**state, "result": result}
    if not result.moments:
        return (None, "The results were cleared: they showed only videos you removed. Search again.",
                gr.update(visible=False), None, gr.update(choices=[], value=None), None, None, None, None)
    status = (f"{', '.join(sorted(gone))} removed: its moments left the results; "
              f"{plural(len(result.moments), 'moment')} in {plural(len(result.videos), 'video')} remain, "
              f"ranked again from 1.")
    return (state, status, gr.update(visible=True), result_rows(result), moment_menu(state),
            *show_moment(1, state, demo))
