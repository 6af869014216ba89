"""Pictures inside a picture: where a re-shared clip sits in its query's frame.

Re-shares put a clip inside another frame: picture-in-picture over another video, one half of a
split screen, above or below a caption bar, inside a blurred fill of itself. A global descriptor of
the whole frame then describes the host as much as the clip. What gives the clip's place away is
its outline: a straight, axis-aligned edge that stays at the same place in every frame while the
pictures on both sides change. :func:`picture_regions` finds rectangles whose every side not on
the frame's border is such an edge, over a few frames; a split screen's other half comes with the
half that is outlined.

* In the gallery, a :class:`RegionTracker` is fed the frames the extractor decodes and joins its
  looks into tracks; each track is described apart
  (:meth:`~svmr.features.FeatureExtractor.extract_region`, :meth:`~svmr.gallery.Gallery.add`).
* For a query, the search looks at a few frames spread over the clip and, when the whole clip finds
  no copy, searches each rectangle as a query of its own (:class:`~svmr.search.Searcher`).

A region is ``(top, bottom, left, right)`` as fractions of the frame's height and width.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..models.motion import small_frames
from .borders import DARKEST_BAR, TOLERANCE

#: grey levels: the smallest step across an outline, in a frame
EDGE_STEP = 14.0
#: share of the sampled frames in which a pixel must be on an edge for the edge to be persistent
PERSISTENT = 0.6
#: share of a side's length that must be persistent edge for the side to count as an outline
SIDE_COVER = 0.75
#: a region's smallest side as a share of the frame's (a smaller picture carries too little)
SMALLEST = 0.25
#: a region's largest area as a share of the frame's (a larger one is a border, which the bar cut handles)
LARGEST = 0.85
#: the most regions returned, best outlined first
MOST = 2
#: grey levels: the least mean change between consecutive frames inside a region (a still
#: picture, such as a game's side panel or a static camera's wall, is no clip of a video)
MOVING = 2.0
#: the frames' side when their change is measured (pixels)
CHANGE_SIDE = 64


def edge_counts(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB ``(n, H, W, 3)`` → int ``(H, W)`` counts of the frames in which a pixel lies on a
    vertical (first) or horizontal (second) step of at least :data:`EDGE_STEP` grey levels (a step
    between pixels ``k − 1`` and ``k + 1``, put at ``k``)."""
    grey = frames.astype(np.int16).sum(axis=3, dtype=np.int16)      # 3 × the grey level
    step = int(3 * EDGE_STEP)
    vertical = np.zeros(grey.shape[1:], np.int32)
    horizontal = np.zeros(grey.shape[1:], np.int32)
    vertical[:, 1:-1] = (np.abs(grey[:, :, 2:] - grey[:, :, :-2]) >= step).sum(axis=0)
    horizontal[1:-1, :] = (np.abs(grey[:, 2:, :] - grey[:, :-2, :]) >= step).sum(axis=0)
    return vertical, horizontal


