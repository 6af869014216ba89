"""Many visitors at once: errors, latency per endpoint, server memory, and isolation.

    python benchmarks/load.py [--visitors 8] [--minutes 5] [--json]

Starts ``python app.py`` on localhost (the demo gallery must be built: ``python -m demo.prepare``)
and drives it with ``--visitors`` gradio_client visitors for ``--minutes``, then stops by itself.
Each visitor, in a loop: uploads a real video under a name of its own to its private gallery,
lists that gallery, searches it with a clip of its own video, searches the demo gallery, and now
and then removes a video. Every answer is checked: a visitor must only ever see its own videos
(in listings and in search results); when a visitor leaves, its session folder must be deleted.
Prints a table of median / p95 latency per endpoint, the errors, the leaks found, the server's
peak memory (with its worker processes) and the session folders left behind, and the size of
what the app keeps in the temp folder (its work folder, its Gradio cache, session folders and
decodable copies: :mod:`demo.temp_files`) at start, at its peak, and after the visitors left and
the keeping age (``--temp-age``, given to the server as ``SVMR_TEMP_MAX_AGE_S``) and a sweep passed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.app_start import start_app, wait_for_page  # noqa: E402

SOURCES = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")


def rss_by_process_mb(pid: int) -> dict[str, float]:
    """Resident memory of the server and each of its child processes, in MiB (from /proc), by
    role: ``server``, ``indexing worker`` (the child at a lower priority), ``reading worker``
    (the other children)."""
    out = {}
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except OSError:
        children = []
    for one in [pid, *map(int, children)]:
        try:
            with open(f"/proc/{one}/status") as handle:
                rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024
            with open(f"/proc/{one}/stat") as handle:
                niceness = int(handle.read().rsplit(")", 1)[1].split()[16])
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        role = "server" if one == pid else ("indexing worker" if niceness > 0 else "reading worker")
        out[role] = out.get(role, 0.0) + rss
    return out


def temp_mb(server_pid: int) -> float:
    """MiB the app keeps in the temp folder for a server: its work folder and Gradio cache, the
    session folders and the decodable copies."""
    from demo.sessions import SESSIONS_ROOT
    from demo.temp_files import GRADIO_PARENT, WORK_PARENT
    from svmr.decodable import COPIES_DIR

    total = 0
    for folder in (os.path.join(WORK_PARENT, str(server_pid)), os.path.join(GRADIO_PARENT, str(server_pid)),
                   SESSIONS_ROOT, COPIES_DIR):
        for dirpath, _, names in os.walk(folder):
            for name in names:
                try:
                    total += os.path.getsize(os.path.join(dirpath, name))
                except OSError:
                    pass
    return total / 2**20


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    return sum(rss_by_process_mb(pid).values())


#: how long visitors' session folders may take to go after they leave (Gradio notices a closed
#: heartbeat connection within its heartbeat period)
SESSION_WAIT_S = 60.0


def sessions_left(folders: list[str | None], wait_s: float) -> list[str]:
    """The session folders (of visitors who have left) still present after up to ``wait_s``."""
    deadline = time.time() + wait_s
    while True:
        kept = [f for f in folders if f and os.path.exists(f)]
        if not kept or time.time() > deadline:
            return kept
        time.sleep(1.0)


class Visitor(threading.Thread):
    def __init__(self, number: int, url: str, deadline: float, folder: str, stats: dict, lock: threading.Lock):
        super().__init__(daemon=True)
        self.number, self.url, self.deadline, self.stats, self.lock = number, url, deadline, stats, lock
        self.prefix = f"visitor{number}_"
        self.files = []
        self.session_folder = None
        from svmr.data.footage import footage_path

        for name in SOURCES:
            copy = os.path.join(folder, self.prefix + name)
            shutil.copyfile(footage_path(name), copy)
            self.files.append(copy)

    def timed(self, endpoint: str, call):
        started = time.perf_counter()
        try:
            result = call()
        except Exception as err:                                   # noqa: BLE001 — counted and reported
            with self.lock:
                self.stats["errors"].append(f"{endpoint}: {type(err).__name__}: {str(err)[:200]}")
            return None
        with self.lock:
            self.stats["latency"][endpoint].append(time.perf_counter() - started)
        return result

    def leak(self, where: str, ids) -> None:
        foreign = [i for i in ids if not str(i).startswith(self.prefix)]
        if foreign:
            with self.lock:
                self.stats["leaks"].append(f"visitor {self.number} saw {foreign} in {where}")

    def run(self) -> None:
        from gradio_client import Client, handle_file

        from demo import service as S
        from demo.sessions import session_for

        client = Client(self.url, verbose=False)
        self.session_folder = session_for(client.session_hash).root
        rng = random.Random(self.number)
        try:
            self.visit(client, rng, S, handle_file)
        finally:
            client.close()                                         # leaves: the page's unload runs on the server

    def visit(self, client, rng, S, handle_file) -> None:
        while time.time() < self.deadline:
            path = rng.choice(self.files)
            added = self.timed("/add_videos", lambda: client.predict([handle_file(path)], api_name="/add_videos"))
            if added:
                self.leak("its gallery after adding", [row[0] for row in (added[1] or {}).get("data", [])])
            listed = self.timed("/show_gallery", lambda: client.predict(S.MY_GALLERY, api_name="/show_gallery"))
            if listed:
                self.leak("its gallery listing", [row[0] for row in (listed[1] or {}).get("data", [])])
            found = self.timed("/search (own gallery)", lambda: client.predict(
                handle_file(path), 1.0, 3.0, S.MY_GALLERY, S.ALIGN, 5, 2, 0.0, api_name="/search"))
            if found:
                self.leak("its search results", [row[1] for row in (found[1] or {}).get("data", [])])
            self.timed("/search (demo gallery)", lambda: client.predict(
                handle_file(path), 1.0, 3.0, S.DEMO_GALLERY, S.ALIGN, 5, 2, 0.0, api_name="/search"))
            if listed and rng.random() < 0.3:
                ids = [row[0] for row in (listed[1] or {}).get("data", [])]
                if ids:
                    self.timed("/remove_video", lambda: client.predict(rng.choice(ids), api_name="/remove_video"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--temp-age", type=float, default=60.0,
                        help="seconds the server keeps visitors' files (SVMR_TEMP_MAX_AGE_S; the app's default is 3600)")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = parser.parse_args()

    server, url = start_app(SVMR_TEMP_MAX_AGE_S=str(args.temp_age), GRADIO_TEMP_DIR="")
    folder = tempfile.mkdtemp(prefix="svmr_load_")
    stats = {"latency": defaultdict(list), "errors": [], "leaks": []}
    lock = threading.Lock()
    peak, samples, role_samples, peaks_by_role, temp_peak = 0.0, [], [], defaultdict(float), 0.0
    try:
        wait_for_page(url, server)
        started_mb, temp_start = rss_mb(server.pid), temp_mb(server.pid)
        deadline = time.time() + args.minutes * 60
        visitors = [Visitor(i, url, deadline, folder, stats, lock) for i in range(args.visitors)]
        for visitor in visitors:
            visitor.start()
        began = time.time()
        while any(v.is_alive() for v in visitors):
            by_role = rss_by_process_mb(server.pid)
            for role, mb in by_role.items():
                peaks_by_role[role] = max(peaks_by_role[role], mb)
            now = sum(by_role.values())
            peak = max(peak, now)
            samples.append((time.time() - began, now))
            role_samples.append((time.time() - began, by_role))
            if len(samples) % 20 == 0:
                temp_peak = max(temp_peak, temp_mb(server.pid))
            time.sleep(0.5)
        ended_mb, left_at = rss_mb(server.pid), time.time()
        kept = sessions_left([v.session_folder for v in visitors], SESSION_WAIT_S)
        time.sleep(max(0.0, left_at + args.temp_age * 1.25 + 5 - time.time()))   # the keeping age and a sweep
        temp_after = temp_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
    summary = {"visitors": args.visitors, "minutes": args.minutes, "errors": len(stats["errors"]),
               "leaks": len(stats["leaks"]), "rss_start_mb": round(started_mb), "rss_peak_mb": round(peak),
               "rss_end_mb": round(ended_mb),
               "rss_peak_by_process_mb": {role: round(mb) for role, mb in sorted(peaks_by_role.items())},
               "sessions": args.visitors, "sessions_left": len(kept),
               "temp_mb_start": round(temp_start, 1), "temp_mb_peak": round(temp_peak, 1),
               "temp_mb_after_leaving": round(temp_after, 1), "temp_age_s": args.temp_age,
               # the highest memory within each minute: growth shows as a rising series, a bound as a plateau
               "rss_peak_by_minute_mb": [round(max(m for t, m in samples if int(t // 60) == minute))
                                         for minute in range(int(samples[-1][0] // 60) + 1)] if samples else [],
               # each process's highest memory in each 5 minutes: which one grows, if any
               "rss_peak_by_5_minutes_mb": {role: [round(max((r.get(role, 0.0) for t, r in role_samples
                                                              if int(t // 300) == block), default=0.0))
                                                   for block in range(int(role_samples[-1][0] // 300) + 1)]
                                            for role in sorted(peaks_by_role)} if role_samples else {},
               "endpoints": {name: {"calls": len(times), "median_s": round(statistics.median(times), 2),
                                    "p95_s": round(sorted(times)[math.ceil(0.95 * len(times)) - 1], 2)}
                             for name, times in sorted(stats["latency"].items())}}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.visitors} visitors for {args.minutes:g} min: {summary['errors']} errors, "
              f"{summary['leaks']} cross-visitor leaks; server memory {summary['rss_start_mb']} MiB at start, "
              f"peak {summary['rss_peak_mb']} MiB, {summary['rss_end_mb']} MiB at the end; peak by minute "
              f"{summary['rss_peak_by_minute_mb']} MiB (peaks by process: {summary['rss_peak_by_process_mb']} MiB); "
              f"{summary['sessions_left']} of {args.visitors} "
              f"visitors' session folders left {SESSION_WAIT_S:.0f} s after they left; temp files "
              f"{summary['temp_mb_start']} MiB at start, peak {summary['temp_mb_peak']} MiB, "
              f"{summary['temp_mb_after_leaving']} MiB once they left and {args.temp_age:g} s (+ a sweep) passed")
        print("| endpoint | calls | median s | p95 s |\n|---|---:|---:|---:|")
        for name, row in summary["endpoints"].items():
            print(f"| {name} | {row['calls']} | {row['median_s']:.2f} | {row['p95_s']:.2f} |")
    for line in (stats["errors"] + stats["leaks"] + [f"session folder not deleted: {k}" for k in kept])[:20]:
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
