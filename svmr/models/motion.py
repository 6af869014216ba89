"""Motion check: does a found moment replay the query's own motion?

Frame descriptors from an ImageNet network describe what a picture shows; a fixed camera shows
the same street at every hour, so a cropped, brightened, blurred copy of a street clip matches
the query less well than the same street ten seconds later (mean centred cosine 0.51 against
0.70 on the demo's ``vtest_a``). What tells the copy apart is *where things move*: the people
of the query walk the same paths in the copy and nowhere else.

Each indexed step keeps a small grayscale frame of its picture (bars cut,
:data:`SMALL_FRAME_SIZE` pixels square, 1 KiB; ``FeatureSequence.small_frames``). A clip's
**motion maps** are its small frames' absolute differences from their per-pixel median over the
clip: brightness and contrast changes shift or scale them, blur and recompression barely reach a
32-pixel map, and a still background cancels. A moment is checked by the Pearson correlation of the query's motion maps
with the moment's, over the query's steps mapped onto the moment's, maximized over

* crop boxes of either clip (scales 1, 0.9, 0.8 of each side at three positions: a copy cut
  from the query, or a query cut from a wider video), each resized to :data:`COMPARE_SIZE`;
* shifts of the moment by up to :data:`MAX_SHIFT` steps (the alignment's start can be a step off);
* the query as it is and mirrored left to right (a re-share flips the picture; frame features
  barely tell a flipped picture from the original, so only this check would see the difference).

Measured on the demo's ``vtest_a`` (6 s): the copy 0.88, the best moments of the same street at
other times 0.12–0.36.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

SMALL_FRAME_SIZE = 32    # pixels, square, grayscale
COMPARE_SIZE = 16        # each crop of a motion map is resized to this square before correlating
CROP_SCALES = (1.0, 0.9, 0.8)
CROP_POSITIONS = 3       # positions of a smaller side: flush left/top, centred, flush right/bottom
MAX_SHIFT = 2            # steps the moment may be moved either way
MIN_STEPS = 4            # a clip shorter than this is not checked


def small_frames(frames: np.ndarray, size: int = SMALL_FRAME_SIZE) -> np.ndarray:
    """uint8 RGB frames ``(n, H, W, 3)`` (bars already cut) → uint8 grayscale ``(n, size, size)``."""
    out = np.empty((len(frames), size, size), np.uint8)
    for k, frame in enumerate(frames):
        out[k] = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA)
    return out


def motion_maps(frames: np.ndarray) -> np.ndarray:
    """``(n, S, S)`` small frames → float32 ``(n, S, S)``: each one's absolute difference from the
    per-pixel median over the ``n`` steps."""
    stack = frames.astype(np.float32)
    return np.abs(stack - np.median(stack, axis=0, keepdims=True))


@functools.lru_cache(maxsize=None)
def crop_boxes(scales: tuple[float, ...] = CROP_SCALES, positions: int = CROP_POSITIONS) -> np.ndarray:
    """``(B, 4)`` boxes ``(x0, y0, x1, y1)`` as fractions of the picture: every pair of side
    scales, a smaller side at ``positions`` evenly spaced offsets; the whole picture first."""
    def spans(scale):
        if scale >= 1:
            return [(0.0, 1.0)]
        return [(offset, offset + scale) for offset in np.linspace(0, 1 - scale, positions)]

    boxes = np.array([(x0, y0, x1, y1) for sx in scales for sy in scales
                      for x0, x1 in spans(sx) for y0, y1 in spans(sy)], np.float64)
    boxes.flags.writeable = False          # shared by every caller (cached)
    return boxes


@functools.lru_cache(maxsize=256)
def _area_matrix(size: int, lo: float, hi: float, out: int) -> np.ndarray:
    """``(out, size)`` weights that average pixels ``[lo, hi)`` (in pixels) into ``out`` bins."""
    edges = np.linspace(lo, hi, out + 1)
    pixel = np.arange(size)
    overlap = np.clip(np.minimum(edges[1:, None], pixel + 1) - np.maximum(edges[:-1, None], pixel), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def crop_resize(maps: np.ndarray, boxes: np.ndarray, out: int = COMPARE_SIZE) -> np.ndarray:
    """``(n, S, S)`` maps → ``(B, n, out, out)``: each of the ``(B, 4)`` boxes (fractions) of every
    map, area-resized. Separable: every distinct vertical span, then every distinct horizontal
    span, each one matrix product over all maps."""
    rows, y_index, cols, x_index = _crop_plan(boxes.tobytes(), maps.shape[-1], out)
    down = np.tensordot(rows, maps, axes=([2], [1]))                              # (Y, out, n, S)
    both = np.tensordot(down, cols, axes=([3], [2]))                              # (Y, out, n, X, out)
    return both[y_index, :, :, x_index, :].transpose(0, 2, 1, 3)                  # (B, n, out, out)


@functools.lru_cache(maxsize=16)
def _crop_plan(boxes: bytes, size: int, out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The area matrices of the distinct vertical and horizontal spans of ``boxes`` (the bytes of a
    float64 ``(B, 4)`` array) and each box's span indices: ``(rows (Y, out, S), y_index (B,),
    cols (X, out, S), x_index (B,))``, computed once per box set."""
    boxes = np.frombuffer(boxes, np.float64).reshape(-1, 4)
    plan = []
    for columns in ([1, 3], [0, 2]):
        spans, index = np.unique(boxes[:, columns], axis=0, return_inverse=True)
        plan += [np.stack([_area_matrix(size, lo * size, hi * size, out) for lo, hi in spans]), index.ravel()]
    return tuple(plan)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (their dot products are Pearson correlations)."""
    centred = vectors - vectors.mean(axis=-1, keepdims=True)
    return centred / (np.linalg.norm(centred, axis=-1, keepdims=True) + 1e-6)


class MotionCheck:
    """The query side of the check, prepared once per search.

    Args:
        query_frames: uint8 ``(Lq, S, S)``.
    """

    def __init__(self, query_frames: np.ndarray, boxes: np.ndarray | None = None, shift: int = MAX_SHIFT,
                 mirrored: bool = True):
        self.steps = len(query_frames)
        self.boxes = crop_boxes() if boxes is None else boxes
        self.shift = shift
        maps = motion_maps(query_frames)
        # per view of the query (as it is, then mirrored): (B, Lq·c·c) every crop, the whole picture first
        views = (maps, maps[:, :, ::-1]) if mirrored else (maps,)
        self.query_views = [_unit(crop_resize(np.ascontiguousarray(view), self.boxes).reshape(len(self.boxes), -1))
                            for view in views]
        self.usable = self.steps >= MIN_STEPS and bool(maps.max() > 0)

    def score(self, reference_frames: np.ndarray, start: float, end: float) -> float:
        """Best correlation in ``[-1, 1]`` of the query's motion with the reference's over the moment
        ``[start, end)`` in reference steps (fractional), over crops of either side and shifts of
        the moment; 0 when the query is too short or still. The reference's motion maps are taken
        once over the moment and its shifts (one median)."""
        if not self.usable:
            return 0.0
        length = len(reference_frames)
        step = max(end - start, 1.0) / self.steps
        base = np.round(start + step * np.arange(self.steps)).astype(int)
        rows = np.clip(base[None] + np.arange(-self.shift, self.shift + 1)[:, None], 0, length - 1)  # (H, Lq)
        first, last = int(rows.min()), int(rows.max()) + 1
        maps = motion_maps(reference_frames[first:last])
        if not maps.max() > 0:
            return 0.0
        crops = crop_resize(maps, self.boxes)
        frames = crops.reshape(len(self.boxes), len(maps), -1)                   # (B, R, c·c)
        size = frames.shape[-1] * self.steps
        index, steps = rows - first, np.arange(self.steps)
        # Pearson correlation with a centred unit query vector q: (x · q) / |x − mean(x)|; the
        # dot products are taken per frame and query step, then summed along each shifted path
        total = frames.sum(-1)[:, index].sum(-1)                                 # (B, H)
        squares = (frames ** 2).sum(-1)[:, index].sum(-1)
        spread = np.sqrt(np.maximum(squares - total ** 2 / size, 0)) + 1e-6
        best = -1.0
        for view in self.query_views:
            query = view.reshape(len(self.boxes), self.steps, -1)                # (B, Lq, c·c)
            # the whole reference against every crop of the query: (R, B, Lq) → (H, B)
            per_frame = (frames[0] @ query.reshape(-1, query.shape[-1]).T).reshape(len(frames[0]), *query.shape[:2])
            query_cropped = per_frame[index, :, steps].sum(1) / spread[0][:, None]
            # every crop of the reference against the whole query: (B, R, Lq) → (B, H)
            per_frame = frames @ query[0].T
            reference_cropped = per_frame[:, index, steps].sum(-1) / spread
            best = max(best, float(query_cropped.max()), float(reference_cropped[1:].max()))
        return best
