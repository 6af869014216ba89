"""Entry point: `python app.py` (also the Hugging Face Spaces app file).

Builds the demo gallery on first start (about two minutes; later starts reuse it), then serves
the app. Honours Gradio's GRADIO_SERVER_NAME and GRADIO_SERVER_PORT.
"""
from demo.prepare import DEFAULT_ROOT
from demo.service import DemoGallery
from demo.ui import build_ui

from demo.service import clear_sessions

#: Gradio's cache of uploaded and served files: every hour, delete what is older than an hour
DELETE_CACHE = (3600, 3600)

if __name__ == "__main__":
    clear_sessions()   # visitors' galleries left by an earlier run (a crash, a kill) do not survive it
    app = build_ui(DemoGallery(DEFAULT_ROOT).ensure())
    app.queue(default_concurrency_limit=2, max_size=32).launch(allowed_paths=[DEFAULT_ROOT],
                                                               delete_cache=DELETE_CACHE)
