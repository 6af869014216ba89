"""Gradio Blocks: inspect a video and its TSM feature sequence.

This is the foundation's view of the pipeline (decode → trim → features). Gallery search,
moment localization and result rendering come with the search facade.
"""
from __future__ import annotations

import os
import tempfile
import time

import gradio as gr

from svmr import video as V
from svmr.data.footage import footage_path
from svmr.features import ExtractorConfig, FeatureExtractor

from .render import feature_figure

EXAMPLES = [p for p in (footage_path("bikes.mp4"), footage_path("vtest.avi"), footage_path("carphone_pristine.mp4")) if p]
_EXTRACTOR: dict = {}


def extractor() -> FeatureExtractor:
    if "model" not in _EXTRACTOR:
        _EXTRACTOR["model"] = FeatureExtractor(ExtractorConfig())
    return _EXTRACTOR["model"]


def on_upload(path: str | None):
    """New video: show its metadata and set the range sliders to it."""
    if not path:
        return "Upload a video or pick an example.", gr.update(), gr.update()
    try:
        info = V.probe(path)
    except V.VideoError as err:
        return f"**Cannot use this file.** {err}", gr.update(value=0, maximum=1), gr.update(value=1, maximum=1)
    text = (f"**{os.path.basename(path)}** — {info.duration:.2f} s, {info.num_frames} frames at "
            f"{info.fps:.2f} fps, {info.width}×{info.height}")
    return (text, gr.update(value=0, maximum=round(info.duration, 2)),
            gr.update(value=round(info.duration, 2), maximum=round(info.duration, 2)))


def on_analyze(path: str | None, start: float, end: float, progress=gr.Progress()):
    """Trim the chosen range to a playable clip and plot its features."""
    if not path:
        return None, None, "Upload a video first."
    try:
        progress(0, desc="Trimming")
        clip = os.path.join(tempfile.mkdtemp(prefix="svmr_"), "clip.mp4")
        V.write_clip(path, clip, start, end)
        started = time.time()
        sequence = extractor().extract(path, start, end,
                                       progress=lambda done, total: progress(done / total, desc="Extracting features"))
        elapsed = time.time() - started
    except V.VideoError as err:
        return None, None, f"**Cannot use this range.** {err}"
    status = (f"{sequence.length} feature steps × {sequence.features.shape[0]} channels "
              f"({sequence.rate:g} per second) in {elapsed:.2f} s — {sequence.length / elapsed:.0f} frames/s "
              f"on {extractor().device}")
    return clip, feature_figure(sequence), status


def build_ui() -> gr.Blocks:
    with gr.Blocks(title="svmr — semantic video moments") as app:
        gr.Markdown("# svmr — semantic video moments retrieval\nUpload a video, choose a range, "
                    "and see its TSM feature sequence (EfficientNet-Lite0 with temporal shift).")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video", sources=["upload"], elem_id="query_video")
                info = gr.Markdown(elem_id="video_info")
                start = gr.Slider(0, 1, value=0, step=0.05, label="Start (s)", elem_id="range_start")
                end = gr.Slider(0, 1, value=1, step=0.05, label="End (s)", elem_id="range_end")
                run = gr.Button("Trim and extract features", variant="primary", elem_id="analyze")
                if EXAMPLES:
                    gr.Examples(EXAMPLES, inputs=video)
            with gr.Column():
                clip = gr.Video(label="Trimmed clip (H.264)", elem_id="trimmed_clip")
                plot = gr.Plot(label="Features", elem_id="feature_plot")
                status = gr.Markdown(elem_id="status")
        video.change(on_upload, video, [info, start, end], api_name="probe")
        run.click(on_analyze, [video, start, end], [clip, plot, status], api_name="analyze", concurrency_limit=2)
    return app
