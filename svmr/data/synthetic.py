"""Procedural videos whose action classes are defined by motion, not by looks.

A class is a *trajectory* (how an object moves) combined with a *modulation* (how it changes
over time): 10 × 5 = 50 classes such as ``orbit_cw+spin`` or ``fall+blink``. Appearance —
shape, colour, texture, size — is drawn at random for every instance, independently of the
class, so only the dynamics tell classes apart. Every source video has a textured, panning
background, distractor objects drifting on their own paths, camera jitter, brightness flicker
and sensor noise; instances have random durations and speeds.

Source videos are described by annotations (:class:`~svmr.data.annotations.VideoAnnotation`)
plus a seed; :func:`render_frame` draws any source video at any time, so benchmark references
built by :func:`~svmr.data.benchmark.build_benchmark` (pieces of several sources) are rendered
piece by piece without ever rendering the sources themselves.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .annotations import Segment, VideoAnnotation

TRAJECTORIES = ("hold", "slide_right", "slide_left", "fall", "rise",
                "orbit_cw", "orbit_ccw", "hop", "zigzag", "shake")
MODULATIONS = ("steady", "grow", "shrink", "spin", "blink")
CLASS_NAMES = tuple(f"{t}+{m}" for t in TRAJECTORIES for m in MODULATIONS)
#: The dataset's class order (a fixed permutation, so that the last 10 % — the test classes —
#: mix trajectories and modulations that also occur, in other combinations, in training).
CLASS_ORDER = tuple(CLASS_NAMES[i] for i in np.random.default_rng(2024).permutation(len(CLASS_NAMES)))

SHAPES = ("disc", "square", "triangle", "ring", "star", "cross", "ellipse")
TEXTURES = ("solid", "stripes", "checker", "gradient")


def _rng(*keys) -> np.random.Generator:
    """Generator seeded from integers and strings (strings via CRC32, stable across runs)."""
    ints = [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(ints)


@dataclass(frozen=True)
class Appearance:
    shape: str
    color: tuple[float, float, float]
    color2: tuple[float, float, float]
    texture: str
    size: float          # radius as a fraction of the frame side
    x0: float            # anchor position (fraction of the frame)
    y0: float
    speed: float         # multiplies the rate of periodic motions

    @classmethod
    def draw(cls, rng: np.random.Generator, size_range=(0.09, 0.15)) -> "Appearance":
        color = _random_color(rng)
        return cls(shape=str(rng.choice(SHAPES)), color=color, color2=_random_color(rng),
                   texture=str(rng.choice(TEXTURES)), size=float(rng.uniform(*size_range)),
                   x0=float(rng.uniform(0.3, 0.7)), y0=float(rng.uniform(0.3, 0.7)),
                   speed=float(rng.uniform(0.7, 1.4)))


def _random_color(rng: np.random.Generator) -> tuple[float, float, float]:
    hue = rng.uniform(0, 1)
    rgb = np.clip(np.abs((hue * 6 + np.array([0, 4, 2])) % 6 - 3) - 1, 0, 1)  # saturated hue
    value, whiten = rng.uniform(0.55, 1.0), rng.uniform(0, 0.35)
    return tuple(float(c) for c in (rgb * (1 - whiten) + whiten) * value)


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    scale: float
    angle: float
    visible: bool


def _triangle_wave(x: float) -> float:
    return 4 * abs(x - np.floor(x + 0.5)) - 1


def class_pose(label: str, t: float, duration: float, look: Appearance) -> Pose:
    """Where and how an instance of class ``label`` is drawn ``t`` seconds into it.

    ``duration`` is the instance length; periodic motions run ``look.speed`` times faster or
    slower than nominal, so durations and speeds vary within a class.
    """
    trajectory, modulation = label.split("+")
    p = float(np.clip(t / max(duration, 1e-6), 0.0, 1.0))
    cycles = max(1.0, round(look.speed * duration / 3.0))
    x, y = look.x0, look.y0
    if trajectory == "slide_right":
        x = 0.15 + 0.7 * p
    elif trajectory == "slide_left":
        x = 0.85 - 0.7 * p
    elif trajectory == "fall":
        y = 0.12 + 0.76 * p * p
    elif trajectory == "rise":
        y = 0.88 - 0.76 * (1 - (1 - p) ** 2)
    elif trajectory in ("orbit_cw", "orbit_ccw"):
        theta = 2 * np.pi * cycles * p * (1 if trajectory == "orbit_cw" else -1)
        x, y = 0.5 + 0.27 * np.cos(theta), 0.5 + 0.27 * np.sin(theta)
    elif trajectory == "hop":
        y = 0.82 - 0.55 * abs(np.sin(np.pi * 2 * cycles * p))
        x = look.x0 + 0.1 * (p - 0.5)
    elif trajectory == "zigzag":
        x, y = 0.15 + 0.7 * p, 0.5 + 0.25 * _triangle_wave(cycles * p)
    elif trajectory == "shake":
        x = look.x0 + 0.12 * np.sin(2 * np.pi * 1.2 * look.speed * t)
    scale, angle, visible = 1.0, 0.0, True
    if modulation == "grow":
        scale = 0.5 + 1.1 * p
    elif modulation == "shrink":
        scale = 1.6 - 1.1 * p
    elif modulation == "spin":
        angle = 2 * np.pi * max(1.0, round(look.speed * duration / 2.0)) * p
    elif modulation == "blink":
        visible = (t * 0.9 * look.speed) % 1.0 < 0.55
    return Pose(float(x), float(y), float(scale), float(angle), bool(visible))


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    if shape == "disc":
        return r2 < 1
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) < 0.82
    if shape == "triangle":
        return (v < 0.7) & (np.abs(u) < 0.9 * (v + 1) / 1.7)
    if shape == "ring":
        return (r2 < 1) & (r2 > 0.3)
    if shape == "star":
        return np.sqrt(r2) < 0.55 + 0.4 * np.cos(5 * np.arctan2(v, u))
    if shape == "cross":
        return ((np.abs(u) < 0.3) & (np.abs(v) < 1)) | ((np.abs(v) < 0.3) & (np.abs(u) < 1))
    return (u * u + (v / 0.55) ** 2) < 1  # ellipse


def _texture_weight(texture: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """0..1 mix between the object's two colours."""
    if texture == "stripes":
        return (np.sin(7 * u) > 0).astype(np.float32)
    if texture == "checker":
        return ((np.floor(2.5 * u) + np.floor(2.5 * v)) % 2).astype(np.float32)
    if texture == "gradient":
        return np.clip((u + 1) / 2, 0, 1).astype(np.float32)
    return np.zeros_like(u, dtype=np.float32)


