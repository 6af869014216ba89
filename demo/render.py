"""Matplotlib figures for the UI."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from svmr.features import FeatureSequence  # noqa: E402


def feature_figure(sequence: FeatureSequence):
    """Self-similarity (cosine) of the feature steps, and how much each step changes.

    Similar moments of a video show as bright off-diagonal blocks.
    """
    f = sequence.features / (np.linalg.norm(sequence.features, axis=0, keepdims=True) + 1e-8)  # (C, L)
    similarity = f.T @ f
    change = np.r_[0.0, 1 - np.sum(f[:, 1:] * f[:, :-1], axis=0)]
    t0, t1 = sequence.times[0], sequence.times[-1] + 1 / sequence.rate
    fig, (ax_sim, ax_change) = plt.subplots(2, 1, figsize=(6, 7), height_ratios=[3, 1], constrained_layout=True)
    image = ax_sim.imshow(similarity, extent=[t0, t1, t1, t0], cmap="magma", vmin=max(0.0, similarity.min()), vmax=1)
    ax_sim.set(title="Feature self-similarity (cosine)", xlabel="time (s)", ylabel="time (s)")
    fig.colorbar(image, ax=ax_sim, shrink=0.8)
    ax_change.plot(sequence.times, change, color="tab:blue")
    ax_change.set(xlim=(t0, t1), xlabel="time (s)", ylabel="1 − cos(prev, this)", title="Content change")
    return fig
