"""Visitors' uploads are indexed in one background process, apart from the searches.

Feature extraction of a long upload keeps a CPU busy for minutes. Run in the server's own process
it competes with every search for the same cores (and for torch's thread pool); here it runs in a
worker process at a lower scheduling priority with half the cores' torch threads, so searches keep their
speed, and a file that crashes the decoder takes down the worker (restarted for the next job),
never the server.

The worker writes into the visitor's session folder exactly as :meth:`Session.add` does in
process (the gallery's writes are atomic), so the server sees a new video as soon as it is listed.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading

from svmr import limits
from svmr import video as V

#: how much lower than the server the worker runs (``nice`` increment)
WORKER_NICENESS = 10
#: torch threads of the worker: half the machine's cores (the other half stays with the searches)
WORKER_THREADS = max(1, (os.cpu_count() or 2) // 2)


def _serve(jobs, replies) -> None:
    """The worker's loop: one job at a time, ``(session root, upload path)`` → replies
    ``("progress", done, total)`` … then ``("done", video id)`` or ``("error", message)``."""
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    import torch

    torch.set_num_threads(WORKER_THREADS)
    from .service import Session

    while (job := jobs.get()) is not None:
        root, upload = job
        try:
            video_id = Session(root).add(upload, progress=lambda done, total: replies.put(("progress", done, total)))
            replies.put(("done", video_id))
        except (V.VideoError, ValueError) as err:
            replies.put(("error", str(err)))
        except Exception as err:                                  # noqa: BLE001 — said to the visitor
            replies.put(("error", f"{os.path.basename(upload)} could not be indexed ({type(err).__name__}: {err})."))


class IndexingWorker:
    """Indexes uploads into session galleries in a background process (started on first use)."""

    def __init__(self):
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process = None

    def _start(self) -> None:
        self._jobs, self._replies = self._context.Queue(), self._context.Queue()
        self._process = self._context.Process(target=_serve, args=(self._jobs, self._replies), daemon=True,
                                              name="svmr-indexing")
        self._process.start()

    def add(self, session_root: str, upload: str, progress=None) -> str:
        """Index ``upload`` into the session at ``session_root``; returns the video id.

        Raises:
            VideoError: the file could not be indexed (the reason, naming the file).
        """
        with self._lock:                                          # one upload at a time
            if self._process is None or not self._process.is_alive():
                self._start()
            self._jobs.put((session_root, upload))
            waited, budget = 0.0, limits.decode_budget_s()
            while True:
                try:
                    reply = self._replies.get(timeout=1.0)
                except queue.Empty:
                    waited += 1.0
                    if not self._process.is_alive():
                        self._process = None
                        raise V.VideoError(f"{os.path.basename(upload)}: the indexer stopped while reading this "
                                           f"file (it may be damaged); nothing was added.") from None
                    if waited > budget:
                        self.close()
                        raise V.VideoError(f"{os.path.basename(upload)}: indexing made no progress for "
                                           f"{budget:.0f} s (SVMR_DECODE_BUDGET_S); nothing was added.") from None
                    continue
                waited = 0.0
                kind, *values = reply
                if kind == "progress":
                    if progress is not None:
                        progress(*values)
                elif kind == "done":
                    return values[0]
                else:
                    raise V.VideoError(values[0])

    def close(self) -> None:
        """Stop the worker (a job in progress is abandoned; its partial files are never listed)."""
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=10)
            self._process = None
