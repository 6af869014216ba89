"""The app's figures: every mark inside its plot, labels never cut, lanes numbered by overall rank."""
import numpy as np

from demo.render import heatmap_figure, timeline_figure
from svmr.search import Moment, VideoHit


def _hit(moments, duration=30.0):
    starts, durations = np.arange(0, duration, 0.5), np.arange(2.0, 8.0, 0.5)
    m_c = np.random.default_rng(0).uniform(0, 1, (len(starts), len(durations)))
    return VideoHit("v", 0.8, duration, moments, m_c, m_c, starts, durations)


def _moment(start, end, score):
    return Moment("v", start, end, score, 0.8, 0.9, 1.0)


def test_a_moment_shorter_than_the_map_is_circled_inside_the_plot_and_said_so():
    sliver = _moment(29.5, 29.75, 0.3)
    fig = heatmap_figure(_hit([sliver]), sliver)
    ax = fig.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < 29.5 < x1 and y0 < 0.25 < y1
    assert "off the map's durations" in ax.get_legend().get_texts()[0].get_text()
    inside = _moment(4.0, 8.0, 0.9)                   # a moment on the map: limits are the map's own
    assert "off" not in heatmap_figure(_hit([inside]), inside).axes[0].get_legend().get_texts()[0].get_text()


def test_truth_labels_fit_inside_their_segment_and_the_plot():
    moments = [_moment(1.0, 5.0, 0.9), _moment(20.0, 24.0, 0.5)]
    truth = [{"label": "orbit_ccw+grow", "start": 0.0, "end": 1.2},       # narrow, at the plot's edge
             {"label": "a_label_far_too_long_for_its_segment", "start": 10.0, "end": 12.0},
             {"label": "fits", "start": 14.0, "end": 24.0}]
    fig = timeline_figure(_hit(moments), moments[0], truth, "fits", ranks={id(moments[0]): 2, id(moments[1]): 7})
    ax_pred, ax_truth = fig.axes
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    plot = ax_truth.get_window_extent(renderer)
    shown = {}
    for text, patch in zip(ax_truth.texts, ax_truth.patches):
        if text.get_visible():
            box, segment = text.get_window_extent(renderer), patch.get_window_extent(renderer)
            assert plot.x0 <= box.x0 and box.x1 <= plot.x1
            assert segment.x0 <= box.x0 and box.x1 <= segment.x1
            shown[text.get_text()] = box
    assert "fits" in shown                                           # a label with room is kept whole
    assert not any(t.startswith("a_label_far_too_long_for_its_segment") for t in shown)   # shortened or dropped
    assert [t.get_text() for t in ax_pred.get_yticklabels()] == ["#2", "#7"]
