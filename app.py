"""Entry point: `python app.py` (also the Hugging Face Spaces app file).

Builds the demo gallery on first start (about a minute here; later starts reuse it), then serves
the app. Honours Gradio's GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, and SVMR_DEMO_ROOT (where
the demo gallery lives; default data/demo).
"""
import os
import signal

from demo.prepare import DEFAULT_ROOT
from demo.service import DemoGallery
from demo import temp_files
from demo.memory import limit_malloc_arenas, start_trimming, trace_growth
from demo.sessions import clear_sessions
from demo.ui import LAUNCH, build_ui

if __name__ == "__main__":
    limit_malloc_arenas()          # memory stays level over hours (demo.memory)
    start_trimming()
    if os.environ.get("SVMR_TRACEMALLOC_DIR"):     # profiling runs: where the server's memory grows
        trace_growth(os.environ["SVMR_TRACEMALLOC_DIR"])
    # a stop request (Spaces and service managers send SIGTERM) stops the server as Ctrl-C does, so
    # the worker processes and their queues are closed instead of leaked
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    root = os.environ.get("SVMR_DEMO_ROOT", DEFAULT_ROOT)
    # what an earlier run left (a crash, a kill) does not survive it: visitors' galleries, work
    # files and Gradio's copies (demo.temp_files)
    clear_sessions()
    temp_files.clear_leftovers()
    temp_files.own_gradio_cache()
    app = build_ui(DemoGallery(root).ensure())
    try:
        app.queue(default_concurrency_limit=2, max_size=32).launch(allowed_paths=[root], **LAUNCH)
    except KeyboardInterrupt:      # stopped while still starting (once serving, launch() handles it)
        app.close()
    finally:                       # nothing of the visitors' stays after the server
        clear_sessions()
        temp_files.remove_own()
