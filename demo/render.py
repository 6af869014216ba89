"""Matplotlib figures for the UI: feature self-similarity, result timelines, BM heatmaps.

Figures are built as plain ``Figure`` objects, never through pyplot, whose figure manager would
keep every figure of every search alive for the life of the server."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from svmr.features import FeatureSequence  # noqa: E402
from svmr.search import Moment, VideoHit  # noqa: E402


def feature_figure(sequence: FeatureSequence):
    """Self-similarity (cosine) of the feature steps, and how much each step changes.

    Similar moments of a video show as bright off-diagonal blocks.
    """
    f = sequence.features / (np.linalg.norm(sequence.features, axis=0, keepdims=True) + 1e-8)  # (C, L)
    similarity = f.T @ f
    change = np.r_[0.0, 1 - np.sum(f[:, 1:] * f[:, :-1], axis=0)]
    t0, t1 = sequence.times[0], sequence.times[-1] + 1 / sequence.rate
    fig = Figure(figsize=(6, 7), layout="constrained")
    ax_sim, ax_change = fig.subplots(2, 1, height_ratios=[3, 1])
    image = ax_sim.imshow(similarity, extent=[t0, t1, t1, t0], cmap="magma", vmin=max(0.0, similarity.min()), vmax=1)
    ax_sim.set(title="Feature self-similarity (cosine)", xlabel="time (s)", ylabel="time (s)")
    fig.colorbar(image, ax=ax_sim, shrink=0.8)
    ax_change.plot(sequence.times, change, color="tab:blue")
    ax_change.set(xlim=(t0, t1), xlabel="time (s)", ylabel="1 − cos(prev, this)", title="Content change")
    return fig


#: the bars' colour map by what matched (the default model): copies blue, similar moments purple,
#: weak ones grey; other models' moments blue
MATCH_SHADES = {"copy": "Blues", "partial copy": "Blues", "similar": "Purples"}


def timeline_figure(hit: VideoHit, chosen: Moment | None, truth: list[dict] | None, query_label: str | None,
                    ranks: dict[int, int] | None = None):
    """The whole reference video as a time axis: one lane per predicted moment (best on top, the
    bar's shade its score, the chosen one in orange), and the ground-truth segments underneath
    (those with the query's label in green, other annotated moments in grey, each labelled where
    its label fits inside it). The default model's moments are coloured by what matched (copy blue,
    similar purple, weak grey) and labelled with it.

    Args:
        ranks: ``id(moment)`` → the moment's rank in the whole result (1 = best), so a lane is
            numbered as the results table and the moment menu number it; None: ranks within the video.
    """
    moments = sorted(hit.moments, key=lambda m: -m.score)
    lanes = max(len(moments), 1)
    fig = Figure(figsize=(11, 1.6 + 0.32 * lanes), layout="constrained")
    FigureCanvasAgg(fig)                       # a renderer, to fit the truth labels in their segments
    ax_pred, ax_truth = fig.subplots(2, 1, sharex=True, height_ratios=[lanes, 1.4])
    top = max([m.score for m in moments] + [1e-6])
    for lane, moment in enumerate(moments):
        is_chosen = chosen is not None and moment is chosen
        shade = matplotlib.colormaps[MATCH_SHADES.get(moment.match, "Blues")]
        colour = "tab:orange" if is_chosen else ("0.8" if moment.match == "weak" else
                                                shade(0.35 + 0.6 * moment.score / top))
        ax_pred.add_patch(Rectangle((moment.start, lane + 0.12), moment.end - moment.start, 0.76, facecolor=colour,
                                    edgecolor="black" if is_chosen else "none", linewidth=1.2))
        x, align = _score_label_place(moment, hit.duration)
        label = f"{moment.score:.3f} {moment.match}" if moment.match else f"{moment.score:.3f}"
        ax_pred.text(x, lane + 0.5, label, va="center", ha=align, fontsize=9,
                     color="black" if is_chosen else "0.3", clip_on=True)
    ax_pred.set(xlim=(0, hit.duration), ylim=(lanes, 0), yticks=[i + 0.5 for i in range(len(moments))])
    numbers = [(ranks or {}).get(id(m), i + 1) for i, m in enumerate(moments)]
    ax_pred.set_yticklabels([f"#{n}" for n in numbers], fontsize=9)
    ax_pred.set_title(f"{hit.video} — moments found, numbered by rank in the results (video match p = "
                      f"{hit.video_score:.3f})", fontsize=11, loc="left")
    ax_pred.grid(axis="x", color="0.9")
    ax_truth.set(ylim=(0, 1), yticks=[])
    ax_truth.set_xlabel("time in the video (s)", fontsize=10)
    if truth:
        labels = []
        for segment in truth:
            match = query_label is not None and segment["label"] == query_label
            width = segment["end"] - segment["start"]
            box = ax_truth.add_patch(Rectangle((segment["start"], 0.08), width, 0.84,
                                               facecolor="tab:green" if match else "0.8", edgecolor="white",
                                               linewidth=2))
            labels.append((box, ax_truth.text(segment["start"] + width / 2, 0.5, segment["label"], ha="center",
                                              va="center", fontsize=9, color="white" if match else "0.15")))
        ax_truth.set_ylabel("truth", rotation=0, ha="right", va="center", fontsize=10)
        _fit_labels(fig, ax_truth, labels)
    else:
        ax_truth.text(0.5, 0.5, "no ground truth for this video", transform=ax_truth.transAxes, ha="center",
                      va="center", fontsize=9, color="0.4")
    return fig


def _fit_labels(fig: Figure, ax, labels: list) -> None:
    """Shorten each ``(segment patch, label text)`` pair's label (ending it with "…") until it fits
    inside both its segment and the axes, or drop it: no label is cut by the plot's edge or spills
    over a neighbouring segment."""
    fig.draw_without_rendering()                      # the constrained layout sets the axes' size
    renderer = fig.canvas.get_renderer()
    plot_box = ax.get_window_extent(renderer)
    for patch, text in labels:
        segment = patch.get_window_extent(renderer)
        room = min(segment.x1, plot_box.x1) - max(segment.x0, plot_box.x0) - 4
        text.set_x(ax.transData.inverted().transform(((max(segment.x0, plot_box.x0)
                                                       + min(segment.x1, plot_box.x1)) / 2, 0))[0])
        full = text.get_text()
        for keep in range(len(full), 0, -1):
            text.set_text(full if keep == len(full) else full[:keep] + "…")
            if text.get_window_extent(renderer).width <= room:
                break
        else:
            text.set_visible(False)


def _score_label_place(moment: Moment, duration: float) -> tuple[float, str]:
    """``(x, horizontal alignment)`` of a lane's score label: after the bar; before it when the bar
    reaches the end of the video; inside its end when the bar spans nearly the whole video."""
    pad = duration * 0.006
    if moment.end < duration * 0.93:
        return moment.end + pad, "left"
    if moment.start > duration * 0.07:
        return moment.start - pad, "right"
    return moment.end - pad, "right"


def heatmap_figure(hit: VideoHit, chosen: Moment | None):
    """Confidence map ``M_C`` over (start, duration) in seconds, on the localizer's own axes (the
    paper model's T × T bins, or the default's one start per step × durations around the
    query's); the chosen moment circled."""
    m_c = np.asarray(hit.m_c, dtype=np.float64)                 # (S, D): [start index, duration index]
    starts, durations = np.asarray(hit.map_starts), np.asarray(hit.map_durations)
    valid = starts[:, None] + durations[None, :] <= hit.duration + 1e-6
    shown = np.where(valid, m_c, np.nan)
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    image = ax.pcolormesh(_edges(starts), _edges(durations), shown.T, cmap="viridis", vmin=0,
                          vmax=max(1e-6, float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0))
    fig.colorbar(image, ax=ax, shrink=0.85, label="M_C (brighter: closer match)")
    if chosen is not None:
        x, y = chosen.start, chosen.end - chosen.start
        off_map = not (durations.min() - 1e-6 <= y <= durations.max() + 1e-6)
        label = f"chosen moment ({y:.2f} s: off the map's durations)" if off_map else "chosen moment"
        ax.plot([x], [y], marker="o", markersize=12, markerfacecolor="none",
                markeredgecolor="red", markeredgewidth=2, label=label)
        _include(ax, x, y)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set(xlabel="moment start (s)", ylabel="moment duration (s)")
    ax.set_title(f"{hit.video} — frame match M_C of every start × duration", fontsize=10, loc="left")
    return fig


def _include(ax, x: float, y: float) -> None:
    """Widen the axes' limits so that the point ``(x, y)`` and a circle around it lie inside the
    plot (a moment shorter than the map's shortest duration, or starting before its first start,
    would otherwise be drawn off the map)."""
    for get, set_, value in ((ax.get_xlim, ax.set_xlim, x), (ax.get_ylim, ax.set_ylim, y)):
        low, high = get()
        pad = 0.06 * (max(high, value) - min(low, value))
        if value - pad < low or value + pad > high:
            set_(min(low, value - pad), max(high, value + pad))


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around increasing cell positions ``(n,)`` → ``(n + 1,)``."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])
