"""Random motion programs: unlimited motion classes for pretraining the motion encoder.

The procedural benchmark has 50 classes (10 trajectories × 5 modulations, :mod:`.synthetic`).
A motion encoder pretrained on those would have seen its own test classes; one pretrained on a few
more would learn them and not motion. This module draws a **motion program** from a seed — a class
that exists nowhere else — as a random composition of

* a path for each axis: a sum of one to three terms among a linear drift, a quadratic (falling or
  braking), sinusoids with a whole or half number of cycles over the instance, and an oscillation
  in absolute time;
* a size modulation (none, linear growth or shrinking, or pulsing), a rotation speed (often none),
  and sometimes blinking.

An **instance** of a program varies everything a class should not depend on: the object's shape,
colours, texture and size, its anchor position (a little), its speed (periodic terms in absolute
time), its duration (2.5–8 s), and the whole scene (a textured panning background, distractor
objects, camera jitter, flicker and noise, from :func:`~.synthetic.make_scene`). Frames are drawn
at ``RENDER_SIZE`` pixels and reduced as the index reduces a video's pictures
(:func:`~svmr.models.motion.small_frames`), one per feature step.

No program is one of the benchmark's classes: the benchmark's trajectories and modulations are
fixed formulas; a program's terms have random amplitudes, phases and cycle counts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.motion import small_frames
from .synthetic import Appearance, Pose, _rng, draw_object, make_scene, scene_frame

#: a program's size modulations; with turning and blinking, the factors :meth:`MotionProgram.factors` names
SCALE_KINDS = ("none", "grow", "shrink", "pulse")
#: how many values each factor takes: size modulation, turning, blinking
FACTOR_SIZES = (len(SCALE_KINDS), 2, 2)
RENDER_SIZE = 64          # pixels, square; reduced to the index's 32-pixel small frames
STEP_RATE = 4.0           # frames per second (the index's feature steps)
DURATION_RANGE = (2.5, 8.0)


@dataclass(frozen=True)
class Term:
    """One term of a path coordinate: ``amplitude × f(p, t)``.

    ``kind``: ``linear`` (p), ``quadratic`` (p²), ``cycles`` (sin(2π·cycles·p + phase)) or ``hertz``
    (sin(2π·cycles·speed·t + phase), ``cycles`` read as cycles per second)."""

    kind: str
    amplitude: float
    cycles: float = 0.0
    phase: float = 0.0

    def value(self, p: float, t: float, speed: float) -> float:
        if self.kind == "linear":
            return self.amplitude * (p - 0.5)
        if self.kind == "quadratic":
            return self.amplitude * (p * p - 0.33)
        if self.kind == "cycles":
            return self.amplitude * np.sin(2 * np.pi * self.cycles * p + self.phase)
        return self.amplitude * np.sin(2 * np.pi * self.cycles * speed * t + self.phase)


@dataclass(frozen=True)
class MotionProgram:
    """A motion class: how an object moves and changes over an instance."""

    x_terms: tuple[Term, ...]
    y_terms: tuple[Term, ...]
    anchor: tuple[float, float]
    scale_kind: str            # none, grow, shrink, pulse
    scale_amount: float
    scale_cycles: float
    spin: float                # turns per second (0: none)
    blink_period: float        # seconds (0: never hidden)
    blink_duty: float

    @classmethod
    def draw(cls, seed: int) -> "MotionProgram":
        rng = _rng(seed, "motion-program")

        def terms():
            out = []
            for _ in range(int(rng.choice([1, 1, 2, 3]))):
                kind = str(rng.choice(["linear", "quadratic", "cycles", "hertz"]))
                amplitude = float(rng.choice([-1, 1]) * rng.uniform(0.1, 0.6 if kind in ("linear", "quadratic") else 0.3))
                cycles = (float(rng.choice([0.5, 1, 1.5, 2, 3])) if kind == "cycles"
                          else float(rng.uniform(0.3, 1.5)) if kind == "hertz" else 0.0)
                out.append(Term(kind, amplitude, cycles, float(rng.uniform(0, 2 * np.pi))))
            return tuple(out)

        moving = rng.random()
        x_terms = terms() if moving > 0.1 else ()
        y_terms = terms() if moving < 0.9 else ()
        scale_kind = str(rng.choice(["none", *SCALE_KINDS]))        # "none" twice as likely
        return cls(x_terms, y_terms, (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
                   scale_kind, float(rng.uniform(0.4, 1.0)), float(rng.choice([1, 2, 3])),
                   0.0 if rng.random() < 0.6 else float(rng.choice([-1, 1]) * rng.uniform(0.2, 1.0)),
                   float(rng.uniform(0.6, 2.0)) if rng.random() < 0.2 else 0.0, float(rng.uniform(0.4, 0.7)))

    def factors(self) -> tuple[int, int, int]:
        """How the object changes, as labels the encoder may learn to read (:data:`FACTOR_SIZES`):
        its size (0 none, 1 grow, 2 shrink, 3 pulse), whether it turns, whether it blinks."""
        return SCALE_KINDS.index(self.scale_kind), int(self.spin != 0), int(self.blink_period > 0)

    def pose(self, t: float, duration: float, anchor: tuple[float, float], speed: float) -> Pose:
        """Where and how the object is ``t`` seconds into an instance of ``duration`` seconds."""
        p = float(np.clip(t / max(duration, 1e-6), 0.0, 1.0))
        x = anchor[0] + sum(term.value(p, t, speed) for term in self.x_terms)
        y = anchor[1] + sum(term.value(p, t, speed) for term in self.y_terms)
        scale = 1.0
        if self.scale_kind == "grow":
            scale = 1.0 + self.scale_amount * (p - 0.4)
        elif self.scale_kind == "shrink":
            scale = 1.0 - self.scale_amount * (p - 0.6)
        elif self.scale_kind == "pulse":
            scale = 1.0 + 0.45 * self.scale_amount * np.sin(2 * np.pi * self.scale_cycles * p)
        visible = True
        if self.blink_period > 0:
            visible = (t * speed / self.blink_period) % 1.0 < self.blink_duty
        return Pose(float(np.clip(x, 0.05, 0.95)), float(np.clip(y, 0.05, 0.95)), float(max(scale, 0.3)),
                    float(2 * np.pi * self.spin * speed * t), bool(visible))


def render_instance(program: MotionProgram, seed: int, size: int = RENDER_SIZE,
                    rate: float = STEP_RATE) -> np.ndarray:
    """One instance of ``program`` (everything but the program drawn from ``seed``): uint8 small
    frames ``(L, 32, 32)``, one per step of ``1 / rate`` seconds."""
    rng = _rng(seed, "motion-instance")
    duration = float(rng.uniform(*DURATION_RANGE))
    look = Appearance.draw(rng)
    anchor = (float(np.clip(program.anchor[0] + rng.uniform(-0.12, 0.12), 0.2, 0.8)),
              float(np.clip(program.anchor[1] + rng.uniform(-0.12, 0.12), 0.2, 0.8)))
    speed = float(rng.uniform(0.8, 1.25))
    return render_clip(lambda t: program.pose(t, duration, anchor, speed), duration, look, rng, size, rate)


def render_clip(pose_at, duration: float, look: Appearance, rng: np.random.Generator, size: int = RENDER_SIZE,
                rate: float = STEP_RATE) -> np.ndarray:
    """An object of ``look`` posed by ``pose_at(t) -> Pose`` for ``duration`` seconds, in a scene
    drawn from ``rng``: uint8 small frames ``(L, 32, 32)``, one per step of ``1 / rate`` seconds."""
    offset = float(rng.uniform(0, 30))        # where in the scene's own time the instance plays
    scene = make_scene(int(rng.integers(1 << 31)), "motion-scene", size, size)
    frames = []
    for t in np.arange(0.0, duration, 1.0 / rate):
        frame = scene_frame(scene, offset + t, size, size)
        draw_object(frame, look, pose_at(float(t)))
        frame *= 1 + scene.flicker * np.sin(2 * np.pi * 0.37 * (offset + t))
        frame += rng.normal(0, scene.noise, frame.shape).astype(np.float32)
        frames.append((np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8))
    return small_frames(np.stack(frames))


def render_program(program_seed: int, instances: int) -> list[np.ndarray]:
    """``instances`` instances of the program drawn from ``program_seed``: small frames
    ``[instance] (L, 32, 32)`` (instance ``i`` from seed ``program_seed · 64 + i``)."""
    program = MotionProgram.draw(program_seed)
    return [render_instance(program, program_seed * 64 + i) for i in range(instances)]
