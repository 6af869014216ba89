"""What the app writes for its visitors outside their session folders, and how long it stays.

A running server owns two folders, both named after its process id so that servers side by side
never delete each other's files:

- its **work folder** (``svmr_work/<pid>`` in the temp folder): trimmed clips, playable copies,
  result files; a sweeper thread deletes what is older than :func:`max_age_s`;
- **Gradio's cache** (``svmr_gradio/<pid>``, unless ``GRADIO_TEMP_DIR`` is set): Gradio's copies
  of uploads and of every file it serves, which Gradio itself deletes past the same age
  (``Blocks(delete_cache=…)``).

Both are deleted when the server stops, and at start for servers that are no longer running
(killed, crashed). Visitors' galleries live in their session folders (:mod:`demo.sessions`),
deleted when their page closes. So nothing a visitor leaves stays longer than
``max_age_s() + sweep_every_s()`` (1 h 15 min by default), or past the server's life.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Callable, Iterable

from svmr.files import process_alive

WORK_PARENT = os.path.join(tempfile.gettempdir(), "svmr_work")
GRADIO_PARENT = os.path.join(tempfile.gettempdir(), "svmr_gradio")
#: the environment variable that hands the server's work folder to its worker processes
WORK_ROOT_ENV = "SVMR_WORK_ROOT"


def max_age_s() -> float:
    """How long a file made for a visitor is kept, in seconds (``SVMR_TEMP_MAX_AGE_S``, default 1 h)."""
    try:
        return max(1.0, float(os.environ.get("SVMR_TEMP_MAX_AGE_S", 3600)))
    except ValueError:
        return 3600.0


def sweep_every_s() -> float:
    """How often the old files are looked for: a quarter of the age (at least every second)."""
    return max(1.0, max_age_s() / 4)


def delete_cache() -> tuple[int, int]:
    """Gradio's ``delete_cache``: ``(every, older than)`` in whole seconds."""
    return max(1, round(sweep_every_s())), max(1, round(max_age_s()))


def work_root() -> str:
    """This server's work folder (the one its parent server handed down, in a worker process)."""
    return os.environ.get(WORK_ROOT_ENV) or os.path.join(WORK_PARENT, str(os.getpid()))


def work_dir() -> str:
    """A new folder for files the app shows (clips, results) in the server's work folder."""
    os.makedirs(work_root(), exist_ok=True)
    return tempfile.mkdtemp(prefix="ui_", dir=work_root())


def clear_leftovers() -> list[str]:
    """Delete the work folders and Gradio caches of servers no longer running; returns them."""
    removed = []
    for parent in (WORK_PARENT, GRADIO_PARENT):
        if not os.path.isdir(parent):
            continue
        for name in os.listdir(parent):
            if name.isdigit() and process_alive(int(name)) and int(name) != os.getpid():
                continue
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
            removed.append(os.path.join(parent, name))
    return removed


def own_gradio_cache() -> str | None:
    """Point Gradio's cache at this server's own folder (unless ``GRADIO_TEMP_DIR`` is set) and
    return it; call before the app's Blocks are built."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        return None
    folder = os.path.join(GRADIO_PARENT, str(os.getpid()))
    os.makedirs(folder, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = folder
    return folder


def _own_gradio_cache() -> str | None:
    own = os.path.join(GRADIO_PARENT, str(os.getpid()))
    return own if os.environ.get("GRADIO_TEMP_DIR") == own else None


def sweep(older_than_s: float | None = None, keep: Iterable[str] = ()) -> int:
    """Delete what is older than ``older_than_s`` (default :func:`max_age_s`) in the work folder
    and in the server's own Gradio cache (Gradio deletes the files it tracks itself; this takes
    the rest, such as its upload spool files), except the files in ``keep`` (the app's examples,
    which Gradio keeps for the server's life) and their folders; returns how many entries went."""
    limit = time.time() - (max_age_s() if older_than_s is None else older_than_s)
    kept = {os.path.realpath(path) for path in keep}
    kept |= {os.path.dirname(path) for path in kept}
    removed = 0
    for root, age_of in ((work_root(), os.path.getmtime), (_own_gradio_cache(), _cache_entry_time)):
        for name in os.listdir(root) if root and os.path.isdir(root) else ():
            path = os.path.join(root, name)
            try:
                if os.path.realpath(path) in kept or age_of(path) >= limit:
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)
                removed += 1
            except OSError:
                continue
    return removed


def _cache_entry_time(path: str) -> float:
    """When an entry of Gradio's cache (a folder named by a file's hash, holding its copy) was last
    written or handed out: Gradio's copies keep their source's modification time, so their age is
    their change time; and Gradio touches a copy when it hands it out again (a gallery listed
    anew), not its folder — so a folder is as young as the youngest file in it."""
    times = [os.path.getmtime(path), os.path.getctime(path)]
    if os.path.isdir(path) and not os.path.islink(path):
        for entry in os.scandir(path):
            stat = entry.stat(follow_symlinks=False)
            times += [stat.st_mtime, stat.st_ctime]
    return max(times)


_SWEEPER: list[threading.Thread] = []


def start_sweeper(keep: Callable[[], Iterable[str]] = tuple) -> None:
    """Hand the work folder to worker processes started from now on, and (once per process) sweep
    it every :func:`sweep_every_s` in a daemon thread, with the decodable copies of files that
    are gone (:func:`svmr.decodable.prune`); ``keep()`` names the files never to delete."""
    # the process that builds the app is the server: its own folder, whatever it inherited
    os.environ[WORK_ROOT_ENV] = os.path.join(WORK_PARENT, str(os.getpid()))
    if _SWEEPER and _SWEEPER[0].is_alive():
        return

    def run() -> None:
        from svmr import decodable

        while True:
            time.sleep(sweep_every_s())
            try:
                sweep(keep=keep())
                decodable.prune()
            except Exception as err:        # noqa: BLE001 — a sweep that fails is tried again next time
                print(f"svmr: the temp-file sweep failed ({type(err).__name__}: {err}); retrying later",
                      file=sys.stderr)

    _SWEEPER[:] = [threading.Thread(target=run, name="svmr-temp-sweeper", daemon=True)]
    _SWEEPER[0].start()


def remove_own() -> None:
    """Delete this server's work folder and its own Gradio cache (at stop)."""
    shutil.rmtree(work_root(), ignore_errors=True)
    if _own_gradio_cache():
        shutil.rmtree(_own_gradio_cache(), ignore_errors=True)
