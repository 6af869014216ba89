"""Limits set by environment variables, each refused with a sentence naming the file."""
import os

import pytest

from demo.sessions import Session
from svmr import limits
from svmr import clips
from svmr import video as V
from svmr.trim import trim


def test_defaults_and_bad_values(monkeypatch):
    assert limits.max_session_videos() == 20 and limits.max_side() == 3840
    monkeypatch.setenv("SVMR_MAX_SESSION_VIDEOS", "three")
    assert limits.max_session_videos() == 20                      # not a number: the default
    monkeypatch.setenv("SVMR_MAX_SESSION_VIDEOS", "-1")
    assert limits.max_session_videos() == 20
    monkeypatch.setenv("SVMR_MAX_SESSION_VIDEOS", "3")
    assert limits.max_session_videos() == 3


def test_library_duration_limit(monkeypatch, vtest):
    monkeypatch.setenv("SVMR_MAX_DURATION_S", "60")
    with pytest.raises(V.VideoError, match=r"vtest.avi: the video lasts 1.3 min; the limit is 1.0 min"):
        V.probe(vtest)


def test_pictures_written_are_capped(monkeypatch, bikes, tmp_path):
    monkeypatch.setenv("SVMR_MAX_SIDE", "320")
    kept = trim(bikes, str(tmp_path / "cut.mp4"), 1.0, 2.0)
    assert (kept.width, kept.height) == (320, 136)
    copy = clips.write_clip(bikes, str(tmp_path / "copy.mp4"), 1.0, 2.0, max_side=None)
    assert (copy.width, copy.height) == (320, 136)


def test_visitor_gallery_limits(monkeypatch, tmp_path, bikes, carphone):
    visitor = Session(str(tmp_path / "visitor"))
    monkeypatch.setenv("SVMR_MAX_UPLOAD_MB", "0.1")
    with pytest.raises(V.VideoError, match=r"carphone_pristine.mp4: the file is 0.\d MB; uploads may be at most 0.1 MB here"):
        visitor.add(carphone)
    monkeypatch.delenv("SVMR_MAX_UPLOAD_MB")
    monkeypatch.setenv("SVMR_MAX_UPLOAD_DURATION_S", "5")
    with pytest.raises(V.VideoError, match=r"bikes.mp4 lasts 10 s; gallery videos may last at most 5 s here"):
        visitor.add(bikes)
    monkeypatch.setenv("SVMR_MAX_SESSION_VIDEOS", "1")
    assert visitor.add(carphone) == "carphone_pristine"
    monkeypatch.delenv("SVMR_MAX_UPLOAD_DURATION_S")
    with pytest.raises(V.VideoError, match=r"bikes.mp4: your gallery already holds 1 video\(s\), the most allowed"):
        visitor.add(bikes)
    assert list(visitor.gallery.videos) == ["carphone_pristine"]
    assert os.listdir(os.path.join(visitor.root, "videos")) == ["carphone_pristine.mp4"]
