"""Copies re-shared the way social video re-shares them: one real clip per copy, transformed by
one family of the Video Similarity Challenge's (VSC 2022) transforms, spliced into real hosts.

Each query is a clip of 4 s cut from real footage (the street camera, Megamind, the bikes, Big
Buck Bunny, faces talking to a camera, the Blupi films); no two queries share source frames. Each
reference joins stretches of *other* real files (the tree, the car phone, the webcam, Blupi films
no query comes from) and holds two inserted copies, each transformed by one **family**:

* ``mirror`` — flipped left to right;
* ``speed`` — played at 0.5–0.67× or 1.5–2× (one of each);
* ``pip`` — picture-in-picture: the clip at a third or at half the frame over the host, which
  plays on behind it;
* ``split`` — split screen: the clip in one half, the host in the other;
* ``caption`` — a coloured caption bar with text above or below the clip, which shrinks to fit;
* ``subtitles`` — changing lines of text over the lower part of the clip;
* ``overlay`` — stickers (filled discs) and a logo text over the clip, still;
* ``border`` — the clip at 60–75 % over a blurred, enlarged copy of itself;
* ``rotation`` — turned by 90° (and pillarboxed) or by 6–12° (and zoomed to hide the corners);
* ``crop`` — 45–60 % of each side kept;
* ``color`` — grayscale with strong contrast, or hue turned and saturation raised;
* ``noise`` — Gaussian noise and JPEG blocks (quality 12–20) on every frame;
* ``frame_drop`` — 40–60 % of frames dropped (the one before shows again);
* ``combination`` — two of mirror, pip, caption, speed, crop, color at once.

Two queries per family. References are written at :data:`OUT_SIZE`, :data:`OUT_FPS` frames per
second, H.264 at crf 23–30. Ground truth: where each copy sits (its label is its query's id);
``meta["families"]`` names each query's family and ``meta["transforms"]`` its drawn parameters.
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np

from .. import video as V
from ..clips import ClipWriter, write_clip
from .annotations import Segment
from .benchmark import Benchmark, Piece, Query, Reference
from .footage import footage_path
from .footage_set import letterbox

FAMILIES = ("mirror", "speed", "pip", "split", "caption", "subtitles", "overlay", "border", "rotation", "crop",
            "color", "noise", "frame_drop", "combination")
#: the families a combination draws two of
COMBINABLE = ("mirror", "pip", "caption", "speed", "crop", "color")
#: (source file, start, end) of every query clip: two per family, in :data:`FAMILIES` order
QUERY_CLIPS = (
    ("vtest.avi", 0.5, 4.5), ("Megamind.avi", 0.5, 4.5),
    ("vtest.avi", 6.0, 10.0), ("bikes.mp4", 0.5, 4.5),
    ("vtest.avi", 12.0, 16.0), ("fer_woman2.mp4", 1.0, 5.0),
    ("vtest.avi", 18.0, 22.0), ("feat_wolfgang.mp4", 1.0, 5.0),
    ("vtest.avi", 24.0, 28.0), ("blupi_win005.mkv", 1.0, 5.0),
    ("vtest.avi", 30.0, 34.0), ("bigbuckbunny.mp4", 0.4, 4.4),
    ("vtest.avi", 36.0, 40.0), ("fer_woman2.mp4", 7.0, 11.0),
    ("vtest.avi", 42.0, 46.0), ("blupi_history2.mkv", 2.0, 6.0),
    ("vtest.avi", 48.0, 52.0), ("feat_wolfgang.mp4", 8.0, 12.0),
    ("vtest.avi", 54.0, 58.0), ("Megamind.avi", 6.0, 10.0),
    ("vtest.avi", 60.0, 64.0), ("blupi_play103.mkv", 2.0, 6.0),
    ("vtest.avi", 66.0, 70.0), ("bikes.mp4", 5.5, 9.5),
    ("vtest.avi", 72.0, 76.0), ("feat_wolfgang.mp4", 14.0, 18.0),
    ("blupi_win005.mkv", 8.0, 12.0), ("blupi_win129.mkv", 3.0, 7.0),
)
#: the files hosts are cut from (none is a query's source), played in turn
HOST_FILES = ("tree.avi", "blupi_play101.mkv", "carphone_pristine.mp4", "blupi_play105.mkv", "kphotoalbum_movie.avi",
              "blupi_play107.mkv", "feat_single_face.mp4", "blupi_play108.mkv", "blupi_play110.mkv",
              "blupi_play113.mkv", "blupi_play116.mkv", "blupi_play118.mkv", "blupi_play119.mkv", "blupi_play124.mkv")
OUT_SIZE = (480, 360)       # (width, height) of every reference
OUT_FPS = 15.0
CAPTIONS = ("wait for it...", "best moment ever", "this is why we can't have nice things", "POV: monday morning",
            "no way!!", "watch till the end", "caught on camera", "I can't stop watching")


def missing_footage() -> list[str]:
    """The real files the set is cut from that are not on this machine (none: it can be built)."""
    names = {name for name, _, _ in QUERY_CLIPS} | set(HOST_FILES)
    return sorted(name for name in names if footage_path(name) is None)


def _require(name: str) -> str:
    path = footage_path(name)
    if path is None:
        raise FileNotFoundError(f"sample video {name} not found: run scripts/fetch_footage.sh and "
                                "scripts/fetch_semantic_footage.sh")
    return path


def draw_params(family: str, index: int, rng: np.random.Generator) -> dict:
    """One copy's transform: ``{family: parameters}`` (a combination: two entries). ``index``
    (0 or 1) picks the side of two-sided families (slow or fast, a third or half, 90° or a tilt)."""
    if family == "combination":
        first, second = rng.choice(COMBINABLE, size=2, replace=False)
        return {**draw_params(str(first), index, rng), **draw_params(str(second), 1 - index, rng)}
    if family == "mirror":
        return {"mirror": True}
    if family == "speed":
        return {"speed": round(float(rng.uniform(0.5, 0.67) if index == 0 else rng.uniform(1.5, 2.0)), 3)}
    if family == "pip":
        return {"pip": {"scale": round(float(rng.uniform(0.3, 0.36) if index == 0 else rng.uniform(0.5, 0.56)), 3),
                        "x": round(float(rng.uniform(0, 1)), 3), "y": round(float(rng.uniform(0, 1)), 3)}}
    if family == "split":
        return {"split": "left" if index == 0 else "right"}
    if family == "caption":
        return {"caption": {"height": round(float(rng.uniform(0.18, 0.25)), 3), "top": bool(rng.random() < 0.5),
                            "text": str(rng.choice(CAPTIONS)),
                            "colour": [int(c) for c in rng.choice([(255, 255, 255), (250, 220, 40), (20, 20, 20)])]}}
    if family == "subtitles":
        return {"subtitles": [str(t) for t in rng.choice(CAPTIONS, size=8)]}
    if family == "overlay":
        discs = [[round(float(rng.uniform(0.1, 0.9)), 3), round(float(rng.uniform(0.1, 0.9)), 3),
                  round(float(rng.uniform(0.06, 0.12)), 3), [int(c) for c in rng.integers(0, 256, 3)]]
                 for _ in range(int(rng.integers(2, 5)))]
        return {"overlay": {"discs": discs, "logo": str(rng.choice(["@svmr_clips", "#viral", "TOP10", "reshared"]))}}
    if family == "border":
        return {"border": round(float(rng.uniform(0.6, 0.75)), 3)}
    if family == "rotation":
        angle = 90.0 if index == 0 else float(rng.choice([-1, 1]) * rng.uniform(6, 12))
        return {"rotation": round(angle, 2)}
    if family == "crop":
        keep = rng.uniform(0.45, 0.6, size=2)
        left, top = rng.uniform(0, 1 - keep[0]), rng.uniform(0, 1 - keep[1])
        return {"crop": [round(float(v), 3) for v in (left, top, left + keep[0], top + keep[1])]}
    if family == "color":
        if index == 0:
            return {"color": {"gray": True, "contrast": round(float(rng.uniform(1.5, 1.8)), 3)}}
        return {"color": {"hue": int(rng.integers(40, 140)), "saturation": round(float(rng.uniform(1.3, 1.7)), 3)}}
    if family == "noise":
        return {"noise": {"sigma": round(float(rng.uniform(12, 20)), 2), "quality": int(rng.integers(12, 21)),
                          "seed": int(rng.integers(1 << 30))}}
    if family == "frame_drop":
        return {"frame_drop": {"share": round(float(rng.uniform(0.4, 0.6)), 3), "seed": int(rng.integers(1 << 30))}}
    raise ValueError(f"unknown family {family}")


def _text(image: np.ndarray, text: str, centre: tuple[int, int], height: int, colour, outline=None) -> None:
    """Write ``text`` centred on ``centre`` at about ``height`` pixels, in place."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, height / 30)
    (w, h), _ = cv2.getTextSize(text, font, scale, 2)
    if w > image.shape[1] * 0.95:                       # a long line shrinks to fit the width
        scale *= image.shape[1] * 0.95 / w
        (w, h), _ = cv2.getTextSize(text, font, scale, 2)
    origin = (int(centre[0] - w / 2), int(centre[1] + h / 2))
    if outline is not None:
        cv2.putText(image, text, origin, font, scale, tuple(outline), 5, cv2.LINE_AA)
    cv2.putText(image, text, origin, font, scale, tuple(colour), 2, cv2.LINE_AA)


