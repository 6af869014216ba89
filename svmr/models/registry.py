"""Which network class a checkpoint's ``"model"`` kind names: each model module registers its
builder here with :func:`register`; :func:`build_model` finds the modules by itself (every module
of :mod:`svmr.models` is imported once), so a new model is a new module and nothing else."""
from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Callable

import torch

_BUILDERS: dict[str, Callable[[dict], torch.nn.Module]] = {}


def register(kind: str):
    """Decorator: ``builder(config dict) -> nn.Module`` for checkpoints of ``kind``."""
    def wrap(builder):
        _BUILDERS[kind] = builder
        return builder
    return wrap


def _discover() -> None:
    package = __name__.rsplit(".", 1)[0]
    for module in pkgutil.iter_modules([os.path.dirname(__file__)]):
        importlib.import_module(f"{package}.{module.name}")


def build_model(kind: str, config: dict) -> torch.nn.Module:
    """A new (untrained) network of ``kind`` from its configuration.

    Raises:
        ValueError: no model module registers ``kind``.
    """
    if kind not in _BUILDERS:
        _discover()
    if kind not in _BUILDERS:
        raise ValueError(f"unknown model kind {kind!r}")
    return _BUILDERS[kind](config)
