"""Entry point: `python app.py` (also the Hugging Face Spaces app file).

Builds the demo gallery on first start (about two minutes; later starts reuse it), then serves
the app. Honours Gradio's GRADIO_SERVER_NAME and GRADIO_SERVER_PORT.
"""
from demo.prepare import DEFAULT_ROOT
from demo.service import DemoGallery
from demo.ui import build_ui

if __name__ == "__main__":
    app = build_ui(DemoGallery(DEFAULT_ROOT).ensure())
    app.queue(default_concurrency_limit=2, max_size=32).launch(allowed_paths=[DEFAULT_ROOT])
