"""A visitor's gallery is opened once per server process, follows what other processes add, and is
opened anew once the session is closed."""
from svmr.gallery import Gallery, GalleryVideo

from demo import sessions


def _entry(video_id: str) -> GalleryVideo:
    return GalleryVideo(video_id, f"/videos/{video_id}.mp4", 4.0, 25.0, 64, 48, 16, "cd" * 32, 1.0,
                        f"{video_id}.npz", {}, [])


def test_a_sessions_gallery_is_opened_once_and_follows_other_writers(tmp_path, monkeypatch):
    monkeypatch.setattr(sessions, "SESSIONS_ROOT", str(tmp_path))
    session = sessions.session_for("visitor-1")
    gallery = session.gallery
    assert session.gallery is gallery and sessions.session_for("visitor-1").gallery is gallery
    assert sessions.session_for("visitor-2").gallery is not gallery
    Gallery(gallery.root).add_entry(_entry("from_a_worker"))     # another process's gallery object
    assert "from_a_worker" in session.gallery
    session.close()
    reopened = sessions.session_for("visitor-1").gallery
    assert reopened is not gallery and len(reopened) == 0
    assert sessions.clear_sessions() == 2 and not sessions._OPEN
