"""Synthetic galleries of the default pipeline's stage-1 shape (for ``benchmarks/scale.py --model align``).

The default pipeline (:class:`svmr.models.alignment.WindowRetrieval`) stores, for every video, the
mean descriptor of every window of 2, 4, 8 and 16 s at half-window stride — about 1.9 unit rows of
1,408 numbers a second of video (6,750 an hour). This module makes galleries of that shape with
the structure real footage has, video by video, so that any number of hours can be streamed:

* a **per-second descriptor** ``x_t = scene + style + shot + jitter``: each video films one to three
  *scenes* drawn from a library shared by the whole gallery (the same place or subject in many
  videos: the close neighbours a stage-1 index has to tell apart), has its own *style* (camera,
  light), is cut into *shots* of 1–30 s (exponential, mean 6 s), and every second moves a little;
* each component is Gaussian with a power-law eigenvalue spectrum ``λ_i ∝ (i + i0)^−α`` like that of
  real window rows (``python benchmarks/scale.py --fit-spectrum GALLERY...`` prints the sample
  galleries' spectrum, the best fit and the cosine percentiles; ``SPECTRUM`` holds the one used);
* the rows are :func:`svmr.models.alignment.window_means` of those descriptors (the pipeline's own
  windows) made unit-norm; a share of the videos are **re-uploads**: a stretch of an earlier video
  with a little noise (near-duplicates);
* **queries** are a clip of 3–12 s of a stored video with noise (a copy, re-encoded), or a new shot
  of a stored scene in a new style (a similar moment: no copy in the gallery).

``SPECTRUM`` and ``SHARES`` were chosen so that the largest components and the cosines of two
windows of one video and of windows of two videos come near the sample galleries' (``--fit-spectrum
data/demo/gallery data/footage-set-ext/gallery-*``, 1,883 rows: top components 0.19 and 0.16 of the
variance there, 0.17 and 0.12 here; medians 0.52 and −0.01 there, 0.51 and 0.01 here); the tail is
flatter than the sample's (256 components hold 98.0 % of the variance here, 99.6 % there, a
figure a sample of 1,883 rows overstates): the harder case for an index that keeps 256.

Video ``n`` is generated from ``(seed, n)`` alone, so a chunk of videos, a query's source video and
the exact ground truth can each be remade without holding the gallery in memory.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svmr.models.alignment import WINDOW_SECONDS, window_means

#: the default pipeline's stage-1 row: 1,280 appearance numbers and 128 of motion
DIM = 1408
#: ``(i0, α)`` of ``λ_i ∝ (i + i0)^−α`` (module docstring: a flatter tail than the sample's fit)
SPECTRUM = (4.0, 1.9)
#: variance shares of the per-second descriptor's parts
SHARES = {"scene": 0.30, "style": 0.20, "shot": 0.30, "jitter": 0.20}
#: videos' lengths: log-normal, median 8 min, 1–60 min
MEDIAN_MINUTES, LONGEST_MINUTES = 8.0, 60.0
#: share of videos that re-upload a stretch of an earlier one
REUPLOADS = 0.05
#: scenes in the library per hour of gallery
SCENES_PER_HOUR = 3.0


def spectrum(dim: int = DIM, shape: tuple[float, float] = SPECTRUM) -> np.ndarray:
    """``(dim,)`` standard deviations per axis (the eigenbasis is the coordinate basis: every index
    the benchmark measures fits its own rotation or none)."""
    i0, alpha = shape
    variance = (np.arange(1, dim + 1) + i0) ** -alpha
    return np.sqrt(variance / variance.sum()).astype(np.float32)


def fit_spectrum(rows: np.ndarray) -> tuple[float, float, np.ndarray]:
    """``(i0, α, eigenvalues)`` of the power law closest (log error, first 1,000) to ``rows``' spectrum."""
    values = np.linalg.svd(rows, compute_uv=False) ** 2
    values = values / values.sum()
    i = np.arange(1, len(values) + 1)
    best = (np.inf, 0.0, 0.0)
    for i0 in np.arange(0.0, 40.0, 0.5):
        for alpha in np.arange(0.5, 4.0, 0.02):
            model = (i + i0) ** -alpha
            error = np.mean((np.log(model / model.sum()) - np.log(values + 1e-12))[:1000] ** 2)
            best = min(best, (error, float(i0), float(alpha)))
    return best[1], best[2], values


