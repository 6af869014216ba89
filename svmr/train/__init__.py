"""Trainers, one per model, driven by the command line (``python -m svmr train ...``)."""
