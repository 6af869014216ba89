"""The Gradio user interface (no model code here: it calls the ``svmr`` library)."""