def draw_object(frame: np.ndarray, look: Appearance, pose: Pose) -> None:
    """Composite one object into ``frame`` (float32 ``(H, W, 3)`` in [0, 1]) in place."""
    if not pose.visible:
        return
    height, width = frame.shape[:2]
    side = min(height, width)
    radius = look.size * pose.scale * side
    cx, cy = pose.x * width, pose.y * height
    reach = radius * 1.45
    x0, x1 = int(max(0, np.floor(cx - reach))), int(min(width, np.ceil(cx + reach)))
    y0, y1 = int(max(0, np.floor(cy - reach))), int(min(height, np.ceil(cy + reach)))
    if x1 <= x0 or y1 <= y0 or radius < 0.5:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = (xs + 0.5 - cx) / radius, (ys + 0.5 - cy) / radius
    cos, sin = np.cos(pose.angle), np.sin(pose.angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    mask = _shape_mask(look.shape, u, v)
    mix = _texture_weight(look.texture, u, v)[..., None]
    colors = (1 - mix) * np.array(look.color, np.float32) + mix * np.array(look.color2, np.float32)
    patch = frame[y0:y1, x0:x1]
    patch[mask] = colors[mask]


@dataclass(frozen=True)
class Scene:
    """Everything about a source video that is not its action instances."""

    texture: np.ndarray                 # float32 (2H, 2W, 3) background larger than the frame
    pan: tuple[float, float, float, float]  # x/y amplitude (px) and periods (s) of the panning
    jitter: float                       # camera shake amplitude (px)
    jitter_phase: tuple[float, float]
    flicker: float                      # brightness flicker amplitude
    noise: float                        # sensor noise std
    distractors: tuple[tuple[Appearance, tuple[float, float, float, float]], ...]


def make_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colourful texture of gratings and blobs, float32 ``(2H, 2W, 3)``."""
    h, w = 2 * height, 2 * width
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.array(_random_color(rng), np.float32) * rng.uniform(0.35, 0.7)
    image = np.broadcast_to(base, (h, w, 3)).copy()
    for _ in range(int(rng.integers(2, 5))):  # oriented gratings
        angle, freq = rng.uniform(0, np.pi), rng.uniform(0.02, 0.15)
        wave = np.sin((np.cos(angle) * xs + np.sin(angle) * ys) * freq + rng.uniform(0, 6.3))
        image += 0.12 * wave[..., None] * (np.array(_random_color(rng), np.float32) - 0.5)
    for _ in range(int(rng.integers(4, 10))):  # soft blobs
        cx, cy, s = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(6, 30)
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * s * s))
        image += 0.35 * blob[..., None] * (np.array(_random_color(rng), np.float32) - image.mean((0, 1)))
    return np.clip(image, 0, 1).astype(np.float32)


def make_scene(seed: int, video_id: str, height: int, width: int) -> Scene:
    rng = _rng(seed, "scene", video_id)
    distractors = []
    for _ in range(int(rng.integers(1, 4))):
        look = Appearance.draw(rng, size_range=(0.04, 0.07))
        path = (float(rng.uniform(0.1, 0.4)), float(rng.uniform(0.1, 0.4)),  # amplitudes
                float(rng.uniform(8, 25)), float(rng.uniform(8, 25)))        # periods (s)
        distractors.append((look, path))
    return Scene(texture=make_background(rng, height, width),
                 pan=(float(rng.uniform(0, width / 2 - 4)), float(rng.uniform(0, height / 2 - 4)),
                      float(rng.uniform(15, 60)), float(rng.uniform(15, 60))),
                 jitter=float(rng.uniform(0, 2.5)), jitter_phase=(float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3))),
                 flicker=float(rng.uniform(0, 0.06)), noise=float(rng.uniform(0.01, 0.04)),
                 distractors=tuple(distractors))


def scene_frame(scene: Scene, t: float, width: int, height: int) -> np.ndarray:
    """The scene at ``t`` seconds without its action instances: the panning, jittering background
    and the drifting distractors, float32 ``(height, width, 3)`` in [0, 1]."""
    ax, ay, px, py = scene.pan
    jx = scene.jitter * np.sin(2 * np.pi * 1.7 * t + scene.jitter_phase[0])
    jy = scene.jitter * np.sin(2 * np.pi * 2.3 * t + scene.jitter_phase[1])
    ox = int(round(width / 2 + ax * np.sin(2 * np.pi * t / px) + jx))
    oy = int(round(height / 2 + ay * np.sin(2 * np.pi * t / py) + jy))
    ox, oy = int(np.clip(ox, 0, width)), int(np.clip(oy, 0, height))
    frame = scene.texture[oy:oy + height, ox:ox + width].copy()
    for look, (amp_x, amp_y, per_x, per_y) in scene.distractors:
        pose = Pose(look.x0 + amp_x * np.sin(2 * np.pi * t / per_x), look.y0 + amp_y * np.cos(2 * np.pi * t / per_y),
                    1.0, 0.3 * t, True)
        draw_object(frame, look, pose)
    return frame


class SourceRenderer:
    """Draws source videos (given by their annotations) at any time.

    Args:
        sources: ``{video_id: VideoAnnotation}`` of procedural source videos.
        seed: the benchmark seed (scenes and appearances derive from it and the ids).
        size: ``(width, height)`` of rendered frames.
    """

    def __init__(self, sources: dict[str, VideoAnnotation], seed: int, size: tuple[int, int] = (128, 128)):
        self.sources = sources
        self.seed = seed
        self.width, self.height = size
        self._scenes: dict[str, Scene] = {}

    def scene(self, video_id: str) -> Scene:
        if video_id not in self._scenes:
            if len(self._scenes) > 64:
                self._scenes.clear()
            self._scenes[video_id] = make_scene(self.seed, video_id, self.height, self.width)
        return self._scenes[video_id]

    def appearance(self, video_id: str, index: int) -> Appearance:
        return Appearance.draw(_rng(self.seed, "instance", video_id, index))

    def render(self, video_id: str, t: float, noise_key: int = 0) -> np.ndarray:
        """Frame of source ``video_id`` at ``t`` seconds: uint8 ``(H, W, 3)`` RGB."""
        scene = self.scene(video_id)
        frame = scene_frame(scene, t, self.width, self.height)
        for index, seg in enumerate(self.sources[video_id].segments):
            if seg.start <= t < seg.end:
                look = self.appearance(video_id, index)
                draw_object(frame, look, class_pose(seg.label, t - seg.start, seg.duration, look))
        frame *= 1 + scene.flicker * np.sin(2 * np.pi * 0.37 * t)
        noise_rng = _rng(self.seed, "noise", video_id, int(round(t * 1000)), noise_key)
        frame += noise_rng.normal(0, scene.noise, frame.shape).astype(np.float32)
        return (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)


def generate_sources(num_videos: int, seed: int, classes=CLASS_ORDER,
                     duration_range=(20.0, 45.0), instance_range=(2.5, 8.0)) -> dict[str, VideoAnnotation]:
    """Annotations of ``num_videos`` procedural source videos, ActivityNet-like: almost all
    show one class (1 to 4 instances, separated by background), a few show two."""
    rng = _rng(seed, "sources")
    videos = {}
    for i in range(num_videos):
        video_id = f"s{i:05d}"
        duration = float(rng.uniform(*duration_range))
        labels = list(rng.choice(classes, size=2 if rng.random() < 0.05 else 1, replace=False))
        count = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.3, 0.25, 0.15]))
        lengths = rng.uniform(*instance_range, size=count)
        free = duration - lengths.sum()
        while free < 2.0 and count > 1:  # too many instances for this video: drop one
            count, lengths = count - 1, lengths[:-1]
            free = duration - lengths.sum()
        gaps = rng.dirichlet(np.ones(count + 1)) * free
        segments, t = [], 0.0
        for k in range(count):
            t += gaps[k]
            label = str(labels[k % len(labels)])
            segments.append(Segment(round(t, 3), round(t + lengths[k], 3), label))
            t += lengths[k]
        videos[video_id] = VideoAnnotation(video_id, round(duration, 3), segments)
    return videos
