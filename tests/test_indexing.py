"""The background indexing worker: uploads indexed apart from the server, a dead worker reported
and replaced, nothing half-added."""
import os
import threading

import pytest

from demo import service as S
from demo.indexing import IndexingWorker
from svmr import video as V


def test_worker_indexes_reports_and_survives_its_own_death(tmp_path, carphone, vtest):
    worker = IndexingWorker()
    try:
        root = str(tmp_path / "visitor")
        seen = []
        assert worker.add(root, carphone, progress=lambda done, total: seen.append((done, total))) == "carphone_pristine"
        assert seen and seen[-1][0] == seen[-1][1]
        assert list(S.Session(root).gallery.videos) == ["carphone_pristine"]

        with pytest.raises(V.VideoError, match="already in your gallery as carphone_pristine"):
            worker.add(root, carphone)

        # the worker dies in the middle of a job (as it would on a decoder crash): a message, and
        # the gallery keeps what it had
        failure = {}

        def add_vtest():
            try:
                worker.add(root, vtest, progress=lambda done, total: started.set())
            except V.VideoError as err:
                failure["message"] = str(err)

        started = threading.Event()
        thread = threading.Thread(target=add_vtest)
        thread.start()
        assert started.wait(120)
        os.kill(worker._process.pid, 9)
        thread.join(60)
        assert "vtest.avi: the indexer stopped while reading this file" in failure["message"]
        assert list(S.Session(root).gallery.videos) == ["carphone_pristine"]

        # a new worker takes the next job
        assert worker.add(str(tmp_path / "other"), carphone) == "carphone_pristine"
    finally:
        worker.close()
