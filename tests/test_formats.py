"""Files of older formats are read and stored migrated; files of newer formats are refused plainly."""
import json
import os
from dataclasses import asdict

import numpy as np
import pytest

from svmr import cli
from svmr.features import ExtractorConfig, FeatureSequence
from svmr.formats import (GALLERY_FORMAT, INDEX_FORMAT, FormatError, migrate_gallery, migrate_gallery_entry,
                          migrate_index_state)
from svmr.gallery import Gallery


def _old_entry(video_id: str) -> dict:
    """A video's entry as galleries wrote it before formats were numbered: no feature file name
    (it was ``<id>.npz``), no damage record, regions never looked for."""
    return {"id": video_id, "path": f"/videos/{video_id}.mp4", "duration": 4.0, "fps": 25.0, "width": 64,
            "height": 48, "steps": 16, "digest": "ab" * 32, "added": 1.0}


def _old_gallery(root, ids=("first",), journal=("second",)) -> None:
    """A format-0 gallery folder: its snapshot lists ``ids``, its journal adds ``journal``; each
    video's features at ``features/<id>.npz`` (distinct values, so a wrong file is noticed)."""
    os.makedirs(root / "features")
    for k, video_id in enumerate((*ids, *journal)):
        FeatureSequence(np.full((8, 16), k, np.float32), np.arange(16) / 4, 4.0, 4.0).save(
            str(root / "features" / f"{video_id}.npz"), np.float16)
    (root / "gallery.json").write_text(json.dumps({"extractor": asdict(ExtractorConfig()),
                                                   "videos": {i: _old_entry(i) for i in ids}}))
    (root / "journal.jsonl").write_text("".join(json.dumps({"add": _old_entry(i)}) + "\n" for i in journal))


def test_an_unnumbered_gallery_opens_and_is_stored_in_the_current_format(tmp_path):
    _old_gallery(tmp_path)
    gallery = Gallery(str(tmp_path))
    assert sorted(gallery.videos) == ["first", "second"]
    assert gallery.feature_precision == "float16"
    for k, video_id in enumerate(("first", "second")):       # the journal's old line is read as old too
        assert gallery.feature_path(video_id).endswith(f"{video_id}.npz")
        assert float(gallery.features(video_id).features[0, 0]) == k
        assert gallery.videos[video_id].regions is None and gallery.videos[video_id].damage == {}
        assert not gallery.is_current(video_id)               # no motion stream: indexing it again re-extracts
    stored = json.loads((tmp_path / "gallery.json").read_text())
    assert stored["format"] == GALLERY_FORMAT and stored["storage"] == {"features": "float16"}
    assert stored["videos"]["second"]["features"] == "second.npz"      # the journal folded in, migrated
    assert os.path.getsize(tmp_path / "journal.jsonl") == 0
    reopened = Gallery(str(tmp_path))
    assert {k: asdict(v) for k, v in reopened.videos.items()} == {k: asdict(v) for k, v in gallery.videos.items()}


def test_a_gallery_of_a_newer_format_is_refused_in_one_sentence_and_left_as_it_is(tmp_path, capsys):
    _old_gallery(tmp_path, journal=())
    data = json.loads((tmp_path / "gallery.json").read_text())
    data["format"] = GALLERY_FORMAT + 1
    (tmp_path / "gallery.json").write_text(json.dumps(data))
    before = (tmp_path / "gallery.json").read_bytes()
    with pytest.raises(FormatError, match="newer svmr"):
        Gallery(str(tmp_path))
    assert cli.main(["search", "--gallery", str(tmp_path), "--query", str(tmp_path / "missing.mp4")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "newer svmr" in error and "Traceback" not in error
    assert (tmp_path / "gallery.json").read_bytes() == before


@pytest.mark.parametrize("number", ["1", -1, 1.5])
def test_a_format_that_is_not_a_number_is_refused(number):
    with pytest.raises(FormatError, match="not a format number"):
        migrate_gallery({"format": number, "extractor": {}, "videos": {}})


def test_migrations_are_step_by_step_and_leave_current_files_unchanged():
    current = {"format": GALLERY_FORMAT, "extractor": {}, "storage": {"features": "int8"},
               "videos": {"a": {**_old_entry("a"), "features": "a.0123.npz", "damage": {}, "regions": []}}}
    assert migrate_gallery(current) == (current, GALLERY_FORMAT)
    assert migrate_gallery_entry(current["videos"]["a"], GALLERY_FORMAT) == current["videos"]["a"]
    assert migrate_gallery_entry(_old_entry("b"), 0)["features"] == "b.npz"
    assert migrate_index_state({"mean": [0.5], "videos": {}}) == {"format": INDEX_FORMAT, "uri": "", "mean": [0.5],
                                                                  "videos": {}}
    with pytest.raises(FormatError, match="newer svmr"):
        migrate_index_state({"format": INDEX_FORMAT + 1})
