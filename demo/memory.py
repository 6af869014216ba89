"""The server's memory over hours: fewer malloc arenas, free memory handed back.

glibc gives each thread that meets a busy heap an arena of its own (up to 8 per core) and keeps
freed pages; a server whose threads decode, search and trim in turn grows by fragmentation, not by
what it holds: tracemalloc saw about 30 MiB of Python objects in a server of 1.3 GiB. Measured
over 30 minutes of 8 visitors (docs/benchmarks.md, *Many visitors*), all processes' highest memory
by 5 minutes: default arenas 2816 → 3208 MiB, rising; two arenas 2499 → 2895 MiB, rising less;
two arenas, trimming every minute and decoded chunks capped (``svmr.video.CHUNK_BYTES``) 2564 →
2543 MiB, level after the first minutes (one minute's spike to 3018).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

#: glibc's mallopt parameter number for the arena limit (malloc.h: M_ARENA_MAX)
M_ARENA_MAX = -8
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Limit this process to ``arenas`` malloc arenas (call before threads start) and, through
    ``MALLOC_ARENA_MAX``, the processes it starts. A limit already set in the environment is kept.
    Returns whether this process's allocator took the limit (False off glibc)."""
    arenas = int(os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas)))
    libc = _libc()
    try:
        return bool(libc.mallopt(M_ARENA_MAX, arenas)) if libc is not None else False
    except AttributeError:              # not glibc (musl, macOS): nothing to tune
        return False


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def start_trimming(every_s: float = 60.0):
    """Every ``every_s`` seconds hand the memory malloc holds free back to the system
    (glibc's ``malloc_trim``: a search's or a trim's pictures are freed, but their pages stay with
    the process until trimmed). Returns the daemon thread, or None off glibc."""
    import threading
    import time

    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return None

    def trim():
        while True:
            time.sleep(every_s)
            libc.malloc_trim(0)

    thread = threading.Thread(target=trim, name="svmr-malloc-trim", daemon=True)
    thread.start()
    return thread


def trace_growth(folder: str, every_s: float = 120.0, depth: int = 6, top: int = 30):
    """Diagnostics: start tracemalloc and, every ``every_s`` seconds, write the allocation sites
    whose memory grew most since the first snapshot (``depth`` frames each) to
    ``folder/growth-<seconds>.txt``. The server does this when ``SVMR_TRACEMALLOC_DIR`` is set
    (it slows Python by about a third: for profiling runs only). Returns the daemon thread."""
    import threading
    import time
    import tracemalloc

    os.makedirs(folder, exist_ok=True)
    tracemalloc.start(depth)
    started = time.monotonic()

    def watch():
        first = tracemalloc.take_snapshot()
        while True:
            time.sleep(every_s)
            if not tracemalloc.is_tracing():          # stopped elsewhere: nothing more to write
                return
            snapshot = tracemalloc.take_snapshot()
            current, peak = tracemalloc.get_traced_memory()
            lines = [f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB"]
            for stat in snapshot.compare_to(first, "traceback")[:top]:
                lines.append(f"\n{stat.size_diff / 2**20:+.1f} MiB ({stat.count_diff:+d} blocks), "
                             f"now {stat.size / 2**20:.1f} MiB")
                lines += [f"    {frame.filename}:{frame.lineno}" for frame in stat.traceback]
            path = os.path.join(folder, f"growth-{int(time.monotonic() - started):05d}.txt")
            with open(path, "w") as handle:
                handle.write("\n".join(lines) + "\n")

    thread = threading.Thread(target=watch, name="svmr-memory-trace", daemon=True)
    thread.start()
    return thread
