"""The pipelines a search can run, one module each, found through :func:`registry`.

Names users type (``python -m svmr search --model NAME``, the app's model menu):

* ``align`` (default): multi-scale window retrieval + frame alignment, its best moments checked
  for the query's motion; training-free (:mod:`svmr.pipelines.align`);
* ``paper``: seed 000's two-stage model as bundled (CTC auto-encoder + attention re-localization;
  :mod:`svmr.pipelines.paper`);
* ``baseline``: the training-free baseline of the paper's tables (:mod:`svmr.pipelines.baseline`);
* ``graph``: the default's stage 1, and seed 001's graph re-localization for stage 2
  (:mod:`svmr.pipelines.graph`).

A new pipeline is one new module here whose builder is decorated with :func:`register`.
"""
from .base import (DEFAULT_PIPELINE, Localizer, Pipeline, PipelineSpec, Retriever, build_pipeline, register,
                   registry)

__all__ = ["DEFAULT_PIPELINE", "Localizer", "Pipeline", "PipelineSpec", "Retriever", "build_pipeline", "register",
           "registry"]
