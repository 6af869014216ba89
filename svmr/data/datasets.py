"""Benchmark features in memory, and the stage-1 training pairs.

A built benchmark folder holds ``manifest.json`` and ``features/<extractor key>/{queries,
references}/<id>.npz`` (see ``python -m svmr extract-benchmark``).
"""
from __future__ import annotations

import glob
import os

import numpy as np
import torch

from ..features import FeatureSequence
from ..models.retrieval import quarter_labels, resize_features
from .benchmark import Benchmark, Query


def feature_dir(root: str, key: str | None = None) -> str:
    """The features folder of a benchmark (the only one when ``key`` is None)."""
    if key:
        return os.path.join(root, "features", key)
    found = sorted(glob.glob(os.path.join(root, "features", "*", "references")))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one feature folder under {root}/features, found {len(found)}; "
                                "run `python -m svmr extract-benchmark` or pass the key")
    return os.path.dirname(found[0])


def features_config(root: str, key: str | None = None):
    """The :class:`~svmr.features.ExtractorConfig` that produced a benchmark's features."""
    from ..features import ExtractorConfig

    folder = os.path.join(feature_dir(root, key), "references")
    first = sorted(os.listdir(folder))[0]
    return ExtractorConfig.from_dict(FeatureSequence.load(os.path.join(folder, first)).config)


class BenchmarkFeatures:
    """Manifest + features of every query (or of the queries of ``splits``) and reference, loaded once.

    Attributes:
        queries: ``{query id: (C, L) float32}``; references likewise.
    """

    def __init__(self, root: str, key: str | None = None, splits: tuple[str, ...] | None = None):
        self.root = root
        self.benchmark = Benchmark.load(os.path.join(root, "manifest.json"))
        folder = feature_dir(root, key)
        self.folder = folder
        self.key = os.path.basename(folder)
        queries = self.benchmark.queries if splits is None else [q for s in splits for q in self.benchmark.queries_of(s)]
        self.queries = {q.id: FeatureSequence.load(os.path.join(folder, "queries", f"{q.id}.npz")).features
                        for q in queries}
        self.references = {r.id: FeatureSequence.load(os.path.join(folder, "references", f"{r.id}.npz")).features
                           for r in self.benchmark.references}
        self.reference_ids = [r.id for r in self.benchmark.references]
        self.durations = {r.id: r.duration for r in self.benchmark.references}
        self._positives: dict[str, dict[str, np.ndarray]] = {}
        self._motion: dict[tuple[str, str], tuple] = {}
        self._normalization: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def sequence(self, kind: str, item_id: str) -> FeatureSequence:
        """A query's or reference's stored sequence (``kind``: ``queries`` or ``references``), with
        its small frames and its motion stream (computed from them once per process when the file
        holds none; :func:`~svmr.models.motion_encoder.motion_of`)."""
        from ..models.motion_encoder import motion_of

        sequence = FeatureSequence.load(os.path.join(self.folder, kind, f"{item_id}.npz"))
        if (kind, item_id) not in self._motion:
            self._motion[kind, item_id] = motion_of(sequence), sequence.motion_key
        sequence.motion, sequence.motion_key = self._motion[kind, item_id]
        return sequence

    @property
    def feature_dim(self) -> int:
        return next(iter(self.references.values())).shape[0]

    def positives(self, query: Query) -> dict[str, np.ndarray]:
        """Reference id → positive segments (seconds) for the query's class (cached per class)."""
        if query.label not in self._positives:
            self._positives[query.label] = self.benchmark.positives(query)
        return self._positives[query.label]

    def resized_references(self, length: int) -> torch.Tensor:
        """All references interpolated to ``length`` steps: ``(R, C, length)`` in manifest order."""
        return torch.cat([resize_features(torch.from_numpy(self.references[r])[None], length)
                          for r in self.reference_ids])

    def _step_sequences(self, split: str) -> list[np.ndarray]:
        """The ``(C, L)`` sequences whose steps the statistics come from: the split's queries and
        all references."""
        return [self.queries[q.id] for q in self.benchmark.queries_of(split)] + list(self.references.values())

    def normalization(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std over the steps of the split's queries and all references
        (computed once per split: it reads every feature step)."""
        if split not in self._normalization:
            stacked = np.concatenate(self._step_sequences(split), axis=1)
            self._normalization[split] = (torch.from_numpy(stacked.mean(axis=1)), torch.from_numpy(stacked.std(axis=1)))
        return self._normalization[split]

    def sample_steps(self, split: str, count: int, seed: int = 0) -> np.ndarray:
        """``count`` feature steps drawn without replacement from the same steps as
        :meth:`normalization` (all of them when there are fewer): ``(C, count)``, raw."""
        sequences = self._step_sequences(split)
        ends = np.cumsum([sequence.shape[1] for sequence in sequences])
        chosen = np.sort(np.random.default_rng(seed).choice(ends[-1], min(count, ends[-1]), replace=False))
        owner = np.searchsorted(ends, chosen, side="right")                       # sequence of each step
        offsets = chosen - np.concatenate([[0], ends[:-1]])[owner]
        return np.stack([sequences[o][:, t] for o, t in zip(owner, offsets)], axis=1)


class Stage1Pairs:
    """Random (query, reference, g) training triples: half the references hold the query's class.

    Args:
        data: loaded features; references are pre-resized to ``reference_length``.
        split: which queries to draw from.
    """

    def __init__(self, data: BenchmarkFeatures, split: str, reference_length: int, num_embeddings: int,
                 seed: int = 0):
        self.data = data
        self.queries = [q for q in data.benchmark.queries_of(split)]
        self.references = data.resized_references(reference_length)
        self.index = {r: i for i, r in enumerate(data.reference_ids)}
        self.num_embeddings = num_embeddings
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """``(query features list, references (B, C, l_r), labels (B, T_emb))``."""
        queries, refs, labels = [], [], []
        for _ in range(size):
            query = self.queries[self.rng.integers(len(self.queries))]
            positives = self.data.positives(query)
            if positives and self.rng.random() < 0.5:
                ref_id = list(positives)[self.rng.integers(len(positives))]
            else:
                while True:
                    ref_id = self.data.reference_ids[self.rng.integers(len(self.data.reference_ids))]
                    if ref_id not in positives:
                        break
            segments = [tuple(s) for s in positives.get(ref_id, [])]
            queries.append(torch.from_numpy(self.data.queries[query.id]))
            refs.append(self.references[self.index[ref_id]])
            labels.append(quarter_labels(segments, self.data.durations[ref_id], self.num_embeddings))
        return queries, torch.stack(refs), torch.stack(labels)