@dataclass
class WindowGallery:
    """A synthetic gallery of ``hours`` of video (see the module docstring)."""

    hours: float
    seed: int = 0
    dim: int = DIM
    shape: tuple[float, float] = SPECTRUM

    def __post_init__(self):
        rng = np.random.default_rng([self.seed, 0])
        minutes = np.exp(rng.normal(np.log(MEDIAN_MINUTES), 0.8, int(self.hours * 60 / MEDIAN_MINUTES * 2) + 16))
        minutes = np.clip(minutes, 1.0, LONGEST_MINUTES)
        total = np.cumsum(minutes)
        count = int(np.searchsorted(total, self.hours * 60)) + 1
        #: seconds of every video ``(videos,)``
        self.seconds = np.round(minutes[:count] * 60).astype(np.int64)
        self.sigma = spectrum(self.dim, self.shape)
        scenes = max(8, int(round(self.hours * SCENES_PER_HOUR)))
        self.scenes = self._gaussian(rng, scenes) * np.float32(np.sqrt(SHARES["scene"]))

    def __len__(self) -> int:
        return len(self.seconds)

    def _gaussian(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, self.dim), dtype=np.float32) * self.sigma

    def descriptors(self, video: int) -> np.ndarray:
        """Video ``video``'s per-second descriptors ``(seconds, dim)``."""
        rng = np.random.default_rng([self.seed, 1, video])
        length = int(self.seconds[video])
        if video > 0 and rng.random() < REUPLOADS:
            return self._reupload(rng, video, length)
        cuts = np.cumsum(np.clip(rng.exponential(6.0, length), 1, 30).astype(np.int64))
        cuts = cuts[cuts < length]
        shot_of = np.searchsorted(cuts, np.arange(length), side="right")        # second → shot
        shots = len(cuts) + 1
        scene_ids = rng.integers(0, len(self.scenes), rng.integers(1, 4))
        scene_of_shot = scene_ids[np.minimum(np.arange(shots) * len(scene_ids) // shots, len(scene_ids) - 1)]
        style = self._gaussian(rng, 1) * np.float32(np.sqrt(SHARES["style"]))
        shot = self._gaussian(rng, shots) * np.float32(np.sqrt(SHARES["shot"]))
        jitter = self._gaussian(rng, length) * np.float32(np.sqrt(SHARES["jitter"]))
        return self.scenes[scene_of_shot[shot_of]] + style + shot[shot_of] + jitter

    def _reupload(self, rng: np.random.Generator, video: int, length: int) -> np.ndarray:
        """A stretch of an earlier video (its length capped by the earlier one) with a little noise."""
        source = int(rng.integers(0, video))
        original = self.descriptors(source)
        length = min(length, len(original))
        start = int(rng.integers(0, len(original) - length + 1))
        return original[start:start + length] + 0.1 * self._gaussian(rng, length)

    def rows(self, video: int) -> np.ndarray:
        """Video ``video``'s stage-1 rows ``(V, dim)``: unit window means (the pipeline's windows)."""
        return unit(window_means(self.descriptors(video).T, 1.0, WINDOW_SECONDS)[0])

    def queries(self, count: int) -> tuple[np.ndarray, list[dict]]:
        """``count`` query vectors ``(count, dim)`` (half copies, half similar moments) and what each is."""
        rng = np.random.default_rng([self.seed, 2])
        vectors, about = [], []
        for q in range(count):
            video = int(rng.integers(0, len(self)))
            seconds = self.descriptors(video)
            length = int(min(len(seconds), rng.integers(3, 13)))
            start = int(rng.integers(0, len(seconds) - length + 1))
            if q % 2 == 0:
                clip = seconds[start:start + length] + 0.3 * self._gaussian(rng, length)
                about.append({"kind": "copy", "video": video, "start": start, "seconds": length})
            else:
                scene = int(rng.integers(0, len(self.scenes)))
                clip = (self.scenes[scene] + self._gaussian(rng, 1) * np.float32(np.sqrt(SHARES["style"]))
                        + self._gaussian(rng, 1) * np.float32(np.sqrt(SHARES["shot"]))
                        + self._gaussian(rng, length) * np.float32(np.sqrt(SHARES["jitter"])))
                about.append({"kind": "similar", "scene": scene, "seconds": length})
            vectors.append(clip.mean(axis=0))
        return unit(np.array(vectors, np.float32)), about


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


def cosine_profile(videos: list[np.ndarray], seed: int = 0) -> dict[str, list[float]]:
    """10th, 50th and 90th percentiles of the cosines of two windows of one video and of windows of
    two videos; ``videos``: each video's rows ``(V, D)``."""
    rng = np.random.default_rng(seed)
    same, other = [], []
    for rows in videos:
        if len(rows) > 4:
            c = rows @ rows.T
            same.extend(c[np.triu_indices(len(rows), 1)].tolist())
    everything = np.concatenate(videos)
    owner = np.repeat(np.arange(len(videos)), [len(v) for v in videos])
    a, b = rng.integers(0, len(everything), 5000), rng.integers(0, len(everything), 5000)
    keep = owner[a] != owner[b]
    other = (everything[a[keep]] * everything[b[keep]]).sum(axis=1)
    return {"same video": np.percentile(same, [10, 50, 90]).round(3).tolist(),
            "other videos": np.percentile(other, [10, 50, 90]).round(3).tolist()}
