"""Pretraining the motion encoder on random motion programs (contrastive, CPU).

``python -m svmr train-motion`` renders ``programs × instances`` instances of random motion
programs (:mod:`svmr.data.motion_programs`; cached under ``--cache``), then trains
:class:`~svmr.models.motion_encoder.MotionEncoder` with a symmetric InfoNCE loss: in a batch of
``batch`` programs, a window of one instance and a window of another instance of the same program
are a positive pair, every other program's windows negatives. A clip's vector is the mean of its
steps' vectors, as the search uses it.

The probe that selects the checkpoint is **clip-level 1-NN among motion classes the encoder never
saw**: instances of the procedural benchmark's training and validation classes (never its test
classes), rendered in the same kind of scenes. The benchmark's own test classes are measured only
afterwards, on the benchmark's videos (``python -m svmr evaluate --benchmark``).

With ``--class-instances N`` the encoder also learns the benchmark's **training** classes, as the
paper's models do (seed 000 trains on 80 % of the classes): ``N`` fresh instances of each are
rendered and make up ``--class-share`` of every batch, a pair of instances of one class being a
positive pair. The probe then counts only instances of the **validation** classes (never trained
on), each looking for its nearest neighbour among instances of all 45 training and validation
classes — an unseen motion must not be taken for a learned one. ``--init`` starts from an encoder
(the bundled one: fine-tuning).
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..device import place
from ..data.benchmark import split_classes
from ..data.motion_programs import FACTOR_SIZES, MotionProgram, render_clip, render_program
from ..data.synthetic import CLASS_ORDER, TRAJECTORIES, Appearance, _rng, class_pose
from ..models.alignment import part_bounds
from ..models.motion_encoder import MotionEncoder, MotionEncoderConfig, MotionStream
from .loop import trainable_copy, weights_moved


def program_instances(programs: int, instances: int, seed: int, cache: str | None = None,
                      workers: int = 1) -> list[list[np.ndarray]]:
    """Small frames ``[program][instance] (L, 32, 32)``, from ``cache`` when it holds them."""
    path = os.path.join(cache, f"programs-{seed}-{programs}x{instances}.npz") if cache else None
    if path and os.path.exists(path):
        with np.load(path, allow_pickle=False) as data:
            frames, lengths = data["frames"], data["lengths"]
        clips = np.split(frames, np.cumsum(lengths)[:-1])
        return [clips[k * instances:(k + 1) * instances] for k in range(programs)]
    seeds = program_seeds(programs, seed)
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            out = pool.starmap(render_program, [(s, instances) for s in seeds], chunksize=16)
    else:
        out = [render_program(s, instances) for s in seeds]
    if path:
        os.makedirs(cache, exist_ok=True)
        flat = [clip for program in out for clip in program]
        np.savez(path, frames=np.concatenate(flat), lengths=np.array([len(c) for c in flat]))
    return out


def program_seeds(programs: int, seed: int) -> list[int]:
    """The seed each of ``programs`` programs is drawn from (:func:`program_instances`' order)."""
    return [seed * 1_000_003 + k for k in range(programs)]


#: the factors an encoder may be taught to read (:func:`program_factors`, :func:`class_factors`):
#: size modulation, turning, blinking, and the benchmark's trajectory
FACTOR_HEADS = FACTOR_SIZES + (len(TRAJECTORIES),)
#: a benchmark modulation as the programs' factors (size modulation, turning, blinking)
MODULATION_FACTORS = {"steady": (0, 0, 0), "grow": (1, 0, 0), "shrink": (2, 0, 0), "spin": (0, 1, 0),
                      "blink": (0, 0, 1)}


def program_factors(programs: int, seed: int) -> np.ndarray:
    """``(programs, 4)`` factor labels of the programs :func:`program_instances` renders: how the
    object changes (:meth:`~svmr.data.motion_programs.MotionProgram.factors`); no trajectory (−1: a
    program's path is its own, not one of the benchmark's)."""
    return np.array([MotionProgram.draw(s).factors() + (-1,) for s in program_seeds(programs, seed)], np.int64)


def class_factors(labels: list[str]) -> np.ndarray:
    """``(K, 4)`` factor labels of the benchmark's classes ``labels``: their modulation as the
    programs' factors, and their trajectory."""
    rows = []
    for label in labels:
        trajectory, modulation = label.split("+")
        rows.append(MODULATION_FACTORS[modulation] + (TRAJECTORIES.index(trajectory),))
    return np.array(rows, np.int64).reshape(-1, len(FACTOR_HEADS))


def class_instances(labels: list[str], instances: int, seed: int) -> list[list[np.ndarray]]:
    """Instances of the benchmark's motion classes ``labels`` (appearance, scene, speed and length
    drawn at random, as the benchmark draws them): ``[class][instance] (L, 32, 32)``."""
    out = []
    for label in labels:
        clips = []
        for i in range(instances):
            rng = _rng(seed, "probe", label, i)
            duration = float(rng.uniform(2.5, 8.0))
            look = Appearance.draw(rng)
            clips.append(render_clip(lambda t, look=look, d=duration: class_pose(label, t, d, look), duration, look, rng))
        out.append(clips)
    return out


def probe_classes() -> list[str]:
    """The benchmark's classes the probe may use: its training and validation classes."""
    split = split_classes(CLASS_ORDER)
    return split["train"] + split["val"]


def training_classes() -> list[str]:
    """The benchmark's classes an encoder may learn: its training classes."""
    return split_classes(CLASS_ORDER)["train"]


def _windows(clips: list[np.ndarray], length: int, rng: np.random.Generator) -> torch.Tensor:
    """A random window of ``length`` steps of each clip (a shorter clip repeats its last step)."""
    out = np.empty((len(clips), length) + clips[0].shape[1:], np.uint8)
    for k, clip in enumerate(clips):
        if len(clip) < length:
            clip = np.concatenate([clip, np.repeat(clip[-1:], length - len(clip), axis=0)])
        start = int(rng.integers(0, len(clip) - length + 1))
        out[k] = clip[start:start + length]
    return torch.from_numpy(out)


def part_means(steps: torch.Tensor, parts: int) -> torch.Tensor:
    """``(N, D, L)`` step vectors → ``(N, parts·D)``: the unit mean of each of ``parts`` consecutive
    equal parts, joined and scaled to unit norm (as :class:`~svmr.models.semantic.StepSpace` compares
    spans cut in parts; every part at least one step)."""
    length = steps.shape[2]
    means = [F.normalize(steps[:, :, begin:end].mean(dim=2), dim=1)
             for begin, end in (part_bounds(0, length, parts, j) for j in range(parts))]
    return torch.cat(means, dim=1) / parts ** 0.5


def clip_vectors(stream: MotionStream, clips: list[np.ndarray], parts: int = 1) -> np.ndarray:
    """Unit vector of each clip: ``(N, parts·D)`` (:func:`part_means` of its steps)."""
    return np.concatenate([part_means(torch.from_numpy(stream.encode(clip))[None], parts).numpy() for clip in clips])


def nearest_neighbour_accuracy(vectors: np.ndarray, labels: np.ndarray, counted: np.ndarray | None = None) -> float:
    """Leave-one-out 1-NN accuracy of unit ``(N, D)`` vectors, over the rows ``counted`` (a boolean
    ``(N,)`` mask; None: all) — every row is a possible neighbour."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    right = labels[similarity.argmax(axis=1)] == labels
    return float(np.mean(right if counted is None else right[counted]))


def probe(stream: MotionStream, probe_set: list[list[np.ndarray]], counted: list[int] | None = None,
          parts: int = 1) -> float:
    """1-NN among all the probe's clips (each cut in ``parts``), counted over the groups ``counted`` (None: all)."""
    clips = [clip for group in probe_set for clip in group]
    labels = np.repeat(np.arange(len(probe_set)), [len(g) for g in probe_set])
    return nearest_neighbour_accuracy(clip_vectors(stream, clips, parts), labels,
                                      None if counted is None else np.isin(labels, counted))


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of unit ``(B, D)`` rows, row ``k`` of ``a`` matching row ``k`` of ``b``."""
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class FactorHeads(torch.nn.Module):
    """Linear read-outs of :data:`FACTOR_HEADS` from a window's unit ``(N, D)`` vector: teaching the
    encoder to say *how* an object changes (size, turning, blinking) and not only where it goes."""

    def __init__(self, dim: int):
        super().__init__()
        self.heads = torch.nn.ModuleList(torch.nn.Linear(dim, size) for size in FACTOR_HEADS)

    def loss(self, vectors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the heads; ``labels`` ``(N, 4)``, −1 ignored."""
        losses = [F.cross_entropy(head(vectors), labels[:, k], ignore_index=-1)
                  for k, head in enumerate(self.heads) if bool((labels[:, k] >= 0).any())]
        return torch.stack(losses).mean()


def train_motion_encoder(programs: list[list[np.ndarray]], probe_set: list[list[np.ndarray]], steps: int = 1500,
                         batch: int = 64, window: tuple[int, int] = (8, 16), lr: float = 2e-3,
                         temperature: float = 0.1, seed: int = 0, config: MotionEncoderConfig | None = None,
                         probe_every: int = 250, log=print, classes: list[list[np.ndarray]] | None = None,
                         class_share: float = 0.5, probe_counted: list[int] | None = None,
                         init: MotionEncoder | None = None, parts: int = 1,
                         device: str | torch.device = "cpu", factors: np.ndarray | None = None,
                         factor_weight: float = 0.0) -> tuple[MotionStream, dict]:
    """Contrastive training on ``device``; returns the encoder at its best probe and the training record.

    ``classes``: instances of labelled classes, sampled as groups beside the programs so that they
    make up ``class_share`` of a batch's groups; ``probe_counted``: the probe groups that count
    (:func:`probe`); ``init``: the encoder to start from (its weights are copied); ``parts``: a window's
    vector is the mean of each of this many consecutive parts (:func:`part_means`), in training and
    in the probe; ``config``: the network (default: ``init``'s, else the default one; with ``init``,
    one whose weights have the same shapes, e.g. other dilations); ``factors``: ``(G, 4)`` labels of
    every group (programs first, then classes; :data:`FACTOR_HEADS`, −1 where unknown), read from a
    window's unit vector by linear heads whose cross-entropy, times ``factor_weight``, joins the loss
    (the heads are not kept)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder = MotionEncoder(config or (init.config if init is not None else MotionEncoderConfig()))
    if init is not None:
        encoder.load_state_dict(init.state_dict())
    device = torch.device(device)
    place(encoder, device)
    groups = programs + (classes or [])
    chance = None
    if classes and programs:
        chance = np.r_[np.full(len(programs), (1 - class_share) / len(programs)),
                       np.full(len(classes), class_share / len(classes))]
    heads = FactorHeads(encoder.config.dim).to(device) if factor_weight > 0 and factors is not None else None
    learned = list(encoder.parameters()) + (list(heads.parameters()) if heads is not None else [])
    optimizer = torch.optim.AdamW(learned, lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.1)
    stream = MotionStream(encoder, device=device)
    initial = trainable_copy(encoder)
    best, best_state, history, started = -1.0, None, [], time.time()
    if init is not None:   # where fine-tuning starts: kept when no step does better
        best, best_state = probe(stream, probe_set, probe_counted, parts), {k: v.clone() for k, v in encoder.state_dict().items()}
        history.append({"step": 0, "probe_1nn": round(best, 4)})
        log(history[-1])
    for step in range(1, steps + 1):
        encoder.train()
        chosen = rng.choice(len(groups), size=min(batch, len(groups)), replace=False, p=chance)
        pairs = [rng.choice(len(groups[k]), size=2, replace=False) for k in chosen]
        length = int(rng.integers(window[0], window[1] + 1))
        a = _windows([groups[k][i] for k, (i, _) in zip(chosen, pairs)], length, rng).to(device)
        b = _windows([groups[k][j] for k, (_, j) in zip(chosen, pairs)], length, rng).to(device)
        steps_out = encoder(torch.cat([a, b]))
        vectors = part_means(steps_out, parts)
        loss = info_nce(vectors[:len(chosen)], vectors[len(chosen):], temperature)
        if heads is not None:
            labels = torch.from_numpy(np.concatenate([factors[chosen], factors[chosen]])).to(device)
            loss = loss + factor_weight * heads.loss(F.normalize(steps_out.mean(dim=2), dim=1), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % probe_every == 0 or step == steps:
            accuracy = probe(stream, probe_set, probe_counted, parts)
            history.append({"step": step, "loss": round(loss.item(), 4), "probe_1nn": round(accuracy, 4),
                            "weights_moved": weights_moved(initial, trainable_copy(encoder)),
                            "seconds": round(time.time() - started, 1)})
            log(history[-1])
            if accuracy > best:
                best, best_state = accuracy, {k: v.clone() for k, v in encoder.state_dict().items()}
    encoder.load_state_dict(best_state)
    return MotionStream(encoder, device=device), {"probe_1nn": round(best, 4), "history": history,
                                   "seconds": round(time.time() - started, 1)}