def small_grey(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(n, H, W, 3)`` → float32 ``(n, CHANGE_SIDE, CHANGE_SIDE)`` grey pictures (the
    motion check's small frames, at this side)."""
    return small_frames(frames, CHANGE_SIDE).astype(np.float32)


def change_map(grey: np.ndarray) -> np.ndarray:
    """``(n, S, S)`` grey pictures → ``(S, S)`` mean absolute change between consecutive ones."""
    return np.abs(np.diff(grey, axis=0)).mean(axis=0) if len(grey) > 1 else np.zeros(grey.shape[1:], np.float32)


def persistent_edges(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB ``(n, H, W, 3)`` → float ``(H, W)`` maps of the share of frames in which a pixel
    lies on a vertical (first) or horizontal (second) step (:func:`edge_counts`)."""
    vertical, horizontal = edge_counts(frames)
    return vertical / max(1, len(frames)), horizontal / max(1, len(frames))


def _line_candidates(persistence: np.ndarray, shortest: int, keep: int = 10) -> list[int]:
    """Columns of ``persistence`` ``(H, W)`` (pass the transpose for rows) holding a run of at least
    ``shortest`` persistent pixels (gaps of 2 closed), strongest ``keep`` after 3-pixel suppression."""
    on = (persistence >= PERSISTENT).astype(np.uint8)
    on = cv2.morphologyEx(on, cv2.MORPH_CLOSE, np.ones((5, 1), np.uint8))
    longest = np.zeros(on.shape[1], np.int32)
    run = np.zeros(on.shape[1], np.int32)
    for row in on:
        run = (run + 1) * row
        np.maximum(longest, run, out=longest)
    order = [int(k) for k in np.argsort(-longest, kind="stable") if longest[k] >= shortest]
    chosen: list[int] = []
    for k in order:
        if 1 < k < on.shape[1] - 2 and all(abs(k - c) > 3 for c in chosen):
            chosen.append(k)
        if len(chosen) == keep:
            break
    return chosen


def _edge_sums(persistence: np.ndarray) -> np.ndarray:
    """Running sums down each column (pass transposes for rows) of the pixels on a persistent edge,
    with a pixel of slack either side: ``(H + 1, W)``, so a vertical side's covered length is a
    difference of two rows."""
    on = persistence >= PERSISTENT
    near = on | np.roll(on, 1, axis=1) | np.roll(on, -1, axis=1)
    return np.vstack([np.zeros((1, on.shape[1]), np.float32), np.cumsum(near, axis=0, dtype=np.float32)])


def picture_regions(frames: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The rectangles of ``frames`` ``(n, H, W, 3)`` outlined by persistent straight edges: each
    side either on the frame's border or an outline (persistent edge along :data:`SIDE_COVER` of its
    length); not the whole frame, sides at least
    :data:`SMALLEST` of the frame's, area at most :data:`LARGEST`. Returns up to :data:`MOST`
    regions ``(top, bottom, left, right)`` in fractions, best outlined first, each changing by
    :data:`MOVING` at least; none for fewer than 4 frames (a still outline cannot be told from the
    picture's own)."""
    if len(frames) < 4:
        return []
    grey = small_grey(frames)
    return [region for region, change in regions_of(*persistent_edges(frames), change_map(grey), grey.mean(axis=0))
            if change >= MOVING]


def regions_of(vertical: np.ndarray, horizontal: np.ndarray, change: np.ndarray, grey: np.ndarray
               ) -> list[tuple[tuple[float, float, float, float], float]]:
    """The rectangles outlined in the persistence maps ``(H, W)`` of :func:`persistent_edges`
    (see :func:`picture_regions`), with the mean of ``change`` ``(S, S)`` (:func:`change_map`) inside
    each: up to :data:`MOST` ``(region, change)``, best outlined first, still ones included. A
    rectangle with only dark uniform bars around it (in ``grey`` ``(S, S)``, the pictures' mean) is
    no picture inside a picture: the bar cut already describes it alone
    (:mod:`svmr.features.borders`)."""
    height, width = vertical.shape
    columns = _line_candidates(vertical, int(SMALLEST * height))
    rows = _line_candidates(horizontal.T, int(SMALLEST * width))
    if not columns and not rows:
        return []
    down, across = _edge_sums(vertical), _edge_sums(horizontal.T)   # across: running sums along each row
    xs, ys = sorted([0, *columns, width]), sorted([0, *rows, height])

    found = []
    for i, left in enumerate(xs):
        for right in xs[i + 1:]:
            if right - left < SMALLEST * width:
                continue
            for j, top in enumerate(ys):
                for bottom in ys[j + 1:]:
                    if bottom - top < SMALLEST * height or (right - left) * (bottom - top) > LARGEST * width * height:
                        continue
                    sides = [(down[bottom, x] - down[top, x]) / (bottom - top) for x in (left, right) if 0 < x < width]
                    sides += [(across[right, y] - across[left, y]) / (right - left) for y in (top, bottom) if 0 < y < height]
                    if sides and min(sides) >= SIDE_COVER:
                        found.append((len(sides), min(sides), (right - left) * (bottom - top), (top, bottom, left, right)))
    # the most sides outlined first (a rectangle outlined all round is the likeliest picture), then
    # the best outlined, then the largest
    found.sort(key=lambda item: (-item[0], -round(item[1], 2), -item[2]))
    regions: list[tuple[int, int, int, int]] = []
    for *_, box in found:
        if _bars_around(grey, box, height, width):
            continue
        if all(_overlap(box, kept) < 0.5 for kept in regions):
            regions.append(box)
        if len(regions) == MOST:
            break
    for other in [_other_half(box, height, width) for box in regions]:
        if other and all(_overlap(other, kept) < 0.5 for kept in regions):
            regions.append(other)
    return [((top / height, bottom / height, left / width, right / width), _mean_inside(change, (top, bottom, left, right), height, width))
            for top, bottom, left, right in regions]


def _other_half(box: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int] | None:
    """A split screen's other picture: when ``box`` lies in one half of the frame, reaching its
    outer edge and the middle (within 2 % of the frame), the other half whole (its own outline may
    be missing: a dark picture letterboxed inside its half has no edge against the bars); else None."""
    top, bottom, left, right = box
    near = lambda a, b, size: abs(a - b) <= 0.02 * size       # noqa: E731
    if near(left, 0, width) and near(right, width / 2, width):
        return 0, height, right, width
    if near(left, width / 2, width) and near(right, width, width):
        return 0, height, 0, left
    if near(top, 0, height) and near(bottom, height / 2, height):
        return bottom, height, 0, width
    if near(top, height / 2, height) and near(bottom, height, height):
        return 0, top, 0, width
    return None


def _bars_around(grey: np.ndarray, box: tuple[int, int, int, int], height: int, width: int) -> bool:
    """Whether the pictures' mean ``grey`` ``(S, S)`` is dark and uniform all around ``box``
    (pixels of a ``height × width`` frame), as letterbox or pillarbox bars are."""
    side_y, side_x = grey.shape
    inside = np.zeros(grey.shape, bool)
    y0, y1 = int(np.ceil(box[0] * side_y / height)), int(box[1] * side_y / height)
    x0, x1 = int(np.ceil(box[2] * side_x / width)), int(box[3] * side_x / width)
    inside[max(0, y0 - 1):y1 + 1, max(0, x0 - 1):x1 + 1] = True       # a pixel of slack at the outline
    outside = grey[~inside]
    return bool(len(outside)) and outside.mean() <= DARKEST_BAR and outside.std() <= TOLERANCE


def _mean_inside(values: np.ndarray, box: tuple[int, int, int, int], height: int, width: int) -> float:
    """Mean of ``values`` ``(S, S)`` inside ``box`` ``(top, bottom, left, right)`` given in pixels of
    a ``height × width`` frame."""
    side_y, side_x = values.shape
    y0, y1 = int(box[0] * side_y / height), max(int(box[0] * side_y / height) + 1, int(np.ceil(box[1] * side_y / height)))
    x0, x1 = int(box[2] * side_x / width), max(int(box[2] * side_x / width) + 1, int(np.ceil(box[3] * side_x / width)))
    return float(values[y0:y1, x0:x1].mean())


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two ``(top, bottom, left, right)`` boxes."""
    h = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    w = max(0, min(a[3], b[3]) - max(a[2], b[2]))
    inter = h * w
    union = (a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter
    return inter / union if union else 0.0


def crop_region(frames: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    """uint8 ``(n, H, W, 3)`` → the frames inside ``region`` (fractions), at least 2 pixels a side."""
    height, width = frames.shape[1:3]
    top, bottom, left, right = region
    y0, x0 = int(round(top * height)), int(round(left * width))
    y1, x1 = max(y0 + 2, int(round(bottom * height))), max(x0 + 2, int(round(right * width)))
    return frames[:, y0:y1, x0:x1]


#: seconds of frames one look at a video covers, and seconds between two looks
LOOK_S, HOP_S = 2.0, 1.0
#: two looks' rectangles this alike (intersection over union) continue one track
SAME_PLACE = 0.7
#: the fewest looks that must find a track (a rectangle seen by one look only, for 2 s, is more
#: often a still scene's own lines than a clip: on the sample footage such tracks were 7–23 % of
#: the duration; every re-shared copy of the re-share set was seen by 3 looks or more)
FEWEST_LOOKS = 2


@dataclass
class RegionTrack:
    """A picture found inside a video's pictures: ``box`` ``(top, bottom, left, right)`` in fractions,
    from ``start`` to ``end`` seconds."""

    start: float
    end: float
    box: tuple[float, float, float, float]


class RegionTracker:
    """Finds the pictures inside a video's pictures while the video is decoded: :meth:`feed` takes
    its sampled frames in order (chunks of any size) at ``rate`` per second, from ``start`` seconds;
    every :data:`HOP_S` it looks at the last :data:`LOOK_S` of frames (:func:`regions_of`), and
    :meth:`tracks` joins consecutive looks that found the same rectangle. Holds one look's edges."""

    def __init__(self, rate: float, start: float = 0.0):
        self.rate, self.start = rate, start
        self.look, self.hop = max(4, round(LOOK_S * rate)), max(1, round(HOP_S * rate))
        self._edges: list[tuple[np.ndarray, np.ndarray]] = []   # the last ``look`` frames' edge maps
        self._grey: list[np.ndarray] = []                        # and their small grey pictures
        self._fed = 0
        self._found: list[tuple[int, list]] = []     # (first frame of a look, its [(rectangle, change)])

    def feed(self, frames: np.ndarray) -> None:
        """Take the next uint8 RGB frames ``(n, H, W, 3)``."""
        if not len(frames):
            return
        for frame, grey in zip(frames, small_grey(frames)):
            self._edges.append(edge_counts(frame[None]))
            self._grey.append(grey)
            self._edges, self._grey = self._edges[-self.look:], self._grey[-self.look:]
            self._fed += 1
            first = self._fed - self.look
            if first >= 0 and first % self.hop == 0:
                vertical = sum(v for v, _ in self._edges) / self.look
                horizontal = sum(h for _, h in self._edges) / self.look
                grey = np.stack(self._grey)
                self._found.append((first, regions_of(vertical, horizontal, change_map(grey), grey.mean(axis=0))))

    def tracks(self) -> list[RegionTrack]:
        """The rectangles found, each joined over the looks that found it again (one look may miss
        it between two that found it); those found by fewer than :data:`FEWEST_LOOKS` looks or
        changing on average by less than :data:`MOVING` are left out."""
        open_tracks: list[list] = []      # [first frame, last look's first frame, box, changes]
        done: list[list] = []
        for first, found in self._found:
            still = []
            for track in open_tracks:
                match = next((k for k, (box, _) in enumerate(found) if _overlap(box, track[2]) >= SAME_PLACE), None)
                if match is not None and first - track[1] <= 2 * self.hop:
                    track[1] = first
                    track[3].append(found.pop(match)[1])
                    still.append(track)
                elif first - track[1] <= 2 * self.hop:
                    still.append(track)           # missed by this look: may be found by the next
                else:
                    done.append(track)
            open_tracks = still + [[first, first, box, [change]] for box, change in found]
        done += open_tracks
        return sorted((RegionTrack(self.start + begin / self.rate, self.start + (last + self.look) / self.rate, box)
                       for begin, last, box, changes in done
                       if len(changes) >= FEWEST_LOOKS and np.mean(changes) >= MOVING),
                      key=lambda t: (t.start, t.box))
