"""The app's worker processes: uploads indexed and query files read apart from the server, a dead
worker reported and replaced, a job that stops making progress given up, nothing half-added."""
import os
import threading
import time

import pytest

from demo import jobs
from demo.sessions import Session
from demo.workers import Worker
from svmr import clips
from svmr import video as V


def indexing_worker():
    return Worker("svmr-test-indexing", lambda: 600.0, "SVMR_DECODE_BUDGET_S", niceness=10, threads=1)


def test_worker_indexes_reports_and_survives_its_own_death(tmp_path, carphone, vtest):
    worker = indexing_worker()
    try:
        root = str(tmp_path / "visitor")
        seen = []
        assert worker.call(jobs.index_upload, (root, carphone), about="carphone_pristine.mp4",
                           progress=lambda done, total: seen.append((done, total))) == "carphone_pristine"
        assert seen and seen[-1][0] == seen[-1][1]
        assert list(Session(root).gallery.videos) == ["carphone_pristine"]

        with pytest.raises(V.VideoError, match="already in your gallery as carphone_pristine"):
            worker.call(jobs.index_upload, (root, carphone), about="carphone_pristine.mp4")

        # the worker dies in the middle of a job (as it would on a decoder crash): a message, and
        # the gallery keeps what it had
        failure = {}

        def add_vtest():
            try:
                worker.call(jobs.index_upload, (root, vtest), about="vtest.avi",
                            progress=lambda done, total: started.set())
            except V.VideoError as err:
                failure["message"] = str(err)

        started = threading.Event()
        thread = threading.Thread(target=add_vtest)
        thread.start()
        assert started.wait(120)
        os.kill(worker.pid, 9)
        thread.join(60)
        assert "vtest.avi: the worker reading this file stopped" in failure["message"]
        assert list(Session(root).gallery.videos) == ["carphone_pristine"]

        # a new worker takes the next job
        assert worker.call(jobs.index_upload, (str(tmp_path / "other"), carphone),
                           about="carphone_pristine.mp4") == "carphone_pristine"
    finally:
        worker.close()


def test_a_job_without_progress_is_given_up_within_its_budget_and_the_next_one_runs():
    worker = Worker("svmr-test-reading", lambda: 2.0, "SVMR_READ_BUDGET_S")
    try:
        assert worker.call(os.getpid, (), about="x") != os.getpid()        # it runs in another process
        started = time.perf_counter()
        with pytest.raises(V.VideoError, match=r"slow\.mp4: reading made no progress for 2 s \(SVMR_READ_BUDGET_S\)"):
            worker.call(time.sleep, (600,), about="slow.mp4")              # a decoder that hangs
        assert time.perf_counter() - started < 10
        assert worker.pid is None                                          # the hung worker was stopped
        assert worker.call(os.getpid, (), about="x") > 0                   # and a fresh one answers
    finally:
        worker.close()


def test_reader_jobs_give_the_query_and_its_features(vtest):
    worker = Worker("svmr-test-reading", lambda: 120.0, "SVMR_READ_BUDGET_S")
    try:
        info, player = worker.call(jobs.load_query, (vtest,), about="vtest.avi")
        assert info.width == 768 and player != vtest and clips.browser_playable(player)      # an AVI: a copy
        assert V.probe(player).duration == pytest.approx(info.duration, abs=0.1)        # on the same timeline
        assert worker.call(jobs.load_query, (vtest,), about="vtest.avi")[1] == player   # made once
        seen = []
        sequence = worker.call(jobs.query_clip_features, (vtest, 30.0, 34.0, 80.0), about="vtest.avi",
                               progress=lambda done, total: seen.append(done))
        assert sequence.length == pytest.approx(4.0 * sequence.rate, abs=1) and seen
        with pytest.raises(V.VideoError, match=r"The query \(30\.0 s\) is longer than every video"):
            worker.call(jobs.query_clip_features, (vtest, 0.0, 30.0, 20.0), about="vtest.avi")
    finally:
        worker.close()


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_whose_server_was_killed_stops_by_itself():
    import signal
    import subprocess
    import sys

    script = ("import os, sys\n"
              "from demo.workers import Worker\n"
              "worker = Worker('svmr-test-orphan', lambda: 60.0, 'SVMR_READ_BUDGET_S', threads=1)\n"
              "worker.call(os.getpid, (), about='x')\n"
              "print(worker.pid, flush=True)\n"
              "sys.stdin.read()\n")
    server = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        child = int(server.stdout.readline())
        server.send_signal(signal.SIGKILL)                                 # no clean-up runs
        server.wait(10)
        deadline = time.time() + 120         # it exits within seconds; a loaded machine may be slower
        while time.time() < deadline and running(child):
            time.sleep(0.5)
        assert not running(child)
    finally:
        server.kill()
