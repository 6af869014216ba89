"""The server's memory settings (``demo/memory.py``): fewer arenas, trimming, the growth probe."""
import os
import time
import tracemalloc

from demo import memory as M


def test_arenas_are_limited_here_and_for_the_workers(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert M.limit_malloc_arenas() is True                 # glibc, as on this machine and Spaces
    assert os.environ["MALLOC_ARENA_MAX"] == str(M.ARENAS)  # inherited by the worker processes
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")            # an operator's own choice is kept
    assert M.limit_malloc_arenas() is True and os.environ["MALLOC_ARENA_MAX"] == "4"
    assert M.start_trimming(every_s=3600).is_alive()


def _allocate() -> list:
    return [bytes(1024) for _ in range(20_000)]            # about 20 MiB


def test_the_growth_probe_names_where_memory_grew(tmp_path):
    thread = M.trace_growth(str(tmp_path), every_s=0.3)
    try:
        held = _allocate()
        deadline = time.time() + 10
        while not os.listdir(tmp_path) and time.time() < deadline:
            time.sleep(0.1)
        report = open(os.path.join(tmp_path, sorted(os.listdir(tmp_path))[-1])).read()
    finally:
        tracemalloc.stop()
    assert len(held) == 20_000
    site = f"{os.path.basename(__file__)}:{_allocate.__code__.co_firstlineno + 1}"
    assert report.startswith("traced now") and site in report.split("MiB (")[1]    # the biggest growth
    thread.join(timeout=5)
    assert not thread.is_alive()                            # tracing stopped: the probe ends