def transform_frame(frame: np.ndarray, host: np.ndarray, params: dict, index: int) -> np.ndarray:
    """One frame of a copy: the query's RGB ``frame`` transformed by ``params`` into an
    :data:`OUT_SIZE` picture; ``host`` is the host's picture at that time (for picture-in-picture
    and split screen); ``index`` counts the copy's frames (subtitles change, noise is drawn)."""
    width, height = OUT_SIZE
    image = frame
    if "crop" in params:
        h, w = image.shape[:2]
        left, top, right, bottom = params["crop"]
        image = image[int(top * h):int(bottom * h), int(left * w):int(right * w)]
    if params.get("mirror"):
        image = image[:, ::-1]
    if "color" in params:
        colour = params["color"]
        if colour.get("gray"):
            gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
            gray = np.clip((gray - gray.mean()) * colour["contrast"] + gray.mean(), 0, 255).astype(np.uint8)
            image = np.repeat(gray[:, :, None], 3, axis=2)
        else:
            hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV).astype(np.int32)
            hsv[..., 0] = (hsv[..., 0] + colour["hue"]) % 180
            hsv[..., 1] = np.clip(hsv[..., 1] * colour["saturation"], 0, 255)
            image = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    if "rotation" in params:
        angle = params["rotation"]
        if angle == 90.0:
            image = np.ascontiguousarray(np.rot90(image))
        else:
            h, w = image.shape[:2]
            zoom = abs(np.cos(np.radians(angle))) + abs(np.sin(np.radians(angle))) * max(w / h, h / w)
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
            image = cv2.warpAffine(np.ascontiguousarray(image), matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    image = np.ascontiguousarray(image)
    if "caption" in params:                            # the bar takes its share, the clip shrinks into the rest
        caption = params["caption"]
        bar = int(height * caption["height"])
        out = np.zeros((height, width, 3), np.uint8)
        clip_area = letterbox(image, (width, height - bar))
        top_bar = caption["top"]
        if top_bar:
            out[bar:] = clip_area
        else:
            out[:height - bar] = clip_area
        y0 = 0 if top_bar else height - bar
        out[y0:y0 + bar] = caption["colour"]
        ink = (0, 0, 0) if sum(caption["colour"]) > 300 else (255, 255, 255)
        _text(out, caption["text"], (width // 2, y0 + bar // 2), int(bar * 0.45), ink)
        image = out
    elif "pip" in params:
        pip = params["pip"]
        out = letterbox(host, (width, height)).copy()
        w, h = int(width * pip["scale"]) // 2 * 2, int(height * pip["scale"]) // 2 * 2
        x0, y0 = int((width - w) * pip["x"]), int((height - h) * pip["y"])
        out[y0:y0 + h, x0:x0 + w] = letterbox(image, (w, h))
        cv2.rectangle(out, (x0, y0), (x0 + w - 1, y0 + h - 1), (255, 255, 255), 2)
        image = out
    elif "split" in params:
        half = width // 2
        left, right = letterbox(image, (half, height)), letterbox(host, (width - half, height))
        if params["split"] == "right":
            left, right = letterbox(host, (half, height)), letterbox(image, (width - half, height))
        image = np.concatenate([left, right], axis=1)
    elif "border" in params:
        fill = cv2.GaussianBlur(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), (0, 0), 12)
        w, h = int(width * params["border"]) // 2 * 2, int(height * params["border"]) // 2 * 2
        fill[(height - h) // 2:(height - h) // 2 + h, (width - w) // 2:(width - w) // 2 + w] = letterbox(image, (w, h))
        image = fill
    else:
        image = letterbox(image, (width, height))
    if "subtitles" in params:
        lines = params["subtitles"]
        _text(image, lines[(index // int(OUT_FPS * 1.5)) % len(lines)], (width // 2, int(height * 0.85)),
              int(height * 0.07), (255, 255, 255), outline=(0, 0, 0))
    if "overlay" in params:
        overlay = params["overlay"]
        for x, y, radius, colour in overlay["discs"]:
            cv2.circle(image, (int(x * width), int(y * height)), int(radius * height), tuple(colour), -1, cv2.LINE_AA)
        _text(image, overlay["logo"], (int(width * 0.8), int(height * 0.08)), int(height * 0.06), (255, 255, 255),
              outline=(0, 0, 0))
    if "noise" in params:
        noise = params["noise"]
        rng = np.random.default_rng(noise["seed"] + index)
        noisy = np.clip(image.astype(np.float32) + rng.normal(0, noise["sigma"], image.shape), 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, noise["quality"]])
        image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return image


def copy_times(start: float, end: float, params: dict) -> np.ndarray:
    """Source times of the copy's frames at :data:`OUT_FPS`: the clip ``[start, end)`` played at
    its speed, with dropped frames showing the one before."""
    speed = params.get("speed", 1.0)
    count = max(1, int(round((end - start) / speed * OUT_FPS)))
    times = start + np.arange(count) * speed / OUT_FPS
    if "frame_drop" in params:
        drop = params["frame_drop"]
        dropped = np.random.default_rng(drop["seed"]).random(count) < drop["share"]
        dropped[0] = False
        kept = np.maximum.accumulate(np.where(dropped, 0, np.arange(count)))
        times = times[kept]
    return np.minimum(times, end - 0.5 / OUT_FPS)


class _Hosts:
    """The host files played one after another (at :data:`OUT_FPS`, letterboxed), and what of
    which played when (:class:`Piece` s)."""

    def __init__(self, start_file: int):
        self.file, self.offset = start_file % len(HOST_FILES), 0.0

    def frames(self, count: int, at: float, pieces: list) -> list[np.ndarray]:
        out = []
        while len(out) < count:
            name = HOST_FILES[self.file]
            path = _require(name)
            duration = V.probe(path).duration
            times = self.offset + np.arange(count - len(out)) / OUT_FPS
            times = times[times < duration - 0.5 / OUT_FPS]
            if len(times):
                for chunk in V.iter_frames(path, times):
                    out.extend(letterbox(frame, OUT_SIZE) for frame in chunk)
                pieces.append(Piece(name, round(self.offset, 3), round(float(times[-1]) + 1 / OUT_FPS, 3),
                                    round(at + (len(out) - len(times)) / OUT_FPS, 3)))
                self.offset = float(times[-1]) + 1 / OUT_FPS
            if len(out) < count:
                self.file, self.offset = (self.file + 1) % len(HOST_FILES), 0.0
        return out


def build_reshare_set(out_dir: str, seed: int = 0) -> dict:
    """Write ``queries/``, ``references/`` (H.264) and ``manifest.json`` into ``out_dir``."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, "queries"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "references"), exist_ok=True)
    queries, families, transforms = [], {}, {}
    for k, (name, start, end) in enumerate(QUERY_CLIPS):
        family = FAMILIES[k // 2]
        qid = f"{family}_{k % 2 + 1}"
        write_clip(_require(name), os.path.join(out_dir, "queries", f"{qid}.mp4"), start, end, max_side=OUT_SIZE[0])
        queries.append(Query(qid, name, start, end, qid, "test"))
        families[qid] = family
        transforms[qid] = draw_params(family, k % 2, rng)
    # each reference holds two copies of different families: query k with query k + 2 · len(FAMILIES) / 2
    order = [q.id for q in queries]
    half = len(order) // 2
    references = []
    for r in range(half):
        inserted = (order[r], order[r + half])
        rid = f"ref_{r + 1:02d}"
        hosts = _Hosts(start_file=int(rng.integers(len(HOST_FILES))))
        pieces, segments, frames = [], [], []
        for qid in inserted + (None,):
            gap = float(rng.uniform(2.0, 5.0))
            frames += hosts.frames(int(gap * OUT_FPS), len(frames) / OUT_FPS, pieces)
            if qid is None:
                break
            query = next(q for q in queries if q.id == qid)
            params = transforms[qid]
            times = copy_times(query.start, query.end, params)
            at = len(frames) / OUT_FPS
            beneath = hosts.frames(len(times), at, pieces)          # the host plays on (behind a pip)
            # each source time decoded once (a dropped frame repeats the one before)
            distinct, which = np.unique(times, return_inverse=True)
            source = [f for chunk in V.iter_frames(_require(query.video), distinct) for f in chunk]
            frames += [transform_frame(source[k], host, params, i) for i, (k, host) in enumerate(zip(which, beneath))]
            pieces.append(Piece(query.video, query.start, query.end, round(at, 3)))
            segments.append(Segment(round(at, 3), round(len(frames) / OUT_FPS, 3), qid))
        path = os.path.join(out_dir, "references", f"{rid}.mp4")
        with ClipWriter(path, OUT_FPS, crf=int(rng.integers(23, 31))) as writer:
            for frame in frames:
                writer.write(frame)
        references.append(Reference(rid, round(len(frames) / OUT_FPS, 3), pieces, segments, 2))
    bench = Benchmark({"train": [], "val": [], "test": order}, queries, references, seed,
                      {"kind": "re-shared copies", "families": families, "transforms": transforms,
                       "queries": len(queries), "references": len(references)})
    bench.save(os.path.join(out_dir, "manifest.json"))
    with open(os.path.join(out_dir, "manifest.json")) as handle:
        return json.load(handle)


def reversed_queries(set_dir: str) -> tuple[list[str], list[tuple[str, str, float, float, dict]]]:
    """The set searched the other way round: each re-shared copy (its stretch of its reference) as
    the query, in a gallery of the queries' source files, whole. Returns ``(source files, queries)``;
    a query is ``(its query id, reference file, start, end, {source video id: [[start, end]]})``,
    the source id being the file's stem as :func:`~svmr.gallery.safe_id` makes it."""
    from ..gallery import safe_id

    bench = Benchmark.load(os.path.join(set_dir, "manifest.json"))
    sources = {query.id: (query.video, query.start, query.end) for query in bench.queries}
    queries = []
    for reference in bench.references:
        for segment in reference.segments:
            video, start, end = sources[segment.label]
            queries.append((segment.label, os.path.join(set_dir, "references", f"{reference.id}.mp4"),
                            segment.start, segment.end, {safe_id(video): [[start, end]]}))
    files = sorted({_require(video) for video, _, _ in sources.values()})
    return files, sorted(queries)
