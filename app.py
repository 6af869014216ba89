"""Entry point: `python app.py` (also the Hugging Face Spaces app file).

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT.
"""
from demo.ui import build_ui

if __name__ == "__main__":
    build_ui().queue(default_concurrency_limit=2).launch()
