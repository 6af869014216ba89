"""What a found moment is: the same footage, a similar moment, or nothing close — from thresholds
fitted on data (``python -m svmr calibrate``; ``checkpoints/match_calibration.json``).

* **Copy** — a logistic model of the frame alignment's evidence for a moment (its order-checked
  confidence ``M_C``, the share of the query it covers ``M_R`` and the motion match ``M_V``), fitted
  on real copies (clips cut from the gallery's videos, as is and re-shared) against what the same
  alignment finds where there is no copy (the same street at another time, another face). A
  moment is a copy when that probability is at least one half.
* **Similar** — a moment's similarity (the cosine of its window's mean appearance with the
  query's, both centred on a fixed background mean, :mod:`svmr.models.semantic`) at or above a threshold fitted on pairs of different
  real videos showing the same kind of moment against moments of other kinds (the threshold that
  separates them best, balanced accuracy).
* **Weak** — neither; when every moment of a search is weak, the search says "nothing close".
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import checkpoints as C

CALIBRATION_FILE = "match_calibration.json"
COPY, PARTIAL_COPY, SIMILAR, WEAK = "copy", "partial copy", "similar", "weak"
#: a search's verdicts (``SearchResult.verdict``)
FOUND_COPY, FOUND_SIMILAR, NOTHING_CLOSE = "copy found", "similar moments", "nothing close"


@dataclass
class MatchCalibration:
    """Attributes:
        copy_weights: ``(bias, w_confidence, w_motion, w_regression)`` of the copy model, whose
            features are ``logit(M_C)``, ``M_V`` and ``M_R`` (:func:`copy_features`).
        similar_threshold: similarity (a cosine) from which a moment is "similar".
        record: how it was fitted (command, data, metrics).
    """

    copy_weights: tuple[float, float, float, float]
    similar_threshold: float
    record: dict = field(default_factory=dict)

    def copy_probability(self, confidence, motion, regression) -> np.ndarray:
        """P(copy) for moments' alignment evidence ``M_C``, ``M_V``, ``M_R`` (arrays ``(K,)``)."""
        weights = np.asarray(self.copy_weights, np.float64)
        z = weights[0] + copy_features(confidence, motion, regression) @ weights[1:]
        return 1.0 / (1.0 + np.exp(-z))

    def label(self, copy_probability: float, similarity: float, partial: bool = False) -> str:
        """``copy`` (``partial copy`` when the moment covers less than half the query), ``similar``
        or ``weak``."""
        if copy_probability >= 0.5:
            return PARTIAL_COPY if partial else COPY
        return SIMILAR if similarity >= self.similar_threshold else WEAK

    def save(self, path: str) -> None:
        """Write the JSON file (a bundled one is recorded in ``checkpoints/SHA256SUMS``)."""
        with open(path + ".tmp", "w") as handle:
            json.dump(asdict(self), handle, indent=1)
        os.replace(path + ".tmp", path)
        C.record_if_bundled(path)

    @classmethod
    def load(cls, path: str | None = None) -> "MatchCalibration":
        """Read a calibration file (the bundled one by default, checked against its SHA-256)."""
        with open(C.bundled_path(path, CALIBRATION_FILE)) as handle:
            data = json.load(handle)
        return cls(tuple(float(w) for w in data["copy_weights"]), float(data["similar_threshold"]),
                   data.get("record", {}))


def copy_features(confidence, motion, regression) -> np.ndarray:
    """``(K, 3)`` features of the copy model: ``logit(M_C)`` (a copy's frames match to 0.99, a
    look-alike's to 0.8: the logit spreads the top of the scale), ``M_V`` and ``M_R``."""
    confidence = np.clip(np.asarray(confidence, np.float64), 1e-4, 1 - 1e-4)
    return np.column_stack([np.log(confidence / (1 - confidence)), np.asarray(motion, np.float64),
                            np.asarray(regression, np.float64)]).reshape(-1, 3)


def verdict(labels: list[str]) -> str:
    """A search's verdict from its moments' labels."""
    if COPY in labels or PARTIAL_COPY in labels:
        return FOUND_COPY
    return FOUND_SIMILAR if SIMILAR in labels else NOTHING_CLOSE


def fit_logistic(features: np.ndarray, targets: np.ndarray, l2: float = 1e-3, steps: int = 50,
                 balanced: bool = True) -> np.ndarray:
    """Logistic regression by Newton's method: ``(N, F)`` features, ``(N,)`` 0/1 targets →
    ``(1 + F,)`` weights (bias first), with an L2 penalty on the non-bias weights (so separable
    data still gives finite weights). ``balanced``: positives and negatives weigh the same in all
    (else each sample weighs the same)."""
    x = np.column_stack([np.ones(len(features)), features]).astype(np.float64)
    y = targets.astype(np.float64)
    balance = np.where(y > 0, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1)) * len(y) if balanced \
        else np.ones(len(y))
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-x @ w))
        gradient = x.T @ (balance * (p - y)) / len(y) + penalty * w
        hessian = (x * (balance * p * (1 - p))[:, None]).T @ x / len(y) + np.diag(penalty + 1e-9)
        w -= np.linalg.solve(hessian, gradient)
    return w


def fit_threshold(positives: np.ndarray, negatives: np.ndarray) -> tuple[float, float]:
    """The threshold that best separates ``positives`` (≥) from ``negatives`` (<) by balanced
    accuracy (midway between the two values it falls between), and that accuracy."""
    values = np.unique(np.concatenate([positives, negatives]))
    cuts = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    accuracy = [(np.mean(positives >= c) + np.mean(negatives < c)) / 2 for c in cuts]
    best = int(np.argmax(accuracy))
    return float(cuts[best]), float(accuracy[best])
