"""Worker processes for everything that decodes a visitor's file, each job under a time budget.

A visitor's file can be slow to decode, hang the decoder or crash it. Read inside the server, such
a file would hold one of its threads forever (a thread stuck in C code cannot be stopped) or take
the whole server down. Here every such job runs in a worker process instead:

- a job that makes no progress for its budget is abandoned: the worker is killed and the visitor
  told why (the budget counts from the last progress report, so long videos are not cut short);
- a worker that dies (a decoder crash) is reported as such and replaced for the next job;
- the server's own threads only wait on a queue.

The app runs two workers (:func:`demo.service.indexer`, :func:`demo.service.reader`): indexing
(minutes per upload; lower priority, half the cores, so searches keep their speed) and reading
(probing, playable copies, the query's features; seconds per job, normal priority).
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from typing import Callable

from svmr import video as V

#: how often an idle worker checks that the server is still there, in seconds
PARENT_CHECK_S = 5.0
#: how long a new worker may take to start (importing torch on a loaded machine), in seconds;
#: jobs' budgets count from when it is ready
START_TIMEOUT_S = 300.0


def _next_job(jobs, server: int):
    """The next job, or None when told to stop or when the server that started this worker is
    gone (killed: nobody would ever send a job again)."""
    while os.getppid() == server:
        try:
            return jobs.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            continue
    return None


def _serve(jobs, replies, niceness: int, threads: int, server: int) -> None:
    """The worker's loop: ``(function, args, about, with_progress)`` → replies
    ``("progress", done, total)`` … then ``("done", result)`` or ``("error", message)``."""
    try:
        os.nice(niceness)
    except OSError:
        pass
    import torch

    torch.set_num_threads(threads)
    replies.put(("ready",))                                # the budget of the first job starts now
    while (job := _next_job(jobs, server)) is not None:
        function, args, about, with_progress = job
        try:
            kwargs = {"progress": lambda done, total: replies.put(("progress", done, total))} if with_progress else {}
            replies.put(("done", function(*args, **kwargs)))
        except (V.VideoError, ValueError) as err:
            replies.put(("error", str(err)))
        except Exception as err:                                  # noqa: BLE001 — said to the visitor
            replies.put(("error", f"{about} could not be read ({type(err).__name__}: {err})."))


class Worker:
    """Runs jobs in a background process, one at a time, each under a no-progress time budget.

    Args:
        name: the process's name (shown by ``ps``).
        niceness: how much lower than the server the worker runs (``nice`` increment).
        threads: torch threads of the worker.
        budget: seconds a job may go without progress (a callable, read at each job, so a limit
            set in the environment applies) and the limit's name for the message.
    """

    def __init__(self, name: str, budget: Callable[[], float], budget_name: str, niceness: int = 0,
                 threads: int | None = None):
        self.name, self.budget, self.budget_name = name, budget, budget_name
        self.niceness, self.threads = niceness, threads or (os.cpu_count() or 1)
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process = None

    def _start(self) -> None:
        self._jobs, self._replies = self._context.Queue(), self._context.Queue()
        self._process = self._context.Process(target=_serve, daemon=True, name=self.name,
                                              args=(self._jobs, self._replies, self.niceness, self.threads, os.getpid()))
        self._process.start()
        try:
            ready = self._replies.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            ready = None
        if ready != ("ready",):
            self.close()
            raise V.VideoError("The background worker could not start; try again in a moment.")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def call(self, function: Callable, args: tuple, *, about: str, progress: Callable[[int, int], None] | None = None):
        """``function(*args)`` in the worker (with ``progress=`` when ``progress`` is given, its
        reports relayed here); returns its result. ``function`` must be importable by name and its
        arguments and result picklable. ``about`` names the file for messages.

        Raises:
            VideoError: the job's own error message; or the worker died; or the job made no
                progress within the budget (the worker is then stopped and replaced next time).
        """
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._jobs.put((function, args, about, progress is not None))
            waited, budget = 0.0, self.budget()
            while True:
                try:
                    reply = self._replies.get(timeout=min(1.0, budget))
                except queue.Empty:
                    waited += min(1.0, budget)
                    if not self._process.is_alive():
                        self._process = None
                        raise V.VideoError(f"{about}: the worker reading this file stopped (the file may be "
                                           f"damaged); nothing was kept.") from None
                    if waited >= budget:
                        self.close()
                        raise V.VideoError(f"{about}: reading made no progress for {budget:g} s "
                                           f"({self.budget_name}); gave up, nothing was kept.") from None
                    continue
                waited = 0.0
                kind, *values = reply
                if kind == "progress":
                    progress(*values)
                elif kind == "done":
                    return values[0]
                else:
                    raise V.VideoError(values[0])

    def close(self) -> None:
        """Stop the worker (a job in progress is abandoned)."""
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=10)
            self._process = None
